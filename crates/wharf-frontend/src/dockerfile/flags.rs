//! Instruction flags (`--name=value`, `--name`) as BuildKit reads them:
//! leading words starting with `--`, up to the first other word or a bare
//! `--`. Each instruction declares the flags it accepts; anything else is
//! an error with a suggestion.

use super::words::split_words;
use crate::suggest::closest;

/// How a flag may be given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FlagKind {
    /// `--link`, `--link=true|false`.
    Bool,
    /// `--from=x`, at most once.
    Single,
    /// `--mount=...`, any number of times.
    Multi,
}

/// One flag as written.
#[derive(Debug, Clone)]
pub(crate) struct RawFlag {
    pub name: String,
    pub value: Option<String>,
    /// Offset of the leading `--` in the instruction text.
    pub offset: usize,
}

/// A flag problem and the offset it is about.
#[derive(Debug, Clone)]
pub(crate) struct FlagError {
    pub offset: usize,
    pub message: String,
    pub hint: Option<String>,
}

/// Flags of one instruction after validation.
#[derive(Debug, Default)]
pub(crate) struct Flags {
    flags: Vec<RawFlag>,
}

/// Splits leading flags off `text` (which starts after the keyword, at
/// `base` in the instruction text). Returns the flags and the offset,
/// relative to `text`, where the arguments start.
pub(crate) fn extract(text: &str, base: usize, escape: char) -> (Vec<RawFlag>, usize) {
    let mut flags = Vec::new();
    let mut args_start = text.len() - text.trim_start().len();
    for w in split_words(text, escape) {
        if !w.text.starts_with("--") {
            args_start = w.start;
            break;
        }
        args_start = w.start + w.text.len();
        if w.text == "--" {
            break;
        }
        let body = &w.text[2..];
        let (name, value) = match body.split_once('=') {
            Some((n, v)) => (n.to_string(), Some(v.to_string())),
            None => (body.to_string(), None),
        };
        flags.push(RawFlag {
            name,
            value,
            offset: base + w.start,
        });
    }
    let rest = &text[args_start.min(text.len())..];
    let args_start = args_start + (rest.len() - rest.trim_start().len());
    (flags, args_start)
}

impl Flags {
    /// Checks `raw` against the accepted `spec` of `keyword`.
    pub fn validate(
        keyword: &str,
        raw: Vec<RawFlag>,
        spec: &[(&str, FlagKind)],
    ) -> Result<Flags, FlagError> {
        for (i, f) in raw.iter().enumerate() {
            let Some((_, kind)) = spec.iter().find(|(n, _)| *n == f.name) else {
                let names: Vec<&str> = spec.iter().map(|(n, _)| *n).collect();
                let hint = match closest(&f.name, names.iter().copied()) {
                    Some(s) => Some(format!("did you mean --{s}?")),
                    None if names.is_empty() => Some(format!("{keyword} takes no flags")),
                    None => Some(format!(
                        "{keyword} accepts {}",
                        names
                            .iter()
                            .map(|n| format!("--{n}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
                };
                return Err(FlagError {
                    offset: f.offset,
                    message: format!("unknown flag --{} for {keyword}", f.name),
                    hint,
                });
            };
            match kind {
                FlagKind::Bool => {
                    if let Some(v) = &f.value {
                        if !matches!(v.to_ascii_lowercase().as_str(), "true" | "false") {
                            return Err(FlagError {
                                offset: f.offset,
                                message: format!("--{} takes true or false, not {v:?}", f.name),
                                hint: None,
                            });
                        }
                    }
                }
                FlagKind::Single | FlagKind::Multi => {
                    if f.value.is_none() {
                        return Err(FlagError {
                            offset: f.offset,
                            message: format!("missing a value on flag --{}", f.name),
                            hint: Some(format!("write --{}=<value>", f.name)),
                        });
                    }
                }
            }
            if *kind != FlagKind::Multi && raw[..i].iter().any(|p| p.name == f.name) {
                return Err(FlagError {
                    offset: f.offset,
                    message: format!("flag --{} is given more than once", f.name),
                    hint: None,
                });
            }
        }
        Ok(Flags { flags: raw })
    }

    /// Value of a single-valued flag.
    pub fn single(&self, name: &str) -> Option<&RawFlag> {
        self.flags.iter().find(|f| f.name == name)
    }

    /// Value of a single-valued flag, as text.
    pub fn value(&self, name: &str) -> Option<String> {
        self.single(name).and_then(|f| f.value.clone())
    }

    /// Every value of a repeatable flag, in order.
    pub fn multi(&self, name: &str) -> Vec<&RawFlag> {
        self.flags.iter().filter(|f| f.name == name).collect()
    }

    /// A boolean flag: absent → false; `--x` → true; `--x=false` → false.
    pub fn bool(&self, name: &str) -> bool {
        self.single(name).is_some_and(|f| {
            f.value
                .as_deref()
                .is_none_or(|v| v.eq_ignore_ascii_case("true"))
        })
    }

    /// A boolean flag with three states (absent, true, false).
    pub fn opt_bool(&self, name: &str) -> Option<bool> {
        self.single(name).map(|_| self.bool(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extracts_leading_flags() {
        let (flags, start) = extract(" --from=build --link  a b", 4, '\\');
        assert_eq!(flags.len(), 2);
        assert_eq!(flags[0].name, "from");
        assert_eq!(flags[0].value.as_deref(), Some("build"));
        assert_eq!(flags[0].offset, 5);
        assert_eq!(flags[1].value, None);
        assert_eq!(&" --from=build --link  a b"[start..], "a b");
        let (flags, start) = extract(" -- --notaflag", 0, '\\');
        assert!(flags.is_empty());
        assert_eq!(&" -- --notaflag"[start..], "--notaflag");
    }

    #[test]
    fn validates() {
        let spec = [("from", FlagKind::Single), ("link", FlagKind::Bool)];
        let (raw, _) = extract("--form=x a b", 0, '\\');
        let e = Flags::validate("COPY", raw, &spec).unwrap_err();
        assert_eq!(e.message, "unknown flag --form for COPY");
        assert_eq!(e.hint.as_deref(), Some("did you mean --from?"));
        let (raw, _) = extract("--link=maybe a b", 0, '\\');
        assert!(Flags::validate("COPY", raw, &spec).is_err());
        let (raw, _) = extract("--from=a --from=b a b", 0, '\\');
        assert!(Flags::validate("COPY", raw, &spec).is_err());
        let (raw, _) = extract("--from a b", 0, '\\');
        assert!(Flags::validate("COPY", raw, &spec).is_err());
        let (raw, _) = extract("--link=false a b", 0, '\\');
        let f = Flags::validate("COPY", raw, &spec).unwrap();
        assert!(!f.bool("link"));
        assert_eq!(f.opt_bool("link"), Some(false));
    }
}
