//! One COPY or ADD step of a stage, as one new layer in the stage's OS
//! format: from the build context (files, here-documents, downloaded
//! URLs, extracted local archives, a git checkout), or from another stage
//! or image (`--from`, in either OS direction, through a stage view).
//! `--chown` and `--chmod` are resolved here; the cache key of a context
//! copy follows the stage's own steps, not its base (as `COPY --link`).

use crate::api::{BuildError, BuildEvent};
use crate::cache_key::{copy_sources_digest, instruction_key, CacheKey};
use crate::context::BuildContext;
use crate::copy_from::{copy_into_linux, copy_into_windows, plan_copy_from, FromOwner};
use crate::copy_layer::{
    write_linux, write_windows, ArchiveSource, CopyLayerSpec, InlineContent, InlineFile,
};
use crate::copy_plan::{destination, into_directory, plan_copy, CopyEntry, CopyRequest};
use crate::git_source::GitSource;
use crate::stage_exec::{CopyStep, StageExec, StageResult};
use crate::users::chown_ids;
use std::collections::HashMap;
use wharf_frontend::chmod::Chmod;
use wharf_frontend::plan::Source;
use wharf_frontend::sources::{is_git, is_url};
use wharf_layer::windows::sddl::resolve_account;
use wharf_layer::{
    LayerOs, LinuxLayerOptions, LinuxLayerWriter, NoBase, StageView, Timestamp, ViewOptions,
    WindowsLayerOptions, WindowsLayerWriter,
};
use wharf_oci::{Digest, LayerRef, Reference};

/// The digest of a file's bytes, read in a stream.
fn archive_digest(path: &std::path::Path) -> std::io::Result<Digest> {
    let mut w = wharf_oci::HashingWriter::new(std::io::sink());
    std::io::copy(&mut std::fs::File::open(path)?, &mut w)?;
    Ok(w.finish().1)
}

/// What every COPY/ADD decides before it reads a source.
struct CopyPrep<'a> {
    kw: &'static str,
    windows: bool,
    heredoc_sources: Vec<String>,
    /// Context (or checkout) paths, and http(s) URLs to download.
    file_sources: Vec<String>,
    url_sources: Vec<String>,
    /// The build context, or a git checkout standing in for it.
    files_ctx: BuildContext,
    /// Keeps a git checkout until the layer is written.
    _checkout: Option<tempfile::TempDir>,
    chmod: Option<Chmod>,
    linux_owner: Option<(u64, u64)>,
    windows_owner: Option<String>,
    timestamp: u64,
    whole: CopyRequest<'a>,
    dest: String,
    dest_is_dir: bool,
}

impl StageExec<'_> {
    /// One COPY or ADD; returns the layer and whether it came from the cache.
    pub(crate) fn copy_step(
        &self,
        step: &CopyStep<'_>,
        done: &HashMap<usize, StageResult>,
        events: &mut dyn FnMut(BuildEvent),
    ) -> Result<(LayerRef, bool), BuildError> {
        let prep = self.prepare_copy(step, events)?;
        match step.ins.reads.first() {
            None => self.copy_from_context(step, &prep, events),
            Some(source) => self.copy_from_stage(step, &prep, source, done, events),
        }
    }

    fn prepare_copy<'a>(
        &self,
        step: &'a CopyStep<'_>,
        events: &mut dyn FnMut(BuildEvent),
    ) -> Result<CopyPrep<'a>, BuildError> {
        let (ins, c, add) = (step.ins, step.copy, step.add);
        let line = ins.line;
        let is_add = add.is_some();
        let kw = if is_add { "ADD" } else { "COPY" };
        let windows = step.stage.platform.is_windows();
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
        let git = c
            .sources
            .iter()
            .find(|s| is_add && is_git(s))
            .map(|s| GitSource::parse(s));
        let (files_ctx, file_sources, checkout) = match &git {
            Some(g) => self.git_checkout(step, g, events)?,
            None => (self.context.clone(), file_sources, None),
        };
        // ADD of http(s) URLs: downloaded (verified with --checksum) into
        // the store.
        let (url_sources, file_sources): (Vec<String>, Vec<String>) =
            file_sources.into_iter().partition(|s| is_add && is_url(s));
        let chmod = c
            .chmod
            .as_deref()
            .map(Chmod::parse)
            .transpose()
            .map_err(|e| self.step_err(line, e.to_string()))?;
        let (linux_owner, windows_owner) = self.copy_owners(step, windows)?;
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
        Ok(CopyPrep {
            kw,
            windows,
            heredoc_sources,
            file_sources,
            url_sources,
            files_ctx,
            _checkout: checkout,
            chmod,
            linux_owner,
            windows_owner,
            timestamp: self.config.time(),
            whole,
            dest,
            dest_is_dir,
        })
    }

    /// ADD of a git repository: checked out with git into a temporary
    /// directory, which then stands in for the context.
    #[allow(clippy::type_complexity)]
    fn git_checkout(
        &self,
        step: &CopyStep<'_>,
        g: &GitSource,
        events: &mut dyn FnMut(BuildEvent),
    ) -> Result<(BuildContext, Vec<String>, Option<tempfile::TempDir>), BuildError> {
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
        Ok((
            BuildContext::new(root, None),
            vec![".".to_string()],
            Some(tmp),
        ))
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

    /// Here-documents and downloaded URLs, as files of the new layer.
    fn inline_files(
        &self,
        step: &CopyStep<'_>,
        prep: &CopyPrep<'_>,
    ) -> Result<Vec<InlineFile>, BuildError> {
        let (c, line) = (step.copy, step.ins.line);
        let several = c.sources.len() > 1;
        let into_dir = prep.dest_is_dir || several;
        let mut inline: Vec<InlineFile> = prep
            .heredoc_sources
            .iter()
            .filter_map(|s| c.heredocs.iter().find(|h| s[2..] == h.name))
            .map(|h| InlineFile {
                dest: if into_dir {
                    format!("{}/{}", prep.dest.trim_end_matches('/'), h.name)
                } else {
                    prep.dest.clone()
                },
                content: InlineContent::Bytes(h.content.clone().into_bytes()),
                mode: 0o644,
            })
            .collect();
        let checksum = match step.add.and_then(|a| a.checksum.as_deref()) {
            Some(c) => Some(
                Digest::parse(c)
                    .map_err(|e| self.step_err(line, format!("ADD --checksum={c}: {e}")))?,
            ),
            None => None,
        };
        for url in &prep.url_sources {
            let name = url
                .split(['?', '#'])
                .next()
                .and_then(|u| u.rsplit('/').next())
                .filter(|n| !n.is_empty() && !n.contains(':'))
                .map(str::to_string);
            let to = if into_dir {
                let name = name.ok_or_else(|| {
                    self.step_err(line, format!("ADD {url}: the URL names no file; give a destination file name instead of a directory"))
                })?;
                format!("{}/{name}", prep.dest.trim_end_matches('/'))
            } else {
                prep.dest.clone()
            };
            let store = self.layers.store();
            let digest = self
                .resolver
                .download(url, checksum.as_ref(), store)
                .map_err(|m| self.step_err(line, format!("ADD {url}: {m}")))?;
            inline.push(InlineFile {
                dest: to,
                content: InlineContent::File(store.blob_path(&digest)),
                mode: 0o600,
            });
        }
        if !prep.heredoc_sources.is_empty() {
            into_directory(prep.kw, c.sources.len(), &c.dest, prep.dest_is_dir)
                .map_err(|e| self.step_err(line, e.to_string()))?;
        }
        Ok(inline)
    }

    /// The context entries a COPY/ADD packs, and the local archives ADD
    /// extracts (recognised by content) instead of copying them.
    fn context_entries(
        &self,
        step: &CopyStep<'_>,
        prep: &CopyPrep<'_>,
        events: &mut dyn FnMut(BuildEvent),
    ) -> Result<(Vec<CopyEntry>, Vec<ArchiveSource>), BuildError> {
        let line = step.ins.line;
        let kw = prep.kw;
        let mut archives: Vec<ArchiveSource> = Vec::new();
        let mut file_sources = prep.file_sources.clone();
        if step.add.is_some_and(|a| a.unpack != Some(false)) {
            let mut kept = Vec::new();
            for src in file_sources {
                match self.archive_source(&src, &prep.dest) {
                    Some(a) => archives.push(a),
                    None => kept.push(src),
                }
            }
            file_sources = kept;
        }
        let req = CopyRequest {
            sources: &file_sources,
            ..prep.whole.clone()
        };
        let entries = if file_sources.is_empty() {
            Vec::new()
        } else {
            plan_copy(&prep.files_ctx, &req)
                .map_err(|e| self.step_err(line, format!("{kw}: {e}")))?
        };
        if !prep.windows {
            return Ok((entries, archives));
        }
        let (kept, dropped) = crate::copy_plan::drop_case_duplicates(entries);
        if !dropped.is_empty() {
            events(BuildEvent::warning(format!(
                "{}:{line}: {kw} skipped {} name(s) that differ from another only in case, which Windows cannot hold apart: {}",
                self.file,
                dropped.len(),
                dropped.join(", ")
            )));
        }
        Ok((kept, archives))
    }

    /// COPY/ADD from the build context (or a git checkout).
    fn copy_from_context(
        &self,
        step: &CopyStep<'_>,
        prep: &CopyPrep<'_>,
        events: &mut dyn FnMut(BuildEvent),
    ) -> Result<(LayerRef, bool), BuildError> {
        let (ins, line, kw) = (step.ins, step.ins.line, prep.kw);
        let inline = self.inline_files(step, prep)?;
        let (entries, archives) = self.context_entries(step, prep, events)?;
        let mut digest = copy_sources_digest(&prep.files_ctx, &entries)
            .map_err(|e| self.step_err(line, format!("{kw}: reading the sources: {e}")))?;
        for f in &inline {
            match &f.content {
                InlineContent::Bytes(b) => digest = CacheKey(digest).extend(&f.dest, b),
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
            // Hashed while it streams: an archive can be larger than memory.
            let content = archive_digest(&a.path)
                .map_err(|e| self.step_err(line, format!("ADD {}: {e}", a.path.display())))?;
            digest = CacheKey(digest).extend(&a.dest_dir, content.as_str().as_bytes());
        }
        // A layer of context files does not depend on the base image
        // (nothing of it is read), so its key follows this stage's own
        // steps but not the base or the Windows version, as `COPY --link`
        // does: the same Dockerfile makes the same layer on every Windows
        // version (built once), while a changed file still invalidates
        // every later step.
        let mut any_version = step.stage.platform.clone();
        any_version.os_version = None;
        any_version.os_features.clear();
        let key = instruction_key(
            step.local,
            &any_version,
            step.workdir_before,
            ins,
            &[digest],
        );
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
            linux_owner: prep.linux_owner,
            windows_owner: prep.windows_owner.clone(),
            chmod: prep.chmod.clone(),
            timestamp: prep.timestamp,
            clamp_mtimes: self.config.source_date_epoch.is_some(),
            windows_base: None,
            inline: &inline,
            archives: &archives,
            progress: Some(&progress),
        };
        let ctx = &prep.files_ctx;
        let layer = self
            .layers
            .write_layer(|w| {
                if prep.windows {
                    write_windows(ctx, &entries, &spec, w)
                } else {
                    write_linux(ctx, &entries, &spec, w)
                }
            })?
            .map_err(|e| self.step_err(line, format!("{kw}: {e}")))?;
        self.layers.remember(&key, &layer)?;
        Ok((layer, false))
    }

    /// COPY --from another stage or an image, in either OS direction.
    fn copy_from_stage(
        &self,
        step: &CopyStep<'_>,
        prep: &CopyPrep<'_>,
        source: &Source,
        done: &HashMap<usize, StageResult>,
        events: &mut dyn FnMut(BuildEvent),
    ) -> Result<(LayerRef, bool), BuildError> {
        let (ins, c, line) = (step.ins, step.copy, step.ins.line);
        let from = self.source_result(source, &format!("{} --from", prep.kw), line, done)?;
        let key = instruction_key(
            step.chain,
            &step.stage.platform,
            step.workdir_before,
            ins,
            std::slice::from_ref(&from.chain.0),
        );
        if !self.config.no_cache {
            if let Some(hit) = self.layers.cached(&key) {
                return Ok((hit, true));
            }
        }
        let view = self.stage_view(&from, c.from.as_deref().unwrap_or(""), line)?;
        let from_name = c.from.clone().unwrap_or_default();
        let dest_rel = prep.dest.trim_start_matches('/').to_string();
        let mappings = plan_copy_from(&view.0, &from_name, &c.sources, &dest_rel, prep.dest_is_dir)
            .map_err(|e| self.step_err(line, format!("COPY --from: {e}")))?;
        let owner = FromOwner {
            linux: prep.linux_owner,
            windows_sid: prep.windows_owner.clone(),
        };
        let timestamp = prep.timestamp;
        let fail = |e: String| self.step_err(line, e);
        let mut skipped = Vec::new();
        let layer = self.layers.write_layer(|w| -> Result<_, BuildError> {
            if prep.windows {
                let options = WindowsLayerOptions {
                    timestamp: Timestamp::from_secs(timestamp),
                    base_layer: false,
                };
                let mut lw = WindowsLayerWriter::new(w, &NoBase, options)
                    .map_err(|e| fail(e.to_string()))?;
                skipped = copy_into_windows(&view.0, &mappings, &owner, &mut lw)
                    .map_err(|e| fail(format!("COPY --from: {e}")))?;
                lw.finish().map_err(|e| fail(e.to_string()))
            } else {
                let options = LinuxLayerOptions {
                    source_date_epoch: self.config.source_date_epoch,
                    owner: None,
                    skip_xattrs: false,
                };
                let mut lw = LinuxLayerWriter::new(w, options);
                skipped = copy_into_linux(&view.0, &mappings, &owner, timestamp, &mut lw)
                    .map_err(|e| fail(format!("COPY --from: {e}")))?;
                lw.finish().map_err(|e| fail(e.to_string()))
            }
        })??;
        if !skipped.is_empty() {
            let list: Vec<String> = skipped
                .iter()
                .map(|s| format!("{} ({})", s.path, s.reason))
                .collect();
            events(BuildEvent::warning(format!(
                "{}:{line}: COPY --from={from_name} skipped {} name(s) the destination cannot hold: {}",
                self.file,
                skipped.len(),
                list.join(", ")
            )));
        }
        self.layers.remember(&key, &layer)?;
        Ok((layer, false))
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
        if let Some(base) = &from.base_reference {
            self.resolver
                .fetch_layers(base, &from.layers, store)
                .map_err(|m| {
                    let base = base.familiar();
                    self.step_err(line, format!("COPY --from: the base layers of {base}: {m}"))
                })?;
        }
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
        let format = wharf_layer::archive::detect(&path).ok()??;
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
        base: Option<&Reference>,
        line: usize,
    ) -> Result<(Option<String>, Option<String>), BuildError> {
        let store = self.layers.store();
        if let Some(b) = base {
            self.resolver.fetch_layers(b, layers, store).map_err(|m| {
                let b = b.familiar();
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
}
