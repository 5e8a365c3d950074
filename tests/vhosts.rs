//! Virtual hosts end to end: several `server` blocks on one port chosen by `Host` (exact,
//! leading and trailing wildcards, regex, `default_server`), a server on several ports, and
//! a port whose servers differ from another port's.

mod common;

use common::{Server, connect, free_port, read_response};
use std::io::Write;

fn get_host(port: u16, host: Option<&str>, path: &str) -> (u16, String) {
    let mut s = connect(port);
    let host_line = host.map(|h| format!("Host: {h}\r\n")).unwrap_or_default();
    let version = if host.is_some() { "1.1" } else { "1.0" };
    s.write_all(
        format!("GET {path} HTTP/{version}\r\n{host_line}Connection: close\r\n\r\n").as_bytes(),
    )
    .expect("write");
    let r = read_response(&mut s, false).expect("response");
    (r.status, r.text())
}

#[test]
fn server_chosen_by_host_then_default() {
    let second = free_port();
    let block = format!(
        r#"server {{ listen 127.0.0.1:PORT; server_name first.test; return 200 "first"; }}
           server {{ listen 127.0.0.1:PORT; server_name exact.test www.exact.test; return 200 "exact"; }}
           server {{ listen 127.0.0.1:PORT; server_name *.wild.test; return 200 "front-wildcard"; }}
           server {{ listen 127.0.0.1:PORT; server_name mail.*; return 200 "back-wildcard"; }}
           server {{ listen 127.0.0.1:PORT default_server; listen 127.0.0.1:{second};
                    server_name ~^(?<sub>[a-z]+)\.re\.test$; return 200 "regex $server_name"; }}
           server {{ listen 127.0.0.1:{second}; server_name other.test; return 200 "other"; }}"#
    );
    let s = Server::start(&block);
    let p = s.port;
    assert_eq!(get_host(p, Some("exact.test"), "/"), (200, "exact".into()));
    assert_eq!(
        get_host(p, Some("WWW.Exact.Test"), "/"),
        (200, "exact".into())
    );
    assert_eq!(
        get_host(p, Some("exact.test:8080"), "/"),
        (200, "exact".into())
    );
    assert_eq!(
        get_host(p, Some("a.b.wild.test"), "/"),
        (200, "front-wildcard".into())
    );
    assert_eq!(
        get_host(p, Some("mail.example.org"), "/"),
        (200, "back-wildcard".into())
    );
    // `$server_name` is the first name as written, the regex included (as nginx).
    let regex = r"regex ~^(?<sub>[a-z]+)\.re\.test$";
    assert_eq!(get_host(p, Some("abc.re.test"), "/").1, regex);
    // No match and no Host (HTTP/1.0): the default_server, not the first one.
    assert_eq!(get_host(p, Some("unknown.test"), "/").1, regex);
    assert_eq!(get_host(p, None, "/").1, regex);
    assert_eq!(get_host(p, Some("first.test"), "/").1, "first");
    // The second port: its own default (the first server listed there), its own names.
    assert_eq!(get_host(second, Some("other.test"), "/").1, "other");
    assert_eq!(get_host(second, Some("unknown.test"), "/").1, regex);
    assert_eq!(get_host(second, Some("exact.test"), "/").1, regex);
    s.assert_clean_log();
}
