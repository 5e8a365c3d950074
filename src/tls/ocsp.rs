//! OCSP (RFC 6960) as nginx's stapling uses it through OpenSSL: the request for one
//! certificate (`OCSP_cert_to_id` with SHA-1, one `Request`, no nonce), the HTTP GET that
//! carries it (`ngx_ssl_ocsp_create_request`), and the checks of the response
//! (`ngx_ssl_ocsp_verify`: status, `OCSP_basic_verify`, the certificate's status,
//! `OCSP_check_validity` with 300 s of leeway). DER is read with `x509::element`; the
//! signature is verified with the crypto provider's algorithms.

use rustls::pki_types::SignatureVerificationAlgorithm;

use super::dn::asn1_time;
use super::x509::{element, fields, signed_by};

/// 1.3.14.3.2.26 (SHA-1), the hash `OCSP_cert_to_id` uses.
const OID_SHA1: &[u8] = &[0x2b, 0x0e, 0x03, 0x02, 0x1a];
/// 2.16.840.1.101.3.4.2.1 (SHA-256).
const OID_SHA256: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01];
/// 1.3.6.1.5.5.7.48.1.1 (id-pkix-ocsp-basic).
const OID_OCSP_BASIC: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x01];
/// 1.3.6.1.5.5.7.3.9 (id-kp-OCSPSigning).
const OID_OCSP_SIGNING: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x09];
/// 1.3.6.1.5.5.7.1.1 (authorityInfoAccess).
const OID_AIA: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x01, 0x01];
/// 1.3.6.1.5.5.7.48.1 (id-ad-ocsp).
const OID_AD_OCSP: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01];
/// 2.5.29.37 (extKeyUsage).
const OID_EKU: &[u8] = &[0x55, 0x1d, 0x25];
/// `OCSP_check_validity`'s leeway (nginx passes 300 s).
const LEEWAY: i64 = 300;

/// A certificate's identity in OCSP: the issuer's name and key hashed, and its serial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertId {
    /// SHA-1 of the issuer's subject Name (whole element).
    name_hash: Vec<u8>,
    /// SHA-1 of the issuer's public key (the BIT STRING's bits).
    key_hash: Vec<u8>,
    /// The certificate's serial number (INTEGER contents).
    serial: Vec<u8>,
    /// The issuer's subject and key, to rehash under a responder's other algorithm.
    issuer_name: Vec<u8>,
    issuer_key: Vec<u8>,
}

fn digest(alg: &'static aws_lc_rs::digest::Algorithm, data: &[u8]) -> Vec<u8> {
    aws_lc_rs::digest::digest(alg, data).as_ref().to_vec()
}

/// The bits of a SubjectPublicKeyInfo's key (without the unused-bits octet).
fn key_bits(spki: &[u8]) -> Option<&[u8]> {
    let (_, _, inner, _) = element(spki)?;
    let (_, _, _, rest) = element(inner)?;
    let (0x03, _, bits, _) = element(rest)? else {
        return None;
    };
    bits.get(1..)
}

impl CertId {
    /// The id of `cert` issued by `issuer` (both DER); `None` where one cannot be read.
    pub fn new(cert: &[u8], issuer: &[u8]) -> Option<CertId> {
        let c = fields(cert)?;
        let i = fields(issuer)?;
        let key = key_bits(i.spki)?;
        let sha1 = &aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY;
        Some(CertId {
            name_hash: digest(sha1, i.subject),
            key_hash: digest(sha1, key),
            serial: c.serial.to_vec(),
            issuer_name: i.subject.to_vec(),
            issuer_key: key.to_vec(),
        })
    }

    /// Whether the DER `CertID` contents `der` name this certificate.
    fn matches(&self, der: &[u8]) -> bool {
        let parse = || -> Option<[&[u8]; 4]> {
            let (0x30, _, inner, _) = element(der)? else {
                return None;
            };
            let (0x30, _, alg, rest) = element(inner)? else {
                return None;
            };
            let (0x06, _, oid, _) = element(alg)? else {
                return None;
            };
            let (0x04, _, name, rest) = element(rest)? else {
                return None;
            };
            let (0x04, _, key, rest) = element(rest)? else {
                return None;
            };
            let (0x02, _, serial, _) = element(rest)? else {
                return None;
            };
            Some([oid, name, key, serial])
        };
        let Some([oid, name, key, serial]) = parse() else {
            return false;
        };
        if serial != self.serial.as_slice() {
            return false;
        }
        if oid == OID_SHA1 {
            return name == self.name_hash.as_slice() && key == self.key_hash.as_slice();
        }
        if oid == OID_SHA256 {
            let alg = &aws_lc_rs::digest::SHA256;
            return name == digest(alg, &self.issuer_name).as_slice()
                && key == digest(alg, &self.issuer_key).as_slice();
        }
        false
    }

    /// The key of this certificate's status in an `ssl_ocsp_cache` zone, as nginx's
    /// `ngx_ssl_ocsp_create_key`: the issuer's name and key hashes and the serial (at most
    /// 20 bytes, zero-padded); `None` for a longer serial, which nginx does not cache.
    pub fn cache_key(&self) -> Option<[u8; 60]> {
        let serial = match self.serial.as_slice() {
            [0, rest @ ..] if !rest.is_empty() => rest,
            s => s,
        };
        if serial.len() > 20 || self.name_hash.len() != 20 || self.key_hash.len() != 20 {
            return None;
        }
        let mut key = [0u8; 60];
        key[..20].copy_from_slice(&self.name_hash);
        key[20..40].copy_from_slice(&self.key_hash);
        key[40..40 + serial.len()].copy_from_slice(serial);
        Some(key)
    }

    /// The DER `OCSPRequest` asking for this certificate's status.
    pub fn request(&self) -> Vec<u8> {
        let mut alg = der(0x06, OID_SHA1);
        alg.extend_from_slice(&[0x05, 0x00]);
        let mut id = der(0x30, &alg);
        id.extend(der(0x04, &self.name_hash));
        id.extend(der(0x04, &self.key_hash));
        id.extend(der(0x02, &self.serial));
        let request = der(0x30, &der(0x30, &id));
        let list = der(0x30, &request);
        der(0x30, &der(0x30, &list))
    }
}

/// One DER element of `tag` around `contents`.
fn der(tag: u8, contents: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = contents.len();
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let bytes = n.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(contents);
    out
}

/// The OCSP responder URL of `cert`'s authorityInfoAccess (`X509_get1_ocsp`'s first).
pub fn responder_url(cert: &[u8]) -> Option<String> {
    let value = extension(cert, OID_AIA)?;
    let (0x30, _, mut descs, _) = element(value)? else {
        return None;
    };
    while let Some((_, _, desc, next)) = element(descs) {
        if let Some((0x06, _, oid, rest)) = element(desc)
            && oid == OID_AD_OCSP
            && let Some((0x86, _, uri, _)) = element(rest)
        {
            return Some(String::from_utf8_lossy(uri).into_owned());
        }
        descs = next;
    }
    None
}

/// The value (OCTET STRING contents) of `cert`'s extension `oid`.
fn extension<'a>(cert: &'a [u8], oid: &[u8]) -> Option<&'a [u8]> {
    let (_, _, outer, _) = element(cert)?;
    let (_, _, mut tbs, _) = element(outer)?;
    while let Some((tag, _, contents, next)) = element(tbs) {
        if tag == 0xa3 {
            let (_, _, mut exts, _) = element(contents)?;
            while let Some((_, _, ext, next)) = element(exts) {
                if let Some((0x06, _, id, value)) = element(ext)
                    && id == oid
                {
                    let value = match element(value)? {
                        (0x01, _, _, after) => after,
                        _ => value,
                    };
                    let (0x04, _, octets, _) = element(value)? else {
                        return None;
                    };
                    return Some(octets);
                }
                exts = next;
            }
            return None;
        }
        tbs = next;
    }
    None
}

/// Whether `cert` has extKeyUsage id-kp-OCSPSigning.
fn ocsp_signing(cert: &[u8]) -> bool {
    let Some(value) = extension(cert, OID_EKU) else {
        return false;
    };
    let Some((0x30, _, mut oids, _)) = element(value) else {
        return false;
    };
    while let Some((_, _, oid, next)) = element(oids) {
        if oid == OID_OCSP_SIGNING {
            return true;
        }
        oids = next;
    }
    false
}

/// `GET URI/BASE64 HTTP/1.0` with `Host`, as nginx sends it (base64 escaped as a URI
/// component).
pub fn http_request(uri: &str, host: &str, ocsp: &[u8]) -> Vec<u8> {
    let mut out = b"GET ".to_vec();
    out.extend_from_slice(uri.as_bytes());
    if !uri.ends_with('/') {
        out.push(b'/');
    }
    for b in base64(ocsp) {
        match b {
            b'+' => out.extend_from_slice(b"%2B"),
            b'/' => out.extend_from_slice(b"%2F"),
            b'=' => out.extend_from_slice(b"%3D"),
            _ => out.push(b),
        }
    }
    out.extend_from_slice(b" HTTP/1.0\r\nHost: ");
    out.extend_from_slice(host.as_bytes());
    out.extend_from_slice(b"\r\n\r\n");
    out
}

fn base64(src: &[u8]) -> Vec<u8> {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::with_capacity(src.len().div_ceil(3) * 4);
    for c in src.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize]);
            } else {
                out.push(b'=');
            }
        }
    }
    out
}

/// A certificate's status in a response (`V_OCSP_CERTSTATUS_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertStatus {
    Good,
    Revoked,
    Unknown,
}

impl CertStatus {
    /// `OCSP_cert_status_str`.
    pub fn as_str(self) -> &'static str {
        match self {
            CertStatus::Good => "good",
            CertStatus::Revoked => "revoked",
            CertStatus::Unknown => "unknown",
        }
    }
}

/// What the checks of a response found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checked {
    pub status: CertStatus,
    /// nextUpdate (seconds since the epoch); `i64::MAX` where the response has none.
    pub valid: i64,
}

/// What a response is checked against.
pub struct Trust<'a> {
    pub id: &'a CertId,
    /// The issuer certificate (DER).
    pub issuer: &'a [u8],
    /// The certificate's chain as configured (without the certificate itself).
    pub chain: &'a [Vec<u8>],
    /// `ssl_trusted_certificate`'s certificates.
    pub trusted: &'a [Vec<u8>],
    /// `ssl_stapling_verify on`, and always for `ssl_ocsp`: the signer is verified.
    pub verify: bool,
    /// `OCSP_TRUSTOTHER` (stapling with `ssl_stapling_verify on`): a signer found in
    /// `chain` is trusted as it is. `ssl_ocsp` passes no flags: a signer from the chain
    /// must be the issuer or its delegate too.
    pub trust_other: bool,
    pub algs: &'a [&'a dyn SignatureVerificationAlgorithm],
}

/// `OCSPResponseStatus` as `OCSP_response_status_str` names it.
fn response_status_str(n: u8) -> &'static str {
    match n {
        0 => "successful",
        1 => "malformedrequest",
        2 => "internalerror",
        3 => "trylater",
        5 => "sigrequired",
        6 => "unauthorized",
        _ => "(UNKNOWN)",
    }
}

/// Checks the DER OCSP response `resp` as `ngx_ssl_ocsp_verify` does at `now`; `Err` is
/// the error log's message.
pub fn check(resp: &[u8], t: &Trust<'_>, now: i64) -> Result<Checked, String> {
    const BAD: &str = "d2i_OCSP_RESPONSE() failed";
    let (0x30, whole, outer, _) = element(resp).ok_or(BAD)? else {
        return Err(BAD.into());
    };
    if whole.len() != resp.len() {
        return Err(BAD.into());
    }
    let (0x0a, _, status, rest) = element(outer).ok_or(BAD)? else {
        return Err(BAD.into());
    };
    let n = match status {
        [n] => *n,
        _ => return Err(BAD.into()),
    };
    if n != 0 {
        return Err(format!(
            "OCSP response not successful ({n}: {})",
            response_status_str(n)
        ));
    }
    const NO_BASIC: &str = "OCSP_response_get1_basic() failed";
    let basic = (|| {
        let (0xa0, _, bytes, _) = element(rest)? else {
            return None;
        };
        let (0x30, _, bytes, _) = element(bytes)? else {
            return None;
        };
        let (0x06, _, oid, rest) = element(bytes)? else {
            return None;
        };
        let (0x04, _, basic, _) = element(rest)? else {
            return None;
        };
        (oid == OID_OCSP_BASIC).then_some(basic)
    })()
    .ok_or(NO_BASIC)?;
    let b = parse_basic(basic).ok_or(NO_BASIC)?;
    verify_signer(&b, t)?;
    let single = b
        .responses
        .iter()
        .find(|s| t.id.matches(s.cert_id))
        .ok_or("certificate status not found in the OCSP response")?;
    // OCSP_check_validity(thisupdate, nextupdate, 300, -1)
    const INVALID: &str = "OCSP_check_validity() failed";
    if single.this_update > now + LEEWAY {
        return Err(format!("{INVALID} (SSL: status not yet valid)"));
    }
    if let Some(next) = single.next_update {
        if next < now - LEEWAY {
            return Err(format!("{INVALID} (SSL: status expired)"));
        }
        if next < single.this_update {
            return Err(format!("{INVALID} (SSL: nextupdate before thisupdate)"));
        }
    }
    Ok(Checked {
        status: single.status,
        valid: single.next_update.unwrap_or(i64::MAX),
    })
}

struct Single<'a> {
    cert_id: &'a [u8],
    status: CertStatus,
    this_update: i64,
    next_update: Option<i64>,
}

struct Basic<'a> {
    /// The signed `tbsResponseData` (whole), the algorithm's contents, the signature.
    signed: (&'a [u8], &'a [u8], &'a [u8]),
    /// responderID: `[1]` Name (whole element) or `[2]` key hash (octets).
    by_name: Option<&'a [u8]>,
    by_key: Option<&'a [u8]>,
    responses: Vec<Single<'a>>,
    certs: Vec<&'a [u8]>,
}

fn parse_basic(der: &[u8]) -> Option<Basic<'_>> {
    let (0x30, _, der, _) = element(der)? else {
        return None;
    };
    let (0x30, tbs, data, rest) = element(der)? else {
        return None;
    };
    let (0x30, _, algorithm, rest) = element(rest)? else {
        return None;
    };
    let (0x03, _, bits, rest) = element(rest)? else {
        return None;
    };
    let mut certs = Vec::new();
    if let Some((0xa0, _, seq, _)) = element(rest) {
        let (_, _, mut list, _) = element(seq)?;
        while let Some((0x30, cert, _, next)) = element(list) {
            certs.push(cert);
            list = next;
        }
    }
    let mut at = data;
    if let Some((0xa0, _, _, after)) = element(at) {
        at = after;
    }
    let (tag, _, id, rest) = element(at)?;
    let (by_name, by_key) = match tag {
        0xa1 => (Some(element(id)?.1), None),
        0xa2 => (None, Some(element(id)?.2)),
        _ => return None,
    };
    let (0x18, _, _, rest) = element(rest)? else {
        return None;
    };
    let (0x30, _, mut list, _) = element(rest)? else {
        return None;
    };
    let mut responses = Vec::new();
    while let Some((0x30, _, single, next)) = element(list) {
        let (0x30, cert_id, _, rest) = element(single)? else {
            return None;
        };
        let (tag, _, _, rest) = element(rest)?;
        let status = match tag {
            0x80 => CertStatus::Good,
            0xa1 => CertStatus::Revoked,
            0x82 => CertStatus::Unknown,
            _ => return None,
        };
        let (tag, _, value, rest) = element(rest)?;
        let this_update = asn1_time(tag, value)?;
        let mut next_update = None;
        if let Some((0xa0, _, inner, _)) = element(rest) {
            let (tag, _, value, _) = element(inner)?;
            next_update = Some(asn1_time(tag, value)?);
        }
        responses.push(Single {
            cert_id,
            status,
            this_update,
            next_update,
        });
        list = next;
    }
    Some(Basic {
        signed: (tbs, algorithm, bits.get(1..)?),
        by_name,
        by_key,
        responses,
        certs,
    })
}

/// Whether `cert` is the responder `b` names.
fn is_responder(b: &Basic<'_>, cert: &[u8]) -> bool {
    let Some(f) = fields(cert) else {
        return false;
    };
    if let Some(name) = b.by_name {
        return name == f.subject;
    }
    let Some(hash) = b.by_key else { return false };
    key_bits(f.spki)
        .is_some_and(|k| digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, k).as_slice() == hash)
}

/// `OCSP_basic_verify(basic, chain, store, flags)`: the signer is looked for in the
/// configured chain, then in the response's certificates, and its signature checked. With
/// `ssl_stapling_verify on` (`OCSP_TRUSTOTHER`) a signer from the chain is trusted; one
/// from the response must be the issuer or a responder the issuer delegated to
/// (id-kp-OCSPSigning), and the issuer must chain up to `ssl_trusted_certificate`.
fn verify_signer(b: &Basic<'_>, t: &Trust<'_>) -> Result<(), String> {
    const FAILED: &str = "OCSP_basic_verify() failed";
    let from_chain = t.chain.iter().find(|c| is_responder(b, c));
    let signer: &[u8] = match from_chain {
        Some(c) => c,
        None => b
            .certs
            .iter()
            .copied()
            .find(|c| is_responder(b, c))
            .ok_or_else(|| format!("{FAILED} (SSL: signer certificate not found)"))?,
    };
    let spki = fields(signer).map(|f| f.spki).ok_or(FAILED)?;
    if !signed_by(b.signed, spki, t.algs) {
        return Err(format!("{FAILED} (SSL: signature failure)"));
    }
    if !t.verify || (from_chain.is_some() && t.trust_other) {
        return Ok(());
    }
    let issuer = fields(t.issuer).ok_or(FAILED)?;
    let delegated = || {
        ocsp_signing(signer)
            && super::x509::signed_parts(signer)
                .is_some_and(|parts| signed_by(parts, issuer.spki, t.algs))
    };
    if signer != t.issuer && !delegated() {
        return Err(format!("{FAILED} (SSL: root ca not trusted)"));
    }
    if !chains_to_trusted(t) {
        return Err(format!(
            "{FAILED} (SSL: Verify error:unable to get local issuer certificate)"
        ));
    }
    Ok(())
}

/// Whether the issuer is in `ssl_trusted_certificate` or signed by a certificate that is
/// (through the chain's and the trusted certificates, at most 10 levels).
fn chains_to_trusted(t: &Trust<'_>) -> bool {
    let mut cert: &[u8] = t.issuer;
    for _ in 0..10 {
        if t.trusted.iter().any(|c| c.as_slice() == cert) {
            return true;
        }
        let Some(f) = fields(cert) else { return false };
        if f.issuer == f.subject {
            return false;
        }
        let Some(parts) = super::x509::signed_parts(cert) else {
            return false;
        };
        let up = t.trusted.iter().chain(t.chain.iter()).find(|c| {
            fields(c).is_some_and(|u| u.subject == f.issuer && signed_by(parts, u.spki, t.algs))
        });
        match up {
            Some(u) => cert = u,
            None => return false,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_and_escape() {
        assert_eq!(base64(b"f"), b"Zg==");
        assert_eq!(base64(b"fo"), b"Zm8=");
        assert_eq!(base64(b"foo"), b"Zm9v");
        assert_eq!(base64(&[0xfb, 0xff]), b"+/8=");
        let r = http_request("/", "127.0.0.1", &[0xfb, 0xff]);
        assert_eq!(r, b"GET /%2B%2F8%3D HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
        let r = http_request("/ocsp", "h", b"foo");
        assert!(r.starts_with(b"GET /ocsp/Zm9v HTTP/1.0\r\n"));
    }

    #[test]
    fn long_lengths() {
        let d = der(0x04, &[0u8; 300]);
        assert_eq!(&d[..4], &[0x04, 0x82, 0x01, 0x2c]);
        assert_eq!(element(&d).map(|e| e.2.len()), Some(300));
    }

    #[test]
    fn not_a_response() {
        let id = CertId {
            name_hash: vec![],
            key_hash: vec![],
            serial: vec![1],
            issuer_name: vec![],
            issuer_key: vec![],
        };
        let t = Trust {
            id: &id,
            issuer: &[],
            chain: &[],
            trusted: &[],
            verify: false,
            trust_other: false,
            algs: &[],
        };
        assert_eq!(
            check(b"<html>", &t, 0),
            Err("d2i_OCSP_RESPONSE() failed".into())
        );
        // OCSPResponse { responseStatus tryLater }
        assert_eq!(
            check(&[0x30, 0x03, 0x0a, 0x01, 0x03], &t, 0),
            Err("OCSP response not successful (3: trylater)".into())
        );
    }
}
