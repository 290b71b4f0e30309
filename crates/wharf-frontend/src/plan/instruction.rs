//! Expanding one instruction in its stage's scope: which arguments are
//! expanded and how (Docker's rules), the state it changes (ENV, ARG,
//! WORKDIR, USER, SHELL), what it reads from other stages, and the build
//! arguments its result depends on.

use super::graph::{stage_label, Edge};
use super::paths::{resolve_linux_path, resolve_windows_path};
use super::scope::StageState;
use super::stage::{StageCx, TargetContext};
use super::validate;
use super::{NamedContext, PlannedInstruction, Source};
use crate::ast::*;
use crate::error::FrontendError;
use crate::expand::Mode;
use crate::suggest::closest;
use std::cell::RefCell;
use std::collections::BTreeMap;

type Result<T> = std::result::Result<T, FrontendError>;

/// Docker's PATH for Linux RUN steps when the image sets none.
pub const DEFAULT_LINUX_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// One word's expansion, in a mode, in the instruction's scope.
type WordExpander<'e> = &'e dyn Fn(&str, Mode) -> Result<String>;

/// Per-instruction bookkeeping while expanding.
struct Work<'s> {
    state: &'s mut StageState,
    used: RefCell<Vec<String>>,
}

impl TargetContext<'_> {
    /// Resolves a `--from` / `from=` value to a stage or an image.
    pub(super) fn resolve_from(
        &self,
        value: &str,
        stage: usize,
        ins: &Located<Instruction>,
        edges: &mut Vec<Edge>,
    ) -> Result<Source> {
        // A named build context stands in for a stage or image of its name.
        match self.options.named_contexts.get(&value.to_ascii_lowercase()) {
            Some(NamedContext::Image(reference)) => {
                return Ok(Source::Image {
                    reference: reference.clone(),
                })
            }
            Some(NamedContext::Directory(_)) => {
                return Ok(Source::Context {
                    name: value.to_ascii_lowercase(),
                })
            }
            None => {}
        }
        let count = self.structure.stages.len();
        let to = if let Ok(n) = value.parse::<usize>() {
            if n >= count {
                return Err(self
                    .err(ins.pos, format!("--from={n}: there is no stage {n}"))
                    .with_hint(format!(
                        "stages are numbered 0 to {} in file order",
                        count - 1
                    )));
            }
            Some(n)
        } else {
            self.structure
                .names
                .get(&value.to_ascii_lowercase())
                .copied()
        };
        match to {
            Some(j) if j == stage => Err(self
                .err(
                    ins.pos,
                    format!(
                        "stage {} cannot read from itself",
                        stage_label(self.file, j)
                    ),
                )
                .with_hint("name an earlier stage, or an image")),
            Some(j) => {
                edges.push(Edge {
                    to: j,
                    pos: ins.pos,
                });
                Ok(Source::Stage { index: j })
            }
            None => {
                let bare = !value.contains(['/', ':', '@', '.']);
                let names: Vec<&str> = self.structure.names.keys().map(String::as_str).collect();
                if bare {
                    if let Some(s) = closest(value, names.iter().copied()) {
                        return Err(self
                            .err(ins.pos, format!("unknown stage '{value}'"))
                            .with_hint(format!(
                                "did you mean stage '{s}'? (to read the image of that name, write docker.io/library/{value})"
                            )));
                    }
                }
                Ok(Source::Image {
                    reference: value.to_string(),
                })
            }
        }
    }

    pub(super) fn instruction(
        &self,
        ins: &Located<Instruction>,
        state: &mut StageState,
        cx: &mut StageCx<'_>,
        onbuild_trigger: bool,
    ) -> Result<PlannedInstruction> {
        let (stage, platform, globals) = (cx.stage, cx.platform, cx.globals);
        let ex = self.expander();
        let work = Work {
            state,
            used: RefCell::new(Vec::new()),
        };
        let expand = |text: &str, mode: Mode| -> Result<String> {
            let r = ex
                .word(text, mode, &|n| work.state.lookup(n))
                .map_err(|e| self.expand_err(ins, text, e))?;
            work.used.borrow_mut().extend(r.used);
            Ok(r.value)
        };
        let expand_words = |text: &str| -> Result<Vec<String>> {
            let r = ex
                .words(text, &|n| work.state.lookup(n))
                .map_err(|e| self.expand_err(ins, text, e))?;
            work.used.borrow_mut().extend(r.used);
            Ok(r.value)
        };
        let bad = |msg: String| self.err(ins.pos, msg);

        let mut reads = Vec::new();
        let mut env_for_run = None;
        let mut shell = None;
        let mut all_args_matter = false;
        let mut new_env: Option<Vec<(String, String)>> = None;
        let mut new_args: Vec<(String, Option<String>)> = Vec::new();

        let expanded = match &ins.node {
            Instruction::From(_) => unreachable!("FROM starts a stage"),
            Instruction::Arg { args } => {
                let mut out = Vec::new();
                for d in args {
                    let value = if let Some(v) = self.options.build_args.get(&d.name) {
                        cx.consumed.insert(d.name.clone());
                        Some(v.clone())
                    } else if let Some(def) = &d.default {
                        Some(expand(def, Mode::Word)?)
                    } else {
                        globals.get(&d.name).flatten().map(str::to_string)
                    };
                    new_args.push((d.name.clone(), value.clone()));
                    out.push(ArgDecl {
                        name: d.name.clone(),
                        default: value,
                    });
                }
                Instruction::Arg { args: out }
            }
            Instruction::Env { vars } => {
                let mut out = Vec::new();
                for (k, v) in vars {
                    let key = expand(k, Mode::Word)?;
                    if key.is_empty() || key.contains(char::is_whitespace) || key.contains('=') {
                        return Err(bad(format!(
                            "ENV name {key:?} is not a valid variable name"
                        )));
                    }
                    out.push((key, expand(v, Mode::Word)?));
                }
                new_env = Some(out.clone());
                Instruction::Env { vars: out }
            }
            Instruction::Label { labels } => {
                let mut out = Vec::new();
                for (k, v) in labels {
                    let key = expand(k, Mode::Word)?;
                    if key.is_empty() {
                        return Err(bad("LABEL name is empty after expansion".into()));
                    }
                    out.push((key, expand(v, Mode::Word)?));
                }
                Instruction::Label { labels: out }
            }
            Instruction::Run(r) => {
                let mut mounts = Vec::new();
                for m in &r.mounts {
                    let m = m.map_strings(|v| expand(v, Mode::Word))?;
                    if let Mount::Bind { from: Some(f), .. } | Mount::Cache { from: Some(f), .. } =
                        &m
                    {
                        reads.push(self.resolve_from(f, stage, ins, cx.edges)?);
                    }
                    mounts.push(m);
                }
                let mut env = BTreeMap::new();
                for (k, v) in crate::plan::scope::proxy_env(&self.options.build_args) {
                    env.insert(k, v);
                }
                for (k, v) in &work.state.args.0 {
                    if let Some(v) = v {
                        env.insert(k.clone(), v.clone());
                    }
                }
                for (k, v) in &work.state.env.0 {
                    if let Some(v) = v {
                        env.insert(k.clone(), v.clone());
                    }
                }
                if platform.is_linux() && !env.contains_key("PATH") {
                    env.insert("PATH".to_string(), DEFAULT_LINUX_PATH.to_string());
                }
                env_for_run = Some(env);
                if matches!(r.command, Command::Shell(_)) {
                    shell = Some(work.state.shell.clone());
                }
                all_args_matter = true;
                Instruction::Run(Run {
                    command: r.command.clone(),
                    heredocs: r.heredocs.clone(),
                    mounts,
                    network: r.network,
                    security: r.security,
                })
            }
            Instruction::Cmd { command } | Instruction::Entrypoint { command } => {
                if matches!(command, Command::Shell(_)) {
                    shell = Some(work.state.shell.clone());
                }
                ins.node.clone()
            }
            Instruction::Shell { shell: s } => {
                work.state.shell = s.clone();
                ins.node.clone()
            }
            Instruction::Copy(c) => {
                let c = self.expand_copy(ins, c, false, &expand, &mut reads, cx)?;
                Instruction::Copy(c)
            }
            Instruction::Add { copy, options } => {
                let c = self.expand_copy(ins, copy, true, &expand, &mut reads, cx)?;
                let checksum = options
                    .checksum
                    .as_deref()
                    .map(|s| expand(s, Mode::Word))
                    .transpose()?;
                if let Some(sum) = &checksum {
                    validate::checksum(sum).map_err(bad)?;
                    if !c.sources.iter().all(|s| crate::sources::is_url(s)) {
                        return Err(bad("ADD --checksum applies only to http(s) sources".into())
                            .with_hint("remove --checksum, or use it with ADD https://... only"));
                    }
                }
                if options.keep_git_dir && !c.sources.iter().any(|s| crate::sources::is_git(s)) {
                    return Err(bad("ADD --keep-git-dir applies only to git sources".into()));
                }
                Instruction::Add {
                    copy: c,
                    options: AddOptions {
                        checksum,
                        keep_git_dir: options.keep_git_dir,
                        unpack: options.unpack,
                    },
                }
            }
            Instruction::Expose { ports } => {
                let mut out = Vec::new();
                for p in ports {
                    for item in expand_words(p)? {
                        out.push(validate::expose_port(&item).map_err(&bad)?);
                    }
                }
                Instruction::Expose { ports: out }
            }
            Instruction::Volume { paths } => {
                let mut out = Vec::new();
                for p in paths {
                    let v = expand(p, Mode::Word)?;
                    if v.trim().is_empty() {
                        return Err(bad(format!(
                            "VOLUME {p}: the path is empty after expansion"
                        )));
                    }
                    out.push(v);
                }
                Instruction::Volume { paths: out }
            }
            Instruction::User { user } => {
                let u = expand(user, Mode::Word)?;
                if u.is_empty() {
                    return Err(bad(format!(
                        "USER {user}: the user is empty after expansion"
                    )));
                }
                work.state.user = Some(u.clone());
                Instruction::User { user: u }
            }
            Instruction::Workdir { path } => {
                let p = expand(path, Mode::Word)?;
                if p.is_empty() {
                    return Err(bad(format!(
                        "WORKDIR {path}: the path is empty after expansion"
                    )));
                }
                let resolved = if platform.is_windows() {
                    resolve_windows_path(&work.state.workdir, &p)
                        .map_err(|m| bad(format!("WORKDIR {m}")))?
                } else {
                    resolve_linux_path(&work.state.workdir, &p)
                };
                work.state.workdir = resolved.clone();
                Instruction::Workdir { path: resolved }
            }
            Instruction::Stopsignal { signal } => {
                let s = expand(signal, Mode::Word)?;
                validate::stop_signal(&s).map_err(bad)?;
                Instruction::Stopsignal { signal: s }
            }
            Instruction::Healthcheck(_) | Instruction::Maintainer { .. } => ins.node.clone(),
            Instruction::Onbuild { trigger, .. } => {
                cx.onbuild.push(trigger.clone());
                ins.node.clone()
            }
        };

        // Which build args the result depends on (for cache keys).
        let mut args = BTreeMap::new();
        {
            let used = work.used.borrow();
            for (k, v) in &work.state.args.0 {
                let Some(v) = v else { continue };
                let shadowed = work.state.env.get(k).is_some();
                if all_args_matter || (used.contains(k) && !shadowed) {
                    args.insert(k.clone(), v.clone());
                }
            }
        }
        if let Some(env) = new_env {
            for (k, v) in env {
                work.state.env.set(&k, Some(v));
            }
        }
        for (k, v) in new_args {
            work.state.args.set(&k, v);
        }
        let workdir = work.state.workdir.clone();
        let user = work.state.user.clone();
        Ok(PlannedInstruction {
            line: ins.pos.line,
            end_line: ins.end_line,
            source: ins.source.clone(),
            instruction: expanded,
            reads,
            env: env_for_run,
            shell,
            workdir,
            user,
            args,
            onbuild_trigger,
        })
    }

    fn expand_copy(
        &self,
        ins: &Located<Instruction>,
        c: &Copy,
        is_add: bool,
        expand: WordExpander<'_>,
        reads: &mut Vec<Source>,
        cx: &mut StageCx<'_>,
    ) -> Result<Copy> {
        let kw = if is_add { "ADD" } else { "COPY" };
        let bad = |msg: String| self.err(ins.pos, msg);
        let mut sources = Vec::new();
        for s in &c.sources {
            if s.starts_with("<<") && c.heredocs.iter().any(|h| s[2..] == h.name) {
                sources.push(s.clone());
            } else {
                // Each written source is one source, whatever its value
                // holds (BuildKit expands each with `ProcessWord`).
                let v = expand(s, Mode::Word)?;
                if !v.is_empty() {
                    sources.push(v);
                }
            }
        }
        if sources.is_empty() {
            return Err(bad(format!("{kw} has no source left after expansion"))
                .with_hint("check the variables used in the source list"));
        }
        let dest = expand(&c.dest, Mode::Word)?;
        if dest.is_empty() {
            return Err(bad(format!(
                "{kw}: the destination is empty after expansion"
            )));
        }
        let mut heredocs = Vec::new();
        for h in &c.heredocs {
            let mut h = h.clone();
            if h.expand {
                h.content = expand(&h.content, Mode::Heredoc)?;
            }
            heredocs.push(h);
        }
        let from = c
            .from
            .as_deref()
            .map(|f| expand(f, Mode::Word))
            .transpose()?;
        if let Some(f) = &from {
            if f.is_empty() {
                return Err(bad("--from is empty after expansion".into()));
            }
            reads.push(self.resolve_from(f, cx.stage, ins, cx.edges)?);
        }
        if !is_add {
            if let Some(url) = sources.iter().find(|s| crate::sources::is_url(s)) {
                return Err(
                    bad(format!("COPY cannot download {url}")).with_hint("use ADD to fetch a URL")
                );
            }
        }
        let chmod = c
            .chmod
            .as_deref()
            .map(|m| expand(m, Mode::Word))
            .transpose()?;
        if let Some(m) = &chmod {
            validate::chmod(m).map_err(bad)?;
        }
        let chown = c
            .chown
            .as_deref()
            .map(|m| expand(m, Mode::Word))
            .transpose()?;
        if chown.as_deref() == Some("") {
            return Err(bad("--chown is empty after expansion".into()));
        }
        let exclude = c
            .exclude
            .iter()
            .map(|e| expand(e, Mode::Word))
            .collect::<Result<Vec<_>>>()?;
        Ok(Copy {
            sources,
            dest,
            heredocs,
            from,
            chown,
            chmod,
            link: c.link,
            parents: c.parents,
            exclude,
            json: c.json,
        })
    }
}
