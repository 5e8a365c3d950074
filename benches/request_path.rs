//! Micro-benchmarks of the per-request path, pieces a worker runs for every request:
//! parsing the head, normalising the URI, choosing the server and location (on the seed
//! configuration), regex locations and a rewrite with captures (PCRE2 with and without JIT,
//! and the `regex` crate Portico used before), and formatting the `Date` header.
//! `make microbench` runs them.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use criterion::{Criterion, criterion_group, criterion_main};
use portico::config::{self, Config, LoadOptions};
use portico::http::request::{ParseOptions, RequestHead, parse_head};
use portico::http::{date, uri};
use portico::regex::Captures;
use portico::rewrite::{self, RewriteCtx};
use portico::router::{self, MatchState};
use portico::vars::{Var, VarSource};

/// What `wrk` sends.
const WRK_REQUEST: &[u8] = b"GET /static/css/site.css HTTP/1.1\r\nHost: localhost:8080\r\n\r\n";

/// What a browser sends.
const BROWSER_REQUEST: &[u8] = b"GET /static/js/app.js?v=3 HTTP/1.1\r\n\
Host: www.example.com\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n\
Accept: */*\r\n\
Accept-Language: en-US,en;q=0.5\r\n\
Accept-Encoding: gzip, deflate, br\r\n\
Referer: https://www.example.com/\r\n\
Cookie: session=0123456789abcdef0123456789abcdef; theme=dark\r\n\
Connection: keep-alive\r\n\
If-Modified-Since: Tue, 24 Nov 2026 10:00:00 GMT\r\n\
\r\n";

fn parsing(c: &mut Criterion) {
    let opts = ParseOptions::default();
    let mut head = RequestHead::new();
    c.bench_function("parse_head/wrk", |b| {
        b.iter(|| parse_head(black_box(WRK_REQUEST), &mut head, &opts))
    });
    c.bench_function("parse_head/browser", |b| {
        b.iter(|| parse_head(black_box(BROWSER_REQUEST), &mut head, &opts))
    });
    let mut out = Vec::with_capacity(256);
    c.bench_function("uri_normalize/plain", |b| {
        b.iter(|| {
            out.clear();
            uri::normalize(black_box(b"/static/css/site.css"), true, &mut out)
        })
    });
    c.bench_function("uri_normalize/escaped_dots", |b| {
        b.iter(|| {
            out.clear();
            uri::normalize(
                black_box(b"/a/./b/../static/%63ss//site.css"),
                true,
                &mut out,
            )
        })
    });
}

/// The seed configuration (`conf/nginx.conf`), loaded the way the master loads it.
fn seed_config() -> Config {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let opts = LoadOptions {
        file: root.join("conf/nginx.conf"),
        prefix: root,
        globals: None,
        error_log: Some(PathBuf::from("stderr")),
    };
    match config::load(&opts) {
        Ok(c) => c,
        Err(e) => panic!("conf/nginx.conf: {e}"),
    }
}

fn routing(c: &mut Criterion) {
    let config = seed_config();
    let Some(http) = config.http.as_ref() else {
        panic!("the seed has an http block")
    };
    let listens = router::servers_by_listen(http);
    let Some(addr) = listens.first() else {
        panic!("the seed listens")
    };
    let mut captures = Captures::default();
    let mut select = |host: &[u8]| {
        let state = MatchState {
            captures: &mut captures,
            values: &mut [],
        };
        router::select_server(http, addr, Some(host), state).unwrap_or(0)
    };
    c.bench_function("select_server/seed", |b| {
        b.iter(|| select(black_box(b"localhost")))
    });
    let server = &http.servers[select(b"localhost")];
    for (name, uri) in [
        ("static", &b"/static/css/site.css"[..]),
        ("exact", b"/favicon.ico"),
        ("root", b"/some/app/path"),
    ] {
        c.bench_function(&format!("find_location/seed_{name}"), |b| {
            b.iter(|| find(server, black_box(uri), &mut captures))
        });
    }
}

/// A location search as the worker runs it: `true` when a location matched.
fn find(server: &config::ServerConf, uri: &[u8], captures: &mut Captures) -> bool {
    let state = MatchState {
        captures,
        values: &mut [],
    };
    matches!(router::find_location(server, uri, state), Ok(Some(_)))
}

/// Regex locations of real configurations (h5bp's hidden files, WordPress's uploads, a
/// PHP front controller) in front of a prefix location, and a rewrite with captures.
const REGEX_SERVER: &str = r#"
    server {
        listen 8080;
        location / { }
        location ~* (?:^|/)\.(?!well-known\/) { return 403; }
        location ~* /(?:uploads|files)/.*\.php$ { return 403; }
        location ~ ^/(?<app>[a-z]+)/(.+\.php)$ { return 200; }
        location /u/ { rewrite ^/u/(\d+)/(.*)$ /profile.php?id=$1&tab=$2 last; }
    }
"#;

/// The patterns of [`REGEX_SERVER`]'s locations and rewrite, for the old engine.
const REGEX_PATTERNS: [(&str, bool); 3] = [
    (r"(?:^|/)\.(?!well-known\/)", true),
    (r"/(?:uploads|files)/.*\.php$", true),
    (r"^/(?<app>[a-z]+)/(.+\.php)$", false),
];

fn regex_config(jit: bool) -> Config {
    let jit = if jit { "on" } else { "off" };
    let text = format!("pcre_jit {jit};\nevents {{}}\nhttp {{ {REGEX_SERVER} }}\n");
    let root = std::env::temp_dir();
    match config::load_str(text.as_bytes(), &root.join("bench.conf"), &root) {
        Ok(c) => c,
        Err(e) => panic!("regex bench config: {e}"),
    }
}

/// No request variables: the rewrite reads only its captures.
struct NoVars;

impl VarSource for NoVars {
    fn var(&self, _: &Var, _: &mut Vec<u8>) -> bool {
        false
    }
}

/// URIs for the regex locations: the last regex matches (two misses first), and a URI
/// that only the prefix location takes (every regex tried and missed).
const REGEX_URIS: [(&str, &[u8]); 2] = [
    ("third_matches", b"/blog/wp-admin/index.php"),
    ("all_miss", b"/static/css/site.css"),
];

fn regexes(c: &mut Criterion) {
    for (engine, jit) in [("pcre2_jit", true), ("pcre2_nojit", false)] {
        let config = regex_config(jit);
        let Some(server) = config.http.as_ref().and_then(|h| h.servers.first()) else {
            panic!("the regex bench has a server")
        };
        let mut user = vec![None; config.http.as_ref().map_or(0, |h| h.user_vars.len())];
        let mut captures = Captures::default();
        for (name, uri) in REGEX_URIS {
            c.bench_function(&format!("regex_location/{engine}/{name}"), |b| {
                b.iter(|| {
                    let state = MatchState {
                        captures: &mut captures,
                        values: &mut user,
                    };
                    matches!(
                        router::find_location(server, black_box(uri), state),
                        Ok(Some(_))
                    )
                })
            });
        }
        let rewrites = |l: &&config::LocationConf| {
            matches!(l.rewrite.first(), Some(rewrite::Op::Rewrite { .. }))
        };
        let Some(location) = server.locations.iter().find(rewrites) else {
            panic!("the regex bench has a rewrite")
        };
        let Some(rewrite::Op::Rewrite { regex, .. }) = location.rewrite.first() else {
            panic!("the /u/ location rewrites")
        };
        c.bench_function(&format!("rewrite_captures/{engine}_match_only"), |b| {
            b.iter(|| regex.captures(black_box(b"/u/42/settings"), &mut captures))
        });
        let mut ctx = RewriteCtx::new(Vec::new(), None, user.len());
        c.bench_function(&format!("rewrite_captures/{engine}"), |b| {
            b.iter(|| {
                ctx.uri.clear();
                ctx.uri.extend_from_slice(black_box(b"/u/42/settings"));
                ctx.args = None;
                rewrite::run(&location.rewrite, &mut ctx, &NoVars)
            })
        });
    }

    // The engine Portico used before: the `regex` crate over bytes, captures copied out
    // of each match as the old `Captures::from_match` did.
    let old: Vec<regex::bytes::Regex> = REGEX_PATTERNS
        .iter()
        .map(|(p, caseless)| {
            // The old engine cannot compile look-ahead: stand in a pattern that matches the
            // same URIs here.
            let p = p
                .replace(r"(?!well-known\/)", r"[^w]")
                .replace("(?<", "(?P<");
            regex::bytes::RegexBuilder::new(&p)
                .case_insensitive(*caseless)
                .unicode(false)
                .build()
                .unwrap_or_else(|e| panic!("{e}"))
        })
        .collect();
    type Spans = (Vec<u8>, Vec<Option<(usize, usize)>>);
    let copy = |subject: &[u8], caps: &regex::bytes::Captures<'_>| -> Spans {
        let spans = caps.iter().map(|m| m.map(|m| (m.start(), m.end())));
        (subject.to_vec(), spans.collect())
    };
    for (name, uri) in REGEX_URIS {
        c.bench_function(&format!("regex_location/regex_crate/{name}"), |b| {
            b.iter(|| {
                let uri = black_box(uri);
                old.iter()
                    .find_map(|re| re.captures(uri).map(|caps| copy(uri, &caps)))
            })
        });
    }
    let rewrite_old = regex::bytes::RegexBuilder::new(r"^/u/(\d+)/(.*)$")
        .unicode(false)
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    c.bench_function("rewrite_captures/regex_crate_match_only", |b| {
        b.iter(|| {
            let uri = black_box(&b"/u/42/settings"[..]);
            rewrite_old.captures(uri).map(|caps| copy(uri, &caps))
        })
    });
}

fn dates(c: &mut Criterion) {
    let mut cache = date::DateCache::new();
    let mut now = SystemTime::now();
    c.bench_function("date_cache/same_second", |b| {
        b.iter(|| {
            cache.update(black_box(now));
            cache.http_date().len()
        })
    });
    c.bench_function("date_cache/new_second", |b| {
        b.iter(|| {
            now += Duration::from_secs(1);
            cache.update(black_box(now));
            cache.http_date().len()
        })
    });
}

/// A wire that keeps what the resolver sends.
#[derive(Default)]
struct Capture(Vec<Vec<u8>>);

impl portico::resolver::engine::Wire for Capture {
    fn send(&mut self, _: usize, _: bool, msg: &[u8]) -> bool {
        self.0.push(msg.to_vec());
        true
    }
}

/// A `proxy_pass http://$host` request whose name is in the resolver's cache: the cost a
/// request pays for its name (lowercasing, the lookup, the shared address list).
fn resolver(c: &mut Criterion) {
    use portico::resolver::engine::{Engine, Settings, Started};
    let settings = Settings {
        servers: 1,
        valid: None,
        ipv4: true,
        ipv6: true,
    };
    let mut engine: Engine<u32> = Engine::new(settings);
    let mut wire = Capture::default();
    let now = std::time::Instant::now();
    let ttl = Duration::from_secs(30);
    engine.resolve(b"backend.example.net", 0, ttl, now, &mut wire);
    for query in std::mem::take(&mut wire.0) {
        // The question back with one answer: A 10.0.0.1 or AAAA ::1.
        let mut answer = query.clone();
        answer[2..4].copy_from_slice(&[0x81, 0x80]);
        answer[7] = 1;
        let aaaa = query[query.len() - 3] == 28;
        answer.extend_from_slice(&[0xc0, 12, 0, if aaaa { 28 } else { 1 }, 0, 1, 0, 0, 14, 16]);
        let data: &[u8] = if aaaa {
            &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]
        } else {
            &[10, 0, 0, 1]
        };
        answer.extend_from_slice(&(data.len() as u16).to_be_bytes());
        answer.extend_from_slice(data);
        engine.on_message(&answer, false, now, &mut wire);
    }
    let first = engine.resolve(b"Backend.Example.NET", 1, ttl, now, &mut wire);
    assert!(matches!(first, Started::Ready(Ok(_))), "{first:?}");
    c.bench_function("resolver/cache_hit", |b| {
        b.iter(|| {
            let hit = engine.resolve(black_box(b"Backend.Example.NET"), 1, ttl, now, &mut wire);
            matches!(hit, Started::Ready(Ok(_)))
        })
    });
}

criterion_group!(benches, parsing, routing, regexes, dates, resolver);
criterion_main!(benches);
