//! The browsers nginx recognises in `User-Agent` (`ngx_http_process_user_agent`), for
//! `keepalive_disable`, `msie_padding` and `msie_refresh`: a few substring tests on the
//! first `User-Agent` header, made only where a setting needs them.

use memchr::memmem;

/// What nginx's `r->headers_in` says about the client's browser.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Browser {
    /// `MSIE ` (not Opera).
    pub msie: bool,
    /// MSIE 4, 5, or 6 without `SV1`.
    pub msie6: bool,
    /// `Opera`.
    pub opera: bool,
    /// `Gecko/` (not MSIE or Opera).
    pub gecko: bool,
    /// `Chrome/` (not MSIE, Opera or Gecko).
    pub chrome: bool,
    /// `Safari/` on `Mac OS X` (none of the above).
    pub safari: bool,
    /// `Konqueror` (none of the above).
    pub konqueror: bool,
}

impl Browser {
    /// The browser a `User-Agent` value names, as nginx tells it.
    pub fn of(user_agent: &[u8]) -> Browser {
        let has = |needle: &[u8]| memmem::find(user_agent, needle).is_some();
        let mut b = Browser::default();
        if let Some(at) = memmem::find(user_agent, b"MSIE ")
            && at + 7 < user_agent.len()
        {
            b.msie = true;
            if user_agent.get(at + 6) == Some(&b'.') {
                b.msie6 = match user_agent.get(at + 5) {
                    Some(b'4' | b'5') => true,
                    Some(b'6') => user_agent
                        .get(at + 8..)
                        .is_none_or(|rest| memmem::find(rest, b"SV1").is_none()),
                    _ => false,
                };
            }
        }
        if has(b"Opera") {
            b.opera = true;
            b.msie = false;
            b.msie6 = false;
        }
        if !b.msie && !b.opera {
            if has(b"Gecko/") {
                b.gecko = true;
            } else if has(b"Chrome/") {
                b.chrome = true;
            } else if has(b"Safari/") && has(b"Mac OS X") {
                b.safari = true;
            } else if has(b"Konqueror") {
                b.konqueror = true;
            }
        }
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browsers_as_nginx_tells_them() {
        let msie6 = Browser::of(b"Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1)");
        assert!(msie6.msie && msie6.msie6);
        let sv1 = Browser::of(b"Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1; SV1)");
        assert!(sv1.msie && !sv1.msie6);
        let ie9 = Browser::of(b"Mozilla/5.0 (compatible; MSIE 9.0; Windows NT 6.1)");
        assert!(ie9.msie && !ie9.msie6);
        assert!(!Browser::of(b"MSIE 6.").msie);
        let chrome = Browser::of(
            b"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) \
              Chrome/120.0 Safari/537.36",
        );
        assert!(chrome.chrome && !chrome.safari && !chrome.gecko);
        let safari = Browser::of(
            b"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 \
              (KHTML, like Gecko) Version/17.0 Safari/605.1.15",
        );
        assert!(safari.safari);
        assert!(Browser::of(b"Mozilla/5.0 (X11; rv:120.0) Gecko/20100101 Firefox/120.0").gecko);
        let opera = Browser::of(b"Opera/9.80 (compatible; MSIE 6.0)");
        assert!(opera.opera && !opera.msie);
        assert_eq!(Browser::of(b"curl/8.0"), Browser::default());
    }
}
