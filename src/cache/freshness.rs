//! Whether an upstream response may be cached and until when: `*_cache_valid` rules and the
//! response's own `X-Accel-Expires`, `Cache-Control`, `Expires`, `Set-Cookie` and `Vary`,
//! read in the order they come as nginx's `ngx_http_upstream_process_*` handlers read them
//! (an `X-Accel-Expires` before `Cache-Control` wins; `Expires` counts only when nothing
//! before it set a time), each one skipped when `*_ignore_headers` names it.

use crate::config::proxy_rest::IgnoreHeaders;

/// One `*_cache_valid` pair: a status (0: `any`) and its time in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValidRule {
    /// The status it applies to; 0 is `any`.
    pub status: u16,
    /// How long such a response is fresh, in seconds.
    pub seconds: i64,
}

/// Parses one `*_cache_valid [STATUS...|any] TIME` (`args` without the directive's name),
/// appending its rules; `Err` is nginx's message.
pub fn parse_valid(args: &[String], rules: &mut Vec<ValidRule>) -> Result<(), String> {
    let Some((time, statuses)) = args.split_last() else {
        return Err("invalid number of arguments in \"proxy_cache_valid\" directive".into());
    };
    let seconds = crate::config::values::parse_time(time, true)
        .ok_or_else(|| format!("invalid time value \"{time}\""))?
        .as_secs() as i64;
    if statuses.is_empty() {
        rules.extend([200, 301, 302].map(|status| ValidRule { status, seconds }));
        return Ok(());
    }
    for s in statuses {
        let status = if s == "any" {
            0
        } else {
            crate::config::values::parse_number(s)
                .filter(|n| (100..=599).contains(n))
                .ok_or_else(|| format!("invalid status \"{s}\""))? as u16
        };
        rules.push(ValidRule { status, seconds });
    }
    Ok(())
}

/// `ngx_http_file_cache_valid`: the first rule for `status` or `any`; 0 when none.
pub fn valid_for(rules: &[ValidRule], status: u16) -> i64 {
    rules
        .iter()
        .find(|r| r.status == 0 || r.status == status)
        .map_or(0, |r| r.seconds)
}

/// What the response's header fields say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Freshness {
    /// False when a field forbids caching (no-cache, no-store, private, max-age=0,
    /// X-Accel-Expires: 0, a past Expires, Set-Cookie, Vary: *).
    pub forbidden: bool,
    /// Until when it is fresh (unix seconds); 0 when the fields set no time.
    pub valid_sec: i64,
    /// `stale-while-revalidate=` seconds.
    pub updating_sec: i64,
    /// `stale-if-error=` seconds (or stale-while-revalidate's).
    pub error_sec: i64,
    /// The Vary value (empty: none).
    pub vary: Vec<u8>,
}

/// Reads the response's fields in order (`now`: unix seconds).
pub fn of_headers<'h>(
    fields: impl IntoIterator<Item = (&'h [u8], &'h [u8])>,
    ignore: IgnoreHeaders,
    now: i64,
) -> Freshness {
    let mut f = Freshness::default();
    let mut accel_seen = false;
    let ignored = |bit: u16| ignore.0 & bit != 0;
    for (name, value) in fields {
        if name.eq_ignore_ascii_case(b"x-accel-expires") {
            accel_seen = true;
            if !ignored(IgnoreHeaders::XA_EXPIRES) {
                accel_expires(&mut f, value, now);
            }
        } else if name.eq_ignore_ascii_case(b"cache-control") {
            if !(ignored(IgnoreHeaders::CACHE_CONTROL) || (f.valid_sec != 0 && accel_seen)) {
                cache_control(&mut f, value, now);
            }
        } else if name.eq_ignore_ascii_case(b"expires") {
            if !ignored(IgnoreHeaders::EXPIRES) && f.valid_sec == 0 {
                match crate::http::date::parse_http_date_secs(value) {
                    Some(t) if t >= now => f.valid_sec = t,
                    _ => f.forbidden = true,
                }
            }
        } else if name.eq_ignore_ascii_case(b"set-cookie") {
            if !ignored(IgnoreHeaders::SET_COOKIE) {
                f.forbidden = true;
            }
        } else if name.eq_ignore_ascii_case(b"vary") && !ignored(IgnoreHeaders::VARY) {
            if value.len() > super::header::VARY_LEN || value == b"*" {
                f.forbidden = true;
            }
            f.vary = value.to_vec();
        }
    }
    f
}

/// The header fields of a stored or received HTTP head, in order (the status line, if
/// any, skipped; a line without a colon ignored).
pub fn fields(head: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    let mut lines = head.split(|&b| b == b'\n');
    if head.starts_with(b"HTTP/") {
        lines.next();
    }
    lines.filter_map(|line| {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let colon = memchr::memchr(b':', line)?;
        let value = &line[colon + 1..];
        Some((&line[..colon], value.trim_ascii()))
    })
}

fn accel_expires(f: &mut Freshness, value: &[u8], now: i64) {
    let number = |v: &[u8]| {
        std::str::from_utf8(v)
            .ok()
            .and_then(crate::config::values::parse_number)
            .map(|n| n as i64)
    };
    match value.strip_prefix(b"@") {
        Some(abs) => {
            if let Some(t) = number(abs) {
                f.valid_sec = t;
            }
        }
        None => match number(value) {
            Some(0) => f.forbidden = true,
            Some(n) => f.valid_sec = now + n,
            None => {}
        },
    }
}

/// The number after `word` in a Cache-Control value: `None` when absent, `Some(None)` when
/// malformed (which forbids caching, as in nginx).
fn directive_number(value: &[u8], word: &[u8]) -> Option<Option<i64>> {
    let at = find_ignore_case(value, word)?;
    let mut n: i64 = 0;
    for &b in &value[at + word.len()..] {
        match b {
            b',' | b';' | b' ' => break,
            b'0'..=b'9' => n = n.saturating_mul(10).saturating_add(i64::from(b - b'0')),
            _ => return Some(None),
        }
    }
    Some(Some(n))
}

fn cache_control(f: &mut Freshness, value: &[u8], now: i64) {
    if [&b"no-cache"[..], b"no-store", b"private"]
        .iter()
        .any(|w| find_ignore_case(value, w).is_some())
    {
        f.forbidden = true;
        return;
    }
    let age =
        directive_number(value, b"s-maxage=").or_else(|| directive_number(value, b"max-age="));
    match age {
        Some(None | Some(0)) => {
            f.forbidden = true;
            return;
        }
        Some(Some(n)) => f.valid_sec = now + n,
        None => {}
    }
    match directive_number(value, b"stale-while-revalidate=") {
        Some(None) => {
            f.forbidden = true;
            return;
        }
        Some(Some(n)) => {
            f.updating_sec = n;
            f.error_sec = n;
        }
        None => {}
    }
    match directive_number(value, b"stale-if-error=") {
        Some(None) => f.forbidden = true,
        Some(Some(n)) => f.error_sec = n,
        None => {}
    }
}

fn find_ignore_case(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_000_000;

    fn read(fields: &[(&str, &str)], ignore: u16) -> Freshness {
        of_headers(
            fields.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())),
            IgnoreHeaders(ignore),
            NOW,
        )
    }

    #[test]
    fn valid_rules_as_nginx() {
        let mut rules = Vec::new();
        parse_valid(&["10m".into()], &mut rules).unwrap();
        parse_valid(&["404".into(), "any".into(), "1m".into()], &mut rules).unwrap();
        assert_eq!(valid_for(&rules, 200), 600);
        assert_eq!(valid_for(&rules, 404), 60);
        assert_eq!(valid_for(&rules, 500), 60);
        assert_eq!(
            parse_valid(&["99".into(), "1m".into()], &mut rules).unwrap_err(),
            "invalid status \"99\""
        );
        assert_eq!(
            parse_valid(&["x".into()], &mut rules).unwrap_err(),
            "invalid time value \"x\""
        );
    }

    #[test]
    fn fields_in_order() {
        assert_eq!(
            read(&[("Cache-Control", "max-age=60")], 0).valid_sec,
            NOW + 60
        );
        assert_eq!(
            read(&[("Cache-Control", "max-age=60, s-maxage=5")], 0).valid_sec,
            NOW + 5
        );
        assert!(read(&[("Cache-Control", "private, max-age=60")], 0).forbidden);
        assert!(read(&[("Cache-Control", "max-age=0")], 0).forbidden);
        assert!(read(&[("Cache-Control", "max-age=1x")], 0).forbidden);
        // X-Accel-Expires first: Cache-Control after it is not read.
        let f = read(
            &[("X-Accel-Expires", "10"), ("Cache-Control", "no-cache")],
            0,
        );
        assert_eq!((f.forbidden, f.valid_sec), (false, NOW + 10));
        // After it: X-Accel-Expires overrides.
        let f = read(
            &[("Cache-Control", "max-age=60"), ("X-Accel-Expires", "@5")],
            0,
        );
        assert_eq!(f.valid_sec, 5);
        assert!(read(&[("X-Accel-Expires", "0")], 0).forbidden);
        assert!(read(&[("Set-Cookie", "a=b")], 0).forbidden);
        assert!(!read(&[("Set-Cookie", "a=b")], IgnoreHeaders::SET_COOKIE).forbidden);
        assert!(read(&[("Vary", "*")], 0).forbidden);
        assert_eq!(read(&[("Vary", "Accept")], 0).vary, b"Accept");
        assert!(read(&[("Expires", "Thu, 01 Jan 1970 00:00:01 GMT")], 0).forbidden);
        let f = read(
            &[(
                "Cache-Control",
                "max-age=1, stale-if-error=7, stale-while-revalidate=3",
            )],
            0,
        );
        assert_eq!((f.updating_sec, f.error_sec), (3, 7));
        assert_eq!(
            read(
                &[("Cache-Control", "no-store")],
                IgnoreHeaders::CACHE_CONTROL
            ),
            Freshness::default()
        );
    }
}
