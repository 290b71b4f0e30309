//! Garbage collection: deletes blobs that no tagged image reaches, stale
//! temporary files of interrupted writes, and unpacked layer snapshots
//! (`wharf-snapshots/<diff_id hex>`, which RUN steps use as overlay lower
//! directories) of layers no tagged image contains.

use crate::lock::FileLock;
use crate::oci::{manifest_kind, Descriptor, ImageIndex, ImageManifest, ManifestKind};
use crate::{Store, StoreError};
use std::collections::HashSet;
use std::fs;
use std::time::{Duration, SystemTime};

/// Temporary files older than this belong to writers that died: a live
/// writer holds a lease, which collection waits for, so this only guards
/// writers that skipped taking one.
const STALE_INGEST_AGE: Duration = Duration::from_secs(3600);

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
    /// Snapshots that could not be deleted (e.g. made by a rootless build,
    /// owned by its subordinate ids): one line each.
    pub snapshot_errors: Vec<String>,
}

impl Store {
    /// Deletes every blob that no entry of `index.json` reaches (through
    /// indexes, manifests, configs and layers). Waits for running leases.
    pub fn gc(&self) -> Result<GcReport, StoreError> {
        let _exclusive = FileLock::exclusive(&self.root().join("wharf.lock"))?;
        let _index = FileLock::exclusive(&self.root().join("index.lock"))?;
        let mut live: HashSet<String> = HashSet::new();
        // Layer contents (diff_ids) of the tagged images: their snapshots stay.
        let mut live_diff_ids: HashSet<String> = HashSet::new();
        let mut pending: Vec<Descriptor> = self.read_index()?.manifests;
        while let Some(desc) = pending.pop() {
            if !live.insert(desc.digest.to_string()) {
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
                        self.read_json::<serde_json::Value>(&m.config.digest, "image config")
                    {
                        if let Some(ids) = config["rootfs"]["diff_ids"].as_array() {
                            live_diff_ids.extend(
                                ids.iter()
                                    .filter_map(|d| d.as_str())
                                    .map(|d| d.trim_start_matches("sha256:").to_string()),
                            );
                        }
                    }
                    pending.push(m.config);
                    pending.extend(m.layers);
                    pending.extend(m.subject);
                }
                None => {}
            }
        }
        let mut report = GcReport::default();
        let blobs = self.root().join("blobs");
        let algs = fs::read_dir(&blobs).map_err(|e| StoreError::io("listing", &blobs, e))?;
        for alg in algs.flatten() {
            let alg_name = alg.file_name().to_string_lossy().into_owned();
            let Ok(entries) = fs::read_dir(alg.path()) else {
                continue;
            };
            for entry in entries.flatten() {
                let digest = format!("{alg_name}:{}", entry.file_name().to_string_lossy());
                if live.contains(&digest) {
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
        let ingest = self.root().join("ingest");
        if let Ok(entries) = fs::read_dir(&ingest) {
            let now = SystemTime::now();
            for entry in entries.flatten() {
                let Ok(meta) = entry.metadata() else { continue };
                let age = meta
                    .modified()
                    .ok()
                    .and_then(|m| now.duration_since(m).ok())
                    .unwrap_or_default();
                if age > STALE_INGEST_AGE && fs::remove_file(entry.path()).is_ok() {
                    report.freed_bytes += meta.len();
                }
            }
        }
        self.remove_snapshots(&live_diff_ids, &mut report);
        Ok(report)
    }

    /// Deletes snapshot directories whose layer no tagged image holds, and
    /// half-unpacked ones (no build runs while the exclusive lock is held).
    fn remove_snapshots(&self, live: &HashSet<String>, report: &mut GcReport) {
        let dir = self.root().join("wharf-snapshots");
        let Ok(entries) = fs::read_dir(&dir) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let hex = name.strip_suffix("-user").unwrap_or(&name);
            if live.contains(hex) {
                continue;
            }
            let path = entry.path();
            match fs::remove_dir_all(&path) {
                Ok(()) => report.removed_snapshots += 1,
                Err(e) => report
                    .snapshot_errors
                    .push(format!("{}: {e}", path.display())),
            }
        }
    }
}
