//! FastCGI end to end: Portico in front of a real php-fpm (started by each test on a unix
//! socket and a TCP port), with nginx's `conf/fastcgi.conf`; and in front of a scripted
//! FastCGI application for what php-fpm never sends (broken records, a head over the
//! buffer, a close in the middle of a record). Each behaviour was checked against nginx
//! 1.22 with the same php-fpm.

mod common;
#[path = "support/fcgi.rs"]
mod fcgi;
#[path = "support/php.rs"]
mod php;

use std::io::Write;
use std::time::Duration;

use common::{Prefix, Server, read_response};
use fcgi::{Answer, FakeFcgi, record, response};
use php::{PhpFpm, connections_to};

/// Writes the PHP scripts the tests ask for under the prefix's `html/`.
fn scripts(prefix: &Prefix) {
    let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("conf");
    for name in ["fastcgi.conf", "fastcgi_params"] {
        prefix.write(
            &format!("conf/{name}"),
            std::fs::read(shipped.join(name)).expect("shipped fastcgi.conf"),
        );
    }
    prefix.write(
        "html/hello.php",
        "<?php echo 'hello ', $_SERVER['SCRIPT_NAME'], ' ', $_SERVER['REQUEST_METHOD'], \
         ' ', $_SERVER['QUERY_STRING'], ' ', $_SERVER['HTTP_X_CLIENT'] ?? '-', \"\\n\";",
    );
    prefix.write(
        "html/status.php",
        "<?php header('Status: 404 Not Found'); echo 'gone';",
    );
    prefix.write(
        "html/redirect.php",
        "<?php header('Location: /next'); echo 'moved';",
    );
    prefix.write(
        "html/warn.php",
        "<?php error_log('something odd'); echo 'warned';",
    );
    prefix.write("html/echo.php", "<?php readfile('php://input');");
    prefix.write(
        "html/accel.php",
        "<?php header('X-Accel-Redirect: /files/a.txt'); header('Content-Type: text/x-sent'); \
         header('Set-Cookie: k=v'); header('X-Other: o'); echo 'not sent';",
    );
    prefix.write("html/files/a.txt", "file a\n");
    prefix.write(
        "html/length.php",
        "<?php header('Content-Length: 5'); echo 'hello';",
    );
    prefix.write(
        "html/fail.php",
        "<?php http_response_code(500); echo 'failed';",
    );
    prefix.write(
        "html/lines.php",
        "<?php header('X-A: 1'); header('last-modified: Thu, 01 Jan 1970 00:00:01 GMT'); \
         header('content-type: text/plain'); header('X-B: 2'); echo 'lines';",
    );
    prefix.write(
        "html/big.php",
        "<?php $n = (int)$_GET['n']; for ($i = 0; $i < $n; $i++) { echo str_pad($i, 9, '.'), \"\\n\"; }",
    );
    prefix.write(
        "html/info.php",
        "<?php echo $_SERVER['SCRIPT_NAME'], '|', $_SERVER['PATH_INFO'] ?? '', '|', \
         $_SERVER['CONTENT_LENGTH'] ?? '', '|', strlen(file_get_contents('php://input'));",
    );
}

/// Portico in front of php-fpm: `/unix/` and `/tcp/` reach the two pools.
/// A php-fpm in a directory of its own (`None`: not installed).
fn start_fpm() -> Option<PhpFpm> {
    let dir = std::env::temp_dir().join(format!(
        "portico-fpm-{}-{}",
        std::process::id(),
        common::free_port()
    ));
    PhpFpm::start(&dir)
}

fn php_server(extra: &str) -> Option<(Server, PhpFpm)> {
    let fpm = start_fpm()?;
    let conf = format!(
        "server {{ listen 127.0.0.1:PORT; server_name localhost;\n\
           location ~ ^/unix(/.*\\.php)$ {{ include fastcgi.conf; fastcgi_param SCRIPT_FILENAME $document_root$1;\n\
             fastcgi_param SCRIPT_NAME $1; fastcgi_pass unix:{sock}; }}\n\
           location ~ \\.php(/|$) {{ include fastcgi.conf; fastcgi_split_path_info ^(.+\\.php)(/.*)$;\n\
             fastcgi_param PATH_INFO $fastcgi_path_info; fastcgi_pass 127.0.0.1:{port}; }}\n\
           location = /fpm-status {{ include fastcgi.conf; fastcgi_pass 127.0.0.1:{port}; }}\n\
           {extra} }}",
        sock = fpm.socket.display(),
        port = fpm.port,
        extra = extra.replace("SOCK", &fpm.socket.display().to_string()),
    );
    let server = Server::start_with(1, &conf, scripts);
    Some((server, fpm))
}

fn get_close(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").into_bytes()
}

#[test]
fn php_answers_over_a_unix_socket_and_tcp_with_keep_alive_to_the_client() {
    let Some((s, _fpm)) = php_server("") else {
        return;
    };
    let r = s.request(
        b"GET /unix/hello.php?a=1 HTTP/1.1\r\nHost: localhost\r\nX-Client: yes\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(r.status, 200, "{}", s.error_log());
    assert_eq!(r.text(), "hello /hello.php GET a=1 yes\n");
    assert!(
        r.header("X-Powered-By")
            .is_some_and(|v| v.starts_with("PHP/"))
    );
    assert_eq!(r.header("Content-Type"), Some("text/html; charset=UTF-8"));
    // No Content-Length from PHP: chunks to an HTTP/1.1 client, which keeps its connection.
    let mut c = s.connect();
    for i in 0..3 {
        c.write_all(format!("GET /hello.php?n={i} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes())
            .unwrap();
        let r = read_response(&mut c, false).expect("response");
        assert_eq!(r.status, 200);
        assert_eq!(r.header("Transfer-Encoding"), Some("chunked"));
        assert_eq!(r.header("Connection"), Some("keep-alive"));
        assert_eq!(r.text(), format!("hello /hello.php GET n={i} -\n"));
    }
    // An HTTP/1.0 client gets the body until the connection closes.
    let r = s.request(b"GET /hello.php HTTP/1.0\r\nHost: localhost\r\n\r\n");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Connection"), Some("close"));
    assert_eq!(r.text(), "hello /hello.php GET  -\n");
    // HEAD: no body.
    let r = s.request(b"HEAD /hello.php HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    assert_eq!(r.status, 200);
    s.assert_clean_log();
}

#[test]
fn status_and_location_headers() {
    let Some((s, _fpm)) = php_server("") else {
        return;
    };
    let r = s.request(&get_close("/status.php"));
    assert_eq!((r.status, r.reason.as_str()), (404, "Not Found"));
    assert_eq!(r.text(), "gone");
    assert!(r.header("Status").is_none(), "Status is not relayed");
    let r = s.request(&get_close("/unix/redirect.php"));
    assert_eq!((r.status, r.reason.as_str()), (302, "Found"));
    assert_eq!(
        r.header("Location"),
        Some("/next"),
        "relative, as nginx passes it"
    );
    assert_eq!(r.text(), "moved");
}

#[test]
fn an_application_error_keeps_the_connection_and_lines_keep_nginx_s_order() {
    let Some((s, _fpm)) = php_server("") else {
        return;
    };
    let mut c = s.connect();
    // nginx keeps the connection after a 500 the application sent: only its own error
    // pages (the special response handler) end it.
    c.write_all(b"GET /fail.php HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let r = read_response(&mut c, false).expect("response");
    assert_eq!((r.status, r.text().as_str()), (500, "failed"));
    assert_eq!(r.header("Connection"), Some("keep-alive"));
    // Content-Type is written under nginx's name, early; the other lines (Last-Modified
    // too) in the application's order and spelling.
    c.write_all(b"GET /lines.php HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let r = read_response(&mut c, false).expect("response");
    assert_eq!(r.text(), "lines");
    assert_eq!(
        r.header_names(),
        [
            "Server",
            "Date",
            "Content-Type",
            "Transfer-Encoding",
            "Connection",
            "X-Powered-By",
            "X-A",
            "last-modified",
            "X-B"
        ]
    );
}

#[test]
fn x_accel_redirect_ignore_headers_and_limit_rate_as_for_the_proxy() {
    let Some((s, _fpm)) = php_server(
        "location /files/ { internal; }\n\
         location = /ignored.php { include fastcgi.conf; fastcgi_ignore_headers X-Accel-Redirect;\n\
           fastcgi_param SCRIPT_FILENAME $document_root/accel.php; fastcgi_pass unix:SOCK; }\n\
         location = /slow.php { include fastcgi.conf; fastcgi_limit_rate 20k;\n\
           fastcgi_param SCRIPT_FILENAME $document_root/big.php; fastcgi_pass unix:SOCK; }",
    ) else {
        return;
    };
    // The application's X-Accel-Redirect: the file answers, with the application's
    // Content-Type and Set-Cookie kept (nginx's redirect-kept fields), nothing else of it.
    let r = s.request(&get_close("/accel.php"));
    assert_eq!((r.status, r.text().as_str()), (200, "file a\n"));
    assert_eq!(r.header("Content-Type"), Some("text/x-sent;charset=UTF-8"));
    assert_eq!(r.header("Set-Cookie"), Some("k=v"));
    assert_eq!(r.header("X-Other"), None);
    // fastcgi_ignore_headers X-Accel-Redirect: the response is the application's.
    let r = s.request(&get_close("/ignored.php"));
    assert_eq!((r.status, r.text().as_str()), (200, "not sent"));
    assert_eq!(r.header("X-Other"), Some("o"));
    assert_eq!(r.header("X-Accel-Redirect"), None, "hidden by default");
    // fastcgi_limit_rate 20k: nginx allows rate × (whole seconds since the start + 1), so
    // 60 kB of a buffered response take two seconds.
    let started = std::time::Instant::now();
    let r = s.request(&get_close("/slow.php?n=6000"));
    assert_eq!(r.body.len(), 60_000);
    assert!(
        started.elapsed() >= Duration::from_millis(1800),
        "{:?}",
        started.elapsed()
    );
    s.assert_clean_log();
}

/// `data` gunzipped by Python's gzip module (as tests/gzip.rs checks compressed bodies).
fn gunzip(data: &[u8]) -> Vec<u8> {
    common::python_gunzip(data)
}

#[test]
fn gzip_compresses_an_application_s_body_of_unknown_or_known_length() {
    let Some((s, _fpm)) = php_server(
        "location = /gz.php { include fastcgi.conf; gzip on; gzip_min_length 1;\n\
           fastcgi_param SCRIPT_FILENAME $document_root/big.php; fastcgi_pass unix:SOCK; }\n\
         location = /gzecho.php { include fastcgi.conf; gzip on; gzip_min_length 1;\n\
           fastcgi_param SCRIPT_FILENAME $document_root/length.php; fastcgi_pass unix:SOCK; }",
    ) else {
        return;
    };
    let gz = "Accept-Encoding: gzip\r\n";
    let mut c = s.connect();
    // No length from the application: the filter's chunks, not the writer's.
    c.write_all(format!("GET /gz.php?n=3000 HTTP/1.1\r\nHost: localhost\r\n{gz}\r\n").as_bytes())
        .unwrap();
    let r = read_response(&mut c, false).expect("response");
    assert_eq!(r.header("Content-Encoding"), Some("gzip"));
    assert_eq!(r.header("Transfer-Encoding"), Some("chunked"));
    let body = gunzip(&r.body);
    assert_eq!(body.len(), 30_000);
    assert!(body.ends_with(b"2999.....\n"));
    // The connection goes on after it.
    c.write_all(format!("GET /gzecho.php HTTP/1.1\r\nHost: localhost\r\n{gz}\r\n").as_bytes())
        .unwrap();
    let r = read_response(&mut c, false).expect("response");
    assert_eq!(r.header("Content-Encoding"), Some("gzip"));
    assert_eq!(r.header("Content-Length"), None);
    assert_eq!(gunzip(&r.body), b"hello");
    s.assert_clean_log();
}

#[test]
fn an_intercepted_status_s_error_page_sees_the_request_body() {
    let Some((s, _fpm)) = php_server(
        "location = /kept.php { include fastcgi.conf; fastcgi_request_buffering off;\n\
           fastcgi_param SCRIPT_FILENAME $document_root/status.php; fastcgi_intercept_errors on;\n\
           error_page 404 /seen; fastcgi_pass unix:SOCK; }\n\
         location = /seen { return 200 \"[$request_body]\"; }",
    ) else {
        return;
    };
    // With request buffering off, a body that came whole with the head is still read as a
    // buffered one (nginx: "the whole request body was pre-read"): $request_body has it.
    let r = s.request(
        b"POST /kept.php HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\
          Connection: close\r\n\r\nhello",
    );
    assert_eq!((r.status, r.text().as_str()), (404, "[hello]"));
    let r = s.request(
        b"POST /kept.php HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\
          Connection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    );
    assert_eq!((r.status, r.text().as_str()), (404, "[hello]"));
    s.assert_clean_log();
}

#[test]
fn stderr_is_logged_as_nginx_logs_it() {
    let Some((s, fpm)) = php_server("") else {
        return;
    };
    let r = s.request(&get_close("/unix/warn.php"));
    assert_eq!((r.status, r.text().as_str()), (200, "warned"));
    let want = format!(
        "[error] {{pid}}: *1 FastCGI sent in stderr: \"PHP message: something odd\" while reading \
         response header from upstream, client: 127.0.0.1, server: localhost, request: \"GET \
         /unix/warn.php HTTP/1.1\", upstream: \"fastcgi://unix:{}:\", host: \"localhost\"",
        fpm.socket.display()
    );
    let log = s.error_log();
    let line = log
        .lines()
        .find(|l| l.contains("FastCGI sent in stderr"))
        .unwrap_or_else(|| panic!("no stderr line in:\n{log}"));
    let (_, rest) = line.split_once("[error] ").expect("level");
    let (_, rest) = rest.split_once(": *").expect("pid");
    let (_, rest) = rest.split_once(' ').expect("connection");
    assert_eq!(
        format!("[error] {{pid}}: *1 {rest}"),
        want,
        "the whole line, as nginx writes it"
    );
}

#[test]
fn large_bodies_both_ways() {
    let Some((s, _fpm)) = php_server(
        "location /stream/ { include fastcgi.conf; fastcgi_param SCRIPT_FILENAME $document_root/echo.php;\n\
           fastcgi_request_buffering off; fastcgi_pass 127.0.0.1:1; }",
    ) else {
        return;
    };
    // 1 MB up (read whole, in a temporary file past client_body_buffer_size, sent in
    // STDIN records) and back.
    let body: Vec<u8> = (0..1024 * 1024).map(|i| (i % 251) as u8).collect();
    let mut c = s.connect();
    c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let head = format!(
        "POST /unix/echo.php HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        body.len()
    );
    c.write_all(head.as_bytes()).unwrap();
    c.write_all(&body).unwrap();
    let r = read_response(&mut c, false).expect("response");
    assert_eq!(r.status, 200, "{}", s.error_log());
    assert!(r.body == body, "echoed {} bytes", r.body.len());
    // 3 MB down, past the buffers into the response's temporary file.
    let r = s.request(&get_close("/big.php?n=300000"));
    assert_eq!(r.status, 200);
    assert_eq!(r.body.len(), 3_000_000);
    assert!(r.text().ends_with("299999...\n"));
    // A chunked upload with request buffering off streams into STDIN records.
    let mut c = s.connect();
    let mut req =
        b"POST /unix/echo.php HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\
                    Connection: close\r\n\r\n"
            .to_vec();
    for piece in body[..200_000].chunks(70_000) {
        req.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        req.extend_from_slice(piece);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"0\r\n\r\n");
    c.write_all(&req).unwrap();
    let r = read_response(&mut c, false).expect("response");
    assert_eq!(r.status, 200);
    assert!(r.body == body[..200_000], "echoed {} bytes", r.body.len());
    s.assert_clean_log();
}

#[test]
fn split_path_info_and_the_content_length_of_a_chunked_body() {
    let Some((s, _fpm)) = php_server("") else {
        return;
    };
    let r = s.request(&get_close("/info.php/a/b"));
    assert_eq!(r.text(), "/info.php|/a/b||0");
    // A chunked body read whole is sent with its length, as nginx sets $content_length.
    let r = s.request(
        b"POST /info.php HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\
          Connection: close\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
    );
    assert_eq!(r.text(), "/info.php||5|5");
}

#[test]
fn keep_conn_reuses_php_fpm_connections() {
    let Some(fpm) = start_fpm() else {
        return;
    };
    let port = fpm.port;
    let conf = format!(
        "upstream fpm {{ server 127.0.0.1:{port}; keepalive 2; }}\n\
         server {{ listen 127.0.0.1:PORT; server_name localhost;\n\
           location / {{ include fastcgi.conf; fastcgi_keep_conn on; fastcgi_pass fpm; }}\n\
           location /off/ {{ include fastcgi.conf; fastcgi_param SCRIPT_FILENAME $document_root/hello.php;\n\
             fastcgi_pass fpm; }} }}"
    );
    let s = Server::start_with(1, &conf, scripts);
    let mut c = s.connect();
    for _ in 0..20 {
        c.write_all(b"GET /hello.php HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .unwrap();
        let r = read_response(&mut c, false).expect("response");
        assert_eq!(r.status, 200);
    }
    let reused = connections_to(port);
    assert!(
        reused <= 2,
        "{reused} connections for 20 requests with keep_conn"
    );
    // Without fastcgi_keep_conn each request has its own connection, as with nginx.
    for _ in 0..5 {
        assert_eq!(s.request(&get_close("/off/x")).status, 200);
    }
    let fresh = connections_to(port) - reused;
    assert!(
        fresh >= 5,
        "{fresh} connections for 5 requests without keep_conn"
    );
    s.assert_clean_log();
}

#[test]
fn catch_stderr_and_intercepted_errors() {
    let Some(fpm) = start_fpm() else {
        return;
    };
    let sock = fpm.socket.display().to_string();
    let conf = format!(
        "server {{ listen 127.0.0.1:PORT; server_name localhost;\n\
         location = /caught.php {{ include fastcgi.conf; fastcgi_param SCRIPT_FILENAME $document_root/warn.php;\n\
           fastcgi_catch_stderr odd; fastcgi_pass unix:{sock}; }}\n\
         location = /intercepted.php {{ include fastcgi.conf; fastcgi_param SCRIPT_FILENAME $document_root/status.php;\n\
           fastcgi_intercept_errors on; error_page 404 /custom404.html; fastcgi_pass unix:{sock}; }} }}"
    );
    let s = Server::start_with(1, &conf, |p| {
        scripts(p);
        p.write("html/custom404.html", "custom page\n");
    });
    let r = s.request(&get_close("/caught.php"));
    assert_eq!(r.status, 502);
    assert!(
        s.error_log()
            .contains("FastCGI sent in stderr: \"PHP message: something odd\"")
    );
    let r = s.request(&get_close("/intercepted.php"));
    assert_eq!((r.status, r.text().as_str()), (404, "custom page\n"));
}

/// Portico in front of the scripted application.
fn fake_server(app: &FakeFcgi, extra: &str) -> Server {
    let conf = format!(
        "upstream app {{ server 127.0.0.1:{}; keepalive 4; }}\n\
         server {{ listen 127.0.0.1:PORT; server_name localhost;\n\
           location / {{ fastcgi_pass app; fastcgi_keep_conn on; fastcgi_param REQUEST_URI $request_uri; }}\n\
           {extra} }}",
        app.port
    );
    Server::start(&conf)
}

fn uri(req: &fcgi::FcgiRequest) -> String {
    req.param("REQUEST_URI").unwrap_or("").to_string()
}

#[test]
fn broken_responses_get_502_and_nginx_s_lines_and_the_next_request_works() {
    let app = FakeFcgi::start(|req, _| {
        let good = Answer {
            bytes: response(b"Content-Type: text/plain\r\n\r\nfine"),
            close: false,
        };
        match uri(req).as_str() {
            "/version" => Answer {
                bytes: vec![2, 6, 0, 1, 0, 0, 0, 0],
                close: false,
            },
            "/type" => Answer {
                bytes: record(9, b"x", 7),
                close: false,
            },
            "/big" => Answer {
                bytes: response(&[&b"X-Big: "[..], &[b'a'; 5000], b"\r\n\r\nbody"].concat()),
                close: false,
            },
            "/cut" => Answer {
                bytes: response(b"Content-Type: text/plain\r\n\r\nbody")[..20].to_vec(),
                close: true,
            },
            "/header" => Answer {
                bytes: response(b"X Bad: v\r\n\r\nbody"),
                close: false,
            },
            "/closed" => Answer {
                bytes: [record(6, b"X-A: b\r\n", 0), record(6, b"", 0)].concat(),
                close: false,
            },
            _ => good,
        }
    });
    let s = fake_server(&app, "");
    let cases = [
        (
            "/version",
            "upstream sent unsupported FastCGI protocol version: 2",
        ),
        ("/type", "upstream sent invalid FastCGI record type: 9"),
        ("/big", "upstream sent too big header"),
        ("/cut", "upstream prematurely closed connection"),
        ("/header", "upstream sent invalid header: \"X\\x20...\""),
        ("/closed", "upstream prematurely closed FastCGI stdout"),
    ];
    for (path, words) in cases {
        let mut c = s.connect();
        c.write_all(format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes())
            .unwrap();
        let r = read_response(&mut c, false).expect("response");
        assert_eq!(r.status, 502, "{path}");
        let line = format!(
            "{words} while reading response header from upstream, client: 127.0.0.1, server: \
             localhost, request: \"GET {path} HTTP/1.1\", upstream: \"fastcgi://127.0.0.1:{}\", \
             host: \"localhost\"",
            app.port
        );
        assert!(
            s.wait_for(5, || s.error_log().contains(&line)),
            "{path}: no line\n{line}\nin\n{}",
            s.error_log()
        );
        // The same client connection goes on.
        c.write_all(b"GET /good HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .unwrap();
        let r = read_response(&mut c, false).expect("response");
        assert_eq!((r.status, r.text().as_str()), (200, "fine"), "after {path}");
    }
    s.assert_clean_log();
}

#[test]
fn records_split_anywhere_and_the_pool_keeps_only_clean_connections() {
    // The head and body in records of every size, stderr between them, padding, every
    // byte in its own write.
    let app = FakeFcgi::start(|req, _| {
        let mut bytes = Vec::new();
        let text = b"Content-Type: text/plain\r\nX-Uri: \r\n\r\n0123456789abcdef";
        for (i, piece) in text.chunks(3).enumerate() {
            bytes.extend(record(6, piece, (i % 8) as u8));
            if i == 2 {
                bytes.extend(record(7, b"early warning\n", 2));
            }
        }
        bytes.extend(record(6, b"", 0));
        bytes.extend(record(3, &[0; 8], 0));
        if uri(req) == "/dribble" {
            return Answer {
                bytes,
                close: false,
            };
        }
        if uri(req) == "/surplus" {
            bytes.extend_from_slice(b"junk after the end");
        }
        Answer {
            bytes,
            close: false,
        }
    });
    let s = fake_server(&app, "");
    let mut c = s.connect();
    for path in ["/a", "/b", "/dribble", "/c"] {
        c.write_all(format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes())
            .unwrap();
        let r = read_response(&mut c, false).expect("response");
        assert_eq!(
            (r.status, r.text().as_str()),
            (200, "0123456789abcdef"),
            "{path}"
        );
    }
    assert_eq!(
        app.accepted(),
        1,
        "one pooled connection for clean responses"
    );
    assert!(s.error_log().contains(
        "FastCGI sent in stderr: \"early warning\" while reading response header from upstream"
    ));
    // Bytes after END_REQUEST: the response is fine, the connection is not kept.
    c.write_all(b"GET /surplus HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let r = read_response(&mut c, false).expect("response");
    assert_eq!(r.text(), "0123456789abcdef");
    c.write_all(b"GET /d HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut c, false).expect("response").status, 200);
    assert_eq!(app.accepted(), 2, "a new connection after the surplus");
    s.assert_clean_log();
}

#[test]
fn parameters_and_headers_as_nginx_sends_them() {
    let app = FakeFcgi::start(|req, _| {
        let mut text = b"Content-Type: text/plain\r\n\r\n".to_vec();
        for (n, v) in &req.params {
            text.extend_from_slice(format!("{n}={v}\n").as_bytes());
        }
        text.extend_from_slice(
            format!("keep_conn={} stdin={}\n", req.keep_conn, req.stdin.len()).as_bytes(),
        );
        Answer {
            bytes: response(&text),
            close: false,
        }
    });
    let conf = format!(
        "server {{ listen 127.0.0.1:PORT; server_name localhost;\n\
           location / {{ fastcgi_pass 127.0.0.1:{};\n\
             fastcgi_param A \"$request_method $uri\"; fastcgi_param EMPTY $arg_none if_not_empty;\n\
             fastcgi_param KEPT $arg_none; fastcgi_param HTTP_HOST override; fastcgi_param HTTP_X_DROP \"\"; }}\n\
           location /noheaders/ {{ fastcgi_pass 127.0.0.1:{}; fastcgi_pass_request_headers off; fastcgi_param A a; }} }}",
        app.port, app.port
    );
    let s = Server::start(&conf);
    let r = s.request(
        b"POST /x HTTP/1.1\r\nHost: localhost\r\nX-Drop: 1\r\nX-Keep-Me: 2\r\nContent-Length: 3\r\n\
          Connection: close\r\n\r\nabc",
    );
    assert_eq!(
        r.text(),
        "A=POST /x\nKEPT=\nHTTP_HOST=override\nHTTP_X_KEEP_ME=2\nHTTP_CONTENT_LENGTH=3\n\
         HTTP_CONNECTION=close\nkeep_conn=false stdin=3\n"
    );
    let r = s.request(&get_close("/noheaders/y"));
    assert_eq!(r.text(), "A=a\nkeep_conn=false stdin=0\n");
}

#[test]
fn a_slow_application_times_out_with_504() {
    let app = FakeFcgi::start(|_, _| {
        std::thread::sleep(Duration::from_millis(1500));
        Answer {
            bytes: response(b"\r\nlate"),
            close: true,
        }
    });
    let s = Server::start(&format!(
        "server {{ listen 127.0.0.1:PORT; server_name localhost;\n\
           location / {{ fastcgi_pass 127.0.0.1:{}; fastcgi_read_timeout 300ms; }} }}",
        app.port
    ));
    let r = s.request(&get_close("/"));
    assert_eq!(r.status, 504);
    assert!(s.error_log().contains(
        "upstream timed out (110: Connection timed out) while reading response header from upstream"
    ));
}

/// A reader that takes at most 4 KiB a millisecond: the upstream that reads slowly.
struct Slow<'a>(&'a mut std::os::unix::net::UnixStream);

impl std::io::Read for Slow<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        std::thread::sleep(Duration::from_millis(1));
        let n = buf.len().min(4096);
        std::io::Read::read(self.0, &mut buf[..n])
    }
}

#[test]
fn a_unix_socket_application_that_reads_slowly_gets_the_whole_body() {
    // A unix-socket connection is registered for readable edges only while its writes
    // go through at once; the 1 MB body fills the socket many times over, and each time
    // the request waits for a writable edge it must have asked for (or it would stall
    // until fastcgi_send_timeout's 504).
    let prefix = Prefix::new();
    let sock = prefix.path("slow.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).expect("bind");
    // The worker runs as nobody.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&sock, std::fs::Permissions::from_mode(0o666)).expect("chmod");
    std::thread::spawn(move || {
        for mut s in listener.incoming().flatten() {
            let Some(req) = fcgi::read_request(&mut Slow(&mut s)) else {
                continue;
            };
            let text = format!("Content-Type: text/plain\r\n\r\nstdin={}", req.stdin.len());
            let _ = s.write_all(&response(text.as_bytes()));
        }
    });
    let port = common::free_port();
    prefix.write(
        "conf/portico.conf",
        format!(
            "{}http {{ client_max_body_size 2m;\n\
               server {{ listen 127.0.0.1:{port}; server_name localhost;\n\
                 location / {{ fastcgi_pass unix:{}; fastcgi_send_timeout 10s; }} }} }}\n",
            common::main_preamble(1),
            sock.display()
        ),
    );
    let s = Server::spawn(prefix, port);
    let body = vec![b'x'; 1024 * 1024];
    let mut c = s.connect();
    c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let head = format!(
        "POST /up HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    c.write_all(head.as_bytes()).unwrap();
    c.write_all(&body).unwrap();
    let r = read_response(&mut c, false).expect("response");
    assert_eq!(
        (r.status, r.text().as_str()),
        (200, "stdin=1048576"),
        "{}",
        s.error_log()
    );
    s.assert_clean_log();
}
