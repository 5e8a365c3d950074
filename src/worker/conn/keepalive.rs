//! Whether a connection stays open after a response, decided in one place from the pair
//! (what the request side read, what the response side wrote), as hyper's `proto/h1` does.
//!
//! The decision is taken twice with the same function: when the head is built (it says
//! `Connection: keep-alive` or `close`), and when the response has left (a response that
//! ended badly closes even though its head promised more; a head that said `close` always
//! closes).

/// The request side.
pub struct Reading {
    /// The client asks to keep the connection (HTTP/1.1 without `Connection: close`,
    /// HTTP/1.0 with `Connection: keep-alive`).
    pub wants: bool,
    /// The server allows another request: `keepalive_requests` not reached,
    /// `keepalive_timeout` not zero, the worker not stopping.
    pub allowed: bool,
    /// How far the request's body was read.
    pub body: BodyRead,
}

/// How far a request's body was read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyRead {
    /// All of it (or there is none).
    Complete,
    /// The rest is being read and dropped: the next request starts after it.
    Discarding,
    /// The rest is unread and nobody will read it (its request went elsewhere, or the
    /// client broke its framing or went away).
    Abandoned,
}

/// The response side.
pub struct Writing {
    /// The error status the request was finalized with (nginx's special response handler:
    /// a page of our own, or an `error_page` answering it). A status an upstream sent, or
    /// `return CODE TEXT`, does not count: nginx keeps the connection after those.
    pub finalized: Option<u16>,
    /// The client can tell where the body ends (a length, chunks, no body).
    pub delimited: bool,
    /// The whole response was (or is to be) sent.
    pub complete: bool,
}

/// Statuses after which nginx does not keep the connection, even when an `error_page`
/// answers them (its special response handler).
pub fn closes_connection(status: u16) -> bool {
    matches!(
        status,
        400 | 408 | 413 | 414 | 444 | 495 | 496 | 497 | 500 | 501 | 505
    )
}

/// Whether the connection may serve another request after this one.
pub fn keep_alive(reading: &Reading, writing: &Writing) -> bool {
    reading.wants
        && reading.allowed
        && reading.body != BodyRead::Abandoned
        && !writing.finalized.is_some_and(closes_connection)
        && writing.delimited
        && writing.complete
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_sides_must_allow_it() {
        let r = Reading {
            wants: true,
            allowed: true,
            body: BodyRead::Discarding,
        };
        let w = Writing {
            finalized: None,
            delimited: true,
            complete: true,
        };
        assert!(keep_alive(&r, &w));
        assert!(!keep_alive(&Reading { wants: false, ..r }, &w));
        let r = Reading {
            wants: true,
            allowed: true,
            body: BodyRead::Abandoned,
        };
        assert!(!keep_alive(&r, &w));
        let r = Reading {
            body: BodyRead::Complete,
            ..r
        };
        assert!(!keep_alive(
            &r,
            &Writing {
                finalized: Some(413),
                ..w
            }
        ));
        assert!(!keep_alive(
            &r,
            &Writing {
                delimited: false,
                ..w
            }
        ));
        assert!(!keep_alive(
            &r,
            &Writing {
                complete: false,
                ..w
            }
        ));
    }
}
