//! nginx's `ngx_crypt`: the password schemes of htpasswd files. `$apr1$` (Apache's MD5),
//! `{PLAIN}`, `{SHA}` and `{SSHA}` are computed here, as nginx computes them; anything else
//! (`$1$`, `$5$`, `$6$`, `$2y$`, `$y$`, traditional DES) goes to the system's `crypt(3)`
//! (libxcrypt on Debian), as nginx's `ngx_libc_crypt` does.

use super::digest::{base64_decode, base64_encode, md5, sha1};

/// `ngx_crypt(key, salt)`: the stored form `key` would have with the stored value's salt
/// and scheme; the caller compares it with the stored value. `Err` when the system's
/// `crypt` fails (nginx answers 500 after its `crypt_r() failed` line).
pub fn crypt(key: &[u8], salt: &[u8]) -> Result<Vec<u8>, std::io::Error> {
    // nginx passes both as C strings: a NUL ends them.
    let key = &key[..memchr::memchr(0, key).unwrap_or(key.len())];
    if let Some(rest) = salt.strip_prefix(b"$apr1$") {
        return Ok(apr1(key, rest));
    }
    if salt.starts_with(b"{PLAIN}") {
        return Ok([&b"{PLAIN}"[..], key].concat());
    }
    if let Some(rest) = salt.strip_prefix(b"{SSHA}") {
        return Ok(ssha(key, rest));
    }
    if salt.starts_with(b"{SHA}") {
        let mut out = b"{SHA}".to_vec();
        base64_encode(&sha1(&[key]), &mut out);
        return Ok(out);
    }
    crate::sys::crypt(key, salt)
}

/// Poul-Henning Kamp's MD5 crypt with Apache's `$apr1$` magic (`ngx_crypt_apr1`).
fn apr1(key: &[u8], salt: &[u8]) -> Vec<u8> {
    let end = salt
        .iter()
        .take(8)
        .position(|&c| c == b'$')
        .unwrap_or(salt.len().min(8));
    let salt = &salt[..end];
    let alt = md5(&[key, salt, key]);
    let mut parts: Vec<&[u8]> = vec![key, b"$apr1$", salt];
    let mut n = key.len();
    while n > 0 {
        let take = n.min(16);
        parts.push(&alt[..take]);
        n -= take;
    }
    let zero = [0u8; 1];
    let mut i = key.len();
    while i != 0 {
        parts.push(if i & 1 != 0 {
            &zero[..]
        } else {
            &key[..key.len().min(1)]
        });
        i >>= 1;
    }
    let mut fin = md5(&parts);
    for i in 0..1000 {
        let mut p: Vec<&[u8]> = Vec::with_capacity(4);
        let prev = fin;
        p.push(if i & 1 != 0 { key } else { &prev[..] });
        if i % 3 != 0 {
            p.push(salt);
        }
        if i % 7 != 0 {
            p.push(key);
        }
        p.push(if i & 1 != 0 { &prev[..] } else { key });
        fin = md5(&p);
    }
    let mut out = b"$apr1$".to_vec();
    out.extend_from_slice(salt);
    out.push(b'$');
    let f = |i: usize| u32::from(fin[i]);
    to64(&mut out, (f(0) << 16) | (f(6) << 8) | f(12), 4);
    to64(&mut out, (f(1) << 16) | (f(7) << 8) | f(13), 4);
    to64(&mut out, (f(2) << 16) | (f(8) << 8) | f(14), 4);
    to64(&mut out, (f(3) << 16) | (f(9) << 8) | f(15), 4);
    to64(&mut out, (f(4) << 16) | (f(10) << 8) | f(5), 4);
    to64(&mut out, f(11), 2);
    out
}

fn to64(out: &mut Vec<u8>, mut v: u32, n: usize) {
    const ITOA64: &[u8; 64] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    for _ in 0..n {
        out.push(ITOA64[(v & 0x3f) as usize]);
        v >>= 6;
    }
}

/// `{SSHA}base64(SHA1(key salt) salt)` (`ngx_crypt_ssha`): a value that does not decode, or
/// decodes short, is taken as 20 zero bytes of digest and no salt, so it never matches.
fn ssha(key: &[u8], encoded: &[u8]) -> Vec<u8> {
    let mut decoded = match base64_decode(encoded) {
        Some(d) if d.len() >= 20 => d,
        _ => vec![0u8; 20],
    };
    let digest = sha1(&[key, &decoded[20..]]);
    decoded[..20].copy_from_slice(&digest);
    let mut out = b"{SSHA}".to_vec();
    base64_encode(&decoded, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nginx_tests_vectors() {
        // The values of nginx's auth_basic.t, all for the password "password".
        for stored in [
            &b"$apr1$salt$Xxd1irWT9ycqoYxGFn4cb."[..],
            b"{PLAIN}password",
            b"{SSHA}yI6cZwQadOA1e+/f+T+H3eCQQhRzYWx0",
            b"{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=",
        ] {
            assert_eq!(crypt(b"password", stored).unwrap(), stored);
            assert_ne!(crypt(b"123", stored).unwrap(), stored);
        }
        for broken in [
            &b"$apr1$"[..],
            b"{SSHA}_____wQadOA1e+/f+T+H3eCQQhRzYWx0",
            b"{SSHA}Zm9vCg==",
            b"{SHA}Zm9vCg==",
        ] {
            assert_ne!(crypt(b"1", broken).unwrap(), broken);
        }
    }

    #[test]
    fn system_crypt() {
        let des = crypt(b"password", b"salt").unwrap();
        assert_eq!(crypt(b"password", &des).unwrap(), des);
        // MD5, SHA-256 and SHA-512 crypt, as glibc's crypt(3) makes them.
        for salt in [&b"$1$salt$"[..], b"$5$salt$", b"$6$salt$"] {
            let hashed = crypt(b"password", salt).unwrap();
            assert!(
                hashed.starts_with(salt) && hashed.len() > salt.len() + 20,
                "{}",
                String::from_utf8_lossy(&hashed)
            );
            assert_eq!(crypt(b"password", &hashed).unwrap(), hashed);
            assert_ne!(crypt(b"123", &hashed).unwrap(), hashed);
        }
        // Known values (`openssl passwd -1/-5/-6 -salt salt password`).
        for known in [
            &b"$1$salt$qJH7.N4xYta3aEG/dfqo/0"[..],
            b"$5$salt$Gcm6FsVtF/Qa77ZKD.iwsJlCVPY0XSMgLJL0Hnww/c1",
            b"$6$salt$IxDD3jeSOb5eB1CX5LBsqZFVkJdido3OUILO5Ifz5iwMuTS4XMS130MTSuDDl3aCI6WouIL9AjRbLCelDCy.g.",
        ] {
            assert_eq!(crypt(b"password", known).unwrap(), known);
        }
    }
}
