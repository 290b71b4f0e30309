//! Physical lines → logical instructions: parser directives, line
//! continuations (with the file's escape character), comments and empty
//! lines inside continuations, and here-document bodies.
//!
//! Positions survive the joining: every logical line keeps a map from
//! offsets in its joined text back to (line, column) in the file, so that
//! an error deep inside a continued instruction points at the right place.

use super::words::split_words;
use crate::ast::{Directives, Heredoc, Pos, Warning};
use crate::error::FrontendError;

/// One instruction's text with continuations joined.
#[derive(Debug, Clone)]
pub(crate) struct LogicalLine {
    /// Joined text, starting at the keyword; continuation escapes and the
    /// line breaks after them removed, comment lines inside dropped.
    pub text: String,
    /// (offset in `text`, line, column of that offset).
    segments: Vec<(usize, usize, usize)>,
    pub end_line: usize,
    pub heredocs: Vec<Heredoc>,
}

impl LogicalLine {
    /// File position of a byte offset in [`Self::text`].
    pub fn pos_at(&self, offset: usize) -> Pos {
        let offset = offset.min(self.text.len());
        let idx = self
            .segments
            .iter()
            .rposition(|(o, _, _)| *o <= offset)
            .unwrap_or(0);
        let (seg_off, line, col) = self.segments[idx];
        let chars = self
            .text
            .get(seg_off..offset)
            .map(|s| s.chars().count())
            .unwrap_or(0);
        Pos {
            line,
            column: col + chars,
        }
    }

    /// Position of the keyword.
    pub fn start(&self) -> Pos {
        self.pos_at(0)
    }
}

/// Result of splitting a file into directives and logical lines.
#[derive(Debug)]
pub(crate) struct Lines {
    pub directives: Directives,
    pub lines: Vec<LogicalLine>,
    pub warnings: Vec<Warning>,
}

const HEREDOC_KEYWORDS: &[&str] = &["RUN", "COPY", "ADD"];

/// Parses a `# name=value` directive line.
fn directive(line: &str) -> Option<(String, String)> {
    let rest = line.strip_prefix('#')?.trim_start();
    let name_len = rest
        .char_indices()
        .find(|(i, c)| !(c.is_ascii_alphabetic() || (*i > 0 && c.is_ascii_digit())))
        .map(|(i, _)| i)
        .unwrap_or(rest.len());
    if name_len == 0 {
        return None;
    }
    let (name, after) = rest.split_at(name_len);
    let value = after.trim_start().strip_prefix('=')?.trim();
    if value.is_empty() {
        return None;
    }
    Some((name.to_ascii_lowercase(), value.to_string()))
}

/// Strips a trailing escape (plus trailing blanks) that continues the line.
/// As BuildKit's `lineContinuationRegex`: an escape preceded by another
/// escape (`\\`, ` `` `) is an escaped escape and ends the line; a line
/// holding only the escape continues.
fn strip_continuation(line: &str, escape: char) -> (&str, bool) {
    let trimmed = line.trim_end_matches([' ', '\t']);
    match trimmed.strip_suffix(escape) {
        Some(content) if !content.ends_with(escape) => (content, true),
        _ => (line, false),
    }
}

/// A heredoc marker as BuildKit reads one: `[fd]<<[-][blanks]delim`, the
/// delimiter unquoted the way a shell would (with `\` as the escape,
/// whatever the file's escape is). Returns `(fd, strip_tabs, name,
/// expand)`; any quoting in the delimiter turns off expansion of the body
/// (an escaped quote is not quoting: `<<eo\'f` expands).
pub(crate) fn heredoc_marker(word: &str) -> Option<(Option<u32>, bool, String, bool)> {
    let digits = word.chars().take_while(|c| c.is_ascii_digit()).count();
    let rest = word[digits..].strip_prefix("<<")?;
    let fd = if digits > 0 {
        Some(word[..digits].parse().ok()?)
    } else {
        None
    };
    let (strip_tabs, rest) = match rest.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, rest),
    };
    let rest = rest.trim_start();
    if rest.is_empty() || rest.contains('<') {
        return None;
    }
    let mut name = String::new();
    let mut quoted = false;
    let mut quote: Option<char> = None;
    let mut chars = rest.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, '\'' | '"') => {
                quote = Some(c);
                quoted = true;
            }
            (Some(q), c) if c == q => quote = None,
            (None, '\\') | (Some('"'), '\\') => match chars.next() {
                Some(n) => name.push(n),
                None => break,
            },
            // An unquoted blank would make the delimiter two words.
            (None, c) if c.is_whitespace() => return None,
            (_, c) => name.push(c),
        }
    }
    if quote.is_some() || name.is_empty() {
        return None;
    }
    Some((fd, strip_tabs, name, !quoted))
}

/// The words of an instruction as heredoc markers are looked for in them:
/// `<<`, `<<-` or `3<<` followed by blanks joins the next word
/// (`RUN <<  EOF`, `RUN << -EOF`), as BuildKit's lexer does.
fn heredoc_words(text: &str) -> Vec<super::words::Word> {
    let mut out: Vec<super::words::Word> = Vec::new();
    for w in split_words(text, '\\') {
        if let Some(prev) = out.last_mut() {
            let digits = prev.text.chars().take_while(|c| c.is_ascii_digit()).count();
            let bare = matches!(&prev.text[digits..], "<<" | "<<-");
            let gap = &text[prev.start + prev.text.len()..w.start];
            if bare && gap.chars().all(|c| c == ' ' || c == '\t') {
                prev.text.push_str(gap);
                prev.text.push_str(&w.text);
                continue;
            }
        }
        out.push(w);
    }
    out
}

/// Whether an instruction can take here-documents: RUN, COPY and ADD (also
/// as an ONBUILD trigger), not in JSON form.
fn takes_heredocs(text: &str) -> bool {
    let mut words = text.split_whitespace();
    let mut keyword = words.next().unwrap_or("").to_ascii_uppercase();
    let mut rest = text.trim_start()[keyword.len()..].trim_start();
    if keyword == "ONBUILD" {
        keyword = words.next().unwrap_or("").to_ascii_uppercase();
        rest = rest[keyword.len().min(rest.len())..].trim_start();
    }
    if !HEREDOC_KEYWORDS.contains(&keyword.as_str()) {
        return false;
    }
    let (_, args_at) = super::flags::extract(rest, 0, '\\');
    super::words::json_value_array(&rest[args_at.min(rest.len())..]).is_none()
}

/// Splits `source` into directives and logical lines.
// Long: a single-pass state machine (directives, comments, continuations,
// here-document bodies); its states share the cursor and the pending
// line, which would otherwise be threaded through every helper.
pub(crate) fn split(file: &str, source: &str) -> Result<Lines, FrontendError> {
    let source = source.strip_prefix('\u{feff}').unwrap_or(source);
    let physical: Vec<&str> = source
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    let n = physical.len();
    let mut directives = Directives::default();
    let mut warnings = Vec::new();
    let mut seen = Vec::<String>::new();
    let mut i = 0;

    while i < n {
        let Some((name, value)) = directive(physical[i].trim_start()) else {
            break;
        };
        let pos = Pos {
            line: i + 1,
            column: 1,
        };
        if !matches!(name.as_str(), "syntax" | "escape" | "check") {
            warnings.push(Warning {
                pos,
                message: format!(
                    "unknown parser directive '{name}' is treated as a comment, and so is every directive after it"
                ),
            });
            break;
        }
        if seen.contains(&name) {
            return Err(FrontendError::at(
                file,
                source,
                pos,
                format!("only one '{name}' parser directive can be used"),
            ));
        }
        seen.push(name.clone());
        match name.as_str() {
            "escape" => {
                directives.escape = match value.as_str() {
                    "\\" => '\\',
                    "`" => '`',
                    _ => {
                        return Err(FrontendError::at(
                            file,
                            source,
                            pos,
                            format!("invalid escape token '{value}'"),
                        )
                        .with_hint("the escape directive accepts only \\ or `"))
                    }
                }
            }
            "syntax" => {
                let frontend = value.trim_start_matches("docker.io/");
                if !frontend.starts_with("docker/dockerfile") {
                    warnings.push(Warning {
                        pos,
                        message: format!(
                            "syntax={value} names a custom frontend; Wharf always uses its own Dockerfile front end and builds the file with the standard syntax"
                        ),
                    });
                }
                directives.syntax = Some(value)
            }
            _ => directives.check = Some(value),
        }
        i += 1;
    }

    let escape = directives.escape;
    let mut lines = Vec::new();
    while i < n {
        let first = physical[i];
        let trimmed = first.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            i += 1;
            continue;
        }
        let lead_chars = first.chars().count() - trimmed.chars().count();
        let mut text = String::new();
        let mut segments = Vec::new();
        let mut cur = trimmed;
        let mut cur_line = i;
        let mut col = lead_chars + 1;
        loop {
            let (content, continued) = strip_continuation(cur, escape);
            segments.push((text.len(), cur_line + 1, col));
            text.push_str(content);
            if !continued {
                break;
            }
            let mut next = cur_line + 1;
            while next < n {
                let t = physical[next].trim_start();
                if t.is_empty() {
                    warnings.push(Warning {
                        pos: Pos {
                            line: next + 1,
                            column: 1,
                        },
                        message:
                            "empty continuation line (deprecated; remove it or put a comment there)"
                                .to_string(),
                    });
                    next += 1;
                } else if t.starts_with('#') {
                    next += 1;
                } else {
                    break;
                }
            }
            if next >= n {
                cur_line = n - 1;
                break;
            }
            cur_line = next;
            cur = physical[next];
            col = 1;
        }
        let mut logical = LogicalLine {
            text,
            segments,
            end_line: cur_line + 1,
            heredocs: Vec::new(),
        };
        i = cur_line + 1;

        if logical.text.contains("<<") && takes_heredocs(&logical.text) {
            let markers: Vec<_> = heredoc_words(&logical.text)
                .into_iter()
                .skip(1)
                .filter_map(|w| heredoc_marker(&w.text).map(|m| (m, w.start)))
                .collect();
            for ((fd, strip_tabs, name, expand), word_start) in markers {
                let mut content = String::new();
                let mut closed = false;
                while i < n {
                    let raw = physical[i];
                    let line = if strip_tabs {
                        raw.trim_start_matches('\t')
                    } else {
                        raw
                    };
                    i += 1;
                    if line == name {
                        closed = true;
                        break;
                    }
                    content.push_str(line);
                    content.push('\n');
                }
                if !closed {
                    return Err(FrontendError::at(
                        file,
                        source,
                        logical.pos_at(word_start),
                        format!("here-document <<{name} is never closed"),
                    )
                    .with_hint(format!(
                        "end the here-document with a line that holds only {name}"
                    )));
                }
                logical.end_line = i;
                logical.heredocs.push(Heredoc {
                    name,
                    content,
                    expand,
                    strip_tabs,
                    fd,
                });
            }
        }
        lines.push(logical);
    }

    Ok(Lines {
        directives,
        lines,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directives_then_instructions() {
        let src = "# syntax=docker/dockerfile:1\n# escape=`\n# check=skip=all\nFROM x\n";
        let l = split("Dockerfile", src).unwrap();
        assert!(l.warnings.is_empty());
        assert_eq!(l.directives.escape, '`');
        assert_eq!(l.directives.syntax.as_deref(), Some("docker/dockerfile:1"));
        assert_eq!(l.directives.check.as_deref(), Some("skip=all"));
        assert_eq!(l.lines.len(), 1);
        assert_eq!(l.lines[0].start(), Pos { line: 4, column: 1 });
    }

    #[test]
    fn custom_frontends_are_reported() {
        let l = split("Dockerfile", "# syntax=example.com/my/frontend:1\nFROM x\n").unwrap();
        assert!(l.warnings[0].message.contains("custom frontend"));
    }

    #[test]
    fn directive_after_comment_is_a_comment() {
        let src = "# hello\n# escape=`\nFROM x\n";
        let l = split("Dockerfile", src).unwrap();
        assert_eq!(l.directives.escape, '\\');
    }

    #[test]
    fn continuations_comments_and_empty_lines() {
        let src =
            "FROM x\nRUN echo a \\\n  # a comment\n\n    && echo b \\\n    && echo c\nCMD x\n";
        let l = split("Dockerfile", src).unwrap();
        assert_eq!(l.lines.len(), 3);
        let run = &l.lines[1];
        assert_eq!(run.text, "RUN echo a     && echo b     && echo c");
        assert_eq!(run.end_line, 6);
        assert_eq!(l.warnings.len(), 1);
        assert_eq!(l.warnings[0].pos.line, 4);
        let off = run.text.find("&& echo c").unwrap();
        assert_eq!(run.pos_at(off), Pos { line: 6, column: 5 });
        assert_eq!(l.lines[2].start().line, 7);
    }

    #[test]
    fn backtick_escape_keeps_backslashes() {
        let src = "# escape=`\nFROM x\nRUN dir C:\\ `\n  && echo done\n";
        let l = split("Dockerfile", src).unwrap();
        assert_eq!(l.lines[1].text, "RUN dir C:\\   && echo done");
    }

    #[test]
    fn heredocs_several_on_one_line() {
        let src = "FROM x\nRUN <<A cat && 3<<-'B' cat\nline a\nA\n\tline b\n\tB\nCMD y\n";
        let l = split("Dockerfile", src).unwrap();
        let run = &l.lines[1];
        assert_eq!(run.heredocs.len(), 2);
        assert_eq!(run.heredocs[0].name, "A");
        assert_eq!(run.heredocs[0].content, "line a\n");
        assert!(run.heredocs[0].expand);
        assert_eq!(run.heredocs[1].name, "B");
        assert_eq!(run.heredocs[1].fd, Some(3));
        assert_eq!(run.heredocs[1].content, "line b\n");
        assert!(!run.heredocs[1].expand);
        assert!(run.heredocs[1].strip_tabs);
        assert_eq!(run.end_line, 6);
        assert_eq!(l.lines[2].text, "CMD y");
    }

    #[test]
    fn unclosed_heredoc_is_positioned() {
        let src = "FROM x\nRUN cat <<EOF\nabc\n";
        let e = split("Dockerfile", src).unwrap_err();
        assert_eq!(e.pos, Some(Pos { line: 2, column: 9 }));
        assert!(e.message.contains("never closed"));
    }

    #[test]
    fn markers() {
        assert_eq!(
            heredoc_marker("<<EOF"),
            Some((None, false, "EOF".into(), true))
        );
        assert_eq!(
            heredoc_marker("<<\"EOF\""),
            Some((None, false, "EOF".into(), false))
        );
        assert_eq!(
            heredoc_marker("<<eo\\'f"),
            Some((None, false, "eo'f".into(), true))
        );
        assert_eq!(
            heredoc_marker("<<  -EOF"),
            Some((None, false, "-EOF".into(), true))
        );
        assert_eq!(heredoc_marker("<<<x"), None);
        assert_eq!(heredoc_marker("<<"), None);
        assert_eq!(heredoc_marker("a<<EOF"), None);
    }
}
