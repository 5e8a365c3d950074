//! The request head parser (`parse_head`) on arbitrary bytes, under both settings of
//! `ignore_invalid_headers` and `underscores_in_headers`; checks that every span it returns
//! lies inside the buffer, that the prefixes of a complete head are only incomplete, and
//! that a complete head parses the same with a body after it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portico::http::request::{ParseOptions, RequestHead, Span, overflow_error, parse_head};

fn inside(span: Span, len: usize) -> bool {
    span.start <= span.end && span.end as usize <= len
}

fuzz_target!(|data: &[u8]| {
    let mut head = RequestHead::new();
    for (ignore_invalid_headers, underscores_in_headers) in [(true, false), (false, true)] {
        let opts = ParseOptions {
            ignore_invalid_headers,
            underscores_in_headers,
        };
        let result = parse_head(data, &mut head, &opts);
        let _ = overflow_error(data);
        let Ok(Some(n)) = result else {
            if let Err(e) = result {
                assert!((400..=505).contains(&e.status()), "{e:?}");
            }
            continue;
        };
        assert_eq!(n, head.head_len);
        assert!(n <= data.len());
        let mut spans = vec![
            head.method_span,
            head.request_line,
            head.target,
            head.request_uri,
            head.path,
        ];
        spans.extend(head.query);
        spans.extend(head.host);
        spans.extend(head.upgrade);
        for h in &head.headers {
            spans.push(h.name);
            spans.push(h.value);
        }
        for span in spans {
            assert!(inside(span, n), "{span:?} outside the head of {n} bytes");
        }
        assert_eq!(head.path.get(data).first(), Some(&b'/'));
        let first = head.clone();
        // The worker parses again as bytes arrive: every prefix of a good head must be
        // merely incomplete, never an error (a client that sends slowly is not refused).
        let step = (n / 64).max(1);
        for end in (0..n).step_by(step).chain([n - 1]) {
            let prefix = &data[..end];
            assert_eq!(
                parse_head(prefix, &mut head, &opts),
                Ok(None),
                "prefix {end} of {n}"
            );
        }
        // What follows the head is the body or the next request: it changes nothing.
        let mut longer = data[..n].to_vec();
        longer.extend_from_slice(b"GET / HTTP/1.1\r\n");
        assert_eq!(parse_head(&longer, &mut head, &opts), Ok(Some(n)));
        assert_eq!(head, first);
    }
});
