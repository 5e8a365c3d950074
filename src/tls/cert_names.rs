//! Whether a server certificate is valid for a host name, as OpenSSL's `X509_check_host`
//! (nginx's `proxy_ssl_verify` name check): its subjectAltName DNS names (and IP
//! addresses), or its subject's common name when it has no DNS name; a `*` only as the
//! whole leftmost label, matching one label. Read from the DER, since webpki refuses the
//! v1 and CA-flagged self-signed certificates OpenSSL takes.

use super::x509::element;

/// `id-ce-subjectAltName` (2.5.29.17), DER contents of the OID.
const SAN_OID: &[u8] = &[0x55, 0x1d, 0x11];
/// `id-at-commonName` (2.5.4.3).
const CN_OID: &[u8] = &[0x55, 0x04, 0x03];
/// Tags of the context-specific `GeneralName` choices used here.
const DNS_NAME: u8 = 0x82;
const IP_ADDRESS: u8 = 0x87;
/// `[3] EXPLICIT extensions` of a TBSCertificate.
const EXTENSIONS: u8 = 0xa3;

/// Whether `cert` is valid for `name` (a DNS name or an IP address's text).
pub fn matches(cert: &[u8], name: &str) -> bool {
    let ip: Option<std::net::IpAddr> = name.parse().ok();
    let mut had_dns = false;
    for (tag, value) in alt_names(cert) {
        match tag {
            DNS_NAME => {
                had_dns = true;
                if host_matches(value, name) {
                    return true;
                }
            }
            IP_ADDRESS => {
                let theirs = match value.len() {
                    4 => <[u8; 4]>::try_from(value).ok().map(std::net::IpAddr::from),
                    16 => <[u8; 16]>::try_from(value).ok().map(std::net::IpAddr::from),
                    _ => None,
                };
                if ip.is_some() && theirs == ip {
                    return true;
                }
            }
            _ => {}
        }
    }
    !had_dns && common_name(cert).is_some_and(|cn| host_matches(cn, name))
}

/// `pattern` (from a certificate) matches `host`, ignoring case; `*.a.b` matches one label.
fn host_matches(pattern: &[u8], host: &str) -> bool {
    let host = host.as_bytes();
    if pattern.eq_ignore_ascii_case(host) {
        return true;
    }
    let Some(rest) = pattern.strip_prefix(b"*.") else {
        return false;
    };
    // At least two labels after the wildcard, as OpenSSL requires.
    if !rest.contains(&b'.') {
        return false;
    }
    match host.iter().position(|&b| b == b'.') {
        Some(dot) if dot > 0 => host[dot + 1..].eq_ignore_ascii_case(rest),
        _ => false,
    }
}

/// The TBSCertificate's fields after `subjectPublicKeyInfo` (its optional unique ids and
/// extensions), and the subject.
fn tbs_tail(cert: &[u8]) -> Option<(&[u8], &[u8])> {
    let (_, _, certificate, _) = element(cert)?;
    let (_, _, tbs, _) = element(certificate)?;
    let (tag, _, _, after_version) = element(tbs)?;
    let serial = if tag == 0xa0 { after_version } else { tbs };
    let (_, _, _, rest) = element(serial)?;
    let (_, _, _, rest) = element(rest)?; // signature algorithm
    let (_, _, _, rest) = element(rest)?; // issuer
    let (_, _, _, rest) = element(rest)?; // validity
    let (_, _, subject, rest) = element(rest)?;
    let (_, _, _, rest) = element(rest)?; // subjectPublicKeyInfo
    Some((subject, rest))
}

/// The subjectAltName entries (tag, contents) of `cert`.
fn alt_names(cert: &[u8]) -> Vec<(u8, &[u8])> {
    let mut out = Vec::new();
    let Some((_, mut rest)) = tbs_tail(cert) else {
        return out;
    };
    while let Some((tag, _, contents, after)) = element(rest) {
        rest = after;
        if tag != EXTENSIONS {
            continue;
        }
        let Some((_, _, mut exts, _)) = element(contents) else {
            return out;
        };
        while let Some((_, _, ext, after_ext)) = element(exts) {
            exts = after_ext;
            let Some((_, _, oid, mut fields)) = element(ext) else {
                continue;
            };
            if oid != SAN_OID {
                continue;
            }
            // An optional `critical` BOOLEAN, then the OCTET STRING.
            while let Some((tag, _, value, after_field)) = element(fields) {
                fields = after_field;
                if tag != 0x04 {
                    continue;
                }
                let Some((_, _, mut names, _)) = element(value) else {
                    break;
                };
                while let Some((tag, _, name, after_name)) = element(names) {
                    names = after_name;
                    out.push((tag, name));
                }
            }
        }
    }
    out
}

/// The (last) common name of `cert`'s subject, as OpenSSL takes the most specific one.
fn common_name(cert: &[u8]) -> Option<&[u8]> {
    let (mut rdns, _) = tbs_tail(cert)?;
    let mut found = None;
    while let Some((_, _, set, after)) = element(rdns) {
        rdns = after;
        let mut atvs = set;
        while let Some((_, _, atv, after_atv)) = element(atvs) {
            atvs = after_atv;
            let Some((_, _, oid, value)) = element(atv) else {
                continue;
            };
            if oid == CN_OID
                && let Some((_, _, text, _)) = element(value)
            {
                found = Some(text);
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_one_label() {
        assert!(host_matches(b"*.example.com", "foo.example.com"));
        assert!(host_matches(b"Example.COM", "example.com"));
        assert!(!host_matches(b"*.example.com", "a.b.example.com"));
        assert!(!host_matches(b"*.example.com", "example.com"));
        assert!(!host_matches(b"*.com", "example.com"));
        assert!(!host_matches(b"example.com", "no.match.example.com"));
    }

    #[test]
    fn not_a_certificate_matches_nothing() {
        assert!(!matches(b"junk", "example.com"));
        assert!(alt_names(b"").is_empty());
    }
}
