//! Command line: nginx's flags.
/// Entry point; returns the exit code.
pub fn main() -> i32 {
    0
}
