//! One COPY or ADD step of a stage, as one new layer in the stage's OS
//! format. The step gathers its sources ([`crate::copy_source`]: context
//! files or a git checkout, here-documents, downloaded URLs, local
//! archives; or another stage or image with `--from`, in either OS
//! direction), settles the destination once for all of them, keys the
//! step for the instruction cache and writes the layer. `--chown` and
//! `--chmod` are resolved here; the cache key of a context copy follows
//! the stage's own steps, not its base (as `COPY --link`).

use crate::api::{BuildError, BuildEvent, StepWarning};
use crate::cache_key::{instruction_key, CacheKey};
use crate::context::BuildContext;
use crate::copy_layer::{CopyOptions, CopyWriter};
use crate::copy_plan::CopyRequest;
use crate::copy_source::{
    place_all, ContextFiles, CopySource, InlineFile, LocalArchive, SourceError, StageFiles,
};
use crate::git_source::GitSource;
use crate::layer_store::LayerRecord;
use crate::stage_exec::{CopyStep, StageExec, StageResult};
use crate::users::chown_ids;
use std::collections::HashMap;
use wharf_frontend::chmod::Chmod;
use wharf_frontend::plan::Source;
use wharf_frontend::sources::{is_git, is_url};
use wharf_layer::windows::sddl::resolve_account;
use wharf_layer::{LayerOs, NoBase, StageView, ViewOptions};
use wharf_oci::{Digest, LayerRef, Reference};

/// How much of `/etc/passwd` or `/etc/group` is read.
pub(crate) const USER_DB_LIMIT: u64 = 8 << 20;

/// What every COPY/ADD decides before it reads a source.
struct CopyPrep<'a> {
    kw: &'static str,
    windows: bool,
    chmod: Option<Chmod>,
    linux_owner: Option<(u64, u64)>,
    windows_owner: Option<String>,
    request: CopyRequest<'a>,
}

/// Where the sources of a step come from, for how the layer is written.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// The build context (or what ADD fetched into it).
    Context,
    /// Another stage or image: its owners and attributes are kept.
    Stage,
}

impl StageExec<'_> {
    /// One COPY or ADD; returns the layer and whether it came from the cache.
    pub(crate) fn copy_step(
        &self,
        step: &CopyStep<'_>,
        done: &HashMap<usize, StageResult>,
        events: &mut dyn FnMut(BuildEvent),
    ) -> Result<(LayerRecord, bool, CacheKey), BuildError> {
        let prep = self.prepare_copy(step)?;
        match step.ins.reads.first() {
            None => self.copy_from_context(step, &prep, self.context, events),
            Some(Source::Context { name }) => {
                let ctx = self.named_contexts.get(name).ok_or_else(|| {
                    self.step_err(
                        step.ins.line,
                        format!("COPY --from={name}: no --build-context {name}=DIR was given to the builder"),
                    )
                })?;
                self.copy_from_context(step, &prep, ctx, events)
            }
            Some(source) => self.copy_from_stage(step, &prep, source, done, events),
        }
    }

    fn prepare_copy<'a>(&self, step: &'a CopyStep<'_>) -> Result<CopyPrep<'a>, BuildError> {
        let (ins, c) = (step.ins, step.copy);
        let kw = if step.add.is_some() { "ADD" } else { "COPY" };
        let windows = step.stage.platform.is_windows();
        let chmod = c
            .chmod
            .as_deref()
            .map(Chmod::parse)
            .transpose()
            .map_err(|e| self.step_err(ins.line, e.to_string()))?;
        let (linux_owner, windows_owner) = self.copy_owners(step, windows)?;
        Ok(CopyPrep {
            kw,
            windows,
            chmod,
            linux_owner,
            windows_owner,
            request: CopyRequest {
                sources: &c.sources,
                dest: &c.dest,
                workdir: &ins.workdir,
                windows,
                parents: c.parents,
                exclude: &c.exclude,
                dest_is_dir_in_image: false,
            },
        })
    }

    fn source_err(&self, step: &CopyStep<'_>, what: &str, e: SourceError) -> BuildError {
        self.step_err(step.ins.line, format!("{what}: {e}"))
    }

    /// The sources of a COPY/ADD that reads `context` (the build context,
    /// or a `--build-context` directory), in the order their entries enter
    /// the layer: context files (or a git checkout), here-documents,
    /// downloads, extracted archives.
    fn context_sources(
        &self,
        step: &CopyStep<'_>,
        prep: &CopyPrep<'_>,
        context: &BuildContext,
        events: &mut dyn FnMut(BuildEvent),
    ) -> Result<Vec<Box<dyn CopySource>>, BuildError> {
        let (c, line, kw) = (step.copy, step.ins.line, prep.kw);
        let is_add = step.add.is_some();
        let mut heredocs = Vec::new();
        let mut urls = Vec::new();
        let mut archives = Vec::new();
        let mut files = Vec::new();
        let mut git = None;
        let unpack = step.add.is_some_and(|a| a.unpack != Some(false));
        for s in &c.sources {
            let heredoc = s
                .strip_prefix("<<")
                .and_then(|name| c.heredocs.iter().find(|h| h.name == name));
            if let Some(h) = heredoc {
                heredocs.push(InlineFile::here_document(&h.name, &h.content));
            } else if is_add && is_git(s) {
                git = Some(GitSource::parse(s));
            } else if is_add && is_url(s) {
                urls.push(s.clone());
            } else if let Some(a) = unpack
                .then(|| LocalArchive::detect(self.context, s))
                .flatten()
            {
                archives.push(a);
            } else {
                files.push(s.clone());
            }
        }
        let (ctx, checkout, files) = match git {
            Some(g) => {
                let (ctx, tmp) = self.git_checkout(step, &g, events)?;
                (ctx, Some(tmp), vec![".".to_string()])
            }
            None => (context.clone(), None, files),
        };
        let mut sources: Vec<Box<dyn CopySource>> = Vec::new();
        if !files.is_empty() {
            let req = CopyRequest {
                sources: &files,
                ..prep.request.clone()
            };
            let context = ContextFiles::new(kw, ctx, checkout, &req)
                .map_err(|e| self.source_err(step, kw, e))?;
            sources.push(Box::new(context));
        }
        sources.extend(
            heredocs
                .into_iter()
                .map(|h| Box::new(h) as Box<dyn CopySource>),
        );
        // ADD of http(s) URLs: downloaded (verified with --checksum) into
        // the store.
        let checksum = match step.add.and_then(|a| a.checksum.as_deref()) {
            Some(c) => Some(
                Digest::parse(c)
                    .map_err(|e| self.step_err(line, format!("ADD --checksum={c}: {e}")))?,
            ),
            None => None,
        };
        for url in urls {
            let store = self.layers.store();
            let digest = self
                .resolver
                .download(&url, checksum.as_ref(), store)
                .map_err(|m| self.step_err(line, format!("ADD {url}: {m}")))?;
            let path = store.blob_path(&digest);
            sources.push(Box::new(InlineFile::download(&url, path, digest)));
        }
        sources.extend(
            archives
                .into_iter()
                .map(|a| Box::new(a) as Box<dyn CopySource>),
        );
        Ok(sources)
    }

    /// ADD of a git repository: checked out with git into a temporary
    /// directory, which then stands in for the context.
    fn git_checkout(
        &self,
        step: &CopyStep<'_>,
        g: &GitSource,
        events: &mut dyn FnMut(BuildEvent),
    ) -> Result<(BuildContext, tempfile::TempDir), BuildError> {
        let line = step.ins.line;
        if step.copy.sources.len() != 1 {
            return Err(self.step_err(line, "ADD of a git repository takes it as the only source"));
        }
        let tmp = self.layers.temp_dir()?;
        let checkout = tmp.path().join("checkout");
        let keep = step.add.is_some_and(|a| a.keep_git_dir);
        let commit = g
            .checkout(&checkout, keep)
            .map_err(|m| self.step_err(line, format!("ADD {}: {m}", g.remote)))?;
        events(BuildEvent::note(format!(
            "{}:{line}: ADD {} at commit {commit}",
            self.file, g.remote
        )));
        let root = g
            .root_in(&checkout)
            .map_err(|m| self.step_err(line, format!("ADD {}: {m}", g.remote)))?;
        Ok((BuildContext::new(root, None), tmp))
    }

    /// `--chown` as the stage's OS means it: Linux ids (names from the
    /// stage's own `/etc/passwd` and `/etc/group`), or a Windows SID.
    #[allow(clippy::type_complexity)]
    fn copy_owners(
        &self,
        step: &CopyStep<'_>,
        windows: bool,
    ) -> Result<(Option<(u64, u64)>, Option<String>), BuildError> {
        let line = step.ins.line;
        match (&step.copy.chown, windows) {
            (None, _) => Ok((None, None)),
            (Some(spec), true) => Ok((
                None,
                Some(resolve_account(spec).ok_or_else(|| {
                    self.step_err(line, format!("--chown={spec}: not a Windows account; use ContainerUser, ContainerAdministrator or a SID (S-1-...)"))
                })?),
            )),
            (Some(spec), false) => {
                let numeric = spec.split(':').all(|p| p.parse::<u64>().is_ok());
                // Names are looked up in the stage's own /etc/passwd and
                // /etc/group (its layers are read, downloaded if need be).
                let (passwd, group) = if numeric {
                    (None, None)
                } else {
                    self.passwd_and_group(step.layers, step.base_reference, line)?
                };
                let ids = chown_ids(spec, passwd.as_deref(), group.as_deref())
                    .map(|(u, g)| (u64::from(u), u64::from(g)))
                    .map_err(|e| self.step_err(line, format!("--chown {e}")))?;
                Ok((Some(ids), None))
            }
        }
    }

    /// COPY/ADD from the build context (or what ADD fetched), or COPY
    /// --from a `--build-context` directory.
    ///
    /// The key holds the contents of every file copied, which costs a read
    /// of them all. When no record of a step like this one (its key but
    /// for those contents) was ever made, no lookup can hit: the layer is
    /// written first and the contents hashed as it reads them, so a cold
    /// build reads each file once. Either way the digests are kept for the
    /// build, and equal steps of other stages take them from there.
    fn copy_from_context(
        &self,
        step: &CopyStep<'_>,
        prep: &CopyPrep<'_>,
        context: &BuildContext,
        events: &mut dyn FnMut(BuildEvent),
    ) -> Result<(LayerRecord, bool, CacheKey), BuildError> {
        let kw = prep.kw;
        let mut sources = self.context_sources(step, prep, context, events)?;
        let warnings =
            place_all(&mut sources, &prep.request, kw).map_err(|e| self.source_err(step, kw, e))?;
        self.warn(step, warnings, events);
        // A layer of context files does not depend on the base image
        // (nothing of it is read), so its key follows this stage's own
        // steps but not the base or the Windows version, as `COPY --link`
        // does: the same Dockerfile makes the same layer on every Windows
        // version (built once), while a changed file still invalidates
        // every later step. (A Windows build that reads its base makes
        // layers that depend on it: the base's layers are in the digests.)
        let mut any_version = step.stage.platform.clone();
        any_version.os_version = None;
        any_version.os_features.clear();
        let key_of = |mut digests: Vec<Digest>| {
            if prep.windows {
                digests.extend(self.windows_base_key(step.layers, step.base_layers));
            }
            instruction_key(
                step.local,
                &any_version,
                step.workdir_before,
                step.ins,
                &digests,
            )
        };
        let prefix = CacheKey(key_of(Vec::new()).extend("sources-follow", b""));
        let digests = {
            // Equal steps of concurrent stages (one COPY for several
            // Windows versions) wait here while the first reads the files,
            // then take its digests and find its record by the full key.
            let _claim = self.layers.claim(&prefix);
            if self.config.no_cache || !self.layers.may_hold(&prefix) {
                let mut digests = Vec::with_capacity(sources.len());
                let record = self.write_copy_layer(
                    step,
                    prep,
                    &sources,
                    Origin::Context,
                    Some(&mut digests),
                    events,
                )?;
                self.layers.keep_contents(&prefix, &digests);
                let key = key_of(digests);
                self.layers.note_prefix(&prefix)?;
                return self.remember(step, &key, record, events);
            }
            match self.layers.contents_of(&prefix) {
                Some(digests) => digests,
                None => {
                    let digests = sources
                        .iter()
                        .map(|s| s.content_digest())
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|e| self.source_err(step, kw, e))?;
                    self.layers.keep_contents(&prefix, &digests);
                    digests
                }
            }
        };
        let key = key_of(digests);
        let _claim = self.layers.claim(&key);
        if let Some(hit) = self.cached(step, &key, events) {
            return Ok((hit, true, key));
        }
        let record = self.write_copy_layer(step, prep, &sources, Origin::Context, None, events)?;
        self.layers.note_prefix(&prefix)?;
        self.remember(step, &key, record, events)
    }

    /// COPY --from another stage or an image, in either OS direction. The
    /// stage's content is named by its cache key, so a cache hit reads
    /// none of its files.
    fn copy_from_stage(
        &self,
        step: &CopyStep<'_>,
        prep: &CopyPrep<'_>,
        source: &Source,
        done: &HashMap<usize, StageResult>,
        events: &mut dyn FnMut(BuildEvent),
    ) -> Result<(LayerRecord, bool, CacheKey), BuildError> {
        let (c, line) = (step.copy, step.ins.line);
        let names_heredoc = |s: &String| {
            s.strip_prefix("<<")
                .is_some_and(|name| c.heredocs.iter().any(|h| h.name == name))
        };
        if c.sources.iter().any(names_heredoc) {
            return Err(self.step_err(
                line,
                format!("{} --from cannot take a here-document source", prep.kw),
            ));
        }
        let what = format!("{} --from", prep.kw);
        let from = self.source_result(source, &what, line, done)?;
        let mut reads = vec![from.chain.0.clone()];
        if prep.windows {
            reads.extend(self.windows_base_key(step.layers, step.base_layers));
        }
        let key = instruction_key(
            step.chain,
            &step.stage.platform,
            step.workdir_before,
            step.ins,
            &reads,
        );
        let _claim = self.layers.claim(&key);
        if let Some(hit) = self.cached(step, &key, events) {
            return Ok((hit, true, key));
        }
        let from_name = c.from.clone().unwrap_or_default();
        let (view, spool) = self.stage_view(&from, &from_name, line)?;
        let files = StageFiles::new(view, spool, &from_name, from.chain.0.clone(), &c.sources)
            .map_err(|e| self.source_err(step, &what, e))?;
        let mut sources: Vec<Box<dyn CopySource>> = vec![Box::new(files)];
        let warnings = place_all(&mut sources, &prep.request, prep.kw)
            .map_err(|e| self.source_err(step, &what, e))?;
        self.warn(step, warnings, events);
        let record = self.write_copy_layer(step, prep, &sources, Origin::Stage, None, events)?;
        self.remember(step, &key, record, events)
    }

    /// The cached layer of `key`, its step's warnings told again.
    fn cached(
        &self,
        step: &CopyStep<'_>,
        key: &CacheKey,
        events: &mut dyn FnMut(BuildEvent),
    ) -> Option<LayerRecord> {
        if self.config.no_cache {
            return None;
        }
        let mut record = self.layers.cached(key)?;
        self.warn(step, std::mem::take(&mut record.warnings), events);
        Some(record)
    }

    /// Tells the new layer's warnings and remembers both for `key`.
    fn remember(
        &self,
        step: &CopyStep<'_>,
        key: &CacheKey,
        record: LayerRecord,
        events: &mut dyn FnMut(BuildEvent),
    ) -> Result<(LayerRecord, bool, CacheKey), BuildError> {
        self.layers.remember(key, &record)?;
        let mut record = record;
        self.warn(step, std::mem::take(&mut record.warnings), events);
        Ok((record, false, key.clone()))
    }

    fn warn(
        &self,
        step: &CopyStep<'_>,
        warnings: Vec<StepWarning>,
        events: &mut dyn FnMut(BuildEvent),
    ) {
        for w in warnings {
            events(w.event(self.file, step.ins.line));
        }
    }

    /// Writes every source into one new layer of the stage's OS; returns
    /// it with what the sources warned of while writing. With `digests`,
    /// each source's content digest is pushed there, computed as written.
    fn write_copy_layer(
        &self,
        step: &CopyStep<'_>,
        prep: &CopyPrep<'_>,
        sources: &[Box<dyn CopySource>],
        origin: Origin,
        mut digests: Option<&mut Vec<Digest>>,
        events: &mut dyn FnMut(BuildEvent),
    ) -> Result<LayerRecord, BuildError> {
        let (line, kw) = (step.ins.line, prep.kw);
        let what = match origin {
            Origin::Context => kw.to_string(),
            Origin::Stage => format!("{kw} --from"),
        };
        // Packing progress, at most every 32 MiB, for the live view.
        let (platform, stage) = (step.stage.platform.to_string(), step.stage.display_name());
        let events_cell = std::cell::RefCell::new(&mut *events);
        let last = std::cell::Cell::new(0u64);
        let progress = |bytes: u64| {
            if bytes >= last.get() + (32 << 20) {
                last.set(bytes);
                if let Ok(mut ev) = events_cell.try_borrow_mut() {
                    ev(BuildEvent::LayerProgress {
                        platform: platform.clone(),
                        stage: stage.clone(),
                        line,
                        bytes,
                    });
                }
            }
        };
        let options = CopyOptions {
            linux_owner: prep.linux_owner,
            windows_owner: prep.windows_owner.as_deref(),
            chmod: prep.chmod.as_ref(),
            timestamp: self.config.time(),
            clamp_mtimes: self.config.source_date_epoch.is_some(),
            progress: Some(&progress),
        };
        let mut warnings = Vec::new();
        // A Windows layer spells each path as the layers below do and
        // reuses their directories' metadata: the stage's own layers', and
        // the base image's when the build reads it.
        let below = match prep.windows {
            true => Some(self.windows_dirs(
                step.layers,
                step.base_layers,
                step.base_reference,
                line,
                &what,
            )?),
            false => None,
        };
        let base: &dyn wharf_layer::WindowsBase = match &below {
            Some(index) => index,
            None => &NoBase,
        };
        let layer = self
            .layers
            .write_layer(|mut blob| -> Result<_, SourceError> {
                let out: &mut dyn std::io::Write = &mut blob;
                let mut writer = match (prep.windows, origin) {
                    (true, _) => CopyWriter::windows(out, base, options)?,
                    (false, Origin::Context) => CopyWriter::linux(out, options),
                    (false, Origin::Stage) => {
                        CopyWriter::linux_from_stage(out, self.config.source_date_epoch, options)
                    }
                };
                for s in sources {
                    match digests.as_deref_mut() {
                        Some(digests) => {
                            let (w, digest) = s.write_with_digest(&mut writer)?;
                            warnings.extend(w);
                            digests.push(digest);
                        }
                        None => warnings.extend(s.write(&mut writer)?),
                    }
                }
                writer.finish()?;
                Ok(blob)
            })?
            .map_err(|e| self.source_err(step, &what, e))?;
        Ok(LayerRecord {
            layer,
            warnings,
            created: Some(self.config.time()),
        })
    }

    /// A read-only view of `from`'s files, its base layers fetched first;
    /// the view's spool directory lives as long as the view.
    fn stage_view(
        &self,
        from: &StageResult,
        from_name: &str,
        line: usize,
    ) -> Result<(StageView, tempfile::TempDir), BuildError> {
        let store = self.layers.store();
        self.fetch_layers(from.base_reference.as_ref(), &from.layers)
            .map_err(|m| {
                self.step_err(line, format!("COPY --from={from_name}: its layers: {m}"))
            })?;
        let mut paths = Vec::new();
        for l in &from.layers {
            if store.blob_size(&l.descriptor.digest) != Some(l.descriptor.size) {
                return Err(self.step_err(line, format!(
                    "COPY --from={from_name}: the layer {} of that stage's base image is not in the store",
                    l.descriptor.digest
                )));
            }
            paths.push(store.blob_path(&l.descriptor.digest));
        }
        let os = if from.config.os == "windows" {
            LayerOs::Windows
        } else {
            LayerOs::Linux
        };
        let spool = self.layers.temp_dir()?;
        let view = StageView::from_layers(os, &paths, spool.path(), &ViewOptions::default())
            .map_err(|e| self.step_err(line, format!("COPY --from: reading the stage: {e}")))?;
        Ok((view, spool))
    }

    /// `/etc/passwd` and `/etc/group` of a Linux stage whose layers are
    /// `layers` (base layers fetched from `base` when the store lacks them).
    fn passwd_and_group(
        &self,
        layers: &[LayerRef],
        base: Option<&Reference>,
        line: usize,
    ) -> Result<(Option<String>, Option<String>), BuildError> {
        let opts = ViewOptions::default();
        let (view, _spool) = self.linux_view(layers, base, line, "--chown", &opts)?;
        Ok((
            view.read_text("etc/passwd", USER_DB_LIMIT),
            view.read_text("etc/group", USER_DB_LIMIT),
        ))
    }

    /// A view of a Linux stage whose layers are `layers` (base layers
    /// fetched from `base` when the store lacks them), with its spool
    /// directory; errors start with `what`.
    pub(crate) fn linux_view(
        &self,
        layers: &[LayerRef],
        base: Option<&Reference>,
        line: usize,
        what: &str,
        opts: &ViewOptions,
    ) -> Result<(StageView, tempfile::TempDir), BuildError> {
        let fail =
            |m: String| self.step_err(line, format!("{what}: reading the stage's layers: {m}"));
        self.fetch_layers(base, layers)
            .map_err(|m| fail(m.to_string()))?;
        let store = self.layers.store();
        let paths: Vec<_> = layers
            .iter()
            .map(|l| store.blob_path(&l.descriptor.digest))
            .collect();
        let spool = self.layers.temp_dir()?;
        let view = StageView::from_layers(LayerOs::Linux, &paths, spool.path(), opts)
            .map_err(|e| fail(e.to_string()))?;
        Ok((view, spool))
    }
}
