//! The configuration lexer, directive tree, directive table and merge, on arbitrary text.
//!
//! Inputs that would reach outside the process are skipped: `include` reads files (think
//! `include /dev/zero;`) and `listen` with a host name resolves it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portico::config::lexer::{Lexer, Terminator};
use std::path::Path;

/// Whether a directive in `data` would read a file or ask DNS. Uses the lexer the parser
/// uses, so escapes and quotes cannot hide a name from it.
fn reaches_outside(data: &[u8]) -> bool {
    let mut lexer = Lexer::new(data);
    loop {
        let Ok(statement) = lexer.next_statement() else {
            return false;
        };
        if statement.end == Terminator::Eof {
            return false;
        }
        let mut words = statement.words.iter().map(|t| t.word.text.as_str());
        match words.next() {
            Some("include") => return true,
            Some("listen") => {
                let resolves = words.any(|w| {
                    w.bytes().any(|b| b.is_ascii_alphabetic())
                        && !w.starts_with('[')
                        && !w.starts_with("unix:")
                        && !w.starts_with("localhost")
                });
                if resolves {
                    return true;
                }
            }
            _ => {}
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if reaches_outside(data) {
        return;
    }
    let prefix = Path::new("/nonexistent-portico-fuzz");
    let file = prefix.join("conf/nginx.conf");
    if let Err(e) = portico::config::load_str(data, &file, prefix) {
        // Every error nginx reports from a file names it (or has no location at all).
        let _ = e.to_string();
    }
});
