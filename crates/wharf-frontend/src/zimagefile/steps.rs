//! ZImagefile `steps`: each step is one `run`, `copy`, `add`, `env`,
//! `workdir` or `user`, with the modifiers that apply to it, and becomes
//! one instruction.

use super::fields::{env_name_problem, Ctx, Field, Fields};
use super::yaml::{Kind, Node};
use crate::ast::{AddOptions, CacheSharing, Copy, Instruction, Mount, Run};
use crate::error::FrontendError;

const ACTIONS: &[&str] = &["run", "copy", "add", "env", "workdir", "user"];
const MODIFIERS: &[&str] = &["to", "from", "owner", "chmod", "cache"];

/// One step's instruction and the field that produced it.
pub(crate) struct Step<'n> {
    pub instruction: Instruction,
    pub key: &'n Node,
    pub end_line: usize,
}

/// Reads the `steps` list.
pub(crate) fn steps<'n>(ctx: &Ctx<'_>, f: Field<'n>) -> Result<Vec<Step<'n>>, FrontendError> {
    let Kind::Seq(items) = &f.value.kind else {
        return Err(ctx.err(
            f.value.pos,
            format!(
                "`steps` must be a list of steps, found {}",
                f.value.describe()
            ),
        ));
    };
    items.iter().map(|item| step(ctx, item)).collect()
}

fn step<'n>(ctx: &Ctx<'_>, node: &'n Node) -> Result<Step<'n>, FrontendError> {
    let allowed: Vec<&str> = ACTIONS.iter().chain(MODIFIERS).copied().collect();
    let fields = ctx.fields(node, "a step", &allowed)?;
    let actions = fields.present(ACTIONS);
    let action = match actions.as_slice() {
        [one] => *one,
        [] => {
            return Err(ctx
                .err(
                    fields.pos,
                    "a step needs one of `run`, `copy`, `add`, `env`, `workdir` or `user`",
                )
                .with_hint("write e.g. `- run: make` or `- copy: src` with `to: /app`"))
        }
        [_, second, ..] => {
            return Err(ctx
                .err(
                    second.key.pos,
                    format!(
                        "a step does one thing, but this one has both `{}` and `{}`",
                        actions[0].name, second.name
                    ),
                )
                .with_hint("split it into two list items, each starting with `-`"))
        }
    };
    // Modifiers that do not apply to this action are errors, not ignored.
    for m in fields.present(MODIFIERS) {
        let applies = match m.name {
            "to" | "owner" | "chmod" => matches!(action.name, "copy" | "add"),
            "from" => action.name == "copy",
            "cache" => action.name == "run",
            _ => false,
        };
        if !applies {
            let hint = match (m.name, action.name) {
                ("from", "add") => "`add` fetches from the context or a URL; use `copy` to take files from a stage or image",
                ("cache", _) => "`cache` mounts apply to `run` steps",
                _ => "`to`, `owner` and `chmod` apply to `copy` and `add` steps, `from` to `copy`",
            };
            return Err(ctx
                .err(
                    m.key.pos,
                    format!("`{}` does not apply to `{}` steps", m.name, action.name),
                )
                .with_hint(hint));
        }
    }
    let instruction = match action.name {
        "run" => run(ctx, action, &fields)?,
        "copy" | "add" => copy(ctx, action, &fields)?,
        "env" => Instruction::Env {
            vars: ctx.string_map(action, env_name_problem)?,
        },
        "workdir" => Instruction::Workdir {
            path: ctx.non_empty(action)?,
        },
        _ => Instruction::User {
            user: ctx.non_empty(action)?,
        },
    };
    Ok(Step {
        instruction,
        key: action.key,
        end_line: fields.end_line,
    })
}

fn run(
    ctx: &Ctx<'_>,
    action: Field<'_>,
    fields: &Fields<'_>,
) -> Result<Instruction, FrontendError> {
    let command = ctx.command(action)?;
    let mut mounts = Vec::new();
    if let Some(cache) = fields.get("cache") {
        let Kind::Seq(items) = &cache.value.kind else {
            return Err(ctx.err(
                cache.value.pos,
                format!(
                    "`cache` must be a list of cache mounts ({{target, id, sharing, readonly}}), found {}",
                    cache.value.describe()
                ),
            ));
        };
        for item in items {
            mounts.push(cache_mount(ctx, item)?);
        }
    }
    Ok(Instruction::Run(Run {
        command,
        heredocs: Vec::new(),
        mounts,
        network: None,
        security: None,
    }))
}

fn cache_mount(ctx: &Ctx<'_>, node: &Node) -> Result<Mount, FrontendError> {
    let f = ctx.fields(
        node,
        "a cache mount",
        &["target", "id", "sharing", "readonly"],
    )?;
    let Some(target) = f.get("target") else {
        return Err(ctx
            .err(
                f.pos,
                "a cache mount needs `target`, the path it is mounted at",
            )
            .with_hint("e.g. `- target: /root/.cache`"));
    };
    let target = ctx.non_empty(target)?;
    let id = f.get("id").map(|v| ctx.non_empty(v)).transpose()?;
    let sharing = match f.get("sharing") {
        None => CacheSharing::Shared,
        Some(s) => match ctx.string(s)?.as_str() {
            "shared" => CacheSharing::Shared,
            "private" => CacheSharing::Private,
            "locked" => CacheSharing::Locked,
            other => {
                return Err(ctx
                    .err(s.value.pos, format!("unknown cache sharing `{other}`"))
                    .with_hint("use `shared` (the default), `private` or `locked`"))
            }
        },
    };
    let readonly = f
        .get("readonly")
        .map(|v| ctx.boolean(v))
        .transpose()?
        .unwrap_or(false);
    Ok(Mount::Cache {
        target,
        id,
        sharing,
        readonly,
        from: None,
        source: None,
        mode: None,
        uid: None,
        gid: None,
    })
}

fn copy(
    ctx: &Ctx<'_>,
    action: Field<'_>,
    fields: &Fields<'_>,
) -> Result<Instruction, FrontendError> {
    let sources = ctx.string_or_list(action, "a source path or a list of source paths")?;
    if let Some(empty) = sources.iter().find(|s| s.trim().is_empty()) {
        return Err(ctx.err(
            action.value.pos,
            format!("`{}` has an empty source {empty:?}", action.name),
        ));
    }
    let Some(to) = fields.get("to") else {
        return Err(ctx
            .err(
                action.key.pos,
                format!("a `{}` step needs `to`, the destination", action.name),
            )
            .with_hint("add e.g. `to: /app/` to this step"));
    };
    let dest = ctx.non_empty(to)?;
    let optional = |name: &str| fields.get(name).map(|v| ctx.non_empty(v)).transpose();
    let from = optional("from")?;
    let chown = optional("owner")?;
    let chmod = optional("chmod")?;
    let json = sources
        .iter()
        .chain([&dest])
        .any(|p| p.chars().any(char::is_whitespace));
    let copy = Copy {
        sources,
        dest,
        heredocs: Vec::new(),
        from,
        chown,
        chmod,
        link: false,
        parents: false,
        exclude: Vec::new(),
        json,
    };
    Ok(if action.name == "copy" {
        Instruction::Copy(copy)
    } else {
        Instruction::Add {
            copy,
            options: AddOptions::default(),
        }
    })
}
