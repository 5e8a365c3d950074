//! `portico -t --explain "GET http://example.com/a.css?x=1"`: how a request would be routed.

use crate::cli::Args;
use crate::config::LoadOptions;

/// `--explain REQUEST` and the options that describe the request further.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Explain {
    /// `METHOD URL [HTTP/1.x]`.
    pub request: String,
    /// `-H 'Name: value'`, in order.
    pub headers: Vec<String>,
    /// `--client ADDR[:PORT]`: the client's address.
    pub client: Option<String>,
    /// `--listen ADDR:PORT`: the listening address the request came to.
    pub listen: Option<String>,
}

/// Runs `--explain`; returns the exit code.
pub fn run(_args: &Args, _opts: &LoadOptions, _explain: &Explain) -> i32 {
    1
}
