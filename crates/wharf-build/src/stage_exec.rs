//! Running one planned stage: its starting point (scratch, another stage's
//! result, or a resolved base image), then each instruction in order:
//! configuration changes through [`ConfigBuilder`], COPY/ADD as one new
//! layer each (from the context, or from another stage in either OS
//! direction), cache lookups by [`instruction_key`].

use crate::api::{BaseResolver, BuildConfig, BuildError, BuildEvent, ResolvedBase};
use crate::cache_key::{instruction_key, CacheKey};
use crate::clock::rfc3339;
use crate::context::BuildContext;
use crate::layer_store::LayerStore;
use crate::secrets::SecretSource;
use crate::workdir_step::WorkdirStep;
use std::collections::HashMap;
use wharf_frontend::ast::{AddOptions, Copy, Instruction, Run};
use wharf_frontend::plan::{Base, PlannedInstruction, Source, StagePlan};
use wharf_image::ConfigBuilder;
use wharf_oci::LayerRef;
use wharf_oci::{Digest, History, ImageConfig, Reference};
use wharf_run::{ChocoTable, RunExecutor};

/// What a finished stage leaves for stages that use it.
#[derive(Debug, Clone)]
pub struct StageResult {
    pub config: ImageConfig,
    pub layers: Vec<LayerRef>,
    /// Cache key of the last step: identifies the stage's content.
    pub chain: CacheKey,
    /// The registry image the stage is ultimately based on (where its
    /// base layers can be downloaded from, when something reads them).
    pub base_reference: Option<Reference>,
    /// How many of `layers` are that image's.
    pub base_layers: usize,
}

/// One COPY or ADD as the stage loop hands it over.
pub(crate) struct CopyStep<'a> {
    pub stage: &'a StagePlan,
    pub ins: &'a PlannedInstruction,
    pub copy: &'a Copy,
    /// ADD's options (`None` for COPY).
    pub add: Option<&'a AddOptions>,
    /// The cache key of the step before, and of this stage's own steps
    /// without its base (what a context-only layer depends on).
    pub chain: &'a CacheKey,
    pub local: &'a CacheKey,
    pub workdir_before: &'a str,
    /// The stage's layers so far and the registry image they come from.
    pub layers: &'a [LayerRef],
    pub base_reference: Option<&'a Reference>,
    /// How many of `layers` are the base image's (the rest this build made).
    pub base_layers: usize,
}

/// One RUN as the stage loop hands it over.
pub(crate) struct RunStep<'a> {
    pub stage: &'a StagePlan,
    pub ins: &'a PlannedInstruction,
    pub run: &'a Run,
    /// The cache key of the step before, and the working directory then.
    pub chain: &'a CacheKey,
    pub workdir_before: &'a str,
    /// The stage's layers so far, base first, and the registry image they
    /// come from (to fetch base layers the store lacks).
    pub layers: &'a [LayerRef],
    pub base_reference: Option<&'a Reference>,
    /// The stage's configuration so far.
    pub config: &'a ImageConfig,
}

/// A stage as it runs: its configuration, layers and cache chains so far.
struct StageState {
    cb: ConfigBuilder,
    layers: Vec<LayerRef>,
    /// The cache key of the last step (the base's, at the start).
    chain: CacheKey,
    /// The chain of this stage's own steps, without its base.
    local: CacheKey,
    /// The working directory before the next step.
    workdir_before: String,
    /// The registry image the stage is ultimately based on.
    base_reference: Option<Reference>,
    /// How many of `layers` are that image's.
    base_layers: usize,
}

/// Runs stages of one target.
pub struct StageExec<'a> {
    pub file: &'a str,
    /// Runs RUN instructions, when this build has an executor.
    pub run_executor: Option<&'a dyn RunExecutor>,
    /// The Chocolatey table Windows RUN lines are translated with (`None`:
    /// no translation).
    pub choco: Option<&'a ChocoTable>,
    /// The build's secrets, for `RUN --mount=type=secret` (mounts exist
    /// in Linux stages only, which run on Linux hosts).
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    pub secrets: &'a std::collections::BTreeMap<String, SecretSource>,
    /// Hosts, `/dev/shm` size and limits of Linux RUN.
    pub run_options: &'a wharf_run::RunOptions,
    /// SSH agent sockets by id, for `RUN --mount=type=ssh`.
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    pub ssh_agents: &'a std::collections::BTreeMap<String, std::path::PathBuf>,
    /// Downloads layers of images COPY --from reads.
    pub resolver: &'a dyn BaseResolver,
    /// The resolved image a `COPY --from=<image>` of this stage names.
    pub lookup_image: &'a (dyn Fn(&str) -> Option<ResolvedBase> + Sync),
    pub context: &'a BuildContext,
    /// Directories given with `--build-context NAME=DIR`, by lowercase name.
    pub named_contexts: &'a std::collections::BTreeMap<String, BuildContext>,
    pub layers: &'a LayerStore,
    pub config: &'a BuildConfig,
    /// Whether Windows layers reuse the base image's directory metadata
    /// (its layers downloaded): [`crate::windows_dirs`].
    pub read_windows_base: bool,
    /// Set when another stage of the build failed: stop before the next step.
    pub stop: &'a std::sync::atomic::AtomicBool,
}

impl StageExec<'_> {
    /// Puts the `layers` the store lacks into it: from the shared build
    /// cache that holds them, else from the base image `base`.
    pub(crate) fn fetch_layers(
        &self,
        base: Option<&Reference>,
        layers: &[LayerRef],
    ) -> Result<(), crate::api::ResolveError> {
        let store = self.layers.store();
        if let Some(imported) = self.layers.imported() {
            imported.fetch_missing(layers, store, self.resolver)?;
        }
        match base {
            Some(b) => self.resolver.fetch_layers(b, layers, store),
            None => Ok(()),
        }
    }

    pub(crate) fn step_err(&self, line: usize, message: impl Into<String>) -> BuildError {
        BuildError::Step {
            file: self.file.to_string(),
            line,
            message: message.into(),
        }
    }

    /// Runs `stage`.
    pub fn run(
        &self,
        stage: &StagePlan,
        base: Option<&ResolvedBase>,
        done: &HashMap<usize, StageResult>,
        events: &mut dyn FnMut(BuildEvent),
    ) -> Result<StageResult, BuildError> {
        let mut st = self.stage_start(stage, base, done)?;
        let inherited = st.cb.config.history.len();
        let stage_name = stage.display_name();
        // Steps are labelled with the stage's own platform (a Linux stage
        // of a Windows build is a Linux step).
        let platform = stage.platform.to_string();
        for ins in &stage.instructions {
            if self.stop.load(std::sync::atomic::Ordering::SeqCst) {
                return Err(BuildError::Stopped);
            }
            events(BuildEvent::StepStarted {
                platform: platform.clone(),
                stage: stage_name.clone(),
                line: ins.line,
                text: ins.source.clone(),
            });
            let (mut history, cached, ran_at, copy_key) =
                self.step(stage, &mut st, ins, done, events)?;
            // The stage's own chain follows every step but not the base or
            // the Windows version (context COPY layers are keyed by it).
            let mut any_version = stage.platform.clone();
            any_version.os_version = None;
            any_version.os_features.clear();
            let made: Vec<Digest> = copy_key.into_iter().map(|k| k.0).collect();
            st.local = instruction_key(&st.local, &any_version, &st.workdir_before, ins, &made);
            // A step's time is when its result was made (also when it comes
            // from the cache); configuration steps get theirs below.
            history.created = self.config.source_date_epoch.or(ran_at).map(rfc3339);
            st.cb.config.history.push(history);
            st.workdir_before = ins.workdir.clone();
            events(BuildEvent::Step {
                platform: platform.clone(),
                stage: stage_name.clone(),
                line: ins.line,
                text: ins.source.clone(),
                cached,
            });
        }
        let mut config = st.cb.config;
        let split = inherited.min(config.history.len());
        let (before, new) = config.history.split_at_mut(split);
        let fallback = before.iter().rev().find_map(|h| h.created.clone());
        fill_history_times(new, fallback, &|| rfc3339(self.config.time()));
        config.rootfs.diff_ids = st.layers.iter().map(|l| l.diff_id.clone()).collect();
        Ok(StageResult {
            config,
            layers: st.layers,
            chain: st.chain,
            base_reference: st.base_reference,
            base_layers: st.base_layers,
        })
    }

    /// Where `stage` starts: another stage's result, a resolved base
    /// image, or scratch.
    fn stage_start(
        &self,
        stage: &StagePlan,
        base: Option<&ResolvedBase>,
        done: &HashMap<usize, StageResult>,
    ) -> Result<StageState, BuildError> {
        let base_reference = match &stage.base {
            Base::Image { .. } => base.map(|b| b.reference.clone()),
            Base::Stage { index, .. } => done.get(index).and_then(|r| r.base_reference.clone()),
            Base::Scratch => None,
        };
        let base_layers = match (&stage.base, base) {
            (Base::Stage { index, .. }, _) => done.get(index).map_or(0, |r| r.base_layers),
            (Base::Image { .. }, Some(b)) => b.layers.len(),
            _ => 0,
        };
        let (config, layers, chain) = match (&stage.base, base) {
            (Base::Stage { index, .. }, _) => {
                let r = done.get(index).ok_or_else(|| {
                    self.step_err(
                        stage.line,
                        format!("stage {index} was not built before the stage that uses it"),
                    )
                })?;
                (r.config.clone(), r.layers.clone(), r.chain.clone())
            }
            (Base::Image { .. }, Some(b)) => {
                let mut c = b.config.clone();
                // The stage's platform carries the base's os.version.
                c.os_version = stage.platform.os_version.clone().or(c.os_version);
                (c, b.layers.clone(), CacheKey::of_base(&b.manifest_digest))
            }
            _ => (
                ImageConfig::for_platform(&stage.platform),
                Vec::new(),
                CacheKey::scratch(&stage.platform),
            ),
        };
        let workdir_before = match config.config.working_dir.as_str() {
            "" if stage.platform.is_windows() => "C:\\".to_string(),
            "" => "/".to_string(),
            w => w.to_string(),
        };
        // A stage on another stage inherits that chain, epoch included.
        let epoch = self.config.source_date_epoch;
        let chain = match &stage.base {
            Base::Stage { .. } => chain,
            _ => chain.with_source_date_epoch(epoch),
        };
        let local = CacheKey(Digest::of_bytes(
            format!("stage-local:{}", stage.platform.os).as_bytes(),
        ));
        Ok(StageState {
            cb: ConfigBuilder::new(config),
            layers,
            chain,
            local: local.with_source_date_epoch(epoch),
            workdir_before,
            base_reference,
            base_layers,
        })
    }

    /// One instruction: its history entry, and whether it was cached.
    fn step(
        &self,
        stage: &StagePlan,
        st: &mut StageState,
        ins: &PlannedInstruction,
        done: &HashMap<usize, StageResult>,
        events: &mut dyn FnMut(BuildEvent),
    ) -> Result<(History, bool, Option<u64>, Option<CacheKey>), BuildError> {
        let apply =
            |cb: &mut ConfigBuilder| cb.apply(ins).map_err(|e| self.step_err(e.line, e.message));
        match &ins.instruction {
            Instruction::Run(run) => {
                let step = RunStep {
                    stage,
                    ins,
                    run,
                    chain: &st.chain,
                    workdir_before: &st.workdir_before,
                    layers: &st.layers,
                    base_reference: st.base_reference.as_ref(),
                    config: &st.cb.config,
                };
                let (record, hit, next) = self.run_step(&step, done, events)?;
                st.chain = next;
                let mut h = apply(&mut st.cb)?;
                if let Some(command) = record.ran_instead {
                    events(BuildEvent::note(format!(
                        "{}:{}: RUN ran as: {command}",
                        self.file, ins.line
                    )));
                    h.created_by = Some(format!("RUN {command}"));
                }
                match record.layer {
                    Some(l) => st.layers.push(l),
                    None => h.empty_layer = true,
                }
                Ok((h, hit, record.created, None))
            }
            Instruction::Copy(copy) | Instruction::Add { copy, .. } => {
                let add = match &ins.instruction {
                    Instruction::Add { options, .. } => Some(options),
                    _ => None,
                };
                let step = CopyStep {
                    stage,
                    ins,
                    copy,
                    add,
                    chain: &st.chain,
                    local: &st.local,
                    workdir_before: &st.workdir_before,
                    layers: &st.layers,
                    base_reference: st.base_reference.as_ref(),
                    base_layers: st.base_layers,
                };
                let (record, hit, key) = self.copy_step(&step, done, events)?;
                let layer = record.layer;
                // What follows depends on this step through its key, which
                // names the content it copied (digests of the files, not
                // their times): a COPY made again on another machine, with
                // other file times, leaves the later steps' keys as they
                // were, so their cache still applies.
                st.chain = instruction_key(
                    &st.chain,
                    &stage.platform,
                    &st.workdir_before,
                    ins,
                    std::slice::from_ref(&key.0),
                );
                st.layers.push(layer);
                Ok((apply(&mut st.cb)?, hit, record.created, Some(key)))
            }
            Instruction::Workdir { path } if WorkdirStep::makes_directories(path) => {
                let step = WorkdirStep {
                    stage,
                    ins,
                    path,
                    chain: &st.chain,
                    workdir_before: &st.workdir_before,
                    layers: &st.layers,
                    base_reference: st.base_reference.as_ref(),
                    base_layers: st.base_layers,
                    config: &st.cb.config,
                };
                let (record, hit, next) = self.workdir_step(&step, events)?;
                st.chain = next;
                let mut h = apply(&mut st.cb)?;
                h.empty_layer = record.layer.is_none();
                st.layers.extend(record.layer);
                Ok((h, hit, record.created, None))
            }
            _ => {
                st.chain =
                    instruction_key(&st.chain, &stage.platform, &st.workdir_before, ins, &[]);
                Ok((apply(&mut st.cb)?, false, None, None))
            }
        }
    }

    /// Resolves what a `COPY --from` or `--mount from=` names to a stage
    /// result, downloading an image's layers into the store.
    pub(crate) fn source_result(
        &self,
        source: &Source,
        what: &str,
        line: usize,
        done: &HashMap<usize, StageResult>,
    ) -> Result<StageResult, BuildError> {
        match source {
            Source::Stage { index } => done.get(index).cloned().ok_or_else(|| {
                self.step_err(
                    line,
                    format!("stage {index} was not built before {what} reads it"),
                )
            }),
            Source::Context { name } => Err(self.step_err(
                line,
                format!("{what}={name}: the build context {name} is a directory, which only COPY --from reads; use COPY --from={name}, or give --build-context {name}=docker-image://REF"),
            )),
            Source::Image { reference } => {
                let base = (self.lookup_image)(reference).ok_or_else(|| {
                    self.step_err(
                        line,
                        format!("{what}={reference}: the image was not resolved"),
                    )
                })?;
                self.fetch_layers(Some(&base.reference), &base.layers)
                    .map_err(|m| self.step_err(line, format!("{what}={reference}: {m}")))?;
                Ok(StageResult {
                    config: base.config,
                    base_layers: base.layers.len(),
                    layers: base.layers,
                    chain: CacheKey::of_base(&base.manifest_digest),
                    base_reference: Some(base.reference),
                })
            }
        }
    }
}

/// Gives the stage's configuration steps a time, as BuildKit does: those
/// before the stage's first new result take that result's time, later
/// ones the time of the step before them; a stage with no result of its
/// own takes the last time it inherited (`fallback`), else `now`. A cached
/// build thus gets the times (and the digest) of the build that made its
/// results.
fn fill_history_times(history: &mut [History], fallback: Option<String>, now: &dyn Fn() -> String) {
    let first = history.iter().find_map(|h| h.created.clone()).or(fallback);
    let mut previous = first.clone();
    for h in history {
        match &h.created {
            Some(t) => previous = Some(t.clone()),
            None => h.created = Some(previous.clone().unwrap_or_else(now)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fill_history_times;
    use wharf_oci::History;

    fn h(t: Option<&str>) -> History {
        History {
            created: t.map(str::to_string),
            ..History::default()
        }
    }

    fn times(v: &[History]) -> Vec<String> {
        v.iter().map(|h| h.created.clone().unwrap()).collect()
    }

    #[test]
    fn configuration_steps_take_their_neighbours_times() {
        // ENV, COPY(t1), LABEL, RUN(t2), ENV.
        let mut v = vec![h(None), h(Some("t1")), h(None), h(Some("t2")), h(None)];
        fill_history_times(&mut v, Some("base".into()), &|| "now".into());
        assert_eq!(times(&v), ["t1", "t1", "t1", "t2", "t2"]);
        // No result of its own: the inherited time, else now.
        let mut v = vec![h(None), h(None)];
        fill_history_times(&mut v, Some("base".into()), &|| "now".into());
        assert_eq!(times(&v), ["base", "base"]);
        let mut v = vec![h(None)];
        fill_history_times(&mut v, None, &|| "now".into());
        assert_eq!(times(&v), ["now"]);
    }
}
