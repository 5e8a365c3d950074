//! The few fields of an X.509 certificate that client verification reads, found by
//! walking its DER (webpki refuses X.509 v1 certificates, which OpenSSL — and so nginx —
//! accepts, and which `openssl req -x509` still makes without an extensions section).

/// One DER element: its tag, the whole element (tag and length included), its contents,
/// and the bytes after it.
pub(super) type Element<'a> = (u8, &'a [u8], &'a [u8], &'a [u8]);

/// The first DER element of `der`; `None` where the bytes are not DER.
pub(super) fn element(der: &[u8]) -> Option<Element<'_>> {
    let tag = *der.first()?;
    let first = *der.get(1)?;
    let (len, header) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | usize::from(*der.get(2 + i)?);
        }
        (len, 2 + n)
    };
    let end = header.checked_add(len)?;
    let whole = der.get(..end)?;
    let contents = der.get(header..end)?;
    let rest = der.get(end..)?;
    Some((tag, whole, contents, rest))
}

/// The fields of a certificate's `TBSCertificate`, each a whole DER element.
#[derive(Debug, Clone, Copy)]
pub struct Fields<'a> {
    /// `serialNumber`: the INTEGER's contents.
    pub serial: &'a [u8],
    /// `issuer` (a Name).
    pub issuer: &'a [u8],
    /// `subject` (a Name).
    pub subject: &'a [u8],
    /// `validity` (notBefore, notAfter).
    pub validity: &'a [u8],
    /// `subjectPublicKeyInfo`.
    pub spki: &'a [u8],
}

/// Reads `cert`'s fields; `None` where it is not a certificate.
pub fn fields(cert: &[u8]) -> Option<Fields<'_>> {
    let (_, _, certificate, _) = element(cert)?;
    let (_, _, tbs, _) = element(certificate)?;
    let (tag, _, _, mut rest) = element(tbs)?;
    let mut serial_el = tbs;
    if tag == 0xa0 {
        // [0] EXPLICIT version: present in v2/v3 certificates only.
        serial_el = rest;
    }
    let (_, _, serial, after_serial) = element(serial_el)?;
    rest = after_serial;
    let (_, _, _, after_alg) = element(rest)?;
    let (_, issuer, _, after_issuer) = element(after_alg)?;
    let (_, validity, _, after_validity) = element(after_issuer)?;
    let (_, subject, _, after_subject) = element(after_validity)?;
    let (_, spki, _, _) = element(after_subject)?;
    Some(Fields {
        serial,
        issuer,
        subject,
        validity,
        spki,
    })
}

/// A signed object's parts (a certificate or a CRL): the signed element (whole), the
/// signature's AlgorithmIdentifier contents, and the signature's bytes.
pub fn signed_parts(der: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    let (0x30, _, outer, _) = element(der)? else {
        return None;
    };
    let (0x30, tbs, _, rest) = element(outer)? else {
        return None;
    };
    let (0x30, _, algorithm, rest) = element(rest)? else {
        return None;
    };
    let (0x03, _, bits, _) = element(rest)? else {
        return None;
    };
    Some((tbs, algorithm, bits.get(1..)?))
}

/// Whether `signed` (signed element, algorithm contents, signature) verifies under the
/// key of `spki` (a whole SubjectPublicKeyInfo) with one of `algs`.
pub fn signed_by(
    (tbs, algorithm, signature): (&[u8], &[u8], &[u8]),
    spki: &[u8],
    algs: &[&dyn rustls::pki_types::SignatureVerificationAlgorithm],
) -> bool {
    let Some((_, _, inner, _)) = element(spki) else {
        return false;
    };
    let Some((_, _, key_alg, rest)) = element(inner) else {
        return false;
    };
    let Some((0x03, _, bits, _)) = element(rest) else {
        return false;
    };
    let Some(key) = bits.get(1..) else {
        return false;
    };
    algs.iter().any(|alg| {
        alg.signature_alg_id().as_ref() == algorithm
            && alg.public_key_alg_id().as_ref() == key_alg
            && alg.verify_signature(key, tbs, signature).is_ok()
    })
}

/// Whether a certificate's basicConstraints say `cA: TRUE`.
pub fn is_ca(cert: &[u8]) -> bool {
    // 2.5.29.19
    const BASIC_CONSTRAINTS: &[u8] = &[0x55, 0x1d, 0x13];
    let Some(f) = fields(cert) else {
        return false;
    };
    // What follows subjectPublicKeyInfo: [1], [2] unique ids, then [3] extensions.
    let Some(after_spki) = spki_rest(cert, f.spki) else {
        return false;
    };
    let mut rest = after_spki;
    while let Some((tag, _, contents, after)) = element(rest) {
        if tag == 0xa3 {
            let Some((_, _, mut exts, _)) = element(contents) else {
                return false;
            };
            while let Some((_, _, ext, next)) = element(exts) {
                if let Some((0x06, _, oid, value)) = element(ext)
                    && oid == BASIC_CONSTRAINTS
                {
                    // [critical BOOLEAN] OCTET STRING { SEQUENCE { cA BOOLEAN ... } }
                    let value = match element(value) {
                        Some((0x01, _, _, after)) => after,
                        _ => value,
                    };
                    return element(value)
                        .and_then(|(_, _, octets, _)| element(octets))
                        .and_then(|(_, _, seq, _)| element(seq))
                        .is_some_and(|(tag, _, v, _)| tag == 0x01 && v.first() == Some(&0xff));
                }
                exts = next;
            }
            return false;
        }
        rest = after;
    }
    false
}

/// The bytes of `cert`'s TBSCertificate after its `spki` element.
fn spki_rest<'a>(cert: &'a [u8], spki: &'a [u8]) -> Option<&'a [u8]> {
    let start = spki.as_ptr() as usize - cert.as_ptr() as usize + spki.len();
    let (_, _, outer, _) = element(cert)?;
    let (_, _, tbs, _) = element(outer)?;
    let tbs_end = tbs.as_ptr() as usize - cert.as_ptr() as usize + tbs.len();
    cert.get(start..tbs_end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_long_lengths() {
        let (tag, whole, contents, rest) = element(&[0x30, 0x01, 0x05, 0xff]).unwrap();
        assert_eq!(
            (tag, whole.len(), contents, rest),
            (0x30, 3, &[5u8][..], &[0xffu8][..])
        );
        let mut long = vec![0x04, 0x81, 0x80];
        long.extend([0u8; 128]);
        assert_eq!(element(&long).unwrap().2.len(), 128);
        assert!(element(&[0x30, 0x05, 0x00]).is_none());
        assert!(fields(b"not a certificate").is_none());
    }
}
