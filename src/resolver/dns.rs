//! The DNS wire format, as far as a stub resolver of A and AAAA names needs it: a query's
//! encoding, and a response's header, question and records read with every length checked.
//!
//! Pure and allocation-aware: names are decoded into the caller's buffers (lowercased, as
//! nginx keeps them), a malformed message is an [`Malformed`] error worded as nginx logs it,
//! never a panic. Compression pointers may point anywhere in the message (as nginx allows)
//! but a name follows at most [`MAX_POINTERS`] of them and decodes to at most
//! [`MAX_NAME_LEN`] bytes, so a hostile message cannot loop or grow a name without bound.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Record type A.
pub const TYPE_A: u16 = 1;
/// Record type CNAME.
pub const TYPE_CNAME: u16 = 5;
/// Record type SOA.
pub const TYPE_SOA: u16 = 6;
/// Record type AAAA.
pub const TYPE_AAAA: u16 = 28;
/// Record type DNAME (skipped: its CNAME comes with it).
pub const TYPE_DNAME: u16 = 39;
/// Class IN.
pub const CLASS_IN: u16 = 1;

/// Response code: format error.
pub const RCODE_FORMERR: u8 = 1;
/// Response code: name error (the name does not exist).
pub const RCODE_NXDOMAIN: u8 = 3;
/// Response code: refused, the highest nginx knows.
pub const RCODE_REFUSED: u8 = 5;

/// Size of the fixed header.
pub const HEADER_LEN: usize = 12;
/// Longest name in text form (`a.b.c`, no final dot). RFC 1035 allows 255 bytes on the
/// wire; nginx accepts 255 in text (its test suite resolves such a name), so does Portico.
pub const MAX_NAME_LEN: usize = 255;
/// Longest label.
pub const MAX_LABEL_LEN: usize = 63;
/// Compression pointers a name may follow (nginx's limit: enough for any 255-byte name).
pub const MAX_POINTERS: usize = 128;

/// Header flags of a query: a standard query asking for recursion (RD).
const QUERY_FLAGS: u16 = 0x0100;
/// Flags that must read 0x8000 in an answer to a standard query: QR set; opcode, Z, AD and CD
/// clear (nginx's `(flags & 0xf870) != 0x8000` check).
const RESPONSE_FLAGS_MASK: u16 = 0xf870;
/// The truncation bit.
const FLAG_TC: u16 = 0x0200;
/// Fixed part of a resource record after its owner name: type, class, TTL, RDLENGTH.
const RR_FIXED_LEN: usize = 10;
/// Fixed part of a question after its name: type and class.
const QUESTION_FIXED_LEN: usize = 4;

/// Why a message was not taken. The text is nginx's log line for the same fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Malformed {
    /// The message ends before what its counts promise.
    Short,
    /// A label type other than a length or a pointer.
    LabelType,
    /// A name or pointer outside the message.
    NameOut,
    /// More than [`MAX_POINTERS`] pointers in one name.
    PointerLoop,
    /// A name longer than [`MAX_NAME_LEN`].
    NameTooLong,
    /// Not exactly one question.
    Questions,
    /// A compressed question name (a response repeats the query's name as sent).
    QuestionPointer,
    /// An empty question name.
    EmptyQuestion,
    /// A record class other than IN.
    Class(u16),
    /// An A record in an AAAA answer, or the reverse.
    UnexpectedType(u16),
    /// An A or AAAA record of the wrong length.
    BadAddress(u16),
    /// A CNAME whose target does not fit its record.
    BadCname,
    /// Not a response to a standard query (`flags`), or a truncated one over TCP.
    Flags(u16, bool),
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let type_name = |t: &u16| if *t == TYPE_A { "A" } else { "AAAA" };
        match self {
            Malformed::Short => f.write_str("short DNS response"),
            Malformed::LabelType => f.write_str("invalid label type in DNS response"),
            Malformed::NameOut => f.write_str("name is out of DNS response"),
            Malformed::PointerLoop => f.write_str("compression pointers loop in DNS response"),
            Malformed::NameTooLong => f.write_str("too long name in DNS response"),
            Malformed::Questions => f.write_str("invalid number of questions in DNS response"),
            Malformed::QuestionPointer => {
                f.write_str("unexpected compression pointer in DNS response")
            }
            Malformed::EmptyQuestion => f.write_str("zero-length domain name in DNS response"),
            Malformed::Class(c) => write!(f, "unexpected RR class {c} in DNS response"),
            Malformed::UnexpectedType(t) => {
                write!(f, "unexpected {} record in DNS response", type_name(t))
            }
            Malformed::BadAddress(t) => {
                write!(f, "invalid {} record in DNS response", type_name(t))
            }
            Malformed::BadCname => f.write_str("invalid CNAME record in DNS response"),
            Malformed::Flags(flags, tcp) => {
                let how = if *tcp { "TCP" } else { "UDP" };
                write!(f, "invalid {how} DNS response fl:{flags:04X}")
            }
        }
    }
}

/// Why a name cannot be asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadName;

/// Appends the query for `name` (text form, no final dot) to `out`.
pub fn encode_query(name: &[u8], id: u16, qtype: u16, out: &mut Vec<u8>) -> Result<(), BadName> {
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return Err(BadName);
    }
    if name
        .split(|&b| b == b'.')
        .any(|label| label.is_empty() || label.len() > MAX_LABEL_LEN)
    {
        return Err(BadName);
    }
    out.reserve(HEADER_LEN + name.len() + 2 + QUESTION_FIXED_LEN);
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&QUERY_FLAGS.to_be_bytes());
    out.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.split(|&b| b == b'.') {
        // Checked above: 1..=63.
        out.push(label.len() as u8);
        out.extend_from_slice(label);
    }
    out.push(0);
    out.extend_from_slice(&qtype.to_be_bytes());
    out.extend_from_slice(&CLASS_IN.to_be_bytes());
    Ok(())
}

/// A message's fixed header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// The query id it answers.
    pub id: u16,
    /// The flags word.
    pub flags: u16,
    /// Questions.
    pub questions: u16,
    /// Answer records.
    pub answers: u16,
    /// Authority records.
    pub authority: u16,
}

impl Header {
    /// Reads the header and checks that the message answers a standard query; `tcp`: it
    /// came over TCP, where truncation is not allowed.
    pub fn read(msg: &[u8], tcp: bool) -> Result<Header, Malformed> {
        let h = Header {
            id: be16(msg, 0)?,
            flags: be16(msg, 2)?,
            questions: be16(msg, 4)?,
            answers: be16(msg, 6)?,
            authority: be16(msg, 8)?,
        };
        be16(msg, 10)?;
        if h.flags & RESPONSE_FLAGS_MASK != 0x8000 || (h.truncated() && tcp) {
            return Err(Malformed::Flags(h.flags, tcp));
        }
        Ok(h)
    }

    /// The response code (0 = no error).
    pub fn rcode(&self) -> u8 {
        (self.flags & 0xf) as u8
    }

    /// Whether the answer did not fit (TC): ask again over TCP.
    pub fn truncated(&self) -> bool {
        self.flags & FLAG_TC != 0
    }
}

/// The one question a response repeats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Question {
    /// Its type.
    pub qtype: u16,
    /// Its class.
    pub qclass: u16,
    /// Where the answer section starts.
    pub end: usize,
}

/// Reads the question into `name` (lowercased), with nginx's checks: exactly one question,
/// its name uncompressed and not empty.
pub fn read_question(msg: &[u8], h: &Header, name: &mut Vec<u8>) -> Result<Question, Malformed> {
    if h.questions != 1 {
        return Err(Malformed::Questions);
    }
    let mut pos = HEADER_LEN;
    loop {
        let len = *msg.get(pos).ok_or(Malformed::Short)?;
        if len & 0xc0 != 0 {
            return Err(Malformed::QuestionPointer);
        }
        if len == 0 {
            break;
        }
        pos += 1 + usize::from(len);
    }
    if pos == HEADER_LEN {
        return Err(Malformed::EmptyQuestion);
    }
    let end = read_name(msg, HEADER_LEN, name)?;
    Ok(Question {
        qtype: be16(msg, end)?,
        qclass: be16(msg, end + 2)?,
        end: end + QUESTION_FIXED_LEN,
    })
}

/// Decodes the name at `pos` into `out` (replacing its contents; labels joined by `.`,
/// lowercased); returns where the name ends in the message (after its first pointer).
pub fn read_name(msg: &[u8], mut pos: usize, out: &mut Vec<u8>) -> Result<usize, Malformed> {
    out.clear();
    let mut end = None;
    let mut pointers = 0;
    loop {
        let len = *msg.get(pos).ok_or(Malformed::NameOut)?;
        match len & 0xc0 {
            0 if len == 0 => return Ok(end.unwrap_or(pos + 1)),
            0 => {
                let label = msg
                    .get(pos + 1..pos + 1 + usize::from(len))
                    .ok_or(Malformed::NameOut)?;
                let extra = usize::from(!out.is_empty());
                if out.len() + extra + label.len() > MAX_NAME_LEN {
                    return Err(Malformed::NameTooLong);
                }
                if extra == 1 {
                    out.push(b'.');
                }
                out.extend(label.iter().map(u8::to_ascii_lowercase));
                pos += 1 + label.len();
            }
            0xc0 => {
                let low = *msg.get(pos + 1).ok_or(Malformed::NameOut)?;
                pointers += 1;
                if pointers > MAX_POINTERS {
                    return Err(Malformed::PointerLoop);
                }
                end.get_or_insert(pos + 2);
                pos = usize::from(len & 0x3f) << 8 | usize::from(low);
            }
            _ => return Err(Malformed::LabelType),
        }
    }
}

/// One resource record: its owner is in the caller's buffer; its data is `msg[rdata]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// Type.
    pub rtype: u16,
    /// Class.
    pub class: u16,
    /// TTL in seconds (a negative one reads 0, as nginx reads it).
    pub ttl: u32,
    /// Where its data lies in the message.
    pub rdata: std::ops::Range<usize>,
    /// Where the next record starts.
    pub end: usize,
}

/// Reads the record at `pos`, its owner name into `owner`.
pub fn read_record(msg: &[u8], pos: usize, owner: &mut Vec<u8>) -> Result<Record, Malformed> {
    let fixed = read_name(msg, pos, owner)?;
    let rtype = be16(msg, fixed)?;
    let class = be16(msg, fixed + 2)?;
    let ttl = i32::from_be_bytes([
        byte(msg, fixed + 4)?,
        byte(msg, fixed + 5)?,
        byte(msg, fixed + 6)?,
        byte(msg, fixed + 7)?,
    ]);
    let len = usize::from(be16(msg, fixed + 8)?);
    let start = fixed + RR_FIXED_LEN;
    let end = start + len;
    if end > msg.len() {
        return Err(Malformed::Short);
    }
    Ok(Record {
        rtype,
        class,
        ttl: ttl.max(0) as u32,
        rdata: start..end,
        end,
    })
}

/// What an A or AAAA response says about the name asked for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Answer {
    /// Addresses of the asked type, of the name or of a name its CNAME chain leads to.
    pub addrs: Vec<IpAddr>,
    /// Where the CNAME chain ends, when it leads elsewhere (lowercased).
    pub cname: Option<Vec<u8>>,
    /// The smallest TTL of the answer records (`u32::MAX` without any).
    pub ttl: u32,
    /// For an answer without addresses: how long the absence may be cached (the SOA's
    /// TTL and MINIMUM, RFC 2308); `None` without an SOA.
    pub negative_ttl: Option<u32>,
}

/// Buffers [`read_answer`] reuses from one response to the next: the names of the answer
/// records, laid end to end, and where each record's parts are.
#[derive(Default)]
pub struct Scratch {
    names: Vec<u8>,
    name: Vec<u8>,
    records: Vec<Kept>,
    chain: Vec<std::ops::Range<usize>>,
}

/// An answer record worth keeping: its owner (in `Scratch::names`), type, data, and for a
/// CNAME its target (in `Scratch::names`).
struct Kept {
    owner: std::ops::Range<usize>,
    rtype: u16,
    rdata: std::ops::Range<usize>,
    target: std::ops::Range<usize>,
}

/// Longest CNAME chain followed inside one answer (the resolver follows at most 50 in all).
const MAX_CHAIN: usize = 64;

/// Reads the answer (and, when it holds no address, the authority) section of a response
/// to `qname`/`qtype` into `out`. Addresses count when their owner is `qname` or a name
/// that `qname`'s CNAME chain in this answer reaches (as glibc checks); DNAME and unknown
/// types are skipped.
pub fn read_answer(
    msg: &[u8],
    h: &Header,
    q: &Question,
    qname: &[u8],
    scratch: &mut Scratch,
    out: &mut Answer,
) -> Result<(), Malformed> {
    out.addrs.clear();
    out.cname = None;
    out.ttl = u32::MAX;
    out.negative_ttl = None;
    let Scratch {
        names,
        name,
        records,
        chain,
    } = scratch;
    names.clear();
    records.clear();
    chain.clear();
    let mut pos = q.end;
    for _ in 0..h.answers {
        let r = read_record(msg, pos, name)?;
        pos = r.end;
        if r.class != CLASS_IN {
            return Err(Malformed::Class(r.class));
        }
        out.ttl = out.ttl.min(r.ttl);
        match r.rtype {
            TYPE_A | TYPE_AAAA if r.rtype != q.qtype => {
                return Err(Malformed::UnexpectedType(r.rtype));
            }
            TYPE_A if r.rdata.len() != 4 => return Err(Malformed::BadAddress(TYPE_A)),
            TYPE_AAAA if r.rdata.len() != 16 => return Err(Malformed::BadAddress(TYPE_AAAA)),
            TYPE_A | TYPE_AAAA | TYPE_CNAME => {}
            _ => continue,
        }
        let owner = push_name(names, name);
        let target = if r.rtype == TYPE_CNAME {
            let end = read_name(msg, r.rdata.start, name)?;
            if end > r.rdata.end || name.is_empty() {
                return Err(Malformed::BadCname);
            }
            push_name(names, name)
        } else {
            0..0
        };
        records.push(Kept {
            owner,
            rtype: r.rtype,
            rdata: r.rdata,
            target,
        });
    }
    // The chain from the question: each link is a CNAME owned by the previous name.
    let mut current: &[u8] = qname;
    while chain.len() < MAX_CHAIN {
        let next = records
            .iter()
            .find(|k| k.rtype == TYPE_CNAME && names.get(k.owner.clone()) == Some(current));
        let Some(k) = next else { break };
        let target = names.get(k.target.clone()).unwrap_or_default();
        if target == qname || chain.iter().any(|c| names.get(c.clone()) == Some(target)) {
            break;
        }
        chain.push(k.target.clone());
        current = target;
    }
    let in_chain =
        |owner: &[u8]| owner == qname || chain.iter().any(|c| names.get(c.clone()) == Some(owner));
    for k in records.iter() {
        if k.rtype != q.qtype || !in_chain(names.get(k.owner.clone()).unwrap_or_default()) {
            continue;
        }
        let data = msg.get(k.rdata.clone()).ok_or(Malformed::Short)?;
        out.addrs.push(match data {
            [a, b, c, d] => IpAddr::V4(Ipv4Addr::new(*a, *b, *c, *d)),
            _ => match <[u8; 16]>::try_from(data) {
                Ok(bytes) => IpAddr::V6(Ipv6Addr::from(bytes)),
                Err(_) => return Err(Malformed::BadAddress(k.rtype)),
            },
        });
    }
    out.cname = chain
        .last()
        .and_then(|c| names.get(c.clone()))
        .map(<[u8]>::to_vec);
    if out.addrs.is_empty() {
        out.negative_ttl = negative_ttl(msg, h, pos, name);
    }
    Ok(())
}

/// Appends `name` to `names`; returns where it lies.
fn push_name(names: &mut Vec<u8>, name: &[u8]) -> std::ops::Range<usize> {
    let start = names.len();
    names.extend_from_slice(name);
    start..names.len()
}

/// The SOA in the authority section that starts at `pos`: min(its TTL, its MINIMUM).
/// A malformed authority section just means "no SOA": the answer itself was fine.
fn negative_ttl(msg: &[u8], h: &Header, mut pos: usize, scratch: &mut Vec<u8>) -> Option<u32> {
    for _ in 0..h.authority {
        let r = read_record(msg, pos, scratch).ok()?;
        // Two names (at least a byte each) and five 32-bit numbers, MINIMUM last.
        if r.rtype == TYPE_SOA && r.class == CLASS_IN && r.rdata.len() >= 22 {
            let m = r.rdata.end - 4;
            let minimum = u32::from_be_bytes([
                byte(msg, m).ok()?,
                byte(msg, m + 1).ok()?,
                byte(msg, m + 2).ok()?,
                byte(msg, m + 3).ok()?,
            ]);
            return Some(r.ttl.min(minimum));
        }
        pos = r.end;
    }
    None
}

fn byte(msg: &[u8], at: usize) -> Result<u8, Malformed> {
    msg.get(at).copied().ok_or(Malformed::Short)
}

fn be16(msg: &[u8], at: usize) -> Result<u16, Malformed> {
    Ok(u16::from_be_bytes([byte(msg, at)?, byte(msg, at + 1)?]))
}

/// Everything a response's reader does, for the fuzz target: it must never panic, and what
/// it returns must hold together.
pub fn fuzz_one(msg: &[u8]) {
    for tcp in [false, true] {
        let Ok(h) = Header::read(msg, tcp) else {
            continue;
        };
        let mut name = Vec::new();
        let Ok(q) = read_question(msg, &h, &mut name) else {
            continue;
        };
        assert!(name.len() <= MAX_NAME_LEN);
        let mut scratch = Scratch::default();
        let mut answer = Answer::default();
        for qtype in [TYPE_A, TYPE_AAAA] {
            let q = Question { qtype, ..q };
            if read_answer(msg, &h, &q, &name, &mut scratch, &mut answer).is_ok() {
                assert!(
                    answer
                        .addrs
                        .iter()
                        .all(|a| a.is_ipv4() == (qtype == TYPE_A))
                );
                if let Some(c) = &answer.cname {
                    assert!(!c.is_empty() && c.len() <= MAX_NAME_LEN);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
