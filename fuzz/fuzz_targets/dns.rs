//! The resolver's reading of DNS responses on arbitrary bytes: the header, the question
//! and the answer and authority sections of A and AAAA responses, over UDP and TCP. It must
//! never panic, and what it returns must hold together (addresses of the asked family,
//! names within their limits); see `portico::resolver::dns::fuzz_one`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    portico::resolver::dns::fuzz_one(data);
});
