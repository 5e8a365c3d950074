//! What a compressed response's compressor holds, measured with a counting allocator: the
//! streaming state at nginx's parameters (and the smaller ones nginx picks for a short
//! body) against the memory nginx preallocates for zlib (zlib-rs's hash is 64K entries
//! whatever `gzip_hash` says, so its state is up to 128 KB larger), and the one-shot
//! compressors a worker keeps. `cargo test --release --test gzip_memory -- --nocapture` prints the
//! figures the README quotes.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use portico::compress::{DeflatePool, Deflater, OneShot, Params};

static LIVE: AtomicIsize = AtomicIsize::new(0);

struct Counting;

// SAFETY: every call goes to the system allocator unchanged; only sizes are counted.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::SeqCst);
        // SAFETY: the caller's contract is passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::SeqCst);
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size as isize - layout.size() as isize, Ordering::SeqCst);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::SeqCst);
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn live() -> isize {
    LIVE.load(Ordering::SeqCst)
}

#[test]
fn compressor_memory_against_nginx() {
    let nginx = Params {
        level: 1,
        wbits: 15,
        memlevel: 8,
    };
    let cases = [
        ("default (any body over 32 KB, or of unknown length)", nginx),
        ("20 KB page", nginx.for_length(Some(20_000))),
        ("5 KB page", nginx.for_length(Some(5_000))),
        (
            "gzip_window 4k; gzip_hash 8k",
            Params {
                level: 6,
                wbits: 12,
                memlevel: 5,
            },
        ),
    ];
    for (what, params) in cases {
        let before = live();
        let d = Deflater::new(params).expect("state");
        let state = (live() - before) as usize;
        drop(d);
        assert_eq!(live(), before, "a state is freed whole");
        let theirs = params.nginx_state_bytes();
        println!(
            "streaming state, {what} (wbits {}, memlevel {}): {state} bytes; nginx preallocates {theirs}",
            params.wbits, params.memlevel
        );
        // zlib-rs keeps zlib's window and buffers but a hash of 64K entries whatever
        // `gzip_hash` says: about 110 KB over nginx's figure at the default parameters.
        assert!(state <= theirs + 128 * 1024, "{what}: {state} vs {theirs}");
    }

    // A pooled state is reused: the second response allocates nothing for it.
    let mut pool = DeflatePool::default();
    let d = pool.take(nginx).expect("state");
    pool.give(d);
    let before = live();
    let d = pool.take(nginx).expect("state");
    assert_eq!(live(), before, "reused, not allocated");
    pool.give(d);

    for level in [1u8, 6, 9] {
        let mut one = OneShot::default();
        let mut out = Vec::with_capacity(64 * 1024);
        let before = live();
        one.compress(level, &[b'x'; 10_000], &mut out)
            .expect("compress");
        let kept = (live() - before) as usize;
        println!("one-shot compressor at level {level}, kept per worker: {kept} bytes");
    }
}
