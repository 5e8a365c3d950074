//! The command line: nginx's flags, parsed the way nginx parses them (`-c file` or `-cfile`,
//! single-letter flags bundled as in `-tq`).

use std::path::{Path, PathBuf};

use crate::config::{self, ErrorLogConf, ErrorLogTarget, LoadOptions};
use crate::log::LogLevel;
use crate::{NAME, VERSION, elog};

/// The default configuration file, relative to the prefix: `conf/portico.conf`, or the
/// `PORTICO_CONF_PATH` the binary was built with (nginx's `--conf-path`; `make install` and
/// `make deb` build with `/etc/portico/portico.conf`).
pub const DEFAULT_CONF_FILE: &str = match option_env!("PORTICO_CONF_PATH") {
    Some(path) => path,
    None => "conf/portico.conf",
};

/// The prefix without `-p`: the `PORTICO_PREFIX` the binary was built with (nginx's
/// `--prefix`; `/var/lib/portico` for `make install`), else the current directory.
fn default_prefix() -> PathBuf {
    match option_env!("PORTICO_PREFIX") {
        Some(prefix) => PathBuf::from(prefix),
        None => std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/")),
    }
}

/// The rustls release Portico is built with (`-V`).
const RUSTLS_VERSION: &str = "0.23";

/// Optional nginx modules Portico has, declared as nginx's `--with-*` configure arguments.
const WITH_MODULES: &[&str] = &[
    "http_realip_module",
    "http_ssl_module",
    "http_gzip_static_module",
    "http_gunzip_module",
    "http_stub_status_module",
    "http_auth_request_module",
    "http_v2_module",
];

/// nginx modules Portico does not implement, listed by `-V` as `--without-*` so that tools which
/// read `nginx -V` to detect features see them as absent.
const WITHOUT_MODULES: &[&str] = &[
    "http_ssi_module",
    "http_userid_module",
    "http_grpc_module",
    "http_memcached_module",
    "http_browser_module",
    "mail_pop3_module",
    "mail_imap_module",
    "mail_smtp_module",
    "stream_limit_conn_module",
    "pcre-jit",
];

/// What the command line asks for.
#[derive(Debug, Default, PartialEq)]
pub struct Args {
    /// `-?`/`-h`
    pub help: bool,
    /// `-v`
    pub version: bool,
    /// `-V`
    pub version_configure: bool,
    /// `-t`
    pub test: bool,
    /// `-T`
    pub dump: bool,
    /// `-q`
    pub quiet: bool,
    /// `-s SIGNAL`
    pub signal: Option<String>,
    /// `-p PREFIX`
    pub prefix: Option<PathBuf>,
    /// `-e FILE`
    pub error_log: Option<PathBuf>,
    /// `-c FILE`
    pub conf: Option<PathBuf>,
    /// `-g DIRECTIVES`
    pub globals: Option<String>,
    /// `-s SIGNAL[=TIME]`, parsed (see [`crate::control`]).
    pub signal_request: Option<crate::control::Request>,
    /// `--explain REQUEST` and its options (see [`crate::explain`]).
    pub explain: Option<crate::explain::Explain>,
}

/// Parses the arguments after the program name. Errors are nginx's messages.
pub fn parse_args<I: IntoIterator<Item = String>>(args: I) -> Result<Args, String> {
    let mut out = Args::default();
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        if long_option(&arg, &mut it, &mut out)? {
            continue;
        }
        let Some(flags) = arg.strip_prefix('-') else {
            return Err(format!("invalid option: \"{arg}\""));
        };
        for (i, c) in flags.char_indices() {
            // Options with a value take the rest of this word or the next word.
            let mut value = |name: &str| -> Result<String, String> {
                let rest = &flags[i + c.len_utf8()..];
                if !rest.is_empty() {
                    return Ok(rest.to_string());
                }
                it.next()
                    .ok_or_else(|| format!("option \"-{name}\" requires {}", requires(name)))
            };
            match c {
                '?' | 'h' => out.help = true,
                'v' => out.version = true,
                'V' => out.version_configure = true,
                't' => out.test = true,
                'T' => {
                    out.test = true;
                    out.dump = true
                }
                'q' => out.quiet = true,
                's' => {
                    let v = value("s")?;
                    let request = crate::control::Request::parse(&v)
                        .ok_or_else(|| format!("invalid option: \"-s {v}\""))?;
                    out.signal = Some(request.command.name().to_string());
                    out.signal_request = Some(request);
                    break;
                }
                'p' => {
                    out.prefix = Some(PathBuf::from(value("p")?));
                    break;
                }
                'e' => {
                    out.error_log = Some(PathBuf::from(value("e")?));
                    break;
                }
                'c' => {
                    out.conf = Some(PathBuf::from(value("c")?));
                    break;
                }
                'g' => {
                    out.globals = Some(value("g")?);
                    break;
                }
                // nginx names only the offending letter, even inside a bundle (`-tx`).
                _ => return Err(format!("invalid option: \"{c}\"")),
            }
        }
    }
    Ok(out)
}

/// Portico's own options, which nginx does not have: `--explain REQUEST` with `-H 'Name:
/// value'` (repeatable), `--client ADDR` and `--listen ADDR`. True when `arg` was one of them.
fn long_option(
    arg: &str,
    rest: &mut impl Iterator<Item = String>,
    out: &mut Args,
) -> Result<bool, String> {
    let (name, inline) = match arg.split_once('=') {
        Some((name, value)) if name.starts_with("--") => (name, Some(value.to_string())),
        _ => (arg, None),
    };
    if !matches!(
        name,
        "--explain" | "--client" | "--listen" | "-H" | "--header"
    ) {
        return Ok(false);
    }
    let value = match inline {
        Some(v) => v,
        None => rest
            .next()
            .ok_or_else(|| format!("option \"{name}\" requires parameter"))?,
    };
    let explain = out.explain.get_or_insert_with(Default::default);
    match name {
        "--explain" => explain.request = value,
        "--client" => explain.client = Some(value),
        "--listen" => explain.listen = Some(value),
        _ => explain.headers.push(value),
    }
    Ok(true)
}

/// What nginx says an option without its value lacks (`ngx_get_options`).
fn requires(flag: &str) -> &'static str {
    match flag {
        "p" => "directory name",
        "e" | "c" => "file name",
        _ => "parameter",
    }
}

/// `-h`: nginx's usage text with Portico's name, after the version line. The option lines'
/// two-space indent is part of nginx's layout, so each line is its own literal (a `\`
/// continuation would eat the indent); nginx ends the text with a blank line.
fn usage() -> String {
    let pad = " ".repeat("Usage: ".len() + NAME.len() + 1);
    [
        format!("Usage: {NAME} [-?hvVtTq] [-s signal] [-p prefix]"),
        format!("{pad}[-e filename] [-c filename] [-g directives]"),
        String::new(),
        "Options:".to_string(),
        "  -?,-h         : this help".to_string(),
        "  -v            : show version and exit".to_string(),
        "  -V            : show version and configure options then exit".to_string(),
        "  -t            : test configuration and exit".to_string(),
        "  -T            : test configuration, dump it and exit".to_string(),
        "  -q            : suppress non-error messages during configuration testing".to_string(),
        "  -s signal     : send signal to a master process: stop, quit, reopen, reload".to_string(),
        "  -p prefix     : set prefix path (default: current directory)".to_string(),
        "  -e filename   : set error log file (default: logs/error.log)".to_string(),
        format!("  -c filename   : set configuration file (default: {DEFAULT_CONF_FILE})"),
        "  -g directives : set global directives out of configuration file".to_string(),
        String::new(),
        "  -s signal=TIME         : wait up to TIME for the outcome (reload: 60s, reopen and"
            .to_string(),
        "                           stop: 10s, quit: 0 = do not wait)".to_string(),
        "  -t --explain REQUEST   : show how \"GET http://host/uri\" is routed; with".to_string(),
        "                           -H 'Name: value', --client ADDR, --listen ADDR".to_string(),
        String::new(),
    ]
    .join("\n")
}

fn configure_arguments(prefix: &Path) -> String {
    // `--with-debug`: the `debug` level, `debug_connection` and `error_log memory:` exist.
    let mut s = format!(
        "configure arguments: --prefix={}/ --conf-path={DEFAULT_CONF_FILE} --with-debug",
        prefix.display()
    );
    for m in WITH_MODULES {
        s.push_str(" --with-");
        s.push_str(m);
    }
    for m in WITHOUT_MODULES {
        s.push_str(" --without-");
        s.push_str(m);
    }
    s
}

/// Resolves `path` against `base` unless it is absolute (nginx's `ngx_get_full_name`).
pub fn full_path(base: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        base.join(path)
    }
}

/// The load options the command line describes.
pub fn load_options(args: &Args) -> LoadOptions {
    // A `-p` is kept as spelled, as nginx keeps it: `-p rel -t` names `rel/conf/...`, and the
    // process never changes its working directory, so relative paths stay valid.
    let prefix = args.prefix.clone().unwrap_or_else(default_prefix);
    let conf = args
        .conf
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_CONF_FILE));
    LoadOptions {
        // Relative to the prefix: `LoadOptions::full_file` joins them when the file is read.
        file: conf,
        prefix,
        globals: args.globals.clone(),
        error_log: args.error_log.clone(),
    }
}

/// Entry point of the `portico` binary; returns the process exit code.
pub fn main() -> i32 {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{NAME}: {e}");
            return 1;
        }
    };
    if args.help || args.version || args.version_configure {
        eprintln!("{NAME} version: {NAME}/{VERSION}");
        if args.help {
            eprint!("{}", usage());
        }
        if args.version_configure {
            eprintln!("built with Rust (mio event loop, epoll)");
            // TLS is rustls's: SNI picks the server block.
            eprintln!("built with rustls {RUSTLS_VERSION} (aws-lc-rs)");
            eprintln!("TLS SNI support enabled");
            eprintln!("{}", configure_arguments(&load_options(&args).prefix));
        }
        return 0;
    }
    let opts = load_options(&args);
    open_startup_log(&opts);
    if let Some(explain) = &args.explain {
        return crate::explain::run(&opts, explain);
    }
    if args.test {
        return test_config(&args, &opts);
    }
    if let Some(request) = args.signal_request {
        return crate::control::run(&opts, request);
    }
    crate::master::run(opts)
}

fn test_config(args: &Args, opts: &LoadOptions) -> i32 {
    let full_file = opts.full_file();
    let file = full_file.display();
    match config::load(opts) {
        Ok(config) => {
            config::log_warnings(&config);
            if crate::sys::is_root()
                && let Ok(user) = crate::master::User::resolve(config.main.user.as_ref())
            {
                crate::master::warn_unreadable_roots(&config, Some(&user));
            }
            if !args.quiet {
                eprintln!("{NAME}: the configuration file {file} syntax is ok");
            }
            // As nginx's test mode, which opens the listening sockets after the syntax.
            let listens = config.http.as_ref().map_or(&[][..], |h| &h.listens[..]);
            if let Err(e) = crate::listener::test_unix_binds(listens) {
                elog!(LogLevel::Emerg, "{e}");
                eprintln!("{NAME}: configuration file {file} test failed");
                return 1;
            }
            if !args.quiet {
                eprintln!("{NAME}: configuration file {file} test is successful");
            }
            if args.dump {
                match config::dump(opts) {
                    Ok(text) => print!("{text}"),
                    Err(e) => {
                        elog!(LogLevel::Emerg, "{e}");
                        return 1;
                    }
                }
            }
            0
        }
        Err(e) => {
            elog!(LogLevel::Emerg, "{e}");
            eprintln!("{NAME}: configuration file {file} test failed");
            1
        }
    }
}

/// `-e FILE`: like nginx's `ngx_log_init`, opens the error log that start-up messages (a
/// configuration error, a failed `-s`) go to until the configuration's own `error_log` takes
/// over; `warn` and above still reach stderr as `portico: [emerg] ...`. `-e stderr` writes
/// log-format lines to stderr instead. A file that cannot be opened is reported as nginx
/// reports it and start-up goes on with stderr alone.
fn open_startup_log(opts: &LoadOptions) {
    let Some(path) = &opts.error_log else {
        return;
    };
    let target = if path.as_os_str() == "stderr" {
        ErrorLogTarget::Stderr
    } else {
        ErrorLogTarget::File(full_path(&opts.prefix, path))
    };
    let startup = ErrorLogConf {
        target,
        level: LogLevel::Notice,
    };
    if let Err(e) = crate::log::init_error_log(std::slice::from_ref(&startup)) {
        eprintln!("{NAME}: [alert] could not open error log file: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(v: &[&str]) -> Result<Args, String> {
        parse_args(v.iter().map(|s| s.to_string()))
    }

    #[test]
    fn flags_bundle_and_take_values_like_nginx() {
        let a = p(&["-tq", "-c", "x.conf", "-pfoo", "-g", "daemon off;"]).unwrap();
        assert!(a.test && a.quiet && !a.dump);
        assert_eq!(a.conf, Some(PathBuf::from("x.conf")));
        assert_eq!(a.prefix, Some(PathBuf::from("foo")));
        assert_eq!(a.globals.as_deref(), Some("daemon off;"));
        let a = p(&["-T"]).unwrap();
        assert!(a.test && a.dump);
        assert_eq!(
            p(&["-s", "reload"]).unwrap().signal.as_deref(),
            Some("reload")
        );
    }

    #[test]
    fn bad_options_are_refused_in_nginx_words() {
        assert_eq!(p(&["-x"]).unwrap_err(), "invalid option: \"x\"");
        assert_eq!(p(&["-tx"]).unwrap_err(), "invalid option: \"x\"");
        assert_eq!(
            p(&["-s", "bogus"]).unwrap_err(),
            "invalid option: \"-s bogus\""
        );
        assert_eq!(p(&["-s"]).unwrap_err(), "option \"-s\" requires parameter");
        assert_eq!(
            p(&["-p"]).unwrap_err(),
            "option \"-p\" requires directory name"
        );
        assert_eq!(p(&["-c"]).unwrap_err(), "option \"-c\" requires file name");
        assert_eq!(p(&["foo"]).unwrap_err(), "invalid option: \"foo\"");
    }

    #[test]
    fn relative_conf_resolves_against_prefix() {
        let a = p(&["-p", "/srv/p", "-c", "conf/a.conf"]).unwrap();
        let o = load_options(&a);
        assert_eq!(o.full_file(), PathBuf::from("/srv/p/conf/a.conf"));
        let a = p(&["-p", "/srv/p", "-c", "/etc/a.conf"]).unwrap();
        assert_eq!(load_options(&a).full_file(), PathBuf::from("/etc/a.conf"));
        let a = p(&["-p", "rel", "-c", "conf/a.conf"]).unwrap();
        assert_eq!(
            load_options(&a).full_file(),
            PathBuf::from("rel/conf/a.conf")
        );
    }

    #[test]
    fn dash_v_capital_lists_missing_modules() {
        let s = configure_arguments(Path::new("/x"));
        assert!(s.starts_with("configure arguments: --prefix=/x/"));
        assert!(s.contains("--without-http_ssi_module"));
        assert!(!s.contains("--without-http_gzip_module"));
        assert!(s.contains(" --with-http_gzip_static_module --with-http_gunzip_module"));
        assert!(s.contains(" --with-debug"));
        assert!(!s.contains("--with-threads"));
    }
}
