//! Which error logs a line goes to while a worker drives one connection.
//!
//! nginx gives each connection its own log object: the `error_log` list of the location its
//! request is in, with every level let through when the client matches `debug_connection`.
//! A Portico worker drives one connection at a time, so the same is two process-wide
//! values, set around each turn of a connection ([`ConnScope`]) and updated when a request
//! moves to another location ([`use_request_logs`]). Outside a scope, lines go to the main
//! context's logs, as nginx's process-level messages do.

use std::cell::Cell;
use std::marker::PhantomData;
use std::rc::Rc;

use super::ErrorLogConf;

thread_local! {
    static DEBUG_CONNECTION: Cell<bool> = const { Cell::new(false) };
    static IN_CONNECTION: Cell<bool> = const { Cell::new(false) };
    static REQUEST_LOGS: Cell<Option<Rc<Vec<ErrorLogConf>>>> = const { Cell::new(None) };
}

/// While alive, lines belong to one connection: logged at every level if `debug`, and to
/// the given `error_log`s (a request's location's) instead of the main ones. Dropping it
/// restores what was current before.
#[must_use = "the scope ends when the guard is dropped"]
pub struct ConnScope {
    saved: (bool, bool, Option<Rc<Vec<ErrorLogConf>>>),
    /// A scope belongs to the thread (process) that entered it.
    _not_send: PhantomData<*const ()>,
}

impl ConnScope {
    /// Enters a connection's scope; `logs` are its current request's, if it has one.
    pub fn enter(debug: bool, logs: Option<&Rc<Vec<ErrorLogConf>>>) -> ConnScope {
        let saved = (
            DEBUG_CONNECTION.replace(debug),
            IN_CONNECTION.replace(true),
            REQUEST_LOGS.replace(logs.cloned()),
        );
        ConnScope {
            saved,
            _not_send: PhantomData,
        }
    }
}

impl Drop for ConnScope {
    fn drop(&mut self) {
        DEBUG_CONNECTION.set(self.saved.0);
        IN_CONNECTION.set(self.saved.1);
        REQUEST_LOGS.set(self.saved.2.take());
    }
}

/// The request being handled now uses these logs (its location's `error_log`). Outside a
/// connection's scope this does nothing.
pub fn use_request_logs(logs: &Rc<Vec<ErrorLogConf>>) {
    if IN_CONNECTION.get() {
        REQUEST_LOGS.set(Some(Rc::clone(logs)));
    }
}

/// Whether the current connection is a `debug_connection` client's.
#[inline]
pub(super) fn debug_connection() -> bool {
    DEBUG_CONNECTION.get()
}

/// Runs `f` with the current request's logs, if any.
pub(super) fn with_request_logs<R>(f: impl FnOnce(Option<&[ErrorLogConf]>) -> R) -> R {
    let logs = REQUEST_LOGS.take();
    let result = f(logs.as_deref().map(Vec::as_slice));
    REQUEST_LOGS.set(logs);
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::{ErrorLogTarget, LogLevel};

    #[test]
    fn scopes_nest_and_restore() {
        let logs = Rc::new(vec![ErrorLogConf {
            target: ErrorLogTarget::Stderr,
            level: LogLevel::Info,
        }]);
        use_request_logs(&logs);
        assert!(
            with_request_logs(|l| l.is_none()),
            "no effect outside a scope"
        );
        {
            let _outer = ConnScope::enter(true, None);
            assert!(debug_connection());
            use_request_logs(&logs);
            assert_eq!(with_request_logs(|l| l.map(<[_]>::len)), Some(1));
            {
                let _inner = ConnScope::enter(false, None);
                assert!(!debug_connection());
                assert!(with_request_logs(|l| l.is_none()));
            }
            assert!(debug_connection());
            assert_eq!(with_request_logs(|l| l.map(<[_]>::len)), Some(1));
        }
        assert!(!debug_connection());
        assert!(with_request_logs(|l| l.is_none()));
    }
}
