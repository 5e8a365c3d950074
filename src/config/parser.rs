//! The generic directive tree: statements from the lexer nested by their blocks, with
//! `include` expanded in place (anywhere, globs allowed) and every file read recorded for `-T`.
//!
//! Nothing here knows what a directive means; the directive table in
//! [`super::directives`] checks names, contexts and arity and fills the typed settings.

use std::path::{Path, PathBuf};
use std::rc::Rc;

use super::error::{COMMAND_LINE, ConfError, os_error_suffix};
use super::glob;
pub use super::lexer::Word;
use super::lexer::{Lexer, Terminator};

/// Includes nested deeper than this are refused (nginx would run out of file descriptors).
pub const MAX_INCLUDE_DEPTH: usize = 64;

/// One directive with its arguments and, for block directives, its children.
#[derive(Clone, Debug, PartialEq)]
pub struct Directive {
    /// The directive's name (its first word).
    pub name: String,
    /// The remaining words.
    pub args: Vec<Word>,
    /// The file it was read from ([`COMMAND_LINE`] for `-g`).
    pub file: Rc<PathBuf>,
    /// The line of its terminating `;` or `{`, where nginx reports its errors.
    pub line: usize,
    /// The block's directives, for `name ... { ... }`.
    pub block: Option<Vec<Directive>>,
}

impl Directive {
    /// The text of argument `i` (0-based, after the name); empty if absent.
    pub fn arg(&self, i: usize) -> &str {
        self.args.get(i).map_or("", |w| w.text.as_str())
    }

    /// Where the directive is written.
    pub fn position(&self) -> SourcePos {
        SourcePos {
            file: self.file.clone(),
            line: self.line,
        }
    }
}

/// Where a block was written (`portico -t --explain` names the `server` and `location`
/// blocks it went through by it).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SourcePos {
    /// The file.
    pub file: Rc<PathBuf>,
    /// The line of the block's `{`.
    pub line: usize,
}

impl std::fmt::Display for SourcePos {
    /// `FILE:LINE`, as nginx's errors name a place.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// A configuration file as read, for `nginx -T`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceFile {
    /// The path it was opened by (prefix-joined, not canonicalised, as nginx prints it).
    pub path: PathBuf,
    /// Its contents (invalid UTF-8 replaced).
    pub contents: String,
}

/// Reads files into directive trees, resolving relative includes against `conf_prefix`
/// (the main configuration file's folder, as nginx does) and recording what it read.
pub struct Parser {
    conf_prefix: PathBuf,
    sources: Vec<SourceFile>,
    depth: usize,
}

impl Parser {
    /// A parser whose relative `include`s resolve against `conf_prefix`.
    pub fn new(conf_prefix: &Path) -> Parser {
        Parser {
            conf_prefix: conf_prefix.to_path_buf(),
            sources: Vec::new(),
            depth: 0,
        }
    }

    /// Every file read so far, in the order first opened, each once.
    pub fn into_sources(self) -> Vec<SourceFile> {
        self.sources
    }

    /// Parses the main configuration file. A file that cannot be opened is an error with no
    /// location, as in nginx.
    pub fn parse_main(&mut self, path: &Path) -> Result<Vec<Directive>, ConfError> {
        self.parse_file(path, None)
    }

    /// Parses `-g` text: directives only (no blocks), errors `in command line`.
    pub fn parse_param(&mut self, text: &str) -> Result<Vec<Directive>, ConfError> {
        let file = Rc::new(PathBuf::from(COMMAND_LINE));
        let mut lexer = Lexer::for_param(text.as_bytes());
        self.parse_block(&mut lexer, &file, false, true)
    }

    fn parse_file(
        &mut self,
        path: &Path,
        from: Option<(&Path, usize)>,
    ) -> Result<Vec<Directive>, ConfError> {
        let bytes = std::fs::read(path).map_err(|err| {
            let message = format!(
                "open() \"{}\" failed {}",
                path.display(),
                os_error_suffix(&err)
            );
            match from {
                Some((file, line)) => ConfError::new(message, file, line),
                None => ConfError::bare(message),
            }
        })?;
        self.parse_text(&bytes, path)
    }

    /// Parses `bytes` as the contents of the file `path` (recorded for `-T`, named in
    /// errors) without reading it: for configuration text already in memory. An `include`
    /// in it still reads files.
    pub fn parse_text(&mut self, bytes: &[u8], path: &Path) -> Result<Vec<Directive>, ConfError> {
        if !self.sources.iter().any(|s| s.path == path) {
            let contents = String::from_utf8_lossy(bytes).into_owned();
            self.sources.push(SourceFile {
                path: path.to_path_buf(),
                contents,
            });
        }
        let file = Rc::new(path.to_path_buf());
        let mut lexer = Lexer::new(bytes);
        self.parse_block(&mut lexer, &file, false, false)
    }

    fn parse_block(
        &mut self,
        lexer: &mut Lexer<'_>,
        file: &Rc<PathBuf>,
        in_block: bool,
        param: bool,
    ) -> Result<Vec<Directive>, ConfError> {
        let mut out = Vec::new();
        loop {
            let st = lexer
                .next_statement()
                .map_err(|e| ConfError::new(e.message, file, e.line))?;
            let fail = |message: &str| Err(ConfError::new(message, file, st.line));
            match st.end {
                Terminator::BlockEnd if in_block => return Ok(out),
                Terminator::BlockEnd => return fail("unexpected \"}\""),
                Terminator::Eof if in_block => {
                    return fail("unexpected end of file, expecting \"}\"");
                }
                Terminator::Eof => return Ok(out),
                Terminator::BlockStart if param => {
                    return fail("block directives are not supported in -g option");
                }
                Terminator::BlockStart | Terminator::Semicolon => {}
            }
            let mut words = st.words.into_iter().map(|t| t.word);
            let Some(name) = words.next() else { continue };
            let args: Vec<Word> = words.collect();

            if name.text == "include" {
                if st.end == Terminator::BlockStart {
                    return fail("directive \"include\" is not terminated by \";\"");
                }
                if args.len() != 1 {
                    return fail("invalid number of arguments in \"include\" directive");
                }
                out.extend(self.include(&args[0].text, file, st.line)?);
                continue;
            }

            let block = if st.end == Terminator::BlockStart {
                Some(self.parse_block(lexer, file, true, param)?)
            } else {
                None
            };
            out.push(Directive {
                name: name.text,
                args,
                file: file.clone(),
                line: st.line,
                block,
            });
        }
    }

    fn include(
        &mut self,
        target: &str,
        file: &Rc<PathBuf>,
        line: usize,
    ) -> Result<Vec<Directive>, ConfError> {
        if self.depth >= MAX_INCLUDE_DEPTH {
            let message = format!("too deeply nested include of \"{target}\"");
            return Err(ConfError::new(message, file, line));
        }
        let full = if target.starts_with('/') {
            PathBuf::from(target)
        } else {
            self.conf_prefix.join(target)
        };
        let paths = if glob::has_magic(target) {
            glob::expand(&full)
        } else {
            vec![full.clone()]
        };
        self.depth += 1;
        let mut out = Vec::new();
        let mut result = Ok(());
        for path in paths {
            match self.parse_file(&path, Some((file, line))) {
                Ok(directives) => out.extend(directives),
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        self.depth -= 1;
        result.map(|()| out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("portico-parser-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn parse_text(text: &str) -> Result<Vec<Directive>, ConfError> {
        let dir = temp_dir(&format!("t{}", text.len()));
        let path = dir.join("nginx.conf");
        std::fs::write(&path, text).unwrap();
        let result = Parser::new(&dir).parse_main(&path);
        std::fs::remove_dir_all(&dir).unwrap();
        result
    }

    #[test]
    fn builds_nested_tree() {
        let tree = parse_text("a 1;\nb {\n  c \"2 3\";\n  d { }\n}\n").unwrap();
        assert_eq!(tree.len(), 2);
        assert_eq!(
            (tree[0].name.as_str(), tree[0].arg(0), tree[0].line),
            ("a", "1", 1)
        );
        let b = &tree[1];
        assert_eq!(b.line, 2);
        let children = b.block.as_ref().unwrap();
        assert_eq!(
            children[0].args[0],
            Word {
                text: "2 3".into(),
                quoted: true
            }
        );
        assert_eq!(children[1].block.as_deref(), Some(&[][..]));
    }

    #[test]
    fn block_errors() {
        let e = parse_text("a;\n}\n").unwrap_err();
        assert_eq!(e.to_string().split(" in ").next(), Some("unexpected \"}\""));
        assert_eq!(e.line, 2);
        let e = parse_text("a {\n b;\n").unwrap_err();
        assert_eq!(e.message, "unexpected end of file, expecting \"}\"");
        assert_eq!(e.line, 3);
        let e = parse_text("a {\n b\n").unwrap_err();
        assert_eq!(
            e.message,
            "unexpected end of file, expecting \";\" or \"}\""
        );
    }

    #[test]
    fn includes_globs_and_sources() {
        let dir = temp_dir("inc");
        std::fs::create_dir_all(dir.join("conf.d")).unwrap();
        std::fs::write(dir.join("conf.d/b.conf"), "b 1;").unwrap();
        std::fs::write(dir.join("conf.d/a.conf"), "a 1;").unwrap();
        std::fs::write(dir.join("conf.d/inner.inc"), "inner;").unwrap();
        // Nested includes resolve against the main file's folder, not the includer's.
        std::fs::write(dir.join("conf.d/c.conf"), "include conf.d/inner.inc;").unwrap();
        let main = dir.join("nginx.conf");
        std::fs::write(
            &main,
            "x { include conf.d/*.conf; }\ninclude none/*.conf;\n",
        )
        .unwrap();
        let mut parser = Parser::new(&dir);
        let tree = parser.parse_main(&main).unwrap();
        let names: Vec<_> = tree[0]
            .block
            .as_ref()
            .unwrap()
            .iter()
            .map(|d| d.name.as_str())
            .collect();
        assert_eq!(names, ["a", "b", "inner"]);
        assert_eq!(
            *tree[0].block.as_ref().unwrap()[1].file,
            dir.join("conf.d/b.conf")
        );
        let sources = parser.into_sources();
        assert_eq!(sources.len(), 5);
        assert_eq!(sources[0].path, main);
        assert_eq!(sources[1].contents, "a 1;");

        std::fs::write(&main, "\ninclude missing.conf;\n").unwrap();
        let e = Parser::new(&dir).parse_main(&main).unwrap_err();
        let want = format!(
            "open() \"{}\" failed (2: No such file or directory) in {}:2",
            dir.join("missing.conf").display(),
            main.display()
        );
        assert_eq!(e.to_string(), want);

        std::fs::write(&main, "include a b;").unwrap();
        let e = Parser::new(&dir).parse_main(&main).unwrap_err();
        assert_eq!(
            e.message,
            "invalid number of arguments in \"include\" directive"
        );
        std::fs::write(&main, "include self.conf;").unwrap();
        std::fs::write(dir.join("self.conf"), "include self.conf;").unwrap();
        let e = Parser::new(&dir).parse_main(&main).unwrap_err();
        assert!(e.message.starts_with("too deeply nested include"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn missing_main_file_has_no_location() {
        let e = Parser::new(Path::new("/")).parse_main(Path::new("/nonexistent/p.conf"));
        assert_eq!(
            e.unwrap_err().to_string(),
            "open() \"/nonexistent/p.conf\" failed (2: No such file or directory)"
        );
    }

    #[test]
    fn command_line_params() {
        let mut parser = Parser::new(Path::new("/"));
        let tree = parser
            .parse_param("daemon off; master_process on;")
            .unwrap();
        assert_eq!(tree.len(), 2);
        assert_eq!(tree[0].file.as_path(), Path::new(COMMAND_LINE));
        let e = parser.parse_param("events { }").unwrap_err();
        assert_eq!(
            e.to_string(),
            "block directives are not supported in -g option in command line"
        );
        let e = parser.parse_param("daemon off").unwrap_err();
        assert_eq!(
            e.to_string(),
            "unexpected end of parameter, expecting \";\" in command line"
        );
    }
}
