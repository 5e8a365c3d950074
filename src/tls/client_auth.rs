//! Client certificates (`ssl_verify_client`), verified as nginx verifies them: the
//! handshake asks for a certificate and accepts whatever chain comes (checking only that
//! the client holds its key), and the result is judged per request afterwards — a failed
//! verification is nginx's 400 "The SSL certificate error" (495), a missing required
//! certificate its 400 "No required SSL certificate was sent" (496), and
//! `$ssl_client_verify` says SUCCESS, FAILED:reason or NONE.
//!
//! Why not rustls's `WebPkiClientVerifier` in the handshake: it fails the handshake with an
//! alert, where nginx completes it and answers with a page (or `error_page 495/496`); and
//! `optional_no_ca` needs a certificate from any issuer accepted.

use std::sync::Arc;

use rustls::DistinguishedName;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};

/// `ssl_verify_client`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VerifyClient {
    /// No certificate is asked for (the default).
    Off,
    /// A certificate is required and must verify.
    On,
    /// A certificate is asked for; one that is sent must verify.
    Optional,
    /// A certificate is asked for and need not verify.
    OptionalNoCa,
}

/// What verifying a client's chain found (`$ssl_client_verify`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verified {
    /// No certificate was sent: `NONE`.
    None,
    /// The chain verified: `SUCCESS`.
    Success,
    /// It did not: `FAILED:reason` (OpenSSL's reason text).
    Failed(&'static str),
}

/// The trust a server checks client chains against.
#[derive(Debug)]
pub struct ClientTrust {
    /// `ssl_verify_client`.
    pub mode: VerifyClient,
    /// `ssl_client_certificate` and `ssl_trusted_certificate`, as DER.
    anchors: Vec<CertificateDer<'static>>,
    /// `ssl_crl`.
    crls: Vec<super::crl::Crl>,
    /// `ssl_verify_depth`: how many intermediates a chain may have.
    depth: usize,
}

/// The handshake's verifier: asks for a certificate (naming the CAs of
/// `ssl_client_certificate`), checks the client's signature, and leaves the chain's
/// judgement to [`ClientTrust::check`].
#[derive(Debug)]
struct Requesting {
    hints: Vec<DistinguishedName>,
    algs: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for Requesting {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &self.hints
    }
    fn client_auth_mandatory(&self) -> bool {
        false
    }
    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.signed_with(message, cert, dss)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        // rustls checks that the scheme is one it offered for TLS 1.3.
        self.signed_with(message, cert, dss)
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.algs.supported_schemes()
    }
}

impl Requesting {
    /// Checks the client's handshake signature against the key of its certificate (read
    /// from the DER, so X.509 v1 certificates work as in OpenSSL).
    fn signed_with(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let bad = || rustls::Error::InvalidCertificate(rustls::CertificateError::BadEncoding);
        let spki = super::x509::fields(cert).ok_or_else(bad)?.spki;
        let spki = rustls::pki_types::SubjectPublicKeyInfoDer::from(spki);
        let key = webpki::RawPublicKeyEntity::try_from(&spki).map_err(|_| bad())?;
        let algs = self
            .algs
            .mapping
            .iter()
            .find(|(scheme, _)| *scheme == dss.scheme)
            .map_or(&[][..], |(_, algs)| *algs);
        for alg in algs {
            if key.verify_signature(*alg, message, dss.signature()).is_ok() {
                return Ok(HandshakeSignatureValid::assertion());
            }
        }
        Err(rustls::Error::InvalidCertificate(
            rustls::CertificateError::BadSignature,
        ))
    }
}

impl ClientTrust {
    /// Reads the CA and CRL files. `client_cas` are also named to the client in the
    /// handshake's certificate request, as nginx does; `trusted` only verify.
    pub fn new(
        mode: VerifyClient,
        client_cas: Vec<CertificateDer<'static>>,
        trusted: Vec<CertificateDer<'static>>,
        crls: &[CertificateRevocationListDer<'static>],
        crl_file: &str,
        depth: usize,
    ) -> Result<(ClientTrust, Arc<dyn ClientCertVerifier>), String> {
        let mut hints = Vec::new();
        for ca in &client_cas {
            let anchor = webpki::anchor_from_trusted_cert(ca)
                .map_err(|e| format!("cannot load client certificate: {e:?}"))?;
            let name = DistinguishedName::in_sequence(anchor.subject.as_ref());
            // A CA listed twice is named once, as OpenSSL's CA list.
            if !hints
                .iter()
                .any(|h: &DistinguishedName| h.as_ref() == name.as_ref())
            {
                hints.push(name);
            }
        }
        let owned_crls = super::crl::parse_all(crls, crl_file)?;
        let verifier = Requesting {
            hints,
            algs: super::provider().signature_verification_algorithms,
        };
        Ok((
            ClientTrust {
                mode,
                anchors: client_cas.into_iter().chain(trusted).collect(),
                crls: owned_crls,
                depth,
            },
            Arc::new(verifier),
        ))
    }

    /// Judges the chain a client sent (leaf first; empty: none was sent).
    pub fn check(&self, chain: &[CertificateDer<'_>]) -> Verified {
        let Some((leaf, intermediates)) = chain.split_first() else {
            return Verified::None;
        };
        // A trusted certificate presented as it is verifies (OpenSSL finds it in its
        // store), whatever its version or CA flag.
        if self.anchors.iter().any(|a| a.as_ref() == leaf.as_ref()) {
            return Verified::Success;
        }
        // A self-issued certificate not in the store: OpenSSL's
        // X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT, before anything else is looked at.
        if self_issued(leaf) {
            return Verified::Failed("self-signed certificate");
        }
        let Ok(cert) = webpki::EndEntityCert::try_from(leaf) else {
            // webpki reads only v3 certificates; OpenSSL's verdict on an untrusted v1 one
            // is about its issuer.
            return match super::x509::fields(leaf) {
                Some(_) => Verified::Failed("unable to get local issuer certificate"),
                None => Verified::Failed("unable to decode issuer public key"),
            };
        };
        let algs = super::provider().signature_verification_algorithms;
        let usage = webpki::KeyUsage::client_auth();
        let path = (&self.anchors[..], &self.crls[..], self.depth);
        match super::chain::verify_path(
            &cert,
            intermediates,
            path,
            algs.all,
            UnixTime::now(),
            usage,
        ) {
            Ok(()) => Verified::Success,
            Err((_, text)) => Verified::Failed(text),
        }
    }
}

impl ClientTrust {
    /// The verified chain of a client's `chain` (leaf first, up to its root, as OpenSSL's
    /// `SSL_get0_verified_chain`), for `ssl_ocsp`; empty where it does not verify.
    pub fn verified_chain(&self, chain: &[CertificateDer<'_>]) -> Vec<Vec<u8>> {
        let Some((leaf, intermediates)) = chain.split_first() else {
            return Vec::new();
        };
        if self.anchors.iter().any(|a| a.as_ref() == leaf.as_ref()) {
            return vec![leaf.to_vec()];
        }
        let Ok(cert) = webpki::EndEntityCert::try_from(leaf) else {
            return Vec::new();
        };
        let algs = super::provider().signature_verification_algorithms;
        super::chain::verified_chain(
            &cert,
            intermediates,
            (&self.anchors[..], self.depth),
            algs.all,
            UnixTime::now(),
            webpki::KeyUsage::client_auth(),
        )
        .unwrap_or_default()
    }
}

/// Whether a certificate names itself as its issuer.
fn self_issued(cert: &[u8]) -> bool {
    super::x509::fields(cert).is_some_and(|f| f.issuer == f.subject)
}

/// OpenSSL's `X509_V_ERR_*` code and text (`X509_verify_cert_error_string`) for a webpki
/// error.
pub(super) fn openssl_verify_error(e: &webpki::Error) -> (u32, &'static str) {
    use webpki::Error as E;
    match e {
        E::CertExpired { .. } => (10, "certificate has expired"),
        E::CertNotValidYet { .. } => (9, "certificate is not yet valid"),
        E::CertRevoked => (23, "certificate revoked"),
        E::MaximumPathDepthExceeded => (22, "certificate chain too long"),
        E::UnknownIssuer => (20, "unable to get local issuer certificate"),
        E::InvalidSignatureForPublicKey
        | E::UnsupportedSignatureAlgorithmForPublicKeyContext(_) => {
            (7, "certificate signature failure")
        }
        // OpenSSL lets a CA certificate be a client's or a server's; webpki does not.
        E::RequiredEkuNotFoundContext(_) | E::CaUsedAsEndEntity => {
            (26, "unsupported certificate purpose")
        }
        E::UnknownRevocationStatus => (3, "unable to get certificate CRL"),
        E::CrlExpired { .. } => (12, "CRL has expired"),
        _ => (0, "certificate verify failed"),
    }
}

/// nginx's `ngx_ssl_verify_error_optional`: the reasons `optional_no_ca` lets pass (an
/// issuer that is not trusted or not known).
pub fn error_optional(reason: &str) -> bool {
    matches!(
        reason,
        "self-signed certificate"
            | "self-signed certificate in certificate chain"
            | "unable to get local issuer certificate"
            | "unable to get issuer certificate"
            | "certificate not trusted"
            | "unable to verify the first certificate"
    )
}

/// `$ssl_client_raw_cert`: the leaf as PEM, as OpenSSL's `PEM_write_bio_X509` writes it
/// (64-column base64, a newline at the end).
pub fn pem(der: &[u8], out: &mut Vec<u8>) {
    const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    out.extend_from_slice(b"-----BEGIN CERTIFICATE-----\n");
    let mut col = 0;
    for chunk in der.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            let c = if i <= chunk.len() {
                B64[((n >> (18 - 6 * i)) & 63) as usize]
            } else {
                b'='
            };
            out.push(c);
            col += 1;
            if col == 64 {
                out.push(b'\n');
                col = 0;
            }
        }
    }
    if col != 0 {
        out.push(b'\n');
    }
    out.extend_from_slice(b"-----END CERTIFICATE-----\n");
}

/// `$ssl_client_cert`: the PEM without its last newline, every line after the first
/// starting with a tab (nginx's deprecated header-safe form).
pub fn pem_tabbed(der: &[u8], out: &mut Vec<u8>) {
    let mut raw = Vec::new();
    pem(der, &mut raw);
    raw.pop();
    for &b in &raw {
        out.push(b);
        if b == b'\n' {
            out.push(b'\t');
        }
    }
}

/// `$ssl_client_escaped_cert`: the PEM escaped as a URI component (nginx's
/// `NGX_ESCAPE_URI_COMPONENT`).
pub fn pem_escaped(der: &[u8], out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut raw = Vec::new();
    pem(der, &mut raw);
    for &b in &raw {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b);
        } else {
            out.extend_from_slice(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
        }
    }
}

/// `$ssl_client_fingerprint`: the SHA-1 of the leaf's DER, lowercase hex.
pub fn fingerprint(der: &[u8], out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, der);
    for &b in d.as_ref() {
        out.extend_from_slice(&[HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
    }
}

/// `$ssl_client_serial`: the serial number in uppercase hex, as OpenSSL's
/// `i2a_ASN1_INTEGER` writes it.
pub fn serial(der: &[u8], out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let Some(f) = super::x509::fields(der) else {
        return;
    };
    // The INTEGER's contents without DER's sign-padding zero.
    let digits = f.serial;
    let digits = match digits {
        [0, rest @ ..] if !rest.is_empty() => rest,
        d => d,
    };
    if digits.is_empty() {
        out.extend_from_slice(b"00");
    }
    for &b in digits {
        out.extend_from_slice(&[HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_wraps_at_64_and_pads() {
        let mut out = Vec::new();
        pem(&[0u8; 49], &mut out);
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[1].len(), 64);
        assert_eq!(lines[2], "AA==");
        assert!(text.ends_with("-----END CERTIFICATE-----\n"));
    }

    #[test]
    fn fingerprint_is_sha1_hex() {
        let mut out = Vec::new();
        fingerprint(b"abc", &mut out);
        assert_eq!(out, b"a9993e364706816aba3e25717850c26c9cd0d89d");
    }
}
