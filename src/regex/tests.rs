//! PCRE semantics nginx configs rely on, and nginx's compile errors.

use super::*;

fn re(pattern: &str) -> Regex {
    Regex::new(pattern, false).unwrap_or_else(|e| panic!("{e}"))
}

fn matches(pattern: &str, subject: &[u8]) -> bool {
    re(pattern).is_match(subject).expect("no match error")
}

fn groups(regex: &Regex, subject: &[u8]) -> Option<Vec<Option<Vec<u8>>>> {
    let mut caps = Captures::default();
    match regex.captures(subject, &mut caps).expect("no match error") {
        false => None,
        true => Some(
            (0..=regex.groups())
                .map(|i| caps.get(i).map(<[u8]>::to_vec))
                .collect(),
        ),
    }
}

#[test]
fn look_around_as_real_configs_use_it() {
    // h5bp: hidden files except /.well-known/.
    let h5bp = Regex::new(r"(?:^|/)\.(?!well-known\/)", true).unwrap();
    assert_eq!(h5bp.is_match(b"/.git/config"), Ok(true));
    assert_eq!(h5bp.is_match(b"/a/.htaccess"), Ok(true));
    assert_eq!(h5bp.is_match(b"/.well-known/acme-challenge/x"), Ok(false));
    // WordPress: PHP under uploads.
    let wp = Regex::new(r"/(?:uploads|files)/.*\.php$", true).unwrap();
    assert_eq!(wp.is_match(b"/wp-content/UPLOADS/x.PHP"), Ok(true));
    assert_eq!(wp.is_match(b"/wp-content/themes/x.php"), Ok(false));
    // Look-behind.
    let ua = Regex::new("(?<!bot)x", true).unwrap();
    assert_eq!(ua.is_match(b"botx"), Ok(false));
    assert_eq!(ua.is_match(b"BOTx x"), Ok(true));
    assert!(matches(r"(?<=/api)/v\d", b"/api/v2"));
    assert!(!matches(r"(?<=/api)/v\d", b"/app/v2"));
}

#[test]
fn pcre_only_constructs_compile_and_match() {
    assert!(matches(r"^(a+)\1$", b"aaaa"));
    assert!(!matches(r"^(a+)\1$", b"aaa"));
    assert!(!matches(r"^a++a", b"aaaa"));
    assert!(!matches(r"^(?>a+)a", b"aaaa"));
    assert!(matches(r"(?i)^/ADMIN", b"/admin/x"));
    assert!(matches(r"^/\Qa.b\E$", b"/a.b"));
    assert!(!matches(r"^/\Qa.b\E$", b"/axb"));
    assert!(matches(r"^(\((?:[^()]|(?1))*\))$", b"(a(b)c)"));
    assert!(matches(r"^[[:alpha:]]+$", b"abc"));
}

#[test]
fn bytes_not_utf8_and_pcre_dollar() {
    // No UTF mode: any byte, `.` is one byte, `\w` is ASCII.
    assert!(matches(r"^/\xff.$", b"/\xff\xfe"));
    assert!(matches("^/caf.{2}$", "/caf\u{e9}".as_bytes()));
    assert!(!matches(r"^\w+$", "\u{e9}".as_bytes()));
    // `$` also matches before a final newline (a URI with `%0A`), as in nginx.
    assert!(matches(r"\.php$", b"/x.php\n"));
    assert!(!matches(r"\.php$", b"/x.php\nx"));
    // Caseless is ASCII only.
    assert!(
        Regex::new("^\u{e9}$", true)
            .unwrap()
            .is_match("\u{c9}".as_bytes())
            == Ok(false)
    );
}

#[test]
fn captures_follow_pcre_numbering() {
    let r = re(r"^/(a)?(b)(?<rest>.*)$");
    let g = groups(&r, b"/bxyz").expect("match");
    assert_eq!(g[1], Some(Vec::new()), "an unset group reads empty");
    assert_eq!(g[2], Some(b"b".to_vec()));
    assert_eq!(g[3], Some(b"xyz".to_vec()));
    // Groups after the last one set are not there at all (nginx's `rc`).
    let alt = re(r"(x)|(y)");
    let g = groups(&alt, b"x").expect("match");
    assert_eq!((g[1].clone(), g[2].clone()), (Some(b"x".to_vec()), None));
    assert_eq!(groups(&re("^z"), b"a"), None);
}

#[test]
fn a_miss_keeps_the_previous_captures() {
    let mut caps = Captures::default();
    assert_eq!(re("^/(.)").captures(b"/q", &mut caps), Ok(true));
    assert_eq!(re("^/(.)x").captures(b"/q", &mut caps), Ok(false));
    assert_eq!(caps.get(1), Some(&b"q"[..]));
    // A match without groups leaves only `$0`.
    assert_eq!(re("q").captures(b"/q", &mut caps), Ok(true));
    assert_eq!(caps.get(1), None);
}

#[test]
fn named_groups_in_every_spelling() {
    let r = re(r"(?<a>x)(?P<b>y)(?'c'z)(w)");
    let names: Vec<_> = r.names().iter().map(|n| (&*n.name, n.group)).collect();
    assert_eq!(names, [("a", 1), ("b", 2), ("c", 3)]);
    assert_eq!(r.groups(), 4);
}

#[test]
fn named_groups_become_variables() {
    let mut user = UserVars::default();
    let set_first = user.declare("other");
    let r = Regex::with_vars(r"^(?<sub>[^.]+)\.(?<Dom>.+)$", false, &mut user).unwrap();
    let (sub, dom) = (user.index("sub").unwrap(), user.index("dom").unwrap());
    assert!(user.is_capture(sub) && user.is_capture(dom) && !user.is_capture(set_first));
    assert_eq!(r.group_of_var(dom), Some(2));
    let mut values = vec![None; user.len()];
    let mut caps = Captures::default();
    assert_eq!(
        r.captures_and_vars(b"www.example.com", &mut caps, &mut values),
        Ok(true)
    );
    assert_eq!(values[sub].as_deref(), Some(&b"www"[..]));
    assert_eq!(values[dom].as_deref(), Some(&b"example.com"[..]));
    assert_eq!(values[set_first], None);
    let err = Regex::with_vars("(?<uri>.)", false, &mut user).unwrap_err();
    assert_eq!(err, "the duplicate \"uri\" variable");
}

#[test]
fn compile_errors_read_as_nginx_writes_them() {
    let err = |p: &str| Regex::new(p, false).unwrap_err();
    assert_eq!(
        err("^/(a"),
        "pcre2_compile() failed: missing closing parenthesis in \"^/(a\""
    );
    assert_eq!(
        err("a)b"),
        "pcre2_compile() failed: unmatched closing parenthesis in \"a)b\" at \")b\""
    );
    assert_eq!(
        err("a{2,1}"),
        "pcre2_compile() failed: numbers out of order in {} quantifier in \"a{2,1}\" at \"}\""
    );
    // PCRE2 10.43 reworded this one (the bundled copy is newer than Debian 12's 10.42).
    assert!(err("x(?<=a+)y").ends_with(" in \"x(?<=a+)y\" at \"(?<=a+)y\""));
}

#[test]
fn jit_and_interpreter_agree_and_a_deep_match_falls_back() {
    set_jit(false);
    let slow = re(r"^(a|b)*$");
    set_jit(true);
    let fast = re(r"^(a|b)*$");
    assert!(!slow.jit());
    assert_eq!(fast.jit(), jit_available());
    for subject in [&b"abab"[..], b"abc", b""] {
        assert_eq!(slow.is_match(subject), fast.is_match(subject));
    }
    // Deep enough to overflow the JIT's default stack: the interpreter finishes it.
    let long = b"ab".repeat(50_000);
    let mut caps = Captures::default();
    assert_eq!(fast.captures(&long, &mut caps), Ok(true));
    assert_eq!(caps.get(1), Some(&b"b"[..]));
}

#[test]
fn expand_fills_groups() {
    let mut caps = Captures::default();
    assert_eq!(re("^(a)(b)").captures(b"ab", &mut caps), Ok(true));
    let mut out = Vec::new();
    caps.expand(b"x${2}$${1}${9}$1", &mut out);
    assert_eq!(out, b"xb${1}$1");
}
