//! `$fastcgi_script_name` and `$fastcgi_path_info`: the URI split by
//! `fastcgi_split_path_info`'s two captures (the whole URI is the script name when the
//! regex does not match or there is none), and `fastcgi_index` after a script name that
//! ends in `/` (`ngx_http_fastcgi_split` and its two variable handlers).

use crate::config::cgi_values::CgiConf;

/// Appends `$fastcgi_script_name`.
pub fn script_name(conf: &CgiConf, uri: &[u8], out: &mut Vec<u8>) {
    let start = out.len();
    let split = conf.split_path_info.as_deref();
    if !split.is_some_and(|s| s.part(uri, 1, out)) {
        out.extend_from_slice(uri);
    }
    if out.len() > start && out.last() == Some(&b'/') {
        out.extend_from_slice(conf.index().as_bytes());
    }
}

/// Appends `$fastcgi_path_info`.
pub fn path_info(conf: &CgiConf, uri: &[u8], out: &mut Vec<u8>) {
    if let Some(split) = conf.split_path_info.as_deref() {
        split.part(uri, 2, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::cgi_values::SplitPathInfo;

    fn conf(split: Option<&str>, index: Option<&str>) -> CgiConf {
        CgiConf {
            split_path_info: split.map(|p| {
                std::rc::Rc::new(SplitPathInfo::new(
                    crate::regex::Regex::new(p, false).unwrap(),
                ))
            }),
            index: index.map(str::to_string),
            ..CgiConf::default()
        }
    }

    fn vars(c: &CgiConf, uri: &str) -> (String, String) {
        let (mut s, mut p) = (Vec::new(), Vec::new());
        script_name(c, uri.as_bytes(), &mut s);
        path_info(c, uri.as_bytes(), &mut p);
        (String::from_utf8(s).unwrap(), String::from_utf8(p).unwrap())
    }

    #[test]
    fn split_and_index_as_nginx() {
        let c = conf(Some(r"^(.+\.php)(/.*)$"), Some("index.php"));
        assert_eq!(vars(&c, "/a/b.php/c/d"), ("/a/b.php".into(), "/c/d".into()));
        assert_eq!(vars(&c, "/a/b.html"), ("/a/b.html".into(), "".into()));
        assert_eq!(vars(&c, "/dir/"), ("/dir/index.php".into(), "".into()));
        let c = conf(None, None);
        assert_eq!(vars(&c, "/x.php/y"), ("/x.php/y".into(), "".into()));
        assert_eq!(vars(&c, "/"), ("/".into(), "".into()));
    }
}
