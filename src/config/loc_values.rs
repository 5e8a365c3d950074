//! Value types of the location-level settings that serve files and shape responses:
//! `try_files`, `error_page`, `add_header`, `open_file_cache`, `autoindex_format`.

use std::time::Duration;

use crate::vars::Template;

/// `try_files FILE... URI|=CODE|@name`.
#[derive(Clone, Debug)]
pub struct TryFiles {
    /// The paths tried in order, relative to `root`/`alias`.
    pub files: Vec<TryFile>,
    /// What happens when none exists.
    pub fallback: TryFallback,
}

/// One path of `try_files`.
#[derive(Clone, Debug)]
pub struct TryFile {
    /// The path (its trailing `/` removed when `dir`).
    pub path: Template,
    /// Written with a trailing `/`: a directory is tested instead of a file.
    pub dir: bool,
}

/// The last parameter of `try_files`.
#[derive(Clone, Debug)]
pub enum TryFallback {
    /// An internal redirect to this URI (which may carry `?args`).
    Uri(Template),
    /// `=CODE`: answer this status.
    Code(u16),
    /// `@name`: continue in that named location.
    Named(String),
}

/// What status an `error_page` answer carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorPageStatus {
    /// No `=`: the original status (400 for nginx's 494–497 codes).
    Original,
    /// `=` alone: whatever the target answers.
    FromTarget,
    /// `=CODE`.
    Code(u16),
}

/// One status of an `error_page CODE... [=[RESPONSE]] URI` directive.
#[derive(Clone, Debug)]
pub struct ErrorPage {
    /// The status it handles (300–599).
    pub status: u16,
    /// The status answered.
    pub response: ErrorPageStatus,
    /// The target as evaluated per request: `@name` is a named location, a value starting
    /// with `/` an internal redirect, anything else an external redirect (302, or the
    /// `=CODE` when it is 301, 302, 303, 307 or 308).
    pub uri: Template,
    /// For a target without variables: the part after its `?`.
    pub args: Option<String>,
}

/// `expires [modified] VALUE` with variables: evaluated and parsed per request.
#[derive(Clone, Debug)]
pub struct ExpiresScript {
    /// The value.
    pub value: Template,
    /// `modified`: relative to the file's mtime.
    pub modified: bool,
}

/// `add_header NAME VALUE [always]`.
#[derive(Clone, Debug)]
pub struct AddHeader {
    /// The header name as written.
    pub name: String,
    /// Its value; an empty result adds nothing.
    pub value: Template,
    /// `always`: also on error responses, not only on 200, 201, 204, 206, 301, 302, 303,
    /// 304, 307 and 308.
    pub always: bool,
}

/// `disable_symlinks off|on [from=$document_root]`: which part of a file's path may hold
/// symbolic links. `if_not_owner` is not implemented.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum DisableSymlinks {
    /// nginx's default: links are followed.
    #[default]
    Off,
    /// No component of the path may be a symbolic link.
    On,
    /// `on from=$document_root`: the root itself may hold links, the rest may not.
    FromDocumentRoot,
}

/// `open_file_cache max=N [inactive=TIME]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpenFileCache {
    /// Most entries kept.
    pub max: usize,
    /// Entries unused this long are dropped (default 60s).
    pub inactive: Duration,
}

/// `open_file_cache ... inactive=` default.
pub const DEFAULT_OPEN_FILE_CACHE_INACTIVE: Duration = Duration::from_secs(60);
/// `open_file_cache_valid 60s;`
pub const DEFAULT_OPEN_FILE_CACHE_VALID: Duration = Duration::from_secs(60);
/// `open_file_cache_min_uses 1;`
pub const DEFAULT_OPEN_FILE_CACHE_MIN_USES: u64 = 1;

/// `autoindex_format html|xml|json|jsonp`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AutoindexFormat {
    /// An HTML listing.
    #[default]
    Html,
    /// `<list>` of `<directory>`, `<file>` and `<other>` elements.
    Xml,
    /// A JSON array of entries.
    Json,
    /// The JSON array passed to the function the `callback` argument names.
    Jsonp,
}
