//! Configuration: lexer → directive tree (with `include`) → directive table → typed settings.
//!
//! - [`lexer`] splits text into directives the way `ngx_conf_read_token` does;
//! - [`parser`] nests them into a [`parser::Directive`] tree, expanding `include` and
//!   recording every file read (for `-T`);
//! - [`directives`] is the one table of known directives: contexts, arity, setter, doc;
//!   the setters live in `set_core`, `set_http`, `set_loc`, `set_log`, `set_rewrite`
//!   (which compiles the rewrite module's directives into [`rewrite_ops::Op`]s),
//!   `set_cgi` (FastCGI, uwsgi, SCGI) and `listen`;
//! - [`settings`] holds the typed result, merged http → server → location by `merge`.
//!
//! Every error is a [`ConfError`] worded as nginx words it, ending `in FILE:LINE`.

pub mod access;
pub mod cache_conf;
pub mod cgi_parts;
pub mod cgi_values;
pub mod charset;
pub mod core_values;
pub mod directives;
pub mod doc_root;
pub mod error;
pub mod glob;
pub mod gzip_values;
pub mod hash_sizing;
pub mod health_check;
pub mod lexer;
pub mod limits_values;
mod listen;
pub mod loc_values;
pub mod location_tree;
mod merge;
pub mod parser;
pub mod proxy_rest;
pub mod proxy_values;
mod raw;
pub mod resolver;
pub mod rewrite_ops;
mod set_block;
pub mod set_cache;
mod set_cgi;
mod set_core;
mod set_events;
mod set_geo;
mod set_gzip;
mod set_http;
mod set_http2;
mod set_ktls;
mod set_limits;
mod set_loc;
mod set_log;
mod set_map;
mod set_proxy;
mod set_proxy_rest;
mod set_proxy_ssl;
mod set_referer;
mod set_regex;
mod set_rewrite;
mod set_split_clients;
mod set_ssl;
pub mod set_status;
pub mod set_tail;
pub mod set_upstream;
pub mod settings;
pub mod subrequest;
mod tls_server;
pub mod tuning;
pub mod upstream_ssl;
pub mod values;
pub mod writer;

use std::path::{Path, PathBuf};

pub use error::ConfError;
pub use limits_values::*;
pub use listen::{SoKeepalive, SockOpts};
pub use loc_values::*;
pub use parser::{Directive, SourceFile, SourcePos, Word};
pub use settings::*;

use directives::walk;
use raw::{Level, MainRaw, Shared};

/// What to load: nginx's `-c`, `-p` and `-g`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// The configuration file (`-c`); a relative path is taken from `prefix`.
    pub file: PathBuf,
    /// The prefix (`-p`) that relative paths in the configuration resolve against.
    pub prefix: PathBuf,
    /// Extra main-context directives (`-g`), applied before the file; errors in them read
    /// `... in command line`.
    pub globals: Option<String>,
    /// `-e`: the error log used when the configuration names none (`stderr` or a path).
    pub error_log: Option<PathBuf>,
}

impl LoadOptions {
    /// The configuration file's full name, as nginx prints it.
    pub fn full_file(&self) -> PathBuf {
        if self.file.is_absolute() {
            self.file.clone()
        } else {
            self.prefix.join(&self.file)
        }
    }
}

/// Reads, checks and merges the configuration.
pub fn load(opts: &LoadOptions) -> Result<Config, ConfError> {
    let file = opts.full_file();
    let conf_prefix = file.parent().unwrap_or(Path::new("/")).to_path_buf();
    let mut parser = parser::Parser::new(&conf_prefix);
    let mut shared = Shared::new(opts.prefix.clone())?;
    shared.conf_prefix = conf_prefix.clone();
    let mut main = MainRaw::default();
    // nginx applies -g before it opens the file, so its errors come first.
    let mut globals_tree = Vec::new();
    if let Some(globals) = &opts.globals {
        globals_tree = parser.parse_param(globals)?;
        walk(&mut Level::Main(&mut main), &globals_tree, &mut shared)?;
    }
    let tree = parser.parse_main(&file)?;
    crate::regex::set_jit(set_regex::jit_wanted(&[&globals_tree, &tree]));
    // nginx knows every `set` variable before it compiles any string that uses one, and
    // every variable a regex's named group declares.
    set_rewrite::declare_user_vars(&tree, &mut shared.user_vars);
    set_map::declare_computed_vars(&tree, &mut shared.user_vars);
    set_regex::declare_capture_vars(&tree, &mut shared.user_vars);
    walk(&mut Level::Main(&mut main), &tree, &mut shared)?;
    if main.error_log.is_empty()
        && let Some(path) = &opts.error_log
    {
        let target = if path.as_os_str() == "stderr" {
            ErrorLogTarget::Stderr
        } else {
            ErrorLogTarget::File(values::full_name(&opts.prefix, &path.to_string_lossy()))
        };
        main.error_log.push(ErrorLogConf {
            target,
            level: crate::log::LogLevel::Error,
        });
    }
    merge::build(main, shared, file, parser.into_sources())
}

/// [`load`] for configuration text already in memory, read as the main file `file`, with
/// relative paths taken from `prefix` (no `-g`, no `-e`). `include` still reads files.
pub fn load_str(text: &[u8], file: &Path, prefix: &Path) -> Result<Config, ConfError> {
    let conf_prefix = file.parent().unwrap_or(Path::new("/"));
    let mut parser = parser::Parser::new(conf_prefix);
    let mut shared = Shared::new(prefix.to_path_buf())?;
    shared.conf_prefix = conf_prefix.to_path_buf();
    let mut main = MainRaw::default();
    let tree = parser.parse_text(text, file)?;
    crate::regex::set_jit(set_regex::jit_wanted(&[&tree]));
    set_rewrite::declare_user_vars(&tree, &mut shared.user_vars);
    set_map::declare_computed_vars(&tree, &mut shared.user_vars);
    set_regex::declare_capture_vars(&tree, &mut shared.user_vars);
    walk(&mut Level::Main(&mut main), &tree, &mut shared)?;
    merge::build(main, shared, file.to_path_buf(), parser.into_sources())
}

/// What `nginx -T` prints after its test lines: each file read, once, as
/// `# configuration file /abs/path:\n<contents>\n`.
pub fn render_dump(sources: &[SourceFile]) -> String {
    let mut out = String::new();
    for source in sources {
        out.push_str(&format!(
            "# configuration file {}:\n",
            source.path.display()
        ));
        out.push_str(&source.contents);
        out.push('\n');
    }
    out
}

/// Logs the configuration's `[warn]`s, as nginx does while it reads a configuration (to
/// stderr for `-t` and at start, to the error log at a reload).
pub fn log_warnings(config: &Config) {
    for warning in &config.warnings {
        crate::elog!(crate::log::LogLevel::Warn, "{warning}");
    }
}

/// Loads the configuration (so errors are reported as for `-t`) and renders [`render_dump`].
pub fn dump(opts: &LoadOptions) -> Result<String, ConfError> {
    load(opts).map(|config| render_dump(&config.sources))
}

#[cfg(test)]
pub(crate) mod testutil {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    static NEXT: AtomicUsize = AtomicUsize::new(0);

    /// A fresh, empty folder for one test.
    pub fn temp_dir() -> PathBuf {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("portico-conf-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("conf")).unwrap_or_else(|e| panic!("{dir:?}: {e}"));
        dir
    }

    /// Loads `text` as `PREFIX/conf/nginx.conf`; returns the prefix too.
    pub fn load_in(text: &str, globals: Option<&str>) -> (Result<Config, ConfError>, PathBuf) {
        let prefix = temp_dir();
        std::fs::write(prefix.join("conf/nginx.conf"), text).unwrap_or_else(|e| panic!("{e}"));
        let opts = LoadOptions {
            file: "conf/nginx.conf".into(),
            prefix: prefix.clone(),
            globals: globals.map(str::to_string),
            error_log: None,
        };
        (load(&opts), prefix)
    }

    /// Loads `text` and panics on error.
    pub fn load_ok(text: &str) -> Config {
        let (result, _) = load_in(text, None);
        result.unwrap_or_else(|e| panic!("{e}"))
    }

    /// Loads `text` and returns the error's message (without location).
    pub fn load_err(text: &str) -> String {
        match load_in(text, None).0 {
            Ok(_) => panic!("no error for:\n{text}"),
            Err(e) => e.message,
        }
    }

    /// `events {}` plus an http block with `body`.
    pub fn http(body: &str) -> String {
        format!("events {{}}\nhttp {{\n{body}\n}}\n")
    }
}

#[cfg(test)]
mod tests;

/// nginx's merge of settings kept as `Option`s: each named field still unset in `$child`
/// takes `$parent`'s value.
macro_rules! inherit_unset {
    ($child:expr, $parent:expr; $($field:ident),* $(,)?) => {$(
        if $child.$field.is_none() {
            $child.$field = $parent.$field.clone();
        }
    )*};
}
pub(crate) use inherit_unset;
