//! The build plan: what the builder executes, resolved and expanded.
//!
//! [`plan`] turns a parsed [`BuildFile`] plus build options into a
//! [`Plan`]: one [`TargetPlan`] per target platform, each with the stages
//! the target needs, in dependency order, every instruction's arguments
//! expanded with Docker's ARG/ENV scoping and the automatic platform ARGs.
//!
//! The front end does no I/O, so what only a registry knows (a base
//! image's ENV, WORKDIR, OS, `os.version`, ONBUILD triggers) comes in
//! through [`BaseImages`]. The builder plans once without it to learn the
//! base references ([`Plan::base_images`]), resolves them, and plans again
//! with it; both plans have the same shape. The JSON form of a plan is
//! documented in `docs/plan-format.md`.

mod graph;
mod instruction;
mod paths;
mod scope;
mod secrets;
mod stage;
mod validate;

use crate::ast::{BuildFile, Instruction};
use crate::error::FrontendError;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use wharf_oci::Platform;

pub use instruction::DEFAULT_LINUX_PATH;
pub use paths::{resolve_linux_path, resolve_windows_path, windows_path_as_posix};
pub use secrets::looks_secret;

/// Build options the plan depends on.
#[derive(Debug, Clone)]
pub struct PlanOptions {
    /// `--build-arg` values, already resolved (a bare `--build-arg K` takes
    /// the caller's environment; the caller reads it).
    pub build_args: BTreeMap<String, String>,
    /// `--target`: the stage to build (name or index); the last by default.
    pub target: Option<String>,
    /// `--platform` values; empty means "the default platform" (the build
    /// platform, or the base image's when only the base knows it).
    pub platforms: Vec<Platform>,
    /// The platform Wharf runs on (`BUILDPLATFORM`).
    pub build_platform: Platform,
    /// Platforms this host can execute RUN for; `None` skips the check.
    pub run_platforms: Option<Vec<Platform>>,
    /// `--build-context NAME=...`, by lowercase name: what `FROM NAME`,
    /// `COPY --from=NAME` and `--mount from=NAME` read instead of a stage
    /// or an image of that name.
    pub named_contexts: BTreeMap<String, NamedContext>,
}

/// What a `--build-context` name stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NamedContext {
    /// An image (`docker-image://REF`).
    Image(String),
    /// A directory on the build host, read like the build context.
    Directory(String),
}

impl PlanOptions {
    /// Options for this host with no build args, target or platforms.
    pub fn for_host() -> Self {
        PlanOptions {
            build_args: BTreeMap::new(),
            target: None,
            platforms: Vec::new(),
            build_platform: Platform::host(),
            run_platforms: Some(vec![Platform::host()]),
            named_contexts: BTreeMap::new(),
        }
    }
}

/// What the registry knows about a base image, as far as planning needs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BaseImage {
    /// The platform of the manifest chosen (with `os.version` on Windows).
    pub platform: Option<Platform>,
    /// Config `Env`, in order.
    pub env: Vec<(String, String)>,
    /// Config `WorkingDir`.
    pub workdir: Option<String>,
    /// Config `Shell`.
    pub shell: Option<Vec<String>>,
    /// Config `User`.
    pub user: Option<String>,
    /// Config `OnBuild` triggers, each an instruction line.
    pub onbuild: Vec<String>,
}

/// Lookup of resolved base images by reference and requested platform.
pub trait BaseImages {
    fn get(&self, reference: &str, platform: &Platform) -> Option<&BaseImage>;
}

/// No base image is known: plan from the Dockerfile alone.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoBaseImages;

impl BaseImages for NoBaseImages {
    fn get(&self, _: &str, _: &Platform) -> Option<&BaseImage> {
        None
    }
}

/// Base images by reference (as the plan writes it) and requested platform.
#[derive(Debug, Clone, Default)]
pub struct KnownBaseImages(std::collections::HashMap<(String, Platform), BaseImage>);

impl KnownBaseImages {
    /// Records what `reference`, resolved for `platform`, declares.
    pub fn insert(&mut self, reference: &str, platform: &Platform, image: BaseImage) {
        self.0
            .insert((reference.to_string(), platform.clone()), image);
    }
}

impl BaseImages for KnownBaseImages {
    fn get(&self, reference: &str, platform: &Platform) -> Option<&BaseImage> {
        self.0.get(&(reference.to_string(), platform.clone()))
    }
}

/// A fully resolved build.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    /// The build file's name.
    pub file: String,
    /// `BUILDPLATFORM`.
    pub build_platform: Platform,
    /// One entry per target platform, in `--platform` order.
    pub targets: Vec<TargetPlan>,
    /// Findings worth showing that do not stop the build.
    pub warnings: Vec<PlanWarning>,
    /// `--build-arg` names that no ARG declared.
    pub unused_build_args: Vec<String>,
}

/// A warning, with its line when it has one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlanWarning {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    pub message: String,
}

/// The build for one target platform.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TargetPlan {
    /// The target platform (`TARGETPLATFORM`).
    pub platform: Platform,
    /// `false` when no `--platform` was given and the host's was assumed.
    pub platform_explicit: bool,
    /// Index (in file order) of the stage whose result is the image.
    pub output_stage: usize,
    /// The stages the output needs, dependencies first.
    pub stages: Vec<StagePlan>,
    /// Stages of the file not needed for this target.
    pub skipped_stages: Vec<usize>,
}

/// Where a stage's platform came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PlatformSource {
    /// `FROM --platform=...`.
    Flag,
    /// `--platform` of the build.
    Target,
    /// Inherited from the stage it is based on.
    Stage,
    /// Taken from the resolved base image.
    Base,
    /// Nothing said: the build platform is assumed until the base image
    /// is resolved.
    Default,
}

/// What a stage starts from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Base {
    Image {
        reference: String,
        /// Whether [`BaseImages`] knew it when planning.
        resolved: bool,
    },
    Stage {
        index: usize,
        #[serde(skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
    Scratch,
}

/// One stage of one target.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StagePlan {
    /// Position in the file (0-based), the number `COPY --from=N` uses.
    pub index: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Line of the FROM instruction.
    pub line: usize,
    pub base: Base,
    pub platform: Platform,
    pub platform_source: PlatformSource,
    /// Stages this one reads from (base, COPY --from, RUN --mount from).
    pub depends_on: Vec<usize>,
    /// Instructions after FROM, expanded.
    pub instructions: Vec<PlannedInstruction>,
}

impl StagePlan {
    /// A name for messages: the stage name, or its number.
    pub fn display_name(&self) -> String {
        match &self.name {
            Some(n) => format!("'{n}'"),
            None => format!("#{}", self.index),
        }
    }
}

/// Where COPY --from or RUN --mount from=... reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Source {
    Stage {
        index: usize,
    },
    Image {
        reference: String,
    },
    /// A directory given with `--build-context NAME=DIR`.
    Context {
        name: String,
    },
}

/// One instruction with its arguments expanded.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlannedInstruction {
    pub line: usize,
    pub end_line: usize,
    /// The instruction as written (continuations joined).
    pub source: String,
    /// Keyword and expanded arguments.
    #[serde(flatten)]
    pub instruction: Instruction,
    /// For COPY --from / RUN --mount from=: what each `from` names, in
    /// order of appearance.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reads: Vec<Source>,
    /// For RUN: the environment the command gets (ARGs in scope, then ENV).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env: Option<BTreeMap<String, String>>,
    /// For shell-form RUN, CMD and ENTRYPOINT: the SHELL in effect.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shell: Option<Vec<String>>,
    /// The working directory in effect after this instruction.
    pub workdir: String,
    /// The user in effect after this instruction, when one is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Build arguments (names and values) that this instruction's result
    /// depends on: the ones its expansion used, and for RUN all in scope.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub args: BTreeMap<String, String>,
    /// `true` for a trigger inherited from the base image's ONBUILD.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub onbuild_trigger: bool,
}

impl Plan {
    /// Every (base image reference, platform requested for it) the plan
    /// needs resolved, without duplicates.
    pub fn base_images(&self) -> Vec<(String, Platform)> {
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        for t in &self.targets {
            for s in &t.stages {
                let mut refs: Vec<String> = Vec::new();
                if let Base::Image { reference, .. } = &s.base {
                    refs.push(reference.clone());
                }
                for i in &s.instructions {
                    for r in &i.reads {
                        if let Source::Image { reference } = r {
                            refs.push(reference.clone());
                        }
                    }
                }
                for r in refs {
                    if seen.insert((r.clone(), s.platform.to_string())) {
                        out.push((r, s.platform.clone()));
                    }
                }
            }
        }
        out
    }
}

/// Plans `file` (whose text is `source`, for error quotes).
pub fn plan(
    file: &BuildFile,
    source: &str,
    options: &PlanOptions,
    bases: &dyn BaseImages,
) -> Result<Plan, FrontendError> {
    let structure = graph::Structure::new(file, source)?;
    let mut warnings: Vec<PlanWarning> = file
        .warnings
        .iter()
        .map(|w| PlanWarning {
            line: Some(w.pos.line),
            message: w.message.clone(),
        })
        .collect();
    let platforms: Vec<(Platform, bool)> = if options.platforms.is_empty() {
        vec![(options.build_platform.clone(), false)]
    } else {
        options
            .platforms
            .iter()
            .map(|p| (p.clone(), true))
            .collect()
    };
    let mut consumed = BTreeSet::new();
    let mut targets = Vec::new();
    for (platform, explicit) in platforms {
        let mut ctx = stage::TargetContext {
            file,
            source,
            options,
            bases,
            structure: &structure,
            target: platform,
            explicit,
        };
        let (mut target, mut used) = ctx.plan_target()?;
        // With no --platform, the result's platform is the output stage's
        // (a Windows stage built on a Linux host is a Windows image):
        // plan again so that TARGETOS and friends say so.
        if !explicit {
            let output = target
                .stages
                .iter()
                .find(|s| s.index == target.output_stage);
            if let Some(p) = output
                .map(|s| s.platform.clone())
                .filter(|p| *p != target.platform)
            {
                ctx.target = p;
                (target, used) = ctx.plan_target()?;
            }
        }
        consumed.extend(used);
        targets.push(target);
    }
    let unused_build_args: Vec<String> = options
        .build_args
        .keys()
        .filter(|k| !consumed.contains(*k) && !scope::is_predefined(k))
        .cloned()
        .collect();
    if !unused_build_args.is_empty() {
        warnings.push(PlanWarning {
            line: None,
            message: format!(
                "build arguments not consumed by any ARG: {}",
                unused_build_args.join(", ")
            ),
        });
    }
    warnings.extend(secrets::warnings(file, &options.build_args));
    warnings.dedup();
    Ok(Plan {
        file: file.path.clone(),
        build_platform: options.build_platform.clone(),
        targets,
        warnings,
        unused_build_args,
    })
}
