//! Garbage collection over every area of the store: blobs that no tagged
//! image reaches, instruction cache records whose blobs are gone, stale
//! temporary files and directories of interrupted writes and builds,
//! unpacked layer snapshots and Windows layer folders that no tagged image
//! uses, and (only when asked) RUN cache mounts.

use crate::areas::{
    snapshot_hex, CACHE_RECORDS, INGEST, RUN_CACHES, SNAPSHOTS, TEMP, WINDOWS_LAYERS,
};
use crate::lock::FileLock;
use crate::{Store, StoreError};
use serde::Deserialize;
use std::collections::HashSet;
use std::fs;
use std::path::Path;
use std::time::{Duration, SystemTime};
use wharf_oci::{
    chain_ids, manifest_kind, Descriptor, Digest, DigestAlgorithm, ImageConfig, ImageIndex,
    ImageManifest, LayerRef, ManifestKind,
};

/// Ingest files older than this belong to writers that died: a live writer
/// holds a lease, which collection waits for, so this only guards writers
/// that skipped taking one (a library caller storing a document). The
/// build temporary area (`wharf-tmp`) is only used under a lease and is
/// emptied whole.
const STALE_TEMP_AGE: Duration = Duration::from_secs(3600);

/// What to collect besides what no image needs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GcOptions {
    /// Also empty the RUN cache mounts (`RUN --mount=type=cache`), which
    /// are otherwise kept: they are caches the user asked to keep.
    pub run_caches: bool,
}

/// What a collection removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcReport {
    /// Blobs deleted.
    pub removed_blobs: usize,
    /// Bytes freed (blobs and temporary files).
    pub freed_bytes: u64,
    /// Blobs kept because a tagged image references them.
    pub kept_blobs: usize,
    /// Unpacked layer snapshots deleted.
    pub removed_snapshots: usize,
    /// Windows layer folders deleted.
    pub removed_windows_layers: usize,
    /// Instruction cache records deleted (their layers were gone).
    pub removed_cache_records: usize,
    /// Temporary files and directories of dead writers deleted.
    pub removed_temp: usize,
    /// RUN cache mounts deleted (with [`GcOptions::run_caches`]).
    pub removed_run_caches: usize,
    /// Directories that could not be deleted (e.g. made by a rootless
    /// build, owned by its subordinate ids): one line each.
    pub snapshot_errors: Vec<String>,
}

/// What the tagged images hold, beyond their blobs.
#[derive(Default)]
struct Live {
    blobs: HashSet<Digest>,
    /// Layer contents: their snapshots stay.
    diff_ids: HashSet<String>,
    /// Layer stacks: their Windows layer folders stay.
    chain_ids: HashSet<String>,
}

/// The blobs an instruction cache record points at (a layer record is a
/// [`LayerRef`]; a RUN record has an optional `layer`).
#[derive(Deserialize)]
struct RecordBlobs {
    #[serde(default)]
    descriptor: Option<Descriptor>,
    #[serde(default)]
    layer: Option<LayerRef>,
}

impl Store {
    /// Collects with the default options: see [`Store::gc_with`].
    pub fn gc(&self) -> Result<GcReport, StoreError> {
        self.gc_with(GcOptions::default())
    }

    /// Deletes every blob that no entry of `index.json` reaches (through
    /// indexes, manifests, configs and layers), then tidies the other
    /// areas. Waits for running leases (builds until their output is
    /// delivered, pulls): no build runs during a collection, so nothing a
    /// running build wrote or is about to tag is ever removed.
    pub fn gc_with(&self, options: GcOptions) -> Result<GcReport, StoreError> {
        let exclusive = FileLock::exclusive(&self.root().join("wharf.lock"))?;
        self.collect(options, exclusive)
    }

    /// As [`Store::gc_with`], but `None` at once when a lease is held (a
    /// build or pull is running) instead of waiting for it.
    pub fn try_gc_with(&self, options: GcOptions) -> Result<Option<GcReport>, StoreError> {
        match FileLock::try_exclusive(&self.root().join("wharf.lock"))? {
            Some(exclusive) => self.collect(options, exclusive).map(Some),
            None => Ok(None),
        }
    }

    fn collect(&self, options: GcOptions, _exclusive: FileLock) -> Result<GcReport, StoreError> {
        let _index = FileLock::exclusive(&self.root().join("index.lock"))?;
        let live = self.live()?;
        let mut report = GcReport::default();
        self.remove_blobs(&live, &mut report)?;
        remove_stale(
            &self.root().join(INGEST),
            SystemTime::now(),
            STALE_TEMP_AGE,
            &mut report,
        );
        // Every build holds a lease while it uses this area: what is left
        // belongs to no running build (a killed one).
        remove_stale(
            &self.root().join(TEMP),
            SystemTime::now(),
            Duration::ZERO,
            &mut report,
        );
        self.remove_dead_records(&mut report);
        let snapshots =
            self.remove_unused(SNAPSHOTS, |name| live.diff_ids.contains(snapshot_hex(name)));
        report.removed_snapshots = snapshots.0;
        report.snapshot_errors.extend(snapshots.1);
        // Folders first (counted), then the `<chain id>.imported` and
        // `<chain id>.lock` files beside them, which go with their folder.
        let folders = self.remove_unused(WINDOWS_LAYERS, |name| {
            name.contains('.') || live.chain_ids.contains(name)
        });
        report.removed_windows_layers = folders.0;
        let beside = self.remove_unused(WINDOWS_LAYERS, |name| match name.split_once('.') {
            Some((stem, _)) => live.chain_ids.contains(stem),
            None => true,
        });
        report.snapshot_errors.extend(beside.1);
        report.snapshot_errors.extend(folders.1);
        if options.run_caches {
            let caches = self.remove_unused(RUN_CACHES, |_| false);
            report.removed_run_caches = caches.0;
            report.snapshot_errors.extend(caches.1);
        }
        Ok(report)
    }

    fn live(&self) -> Result<Live, StoreError> {
        let mut live = Live::default();
        let mut pending: Vec<Descriptor> = self.read_index()?.manifests;
        while let Some(desc) = pending.pop() {
            if !live.blobs.insert(desc.digest.clone()) {
                continue;
            }
            if self.blob_size(&desc.digest).is_none() {
                continue; // e.g. platforms of an index that were not pulled
            }
            match manifest_kind(&desc.media_type) {
                Some(ManifestKind::Index) => {
                    let index: ImageIndex = self.read_json(&desc.digest, "image index")?;
                    pending.extend(index.manifests);
                    pending.extend(index.subject);
                }
                Some(ManifestKind::Image) => {
                    let m: ImageManifest = self.read_json(&desc.digest, "image manifest")?;
                    if let Ok(config) =
                        self.read_json::<ImageConfig>(&m.config.digest, "image config")
                    {
                        let ids = &config.rootfs.diff_ids;
                        live.diff_ids
                            .extend(ids.iter().map(|d| d.hex().to_string()));
                        live.chain_ids
                            .extend(chain_ids(ids).iter().map(|d| d.hex().to_string()));
                    }
                    pending.push(m.config);
                    pending.extend(m.layers);
                    pending.extend(m.subject);
                }
                None => {}
            }
        }
        Ok(live)
    }

    fn remove_blobs(&self, live: &Live, report: &mut GcReport) -> Result<(), StoreError> {
        let blobs = self.root().join("blobs");
        let algs = fs::read_dir(&blobs).map_err(|e| StoreError::io("listing", &blobs, e))?;
        for alg in algs.flatten() {
            let alg_name = alg.file_name().to_string_lossy().into_owned();
            let Some(algorithm) = DigestAlgorithm::from_name(&alg_name) else {
                continue; // not a blob directory Wharf writes
            };
            let Ok(entries) = fs::read_dir(alg.path()) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let Ok(digest) = Digest::from_hex(algorithm, &name) else {
                    continue; // a stray file, not a blob
                };
                if live.blobs.contains(&digest) {
                    report.kept_blobs += 1;
                    continue;
                }
                let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
                let path = entry.path();
                fs::remove_file(&path).map_err(|e| StoreError::io("removing blob", &path, e))?;
                report.removed_blobs += 1;
                report.freed_bytes += size;
            }
        }
        Ok(())
    }

    /// Removes cache records whose blobs are no longer in the store (and
    /// records that no longer parse): a hit on them would fail anyway.
    fn remove_dead_records(&self, report: &mut GcReport) {
        let Ok(entries) = fs::read_dir(self.root().join(CACHE_RECORDS)) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_none_or(|e| e != "json") {
                continue; // a record being written
            }
            let record = fs::read(&path)
                .ok()
                .and_then(|b| serde_json::from_slice::<RecordBlobs>(&b).ok());
            let alive = record.is_some_and(|r| {
                let layer = r.layer.map(|l| l.descriptor).or(r.descriptor);
                layer.is_none_or(|d| self.blob_size(&d.digest) == Some(d.size))
            });
            if !alive && fs::remove_file(&path).is_ok() {
                report.removed_cache_records += 1;
            }
        }
    }

    /// Deletes the directories of `area` that `keep` does not keep, and
    /// half-made ones (no build runs while the exclusive lock is held).
    fn remove_unused(&self, area: &str, keep: impl Fn(&str) -> bool) -> (usize, Vec<String>) {
        let mut removed = 0;
        let mut errors = Vec::new();
        let Ok(entries) = fs::read_dir(self.root().join(area)) else {
            return (removed, errors);
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if keep(&name) {
                continue;
            }
            let path = entry.path();
            let result = if path.is_dir() {
                fs::remove_dir_all(&path)
            } else {
                fs::remove_file(&path)
            };
            match result {
                Ok(()) => removed += 1,
                Err(e) => errors.push(format!("{}: {e}", path.display())),
            }
        }
        (removed, errors)
    }
}

/// Removes entries of `dir` older than `max_age` (all with zero), with the
/// bytes of the files inside them.
fn remove_stale(dir: &Path, now: SystemTime, max_age: Duration, report: &mut GcReport) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let Ok(meta) = entry.metadata() else { continue };
        let age = meta
            .modified()
            .ok()
            .and_then(|m| now.duration_since(m).ok())
            .unwrap_or_default();
        if !max_age.is_zero() && age <= max_age {
            continue;
        }
        let (removed, bytes) = if meta.is_dir() {
            let bytes = tree_bytes(&entry.path());
            (fs::remove_dir_all(entry.path()), bytes)
        } else {
            (fs::remove_file(entry.path()), meta.len())
        };
        if removed.is_ok() {
            report.removed_temp += 1;
            report.freed_bytes += bytes;
        }
    }
}

/// Bytes of the regular files below `dir` (symlinks not followed).
fn tree_bytes(dir: &Path) -> u64 {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => tree_bytes(&e.path()),
            Ok(t) if t.is_file() => e.metadata().map_or(0, |m| m.len()),
            _ => 0,
        })
        .sum()
}
