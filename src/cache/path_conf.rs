//! `proxy_cache_path` (and `fastcgi_`/`uwsgi_`/`scgi_cache_path`): one cache's directory,
//! its levels, its keys zone and the limits its manager and loader keep, parsed with the
//! checks and messages of nginx's `ngx_http_file_cache_set_slot`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::values::{full_name, parse_number, parse_offset, parse_size, parse_time};

/// nginx's `NGX_MAX_PATH_LEVEL`.
const MAX_LEVELS: usize = 3;
/// The smallest keys zone nginx takes: two pages.
pub const MIN_ZONE_SIZE: u64 = 2 * 4096;

/// One `*_cache_path` directive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachePath {
    /// The directory, resolved against the prefix, without a trailing `/`.
    pub dir: PathBuf,
    /// `levels=1:2`: how many hex digits each directory level takes (from the name's end).
    pub levels: Vec<u8>,
    /// `keys_zone=NAME:SIZE`.
    pub zone: String,
    /// The zone's size in bytes.
    pub zone_size: u64,
    /// `inactive=` (default 10 minutes): an entry not used for this long is removed.
    pub inactive: Duration,
    /// `max_size=` (default: no limit): the manager removes least recently used entries
    /// beyond it.
    pub max_size: Option<u64>,
    /// `min_free=` (default 0): free space the manager keeps on the file system.
    pub min_free: u64,
    /// `use_temp_path=` (default on): off writes temporary files in the cache directory.
    pub use_temp_path: bool,
    /// `loader_files=` (default 100), `loader_sleep=` (50ms), `loader_threshold=` (200ms).
    pub loader: Pace,
    /// `manager_files=` (default 100), `manager_sleep=` (50ms), `manager_threshold=` (200ms).
    pub manager: Pace,
}

/// How much a cache loader or manager does per iteration, and how long it pauses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pace {
    /// Files per iteration.
    pub files: u64,
    /// Pause between iterations.
    pub sleep: Duration,
    /// Longest an iteration may last.
    pub threshold: Duration,
}

impl Default for Pace {
    fn default() -> Self {
        Pace {
            files: 100,
            sleep: Duration::from_millis(50),
            threshold: Duration::from_millis(200),
        }
    }
}

/// Parses `NAME DIR PARAM...` (`args` without the directive's name); `prefix` resolves a
/// relative directory. `Err` is nginx's message (the caller adds ` in FILE:LINE`).
pub fn parse(directive: &str, args: &[String], prefix: &Path) -> Result<CachePath, String> {
    let Some((dir, params)) = args.split_first() else {
        return Err(format!(
            "invalid number of arguments in \"{directive}\" directive"
        ));
    };
    let dir = dir.strip_suffix('/').unwrap_or(dir);
    let mut conf = CachePath {
        dir: full_name(prefix, dir),
        levels: Vec::new(),
        zone: String::new(),
        zone_size: 0,
        inactive: Duration::from_secs(600),
        max_size: None,
        min_free: 0,
        use_temp_path: true,
        loader: Pace::default(),
        manager: Pace::default(),
    };
    for p in params {
        let invalid = |what: &str| format!("invalid {what} value \"{p}\"");
        let msec = |v: &str, what: &str| parse_time(v, false).ok_or_else(|| invalid(what));
        if let Some(v) = p.strip_prefix("levels=") {
            conf.levels = parse_levels(v).ok_or_else(|| format!("invalid \"levels\" \"{p}\""))?;
        } else if let Some(v) = p.strip_prefix("use_temp_path=") {
            conf.use_temp_path = match v {
                "on" => true,
                "off" => false,
                _ => {
                    return Err(format!(
                        "invalid use_temp_path value \"{p}\", it must be \"on\" or \"off\""
                    ));
                }
            };
        } else if let Some(v) = p.strip_prefix("keys_zone=") {
            let bad = || format!("invalid keys zone size \"{p}\"");
            let (name, size) = v.split_once(':').ok_or_else(bad)?;
            let size = parse_size(size).ok_or_else(bad)?;
            if size < MIN_ZONE_SIZE {
                return Err(format!("keys zone \"{p}\" is too small"));
            }
            conf.zone = name.to_string();
            conf.zone_size = size;
        } else if let Some(v) = p.strip_prefix("inactive=") {
            conf.inactive = parse_time(v, true).ok_or_else(|| invalid("inactive"))?;
        } else if let Some(v) = p.strip_prefix("max_size=") {
            conf.max_size = Some(parse_offset(v).ok_or_else(|| invalid("max_size"))?);
        } else if let Some(v) = p.strip_prefix("min_free=") {
            conf.min_free = parse_offset(v).ok_or_else(|| invalid("min_free"))?;
        } else if let Some(v) = p.strip_prefix("loader_files=") {
            conf.loader.files = parse_number(v).ok_or_else(|| invalid("loader_files"))?;
        } else if let Some(v) = p.strip_prefix("loader_sleep=") {
            conf.loader.sleep = msec(v, "loader_sleep")?;
        } else if let Some(v) = p.strip_prefix("loader_threshold=") {
            conf.loader.threshold = msec(v, "loader_threshold")?;
        } else if let Some(v) = p.strip_prefix("manager_files=") {
            conf.manager.files = parse_number(v).ok_or_else(|| invalid("manager_files"))?;
        } else if let Some(v) = p.strip_prefix("manager_sleep=") {
            conf.manager.sleep = msec(v, "manager_sleep")?;
        } else if let Some(v) = p.strip_prefix("manager_threshold=") {
            conf.manager.threshold = msec(v, "manager_threshold")?;
        } else {
            return Err(format!("invalid parameter \"{p}\""));
        }
    }
    if conf.zone.is_empty() || conf.zone_size == 0 {
        return Err(format!("\"{directive}\" must have \"keys_zone\" parameter"));
    }
    Ok(conf)
}

/// `levels=`: up to three levels of one or two digits, separated by `:`.
fn parse_levels(v: &str) -> Option<Vec<u8>> {
    let mut levels = Vec::new();
    for part in v.split(':') {
        match part {
            "1" => levels.push(1),
            "2" => levels.push(2),
            _ => return None,
        }
    }
    (levels.len() <= MAX_LEVELS).then_some(levels)
}

impl CachePath {
    /// The file of the entry whose key hashes to `hex` (32 lower-case hex digits): each
    /// level directory takes the next digits from the end, as `ngx_create_hashed_filename`.
    pub fn entry(&self, hex: &[u8; 32]) -> PathBuf {
        let mut path = self.dir.clone().into_os_string();
        let mut end = hex.len();
        for &len in &self.levels {
            let len = usize::from(len);
            path.push("/");
            path.push(std::str::from_utf8(&hex[end - len..end]).unwrap_or_default());
            end -= len;
        }
        path.push("/");
        path.push(std::str::from_utf8(hex).unwrap_or_default());
        PathBuf::from(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    fn parse_line(s: &str) -> Result<CachePath, String> {
        parse("proxy_cache_path", &args(s), Path::new("/p"))
    }

    #[test]
    fn every_parameter() {
        let c = parse_line(
            "cache/ levels=1:2 keys_zone=one:1m inactive=1h max_size=10g min_free=1m \
             use_temp_path=off loader_files=7 loader_sleep=1s manager_threshold=5ms",
        )
        .unwrap();
        assert_eq!(c.dir, PathBuf::from("/p/cache"));
        assert_eq!(c.levels, vec![1, 2]);
        assert_eq!((c.zone.as_str(), c.zone_size), ("one", 1 << 20));
        assert_eq!(c.inactive, Duration::from_secs(3600));
        assert_eq!(c.max_size, Some(10 << 30));
        assert!(!c.use_temp_path);
        assert_eq!(c.loader.files, 7);
        assert_eq!(c.loader.sleep, Duration::from_secs(1));
        assert_eq!(c.manager.threshold, Duration::from_millis(5));
    }

    #[test]
    fn nginx_messages() {
        assert_eq!(
            parse_line("/c levels=3 keys_zone=a:1m").unwrap_err(),
            "invalid \"levels\" \"levels=3\""
        );
        assert!(parse_line("/c levels=1:2:2:1 keys_zone=a:1m").is_err());
        assert!(parse_line("/c levels=1: keys_zone=a:1m").is_err());
        assert_eq!(
            parse_line("/c keys_zone=a:1k").unwrap_err(),
            "keys zone \"keys_zone=a:1k\" is too small"
        );
        assert_eq!(
            parse_line("/c keys_zone=a").unwrap_err(),
            "invalid keys zone size \"keys_zone=a\""
        );
        assert_eq!(
            parse_line("/c levels=1").unwrap_err(),
            "\"proxy_cache_path\" must have \"keys_zone\" parameter"
        );
        assert_eq!(
            parse_line("/c keys_zone=a:1m foo=1").unwrap_err(),
            "invalid parameter \"foo=1\""
        );
    }

    #[test]
    fn entry_names_follow_levels() {
        let c = parse_line("/data/nginx/cache levels=1:2 keys_zone=one:10m").unwrap();
        let hex = b"b7f54b2df7773722d382f4809d65029c";
        assert_eq!(
            c.entry(hex),
            PathBuf::from("/data/nginx/cache/c/29/b7f54b2df7773722d382f4809d65029c")
        );
    }
}
