//! A scripted name server on loopback for the resolver tests: UDP and TCP on the same port.
//!
//! The test's script maps each question (name, type, whether it came over TCP) to a
//! [`Reply`]: records, an error code, a truncated answer, silence, a delay, or a reply with
//! a wrong id followed by the right one. Every question asked is recorded, so a test can
//! prove that an answer came from the cache or that two requests shared one query.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Record type A.
pub const A: u16 = 1;
/// Record type CNAME.
pub const CNAME: u16 = 5;
/// Record type SOA.
pub const SOA: u16 = 6;
/// Record type AAAA.
pub const AAAA: u16 = 28;

/// One resource record.
#[derive(Clone, Debug)]
pub struct Rr {
    owner: String,
    rtype: u16,
    ttl: u32,
    data: Vec<u8>,
}

impl Rr {
    /// `owner A ip`
    pub fn a(owner: &str, ip: &str, ttl: u32) -> Rr {
        let ip: Ipv4Addr = ip.parse().expect("IPv4");
        Rr {
            owner: owner.into(),
            rtype: A,
            ttl,
            data: ip.octets().to_vec(),
        }
    }

    /// `owner AAAA ip`
    pub fn aaaa(owner: &str, ip: &str, ttl: u32) -> Rr {
        let ip: Ipv6Addr = ip.parse().expect("IPv6");
        Rr {
            owner: owner.into(),
            rtype: AAAA,
            ttl,
            data: ip.octets().to_vec(),
        }
    }

    /// `owner CNAME target`
    pub fn cname(owner: &str, target: &str, ttl: u32) -> Rr {
        Rr {
            owner: owner.into(),
            rtype: CNAME,
            ttl,
            data: encode_name(target),
        }
    }

    /// An SOA for the authority section, with this MINIMUM.
    pub fn soa(owner: &str, ttl: u32, minimum: u32) -> Rr {
        let mut data = encode_name("ns.test");
        data.extend_from_slice(&encode_name("admin.test"));
        for n in [1u32, 3600, 600, 86400, minimum] {
            data.extend_from_slice(&n.to_be_bytes());
        }
        Rr {
            owner: owner.into(),
            rtype: SOA,
            ttl,
            data,
        }
    }
}

/// What the server does with one question.
#[derive(Clone, Debug)]
pub enum Reply {
    /// An answer: response code, answer records, authority records.
    Answer(u8, Vec<Rr>, Vec<Rr>),
    /// The answer with the TC bit (and no records): ask again over TCP.
    Truncated,
    /// No answer at all.
    Silence,
    /// The reply, after a while (other questions are answered meanwhile).
    Later(Duration, Box<Reply>),
    /// First the reply with a wrong id, then with the right one.
    WrongIdFirst(Box<Reply>),
}

impl Reply {
    /// NOERROR with these records.
    pub fn records(records: Vec<Rr>) -> Reply {
        Reply::Answer(0, records, Vec::new())
    }

    /// NOERROR and nothing.
    pub fn empty() -> Reply {
        Reply::Answer(0, Vec::new(), Vec::new())
    }

    /// An error code and nothing.
    pub fn error(rcode: u8) -> Reply {
        Reply::Answer(rcode, Vec::new(), Vec::new())
    }
}

/// A question the server got.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Asked {
    /// The name, as asked.
    pub name: String,
    /// Its type.
    pub qtype: u16,
    /// Whether it came over TCP.
    pub tcp: bool,
}

type Script = dyn Fn(&str, u16, bool) -> Reply + Send + Sync;

/// The running server; stops when dropped.
pub struct Dns {
    /// Its port on 127.0.0.1 (UDP and TCP).
    pub port: u16,
    asked: Arc<Mutex<Vec<Asked>>>,
    stop: Arc<AtomicBool>,
}

impl Dns {
    /// Starts serving `script` on a free port of 127.0.0.1.
    pub fn start(script: impl Fn(&str, u16, bool) -> Reply + Send + Sync + 'static) -> Dns {
        Dns::start_on("127.0.0.1", script)
    }

    /// Starts serving `script` on a free port of `ip`.
    pub fn start_on(
        ip: &str,
        script: impl Fn(&str, u16, bool) -> Reply + Send + Sync + 'static,
    ) -> Dns {
        let ip: std::net::IpAddr = ip.parse().expect("ip");
        let (udp, tcp) = bind_pair(ip);
        let port = udp.local_addr().expect("addr").port();
        let script: Arc<Script> = Arc::new(script);
        let asked = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        udp.set_read_timeout(Some(Duration::from_millis(50)))
            .expect("timeout");
        {
            let (script, asked, stop) = (script.clone(), asked.clone(), stop.clone());
            std::thread::spawn(move || serve_udp(udp, &script, &asked, &stop));
        }
        {
            let (script, asked, stop) = (script.clone(), asked.clone(), stop.clone());
            tcp.set_nonblocking(true).expect("nonblocking");
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    match tcp.accept() {
                        Ok((conn, _)) => {
                            let (script, asked) = (script.clone(), asked.clone());
                            std::thread::spawn(move || serve_tcp(conn, &script, &asked));
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(20)),
                    }
                }
            });
        }
        Dns { port, asked, stop }
    }

    /// Every question so far.
    pub fn asked(&self) -> Vec<Asked> {
        self.asked.lock().map(|a| a.clone()).unwrap_or_default()
    }

    /// How many times `name` was asked for `qtype`.
    pub fn count(&self, name: &str, qtype: u16) -> usize {
        self.asked()
            .iter()
            .filter(|a| a.name == name && a.qtype == qtype)
            .count()
    }
}

impl Drop for Dns {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// A UDP socket and a TCP listener on the same loopback port.
fn bind_pair(ip: std::net::IpAddr) -> (UdpSocket, TcpListener) {
    for _ in 0..50 {
        let udp = UdpSocket::bind((ip, 0)).expect("bind udp");
        let port = udp.local_addr().expect("addr").port();
        if let Ok(tcp) = TcpListener::bind((ip, port)) {
            return (udp, tcp);
        }
    }
    panic!("no port free for both UDP and TCP");
}

fn serve_udp(sock: UdpSocket, script: &Arc<Script>, asked: &Mutex<Vec<Asked>>, stop: &AtomicBool) {
    let mut buf = [0u8; 1500];
    while !stop.load(Ordering::SeqCst) {
        let Ok((n, from)) = sock.recv_from(&mut buf) else {
            continue;
        };
        let Some((id, name, qtype, question)) = parse_query(&buf[..n]) else {
            continue;
        };
        if let Ok(mut a) = asked.lock() {
            a.push(Asked {
                name: name.clone(),
                qtype,
                tcp: false,
            });
        }
        let reply = script(&name, qtype, false);
        let Ok(out) = sock.try_clone() else { continue };
        let send = move |msg: Vec<u8>| {
            let _ = out.send_to(&msg, from);
        };
        deliver(reply, id, question, send);
    }
}

fn serve_tcp(mut conn: TcpStream, script: &Arc<Script>, asked: &Mutex<Vec<Asked>>) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(30)));
    loop {
        let mut len = [0u8; 2];
        if conn.read_exact(&mut len).is_err() {
            return;
        }
        let mut msg = vec![0u8; usize::from(u16::from_be_bytes(len))];
        if conn.read_exact(&mut msg).is_err() {
            return;
        }
        let Some((id, name, qtype, question)) = parse_query(&msg) else {
            return;
        };
        if let Ok(mut a) = asked.lock() {
            a.push(Asked {
                name: name.clone(),
                qtype,
                tcp: true,
            });
        }
        let reply = script(&name, qtype, true);
        let Ok(out) = conn.try_clone() else { return };
        let send = move |msg: Vec<u8>| {
            let mut framed = (msg.len() as u16).to_be_bytes().to_vec();
            framed.extend_from_slice(&msg);
            let _ = (&out).write_all(&framed);
        };
        deliver(reply, id, question, send);
    }
}

fn deliver(reply: Reply, id: u16, question: Vec<u8>, send: impl Fn(Vec<u8>) + Send + 'static) {
    match reply {
        Reply::Silence => {}
        Reply::Later(delay, inner) => {
            std::thread::spawn(move || {
                std::thread::sleep(delay);
                deliver(*inner, id, question, send);
            });
        }
        Reply::WrongIdFirst(inner) => {
            if let Some(msg) = encode(&inner, id.wrapping_add(1), &question) {
                send(msg);
            }
            deliver(*inner, id, question, send);
        }
        other => {
            if let Some(msg) = encode(&other, id, &question) {
                send(msg);
            }
        }
    }
}

/// The query's id, name, type, and its question section as sent.
fn parse_query(msg: &[u8]) -> Option<(u16, String, u16, Vec<u8>)> {
    let id = u16::from_be_bytes([*msg.first()?, *msg.get(1)?]);
    let mut pos = 12;
    let mut labels = Vec::new();
    loop {
        let len = usize::from(*msg.get(pos)?);
        if len == 0 {
            break;
        }
        labels.push(String::from_utf8_lossy(msg.get(pos + 1..pos + 1 + len)?).into_owned());
        pos += 1 + len;
    }
    let end = pos + 1 + 4;
    let qtype = u16::from_be_bytes([*msg.get(pos + 1)?, *msg.get(pos + 2)?]);
    Some((id, labels.join("."), qtype, msg.get(12..end)?.to_vec()))
}

fn encode_name(name: &str) -> Vec<u8> {
    let mut v = Vec::new();
    for label in name.split('.').filter(|l| !l.is_empty()) {
        v.push(label.len() as u8);
        v.extend_from_slice(label.as_bytes());
    }
    v.push(0);
    v
}

fn encode(reply: &Reply, id: u16, question: &[u8]) -> Option<Vec<u8>> {
    let (rcode, answers, authority, tc) = match reply {
        Reply::Answer(rcode, answers, authority) => {
            (*rcode, answers.as_slice(), authority.as_slice(), false)
        }
        Reply::Truncated => (0, &[][..], &[][..], true),
        _ => return None,
    };
    let flags: u16 = 0x8180 | u16::from(rcode) | if tc { 0x0200 } else { 0 };
    let mut m = id.to_be_bytes().to_vec();
    m.extend_from_slice(&flags.to_be_bytes());
    m.extend_from_slice(&1u16.to_be_bytes());
    m.extend_from_slice(&(answers.len() as u16).to_be_bytes());
    m.extend_from_slice(&(authority.len() as u16).to_be_bytes());
    m.extend_from_slice(&0u16.to_be_bytes());
    m.extend_from_slice(question);
    for rr in answers.iter().chain(authority) {
        m.extend_from_slice(&encode_name(&rr.owner));
        m.extend_from_slice(&rr.rtype.to_be_bytes());
        m.extend_from_slice(&1u16.to_be_bytes());
        m.extend_from_slice(&rr.ttl.to_be_bytes());
        m.extend_from_slice(&(rr.data.len() as u16).to_be_bytes());
        m.extend_from_slice(&rr.data);
    }
    Some(m)
}
