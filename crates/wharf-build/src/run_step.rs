//! One RUN step of a stage: what its mounts read (stages, images, context
//! directories; part of the cache key), the cached result, or else the
//! run itself: the lower layers prepared in the store in the form the
//! host's [`RunExecutor`] wants, the command, environment, user and mounts
//! decided here ([`crate::run_spec`]), and the change the executor
//! returns packed into the step's layer.

use crate::api::{BuildError, BuildEvent};
use crate::cache_key::{context_tree_digest, instruction_key, CacheKey};
use crate::layer_store::RunRecord;
use crate::run_spec::SpecInputs;
use crate::stage_exec::{RunStep, StageExec, StageResult};
use std::collections::HashMap;
use std::path::PathBuf;
use wharf_frontend::ast::Mount;
use wharf_layer::{
    export_folder_to_layer, NoBase, Timestamp, WindowsLayerOptions, WindowsLayerWriter,
};
use wharf_oci::{chain_ids, LayerRef};
use wharf_run::{LowerForm, LowerLayer, OutputLine, RunChange, RunExecutor, RunNetwork};
use wharf_store::SnapshotXattrs;

impl StageExec<'_> {
    /// One RUN: returns what it produced, whether that came from the
    /// cache, and the chain key for the steps after it.
    pub(crate) fn run_step(
        &self,
        step: &RunStep<'_>,
        done: &HashMap<usize, StageResult>,
        events: &mut dyn FnMut(BuildEvent),
    ) -> Result<(RunRecord, bool, CacheKey), BuildError> {
        let (stage, ins, line) = (step.stage, step.ins, step.ins.line);
        let stage_name = stage.display_name();
        let Some(executor) = self.run_executor.filter(|e| e.supports(&stage.platform)) else {
            return Err(self.step_err(
                line,
                format!(
                    "RUN in stage {stage_name}: no RUN executor for {} is available in this build; the stage can use FROM, COPY, ADD and configuration instructions",
                    stage.platform.short()
                ),
            ));
        };
        let (mount_sources, mut read_keys) = self.mount_sources(step, done)?;
        // Hosts, /dev/shm and limits change what the command sees, as in
        // BuildKit's ExecOp; unset, the key is as without them.
        if !stage.platform.is_windows() && !self.run_options.is_default() {
            read_keys.push(wharf_oci::Digest::of_bytes(
                self.run_options.key_text().as_bytes(),
            ));
        }
        let key = instruction_key(
            step.chain,
            &stage.platform,
            step.workdir_before,
            ins,
            &read_keys,
        );
        let _claim = self.layers.claim(&key);
        if !self.config.no_cache {
            if let Some(hit) = self.layers.cached_run(&key) {
                return Ok((hit, true, key));
            }
        }
        self.fetch_layers(step.base_reference, step.layers)
            .map_err(|m| self.step_err(line, format!("RUN: the layers it runs on: {m}")))?;
        let fail = |m: String| self.step_err(line, format!("RUN in stage {stage_name}: {m}"));
        let lowers = self.prepare_lowers(executor, step.layers).map_err(&fail)?;
        let mut mount_lowers = Vec::with_capacity(mount_sources.len());
        for source in &mount_sources {
            mount_lowers.push(match source {
                Some(layers) => Some(self.prepare_lowers(executor, layers).map_err(&fail)?),
                None => None,
            });
        }
        let scratch = self.layers.store().temp_dir()?;
        let events_cell = std::cell::RefCell::new(&mut *events);
        let platform = step.stage.platform.to_string();
        let output = |l: OutputLine<'_>| {
            if let Ok(mut ev) = events_cell.try_borrow_mut() {
                ev(BuildEvent::RunOutput {
                    platform: platform.clone(),
                    stage: stage_name.to_string(),
                    line,
                    stderr: l.stderr,
                    text: l.text.to_string(),
                });
            }
        };
        let planned = self
            .run_spec(
                step,
                SpecInputs {
                    lowers,
                    mount_lowers: &mount_lowers,
                    scratch: scratch.path(),
                    output: &output,
                },
            )
            .map_err(&fail)?;
        if planned.ran_instead.is_some() && planned.spec.network == RunNetwork::None {
            if let Ok(mut ev) = events_cell.try_borrow_mut() {
                ev(BuildEvent::warning(format!(
                    "{}:{line}: this RUN was translated to Chocolatey but runs with --network=none: choco install downloads packages and will fail without a network",
                    self.file
                )));
            }
        }
        for note in &planned.notes {
            output(OutputLine {
                stderr: true,
                text: &format!("wharf: {note}"),
            });
        }
        let change = executor
            .run(&planned.spec)
            .map_err(|e| fail(e.to_string()))?;
        drop(planned.keep_alive);
        let layer = self
            .pack_change(change, stage.platform.is_windows())
            .map_err(|m| fail(format!("packing the command's changes: {m}")))?;
        let record = RunRecord {
            layer,
            ran_instead: planned.ran_instead,
            warnings: Vec::new(),
            created: Some(self.config.time()),
        };
        self.layers.remember_run(&key, &record)?;
        Ok((record, false, key))
    }

    /// The layers each `--mount from=` reads (fetched into the store), and
    /// what they contribute to the cache key: a stage's or image's chain,
    /// or the content of the context directory bound. Secrets, caches and
    /// tmpfs are not part of the key (their content is not the result's).
    #[allow(clippy::type_complexity)]
    fn mount_sources(
        &self,
        step: &RunStep<'_>,
        done: &HashMap<usize, StageResult>,
    ) -> Result<(Vec<Option<Vec<LayerRef>>>, Vec<wharf_oci::Digest>), BuildError> {
        let line = step.ins.line;
        let mut reads = step.ins.reads.iter();
        let mut sources = Vec::with_capacity(step.run.mounts.len());
        let mut keys = Vec::new();
        for m in &step.run.mounts {
            match m {
                // Refused before anything is fetched or unpacked for it.
                Mount::Cache { from: Some(f), .. } => {
                    return Err(self.step_err(line, format!(
                        "--mount=type=cache,from={f}: seeding a cache from a stage is not supported; drop from= (the cache starts empty) or use type=bind"
                    )));
                }
                Mount::Bind { from: Some(f), .. } => {
                    let source = reads.next().ok_or_else(|| {
                        self.step_err(line, format!("--mount from={f}: not resolved by the plan"))
                    })?;
                    let r = self.source_result(source, "--mount from", line, done)?;
                    self.fetch_layers(r.base_reference.as_ref(), &r.layers)
                        .map_err(|m| {
                            self.step_err(line, format!("--mount from={f}: its layers: {m}"))
                        })?;
                    keys.push(r.chain.0.clone());
                    sources.push(Some(r.layers));
                }
                Mount::Bind {
                    from: None, source, ..
                } => {
                    let rel = source.as_deref().unwrap_or(".");
                    let digest = context_tree_digest(self.context, rel).map_err(|e| {
                        self.step_err(line, format!("--mount=type=bind,source={rel}: {e}"))
                    })?;
                    keys.push(digest);
                    sources.push(None);
                }
                _ => sources.push(None),
            }
        }
        Ok((sources, keys))
    }

    /// `layers` (base first, all in the store) prepared as `executor`
    /// wants them, each once per store: paths top first.
    fn prepare_lowers(
        &self,
        executor: &dyn RunExecutor,
        layers: &[LayerRef],
    ) -> Result<Vec<PathBuf>, String> {
        let store = self.layers.store();
        let form = executor.lower_form();
        let chains = chain_ids(layers.iter().map(|l| &l.diff_id));
        // Immediate parent first, as overlayfs and HCS take them.
        let mut prepared: Vec<PathBuf> = Vec::with_capacity(layers.len());
        for (layer, chain) in layers.iter().zip(&chains) {
            let (dest, staging) = match form {
                LowerForm::SnapshotTrusted => {
                    store.snapshot_dir(&layer.diff_id, SnapshotXattrs::Trusted)
                }
                LowerForm::SnapshotUser => store.snapshot_dir(&layer.diff_id, SnapshotXattrs::User),
                LowerForm::WindowsFolder => store.windows_layer_folder(chain),
            }
            .map_err(|e| e.to_string())?;
            // A Windows layer folder is trusted only with its completion
            // marker, which the executor checks under the folder's lock.
            if form == LowerForm::WindowsFolder || !dest.is_dir() {
                executor
                    .prepare_lower(&LowerLayer {
                        blob: &store.blob_path(&layer.descriptor.digest),
                        media_type: &layer.descriptor.media_type,
                        digest: &layer.descriptor.digest,
                        dest: &dest,
                        staging: &staging,
                        parents: &prepared,
                    })
                    .map_err(|e| e.to_string())?;
            }
            prepared.insert(0, dest);
        }
        Ok(prepared)
    }

    /// The layer of a command's changes; `None` when it changed nothing.
    fn pack_change(&self, change: RunChange, windows: bool) -> Result<Option<LayerRef>, String> {
        let layer = match change {
            RunChange::Nothing => return Ok(None),
            // Overlay upper directories exist on Linux hosts only.
            #[cfg(target_os = "linux")]
            RunChange::Upper(upper) if !windows => {
                let opts = wharf_layer::LinuxLayerOptions {
                    source_date_epoch: self.config.source_date_epoch,
                    owner: None,
                    skip_xattrs: false,
                };
                self.layers.write_layer(|w| {
                    let mut lw = wharf_layer::LinuxLayerWriter::new(w, opts);
                    lw.add_overlay_upper(&upper)?;
                    lw.finish()
                })
            }
            RunChange::ExportFolder(folder) if windows => {
                let options = WindowsLayerOptions {
                    timestamp: Timestamp {
                        secs: self.config.time(),
                        nanos: 0,
                    },
                    base_layer: false,
                };
                self.layers.write_layer(|w| {
                    let mut ww = WindowsLayerWriter::new(w, &NoBase, options)?;
                    export_folder_to_layer(&folder, &mut ww)?;
                    ww.finish()
                })
            }
            other => {
                return Err(format!(
                    "the executor returned {other:?}, which is not a change of a {} stage",
                    if windows { "Windows" } else { "Linux" }
                ))
            }
        };
        let layer = layer
            .map_err(|e| e.to_string())?
            .map_err(|e: wharf_layer::Error| e.to_string())?;
        Ok(Some(layer))
    }
}
