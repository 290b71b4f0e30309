//! One typed instruction per keyword: flags checked against what each
//! instruction accepts, arguments split and validated, positions kept.
//! Values stay unexpanded; the planner expands them.

use super::flags::{self, FlagError, FlagKind, Flags};
use super::lines::{heredoc_marker, LogicalLine};
use super::mount::parse_mount;
use super::words::{json_value_array, parse_json_array, split_words};
use crate::ast::*;
use crate::duration::parse_duration;
use crate::error::FrontendError;
use crate::suggest::closest;

pub(crate) struct Ctx<'a> {
    pub file: &'a str,
    pub source: &'a str,
    pub escape: char,
}

type Result<T> = std::result::Result<T, FrontendError>;

const FROM_FLAGS: &[(&str, FlagKind)] = &[("platform", FlagKind::Single)];
const RUN_FLAGS: &[(&str, FlagKind)] = &[
    ("mount", FlagKind::Multi),
    ("network", FlagKind::Single),
    ("security", FlagKind::Single),
];
const COPY_FLAGS: &[(&str, FlagKind)] = &[
    ("from", FlagKind::Single),
    ("chown", FlagKind::Single),
    ("chmod", FlagKind::Single),
    ("link", FlagKind::Bool),
    ("parents", FlagKind::Bool),
    ("exclude", FlagKind::Multi),
];
const ADD_FLAGS: &[(&str, FlagKind)] = &[
    ("chown", FlagKind::Single),
    ("chmod", FlagKind::Single),
    ("link", FlagKind::Bool),
    ("exclude", FlagKind::Multi),
    ("checksum", FlagKind::Single),
    ("keep-git-dir", FlagKind::Bool),
    ("unpack", FlagKind::Bool),
];
const HEALTHCHECK_FLAGS: &[(&str, FlagKind)] = &[
    ("interval", FlagKind::Single),
    ("timeout", FlagKind::Single),
    ("start-period", FlagKind::Single),
    ("start-interval", FlagKind::Single),
    ("retries", FlagKind::Single),
];

/// Strips one pair of surrounding quotes from a flag value that is not
/// expanded later (`--network="none"`).
fn unquote(v: &str) -> &str {
    let b = v.as_bytes();
    if b.len() >= 2 && (b[0] == b'"' || b[0] == b'\'') && b[b.len() - 1] == b[0] {
        &v[1..v.len() - 1]
    } else {
        v
    }
}

impl Ctx<'_> {
    fn err(&self, line: &LogicalLine, offset: usize, msg: impl Into<String>) -> FrontendError {
        FrontendError::at(self.file, self.source, line.pos_at(offset), msg)
    }

    fn flag_err(&self, line: &LogicalLine, e: FlagError) -> FrontendError {
        let err = self.err(line, e.offset, e.message);
        match e.hint {
            Some(h) => err.with_hint(h),
            None => err,
        }
    }

    /// Parses one logical line into a located instruction.
    pub fn instruction(
        &self,
        line: &LogicalLine,
        warnings: &mut Vec<Warning>,
    ) -> Result<Located<Instruction>> {
        let node = self.parse_at(line, 0, false, warnings)?;
        Ok(Located {
            node,
            pos: line.start(),
            end_line: line.end_line,
            source: line.text.trim_end().to_string(),
        })
    }

    // Long: one arm per instruction keyword, each a few lines; the match
    // is the Dockerfile grammar in one place.
    fn parse_at(
        &self,
        line: &LogicalLine,
        start: usize,
        in_onbuild: bool,
        warnings: &mut Vec<Warning>,
    ) -> Result<Instruction> {
        let text = &line.text[start..];
        let kw_len = text.find(char::is_whitespace).unwrap_or(text.len());
        let keyword_raw = &text[..kw_len];
        let keyword = keyword_raw.to_ascii_uppercase();
        if !KEYWORDS.contains(&keyword.as_str()) {
            let mut e = self.err(line, start, format!("unknown instruction {keyword_raw}"));
            if let Some(s) = closest(keyword_raw, KEYWORDS.iter().copied()) {
                e = e.with_hint(format!("did you mean {s}?"));
            } else if keyword_raw.chars().any(|c| c.is_ascii_lowercase()) {
                e = e.with_hint(format!(
                    "if this line belongs to the instruction above, end the previous line with {}",
                    self.escape
                ));
            } else {
                e = e.with_hint(format!("instructions are {}", KEYWORDS.join(", ")));
            }
            return Err(e);
        }
        if in_onbuild && matches!(keyword.as_str(), "ONBUILD" | "FROM" | "MAINTAINER") {
            return Err(self.err(
                line,
                start,
                format!("{keyword} isn't allowed as an ONBUILD trigger"),
            ));
        }
        let after_kw = start + kw_len;
        let (raw_flags, args_rel) = flags::extract(&line.text[after_kw..], after_kw, self.escape);
        let args_off = after_kw + args_rel;
        let args = line.text[args_off..].trim_end();

        let spec: &[(&str, FlagKind)] = match keyword.as_str() {
            "FROM" => FROM_FLAGS,
            "RUN" => RUN_FLAGS,
            "COPY" => COPY_FLAGS,
            "ADD" => ADD_FLAGS,
            "HEALTHCHECK" => HEALTHCHECK_FLAGS,
            _ => &[],
        };
        if keyword == "ADD" {
            if let Some(f) = raw_flags.iter().find(|f| f.name == "from") {
                return Err(self
                    .err(line, f.offset, "ADD does not accept --from")
                    .with_hint("use COPY --from=<stage> to copy from another stage or image"));
            }
        }
        let flags =
            Flags::validate(&keyword, raw_flags, spec).map_err(|e| self.flag_err(line, e))?;

        let need_args = |what: &str| -> Result<()> {
            if args.is_empty() {
                Err(self
                    .err(line, start, format!("{keyword} requires {what}"))
                    .with_hint(usage(&keyword)))
            } else {
                Ok(())
            }
        };

        Ok(match keyword.as_str() {
            "FROM" => {
                need_args("an image: FROM <image> [AS <name>]")?;
                let words = split_words(args, self.escape);
                let name = match words.len() {
                    1 => None,
                    3 if words[1].text.eq_ignore_ascii_case("as") => {
                        let n = &words[2].text;
                        let valid = n.starts_with(|c: char| c.is_ascii_alphabetic())
                            && n.chars()
                                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
                        if !valid {
                            return Err(self
                                .err(
                                    line,
                                    args_off + words[2].start,
                                    format!("invalid stage name {n:?}"),
                                )
                                .with_hint("stage names start with a letter and contain only letters, digits, '-', '_' and '.'"));
                        }
                        Some(n.to_ascii_lowercase())
                    }
                    _ => {
                        let at = words.get(1).map(|w| w.start).unwrap_or(0);
                        return Err(self
                            .err(
                                line,
                                args_off + at,
                                "FROM takes an image and an optional AS <name>",
                            )
                            .with_hint(usage("FROM")));
                    }
                };
                Instruction::From(From {
                    image: words[0].text.clone(),
                    name,
                    platform: flags.value("platform"),
                })
            }
            "RUN" => {
                need_args("a command")?;
                let mut mounts = Vec::new();
                for f in flags.multi("mount") {
                    let v = f.value.as_deref().unwrap_or("");
                    let m = parse_mount(unquote(v))
                        .map_err(|m| self.err(line, f.offset, format!("invalid --mount: {m}")))?;
                    mounts.push(m);
                }
                let network = match flags.single("network") {
                    None => None,
                    Some(f) => Some(match unquote(f.value.as_deref().unwrap_or("")) {
                        "default" => Network::Default,
                        "none" => Network::None,
                        "host" => Network::Host,
                        other => {
                            return Err(self.err(
                                line,
                                f.offset,
                                format!("--network={other} is not one of default, none, host"),
                            ))
                        }
                    }),
                };
                let security = match flags.single("security") {
                    None => None,
                    Some(f) => Some(match unquote(f.value.as_deref().unwrap_or("")) {
                        "sandbox" => Security::Sandbox,
                        "insecure" => Security::Insecure,
                        other => {
                            return Err(self.err(
                                line,
                                f.offset,
                                format!("--security={other} is not one of sandbox, insecure"),
                            ))
                        }
                    }),
                };
                let command = if line.heredocs.is_empty() {
                    self.command(line, args_off, args, "RUN", false, warnings)?
                } else {
                    Command::Shell(args.to_string())
                };
                Instruction::Run(Run {
                    command,
                    heredocs: line.heredocs.clone(),
                    mounts,
                    network,
                    security,
                })
            }
            "CMD" => Instruction::Cmd {
                command: self.command(line, args_off, args, "CMD", true, warnings)?,
            },
            "ENTRYPOINT" => Instruction::Entrypoint {
                command: self.command(line, args_off, args, "ENTRYPOINT", true, warnings)?,
            },
            "SHELL" => match parse_json_array(args) {
                Some(shell) if !shell.is_empty() => Instruction::Shell { shell },
                _ => {
                    return Err(self
                        .err(line, args_off, "SHELL requires the arguments in JSON form")
                        .with_hint(r#"for example SHELL ["powershell", "-Command"]"#))
                }
            },
            "COPY" | "ADD" => {
                let copy = self.copy(line, args_off, args, &keyword, &flags)?;
                if keyword == "COPY" {
                    Instruction::Copy(copy)
                } else {
                    Instruction::Add {
                        copy,
                        options: AddOptions {
                            checksum: flags.value("checksum"),
                            keep_git_dir: flags.bool("keep-git-dir"),
                            unpack: flags.opt_bool("unpack"),
                        },
                    }
                }
            }
            "ENV" => Instruction::Env {
                vars: self.name_values(line, args_off, args, "ENV", warnings)?,
            },
            "LABEL" => Instruction::Label {
                labels: self.name_values(line, args_off, args, "LABEL", warnings)?,
            },
            "ARG" => {
                need_args("a name: ARG <name>[=<default>]")?;
                let mut decls = Vec::new();
                for w in split_words(args, self.escape) {
                    let (name, default) = match w.text.split_once('=') {
                        Some((n, d)) => (n.to_string(), Some(d.to_string())),
                        None => (w.text.clone(), None),
                    };
                    if name.is_empty() || name.contains(['$', '"', '\'']) {
                        return Err(self
                            .err(
                                line,
                                args_off + w.start,
                                format!("invalid ARG name {name:?}"),
                            )
                            .with_hint(usage("ARG")));
                    }
                    decls.push(ArgDecl { name, default });
                }
                Instruction::Arg { args: decls }
            }
            "EXPOSE" => {
                need_args("at least one port: EXPOSE <port>[/<protocol>] ...")?;
                Instruction::Expose {
                    ports: split_words(args, self.escape)
                        .into_iter()
                        .map(|w| w.text)
                        .collect(),
                }
            }
            "VOLUME" => {
                need_args("at least one path")?;
                let paths = match json_value_array(args) {
                    Some(Ok(p)) => p,
                    Some(Err(())) => return Err(self.not_string_array(line, args_off, "VOLUME")),
                    None => split_words(args, self.escape)
                        .into_iter()
                        .map(|w| w.text)
                        .collect(),
                };
                if paths.iter().any(|p| p.trim().is_empty()) || paths.is_empty() {
                    return Err(self.err(line, args_off, "VOLUME paths cannot be empty"));
                }
                Instruction::Volume { paths }
            }
            "USER" => {
                need_args("a user: USER <user>[:<group>]")?;
                let words = split_words(args, self.escape);
                if words.len() != 1 {
                    return Err(self
                        .err(
                            line,
                            args_off + words[1].start,
                            "USER takes exactly one argument",
                        )
                        .with_hint(usage("USER")));
                }
                Instruction::User {
                    user: words[0].text.clone(),
                }
            }
            "WORKDIR" => {
                need_args("a path")?;
                Instruction::Workdir {
                    path: args.to_string(),
                }
            }
            "STOPSIGNAL" => {
                need_args("a signal")?;
                let words = split_words(args, self.escape);
                if words.len() != 1 {
                    return Err(self.err(
                        line,
                        args_off + words[1].start,
                        "STOPSIGNAL takes exactly one signal",
                    ));
                }
                Instruction::Stopsignal {
                    signal: words[0].text.clone(),
                }
            }
            "MAINTAINER" => {
                need_args("a name")?;
                warnings.push(Warning {
                    pos: line.pos_at(start),
                    message:
                        "MAINTAINER is deprecated; use LABEL org.opencontainers.image.authors=..."
                            .to_string(),
                });
                Instruction::Maintainer {
                    name: args.to_string(),
                }
            }
            "HEALTHCHECK" => self.healthcheck(line, start, args_off, args, &flags, warnings)?,
            "ONBUILD" => {
                need_args("an instruction")?;
                let parsed = self.parse_at(line, args_off, true, warnings)?;
                // A trigger's here-documents travel with it (the image
                // config holds the text that is parsed when it fires).
                let mut trigger = args.to_string();
                for h in &line.heredocs {
                    trigger.push('\n');
                    trigger.push_str(&h.content);
                    trigger.push_str(&h.name);
                }
                Instruction::Onbuild {
                    trigger,
                    parsed: Box::new(parsed),
                }
            }
            _ => unreachable!("KEYWORDS lists every keyword handled above"),
        })
    }

    /// Exec form when the arguments parse as a JSON string array, shell
    /// form otherwise (with a warning when it looked like JSON).
    fn command(
        &self,
        line: &LogicalLine,
        args_off: usize,
        args: &str,
        keyword: &str,
        allow_empty_exec: bool,
        warnings: &mut Vec<Warning>,
    ) -> Result<Command> {
        if args.is_empty() {
            return Err(self
                .err(line, args_off, format!("{keyword} requires a command"))
                .with_hint(usage(keyword)));
        }
        match json_value_array(args) {
            Some(Ok(argv)) => {
                if argv.is_empty() && !allow_empty_exec {
                    return Err(self.err(line, args_off, format!("{keyword} [] has no command")));
                }
                return Ok(Command::Exec(argv));
            }
            Some(Err(())) => return Err(self.not_string_array(line, args_off, keyword)),
            None => {}
        }
        if args.starts_with('[') {
            warnings.push(Warning {
                pos: line.pos_at(args_off),
                message: format!(
                    "{keyword} arguments start with '[' but are not a JSON array of strings; running them as a shell command"
                ),
            });
        }
        Ok(Command::Shell(args.to_string()))
    }

    /// A valid JSON array holding something other than strings: BuildKit
    /// rejects it rather than run it as a shell command.
    fn not_string_array(
        &self,
        line: &LogicalLine,
        args_off: usize,
        keyword: &str,
    ) -> FrontendError {
        self.err(
            line,
            args_off,
            format!("{keyword}: when using JSON array syntax, arrays must be comprised of strings only"),
        )
        .with_hint(format!(
            r#"write every element as a string, e.g. {keyword} ["echo", "hello"], or drop the brackets for shell form"#
        ))
    }

    /// A source or destination whose quote is never closed: say so (BuildKit
    /// rejects it too, when it expands the word) rather than report the
    /// arguments that the open quote swallowed as missing.
    fn check_quotes_closed(
        &self,
        line: &LogicalLine,
        args_off: usize,
        words: &[super::words::Word],
    ) -> Result<()> {
        let expander = crate::expand::Expander {
            escape: self.escape,
        };
        for w in words {
            if let Err(e) = expander.word(&w.text, crate::expand::Mode::Raw, &|_| None) {
                if e.message.starts_with("unterminated") {
                    return Err(self
                        .err(line, args_off + w.start + e.offset, format!("{} in {}", e.message, w.text))
                        .with_hint(format!(
                            "close the quote, or write the character as {}\" or {}' to mean it literally",
                            self.escape, self.escape
                        )));
                }
            }
        }
        Ok(())
    }

    fn copy(
        &self,
        line: &LogicalLine,
        args_off: usize,
        args: &str,
        keyword: &str,
        flags: &Flags,
    ) -> Result<Copy> {
        let (mut words, json) = match json_value_array(args) {
            Some(Ok(list)) => (list, true),
            Some(Err(())) => return Err(self.not_string_array(line, args_off, keyword)),
            None => {
                let words = split_words(args, self.escape);
                self.check_quotes_closed(line, args_off, &words)?;
                (words.into_iter().map(|w| w.text).collect(), false)
            }
        };
        let mut heredocs = Vec::new();
        if !json {
            for w in &mut words {
                if let Some((_, _, name, _)) = heredoc_marker(w) {
                    if let Some(h) = line.heredocs.iter().find(|h| h.name == name) {
                        heredocs.push(h.clone());
                        *w = format!("<<{name}");
                    }
                }
            }
        }
        if words.len() < 2 {
            let message = if words.is_empty() {
                format!("{keyword} requires at least two arguments: one or more sources and a destination")
            } else {
                format!("{keyword} requires at least two arguments, but only one was provided; the destination could not be determined")
            };
            let quoted_blank = words.first().is_some_and(|w| {
                !json && w.contains(['"', '\'']) && w.contains(char::is_whitespace)
            });
            let hint = if quoted_blank {
                format!("quotes make {} one word (a path with a space); close the quote before the destination, or use JSON form: {keyword} [\"src path\", \"/dest/\"]", words[0])
            } else {
                usage(keyword)
            };
            return Err(self.err(line, args_off, message).with_hint(hint));
        }
        let dest = words.pop().unwrap_or_default();
        if dest.starts_with("<<") && !json {
            return Err(self.err(
                line,
                args_off,
                format!("the destination of {keyword} cannot be a here-document"),
            ));
        }
        Ok(Copy {
            sources: words,
            dest,
            heredocs,
            from: flags.value("from"),
            chown: flags.value("chown"),
            chmod: flags.value("chmod"),
            link: flags.bool("link"),
            parents: flags.bool("parents"),
            exclude: flags
                .multi("exclude")
                .into_iter()
                .filter_map(|f| f.value.clone())
                .collect(),
            json,
        })
    }

    /// `KEY=value ...` or the legacy `KEY value` form.
    fn name_values(
        &self,
        line: &LogicalLine,
        args_off: usize,
        args: &str,
        keyword: &str,
        warnings: &mut Vec<Warning>,
    ) -> Result<Vec<(String, String)>> {
        if args.is_empty() {
            return Err(self
                .err(
                    line,
                    args_off,
                    format!("{keyword} requires at least one KEY=value"),
                )
                .with_hint(usage(keyword)));
        }
        let words = split_words(args, self.escape);
        if !words[0].text.contains('=') {
            // Legacy form: one pair, value is the rest of the line.
            let value = super::words::rest_after_words(args, self.escape, 1)
                .map(|(_, r)| r.to_string())
                .unwrap_or_default();
            if value.is_empty() {
                return Err(self
                    .err(
                        line,
                        args_off,
                        format!("{keyword} {} has no value", words[0].text),
                    )
                    .with_hint(format!("write {keyword} {}=<value>", words[0].text)));
            }
            warnings.push(Warning {
                pos: line.pos_at(args_off),
                message: format!("legacy '{keyword} key value' form; prefer '{keyword} key=value'"),
            });
            return Ok(vec![(words[0].text.clone(), value)]);
        }
        let mut pairs = Vec::new();
        for w in words {
            match w.text.split_once('=') {
                Some((k, v)) if !k.is_empty() => pairs.push((k.to_string(), v.to_string())),
                Some(_) => {
                    return Err(self.err(
                        line,
                        args_off + w.start,
                        format!("{keyword} name before '=' cannot be empty"),
                    ))
                }
                None => {
                    return Err(self
                        .err(
                            line,
                            args_off + w.start,
                            format!("can't find = in {:?}", w.text),
                        )
                        .with_hint(format!(
                            "every item must be of the form name=value (quote values with spaces: {keyword} a=\"b c\")"
                        )))
                }
            }
        }
        Ok(pairs)
    }

    fn healthcheck(
        &self,
        line: &LogicalLine,
        start: usize,
        args_off: usize,
        args: &str,
        flags: &Flags,
        warnings: &mut Vec<Warning>,
    ) -> Result<Instruction> {
        let first = args.split_whitespace().next().unwrap_or("");
        match first.to_ascii_uppercase().as_str() {
            "NONE" => {
                let any_flag = HEALTHCHECK_FLAGS.iter().find_map(|(n, _)| flags.single(n));
                if let Some(f) = any_flag {
                    return Err(self.err(line, f.offset, "HEALTHCHECK NONE takes no options"));
                }
                if args.split_whitespace().count() > 1 {
                    return Err(self.err(line, args_off, "HEALTHCHECK NONE takes no arguments"));
                }
                Ok(Instruction::Healthcheck(Healthcheck::None))
            }
            "CMD" => {
                let cmd_off = args_off + first.len();
                let rest = args[first.len()..].trim_start();
                let rest_off = cmd_off + (args[first.len()..].len() - rest.len());
                let command =
                    self.command(line, rest_off, rest, "HEALTHCHECK CMD", false, warnings)?;
                let mut durations = Vec::new();
                for name in ["interval", "timeout", "start-period", "start-interval"] {
                    let v = match flags.single(name) {
                        Some(f) => {
                            let raw = unquote(f.value.as_deref().unwrap_or(""));
                            match parse_duration(raw) {
                                Some(ns) if ns == 0 || ns >= 1_000_000 => Some(raw.to_string()),
                                Some(_) => {
                                    return Err(self.err(
                                        line,
                                        f.offset,
                                        format!("--{name} cannot be less than 1ms"),
                                    ))
                                }
                                None => {
                                    return Err(self
                                        .err(
                                            line,
                                            f.offset,
                                            format!("--{name}={raw} is not a duration"),
                                        )
                                        .with_hint("durations look like 30s, 1m30s or 500ms"))
                                }
                            }
                        }
                        None => None,
                    };
                    durations.push(v);
                }
                let retries = match flags.single("retries") {
                    Some(f) => {
                        let raw = unquote(f.value.as_deref().unwrap_or(""));
                        Some(raw.parse::<u32>().map_err(|_| {
                            self.err(
                                line,
                                f.offset,
                                format!("--retries={raw} is not a non-negative whole number"),
                            )
                        })?)
                    }
                    None => None,
                };
                let mut d = durations.into_iter();
                Ok(Instruction::Healthcheck(Healthcheck::Cmd {
                    command,
                    interval: d.next().flatten(),
                    timeout: d.next().flatten(),
                    start_period: d.next().flatten(),
                    start_interval: d.next().flatten(),
                    retries,
                }))
            }
            _ => Err(self
                .err(
                    line,
                    if args.is_empty() { start } else { args_off },
                    "HEALTHCHECK takes CMD <command> or NONE",
                )
                .with_hint(usage("HEALTHCHECK"))),
        }
    }
}

/// The synopsis shown in argument errors.
fn usage(keyword: &str) -> String {
    let u = match keyword {
        "FROM" => "FROM [--platform=<platform>] <image> [AS <name>]",
        "RUN" => "RUN [--mount=...] [--network=default|none|host] <command> | [\"exe\", \"arg\"...]",
        "CMD" => "CMD <command> | [\"exe\", \"arg\"...]",
        "ENTRYPOINT" => "ENTRYPOINT <command> | [\"exe\", \"arg\"...]",
        "HEALTHCHECK CMD" | "HEALTHCHECK" => {
            "HEALTHCHECK [--interval=30s] [--timeout=30s] [--start-period=0s] [--retries=3] CMD <command> | HEALTHCHECK NONE"
        }
        "COPY" => "COPY [--from=<stage|image>] [--chown=<user>] <src>... <dest>",
        "ADD" => "ADD [--checksum=<digest>] [--chown=<user>] <src>... <dest>",
        "ENV" => "ENV <key>=<value> ...",
        "LABEL" => "LABEL <key>=<value> ...",
        "ARG" => "ARG <name>[=<default>] ...",
        "USER" => "USER <user>[:<group>]",
        _ => return format!("see the Dockerfile reference for {keyword}"),
    };
    format!("usage: {u}")
}
