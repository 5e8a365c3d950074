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
    pub(super) fn accept_tls(
        &mut self,
        shared: &mut Shared<'c>,
        servers: &AddrServers,
    ) -> Option<Step> {
        let failed = |id: u64, peer: &ClientAddr, text: &str| {
            elog!(
                LogLevel::Info,
                "*{id} {text} while SSL handshaking, client: {}, server: {}",
                peer.ip(),
                servers.addr
            );
            Some(Step::Close)
        };
        if self.proxy_protocol_pending {
            // The PROXY protocol header comes in clear before the hello: read it as the
            // plain path does (one read), then hand what follows it to the hello's reader.
            let a = self.active.get_or_insert_with(|| shared.pool.take(1024));
            if a.buf.len() < 1024 {
                a.buf.resize(1024, 0);
            }
            match self.client.read_raw(&mut a.buf[a.filled..]) {
                Ok(0) => return Some(Step::Close),
                Ok(n) => a.filled += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return Some(Step::Wait(self.deadline));
                }
                Err(_) => return Some(Step::Close),
            }
            self.proxy_protocol_pending = false;
            match admission::read_proxy_protocol(self.id, self.peer, servers, a) {
                Ok(header) => self.proxy_protocol = header,
                Err(()) => return Some(Step::Close),
            }
            let rest = a.start..a.filled;
            self.client.tls_feed(&a.buf[rest]);
            (a.start, a.filled, a.scanned) = (0, 0, 0);
        }
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
                let server = if has_own(chosen) {
                    chosen
                } else {
                    servers.default
                };
                // `listen ... http2`, or `http2 on` in the server SNI chose, offers `h2`
                // (the default server's `http2 on` does not: SNI chose another).
                let h2 = servers.listen_http2 || http.servers[chosen].srv.http2;
                match http.servers[server]
                    .tls
                    .as_ref()
                    .and_then(|t| t.accepting(h2))
                {
                    Some(config) => match self.client.tls_start(accepted, config.clone()) {
                        Ok(()) => {
                            if http.servers[server].tls.as_ref().is_some_and(|t| t.ktls) {
                                self.client.tls_allow_kernel();
                            }
                            if http.servers[server]
                                .tls
                                .as_ref()
                                .is_some_and(|t| t.ocsp.is_some())
                            {
                                self.cert_status_due = CertStatusDue::Before(server);
                            }
                            None
                        }
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
