//! Test harness: runs the real `portico` binary in a temporary prefix on an ephemeral loopback
//! port, with a configuration written by the test, and talks raw HTTP to it.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// Path of the binary under test.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_portico"))
}

/// A temporary prefix directory (`conf/`, `logs/`, `html/`), world-readable so that workers
/// running as `nobody` can serve from it; removed on drop.
pub struct Prefix {
    pub dir: PathBuf,
}

impl Prefix {
    pub fn new() -> Prefix {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("portico-test-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for sub in ["", "conf", "logs", "html"] {
            std::fs::create_dir_all(dir.join(sub)).expect("create prefix");
            std::fs::set_permissions(dir.join(sub), std::fs::Permissions::from_mode(0o777))
                .expect("chmod");
        }
        Prefix { dir }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    /// Writes a file (creating folders), world-readable.
    pub fn write(&self, rel: &str, contents: impl AsRef<[u8]>) {
        let p = self.dir.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
            let mut d = parent.to_path_buf();
            while d.starts_with(&self.dir) && d != self.dir {
                let _ = std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755));
                d.pop();
            }
        }
        std::fs::write(&p, contents).expect("write");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.dir.join(rel)).unwrap_or_default()
    }
}

impl Drop for Prefix {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A free TCP port on loopback (bound then released; the OS does not hand it out again soon).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// The main-context lines every test config starts with.
pub fn main_preamble(workers: usize) -> String {
    format!(
        "daemon off;\nworker_processes {workers};\nerror_log logs/error.log info;\npid logs/portico.pid;\n\
         events {{ worker_connections 1024; }}\n"
    )
}

/// A running `portico`.
pub struct Server {
    pub prefix: Prefix,
    pub port: u16,
    pub child: Option<Child>,
}

impl Server {
    /// Starts portico with `http_block` (the text inside `http { }`, where `PORT` is replaced
    /// by a free port) and `workers` workers, and waits until it accepts connections.
    pub fn start(http_block: &str) -> Server {
        Self::start_with(1, http_block, |_| {})
    }

    pub fn start_with(workers: usize, http_block: &str, setup: impl FnOnce(&Prefix)) -> Server {
        let prefix = Prefix::new();
        let port = free_port();
        let conf = format!(
            "{}http {{\n{}\n}}\n",
            main_preamble(workers),
            http_block.replace("PORT", &port.to_string())
        );
        prefix.write("conf/portico.conf", conf);
        setup(&prefix);
        Self::spawn(prefix, port)
    }

    /// Starts portico on an already prepared prefix (its `conf/portico.conf`) and waits until
    /// it accepts connections and has forked the workers the file asks for.
    pub fn spawn(prefix: Prefix, port: u16) -> Server {
        let workers = expected_workers(&prefix.read("conf/portico.conf"), None);
        let child = Command::new(bin())
            .arg("-p")
            .arg(&prefix.dir)
            .arg("-c")
            .arg("conf/portico.conf")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn portico");
        let mut s = Server {
            prefix,
            port,
            child: Some(child),
        };
        s.wait_ready(workers);
        s
    }

    /// Waits until the port accepts and `workers` workers exist: the master listens before it
    /// forks, so an accepted connection alone does not mean a test may signal or count them.
    fn wait_ready(&mut self, workers: usize) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok()
                && self.worker_pids().len() >= workers
            {
                return;
            }
            if let Some(c) = self.child.as_mut()
                && let Ok(Some(status)) = c.try_wait()
            {
                let mut err = String::new();
                if let Some(mut e) = c.stderr.take() {
                    let _ = e.read_to_string(&mut err);
                }
                panic!(
                    "portico exited early ({status}): {err}\n{}",
                    self.error_log()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "portico did not start listening on {} with {workers} workers (has {:?})",
            self.port,
            self.worker_pids()
        );
    }

    pub fn master_pid(&self) -> i32 {
        self.child.as_ref().map_or(0, |c| c.id() as i32)
    }

    pub fn error_log(&self) -> String {
        self.prefix.read("logs/error.log")
    }

    pub fn access_log(&self) -> String {
        self.prefix.read("logs/access.log")
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: plain kill(2) on our child.
        unsafe { libc::kill(self.master_pid(), sig) };
    }

    /// Worker pids (children of the master), from /proc.
    pub fn worker_pids(&self) -> Vec<i32> {
        let master = self.master_pid();
        let mut out = Vec::new();
        // Once the master is gone its pid reads 0, and the children of 0 are the kernel's.
        if master <= 0 {
            return out;
        }
        if let Ok(rd) = std::fs::read_dir("/proc") {
            for e in rd.flatten() {
                let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
                    continue;
                };
                let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                    continue;
                };
                // Fields after the ")" of the command: state, ppid, ...
                let Some(rest) = stat.rsplit_once(')').map(|x| x.1) else {
                    continue;
                };
                let mut f = rest.split_whitespace();
                let state = f.next().unwrap_or("");
                let ppid: i32 = f.next().and_then(|p| p.parse().ok()).unwrap_or(0);
                if ppid == master && state != "Z" {
                    out.push(pid);
                }
            }
        }
        out.sort();
        out
    }

    /// Waits until `cond` holds, up to `secs`.
    pub fn wait_for(&self, secs: u64, mut cond: impl FnMut() -> bool) -> bool {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < deadline {
            if cond() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        cond()
    }

    /// Fails the test if the error log holds an alert or a panic.
    pub fn assert_clean_log(&self) {
        let log = self.error_log();
        for bad in ["[alert]", "[emerg]", "panicked"] {
            assert!(!log.contains(bad), "error log contains {bad}:\n{log}");
        }
    }

    /// Stops the server (TERM) and waits for it.
    pub fn stop(&mut self) -> Option<std::process::ExitStatus> {
        let mut c = self.child.take()?;
        // SAFETY: kill(2) on our child.
        unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(s)) = c.try_wait() {
                return Some(s);
            }
            if Instant::now() > deadline {
                let _ = c.kill();
                return c.wait().ok();
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn connect(&self) -> TcpStream {
        connect(self.port)
    }

    /// One request on a fresh connection; reads the whole response.
    pub fn request(&self, raw: &[u8]) -> Response {
        let mut s = self.connect();
        s.write_all(raw).expect("write");
        read_response(&mut s, raw.starts_with(b"HEAD ")).expect("response")
    }

    pub fn get(&self, path: &str) -> Response {
        self.request(
            format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
    }
}

impl Drop for Server {
    /// Kills the master and its workers, even when the test failed half-way: orphaned workers
    /// would keep serving (and holding the port) after the test. The workers are listed while
    /// they are still the master's children.
    fn drop(&mut self) {
        let running = self
            .child
            .as_mut()
            .is_some_and(|c| c.try_wait().ok().flatten().is_none());
        let workers = if running {
            self.worker_pids()
        } else {
            Vec::new()
        };
        if let Some(mut c) = self.child.take() {
            // SAFETY: kill(2) on our child and on its children.
            unsafe { libc::kill(c.id() as i32, libc::SIGKILL) };
            for pid in workers {
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
            let _ = c.wait();
        }
    }
}

/// How many workers a configuration (and `-g` directives) asks for: `worker_processes N`,
/// `auto` (one per CPU), 1 by default, none under `master_process off`.
fn expected_workers(conf: &str, globals: Option<&str>) -> usize {
    let text = format!("{}\n{conf}", globals.unwrap_or(""));
    let mut workers = 1;
    for directive in text.split([';', '\n']).map(str::trim) {
        let mut words = directive.split_whitespace();
        match (words.next(), words.next()) {
            (Some("master_process"), Some("off")) => return 0,
            (Some("worker_processes"), Some("auto")) => {
                workers = std::thread::available_parallelism().map_or(1, |n| n.get())
            }
            (Some("worker_processes"), Some(n)) => workers = n.parse().unwrap_or(1),
            _ => {}
        }
    }
    workers
}

pub fn connect(port: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    s
}

/// A parsed response.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn header_names(&self) -> Vec<&str> {
        self.headers.iter().map(|(n, _)| n.as_str()).collect()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Reads one response from `s` (loops on reads: one read sees one segment). Bodies by
/// Content-Length, chunked, or until close. `head_only` for responses to HEAD.
pub fn read_response(s: &mut TcpStream, head_only: bool) -> Option<Response> {
    let mut buf = Vec::new();
    let mut tmp = [0u8; 65536];
    let head_end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i + 4;
        }
        let n = s.read(&mut tmp).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&tmp[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let mut parts = status_line.splitn(3, ' ');
    let _version = parts.next()?;
    let status: u16 = parts.next()?.parse().ok()?;
    let reason = parts.next().unwrap_or("").to_string();
    let headers: Vec<(String, String)> = lines
        .filter(|l| !l.is_empty())
        .filter_map(|l| {
            l.split_once(':')
                .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        })
        .collect();
    let mut resp = Response {
        status,
        reason,
        headers,
        body: Vec::new(),
    };
    let mut rest = buf[head_end..].to_vec();
    if head_only || status == 304 || status == 204 || (100..200).contains(&status) {
        return Some(resp);
    }
    if let Some(len) = resp
        .header("Content-Length")
        .and_then(|v| v.parse::<usize>().ok())
    {
        while rest.len() < len {
            let n = s.read(&mut tmp).ok()?;
            if n == 0 {
                break;
            }
            rest.extend_from_slice(&tmp[..n]);
        }
        rest.truncate(len);
        resp.body = rest;
    } else if resp
        .header("Transfer-Encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        resp.body = read_chunked(s, rest)?;
    } else {
        loop {
            match s.read(&mut tmp) {
                Ok(0) | Err(_) => break,
                Ok(n) => rest.extend_from_slice(&tmp[..n]),
            }
        }
        resp.body = rest;
    }
    Some(resp)
}

fn read_chunked(s: &mut TcpStream, mut buf: Vec<u8>) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    let mut tmp = [0u8; 65536];
    let mut pos = 0;
    loop {
        while find(&buf[pos..], b"\r\n").is_none() {
            let n = s.read(&mut tmp).ok()?;
            if n == 0 {
                return None;
            }
            buf.extend_from_slice(&tmp[..n]);
        }
        let line_end = pos + find(&buf[pos..], b"\r\n")?;
        let size_text = String::from_utf8_lossy(&buf[pos..line_end]).into_owned();
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        pos = line_end + 2;
        while buf.len() < pos + size + 2 {
            let n = s.read(&mut tmp).ok()?;
            if n == 0 {
                return None;
            }
            buf.extend_from_slice(&tmp[..n]);
        }
        if size == 0 {
            return Some(body);
        }
        body.extend_from_slice(&buf[pos..pos + size]);
        pos += size + 2;
    }
}

pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Reads from `s` until EOF (or timeout), returning everything.
pub fn read_to_end(s: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let mut tmp = [0u8; 65536];
    loop {
        match s.read(&mut tmp) {
            Ok(0) | Err(_) => return out,
            Ok(n) => out.extend_from_slice(&tmp[..n]),
        }
    }
}

/// Runs `portico` with `args` against `prefix`, returning (exit code, stdout, stderr).
pub fn run_cli(prefix: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(bin())
        .arg("-p")
        .arg(prefix)
        .args(args)
        .output()
        .expect("run portico");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `secs` since the epoch as an RFC 1123 HTTP-date, as nginx writes `Date` and
/// `Last-Modified`: `Sun, 13 Sep 2020 12:26:40 GMT`.
pub fn http_date(secs: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (days, rem) = (secs / 86400, secs % 86400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{}, {day:02} {} {year} {:02}:{:02}:{:02} GMT",
        DAYS[(days % 7) as usize],
        MONTHS[(month - 1) as usize],
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// nginx's built-in error page (`ngx_http_special_response.c`, CRLF line ends) for
/// `title` such as `404 Not Found`, with `server` (`portico/0.1.0`, or `portico` under
/// `server_tokens off`) in the footer.
pub fn error_page(title: &str, server: &str) -> String {
    format!(
        "<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n\
         <hr><center>{server}</center>\r\n</body>\r\n</html>\r\n"
    )
}

impl Server {
    /// Starts portico on a prepared prefix with exactly `args` (no `-p`/`-c` added), run from
    /// `cwd`: for tests of the command line itself (`-p`, `-c`, `-g`). Waits until it accepts.
    pub fn spawn_args(prefix: Prefix, port: u16, cwd: &Path, args: &[&str]) -> Server {
        let arg_after = |flag: &str| {
            args.iter()
                .position(|a| *a == flag)
                .and_then(|i| args.get(i + 1))
                .copied()
        };
        let conf = arg_after("-c").map_or(String::new(), |c| {
            std::fs::read_to_string(prefix.path(c)).unwrap_or_default()
        });
        let workers = expected_workers(&conf, arg_after("-g"));
        let child = Command::new(bin())
            .current_dir(cwd)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn portico");
        let mut s = Server {
            prefix,
            port,
            child: Some(child),
        };
        s.wait_ready(workers);
        s
    }

    /// Like `assert_clean_log`, but lines holding one of `expected` (an alert or emerg the test
    /// provoked on purpose) are allowed.
    pub fn assert_clean_log_except(&self, expected: &[&str]) {
        let log = self.error_log();
        for line in log.lines() {
            let bad = ["[alert]", "[emerg]", "panicked"]
                .iter()
                .any(|b| line.contains(b));
            assert!(
                !bad || expected.iter().any(|e| line.contains(e)),
                "unexpected error log line: {line}\n{log}"
            );
        }
    }
}

/// A running `Server`. Kept for the tests written when only this wrapper killed the workers;
/// `Server`'s own drop now does.
pub struct Running(pub Server);

impl std::ops::Deref for Running {
    type Target = Server;
    fn deref(&self) -> &Server {
        &self.0
    }
}

impl std::ops::DerefMut for Running {
    fn deref_mut(&mut self) -> &mut Server {
        &mut self.0
    }
}

/// Sends `request` on `c` (a GET for a file the test expects 200 for) and reads the response
/// head; returns the `Content-Length` and the body bytes that came with the head. For tests
/// that then read the body slowly, or not at all.
pub fn begin_download(c: &mut TcpStream, request: &[u8]) -> (usize, Vec<u8>) {
    c.write_all(request).expect("write");
    let mut buf = Vec::new();
    let mut tmp = [0u8; 16384];
    let head_end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i + 4;
        }
        let n = c.read(&mut tmp).expect("read head");
        assert!(n > 0, "EOF before the head");
        buf.extend_from_slice(&tmp[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    (length, buf[head_end..].to_vec())
}

/// `Server:` with `server_tokens on` (the default).
pub fn server_token() -> String {
    format!("portico/{}", env!("CARGO_PKG_VERSION"))
}

/// A keep-alive GET of `path` for `localhost`, as raw bytes.
pub fn get_request(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").into_bytes()
}

/// Writes `raw` on `s`.
pub fn send(s: &mut TcpStream, raw: &[u8]) {
    s.write_all(raw).expect("write request");
}

/// Reads the next complete response on `s`.
pub fn next_response(s: &mut TcpStream) -> Response {
    read_response(s, false).expect("a complete response")
}

/// A readable dump of a response (its body cut at 400 bytes) for failure messages.
pub fn show(resp: &Response) -> String {
    let head: Vec<String> = resp
        .headers
        .iter()
        .map(|(n, v)| format!("{n}: {v}"))
        .collect();
    let text = resp.text();
    let cut = (0..=text.len().min(400))
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0);
    format!(
        "{} {}\n{}\n\n{}",
        resp.status,
        resp.reason,
        head.join("\n"),
        &text[..cut]
    )
}

/// Whether `pid` is a live process (not a zombie or dead task).
pub fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit_once(')')
            .and_then(|(_, r)| r.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X")
    })
}

/// Decompresses with Python's gzip module (members one after another, CRC checked).
pub fn python_gunzip(data: &[u8]) -> Vec<u8> {
    let mut child = Command::new("python3")
        .args([
            "-c",
            "import gzip,sys; sys.stdout.buffer.write(gzip.decompress(sys.stdin.buffer.read()))",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3");
    let mut stdin = child.stdin.take().expect("stdin");
    let input = data.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().expect("python3 runs");
    let _ = writer.join();
    assert!(
        out.status.success(),
        "Python's gzip refuses it: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}
