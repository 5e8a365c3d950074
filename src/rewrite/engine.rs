//! The script engine: runs compiled [`Op`]s against a [`RewriteCtx`], as
//! `ngx_http_rewrite_handler` runs its code array.

use std::borrow::Cow;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::{Condition, FileTest, Flag, Op, Outcome, RewriteCtx, script_var};
use crate::log::LogLevel;
use crate::regex::{MatchError, Regex};
use crate::trace::{Step, TraceSlot};
use crate::trace_step;
use crate::vars::{Overlay, Template, Var, VarSource};

/// Runs `ops` (a server's or a location's list) and says what the worker does next.
pub fn run<'a>(ops: &'a [Op], ctx: &mut RewriteCtx<'a>, src: &dyn VarSource) -> Outcome<'a> {
    run_traced(ops, ctx, src, &mut None)
}

/// [`run`], telling `trace` what each directive did (for `--explain`).
pub fn run_traced<'a>(
    ops: &'a [Op],
    ctx: &mut RewriteCtx<'a>,
    src: &dyn VarSource,
    trace: &mut TraceSlot<'_>,
) -> Outcome<'a> {
    match block(ops, ctx, src, trace, 0) {
        Some(Outcome::Relocate) => relocate(ctx),
        Some(outcome) => outcome,
        None if ctx.uri_changed => relocate(ctx),
        None => Outcome::Continue,
    }
}

fn relocate(ctx: &mut RewriteCtx<'_>) -> Outcome<'static> {
    ctx.uri_changed = false;
    ctx.loc = None;
    Outcome::Relocate
}

/// Runs one block (`depth`: inside how many `if`s); `None` when its directives ran out.
fn block<'a>(
    ops: &'a [Op],
    ctx: &mut RewriteCtx<'a>,
    src: &dyn VarSource,
    trace: &mut TraceSlot<'_>,
    depth: usize,
) -> Option<Outcome<'a>> {
    for op in ops {
        let stop = match op {
            Op::Rewrite { .. } if trace.is_some() => rewrite_traced(op, ctx, src, trace, depth),
            Op::Rewrite { .. } => rewrite(op, ctx, src),
            Op::Return { code, body_or_url } => {
                let outcome = respond(*code, body_or_url.as_ref(), ctx, src);
                trace_step!(
                    trace,
                    Step::Return {
                        depth,
                        outcome: &outcome,
                    }
                );
                Some(outcome)
            }
            Op::Set { var, value } => {
                let value = eval(value, ctx, src, false);
                if let Some(slot) = ctx.user.get_mut(*var) {
                    let before = slot.replace(value);
                    trace_step!(
                        trace,
                        Step::Set {
                            depth,
                            var: &Var::User(*var),
                            before: before.as_deref(),
                            after: slot.as_deref().unwrap_or_default(),
                        }
                    );
                }
                None
            }
            Op::SetArgs { value } => {
                let value = eval(value, ctx, src, false);
                let before =
                    std::mem::replace(&mut ctx.args, Some(value).filter(|a| !a.is_empty()));
                trace_step!(
                    trace,
                    Step::Set {
                        depth,
                        var: &Var::Args,
                        before: before.as_deref(),
                        after: ctx.args.as_deref().unwrap_or_default(),
                    }
                );
                None
            }
            Op::SetLimitRate { value } => {
                let value = eval(value, ctx, src, false);
                match std::str::from_utf8(&value)
                    .ok()
                    .and_then(crate::config::values::parse_size)
                {
                    Some(rate) => ctx.limit_rate = Some(rate),
                    None => ctx.logs.push((
                        LogLevel::Error,
                        format!("invalid $limit_rate \"{}\"", lossy(&value)),
                    )),
                }
                None
            }
            Op::If { cond, ops, loc } => {
                // What the condition looks at, read before the test changes the captures.
                let seen = trace.is_some().then(|| condition_values(cond, ctx, src));
                let result = test(cond, ctx, src);
                if let Some((subject, operand)) = &seen {
                    trace_step!(
                        trace,
                        Step::If {
                            depth,
                            condition: cond,
                            subject,
                            operand: operand.as_deref(),
                            result: result.as_ref().ok().copied(),
                        }
                    );
                }
                match result {
                    Ok(true) => {
                        if let Some(loc) = loc {
                            ctx.loc = Some(loc);
                        }
                        block(ops, ctx, src, trace, depth + 1)
                    }
                    Ok(false) => None,
                    Err(failed) => Some(failed),
                }
            }
            Op::Break => {
                trace_step!(trace, Step::Break { depth });
                Some(break_here(ctx))
            }
        };
        if stop.is_some() {
            return stop;
        }
    }
    None
}

/// A `rewrite` under `--explain`: the URI and arguments before and after.
fn rewrite_traced<'a>(
    op: &Op,
    ctx: &mut RewriteCtx<'_>,
    src: &dyn VarSource,
    trace: &mut TraceSlot<'_>,
    depth: usize,
) -> Option<Outcome<'a>> {
    let Op::Rewrite { regex, flag, .. } = op else {
        return None;
    };
    let (uri_before, args_before) = (ctx.uri.clone(), ctx.args.clone());
    let stop = rewrite(op, ctx, src);
    // A regex that matched leaves captures; one that did not cleared them.
    let matched = !ctx.captures.is_empty() || stop.is_some();
    trace_step!(
        trace,
        Step::Rewrite {
            depth,
            regex: regex.as_str(),
            flag: *flag,
            uri_before: &uri_before,
            args_before: args_before.as_deref(),
            matched,
            uri_after: &ctx.uri,
            args_after: ctx.args.as_deref(),
            outcome: stop.as_ref(),
        }
    );
    stop
}

/// The value an `if` tests (or the path of a file test) and the evaluated right-hand side
/// of `=`/`!=`, for `--explain`.
fn condition_values(
    cond: &Condition,
    ctx: &RewriteCtx<'_>,
    src: &dyn VarSource,
) -> (Vec<u8>, Option<Vec<u8>>) {
    match cond {
        Condition::Value(var) | Condition::Match { var, .. } => (value_of(var, ctx, src), None),
        Condition::Equal { var, value, .. } => {
            (value_of(var, ctx, src), Some(eval(value, ctx, src, false)))
        }
        Condition::File { path, .. } => (eval(path, ctx, src, false), None),
    }
}

/// nginx's `ngx_http_script_break_code`.
fn break_here(ctx: &mut RewriteCtx<'_>) -> Outcome<'static> {
    if ctx.uri_changed {
        ctx.valid_location = false;
        ctx.uri_changed = false;
    }
    Outcome::Break
}

fn eval(t: &Template, ctx: &RewriteCtx<'_>, src: &dyn VarSource, escape: bool) -> Vec<u8> {
    struct Script<'a, 'b> {
        ctx: &'a RewriteCtx<'b>,
        inner: &'a dyn VarSource,
        escape: bool,
    }
    impl VarSource for Script<'_, '_> {
        fn var(&self, var: &Var, out: &mut Vec<u8>) -> bool {
            script_var(self.ctx, self.inner, var, out, self.escape)
        }
    }
    let mut out = Vec::new();
    t.eval(
        &Script {
            ctx,
            inner: src,
            escape,
        },
        &mut out,
    );
    out
}

fn value_of(var: &Var, ctx: &RewriteCtx<'_>, src: &dyn VarSource) -> Vec<u8> {
    let mut out = Vec::new();
    if !script_var(ctx, src, var, &mut out, false) {
        out.clear();
    }
    out
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `rewrite`: `ngx_http_script_regex_start_code` and `..._regex_end_code`.
fn rewrite<'a>(op: &Op, ctx: &mut RewriteCtx<'_>, src: &dyn VarSource) -> Option<Outcome<'a>> {
    let Op::Rewrite {
        regex,
        replacement,
        args,
        keep_args,
        query_in_replacement,
        flag,
        redirect,
    } = op
    else {
        return None;
    };
    match regex.captures_and_vars(&ctx.uri, &mut ctx.captures, &mut ctx.user) {
        Ok(true) => log_match(ctx, regex, None, true),
        Ok(false) => {
            ctx.captures.clear();
            log_match(ctx, regex, None, false);
            return None;
        }
        Err(e) => return Some(match_failed(ctx, e, regex, None)),
    }
    let request_args = ctx.args.clone().filter(|_| *keep_args);

    if let Some(code) = redirect {
        let raw = eval(replacement, ctx, src, ctx.quoted_uri);
        let mut location = unescape_redirect(&raw);
        if let Some(request_args) = request_args {
            location.push(if *query_in_replacement { b'&' } else { b'?' });
            location.extend_from_slice(&request_args);
        }
        let shown = lossy(&location);
        ctx.log(LogLevel::Notice, || {
            format!("rewritten redirect: \"{shown}\"")
        });
        return Some(Outcome::Redirect {
            code: *code,
            location: Cow::Owned(location),
        });
    }

    let uri = eval(replacement, ctx, src, false);
    let new_args = match args {
        Some(t) => {
            let mut a = eval(t, ctx, src, ctx.quoted_uri);
            if let Some(request_args) = request_args {
                a.push(b'&');
                a.extend_from_slice(&request_args);
            }
            Some(a)
        }
        None => request_args,
    };
    ctx.args = new_args.filter(|a| !a.is_empty());
    let (shown_uri, shown_args) = (lossy(&uri), lossy(ctx.args.as_deref().unwrap_or(b"")));
    ctx.log(LogLevel::Notice, || {
        format!("rewritten data: \"{shown_uri}\", args: \"{shown_args}\"")
    });
    if uri.is_empty() {
        ctx.log(LogLevel::Error, || {
            "the rewritten URI has a zero length".to_string()
        });
        return Some(Outcome::Return {
            code: 500,
            body: None,
        });
    }
    ctx.uri = uri;
    match flag {
        Flag::Break => {
            ctx.valid_location = false;
            ctx.uri_changed = false;
            Some(Outcome::Break)
        }
        Flag::Last => Some(Outcome::Relocate),
        _ => {
            ctx.uri_changed = true;
            None
        }
    }
}

/// `return`: `ngx_http_script_return_code` and `ngx_http_send_response`.
fn respond<'a>(
    code: u16,
    text: Option<&'a Template>,
    ctx: &RewriteCtx<'_>,
    src: &dyn VarSource,
) -> Outcome<'a> {
    // nginx's ngx_http_send_response sets the response status before it evaluates the
    // text, so `$status` in it is the code being returned.
    let src = Overlay {
        inner: src,
        own: |var: &Var, out: &mut Vec<u8>| {
            matches!(var, Var::Status).then(|| {
                // As `$status` itself is written (request_vars): three digits.
                use std::io::Write as _;
                let _ = write!(out, "{code:03}");
                true
            })
        },
    };
    let text = text.map(|t| match t.is_literal() {
        Some(literal) => Cow::Borrowed(literal),
        None => Cow::Owned(eval(t, ctx, &src, false)),
    });
    if matches!(code, 301 | 302 | 303 | 307 | 308) {
        return Outcome::Redirect {
            code,
            location: text.unwrap_or_default(),
        };
    }
    let body = match text {
        Some(text) => Some(text),
        None if code < 400 => Some(Cow::Borrowed(&b""[..])),
        None => None,
    };
    Outcome::Return { code, body }
}

/// An `if` condition; a regex test sets or clears the captures. `Err`: the regex could
/// not finish matching (logged), the request ends with 500.
fn test<'a>(
    cond: &Condition,
    ctx: &mut RewriteCtx<'_>,
    src: &dyn VarSource,
) -> Result<bool, Outcome<'a>> {
    match cond {
        Condition::Value(var) => {
            let value = value_of(var, ctx, src);
            Ok(!value.is_empty() && value != b"0")
        }
        Condition::Equal { var, value, negate } => {
            let left = value_of(var, ctx, src);
            Ok((left == eval(value, ctx, src, false)) != *negate)
        }
        Condition::Match { var, regex, negate } => {
            let subject = value_of(var, ctx, src);
            match regex.captures_and_vars(&subject, &mut ctx.captures, &mut ctx.user) {
                Ok(true) => {
                    log_match(ctx, regex, Some(&subject), true);
                    Ok(!negate)
                }
                Ok(false) => {
                    ctx.captures.clear();
                    log_match(ctx, regex, Some(&subject), false);
                    Ok(*negate)
                }
                Err(e) => Err(match_failed(ctx, e, regex, Some(&subject))),
            }
        }
        Condition::File { path, test, negate } => {
            let path = eval(path, ctx, src, false);
            Ok(file_test(Path::new(std::ffi::OsStr::from_bytes(&path)), *test) != *negate)
        }
    }
}

/// `rewrite_log`'s notice for a regex test of `subject` (the URI when `None`), as
/// `ngx_http_script_regex_start_code` words it.
fn log_match(ctx: &mut RewriteCtx<'_>, regex: &Regex, subject: Option<&[u8]>, matched: bool) {
    if !ctx.rewrite_log {
        return;
    }
    let shown = lossy(subject.unwrap_or(&ctx.uri));
    let verb = if matched { "matches" } else { "does not match" };
    let line = format!("\"{}\" {verb} \"{shown}\"", regex.as_str());
    ctx.log(LogLevel::Notice, || line);
}

/// A regex that could not finish matching: nginx's alert, and 500.
fn match_failed<'a>(
    ctx: &mut RewriteCtx<'_>,
    e: MatchError,
    regex: &Regex,
    subject: Option<&[u8]>,
) -> Outcome<'a> {
    let line = e.message(subject.unwrap_or(&ctx.uri), regex);
    ctx.log(LogLevel::Alert, || line);
    Outcome::Return {
        code: 500,
        body: None,
    }
}

/// `-f`, `-d`, `-e`, `-x` with `stat(2)` (symbolic links followed, as `ngx_open_cached_file`
/// does); a path that cannot be examined fails every positive test.
fn file_test(path: &Path, test: FileTest) -> bool {
    if path.as_os_str().is_empty() {
        return false;
    }
    let Ok(meta) = std::fs::metadata(path) else {
        return false;
    };
    match test {
        FileTest::File => meta.is_file(),
        FileTest::Dir => meta.is_dir(),
        FileTest::Exists => true,
        FileTest::Executable => meta.permissions().mode() & 0o100 != 0,
    }
}

/// `ngx_unescape_uri(..., NGX_UNESCAPE_REDIRECT)`: decodes `%XX` into bytes between `&`
/// and `~` (keeping the escape otherwise), stops decoding after a `?` (plain or `%3F`).
/// As in nginx, a `%` followed by a non-hex byte is dropped, and a `%` with one hex digit
/// and a non-hex byte loses all three.
pub(crate) fn unescape_redirect(src: &[u8]) -> Vec<u8> {
    enum State {
        Usual,
        Quoted,
        QuotedSecond(u8),
    }
    let hex = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        _ => match c | 0x20 {
            c @ b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        },
    };
    let mut out = Vec::with_capacity(src.len());
    let mut state = State::Usual;
    for (i, &ch) in src.iter().enumerate() {
        match state {
            State::Usual => {
                if ch == b'?' {
                    out.extend_from_slice(&src[i..]);
                    return out;
                }
                if ch == b'%' {
                    state = State::Quoted;
                } else {
                    out.push(ch);
                }
            }
            State::Quoted => match hex(ch) {
                Some(high) => state = State::QuotedSecond(high),
                None => {
                    state = State::Usual;
                    out.push(ch);
                }
            },
            State::QuotedSecond(high) => {
                state = State::Usual;
                let Some(low) = hex(ch) else { continue };
                let decoded = (high << 4) + low;
                if decoded == b'?' {
                    out.push(decoded);
                    out.extend_from_slice(&src[i + 1..]);
                    return out;
                }
                if decoded > b'%' && decoded < 0x7f {
                    out.push(decoded);
                } else {
                    out.extend_from_slice(&src[i - 2..=i]);
                }
            }
        }
    }
    out
}
