//! The builder: [`Builder::new`] with a [`BuildConfig`], then
//! [`Builder::build`] with a [`BuildRequest`], giving [`BuildOutput`]
//! (one image per platform, and an index when there are several), with
//! [`BuildEvent`]s reported as steps run. It only orchestrates: stages run
//! in `stage_exec`, each step kind in its own module.
//!
//! A build plans once from the Dockerfile alone to learn its base images,
//! resolves them through a [`BaseResolver`] (manifest and configuration
//! only: base layers are referenced, not downloaded), plans again with
//! what the bases declare, and runs each target's stages in plan order.
//!
//! What runs today: FROM (image, stage, scratch), COPY and ADD of local
//! files and here-documents, ADD extracting local tar archives, ADD of
//! http(s) URLs (verified with `--checksum`), COPY --from another stage or
//! an image in either OS direction (their layers are downloaded only
//! then), ADD of git repositories (through the `git` command), and every
//! configuration instruction. RUN needs an executor and is refused with
//! its line.

use crate::api::{BaseResolver, BuildConfig, BuildError, BuildEvent, BuildOutput, BuildRequest};
use crate::bases::ResolvedBases;
use crate::clock::rfc3339;
use crate::emit::{emit_image, emit_index, BuiltImage};
use crate::layer_store::LayerStore;
use crate::secrets::SecretSource;
use crate::stage_exec::{StageExec, StageResult};
use std::collections::{BTreeMap, HashMap, HashSet};
use wharf_frontend::plan::{plan, Base, NoBaseImages, TargetPlan};
use wharf_run::{ChocoTable, RunExecutor};

/// Builds images. See the module docs.
pub struct Builder {
    config: BuildConfig,
    run_executor: Option<std::sync::Arc<dyn RunExecutor>>,
    secrets: BTreeMap<String, SecretSource>,
    choco: Option<ChocoTable>,
}

impl Builder {
    pub fn new(config: BuildConfig) -> Self {
        Builder {
            config,
            run_executor: None,
            secrets: BTreeMap::new(),
            choco: Some(ChocoTable::builtin()),
        }
    }

    /// Whether Windows RUN lines that use `apt-get`, `apk`, `yum` or `dnf`
    /// run as `choco install` instead (on by default; shown in the output
    /// and recorded in the history).
    pub fn with_choco_translation(mut self, translate: bool) -> Self {
        self.choco = translate.then(ChocoTable::builtin);
        self
    }

    /// Secrets by id, for `RUN --mount=type=secret,id=...`.
    pub fn with_secrets(mut self, secrets: BTreeMap<String, SecretSource>) -> Self {
        self.secrets = secrets;
        self
    }

    /// Runs RUN instructions through `executor` (for the platforms it
    /// supports); without one, RUN is refused.
    pub fn with_run_executor(mut self, executor: std::sync::Arc<dyn RunExecutor>) -> Self {
        self.run_executor = Some(executor);
        self
    }

    /// Runs a build.
    pub fn build(
        &self,
        req: &BuildRequest,
        resolver: &dyn BaseResolver,
        events: &mut dyn FnMut(BuildEvent),
    ) -> Result<BuildOutput, BuildError> {
        // Blobs this build reads or writes must survive a concurrent prune
        // until they are delivered: the output keeps the lease.
        let lease = self.config.store.lease()?;
        let first = plan(&req.file, &req.source_text, &req.options, &NoBaseImages)?;
        let (bases, known) = ResolvedBases::resolve(&first, &req.file.path, resolver, events)?;
        let plan = plan(&req.file, &req.source_text, &req.options, &known)?;
        for w in &plan.warnings {
            events(BuildEvent::warning(match w.line {
                Some(l) => format!("{}:{l}: {}", plan.file, w.message),
                None => format!("{}: {}", plan.file, w.message),
            }));
        }
        let layers = LayerStore::new(self.config.store.clone(), self.config.compression);
        let stores = (&layers, &layers.for_unexported_stages());
        let mut images = Vec::new();
        for (t_index, target) in plan.targets.iter().enumerate() {
            let target_build = TargetBuild {
                req,
                resolver,
                bases: &bases,
                t_index,
                target,
            };
            images.push(self.build_target(&target_build, stores, events)?);
        }
        let index = if images.len() > 1 {
            Some(emit_index(&self.config.store, &images)?)
        } else {
            None
        };
        Ok(BuildOutput {
            plan,
            images,
            index,
            _lease: std::sync::Arc::new(lease),
        })
    }

    /// Runs the stages of one target in plan order; returns its image.
    fn build_target(
        &self,
        t: &TargetBuild<'_>,
        (layers, unexported_layers): (&LayerStore, &LayerStore),
        events: &mut dyn FnMut(BuildEvent),
    ) -> Result<BuiltImage, BuildError> {
        let (req, target) = (t.req, t.target);
        let exported = exported_stages(target);
        let mut results: HashMap<usize, StageResult> = HashMap::new();
        for stage in &target.stages {
            let base = match &stage.base {
                Base::Image { reference, .. } => {
                    let found = t.bases.for_stage(t.t_index, stage, reference).cloned();
                    Some(found.ok_or_else(|| BuildError::Resolve {
                        file: req.file.path.clone(),
                        line: stage.line,
                        reference: reference.clone(),
                        message: "the base image was not resolved".into(),
                    })?)
                }
                _ => None,
            };
            let lookup_image =
                |reference: &str| t.bases.for_stage(t.t_index, stage, reference).cloned();
            let exec = StageExec {
                file: &req.file.path,
                run_executor: self.run_executor.as_deref(),
                choco: self.choco.as_ref(),
                secrets: &self.secrets,
                resolver: t.resolver,
                lookup_image: &lookup_image,
                context: &req.context,
                layers: if exported.contains(&stage.index) {
                    layers
                } else {
                    unexported_layers
                },
                config: &self.config,
                target_platform: &target.platform,
            };
            let result = exec.run(stage, base.as_ref(), &results, events)?;
            results.insert(stage.index, result);
        }
        let out = results
            .remove(&target.output_stage)
            .ok_or_else(|| BuildError::Step {
                file: req.file.path.clone(),
                line: 0,
                message: "the output stage was not built".into(),
            })?;
        let mut config = out.config;
        for (k, v) in &req.labels {
            config.config.labels.insert(k.clone(), v.clone());
        }
        config.created = Some(rfc3339(self.config.time()));
        let platform = config.platform();
        let mut image = emit_image(&self.config.store, &platform, config, out.layers)?;
        image.base_reference = out.base_reference;
        Ok(image)
    }
}

/// One target of a build, as [`Builder::build_target`] runs it.
struct TargetBuild<'a> {
    req: &'a BuildRequest,
    resolver: &'a dyn BaseResolver,
    bases: &'a ResolvedBases,
    t_index: usize,
    target: &'a TargetPlan,
}

/// The output stage and the stages it is built FROM: their layers are
/// the image's (the others' layers are plain tars).
fn exported_stages(target: &TargetPlan) -> HashSet<usize> {
    let mut exported = HashSet::new();
    let mut next = Some(target.output_stage);
    while let Some(i) = next.filter(|i| exported.insert(*i)) {
        next = target
            .stages
            .iter()
            .find(|s| s.index == i)
            .and_then(|s| match s.base {
                Base::Stage { index, .. } => Some(index),
                _ => None,
            });
    }
    exported
}
