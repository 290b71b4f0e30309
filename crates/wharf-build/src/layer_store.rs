//! New layers into the store, and the instruction cache that remembers
//! them.
//!
//! A layer is written by the layer engine's [`LayerBlobWriter`] (one pass:
//! tar, compression, diff_id and blob digest) into a file of the store's
//! ingest area, which then enters the store by rename: the data is written
//! and hashed once. The cache maps a cache key to the layer it produced,
//! as one small record per key in the store's cache area, written
//! atomically, so concurrent builds at worst both write the same record.
//!
//! A build may also read records imported from a shared build cache
//! ([`crate::build_cache`]): they are consulted after the store's own, and
//! their layers stay where the cache keeps them until something reads
//! them. Every record a build hits or writes is noted, for exporting the
//! build's cache afterwards.

use crate::build_cache::{CacheEntry, CacheRecord, ImportedCache};
use crate::cache_key::CacheKey;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io;
use std::sync::{Arc, Condvar, Mutex};
use wharf_layer::{Compression, LayerBlobWriter};
use wharf_oci::{Descriptor, Digest, LayerRef};
use wharf_store::{RecordKind, RecordSpace, Store, StoreError};

/// What a RUN produced, as the instruction cache keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRecord {
    /// Its layer; `None` when the command changed nothing.
    pub layer: Option<LayerRef>,
    /// The command actually run, when the executor changed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ran_instead: Option<String>,
    /// What the step warned of when it ran (a hit tells them again).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<crate::api::StepWarning>,
    /// When the step ran (seconds since the epoch): the history time of
    /// its result, also when it is later taken from the cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<u64>,
}

/// A cached layer, and the warnings its step gave when it ran (a hit
/// replays them). Older records hold only the layer's fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerRecord {
    #[serde(flatten)]
    pub layer: LayerRef,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<crate::api::StepWarning>,
    /// When the step ran (seconds since the epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<u64>,
}

/// Storing a layer failed.
#[derive(Debug, thiserror::Error)]
pub enum LayerStoreError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("writing a layer in {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error("layer: {0}")]
    Layer(#[from] wharf_layer::Error),
    #[error("the layer engine produced an invalid digest {0}")]
    BadDigest(String),
}

/// Steps being built right now, by cache key, shared by a build's layer
/// stores: a step whose key another stage is building waits for it and
/// then takes its result from the cache, so equal steps of several
/// targets (one app layer for every Windows version) are built once, as
/// BuildKit merges equal vertices.
#[derive(Debug, Default)]
struct InFlight {
    keys: Mutex<HashSet<Digest>>,
    finished: Condvar,
}

/// A claim on a cache key: held while its step is built, released on drop.
pub struct KeyClaim<'a> {
    in_flight: &'a InFlight,
    key: Digest,
}

impl Drop for KeyClaim<'_> {
    fn drop(&mut self) {
        let mut keys = self
            .in_flight
            .keys
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        keys.remove(&self.key);
        self.in_flight.finished.notify_all();
    }
}

/// Writes layers into `store` and keeps the instruction cache.
#[derive(Debug, Clone)]
pub struct LayerStore {
    store: Store,
    compression: Compression,
    /// Where its cache records go: layers made with another compression
    /// are remembered apart.
    space: RecordSpace,
    in_flight: Arc<InFlight>,
    /// Records of shared build caches (`--cache-from`).
    imported: Option<Arc<ImportedCache>>,
    /// Every record this build hit or wrote, by kind, space and key.
    used: Arc<Mutex<Vec<CacheEntry>>>,
    /// Content digests of the COPY sources this build hashed, by the
    /// step's key prefix: equal steps of other stages (one COPY for several
    /// Windows versions) take them instead of reading the files again.
    contents: Arc<Mutex<HashMap<Digest, Vec<Digest>>>>,
}

fn io_err(path: &std::path::Path) -> impl FnOnce(io::Error) -> LayerStoreError + '_ {
    move |source| LayerStoreError::Io {
        path: path.display().to_string(),
        source,
    }
}

impl LayerStore {
    pub fn new(store: Store, compression: Compression) -> Self {
        LayerStore {
            store,
            compression,
            space: RecordSpace::Exported,
            in_flight: Arc::default(),
            imported: None,
            used: Arc::default(),
            contents: Arc::default(),
        }
    }

    /// Also looks records up in `imported` when the store has none.
    pub fn with_imported(mut self, imported: Arc<ImportedCache>) -> Self {
        self.imported = Some(imported);
        self
    }

    /// The records this build hit or wrote so far (each once).
    pub fn used_records(&self) -> Vec<CacheEntry> {
        let used = self.used.lock().unwrap_or_else(|e| e.into_inner());
        let mut seen = HashSet::new();
        used.iter()
            .filter(|e| seen.insert((e.kind(), e.space, e.key.clone())))
            .cloned()
            .collect()
    }

    fn note(&self, key: &CacheKey, record: CacheRecord) {
        self.used
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(CacheEntry {
                key: key.0.clone(),
                space: self.space,
                record,
            });
    }

    /// An imported record's layer is usable here as it is: a plain tar
    /// is only taken by a store that does not compress (compressing it
    /// would mean downloading it now).
    fn usable_import(&self, layer: &LayerRef) -> bool {
        matches!(self.compression, Compression::None)
            || !layer.descriptor.media_type.ends_with(".tar")
    }

    /// The layer store for stages whose layers no image of the build
    /// contains (build stages only read by `COPY --from`, RUN mounts or
    /// later RUNs): their layers are plain tars, since compressing them
    /// costs time twice (packing, and again unpacking or indexing them)
    /// and saves nothing. They are cached apart from compressed layers,
    /// so a stage that is exported later is packed compressed.
    pub fn for_unexported_stages(&self) -> LayerStore {
        LayerStore {
            store: self.store.clone(),
            compression: Compression::None,
            space: RecordSpace::Plain,
            in_flight: self.in_flight.clone(),
            imported: self.imported.clone(),
            used: self.used.clone(),
            contents: self.contents.clone(),
        }
    }

    /// Claims `key` for the step about to look it up and build it; waits
    /// while another stage of the build holds it (its result is then in
    /// the cache).
    pub fn claim(&self, key: &CacheKey) -> KeyClaim<'_> {
        let in_flight = &*self.in_flight;
        let mut keys = in_flight.keys.lock().unwrap_or_else(|e| e.into_inner());
        while keys.contains(&key.0) {
            keys = in_flight
                .finished
                .wait(keys)
                .unwrap_or_else(|e| e.into_inner());
        }
        keys.insert(key.0.clone());
        KeyClaim {
            in_flight,
            key: key.0.clone(),
        }
    }

    /// Whether a lookup of a key under `prefix` could hit: a record of a
    /// step with this prefix was made in the store, or shared caches are
    /// read (whose records carry no prefixes).
    pub fn may_hold(&self, prefix: &CacheKey) -> bool {
        self.imported.is_some() || self.store.cache_prefix_seen(&prefix.0)
    }

    /// The content digests this build computed for a step with `prefix`.
    pub fn contents_of(&self, prefix: &CacheKey) -> Option<Vec<Digest>> {
        let contents = self.contents.lock().unwrap_or_else(|e| e.into_inner());
        contents.get(&prefix.0).cloned()
    }

    /// Keeps `digests`, computed for a step with `prefix`, for this build.
    pub fn keep_contents(&self, prefix: &CacheKey, digests: &[Digest]) {
        let mut contents = self.contents.lock().unwrap_or_else(|e| e.into_inner());
        contents.insert(prefix.0.clone(), digests.to_vec());
    }

    /// Notes `prefix` before a record under it is remembered.
    pub fn note_prefix(&self, prefix: &CacheKey) -> Result<(), LayerStoreError> {
        Ok(self.store.note_cache_prefix(&prefix.0)?)
    }

    /// The shared build caches this build reads, if any.
    pub fn imported(&self) -> Option<&ImportedCache> {
        self.imported.as_deref()
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// A directory for temporary files of a build (layer spools).
    pub fn temp_dir(&self) -> Result<tempfile::TempDir, LayerStoreError> {
        Ok(self.store.temp_dir()?)
    }

    /// Writes a layer with `fill` (which gets the uncompressed tar sink)
    /// and moves it into the store.
    pub fn write_layer<E>(
        &self,
        fill: impl FnOnce(LayerBlobWriter) -> Result<LayerBlobWriter, E>,
    ) -> Result<Result<LayerRef, E>, LayerStoreError> {
        let file = self.store.ingest_file()?;
        let writer = LayerBlobWriter::create(file.path(), self.compression)?;
        let writer = match fill(writer) {
            Ok(w) => w,
            Err(e) => return Ok(Err(e)),
        };
        let blob = writer.finish()?;
        self.store.commit_hashed(file, &blob.digest, blob.size)?;
        Ok(Ok(LayerRef {
            descriptor: Descriptor::new(blob.media_type, blob.digest, blob.size),
            diff_id: blob.diff_id,
        }))
    }

    /// The namespace of the other kind of stage (exported or not).
    fn other_space(&self) -> RecordSpace {
        match self.space {
            RecordSpace::Exported => RecordSpace::Plain,
            RecordSpace::Plain => RecordSpace::Exported,
        }
    }

    fn present(&self, layer: &LayerRef) -> bool {
        self.store.blob_size(&layer.descriptor.digest) == Some(layer.descriptor.size)
    }

    /// The layer cached for `key`, if its blob is still in the store; a
    /// layer the other namespace (compressed or plain) holds is adopted.
    pub fn cached(&self, key: &CacheKey) -> Option<LayerRecord> {
        let lookup = |space| {
            self.store
                .read_cache_record::<LayerRecord>(RecordKind::Layer, space, &key.0)
                .filter(|r| self.present(&r.layer))
        };
        if let Some(r) = lookup(self.space) {
            self.note(key, CacheRecord::Layer(r.clone()));
            return Some(r);
        }
        if let Some(theirs) = lookup(self.other_space()) {
            let mine = LayerRecord {
                layer: self.adopt(&theirs.layer).ok()?,
                ..theirs
            };
            self.remember(key, &mine).ok()?;
            return Some(mine);
        }
        let imported = self.imported.as_ref()?.layer(&key.0, self.space, |l| {
            self.present(l) || self.usable_import(l)
        })?;
        self.note(key, CacheRecord::Layer(imported.clone()));
        Some(imported)
    }

    /// `layer`, made in the other namespace, as this one wants it: a plain
    /// tar is compressed when this store compresses (the same tar, so the
    /// same diff_id); anything else is used as it is.
    fn adopt(&self, layer: &LayerRef) -> Result<LayerRef, LayerStoreError> {
        let plain = layer.descriptor.media_type.ends_with(".tar");
        if !plain || matches!(self.compression, Compression::None) {
            return Ok(layer.clone());
        }
        let path = self.store.blob_path(&layer.descriptor.digest);
        let adopted = self.write_layer(|mut w| {
            let mut f = File::open(&path).map_err(io_err(&path))?;
            io::copy(&mut f, &mut w).map_err(io_err(&path))?;
            Ok::<_, LayerStoreError>(w)
        })??;
        if adopted.diff_id != layer.diff_id {
            return Err(LayerStoreError::BadDigest(adopted.diff_id.to_string()));
        }
        Ok(adopted)
    }

    /// Remembers that `key` produced `layer`.
    pub fn remember(&self, key: &CacheKey, record: &LayerRecord) -> Result<(), LayerStoreError> {
        self.store
            .write_cache_record(RecordKind::Layer, self.space, &key.0, record)?;
        self.note(key, CacheRecord::Layer(record.clone()));
        Ok(())
    }

    /// What the RUN with `key` produced before, if its layer (when it made
    /// one) is still in the store; a record of the other namespace is
    /// adopted (its layer compressed when needed), so a stage that becomes
    /// exported does not run its commands again.
    pub fn cached_run(&self, key: &CacheKey) -> Option<RunRecord> {
        let lookup = |space| {
            self.store
                .read_cache_record::<RunRecord>(RecordKind::Run, space, &key.0)
                .filter(|r| r.layer.as_ref().is_none_or(|l| self.present(l)))
        };
        if let Some(r) = lookup(self.space) {
            self.note(key, CacheRecord::Run(r.clone()));
            return Some(r);
        }
        if let Some(theirs) = lookup(self.other_space()) {
            let mine = RunRecord {
                layer: match &theirs.layer {
                    Some(l) => Some(self.adopt(l).ok()?),
                    None => None,
                },
                ..theirs
            };
            self.remember_run(key, &mine).ok()?;
            return Some(mine);
        }
        let imported = self.imported.as_ref()?.run(&key.0, self.space, |l| {
            self.present(l) || self.usable_import(l)
        })?;
        self.note(key, CacheRecord::Run(imported.clone()));
        Some(imported)
    }

    /// Remembers what the RUN with `key` produced (also when it changed
    /// nothing, so it is not run again).
    pub fn remember_run(&self, key: &CacheKey, record: &RunRecord) -> Result<(), LayerStoreError> {
        self.store
            .write_cache_record(RecordKind::Run, self.space, &key.0, record)?;
        self.note(key, CacheRecord::Run(record.clone()));
        Ok(())
    }
}
