//! Encrypted private keys and `ssl_password_file` (nginx's `ngx_ssl_read_password_file` and
//! the password loop of `ngx_ssl_load_certificate_key`): the passwords are tried in the
//! file's order, and the first that decrypts the key wins.
//!
//! Two PEM forms are read, the ones `openssl` writes:
//! - PKCS#8 `ENCRYPTED PRIVATE KEY` with PBES2 (PBKDF2 under HMAC-SHA1/-SHA256/-SHA384/
//!   -SHA512, then AES-128/192/256-CBC): what OpenSSL 3 writes for `genrsa -aes128`,
//!   `pkey -aes256`, `genpkey -aes-128-cbc`.
//! - the traditional form, a `Proc-Type: 4,ENCRYPTED` header with `DEK-Info: AES-*-CBC,IV`
//!   (OpenSSL 1.x's `genrsa -aes256`, `rsa -aes128 -traditional`), the key made from the
//!   password by `EVP_BytesToKey` with MD5.
//!
//! DES and 3DES (`-des3`, PBES1) are refused with the reason: aws-lc-rs has them only
//! behind a feature that needs bindings this build does not generate. Decryption uses the
//! aws-lc-rs primitives rustls already links (PBKDF2, AES-CBC).

use std::num::NonZeroU32;

use aws_lc_rs::cipher::{
    AES_128, AES_192, AES_256, Algorithm, DecryptionContext, PaddedBlockDecryptingKey,
    UnboundCipherKey,
};
use aws_lc_rs::iv::FixedLength;
use aws_lc_rs::pbkdf2;
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs1KeyDer, PrivatePkcs8KeyDer, PrivateSec1KeyDer};

use super::x509::element;

/// nginx's `NGX_SSL_PASSWORD_BUFFER_SIZE`: the longest line of a password file.
const PASSWORD_LINE_MAX: usize = 4096;

/// The passwords of an `ssl_password_file`, as nginx reads them: one a line, a trailing CR
/// dropped, empty lines skipped; a file without any gives one empty password.
pub fn read_password_file(bytes: &[u8], name: &str) -> Result<Vec<Vec<u8>>, String> {
    let mut passwords = Vec::new();
    for line in bytes.split(|&b| b == b'\n') {
        if line.len() >= PASSWORD_LINE_MAX {
            return Err(format!("too long line in \"{name}\""));
        }
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if !line.is_empty() {
            passwords.push(line.to_vec());
        }
    }
    if passwords.is_empty() {
        passwords.push(Vec::new());
    }
    Ok(passwords)
}

/// How a PEM key is wrapped.
enum Wrapped {
    /// PKCS#8 `EncryptedPrivateKeyInfo` (the DER).
    Pkcs8(Vec<u8>),
    /// A traditional key (`RSA`/`EC`/plain `PRIVATE KEY` label) under `DEK-Info`.
    Traditional {
        /// The PEM label, which says what the decrypted DER is.
        label: String,
        /// The `DEK-Info` cipher name.
        cipher: String,
        /// The `DEK-Info` IV (hex-decoded).
        iv: Vec<u8>,
        /// The encrypted DER.
        data: Vec<u8>,
    },
}

/// Decrypts `pem`'s private key with the first of `passwords` that fits. `Ok(None)`: the
/// key is not encrypted (the caller reads it as usual). `passwords` empty: no
/// `ssl_password_file` was given.
pub fn decrypt(
    pem: &[u8],
    passwords: &[Vec<u8>],
) -> Result<Option<PrivateKeyDer<'static>>, String> {
    let Some(wrapped) = find_encrypted(pem)? else {
        return Ok(None);
    };
    if passwords.is_empty() {
        return Err(
            "PEM_read_bio_PrivateKey() failed (the key is encrypted and no \
             \"ssl_password_file\" gives its password)"
                .to_string(),
        );
    }
    for password in passwords {
        let key = match &wrapped {
            Wrapped::Pkcs8(der) => pkcs8(der, password)?.map(|k| PrivateKeyDer::Pkcs8(k.into())),
            Wrapped::Traditional {
                label,
                cipher,
                iv,
                data,
            } => traditional(cipher, iv, data, password)?.map(|der| match label.as_str() {
                "RSA PRIVATE KEY" => PrivateKeyDer::Pkcs1(PrivatePkcs1KeyDer::from(der)),
                "EC PRIVATE KEY" => PrivateKeyDer::Sec1(PrivateSec1KeyDer::from(der)),
                _ => PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(der)),
            }),
        };
        if let Some(key) = key {
            return Ok(Some(key));
        }
    }
    Err(
        "PEM_read_bio_PrivateKey() failed (SSL: error:1C800064:Provider routines::bad decrypt)"
            .to_string(),
    )
}

/// The first private key block of `pem`, when it is encrypted.
fn find_encrypted(pem: &[u8]) -> Result<Option<Wrapped>, String> {
    let text = String::from_utf8_lossy(pem);
    let mut lines = text.lines().map(str::trim);
    while let Some(line) = lines.next() {
        let Some(label) = line
            .strip_prefix("-----BEGIN ")
            .and_then(|l| l.strip_suffix("-----"))
        else {
            continue;
        };
        if !label.ends_with("PRIVATE KEY") {
            continue;
        }
        let mut headers = Vec::new();
        let mut body = Vec::new();
        for line in lines.by_ref() {
            if line.starts_with("-----END ") {
                break;
            }
            match line.split_once(':') {
                Some((name, value)) => headers.push((name.trim(), value.trim())),
                None => body.extend(line.bytes().filter(|b| !b.is_ascii_whitespace())),
            }
        }
        let der = || {
            crate::auth_basic::digest::base64_decode(&body)
                .ok_or_else(|| "PEM_read_bio_PrivateKey() failed (bad base64 decode)".to_string())
        };
        if label == "ENCRYPTED PRIVATE KEY" {
            return Ok(Some(Wrapped::Pkcs8(der()?)));
        }
        let encrypted = headers
            .iter()
            .any(|(n, v)| *n == "Proc-Type" && v.ends_with("ENCRYPTED"));
        if !encrypted {
            return Ok(None);
        }
        let Some((cipher, iv)) = headers
            .iter()
            .find(|(n, _)| *n == "DEK-Info")
            .and_then(|(_, v)| v.split_once(','))
        else {
            return Err("PEM_read_bio_PrivateKey() failed (no DEK-Info header)".to_string());
        };
        let iv = hex(iv.trim())
            .ok_or_else(|| "PEM_read_bio_PrivateKey() failed (bad iv chars)".to_string())?;
        return Ok(Some(Wrapped::Traditional {
            label: label.to_string(),
            cipher: cipher.trim().to_ascii_uppercase(),
            iv,
            data: der()?,
        }));
    }
    Ok(None)
}

/// The bytes of a hex string.
fn hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The AES of a cipher name (`DEK-Info`) and its key length, or why it cannot be used.
fn aes_by_name(name: &str) -> Result<(&'static Algorithm, usize), String> {
    match name {
        "AES-128-CBC" => Ok((&AES_128, 16)),
        "AES-192-CBC" => Ok((&AES_192, 24)),
        "AES-256-CBC" => Ok((&AES_256, 32)),
        _ => Err(unsupported(name)),
    }
}

/// The error for a cipher Portico cannot decrypt with.
fn unsupported(name: &str) -> String {
    format!(
        "PEM_read_bio_PrivateKey() failed (the key is encrypted with {name}, which Portico \
         cannot decrypt: only AES-CBC keys are read; re-encrypt it with \"openssl pkey -in KEY \
         -aes256 -out NEWKEY\")"
    )
}

/// Decrypts `data` under AES-CBC with PKCS#7 padding; `None` where the padding is wrong
/// (a wrong password, almost always) or the result is not one whole DER element.
fn aes_cbc(alg: &'static Algorithm, key: &[u8], iv: &[u8], data: &[u8]) -> Option<Vec<u8>> {
    let iv: [u8; 16] = iv.try_into().ok()?;
    let key = PaddedBlockDecryptingKey::cbc_pkcs7(UnboundCipherKey::new(alg, key).ok()?).ok()?;
    let mut buf = data.to_vec();
    let plain = key
        .decrypt(&mut buf, DecryptionContext::Iv128(FixedLength::from(iv)))
        .ok()?;
    // A wrong key passes the padding check about once in 256 tries: the DER decides.
    let (tag, whole, _, rest) = element(plain)?;
    (tag == 0x30 && rest.is_empty() && whole.len() == plain.len()).then(|| plain.to_vec())
}

/// OpenSSL's `EVP_BytesToKey` with MD5 and one round: the traditional PEM key derivation.
fn bytes_to_key(password: &[u8], salt: &[u8], len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 16);
    let mut prev: Option<[u8; 16]> = None;
    while out.len() < len {
        let d = match &prev {
            Some(p) => crate::cache::md5::md5(&[p, password, salt]),
            None => crate::cache::md5::md5(&[password, salt]),
        };
        out.extend_from_slice(&d);
        prev = Some(d);
    }
    out.truncate(len);
    out
}

/// A traditional key decrypted with `password`; `Ok(None)`: not this password.
fn traditional(
    cipher: &str,
    iv: &[u8],
    data: &[u8],
    password: &[u8],
) -> Result<Option<Vec<u8>>, String> {
    let (alg, key_len) = aes_by_name(cipher)?;
    let salt = iv.get(..8).ok_or_else(|| unsupported(cipher))?;
    let key = bytes_to_key(password, salt, key_len);
    Ok(aes_cbc(alg, &key, iv, data))
}

/// OIDs (DER contents) of PKCS#5 v2 and the algorithms it names.
const OID_PBES2: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05, 0x0d];
const OID_PBKDF2: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05, 0x0c];
const OID_HMAC_PREFIX: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x02];
const OID_AES_PREFIX: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01];
const OID_DES_EDE3_CBC: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x03, 0x07];

/// A PKCS#8 `EncryptedPrivateKeyInfo` decrypted with `password`; `Ok(None)`: not this
/// password.
fn pkcs8(der: &[u8], password: &[u8]) -> Result<Option<Vec<u8>>, String> {
    let bad = || "PEM_read_bio_PrivateKey() failed (bad PKCS#8 encryption parameters)".to_string();
    let (_, _, info, _) = element(der).ok_or_else(bad)?;
    let (_, _, alg_id, after) = element(info).ok_or_else(bad)?;
    let (_, _, data, _) = element(after).ok_or_else(bad)?;
    let (_, _, oid, params) = element(alg_id).ok_or_else(bad)?;
    if oid != OID_PBES2 {
        return Err(unsupported("PBES1 (PKCS#5 v1.5 or PKCS#12 PBE)"));
    }
    let (_, _, pbes2, _) = element(params).ok_or_else(bad)?;
    let (_, _, kdf, after_kdf) = element(pbes2).ok_or_else(bad)?;
    let (_, _, enc, _) = element(after_kdf).ok_or_else(bad)?;
    // keyDerivationFunc: PBKDF2 { salt, iterationCount, [keyLength], [prf] }
    let (_, _, kdf_oid, kdf_params) = element(kdf).ok_or_else(bad)?;
    if kdf_oid != OID_PBKDF2 {
        return Err(unsupported("a key derivation other than PBKDF2 (scrypt)"));
    }
    let (_, _, p, _) = element(kdf_params).ok_or_else(bad)?;
    let (_, _, salt, rest) = element(p).ok_or_else(bad)?;
    let (_, _, iterations, mut rest) = element(rest).ok_or_else(bad)?;
    let iterations = iterations
        .iter()
        .try_fold(0u32, |n, &b| n.checked_mul(256).map(|n| n | u32::from(b)))
        .and_then(NonZeroU32::new)
        .ok_or_else(bad)?;
    let mut prf = pbkdf2::PBKDF2_HMAC_SHA1;
    while let Some((tag, _, contents, next)) = element(rest) {
        if tag == 0x30 {
            let (_, _, prf_oid, _) = element(contents).ok_or_else(bad)?;
            prf = match prf_oid.strip_prefix(OID_HMAC_PREFIX) {
                Some([0x07]) => pbkdf2::PBKDF2_HMAC_SHA1,
                Some([0x09]) => pbkdf2::PBKDF2_HMAC_SHA256,
                Some([0x0a]) => pbkdf2::PBKDF2_HMAC_SHA384,
                Some([0x0b]) => pbkdf2::PBKDF2_HMAC_SHA512,
                _ => return Err(unsupported("PBKDF2 under an unknown HMAC")),
            };
        }
        rest = next;
    }
    // encryptionScheme: AES-CBC { iv }
    let (_, _, enc_oid, enc_params) = element(enc).ok_or_else(bad)?;
    let (alg, key_len) = match enc_oid.strip_prefix(OID_AES_PREFIX) {
        Some([0x02]) => (&AES_128, 16),
        Some([0x16]) => (&AES_192, 24),
        Some([0x2a]) => (&AES_256, 32),
        _ if enc_oid == OID_DES_EDE3_CBC => return Err(unsupported("DES-EDE3-CBC")),
        _ => return Err(unsupported("a cipher other than AES-CBC")),
    };
    let (_, _, iv, _) = element(enc_params).ok_or_else(bad)?;
    let mut key = vec![0u8; key_len];
    pbkdf2::derive(prf, iterations, salt, password, &mut key);
    Ok(aes_cbc(alg, &key, iv, data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_file_lines() {
        let p = read_password_file(b"wrong\r\n\nlocalhost\r\n", "f").unwrap();
        assert_eq!(p, vec![b"wrong".to_vec(), b"localhost".to_vec()]);
        assert_eq!(
            read_password_file(b"", "f").unwrap(),
            vec![Vec::<u8>::new()]
        );
        assert_eq!(
            read_password_file(b"last", "f").unwrap(),
            vec![b"last".to_vec()]
        );
        assert!(read_password_file(&[b'x'; 5000], "f").is_err());
    }

    #[test]
    fn bytes_to_key_matches_openssl() {
        // openssl enc -aes-128-cbc -k pass -S 0102030405060708 -P -md md5
        let key = bytes_to_key(b"pass", &[1, 2, 3, 4, 5, 6, 7, 8], 16);
        let hex: String = key.iter().map(|b| format!("{b:02X}")).collect();
        assert_eq!(hex, "86A00079BEB5DCA79870668BB0C56A7E");
        assert_eq!(
            bytes_to_key(b"pass", &[1, 2, 3, 4, 5, 6, 7, 8], 32)[..16],
            key[..]
        );
    }

    #[test]
    fn plain_keys_pass_through() {
        let pem = b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        assert!(decrypt(pem, &[]).unwrap().is_none());
    }
}
