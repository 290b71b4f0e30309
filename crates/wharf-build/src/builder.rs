//! The builder: [`Builder::new`] with a [`BuildConfig`], then
//! [`Builder::build`] with a [`BuildRequest`], giving [`BuildOutput`]
//! (one image per platform, and an index when there are several or with
//! attestations, `attest`), with
//! [`BuildEvent`]s reported as steps run. It only orchestrates: stages run
//! in `stage_exec`, each step kind in its own module.
//!
//! A build plans once from the Dockerfile alone to learn its base images,
//! resolves them through a [`BaseResolver`] (manifest and configuration
//! only: base layers are referenced, not downloaded), plans again with
//! what the bases declare, and runs the stages of every target as one
//! graph (`stage_graph`): independent stages at the same time, up to
//! [`Builder::with_jobs`].
//!
//! What runs today: FROM (image, stage, scratch), COPY and ADD of local
//! files and here-documents, ADD extracting local tar archives, ADD of
//! http(s) URLs (verified with `--checksum`), COPY --from another stage or
//! an image in either OS direction (their layers are downloaded only
//! then), ADD of git repositories (through the `git` command), and every
//! configuration instruction. RUN needs an executor that can run the
//! stage's platform on this host; otherwise the build is refused with the
//! RUN's line before anything is fetched.

use crate::annotations::Annotations;
use crate::api::{BaseResolver, BuildConfig, BuildError, BuildEvent, BuildOutput, BuildRequest};
use crate::attest::{attest_images, AttestInputs, AttestOptions};
use crate::bases::ResolvedBases;
use crate::build_cache::ImportedCache;
use crate::clock::rfc3339;
use crate::context::BuildContext;
use crate::emit::{emit_image, emit_index, BuiltImage};
use crate::layer_store::LayerStore;
use crate::secrets::SecretSource;
use crate::stage_exec::{StageExec, StageResult};
use crate::stage_graph::run_stages;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::AtomicBool;
use wharf_frontend::ast::Instruction;
use wharf_frontend::plan::{plan, Base, NoBaseImages, StagePlan, TargetPlan};
use wharf_oci::Reference;
use wharf_run::{ChocoTable, RunExecutor};

/// Builds images. See the module docs.
pub struct Builder {
    config: BuildConfig,
    run_executor: Option<std::sync::Arc<dyn RunExecutor>>,
    secrets: BTreeMap<String, SecretSource>,
    choco: Option<ChocoTable>,
    annotations: Annotations,
    jobs: usize,
    named_contexts: BTreeMap<String, BuildContext>,
    imported_cache: Option<std::sync::Arc<ImportedCache>>,
    run_options: wharf_run::RunOptions,
    ssh_agents: BTreeMap<String, std::path::PathBuf>,
    attest: AttestOptions,
    attest_names: Vec<Reference>,
    read_windows_base: bool,
}

impl Builder {
    pub fn new(config: BuildConfig) -> Self {
        Builder {
            config,
            run_executor: None,
            secrets: BTreeMap::new(),
            choco: Some(ChocoTable::builtin()),
            annotations: Annotations::default(),
            jobs: std::thread::available_parallelism().map_or(1, |n| n.get()),
            named_contexts: BTreeMap::new(),
            imported_cache: None,
            run_options: wharf_run::RunOptions::default(),
            ssh_agents: BTreeMap::new(),
            attest: AttestOptions::default(),
            attest_names: Vec::new(),
            read_windows_base: false,
        }
    }

    /// Whether Windows layers re-declare a directory the base image has
    /// with the base's security descriptor, attributes, times and
    /// spelling, which downloads the base's layers (off: default metadata,
    /// as BuildKit gives; the base stays undownloaded).
    pub fn with_windows_base_read(mut self, read: bool) -> Self {
        self.read_windows_base = read;
        self
    }

    /// Whether Windows RUN lines that use `apt-get`, `apk`, `yum` or `dnf`
    /// run as `choco install` instead (on by default; shown in the output
    /// and recorded in the history).
    pub fn with_choco_translation(mut self, translate: bool) -> Self {
        self.choco = translate.then(ChocoTable::builtin);
        self
    }

    /// A directory `COPY --from=NAME` reads (`--build-context NAME=DIR`;
    /// the plan's options name it too). Names are case-insensitive.
    pub fn with_named_context(mut self, name: &str, context: BuildContext) -> Self {
        self.named_contexts
            .insert(name.to_ascii_lowercase(), context);
        self
    }

    /// How many stages may run at once (at least one; by default the
    /// number of cores).
    pub fn with_jobs(mut self, jobs: usize) -> Self {
        self.jobs = jobs.max(1);
        self
    }

    /// Records of shared build caches (`--cache-from`), consulted after
    /// the store's own instruction cache.
    pub fn with_imported_cache(mut self, imported: std::sync::Arc<ImportedCache>) -> Self {
        self.imported_cache = Some(imported);
        self
    }

    /// Attestations to attach to each image (docs/attestations.md); their
    /// subjects carry `names` (the tags the result gets). With any, even a
    /// single image is delivered as an index, as BuildKit does.
    pub fn with_attestations(mut self, options: AttestOptions, names: Vec<Reference>) -> Self {
        self.attest = options;
        self.attest_names = names;
        self
    }

    /// Annotations for the manifests, the index and its descriptors.
    pub fn with_annotations(mut self, annotations: Annotations) -> Self {
        self.annotations = annotations;
        self
    }

    /// Secrets by id, for `RUN --mount=type=secret,id=...`.
    pub fn with_secrets(mut self, secrets: BTreeMap<String, SecretSource>) -> Self {
        self.secrets = secrets;
        self
    }

    /// Hosts, `/dev/shm` size and limits of every Linux RUN (part of
    /// their cache keys).
    pub fn with_run_options(mut self, options: wharf_run::RunOptions) -> Self {
        self.run_options = options;
        self
    }

    /// SSH agent sockets by id, for `RUN --mount=type=ssh,id=...`
    /// (`--ssh`); forwarded, never read or stored.
    pub fn with_ssh_agents(mut self, agents: BTreeMap<String, std::path::PathBuf>) -> Self {
        self.ssh_agents = agents;
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
        let started = rfc3339(self.config.time());
        let first = plan(&req.file, &req.source_text, &req.options, &NoBaseImages)?;
        let (bases, known) =
            ResolvedBases::resolve(&first, &req.file.path, resolver, self.jobs, events)?;
        let plan = plan(&req.file, &req.source_text, &req.options, &known)?;
        self.annotations
            .check_index(plan.targets.len() > 1 || self.attest.any())?;
        self.check_runs(&plan.targets, &req.file.path)?;
        for w in &plan.warnings {
            events(BuildEvent::warning(match w.line {
                Some(l) => format!("{}:{l}: {}", plan.file, w.message),
                None => format!("{}: {}", plan.file, w.message),
            }));
        }
        let mut layers = LayerStore::new(self.config.store.clone(), self.config.compression);
        if let Some(imported) = &self.imported_cache {
            layers = layers.with_imported(imported.clone());
        }
        let stores = (&layers, &layers.for_unexported_stages());
        let exported: Vec<HashSet<usize>> = plan.targets.iter().map(exported_stages).collect();
        let run_stage = |t_index: usize,
                         stage: &StagePlan,
                         done: &HashMap<usize, StageResult>,
                         stop: &AtomicBool,
                         events: &mut dyn FnMut(BuildEvent)| {
            let target_build = TargetBuild {
                req,
                resolver,
                bases: &bases,
                t_index,
            };
            let layers = if exported[t_index].contains(&stage.index) {
                stores.0
            } else {
                stores.1
            };
            self.build_stage(&target_build, stage, layers, done, stop, events)
        };
        let results = run_stages(&req.file.path, &plan.targets, self.jobs, &run_stage, events)?;
        let mut images = Vec::new();
        for (target, mut results) in plan.targets.iter().zip(results) {
            let out = results
                .remove(&target.output_stage)
                .ok_or_else(|| BuildError::Step {
                    file: req.file.path.clone(),
                    line: 0,
                    message: "the output stage was not built".into(),
                })?;
            images.push(self.emit_target(req, out)?);
        }
        let attestations = if self.attest.any() {
            let inputs = AttestInputs {
                options: &self.attest,
                names: &self.attest_names,
                store: &self.config.store,
                resolver,
                imported: self.imported_cache.as_deref(),
                req,
                bases: &bases.identities(),
                started: &started,
                finished: &rfc3339(self.config.time()),
            };
            attest_images(&inputs, &images, events)?
        } else {
            Vec::new()
        };
        let index = if images.len() > 1 || !attestations.is_empty() {
            let store = &self.config.store;
            Some(emit_index(
                store,
                &images,
                &attestations,
                &self.annotations,
            )?)
        } else {
            None
        };
        Ok(BuildOutput {
            plan,
            images,
            index,
            cache_records: layers.used_records(),
            imported_cache: self.imported_cache.clone(),
            _lease: std::sync::Arc::new(lease),
        })
    }

    /// Refuses, before anything is fetched or run, the first RUN the
    /// executor cannot run on this host: no executor for the stage's
    /// platform, or one whose host rule refuses the stage's base (a
    /// Windows base this host cannot run process-isolated). The platform
    /// checked is the second plan's, refined with the base's `os.version`.
    fn check_runs(&self, targets: &[TargetPlan], file: &str) -> Result<(), BuildError> {
        for stage in targets.iter().flat_map(|t| &t.stages) {
            let Some(run) = stage
                .instructions
                .iter()
                .find(|i| matches!(i.instruction, Instruction::Run(_)))
            else {
                continue;
            };
            let refusal = match self.run_executor.as_deref() {
                Some(e) if e.supports(&stage.platform) => e.check_platform(&stage.platform).err(),
                _ => Some(format!(
                    "no RUN executor for {} is available in this build; the stage can use FROM, COPY, ADD and configuration instructions",
                    stage.platform.short()
                )),
            };
            if let Some(message) = refusal {
                return Err(BuildError::Step {
                    file: file.to_string(),
                    line: run.line,
                    message: format!(
                        "RUN in stage {} ({}): {message}",
                        stage.display_name(),
                        stage.platform
                    ),
                });
            }
        }
        Ok(())
    }

    /// Runs one stage of a target, on top of the stages it reads.
    fn build_stage(
        &self,
        t: &TargetBuild<'_>,
        stage: &StagePlan,
        layers: &LayerStore,
        done: &HashMap<usize, StageResult>,
        stop: &AtomicBool,
        events: &mut dyn FnMut(BuildEvent),
    ) -> Result<StageResult, BuildError> {
        let req = t.req;
        let base = match &stage.base {
            Base::Image { reference, .. } => {
                let found = t.bases.for_stage(t.t_index, stage, reference).cloned();
                Some(found.ok_or_else(|| BuildError::Resolve {
                    file: req.file.path.clone(),
                    line: stage.line,
                    used_as: format!("FROM {reference}"),
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
            run_options: &self.run_options,
            ssh_agents: &self.ssh_agents,
            resolver: t.resolver,
            lookup_image: &lookup_image,
            context: &req.context,
            named_contexts: &self.named_contexts,
            layers,
            config: &self.config,
            read_windows_base: self.read_windows_base,
            stop,
        };
        exec.run(stage, base.as_ref(), done, events)
    }

    /// The image of a target's output stage, with the build's labels.
    fn emit_target(&self, req: &BuildRequest, out: StageResult) -> Result<BuiltImage, BuildError> {
        let mut config = out.config;
        for (k, v) in &req.labels {
            config.config.labels.insert(k.clone(), v.clone());
        }
        // The image is as old as its newest step (BuildKit's rule): a
        // build taken wholly from the cache gives the same image.
        config.created = match self.config.source_date_epoch {
            Some(epoch) => Some(rfc3339(epoch)),
            None => config
                .history
                .iter()
                .rev()
                .find_map(|h| h.created.clone())
                .or_else(|| Some(rfc3339(self.config.time()))),
        };
        let platform = config.platform();
        let mut image = emit_image(
            &self.config.store,
            &platform,
            config,
            out.layers,
            &self.annotations,
        )?;
        image.base_reference = out.base_reference;
        Ok(image)
    }
}

/// One target of a build, as [`Builder::build_stage`] sees it.
struct TargetBuild<'a> {
    req: &'a BuildRequest,
    resolver: &'a dyn BaseResolver,
    bases: &'a ResolvedBases,
    t_index: usize,
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
