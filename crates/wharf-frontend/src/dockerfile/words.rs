//! Splitting instruction arguments into words the way the Dockerfile
//! parser does before expansion: whitespace separates words except inside
//! quotes or after the escape character; quotes and escapes are kept in
//! the word (the expander removes them later), so that `ENV a="x y"` and
//! `COPY "a b" /c` keep their meaning.

/// A word and where it starts in the text it was split from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Word {
    pub text: String,
    /// Byte offset of the first character.
    pub start: usize,
}

/// Splits on unquoted, unescaped whitespace.
pub(crate) fn split_words(text: &str, escape: char) -> Vec<Word> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut start = None;
    let mut quote: Option<char> = None;
    // Whitespace inside `${...}` (`${V:-a b}`) does not split words.
    let mut braces = 0usize;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if quote != Some('\'') {
            if c == '$' && chars.peek().is_some_and(|(_, n)| *n == '{') {
                braces += 1;
            } else if c == '}' && braces > 0 {
                braces -= 1;
            }
        }
        if quote.is_none() && braces == 0 && c.is_whitespace() {
            if let Some(s) = start.take() {
                words.push(Word {
                    text: std::mem::take(&mut cur),
                    start: s,
                });
            }
            continue;
        }
        start.get_or_insert(i);
        cur.push(c);
        match quote {
            Some('\'') => {
                if c == '\'' {
                    quote = None;
                }
            }
            Some(q) => {
                if c == escape {
                    if let Some((_, n)) = chars.next() {
                        cur.push(n);
                    }
                } else if c == q {
                    quote = None;
                }
            }
            None => {
                if c == escape {
                    if let Some((_, n)) = chars.next() {
                        cur.push(n);
                    }
                } else if c == '\'' || c == '"' {
                    quote = Some(c);
                }
            }
        }
    }
    if let Some(s) = start {
        words.push(Word {
            text: cur,
            start: s,
        });
    }
    words
}

/// The text after the first `count` words (and the whitespace after them),
/// with its offset; `None` when there are fewer words.
pub(crate) fn rest_after_words(text: &str, escape: char, count: usize) -> Option<(usize, &str)> {
    if count == 0 {
        let trimmed = text.trim_start();
        return Some((text.len() - trimmed.len(), trimmed));
    }
    let words = split_words(text, escape);
    let w = words.get(count - 1)?;
    let end = w.start + w.text.len();
    let rest = &text[end..];
    let trimmed = rest.trim_start();
    Some((text.len() - trimmed.len(), trimmed))
}

/// Parses an exec-form JSON array of strings. `None` means "not JSON":
/// the caller falls back to shell form, as Docker does.
pub(crate) fn parse_json_array(text: &str) -> Option<Vec<String>> {
    json_value_array(text).and_then(Result::ok)
}

/// BuildKit's `parseJSON`: `None` when `text` is not a JSON array (shell
/// form); `Some(Err(()))` when it is one but holds something other than
/// strings (`["a", ["b"]]`), which BuildKit rejects.
pub(crate) fn json_value_array(text: &str) -> Option<Result<Vec<String>, ()>> {
    let t = text.trim();
    if !t.starts_with('[') {
        return None;
    }
    let values = serde_json::from_str::<Vec<serde_json::Value>>(t).ok()?;
    Some(
        values
            .into_iter()
            .map(|v| match v {
                serde_json::Value::String(s) => Ok(s),
                _ => Err(()),
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(s: &str, e: char) -> Vec<String> {
        split_words(s, e).into_iter().map(|w| w.text).collect()
    }

    #[test]
    fn quotes_and_escapes_stay_in_words() {
        assert_eq!(
            texts(r#"a="x y" b='p q' c\ d"#, '\\'),
            vec![r#"a="x y""#, "b='p q'", r"c\ d"]
        );
        assert_eq!(texts("  one   two ", '\\'), vec!["one", "two"]);
        assert_eq!(texts(r#"x="a \" b""#, '\\'), vec![r#"x="a \" b""#]);
        assert_eq!(texts("a` b c", '`'), vec!["a` b", "c"]);
        assert_eq!(texts("a=${B:-x y} c", '\\'), vec!["a=${B:-x y}", "c"]);
        let w = split_words("  ab cd", '\\');
        assert_eq!(w[1].start, 5);
    }

    #[test]
    fn rest_after() {
        assert_eq!(
            rest_after_words("KEY  some value", '\\', 1),
            Some((5, "some value"))
        );
        assert_eq!(rest_after_words("KEY", '\\', 1), Some((3, "")));
        assert_eq!(rest_after_words("", '\\', 1), None);
    }

    #[test]
    fn json_arrays() {
        assert_eq!(
            parse_json_array(r#"["a", "b c"]"#),
            Some(vec!["a".into(), "b c".into()])
        );
        assert_eq!(parse_json_array("[]"), Some(vec![]));
        assert_eq!(parse_json_array("[a, b]"), None);
        assert_eq!(parse_json_array(r#"["a", 1]"#), None);
        assert_eq!(parse_json_array("echo [x]"), None);
        assert_eq!(json_value_array(r#"["a", ["b"]]"#), Some(Err(())));
        assert_eq!(json_value_array("[a]"), None);
    }
}
