//! Chain verification shared by client certificates (`ssl_verify_client`) and upstream
//! certificates (`proxy_ssl_verify`): webpki's path building, OpenSSL's acceptance of a
//! CA certificate as the leaf, and the CRL check of the whole chain (`crl.rs`).

use rustls::pki_types::{CertificateDer, UnixTime};

use super::client_auth::openssl_verify_error;

/// The verdict on `cert`'s chain to `anchors` (trusted certificates): webpki's path
/// building with at most `depth` intermediates (`*_verify_depth`, as OpenSSL 1.1+ counts
/// them), then, where there are `crls`, each certificate of the path checked against them
/// (`crl.rs`, as OpenSSL's `CRL_CHECK_ALL`). `Err` is OpenSSL's verify code and text.
/// Shared by the client certificates of `ssl_verify_client` and the upstream certificates
/// of `proxy_ssl_verify`.
pub(super) fn verify_path(
    cert: &webpki::EndEntityCert<'_>,
    intermediates: &[CertificateDer<'_>],
    (anchors, crls, depth): (&[CertificateDer<'static>], &[super::crl::Crl], usize),
    algs: &[&dyn rustls::pki_types::SignatureVerificationAlgorithm],
    now: UnixTime,
    usage: webpki::KeyUsage,
) -> Result<(), (u32, &'static str)> {
    let args = (anchors, depth, algs, now, usage);
    with_verified_path(cert, intermediates, args, |verified| {
        let path = match verified {
            Ok(path) => path,
            Err(webpki::Error::CaUsedAsEndEntity) => {
                let leaf = cert.der();
                let secs = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
                let chain = ca_leaf_chain(&leaf, intermediates, anchors, depth, algs, secs)?;
                if crls.is_empty() {
                    return Ok(());
                }
                return super::crl::check_chain(&chain, crls, algs, secs);
            }
            Err(e) => return Err(openssl_verify_error(&e)),
        };
        if crls.is_empty() {
            return Ok(());
        }
        let Some(owned) = path_to_root(&path, anchors, algs) else {
            return Err((3, "unable to get certificate CRL"));
        };
        let chain: Vec<&[u8]> = owned.iter().map(Vec::as_slice).collect();
        let now = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
        super::crl::check_chain(&chain, crls, algs, now)
    })
}

/// The arguments of webpki's path building: trusted certificates, OpenSSL's depth (the most
/// intermediates), signature algorithms, the time and the key usage wanted.
type WebpkiArgs<'a> = (
    &'a [CertificateDer<'static>],
    usize,
    &'a [&'a dyn rustls::pki_types::SignatureVerificationAlgorithm],
    UnixTime,
    webpki::KeyUsage,
);

/// webpki's path building for `cert` with at most `depth` intermediates, its outcome handed
/// to `then` (the verified path borrows the trust anchors made here).
fn with_verified_path<R>(
    cert: &webpki::EndEntityCert<'_>,
    intermediates: &[CertificateDer<'_>],
    (anchors, depth, algs, now, usage): WebpkiArgs<'_>,
    then: impl FnOnce(Result<webpki::VerifiedPath<'_>, webpki::Error>) -> R,
) -> R {
    let trust: Vec<_> = anchors
        .iter()
        .filter_map(|a| webpki::anchor_from_trusted_cert(a).ok())
        .collect();
    let too_long = |path: &webpki::VerifiedPath<'_>| {
        if path.intermediate_certificates().count() > depth {
            Err(webpki::Error::MaximumPathDepthExceeded)
        } else {
            Ok(())
        }
    };
    then(cert.verify_for_usage(
        algs,
        &trust,
        intermediates,
        now,
        usage,
        None,
        Some(&too_long),
    ))
}

/// The chain OpenSSL builds for a verified `path`: leaf, intermediates, the anchor's
/// certificate, and on from a trusted intermediate up through the trusted certificates to
/// its root (OpenSSL goes on to the root where webpki stops at the first anchor). `None`
/// where the anchor's certificate is not among `anchors`.
fn path_to_root(
    path: &webpki::VerifiedPath<'_>,
    anchors: &[CertificateDer<'static>],
    algs: &[&dyn rustls::pki_types::SignatureVerificationAlgorithm],
) -> Option<Vec<Vec<u8>>> {
    let anchor_subject = path.anchor().subject.as_ref();
    let root = anchors.iter().find(|a| {
        super::x509::fields(a)
            .and_then(|f| super::x509::element(f.subject))
            .is_some_and(|(_, _, inner, _)| inner == anchor_subject)
    })?;
    let mut chain: Vec<Vec<u8>> = vec![path.end_entity().der().to_vec()];
    chain.extend(path.intermediate_certificates().map(|c| c.der().to_vec()));
    chain.push(root.to_vec());
    extend_to_root(&mut chain, anchors, algs);
    Some(chain)
}

/// Goes on from the chain's last certificate to the trusted certificates above it, up to
/// a self-issued one.
fn extend_to_root(
    chain: &mut Vec<Vec<u8>>,
    anchors: &[CertificateDer<'static>],
    algs: &[&dyn rustls::pki_types::SignatureVerificationAlgorithm],
) {
    for _ in 0..anchors.len() {
        let Some(top) = chain.last().and_then(|c| super::x509::fields(c)) else {
            break;
        };
        let Some(signed) = chain.last().and_then(|c| super::x509::signed_parts(c)) else {
            break;
        };
        if top.issuer == top.subject {
            break;
        }
        let up = anchors.iter().map(|a| a.as_ref()).find(|a| {
            !chain.iter().any(|c| c.as_slice() == *a)
                && super::x509::fields(a).is_some_and(|f| {
                    f.subject == top.issuer && super::x509::signed_by(signed, f.spki, algs)
                })
        });
        match up {
            Some(a) => chain.push(a.to_vec()),
            None => break,
        }
    }
}

/// The verified chain of `cert` (leaf first, up to the root OpenSSL's
/// `SSL_get0_verified_chain` would end with), for the OCSP checks of `ssl_ocsp`; `None`
/// where the chain does not verify.
pub(super) fn verified_chain(
    cert: &webpki::EndEntityCert<'_>,
    intermediates: &[CertificateDer<'_>],
    (anchors, depth): (&[CertificateDer<'static>], usize),
    algs: &[&dyn rustls::pki_types::SignatureVerificationAlgorithm],
    now: UnixTime,
    usage: webpki::KeyUsage,
) -> Option<Vec<Vec<u8>>> {
    let leaf = cert.der();
    if anchors.iter().any(|a| a.as_ref() == leaf.as_ref()) {
        // A trusted certificate presented as it is (`ClientTrust::check`).
        let mut chain = vec![leaf.to_vec()];
        extend_to_root(&mut chain, anchors, algs);
        return Some(chain);
    }
    let args = (anchors, depth, algs, now, usage);
    with_verified_path(cert, intermediates, args, |verified| match verified {
        Ok(path) => path_to_root(&path, anchors, algs),
        Err(webpki::Error::CaUsedAsEndEntity) => {
            let secs = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
            let chain = ca_leaf_chain(&leaf, intermediates, anchors, depth, algs, secs).ok()?;
            Some(chain.into_iter().map(<[u8]>::to_vec).collect())
        }
        Err(_) => None,
    })
}

/// The chain of a CA certificate presented as a client's or upstream's own, which OpenSSL
/// takes (its purpose checks do not refuse `CA:TRUE` on a leaf) and webpki refuses: each
/// certificate's issuer is looked for among the trusted certificates, then among the
/// intermediates that are CAs, its signature and validity checked, up to a self-signed
/// trusted one (or a trusted one whose issuer is not known), as OpenSSL builds it; at most
/// `depth` certificates between the leaf and the last. Leaf first.
fn ca_leaf_chain<'a>(
    leaf: &'a [u8],
    intermediates: &'a [CertificateDer<'_>],
    anchors: &'a [CertificateDer<'static>],
    depth: usize,
    algs: &[&dyn rustls::pki_types::SignatureVerificationAlgorithm],
    now: i64,
) -> Result<Vec<&'a [u8]>, (u32, &'static str)> {
    use super::x509::{fields, is_ca, signed_by, signed_parts};
    let mut chain = vec![leaf];
    let trusted = |c: &[u8]| anchors.iter().any(|a| a.as_ref() == c);
    // Each step adds one certificate not in the chain yet: the loop is bounded.
    for _ in 0..=intermediates.len() + anchors.len() {
        let Some(&current) = chain.last() else { break };
        let Some(f) = fields(current) else {
            return Err((20, "unable to get local issuer certificate"));
        };
        match super::dn::validity(f.validity) {
            Some((start, _)) if start > now => return Err((9, "certificate is not yet valid")),
            Some((_, end)) if end < now => return Err((10, "certificate has expired")),
            Some(_) => {}
            None => return Err((13, "format error in certificate's notBefore field")),
        }
        let self_issued = f.issuer == f.subject;
        let at_anchor = chain.len() > 1 && trusted(current);
        if at_anchor && self_issued {
            break;
        }
        let Some(signed) = signed_parts(current) else {
            return Err((7, "certificate signature failure"));
        };
        let issued = |c: &&'a [u8]| {
            !chain.contains(c)
                && fields(c)
                    .is_some_and(|i| i.subject == f.issuer && signed_by(signed, i.spki, algs))
        };
        let issuer = anchors.iter().map(|a| a.as_ref()).find(issued).or_else(|| {
            intermediates
                .iter()
                .map(|c| c.as_ref())
                .filter(|c| is_ca(c))
                .find(issued)
        });
        match issuer {
            Some(c) => chain.push(c),
            None if at_anchor => break,
            None if self_issued => {
                return Err((19, "self-signed certificate in certificate chain"));
            }
            None => return Err((20, "unable to get local issuer certificate")),
        }
    }
    if chain.len().saturating_sub(2) > depth {
        return Err((22, "certificate chain too long"));
    }
    Ok(chain)
}
