//! Docker `.dockerignore` matching, with Docker's exact semantics.
//!
//! The rules follow Docker's ignore-file reader and the
//! `moby/patternmatcher` matcher that BuildKit and the Docker CLI use,
//! which differ from `.gitignore` in many ways:
//!
//! - a line is a comment only when `#` is its very first character; lines
//!   are then trimmed and empty ones skipped;
//! - `!` re-includes; the *last* pattern that matches a path decides;
//! - patterns are cleaned like Go's `filepath.Clean` (`./a//b/` is `a/b`,
//!   `a/../b` is `b`) and a leading `/` is dropped: every pattern is
//!   relative to the context root, none is "anywhere in the tree" (`*.o`
//!   matches `x.o` but not `src/x.o`; write `**/*.o` for that);
//! - `*` and `?` never match `/`; `**` matches any number of directories
//!   (including none); `[...]` classes and `\` escapes are those of Go's
//!   `filepath.Match`;
//! - a pattern that matches a directory excludes everything below it,
//!   because a path is also tested through each of its parent directories.
//!
//! Docker compiles each pattern into a Go regular expression, with shortcuts
//! for patterns that are plain names (`exact`), end in `**` (`prefix`) or
//! start with `**` (`suffix`). The shortcuts and the translation have
//! visible quirks that we keep, because a `.dockerignore` must mean the same
//! thing for Wharf as for `docker build`: `foo**` matches `foobar/x`,
//! `**foo` matches `xfoo`, a `^` outside brackets anchors at the start of
//! the path (`*^a` matches only `a`) except in plain names, and `/!a` is
//! read back as the re-include `!a`.
//!
//! The matcher is written here rather than taken from `globset` (or a
//! gitignore crate) because none of them has these semantics: globset's
//! `**` rules, its lack of parent matching and of ordered `!` re-includes,
//! and its class syntax all differ. The only places where we deliberately
//! differ from Docker are where Docker's regular-expression translation
//! leaks more regex syntax into patterns: an escaped letter or digit
//! (`\d`, `\b`) is that literal character here (as in `filepath.Match`), not
//! a regex class or assertion, and `*`, `?` and `[:name:]` inside brackets
//! are literal class members. A reversed range (`[z-a]`) is refused when the
//! file is parsed; Docker accepts it and then fails on the first path that
//! reaches it. Backslash is always an escape (Docker's Unix behaviour), on
//! every host, so that a `.dockerignore` means the same everywhere.
//!
//! Checked against moby/patternmatcher itself (its `ignorefile.ReadAll`,
//! `New` and `MatchesOrParentMatches`, with current Go `filepath.Match`
//! validation) on 290,000 random ignore files × 12 paths that avoid the
//! constructs above: identical results, except 5 files whose reversed range
//! Docker never reached.

use crate::ast::Pos;
use crate::error::FrontendError;
use std::fmt;

/// The parsed contents of a `.dockerignore` file. The default value is the
/// empty file: nothing is excluded.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DockerIgnore {
    file: String,
    patterns: Vec<IgnorePattern>,
}

/// One pattern line of a `.dockerignore`, cleaned as Docker cleans it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IgnorePattern {
    /// The cleaned pattern, without the leading `!`.
    pub pattern: String,
    /// `true` for a `!` line (re-includes what it matches).
    pub exclusion: bool,
    /// Where the line's pattern starts in the file.
    pub pos: Pos,
    matcher: Matcher,
}

impl fmt::Display for IgnorePattern {
    /// The pattern in Docker's normalised form (`!` prefixed for
    /// re-includes): two files with the same normalised lines behave alike,
    /// which is what a cache key needs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.exclusion {
            f.write_str("!")?;
        }
        f.write_str(&self.pattern)
    }
}

/// The ignore files to look for, in priority order, for a build file path
/// as given to `-f` (or the default `Dockerfile`): first
/// `<build file>.dockerignore` next to the build file (BuildKit's
/// per-Dockerfile ignore file), then `.dockerignore` at the root of the
/// build context. The first one that exists is used; the caller does the
/// I/O. A build file read from stdin (`-`) has only the context one.
pub fn ignore_file_candidates(build_file: &str) -> Vec<String> {
    let mut out = Vec::with_capacity(2);
    if build_file != "-" && !build_file.is_empty() && !build_file.ends_with(['/', '\\']) {
        out.push(format!("{build_file}.dockerignore"));
    }
    out.push(".dockerignore".to_string());
    out
}

impl DockerIgnore {
    /// Parses a `.dockerignore` text. `file_name` names it in errors.
    /// A malformed pattern (unterminated `[`, trailing `\`, a lone `!`) is
    /// an error at its line, as it is for Docker.
    pub fn parse(file_name: &str, text: &str) -> Result<DockerIgnore, FrontendError> {
        let mut patterns = Vec::new();
        for (idx, raw) in text.split('\n').enumerate() {
            let line_no = idx + 1;
            let mut line = raw.strip_suffix('\r').unwrap_or(raw);
            if idx == 0 {
                line = line.strip_prefix('\u{feff}').unwrap_or(line);
            }
            // Docker treats `#` as a comment only in the first column.
            if line.starts_with('#') {
                continue;
            }
            let trimmed = line.trim();
            if trimmed.is_empty() {
                continue;
            }
            let column = line.chars().count() - line.trim_start().chars().count() + 1;
            let pos = Pos {
                line: line_no,
                column,
            };
            // Docker's reader: strip `!`, clean, drop a leading `/`, put
            // the `!` back...
            let (invert, body) = match trimmed.strip_prefix('!') {
                Some(rest) => (true, rest.trim()),
                None => (false, trimmed),
            };
            let mut read = if body.is_empty() {
                String::new()
            } else {
                let cleaned = go_clean(body);
                match cleaned.strip_prefix('/') {
                    Some(rest) if !rest.is_empty() => rest.to_string(),
                    _ => cleaned,
                }
            };
            if invert {
                read.insert(0, '!');
            }
            // ...then the matcher trims and cleans that string again and
            // reads a leading `!` afresh. So `!/` becomes the illegal lone
            // `!`, `/!a` re-includes `a`, and `/ a` is `a`.
            let read = read.trim();
            if read.is_empty() {
                continue;
            }
            let cleaned = go_clean(read);
            let (exclusion, pattern) = match cleaned.strip_prefix('!') {
                Some(rest) => (true, rest.to_string()),
                None => (false, cleaned),
            };
            if exclusion && pattern.is_empty() {
                return Err(FrontendError::at(
                    file_name,
                    text,
                    pos,
                    "`!` must be followed by the pattern to re-include",
                )
                .with_hint("write `!path` to re-include `path`, or remove the line"));
            }
            if let Err(problem) = validate(&pattern) {
                return Err(FrontendError::at(
                    file_name,
                    text,
                    pos,
                    format!("invalid pattern `{pattern}`: {problem}"),
                )
                .with_hint(
                    "escape a literal `[`, `]`, `*`, `?` or `\\` with a backslash, e.g. `\\[`",
                ));
            }
            let matcher = Matcher::compile(&pattern);
            patterns.push(IgnorePattern {
                pattern,
                exclusion,
                pos,
                matcher,
            });
        }
        Ok(DockerIgnore {
            file: file_name.to_string(),
            patterns,
        })
    }

    /// The name the file was parsed under.
    pub fn file_name(&self) -> &str {
        &self.file
    }

    /// The patterns in file order; their `Display` form is Docker's
    /// normalised line, suitable for cache keys.
    pub fn patterns(&self) -> &[IgnorePattern] {
        &self.patterns
    }

    /// `true` when there are `!` patterns: a walker can only skip an
    /// excluded directory wholesale when [`Self::must_descend`] says so.
    pub fn has_reincludes(&self) -> bool {
        self.patterns.iter().any(|p| p.exclusion)
    }

    /// Whether `rel_path` (relative to the context root, `/`-separated) is
    /// left out of the build context. The path is cleaned first; the
    /// context root itself is never excluded.
    pub fn is_excluded(&self, rel_path: &str) -> bool {
        let file = normalise_path(rel_path);
        if file == "." {
            return false;
        }
        let parents: Vec<&str> = match file.rfind('/') {
            Some(i) => file[..i].split('/').collect(),
            None => Vec::new(),
        };
        let mut matched = false;
        for p in &self.patterns {
            // An exclude can only flip "not matched", a re-include only
            // "matched": skip patterns that cannot change the outcome.
            if p.exclusion != matched {
                continue;
            }
            let mut hit = p.matcher.matches(&file);
            if !hit {
                let mut prefix = String::new();
                for dir in &parents {
                    if !prefix.is_empty() {
                        prefix.push('/');
                    }
                    prefix.push_str(dir);
                    if p.matcher.matches(&prefix) {
                        hit = true;
                        break;
                    }
                }
            }
            if hit {
                matched = !p.exclusion;
            }
        }
        matched
    }

    /// Whether a walker must look inside the directory `rel_dir`. `false`
    /// only when the directory is excluded and no `!` pattern can
    /// re-include anything below it, so the whole subtree may be skipped
    /// without reading it. Errs on the side of descending.
    pub fn must_descend(&self, rel_dir: &str) -> bool {
        if !self.is_excluded(rel_dir) {
            return true;
        }
        let dir = normalise_path(rel_dir);
        let dir_parts: Vec<&str> = dir.split('/').collect();
        self.patterns
            .iter()
            .filter(|p| p.exclusion)
            .any(|p| may_match_below(&p.pattern, &dir_parts))
    }
}

/// Whether `pattern` could match `dir`, one of its ancestors, or a path
/// below `dir`: compares the pattern's leading segments to the
/// directory's. Anything hard to decide (`**`, classes, the `^` anchor,
/// whose meaning depends on the whole pattern) answers `true`.
fn may_match_below(pattern: &str, dir_parts: &[&str]) -> bool {
    if pattern.contains("**") || pattern.contains(['[', '^']) {
        return true;
    }
    let segments: Vec<&str> = pattern.split('/').collect();
    for (i, dir_part) in dir_parts.iter().enumerate() {
        let Some(seg) = segments.get(i) else {
            // The pattern names an ancestor of `dir`: it re-includes `dir`.
            return true;
        };
        if seg.ends_with('\\') || validate(seg).is_err() {
            return true;
        }
        if !Matcher::compile(seg).matches(dir_part) {
            return false;
        }
    }
    true
}

/// Cleans a path the way the caller's walker would report it: Go's
/// `filepath.Clean`, then relative (leading `/` dropped).
fn normalise_path(path: &str) -> String {
    let cleaned = go_clean(path);
    let trimmed = cleaned.trim_start_matches('/');
    if trimmed.is_empty() {
        ".".to_string()
    } else {
        trimmed.to_string()
    }
}

/// One path pattern with Docker's matching rules, for the other places
/// that use them: COPY source wildcards and `COPY --exclude`. Matches
/// whole cleaned relative paths (`*` stays within one path element, `**`
/// crosses them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathPattern {
    matcher: Matcher,
}

impl PathPattern {
    /// Compiles `pattern` (cleaned first, leading `/` dropped); the error
    /// says what is malformed.
    pub fn new(pattern: &str) -> Result<PathPattern, String> {
        validate(pattern).map_err(|problem| format!("invalid pattern {pattern:?}: {problem}"))?;
        let clean = go_clean(pattern);
        let clean = clean.trim_start_matches('/');
        Ok(PathPattern {
            matcher: Matcher::compile(clean),
        })
    }

    /// Whether the pattern matches the whole of `path`.
    pub fn matches(&self, path: &str) -> bool {
        self.matcher.matches(path)
    }

    /// Whether a string holds any wildcard character (else it names one path).
    pub fn has_wildcards(s: &str) -> bool {
        s.contains(['*', '?', '['])
    }
}

/// Go's `path/filepath.Clean` for `/`-separated paths: collapse slashes,
/// drop `.` elements, resolve `..` against preceding elements (and drop it
/// at the root), no trailing slash, `.` for an empty result.
pub(crate) fn go_clean(path: &str) -> String {
    if path.is_empty() {
        return ".".to_string();
    }
    let rooted = path.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if out.last().is_some_and(|l| *l != "..") {
                    out.pop();
                } else if !rooted {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    let joined = out.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

/// Checks a pattern the way Go's `filepath.Match` does (Docker calls it
/// only for its error): classes must be well formed and a `\` must escape
/// something.
fn validate(pattern: &str) -> Result<(), &'static str> {
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            // The guard consumes the escaped char, which needs no check.
            '\\' if chars.next().is_none() => {
                return Err("a trailing `\\` escapes nothing");
            }
            '[' => {
                parse_class(&mut chars)?;
            }
            _ => {}
        }
    }
    Ok(())
}

/// A `[...]` character class.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Class {
    negated: bool,
    ranges: Vec<(char, char)>,
}

impl Class {
    fn matches(&self, c: char) -> bool {
        self.ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != self.negated
    }
}

/// Parses a class body after its `[`, with `filepath.Match`'s rules: an
/// optional `^`, then at least one char or `lo-hi` range (chars may be
/// `\`-escaped; an unescaped `-` or `]` cannot start one), then `]`.
fn parse_class(
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
) -> Result<Class, &'static str> {
    const UNTERMINATED: &str = "unterminated or malformed `[...]` character class";
    let negated = chars.next_if_eq(&'^').is_some();
    let mut ranges = Vec::new();
    loop {
        if !ranges.is_empty() && chars.next_if_eq(&']').is_some() {
            return Ok(Class { negated, ranges });
        }
        let lo = class_char(chars).ok_or(UNTERMINATED)?;
        let hi = if chars.next_if_eq(&'-').is_some() {
            class_char(chars).ok_or(UNTERMINATED)?
        } else {
            lo
        };
        // `filepath.Match` accepts `[z-a]`, but Docker's regex then fails
        // on every path it meets; refuse it up front instead.
        if hi < lo {
            return Err("a character range runs backwards (like `z-a`)");
        }
        ranges.push((lo, hi));
    }
}

fn class_char(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Option<char> {
    match chars.next()? {
        '-' | ']' => None,
        '\\' => chars.next(),
        c => Some(c),
    }
}

/// One element of a compiled pattern (Docker's regex pieces).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Literal(char),
    /// `?`: one char other than `/`.
    AnyChar,
    /// `*`: any run of chars other than `/`.
    Star,
    /// `**` (and `**/`) inside a pattern: `(.*/)?`.
    AnyDirs,
    /// `**` at the end of a pattern: `.*`.
    AnyRest,
    /// `^` outside brackets: Docker's regex reads it as "start of path".
    StartAnchor,
    Class(Class),
}

/// How Docker matches a pattern: its shortcuts, or the general form.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Matcher {
    Exact(String),
    Prefix(String),
    Suffix(String),
    Tokens(Vec<Token>),
}

impl Matcher {
    /// Mirrors `patternmatcher`'s `compile` (the pattern was validated).
    fn compile(pattern: &str) -> Matcher {
        #[derive(PartialEq)]
        enum Kind {
            Exact,
            Prefix,
            Suffix,
            Regex,
        }
        let mut kind = Kind::Exact;
        let mut tokens = Vec::new();
        let mut chars = pattern.chars().peekable();
        let mut first = true;
        while let Some(c) = chars.next() {
            match c {
                '*' if chars.peek() == Some(&'*') => {
                    chars.next();
                    chars.next_if_eq(&'/');
                    if chars.peek().is_none() {
                        if kind == Kind::Exact {
                            kind = Kind::Prefix;
                        } else {
                            tokens.push(Token::AnyRest);
                            kind = Kind::Regex;
                        }
                    } else {
                        tokens.push(Token::AnyDirs);
                        kind = Kind::Regex;
                    }
                    if first {
                        kind = Kind::Suffix;
                    }
                }
                '*' => {
                    tokens.push(Token::Star);
                    kind = Kind::Regex;
                }
                '?' => {
                    tokens.push(Token::AnyChar);
                    kind = Kind::Regex;
                }
                '\\' => {
                    if let Some(next) = chars.next() {
                        tokens.push(Token::Literal(next));
                        kind = Kind::Regex;
                    } else {
                        tokens.push(Token::Literal('\\'));
                    }
                }
                '[' => {
                    match parse_class(&mut chars) {
                        Ok(class) => tokens.push(Token::Class(class)),
                        // Unreachable for validated patterns; never match.
                        Err(_) => {
                            return Matcher::Tokens(vec![Token::Class(Class {
                                negated: false,
                                ranges: Vec::new(),
                            })])
                        }
                    }
                    kind = Kind::Regex;
                }
                ']' => {
                    tokens.push(Token::Literal(']'));
                    kind = Kind::Regex;
                }
                // Not a pattern character for Docker, so it is copied into
                // the regex unescaped, where it anchors; it stays literal
                // in plain-name patterns, which are compared as text.
                '^' => tokens.push(Token::StartAnchor),
                other => tokens.push(Token::Literal(other)),
            }
            first = false;
        }
        match kind {
            Kind::Exact => Matcher::Exact(pattern.to_string()),
            Kind::Prefix => Matcher::Prefix(pattern[..pattern.len() - 2].to_string()),
            Kind::Suffix => Matcher::Suffix(pattern[2..].to_string()),
            Kind::Regex => Matcher::Tokens(tokens),
        }
    }

    fn matches(&self, path: &str) -> bool {
        match self {
            Matcher::Exact(p) => path == p,
            Matcher::Prefix(p) => path.starts_with(p.as_str()),
            Matcher::Suffix(s) => {
                path.ends_with(s.as_str()) || s.strip_prefix('/').is_some_and(|rest| path == rest)
            }
            Matcher::Tokens(tokens) => match_tokens(tokens, path),
        }
    }
}

/// Runs the token sequence over `path` as a set of reachable positions
/// (linear in pattern × path, no backtracking blow-up). Like Go's regexp,
/// the `.` behind `**` does not match a newline.
fn match_tokens(tokens: &[Token], path: &str) -> bool {
    let chars: Vec<char> = path.chars().collect();
    let n = chars.len();
    let mut cur = vec![false; n + 1];
    cur[0] = true;
    for token in tokens {
        let mut next = vec![false; n + 1];
        match token {
            Token::Literal(l) => {
                for p in 0..n {
                    next[p + 1] = cur[p] && chars[p] == *l;
                }
            }
            Token::AnyChar => {
                for p in 0..n {
                    next[p + 1] = cur[p] && chars[p] != '/';
                }
            }
            Token::Class(class) => {
                for p in 0..n {
                    next[p + 1] = cur[p] && class.matches(chars[p]);
                }
            }
            Token::Star => {
                let mut live = false;
                for q in 0..=n {
                    if q > 0 && chars[q - 1] == '/' {
                        live = false;
                    }
                    live |= cur[q];
                    next[q] = live;
                }
            }
            Token::StartAnchor => next[0] = cur[0],
            Token::AnyRest => {
                let mut live = false;
                for q in 0..=n {
                    if q > 0 && chars[q - 1] == '\n' {
                        live = false;
                    }
                    live |= cur[q];
                    next[q] = live;
                }
            }
            Token::AnyDirs => {
                // `(.*/)?`: stay, or run (no newline) up to and past a `/`.
                let mut live = false;
                for q in 0..=n {
                    next[q] |= cur[q];
                    if q < n {
                        live |= cur[q];
                        if chars[q] == '/' && live {
                            next[q + 1] = true;
                        }
                        if chars[q] == '\n' {
                            live = false;
                        }
                    }
                }
            }
        }
        cur = next;
        if !cur.iter().any(|&b| b) {
            return false;
        }
    }
    cur[n]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_clean_matches_go() {
        for (input, want) in [
            ("", "."),
            (".", "."),
            ("./a", "a"),
            ("a//b/", "a/b"),
            ("a/./b", "a/b"),
            ("a/../b", "b"),
            ("../a", "../a"),
            ("a/../../b", "../b"),
            ("/../a", "/a"),
            ("/", "/"),
            ("//a", "/a"),
            ("a/b/..", "a"),
        ] {
            assert_eq!(go_clean(input), want, "clean({input:?})");
        }
    }

    #[test]
    fn path_patterns() {
        let p = PathPattern::new("src/*.rs").unwrap();
        assert!(p.matches("src/main.rs"));
        assert!(!p.matches("src/a/main.rs"));
        assert!(PathPattern::new("/a/**/z").unwrap().matches("a/b/c/z"));
        assert!(PathPattern::new("[a-").is_err());
        assert!(PathPattern::has_wildcards("a*"));
        assert!(!PathPattern::has_wildcards("a.txt"));
    }

    #[test]
    fn compile_picks_docker_shortcuts() {
        assert_eq!(Matcher::compile("a/b.c"), Matcher::Exact("a/b.c".into()));
        assert_eq!(Matcher::compile("a/**"), Matcher::Prefix("a/".into()));
        assert_eq!(Matcher::compile("**/a"), Matcher::Suffix("/a".into()));
        assert_eq!(Matcher::compile("**"), Matcher::Suffix(String::new()));
        assert!(matches!(Matcher::compile("a/*"), Matcher::Tokens(_)));
        assert!(matches!(Matcher::compile("**/a*"), Matcher::Tokens(_)));
    }

    #[test]
    fn validate_follows_filepath_match() {
        for good in [
            "a", "[a]", "[^a]", "[a-z]", "[\\]]", "a]", "\\*", "[[]", "[a-]]",
        ] {
            let r = validate(good);
            if good == "[a-]]" {
                assert!(r.is_err(), "{good}");
            } else {
                assert!(r.is_ok(), "{good}: {r:?}");
            }
        }
        for bad in ["[", "[]", "[]a]", "[-a]", "[a", "a\\", "[a-", "[^]"] {
            assert!(validate(bad).is_err(), "{bad}");
        }
    }
}
