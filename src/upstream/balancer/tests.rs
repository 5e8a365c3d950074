use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::*;
use crate::config::proxy_values::{UpstreamConf, UpstreamServer};

fn group(weights: &[u32], balance: Balance) -> (Group, Balance) {
    let mut conf = UpstreamConf::new("u".into(), true);
    conf.balance = balance.clone();
    for (i, w) in weights.iter().enumerate() {
        conf.servers.push(UpstreamServer {
            addr: crate::config::proxy_values::PeerAddr::Inet(
                format!("127.0.0.1:{}", 1000 + i).parse().unwrap(),
            ),
            weight: *w,
            max_fails: 1,
            fail_timeout: Duration::from_secs(10),
            backup: false,
            down: false,
            max_conns: 0,
        });
    }
    (Group::new(&conf), balance)
}

/// Two workers' views of one group in one upstream zone (the same mapping, as after fork).
fn zoned(weights: &[u32], balance: Balance) -> (Group, Group, Balance) {
    let (g, b) = group(weights, balance);
    let mut conf = UpstreamConf::new("u".into(), true);
    conf.servers = (0..weights.len())
        .map(|i| UpstreamServer {
            addr: crate::config::proxy_values::PeerAddr::Inet(
                format!("127.0.0.1:{}", 1000 + i).parse().unwrap(),
            ),
            weight: g.peers[i].weight as u32,
            max_fails: 1,
            fail_timeout: Duration::from_secs(10),
            backup: false,
            down: false,
            max_conns: 1,
        })
        .collect();
    let seg = Rc::new(Segment::map(64 * 1024).unwrap());
    // A zone shared with another group of 2 servers first: this one's records follow.
    format_zone(&seg, 2 + weights.len()).unwrap();
    let a = Group::in_shared_zone(&conf, Rc::clone(&seg), 2, false);
    let c = Group::in_shared_zone(&conf, seg, 2, false);
    (a, c, b)
}

#[test]
fn a_zone_shares_the_rotation_failures_and_connections_between_workers() {
    let now = Instant::now();
    // The smooth round robin's sequence is the server's, whichever worker picks.
    let (mut w1, mut w2, b) = zoned(&[5, 1, 1], Balance::RoundRobin);
    let seq: Vec<usize> = (0..7)
        .map(|k| {
            let w = if k % 2 == 0 { &mut w1 } else { &mut w2 };
            w.pick(&b, &[], CLIENT, b"", now).unwrap()
        })
        .collect();
    assert_eq!(seq, [0, 0, 1, 0, 2, 0, 0]);
    // A failure seen by one worker disables the server for the other.
    let (mut w1, mut w2, b) = zoned(&[1, 1], Balance::RoundRobin);
    w1.acquire(0, now);
    w1.release(0, true, now);
    for _ in 0..4 {
        assert_eq!(w2.pick(&b, &[], CLIENT, b"", now), Ok(1));
    }
    // least_conn and max_conns=1 count the other worker's requests in flight.
    let (mut w1, mut w2, b) = zoned(&[1, 1], Balance::LeastConn);
    w1.acquire(0, now);
    assert_eq!(w2.pick(&b, &[], CLIENT, b"", now), Ok(1));
    w2.acquire(1, now);
    assert_eq!(w1.pick(&b, &[], CLIENT, b"", now), Err(NoLivePeers));
    w2.release(1, false, now);
    assert_eq!(w1.pick(&b, &[], CLIENT, b"", now), Ok(1));
}

const CLIENT: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

#[test]
fn smooth_round_robin_follows_weights_exactly() {
    let (mut g, b) = group(&[3, 1], Balance::RoundRobin);
    let now = Instant::now();
    let picks: Vec<usize> = (0..40)
        .map(|_| g.pick(&b, &[], CLIENT, b"", now).unwrap())
        .collect();
    assert_eq!(picks.iter().filter(|&&i| i == 0).count(), 30);
    assert_eq!(picks.iter().filter(|&&i| i == 1).count(), 10);
    // Smooth: never the light server twice in a row, and a fixed 4-pick cycle.
    assert_eq!(&picks[..4], &[0, 0, 1, 0]);
    // nginx's documented example, weights 5 1 1: a a b a c a a.
    let (mut g, b) = group(&[5, 1, 1], Balance::RoundRobin);
    let seq: Vec<usize> = (0..7)
        .map(|_| g.pick(&b, &[], CLIENT, b"", now).unwrap())
        .collect();
    assert_eq!(seq, [0, 0, 1, 0, 2, 0, 0]);
}

#[test]
fn failed_server_is_skipped_for_fail_timeout_then_tried_again() {
    let (mut g, b) = group(&[1, 1], Balance::RoundRobin);
    let now = Instant::now();
    g.acquire(0, now);
    g.release(0, true, now);
    for _ in 0..5 {
        assert_eq!(g.pick(&b, &[], CLIENT, b"", now), Ok(1));
    }
    let later = now + Duration::from_secs(11);
    let picks: Vec<usize> = (0..4)
        .map(|_| g.pick(&b, &[], CLIENT, b"", later).unwrap())
        .collect();
    assert!(picks.contains(&0));
    // Both failed: no live upstreams.
    g.release(0, true, later);
    g.release(1, true, later);
    assert_eq!(g.pick(&b, &[], CLIENT, b"", later), Err(NoLivePeers));
}

#[test]
fn tried_servers_are_not_picked_again_and_single_server_ignores_failures() {
    let (mut g, b) = group(&[1, 1], Balance::RoundRobin);
    let now = Instant::now();
    let first = g.pick(&b, &[], CLIENT, b"", now).unwrap();
    let mut tried = vec![false; 2];
    tried[first] = true;
    assert_eq!(g.pick(&b, &tried, CLIENT, b"", now), Ok(1 - first));
    let (mut one, b) = group(&[1], Balance::RoundRobin);
    one.release(0, true, now);
    assert_eq!(one.pick(&b, &[], CLIENT, b"", now), Ok(0));
}

#[test]
fn least_conn_prefers_the_idle_server() {
    let (mut g, b) = group(&[1, 1, 1], Balance::LeastConn);
    let now = Instant::now();
    g.acquire(0, now);
    g.acquire(1, now);
    assert_eq!(g.pick(&b, &[], CLIENT, b"", now), Ok(2));
    g.acquire(2, now);
    g.release(1, false, now);
    assert_eq!(g.pick(&b, &[], CLIENT, b"", now), Ok(1));
}

#[test]
fn ip_hash_and_hash_are_stable() {
    let now = Instant::now();
    let (mut g, b) = group(&[1, 1, 1], Balance::IpHash);
    let a: IpAddr = "10.1.2.3".parse().unwrap();
    let same_net: IpAddr = "10.1.2.99".parse().unwrap();
    let first = g.pick(&b, &[], a, b"", now).unwrap();
    for _ in 0..5 {
        assert_eq!(g.pick(&b, &[], a, b"", now), Ok(first));
        assert_eq!(g.pick(&b, &[], same_net, b"", now), Ok(first));
    }
    for consistent in [false, true] {
        let key = crate::vars::Template::compile("$request_uri").unwrap();
        let (mut g, b) = group(&[1, 1, 1], Balance::Hash { key, consistent });
        let mut seen = std::collections::HashSet::new();
        for k in 0..50 {
            let key = format!("/k{k}");
            let i = g.pick(&b, &[], CLIENT, key.as_bytes(), now).unwrap();
            assert_eq!(g.pick(&b, &[], CLIENT, key.as_bytes(), now), Ok(i));
            seen.insert(i);
        }
        assert_eq!(seen.len(), 3, "keys spread over every server");
    }
}

#[test]
fn crc32_matches_the_standard_check_value() {
    assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
}

#[test]
fn a_server_the_health_check_failed_gets_no_traffic_from_any_worker() {
    use crate::shm::Slots;
    use crate::upstream::health::{Health, HealthState};
    let now = Instant::now();
    for balance in [Balance::RoundRobin, Balance::LeastConn, Balance::IpHash] {
        let b = balance;
        let seg = Rc::new(Segment::map(64 * 1024).unwrap());
        format_zone(&seg, 3).unwrap();
        let conf = {
            let mut c = UpstreamConf::new("u".into(), true);
            c.servers = (0..3)
                .map(|i| UpstreamServer {
                    addr: crate::config::proxy_values::PeerAddr::Inet(
                        format!("127.0.0.1:{}", 1000 + i).parse().unwrap(),
                    ),
                    weight: 1,
                    max_fails: 1,
                    fail_timeout: Duration::from_secs(10),
                    backup: false,
                    down: false,
                    max_conns: 0,
                })
                .collect();
            c
        };
        let mut w1 = Group::in_shared_zone(&conf, Rc::clone(&seg), 0, false);
        let mut w2 = Group::in_shared_zone(&conf, Rc::clone(&seg), 0, false);
        let mut unhealthy = Health::from_word(0);
        unhealthy.state = HealthState::Unhealthy;
        {
            let slots =
                Slots::<SharedPeer>::open(&seg, crate::config::ZoneKind::Upstream.tag()).unwrap();
            let mut guard = slots.lock().unwrap();
            guard.records()[1].health = unhealthy.to_word();
        }
        for k in 0..12 {
            let w = if k % 2 == 0 { &mut w1 } else { &mut w2 };
            let i = w.pick(&b, &[], CLIENT, b"", now).unwrap();
            assert_ne!(i, 1, "{b:?}");
        }
        // Healthy again (or never checked): back in the rotation.
        {
            let slots =
                Slots::<SharedPeer>::open(&seg, crate::config::ZoneKind::Upstream.tag()).unwrap();
            slots.lock().unwrap().records()[1].health = 0;
        }
        let picked: Vec<usize> = (0..6)
            .map(|_| w1.pick(&b, &[], CLIENT, b"", now).unwrap())
            .collect();
        if matches!(b, Balance::RoundRobin) {
            assert!(picked.contains(&1), "{picked:?}");
        }
    }
}

fn two_server_conf() -> UpstreamConf {
    let mut c = UpstreamConf::new("u".into(), true);
    c.servers = (0..2)
        .map(|i| UpstreamServer {
            addr: crate::config::proxy_values::PeerAddr::Inet(
                format!("127.0.0.1:{}", 1000 + i).parse().unwrap(),
            ),
            weight: 1,
            max_fails: 1,
            fail_timeout: Duration::from_secs(10),
            backup: false,
            down: false,
            max_conns: 0,
        })
        .collect();
    c
}

#[test]
fn one_worker_holds_the_prober_lease_until_it_gives_it_up_or_dies() {
    let seg = Rc::new(Segment::map(64 * 1024).unwrap());
    format_zone(&seg, 3).unwrap();
    let conf = two_server_conf();
    let w1 = Group::in_shared_zone(&conf, Rc::clone(&seg), 1, false);
    let w2 = Group::in_shared_zone(&conf, Rc::clone(&seg), 1, false);
    let me = std::process::id();
    // Our own pid is alive; the parent's too.
    let other = std::os::unix::process::parent_id();
    assert!(w1.hold_lease(me), "a free lease is taken");
    assert!(w1.hold_lease(me), "and renewed");
    assert!(!w2.hold_lease(other), "held by a live process");
    w1.release_lease(other);
    assert!(!w2.hold_lease(other), "only the holder gives it up");
    w1.release_lease(me);
    assert!(w2.hold_lease(other), "given up: taken at once");
    // A holder that no longer exists is replaced before its lease runs out.
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    w1.release_lease(other);
    assert!(w1.hold_lease(dead));
    assert!(w2.hold_lease(me), "the holder died");
}

#[test]
fn checks_move_the_shared_state_and_count_for_the_report() {
    use crate::upstream::health::Transition;
    let seg = Rc::new(Segment::map(64 * 1024).unwrap());
    format_zone(&seg, 3).unwrap();
    let conf = two_server_conf();
    let mut prober = Group::in_shared_zone(&conf, Rc::clone(&seg), 1, true);
    let mut other = Group::in_shared_zone(&conf, Rc::clone(&seg), 1, true);
    let now = Instant::now();
    // `mandatory`: no server before its first pass.
    assert!(
        other
            .pick(&Balance::RoundRobin, &[], CLIENT, b"", now)
            .is_err()
    );
    let pass = CheckOutcome {
        passed: true,
        status: 200,
    };
    let fail = CheckOutcome {
        passed: false,
        status: 503,
    };
    assert_eq!(
        prober.record_check(0, pass, 2, 1),
        None,
        "a first pass is not logged"
    );
    assert_eq!(
        other.pick(&Balance::RoundRobin, &[], CLIENT, b"", now),
        Ok(0)
    );
    assert_eq!(prober.record_check(0, fail, 2, 1), None);
    assert_eq!(
        prober.record_check(0, fail, 2, 1),
        Some(Transition::Unhealthy)
    );
    assert!(
        other
            .pick(&Balance::RoundRobin, &[], CLIENT, b"", now)
            .is_err()
    );
    assert_eq!(
        prober.record_check(0, pass, 2, 1),
        Some(Transition::Healthy)
    );
    let stats = other.shared_stats(now).unwrap();
    let r = &stats[0].record;
    assert_eq!((r.checks, r.check_fails, r.unhealthy), (4, 2, 1));
    assert_eq!(r.down_since_ms, 0);
    // The queue's counters live in the control record, apart from the servers'.
    other.count_queue(2, false);
    other.count_queue(-1, true);
    assert_eq!(prober.queue_stats(), Some((1, 1)));
    assert_eq!(stats[1].record.conns, 0);
}
