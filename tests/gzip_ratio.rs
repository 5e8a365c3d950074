//! The compression ratio at each `gzip_comp_level`, Portico's two compressors against zlib's
//! (what nginx sends: zlib with the window and hash nginx picks for the body's length), on the
//! bodies `make bench` serves: the 20 KB HTML page and the 100 KB JSON answer. zlib's sizes
//! come from Python's `zlib`, the same library nginx links. Neither compressor may be more
//! than 3 % larger than zlib at any level (zlib-rs's own level 1, a fifth larger, would
//! fail). `cargo test --release --test gzip_ratio -- --nocapture` prints the table the README
//! quotes.

use std::io::Write;
use std::process::{Command, Stdio};

use portico::compress::{Deflater, Flush, OneShot, Params};

/// The bench's bodies, made by its own generator (benches/harness/config.py).
fn bench_body(generator: &str) -> Vec<u8> {
    let script = format!(
        "import sys; sys.path.insert(0, 'benches')\n\
         from harness.config import {generator}\n\
         sys.stdout.buffer.write({generator}())"
    );
    let out = Command::new("python3")
        .args(["-c", &script])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// zlib's gzip size of `body` at each level 1..=9 with `params`' window and hash.
fn zlib_sizes(body: &[u8], params: Params) -> Vec<usize> {
    let script = format!(
        "import sys, zlib\n\
         data = sys.stdin.buffer.read()\n\
         for level in range(1, 10):\n\
         \x20   c = zlib.compressobj(level, zlib.DEFLATED, 16 + {}, {})\n\
         \x20   print(len(c.compress(data) + c.flush()))",
        params.wbits, params.memlevel
    );
    let mut child = Command::new("python3")
        .args(["-c", &script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(body)
        .expect("feed python");
    let out = child.wait_with_output().expect("python3 runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim().parse().expect("a size"))
        .collect()
}

/// The streaming compressor's output size for `body`, fed in 4 KB pieces as a proxied body.
fn streaming_size(body: &[u8], params: Params) -> usize {
    let mut d = Deflater::new(params).expect("state");
    let mut out = vec![0u8; body.len() + 1024];
    let mut made = 0;
    for piece in body.chunks(4096) {
        let mut input = piece;
        while !input.is_empty() {
            let step = d
                .compress(input, &mut out[made..], Flush::None)
                .expect("deflate");
            input = &input[step.consumed..];
            made += step.produced;
        }
    }
    loop {
        let step = d
            .compress(&[], &mut out[made..], Flush::Finish)
            .expect("finish");
        made += step.produced;
        if step.ended {
            return made;
        }
    }
}

#[test]
fn compression_ratio_at_each_level_against_zlib() {
    for (name, generator) in [("20 KB HTML", "page_html"), ("100 KB JSON", "data_json")] {
        let body = bench_body(generator);
        let nginx = Params {
            level: 1,
            wbits: 15,
            memlevel: 8,
        }
        .for_length(Some(body.len() as u64));
        let zlib = zlib_sizes(&body, nginx);
        assert_eq!(zlib.len(), 9, "zlib's sizes");
        println!(
            "{name} ({} bytes), ratio (plain/compressed) by level: zlib as nginx | streaming (zlib-rs) | one-shot (libdeflate)",
            body.len()
        );
        let mut one_shot = OneShot::default();
        for level in 1u8..=9 {
            let params = Params { level, ..nginx };
            let streamed = streaming_size(&body, params);
            let mut out = Vec::new();
            let whole = one_shot.compress(level, &body, &mut out).expect("one-shot");
            let theirs = zlib[usize::from(level) - 1];
            let ratio = |n: usize| body.len() as f64 / n as f64;
            println!(
                "  level {level}: {:.2} ({theirs}) | {:.2} ({streamed}) | {:.2} ({whole})",
                ratio(theirs),
                ratio(streamed),
                ratio(whole)
            );
            for (what, ours) in [("streaming", streamed), ("one-shot", whole)] {
                assert!(
                    ours * 100 <= theirs * 103,
                    "{name}, level {level}: {what} {ours} bytes against zlib's {theirs}"
                );
            }
        }
    }
}
