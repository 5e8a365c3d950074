use super::*;

fn sample(len: usize) -> Vec<u8> {
    let words = [
        &b"server "[..],
        b"request ",
        b"gzip ",
        b"upstream ",
        b"<p>",
        b"</p>\n",
    ];
    let mut out = Vec::with_capacity(len);
    let mut i = 7usize;
    while out.len() < len {
        i = i.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        out.extend_from_slice(words[(i >> 16) % words.len()]);
    }
    out.truncate(len);
    out
}

/// Decompresses a whole gzip stream (several members allowed) with the Inflater.
fn gunzip(data: &[u8], piece: usize) -> Result<Vec<u8>, ZlibError> {
    let mut inf = Inflater::new()?;
    let mut out = Vec::new();
    let mut buf = vec![0u8; 1000];
    let mut pos = 0;
    loop {
        let end = (pos + piece).min(data.len());
        let finish = end == data.len();
        let r = inf.inflate(&data[pos..end], &mut buf, finish)?;
        out.extend_from_slice(&buf[..r.produced]);
        pos += r.consumed;
        if finish && pos == data.len() && r.produced < buf.len() {
            break;
        }
        if r.consumed == 0 && r.produced == 0 && !finish {
            continue;
        }
    }
    if !inf.at_member_end() {
        return Err(ZlibError::DATA);
    }
    Ok(out)
}

fn deflate_stream(d: &mut Deflater, data: &[u8], piece: usize, sync_every: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 777];
    for chunk in data.chunks(piece.max(1)) {
        let mut input = chunk;
        loop {
            let flush = if sync_every { Flush::Sync } else { Flush::None };
            let s = d.compress(input, &mut buf, flush).expect("deflate");
            out.extend_from_slice(&buf[..s.produced]);
            input = &input[s.consumed..];
            if input.is_empty() && s.produced < buf.len() {
                break;
            }
        }
    }
    loop {
        let s = d.compress(&[], &mut buf, Flush::Finish).expect("finish");
        out.extend_from_slice(&buf[..s.produced]);
        if s.ended {
            return out;
        }
    }
}

#[test]
fn streaming_output_is_gzip_at_every_level_and_piece_size() {
    let data = sample(70_000);
    for level in 1..=9 {
        for piece in [1, 7, 4096, 70_000] {
            let params = Params {
                level,
                wbits: 15,
                memlevel: 8,
            };
            let mut d = Deflater::new(params).expect("state");
            let gz = deflate_stream(&mut d, &data, piece, piece == 7);
            assert_eq!(&gz[..3], &[0x1f, 0x8b, 8], "gzip magic");
            if piece != 7 {
                assert!(gz.len() < data.len() / 2, "compresses ({level}, {piece})");
            }
            assert_eq!(d.total_in(), data.len() as u64);
            assert_eq!(gunzip(&gz, 100).expect("valid"), data);
        }
    }
}

#[test]
fn small_windows_and_hashes_work() {
    let data = sample(5000);
    for (wbits, memlevel) in [(9, 1), (10, 2), (13, 9)] {
        let mut d = Deflater::new(Params {
            level: 6,
            wbits,
            memlevel,
        })
        .expect("state");
        let gz = deflate_stream(&mut d, &data, 999, false);
        assert_eq!(gunzip(&gz, 5000).expect("valid"), data);
    }
}

#[test]
fn pooled_states_are_reset_and_reused() {
    let mut pool = DeflatePool::default();
    let p = Params {
        level: 1,
        wbits: 15,
        memlevel: 8,
    };
    let data = sample(3000);
    let mut d = pool.take(p).expect("state");
    let first = deflate_stream(&mut d, &data, 3000, false);
    pool.give(d);
    let mut d = pool.take(p).expect("state");
    assert_eq!(d.total_in(), 0, "reset");
    let second = deflate_stream(&mut d, &data, 3000, false);
    assert_eq!(first, second);
    assert_eq!(pool.created, 1);
    pool.give(d);
    // Other parameters make a new state; the pool stays bounded.
    for level in 2..=9 {
        let d = pool.take(Params { level, ..p }).expect("state");
        pool.give(d);
    }
    assert_eq!(pool.created, 9);
    assert!(pool.spares() <= 4);
}

#[test]
fn one_shot_output_is_gzip() {
    let mut one = OneShot::default();
    let data = sample(20_000);
    for level in 1..=9 {
        let mut out = b"head".to_vec();
        let n = one.compress(level, &data, &mut out).expect("compress");
        assert_eq!(out.len(), 4 + n);
        assert_eq!(gunzip(&out[4..], 333).expect("valid"), data);
    }
    let mut out = Vec::new();
    one.compress(1, b"", &mut out).expect("empty");
    assert_eq!(gunzip(&out, 10).expect("valid"), b"");
}

#[test]
fn inflater_reads_members_one_after_another_and_refuses_garbage() {
    let mut one = OneShot::default();
    let mut two = Vec::new();
    one.compress(6, b"first ", &mut two).expect("1");
    one.compress(6, b"second", &mut two).expect("2");
    for piece in [1, 5, 1000] {
        assert_eq!(gunzip(&two, piece).expect("valid"), b"first second");
    }
    let mut bad = two.clone();
    let mid = bad.len() / 4;
    bad[mid] ^= 0xff;
    bad[mid + 1] ^= 0x55;
    assert!(gunzip(&bad, 1000).is_err());
    assert_eq!(gunzip(b"not gzip at all", 1000), Err(ZlibError::DATA));
    // Cut short: no member end.
    assert!(gunzip(&two[..two.len() - 3], 1000).is_err());
}

#[test]
fn memory_follows_nginx() {
    let p = Params {
        level: 1,
        wbits: 15,
        memlevel: 8,
    };
    assert_eq!(p.nginx_state_bytes(), 8192 + 16 + 131_072 + 131_072);
    assert_eq!(p.for_length(None), p);
    assert_eq!(p.for_length(Some(1_000_000)), p);
    // 64 bytes: down to the 512-byte window, the hash at its floor.
    let small = p.for_length(Some(64));
    assert_eq!((small.wbits, small.memlevel), (9, 2));
    // 20,000 bytes fit a 16k window (16384 - 262 < 20000 < 32768 - 262).
    let mid = p.for_length(Some(20_000));
    assert_eq!((mid.wbits, mid.memlevel), (15, 8));
    let mid = p.for_length(Some(10_000));
    assert_eq!((mid.wbits, mid.memlevel), (14, 7));
}

#[test]
fn ratio_is_printed_as_nginx_prints_it() {
    let show = |i, o| {
        let mut v = Vec::new();
        ratio(i, o, &mut v).then(|| String::from_utf8(v).expect("ascii"))
    };
    assert_eq!(show(100, 0), None);
    assert_eq!(show(2125, 1000).as_deref(), Some("2.13"));
    assert_eq!(show(64, 26).as_deref(), Some("2.46"));
    assert_eq!(show(1999, 1000).as_deref(), Some("2.00"));
    assert_eq!(show(10, 20).as_deref(), Some("0.50"));
}
