//! nginx's `ngx_http_map_uri_to_path`: the file a URI names under the location's `root` or
//! `alias`, either of which may hold variables (evaluated per request, captures included).

use std::os::unix::ffi::OsStrExt;

use crate::config::LocSettings;
use crate::vars::VarSource;

/// What part of the URI follows the document root in a file's path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Follows {
    /// `root`: the whole URI.
    WholeUri,
    /// `alias` of a prefix or exact location: the URI after the location's name (its
    /// length).
    AfterPrefix(usize),
    /// `alias` of a regex location: nothing, the alias is the whole path (unless
    /// `try_files` found a file, nginx's `r->add_uri_to_alias`).
    Nothing,
}

/// Appends the document root (`$document_root`) of a request under `loc` to `out`, with
/// `src` answering the variables of a root or alias that has some; returns what follows
/// it in a file's path.
pub fn document_root(loc: &LocSettings, src: &dyn VarSource, out: &mut Vec<u8>) -> Follows {
    match &loc.alias {
        Some(alias) => {
            alias.path.eval(src, out);
            match alias.location_len {
                Some(len) => Follows::AfterPrefix(len),
                None => Follows::Nothing,
            }
        }
        None => {
            match &loc.root_script {
                Some(script) => script.eval(src, out),
                None => out.extend_from_slice(loc.root.as_os_str().as_bytes()),
            }
            Follows::WholeUri
        }
    }
}

/// Appends the path of `uri` (`$request_filename`): the document root, then the part of
/// the URI that [`document_root`] said follows it.
pub fn map_uri_to_path(
    loc: &LocSettings,
    uri: &[u8],
    add_uri_to_alias: bool,
    src: &dyn VarSource,
    out: &mut Vec<u8>,
) {
    match document_root(loc, src, out) {
        Follows::WholeUri => out.extend_from_slice(uri),
        Follows::AfterPrefix(len) => out.extend_from_slice(uri.get(len..).unwrap_or(b"")),
        Follows::Nothing if add_uri_to_alias => out.extend_from_slice(uri),
        Follows::Nothing => {}
    }
}
