//! Certificate revocation lists (`ssl_crl`, `proxy_ssl_crl`, `uwsgi_ssl_crl`) checked as
//! nginx has OpenSSL check them (`X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL`):
//! every certificate of the verified chain, the trusted root included, needs a CRL from
//! its issuer, signed by it and current, that does not list its serial number.
//!
//! Read here rather than by webpki, which takes only X.509 v2 CRLs with extensions, where
//! OpenSSL (and `openssl ca -gencrl` without a `crl_extensions` section) writes v1 ones.

use rustls::pki_types::SignatureVerificationAlgorithm;

use super::dn::asn1_time;
use super::x509::{element, fields};

/// One CRL, read at load.
#[derive(Debug, Clone)]
pub struct Crl {
    /// `issuer` (a whole Name element, compared with a certificate's issuer).
    issuer: Vec<u8>,
    this_update: i64,
    next_update: Option<i64>,
    /// The revoked serial numbers (INTEGER contents).
    revoked: Vec<Vec<u8>>,
    /// The signed `tbsCertList` element.
    tbs: Vec<u8>,
    /// The `signatureAlgorithm` AlgorithmIdentifier's contents.
    algorithm: Vec<u8>,
    signature: Vec<u8>,
}

/// OpenSSL's verify error: its code and text.
pub type VerifyError = (u32, &'static str);

impl Crl {
    /// Reads a DER CRL (v1 or v2); `None` where it is not one.
    pub fn parse(der: &[u8]) -> Option<Crl> {
        let (0x30, _, list, _) = element(der)? else {
            return None;
        };
        let (0x30, tbs, tbs_inner, rest) = element(list)? else {
            return None;
        };
        let (0x30, _, algorithm, rest) = element(rest)? else {
            return None;
        };
        let (0x03, _, bits, _) = element(rest)? else {
            return None;
        };
        let signature = bits.get(1..)?.to_vec();
        let mut at = tbs_inner;
        let (tag, _, _, after) = element(at)?;
        if tag == 0x02 {
            // version: present in v2 CRLs only.
            at = after;
        }
        let (_, _, _, after_alg) = element(at)?;
        let (_, issuer, _, after_issuer) = element(after_alg)?;
        let (tag, _, value, mut rest) = element(after_issuer)?;
        let this_update = asn1_time(tag, value)?;
        let mut next_update = None;
        if let Some((tag @ (0x17 | 0x18), _, value, after)) = element(rest) {
            next_update = Some(asn1_time(tag, value)?);
            rest = after;
        }
        let mut revoked = Vec::new();
        if let Some((0x30, _, mut entries, _)) = element(rest) {
            while !entries.is_empty() {
                let (_, _, entry, after) = element(entries)?;
                let (0x02, _, serial, _) = element(entry)? else {
                    return None;
                };
                revoked.push(serial.to_vec());
                entries = after;
            }
        }
        Some(Crl {
            issuer: issuer.to_vec(),
            this_update,
            next_update,
            revoked,
            tbs: tbs.to_vec(),
            algorithm: algorithm.to_vec(),
            signature,
        })
    }

    /// Whether `issuer_spki` (a whole SubjectPublicKeyInfo) signed this CRL.
    fn signed_by(&self, issuer_spki: &[u8], algs: &[&dyn SignatureVerificationAlgorithm]) -> bool {
        super::x509::signed_by(
            (&self.tbs, &self.algorithm, &self.signature),
            issuer_spki,
            algs,
        )
    }
}

/// Reads the CRLs of `crl_file` (as DER blocks); `Err` is the load error.
pub fn parse_all(
    crls: &[rustls::pki_types::CertificateRevocationListDer<'_>],
    crl_file: &str,
) -> Result<Vec<Crl>, String> {
    crls.iter()
        .map(|der| {
            Crl::parse(der)
                .ok_or_else(|| format!("X509_load_crl_file(\"{crl_file}\") failed (not a CRL)"))
        })
        .collect()
}

/// Checks every certificate of `chain` (DER, leaf first, ending with the trusted root)
/// against `crls` at `now`, as OpenSSL's `check_revocation` with `CRL_CHECK_ALL` under
/// nginx's verify callback, which lets verification go on after an error: the last
/// error found is the verdict.
pub fn check_chain(
    chain: &[&[u8]],
    crls: &[Crl],
    algs: &[&dyn SignatureVerificationAlgorithm],
    now: i64,
) -> Result<(), VerifyError> {
    let mut verdict = Ok(());
    for (i, der) in chain.iter().enumerate() {
        if let Err(e) = check_one(der, chain.get(i + 1).copied(), crls, algs, now) {
            verdict = Err(e);
        }
    }
    verdict
}

/// One certificate of a chain and its issuer (the next one up; `None` at the top).
fn check_one(
    der: &[u8],
    up: Option<&[u8]>,
    crls: &[Crl],
    algs: &[&dyn SignatureVerificationAlgorithm],
    now: i64,
) -> Result<(), VerifyError> {
    const NO_CRL: VerifyError = (3, "unable to get certificate CRL");
    let cert = fields(der).ok_or(NO_CRL)?;
    // A root issued itself.
    let issuer = match up {
        Some(up) => fields(up),
        None if cert.issuer == cert.subject => Some(cert),
        None => None,
    }
    .ok_or(NO_CRL)?;
    let crl = crls
        .iter()
        .find(|c| c.issuer == cert.issuer)
        .ok_or(NO_CRL)?;
    if crl.this_update > now {
        return Err((11, "CRL is not yet valid"));
    }
    if crl.next_update.is_some_and(|t| t < now) {
        return Err((12, "CRL has expired"));
    }
    if !crl.signed_by(issuer.spki, algs) {
        return Err((8, "CRL signature failure"));
    }
    if crl.revoked.iter().any(|s| s.as_slice() == cert.serial) {
        return Err((23, "certificate revoked"));
    }
    Ok(())
}
