//! The ZImagefile (YAML) front end. A ZImagefile describes the same builds
//! as a Dockerfile and parses into the same [`BuildFile`], so the planner
//! treats both alike.
//!
//! Schema (`version: "1"`, then exactly one of):
//! - `base: image` plus image fields: one stage;
//! - `stages:` an ordered mapping `name: {base, ...image fields}`, the last
//!   stage being the output, plus optional top-level `args`;
//! - `build:` a context path, or `{context, file, args}`: a reference to
//!   another build, returned as [`BuildReference`] for the caller to load.
//! - `runtime: NAME` plus `args` and image fields: a shipped template
//!   ([`runtime`]), the image fields applied to its output stage;
//! - `wasm:` a WebAssembly module packaged as an OCI artifact
//!   ([`WasmBuild`]).
//!
//! Image fields: `platform`, `os` (`linux`|`windows`), `args`, `env`,
//! `workdir`, `steps`, `user`, `expose`, `labels`, `volumes`,
//! `healthcheck {cmd, interval, timeout, start_period, retries}`,
//! `stopsignal`, `entrypoint`, `cmd`.
//!
//! Top-level `args` (the single-stage file's `args` included) belong to
//! the whole file: they become an `ARG` before the first `FROM`, so `base`
//! can use them, and are declared again by name at the start of every stage
//! (Docker's rule for using a global ARG inside a stage), so steps can use
//! them too. A stage's own `args` are local to it.
//!
//! Each stage becomes, in this order: `FROM base [AS name]`, the global
//! `ARG` names, its own `ARG`, `ENV`, `WORKDIR`, the steps in order,
//! then `USER`, `EXPOSE`, `LABEL`, `VOLUME`, `HEALTHCHECK`, `STOPSIGNAL`,
//! `ENTRYPOINT`, `CMD`. Stage-level `user` and `volumes` describe the
//! finished image, so they come after the steps: a `USER app` before the
//! steps would run package installs unprivileged, and a `VOLUME` would
//! discard the steps' later changes under it. Steps that need another user
//! use a `user` step.
//!
//! Platform: `platform` is copied to `FROM --platform`. With only `os`, the
//! stage is pinned to that OS and follows the build's target architecture:
//! `FROM --platform=<os>/${TARGETARCH}` (the planner expands the automatic
//! platform ARG), so a Windows stage stays Windows in a Linux-targeted
//! build. Given both, `platform` wins and must name the same OS.
//!
//! Every instruction points at the YAML key that produced it; its `source`
//! is the equivalent Dockerfile line. Unknown fields, wrong types, missing
//! or conflicting keys are errors at the YAML line and column.

mod fields;
mod render;
pub mod runtime;
mod steps;
mod wasm;
mod yaml;

use crate::ast::{ArgDecl, BuildFile, Directives, From, Healthcheck, Instruction, Located, Pos};
use crate::error::FrontendError;
use fields::{arg_name_problem, env_name_problem, label_key_problem, Ctx, Field, Fields};
pub use runtime::form::{runtime_build_file, runtime_template_of};
pub use wasm::{WasmBuild, WASM_MODULE_PATH};
use yaml::{Kind, Node};

/// The name `wharf build` looks for after `Dockerfile`.
pub const DEFAULT_FILE_NAME: &str = "ZImagefile";

/// A parsed ZImagefile: an image to build, or a pointer to another build.
#[derive(Debug, Clone, PartialEq)]
pub enum ZImagefile {
    /// `base` or `stages`: the build, as Dockerfile-equivalent instructions.
    Image(BuildFile),
    /// `build`: build what this refers to instead.
    Build(BuildReference),
    /// `wasm`: a WebAssembly module to package as an OCI artifact.
    Wasm(WasmBuild),
}

/// `build: path` or `build: {context, file, args}`. Paths are as written,
/// relative to the directory holding the ZImagefile; the caller resolves
/// them and loads the build file (its default choice of `Dockerfile` then
/// `ZImagefile` when `file` is absent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildReference {
    /// The build context directory.
    pub context: String,
    /// The build file, relative to the context; `None` for the default.
    pub file: Option<String>,
    /// Build arguments to pass, in file order.
    pub args: Vec<(String, String)>,
    /// Where `build` is written, for messages about the reference.
    pub pos: Pos,
}

const IMAGE_FIELDS: &[&str] = &[
    "platform",
    "os",
    "args",
    "env",
    "workdir",
    "steps",
    "user",
    "expose",
    "labels",
    "volumes",
    "healthcheck",
    "stopsignal",
    "entrypoint",
    "cmd",
];

/// The image fields a `runtime:` ZImagefile may set on the template's
/// output stage.
const RUNTIME_FIELDS: &[&str] = &[
    "env",
    "workdir",
    "user",
    "expose",
    "labels",
    "volumes",
    "healthcheck",
    "stopsignal",
    "entrypoint",
    "cmd",
];

/// Parses a ZImagefile. `file_name` names it in errors and in the result.
pub fn parse(file_name: &str, text: &str) -> Result<ZImagefile, FrontendError> {
    let ctx = Ctx {
        file: file_name,
        text,
    };
    let start = Pos { line: 1, column: 1 };
    let Some(root) = yaml::load(file_name, text)? else {
        return Err(ctx
            .err(start, "the ZImagefile is empty")
            .with_hint("start with `version: \"1\"` and `base: <image>`"));
    };
    let Kind::Map(entries) = &root.kind else {
        return Err(ctx.err(
            root.pos,
            format!(
                "a ZImagefile must be a mapping (`version:`, `base:`...), found {}",
                root.describe()
            ),
        ));
    };
    // Which form decides which fields are allowed; pick it first.
    let forms: Vec<&Node> = entries
        .iter()
        .filter(|(k, _)| matches!(&k.kind, Kind::Scalar { value, .. } if matches!(value.as_str(), "base" | "stages" | "build" | "runtime" | "wasm")))
        .map(|(k, _)| k)
        .collect();
    let form = match forms.as_slice() {
        [] => {
            return Err(ctx
                .err(root.pos, "missing `base`, `stages`, `build`, `runtime` or `wasm`")
                .with_hint("give `base: <image>` for one stage, `stages:` for several, `build:` to refer to another build, `runtime: <name>` for a runtime template, or `wasm:` for a WebAssembly artifact"))
        }
        [one] => scalar_text(one),
        [first, second, ..] => {
            return Err(ctx
                .err(
                    second.pos,
                    format!(
                        "`{}` cannot be combined with `{}`: give exactly one of `base`, `stages`, `build`, `runtime` or `wasm`",
                        scalar_text(second),
                        scalar_text(first)
                    ),
                ))
        }
    };
    let allowed: Vec<&str> = match form {
        "base" => ["version", "base"]
            .iter()
            .chain(IMAGE_FIELDS)
            .copied()
            .collect(),
        "stages" => vec!["version", "stages", "args"],
        "runtime" => ["version", "runtime", "args"]
            .iter()
            .chain(RUNTIME_FIELDS)
            .copied()
            .collect(),
        // Image fields are read only to be refused with the reason.
        "wasm" => ["version", "wasm", "args"]
            .iter()
            .chain(IMAGE_FIELDS)
            .copied()
            .collect(),
        _ => vec!["version", "build"],
    };
    let what = match form {
        "base" => "a single-stage ZImagefile",
        "stages" => "a multi-stage ZImagefile (image fields go inside each stage)",
        "runtime" => "a runtime template's ZImagefile (steps and base come from the template)",
        "wasm" => "a wasm ZImagefile",
        _ => "a build reference",
    };
    let top = ctx.fields(&root, what, &allowed)?;
    check_version(&ctx, &top)?;

    // `fields` kept every key, so the form's field is there.
    let form_field = top
        .get(form)
        .ok_or_else(|| ctx.err(root.pos, format!("missing `{form}`")))?;
    let mut out = Vec::new();
    match form {
        "base" => {
            let global = global_args(&ctx, &top, &mut out)?;
            stage(&ctx, &top, None, global.as_ref(), &mut out)?;
        }
        "stages" => {
            let global = global_args(&ctx, &top, &mut out)?;
            stages(&ctx, form_field, global.as_ref(), &mut out)?;
        }
        "runtime" => {
            return Ok(ZImagefile::Image(runtime::form::runtime_form(
                &ctx, &top, form_field,
            )?))
        }
        "wasm" => {
            let mut names: Vec<&str> = IMAGE_FIELDS.to_vec();
            names.push("args");
            if let Some(f) = top.present(&names).first() {
                return Err(ctx
                    .err(f.key.pos, wasm::top_level_refusal(f.name))
                    .with_hint("give only `version` and `wasm` (target, output, language, features, build_args, pre_build, post_build)"));
            }
            return Ok(ZImagefile::Wasm(wasm::wasm(&ctx, form_field)?));
        }
        _ => return Ok(ZImagefile::Build(build_reference(&ctx, form_field)?)),
    }
    Ok(ZImagefile::Image(BuildFile {
        path: file_name.to_string(),
        directives: Directives::default(),
        instructions: out,
        warnings: Vec::new(),
    }))
}

/// Top-level `args` are build arguments of the whole file: declared before
/// the first `FROM` (so `base` can use them) and, as Docker requires for
/// use inside a stage, declared again by name at the start of each stage.
/// Returns what each stage must redeclare.
fn global_args<'n>(
    ctx: &Ctx<'_>,
    top: &Fields<'n>,
    out: &mut Vec<Located<Instruction>>,
) -> Result<Option<(Field<'n>, Instruction)>, FrontendError> {
    let Some(args) = top.get("args") else {
        return Ok(None);
    };
    let decl = arg_instruction(ctx, args)?;
    let Instruction::Arg { args: decls } = &decl else {
        return Ok(None);
    };
    let redeclare = Instruction::Arg {
        args: decls
            .iter()
            .map(|a| ArgDecl {
                name: a.name.clone(),
                default: None,
            })
            .collect(),
    };
    push(out, args.key, args.value.end_line, decl);
    Ok(Some((args, redeclare)))
}

/// The `stages` mapping: each entry is one stage, in file order.
fn stages(
    ctx: &Ctx<'_>,
    f: Field<'_>,
    global: Option<&(Field<'_>, Instruction)>,
    out: &mut Vec<Located<Instruction>>,
) -> Result<(), FrontendError> {
    let Kind::Map(list) = &f.value.kind else {
        return Err(ctx.err(
            f.value.pos,
            format!(
                "`stages` must be a mapping of stage names to stages, found {}",
                f.value.describe()
            ),
        ));
    };
    if list.is_empty() {
        return Err(ctx.err(f.value.pos, "`stages` must hold at least one stage"));
    }
    let allowed: Vec<&str> = ["base"].iter().chain(IMAGE_FIELDS).copied().collect();
    for (name_node, body) in list {
        let name = stage_name(ctx, name_node)?;
        let fields = ctx.fields(body, &format!("stage `{name}`"), &allowed)?;
        stage(ctx, &fields, Some((name, name_node)), global, out)?;
    }
    Ok(())
}

fn scalar_text(node: &Node) -> &str {
    match &node.kind {
        Kind::Scalar { value, .. } => value,
        _ => "",
    }
}

fn check_version(ctx: &Ctx<'_>, top: &Fields<'_>) -> Result<(), FrontendError> {
    let Some(v) = top.get("version") else {
        return Err(ctx
            .err(top.pos, "missing `version`")
            .with_hint("add `version: \"1\"` at the top"));
    };
    let value = ctx.string(v)?;
    if value != "1" {
        return Err(ctx
            .err(
                v.value.pos,
                format!("unsupported ZImagefile version `{value}`"),
            )
            .with_hint("this Wharf reads `version: \"1\"`"));
    }
    Ok(())
}

fn stage_name(ctx: &Ctx<'_>, node: &Node) -> Result<String, FrontendError> {
    let name = scalar_text(node).to_string();
    let mut chars = name.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'));
    if !ok {
        return Err(ctx
            .err(node.pos, format!("invalid stage name `{name}`"))
            .with_hint("stage names start with a lower-case letter and hold lower-case letters, digits, `-`, `_` and `.`"));
    }
    Ok(name)
}

fn push(out: &mut Vec<Located<Instruction>>, key: &Node, end_line: usize, node: Instruction) {
    let source = render::render(&node);
    out.push(Located {
        node,
        pos: key.pos,
        end_line: end_line.max(key.pos.line),
        source,
    });
}

/// Emits one stage's instructions (see the module doc for the order).
fn stage(
    ctx: &Ctx<'_>,
    f: &Fields<'_>,
    name: Option<(String, &Node)>,
    global: Option<&(Field<'_>, Instruction)>,
    out: &mut Vec<Located<Instruction>>,
) -> Result<(), FrontendError> {
    let Some(base) = f.get("base") else {
        let (n, node) = name
            .as_ref()
            .map(|(n, node)| (n.as_str(), node.pos))
            .unwrap_or(("", f.pos));
        return Err(ctx
            .err(
                node,
                format!("stage `{n}` needs `base`, the image or stage it starts from"),
            )
            .with_hint("add e.g. `base: alpine:3.20`, or `base: scratch` for an empty image"));
    };
    let image = ctx.non_empty(base)?;
    let platform = platform(ctx, f)?;
    let single_stage = name.is_none();
    push(
        out,
        base.key,
        base.value.end_line,
        Instruction::From(From {
            image,
            name: name.map(|(n, _)| n),
            platform,
        }),
    );
    if let Some((field, redeclare)) = global {
        push(out, field.key, field.value.end_line, redeclare.clone());
    }
    // In a single-stage file the stage's `args` are the global ones.
    if let Some(args) = f.get("args").filter(|_| !single_stage) {
        push(
            out,
            args.key,
            args.value.end_line,
            arg_instruction(ctx, args)?,
        );
    }
    image_fields(ctx, f, out)
}

/// A stage's fields from `env` on, in the module doc's order: what a
/// runtime template's output stage gets from the ZImagefile too.
fn image_fields(
    ctx: &Ctx<'_>,
    f: &Fields<'_>,
    out: &mut Vec<Located<Instruction>>,
) -> Result<(), FrontendError> {
    if let Some(env) = f.get("env") {
        let vars = ctx.string_map(env, env_name_problem)?;
        if !vars.is_empty() {
            push(out, env.key, env.value.end_line, Instruction::Env { vars });
        }
    }
    if let Some(w) = f.get("workdir") {
        push(
            out,
            w.key,
            w.value.end_line,
            Instruction::Workdir {
                path: ctx.non_empty(w)?,
            },
        );
    }
    if let Some(s) = f.get("steps") {
        for step in steps::steps(ctx, s)? {
            push(out, step.key, step.end_line, step.instruction);
        }
    }
    if let Some(u) = f.get("user") {
        push(
            out,
            u.key,
            u.value.end_line,
            Instruction::User {
                user: ctx.non_empty(u)?,
            },
        );
    }
    if let Some(e) = f.get("expose") {
        let ports = ports(ctx, e)?;
        push(out, e.key, e.value.end_line, Instruction::Expose { ports });
    }
    if let Some(l) = f.get("labels") {
        let labels = ctx.string_map(l, label_key_problem)?;
        if !labels.is_empty() {
            push(out, l.key, l.value.end_line, Instruction::Label { labels });
        }
    }
    if let Some(v) = f.get("volumes") {
        let paths = ctx.string_or_list(v, "a path or a list of paths")?;
        push(out, v.key, v.value.end_line, Instruction::Volume { paths });
    }
    if let Some(h) = f.get("healthcheck") {
        push(out, h.key, h.value.end_line, healthcheck(ctx, h)?);
    }
    if let Some(s) = f.get("stopsignal") {
        push(
            out,
            s.key,
            s.value.end_line,
            Instruction::Stopsignal {
                signal: ctx.non_empty(s)?,
            },
        );
    }
    if let Some(e) = f.get("entrypoint") {
        push(
            out,
            e.key,
            e.value.end_line,
            Instruction::Entrypoint {
                command: ctx.command(e)?,
            },
        );
    }
    if let Some(c) = f.get("cmd") {
        push(
            out,
            c.key,
            c.value.end_line,
            Instruction::Cmd {
                command: ctx.command(c)?,
            },
        );
    }
    Ok(())
}

/// `FROM --platform` from `platform`, or `<os>/${TARGETARCH}` from `os`.
fn platform(ctx: &Ctx<'_>, f: &Fields<'_>) -> Result<Option<String>, FrontendError> {
    let os = match f.get("os") {
        None => None,
        Some(o) => {
            let os = ctx.string(o)?;
            if os != "linux" && os != "windows" {
                return Err(ctx
                    .err(o.value.pos, format!("unknown os `{os}`"))
                    .with_hint("use `linux` or `windows`"));
            }
            Some(os)
        }
    };
    match (f.get("platform"), os) {
        (Some(p), os) => {
            let platform = ctx.non_empty(p)?;
            if let Some(os) = os {
                let given = platform.split('/').next().unwrap_or("");
                if !given.contains('$') && !given.eq_ignore_ascii_case(&os) {
                    return Err(ctx
                        .err(
                            p.value.pos,
                            format!("platform `{platform}` contradicts `os: {os}`"),
                        )
                        .with_hint("remove `os`, or make the platform start with it"));
                }
            }
            Ok(Some(platform))
        }
        (None, Some(os)) => Ok(Some(format!("{os}/${{TARGETARCH}}"))),
        (None, None) => Ok(None),
    }
}

/// `args`: a mapping `NAME: default` (null for none) or a list of
/// `NAME` / `NAME=default`.
fn arg_instruction(ctx: &Ctx<'_>, f: Field<'_>) -> Result<Instruction, FrontendError> {
    let mut args = Vec::new();
    let mut add = |name: String, default: Option<String>, pos: Pos| {
        if let Some(problem) = arg_name_problem(&name) {
            return Err(ctx.err(
                pos,
                format!("invalid build argument name `{name}`: {problem}"),
            ));
        }
        args.push(ArgDecl { name, default });
        Ok(())
    };
    match &f.value.kind {
        Kind::Map(entries) => {
            for (k, v) in entries {
                let default = match &v.kind {
                    _ if v.is_null() => None,
                    Kind::Scalar { value, .. } => Some(value.clone()),
                    _ => {
                        return Err(ctx.err(
                            v.pos,
                            format!(
                                "the default of `{}` must be a string, found {}",
                                scalar_text(k),
                                v.describe()
                            ),
                        ))
                    }
                };
                add(scalar_text(k).to_string(), default, k.pos)?;
            }
        }
        Kind::Seq(items) => {
            for item in items {
                let Kind::Scalar { value, .. } = &item.kind else {
                    return Err(ctx.err(
                        item.pos,
                        format!(
                            "`args` items must be `NAME` or `NAME=default`, found {}",
                            item.describe()
                        ),
                    ));
                };
                match value.split_once('=') {
                    Some((n, d)) => add(n.to_string(), Some(d.to_string()), item.pos)?,
                    None => add(value.clone(), None, item.pos)?,
                }
            }
        }
        _ => {
            return Err(ctx.err(
                f.value.pos,
                format!(
                    "`args` must be a mapping of names to defaults or a list of names, found {}",
                    f.value.describe()
                ),
            ))
        }
    }
    if args.is_empty() {
        return Err(ctx.err(f.value.pos, "`args` is empty"));
    }
    Ok(Instruction::Arg { args })
}

/// `expose`: `80`, `"8080/udp"`, `8000-8010/tcp`, or a list of those.
fn ports(ctx: &Ctx<'_>, f: Field<'_>) -> Result<Vec<String>, FrontendError> {
    let ports = ctx.string_or_list(f, "a port or a list of ports")?;
    let items: Vec<&Node> = match &f.value.kind {
        Kind::Seq(items) => items.iter().collect(),
        _ => vec![f.value],
    };
    for (port, node) in ports.iter().zip(items) {
        if !port.contains('$') && !valid_port(port) {
            return Err(ctx
                .err(node.pos, format!("invalid port `{port}`"))
                .with_hint("write a port (1-65535) or range, optionally with /tcp, /udp or /sctp, e.g. \"8080/udp\""));
        }
    }
    Ok(ports)
}

fn valid_port(spec: &str) -> bool {
    let (range, proto) = match spec.split_once('/') {
        Some((r, p)) => (r, Some(p)),
        None => (spec, None),
    };
    if let Some(p) = proto {
        if !["tcp", "udp", "sctp"]
            .iter()
            .any(|k| k.eq_ignore_ascii_case(p))
        {
            return false;
        }
    }
    let number = |s: &str| {
        !s.is_empty()
            && s.chars().all(|c| c.is_ascii_digit())
            && s.parse::<u32>().is_ok_and(|n| (1..=65535).contains(&n))
    };
    match range.split_once('-') {
        Some((a, b)) => number(a) && number(b),
        None => number(range),
    }
}

fn healthcheck(ctx: &Ctx<'_>, f: Field<'_>) -> Result<Instruction, FrontendError> {
    let h = ctx.fields(
        f.value,
        "`healthcheck`",
        &["cmd", "interval", "timeout", "start_period", "retries"],
    )?;
    let Some(cmd) = h.get("cmd") else {
        return Err(ctx
            .err(
                f.key.pos,
                "`healthcheck` needs `cmd`, the command that tests the container",
            )
            .with_hint("e.g. `cmd: curl -f http://localhost/ || exit 1`"));
    };
    let command = ctx.command(cmd)?;
    let duration = |name: &str| -> Result<Option<String>, FrontendError> {
        let Some(d) = h.get(name) else {
            return Ok(None);
        };
        let s = ctx.string(d)?;
        if crate::duration::parse_duration(&s).is_none() {
            return Err(ctx
                .err(d.value.pos, format!("invalid duration `{s}` for `{name}`"))
                .with_hint(
                    "write a number with a unit: ns, us, ms, s, m or h, e.g. \"30s\" or \"1m30s\"",
                ));
        }
        Ok(Some(s))
    };
    Ok(Instruction::Healthcheck(Healthcheck::Cmd {
        command,
        interval: duration("interval")?,
        timeout: duration("timeout")?,
        start_period: duration("start_period")?,
        start_interval: None,
        retries: h.get("retries").map(|r| ctx.unsigned(r)).transpose()?,
    }))
}

fn build_reference(ctx: &Ctx<'_>, f: Field<'_>) -> Result<BuildReference, FrontendError> {
    let pos = f.key.pos;
    if let Kind::Scalar { .. } = f.value.kind {
        return Ok(BuildReference {
            context: ctx.non_empty(f)?,
            file: None,
            args: Vec::new(),
            pos,
        });
    }
    let b = ctx.fields(f.value, "`build`", &["context", "file", "args"])?;
    let context = match b.get("context") {
        Some(c) => ctx.non_empty(c)?,
        None => ".".to_string(),
    };
    let file = b.get("file").map(|v| ctx.non_empty(v)).transpose()?;
    let args = match b.get("args") {
        Some(a) => ctx.string_map(a, arg_name_problem)?,
        None => Vec::new(),
    };
    Ok(BuildReference {
        context,
        file,
        args,
        pos,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_follow_expose_syntax() {
        for ok in ["80", "8080/udp", "8000-8010/tcp", "53/UDP", "65535"] {
            assert!(valid_port(ok), "{ok}");
        }
        for bad in ["0", "65536", "80/http", "a", "", "80-", "/tcp"] {
            assert!(!valid_port(bad), "{bad}");
        }
    }
}
