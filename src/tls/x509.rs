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
    let (_, _, _, after_validity) = element(after_issuer)?;
    let (_, subject, _, after_subject) = element(after_validity)?;
    let (_, spki, _, _) = element(after_subject)?;
    Some(Fields {
        serial,
        issuer,
        subject,
        spki,
    })
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
