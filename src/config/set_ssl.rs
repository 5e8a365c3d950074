//! Setters of the `ssl_*` directives (nginx's `ngx_http_ssl_module.c`): they check each
//! value's syntax as nginx does; `merge` hands the merged values to `tls::build`, which
//! reads the certificates and makes the rustls configuration. What Portico does not do
//! (`ssl_conf_command` other than KTLS) is refused here with the reason, never accepted and
//! ignored.

use std::time::Duration;

use super::error::ConfError;
use super::parser::Directive;
use super::raw::{Level, Shared};
use super::values::{flag_arg, number_arg, sec_arg, set_once, simple_setters, size_arg};
use crate::tls::{self, Protocols, SessionCache};

/// nginx 1.22's `ssl_protocols TLSv1 TLSv1.1 TLSv1.2 TLSv1.3;` (rustls speaks the last two).
pub const DEFAULT_SSL_PROTOCOLS: Protocols = 4 | 8 | 16 | 32;
/// `ssl_ciphers HIGH:!aNULL:!MD5;`
pub const DEFAULT_SSL_CIPHERS: &str = "HIGH:!aNULL:!MD5";
/// `ssl_session_timeout 5m;`
pub const DEFAULT_SSL_SESSION_TIMEOUT: Duration = Duration::from_secs(300);
/// The smallest `shared:` cache: a few pages of the zone's allocator (nginx wants 8 pages).
const MIN_SHARED_CACHE_SIZE: u64 = 8 * 4096;
/// `ssl_buffer_size 16k;`
pub const DEFAULT_SSL_BUFFER_SIZE: usize = 16 * 1024;

simple_setters! {
    /// `ssl_early_data on|off;`
    ssl_early_data: srv.ssl_early_data = flag_arg;
    /// `ssl_prefer_server_ciphers on|off;`
    ssl_prefer_server_ciphers: srv.ssl_prefer_server_ciphers = flag_arg;
    /// `ssl_ciphers STRING;`
    ssl_ciphers: srv.ssl_ciphers = |d| Ok(d.arg(0).to_string());
    /// `ssl_ecdh_curve auto|CURVE[:CURVE]...;`
    ssl_ecdh_curve: srv.ssl_ecdh_curve = |d| Ok(d.arg(0).to_string());
    /// `ssl_session_timeout TIME;`
    ssl_session_timeout: srv.ssl_session_timeout = |d| sec_arg(d, 0);
    /// `ssl_session_tickets on|off;`
    ssl_session_tickets: srv.ssl_session_tickets = flag_arg;
    /// `ssl_buffer_size SIZE;`
    ssl_buffer_size: srv.ssl_buffer_size = |d| size_arg(d, 0).map(|n| n as usize);
    /// `ssl_reject_handshake on|off;`
    ssl_reject_handshake: srv.ssl_reject_handshake = flag_arg;
    /// `ssl_verify_depth N;`
    ssl_verify_depth: srv.ssl_verify_depth = |d| number_arg(d, 0);
    /// `ssl_verify_client on|off|optional|optional_no_ca;`
    ssl_verify_client: srv.ssl_verify_client = |d| match d.arg(0) {
        "off" => Ok(crate::tls::VerifyClient::Off),
        "on" => Ok(crate::tls::VerifyClient::On),
        "optional" => Ok(crate::tls::VerifyClient::Optional),
        "optional_no_ca" => Ok(crate::tls::VerifyClient::OptionalNoCa),
        v => Err(ConfError::at(
            d,
            format!(
                "invalid value \"{v}\" in \"ssl_verify_client\" directive, it must be \
                 \"on\", \"off\", \"optional\" or \"optional_no_ca\""
            ),
        )),
    };
    /// `ssl_client_certificate FILE;`
    ssl_client_certificate: srv.ssl_client_certificate = |d| Ok(d.arg(0).to_string());
    /// `ssl_trusted_certificate FILE;`
    ssl_trusted_certificate: srv.ssl_trusted_certificate = |d| Ok(d.arg(0).to_string());
    /// `ssl_crl FILE;`
    ssl_crl: srv.ssl_crl = |d| Ok(d.arg(0).to_string());
    // ---- tls3: OCSP stapling ----
    /// `ssl_stapling on|off;`
    ssl_stapling: srv.ssl_stapling = flag_arg;
    /// `ssl_stapling_file FILE;`
    ssl_stapling_file: srv.ssl_stapling_file = |d| Ok(d.arg(0).to_string());
    /// `ssl_stapling_responder URL;`
    ssl_stapling_responder: srv.ssl_stapling_responder = |d| Ok(d.arg(0).to_string());
    /// `ssl_stapling_verify on|off;`
    ssl_stapling_verify: srv.ssl_stapling_verify = flag_arg;
    // ---- ocsp3: OCSP checks of client certificates ----
    /// `ssl_ocsp on|off|leaf;`
    ssl_ocsp: srv.ssl_ocsp = |d| match d.arg(0) {
        "off" => Ok(crate::tls::OcspMode::Off),
        "on" => Ok(crate::tls::OcspMode::On),
        "leaf" => Ok(crate::tls::OcspMode::Leaf),
        v => Err(ConfError::directive(d, &format!("invalid value \"{v}\""))),
    };
    /// `ssl_ocsp_responder URL;`
    ssl_ocsp_responder: srv.ssl_ocsp_responder = |d| Ok(d.arg(0).to_string());
}

/// `ssl on|off;`: nginx's deprecated switch, with its warning.
pub(crate) fn ssl(l: &mut Level<'_>, d: &Directive, shared: &mut Shared) -> Result<(), ConfError> {
    shared.warnings.push(ConfError::at(
        d,
        "the \"ssl\" directive is deprecated, use the \"listen ... ssl\" directive instead",
    ));
    set_once(&mut l.srv(d)?.ssl, d, flag_arg)
}

/// `ssl_certificate FILE|data:PEM;` (several pairs allowed).
pub(crate) fn ssl_certificate(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    l.srv(d)?
        .ssl_certificate
        .get_or_insert_with(Vec::new)
        .push(d.arg(0).to_string());
    Ok(())
}

/// `ssl_certificate_key FILE|data:PEM;`
pub(crate) fn ssl_certificate_key(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    l.srv(d)?
        .ssl_certificate_key
        .get_or_insert_with(Vec::new)
        .push(d.arg(0).to_string());
    Ok(())
}

/// `ssl_session_ticket_key FILE;` (several; the first encrypts, all decrypt).
pub(crate) fn ssl_session_ticket_key(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    l.srv(d)?
        .ssl_session_ticket_key
        .get_or_insert_with(Vec::new)
        .push(d.arg(0).to_string());
    Ok(())
}

/// `ssl_protocols [SSLv2] [SSLv3] [TLSv1] [TLSv1.1] [TLSv1.2] [TLSv1.3];`
pub(crate) fn ssl_protocols(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    set_once(&mut l.srv(d)?.ssl_protocols, d, |d| {
        let mut set = 0;
        for w in &d.args {
            set |= tls::parse_protocol(&w.text)
                .ok_or_else(|| ConfError::at(d, format!("invalid value \"{}\"", w.text)))?;
        }
        Ok(set)
    })
}

/// `ssl_session_cache off|none|[builtin[:SIZE]] [shared:NAME:SIZE];`
pub(crate) fn ssl_session_cache(
    l: &mut Level<'_>,
    d: &Directive,
    shared: &mut Shared,
) -> Result<(), ConfError> {
    set_once(&mut l.srv(d)?.ssl_session_cache, d, |d| {
        let mut cache = SessionCache::None;
        let mut previous = SessionCache::None;
        for w in d.args.iter().map(|w| w.text.as_str()) {
            let invalid = || ConfError::at(d, format!("invalid session cache \"{w}\""));
            cache = match w {
                "off" => SessionCache::Off,
                "none" => SessionCache::None,
                "builtin" => SessionCache::Builtin(tls::DEFAULT_BUILTIN_CACHE_SIZE),
                _ if w.starts_with("builtin:") => {
                    let n = super::values::parse_number(&w[8..]).ok_or_else(invalid)?;
                    SessionCache::Builtin(usize::try_from(n).map_err(|_| invalid())?)
                }
                _ if w.starts_with("shared:") => {
                    let (name, size) = w[7..].rsplit_once(':').ok_or_else(invalid)?;
                    let size = super::values::parse_size(size).ok_or_else(invalid)?;
                    if name.is_empty() || size == 0 {
                        return Err(invalid());
                    }
                    if size < MIN_SHARED_CACHE_SIZE {
                        return Err(ConfError::at(
                            d,
                            format!("session cache \"{w}\" is too small"),
                        ));
                    }
                    let i = super::set_limits::zone_index(
                        d,
                        shared,
                        name,
                        crate::config::ZoneKind::SslSessionCache,
                        size,
                    )?;
                    shared.zones[i].declared = true;
                    SessionCache::Shared(name.to_string())
                }
                _ => return Err(invalid()),
            };
            if let (SessionCache::Builtin(_), SessionCache::Shared(_)) = (&cache, &previous) {
                cache = previous.clone();
            }
            previous = cache.clone();
            if d.args.len() > 1 && matches!(cache, SessionCache::Off | SessionCache::None) {
                return Err(invalid());
            }
        }
        Ok(cache)
    })
}

/// `ssl_ocsp_cache off|shared:NAME:SIZE;` (nginx's `ngx_http_ssl_ocsp_cache`): the zone
/// is declared here and mapped by the master; `off` is the default.
pub(crate) fn ssl_ocsp_cache(
    l: &mut Level<'_>,
    d: &Directive,
    shared: &mut Shared,
) -> Result<(), ConfError> {
    set_once(&mut l.srv(d)?.ssl_ocsp_cache, d, |d| {
        let w = d.arg(0);
        if w == "off" {
            return Ok(String::new());
        }
        let invalid = || ConfError::at(d, format!("invalid OCSP cache \"{w}\""));
        let rest = w.strip_prefix("shared:").ok_or_else(invalid)?;
        let (name, size) = rest.split_once(':').unwrap_or((rest, ""));
        if name.is_empty() {
            return Err(invalid());
        }
        let size = super::values::parse_size(size).ok_or_else(invalid)?;
        if size < MIN_SHARED_CACHE_SIZE {
            return Err(ConfError::at(d, format!("OCSP cache \"{w}\" is too small")));
        }
        let i = super::set_limits::zone_index(
            d,
            shared,
            name,
            crate::config::ZoneKind::SslOcspCache,
            size,
        )?;
        shared.zones[i].declared = true;
        Ok(name.to_string())
    })
}

/// `ssl_dhparam FILE;`: read as nginx reads it, and said to be unused: rustls has no
/// finite-field DHE suites.
pub(crate) fn ssl_dhparam(
    l: &mut Level<'_>,
    d: &Directive,
    shared: &mut Shared,
) -> Result<(), ConfError> {
    l.srv(d)?;
    readable(d, shared)?;
    shared.warnings.push(ConfError::at(
        d,
        "\"ssl_dhparam\" is not used: rustls has no DHE key exchange (ECDHE only)",
    ));
    Ok(())
}

/// `ssl_password_file FILE;`: read now, as nginx reads it while parsing (a FIFO is read
/// once), its passwords kept for the keys of this level and those below.
pub(crate) fn ssl_password_file(
    l: &mut Level<'_>,
    d: &Directive,
    shared: &mut Shared,
) -> Result<(), ConfError> {
    let slot = &mut l.srv(d)?.ssl_password_file;
    if slot.is_some() {
        return Err(ConfError::directive(d, "is duplicate"));
    }
    let full = super::values::full_name(&shared.conf_prefix, d.arg(0));
    let name = full.display().to_string();
    let bytes = std::fs::read(&full).map_err(|e| {
        ConfError::at(
            d,
            format!("open() \"{name}\" failed ({})", crate::sys::errno_text(&e)),
        )
    })?;
    let passwords = tls::read_password_file(&bytes, &name).map_err(|e| ConfError::at(d, e))?;
    *slot = Some(passwords);
    Ok(())
}

fn readable(d: &Directive, shared: &Shared) -> Result<(), ConfError> {
    let path = d.arg(0);
    if path.starts_with("data:") {
        return Ok(());
    }
    let full = super::values::full_name(&shared.conf_prefix, path);
    std::fs::metadata(&full).map(|_| ()).map_err(|e| {
        ConfError::at(
            d,
            format!(
                "open() \"{}\" failed ({})",
                full.display(),
                crate::sys::errno_text(&e)
            ),
        )
    })
}
