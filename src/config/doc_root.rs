//! `root` and `alias` values (nginx keeps both in one field of `ngx_http_core_loc_conf_t`):
//! a path fixed at load, or one with variables evaluated per request, and for `alias` how
//! much of the URI it replaces.

use std::path::PathBuf;

use crate::vars::{Template, Var, VarSource};

/// A `root` or `alias` path. Written without a leading `$` it was made absolute against the
/// prefix at load (nginx's `ngx_conf_full_name`); a value that starts with a variable is
/// made absolute per request if it evaluates to a relative path (`ngx_get_full_name`).
#[derive(Clone, Debug)]
pub struct PathScript {
    /// The path, literal or with variables.
    pub template: Template,
    /// The prefix (`-p`) a relative result is taken from.
    pub prefix: PathBuf,
}

impl PathScript {
    /// Appends the path for the request `src` describes. The variables that are themselves
    /// derived from `root`/`alias` (`$request_filename`; nginx refuses `$document_root` and
    /// `$realpath_root` at load) evaluate as empty instead of recursing.
    pub fn eval(&self, src: &dyn VarSource, out: &mut Vec<u8>) {
        let start = out.len();
        match self.template.is_literal() {
            Some(path) => out.extend_from_slice(path),
            None => self.template.eval(&NotFromRoot(src), out),
        }
        if out.get(start) != Some(&b'/') {
            let mut prefix = self.prefix.clone().into_os_string().into_encoded_bytes();
            if !prefix.ends_with(b"/") {
                prefix.push(b'/');
            }
            out.splice(start..start, prefix);
        }
    }
}

/// Hides the variables a root or alias cannot be made of.
struct NotFromRoot<'a>(&'a dyn VarSource);

impl VarSource for NotFromRoot<'_> {
    fn var(&self, var: &Var, out: &mut Vec<u8>) -> bool {
        match var {
            Var::RequestFilename | Var::DocumentRoot | Var::RealpathRoot => false,
            _ => self.0.var(var, out),
        }
    }
}

/// `alias PATH`: the path and the part of the URI it stands for.
#[derive(Clone, Debug)]
pub struct Alias {
    /// The path.
    pub path: PathScript,
    /// The length of the prefix or exact location name the alias replaces; `None` in a
    /// regex location, where the evaluated alias (captures allowed) is the whole path
    /// (nginx's `alias == NGX_MAX_SIZE_T_VALUE`). A nested location without `root` or
    /// `alias` inherits both the path and this length.
    pub location_len: Option<usize>,
}
