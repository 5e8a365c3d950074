use super::*;

/// Builds responses the way the test name servers do: header, the question as asked, then
/// records given as raw bytes.
struct Msg(Vec<u8>);

impl Msg {
    fn response(id: u16, flags: u16, qname: &str, qtype: u16, answers: u16) -> Msg {
        let mut m = Vec::new();
        m.extend_from_slice(&id.to_be_bytes());
        m.extend_from_slice(&flags.to_be_bytes());
        m.extend_from_slice(&[0, 1]);
        m.extend_from_slice(&answers.to_be_bytes());
        m.extend_from_slice(&[0, 0, 0, 0]);
        for label in qname.split('.') {
            m.push(label.len() as u8);
            m.extend_from_slice(label.as_bytes());
        }
        m.push(0);
        m.extend_from_slice(&qtype.to_be_bytes());
        m.extend_from_slice(&[0, 1]);
        Msg(m)
    }

    /// A record whose owner is a pointer to `owner_at`.
    fn rr(mut self, owner_at: u16, rtype: u16, ttl: i32, rdata: &[u8]) -> Msg {
        self.0.extend_from_slice(&(0xc000 | owner_at).to_be_bytes());
        self.0.extend_from_slice(&rtype.to_be_bytes());
        self.0.extend_from_slice(&[0, 1]);
        self.0.extend_from_slice(&ttl.to_be_bytes());
        self.0
            .extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        self.0.extend_from_slice(rdata);
        self
    }

    fn authority(mut self, count: u16) -> Msg {
        self.0[8..10].copy_from_slice(&count.to_be_bytes());
        self
    }
}

/// `label` then a pointer: a CNAME target written as nginx's tests write it.
fn name_then_pointer(label: &str, to: u16) -> Vec<u8> {
    let mut v = vec![label.len() as u8];
    v.extend_from_slice(label.as_bytes());
    v.extend_from_slice(&(0xc000 | to).to_be_bytes());
    v
}

fn answer_of(msg: &[u8], qtype: u16) -> Result<Answer, Malformed> {
    let h = Header::read(msg, false)?;
    let mut name = Vec::new();
    let q = read_question(msg, &h, &mut name)?;
    assert_eq!(q.qtype, qtype);
    let mut out = Answer::default();
    read_answer(msg, &h, &q, &name, &mut Scratch::default(), &mut out)?;
    Ok(out)
}

#[test]
fn query_encoding() {
    let mut out = Vec::new();
    encode_query(b"www.example.com", 0xbeef, TYPE_AAAA, &mut out).unwrap();
    let mut want = vec![0xbe, 0xef, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    want.extend_from_slice(b"\x03www\x07example\x03com\x00");
    want.extend_from_slice(&[0, 28, 0, 1]);
    assert_eq!(out, want);
}

#[test]
fn names_that_cannot_be_asked() {
    let mut out = Vec::new();
    let long_label = "a".repeat(64);
    let long_name = vec!["a".repeat(63); 5].join(".");
    for bad in ["", ".", "a..b", ".a", "a.", &long_label, &long_name] {
        assert_eq!(
            encode_query(bad.as_bytes(), 1, TYPE_A, &mut out),
            Err(BadName),
            "{bad}"
        );
    }
    // nginx's test suite resolves a 255-byte name (257 bytes on the wire).
    let longest = vec!["a".repeat(63); 4].join(".");
    assert_eq!(longest.len(), 255);
    out.clear();
    encode_query(longest.as_bytes(), 1, TYPE_A, &mut out).unwrap();
    assert_eq!(out.len(), HEADER_LEN + 257 + 4);
}

#[test]
fn header_checks() {
    let m = Msg::response(7, 0x8183, "x.net", TYPE_A, 0).0;
    let h = Header::read(&m, false).unwrap();
    assert_eq!((h.id, h.rcode(), h.truncated()), (7, 3, false));
    let tc = Msg::response(7, 0x8380, "x.net", TYPE_A, 0).0;
    assert!(Header::read(&tc, false).unwrap().truncated());
    assert_eq!(Header::read(&tc, true), Err(Malformed::Flags(0x8380, true)));
    // A query, not a response; an opcode; the AD bit.
    for flags in [0x0100, 0x8900, 0x81a0] {
        let m = Msg::response(7, flags, "x.net", TYPE_A, 0).0;
        assert!(Header::read(&m, false).is_err(), "{flags:04x}");
    }
    assert_eq!(Header::read(&m[..11], false), Err(Malformed::Short));
    assert_eq!(
        Malformed::Flags(0x0100, false).to_string(),
        "invalid UDP DNS response fl:0100"
    );
}

#[test]
fn question_checks() {
    let m = Msg::response(1, 0x8180, "Mixed.Example.NET", TYPE_A, 0).0;
    let h = Header::read(&m, false).unwrap();
    let mut name = Vec::new();
    let q = read_question(&m, &h, &mut name).unwrap();
    assert_eq!(name, b"mixed.example.net");
    assert_eq!((q.qtype, q.qclass, q.end), (TYPE_A, 1, m.len()));

    let mut two = m.clone();
    two[5] = 2;
    let h2 = Header::read(&two, false).unwrap();
    assert_eq!(
        read_question(&two, &h2, &mut name),
        Err(Malformed::Questions)
    );

    let mut compressed = m[..HEADER_LEN].to_vec();
    compressed.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1]);
    assert_eq!(
        read_question(&compressed, &h, &mut name),
        Err(Malformed::QuestionPointer)
    );
    let mut empty = m[..HEADER_LEN].to_vec();
    empty.extend_from_slice(&[0, 0, 1, 0, 1]);
    assert_eq!(
        read_question(&empty, &h, &mut name),
        Err(Malformed::EmptyQuestion)
    );
    assert_eq!(
        read_question(&m[..m.len() - 2], &h, &mut name),
        Err(Malformed::Short)
    );
}

#[test]
fn hostile_names() {
    let mut out = Vec::new();
    // A pointer to itself, and two pointing at each other.
    let mut m = vec![0u8; HEADER_LEN];
    m.extend_from_slice(&[0xc0, 12]);
    assert_eq!(read_name(&m, 12, &mut out), Err(Malformed::PointerLoop));
    let mut m = vec![0u8; HEADER_LEN];
    m.extend_from_slice(&[1, b'a', 0xc0, 14, 0xc0, 12]);
    assert!(read_name(&m, 12, &mut out).is_err());
    // Out of the message: a pointer, a label, a missing terminator.
    assert_eq!(
        read_name(&[0xc0, 0x40], 0, &mut out),
        Err(Malformed::NameOut)
    );
    assert_eq!(read_name(&[5, b'a'], 0, &mut out), Err(Malformed::NameOut));
    assert_eq!(read_name(&[1, b'a'], 0, &mut out), Err(Malformed::NameOut));
    assert_eq!(read_name(&[0xc0], 0, &mut out), Err(Malformed::NameOut));
    // The reserved label types.
    assert_eq!(
        read_name(&[0x40, 0], 0, &mut out),
        Err(Malformed::LabelType)
    );
    assert_eq!(
        read_name(&[0x80, 0], 0, &mut out),
        Err(Malformed::LabelType)
    );
    // Labels repeated through pointers until the name is too long.
    let mut m = vec![63];
    m.extend_from_slice(&[b'a'; 63]);
    m.extend_from_slice(&[0xc0, 0]);
    assert_eq!(read_name(&m, 0, &mut out), Err(Malformed::NameTooLong));
    // A well-formed compressed name, and where it ends.
    let mut m = b"\x07example\x03net\x00".to_vec();
    m.extend_from_slice(b"\x03WWW\xc0\x00\xff");
    assert_eq!(read_name(&m, 13, &mut out), Ok(19));
    assert_eq!(out, b"www.example.net");
}

#[test]
fn plain_a_answer() {
    let m = Msg::response(1, 0x8180, "a.example.net", TYPE_A, 2)
        .rr(12, TYPE_A, 3600, &[127, 0, 0, 1])
        .rr(12, TYPE_A, 60, &[127, 0, 0, 2])
        .0;
    let a = answer_of(&m, TYPE_A).unwrap();
    assert_eq!(
        a.addrs,
        [
            "127.0.0.1".parse::<IpAddr>().unwrap(),
            "127.0.0.2".parse().unwrap()
        ]
    );
    assert_eq!((a.ttl, a.cname, a.negative_ttl), (60, None, None));
}

#[test]
fn cname_chain_in_one_answer() {
    // cname-a.example.net CNAME alias.example.net; alias.example.net A 127.0.0.1 (the
    // owner of the second record points into the first one's data), as nginx's tests send.
    let m = Msg::response(1, 0x8180, "cname-a.example.net", TYPE_A, 2)
        .rr(12, TYPE_CNAME, 3600, &name_then_pointer("alias", 0x14))
        .rr(0x31, TYPE_A, 1, &[127, 0, 0, 1])
        .0;
    let a = answer_of(&m, TYPE_A).unwrap();
    assert_eq!(a.addrs, ["127.0.0.1".parse::<IpAddr>().unwrap()]);
    assert_eq!(a.cname.as_deref(), Some(&b"alias.example.net"[..]));
    assert_eq!(a.ttl, 1);
}

#[test]
fn cname_only_and_unrelated_addresses() {
    let m = Msg::response(1, 0x8180, "cname.example.net", TYPE_A, 1)
        .rr(12, TYPE_CNAME, 3600, &name_then_pointer("alias", 0x12))
        .0;
    let a = answer_of(&m, TYPE_A).unwrap();
    assert!(a.addrs.is_empty());
    assert_eq!(a.cname.as_deref(), Some(&b"alias.example.net"[..]));
    // An A record for a name the question does not lead to is not an answer.
    let m = Msg::response(1, 0x8180, "x.example.net", TYPE_A, 1)
        .rr(0x0e, TYPE_A, 3600, &[10, 0, 0, 1])
        .0;
    assert!(answer_of(&m, TYPE_A).unwrap().addrs.is_empty());
}

#[test]
fn aaaa_answer_and_type_mismatches() {
    let v6 = "fe80::1".parse::<std::net::Ipv6Addr>().unwrap().octets();
    let m = Msg::response(1, 0x8180, "aaaa.example.net", TYPE_AAAA, 1)
        .rr(12, TYPE_AAAA, 5, &v6)
        .0;
    assert_eq!(
        answer_of(&m, TYPE_AAAA).unwrap().addrs,
        ["fe80::1".parse::<IpAddr>().unwrap()]
    );
    let m = Msg::response(1, 0x8180, "x.net", TYPE_AAAA, 1)
        .rr(12, TYPE_A, 5, &[1, 2, 3, 4])
        .0;
    assert_eq!(
        answer_of(&m, TYPE_AAAA),
        Err(Malformed::UnexpectedType(TYPE_A))
    );
    let m = Msg::response(1, 0x8180, "x.net", TYPE_A, 1)
        .rr(12, TYPE_A, 5, &[1, 2, 3])
        .0;
    assert_eq!(answer_of(&m, TYPE_A), Err(Malformed::BadAddress(TYPE_A)));
    assert_eq!(
        Malformed::BadAddress(TYPE_A).to_string(),
        "invalid A record in DNS response"
    );
}

#[test]
fn records_that_break_the_answer() {
    // Zero-length data announced but the record cut short (nginx's "short" test).
    let mut m = Msg::response(1, 0x8180, "short.example.net", TYPE_A, 1).0;
    m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0x0e, 0x10]);
    assert_eq!(answer_of(&m, TYPE_A), Err(Malformed::Short));
    // Class CH.
    let mut m = Msg::response(1, 0x8180, "x.net", TYPE_A, 1)
        .rr(12, TYPE_A, 5, &[1, 2, 3, 4])
        .0;
    let class_at = m.len() - 4 - 2 - 4 - 2;
    m[class_at + 1] = 3;
    assert_eq!(answer_of(&m, TYPE_A), Err(Malformed::Class(3)));
    // A CNAME whose target does not fit its data, or is empty.
    let m = Msg::response(1, 0x8180, "x.net", TYPE_A, 1)
        .rr(12, TYPE_CNAME, 5, &[])
        .0;
    assert!(answer_of(&m, TYPE_A).is_err());
    let m = Msg::response(1, 0x8180, "x.net", TYPE_A, 1)
        .rr(12, TYPE_CNAME, 5, &[0])
        .0;
    assert_eq!(answer_of(&m, TYPE_A), Err(Malformed::BadCname));
}

#[test]
fn unknown_types_dname_and_negative_ttls() {
    let m = Msg::response(1, 0x8180, "x.net", TYPE_A, 2)
        .rr(12, TYPE_DNAME, 60, b"\x01y\x00")
        .rr(12, TYPE_A, -5, &[1, 2, 3, 4])
        .0;
    let a = answer_of(&m, TYPE_A).unwrap();
    assert_eq!(a.addrs.len(), 1);
    assert_eq!(a.ttl, 0);
}

#[test]
fn soa_gives_the_negative_ttl() {
    let mut soa = b"\x02ns\xc0\x0c\x04host\xc0\x0c".to_vec();
    for n in [1u32, 7200, 900, 1_209_600, 300] {
        soa.extend_from_slice(&n.to_be_bytes());
    }
    let m = Msg::response(1, 0x8183, "nx.net", TYPE_A, 0)
        .authority(1)
        .rr(12, TYPE_SOA, 600, &soa)
        .0;
    assert_eq!(answer_of(&m, TYPE_A).unwrap().negative_ttl, Some(300));
    let m = Msg::response(1, 0x8180, "nx.net", TYPE_A, 0)
        .authority(1)
        .rr(12, TYPE_SOA, 60, &soa)
        .0;
    assert_eq!(answer_of(&m, TYPE_A).unwrap().negative_ttl, Some(60));
    // Without an SOA, or with a broken one: nothing to cache.
    let m = Msg::response(1, 0x8180, "nx.net", TYPE_A, 0).authority(1).0;
    assert_eq!(answer_of(&m, TYPE_A).unwrap().negative_ttl, None);
}

#[test]
fn every_prefix_of_a_good_response_is_refused_or_read() {
    let v6 = "fe80::2".parse::<std::net::Ipv6Addr>().unwrap().octets();
    let m = Msg::response(9, 0x8180, "cn.example.net", TYPE_AAAA, 2)
        .rr(12, TYPE_CNAME, 3600, &name_then_pointer("alias", 0x0f))
        .rr(0x2c, TYPE_AAAA, 3600, &v6)
        .0;
    assert_eq!(answer_of(&m, TYPE_AAAA).unwrap().addrs.len(), 1);
    for n in 0..m.len() {
        assert!(answer_of(&m[..n], TYPE_AAAA).is_err(), "prefix {n}");
        fuzz_one(&m[..n]);
    }
}

#[test]
fn random_bytes_never_panic() {
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let base = Msg::response(1, 0x8180, "a.example.net", TYPE_A, 2)
        .rr(12, TYPE_CNAME, 3600, &name_then_pointer("b", 0x0e))
        .rr(0x2b, TYPE_A, 3600, &[127, 0, 0, 1])
        .0;
    for _ in 0..20_000 {
        let mut m = base.clone();
        for _ in 0..(next() % 6) {
            let at = (next() as usize) % m.len();
            m[at] = next() as u8;
        }
        m.truncate(HEADER_LEN + (next() as usize) % (m.len() - HEADER_LEN + 1));
        fuzz_one(&m);
    }
}

#[test]
fn a_long_chain_in_one_answer_is_cut() {
    // n0 -> n1 -> ... -> n99 -> A, all written out uncompressed.
    let mut m = Msg::response(1, 0x8180, "n0", TYPE_A, 101).0;
    let rr = |m: &mut Vec<u8>, owner: &str, rtype: u16, data: &[u8]| {
        m.push(owner.len() as u8);
        m.extend_from_slice(owner.as_bytes());
        m.push(0);
        m.extend_from_slice(&rtype.to_be_bytes());
        m.extend_from_slice(&[0, 1, 0, 0, 0, 60]);
        m.extend_from_slice(&(data.len() as u16).to_be_bytes());
        m.extend_from_slice(data);
    };
    for i in 0..100 {
        let next = format!("n{}", i + 1);
        let mut target = vec![next.len() as u8];
        target.extend_from_slice(next.as_bytes());
        target.push(0);
        rr(&mut m, &format!("n{i}"), TYPE_CNAME, &target);
    }
    rr(&mut m, "n100", TYPE_A, &[10, 0, 0, 1]);
    let a = answer_of(&m, TYPE_A).unwrap();
    assert!(a.addrs.is_empty());
    assert_eq!(a.cname.as_deref(), Some(&b"n64"[..]));
}

#[test]
fn a_cname_loop_in_one_answer_ends() {
    let m = Msg::response(1, 0x8180, "x.net", TYPE_A, 2)
        .rr(12, TYPE_CNAME, 60, &name_then_pointer("y", 0x0e))
        .0;
    let mut m = m;
    // y.net CNAME x.net (owner: the first record's data; target: the question's name).
    let owner_at = (m.len() - 4) as u16;
    m.extend_from_slice(&(0xc000 | owner_at).to_be_bytes());
    m.extend_from_slice(&[0, 5, 0, 1, 0, 0, 0, 60, 0, 2, 0xc0, 12]);
    let a = answer_of(&m, TYPE_A).unwrap();
    assert!(a.addrs.is_empty());
    assert_eq!(a.cname.as_deref(), Some(&b"y.net"[..]));
}
