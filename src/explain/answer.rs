//! The end of `--explain`'s output (the response, the file, or the proxy's plan), and how
//! servers, locations and bytes are named in it.

use std::fmt::Write as _;

use super::LABEL;
use crate::config::{self, LocationConf, LocationMatch, ServerConf};
use crate::router::ServerMatch;
use crate::worker::explain::Answer;

/// The answer lines: the response head, the file, or the proxy's plan.
pub(super) fn describe(answer: &Answer, out: &mut String) {
    let mut line = |label: &str, text: &str| {
        let _ = writeln!(out, "{label:<LABEL$}{text}");
    };
    let mut uri = answer.uri.clone();
    if let Some(args) = &answer.args {
        uri.push(b'?');
        uri.extend_from_slice(args);
    }
    line("uri", &quoted(&uri));
    if let Some(plan) = &answer.proxy {
        if let Some(status) = plan.refuse {
            line("answer", &format!("{status}, without proxying"));
            return;
        }
        let to = match (&plan.group, &plan.direct, &plan.resolve) {
            (Some(group), ..) => format!("upstream \"{group}\" ({})", plan.balance),
            (None, Some(addr), _) => addr.to_string(),
            (None, None, Some(name)) => format!("{name}, resolved when the request comes"),
            (None, None, None) => "nowhere: the URL did not evaluate to one (502)".to_string(),
        };
        line("answer", &format!("proxied to {to}"));
        if !plan.order.is_empty() {
            let servers: Vec<String> = plan
                .order
                .iter()
                .map(|(addr, mark)| {
                    if mark.is_empty() {
                        addr.to_string()
                    } else {
                        format!("{addr} ({mark})")
                    }
                })
                .collect();
            line(
                "servers",
                &format!("{} (at most {} tried)", servers.join(", "), plan.tries),
            );
        }
        let head = String::from_utf8_lossy(&plan.head);
        let mut label = "upstream";
        for l in head.split("\r\n").filter(|l| !l.is_empty()) {
            line(label, l);
            label = "";
        }
        return;
    }
    match answer.status {
        444 => line("answer", "444: the connection is closed without a response"),
        status => {
            let file = answer.file.as_ref().map_or(String::new(), |(path, len)| {
                format!(", the file {} ({len} bytes)", String::from_utf8_lossy(path))
            });
            line("answer", &format!("{status}{file}"));
        }
    }
    let head = String::from_utf8_lossy(&answer.head);
    let mut label = "response";
    for l in head.split("\r\n").filter(|l| !l.is_empty()) {
        line(label, l);
        label = "";
    }
}

pub(super) fn server_label(index: usize, server: &ServerConf) -> String {
    let names: Vec<String> = server
        .names
        .iter()
        .map(|n| match n {
            config::ServerName::Exact(n) if n.is_empty() => "\"\"".to_string(),
            config::ServerName::Exact(n) => n.clone(),
            config::ServerName::WildcardFront(s, true) => s.clone(),
            config::ServerName::WildcardFront(s, false) => format!("*{s}"),
            config::ServerName::WildcardBack(p) => format!("{p}*"),
            config::ServerName::Regex(re) => format!("~{}", re.as_str()),
        })
        .collect();
    let names = if names.is_empty() {
        "no server_name".to_string()
    } else {
        format!("server_name {}", names.join(" "))
    };
    format!("#{} at {} ({names})", index + 1, server.defined_at)
}

pub(super) fn server_match(matched: ServerMatch<'_>) -> String {
    match matched {
        ServerMatch::NoHost => "is the default server: the request names no host".to_string(),
        ServerMatch::Exact(name) => format!("matches by the exact name \"{name}\""),
        ServerMatch::WildcardFront(suffix, true) => {
            format!("matches by the name \"{suffix}\" (the domain and its subdomains)")
        }
        ServerMatch::WildcardFront(suffix, false) => {
            format!("matches by the leading wildcard \"*{suffix}\"")
        }
        ServerMatch::WildcardBack(prefix) => {
            format!("matches by the trailing wildcard \"{prefix}*\"")
        }
        ServerMatch::Regex(re) => format!("matches by the regex \"~{re}\""),
        ServerMatch::Default => {
            "is the default server: no server_name matches the host".to_string()
        }
    }
}

/// `= /x`, `/x`, `^~ /x`, `~ re`, `~* re`, `@name`.
pub(super) fn location_name(l: &LocationConf) -> String {
    match &l.matcher {
        LocationMatch::Exact(s) => format!("= {s}"),
        LocationMatch::Prefix(s) => s.clone(),
        LocationMatch::PrefixNoRegex(s) => format!("^~ {s}"),
        LocationMatch::Regex(re, true) => format!("~* {}", re.as_str()),
        LocationMatch::Regex(re, false) => format!("~ {}", re.as_str()),
        LocationMatch::Named(n) => n.clone(),
    }
}

pub(super) fn location_label(l: &LocationConf) -> String {
    format!("{} at {}", location_name(l), l.defined_at)
}

pub(super) fn quoted(bytes: &[u8]) -> String {
    let mut out = String::from("\"");
    for &b in bytes {
        match b {
            b'"' | b'\\' => {
                out.push('\\');
                out.push(b as char);
            }
            0x20..=0x7e => out.push(b as char),
            _ => {
                let _ = write!(out, "\\x{b:02X}");
            }
        }
    }
    out.push('"');
    out
}

pub(super) fn optional(bytes: Option<&[u8]>) -> String {
    bytes.map_or_else(|| "(unset)".to_string(), quoted)
}
