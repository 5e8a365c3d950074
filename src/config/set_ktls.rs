//! `ssl_conf_command Options KTLS;`: nginx's way (with OpenSSL 3) to turn kernel TLS on
//! for a server, mapped onto Portico's kTLS (`tls/ktls.rs`): with it, a connection's session
//! moves into the kernel when a file goes out with `sendfile on`. Any other OpenSSL command
//! is refused with the reason, as before.

use super::error::ConfError;
use super::parser::Directive;
use super::raw::{Level, Shared};

/// `ssl_conf_command NAME VALUE;` (repeatable; only `Options KTLS` / `Options -KTLS`).
pub(crate) fn ssl_conf_command(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    let on = match (d.arg(0), d.arg(1)) {
        ("Options", "KTLS") => true,
        ("Options", "-KTLS") => false,
        _ => {
            return Err(ConfError::at(
                d,
                "\"ssl_conf_command\" is not supported: it passes commands to OpenSSL, and \
                 Portico's TLS is rustls (only \"Options KTLS\", kernel TLS, is mapped)",
            ));
        }
    };
    // Later commands override earlier ones, as OpenSSL applies them in order.
    l.srv(d)?.ssl_ktls = Some(on);
    Ok(())
}
