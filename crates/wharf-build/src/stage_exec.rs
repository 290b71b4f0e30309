//! Running one planned stage: its starting point (scratch, another stage's
//! result, or a resolved base image), then each instruction in order:
//! configuration changes through [`ConfigBuilder`], COPY/ADD as one new
//! layer each (from the context, or from another stage in either OS
//! direction), cache lookups by [`instruction_key`].

use crate::api::{BaseResolver, BuildConfig, BuildError, BuildEvent, ResolvedBase};
use crate::cache_key::{copy_sources_digest, instruction_key, CacheKey};
use crate::clock::rfc3339;
use crate::context::BuildContext;
use crate::copy_from::{copy_into_linux, copy_into_windows, plan_copy_from, FromOwner};
use crate::copy_layer::{
    write_linux, write_windows, ArchiveSource, CopyLayerSpec, InlineContent, InlineFile,
};
use crate::copy_plan::{destination, plan_copy, CopyRequest};
use crate::git_source::GitSource;
use crate::layer_store::LayerStore;
use crate::run_step::RunStep;
use crate::secrets::SecretSource;
use crate::users::chown_ids;
use std::collections::HashMap;
use wharf_frontend::ast::{AddOptions, Copy, Instruction};
use wharf_frontend::chmod::Chmod;
use wharf_frontend::plan::{Base, PlannedInstruction, Source, StagePlan};
use wharf_frontend::sources::{is_git, is_url};
use wharf_image::ConfigBuilder;
use wharf_layer::windows::sddl::resolve_account;
use wharf_layer::{
    LayerOs, LinuxLayerOptions, LinuxLayerWriter, NoBase, StageView, Timestamp, ViewOptions,
    WindowsLayerOptions, WindowsLayerWriter,
};
use wharf_oci::LayerRef;
use wharf_oci::{Digest, ImageConfig, Platform};
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
    pub base_reference: Option<String>,
}

/// Runs stages of one target.
pub struct StageExec<'a> {
    pub file: &'a str,
    /// Runs RUN instructions, when this build has an executor.
    pub run_executor: Option<&'a dyn RunExecutor>,
    /// The Chocolatey table Windows RUN lines are translated with (`None`:
    /// no translation).
    pub choco: Option<&'a ChocoTable>,
    /// The build's secrets, for `RUN --mount=type=secret`.
    pub secrets: &'a std::collections::BTreeMap<String, SecretSource>,
    /// Downloads layers of images COPY --from reads.
    pub resolver: &'a dyn BaseResolver,
    /// The resolved image a `COPY --from=<image>` of this stage names.
    pub lookup_image: &'a dyn Fn(&str) -> Option<ResolvedBase>,
    pub context: &'a BuildContext,
    pub layers: &'a LayerStore,
    pub config: &'a BuildConfig,
    pub target_platform: &'a Platform,
}

impl StageExec<'_> {
    /// The context file `src` names, if it is a tar archive ADD extracts
    /// (into `dest`, a directory).
    fn archive_source(&self, src: &str, dest: &str) -> Option<ArchiveSource> {
        if wharf_frontend::dockerignore::PathPattern::has_wildcards(src) {
            return None;
        }
        let rel = self.context.resolve(src, true).ok()?;
        if self.context.is_ignored(&rel)
            || self.context.kind(&rel).ok()? != crate::context::EntryKind::File
        {
            return None;
        }
        let path = self.context.host_path(&rel);
        let format = crate::archive::detect(&path).ok()??;
        Some(ArchiveSource {
            path,
            format,
            dest_dir: dest.trim_matches('/').to_string(),
        })
    }

    /// `/etc/passwd` and `/etc/group` of a Linux stage whose layers are
    /// `layers` (base layers fetched from `base` when the store lacks them).
    fn passwd_and_group(
        &self,
        layers: &[LayerRef],
        base: Option<&str>,
        line: usize,
    ) -> Result<(Option<String>, Option<String>), BuildError> {
        let store = self.layers.store();
        if let Some(b) = base {
            self.resolver.fetch_layers(b, layers, store).map_err(|m| {
                self.step_err(line, format!("--chown: reading the users of {b}: {m}"))
            })?;
        }
        let paths: Vec<_> = layers
            .iter()
            .map(|l| store.blob_path(&l.descriptor.digest))
            .collect();
        let spool = self.layers.temp_dir()?;
        let view = StageView::from_layers(
            LayerOs::Linux,
            &paths,
            spool.path(),
            &ViewOptions::default(),
        )
        .map_err(|e| self.step_err(line, format!("--chown: reading the stage's files: {e}")))?;
        let read = |path: &str| -> Option<String> {
            let e = view.entry(path)?;
            let mut text = String::new();
            let r = view.open(e).ok()?;
            std::io::Read::read_to_string(&mut std::io::Read::take(r, 4 << 20), &mut text).ok()?;
            Some(text)
        };
        Ok((read("etc/passwd"), read("etc/group")))
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
        let base_reference = match &stage.base {
            Base::Image { reference, .. } => Some(reference.clone()),
            Base::Stage { index, .. } => done.get(index).and_then(|r| r.base_reference.clone()),
            Base::Scratch => None,
        };
        let (config, mut layers, mut chain) = match (&stage.base, base) {
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
        let mut cb = ConfigBuilder::new(config);
        let created = rfc3339(self.config.time());
        let stage_name = stage.display_name();
        let mut workdir_before = match cb.config.config.working_dir.as_str() {
            "" if stage.platform.is_windows() => "C:\\".to_string(),
            "" => "/".to_string(),
            w => w.to_string(),
        };
        // The chain of this stage's own steps, without its base: context
        // COPY layers are keyed by it (see `copy`).
        let mut local = CacheKey(Digest::of_bytes(
            format!("stage-local:{}", stage.platform.os).as_bytes(),
        ));
        for ins in &stage.instructions {
            events(BuildEvent::StepStarted {
                platform: self.target_platform.to_string(),
                stage: stage_name.clone(),
                line: ins.line,
                text: ins.source.clone(),
            });
            let mut cached = false;
            let key = instruction_key(&chain, &stage.platform, &workdir_before, ins, &[]);
            let mut history = match &ins.instruction {
                Instruction::Run(run) => {
                    let step = RunStep {
                        stage,
                        ins,
                        run,
                        chain: &chain,
                        workdir_before: &workdir_before,
                        layers: &layers,
                        base_reference: base_reference.as_deref(),
                        config: &cb.config,
                    };
                    let (record, hit, next) = self.run_step(&step, done, events)?;
                    cached = hit;
                    chain = next;
                    let mut h = cb
                        .apply(ins)
                        .map_err(|e| self.step_err(e.line, e.message))?;
                    if let Some(command) = record.ran_instead {
                        events(BuildEvent::Note(format!(
                            "{}:{}: RUN ran as: {command}",
                            self.file, ins.line
                        )));
                        h.created_by = Some(format!("RUN {command}"));
                    }
                    match record.layer {
                        Some(l) => layers.push(l),
                        None => h.empty_layer = true,
                    }
                    h
                }
                Instruction::Copy(_) | Instruction::Add { .. } => {
                    let (c, add) = match &ins.instruction {
                        Instruction::Add { copy, options } => (copy, Some(options)),
                        Instruction::Copy(c) => (c, None),
                        _ => unreachable!("matched COPY or ADD above"),
                    };
                    let (layer, hit) = self.copy(
                        stage,
                        ins,
                        c,
                        add.is_some(),
                        add,
                        (&chain, &local),
                        &workdir_before,
                        (&layers, base_reference.as_deref()),
                        done,
                        events,
                    )?;
                    cached = hit;
                    // What follows depends on this step through the layer it
                    // made, by content (diff_id): the same whether the layer
                    // is stored compressed (exported stages) or not.
                    let made = layer.diff_id.clone();
                    chain = instruction_key(&chain, &stage.platform, &workdir_before, ins, &[made]);
                    layers.push(layer);
                    cb.apply(ins)
                        .map_err(|e| self.step_err(e.line, e.message))?
                }
                _ => {
                    chain = key.clone();
                    cb.apply(ins)
                        .map_err(|e| self.step_err(e.line, e.message))?
                }
            };
            let mut any_version = stage.platform.clone();
            any_version.os_version = None;
            any_version.os_features.clear();
            let made: Vec<Digest> = match &ins.instruction {
                Instruction::Copy(_) | Instruction::Add { .. } => layers
                    .last()
                    .map(|l| l.diff_id.clone())
                    .into_iter()
                    .collect(),
                _ => Vec::new(),
            };
            local = instruction_key(&local, &any_version, &workdir_before, ins, &made);
            history.created = Some(created.clone());
            cb.config.history.push(history);
            workdir_before = ins.workdir.clone();
            events(BuildEvent::Step {
                platform: self.target_platform.to_string(),
                stage: stage_name.clone(),
                line: ins.line,
                text: ins.source.clone(),
                cached,
            });
        }
        let mut config = cb.config;
        config.rootfs.diff_ids = layers.iter().map(|l| l.diff_id.clone()).collect();
        Ok(StageResult {
            config,
            layers,
            chain,
            base_reference,
        })
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
            Source::Image { reference } => {
                let base = (self.lookup_image)(reference).ok_or_else(|| {
                    self.step_err(
                        line,
                        format!("{what}={reference}: the image was not resolved"),
                    )
                })?;
                self.resolver
                    .fetch_layers(reference, &base.layers, self.layers.store())
                    .map_err(|m| self.step_err(line, format!("{what}={reference}: {m}")))?;
                Ok(StageResult {
                    config: base.config,
                    layers: base.layers,
                    chain: CacheKey::of_base(&base.manifest_digest),
                    base_reference: Some(reference.clone()),
                })
            }
        }
    }

    /// One COPY or ADD; returns the layer, whether it came from the cache,
    /// and the step's cache key.
    #[allow(clippy::too_many_arguments)]
    fn copy(
        &self,
        stage: &StagePlan,
        ins: &PlannedInstruction,
        c: &Copy,
        is_add: bool,
        add: Option<&AddOptions>,
        (chain, local): (&CacheKey, &CacheKey),
        workdir_before: &str,
        current: (&[LayerRef], Option<&str>),
        done: &HashMap<usize, StageResult>,
        events: &mut dyn FnMut(BuildEvent),
    ) -> Result<(LayerRef, bool), BuildError> {
        let line = ins.line;
        let kw = if is_add { "ADD" } else { "COPY" };
        let windows = stage.platform.is_windows();
        // Here-document sources become files named after their delimiter.
        let (heredoc_sources, file_sources): (Vec<String>, Vec<String>) = c
            .sources
            .iter()
            .cloned()
            .partition(|s| s.starts_with("<<") && c.heredocs.iter().any(|h| s[2..] == h.name));
        if !heredoc_sources.is_empty() && !ins.reads.is_empty() {
            return Err(self.step_err(
                line,
                format!("{kw} --from cannot take a here-document source"),
            ));
        }
        // ADD of a git repository: checked out with git into a temporary
        // directory, which then stands in for the context.
        let git = c
            .sources
            .iter()
            .find(|s| is_add && is_git(s))
            .map(|s| GitSource::parse(s));
        // The checkout lives as long as `_checkout`, until the layer is written.
        let (files_ctx, file_sources, _checkout) = match &git {
            Some(g) => {
                if c.sources.len() != 1 {
                    return Err(
                        self.step_err(line, "ADD of a git repository takes it as the only source")
                    );
                }
                let tmp = self.layers.temp_dir()?;
                let checkout = tmp.path().join("checkout");
                let keep = add.is_some_and(|a| a.keep_git_dir);
                let commit = g
                    .checkout(&checkout, keep)
                    .map_err(|m| self.step_err(line, format!("ADD {}: {m}", g.remote)))?;
                events(BuildEvent::Note(format!(
                    "{}:{line}: ADD {} at commit {commit}",
                    self.file, g.remote
                )));
                let root = g.root_in(&checkout);
                if !root.is_dir() {
                    return Err(self.step_err(
                        line,
                        format!(
                            "ADD {}: the repository has no directory {}",
                            g.remote, g.subdir
                        ),
                    ));
                }
                (
                    BuildContext::new(root, None),
                    vec![".".to_string()],
                    Some(tmp),
                )
            }
            None => (self.context.clone(), file_sources, None),
        };
        // ADD of http(s) URLs: downloaded (verified with --checksum) into
        // the store.
        let (url_sources, file_sources): (Vec<String>, Vec<String>) =
            file_sources.into_iter().partition(|s| is_add && is_url(s));
        let unpack = add.and_then(|a| a.unpack);
        let checksum = add.and_then(|a| a.checksum.clone());
        let chmod = c
            .chmod
            .as_deref()
            .map(Chmod::parse)
            .transpose()
            .map_err(|e| self.step_err(line, e.to_string()))?;
        let (linux_owner_ids, windows_sid) = match (&c.chown, windows) {
            (None, _) => (None, None),
            (Some(spec), true) => (
                None,
                Some(resolve_account(spec).ok_or_else(|| {
                    self.step_err(line, format!("--chown={spec}: not a Windows account; use ContainerUser, ContainerAdministrator or a SID (S-1-...)"))
                })?),
            ),
            (Some(spec), false) => {
                let numeric = spec.split(':').all(|p| p.parse::<u64>().is_ok());
                // Names are looked up in the stage's own /etc/passwd and
                // /etc/group (its layers are read, downloaded if need be).
                let (passwd, group) = if numeric {
                    (None, None)
                } else {
                    self.passwd_and_group(current.0, current.1, line)?
                };
                (
                    Some(
                        chown_ids(spec, passwd.as_deref(), group.as_deref())
                            .map(|(u, g)| (u64::from(u), u64::from(g)))
                            .map_err(|e| self.step_err(line, format!("--chown {e}")))?,
                    ),
                    None,
                )
            }
        };
        let timestamp = self.config.time();
        let whole = CopyRequest {
            sources: &c.sources,
            dest: &c.dest,
            workdir: &ins.workdir,
            windows,
            parents: c.parents,
            exclude: &c.exclude,
            dest_is_dir_in_image: false,
        };
        let (dest, dest_is_dir) =
            destination(&whole).map_err(|e| self.step_err(line, e.to_string()))?;

        match ins.reads.first() {
            None => {
                let several = c.sources.len() > 1;
                let inline: Vec<InlineFile> = heredoc_sources
                    .iter()
                    .filter_map(|s| c.heredocs.iter().find(|h| s[2..] == h.name))
                    .map(|h| InlineFile {
                        dest: if dest_is_dir || several {
                            format!("{}/{}", dest.trim_end_matches('/'), h.name)
                        } else {
                            dest.clone()
                        },
                        content: InlineContent::Bytes(h.content.clone().into_bytes()),
                        mode: 0o644,
                    })
                    .collect();
                let mut inline = inline;
                for url in &url_sources {
                    let name = url
                        .split(['?', '#'])
                        .next()
                        .and_then(|u| u.rsplit('/').next())
                        .filter(|n| !n.is_empty() && !n.contains(':'))
                        .map(str::to_string);
                    let to = if dest_is_dir || several {
                        let name = name.ok_or_else(|| {
                            self.step_err(line, format!("ADD {url}: the URL names no file; give a destination file name instead of a directory"))
                        })?;
                        format!("{}/{name}", dest.trim_end_matches('/'))
                    } else {
                        dest.clone()
                    };
                    let store = self.layers.store();
                    let digest = self
                        .resolver
                        .download(url, checksum.as_deref(), store)
                        .map_err(|m| self.step_err(line, format!("ADD {url}: {m}")))?;
                    inline.push(InlineFile {
                        dest: to,
                        content: InlineContent::File(store.blob_path(&digest)),
                        mode: 0o600,
                    });
                }
                if several && !dest_is_dir && !heredoc_sources.is_empty() {
                    return Err(self.step_err(line, format!("{kw} with several sources needs a directory destination ending in /, not {}", c.dest)));
                }
                // ADD extracts local tar archives (recognised by content)
                // into the destination directory instead of copying them.
                let mut archives: Vec<ArchiveSource> = Vec::new();
                let mut file_sources = file_sources.clone();
                if is_add && unpack != Some(false) {
                    let mut kept = Vec::new();
                    for src in file_sources {
                        match self.archive_source(&src, &dest) {
                            Some(a) => archives.push(a),
                            None => kept.push(src),
                        }
                    }
                    file_sources = kept;
                }
                let req = CopyRequest {
                    sources: &file_sources,
                    ..whole.clone()
                };
                let entries = if file_sources.is_empty() {
                    Vec::new()
                } else {
                    plan_copy(&files_ctx, &req)
                        .map_err(|e| self.step_err(line, format!("{kw}: {e}")))?
                };
                let entries = if windows {
                    let (kept, dropped) = crate::copy_plan::drop_case_duplicates(entries);
                    if !dropped.is_empty() {
                        events(BuildEvent::Warning(format!(
                            "{}:{line}: {kw} skipped {} name(s) that differ from another only in case, which Windows cannot hold apart: {}",
                            self.file,
                            dropped.len(),
                            dropped.join(", ")
                        )));
                    }
                    kept
                } else {
                    entries
                };
                let mut digest = copy_sources_digest(&files_ctx, &entries)
                    .map_err(|e| self.step_err(line, format!("{kw}: reading the sources: {e}")))?;
                for f in &inline {
                    match &f.content {
                        InlineContent::Bytes(b) => {
                            digest = CacheKey(digest).extend(&f.dest, b);
                        }
                        // Downloads are named by their digest in the store.
                        InlineContent::File(p) => {
                            let id = p
                                .file_name()
                                .map(|n| n.to_string_lossy().to_string())
                                .unwrap_or_default();
                            digest = CacheKey(digest).extend(&f.dest, id.as_bytes());
                        }
                    }
                }
                for a in &archives {
                    let content = std::fs::read(&a.path).map_err(|e| {
                        self.step_err(line, format!("ADD {}: {e}", a.path.display()))
                    })?;
                    digest = CacheKey(digest).extend(&a.dest_dir, &content);
                }
                // A layer of context files does not depend on the base image
                // (nothing of it is read), so its key follows this stage's
                // own steps but not the base or the Windows version, as
                // `COPY --link` does: the same Dockerfile makes the same
                // layer on every Windows version (built once), while a
                // changed file still invalidates every later step.
                let mut any_version = stage.platform.clone();
                any_version.os_version = None;
                any_version.os_features.clear();
                let key = instruction_key(local, &any_version, workdir_before, ins, &[digest]);
                if !self.config.no_cache {
                    if let Some(hit) = self.layers.cached(&key) {
                        return Ok((hit, true));
                    }
                }
                // Packing progress, at most every 32 MiB, for the live view.
                let events_cell = std::cell::RefCell::new(&mut *events);
                let last = std::cell::Cell::new(0u64);
                let progress = |bytes: u64| {
                    if bytes >= last.get() + (32 << 20) {
                        last.set(bytes);
                        if let Ok(mut ev) = events_cell.try_borrow_mut() {
                            ev(BuildEvent::LayerProgress { line, bytes });
                        }
                    }
                };
                let spec = CopyLayerSpec {
                    linux_owner: linux_owner_ids,
                    windows_owner: windows_sid,
                    chmod,
                    timestamp,
                    clamp_mtimes: self.config.source_date_epoch.is_some(),
                    windows_base: None,
                    inline: &inline,
                    archives: &archives,
                    progress: Some(&progress),
                };
                let layer = self
                    .layers
                    .write_layer(|w| {
                        if windows {
                            write_windows(&files_ctx, &entries, &spec, w)
                        } else {
                            write_linux(&files_ctx, &entries, &spec, w)
                        }
                    })?
                    .map_err(|e| self.step_err(line, format!("{kw}: {e}")))?;
                self.layers.remember(&key, &layer)?;
                Ok((layer, false))
            }
            Some(source) => {
                let from = self.source_result(source, &format!("{kw} --from"), line, done)?;
                let key = instruction_key(
                    chain,
                    &stage.platform,
                    workdir_before,
                    ins,
                    std::slice::from_ref(&from.chain.0),
                );
                if !self.config.no_cache {
                    if let Some(hit) = self.layers.cached(&key) {
                        return Ok((hit, true));
                    }
                }
                let store = self.layers.store();
                if let Some(base) = &from.base_reference {
                    self.resolver
                        .fetch_layers(base, &from.layers, store)
                        .map_err(|m| {
                            self.step_err(
                                line,
                                format!("COPY --from: the base layers of {base}: {m}"),
                            )
                        })?;
                }
                let mut paths = Vec::new();
                for l in &from.layers {
                    let p = store.blob_path(&l.descriptor.digest);
                    if store.blob_size(&l.descriptor.digest) != Some(l.descriptor.size) {
                        return Err(self.step_err(line, format!(
                            "COPY --from={}: the layer {} of that stage's base image is not in the store",
                            c.from.as_deref().unwrap_or(""),
                            l.descriptor.digest
                        )));
                    }
                    paths.push(p);
                }
                let os = if from.config.os == "windows" {
                    LayerOs::Windows
                } else {
                    LayerOs::Linux
                };
                let spool = self.layers.temp_dir()?;
                let view =
                    StageView::from_layers(os, &paths, spool.path(), &ViewOptions::default())
                        .map_err(|e| {
                            self.step_err(line, format!("COPY --from: reading the stage: {e}"))
                        })?;
                let from_name = c.from.clone().unwrap_or_default();
                let dest_rel = dest.trim_start_matches('/').to_string();
                let mappings =
                    plan_copy_from(&view, &from_name, &c.sources, &dest_rel, dest_is_dir)
                        .map_err(|e| self.step_err(line, format!("COPY --from: {e}")))?;
                let owner = FromOwner {
                    linux: linux_owner_ids,
                    windows_sid,
                };
                let mut skipped = Vec::new();
                let layer = self.layers.write_layer(|w| -> Result<_, BuildError> {
                    if windows {
                        let base = NoBase;
                        let mut lw = WindowsLayerWriter::new(
                            w,
                            &base,
                            WindowsLayerOptions {
                                timestamp: Timestamp::from_secs(timestamp),
                                base_layer: false,
                            },
                        )
                        .map_err(|e| self.step_err(line, e.to_string()))?;
                        skipped = copy_into_windows(&view, &mappings, &owner, &mut lw)
                            .map_err(|e| self.step_err(line, format!("COPY --from: {e}")))?;
                        lw.finish().map_err(|e| self.step_err(line, e.to_string()))
                    } else {
                        let mut lw = LinuxLayerWriter::new(
                            w,
                            LinuxLayerOptions {
                                source_date_epoch: self.config.source_date_epoch,
                                owner: None,
                                skip_xattrs: false,
                            },
                        );
                        skipped = copy_into_linux(&view, &mappings, &owner, timestamp, &mut lw)
                            .map_err(|e| self.step_err(line, format!("COPY --from: {e}")))?;
                        lw.finish().map_err(|e| self.step_err(line, e.to_string()))
                    }
                })??;
                if !skipped.is_empty() {
                    let list: Vec<String> = skipped
                        .iter()
                        .map(|s| format!("{} ({})", s.path, s.reason))
                        .collect();
                    events(BuildEvent::Warning(format!(
                        "{}:{line}: COPY --from={from_name} skipped {} name(s) the destination cannot hold: {}",
                        self.file,
                        skipped.len(),
                        list.join(", ")
                    )));
                }
                self.layers.remember(&key, &layer)?;
                Ok((layer, false))
            }
        }
    }
}
