//! The start of a `listen ... ssl` connection: the client's hello is read, its SNI picks
//! the server block as nginx's servername callback does (the server named, by
//! `server_name` rules — exact, wildcards, regexes — else the address's default; a server
//! without certificates of its own uses the default's), and the handshake goes on under
//! that server's configuration, or is refused with `ssl_reject_handshake`. A client that
//! speaks plain HTTP is read as HTTP and answered 497 (nginx's 400 "The plain HTTP request
//! was sent to HTTPS port", or its `error_page 497`).

use super::*;
use crate::tls::Hello;

impl<'c> Conn<'c> {
    /// Reads the hello as far as it came: `Some(step)` when the connection must wait or
    /// close, `None` when reading the request goes on (through TLS, or plain).
    pub(super) fn accept_tls(&mut self, shared: &Shared<'c>, servers: &AddrServers) -> Option<Step> {
        let failed = |id: u64, peer: &ClientAddr, text: &str| {
            elog!(
                LogLevel::Info,
                "*{id} {text} while SSL handshaking, client: {}, server: {}",
                peer.ip(),
                servers.addr
            );
            Some(Step::Close)
        };
        match self.client.tls_hello() {
            Hello::Wait => Some(Step::Wait(self.deadline)),
            Hello::Closed => Some(Step::Close),
            Hello::Plain => {
                self.plain_on_tls = true;
                None
            }
            Hello::Failed(text) => failed(self.id, &self.peer, &text),
            Hello::Ready(accepted) => {
                let http = shared.http;
                let chosen = match accepted.client_hello().server_name() {
                    Some(name) => {
                        let mut captures = Default::default();
                        let state = crate::router::MatchState {
                            captures: &mut captures,
                            values: &mut [],
                        };
                        crate::router::select_server(http, servers, Some(name.as_bytes()), state)
                            .unwrap_or(servers.default)
                    }
                    None => servers.default,
                };
                let has_own = |i: usize| {
                    http.servers[i]
                        .tls
                        .as_ref()
                        .is_some_and(|t| t.config.is_some() || t.reject_handshake)
                };
                let server = if has_own(chosen) { chosen } else { servers.default };
                // The listener's HTTP/2 switch (issue h2) picks the ALPN list with `h2`.
                let h2 = false;
                match http.servers[server].tls.as_ref().and_then(|t| t.accepting(h2)) {
                    Some(config) => match self.client.tls_start(accepted, config.clone()) {
                        Ok(()) => None,
                        Err(text) => failed(self.id, &self.peer, &text),
                    },
                    None => {
                        self.client.tls_reject();
                        failed(
                            self.id,
                            &self.peer,
                            "SSL_do_handshake() failed (SSL: handshake rejected by \
                             \"ssl_reject_handshake\")",
                        )
                    }
                }
            }
        }
    }
}
