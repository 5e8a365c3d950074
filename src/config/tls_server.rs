//! A server block's TLS, built at merge from its `ssl_*` values (`tls::build`), and nginx's
//! check that every `listen ... ssl` address can answer a handshake
//! (`ngx_http_ssl_init`).

use std::rc::Rc;

use super::error::ConfError;
use super::raw::{ServerRaw, Shared};
use super::settings::{ListenAddr, ListenConf, ServerConf};

/// The server's TLS, when it listens on an `ssl` address or says `ssl on`; errors go to
/// `errors` (the first one fails the load).
pub(crate) fn build(
    s: &ServerRaw,
    ssl_addrs: &[ListenAddr],
    shared: &mut Shared,
    errors: &mut Vec<ConfError>,
) -> Option<Rc<crate::tls::ServerTls>> {
    let srv = s.srv.finish();
    let on_ssl_listen = s.listens.iter().any(|l| ssl_addrs.contains(&l.addr));
    if !on_ssl_listen && !srv.ssl {
        return None;
    }
    let (file, line) = (&s.defined_at.file, s.defined_at.line);
    if srv.ssl && srv.ssl_certificate.is_empty() {
        errors.push(ConfError::bare(format!(
            "no \"ssl_certificate\" is defined for the \"ssl\" directive in {}:{line}",
            file.display()
        )));
        return None;
    }
    let settings = crate::tls::SslSettings {
        conf_prefix: &shared.conf_prefix,
        certificates: &srv.ssl_certificate,
        certificate_keys: &srv.ssl_certificate_key,
        protocols: srv.ssl_protocols,
        ciphers: &srv.ssl_ciphers,
        prefer_server_ciphers: srv.ssl_prefer_server_ciphers,
        ecdh_curve: &srv.ssl_ecdh_curve,
        session_cache: srv.ssl_session_cache.clone(),
        session_timeout: srv.ssl_session_timeout,
        session_tickets: srv.ssl_session_tickets,
        ticket_keys: &srv.ssl_session_ticket_key,
        buffer_size: srv.ssl_buffer_size,
        reject_handshake: srv.ssl_reject_handshake,
        verify_client: srv.ssl_verify_client,
        client_certificate: &srv.ssl_client_certificate,
        trusted_certificate: &srv.ssl_trusted_certificate,
        crl: &srv.ssl_crl,
        verify_depth: srv.ssl_verify_depth,
        passwords: &srv.ssl_password_file,
        stapling: srv.ssl_stapling,
        stapling_file: &srv.ssl_stapling_file,
        stapling_responder: &srv.ssl_stapling_responder,
        stapling_verify: srv.ssl_stapling_verify,
        early_data: srv.ssl_early_data,
        ocsp: srv.ssl_ocsp,
        ocsp_responder: &srv.ssl_ocsp_responder,
        ocsp_cache: &srv.ssl_ocsp_cache,
    };
    let mut warnings = Vec::new();
    let built = crate::tls::build(&settings, &mut warnings);
    for w in warnings {
        shared.warnings.push(ConfError::new(w, file, line));
    }
    match built {
        Ok(mut tls) => {
            tls.ktls = srv.ssl_ktls;
            Some(Rc::new(tls))
        }
        Err(e) => {
            errors.push(ConfError::new(e, file, line));
            None
        }
    }
}

/// nginx's check: the default server of an `ssl` address needs a certificate, or
/// `ssl_reject_handshake on` and then every other server there needs one or the same.
pub(crate) fn check_addresses(
    servers: &[ServerConf],
    listens: &[ListenConf],
) -> Result<(), ConfError> {
    let answers = |i: usize| {
        servers[i]
            .tls
            .as_ref()
            .is_some_and(|t| t.config.is_some() || t.reject_handshake)
    };
    let missing = |i: usize| {
        let at = &servers[i].defined_at;
        ConfError::bare(format!(
            "no \"ssl_certificate\" is defined for the \"listen ... ssl\" directive in {}:{}",
            at.file.display(),
            at.line
        ))
    };
    for listen in listens.iter().filter(|l| l.ssl) {
        // The address's servers and its default, as the router finds them.
        let on: Vec<usize> = (0..servers.len())
            .filter(|&i| servers[i].listens.iter().any(|l| l.addr == listen.addr))
            .collect();
        let Some(default) = on
            .iter()
            .copied()
            .find(|&i| {
                servers[i]
                    .listens
                    .iter()
                    .any(|l| l.addr == listen.addr && l.default_server)
            })
            .or_else(|| on.first().copied())
        else {
            continue;
        };
        if servers[default]
            .tls
            .as_ref()
            .is_some_and(|t| t.config.is_some())
        {
            continue;
        }
        if !answers(default) {
            return Err(missing(default));
        }
        if let Some(&i) = on.iter().find(|&&i| !answers(i)) {
            return Err(missing(i));
        }
    }
    Ok(())
}
