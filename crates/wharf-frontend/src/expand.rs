//! The one variable expander: Dockerfile substitution exactly as BuildKit's
//! shell lexer does it.
//!
//! - `$V`, `${V}`; `${V:-w}`, `${V-w}`, `${V:+w}`, `${V+w}`, `${V:?msg}`,
//!   `${V?msg}`; `${V#p}`, `${V##p}`, `${V%p}`, `${V%%p}`, `${V/p/r}`,
//!   `${V//p/r}` with shell glob patterns;
//! - single quotes are literal, double quotes allow expansion, the escape
//!   character (`\` or the file's `` ` ``) makes the next character literal;
//! - [`Mode::Word`] removes quotes and escapes (instruction arguments);
//!   [`Mode::Raw`] keeps them and only substitutes (heredoc bodies, JSON
//!   form arguments);
//! - [`Expander::words`] also splits the result on unquoted whitespace,
//!   including whitespace that came from a variable's value.
//!
//! Unset variables expand to nothing. Every variable looked up is recorded,
//! so callers know which build arguments an instruction depends on.

/// How quotes and escapes are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Quotes and escape characters are syntax and are removed.
    Word,
    /// Quotes and escapes are kept verbatim; `$` is still substituted
    /// unless escaped.
    Raw,
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
        lx.run(&mut out, &[])?;
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
        lx.run(&mut out, &[])?;
        Ok(Expanded {
            value: out.into_words(),
            used: lx.used,
        })
    }
}

/// Output accumulator: words, or one string when not splitting.
struct Out {
    split: bool,
    words: Vec<String>,
    cur: String,
    started: bool,
}

impl Out {
    fn new(split: bool) -> Self {
        Out {
            split,
            words: Vec::new(),
            cur: String::new(),
            started: false,
        }
    }
    fn push(&mut self, c: char) {
        self.cur.push(c);
        self.started = true;
    }
    fn push_str(&mut self, s: &str) {
        self.cur.push_str(s);
        self.started = true;
    }
    /// Marks that a (possibly empty) quoted word exists here.
    fn touch(&mut self) {
        self.started = true;
    }
    fn boundary(&mut self) {
        if self.started {
            self.words.push(std::mem::take(&mut self.cur));
            self.started = false;
        }
    }
    /// Unquoted text that came from a variable: split it too.
    fn push_unquoted(&mut self, s: &str) {
        if !self.split {
            self.push_str(s);
            return;
        }
        for c in s.chars() {
            if c.is_whitespace() {
                self.boundary();
            } else {
                self.push(c);
            }
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
    mode: Mode,
    vars: &'a dyn Fn(&str) -> Option<String>,
    used: Vec<String>,
}

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
            escape,
            mode,
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
    fn error<T>(&self, offset: usize, message: impl Into<String>) -> Result<T, ExpandError> {
        Err(ExpandError {
            offset,
            message: message.into(),
        })
    }

    fn lookup(&mut self, name: &str) -> Option<String> {
        if !self.used.iter().any(|u| u == name) {
            self.used.push(name.to_string());
        }
        (self.vars)(name)
    }

    /// Processes until end of input or an unquoted character of `stop`
    /// (which is consumed and returned).
    fn run(&mut self, out: &mut Out, stop: &[char]) -> Result<Option<char>, ExpandError> {
        while let Some(c) = self.peek() {
            if stop.contains(&c) {
                self.pos += 1;
                return Ok(Some(c));
            }
            let at = self.offset();
            match c {
                '\'' => {
                    self.pos += 1;
                    if self.mode == Mode::Raw {
                        out.push('\'');
                    }
                    out.touch();
                    loop {
                        match self.next() {
                            None => return self.error(at, "unterminated single quote"),
                            Some('\'') => break,
                            Some(ch) => out.push(ch),
                        }
                    }
                    if self.mode == Mode::Raw {
                        out.push('\'');
                    }
                }
                '"' => {
                    self.pos += 1;
                    if self.mode == Mode::Raw {
                        out.push('"');
                    }
                    out.touch();
                    self.double_quoted(out, at)?;
                    if self.mode == Mode::Raw {
                        out.push('"');
                    }
                }
                '$' => {
                    self.pos += 1;
                    let v = self.dollar(at)?;
                    out.push_unquoted(&v);
                }
                c if c == self.escape => {
                    self.pos += 1;
                    match self.next() {
                        Some(n) => {
                            if self.mode == Mode::Raw {
                                out.push(c);
                            }
                            out.push(n);
                        }
                        None => out.push(c),
                    }
                }
                c if c.is_whitespace() && out.split => {
                    self.pos += 1;
                    out.boundary();
                }
                c => {
                    self.pos += 1;
                    out.push(c);
                }
            }
        }
        Ok(None)
    }

    fn double_quoted(&mut self, out: &mut Out, start: usize) -> Result<(), ExpandError> {
        loop {
            let at = self.offset();
            match self.next() {
                None => return self.error(start, "unterminated double quote"),
                Some('"') => return Ok(()),
                Some('$') => {
                    let v = self.dollar(at)?;
                    out.push_str(&v);
                }
                Some(c) if c == self.escape => match self.peek() {
                    Some(n) if n == '"' || n == '$' || n == self.escape => {
                        self.pos += 1;
                        if self.mode == Mode::Raw {
                            out.push(c);
                        }
                        out.push(n);
                    }
                    _ => out.push(c),
                },
                Some(c) => out.push(c),
            }
        }
    }

    fn name(&mut self) -> String {
        let mut name = String::new();
        while let Some(c) = self.peek() {
            if c.is_ascii_alphanumeric() || c == '_' {
                name.push(c);
                self.pos += 1;
            } else {
                break;
            }
        }
        name
    }

    /// After a `$` at `at`: substitutes and returns the value.
    fn dollar(&mut self, at: usize) -> Result<String, ExpandError> {
        match self.peek() {
            Some('{') => {
                self.pos += 1;
                self.braced(at)
            }
            Some(c) if c.is_ascii_alphabetic() || c == '_' => {
                let name = self.name();
                Ok(self.lookup(&name).unwrap_or_default())
            }
            Some(c) if c.is_ascii_digit() => {
                self.pos += 1;
                Ok(String::new())
            }
            _ => Ok("$".to_string()),
        }
    }

    /// The word after a modifier, up to the matching `}`.
    fn modifier_word(&mut self, at: usize) -> Result<String, ExpandError> {
        let mut out = Out::new(false);
        if self.run(&mut out, &['}'])?.is_none() {
            return self.error(at, "missing '}' in variable substitution");
        }
        Ok(out.into_words().join(""))
    }

    fn braced(&mut self, at: usize) -> Result<String, ExpandError> {
        let name = self.name();
        if name.is_empty() {
            return self.error(
                at,
                "bad substitution: ${ must be followed by a variable name",
            );
        }
        let value = self.lookup(&name);
        let Some(c) = self.next() else {
            return self.error(at, format!("missing '}}' after ${{{name}"));
        };
        match c {
            '}' => Ok(value.unwrap_or_default()),
            ':' | '-' | '+' | '?' => {
                let (colon, op) = if c == ':' {
                    match self.next() {
                        Some(op @ ('-' | '+' | '?')) => (true, op),
                        other => {
                            return self.error(
                                at,
                                format!(
                                    "unsupported modifier ({}) in substitution of {name}; expected :-, :+ or :?",
                                    other.map(String::from).unwrap_or_default()
                                ),
                            )
                        }
                    }
                } else {
                    (false, c)
                };
                let word = self.modifier_word(at)?;
                let set = match &value {
                    None => false,
                    Some(v) => !(colon && v.is_empty()),
                };
                match op {
                    '-' => Ok(if set { value.unwrap_or_default() } else { word }),
                    '+' => Ok(if set { word } else { String::new() }),
                    _ => {
                        if set {
                            Ok(value.unwrap_or_default())
                        } else if word.is_empty() {
                            self.error(at, format!("{name}: is not allowed to be unset"))
                        } else {
                            self.error(at, format!("{name}: {word}"))
                        }
                    }
                }
            }
            '#' | '%' => {
                let longest = self.peek() == Some(c);
                if longest {
                    self.pos += 1;
                }
                let pattern = self.modifier_word(at)?;
                let v = value.unwrap_or_default();
                Ok(trim_pattern(&v, &pattern, c == '#', longest))
            }
            '/' => {
                let all = self.peek() == Some('/');
                if all {
                    self.pos += 1;
                }
                let mut pat = Out::new(false);
                let ended = self.run(&mut pat, &['/', '}'])?;
                let pattern = pat.into_words().join("");
                let replacement = match ended {
                    Some('/') => self.modifier_word(at)?,
                    // `${V/p}`: delete the match.
                    Some(_) => String::new(),
                    None => return self.error(at, format!("missing '}}' after ${{{name}/")),
                };
                Ok(replace_pattern(
                    &value.unwrap_or_default(),
                    &pattern,
                    &replacement,
                    all,
                ))
            }
            other => self.error(
                at,
                format!("unsupported modifier ({other}) in substitution of {name}"),
            ),
        }
    }
}

/// Shell glob match of a whole string: `*`, `?`, `[...]`, `\x`.
fn glob_match(p: &[char], s: &[char]) -> bool {
    let (mut pi, mut si) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < p.len() {
            match p[pi] {
                '*' => {
                    star = Some((pi, si));
                    pi += 1;
                    continue;
                }
                '?' => {
                    pi += 1;
                    si += 1;
                    continue;
                }
                '[' => {
                    if let Some((matched, next)) = class_match(p, pi, s[si]) {
                        if matched {
                            pi = next;
                            si += 1;
                            continue;
                        }
                    } else if s[si] == '[' {
                        pi += 1;
                        si += 1;
                        continue;
                    }
                }
                '\\' if pi + 1 < p.len() => {
                    if p[pi + 1] == s[si] {
                        pi += 2;
                        si += 1;
                        continue;
                    }
                }
                c => {
                    if c == s[si] {
                        pi += 1;
                        si += 1;
                        continue;
                    }
                }
            }
        }
        match star {
            Some((sp, ss)) => {
                pi = sp + 1;
                si = ss + 1;
                star = Some((sp, ss + 1));
            }
            None => return false,
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// `[...]` at `p[start]`: whether `c` matches, and where the class ends.
fn class_match(p: &[char], start: usize, c: char) -> Option<(bool, usize)> {
    let mut i = start + 1;
    let negate = matches!(p.get(i), Some('!') | Some('^'));
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    while i < p.len() {
        if p[i] == ']' && !first {
            return Some((matched != negate, i + 1));
        }
        first = false;
        let lo = p[i];
        if i + 2 < p.len() && p[i + 1] == '-' && p[i + 2] != ']' {
            if lo <= c && c <= p[i + 2] {
                matched = true;
            }
            i += 3;
        } else {
            if lo == c {
                matched = true;
            }
            i += 1;
        }
    }
    None
}

fn trim_pattern(v: &str, pattern: &str, prefix: bool, longest: bool) -> String {
    let p: Vec<char> = pattern.chars().collect();
    let s: Vec<char> = v.chars().collect();
    let n = s.len();
    let candidates: Box<dyn Iterator<Item = usize>> = if longest {
        Box::new((0..=n).rev())
    } else {
        Box::new(0..=n)
    };
    for k in candidates {
        let (part, rest): (&[char], &[char]) = if prefix {
            (&s[..k], &s[k..])
        } else {
            (&s[n - k..], &s[..n - k])
        };
        if glob_match(&p, part) {
            return rest.iter().collect();
        }
    }
    v.to_string()
}

fn replace_pattern(v: &str, pattern: &str, replacement: &str, all: bool) -> String {
    if pattern.is_empty() {
        return v.to_string();
    }
    let p: Vec<char> = pattern.chars().collect();
    let s: Vec<char> = v.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    let mut replaced = false;
    while i < s.len() {
        if !replaced || all {
            // Longest match starting at i, as the shell does.
            if let Some(end) = (i + 1..=s.len()).rev().find(|&e| glob_match(&p, &s[i..e])) {
                out.push_str(replacement);
                i = end;
                replaced = true;
                continue;
            }
        }
        out.push(s[i]);
        i += 1;
    }
    out
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
        assert_eq!(w("pre-$A-post"), "pre-alpha-post");
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
        assert_eq!(err("${E:?}").message, "E: is not allowed to be unset");
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
        assert_eq!(w("${F/[a-c]/X}"), "Xrchive.tar.gz");
        assert_eq!(w("${F/.gz}x"), "archive.tarx");
        assert!(err("${F/a").message.contains("missing '}'"));
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
        assert_eq!(e.words("'' x", &f).unwrap().value, vec!["", "x"]);
        assert_eq!(e.words("  ", &f).unwrap().value, Vec::<String>::new());
        assert_eq!(e.words("$U x", &f).unwrap().value, vec!["x"]);
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
