use super::*;

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Default)]
struct Count {
    n: u64,
}
// SAFETY: one integer.
unsafe impl Pod for Count {}

const KIND: u64 = 7;

fn table(size: usize) -> Segment {
    let seg = Segment::map(size).unwrap_or_else(|e| panic!("{e}"));
    Table::<Count>::format(&seg, KIND).unwrap_or_else(|e| panic!("{e}"));
    seg
}

#[test]
fn insert_find_remove() {
    let seg = table(64 * 1024);
    let t = Table::<Count>::open(&seg, KIND).unwrap();
    assert!(Table::<Count>::open(&seg, KIND + 1).is_none());
    let mut g = t.lock().unwrap();
    assert!(!g.recovered());
    let a = g.insert(b"alpha", Count { n: 1 }).unwrap();
    let b = g.insert(b"beta", Count { n: 2 }).unwrap();
    assert_eq!(g.find(b"alpha"), Some(a));
    assert_eq!(g.find(b"beta"), Some(b));
    assert_eq!(g.find(b"gamma"), None);
    g.value(a).n += 10;
    assert_eq!(g.value(a).n, 11);
    assert_eq!(g.oldest(), Some(a));
    g.touch(a);
    assert_eq!(g.oldest(), Some(b));
    g.remove(b);
    assert_eq!(g.find(b"beta"), None);
    assert_eq!(g.oldest(), Some(a));
    assert_eq!(g.len(), 1);
}

#[test]
fn fills_up_then_frees_pages_for_other_sizes() {
    let seg = table(64 * 1024);
    let t = Table::<Count>::open(&seg, KIND).unwrap();
    let mut g = t.lock().unwrap();
    let mut nodes = Vec::new();
    for i in 0u32.. {
        match g.insert(&i.to_be_bytes(), Count { n: i.into() }) {
            Some(n) => nodes.push(n),
            None => break,
        }
    }
    assert!(nodes.len() > 100, "{}", nodes.len());
    // Full: a big entry does not fit either.
    assert!(g.insert(&[1u8; 3000], Count::default()).is_none());
    for (i, n) in nodes.iter().enumerate() {
        assert_eq!(g.value(*n).n, i as u64);
    }
    for n in nodes.drain(..) {
        g.remove(n);
    }
    assert!(g.is_empty());
    // Every page came back: a run of several pages fits now.
    let big = g.insert(&[7u8; 9000], Count { n: 9 }).unwrap();
    assert_eq!(g.find(&[7u8; 9000]), Some(big));
    g.remove(big);
    let small = (0..200u32)
        .map(|i| g.insert(&i.to_le_bytes(), Count::default()))
        .filter(Option::is_some)
        .count();
    assert_eq!(small, 200);
}

#[test]
fn a_lock_whose_owner_died_is_recovered_and_the_zone_wiped() {
    let seg = table(64 * 1024);
    let t = Table::<Count>::open(&seg, KIND).unwrap();
    let remembered = {
        let mut g = t.lock().unwrap();
        let node = g.insert(b"k", Count { n: 5 }).unwrap();
        let r = g.remember(node);
        assert_eq!(g.recall(r), Some(node));
        r
    };
    let generation = seg.generation();
    // SAFETY: the child only takes the lock and exits (no allocation, no other thread's
    // locks matter to it).
    match unsafe { libc::fork() } {
        0 => {
            let g = t.lock();
            std::mem::forget(g);
            // SAFETY: leave without unlocking, as a killed worker would.
            unsafe { libc::_exit(0) };
        }
        pid if pid > 0 => {
            let mut status = 0;
            // SAFETY: waiting for our own child.
            unsafe { libc::waitpid(pid, &mut status, 0) };
        }
        _ => panic!("fork failed"),
    }
    let g = t.lock().unwrap();
    assert!(g.recovered());
    assert!(g.find(b"k").is_none());
    // An entry remembered before the wipe is not recalled after it.
    assert_eq!(g.recall(remembered), None);
    drop(g);
    assert_eq!(seg.generation(), generation + 1);
    let g = t.lock().unwrap();
    assert!(!g.recovered());
}

#[test]
fn a_zone_without_room_for_one_page_is_refused() {
    let seg = Segment::map(6 * 1024).unwrap();
    assert!(Table::<Count>::format(&seg, KIND).is_err());
}

/// Forks a child that runs `f` and leaves with `_exit` (never returning into the test
/// harness); returns its pid.
fn fork_child(f: impl FnOnce() -> i32) -> libc::pid_t {
    // SAFETY: the child only runs `f` (lock, table operations, raw syscalls) and exits.
    match unsafe { libc::fork() } {
        0 => {
            let code = f();
            // SAFETY: leave the child without running the parent's destructors.
            unsafe { libc::_exit(code) }
        }
        pid if pid > 0 => pid,
        _ => panic!("fork failed"),
    }
}

/// Waits up to `secs` for `pid`; `None` if it is still running then.
fn wait_exit(pid: libc::pid_t, secs: u64) -> Option<i32> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while std::time::Instant::now() < deadline {
        let mut status = 0;
        // SAFETY: waiting for our own child without blocking.
        if unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) } == pid {
            return Some(status);
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    None
}

/// Forks a child that takes `t`'s lock and waits, holding it, to be killed; returns once
/// the child holds it.
fn fork_lock_holder(t: &Table<'_, Count>) -> libc::pid_t {
    let mut fds = [0; 2];
    // SAFETY: a pipe for the holder to say it holds the lock.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    let holder = fork_child(|| {
        let g = t.lock();
        std::mem::forget(g);
        // SAFETY: one byte to the parent, then wait to be killed with the lock held.
        unsafe {
            libc::write(fds[1], b"!".as_ptr().cast(), 1);
            loop {
                libc::pause();
            }
        }
    });
    let mut byte = 0u8;
    // SAFETY: reading the holder's byte into a local, then closing our pipe.
    unsafe {
        assert_eq!(libc::read(fds[0], (&raw mut byte).cast(), 1), 1);
        libc::close(fds[0]);
        libc::close(fds[1]);
    }
    holder
}

#[test]
fn a_process_killed_holding_the_lock_under_load_does_not_wedge_the_others() {
    const WORKERS: usize = 3;
    const ROUNDS: u64 = 2000;
    let seg = table(64 * 1024);
    let t = Table::<Count>::open(&seg, KIND).unwrap();
    t.lock().unwrap().insert(b"before", Count { n: 1 }).unwrap();
    let generation = seg.generation();
    let holder = fork_lock_holder(&t);
    // Workers that update the zone as fast as they can, all queued behind the holder.
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            fork_child(|| {
                for _ in 0..ROUNDS {
                    let Ok(mut g) = t.lock() else { return 2 };
                    let node = match g.find(b"n") {
                        Some(node) => node,
                        None => match g.insert(b"n", Count::default()) {
                            Some(node) => node,
                            None => return 3,
                        },
                    };
                    g.value(node).n += 1;
                }
                0
            })
        })
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(50));
    // SAFETY: SIGKILL to our own child, which holds the lock.
    unsafe { libc::kill(holder, libc::SIGKILL) };
    assert!(wait_exit(holder, 5).is_some());
    let statuses: Vec<Option<i32>> = workers.iter().map(|&pid| wait_exit(pid, 20)).collect();
    for (&pid, status) in workers.iter().zip(&statuses) {
        if status.is_none() {
            // SAFETY: our own child, wedged: end it so the test run goes on.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            wait_exit(pid, 5);
        }
    }
    for status in statuses {
        let status = status.expect("a worker is wedged behind the dead holder's lock");
        assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
    }
    // One wipe (the dead holder's), then every update counted: nothing ran while it held
    // the lock, nothing was lost after.
    assert_eq!(seg.generation(), generation + 1);
    let mut g = t.lock().unwrap();
    assert!(!g.recovered());
    assert!(g.find(b"before").is_none());
    let n = g.find(b"n").expect("the workers' entry");
    assert_eq!(g.value(n).n, WORKERS as u64 * ROUNDS);
}

#[test]
fn keyed_hash_spreads_addresses_and_depends_on_the_seed() {
    // 4096 consecutive IPv4 addresses over 1024 buckets: no bucket holds many.
    let mut buckets = [0u32; 1024];
    for i in 0u32..4096 {
        let key = (0x0a00_0000 + i).to_be_bytes();
        buckets[(super::keyed_hash(7, &key) & 1023) as usize] += 1;
    }
    assert!(buckets.iter().all(|&n| n <= 16), "{buckets:?}");
    assert_ne!(super::keyed_hash(1, b"key"), super::keyed_hash(2, b"key"));
    assert_ne!(super::keyed_hash(1, b"a"), super::keyed_hash(1, b"a\0"));
    assert_ne!(
        super::keyed_hash(1, b"0123456789abcdef0"),
        super::keyed_hash(1, b"0123456789abcdef1")
    );
}

#[test]
fn keys_compare_and_hash_alike_whatever_their_length() {
    use super::{keyed_hash, same_key};
    for (a, b, same) in [
        (&b"\x7f\0\0\x01"[..], &b"\x7f\0\0\x01"[..], true),
        (b"\x7f\0\0\x01", b"\x7f\0\0\x02", false),
        (b"0123456789abcdef", b"0123456789abcdef", true),
        (b"0123456789abcdef", b"0123456789abcdeF", false),
        (b"\x7f\0\0\x01", b"\x7f\0\0\x01\0", false),
        (b"abcdefg", b"abcdefg", true),
        (b"unix:", b"unix;", false),
    ] {
        assert_eq!(same_key(a, b), same, "{a:?} {b:?}");
    }
    // The tail of a key is its zero-padded little-endian word, however it is read.
    let word = |tail: &[u8]| {
        let mut w = [0u8; 8];
        w[..tail.len()].copy_from_slice(tail);
        u64::from_le_bytes(w)
    };
    for key in [
        &b"abcd"[..],
        b"abcde",
        b"abc",
        b"abcdefg",
        b"0123456789abcdef",
    ] {
        let seed = 42u64;
        let k = 0x9e37_79b9_7f4a_7c15u64;
        let fold = |a: u64, b: u64| {
            let p = u128::from(a) * u128::from(b);
            (p as u64) ^ ((p >> 64) as u64)
        };
        let inner = seed.rotate_left(32) ^ k;
        let mut h = seed ^ (key.len() as u64).wrapping_mul(k);
        for chunk in key.chunks(8) {
            h = fold(h ^ word(chunk), inner);
        }
        assert_eq!(keyed_hash(seed, key), fold(h, k ^ seed), "{key:?}");
    }
}

#[test]
fn the_master_marks_a_reaped_holders_lock_for_takeover() {
    let seg = table(64 * 1024);
    let t = Table::<Count>::open(&seg, KIND).unwrap();
    t.lock().unwrap().insert(b"before", Count { n: 1 }).unwrap();
    let holder = fork_lock_holder(&t);
    // Another process's id is not the holder's: nothing is released for it.
    assert!(!seg.release_dead_owner(std::process::id()));
    // SAFETY: SIGKILL to our own child, which holds the lock; then reaped, as the master does.
    unsafe { libc::kill(holder, libc::SIGKILL) };
    assert!(wait_exit(holder, 5).is_some());
    assert!(seg.release_dead_owner(holder.unsigned_abs()));
    assert!(!seg.release_dead_owner(holder.unsigned_abs()));
    // The next locker takes the lock over without waiting for its owner check, and wipes.
    let g = t.lock().unwrap();
    assert!(g.recovered());
    assert!(g.find(b"before").is_none());
    drop(g);
    assert!(!t.lock().unwrap().recovered());
}
