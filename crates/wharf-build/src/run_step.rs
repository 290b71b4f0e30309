//! One RUN step of a stage: what its mounts read (stages, images, context
//! directories; part of the cache key), the cached result or the host's
//! [`RunExecutor`], and the record the cache keeps.

use crate::builder::{BuildError, BuildEvent};
use crate::cache_key::{context_tree_digest, instruction_key};
use crate::layer_store::{LayerRef, RunRecord};
use crate::run_seam::{OutputLine, RunRequest};
use crate::stage_exec::{StageExec, StageResult};
use std::collections::HashMap;
use wharf_frontend::ast::{Mount, Run};
use wharf_frontend::plan::{PlannedInstruction, StagePlan};
use wharf_image::ImageConfig;

impl StageExec<'_> {
    /// One RUN: returns what it produced, whether that came from the
    /// cache, and the chain key for the steps after it.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn run_step(
        &self,
        stage: &StagePlan,
        ins: &PlannedInstruction,
        run: &Run,
        (chain, workdir_before): (&str, &str),
        (layers, base_reference): (&[LayerRef], Option<&str>),
        config: &ImageConfig,
        done: &HashMap<usize, StageResult>,
        events: &mut dyn FnMut(BuildEvent),
    ) -> Result<(RunRecord, bool, String), BuildError> {
        let line = ins.line;
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
        // What the mounts read is part of the key: a stage's or image's
        // chain, or the content of the context directory bound. Secrets,
        // caches and tmpfs are not (their content is not the result's).
        let mut reads = ins.reads.iter();
        let mut mount_sources = Vec::with_capacity(run.mounts.len());
        let mut read_keys = Vec::new();
        for m in &run.mounts {
            match m {
                Mount::Bind { from: Some(f), .. } | Mount::Cache { from: Some(f), .. } => {
                    let source = reads.next().ok_or_else(|| {
                        self.step_err(line, format!("--mount from={f}: not resolved by the plan"))
                    })?;
                    let r = self.source_result(source, "--mount from", line, done)?;
                    if let Some(b) = &r.base_reference {
                        self.resolver
                            .fetch_layers(b, &r.layers, self.layers.store())
                            .map_err(|m| {
                                self.step_err(
                                    line,
                                    format!("--mount from={f}: the layers of {b}: {m}"),
                                )
                            })?;
                    }
                    read_keys.push(r.chain.clone());
                    mount_sources.push(Some(r.layers));
                }
                Mount::Bind {
                    from: None, source, ..
                } => {
                    let rel = source.as_deref().unwrap_or(".");
                    let digest = context_tree_digest(self.context, rel).map_err(|e| {
                        self.step_err(line, format!("--mount=type=bind,source={rel}: {e}"))
                    })?;
                    read_keys.push(digest);
                    mount_sources.push(None);
                }
                _ => mount_sources.push(None),
            }
        }
        let key = instruction_key(chain, &stage.platform, workdir_before, ins, &read_keys);
        let next = key.0.clone();
        if !self.config.no_cache {
            if let Some(hit) = self.layers.cached_run(&key) {
                return Ok((hit, true, next));
            }
        }
        if let Some(b) = base_reference {
            self.resolver
                .fetch_layers(b, layers, self.layers.store())
                .map_err(|m| self.step_err(line, format!("RUN: the base layers of {b}: {m}")))?;
        }
        let events_cell = std::cell::RefCell::new(&mut *events);
        let output = |l: OutputLine<'_>| {
            if let Ok(mut ev) = events_cell.try_borrow_mut() {
                ev(BuildEvent::RunOutput {
                    line,
                    stderr: l.stderr,
                    text: l.text.to_string(),
                });
            }
        };
        let outcome = executor
            .run(&RunRequest {
                stage,
                instruction: ins,
                layers,
                config,
                layer_store: self.layers,
                context: self.context,
                mount_sources: &mount_sources,
                secrets: self.secrets,
                output: &output,
                source_date_epoch: self.config.source_date_epoch,
            })
            .map_err(|m| self.step_err(line, format!("RUN in stage {stage_name}: {m}")))?;
        let record = RunRecord {
            layer: outcome.layer,
            ran_instead: outcome.ran_instead,
        };
        self.layers.remember_run(&key, &record)?;
        Ok((record, false, next))
    }
}
