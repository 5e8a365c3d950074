//! Setters of the `proxy_ssl_*` directives (TLS to upstreams, issue 15 point 3), with
//! nginx's syntax checks, and [`attach`], which builds a location's upstream TLS
//! configuration (`tls::build_client`) at merge when its `proxy_pass` is `https://`.

use std::rc::Rc;

use super::error::ConfError;
use super::parser::Directive;
use super::raw::{Level, Shared};
use super::set_rewrite::template;
use super::settings::LocRaw;
use super::upstream_ssl::{SslPath, SslValues, build};
use super::values::{flag_arg, number_arg, set_once, simple_setters};
use crate::tls::{self, Protocols};

/// nginx 1.22's `proxy_ssl_protocols TLSv1 TLSv1.1 TLSv1.2 TLSv1.3;` (rustls speaks the
/// last two).
pub const DEFAULT_PROXY_SSL_PROTOCOLS: Protocols = 4 | 8 | 16 | 32;
/// `proxy_ssl_ciphers DEFAULT;`
pub const DEFAULT_PROXY_SSL_CIPHERS: &str = "DEFAULT";
/// `proxy_ssl_verify_depth 1;`
pub const DEFAULT_PROXY_SSL_VERIFY_DEPTH: u64 = 1;

simple_setters! {
    /// `proxy_ssl_server_name on|off;`
    proxy_ssl_server_name: loc.proxy_ssl_server_name = flag_arg;
    /// `proxy_ssl_verify on|off;`
    proxy_ssl_verify: loc.proxy_ssl_verify = flag_arg;
    /// `proxy_ssl_verify_depth N;`
    proxy_ssl_verify_depth: loc.proxy_ssl_verify_depth = |d| number_arg(d, 0);
    /// `proxy_ssl_session_reuse on|off;`
    proxy_ssl_session_reuse: loc.proxy_ssl_session_reuse = flag_arg;
    /// `proxy_ssl_ciphers STRING;`
    proxy_ssl_ciphers: loc.proxy_ssl_ciphers = |d| Ok(d.arg(0).to_string());
    /// `proxy_ssl_trusted_certificate FILE;`
    proxy_ssl_trusted_certificate: loc.proxy_ssl_trusted_certificate = |d| Ok(d.arg(0).to_string());
    /// `proxy_ssl_crl FILE;`
    proxy_ssl_crl: loc.proxy_ssl_crl = |d| Ok(d.arg(0).to_string());
    /// `proxy_ssl_password_file FILE;`
    proxy_ssl_password_file: loc.proxy_ssl_password_file = |d| Ok(d.arg(0).to_string());
}

/// `proxy_ssl_protocols PROTOCOL...;`
pub(crate) fn proxy_ssl_protocols(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    set_once(&mut l.loc(d)?.proxy_ssl_protocols, d, parse_protocols)
}

/// The protocol names of `*_ssl_protocols` as a set.
pub(crate) fn parse_protocols(d: &Directive) -> Result<Protocols, ConfError> {
    let mut set = 0;
    for w in &d.args {
        set |= tls::parse_protocol(&w.text)
            .ok_or_else(|| ConfError::at(d, format!("invalid value \"{}\"", w.text)))?;
    }
    Ok(set)
}

/// `proxy_ssl_certificate FILE;` (variables allowed).
pub(crate) fn proxy_ssl_certificate(
    l: &mut Level<'_>,
    d: &Directive,
    shared: &mut Shared,
) -> Result<(), ConfError> {
    let path = SslPath::parse(d, shared)?;
    set_once(&mut l.loc(d)?.proxy_ssl_certificate, d, |_| Ok(path))
}

/// `proxy_ssl_certificate_key FILE;` (variables allowed).
pub(crate) fn proxy_ssl_certificate_key(
    l: &mut Level<'_>,
    d: &Directive,
    shared: &mut Shared,
) -> Result<(), ConfError> {
    let path = SslPath::parse(d, shared)?;
    set_once(&mut l.loc(d)?.proxy_ssl_certificate_key, d, |_| Ok(path))
}

/// `proxy_ssl_name NAME;` (variables allowed).
pub(crate) fn proxy_ssl_name(
    l: &mut Level<'_>,
    d: &Directive,
    shared: &mut Shared,
) -> Result<(), ConfError> {
    let t = template(d, d.arg(0), shared)?;
    set_once(&mut l.loc(d)?.proxy_ssl_name, d, |_| Ok(Some(t)))
}

/// `proxy_ssl_conf_command NAME VALUE;` (and `uwsgi_ssl_conf_command`): OpenSSL configuration commands mean nothing to
/// rustls.
pub(crate) fn proxy_ssl_conf_command(
    _: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    Err(ConfError::directive(
        d,
        "is not supported: it passes commands to OpenSSL, and Portico's TLS is rustls",
    ))
}

/// Builds the upstream TLS configuration of a location whose `proxy_pass` is `https://`
/// (after its settings were inherited); other locations get none. An error is nginx's
/// kind of message at the location.
pub(crate) fn attach(
    loc: &mut LocRaw,
    conf_prefix: &std::path::Path,
    at: (&std::path::Path, usize),
) -> Result<(), ConfError> {
    // A URL with variables may turn out `https://` per request: it gets one too.
    let https = matches!(&loc.proxy_pass, Some(Some(p))
        if p.tls || matches!(p.target, super::proxy_values::ProxyTarget::Dynamic(_)));
    if !https {
        loc.proxy_ssl_client = None;
        return Ok(());
    }
    let merged = loc.finish();
    let values = SslValues {
        module: "proxy",
        protocols: merged.proxy_ssl_protocols,
        ciphers: &merged.proxy_ssl_ciphers,
        verify: merged.proxy_ssl_verify,
        verify_depth: merged.proxy_ssl_verify_depth,
        trusted_certificate: &merged.proxy_ssl_trusted_certificate,
        crl: &merged.proxy_ssl_crl,
        certificate: &merged.proxy_ssl_certificate,
        certificate_key: &merged.proxy_ssl_certificate_key,
        password_file: &merged.proxy_ssl_password_file,
        server_name: merged.proxy_ssl_server_name,
        session_reuse: merged.proxy_ssl_session_reuse,
    };
    let built = build(&values, conf_prefix).map_err(|m| ConfError::new(m, at.0, at.1))?;
    loc.proxy_ssl_client = Some(Some(Rc::new(built)));
    Ok(())
}
