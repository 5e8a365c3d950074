//! `resolver`: `proxy_pass` with variables whose host is a name is resolved inside the
//! worker, through scripted name servers on loopback (`support/dns.rs`): answers, aliases,
//! errors, silence, truncation, wrong ids, the cache and its TTLs, and several requests
//! sharing one query. Portico proxies to itself (`/backend`), as nginx's own tests do.

mod common;
#[path = "support/dns.rs"]
mod dns;

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{Response, Server, read_response};
use dns::{A, AAAA, Dns, Reply, Rr};

/// A server whose `/` proxies to `http://$http_x_name:PORT/backend` through the name
/// servers `dns` (`extra` goes into that location), with `$upstream_addr` in its access log.
fn start(dns: &[&Dns], extra: &str) -> Server {
    let servers: Vec<String> = dns
        .iter()
        .map(|d| format!("127.0.0.1:{}", d.port))
        .collect();
    Server::start(&format!(
        "log_format up '$request_uri $status $upstream_addr';\n\
         access_log logs/access.log up;\n\
         server {{\n\
             listen 127.0.0.1:PORT;\n\
             location / {{\n\
                 resolver {};\n\
                 {extra}\n\
                 proxy_pass http://$http_x_name:PORT/backend;\n\
             }}\n\
             location /noresolver {{ proxy_pass http://$http_x_name:PORT/backend; }}\n\
             location /backend {{ return 200 \"backend $host\\n\"; }}\n\
         }}",
        servers.join(" ")
    ))
}

fn get(s: &Server, path: &str, name: &str) -> Response {
    s.request(format!("GET {path} HTTP/1.0\r\nX-Name: {name}\r\n\r\n").as_bytes())
}

/// A name server knowing `name` as 127.0.0.1 (A) and nothing else.
fn one_name(name: &'static str) -> Dns {
    Dns::start(move |q, qtype, _| match (q == name, qtype) {
        (true, A) => Reply::records(vec![Rr::a(name, "127.0.0.1", 60)]),
        _ => Reply::empty(),
    })
}

#[test]
fn a_name_resolves_and_is_then_answered_from_the_cache() {
    let d = one_name("a.test");
    let s = start(&[&d], "");
    let r = get(&s, "/", "a.test");
    assert_eq!(r.status, 200, "{}", s.error_log());
    assert_eq!(r.text(), format!("backend a.test\n"));
    // Both families are asked, once; the cache answers the rest, whatever the case.
    assert_eq!((d.count("a.test", A), d.count("a.test", AAAA)), (1, 1));
    assert_eq!(get(&s, "/", "A.Test").status, 200);
    assert_eq!(get(&s, "/", "a.test.").status, 200);
    assert_eq!(d.asked().len(), 2);
    s.assert_clean_log();
}

#[test]
fn a_name_that_does_not_exist_is_a_502_and_is_asked_again() {
    let d = Dns::start(|_, _, _| Reply::error(3));
    let s = start(&[&d], "");
    assert_eq!(get(&s, "/", "nx.test").status, 502);
    assert!(
        s.error_log()
            .contains("nx.test could not be resolved (3: Host not found), client: 127.0.0.1, server: , request: \"GET / HTTP/1.0\""),
        "{}",
        s.error_log()
    );
    // Without an SOA nothing says how long the name is known not to exist.
    assert_eq!(get(&s, "/", "nx.test").status, 502);
    assert_eq!(d.count("nx.test", A), 2);
}

#[test]
fn a_negative_answer_with_an_soa_is_kept() {
    let d = Dns::start(|_, _, _| Reply::Answer(3, vec![], vec![Rr::soa("test", 300, 60)]));
    let s = start(&[&d], "");
    assert_eq!(get(&s, "/", "gone.test").status, 502);
    assert_eq!(get(&s, "/", "gone.test").status, 502);
    assert_eq!(d.count("gone.test", A), 1);
}

#[test]
fn a_server_failure_is_not_kept() {
    let asked = Arc::new(AtomicUsize::new(0));
    let n = asked.clone();
    let d = Dns::start(move |q, qtype, _| match qtype {
        A if n.fetch_add(1, Ordering::SeqCst) == 0 => Reply::error(2),
        A => Reply::records(vec![Rr::a(q, "127.0.0.1", 60)]),
        _ => Reply::empty(),
    });
    let s = start(&[&d], "");
    assert_eq!(get(&s, "/", "flaky.test").status, 502);
    assert!(
        s.error_log()
            .contains("flaky.test could not be resolved (2: Server failure)")
    );
    assert_eq!(get(&s, "/", "flaky.test").status, 200);
}

#[test]
fn without_a_resolver_a_name_is_a_502() {
    let d = one_name("a.test");
    let s = start(&[&d], "");
    assert_eq!(get(&s, "/noresolver", "a.test").status, 502);
    assert!(
        s.error_log().contains(
            "no resolver defined to resolve a.test, client: 127.0.0.1, server: , request: \"GET /noresolver HTTP/1.0\""
        ),
        "{}",
        s.error_log()
    );
    assert!(d.asked().is_empty());
}

#[test]
fn silence_ends_at_resolver_timeout() {
    let d = Dns::start(|_, _, _| Reply::Silence);
    let s = start(&[&d], "resolver_timeout 1s;");
    let t0 = Instant::now();
    assert_eq!(get(&s, "/", "slow.test").status, 502);
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(4),
        "{took:?}"
    );
    assert!(
        s.error_log()
            .contains("slow.test could not be resolved (110: Operation timed out)")
    );
    s.assert_clean_log();
}

#[test]
fn an_alias_is_followed() {
    let d = Dns::start(|q, qtype, _| match (q, qtype) {
        ("www.test", _) => Reply::records(vec![Rr::cname("www.test", "real.test", 60)]),
        ("real.test", A) => Reply::records(vec![Rr::a("real.test", "127.0.0.1", 60)]),
        _ => Reply::empty(),
    });
    let s = start(&[&d], "");
    assert_eq!(get(&s, "/", "www.test").status, 200, "{}", s.error_log());
    assert_eq!(d.count("real.test", A), 1);
    // The alias and its target are both kept.
    assert_eq!(get(&s, "/", "www.test").status, 200);
    assert_eq!(d.count("www.test", A), 1);
}

#[test]
fn a_truncated_answer_is_asked_again_over_tcp() {
    let d = Dns::start(|q, qtype, tcp| match (tcp, qtype) {
        (false, _) => Reply::Truncated,
        (true, A) => Reply::records(vec![Rr::a(q, "127.0.0.1", 60)]),
        (true, _) => Reply::empty(),
    });
    let s = start(&[&d], "");
    assert_eq!(get(&s, "/", "big.test").status, 200, "{}", s.error_log());
    let asked = d.asked();
    assert!(asked.iter().any(|a| a.tcp && a.qtype == A), "{asked:?}");
}

#[test]
fn an_answer_with_a_wrong_id_is_ignored() {
    let d = Dns::start(|q, qtype, _| match qtype {
        A => Reply::WrongIdFirst(Box::new(Reply::records(vec![Rr::a(q, "127.0.0.1", 60)]))),
        _ => Reply::empty(),
    });
    let s = start(&[&d], "");
    assert_eq!(get(&s, "/", "id.test").status, 200);
    assert!(s.error_log().contains("wrong ident"), "{}", s.error_log());
}

#[test]
fn several_addresses_are_tried_in_turn() {
    // Nothing listens on 127.0.0.2: refused, then the next address.
    let d = Dns::start(|q, qtype, _| match qtype {
        A => Reply::records(vec![Rr::a(q, "127.0.0.2", 60), Rr::a(q, "127.0.0.1", 60)]),
        _ => Reply::empty(),
    });
    let s = start(&[&d], "");
    assert_eq!(get(&s, "/", "two.test").status, 200);
    let p = s.port;
    assert!(
        s.wait_for(5, || s
            .access_log()
            .contains(&format!("/ 200 127.0.0.2:{p}, 127.0.0.1:{p}"))),
        "{}",
        s.access_log()
    );
    assert!(
        s.error_log()
            .contains("upstream server temporarily disabled")
    );
}

#[test]
fn requests_waiting_on_one_name_share_its_query() {
    let d = Dns::start(|q, qtype, _| {
        let answer = match qtype {
            A => Reply::records(vec![Rr::a(q, "127.0.0.1", 60)]),
            _ => Reply::empty(),
        };
        Reply::Later(Duration::from_millis(300), Box::new(answer))
    });
    let s = start(&[&d], "");
    let mut conns: Vec<_> = (0..3)
        .map(|_| {
            let mut c = s.connect();
            c.write_all(b"GET / HTTP/1.0\r\nX-Name: shared.test\r\n\r\n")
                .expect("write");
            c
        })
        .collect();
    for c in &mut conns {
        assert_eq!(read_response(c, false).expect("response").status, 200);
    }
    assert_eq!(d.count("shared.test", A), 1);
}

#[test]
fn errors_are_not_kept_and_servers_take_turns() {
    // nginx's "two ns": the first server fails, the next query goes to the second.
    let bad = Dns::start(|_, _, _| Reply::error(2));
    let good = one_name("2.test");
    let s = start(&[&bad, &good], "");
    assert_eq!(get(&s, "/", "2.test").status, 502);
    assert_eq!(get(&s, "/", "2.test").status, 200);
    assert_eq!(get(&s, "/", "2.test").status, 200);
    assert_eq!((bad.count("2.test", A), good.count("2.test", A)), (1, 1));
}

#[test]
fn valid_outlasts_the_ttl() {
    let d = Dns::start(|q, qtype, _| match qtype {
        A => Reply::records(vec![Rr::a(q, "127.0.0.1", 1)]),
        _ => Reply::empty(),
    });
    let s = start(&[&d], "");
    assert_eq!(get(&s, "/", "ttl.test").status, 200);
    std::thread::sleep(Duration::from_millis(1300));
    assert_eq!(get(&s, "/", "ttl.test").status, 200);
    assert_eq!(d.count("ttl.test", A), 2, "a 1 s TTL expired");

    let d = Dns::start(|q, qtype, _| match qtype {
        A => Reply::records(vec![Rr::a(q, "127.0.0.1", 1)]),
        _ => Reply::empty(),
    });
    let s = Server::start(&format!(
        "server {{ listen 127.0.0.1:PORT;\n\
           location / {{ resolver 127.0.0.1:{} valid=30s; proxy_pass http://$http_x_name:PORT/backend; }}\n\
           location /backend {{ return 200; }} }}",
        d.port
    ));
    assert_eq!(get(&s, "/", "ttl.test").status, 200);
    std::thread::sleep(Duration::from_millis(1300));
    assert_eq!(get(&s, "/", "ttl.test").status, 200);
    assert_eq!(d.count("ttl.test", A), 1, "valid=30s keeps it");
}

#[test]
fn a_host_name_with_a_variable_uri_and_a_client_that_leaves() {
    let d = Dns::start(|q, qtype, _| match (q, qtype) {
        ("slow.test", _) => Reply::Silence,
        (_, A) => Reply::records(vec![Rr::a(q, "127.0.0.1", 60)]),
        _ => Reply::empty(),
    });
    let s = Server::start(&format!(
        "server {{ listen 127.0.0.1:PORT;\n\
           resolver 127.0.0.1:{};\n\
           location / {{ proxy_pass http://fixed.test:PORT/backend$is_args$args; }}\n\
           location /slow {{ proxy_pass http://slow.test:PORT/backend$is_args$args; }}\n\
           location /backend {{ return 200 \"$args\"; }} }}",
        d.port
    ));
    let r = s.get("/?a=1");
    assert_eq!(
        (r.status, r.text()),
        (200, "a=1".to_string()),
        "{}",
        s.error_log()
    );
    // A client that goes away while its name is being resolved.
    let mut c = s.connect();
    c.write_all(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("write");
    std::thread::sleep(Duration::from_millis(200));
    drop(c);
    assert!(
        s.wait_for(3, || s.error_log().contains(
            "epoll_wait() reported that client prematurely closed connection, client: 127.0.0.1"
        )),
        "{}",
        s.error_log()
    );
    assert!(s.wait_for(3, || s.access_log().contains("\"GET /slow HTTP/1.1\" 499 ")));
    assert_eq!(s.get("/?b=2").text(), "b=2");
    s.assert_clean_log();
}

#[test]
fn aaaa_answers_and_a_name_server_on_ipv6() {
    if std::net::UdpSocket::bind("[::1]:0").is_err() {
        eprintln!("no IPv6 loopback: skipped");
        return;
    }
    let d = Dns::start_on("::1", |q, qtype, _| match qtype {
        AAAA => Reply::records(vec![Rr::aaaa(q, "::1", 60)]),
        _ => Reply::records(vec![Rr::a(q, "127.0.0.1", 60)]),
    });
    let s = Server::start(&format!(
        "log_format up '$status $upstream_addr'; access_log logs/access.log up;\n\
         server {{ listen 127.0.0.1:PORT; listen [::1]:PORT;\n\
           location / {{ resolver [::1]:{} ipv4=off; proxy_pass http://$http_x_name:PORT/backend; }}\n\
           location /backend {{ return 200; }} }}",
        d.port
    ));
    assert_eq!(get(&s, "/", "six.test").status, 200, "{}", s.error_log());
    assert_eq!((d.count("six.test", AAAA), d.count("six.test", A)), (1, 0));
    let p = s.port;
    assert!(
        s.wait_for(5, || s.access_log().contains(&format!("200 [::1]:{p}"))),
        "{}",
        s.access_log()
    );
}
