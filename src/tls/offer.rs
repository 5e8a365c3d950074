//! What the client offered in its hello, kept for `$ssl_ciphers` (its cipher suites) and
//! `$ssl_curves` (its groups), and written with OpenSSL's names as nginx writes them: a
//! suite OpenSSL does not know (GREASE values among them) as `0x` and its two bytes in hex,
//! a group as `0x` and four hex digits.

use rustls::server::ClientHello;

/// The client's cipher suites and groups, in its order.
#[derive(Debug, Clone, Default)]
pub struct Offered {
    /// Cipher suite code points.
    pub ciphers: Vec<u16>,
    /// Supported-groups code points.
    pub groups: Vec<u16>,
}

impl Offered {
    /// What `hello` offers.
    pub fn of(hello: &ClientHello<'_>) -> Offered {
        Offered {
            ciphers: hello
                .cipher_suites()
                .iter()
                .map(|c| u16::from(*c))
                .collect(),
            groups: hello
                .named_groups()
                .map(|g| g.iter().map(|g| u16::from(*g)).collect())
                .unwrap_or_default(),
        }
    }

    /// `$ssl_ciphers`: the offered suites, `:`-separated.
    pub fn write_ciphers(&self, out: &mut Vec<u8>) {
        for (i, &c) in self.ciphers.iter().enumerate() {
            if i > 0 {
                out.push(b':');
            }
            match cipher_name(c) {
                Some(name) => out.extend_from_slice(name.as_bytes()),
                None => out.extend_from_slice(format!("0x{c:04x}").as_bytes()),
            }
        }
    }

    /// `$ssl_curves`: the offered groups, `:`-separated.
    pub fn write_curves(&self, out: &mut Vec<u8>) {
        for (i, &g) in self.groups.iter().enumerate() {
            if i > 0 {
                out.push(b':');
            }
            match group_name(g) {
                Some(name) => out.extend_from_slice(name.as_bytes()),
                None => out.extend_from_slice(format!("0x{g:04x}").as_bytes()),
            }
        }
    }
}

/// OpenSSL 3.0's short name of a group (what nginx 1.22 on it prints).
fn group_name(g: u16) -> Option<&'static str> {
    Some(match g {
        0x0017 => "prime256v1",
        0x0018 => "secp384r1",
        0x0019 => "secp521r1",
        0x001d => "X25519",
        0x001e => "X448",
        0x001a => "brainpoolP256r1",
        0x001b => "brainpoolP384r1",
        0x001c => "brainpoolP512r1",
        0x0100 => "ffdhe2048",
        0x0101 => "ffdhe3072",
        0x0102 => "ffdhe4096",
        0x0103 => "ffdhe6144",
        0x0104 => "ffdhe8192",
        _ => return None,
    })
}

/// OpenSSL's name of a cipher suite clients commonly offer (`openssl ciphers -V`).
fn cipher_name(c: u16) -> Option<&'static str> {
    Some(match c {
        0x1301 => "TLS_AES_128_GCM_SHA256",
        0x1302 => "TLS_AES_256_GCM_SHA384",
        0x1303 => "TLS_CHACHA20_POLY1305_SHA256",
        0x1304 => "TLS_AES_128_CCM_SHA256",
        0x1305 => "TLS_AES_128_CCM_8_SHA256",
        0xc02b => "ECDHE-ECDSA-AES128-GCM-SHA256",
        0xc02c => "ECDHE-ECDSA-AES256-GCM-SHA384",
        0xc02f => "ECDHE-RSA-AES128-GCM-SHA256",
        0xc030 => "ECDHE-RSA-AES256-GCM-SHA384",
        0xcca8 => "ECDHE-RSA-CHACHA20-POLY1305",
        0xcca9 => "ECDHE-ECDSA-CHACHA20-POLY1305",
        0xccaa => "DHE-RSA-CHACHA20-POLY1305",
        0x009e => "DHE-RSA-AES128-GCM-SHA256",
        0x009f => "DHE-RSA-AES256-GCM-SHA384",
        0x009c => "AES128-GCM-SHA256",
        0x009d => "AES256-GCM-SHA384",
        0xc023 => "ECDHE-ECDSA-AES128-SHA256",
        0xc024 => "ECDHE-ECDSA-AES256-SHA384",
        0xc027 => "ECDHE-RSA-AES128-SHA256",
        0xc028 => "ECDHE-RSA-AES256-SHA384",
        0x0067 => "DHE-RSA-AES128-SHA256",
        0x006b => "DHE-RSA-AES256-SHA256",
        0x003c => "AES128-SHA256",
        0x003d => "AES256-SHA256",
        0xc009 => "ECDHE-ECDSA-AES128-SHA",
        0xc00a => "ECDHE-ECDSA-AES256-SHA",
        0xc013 => "ECDHE-RSA-AES128-SHA",
        0xc014 => "ECDHE-RSA-AES256-SHA",
        0x0033 => "DHE-RSA-AES128-SHA",
        0x0039 => "DHE-RSA-AES256-SHA",
        0x002f => "AES128-SHA",
        0x0035 => "AES256-SHA",
        0x000a => "DES-CBC3-SHA",
        0xc0ac => "ECDHE-ECDSA-AES128-CCM",
        0xc0ad => "ECDHE-ECDSA-AES256-CCM",
        0xc0ae => "ECDHE-ECDSA-AES128-CCM8",
        0xc0af => "ECDHE-ECDSA-AES256-CCM8",
        0xc09c => "AES128-CCM",
        0xc09d => "AES256-CCM",
        0xc09e => "DHE-RSA-AES128-CCM",
        0xc09f => "DHE-RSA-AES256-CCM",
        0x00ff => "TLS_EMPTY_RENEGOTIATION_INFO_SCSV",
        0x5600 => "TLS_FALLBACK_SCSV",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_values_are_hex() {
        let o = Offered {
            ciphers: vec![0x0a0a, 0x1302, 0xc02c, 0x00ff],
            groups: vec![0x11ec, 0x001d, 0x0017],
        };
        let mut out = Vec::new();
        o.write_ciphers(&mut out);
        assert_eq!(
            out,
            b"0x0a0a:TLS_AES_256_GCM_SHA384:ECDHE-ECDSA-AES256-GCM-SHA384:TLS_EMPTY_RENEGOTIATION_INFO_SCSV"
        );
        let mut out = Vec::new();
        o.write_curves(&mut out);
        assert_eq!(out, b"0x11ec:X25519:prime256v1");
    }
}
