//! `ssl_protocols`, `ssl_ciphers` and `ssl_ecdh_curve` mapped onto what rustls has.
//!
//! rustls speaks TLS 1.2 and 1.3 only, with AEAD suites and ECDHE key exchange. nginx 1.22
//! on OpenSSL 3 refuses TLS 1.0/1.1 at OpenSSL's default security level too, so asking for
//! them beside a version rustls has changes nothing; a list of only those fails `-t`.
//! An OpenSSL cipher string selects among rustls's TLS 1.2 suites with OpenSSL's grammar
//! (`!`, `-`, `+`, `A+B`, keywords, `@STRENGTH`); TLS 1.3 suites are not governed by
//! `ssl_ciphers`, as with OpenSSL.

use rustls::SupportedCipherSuite;
use rustls::crypto::SupportedKxGroup;

/// `ssl_protocols` as a bit set.
pub type Protocols = u8;
/// `SSLv2`
pub const SSLV2: Protocols = 1;
/// `SSLv3`
pub const SSLV3: Protocols = 2;
/// `TLSv1`
pub const TLSV1: Protocols = 4;
/// `TLSv1.1`
pub const TLSV1_1: Protocols = 8;
/// `TLSv1.2`
pub const TLSV1_2: Protocols = 16;
/// `TLSv1.3`
pub const TLSV1_3: Protocols = 32;

/// One `ssl_protocols` word.
pub fn parse_protocol(word: &str) -> Option<Protocols> {
    Some(match word {
        "SSLv2" => SSLV2,
        "SSLv3" => SSLV3,
        "TLSv1" => TLSV1,
        "TLSv1.1" => TLSV1_1,
        "TLSv1.2" => TLSV1_2,
        "TLSv1.3" => TLSV1_3,
        _ => return None,
    })
}

/// The rustls versions of a protocol set; `Err` when it names none rustls has.
pub fn versions(
    protocols: Protocols,
) -> Result<Vec<&'static rustls::SupportedProtocolVersion>, String> {
    let mut v = Vec::new();
    if protocols & TLSV1_3 != 0 {
        v.push(&rustls::version::TLS13);
    }
    if protocols & TLSV1_2 != 0 {
        v.push(&rustls::version::TLS12);
    }
    if v.is_empty() {
        return Err(
            "\"ssl_protocols\" names no protocol Portico has: rustls speaks TLSv1.2 and \
                    TLSv1.3 only"
                .to_string(),
        );
    }
    Ok(v)
}

/// What OpenSSL knows of one of rustls's TLS 1.2 suites: its name and the words of the
/// cipher-string grammar that select it.
struct Known {
    name: &'static str,
    words: &'static [&'static str],
}

const COMMON: &[&str] = &[
    "ALL", "DEFAULT", "HIGH", "TLSv1.2", "kECDHE", "ECDHE", "EECDH", "kEECDH", "ECDH", "AEAD",
    "FIPS",
];

fn known(suite: rustls::CipherSuite) -> Option<Known> {
    use rustls::CipherSuite as C;
    Some(match suite {
        C::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 => Known {
            name: "ECDHE-ECDSA-AES256-GCM-SHA384",
            words: &["aECDSA", "ECDSA", "AES256", "AES", "AESGCM", "SHA384"],
        },
        C::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 => Known {
            name: "ECDHE-ECDSA-AES128-GCM-SHA256",
            words: &["aECDSA", "ECDSA", "AES128", "AES", "AESGCM", "SHA256"],
        },
        C::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 => Known {
            name: "ECDHE-ECDSA-CHACHA20-POLY1305",
            words: &["aECDSA", "ECDSA", "CHACHA20", "SHA256"],
        },
        C::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 => Known {
            name: "ECDHE-RSA-AES256-GCM-SHA384",
            words: &["aRSA", "AES256", "AES", "AESGCM", "SHA384"],
        },
        C::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 => Known {
            name: "ECDHE-RSA-AES128-GCM-SHA256",
            words: &["aRSA", "AES128", "AES", "AESGCM", "SHA256"],
        },
        C::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 => Known {
            name: "ECDHE-RSA-CHACHA20-POLY1305",
            words: &["aRSA", "CHACHA20", "SHA256"],
        },
        _ => return None,
    })
}

/// OpenSSL's name of a suite (`$ssl_cipher`): TLS 1.3 suites by their standard name, as
/// OpenSSL names them.
pub fn openssl_name(suite: rustls::CipherSuite) -> Option<&'static str> {
    use rustls::CipherSuite as C;
    Some(match suite {
        C::TLS13_AES_256_GCM_SHA384 => "TLS_AES_256_GCM_SHA384",
        C::TLS13_AES_128_GCM_SHA256 => "TLS_AES_128_GCM_SHA256",
        C::TLS13_CHACHA20_POLY1305_SHA256 => "TLS_CHACHA20_POLY1305_SHA256",
        other => known(other)?.name,
    })
}

/// Whether `element` (one `A+B+C` term) selects the suite.
fn selects(k: &Known, element: &str) -> bool {
    if element == k.name {
        return true;
    }
    element
        .split('+')
        .all(|w| COMMON.contains(&w) || k.words.contains(&w))
}

/// The TLS 1.2 suites an OpenSSL cipher string selects, in its order, and the names it
/// lists that rustls does not have (to be warned about). `Err`: it selects none of them,
/// OpenSSL's `no cipher match`.
pub fn select(
    text: &str,
    all: &[SupportedCipherSuite],
) -> Result<(Vec<SupportedCipherSuite>, Vec<String>), String> {
    let tls12: Vec<(SupportedCipherSuite, Known)> = all
        .iter()
        .filter(|s| matches!(s, SupportedCipherSuite::Tls12(_)))
        .filter_map(|s| known(s.suite()).map(|k| (*s, k)))
        .collect();
    let mut list: Vec<usize> = Vec::new();
    let mut banned = vec![false; tls12.len()];
    let mut missing = Vec::new();
    for element in text.split([':', ',', ' ', ';']).filter(|e| !e.is_empty()) {
        if element.starts_with('@') {
            if element == "@STRENGTH" {
                // 256-bit suites before 128-bit ones, each group in its order.
                list.sort_by_key(|&i| {
                    !tls12[i]
                        .1
                        .words
                        .iter()
                        .any(|w| *w == "AES256" || *w == "CHACHA20")
                });
            }
            continue;
        }
        let (op, term) = match element.as_bytes()[0] {
            b'!' | b'-' | b'+' => (element.as_bytes()[0], &element[1..]),
            _ => (0, element),
        };
        let hits: Vec<usize> = (0..tls12.len())
            .filter(|&i| selects(&tls12[i].1, term))
            .collect();
        if hits.is_empty() && op == 0 && term.contains('-') {
            missing.push(term.to_string());
        }
        match op {
            b'!' => {
                for &i in &hits {
                    banned[i] = true;
                }
                list.retain(|i| !hits.contains(i));
            }
            b'-' => list.retain(|i| !hits.contains(i)),
            b'+' => {
                let moved: Vec<usize> = list.iter().copied().filter(|i| hits.contains(i)).collect();
                list.retain(|i| !hits.contains(i));
                list.extend(moved);
            }
            _ => {
                for i in hits {
                    if !banned[i] && !list.contains(&i) {
                        list.push(i);
                    }
                }
            }
        }
    }
    if list.is_empty() {
        return Err(format!(
            "SSL_CTX_set_cipher_list(\"{text}\") failed (no cipher match: of the TLS 1.2 suites \
             rustls has ({}), the string selects none)",
            tls12
                .iter()
                .map(|(_, k)| k.name)
                .collect::<Vec<_>>()
                .join(":")
        ));
    }
    Ok((list.into_iter().map(|i| tls12[i].0).collect(), missing))
}

/// OpenSSL's name of a key-exchange group (`$ssl_curve`).
pub fn curve_name(group: rustls::NamedGroup) -> Option<&'static str> {
    Some(match group {
        rustls::NamedGroup::X25519 => "X25519",
        rustls::NamedGroup::secp256r1 => "prime256v1",
        rustls::NamedGroup::secp384r1 => "secp384r1",
        rustls::NamedGroup::secp521r1 => "secp521r1",
        rustls::NamedGroup::X25519MLKEM768 => "X25519MLKEM768",
        _ => return None,
    })
}

/// `ssl_ecdh_curve auto|CURVE[:CURVE...]` as rustls key-exchange groups.
pub fn curves(
    text: &str,
    all: &[&'static dyn SupportedKxGroup],
) -> Result<Vec<&'static dyn SupportedKxGroup>, String> {
    if text == "auto" {
        return Ok(all.to_vec());
    }
    let mut out = Vec::new();
    for name in text.split(':') {
        let group = match name {
            "X25519" | "x25519" => rustls::NamedGroup::X25519,
            "prime256v1" | "P-256" | "secp256r1" => rustls::NamedGroup::secp256r1,
            "secp384r1" | "P-384" => rustls::NamedGroup::secp384r1,
            "secp521r1" | "P-521" => rustls::NamedGroup::secp521r1,
            "X25519MLKEM768" => rustls::NamedGroup::X25519MLKEM768,
            _ => rustls::NamedGroup::Unknown(0),
        };
        match all.iter().find(|g| g.name() == group) {
            Some(g) => out.push(*g),
            None => {
                return Err(format!(
                    "SSL_CTX_set1_curves_list(\"{text}\") failed (rustls has no curve \"{name}\"; \
                     it has X25519, prime256v1, secp384r1, X25519MLKEM768)"
                ));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(text: &str) -> Result<Vec<String>, String> {
        let p = super::super::provider();
        select(text, &p.cipher_suites).map(|(v, _)| {
            v.iter()
                .map(|s| known(s.suite()).map_or("?", |k| k.name).to_string())
                .collect()
        })
    }

    #[test]
    fn cipher_strings() {
        assert_eq!(names("HIGH:!aNULL:!MD5").unwrap().len(), 6);
        assert_eq!(
            names("ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384").unwrap(),
            [
                "ECDHE-RSA-AES128-GCM-SHA256",
                "ECDHE-ECDSA-AES256-GCM-SHA384"
            ]
        );
        assert_eq!(names("EECDH+AESGCM:!aRSA").unwrap().len(), 2);
        assert_eq!(names("ALL:!ECDSA").unwrap().len(), 3);
        assert!(names("RC4:MD5").is_err());
        assert!(names("AES128-SHA").is_err());
        let p = super::super::provider();
        let (_, missing) = select("AES128-SHA:HIGH", &p.cipher_suites).unwrap();
        assert_eq!(missing, ["AES128-SHA"]);
    }

    #[test]
    fn curve_lists() {
        let p = super::super::provider();
        assert_eq!(
            curves("prime256v1:secp384r1", &p.kx_groups).unwrap().len(),
            2
        );
        assert!(curves("brainpoolP256r1", &p.kx_groups).is_err());
    }
}
