//! `$variables`: compiled once at config load, evaluated per request.

/// A compiled string with variables.
#[derive(Clone, Debug, Default)]
pub struct Template {}

impl Template {
    /// Compiles `text` (e.g. a `log_format` string); unknown variables are an error whose
    /// message is nginx's: `unknown "foo" variable`.
    pub fn compile(_text: &str) -> Result<Template, String> {
        Ok(Template {})
    }
}
