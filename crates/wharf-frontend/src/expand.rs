//! The one variable expander: Dockerfile substitution exactly as BuildKit's
//! shell lexer (`frontend/dockerfile/shell/lex.go`) does it.
//!
//! - `$V`, `${V}`; `${V:-w}`, `${V-w}`, `${V:+w}`, `${V+w}`, `${V:?msg}`,
//!   `${V?msg}`; `${V#p}`, `${V##p}`, `${V%p}`, `${V%%p}`, `${V/p/r}`,
//!   `${V//p/r}`. Patterns know `*`, `?` and the escapes `\*`, `\?`, `\\`
//!   (and `\/`, `\}` inside `${V/.../...}`); everything else, `[...]`
//!   included, is literal, and other escapes are errors.
//! - Names are letters, digits and `_`; a name starting with a digit is
//!   all digits (`$999aaa` reads `$999`); the special parameters `$@ $* $#
//!   $? $- $$ $!` are names of their own. None of them is ever set, so they
//!   expand to nothing, as in BuildKit.
//! - Single quotes are literal, double quotes allow expansion, the escape
//!   character (`\` or the file's `` ` ``) makes the next character literal
//!   and a trailing lone escape is dropped.
//! - [`Mode::Word`] removes quotes and escapes (instruction arguments);
//!   [`Mode::Raw`] keeps them and only substitutes; [`Mode::Heredoc`]
//!   treats quotes as ordinary text (COPY/ADD here-document bodies: `'$A'`
//!   expands) and takes `\` as the escape whatever the file's escape is.
//! - [`Expander::words`] also splits the result on unquoted whitespace,
//!   including whitespace that came from a variable's value; empty words
//!   (`''`) are dropped, as BuildKit's `ProcessWords` does.
//!
//! Unset variables expand to nothing. Every variable looked up is recorded,
//! so callers know which build arguments an instruction depends on.
//!
//! Two limits BuildKit does not have, so that hostile input cannot exhaust
//! memory or the stack: an expanded word is at most [`MAX_EXPANDED_LEN`]
//! bytes and substitutions nest at most [`MAX_NESTING`] deep.

mod pattern;

use pattern::{pattern_regex, replace_capped, too_long, trim_prefix, trim_suffix};

/// The largest expanded word, in bytes (1 MiB): far above any real
/// Dockerfile's needs, far below what doubling `ENV A=$A$A` reaches.
pub const MAX_EXPANDED_LEN: usize = 1 << 20;

/// How deeply `${V:-${W:-...}}` may nest.
pub const MAX_NESTING: usize = 64;

/// How quotes and escapes are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Quotes and escape characters are syntax and are removed.
    Word,
    /// Quotes and escapes are kept verbatim; `$` is still substituted
    /// unless escaped.
    Raw,
    /// Quotes are ordinary characters; `\` escapes (and is removed).
    Heredoc,
}

/// A substitution error and its byte offset in the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ExpandError {
    pub offset: usize,
    pub message: String,
}

/// The result of an expansion and the variable names it looked up.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Expanded<T> {
    pub value: T,
    pub used: Vec<String>,
}

/// Expands words with a given escape character.
#[derive(Debug, Clone, Copy)]
pub struct Expander {
    pub escape: char,
}

impl Default for Expander {
    fn default() -> Self {
        Expander { escape: '\\' }
    }
}

impl Expander {
    /// Expands one word (quotes removed in [`Mode::Word`]).
    pub fn word(
        &self,
        input: &str,
        mode: Mode,
        vars: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Expanded<String>, ExpandError> {
        let mut lx = Lexer::new(input, self.escape, mode, vars);
        let mut out = Out::new(false);
        lx.run(&mut out, None)?;
        Ok(Expanded {
            value: out.into_words().join(""),
            used: lx.used,
        })
    }

    /// Expands and splits into words on unquoted whitespace.
    pub fn words(
        &self,
        input: &str,
        vars: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Expanded<Vec<String>>, ExpandError> {
        let mut lx = Lexer::new(input, self.escape, Mode::Word, vars);
        let mut out = Out::new(true);
        lx.run(&mut out, None)?;
        Ok(Expanded {
            value: out.into_words(),
            used: lx.used,
        })
    }
}

/// Output accumulator: words (BuildKit's `wordsStruct`), or one string
/// when not splitting.
struct Out {
    split: bool,
    words: Vec<String>,
    cur: String,
    /// Bytes produced so far, for the size limit.
    total: usize,
}

impl Out {
    fn new(split: bool) -> Self {
        Out {
            split,
            words: Vec::new(),
            cur: String::new(),
            total: 0,
        }
    }
    /// Text that never splits a word (quoted, escaped).
    fn raw(&mut self, s: &str) {
        self.total += s.len();
        self.cur.push_str(s);
    }
    fn raw_char(&mut self, c: char) {
        self.total += c.len_utf8();
        self.cur.push(c);
    }
    /// Unquoted text: whitespace separates words when splitting.
    fn text(&mut self, s: &str) {
        if !self.split {
            return self.raw(s);
        }
        for c in s.chars() {
            if c.is_whitespace() {
                self.boundary();
            } else {
                self.raw_char(c);
            }
        }
    }
    fn boundary(&mut self) {
        if !self.cur.is_empty() {
            self.words.push(std::mem::take(&mut self.cur));
        }
    }
    fn into_words(mut self) -> Vec<String> {
        if !self.split {
            return vec![self.cur];
        }
        self.boundary();
        self.words
    }
}

struct Lexer<'a> {
    chars: Vec<(usize, char)>,
    len: usize,
    pos: usize,
    escape: char,
    /// Quotes are syntax (not [`Mode::Heredoc`]).
    quotes: bool,
    /// Quote characters are kept in the output ([`Mode::Raw`]).
    raw_quotes: bool,
    /// Escape characters are kept in the output ([`Mode::Raw`], patterns).
    raw_escapes: bool,
    depth: usize,
    vars: &'a dyn Fn(&str) -> Option<String>,
    used: Vec<String>,
}

type Res<T> = Result<T, ExpandError>;

impl<'a> Lexer<'a> {
    fn new(
        input: &str,
        escape: char,
        mode: Mode,
        vars: &'a dyn Fn(&str) -> Option<String>,
    ) -> Self {
        Lexer {
            chars: input.char_indices().collect(),
            len: input.len(),
            pos: 0,
            escape: if mode == Mode::Heredoc { '\\' } else { escape },
            quotes: mode != Mode::Heredoc,
            raw_quotes: mode == Mode::Raw,
            raw_escapes: mode == Mode::Raw,
            depth: 0,
            vars,
            used: Vec::new(),
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).map(|(_, c)| *c)
    }
    fn offset(&self) -> usize {
        self.chars
            .get(self.pos)
            .map(|(o, _)| *o)
            .unwrap_or(self.len)
    }
    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        if c.is_some() {
            self.pos += 1;
        }
        c
    }
    fn error<T>(&self, offset: usize, message: impl Into<String>) -> Res<T> {
        Err(ExpandError {
            offset,
            message: message.into(),
        })
    }
    fn check_size(&self, out: &Out, at: usize) -> Res<()> {
        if out.total > MAX_EXPANDED_LEN {
            return self.error(at, too_long());
        }
        Ok(())
    }

    fn lookup(&mut self, name: &str) -> Option<String> {
        if !self.used.iter().any(|u| u == name) {
            self.used.push(name.to_string());
        }
        (self.vars)(name)
    }

    /// BuildKit's `processStopOn`: processes until the end of input, or
    /// until an unquoted `stop` (consumed; `Ok(true)`).
    fn run(&mut self, out: &mut Out, stop: Option<char>) -> Res<bool> {
        while let Some(c) = self.peek() {
            let at = self.offset();
            self.check_size(out, at)?;
            if Some(c) == stop {
                self.pos += 1;
                return Ok(true);
            }
            match c {
                '\'' if self.quotes => {
                    let s = self.single_quoted(at)?;
                    out.raw(&s);
                }
                '"' if self.quotes => {
                    let s = self.double_quoted(at)?;
                    out.raw(&s);
                }
                '$' => {
                    self.pos += 1;
                    let v = self.dollar(at)?;
                    out.text(&v);
                }
                '<' if self.peek_at(1) == Some('<') => {
                    // `<<  EOF` stays one word, as a heredoc marker.
                    self.pos += 2;
                    out.raw("<<");
                    while let Some(w) = self.peek().filter(|c| *c == ' ' || *c == '\t') {
                        out.raw_char(w);
                        self.pos += 1;
                    }
                }
                c if c == self.escape => {
                    self.pos += 1;
                    if self.raw_escapes {
                        out.raw_char(c);
                    }
                    match self.next() {
                        Some(n) => out.raw_char(n),
                        // A trailing lone escape is dropped.
                        None => break,
                    }
                }
                c => {
                    self.pos += 1;
                    let mut buf = [0u8; 4];
                    out.text(c.encode_utf8(&mut buf));
                }
            }
        }
        self.check_size(out, self.len)?;
        Ok(false)
    }

    fn peek_at(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.pos + ahead).map(|(_, c)| *c)
    }

    fn single_quoted(&mut self, start: usize) -> Res<String> {
        self.pos += 1;
        let mut s = String::new();
        if self.raw_quotes {
            s.push('\'');
        }
        loop {
            match self.next() {
                None => return self.error(start, "unterminated single quote"),
                Some('\'') => break,
                Some(ch) => s.push(ch),
            }
        }
        if self.raw_quotes {
            s.push('\'');
        }
        Ok(s)
    }

    fn double_quoted(&mut self, start: usize) -> Res<String> {
        self.pos += 1;
        let mut s = String::new();
        if self.raw_quotes {
            s.push('"');
        }
        loop {
            let at = self.offset();
            if s.len() > MAX_EXPANDED_LEN {
                return self.error(at, too_long());
            }
            match self.peek() {
                None => return self.error(start, "unterminated double quote"),
                Some('"') => {
                    self.pos += 1;
                    if self.raw_quotes {
                        s.push('"');
                    }
                    return Ok(s);
                }
                Some('$') => {
                    self.pos += 1;
                    let v = self.dollar(at)?;
                    s.push_str(&v);
                }
                Some(c) => {
                    self.pos += 1;
                    if c == self.escape {
                        if self.raw_escapes {
                            s.push(c);
                        }
                        match self.peek() {
                            None => continue,
                            Some(n) if n == '"' || n == '$' || n == self.escape => {
                                self.pos += 1;
                                s.push(n);
                            }
                            Some(_) if !self.raw_escapes => s.push(c),
                            Some(_) => {}
                        }
                    } else {
                        s.push(c);
                    }
                }
            }
        }
    }

    /// A name after `$`: a run of digits, one special parameter, or
    /// letters, digits and `_`.
    fn name(&mut self) -> String {
        let mut name = String::new();
        match self.peek() {
            Some(c) if c.is_ascii_digit() => {
                while let Some(d) = self.peek().filter(char::is_ascii_digit) {
                    name.push(d);
                    self.pos += 1;
                }
                return name;
            }
            Some(c @ ('@' | '*' | '#' | '?' | '-' | '$' | '!')) => {
                self.pos += 1;
                name.push(c);
                return name;
            }
            _ => {}
        }
        while let Some(c) = self.peek() {
            if c.is_alphanumeric() || c == '_' {
                name.push(c);
                self.pos += 1;
            } else {
                break;
            }
        }
        name
    }

    /// After a `$` at `at`: substitutes and returns the value.
    fn dollar(&mut self, at: usize) -> Res<String> {
        if self.peek() != Some('{') {
            let name = self.name();
            if name.is_empty() {
                return Ok("$".to_string());
            }
            return Ok(self.lookup(&name).unwrap_or_default());
        }
        self.pos += 1;
        if self.depth >= MAX_NESTING {
            return self.error(
                at,
                format!("variable substitutions are nested more than {MAX_NESTING} deep"),
            );
        }
        self.depth += 1;
        let r = self.braced(at);
        self.depth -= 1;
        r
    }

    /// A modifier's word up to `}` (or `/`), with escapes kept when
    /// `raw_escapes` (patterns), as BuildKit's `processStopOn`.
    fn modifier_word(&mut self, stop: char, raw_escapes: bool) -> Res<Option<String>> {
        let saved = self.raw_escapes;
        self.raw_escapes = raw_escapes;
        let mut out = Out::new(false);
        let r = self.run(&mut out, Some(stop));
        self.raw_escapes = saved;
        Ok(r?.then(|| out.into_words().join("")))
    }

    // Long: one arm per modifier, each mirroring BuildKit's
    // `processDollar`; split up it would hide how they share the word.
    fn braced(&mut self, at: usize) -> Res<String> {
        match self.peek() {
            None => return self.error(at, "missing '}' in variable substitution"),
            Some('{' | '}' | ':') => {
                return self.error(
                    at,
                    "bad substitution: ${ must be followed by a variable name",
                )
            }
            _ => {}
        }
        let name = self.name();
        let missing = || format!("missing '}}' after ${{{name}");
        let Some(c) = self.next() else {
            return self.error(at, missing());
        };
        let (colon, op) = match c {
            '}' => return Ok(self.lookup(&name).unwrap_or_default()),
            ':' => match self.next() {
                Some(op) => (true, op),
                None => return self.error(at, missing()),
            },
            '/' => return self.replace(at, &name),
            c => (false, c),
        };
        let modifier = if colon {
            format!(":{op}")
        } else {
            op.to_string()
        };
        let unsupported = |m: &str| {
            format!("unsupported modifier ({m}) in substitution of {name}; expected one of :- - :+ + :? ? # ## % %% / //")
        };
        if !matches!(op, '+' | '-' | '?' | '#' | '%') && !colon {
            return self.error(at, unsupported(&modifier));
        }
        let pattern = op == '#' || op == '%';
        if colon && pattern {
            return self.error(at, unsupported(&modifier));
        }
        let Some(word) = self.modifier_word('}', pattern)? else {
            return self.error(at, missing());
        };
        let value = self.lookup(&name);
        let set = match &value {
            None => false,
            Some(v) => !(colon && v.is_empty()),
        };
        match op {
            '-' => Ok(if set { value.unwrap_or_default() } else { word }),
            '+' => Ok(if set { word } else { String::new() }),
            '?' => match value {
                Some(v) if set => Ok(v),
                _ => {
                    let message = if !word.is_empty() {
                        word
                    } else if value.is_none() {
                        "is not allowed to be unset".to_string()
                    } else {
                        "is not allowed to be empty".to_string()
                    };
                    self.error(at, format!("{name}: {message}"))
                }
            },
            '#' | '%' => {
                let (greedy, word) = match word.strip_prefix(op) {
                    Some(w) => (true, w.to_string()),
                    None => (false, word),
                };
                let v = value.unwrap_or_default();
                let r = if op == '#' {
                    trim_prefix(&word, &v, greedy)
                } else {
                    trim_suffix(&word, &v, greedy)
                };
                r.or_else(|m| self.error(at, m))
            }
            _ => self.error(at, unsupported(&modifier)),
        }
    }

    /// `${V/pattern/replacement}` and `${V//pattern/replacement}`.
    fn replace(&mut self, at: usize, name: &str) -> Res<String> {
        let all = self.peek() == Some('/');
        if all {
            self.pos += 1;
        }
        let Some(pattern) = self.modifier_word('/', true)? else {
            return self.error(
                at,
                format!("missing '/' in ${{{name}/...}}: write ${{{name}/pattern/replacement}}"),
            );
        };
        let Some(replacement) = self.modifier_word('}', true)? else {
            return self.error(at, format!("missing '}}' after ${{{name}/"));
        };
        let value = self.lookup(name).unwrap_or_default();
        let re = pattern_regex(&pattern, true, false).or_else(|m| self.error(at, m))?;
        replace_capped(&re, &value, &replacement, all).or_else(|m| self.error(at, m))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn vars() -> HashMap<&'static str, &'static str> {
        HashMap::from([
            ("A", "alpha"),
            ("E", ""),
            ("SP", "one two"),
            ("P", "/usr/local/bin"),
            ("F", "archive.tar.gz"),
        ])
    }

    fn w(input: &str) -> String {
        let v = vars();
        Expander::default()
            .word(input, Mode::Word, &|n| v.get(n).map(|s| s.to_string()))
            .unwrap()
            .value
    }

    fn err(input: &str) -> ExpandError {
        let v = vars();
        Expander::default()
            .word(input, Mode::Word, &|n| v.get(n).map(|s| s.to_string()))
            .unwrap_err()
    }

    #[test]
    fn simple_and_braced() {
        assert_eq!(w("$A"), "alpha");
        assert_eq!(w("${A}x"), "alphax");
        assert_eq!(w("$Ax"), "");
        assert_eq!(w("a$"), "a$");
        assert_eq!(w("$ a"), "$ a");
        assert_eq!(w("$1x"), "x");
        assert_eq!(w("$999aaa"), "aaa");
        assert_eq!(w("pre-$A-post"), "pre-alpha-post");
    }

    #[test]
    fn special_parameters_are_unset() {
        assert_eq!(w("[$@|$*|$#|$?|$-|$$|$!]"), "[||||||]");
        assert_eq!(w("${@:-x}"), "x");
        assert_eq!(w("${#}"), "");
    }

    #[test]
    fn modifiers() {
        assert_eq!(w("${A:-d}"), "alpha");
        assert_eq!(w("${U:-d}"), "d");
        assert_eq!(w("${E:-d}"), "d");
        assert_eq!(w("${E-d}"), "");
        assert_eq!(w("${U-d}"), "d");
        assert_eq!(w("${A:+set}"), "set");
        assert_eq!(w("${E:+set}"), "");
        assert_eq!(w("${E+set}"), "set");
        assert_eq!(w("${U+set}"), "");
        assert_eq!(w("${U:-${A}}"), "alpha");
        assert_eq!(w("${U:-a b}"), "a b");
        assert_eq!(w("${A:?must}"), "alpha");
        assert_eq!(err("${U:?must be set}").message, "U: must be set");
        assert_eq!(err("${U:?}").message, "U: is not allowed to be unset");
        assert_eq!(err("${E:?}").message, "E: is not allowed to be empty");
        assert_eq!(w("${E?x}"), "");
    }

    #[test]
    fn patterns() {
        assert_eq!(w("${P#*/}"), "usr/local/bin");
        assert_eq!(w("${P##*/}"), "bin");
        assert_eq!(w("${F%.*}"), "archive.tar");
        assert_eq!(w("${F%%.*}"), "archive");
        assert_eq!(w("${P/local/share}"), "/usr/share/bin");
        assert_eq!(w("${F//a/A}"), "Archive.tAr.gz");
        // Brackets are literal, as in BuildKit.
        assert_eq!(w("${F/[a-c]/X}"), "archive.tar.gz");
        assert!(err("${F/.gz}").message.contains("missing '/'"));
        assert!(err("${F#\\x}").message.contains("invalid escape"));
        assert!(err("${F/a").message.contains("missing '/'"));
    }

    #[test]
    fn quotes_and_escapes() {
        assert_eq!(w("'$A'"), "$A");
        assert_eq!(w("\"$A b\""), "alpha b");
        assert_eq!(w("\\$A"), "$A");
        assert_eq!(w("\"\\$A\""), "$A");
        assert_eq!(w("\"a\\b\""), "a\\b");
        assert_eq!(w("a\\ b"), "a b");
        assert_eq!(w("\"\""), "");
        assert_eq!(w("hello\\"), "hello");
        let v = vars();
        let bt = Expander { escape: '`' };
        let r = bt
            .word("C:\\dir\\`$A$A", Mode::Word, &|n| {
                v.get(n).map(|s| s.to_string())
            })
            .unwrap();
        assert_eq!(r.value, "C:\\dir\\$Aalpha");
    }

    #[test]
    fn raw_mode_keeps_syntax() {
        let v = vars();
        let r = Expander::default()
            .word("echo \"$A\" '$A' \\$A", Mode::Raw, &|n| {
                v.get(n).map(|s| s.to_string())
            })
            .unwrap();
        assert_eq!(r.value, "echo \"alpha\" '$A' \\$A");
    }

    #[test]
    fn heredoc_mode_expands_inside_quotes() {
        let v = vars();
        let r = Expander { escape: '`' }
            .word("'$A' \"$A\" \\$A", Mode::Heredoc, &|n| {
                v.get(n).map(|s| s.to_string())
            })
            .unwrap();
        assert_eq!(r.value, "'alpha' \"alpha\" $A");
    }

    #[test]
    fn word_splitting() {
        let v = vars();
        let f = |n: &str| v.get(n).map(|s| s.to_string());
        let e = Expander::default();
        assert_eq!(
            e.words("$SP three", &f).unwrap().value,
            vec!["one", "two", "three"]
        );
        assert_eq!(
            e.words("\"$SP\" x", &f).unwrap().value,
            vec!["one two", "x"]
        );
        assert_eq!(e.words("'' x", &f).unwrap().value, vec!["x"]);
        assert_eq!(e.words("  ", &f).unwrap().value, Vec::<String>::new());
        assert_eq!(e.words("$U x", &f).unwrap().value, vec!["x"]);
        assert_eq!(
            e.words("a <<  EOF", &f).unwrap().value,
            vec!["a", "<<  EOF"]
        );
    }

    #[test]
    fn errors_have_offsets() {
        assert_eq!(err("ab 'cd").offset, 3);
        assert_eq!(err("x \"cd").offset, 2);
        assert_eq!(err("${A").message, "missing '}' after ${A");
        assert_eq!(err("a ${}").offset, 2);
        assert!(err("${A:x}").message.contains("unsupported modifier"));
        assert!(err("${A!}").message.contains("unsupported modifier"));
        assert!(err("${U:-abc").message.contains("missing '}'"));
    }

    #[test]
    fn expansion_is_capped() {
        let big = "x".repeat(MAX_EXPANDED_LEN / 2 + 1);
        let f = |n: &str| (n == "B").then(|| big.clone());
        let e = Expander::default();
        assert!(e.word("$B", Mode::Word, &f).is_ok());
        let too_long = e.word("$B$B", Mode::Word, &f).unwrap_err();
        assert!(too_long.message.contains("1 MiB"), "{too_long}");
        assert!(e.word("\"$B$B\"", Mode::Word, &f).is_err());
        assert!(e.word("${B//?/xx}", Mode::Word, &f).is_err());
        assert!(e.words("$B $B", &f).is_err());
        let nested = format!("{}x{}", "${U:-".repeat(200), "}".repeat(200));
        assert!(e
            .word(&nested, Mode::Word, &f)
            .unwrap_err()
            .message
            .contains("nested"));
    }

    #[test]
    fn records_used_names() {
        let v = vars();
        let r = Expander::default()
            .word("$A ${U:-$A} ${B}", Mode::Word, &|n| {
                v.get(n).map(|s| s.to_string())
            })
            .unwrap();
        assert_eq!(r.used, vec!["A", "U", "B"]);
    }
}
