//! `$fastcgi_script_name` and `$fastcgi_path_info`: the URI split by
//! `fastcgi_split_path_info`'s two captures (the whole URI is the script name when the
//! regex does not match or there is none), and `fastcgi_index` after a script name that
//! ends in `/` (`ngx_http_fastcgi_split` and its two variable handlers).

use crate::config::cgi_values::CgiConf;

/// The script name and path info of `uri`.
pub fn split<'u>(conf: &CgiConf, uri: &'u [u8]) -> (&'u [u8], &'u [u8]) {
    let Some(split) = &conf.split_path_info else {
        return (uri, b"");
    };
    match split.split(uri) {
        Some([script, info]) => {
            let part =
                |r: Option<(usize, usize)>| r.and_then(|(a, b)| uri.get(a..b)).unwrap_or_default();
            (part(script), part(info))
        }
        None => (uri, b""),
    }
}

/// Appends `$fastcgi_script_name`.
pub fn script_name(conf: &CgiConf, uri: &[u8], out: &mut Vec<u8>) {
    let (script, _) = split(conf, uri);
    out.extend_from_slice(script);
    if script.last() == Some(&b'/') {
        out.extend_from_slice(conf.index().as_bytes());
    }
}

/// Appends `$fastcgi_path_info`.
pub fn path_info(conf: &CgiConf, uri: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(split(conf, uri).1);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conf(split: Option<&str>, index: Option<&str>) -> CgiConf {
        CgiConf {
            split_path_info: split.map(|p| {
                std::rc::Rc::new(crate::config::cgi_values::SplitPathInfo::new(
                    regex::bytes::RegexBuilder::new(p)
                        .unicode(false)
                        .build()
                        .unwrap(),
                    p.to_string(),
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
