//! `geo` at load: nginx 1.22's messages, and lookups through the built tables.

use std::net::IpAddr;

use crate::computed::ComputedKind;
use crate::computed::geo::{GeoVar, INADDR_NONE};
use crate::config::testutil::{http, load_err, load_ok};
use crate::vars::{Var, VarSource};

fn err(body: &str) -> String {
    load_err(&http(body))
}

/// The client address as `$binary_remote_addr` and an optional `X-Forwarded-For`.
struct Client {
    addr: IpAddr,
    xff: Option<&'static str>,
}

impl VarSource for Client {
    fn var(&self, var: &Var, out: &mut Vec<u8>) -> bool {
        match var {
            Var::BinaryRemoteAddr => match self.addr {
                IpAddr::V4(a) => out.extend_from_slice(&a.octets()),
                IpAddr::V6(a) => out.extend_from_slice(&a.octets()),
            },
            Var::Http(name) if name == "x_forwarded_for" => match self.xff {
                Some(x) => out.extend_from_slice(x.as_bytes()),
                None => return false,
            },
            Var::Arg(name) if name == "ip" => {
                out.extend_from_slice(self.xff.unwrap_or("").as_bytes())
            }
            _ => return false,
        }
        true
    }
}

fn geo_of(body: &str) -> GeoVar {
    let conf = load_ok(&http(body));
    let http = conf.http.unwrap();
    match &http.computed.get(0).unwrap().kind {
        ComputedKind::Geo(g) => g.clone(),
        _ => panic!("not geo"),
    }
}

fn lookup(geo: &GeoVar, addr: &str, xff: Option<&'static str>) -> String {
    let client = Client {
        addr: addr.parse().unwrap(),
        xff,
    };
    String::from_utf8(geo.value(&client, &mut Vec::new()).to_vec()).unwrap()
}

#[test]
fn networks_longest_prefix_default_and_delete() {
    let geo = geo_of(
        "geo $g { default world; 127.0.0.0/8 loopback; 127.0.0.1/32 me; \
         192.0.2.0/24 test; 10.0.0.0/8 ten; delete 10.0.0.0/8; ::1 v6; 2001:db8::/32 doc; \
         255.255.255.255 none; }",
    );
    assert_eq!(lookup(&geo, "127.0.0.1", None), "me");
    assert_eq!(lookup(&geo, "127.0.0.2", None), "loopback");
    assert_eq!(lookup(&geo, "192.0.2.200", None), "test");
    assert_eq!(lookup(&geo, "10.1.1.1", None), "world");
    assert_eq!(lookup(&geo, "::1", None), "v6");
    assert_eq!(lookup(&geo, "2001:db8::7", None), "doc");
    assert_eq!(lookup(&geo, "::2", None), "world");
    assert_eq!(lookup(&geo, "::ffff:192.0.2.1", None), "test");
    assert_eq!(lookup(&geo, "255.255.255.255", None), "none");
    // Without `default` an unmatched address is empty (and IPv6 has its own default).
    let geo = geo_of("geo $g { 0.0.0.0/0 v4-world; }");
    assert_eq!(lookup(&geo, "1.2.3.4", None), "v4-world");
    assert_eq!(lookup(&geo, "::5", None), "");
}

#[test]
fn ranges_and_unreadable_addresses() {
    let geo = geo_of(
        "geo $arg_ip $g { ranges; default dflt; 127.0.0.0-127.0.0.255 lo; \
         0.0.0.0-0.255.255.255 zero; }",
    );
    assert_eq!(lookup(&geo, "10.0.0.1", Some("127.0.0.9")), "lo");
    assert_eq!(lookup(&geo, "10.0.0.1", Some("0.1.2.3")), "zero");
    assert_eq!(lookup(&geo, "10.0.0.1", Some("::ffff:127.0.0.1")), "lo");
    assert_eq!(lookup(&geo, "10.0.0.1", Some("::1")), "dflt");
    assert_eq!(lookup(&geo, "10.0.0.1", Some("junk")), "dflt");
    let geo = geo_of("geo $arg_ip $g { 255.255.255.255 none; default d; }");
    assert_eq!(lookup(&geo, "10.0.0.1", Some("junk")), "none");
    assert_eq!(INADDR_NONE, u32::MAX);
}

#[test]
fn proxies_and_forwarded_for() {
    let geo = geo_of(
        "geo $g { default d; proxy 127.0.0.1; proxy 10.0.0.0/8; 192.0.2.0/24 test; \
         127.0.0.0/8 lo; }",
    );
    assert_eq!(lookup(&geo, "127.0.0.1", Some("192.0.2.1")), "test");
    assert_eq!(lookup(&geo, "127.0.0.1", Some("192.0.2.1, 10.1.1.1")), "d");
    assert_eq!(lookup(&geo, "127.0.0.1", None), "lo");
    assert_eq!(lookup(&geo, "192.0.2.5", Some("127.0.0.1")), "test");
    let geo = geo_of(
        "geo $g { proxy_recursive; default d; proxy 127.0.0.1; proxy 10.0.0.0/8; \
         192.0.2.0/24 test; }",
    );
    assert_eq!(
        lookup(&geo, "127.0.0.1", Some("192.0.2.1, 10.1.1.1")),
        "test"
    );
}

#[test]
fn geo_errors_in_nginx_words() {
    assert_eq!(
        err("geo $g { 10.0.0.0/8 a; ranges; }"),
        "the \"ranges\" directive must be the first directive inside \"geo\" block"
    );
    assert_eq!(
        err("geo $g { volatile; }"),
        "invalid number of the geo parameters"
    );
    assert_eq!(
        err("geo $g { a b c; }"),
        "invalid number of the geo parameters"
    );
    assert_eq!(
        err("geo $g { 10.0.0.0/33 a; }"),
        "invalid network \"10.0.0.0/33\""
    );
    assert_eq!(err("geo $g { proxy x; }"), "invalid network \"x\"");
    assert_eq!(
        err("geo $g { ranges; 10.0.0.9-10.0.0.1 a; }"),
        "invalid range \"10.0.0.9-10.0.0.1\""
    );
    assert_eq!(
        err("geo $g { ranges; 10.0.0.1 a; }"),
        "invalid range \"10.0.0.1\""
    );
    assert_eq!(
        err("geo $g { ranges; 10.0.0.0-10.0.0.9 a; 10.0.0.5-10.0.0.20 b; }"),
        "range \"10.0.0.5-10.0.0.20\" overlaps \"10.0.0.0-10.0.0.9\""
    );
    assert_eq!(err("geo g { }"), "invalid variable name \"g\"");
    assert_eq!(
        err("geo $a $b $c { }"),
        "invalid number of arguments in \"geo\" directive"
    );
    assert_eq!(err("geo $nope $g { }"), "unknown \"nope\" variable");
    assert_eq!(err("geo $uri { }"), "the duplicate \"uri\" variable");
    // Warnings only: duplicates, meaningless low bits, nothing to delete.
    load_ok(&http(
        "geo $g { 10.0.0.0/8 a; 10.0.0.0/8 b; 10.1.0.0/8 c; delete 11.0.0.0/8; default x; default y; }",
    ));
    load_ok(&http(
        "geo $g { ranges; 1.0.0.0-1.0.0.9 a; 1.0.0.0-1.0.0.9 b; delete 2.0.0.0-2.0.0.1; }",
    ));
}
