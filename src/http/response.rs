//! Pre-built response bytes: status lines, the `Server` header and nginx's built-in error
//! pages (`ngx_http_header_filter_module.c`, `ngx_http_special_response.c`), all
//! `&'static` and assembled at compile time, so answering costs no allocation.
//!
//! Reason phrases are nginx's, not the RFC's (`302 Moved Temporarily`, `408 Request
//! Time-out`); a status nginx has no phrase for is sent as `HTTP/1.1 NNN ` with an empty
//! one. nginx's internal codes 494–497 are sent as 400, each with its own page.

/// nginx's answer to `Expect: 100-continue`, sent before reading the body.
pub const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

macro_rules! status_table {
    ($($code:literal $reason:literal),* $(,)?) => {
        /// nginx's reason phrase for `status` (after [`wire_status`]); empty for codes
        /// nginx has none for.
        pub fn reason(status: u16) -> &'static str {
            match wire_status(status) {
                $($code => $reason,)*
                _ => "",
            }
        }

        fn known_status_line(status: u16) -> Option<&'static [u8]> {
            match status {
                $($code => Some(concat!("HTTP/1.1 ", stringify!($code), " ", $reason, "\r\n")
                    .as_bytes()),)*
                _ => None,
            }
        }
    };
}

status_table! {
    100 "Continue",
    101 "Switching Protocols",
    200 "OK",
    201 "Created",
    202 "Accepted",
    204 "No Content",
    206 "Partial Content",
    301 "Moved Permanently",
    302 "Moved Temporarily",
    303 "See Other",
    304 "Not Modified",
    307 "Temporary Redirect",
    308 "Permanent Redirect",
    400 "Bad Request",
    401 "Unauthorized",
    402 "Payment Required",
    403 "Forbidden",
    404 "Not Found",
    405 "Not Allowed",
    406 "Not Acceptable",
    408 "Request Time-out",
    409 "Conflict",
    410 "Gone",
    411 "Length Required",
    412 "Precondition Failed",
    413 "Request Entity Too Large",
    414 "Request-URI Too Large",
    415 "Unsupported Media Type",
    416 "Requested Range Not Satisfiable",
    421 "Misdirected Request",
    429 "Too Many Requests",
    500 "Internal Server Error",
    501 "Not Implemented",
    502 "Bad Gateway",
    503 "Service Temporarily Unavailable",
    504 "Gateway Time-out",
    505 "HTTP Version Not Supported",
    507 "Insufficient Storage",
}

/// The status that goes on the wire and in `$status`: nginx's internal 494 (request
/// header too large), 495, 496 and 497 (TLS errors) are sent as 400.
pub fn wire_status(status: u16) -> u16 {
    match status {
        494..=497 => 400,
        other => other,
    }
}

/// Length of `HTTP/1.1 NNN \r\n`.
const UNKNOWN_LINE_LEN: usize = 15;

/// `HTTP/1.1 NNN \r\n` for every NNN in 100..=999, for statuses without a phrase.
static UNKNOWN_LINES: [u8; 900 * UNKNOWN_LINE_LEN] = {
    let mut table = [0u8; 900 * UNKNOWN_LINE_LEN];
    let prefix = b"HTTP/1.1 ";
    let mut i = 0;
    while i < 900 {
        let code = 100 + i;
        let line = i * UNKNOWN_LINE_LEN;
        let mut j = 0;
        while j < prefix.len() {
            table[line + j] = prefix[j];
            j += 1;
        }
        table[line + 9] = b'0' + (code / 100) as u8;
        table[line + 10] = b'0' + (code / 10 % 10) as u8;
        table[line + 11] = b'0' + (code % 10) as u8;
        table[line + 12] = b' ';
        table[line + 13] = b'\r';
        table[line + 14] = b'\n';
        i += 1;
    }
    table
};

/// The status line for `status`, CRLF included: `HTTP/1.1 404 Not Found\r\n`.
///
/// 494–497 give the 400 line. A status without an nginx phrase gives `HTTP/1.1 NNN \r\n`
/// as nginx sends it; one outside 100–999 is not HTTP and gives the 500 line.
pub fn status_line(status: u16) -> &'static [u8] {
    let status = wire_status(status);
    if let Some(line) = known_status_line(status) {
        return line;
    }
    let start = usize::from(status.wrapping_sub(100)) * UNKNOWN_LINE_LEN;
    UNKNOWN_LINES
        .get(start..start + UNKNOWN_LINE_LEN)
        .unwrap_or(b"HTTP/1.1 500 Internal Server Error\r\n")
}

/// The `Server` header line: `Server: portico/VERSION\r\n` with `server_tokens on`,
/// `Server: portico\r\n` with it off.
pub fn server_header(server_tokens: bool) -> &'static [u8] {
    if server_tokens {
        concat!("Server: portico/", env!("CARGO_PKG_VERSION"), "\r\n").as_bytes()
    } else {
        b"Server: portico\r\n"
    }
}

macro_rules! error_pages {
    (
        plain: $($code:literal $title:literal),* ;
        explained: $($xcode:literal $xtitle:literal $xh1:literal $xtext:literal),* $(,)?
    ) => {
        /// nginx's built-in HTML body for `status` (`text/html`), ending with
        /// `portico/VERSION` when `server_tokens` is on and `portico` when off. `None`:
        /// nginx sends no body for that status (e.g. 204, 304, 2xx, 499).
        ///
        /// Use the nginx code (494 for [`super::error::HttpError::HeaderTooLarge`]) to get
        /// the right page; [`status_line`] sends it as 400.
        pub fn error_page(status: u16, server_tokens: bool) -> Option<&'static [u8]> {
            let page: &'static str = match (status, server_tokens) {
                $(
                    ($code, true) => concat!(
                        "<html>\r\n<head><title>", $title, "</title></head>\r\n<body>\r\n",
                        "<center><h1>", $title, "</h1></center>\r\n",
                        "<hr><center>portico/", env!("CARGO_PKG_VERSION"), "</center>\r\n",
                        "</body>\r\n</html>\r\n"
                    ),
                    ($code, false) => concat!(
                        "<html>\r\n<head><title>", $title, "</title></head>\r\n<body>\r\n",
                        "<center><h1>", $title, "</h1></center>\r\n",
                        "<hr><center>portico</center>\r\n</body>\r\n</html>\r\n"
                    ),
                )*
                $(
                    ($xcode, true) => concat!(
                        "<html>\r\n<head><title>", $xtitle, "</title></head>\r\n<body>\r\n",
                        "<center><h1>", $xh1, "</h1></center>\r\n",
                        "<center>", $xtext, "</center>\r\n",
                        "<hr><center>portico/", env!("CARGO_PKG_VERSION"), "</center>\r\n",
                        "</body>\r\n</html>\r\n"
                    ),
                    ($xcode, false) => concat!(
                        "<html>\r\n<head><title>", $xtitle, "</title></head>\r\n<body>\r\n",
                        "<center><h1>", $xh1, "</h1></center>\r\n",
                        "<center>", $xtext, "</center>\r\n",
                        "<hr><center>portico</center>\r\n</body>\r\n</html>\r\n"
                    ),
                )*
                _ => return None,
            };
            Some(page.as_bytes())
        }
    };
}

error_pages! {
    plain:
    301 "301 Moved Permanently",
    302 "302 Found",
    303 "303 See Other",
    307 "307 Temporary Redirect",
    308 "308 Permanent Redirect",
    400 "400 Bad Request",
    401 "401 Authorization Required",
    402 "402 Payment Required",
    403 "403 Forbidden",
    404 "404 Not Found",
    405 "405 Not Allowed",
    406 "406 Not Acceptable",
    408 "408 Request Time-out",
    409 "409 Conflict",
    410 "410 Gone",
    411 "411 Length Required",
    412 "412 Precondition Failed",
    413 "413 Request Entity Too Large",
    414 "414 Request-URI Too Large",
    415 "415 Unsupported Media Type",
    416 "416 Requested Range Not Satisfiable",
    421 "421 Misdirected Request",
    429 "429 Too Many Requests",
    500 "500 Internal Server Error",
    501 "501 Not Implemented",
    502 "502 Bad Gateway",
    503 "503 Service Temporarily Unavailable",
    504 "504 Gateway Time-out",
    505 "505 HTTP Version Not Supported",
    507 "507 Insufficient Storage";
    explained:
    494 "400 Request Header Or Cookie Too Large" "400 Bad Request"
        "Request Header Or Cookie Too Large",
    495 "400 The SSL certificate error" "400 Bad Request" "The SSL certificate error",
    496 "400 No required SSL certificate was sent" "400 Bad Request"
        "No required SSL certificate was sent",
    497 "400 The plain HTTP request was sent to HTTPS port" "400 Bad Request"
        "The plain HTTP request was sent to HTTPS port",
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_status_lines() {
        assert_eq!(status_line(200), b"HTTP/1.1 200 OK\r\n");
        assert_eq!(status_line(302), b"HTTP/1.1 302 Moved Temporarily\r\n");
        assert_eq!(status_line(404), b"HTTP/1.1 404 Not Found\r\n");
        assert_eq!(status_line(494), b"HTTP/1.1 400 Bad Request\r\n");
        assert_eq!(
            status_line(505),
            b"HTTP/1.1 505 HTTP Version Not Supported\r\n"
        );
        assert_eq!(reason(503), "Service Temporarily Unavailable");
        assert_eq!(reason(494), "Bad Request");
        assert_eq!(reason(418), "");
    }

    #[test]
    fn unknown_status_lines_are_nginx_style() {
        assert_eq!(status_line(418), b"HTTP/1.1 418 \r\n");
        assert_eq!(status_line(203), b"HTTP/1.1 203 \r\n");
        assert_eq!(status_line(100), b"HTTP/1.1 100 Continue\r\n");
        assert_eq!(status_line(999), b"HTTP/1.1 999 \r\n");
        assert_eq!(status_line(99), b"HTTP/1.1 500 Internal Server Error\r\n");
        assert_eq!(status_line(1000), b"HTTP/1.1 500 Internal Server Error\r\n");
        for code in 100..=999 {
            let line = status_line(code);
            assert!(line.starts_with(format!("HTTP/1.1 {} ", wire_status(code)).as_bytes()));
            assert!(line.ends_with(b"\r\n"));
        }
    }

    #[test]
    fn error_page_bytes_match_nginx() {
        let version = crate::VERSION;
        let page = String::from_utf8(error_page(404, true).unwrap().to_vec()).unwrap();
        assert_eq!(
            page,
            format!(
                "<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n\
                 <center><h1>404 Not Found</h1></center>\r\n\
                 <hr><center>portico/{version}</center>\r\n</body>\r\n</html>\r\n"
            )
        );
        assert_eq!(
            error_page(404, false).unwrap(),
            &b"<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n\
               <center><h1>404 Not Found</h1></center>\r\n\
               <hr><center>portico</center>\r\n</body>\r\n</html>\r\n"[..]
        );
        assert_eq!(crate::NAME, "portico");
    }

    #[test]
    fn header_too_large_page() {
        assert_eq!(
            error_page(494, false).unwrap(),
            &b"<html>\r\n<head><title>400 Request Header Or Cookie Too Large</title></head>\r\n\
               <body>\r\n<center><h1>400 Bad Request</h1></center>\r\n\
               <center>Request Header Or Cookie Too Large</center>\r\n\
               <hr><center>portico</center>\r\n</body>\r\n</html>\r\n"[..]
        );
        let status = crate::http::HttpError::HeaderTooLarge.status();
        assert!(error_page(status, true).is_some());
        assert_eq!(status_line(status), b"HTTP/1.1 400 Bad Request\r\n");
        assert_eq!(wire_status(status), 400);
    }

    #[test]
    fn pages_exist_where_nginx_has_them() {
        for code in [
            301, 302, 303, 307, 308, 400, 403, 413, 414, 429, 500, 501, 502, 504, 505, 507,
        ] {
            let page = error_page(code, true).unwrap();
            assert!(page.starts_with(format!("<html>\r\n<head><title>{code} ").as_bytes()));
        }
        for code in [200, 201, 204, 304, 407, 417, 418, 499, 506, 600] {
            assert_eq!(error_page(code, true), None, "{code}");
        }
    }

    #[test]
    fn server_header_lines() {
        assert_eq!(server_header(false), b"Server: portico\r\n");
        assert_eq!(
            server_header(true),
            format!("Server: portico/{}\r\n", crate::VERSION).as_bytes()
        );
    }
}
