//! Kernel TLS (issue 15 point 4): after rustls's handshake, the traffic keys go to the
//! kernel (`setsockopt(TCP_ULP, "tls")`, then `SOL_TLS`/`TLS_TX` and `TLS_RX` with the
//! `tls12_crypto_info_*` of `linux/tls.h`), so the connection reads and writes plaintext
//! on the socket and `sendfile(2)` works under TLS.
//!
//! Covered: TLS 1.2 and TLS 1.3 with AES-128-GCM, AES-256-GCM and ChaCha20-Poly1305 (the
//! kernel's own support decides: a `setsockopt` it refuses leaves the connection on
//! rustls). The switch needs the whole session in the kernel — rustls hands its secrets out
//! by consuming the session — so it happens only when rustls holds nothing: no plaintext
//! read ahead, no records to send. Once switched, a record that is not application data
//! (an alert, a TLS 1.3 KeyUpdate, a renegotiation attempt) makes the kernel's `recv` fail
//! and the connection closes, as nginx with OpenSSL's kTLS does on a KeyUpdate.
//!
//! A kernel without the `tls` module answers `TCP_ULP` with `ENOENT`: the worker remembers
//! it and never asks again; connections stay on rustls (reading and encrypting the file).

use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, Ordering};

use rustls::ConnectionTrafficSecrets;
use rustls::ProtocolVersion;

/// The kernel answered `TCP_ULP` with "no such module": kTLS is not asked for again.
static UNAVAILABLE: AtomicBool = AtomicBool::new(false);

/// The `crypto_info` one direction of a connection gives the kernel (`linux/tls.h`).
pub enum CryptoInfo {
    /// `TLS_CIPHER_AES_GCM_128`
    Aes128Gcm(libc::tls12_crypto_info_aes_gcm_128),
    /// `TLS_CIPHER_AES_GCM_256`
    Aes256Gcm(libc::tls12_crypto_info_aes_gcm_256),
    /// `TLS_CIPHER_CHACHA20_POLY1305`
    Chacha20Poly1305(libc::tls12_crypto_info_chacha20_poly1305),
}

/// Copies `src` into `dst` when the lengths agree.
fn fill(dst: &mut [u8], src: &[u8]) -> Option<()> {
    (dst.len() == src.len()).then(|| dst.copy_from_slice(src))
}

/// The 8 bytes after the salt that the kernel takes as `iv` for an AES-GCM session.
fn gcm_explicit(version: u16, nonce: &[u8], seq: u64) -> Option<[u8; 8]> {
    let iv: [u8; 8] = nonce.get(4..)?.try_into().ok()?;
    Some(if version == libc::TLS_1_2_VERSION {
        tls12_explicit_nonce(iv, seq)
    } else {
        iv
    })
}

/// TLS 1.2 AES-GCM: the first explicit nonce the kernel is to send after `seq` records
/// went out from rustls. rustls makes record `k`'s explicit nonce `iv XOR k`; the kernel
/// sends its `iv` as the first one and adds 1 per record (`tls_advance_record_sn`), so
/// handing it rustls's `iv` would reuse the nonce of record 0 (the Finished) and the next
/// ones under the same key — GCM's one fatal misuse. rustls's nonces all lie in the
/// aligned block of 2^L values around `iv` (L: the bits of `seq`, as `k < seq < 2^L`); the
/// kernel starts just past it and would need 2^64 - 2^L records to come back. (The receive
/// side reads the explicit nonce from each record: this value is not used there.)
pub fn tls12_explicit_nonce(iv: [u8; 8], seq: u64) -> [u8; 8] {
    let bits = 64 - seq.leading_zeros();
    let block = u64::from_be_bytes(iv).checked_shr(bits).unwrap_or(0);
    let start = (u128::from(block) + 1) << bits;
    (start as u64).to_be_bytes()
}

impl CryptoInfo {
    /// The kernel's form of one direction's secrets at record sequence `seq`. The AEAD
    /// nonce rustls keeps as one 12-byte IV is, for the GCM ciphers, the kernel's 4-byte
    /// `salt` then 8-byte `iv` (in TLS 1.3 the static IV split that way; in TLS 1.2 the
    /// implicit salt, then the first explicit nonce the kernel sends: see
    /// [`tls12_explicit_nonce`]); ChaCha20-Poly1305 takes all 12 as `iv`. `None`: a
    /// protocol the kernel has no form for.
    pub fn new(
        version: ProtocolVersion,
        seq: u64,
        secrets: &ConnectionTrafficSecrets,
    ) -> Option<CryptoInfo> {
        let version = match version {
            ProtocolVersion::TLSv1_2 => libc::TLS_1_2_VERSION,
            ProtocolVersion::TLSv1_3 => libc::TLS_1_3_VERSION,
            _ => return None,
        };
        let rec_seq = seq.to_be_bytes();
        Some(match secrets {
            ConnectionTrafficSecrets::Aes128Gcm { key, iv } => {
                let mut c = libc::tls12_crypto_info_aes_gcm_128 {
                    info: libc::tls_crypto_info {
                        version,
                        cipher_type: libc::TLS_CIPHER_AES_GCM_128,
                    },
                    iv: [0; 8],
                    key: [0; 16],
                    salt: [0; 4],
                    rec_seq,
                };
                let nonce = iv.as_ref();
                fill(&mut c.key, key.as_ref())?;
                fill(&mut c.salt, nonce.get(..4)?)?;
                c.iv = gcm_explicit(version, nonce, seq)?;
                CryptoInfo::Aes128Gcm(c)
            }
            ConnectionTrafficSecrets::Aes256Gcm { key, iv } => {
                let mut c = libc::tls12_crypto_info_aes_gcm_256 {
                    info: libc::tls_crypto_info {
                        version,
                        cipher_type: libc::TLS_CIPHER_AES_GCM_256,
                    },
                    iv: [0; 8],
                    key: [0; 32],
                    salt: [0; 4],
                    rec_seq,
                };
                let nonce = iv.as_ref();
                fill(&mut c.key, key.as_ref())?;
                fill(&mut c.salt, nonce.get(..4)?)?;
                c.iv = gcm_explicit(version, nonce, seq)?;
                CryptoInfo::Aes256Gcm(c)
            }
            ConnectionTrafficSecrets::Chacha20Poly1305 { key, iv } => {
                let mut c = libc::tls12_crypto_info_chacha20_poly1305 {
                    info: libc::tls_crypto_info {
                        version,
                        cipher_type: libc::TLS_CIPHER_CHACHA20_POLY1305,
                    },
                    iv: [0; 12],
                    key: [0; 32],
                    salt: [0; 0],
                    rec_seq,
                };
                fill(&mut c.key, key.as_ref())?;
                fill(&mut c.iv, iv.as_ref())?;
                CryptoInfo::Chacha20Poly1305(c)
            }
            _ => return None,
        })
    }

    /// The structure's address and size, for `setsockopt`.
    fn raw(&self) -> (*const libc::c_void, libc::socklen_t) {
        fn of<T>(v: &T) -> (*const libc::c_void, libc::socklen_t) {
            let size = libc::socklen_t::try_from(std::mem::size_of::<T>()).unwrap_or(0);
            ((v as *const T).cast(), size)
        }
        match self {
            CryptoInfo::Aes128Gcm(c) => of(c),
            CryptoInfo::Aes256Gcm(c) => of(c),
            CryptoInfo::Chacha20Poly1305(c) => of(c),
        }
    }
}

/// What asking the kernel for TLS came to.
#[derive(Debug, PartialEq, Eq)]
pub enum Ulp {
    /// The socket has the `tls` upper layer: the keys may go in.
    Attached,
    /// The kernel has no kTLS (asked once per worker): stay on rustls.
    Unavailable,
}

/// Attaches the kernel's `tls` upper-layer protocol to the TCP socket `fd` (nothing is
/// encrypted until keys are set). A kernel without it makes this answer `Unavailable`
/// from then on without asking.
pub fn attach(fd: RawFd) -> Ulp {
    if UNAVAILABLE.load(Ordering::Relaxed) {
        return Ulp::Unavailable;
    }
    const NAME: &[u8] = b"tls";
    // SAFETY: `NAME` is valid for its length; the kernel only reads it.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_TCP,
            libc::TCP_ULP,
            NAME.as_ptr().cast(),
            NAME.len() as libc::socklen_t,
        )
    };
    if rc == 0 {
        return Ulp::Attached;
    }
    if matches!(
        io::Error::last_os_error().raw_os_error(),
        Some(libc::ENOENT | libc::ENOPROTOOPT | libc::EOPNOTSUPP)
    ) {
        UNAVAILABLE.store(true, Ordering::Relaxed);
    }
    Ulp::Unavailable
}

/// Whether an earlier [`attach`] found the kernel without kTLS.
pub fn known_unavailable() -> bool {
    UNAVAILABLE.load(Ordering::Relaxed)
}

/// Gives the kernel one direction's keys (`TLS_TX` or `TLS_RX`) on a socket [`attach`]ed.
pub fn set_keys(fd: RawFd, direction: libc::c_int, info: &CryptoInfo) -> io::Result<()> {
    let (ptr, len) = info.raw();
    // SAFETY: `ptr` points to a live `repr(C)` structure of `len` bytes, only read.
    let rc = unsafe { libc::setsockopt(fd, libc::SOL_TLS, direction, ptr, len) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Moves an established session into the kernel: its secrets, both directions. `Err`:
/// the socket is half set up or the secrets are gone — the connection must close.
pub fn offload(conn: rustls::ServerConnection, fd: RawFd) -> Result<(), String> {
    let Some(version) = conn.protocol_version() else {
        return Err("kTLS: no protocol negotiated".into());
    };
    let secrets = conn
        .dangerous_extract_secrets()
        .map_err(|e| format!("kTLS: secrets not extracted ({e})"))?;
    let (tx_seq, tx) = &secrets.tx;
    let (rx_seq, rx) = &secrets.rx;
    let tx = CryptoInfo::new(version, *tx_seq, tx).ok_or("kTLS: cipher not supported")?;
    let rx = CryptoInfo::new(version, *rx_seq, rx).ok_or("kTLS: cipher not supported")?;
    set_keys(fd, libc::TLS_TX, &tx)
        .and_then(|()| set_keys(fd, libc::TLS_RX, &rx))
        .map_err(|e| {
            format!(
                "setsockopt(SOL_TLS) failed ({})",
                crate::sys::errno_text(&e)
            )
        })
}

/// Whether rustls's `suite` has a kernel form (AES-GCM, ChaCha20-Poly1305).
pub fn suite_supported(suite: rustls::CipherSuite) -> bool {
    use rustls::CipherSuite as C;
    matches!(
        suite,
        C::TLS13_AES_128_GCM_SHA256
            | C::TLS13_AES_256_GCM_SHA384
            | C::TLS13_CHACHA20_POLY1305_SHA256
            | C::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
            | C::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384
            | C::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
            | C::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384
            | C::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
            | C::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::{offset_of, size_of};

    /// The layouts of `linux/tls.h` (UAPI, so fixed): sizes and field offsets as the
    /// kernel reads them, checked against the structures handed to `setsockopt`.
    #[test]
    fn crypto_info_layouts_are_the_kernels() {
        use libc::{
            tls_crypto_info, tls12_crypto_info_aes_gcm_128 as G128,
            tls12_crypto_info_aes_gcm_256 as G256, tls12_crypto_info_chacha20_poly1305 as CC,
        };
        assert_eq!(size_of::<tls_crypto_info>(), 4);
        assert_eq!(offset_of!(tls_crypto_info, cipher_type), 2);
        // struct { info; iv[8]; key[16]; salt[4]; rec_seq[8]; }
        assert_eq!(size_of::<G128>(), 40);
        assert_eq!(
            [
                offset_of!(G128, iv),
                offset_of!(G128, key),
                offset_of!(G128, salt),
                offset_of!(G128, rec_seq)
            ],
            [4, 12, 28, 32]
        );
        // struct { info; iv[8]; key[32]; salt[4]; rec_seq[8]; }
        assert_eq!(size_of::<G256>(), 56);
        assert_eq!(
            [
                offset_of!(G256, iv),
                offset_of!(G256, key),
                offset_of!(G256, salt),
                offset_of!(G256, rec_seq)
            ],
            [4, 12, 44, 48]
        );
        // struct { info; iv[12]; key[32]; salt[0]; rec_seq[8]; }
        assert_eq!(size_of::<CC>(), 56);
        assert_eq!(
            [
                offset_of!(CC, iv),
                offset_of!(CC, key),
                offset_of!(CC, rec_seq)
            ],
            [4, 16, 48]
        );
        assert_eq!(
            (libc::TLS_1_2_VERSION, libc::TLS_1_3_VERSION),
            (0x0303, 0x0304)
        );
        assert_eq!(
            (
                libc::TLS_CIPHER_AES_GCM_128,
                libc::TLS_CIPHER_AES_GCM_256,
                libc::TLS_CIPHER_CHACHA20_POLY1305
            ),
            (51, 52, 54)
        );
        assert_eq!(
            (libc::SOL_TLS, libc::TLS_TX, libc::TLS_RX, libc::TCP_ULP),
            (282, 1, 2, 31)
        );
    }

    fn bytes(info: &CryptoInfo) -> Vec<u8> {
        let (ptr, len) = info.raw();
        // SAFETY: the structure is plain bytes of that length (no padding: the sizes
        // above are the sums of the fields).
        unsafe { std::slice::from_raw_parts(ptr.cast::<u8>(), len as usize) }.to_vec()
    }

    #[test]
    fn secrets_are_laid_out_as_the_kernel_reads_them() {
        let iv: [u8; 12] = std::array::from_fn(|i| 0xa0 + i as u8);
        let key32: [u8; 32] = std::array::from_fn(|i| 0x40 + i as u8);
        let seq = 0x0102_0304_0506_0708u64;
        let aes128 = ConnectionTrafficSecrets::Aes128Gcm {
            key: rustls::crypto::cipher::AeadKey::from(key32),
            iv: rustls::crypto::cipher::Iv::new(iv),
        };
        // A key of the wrong length (rustls makes 16-byte ones only inside) is refused,
        // never cut.
        assert!(CryptoInfo::new(ProtocolVersion::TLSv1_3, seq, &aes128).is_none());
        let aes256 = ConnectionTrafficSecrets::Aes256Gcm {
            key: rustls::crypto::cipher::AeadKey::from(key32),
            iv: rustls::crypto::cipher::Iv::new(iv),
        };
        let b = bytes(&CryptoInfo::new(ProtocolVersion::TLSv1_2, seq, &aes256).unwrap());
        assert_eq!(
            &b[..4],
            &[0x03, 0x03, 52, 0][..],
            "version, cipher (little-endian u16s)"
        );
        assert_eq!(
            &b[4..12],
            &tls12_explicit_nonce(iv[4..].try_into().unwrap(), seq)[..],
            "iv: the first explicit nonce the kernel sends"
        );
        assert_eq!(&b[12..44], &key32[..]);
        assert_eq!(&b[44..48], &iv[..4], "salt: the implicit part");
        assert_eq!(&b[48..56], &seq.to_be_bytes()[..], "rec_seq, big-endian");
        let chacha = ConnectionTrafficSecrets::Chacha20Poly1305 {
            key: rustls::crypto::cipher::AeadKey::from(key32),
            iv: rustls::crypto::cipher::Iv::new(iv),
        };
        // TLS 1.3 GCM: the static IV as it is (the kernel XORs the sequence in, as rustls).
        let b = bytes(&CryptoInfo::new(ProtocolVersion::TLSv1_3, seq, &aes256).unwrap());
        assert_eq!((&b[4..12], &b[44..48]), (&iv[4..], &iv[..4]));
        let b = bytes(&CryptoInfo::new(ProtocolVersion::TLSv1_3, 7, &chacha).unwrap());
        assert_eq!(&b[..4], &[0x04, 0x03, 54, 0][..]);
        assert_eq!(&b[4..16], &iv[..]);
        assert_eq!(&b[16..48], &key32[..]);
        assert_eq!(&b[48..56], &7u64.to_be_bytes()[..]);
        assert!(CryptoInfo::new(ProtocolVersion::TLSv1_1, 0, &chacha).is_none());
    }

    /// TLS 1.2 GCM: the explicit nonces the kernel sends (`start`, `start + 1`, ...) never
    /// repeat one rustls sent (`iv ^ k` for `k < seq`) — found reused on a real kTLS
    /// kernel (`benches/ktls_vm.sh`), before this.
    #[test]
    fn tls12_explicit_nonces_are_not_reused_after_the_switch() {
        let ivs = [
            0u64,
            1,
            2,
            0b10,
            0x8000_0000_0000_0000,
            0x0123_4567_89ab_cdef,
            u64::MAX,
            u64::MAX - 1,
            u64::MAX - 300,
        ];
        for iv in ivs {
            for seq in (0..=300u64).chain([1 << 20, (1 << 20) + 7]) {
                let start = u64::from_be_bytes(tls12_explicit_nonce(iv.to_be_bytes(), seq));
                let used: std::collections::HashSet<u64> =
                    (0..seq.min(4096)).map(|k| iv ^ k).collect();
                for j in 0..4096u64 {
                    assert!(
                        !used.contains(&start.wrapping_add(j)),
                        "iv {iv:#x} seq {seq}: kernel record {j} reuses a nonce"
                    );
                }
            }
        }
        // The old mapping (rustls's iv as the kernel's first nonce) reused record 0's.
        assert_ne!(tls12_explicit_nonce([0; 8], 1), [0; 8]);
    }

    #[test]
    fn a_kernel_without_ktls_is_a_clean_fallback() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let s = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (_peer, _) = l.accept().unwrap();
        use std::os::fd::AsRawFd;
        match attach(s.as_raw_fd()) {
            // This machine's kernel: no `tls` module, remembered.
            Ulp::Unavailable => assert!(known_unavailable()),
            Ulp::Attached => {}
        }
    }
}
