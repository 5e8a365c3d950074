//! A real php-fpm for the FastCGI tests: started by the test with a configuration it
//! writes (a pool on a unix socket and one on a TCP port, each with its status page,
//! which counts the connections it accepted), serving PHP scripts the test writes. As
//! root it runs with `-R` (its workers stay root); the tests are skipped, loudly, where
//! no php-fpm is installed (`.ci/run` installs Debian's).
#![allow(dead_code)]

use std::io::Read;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running php-fpm.
pub struct PhpFpm {
    /// Its directory (configuration, log, socket).
    pub dir: PathBuf,
    /// The unix socket of the first pool.
    pub socket: PathBuf,
    /// The TCP port of the second pool.
    pub port: u16,
    child: Child,
}

/// The php-fpm binary: Debian's `php-fpmX.Y`, or `php-fpm` on the PATH.
pub fn binary() -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/sbin")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("php-fpm"))
        })
        .collect();
    found.sort();
    if let Some(p) = found.pop() {
        return Some(p);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("php-fpm"))
            .find(|p| p.exists())
    })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

impl PhpFpm {
    /// Starts php-fpm; `None` (with a note on stderr) when it is not installed.
    pub fn start(dir: &Path) -> Option<PhpFpm> {
        let Some(bin) = binary() else {
            eprintln!("php-fpm is not installed: FastCGI tests against it are skipped");
            return None;
        };
        // A directory left by an earlier run (its name holds this process's id, which a
        // fresh PID namespace gives out again) is emptied first.
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir).expect("php-fpm dir");
        let socket = dir.join("php.sock");
        let port = free_port();
        let pool = |name: &str, listen: &str| {
            format!(
                "[{name}]\nlisten = {listen}\nlisten.mode = 0666\npm = static\n\
                 pm.max_children = 2\npm.status_path = /fpm-status\nclear_env = no\n\
                 catch_workers_output = no\n"
            )
        };
        let conf = format!(
            "[global]\npid = {d}/php-fpm.pid\nerror_log = {d}/php-fpm.log\ndaemonize = no\n\n{}\n{}",
            pool("unix", &socket.display().to_string()),
            pool("tcp", &format!("127.0.0.1:{port}")),
            d = dir.display()
        );
        std::fs::write(dir.join("php-fpm.conf"), conf).expect("write php-fpm.conf");
        std::fs::write(
            dir.join("php.ini"),
            "log_errors = On\ndisplay_errors = Off\npost_max_size = 64M\n\
             upload_max_filesize = 64M\nmemory_limit = 256M\noutput_buffering = 0\n",
        )
        .expect("write php.ini");
        let child = Command::new(bin)
            .arg("-R")
            .arg("-F")
            .arg("-y")
            .arg(dir.join("php-fpm.conf"))
            .arg("-c")
            .arg(dir.join("php.ini"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group, so that the drop ends its pool workers with it.
            .process_group(0)
            .spawn()
            .expect("spawn php-fpm");
        let fpm = PhpFpm {
            dir: dir.to_path_buf(),
            socket,
            port,
            child,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if UnixStream::connect(&fpm.socket).is_ok()
                && std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
            {
                return Some(fpm);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("php-fpm did not start: {}", fpm.log());
    }

    /// php-fpm's own log.
    pub fn log(&self) -> String {
        let mut s = String::new();
        if let Ok(mut f) = std::fs::File::open(self.dir.join("php-fpm.log")) {
            let _ = f.read_to_string(&mut s);
        }
        s
    }
}

impl Drop for PhpFpm {
    fn drop(&mut self) {
        // The whole group: killing the master alone would leave its pool workers running,
        // listening on the pools' sockets.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// TCP connections to local port `port` that exist or have just closed (`/proc/net/tcp`, any
/// state but LISTEN), counted once each by their other end's port: whichever side closes first
/// keeps the TIME_WAIT entry (php-fpm closes after its END_REQUEST without keep_conn, and the
/// server may close at the same moment), so either end's line stands for the connection.
/// php-fpm's own `accepted conn` counts requests, not connections, so this is how a test sees
/// connections being reused.
pub fn connections_to(port: u16) -> usize {
    let Ok(table) = std::fs::read_to_string("/proc/net/tcp") else {
        return 0;
    };
    let port_of = |addr: &str| u16::from_str_radix(addr.rsplit(':').next().unwrap_or(""), 16).ok();
    let mut ends = std::collections::BTreeSet::new();
    for line in table.lines().skip(1) {
        let mut cols = line.split_whitespace().skip(1);
        let (local, remote, state) = (
            cols.next().unwrap_or(""),
            cols.next().unwrap_or(""),
            cols.next().unwrap_or(""),
        );
        if state == "0A" {
            continue;
        }
        match (port_of(local), port_of(remote)) {
            (Some(l), Some(r)) if l == port => ends.insert(r),
            (Some(l), Some(r)) if r == port => ends.insert(l),
            _ => false,
        };
    }
    ends.len()
}
