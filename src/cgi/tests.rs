use super::*;

#[test]
fn stderr_is_trimmed_as_nginx_trims_it() {
    assert_eq!(trim_stderr(b"PHP Warning: x. \r\n"), b"PHP Warning: x");
    assert_eq!(trim_stderr(b"\n"), b"\n");
    assert_eq!(trim_stderr(b"a"), b"a");
    assert_eq!(trim_stderr(b""), b"");
}
