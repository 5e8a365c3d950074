//! Tokenizer for nginx.conf syntax, a transcription of `ngx_conf_read_token`.
//!
//! The lexer hands out one *statement* at a time: the words of a directive and what ended
//! it (`;`, `{`, `}` or end of input). Quoting, escapes, `#` comments and the `${var}`
//! exception to `{` follow nginx byte for byte, and so do the error messages. Variables are
//! kept verbatim inside words: they are compiled later by the directives that take them.

use std::fmt;

/// One word of a directive, after quote removal and escape processing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Word {
    /// The word's text (`"a b"` gives `a b`).
    pub text: String,
    /// Whether the word was written in `'` or `"` quotes.
    pub quoted: bool,
}

impl Word {
    /// An unquoted word (handy in tests and for synthesised directives).
    pub fn plain(text: &str) -> Word {
        Word {
            text: text.to_string(),
            quoted: false,
        }
    }
}

/// A word together with the line it started on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    /// The word.
    pub word: Word,
    /// 1-based line where the word started (0 for `-g` text).
    pub line: usize,
}

/// What ended a statement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Terminator {
    /// `;`: a simple directive.
    Semicolon,
    /// `{`: a block directive; its body follows.
    BlockStart,
    /// `}`: the end of the enclosing block (the statement has no words).
    BlockEnd,
    /// End of input (the statement has no words).
    Eof,
}

/// The words of one directive and its terminator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Statement {
    /// The words, the directive name first.
    pub words: Vec<Token>,
    /// What ended the statement.
    pub end: Terminator,
    /// The line the terminator was read on: nginx reports directive errors at this line.
    pub line: usize,
}

/// A syntax error, in nginx's words, and the line it was detected on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LexError {
    /// e.g. `unexpected "}"`.
    pub message: String,
    /// Line of the offending character (0 for `-g` text).
    pub line: usize,
}

impl fmt::Display for LexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Splits a configuration text into statements.
pub struct Lexer<'a> {
    src: &'a [u8],
    pos: usize,
    line: usize,
    /// `-g` text: no line numbers and a different end-of-input message.
    param: bool,
}

fn is_space(ch: u8) -> bool {
    matches!(ch, b' ' | b'\t' | b'\r' | b'\n')
}

/// Copies a raw word, resolving the escapes nginx knows (`\"` `\'` `\\` `\t` `\r` `\n`);
/// any other backslash is kept as written.
fn unescape(raw: &[u8]) -> String {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'\\' && i + 1 < raw.len() {
            match raw[i + 1] {
                b'"' | b'\'' | b'\\' => {
                    out.push(raw[i + 1]);
                    i += 2;
                    continue;
                }
                b't' => {
                    out.push(b'\t');
                    i += 2;
                    continue;
                }
                b'r' => {
                    out.push(b'\r');
                    i += 2;
                    continue;
                }
                b'n' => {
                    out.push(b'\n');
                    i += 2;
                    continue;
                }
                _ => {}
            }
        }
        out.push(raw[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl<'a> Lexer<'a> {
    /// A lexer over a configuration file's contents; lines start at 1.
    pub fn new(src: &'a [u8]) -> Lexer<'a> {
        Lexer {
            src,
            pos: 0,
            line: 1,
            param: false,
        }
    }

    /// A lexer over `-g` text: errors carry line 0 and end of input reads
    /// `unexpected end of parameter, expecting ";"`.
    pub fn for_param(src: &'a [u8]) -> Lexer<'a> {
        Lexer {
            src,
            pos: 0,
            line: 0,
            param: true,
        }
    }

    fn line(&self) -> usize {
        if self.param { 0 } else { self.line }
    }

    fn error(&self, message: String) -> LexError {
        LexError {
            message,
            line: self.line(),
        }
    }

    fn unexpected(&self, ch: u8) -> LexError {
        let shown = String::from_utf8_lossy(&[ch]).into_owned();
        self.error(format!("unexpected \"{shown}\""))
    }

    fn statement(&self, words: Vec<Token>, end: Terminator) -> Statement {
        Statement {
            words,
            end,
            line: self.line(),
        }
    }

    /// Reads the next statement.
    pub fn next_statement(&mut self) -> Result<Statement, LexError> {
        let mut words: Vec<Token> = Vec::new();
        let mut need_space = false;
        let mut last_space = true;
        let mut sharp_comment = false;
        let mut variable = false;
        let mut quoted = false;
        let mut s_quoted = false;
        let mut d_quoted = false;
        let mut word_quoted = false;
        let mut start = self.pos;
        let mut start_line = self.line();

        loop {
            let Some(&ch) = self.src.get(self.pos) else {
                if !words.is_empty() || !last_space {
                    let message = if self.param {
                        "unexpected end of parameter, expecting \";\""
                    } else {
                        "unexpected end of file, expecting \";\" or \"}\""
                    };
                    return Err(self.error(message.to_string()));
                }
                return Ok(self.statement(words, Terminator::Eof));
            };
            self.pos += 1;

            if ch == b'\n' {
                self.line += 1;
                sharp_comment = false;
            }
            if sharp_comment {
                continue;
            }
            if quoted {
                quoted = false;
                continue;
            }

            if need_space {
                if is_space(ch) {
                    last_space = true;
                    need_space = false;
                    continue;
                }
                match ch {
                    b';' => return Ok(self.statement(words, Terminator::Semicolon)),
                    b'{' => return Ok(self.statement(words, Terminator::BlockStart)),
                    // `if ($a = "b")`: the parenthesis starts a word of its own.
                    b')' => {
                        last_space = true;
                        need_space = false;
                    }
                    _ => return Err(self.unexpected(ch)),
                }
            }

            if last_space {
                start = self.pos - 1;
                start_line = self.line();
                word_quoted = false;
                if is_space(ch) {
                    continue;
                }
                match ch {
                    b';' | b'{' => {
                        if words.is_empty() {
                            return Err(self.unexpected(ch));
                        }
                        let end = if ch == b'{' {
                            Terminator::BlockStart
                        } else {
                            Terminator::Semicolon
                        };
                        return Ok(self.statement(words, end));
                    }
                    b'}' => {
                        if !words.is_empty() {
                            return Err(self.unexpected(ch));
                        }
                        return Ok(self.statement(words, Terminator::BlockEnd));
                    }
                    b'#' => {
                        sharp_comment = true;
                        continue;
                    }
                    b'\\' => {
                        quoted = true;
                        last_space = false;
                        continue;
                    }
                    b'"' | b'\'' => {
                        start += 1;
                        d_quoted = ch == b'"';
                        s_quoted = ch == b'\'';
                        word_quoted = true;
                        last_space = false;
                        continue;
                    }
                    b'$' => {
                        variable = true;
                        last_space = false;
                        continue;
                    }
                    _ => {
                        last_space = false;
                        continue;
                    }
                }
            }

            // Inside a word.
            if ch == b'{' && variable {
                continue;
            }
            variable = false;
            if ch == b'\\' {
                quoted = true;
                continue;
            }
            if ch == b'$' {
                variable = true;
                continue;
            }

            let mut found = false;
            if d_quoted {
                if ch == b'"' {
                    d_quoted = false;
                    need_space = true;
                    found = true;
                }
            } else if s_quoted {
                if ch == b'\'' {
                    s_quoted = false;
                    need_space = true;
                    found = true;
                }
            } else if is_space(ch) || ch == b';' || ch == b'{' {
                last_space = true;
                found = true;
            }

            if found {
                let text = unescape(&self.src[start..self.pos - 1]);
                words.push(Token {
                    word: Word {
                        text,
                        quoted: word_quoted,
                    },
                    line: start_line,
                });
                if !word_quoted && ch == b';' {
                    return Ok(self.statement(words, Terminator::Semicolon));
                }
                if !word_quoted && ch == b'{' {
                    return Ok(self.statement(words, Terminator::BlockStart));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(src: &str) -> Result<Vec<(Vec<String>, Terminator)>, LexError> {
        let mut lexer = Lexer::new(src.as_bytes());
        let mut out = Vec::new();
        loop {
            let st = lexer.next_statement()?;
            let end = st.end;
            out.push((st.words.into_iter().map(|t| t.word.text).collect(), end));
            if end == Terminator::Eof {
                return Ok(out);
            }
        }
    }

    fn words(src: &str) -> Vec<String> {
        let mut lexer = Lexer::new(src.as_bytes());
        lexer
            .next_statement()
            .map(|s| s.words.into_iter().map(|t| t.word.text).collect())
            .unwrap()
    }

    fn err(src: &str) -> (String, usize) {
        let mut lexer = Lexer::new(src.as_bytes());
        loop {
            match lexer.next_statement() {
                Err(e) => return (e.message, e.line),
                Ok(s) if s.end == Terminator::Eof => panic!("no error in {src:?}"),
                Ok(_) => {}
            }
        }
    }

    #[test]
    fn simple_statements_and_blocks() {
        let got = all("worker_processes 1;\nevents { worker_connections 10; }\n").unwrap();
        let t = |w: &[&str], e| (w.iter().map(|s| s.to_string()).collect::<Vec<_>>(), e);
        assert_eq!(
            got,
            vec![
                t(&["worker_processes", "1"], Terminator::Semicolon),
                t(&["events"], Terminator::BlockStart),
                t(&["worker_connections", "10"], Terminator::Semicolon),
                t(&[], Terminator::BlockEnd),
                t(&[], Terminator::Eof),
            ]
        );
    }

    #[test]
    fn comments_and_lines() {
        let mut lexer = Lexer::new(b"# c1\n\n  a b; # trailing\nc\n  d;");
        let st = lexer.next_statement().unwrap();
        assert_eq!(st.line, 3);
        assert_eq!(st.words[0].line, 3);
        let st = lexer.next_statement().unwrap();
        assert_eq!(st.words.len(), 2);
        assert_eq!((st.words[0].line, st.words[1].line, st.line), (4, 5, 5));
        assert_eq!(words("a#b c;"), ["a#b", "c"]);
    }

    #[test]
    fn quotes_and_escapes() {
        let mut lexer = Lexer::new(br#"log "a b" 'c;d' "x\"y" 'q\'r' "t\tn\n\\" "\z" plain;"#);
        let st = lexer.next_statement().unwrap();
        let texts: Vec<_> = st.words.iter().map(|t| t.word.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "log", "a b", "c;d", "x\"y", "q'r", "t\tn\n\\", "\\z", "plain"
            ]
        );
        let quoted: Vec<_> = st.words.iter().map(|t| t.word.quoted).collect();
        assert_eq!(quoted, [false, true, true, true, true, true, true, false]);
        // A backslash protects the next byte but only the known escapes are rewritten.
        assert_eq!(words(r"a\;b c;"), ["a\\;b", "c"]);
        assert_eq!(words(r#"a"b"c d;"#), ["a\"b\"c", "d"]);
        assert_eq!(words("\"\" x;"), ["", "x"]);
    }

    #[test]
    fn variables_stay_verbatim() {
        assert_eq!(words("set $a ${b}c;"), ["set", "$a", "${b}c"]);
        assert_eq!(words("x a${b}{"), ["x", "a${b}"]);
        assert_eq!(
            words("return 200 \"$host$uri\";"),
            ["return", "200", "$host$uri"]
        );
    }

    #[test]
    fn if_parentheses() {
        assert_eq!(words("if ($query_string) {"), ["if", "($query_string)"]);
        assert_eq!(words("if ($a = \"b c\") {"), ["if", "($a", "=", "b c", ")"]);
        assert_eq!(words("rewrite (.*) /x;"), ["rewrite", "(.*)", "/x"]);
    }

    #[test]
    fn nginx_error_messages() {
        assert_eq!(err("a b }"), ("unexpected \"}\"".into(), 1));
        assert_eq!(
            err("a b"),
            ("unexpected end of file, expecting \";\" or \"}\"".into(), 1)
        );
        assert_eq!(
            err("a b\n"),
            ("unexpected end of file, expecting \";\" or \"}\"".into(), 2)
        );
        assert_eq!(
            err("a \"b;\n"),
            ("unexpected end of file, expecting \";\" or \"}\"".into(), 2)
        );
        assert_eq!(err("\n;"), ("unexpected \";\"".into(), 2));
        assert_eq!(err("{"), ("unexpected \"{\"".into(), 1));
        assert_eq!(err("a \"b\"c;"), ("unexpected \"c\"".into(), 1));
        let mut param = Lexer::for_param(b"daemon off");
        let e = param.next_statement().unwrap_err();
        assert_eq!(
            (e.message.as_str(), e.line),
            ("unexpected end of parameter, expecting \";\"", 0)
        );
    }

    #[test]
    fn quoted_terminator_after_quote() {
        let mut lexer = Lexer::new(b"a \"b\";c 'd'{");
        let st = lexer.next_statement().unwrap();
        assert_eq!(st.end, Terminator::Semicolon);
        let st = lexer.next_statement().unwrap();
        assert_eq!(st.end, Terminator::BlockStart);
        assert_eq!(st.words[1].word.text, "d");
    }
}
