//! Byte ranges as nginx's range filter answers them: several ranges in one 206
//! `multipart/byteranges` (from a file held in memory and from one sent part by part),
//! `max_ranges`, and If-Range against validators `add_header` replaced.

mod common;

use common::{Server, show};

fn small() -> String {
    (0..100).map(|i| format!("{i:04}\n")).collect()
}

fn big() -> String {
    (0..200_000).map(|i| format!("{i:07}\n")).collect()
}

fn start(extra: &str) -> Server {
    let block = format!(
        "default_type text/plain;\n{extra}\nserver {{ listen 127.0.0.1:PORT; server_name localhost;\n\
           location /one/ {{ max_ranges 1; alias html/; }}\n\
           location /none/ {{ max_ranges 0; alias html/; }}\n\
           location /lm/ {{ alias html/; add_header Last-Modified \"Mon, 28 Sep 1970 06:00:00 GMT\"; }}\n\
           location / {{ }} }}"
    );
    Server::start_with(1, &block, |p| {
        p.write("html/small.txt", small());
        p.write("html/big.txt", big());
    })
}

fn ranged(server: &Server, uri: &str, range: &str) -> common::Response {
    let raw = format!(
        "GET {uri} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nRange: {range}\r\n\r\n"
    );
    server.request(raw.as_bytes())
}

/// The body nginx sends for `ranges` of `file` with `boundary`.
fn multipart(file: &str, ranges: &[(usize, usize)], boundary: &str) -> String {
    let mut body = String::new();
    for &(start, end) in ranges {
        body.push_str(&format!(
            "\r\n--{boundary}\r\nContent-Type: text/plain\r\nContent-Range: bytes {start}-{}/{}\r\n\r\n{}",
            end - 1,
            file.len(),
            &file[start..end]
        ));
    }
    body.push_str(&format!("\r\n--{boundary}--\r\n"));
    body
}

#[test]
fn several_ranges_are_one_multipart_answer() {
    for sendfile in ["off", "on"] {
        let server = start(&format!("sendfile {sendfile};"));
        for (uri, file) in [("/small.txt", small()), ("/big.txt", big())] {
            let r = ranged(&server, uri, "bytes=0-4, 10-14,-5");
            assert_eq!(r.status, 206, "{}", show(&r));
            let content_type = r.header("Content-Type").unwrap_or_default();
            let boundary = content_type
                .strip_prefix("multipart/byteranges; boundary=")
                .unwrap_or_default();
            assert_eq!(boundary.len(), 20, "{content_type}");
            let n = file.len();
            let expected = multipart(&file, &[(0, 5), (10, 15), (n - 5, n)], boundary);
            assert_eq!(r.text(), expected, "{uri} sendfile {sendfile}");
            let length = expected.len().to_string();
            assert_eq!(r.header("Content-Length"), Some(length.as_str()));
            assert_eq!(r.header("Content-Range"), None);
            assert_eq!(r.header("Accept-Ranges"), None);
        }
        let r = ranged(&server, "/big.txt", "bytes=100000-600000,1000000-1300000");
        let content_type = r.header("Content-Type").unwrap_or_default().to_string();
        let boundary = content_type.rsplit('=').next().unwrap_or_default();
        let expected = multipart(
            &big(),
            &[(100_000, 600_001), (1_000_000, 1_300_001)],
            boundary,
        );
        assert!(r.text() == expected, "large parts, sendfile {sendfile}");
        server.assert_clean_log();
    }
}

#[test]
fn max_ranges_and_replaced_validators() {
    let server = start("");
    // More ranges than max_ranges: the whole file.
    let r = ranged(&server, "/one/small.txt", "bytes=0-4,10-14");
    assert_eq!((r.status, r.body.len()), (200, 500), "{}", show(&r));
    assert_eq!(r.header("Accept-Ranges"), Some("bytes"));
    assert_eq!(ranged(&server, "/one/small.txt", "bytes=0-4").status, 206);
    // max_ranges 0: no ranges and no Accept-Ranges.
    let r = ranged(&server, "/none/small.txt", "bytes=0-4");
    assert_eq!((r.status, r.header("Accept-Ranges")), (200, None));
    // If-Range compares with the Last-Modified add_header put in place of the file's.
    let raw = "GET /lm/small.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
               Range: bytes=0-4\r\nIf-Range: Mon, 28 Sep 1970 06:00:00 GMT\r\n\r\n";
    let r = server.request(raw.as_bytes());
    assert_eq!(r.status, 206, "{}", show(&r));
    let last_modified: Vec<_> = r
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("last-modified"))
        .collect();
    assert_eq!(last_modified.len(), 1, "{}", show(&r));
    assert_eq!(last_modified[0].1, "Mon, 28 Sep 1970 06:00:00 GMT");
}
