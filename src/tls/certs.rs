//! `ssl_certificate` and `ssl_certificate_key`: PEM files (or `data:` values) with their
//! chains, several pairs per server. A handshake is answered with the first pair whose key
//! can sign with a scheme the client offers (an ECDSA pair for a client that offers ECDSA,
//! else the RSA one), as OpenSSL chooses among several certificates.

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

/// The bytes of a `ssl_certificate`-like value: the text after `data:`, else the file
/// (`path` is already resolved against the prefix).
fn source_bytes(value: &str, path: &std::path::Path) -> Result<Vec<u8>, String> {
    match value.strip_prefix("data:") {
        Some(data) => Ok(data.as_bytes().to_vec()),
        None => std::fs::read(path).map_err(|e| {
            format!(
                "BIO_new_file(\"{}\") failed ({})",
                path.display(),
                crate::sys::errno_text(&e)
            )
        }),
    }
}

/// The certificates (leaf first) of a PEM value.
pub fn load_certs(
    value: &str,
    path: &std::path::Path,
) -> Result<Vec<CertificateDer<'static>>, String> {
    let bytes = source_bytes(value, path)?;
    let certs: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(&bytes).collect();
    match certs {
        Ok(certs) if !certs.is_empty() => Ok(certs),
        Ok(_) => Err(format!(
            "cannot load certificate \"{value}\": PEM_read_bio_X509_AUX() failed (no certificate found)"
        )),
        Err(e) => Err(format!(
            "cannot load certificate \"{value}\": PEM_read_bio_X509_AUX() failed ({e})"
        )),
    }
}

/// The CRLs of a PEM value (`ssl_crl`).
pub fn load_crls(
    value: &str,
    path: &std::path::Path,
) -> Result<Vec<rustls::pki_types::CertificateRevocationListDer<'static>>, String> {
    let bytes = source_bytes(value, path)?;
    rustls::pki_types::CertificateRevocationListDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("X509_load_crl_file(\"{value}\") failed ({e})"))
}

/// The private key of a PEM value, decrypted with the first of `passwords`
/// (`ssl_password_file`) that fits where it is encrypted.
pub fn load_key(
    value: &str,
    path: &std::path::Path,
    passwords: &[Vec<u8>],
) -> Result<PrivateKeyDer<'static>, String> {
    let bytes = source_bytes(value, path)?;
    match super::encrypted_key::decrypt(&bytes, passwords) {
        Ok(Some(key)) => return Ok(key),
        Ok(None) => {}
        Err(e) => return Err(format!("cannot load certificate key \"{value}\": {e}")),
    }
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| {
        format!("cannot load certificate key \"{value}\": PEM_read_bio_PrivateKey() failed ({e})")
    })
}

/// A certificate chain and its key, checked to belong together.
pub fn certified_key(
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    cert_name: &str,
    key_name: &str,
) -> Result<Arc<CertifiedKey>, String> {
    let provider = super::provider();
    let signing = provider.key_provider.load_private_key(key).map_err(|e| {
        format!("cannot load certificate key \"{key_name}\": unsupported key type ({e})")
    })?;
    let ck = CertifiedKey::new(certs, signing);
    // Only a proven mismatch fails: a certificate webpki cannot parse (an X.509 v1 one,
    // which OpenSSL and TLS clients take) is left for the client to judge, as nginx does.
    if let Err(e @ rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) =
        ck.keys_match()
    {
        return Err(format!(
            "SSL_CTX_use_PrivateKey(\"{key_name}\") failed (key values mismatch with \"{cert_name}\": {e})"
        ));
    }
    Ok(Arc::new(ck))
}

/// The server's pairs, chosen by the client's offered signature schemes; a pair whose OCSP
/// response is fetched (`stapling.rs`) is answered with its current response.
#[derive(Debug)]
pub struct ByOffer(pub Vec<(Arc<CertifiedKey>, Option<Arc<super::stapling::Stapling>>)>);

impl ResolvesServerCert for ByOffer {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let offered = hello.signature_schemes();
        let (ck, stapling) = self
            .0
            .iter()
            .find(|(ck, _)| ck.key.choose_scheme(offered).is_some())
            .or_else(|| self.0.first())?;
        Some(match stapling {
            Some(s) => s.current(crate::log::time::now_secs()),
            None => ck.clone(),
        })
    }
}
