//! Dockerfile-like text for instructions that came from a ZImagefile, for
//! `Located::source` (messages, image history, `wharf plan`). It reads like
//! the Dockerfile line that would produce the same instruction.

use crate::ast::{Command, Copy, Healthcheck, Instruction, Mount};

/// The Dockerfile line equivalent to `instruction` (forms that the
/// ZImagefile front end produces; others show their keyword).
pub(crate) fn render(instruction: &Instruction) -> String {
    let kw = instruction.keyword();
    match instruction {
        Instruction::From(f) => {
            let mut s = String::from("FROM ");
            if let Some(p) = &f.platform {
                s.push_str(&format!("--platform={p} "));
            }
            s.push_str(&f.image);
            if let Some(n) = &f.name {
                s.push_str(&format!(" AS {n}"));
            }
            s
        }
        Instruction::Arg { args } => {
            let parts: Vec<String> = args
                .iter()
                .map(|a| match &a.default {
                    Some(d) => format!("{}={}", a.name, quote(d)),
                    None => a.name.clone(),
                })
                .collect();
            format!("{kw} {}", parts.join(" "))
        }
        Instruction::Env { vars: pairs } | Instruction::Label { labels: pairs } => {
            let parts: Vec<String> = pairs
                .iter()
                .map(|(k, v)| format!("{}={}", quote(k), quote(v)))
                .collect();
            format!("{kw} {}", parts.join(" "))
        }
        Instruction::Workdir { path: v }
        | Instruction::User { user: v }
        | Instruction::Stopsignal { signal: v } => format!("{kw} {v}"),
        Instruction::Expose { ports } => format!("{kw} {}", ports.join(" ")),
        Instruction::Volume { paths } => format!("{kw} {}", json(paths)),
        Instruction::Cmd { command } | Instruction::Entrypoint { command } => {
            format!("{kw} {}", command_text(command))
        }
        Instruction::Healthcheck(Healthcheck::None) => format!("{kw} NONE"),
        Instruction::Healthcheck(Healthcheck::Cmd {
            command,
            interval,
            timeout,
            start_period,
            start_interval,
            retries,
        }) => {
            let mut s = String::from(kw);
            for (flag, v) in [
                ("interval", interval),
                ("timeout", timeout),
                ("start-period", start_period),
                ("start-interval", start_interval),
            ] {
                if let Some(v) = v {
                    s.push_str(&format!(" --{flag}={v}"));
                }
            }
            if let Some(r) = retries {
                s.push_str(&format!(" --retries={r}"));
            }
            format!("{s} CMD {}", command_text(command))
        }
        Instruction::Run(run) => {
            let mut s = String::from(kw);
            for m in &run.mounts {
                s.push_str(&format!(" --mount={}", mount_text(m)));
            }
            format!("{s} {}", command_text(&run.command))
        }
        Instruction::Copy(c) | Instruction::Add { copy: c, .. } => copy_text(kw, c),
        _ => kw.to_string(),
    }
}

fn copy_text(kw: &str, c: &Copy) -> String {
    let mut s = String::from(kw);
    for (flag, v) in [("from", &c.from), ("chown", &c.chown), ("chmod", &c.chmod)] {
        if let Some(v) = v {
            s.push_str(&format!(" --{flag}={v}"));
        }
    }
    let mut paths = c.sources.clone();
    paths.push(c.dest.clone());
    if c.json {
        format!("{s} {}", json(&paths))
    } else {
        format!("{s} {}", paths.join(" "))
    }
}

fn mount_text(m: &Mount) -> String {
    match m {
        Mount::Cache {
            target,
            id,
            sharing,
            readonly,
            ..
        } => {
            let mut s = format!("type=cache,target={target}");
            if let Some(id) = id {
                s.push_str(&format!(",id={id}"));
            }
            let sharing = match sharing {
                crate::ast::CacheSharing::Shared => "shared",
                crate::ast::CacheSharing::Private => "private",
                crate::ast::CacheSharing::Locked => "locked",
            };
            s.push_str(&format!(",sharing={sharing}"));
            if *readonly {
                s.push_str(",readonly");
            }
            s
        }
        other => format!("{other:?}"),
    }
}

fn command_text(c: &Command) -> String {
    match c {
        Command::Shell(s) => s.clone(),
        Command::Exec(args) => json(args),
    }
}

fn json(items: &[String]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| format!("{items:?}"))
}

/// Double-quotes a value when a Dockerfile would need it.
fn quote(v: &str) -> String {
    if !v.is_empty()
        && !v
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '"' | '\'' | '\\' | '=' | '`'))
    {
        return v.to_string();
    }
    let mut s = String::from("\"");
    for c in v.chars() {
        if matches!(c, '"' | '\\') {
            s.push('\\');
        }
        s.push(c);
    }
    s.push('"');
    s
}
