//! Session tickets under keys every worker shares: the keys are made (or read from the
//! `ssl_session_ticket_key` files) when the configuration is loaded in the master, so the
//! workers forked from it encrypt and decrypt alike, and any worker resumes a session
//! another one began. As in nginx, the first key encrypts and every key decrypts (a file
//! list rotated by the operator keeps old tickets valid for one more reload); random keys
//! live as long as the configuration.
//!
//! A ticket is `key name (16) | nonce (12) | AES-GCM(issued (8) | state) | tag (16)`;
//! `issued` (seconds since the epoch) lets a ticket older than `ssl_session_timeout` be
//! refused, as OpenSSL refuses the session it carries (rustls does not look at a
//! ticket's age). A key file holds
//! nginx's 80 bytes (name, 32-byte HMAC key, 32-byte AES key: AES-256-GCM under the AES key)
//! or 48 bytes (name, 16, 16: AES-128-GCM).

use aws_lc_rs::aead::{AES_128_GCM, AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use rustls::server::ProducesTickets;

const NAME_LEN: usize = 16;
const TAG_LEN: usize = 16;
const ISSUED_LEN: usize = 8;

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

struct Key {
    name: [u8; NAME_LEN],
    aead: LessSafeKey,
}

/// The tickets of one server block.
pub struct Ticketer {
    keys: Vec<Key>,
    lifetime_secs: u32,
}

impl std::fmt::Debug for Ticketer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ticketer")
            .field("keys", &self.keys.len())
            .finish()
    }
}

fn key_from(bytes: &[u8]) -> Option<Key> {
    let (alg, aes) = match bytes.len() {
        80 => (&AES_256_GCM, &bytes[48..80]),
        48 => (&AES_128_GCM, &bytes[32..48]),
        _ => return None,
    };
    let mut name = [0u8; NAME_LEN];
    name.copy_from_slice(&bytes[..NAME_LEN]);
    let aead = LessSafeKey::new(UnboundKey::new(alg, aes).ok()?);
    Some(Key { name, aead })
}

impl Ticketer {
    /// Keys from `ssl_session_ticket_key` files (already read), or one random key.
    pub fn new(files: &[(String, Vec<u8>)], lifetime_secs: u32) -> Result<Ticketer, String> {
        let mut keys = Vec::new();
        for (path, bytes) in files {
            keys.push(key_from(bytes).ok_or_else(|| format!("\"{path}\" must be 80 or 48 bytes"))?);
        }
        if keys.is_empty() {
            let mut bytes = [0u8; 80];
            aws_lc_rs::rand::fill(&mut bytes).map_err(|_| "RAND_bytes() failed".to_string())?;
            keys.push(key_from(&bytes).ok_or("ticket key")?);
        }
        Ok(Ticketer {
            keys,
            lifetime_secs,
        })
    }
}

impl ProducesTickets for Ticketer {
    fn enabled(&self) -> bool {
        true
    }

    fn lifetime(&self) -> u32 {
        self.lifetime_secs
    }

    fn encrypt(&self, plain: &[u8]) -> Option<Vec<u8>> {
        let key = self.keys.first()?;
        let mut nonce = [0u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut nonce).ok()?;
        let mut out = Vec::with_capacity(NAME_LEN + NONCE_LEN + plain.len() + TAG_LEN);
        out.extend_from_slice(&key.name);
        out.extend_from_slice(&nonce);
        let mut sealed = Vec::with_capacity(ISSUED_LEN + plain.len() + TAG_LEN);
        sealed.extend_from_slice(&now_secs().to_be_bytes());
        sealed.extend_from_slice(plain);
        key.aead
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(&key.name),
                &mut sealed,
            )
            .ok()?;
        out.extend_from_slice(&sealed);
        Some(out)
    }

    fn decrypt(&self, cipher: &[u8]) -> Option<Vec<u8>> {
        if cipher.len() < NAME_LEN + NONCE_LEN + TAG_LEN {
            return None;
        }
        let (name, rest) = cipher.split_at(NAME_LEN);
        let (nonce, sealed) = rest.split_at(NONCE_LEN);
        let key = self.keys.iter().find(|k| k.name == name)?;
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut buf = sealed.to_vec();
        let plain = key
            .aead
            .open_in_place(nonce, Aad::from(&key.name), &mut buf)
            .ok()?;
        let (issued, _) = plain.split_first_chunk::<ISSUED_LEN>()?;
        let age = now_secs().saturating_sub(u64::from_be_bytes(*issued));
        if age > u64::from(self.lifetime_secs) {
            return None;
        }
        let n = plain.len();
        buf.truncate(n);
        buf.drain(..ISSUED_LEN);
        Some(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_rotation() {
        let old = vec![7u8; 80];
        let mut new = vec![9u8; 80];
        new[0] = 1;
        let t_old = Ticketer::new(&[("old".into(), old.clone())], 300).unwrap();
        let t_new = Ticketer::new(&[("new".into(), new), ("old".into(), old)], 300).unwrap();
        let ticket = t_old.encrypt(b"state").unwrap();
        assert_eq!(t_new.decrypt(&ticket).unwrap(), b"state");
        let mut bad = ticket.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert!(t_new.decrypt(&bad).is_none());
        assert!(Ticketer::new(&[("x".into(), vec![0; 10])], 300).is_err());
        let short = Ticketer::new(&[("s".into(), vec![3u8; 48])], 300).unwrap();
        assert_eq!(short.decrypt(&short.encrypt(b"a").unwrap()).unwrap(), b"a");
        // Older than the lifetime (`ssl_session_timeout`): refused.
        let expired = Ticketer::new(&[("e".into(), vec![5u8; 80])], 0).unwrap();
        let key = &expired.keys[0];
        let mut nonce = [0u8; NONCE_LEN];
        nonce[0] = 1;
        let mut sealed = (now_secs() - 5).to_be_bytes().to_vec();
        sealed.extend_from_slice(b"state");
        key.aead
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(&key.name),
                &mut sealed,
            )
            .unwrap();
        let old = [&key.name[..], &nonce[..], &sealed[..]].concat();
        assert!(expired.decrypt(&old).is_none());
        let fresh = Ticketer::new(&[("e".into(), vec![5u8; 80])], 10).unwrap();
        assert_eq!(fresh.decrypt(&old).unwrap(), b"state");
    }
}
