//! Planning one target: global ARGs, each stage's base and platform, and
//! every instruction expanded in its stage's scope; then the stages the
//! target needs, in order, and the check that this host can run them.

use super::graph::{needed_in_order, stage_label, Edge, Structure};
use super::scope::{automatic_args, StageState, Vars};
use super::{Base, BaseImages, NamedContext, PlanOptions, PlatformSource, StagePlan, TargetPlan};
use crate::ast::*;
use crate::error::FrontendError;
use crate::expand::{ExpandError, Expander, Mode};
use std::collections::BTreeSet;
use wharf_oci::Platform;

type Result<T> = std::result::Result<T, FrontendError>;

/// What planning one stage's instructions reads and collects.
pub(super) struct StageCx<'a> {
    /// The stage's index.
    pub stage: usize,
    pub platform: &'a Platform,
    /// The ARGs declared before the first FROM.
    pub globals: &'a Vars,
    /// Dependencies on other stages found so far.
    pub edges: &'a mut Vec<Edge>,
    /// Build arguments the build file consumed.
    pub consumed: &'a mut BTreeSet<String>,
    /// ONBUILD triggers the stage declares.
    pub onbuild: &'a mut Vec<String>,
}

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

impl TargetContext<'_> {
    pub(super) fn err(&self, pos: Pos, msg: impl Into<String>) -> FrontendError {
        FrontendError::at(&self.file.path, self.source, pos, msg)
    }

    pub(super) fn expander(&self) -> Expander {
        Expander {
            escape: self.file.directives.escape,
        }
    }

    /// Positions an expansion error inside the instruction's first line.
    pub(super) fn expand_err(
        &self,
        ins: &Located<Instruction>,
        word: &str,
        e: ExpandError,
    ) -> FrontendError {
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
        if e.message.contains("1 MiB") {
            err.with_hint("a value this long is usually a variable that grows on every line (ENV A=$A$A); build it from a file with COPY instead")
        } else if e.message.contains("not allowed to be") || e.message.contains(": ") {
            err.with_hint("set the variable with --build-arg, ARG or ENV")
        } else {
            err.with_hint("see the Dockerfile reference on variable substitution")
        }
    }

    pub fn plan_target(&self) -> Result<(TargetPlan, BTreeSet<String>)> {
        let ex = self.expander();
        let mut consumed = BTreeSet::new();
        let mut globals = Vars::default();
        let target_stage = self.target_stage_name();
        for (k, v) in automatic_args(&self.options.build_platform, &self.target, &target_stage) {
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

    /// `TARGETSTAGE`: `--target` as given, else the last stage's name,
    /// else `default` (BuildKit's `defaultArgs`).
    fn target_stage_name(&self) -> String {
        match &self.options.target {
            Some(t) if !t.is_empty() => t.clone(),
            _ => self
                .structure
                .stages
                .last()
                .and_then(|s| s.name.clone())
                .unwrap_or_else(|| "default".to_string()),
        }
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
                    "this host cannot execute {} binaries: register an emulator with binfmt_misc (Debian: apt-get install qemu-user-static binfmt-support; binfmt_misc mounted at /proc/sys/fs/binfmt_misc), build on a {} machine, or use a stage for {}",
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

    // Long: walks a stage's instructions in order, threading ARG/ENV
    // scope, SHELL, USER and WORKDIR through each; the order of those
    // updates is Docker's semantics and is clearest written once.
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
        let named = self.options.named_contexts.get(&lower);
        let base = if let Some(NamedContext::Image(reference)) = named {
            Base::Image {
                reference: reference.clone(),
                resolved: false,
            }
        } else if let Some(NamedContext::Directory(dir)) = named {
            return Err(self
                .err(
                    from_ins.pos,
                    format!("FROM {image}: the build context {image} is the directory {dir}, which cannot be a base"),
                )
                .with_hint(format!("give an image instead: --build-context {image}=docker-image://REF, or COPY --from={image} to copy its files")));
        } else if lower == "scratch" {
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
                s.args = Vars::with_rule(s.env.rule());
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
                let mut cx = StageCx {
                    stage: idx,
                    platform: &platform,
                    globals,
                    edges,
                    consumed,
                    onbuild: &mut onbuild,
                };
                let p = self.instruction(&located, &mut state, &mut cx, true)?;
                instructions.push(p);
            }
        }
        for ins in &self.file.instructions[decl.from + 1..decl.end] {
            let mut cx = StageCx {
                stage: idx,
                platform: &platform,
                globals,
                edges,
                consumed,
                onbuild: &mut onbuild,
            };
            let p = self.instruction(ins, &mut state, &mut cx, false)?;
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
}
