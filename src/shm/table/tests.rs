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
