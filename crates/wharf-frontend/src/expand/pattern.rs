//! Shell patterns of `${V#p}`, `${V%p}` and `${V/p/r}` as BuildKit reads
//! them (`convertShellPatternToRegex`): compiled to a regular expression,
//! suffixes trimmed by reversing pattern and value, replacements with Go's
//! `ReplaceAllString` rules, every result held to the expander's limit.

use super::MAX_EXPANDED_LEN;
use regex::Regex;

pub(super) fn too_long() -> String {
    format!("the expanded value is longer than {MAX_EXPANDED_LEN} bytes (1 MiB)")
}

/// BuildKit's `convertShellPatternToRegex`: `*` and `?` are wildcards,
/// `\*`, `\?`, `\\` literal, `\/` and `\}` drop the backslash, any other
/// escape is an error, and everything else is literal.
pub(super) fn pattern_regex(pattern: &str, greedy: bool, anchored: bool) -> Result<Regex, String> {
    let mut re = String::with_capacity(pattern.len() + 4);
    if anchored {
        re.push('^');
    }
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' => re.push_str(if greedy { ".*" } else { ".*?" }),
            '?' => re.push('.'),
            '\\' => {
                if matches!(chars.peek(), Some('}' | '/')) {
                    continue;
                }
                match chars.next() {
                    Some(e @ ('*' | '?' | '\\')) => {
                        re.push('\\');
                        re.push(e);
                    }
                    other => {
                        return Err(format!(
                            "invalid pattern ({pattern}) in substitution: invalid escape '\\{}' (patterns escape only *, ? and \\)",
                            other.map(String::from).unwrap_or_default()
                        ))
                    }
                }
            }
            c => re.push_str(&regex::escape(c.encode_utf8(&mut [0u8; 4]))),
        }
    }
    Regex::new(&re).map_err(|e| format!("invalid pattern ({pattern}) in substitution: {e}"))
}

pub(super) fn trim_prefix(pattern: &str, value: &str, greedy: bool) -> Result<String, String> {
    let re = pattern_regex(pattern, greedy, true)?;
    Ok(match re.find(value) {
        Some(m) => value[m.end()..].to_string(),
        None => value.to_string(),
    })
}

/// BuildKit reverses both the pattern (keeping escapes before the
/// character they escape) and the value, and trims a prefix.
pub(super) fn trim_suffix(pattern: &str, value: &str, greedy: bool) -> Result<String, String> {
    let p: Vec<char> = pattern.chars().collect();
    let mut rev = vec!['\0'; p.len()];
    let last = p.len().saturating_sub(1);
    let mut i = 0;
    while i < p.len() {
        let out = last - i;
        if p[i] == '\\' && i != last {
            rev[out - 1] = '\\';
            rev[out] = p[i + 1];
            i += 2;
        } else {
            rev[out] = p[i];
            i += 1;
        }
    }
    let rev_pattern: String = rev.into_iter().collect();
    let rev_value: String = value.chars().rev().collect();
    Ok(trim_prefix(&rev_pattern, &rev_value, greedy)?
        .chars()
        .rev()
        .collect())
}

/// Go's `ReplaceAllString` / first-match replacement (`$name` in the
/// replacement names a group, as there), refusing results over the limit.
pub(super) fn replace_capped(
    re: &Regex,
    value: &str,
    replacement: &str,
    all: bool,
) -> Result<String, String> {
    let mut out = String::new();
    let mut last = 0;
    for caps in re.captures_iter(value) {
        let m = caps.get(0).expect("group 0 always matches");
        out.push_str(&value[last..m.start()]);
        caps.expand(replacement, &mut out);
        last = m.end();
        if out.len() > MAX_EXPANDED_LEN {
            return Err(too_long());
        }
        if !all {
            break;
        }
    }
    out.push_str(&value[last..]);
    if out.len() > MAX_EXPANDED_LEN {
        return Err(too_long());
    }
    Ok(out)
}
