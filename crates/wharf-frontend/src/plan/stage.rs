//! Planning one target: global ARGs, each stage's base and platform, and
//! every instruction expanded in its stage's scope; then the stages the
//! target needs, in order, and the check that this host can run them.

use super::graph::{needed_in_order, stage_label, Edge, Structure};
use super::paths::{resolve_linux_path, resolve_windows_path};
use super::scope::{automatic_args, StageState, Vars};
use super::validate;
use super::{
    Base, BaseImages, PlanOptions, PlannedInstruction, PlatformSource, Source, StagePlan,
    TargetPlan,
};
use crate::ast::*;
use crate::error::FrontendError;
use crate::expand::{ExpandError, Expander, Mode};
use crate::suggest::closest;
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use wharf_platform::Platform;

type Result<T> = std::result::Result<T, FrontendError>;

const DEFAULT_LINUX_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

pub(crate) struct TargetContext<'a> {
    pub file: &'a BuildFile,
    pub source: &'a str,
    pub options: &'a PlanOptions,
    pub bases: &'a dyn BaseImages,
    pub structure: &'a Structure,
    pub target: Platform,
    pub explicit: bool,
}

/// A planned stage and the state it ends in (what stages based on it inherit).
struct Planned {
    plan: StagePlan,
    state: StageState,
    onbuild: Vec<String>,
}

/// Per-instruction bookkeeping while expanding.
struct Work<'s> {
    state: &'s mut StageState,
    used: RefCell<Vec<String>>,
}

impl TargetContext<'_> {
    fn err(&self, pos: Pos, msg: impl Into<String>) -> FrontendError {
        FrontendError::at(&self.file.path, self.source, pos, msg)
    }

    fn expander(&self) -> Expander {
        Expander {
            escape: self.file.directives.escape,
        }
    }

    /// Positions an expansion error inside the instruction's first line.
    fn expand_err(&self, ins: &Located<Instruction>, word: &str, e: ExpandError) -> FrontendError {
        let first_line = ins.source.lines().next().unwrap_or("");
        let pos = match first_line.find(word) {
            Some(i) => Pos {
                line: ins.pos.line,
                column: ins.pos.column
                    + first_line[..i].chars().count()
                    + word.get(..e.offset).map(|s| s.chars().count()).unwrap_or(0),
            },
            None => ins.pos,
        };
        let err = self.err(pos, format!("{}: {}", ins.node.keyword(), e.message));
        if e.message.contains("not allowed to be unset") || e.message.contains(": ") {
            err.with_hint("set the variable with --build-arg, ARG or ENV")
        } else {
            err.with_hint("see the Dockerfile reference on variable substitution")
        }
    }

    pub fn plan_target(&self) -> Result<(TargetPlan, BTreeSet<String>)> {
        let ex = self.expander();
        let mut consumed = BTreeSet::new();
        let mut globals = Vars::default();
        for (k, v) in automatic_args(&self.options.build_platform, &self.target) {
            globals.set(&k, Some(v));
        }
        for &gi in &self.structure.globals {
            let ins = &self.file.instructions[gi];
            if let Instruction::Arg { args } = &ins.node {
                for d in args {
                    let value = if let Some(v) = self.options.build_args.get(&d.name) {
                        consumed.insert(d.name.clone());
                        Some(v.clone())
                    } else if let Some(def) = &d.default {
                        let r = ex
                            .word(def, Mode::Word, &|n| globals.value(n))
                            .map_err(|e| self.expand_err(ins, def, e))?;
                        Some(r.value)
                    } else {
                        globals.get(&d.name).flatten().map(str::to_string)
                    };
                    globals.set(&d.name, value);
                }
            }
        }

        let target_index = self
            .structure
            .target_index(self.file, self.options.target.as_deref())?;

        // Plan every stage in file order; a stage that fails only matters
        // if the target needs it.
        let mut planned: Vec<std::result::Result<Planned, FrontendError>> = Vec::new();
        let mut deps: Vec<Vec<Edge>> = Vec::new();
        for idx in 0..self.structure.stages.len() {
            let mut edges = Vec::new();
            let r = self.plan_stage(idx, &globals, &planned, &mut edges, &mut consumed);
            planned.push(r);
            deps.push(edges);
        }
        let order = needed_in_order(self.file, self.source, &deps, target_index)?;
        let mut stages = Vec::new();
        for &i in &order {
            match &planned[i] {
                Ok(p) => stages.push(p.plan.clone()),
                Err(e) => return Err(e.clone()),
            }
        }
        self.check_runnable(&stages)?;
        let skipped_stages = (0..self.structure.stages.len())
            .filter(|i| !order.contains(i))
            .collect();
        Ok((
            TargetPlan {
                platform: self.target.clone(),
                platform_explicit: self.explicit,
                output_stage: target_index,
                stages,
                skipped_stages,
            },
            consumed,
        ))
    }

    /// Refuses, before any work, a RUN this host cannot execute.
    fn check_runnable(&self, stages: &[StagePlan]) -> Result<()> {
        let Some(runnable) = &self.options.run_platforms else {
            return Ok(());
        };
        for s in stages {
            let Some(run) = s
                .instructions
                .iter()
                .find(|i| matches!(i.instruction, Instruction::Run(_)))
            else {
                continue;
            };
            let p = &s.platform;
            if runnable
                .iter()
                .any(|h| h.os == p.os && h.architecture == p.architecture)
            {
                continue;
            }
            let host = &self.options.build_platform;
            let hint = if p.is_windows() {
                "Windows RUN executes through HCS on a Windows host; on this host a Windows stage can use FROM, COPY, ADD and configuration instructions only (move the RUN into a Linux stage and COPY --from it, or build on Windows)".to_string()
            } else if p.os != host.os {
                format!(
                    "{} RUN needs a {} kernel; build this stage on a {} host",
                    p.os, p.os, p.os
                )
            } else {
                format!(
                    "this host cannot execute {} binaries; build on a {} machine or use a stage for {}",
                    p.architecture,
                    p.architecture,
                    host.short()
                )
            };
            return Err(self
                .err(
                    Pos {
                        line: run.line,
                        column: 1,
                    },
                    format!(
                        "RUN in stage {} ({}) cannot execute on this {} host",
                        s.display_name(),
                        p.short(),
                        host.short()
                    ),
                )
                .with_hint(hint));
        }
        Ok(())
    }

    fn plan_stage(
        &self,
        idx: usize,
        globals: &Vars,
        planned: &[std::result::Result<Planned, FrontendError>],
        edges: &mut Vec<Edge>,
        consumed: &mut BTreeSet<String>,
    ) -> Result<Planned> {
        let decl = &self.structure.stages[idx];
        let from_ins = &self.file.instructions[decl.from];
        let Instruction::From(from) = &from_ins.node else {
            unreachable!("a stage starts with FROM");
        };
        let ex = self.expander();
        let image = ex
            .word(&from.image, Mode::Word, &|n| globals.value(n))
            .map_err(|e| self.expand_err(from_ins, &from.image, e))?
            .value;
        if image.trim().is_empty() {
            return Err(self
                .err(
                    from_ins.pos,
                    format!(
                        "FROM {}: the image name is empty after expansion",
                        from.image
                    ),
                )
                .with_hint(
                    "declare the ARG before the first FROM and give it a default or a --build-arg",
                ));
        }
        let flag_platform = match &from.platform {
            Some(raw) => {
                let v = ex
                    .word(raw, Mode::Word, &|n| globals.value(n))
                    .map_err(|e| self.expand_err(from_ins, raw, e))?
                    .value;
                Some(
                    v.parse::<Platform>()
                        .map_err(|e| self.err(from_ins.pos, format!("FROM --platform: {e}")))?,
                )
            }
            None => None,
        };

        let lower = image.to_ascii_lowercase();
        let base = if lower == "scratch" {
            Base::Scratch
        } else if let Some(&j) = self.structure.names.get(&lower).filter(|&&j| j != idx) {
            if j > idx {
                return Err(self
                    .err(
                        from_ins.pos,
                        format!(
                            "FROM {image}: stage {} is defined later in the file",
                            stage_label(self.file, j)
                        ),
                    )
                    .with_hint("a stage can only be based on a stage above it; move it up"));
            }
            edges.push(Edge {
                to: j,
                pos: from_ins.pos,
            });
            Base::Stage {
                index: j,
                name: self.structure.stages[j].name.clone(),
            }
        } else {
            Base::Image {
                reference: image.clone(),
                resolved: false,
            }
        };

        let parent = match &base {
            Base::Stage { index, .. } => match &planned[*index] {
                Ok(p) => Some(p),
                Err(e) => return Err(e.clone()),
            },
            _ => None,
        };
        let (mut platform, mut source) = match (&flag_platform, parent) {
            // `--platform=$TARGETPLATFORM` names the target without its
            // Windows version; the version still applies.
            (Some(p), _)
                if p.os_version.is_none()
                    && p.short() == self.target.short()
                    && self.target.os_version.is_some() =>
            {
                (self.target.clone(), PlatformSource::Flag)
            }
            (Some(p), _) => (p.clone(), PlatformSource::Flag),
            (None, Some(p)) => (p.plan.platform.clone(), PlatformSource::Stage),
            (None, None) if self.explicit => (self.target.clone(), PlatformSource::Target),
            // No platform anywhere: the build platform, until the base
            // image says otherwise (even when the output stage made the
            // target another OS, a stage of its own stays on the host's).
            (None, None) => (self.options.build_platform.clone(), PlatformSource::Default),
        };

        let mut base = base;
        let mut info = None;
        if let Base::Image {
            reference,
            resolved,
        } = &mut base
        {
            // A stage with no platform of its own was resolved for the
            // build platform on the first pass.
            let found = self.bases.get(reference, &platform).or_else(|| {
                (source == PlatformSource::Default)
                    .then(|| self.bases.get(reference, &self.options.build_platform))
                    .flatten()
            });
            if let Some(b) = found {
                *resolved = true;
                info = Some(b);
                if let Some(bp) = &b.platform {
                    if source == PlatformSource::Default {
                        platform = bp.clone();
                        source = PlatformSource::Base;
                    } else if bp.is_windows() && platform.is_windows() {
                        platform.os_version = bp.os_version.clone();
                        platform.os_features = bp.os_features.clone();
                    }
                }
            }
        }
        if base == Base::Scratch && platform.is_windows() {
            return Err(self
                .err(
                    from_ins.pos,
                    format!(
                        "FROM scratch cannot start a Windows stage ({})",
                        platform.short()
                    ),
                )
                .with_hint("Windows images need a Windows base layer, e.g. FROM mcr.microsoft.com/windows/nanoserver:ltsc2022"));
        }

        let (mut state, triggers) = match parent {
            Some(p) => {
                let mut s = p.state.clone();
                s.args = Vars::default();
                (s, p.onbuild.clone())
            }
            None => {
                let mut s = StageState::fresh(&platform);
                if let Some(b) = info {
                    for (k, v) in &b.env {
                        s.env.set(k, Some(v.clone()));
                    }
                    if let Some(w) = b.workdir.as_ref().filter(|w| !w.is_empty()) {
                        s.workdir = w.clone();
                    }
                    if let Some(sh) = &b.shell {
                        s.shell = sh.clone();
                    }
                    s.user = b.user.clone().filter(|u| !u.is_empty());
                }
                (s, info.map(|b| b.onbuild.clone()).unwrap_or_default())
            }
        };

        let mut instructions = Vec::new();
        let mut onbuild = Vec::new();
        for trigger in &triggers {
            let parsed = crate::dockerfile::parse(&format!("ONBUILD trigger of {image}"), trigger)
                .map_err(|e| {
                    self.err(
                        from_ins.pos,
                        format!(
                            "the base image's ONBUILD trigger {trigger:?} is invalid: {}",
                            e.message
                        ),
                    )
                })?;
            for t in parsed.instructions {
                if matches!(
                    t.node,
                    Instruction::From(_)
                        | Instruction::Onbuild { .. }
                        | Instruction::Maintainer { .. }
                ) {
                    return Err(self.err(
                        from_ins.pos,
                        format!("the base image's ONBUILD trigger {trigger:?} is not allowed as a trigger"),
                    ));
                }
                let located = Located {
                    node: t.node,
                    pos: from_ins.pos,
                    end_line: from_ins.end_line,
                    source: t.source,
                };
                let p = self.instruction(
                    &located,
                    idx,
                    &mut state,
                    &platform,
                    globals,
                    edges,
                    consumed,
                    &mut onbuild,
                    true,
                )?;
                instructions.push(p);
            }
        }
        for ins in &self.file.instructions[decl.from + 1..decl.end] {
            let p = self.instruction(
                ins,
                idx,
                &mut state,
                &platform,
                globals,
                edges,
                consumed,
                &mut onbuild,
                false,
            )?;
            instructions.push(p);
        }

        let mut depends_on: Vec<usize> = edges.iter().map(|e| e.to).collect();
        depends_on.sort_unstable();
        depends_on.dedup();
        Ok(Planned {
            plan: StagePlan {
                index: idx,
                name: decl.name.clone(),
                line: from_ins.pos.line,
                base,
                platform,
                platform_source: source,
                depends_on,
                instructions,
            },
            state,
            onbuild,
        })
    }

    /// Resolves a `--from` / `from=` value to a stage or an image.
    fn resolve_from(
        &self,
        value: &str,
        stage: usize,
        ins: &Located<Instruction>,
        edges: &mut Vec<Edge>,
    ) -> Result<Source> {
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

    #[allow(clippy::too_many_arguments)]
    fn instruction(
        &self,
        ins: &Located<Instruction>,
        stage: usize,
        state: &mut StageState,
        platform: &Platform,
        globals: &Vars,
        edges: &mut Vec<Edge>,
        consumed: &mut BTreeSet<String>,
        onbuild: &mut Vec<String>,
        onbuild_trigger: bool,
    ) -> Result<PlannedInstruction> {
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
                        consumed.insert(d.name.clone());
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
                    let ex_opt = |o: &Option<String>| -> Result<Option<String>> {
                        o.as_deref().map(|s| expand(s, Mode::Word)).transpose()
                    };
                    let m = match m {
                        Mount::Bind {
                            target,
                            source,
                            from,
                            readwrite,
                        } => Mount::Bind {
                            target: expand(target, Mode::Word)?,
                            source: ex_opt(source)?,
                            from: ex_opt(from)?,
                            readwrite: *readwrite,
                        },
                        Mount::Cache {
                            target,
                            id,
                            sharing,
                            readonly,
                            from,
                            source,
                            mode,
                            uid,
                            gid,
                        } => Mount::Cache {
                            target: expand(target, Mode::Word)?,
                            id: ex_opt(id)?,
                            sharing: *sharing,
                            readonly: *readonly,
                            from: ex_opt(from)?,
                            source: ex_opt(source)?,
                            mode: *mode,
                            uid: *uid,
                            gid: *gid,
                        },
                        Mount::Tmpfs { target, size } => Mount::Tmpfs {
                            target: expand(target, Mode::Word)?,
                            size: *size,
                        },
                        Mount::Secret {
                            id,
                            target,
                            env,
                            required,
                            mode,
                            uid,
                            gid,
                        } => Mount::Secret {
                            id: ex_opt(id)?,
                            target: ex_opt(target)?,
                            env: ex_opt(env)?,
                            required: *required,
                            mode: *mode,
                            uid: *uid,
                            gid: *gid,
                        },
                        Mount::Ssh {
                            id,
                            target,
                            required,
                            mode,
                            uid,
                            gid,
                        } => Mount::Ssh {
                            id: ex_opt(id)?,
                            target: ex_opt(target)?,
                            required: *required,
                            mode: *mode,
                            uid: *uid,
                            gid: *gid,
                        },
                    };
                    if let Mount::Bind { from: Some(f), .. } | Mount::Cache { from: Some(f), .. } =
                        &m
                    {
                        reads.push(self.resolve_from(f, stage, ins, edges)?);
                    }
                    mounts.push(m);
                }
                let mut env = BTreeMap::new();
                for name in crate::plan::scope::PREDEFINED {
                    if let Some(v) = self.options.build_args.get(*name) {
                        env.insert(name.to_string(), v.clone());
                    }
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
                let c = self.expand_copy(
                    ins,
                    c,
                    false,
                    stage,
                    &expand,
                    &expand_words,
                    &mut reads,
                    edges,
                )?;
                Instruction::Copy(c)
            }
            Instruction::Add { copy, options } => {
                let c = self.expand_copy(
                    ins,
                    copy,
                    true,
                    stage,
                    &expand,
                    &expand_words,
                    &mut reads,
                    edges,
                )?;
                let checksum = options
                    .checksum
                    .as_deref()
                    .map(|s| expand(s, Mode::Word))
                    .transpose()?;
                if let Some(sum) = &checksum {
                    validate::checksum(sum).map_err(bad)?;
                    if !c.sources.iter().all(|s| validate::is_url(s)) {
                        return Err(bad("ADD --checksum applies only to http(s) sources".into())
                            .with_hint("remove --checksum, or use it with ADD https://... only"));
                    }
                }
                if options.keep_git_dir && !c.sources.iter().any(|s| validate::is_git(s)) {
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
                onbuild.push(trigger.clone());
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

    #[allow(clippy::too_many_arguments)]
    fn expand_copy(
        &self,
        ins: &Located<Instruction>,
        c: &Copy,
        is_add: bool,
        stage: usize,
        expand: &dyn Fn(&str, Mode) -> Result<String>,
        expand_words: &dyn Fn(&str) -> Result<Vec<String>>,
        reads: &mut Vec<Source>,
        edges: &mut Vec<Edge>,
    ) -> Result<Copy> {
        let kw = if is_add { "ADD" } else { "COPY" };
        let bad = |msg: String| self.err(ins.pos, msg);
        let mut sources = Vec::new();
        for s in &c.sources {
            if s.starts_with("<<") && c.heredocs.iter().any(|h| s[2..] == h.name) {
                sources.push(s.clone());
            } else if c.json {
                sources.push(expand(s, Mode::Raw)?);
            } else {
                sources.extend(expand_words(s)?);
            }
        }
        if sources.is_empty() {
            return Err(bad(format!("{kw} has no source left after expansion"))
                .with_hint("check the variables used in the source list"));
        }
        let dest = expand(&c.dest, if c.json { Mode::Raw } else { Mode::Word })?;
        if dest.is_empty() {
            return Err(bad(format!(
                "{kw}: the destination is empty after expansion"
            )));
        }
        let mut heredocs = Vec::new();
        for h in &c.heredocs {
            let mut h = h.clone();
            if h.expand {
                h.content = expand(&h.content, Mode::Raw)?;
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
            reads.push(self.resolve_from(f, stage, ins, edges)?);
        }
        if !is_add {
            if let Some(url) = sources.iter().find(|s| validate::is_url(s)) {
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
