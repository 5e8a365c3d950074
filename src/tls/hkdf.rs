//! The TLS 1.3 key schedule's HKDF on HMAC keys prepared once.
//!
//! rustls's aws-lc-rs suites do HKDF through aws-lc-rs's `hkdf`, whose `Salt::extract`
//! keeps the secret and the salt and runs the whole HKDF (extract, then expand) again for
//! every `expand`, and whose expand keys HMAC afresh each time: a TLS 1.3 handshake
//! expands about twenty labels, so it hashed each secret many times over (SHA-384 blocks
//! were 44 % of a resumed handshake's instructions under callgrind). Here the suites are
//! rustls's own with rustls's `HkdfUsingHmac` over aws-lc-rs HMAC keys: a PRK is
//! extracted once and keyed once (its inner and outer pad states kept), and each expand
//! costs only its own blocks. The bytes are the same (RFC 5869); only the work differs.

use std::sync::OnceLock;

use aws_lc_rs::hmac;
use rustls::SupportedCipherSuite;
use rustls::crypto::hmac::{Hmac, Key, Tag};
use rustls::crypto::tls13::HkdfUsingHmac;
use rustls::{CipherSuiteCommon, Tls13CipherSuite};

/// HMAC with one aws-lc-rs algorithm.
struct LcHmac(hmac::Algorithm);

/// An HMAC key whose pad states are computed: each tag clones them.
struct LcKey(hmac::Key);

impl Hmac for LcHmac {
    fn with_key(&self, key: &[u8]) -> Box<dyn Key> {
        Box::new(LcKey(hmac::Key::new(self.0, key)))
    }

    fn hash_output_len(&self) -> usize {
        self.0.digest_algorithm().output_len()
    }
}

impl Key for LcKey {
    fn sign_concat(&self, first: &[u8], middle: &[&[u8]], last: &[u8]) -> Tag {
        let mut ctx = hmac::Context::with_key(&self.0);
        ctx.update(first);
        for part in middle {
            ctx.update(part);
        }
        ctx.update(last);
        Tag::new(ctx.sign().as_ref())
    }

    fn tag_len(&self) -> usize {
        self.0.algorithm().digest_algorithm().output_len()
    }
}

static HMAC_SHA256: LcHmac = LcHmac(hmac::HMAC_SHA256);
static HMAC_SHA384: LcHmac = LcHmac(hmac::HMAC_SHA384);
static HKDF_SHA256: HkdfUsingHmac<'static> = HkdfUsingHmac(&HMAC_SHA256);
static HKDF_SHA384: HkdfUsingHmac<'static> = HkdfUsingHmac(&HMAC_SHA384);

/// `suites` with each TLS 1.3 suite replaced by the same suite on this HKDF (TLS 1.2
/// suites, which use the PRF, are left as they are).
pub fn with_prepared_hkdf(suites: &[SupportedCipherSuite]) -> Vec<SupportedCipherSuite> {
    suites.iter().map(|s| prepared(*s)).collect()
}

fn prepared(suite: SupportedCipherSuite) -> SupportedCipherSuite {
    let SupportedCipherSuite::Tls13(orig) = suite else {
        return suite;
    };
    // The three aws-lc-rs TLS 1.3 suites, each rebuilt once (they must live for 'static).
    static BUILT: OnceLock<Vec<&'static Tls13CipherSuite>> = OnceLock::new();
    let built = BUILT.get_or_init(|| {
        rustls::crypto::aws_lc_rs::ALL_CIPHER_SUITES
            .iter()
            .filter_map(|s| match s {
                SupportedCipherSuite::Tls13(t) => Some(rebuild(t)),
                SupportedCipherSuite::Tls12(_) => None,
            })
            .collect()
    });
    built
        .iter()
        .find(|t| t.common.suite == orig.common.suite)
        .map_or(suite, |t| SupportedCipherSuite::Tls13(t))
}

fn rebuild(t: &'static Tls13CipherSuite) -> &'static Tls13CipherSuite {
    let hkdf: &'static HkdfUsingHmac<'static> = match t.common.hash_provider.output_len() {
        48 => &HKDF_SHA384,
        32 => &HKDF_SHA256,
        // A hash this code does not know: rustls's own HKDF.
        _ => return t,
    };
    Box::leak(Box::new(Tls13CipherSuite {
        common: CipherSuiteCommon {
            suite: t.common.suite,
            hash_provider: t.common.hash_provider,
            confidentiality_limit: t.common.confidentiality_limit,
        },
        hkdf_provider: hkdf,
        aead_alg: t.aead_alg,
        quic: t.quic,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::crypto::tls13::Hkdf;

    /// RFC 5869's test case 1 (SHA-256), then a SHA-384 expand checked against
    /// aws-lc-rs's own HKDF, the one rustls used before.
    #[test]
    fn same_bytes_as_rfc_5869_and_aws_lc() {
        let ikm = [0x0bu8; 22];
        let salt: Vec<u8> = (0x00..=0x0c).collect();
        let info: Vec<u8> = (0xf0..=0xf9).collect();
        let mut okm = [0u8; 42];
        HKDF_SHA256
            .extract_from_secret(Some(&salt), &ikm)
            .expand_slice(&[&info], &mut okm)
            .unwrap();
        let want = "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf\
                    34007208d5b887185865";
        let got: String = okm.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(got, want);

        let secret = [7u8; 48];
        let salt = [9u8; 48];
        let mut ours = [0u8; 100];
        HKDF_SHA384
            .extract_from_secret(Some(&salt), &secret)
            .expand_slice(&[b"tls13 ", b"c hs traffic"], &mut ours)
            .unwrap();
        let prk = aws_lc_rs::hkdf::Salt::new(aws_lc_rs::hkdf::HKDF_SHA384, &salt).extract(&secret);
        struct Len(usize);
        impl aws_lc_rs::hkdf::KeyType for Len {
            fn len(&self) -> usize {
                self.0
            }
        }
        let mut theirs = [0u8; 100];
        prk.expand(&[b"tls13 ", b"c hs traffic"], Len(100))
            .unwrap()
            .fill(&mut theirs)
            .unwrap();
        assert_eq!(ours, theirs);
    }

    #[test]
    fn every_tls13_suite_is_rebuilt() {
        let all = with_prepared_hkdf(rustls::crypto::aws_lc_rs::ALL_CIPHER_SUITES);
        assert_eq!(
            all.len(),
            rustls::crypto::aws_lc_rs::ALL_CIPHER_SUITES.len()
        );
        for (new, old) in all.iter().zip(rustls::crypto::aws_lc_rs::ALL_CIPHER_SUITES) {
            assert_eq!(new.suite(), old.suite());
            if let (SupportedCipherSuite::Tls13(n), SupportedCipherSuite::Tls13(o)) = (new, old) {
                assert!(!std::ptr::eq(*n, *o));
            }
        }
    }
}
