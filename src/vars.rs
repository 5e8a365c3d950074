//! `$variables`: compiled once at config load, evaluated per request.

/// A compiled string with variables.
#[derive(Clone, Debug, Default)]
pub struct Template {}
