//! Real uwsgi and SCGI application servers for the tests, started by each test: uWSGI
//! (Debian's `uwsgi` with its `python3` plugin) serving `support/uwsgi_app.py`, and the
//! standard-library SCGI server `support/scgi_app.py`, each on a TCP port and a unix
//! socket. A test is skipped, loudly, where the server is not installed (`.ci/run`
//! installs them).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running application server (one or more processes).
pub struct App {
    /// Its TCP port.
    pub port: u16,
    /// Its unix socket.
    pub socket: PathBuf,
    children: Vec<Child>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn support(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/support")
        .join(name)
}

fn found(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

impl App {
    /// uWSGI serving the test application; `None` when uWSGI or its Python plugin is
    /// missing.
    pub fn uwsgi(dir: &Path) -> Option<App> {
        let plugin_dir = Path::new("/usr/lib/uwsgi/plugins");
        if !found("uwsgi") || !plugin_dir.join("python3_plugin.so").exists() {
            eprintln!("uwsgi with its python3 plugin is not installed: uwsgi tests are skipped");
            return None;
        }
        std::fs::create_dir_all(dir).expect("uwsgi dir");
        let port = free_port();
        let socket = dir.join("uwsgi.sock");
        let child = Command::new("uwsgi")
            .args([
                "--plugin",
                "python3",
                "--processes",
                "1",
                "--disable-logging",
            ])
            .arg("--socket")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--socket")
            .arg(&socket)
            .args(["--chmod-socket=666", "--wsgi-file"])
            .arg(support("uwsgi_app.py"))
            .arg("--logto")
            .arg(dir.join("uwsgi.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn uwsgi");
        App {
            port,
            socket,
            children: vec![child],
        }
        .ready()
    }

    /// uWSGI as [`App::uwsgi`], its TCP port speaking uwsgi over TLS (`--suwsgi-socket`)
    /// with `crt` and `key` (paths); the unix socket stays plain.
    pub fn suwsgi(dir: &Path, crt: &Path, key: &Path) -> Option<App> {
        let plugin_dir = Path::new("/usr/lib/uwsgi/plugins");
        if !found("uwsgi") || !plugin_dir.join("python3_plugin.so").exists() {
            eprintln!("uwsgi with its python3 plugin is not installed: uwsgi tests are skipped");
            return None;
        }
        std::fs::create_dir_all(dir).expect("uwsgi dir");
        let port = free_port();
        let socket = dir.join("uwsgi.sock");
        let child = Command::new("uwsgi")
            .args([
                "--plugin",
                "python3",
                "--processes",
                "1",
                "--disable-logging",
            ])
            .arg("--suwsgi-socket")
            .arg(format!(
                "127.0.0.1:{port},{},{}",
                crt.display(),
                key.display()
            ))
            .arg("--socket")
            .arg(&socket)
            .args(["--chmod-socket=666", "--wsgi-file"])
            .arg(support("uwsgi_app.py"))
            .arg("--logto")
            .arg(dir.join("uwsgi.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn uwsgi");
        App {
            port,
            socket,
            children: vec![child],
        }
        .ready()
    }

    /// The SCGI test server; `None` without python3.
    pub fn scgi(dir: &Path) -> Option<App> {
        if !found("python3") {
            eprintln!("python3 is not installed: SCGI tests are skipped");
            return None;
        }
        std::fs::create_dir_all(dir).expect("scgi dir");
        let port = free_port();
        let socket = dir.join("scgi.sock");
        let spawn = |kind: &str, at: &str| {
            Command::new("python3")
                .arg(support("scgi_app.py"))
                .args([kind, at])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn scgi_app.py")
        };
        let children = vec![
            spawn("tcp", &port.to_string()),
            spawn("unix", &socket.display().to_string()),
        ];
        App {
            port,
            socket,
            children,
        }
        .ready()
    }

    /// Waits until both the port and the socket accept.
    fn ready(self) -> Option<App> {
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok()
                && std::os::unix::net::UnixStream::connect(&self.socket).is_ok()
            {
                return Some(self);
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("application server did not start on {}", self.port);
    }
}

impl Drop for App {
    fn drop(&mut self) {
        for c in &mut self.children {
            // SIGKILL: uWSGI's master takes TERM as "reload".
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
