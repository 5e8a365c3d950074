use super::*;

/// Records what the engine sends; `fail` makes every send fail.
#[derive(Default)]
struct FakeWire {
    sent: Vec<(usize, bool, Vec<u8>)>,
    fail_server: Option<usize>,
}

impl Wire for FakeWire {
    fn send(&mut self, server: usize, tcp: bool, msg: &[u8]) -> bool {
        self.sent.push((server, tcp, msg.to_vec()));
        self.fail_server != Some(server)
    }
}

/// A query as sent: server, TCP, id, type, name.
struct Sent {
    server: usize,
    tcp: bool,
    id: u16,
    qtype: u16,
    name: String,
    msg: Vec<u8>,
}

fn sent(wire: &mut FakeWire) -> Vec<Sent> {
    wire.sent
        .drain(..)
        .map(|(server, tcp, msg)| {
            let mut name = Vec::new();
            let end = dns::read_name(&msg, 12, &mut name).unwrap();
            Sent {
                server,
                tcp,
                id: u16::from_be_bytes([msg[0], msg[1]]),
                qtype: u16::from_be_bytes([msg[end], msg[end + 1]]),
                name: String::from_utf8(name).unwrap(),
                msg,
            }
        })
        .collect()
}

/// One answer record: owner, type, TTL, data.
type Rr<'a> = (&'a str, u16, i32, Vec<u8>);

fn encode_name(name: &str) -> Vec<u8> {
    let mut v = Vec::new();
    for label in name.split('.') {
        v.push(label.len() as u8);
        v.extend_from_slice(label.as_bytes());
    }
    v.push(0);
    v
}

fn a(ip: &str) -> Vec<u8> {
    ip.parse::<std::net::Ipv4Addr>().unwrap().octets().to_vec()
}

fn aaaa(ip: &str) -> Vec<u8> {
    ip.parse::<std::net::Ipv6Addr>().unwrap().octets().to_vec()
}

/// The answer to `q` with `flags` (rcode in the low bits) and `answers`, `authority`.
fn reply_full(q: &Sent, flags: u16, answers: &[Rr], authority: &[Rr]) -> Vec<u8> {
    let mut m = q.msg[..12].to_vec();
    m[2..4].copy_from_slice(&flags.to_be_bytes());
    m[6..8].copy_from_slice(&(answers.len() as u16).to_be_bytes());
    m[8..10].copy_from_slice(&(authority.len() as u16).to_be_bytes());
    m.extend_from_slice(&q.msg[12..]);
    for (owner, rtype, ttl, data) in answers.iter().chain(authority) {
        m.extend_from_slice(&encode_name(owner));
        m.extend_from_slice(&rtype.to_be_bytes());
        m.extend_from_slice(&[0, 1]);
        m.extend_from_slice(&ttl.to_be_bytes());
        m.extend_from_slice(&(data.len() as u16).to_be_bytes());
        m.extend_from_slice(data);
    }
    m
}

fn reply(q: &Sent, rcode: u16, answers: &[Rr]) -> Vec<u8> {
    reply_full(q, 0x8180 | rcode, answers, &[])
}

fn soa(minimum: u32) -> Vec<u8> {
    let mut v = encode_name("ns.example");
    v.extend_from_slice(&encode_name("host.example"));
    for n in [1u32, 7200, 900, 1_209_600, minimum] {
        v.extend_from_slice(&n.to_be_bytes());
    }
    v
}

fn engine(servers: usize) -> Engine<u32> {
    Engine::new(Settings {
        servers,
        valid: None,
        ipv4: true,
        ipv6: true,
    })
}

fn finished(e: &mut Engine<u32>) -> Vec<(u32, Result<Vec<IpAddr>, ResolveError>)> {
    let mut out = Vec::new();
    e.take_finished(&mut out);
    out.into_iter()
        .map(|f| (f.who, f.result.map(|a| a.iter().collect())))
        .collect()
}

fn ips(list: &[&str]) -> Vec<IpAddr> {
    list.iter().map(|s| s.parse().unwrap()).collect()
}

const T: Duration = Duration::from_secs(30);

fn waiting(l: Started) -> u64 {
    match l {
        Started::Waiting(id) => id,
        Started::Ready(r) => panic!("answered at once: {r:?}"),
    }
}

fn ready(l: Started) -> Result<Vec<IpAddr>, ResolveError> {
    match l {
        Started::Ready(r) => r.map(|a| a.iter().collect()),
        Started::Waiting(_) => panic!("waiting"),
    }
}

#[test]
fn a_and_aaaa_asked_together_then_cached() {
    let (mut e, mut w, now) = (engine(1), FakeWire::default(), Instant::now());
    waiting(e.resolve(b"Example.NET.", 1, T, now, &mut w));
    let q = sent(&mut w);
    assert_eq!(q.len(), 2);
    assert_eq!((q[0].qtype, q[1].qtype), (dns::TYPE_A, dns::TYPE_AAAA));
    assert!(
        q.iter()
            .all(|q| q.name == "example.net" && q.server == 0 && !q.tcp)
    );
    e.on_message(
        &reply(&q[1], 0, &[("example.net", 28, 60, aaaa("::1"))]),
        false,
        now,
        &mut w,
    );
    assert!(finished(&mut e).is_empty(), "waits for both parts");
    e.on_message(
        &reply(&q[0], 0, &[("example.net", 1, 60, a("10.0.0.1"))]),
        false,
        now,
        &mut w,
    );
    assert_eq!(finished(&mut e), [(1, Ok(ips(&["10.0.0.1", "::1"])))]);
    // Cached, case-insensitively; nothing more is sent.
    let again = ready(e.resolve(b"EXAMPLE.net", 2, T, now, &mut w)).unwrap();
    assert_eq!(again.len(), 2);
    assert!(w.sent.is_empty());
    assert_eq!(e.pending(), (0, 0));
}

#[test]
fn waiters_share_one_query() {
    let (mut e, mut w, now) = (engine(1), FakeWire::default(), Instant::now());
    waiting(e.resolve(b"a.net", 1, T, now, &mut w));
    waiting(e.resolve(b"A.net", 2, T, now, &mut w));
    let q = sent(&mut w);
    assert_eq!(q.len(), 2);
    for q in &q {
        e.on_message(
            &reply(
                q,
                0,
                &[(
                    "a.net",
                    q.qtype,
                    60,
                    if q.qtype == 1 {
                        a("1.1.1.1")
                    } else {
                        aaaa("::2")
                    },
                )],
            ),
            false,
            now,
            &mut w,
        );
    }
    let done = finished(&mut e);
    assert_eq!(done.len(), 2);
    assert!(done.iter().all(|(_, r)| r.as_ref().unwrap().len() == 2));
}

#[test]
fn an_error_in_either_part_fails_and_is_not_cached() {
    let (mut e, mut w, now) = (engine(1), FakeWire::default(), Instant::now());
    waiting(e.resolve(b"e.net", 1, T, now, &mut w));
    let q = sent(&mut w);
    e.on_message(
        &reply(&q[0], 0, &[("e.net", 1, 60, a("1.1.1.1"))]),
        false,
        now,
        &mut w,
    );
    e.on_message(&reply(&q[1], 2, &[]), false, now, &mut w);
    assert_eq!(finished(&mut e), [(1, Err(ResolveError::Dns(2)))]);
    waiting(e.resolve(b"e.net", 2, T, now, &mut w));
    assert_eq!(sent(&mut w).len(), 2);
}

#[test]
fn no_address_is_host_not_found_and_kept_only_with_an_soa() {
    let (mut e, mut w, now) = (engine(1), FakeWire::default(), Instant::now());
    waiting(e.resolve(b"z.net", 1, T, now, &mut w));
    let q = sent(&mut w);
    for q in &q {
        e.on_message(&reply(q, 0, &[]), false, now, &mut w);
    }
    assert_eq!(finished(&mut e), [(1, Err(ResolveError::Dns(3)))]);
    // Asked again: no SOA said how long the name is known not to exist.
    waiting(e.resolve(b"z.net", 2, T, now, &mut w));
    let q = sent(&mut w);
    e.on_message(
        &reply_full(&q[0], 0x8183, &[], &[("net", 6, 900, soa(60))]),
        false,
        now,
        &mut w,
    );
    e.on_message(
        &reply_full(&q[1], 0x8180, &[], &[("net", 6, 900, soa(120))]),
        false,
        now,
        &mut w,
    );
    assert_eq!(finished(&mut e), [(2, Err(ResolveError::Dns(3)))]);
    for at in [29, 58] {
        let later = now + Duration::from_secs(at);
        assert_eq!(
            ready(e.resolve(b"z.net", 3, T, later, &mut w)),
            Err(ResolveError::Dns(3))
        );
    }
    waiting(e.resolve(b"z.net", 4, T, now + Duration::from_secs(60), &mut w));
}

#[test]
fn server_failure_is_never_kept() {
    let (mut e, mut w, now) = (engine(1), FakeWire::default(), Instant::now());
    waiting(e.resolve(b"s.net", 1, T, now, &mut w));
    for q in sent(&mut w) {
        e.on_message(
            &reply_full(&q, 0x8182, &[], &[("net", 6, 900, soa(60))]),
            false,
            now,
            &mut w,
        );
    }
    assert_eq!(finished(&mut e), [(1, Err(ResolveError::Dns(2)))]);
    waiting(e.resolve(b"s.net", 2, T, now, &mut w));
}

#[test]
fn an_alias_is_resolved_in_turn_and_both_are_cached() {
    let (mut e, mut w, now) = (engine(1), FakeWire::default(), Instant::now());
    waiting(e.resolve(b"www.net", 1, T, now, &mut w));
    for q in sent(&mut w) {
        e.on_message(
            &reply(&q, 0, &[("www.net", 5, 60, encode_name("alias.net"))]),
            false,
            now,
            &mut w,
        );
    }
    assert!(finished(&mut e).is_empty());
    let q = sent(&mut w);
    assert!(q.len() == 2 && q.iter().all(|q| q.name == "alias.net"));
    e.on_message(
        &reply(&q[0], 0, &[("alias.net", 1, 60, a("10.0.0.7"))]),
        false,
        now,
        &mut w,
    );
    e.on_message(&reply(&q[1], 0, &[]), false, now, &mut w);
    assert_eq!(finished(&mut e), [(1, Ok(ips(&["10.0.0.7"])))]);
    assert_eq!(
        ready(e.resolve(b"www.net", 2, T, now, &mut w)),
        Ok(ips(&["10.0.0.7"]))
    );
    assert_eq!(
        ready(e.resolve(b"alias.net", 3, T, now, &mut w)),
        Ok(ips(&["10.0.0.7"]))
    );
}

#[test]
fn addresses_with_their_alias_in_one_answer() {
    let (mut e, mut w, now) = (engine(1), FakeWire::default(), Instant::now());
    waiting(e.resolve(b"c.net", 1, T, now, &mut w));
    let q = sent(&mut w);
    e.on_message(
        &reply(
            &q[0],
            0,
            &[
                ("c.net", 5, 1, encode_name("x.net")),
                ("x.net", 1, 3600, a("10.0.0.1")),
            ],
        ),
        false,
        now,
        &mut w,
    );
    e.on_message(
        &reply(&q[1], 0, &[("c.net", 5, 1, encode_name("x.net"))]),
        false,
        now,
        &mut w,
    );
    assert_eq!(finished(&mut e), [(1, Ok(ips(&["10.0.0.1"])))]);
    assert!(
        w.sent.is_empty(),
        "the alias's own addresses were in the answer"
    );
    // The smallest TTL (the CNAME's, 1 s) bounds the entry.
    assert!(matches!(
        e.resolve(b"c.net", 2, T, now + Duration::from_millis(999), &mut w),
        Started::Ready(Ok(_))
    ));
    waiting(e.resolve(b"c.net", 3, T, now + Duration::from_secs(1), &mut w));
}

#[test]
fn the_last_parts_alias_wins_as_in_nginx() {
    // nginx's http_resolver_aaaa.t "CNAME1 CNAME2": A says alias4, AAAA says alias6.
    let (mut e, mut w, now) = (engine(1), FakeWire::default(), Instant::now());
    waiting(e.resolve(b"c1-c2.net", 1, T, now, &mut w));
    let q = sent(&mut w);
    e.on_message(
        &reply(&q[0], 0, &[("c1-c2.net", 5, 60, encode_name("alias4.net"))]),
        false,
        now,
        &mut w,
    );
    e.on_message(
        &reply(&q[1], 0, &[("c1-c2.net", 5, 60, encode_name("alias6.net"))]),
        false,
        now,
        &mut w,
    );
    assert!(sent(&mut w).iter().all(|q| q.name == "alias6.net"));
    // "CNAME zero": an alias for A only, nothing for AAAA: no address.
    waiting(e.resolve(b"c-z.net", 2, T, now, &mut w));
    let q = sent(&mut w);
    e.on_message(
        &reply(&q[0], 0, &[("c-z.net", 5, 60, encode_name("alias.net"))]),
        false,
        now,
        &mut w,
    );
    e.on_message(&reply(&q[1], 0, &[]), false, now, &mut w);
    assert_eq!(finished(&mut e), [(2, Err(ResolveError::Dns(3)))]);
}

#[test]
fn fifty_aliases_at_most() {
    let (mut e, mut w, now) = (engine(1), FakeWire::default(), Instant::now());
    waiting(e.resolve(b"cn0.net", 1, T, now, &mut w));
    for hop in 0.. {
        let q = sent(&mut w);
        if q.is_empty() {
            break;
        }
        assert!(hop <= 51, "still asking at hop {hop}");
        let next = format!("cn{}.net", hop + 1);
        for q in &q {
            e.on_message(
                &reply(q, 0, &[(&q.name, 5, 60, encode_name(&next))]),
                false,
                now,
                &mut w,
            );
        }
    }
    assert_eq!(finished(&mut e), [(1, Err(ResolveError::Dns(3)))]);
    // Through the cache, too.
    assert_eq!(
        ready(e.resolve(b"cn0.net", 2, T, now, &mut w)),
        Err(ResolveError::Dns(3))
    );
    assert!(matches!(
        e.resolve(b"cn1.net", 3, T, now, &mut w),
        Started::Waiting(_)
    ));
}

#[test]
fn ignored_answers_then_the_deadline() {
    let (mut e, mut w, now) = (engine(1), FakeWire::default(), Instant::now());
    waiting(e.resolve(b"id.net", 1, Duration::from_secs(1), now, &mut w));
    let q = sent(&mut w);
    let mut wrong = reply(&q[0], 0, &[("id.net", 1, 60, a("10.0.0.1"))]);
    wrong[1] ^= 1;
    e.on_message(&wrong, false, now, &mut w);
    // FORMERR, an unknown code, garbage, a question we did not ask: all ignored.
    e.on_message(&reply(&q[0], 1, &[]), false, now, &mut w);
    e.on_message(&reply(&q[0], 9, &[]), false, now, &mut w);
    e.on_message(b"\x00\x01", false, now, &mut w);
    let mut other = reply(&q[0], 0, &[]);
    other[13] = b'x';
    e.on_message(&other, false, now, &mut w);
    assert!(finished(&mut e).is_empty());
    assert_eq!(e.next_deadline(), Some(now + Duration::from_secs(1)));
    e.on_timers(now + Duration::from_millis(999), &mut w);
    assert!(finished(&mut e).is_empty());
    e.on_timers(now + Duration::from_secs(1), &mut w);
    assert_eq!(finished(&mut e), [(1, Err(ResolveError::TimedOut))]);
    // The late right answer is still cached for the next request.
    e.on_message(
        &reply(&q[0], 0, &[("id.net", 1, 60, a("10.0.0.1"))]),
        false,
        now,
        &mut w,
    );
    e.on_message(&reply(&q[1], 0, &[]), false, now, &mut w);
    assert_eq!(
        ready(e.resolve(b"id.net", 2, T, now, &mut w)),
        Ok(ips(&["10.0.0.1"]))
    );
}

#[test]
fn resends_go_round_robin_and_only_for_missing_parts() {
    let (mut e, mut w, now) = (engine(3), FakeWire::default(), Instant::now());
    waiting(e.resolve(b"r.net", 1, T, now, &mut w));
    let q = sent(&mut w);
    assert!(q.iter().all(|q| q.server == 0));
    e.on_message(&reply(&q[1], 0, &[]), false, now, &mut w);
    e.on_timers(now + RESEND_AFTER, &mut w);
    let again = sent(&mut w);
    assert_eq!(again.len(), 1);
    assert_eq!(
        (again[0].server, again[0].qtype, again[0].id),
        (1, dns::TYPE_A, q[0].id)
    );
    // A new name starts at the next server.
    waiting(e.resolve(b"s.net", 2, T, now, &mut w));
    assert!(sent(&mut w).iter().all(|q| q.server == 1));
    e.on_message(
        &reply(&again[0], 0, &[("r.net", 1, 60, a("10.1.1.1"))]),
        false,
        now,
        &mut w,
    );
    assert_eq!(finished(&mut e), [(1, Ok(ips(&["10.1.1.1"])))]);
}

#[test]
fn a_failed_send_is_retried_at_once_on_the_next_server() {
    let (mut e, mut w, now) = (engine(2), FakeWire::default(), Instant::now());
    w.fail_server = Some(0);
    waiting(e.resolve(b"f.net", 1, T, now, &mut w));
    let servers: Vec<usize> = sent(&mut w).iter().map(|q| q.server).collect();
    assert_eq!(servers, [0, 0, 1, 1]);
}

#[test]
fn truncated_answers_are_asked_again_over_tcp() {
    let (mut e, mut w, now) = (engine(2), FakeWire::default(), Instant::now());
    waiting(e.resolve(b"t.net", 1, T, now, &mut w));
    let q = sent(&mut w);
    e.on_message(
        &reply(&q[0], 0x0200, &[("t.net", 1, 60, a("10.0.0.201"))]),
        false,
        now,
        &mut w,
    );
    let tcp = sent(&mut w);
    assert_eq!(tcp.len(), 1);
    assert!(tcp[0].tcp && tcp[0].server == 0 && tcp[0].id == q[0].id);
    // The resend timer restarted; the parts asked over TCP stay on TCP.
    e.on_timers(now + RESEND_AFTER, &mut w);
    let resent = sent(&mut w);
    assert_eq!(
        resent.iter().map(|q| (q.server, q.tcp)).collect::<Vec<_>>(),
        [(1, true), (1, false)]
    );
    // A truncated answer over UDP again for the TCP part is ignored; TCP answers count.
    e.on_message(&reply(&q[0], 0x0200, &[]), false, now, &mut w);
    e.on_message(
        &reply(&q[0], 0, &[("t.net", 1, 60, a("127.0.0.1"))]),
        true,
        now,
        &mut w,
    );
    e.on_message(&reply(&q[1], 0, &[]), false, now, &mut w);
    assert_eq!(finished(&mut e), [(1, Ok(ips(&["127.0.0.1"])))]);
}

#[test]
fn valid_overrides_the_ttl_and_zero_ttl_is_not_kept() {
    let (mut e, mut w, now) = (engine(1), FakeWire::default(), Instant::now());
    e.settings.valid = Some(5);
    waiting(e.resolve(b"v.net", 1, T, now, &mut w));
    for q in sent(&mut w) {
        e.on_message(
            &reply(
                &q,
                0,
                &[(
                    "v.net",
                    q.qtype,
                    1,
                    if q.qtype == 1 {
                        a("1.2.3.4")
                    } else {
                        aaaa("::4")
                    },
                )],
            ),
            false,
            now,
            &mut w,
        );
    }
    assert!(matches!(
        e.resolve(b"v.net", 2, T, now + Duration::from_secs(4), &mut w),
        Started::Ready(Ok(_))
    ));
    waiting(e.resolve(b"v.net", 3, T, now + Duration::from_secs(5), &mut w));

    let (mut e, mut w) = (engine(1), FakeWire::default());
    waiting(e.resolve(b"z.net", 1, T, now, &mut w));
    for q in sent(&mut w) {
        e.on_message(
            &reply(
                &q,
                0,
                &[(
                    "z.net",
                    q.qtype,
                    0,
                    if q.qtype == 1 {
                        a("1.2.3.4")
                    } else {
                        aaaa("::4")
                    },
                )],
            ),
            false,
            now,
            &mut w,
        );
    }
    assert_eq!(finished(&mut e).len(), 1);
    waiting(e.resolve(b"z.net", 2, T, now, &mut w));
}

#[test]
fn a_cancelled_request_is_not_answered_and_its_query_is_dropped() {
    let (mut e, mut w, now) = (engine(1), FakeWire::default(), Instant::now());
    let id = waiting(e.resolve(b"c.net", 1, T, now, &mut w));
    let other = waiting(e.resolve(b"c.net", 2, T, now, &mut w));
    e.cancel(id);
    e.on_timers(now + RESEND_AFTER, &mut w);
    assert_eq!(sent(&mut w).len(), 4, "asked, then resent for the other");
    e.cancel(other);
    e.on_timers(now + RESEND_AFTER * 2, &mut w);
    assert!(sent(&mut w).is_empty());
    assert_eq!(e.pending(), (0, 0));
    assert!(finished(&mut e).is_empty());
}

#[test]
fn answered_at_once() {
    let (mut e, mut w, now) = (engine(1), FakeWire::default(), Instant::now());
    assert_eq!(
        ready(e.resolve(b"10.0.0.9", 1, T, now, &mut w)),
        Ok(ips(&["10.0.0.9"]))
    );
    let long = vec!["a".repeat(63); 5].join(".");
    for bad in [&b""[..], b".", b"a..b", long.as_bytes()] {
        assert_eq!(
            ready(e.resolve(bad, 1, T, now, &mut w)),
            Err(ResolveError::Dns(3))
        );
    }
    assert!(w.sent.is_empty());
}

#[test]
fn families_follow_the_settings() {
    let now = Instant::now();
    for (ipv4, ipv6, types) in [(true, false, vec![1]), (false, true, vec![28])] {
        let mut e: Engine<u32> = Engine::new(Settings {
            servers: 1,
            valid: None,
            ipv4,
            ipv6,
        });
        let mut w = FakeWire::default();
        waiting(e.resolve(b"f.net", 1, T, now, &mut w));
        let q = sent(&mut w);
        assert_eq!(q.iter().map(|q| q.qtype).collect::<Vec<_>>(), types);
        let data = if ipv4 { a("1.1.1.1") } else { aaaa("::1") };
        e.on_message(
            &reply(&q[0], 0, &[("f.net", q[0].qtype, 60, data)]),
            false,
            now,
            &mut w,
        );
        assert_eq!(finished(&mut e).len(), 1);
    }
}

#[test]
fn cached_answers_rotate() {
    let (mut e, mut w, now) = (engine(1), FakeWire::default(), Instant::now());
    waiting(e.resolve(b"m.net", 1, T, now, &mut w));
    let q = sent(&mut w);
    e.on_message(
        &reply(
            &q[0],
            0,
            &[
                ("m.net", 1, 60, a("10.0.0.1")),
                ("m.net", 1, 60, a("10.0.0.2")),
            ],
        ),
        false,
        now,
        &mut w,
    );
    e.on_message(&reply(&q[1], 0, &[]), false, now, &mut w);
    assert_eq!(finished(&mut e), [(1, Ok(ips(&["10.0.0.1", "10.0.0.2"])))]);
    let firsts: std::collections::HashSet<IpAddr> = (0..64)
        .map(|i| ready(e.resolve(b"m.net", i, T, now, &mut w)).unwrap()[0])
        .collect();
    assert_eq!(firsts.len(), 2);
}

#[test]
fn mangled_answers_never_break_the_engine() {
    let (mut e, mut w, now) = (engine(2), FakeWire::default(), Instant::now());
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for round in 0..3000u32 {
        let name = format!("n{}.net", round % 500);
        let _ = e.resolve(name.as_bytes(), round, T, now, &mut w);
        for q in sent(&mut w) {
            let records: Vec<Rr> = vec![
                (&q.name, 5, 60, encode_name("n1.net")),
                (
                    &q.name,
                    q.qtype,
                    60,
                    if q.qtype == 1 {
                        a("10.0.0.1")
                    } else {
                        aaaa("::1")
                    },
                ),
            ];
            let mut m = reply(&q, (next() % 4) as u16, &records[..(next() % 3) as usize]);
            for _ in 0..(next() % 4) {
                let at = (next() as usize) % m.len();
                m[at] = next() as u8;
            }
            m.truncate(2 + (next() as usize) % (m.len() - 1));
            e.on_message(&m, next() % 2 == 0, now, &mut w);
        }
        if round % 100 == 0 {
            e.on_timers(now + Duration::from_secs(u64::from(round)), &mut w);
        }
        let _ = finished(&mut e);
    }
}
