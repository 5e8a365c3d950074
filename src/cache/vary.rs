//! Responses with `Vary`, as nginx keeps them (`ngx_http_file_cache_vary`): the entry's
//! header holds the response's Vary value and the *variant*, an MD5 of the key's MD5 and
//! the request fields Vary names. A request whose variant differs from the one stored
//! under the key looks in a second file named by its own variant (nginx's secondary key),
//! and its response is stored there.

use super::md5;

/// Fields whose values nginx compares token by token (spaces and commas between them
/// do not matter).
const NORMALIZED: &[&[u8]] = &[b"accept-charset", b"accept-encoding", b"accept-language"];

/// The variant of a request whose header fields are `fields` (in order, as sent) for a
/// response that says `Vary: vary`, under the key whose MD5 is `main`.
pub fn variant<'a, I>(main: &[u8; 16], vary: &[u8], fields: I) -> [u8; 16]
where
    I: Iterator<Item = (&'a [u8], &'a [u8])> + Clone,
{
    let mut input = Vec::with_capacity(64);
    input.extend_from_slice(main);
    let vary = vary.to_ascii_lowercase();
    for name in tokens(&vary) {
        input.extend_from_slice(name);
        input.push(b':');
        let normalize = NORMALIZED.contains(&name);
        let mut multiple = false;
        for (_, value) in fields.clone().filter(|(n, _)| n.eq_ignore_ascii_case(name)) {
            if !normalize {
                if multiple {
                    input.push(b',');
                }
                input.extend_from_slice(value);
                multiple = true;
                continue;
            }
            for token in tokens(value) {
                if multiple {
                    input.push(b',');
                }
                input.extend_from_slice(token);
                multiple = true;
            }
        }
        input.extend_from_slice(b"\r\n");
    }
    md5::md5(&[&input])
}

/// The words of `list` between spaces and commas, up to the first empty one (nginx's
/// loop stops there, which is only ever the end).
fn tokens(list: &[u8]) -> impl Iterator<Item = &[u8]> {
    list.split(|&b| b == b' ' || b == b',')
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(d: [u8; 16]) -> String {
        String::from_utf8(md5::hex(&d).to_vec()).unwrap()
    }

    #[test]
    fn the_variant_is_nginx_s() {
        let main = md5::md5(&[b"http://a/x"]);
        let fields: Vec<(&[u8], &[u8])> = vec![
            (b"Host", b"a"),
            (b"Accept-Encoding", b"gzip,  deflate"),
            (b"X-A", b"1"),
            (b"x-a", b"2"),
        ];
        let v = variant(&main, b"Accept-Encoding, X-A", fields.iter().copied());
        let mut input = main.to_vec();
        input.extend_from_slice(b"accept-encoding:gzip,deflate\r\nx-a:1,2\r\n");
        assert_eq!(hex(v), hex(md5::md5(&[&input])));
        // Spaces in Accept-Encoding do not make another variant; in other fields they do.
        let other: Vec<(&[u8], &[u8])> = vec![
            (b"Accept-Encoding", b"gzip ,deflate"),
            (b"X-A", b"1"),
            (b"X-A", b"2"),
        ];
        assert_eq!(
            v,
            variant(&main, b"accept-encoding x-a", other.iter().copied())
        );
        let absent: Vec<(&[u8], &[u8])> = vec![];
        assert_ne!(
            v,
            variant(&main, b"accept-encoding x-a", absent.iter().copied())
        );
    }
}
