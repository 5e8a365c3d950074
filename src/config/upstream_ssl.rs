//! What the `proxy_ssl_*` and `uwsgi_ssl_*` directives build for a location whose upstream
//! speaks TLS (`proxy_pass https://`, `uwsgi_pass suwsgi://`): one [`UpstreamSsl`] made at
//! merge from the merged values ([`SslValues`]), shared by both modules as nginx shares
//! `ngx_http_upstream_conf_t`'s ssl fields. The uwsgi module's values live in its
//! [`UwsgiSsl`] (unset until a directive sets them); the proxy's are `LocSettings` fields.
//!
//! `*_ssl_certificate` and `*_ssl_certificate_key` may hold variables (nginx 1.21+): then
//! the pair is read for every connection, as nginx's `ngx_http_upstream_ssl_certificate`
//! reads it, and an empty certificate path sends none.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::error::ConfError;
use super::parser::Directive;
use super::raw::{Level, Shared};
use super::set_rewrite::template;
use super::values::{flag_arg, number_arg, set_once};
use crate::tls::{self, Protocols, UpstreamTls};
use crate::vars::{Template, VarSource};

/// A certificate or key path as written, and its variables when it has any.
#[derive(Clone, Debug, Default)]
pub struct SslPath {
    /// The path as written (empty: not set).
    pub text: String,
    /// Its compiled form, only when it has variables.
    pub template: Option<Template>,
}

impl SslPath {
    /// Reads the directive's first argument.
    pub(crate) fn parse(d: &Directive, shared: &Shared) -> Result<SslPath, ConfError> {
        let text = d.arg(0).to_string();
        let template = if text.contains('$') {
            Some(template(d, &text, shared)?)
        } else {
            None
        };
        Ok(SslPath { text, template })
    }

    fn eval(&self, vars: &dyn VarSource, out: &mut Vec<u8>) {
        match &self.template {
            Some(t) => t.eval(vars, out),
            None => out.extend_from_slice(self.text.as_bytes()),
        }
    }
}

/// The merged values one location's upstream TLS is built from.
#[derive(Debug)]
pub struct SslValues<'a> {
    /// `proxy` or `uwsgi`, for the messages.
    pub module: &'a str,
    /// `*_ssl_protocols`.
    pub protocols: Protocols,
    /// `*_ssl_ciphers`.
    pub ciphers: &'a str,
    /// `*_ssl_verify`.
    pub verify: bool,
    /// `*_ssl_verify_depth`.
    pub verify_depth: u64,
    /// `*_ssl_trusted_certificate` (empty: none).
    pub trusted_certificate: &'a str,
    /// `*_ssl_crl` (empty: none).
    pub crl: &'a str,
    /// `*_ssl_certificate`.
    pub certificate: &'a SslPath,
    /// `*_ssl_certificate_key`.
    pub certificate_key: &'a SslPath,
    /// `*_ssl_password_file` (empty: none).
    pub password_file: &'a str,
    /// `*_ssl_server_name`.
    pub server_name: bool,
    /// `*_ssl_session_reuse`.
    pub session_reuse: bool,
}

/// A location's upstream TLS: the client configuration, and the certificate pair's
/// variables when it has them.
#[derive(Debug)]
pub struct UpstreamSsl {
    /// What the directives built (without a client certificate when its path has
    /// variables).
    pub tls: UpstreamTls,
    per_request: Option<PerRequestCert>,
}

/// `*_ssl_certificate` with variables: what each connection needs to read its pair.
#[derive(Debug)]
struct PerRequestCert {
    certificate: SslPath,
    certificate_key: SslPath,
    passwords: Vec<Vec<u8>>,
    conf_prefix: PathBuf,
}

impl UpstreamSsl {
    /// The rustls configuration for one request's connections; `Err` is the error-log
    /// text of a certificate pair that could not be read (nginx answers 500).
    pub fn config_for(&self, vars: &dyn VarSource) -> Result<Arc<rustls::ClientConfig>, String> {
        let Some(p) = &self.per_request else {
            return Ok(self.tls.config.clone());
        };
        let (mut cert, mut key) = (Vec::new(), Vec::new());
        p.certificate.eval(vars, &mut cert);
        p.certificate_key.eval(vars, &mut key);
        let cert = String::from_utf8_lossy(&cert);
        let key = String::from_utf8_lossy(&key);
        self.tls
            .with_certificate(&p.conf_prefix, &cert, &key, &p.passwords)
    }
}

/// Builds a location's upstream TLS from its merged values; `Err` is nginx's message.
pub(crate) fn build(v: &SslValues<'_>, conf_prefix: &Path) -> Result<UpstreamSsl, String> {
    let m = v.module;
    if v.verify && v.trusted_certificate.is_empty() {
        return Err(format!("no {m}_ssl_trusted_certificate for {m}_ssl_verify"));
    }
    if !v.certificate.text.is_empty() && v.certificate_key.text.is_empty() {
        return Err(format!(
            "no \"{m}_ssl_certificate_key\" is defined for certificate \"{}\"",
            v.certificate.text
        ));
    }
    // Read as nginx reads it: one password a line, tried in order for an encrypted key.
    let mut passwords = Vec::new();
    if !v.password_file.is_empty() {
        let path = conf_prefix.join(v.password_file);
        let bytes = std::fs::read(&path).map_err(|e| {
            format!(
                "open() \"{}\" failed ({}: {})",
                path.display(),
                e.raw_os_error().unwrap_or(0),
                crate::sys::errno_text(&e)
            )
        })?;
        passwords = tls::read_password_file(&bytes, &path.display().to_string())?;
    }
    let per_request = v.certificate.template.is_some() || v.certificate_key.template.is_some();
    let settings = tls::UpstreamSslSettings {
        conf_prefix,
        protocols: v.protocols,
        ciphers: v.ciphers,
        verify: v.verify,
        verify_depth: v.verify_depth,
        trusted_certificate: v.trusted_certificate,
        crl: v.crl,
        certificate: &v.certificate.text,
        certificate_key: &v.certificate_key.text,
        certificate_per_request: per_request,
        passwords: &passwords,
        server_name: v.server_name,
        session_reuse: v.session_reuse,
    };
    let tls = tls::build_client(&settings)?;
    let per_request = per_request.then(|| PerRequestCert {
        certificate: v.certificate.clone(),
        certificate_key: v.certificate_key.clone(),
        passwords,
        conf_prefix: conf_prefix.to_path_buf(),
    });
    Ok(UpstreamSsl { tls, per_request })
}

/// The `uwsgi_ssl_*` values of one level (`None`: not set here).
#[derive(Clone, Debug, Default)]
pub struct UwsgiSsl {
    /// `uwsgi_ssl_server_name`
    pub server_name: Option<bool>,
    /// `uwsgi_ssl_name` (default the `uwsgi_pass` host)
    pub name: Option<Template>,
    /// `uwsgi_ssl_verify`
    pub verify: Option<bool>,
    /// `uwsgi_ssl_verify_depth`
    pub verify_depth: Option<u64>,
    /// `uwsgi_ssl_trusted_certificate`
    pub trusted_certificate: Option<String>,
    /// `uwsgi_ssl_crl`
    pub crl: Option<String>,
    /// `uwsgi_ssl_protocols`
    pub protocols: Option<Protocols>,
    /// `uwsgi_ssl_ciphers`
    pub ciphers: Option<String>,
    /// `uwsgi_ssl_certificate`
    pub certificate: Option<SslPath>,
    /// `uwsgi_ssl_certificate_key`
    pub certificate_key: Option<SslPath>,
    /// `uwsgi_ssl_password_file`
    pub password_file: Option<String>,
    /// `uwsgi_ssl_session_reuse`
    pub session_reuse: Option<bool>,
    /// What the values built for a `suwsgi://` location (set at merge by [`attach_uwsgi`]
    /// for every location; an `if` block keeps its location's).
    pub built: Option<std::rc::Rc<UpstreamSsl>>,
}

impl UwsgiSsl {
    /// Takes every value still unset here from `parent`.
    pub fn inherit(&mut self, parent: &UwsgiSsl) {
        super::inherit_unset!(
            self, parent;
            server_name,
            name,
            verify,
            verify_depth,
            trusted_certificate,
            crl,
            protocols,
            ciphers,
            certificate,
            certificate_key,
            password_file,
            session_reuse,
            built
        );
    }
}

/// Builds the uwsgi TLS of a location whose `uwsgi_pass` is `suwsgi://` (or has variables,
/// which may turn out `suwsgi://` per request); others get none.
pub(crate) fn attach_uwsgi(
    conf: &mut super::cgi_values::CgiConf,
    conf_prefix: &Path,
    at: (&Path, usize),
) -> Result<(), ConfError> {
    use super::cgi_values::CgiTarget;
    let tls = conf
        .pass
        .as_ref()
        .is_some_and(|p| p.tls || matches!(p.target, CgiTarget::Dynamic(_)));
    conf.ssl.built = None;
    if !tls {
        return Ok(());
    }
    let s = &conf.ssl;
    let empty = SslPath::default();
    let values = SslValues {
        module: "uwsgi",
        protocols: s
            .protocols
            .unwrap_or(super::set_proxy_ssl::DEFAULT_PROXY_SSL_PROTOCOLS),
        ciphers: s
            .ciphers
            .as_deref()
            .unwrap_or(super::set_proxy_ssl::DEFAULT_PROXY_SSL_CIPHERS),
        verify: s.verify.unwrap_or(false),
        verify_depth: s
            .verify_depth
            .unwrap_or(super::set_proxy_ssl::DEFAULT_PROXY_SSL_VERIFY_DEPTH),
        trusted_certificate: s.trusted_certificate.as_deref().unwrap_or(""),
        crl: s.crl.as_deref().unwrap_or(""),
        certificate: s.certificate.as_ref().unwrap_or(&empty),
        certificate_key: s.certificate_key.as_ref().unwrap_or(&empty),
        password_file: s.password_file.as_deref().unwrap_or(""),
        server_name: s.server_name.unwrap_or(false),
        session_reuse: s.session_reuse.unwrap_or(true),
    };
    let built = build(&values, conf_prefix).map_err(|m| ConfError::new(m, at.0, at.1))?;
    conf.ssl.built = Some(std::rc::Rc::new(built));
    Ok(())
}

/// The `uwsgi_ssl_*` values of the level a directive is in.
fn uwsgi<'a>(l: &'a mut Level<'_>, d: &Directive) -> Result<&'a mut UwsgiSsl, ConfError> {
    let module = super::cgi_values::CgiModule::Uwsgi;
    Ok(&mut module
        .raw(l.loc(d)?)
        .get_or_insert_with(super::cgi_values::CgiConf::default)
        .ssl)
}

macro_rules! uwsgi_setters {
    ($($(#[$meta:meta])* $name:ident: $field:ident = $parse:expr;)*) => {$(
        $(#[$meta])*
        pub(crate) fn $name(
            l: &mut Level<'_>,
            d: &Directive,
            shared: &mut Shared,
        ) -> Result<(), ConfError> {
            #[allow(clippy::redundant_closure_call)]
            let value = ($parse)(d, &*shared)?;
            set_once(&mut uwsgi(l, d)?.$field, d, |_| Ok(value))
        }
    )*};
}

uwsgi_setters! {
    /// `uwsgi_ssl_server_name on|off;`
    uwsgi_ssl_server_name: server_name = |d, _| flag_arg(d);
    /// `uwsgi_ssl_name NAME;` (variables allowed)
    uwsgi_ssl_name: name = |d: &Directive, s: &Shared| template(d, d.arg(0), s);
    /// `uwsgi_ssl_verify on|off;`
    uwsgi_ssl_verify: verify = |d, _| flag_arg(d);
    /// `uwsgi_ssl_verify_depth N;`
    uwsgi_ssl_verify_depth: verify_depth = |d, _| number_arg(d, 0);
    /// `uwsgi_ssl_trusted_certificate FILE;`
    uwsgi_ssl_trusted_certificate: trusted_certificate = |d: &Directive, _| Ok::<_, ConfError>(d.arg(0).to_string());
    /// `uwsgi_ssl_crl FILE;`
    uwsgi_ssl_crl: crl = |d: &Directive, _| Ok::<_, ConfError>(d.arg(0).to_string());
    /// `uwsgi_ssl_ciphers STRING;`
    uwsgi_ssl_ciphers: ciphers = |d: &Directive, _| Ok::<_, ConfError>(d.arg(0).to_string());
    /// `uwsgi_ssl_certificate FILE;` (variables allowed)
    uwsgi_ssl_certificate: certificate = SslPath::parse;
    /// `uwsgi_ssl_certificate_key FILE;` (variables allowed)
    uwsgi_ssl_certificate_key: certificate_key = SslPath::parse;
    /// `uwsgi_ssl_password_file FILE;`
    uwsgi_ssl_password_file: password_file = |d: &Directive, _| Ok::<_, ConfError>(d.arg(0).to_string());
    /// `uwsgi_ssl_session_reuse on|off;`
    uwsgi_ssl_session_reuse: session_reuse = |d, _| flag_arg(d);
    /// `uwsgi_ssl_protocols PROTOCOL...;`
    uwsgi_ssl_protocols: protocols = |d: &Directive, _| super::set_proxy_ssl::parse_protocols(d);
}
