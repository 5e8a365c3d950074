//! Value syntaxes shared by many directives, as nginx parses them (`ngx_parse.c`, the
//! `ngx_conf_set_*_slot` family): numbers, sizes, offsets, times and flags, plus the setter
//! helpers that turn a bad value into nginx's exact complaint.

use std::time::Duration;

use super::error::ConfError;
use super::parser::Directive;

const MAX: i64 = i64::MAX;

/// `ngx_atoi`: one or more decimal digits, no sign; `None` on anything else or overflow.
pub fn parse_number(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<i64>().ok().map(|n| n as u64)
}

fn scaled(s: &str, allow_giga: bool) -> Option<u64> {
    let (digits, scale) = match s.as_bytes().last()? {
        b'k' | b'K' => (&s[..s.len() - 1], 1u64 << 10),
        b'm' | b'M' => (&s[..s.len() - 1], 1 << 20),
        b'g' | b'G' if allow_giga => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    let n = parse_number(digits)?;
    n.checked_mul(scale).filter(|&v| v <= MAX as u64)
}

/// `ngx_parse_size`: `1024`, `8k`/`8K`, `1m`/`1M`; also `g`, which newer nginx accepts.
pub fn parse_size(s: &str) -> Option<u64> {
    scaled(s, true)
}

/// `ngx_parse_offset`: like [`parse_size`] with `g`/`G` for gigabytes.
pub fn parse_offset(s: &str) -> Option<u64> {
    scaled(s, true)
}

/// `ngx_parse_time`: a sequence like `1h30m`, `500ms`, `75s`, `1d`; a bare trailing number is
/// seconds. Units must go from larger to smaller. With `seconds_only` (nginx's `is_sec`),
/// `ms` is refused and years/months are allowed; otherwise it is the reverse.
pub fn parse_time(s: &str, seconds_only: bool) -> Option<Duration> {
    // Steps in nginx's order; a unit is valid only after a larger one.
    const START: u8 = 0;
    const YEAR: u8 = 1;
    const MONTH: u8 = 2;
    const WEEK: u8 = 3;
    const DAY: u8 = 4;
    const HOUR: u8 = 5;
    const MIN: u8 = 6;
    const SEC: u8 = 7;
    const MSEC: u8 = 8;
    const LAST: u8 = 9;

    let bytes = s.as_bytes();
    let mut step = if seconds_only { START } else { MONTH };
    let (mut value, mut total, mut valid) = (0i64, 0i64, false);
    let mut p = 0;
    while p < bytes.len() {
        let ch = bytes[p];
        p += 1;
        if ch.is_ascii_digit() {
            value = value.checked_mul(10)?.checked_add(i64::from(ch - b'0'))?;
            valid = true;
            continue;
        }
        let (next, seconds): (u8, i64) = match ch {
            b'y' if step == START => (YEAR, 60 * 60 * 24 * 365),
            b'M' if step < MONTH => (MONTH, 60 * 60 * 24 * 30),
            b'w' if step < WEEK => (WEEK, 60 * 60 * 24 * 7),
            b'd' if step < DAY => (DAY, 60 * 60 * 24),
            b'h' if step < HOUR => (HOUR, 60 * 60),
            b'm' if bytes.get(p) == Some(&b's') => {
                if seconds_only || step >= MSEC {
                    return None;
                }
                p += 1;
                (MSEC, 0)
            }
            b'm' if step < MIN => (MIN, 60),
            b's' if step < SEC => (SEC, 1),
            b' ' if step < SEC => (LAST, 1),
            _ => return None,
        };
        step = next;
        let scale = match (next, seconds_only) {
            (MSEC, _) => 1,
            (_, true) => seconds,
            (_, false) => seconds.checked_mul(1000)?,
        };
        total = total.checked_add(value.checked_mul(scale)?)?;
        value = 0;
        while bytes.get(p) == Some(&b' ') {
            p += 1;
        }
    }
    if !valid {
        return None;
    }
    if !seconds_only {
        value = value.checked_mul(1000)?;
    }
    let total = total.checked_add(value)? as u64;
    Some(if seconds_only {
        Duration::from_secs(total)
    } else {
        Duration::from_millis(total)
    })
}

/// `ngx_conf_set_flag_slot`'s parse: `on`/`off`, any case.
pub fn flag_arg(d: &Directive) -> Result<bool, ConfError> {
    let value = d.arg(0);
    if value.eq_ignore_ascii_case("on") {
        Ok(true)
    } else if value.eq_ignore_ascii_case("off") {
        Ok(false)
    } else {
        let message = format!(
            "invalid value \"{value}\" in \"{}\" directive, it must be \"on\" or \"off\"",
            d.name
        );
        Err(ConfError::at(d, message))
    }
}

/// Argument `i` as milliseconds-precision time (`ngx_conf_set_msec_slot`).
pub fn msec_arg(d: &Directive, i: usize) -> Result<Duration, ConfError> {
    parse_time(d.arg(i), false).ok_or_else(|| ConfError::directive(d, "invalid value"))
}

/// Argument `i` as whole seconds (`ngx_conf_set_sec_slot`).
pub fn sec_arg(d: &Directive, i: usize) -> Result<Duration, ConfError> {
    parse_time(d.arg(i), true).ok_or_else(|| ConfError::directive(d, "invalid value"))
}

/// Argument `i` as a size (`ngx_conf_set_size_slot`).
pub fn size_arg(d: &Directive, i: usize) -> Result<u64, ConfError> {
    parse_size(d.arg(i)).ok_or_else(|| ConfError::directive(d, "invalid value"))
}

/// Argument `i` as an offset (`ngx_conf_set_off_slot`).
pub fn offset_arg(d: &Directive, i: usize) -> Result<u64, ConfError> {
    parse_offset(d.arg(i)).ok_or_else(|| ConfError::directive(d, "invalid value"))
}

/// Argument `i` as a number (`ngx_conf_set_num_slot`).
pub fn number_arg(d: &Directive, i: usize) -> Result<u64, ConfError> {
    parse_number(d.arg(i)).ok_or_else(|| ConfError::directive(d, "invalid number"))
}

/// Stores a once-only setting: `"name" directive is duplicate` if this level already set it
/// (checked before the value is parsed, as nginx does).
pub fn set_once<T>(
    slot: &mut Option<T>,
    d: &Directive,
    parse: impl FnOnce(&Directive) -> Result<T, ConfError>,
) -> Result<(), ConfError> {
    if slot.is_some() {
        return Err(ConfError::directive(d, "is duplicate"));
    }
    *slot = Some(parse(d)?);
    Ok(())
}

/// Logs nginx's `[warn]` for a directive that loads anyway (`low address bits of ... are
/// meaningless in FILE:LINE`): on stderr during `-t` and start-up, in the error log at a
/// reload.
pub fn warn_at(d: &Directive, message: &str) {
    crate::elog!(crate::log::LogLevel::Warn, "{}", ConfError::at(d, message));
}

/// Resolves a relative path against `base` the way `ngx_get_full_name` does.
pub fn full_name(base: &std::path::Path, name: &str) -> std::path::PathBuf {
    if name.starts_with('/') {
        std::path::PathBuf::from(name)
    } else {
        base.join(name)
    }
}

/// Generates setters that parse one value into a once-only field of `LocRaw` or `SrvRaw`.
macro_rules! simple_setters {
    ($($(#[$meta:meta])* $name:ident: $scope:ident . $field:ident = $parse:expr;)*) => {$(
        $(#[$meta])*
        pub(crate) fn $name(
            l: &mut Level<'_>,
            d: &Directive,
            _: &mut Shared,
        ) -> Result<(), ConfError> {
            set_once(&mut l.$scope(d)?.$field, d, $parse)
        }
    )*};
}
pub(crate) use simple_setters;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parser::Word;
    use std::path::PathBuf;
    use std::rc::Rc;

    fn directive(name: &str, args: &[&str]) -> Directive {
        Directive {
            name: name.into(),
            args: args.iter().map(|a| Word::plain(a)).collect(),
            file: Rc::new(PathBuf::from("/p.conf")),
            line: 7,
            block: None,
        }
    }

    #[test]
    fn numbers_and_sizes() {
        assert_eq!(parse_number("1024"), Some(1024));
        assert_eq!(parse_number(""), None);
        assert_eq!(parse_number("-1"), None);
        assert_eq!(parse_number("99999999999999999999"), None);
        assert_eq!(parse_size("1k"), Some(1024));
        assert_eq!(parse_size("8K"), Some(8192));
        assert_eq!(parse_size("1m"), Some(1 << 20));
        assert_eq!(parse_size("1g"), Some(1 << 30));
        assert_eq!(parse_size("10"), Some(10));
        assert_eq!(parse_size("k"), None);
        assert_eq!(parse_size("1x"), None);
        assert_eq!(parse_offset("2G"), Some(2 << 30));
    }

    #[test]
    fn times() {
        let ms = |s| parse_time(s, false).map(|d| d.as_millis());
        assert_eq!(ms("75s"), Some(75_000));
        assert_eq!(ms("75"), Some(75_000));
        assert_eq!(ms("1m30s"), Some(90_000));
        assert_eq!(ms("1m 30s"), Some(90_000));
        assert_eq!(ms("500ms"), Some(500));
        assert_eq!(ms("1s500ms"), Some(1500));
        assert_eq!(ms("1h"), Some(3_600_000));
        assert_eq!(ms("1d"), Some(86_400_000));
        assert_eq!(ms("0"), Some(0));
        assert_eq!(ms("30s1m"), None);
        assert_eq!(ms("1y"), None);
        assert_eq!(ms("abc"), None);
        assert_eq!(ms(""), None);
        assert_eq!(ms("s"), None);
        let secs = |s| parse_time(s, true).map(|d| d.as_secs());
        assert_eq!(secs("1y"), Some(31_536_000));
        assert_eq!(secs("1M"), Some(2_592_000));
        assert_eq!(secs("10ms"), None);
        assert_eq!(secs("90"), Some(90));
    }

    #[test]
    fn setter_messages() {
        let d = directive("sendfile", &["yes"]);
        assert_eq!(
            flag_arg(&d).unwrap_err().to_string(),
            "invalid value \"yes\" in \"sendfile\" directive, it must be \"on\" or \"off\" in /p.conf:7"
        );
        assert!(flag_arg(&directive("sendfile", &["ON"])).unwrap());
        let d = directive("keepalive_timeout", &["abc"]);
        assert_eq!(
            msec_arg(&d, 0).unwrap_err().message,
            "\"keepalive_timeout\" directive invalid value"
        );
        let d = directive("keepalive_requests", &["x"]);
        assert_eq!(
            number_arg(&d, 0).unwrap_err().message,
            "\"keepalive_requests\" directive invalid number"
        );
        let mut slot = None;
        let d = directive("send_timeout", &["1s"]);
        set_once(&mut slot, &d, |d| msec_arg(d, 0)).unwrap();
        let e = set_once(&mut slot, &d, |d| msec_arg(d, 0)).unwrap_err();
        assert_eq!(e.message, "\"send_timeout\" directive is duplicate");
    }
}
