//! New layers into the store, and the instruction cache that remembers
//! them.
//!
//! A layer is written by the layer engine's [`LayerBlobWriter`] (one pass:
//! tar, compression, diff_id and blob digest) into a temporary file beside
//! the store, then streamed into the store's verifying blob writer, which
//! checks the digest the layer engine computed. The cache maps a cache key
//! to the layer it produced, as one small JSON file per key under
//! `<store>/wharf-cache/`, written atomically (temp file + rename), so
//! concurrent builds at worst both write the same record.

use crate::cache_key::CacheKey;
use serde::{Deserialize, Serialize};
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use wharf_layer::{Compression, LayerBlob, LayerBlobWriter};
use wharf_store::oci::Descriptor;
use wharf_store::{Digest, Expected, Store, StoreError};

/// A layer of an image being built: its manifest descriptor and diff_id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerRef {
    pub descriptor: Descriptor,
    /// Digest of the uncompressed tar (`rootfs.diff_ids`).
    pub diff_id: String,
}

/// What a RUN produced, as the instruction cache keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRecord {
    /// Its layer; `None` when the command changed nothing.
    pub layer: Option<LayerRef>,
    /// The command actually run, when the executor changed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ran_instead: Option<String>,
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

/// Suffix of cache records of plain-tar layers (stages no image exports).
const PLAIN_SUFFIX: &str = "-tar";

/// Writes layers into `store` and keeps the instruction cache.
#[derive(Debug, Clone)]
pub struct LayerStore {
    store: Store,
    compression: Compression,
    /// Appended to cache record names, so layers made with another
    /// compression are remembered apart.
    cache_suffix: &'static str,
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
            cache_suffix: "",
        }
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
            cache_suffix: PLAIN_SUFFIX,
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    fn scratch_dir(&self) -> Result<PathBuf, LayerStoreError> {
        let dir = self.store.root().join("wharf-tmp");
        fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        Ok(dir)
    }

    /// A directory for temporary files of a build (layer spools).
    pub fn temp_dir(&self) -> Result<tempfile::TempDir, LayerStoreError> {
        let dir = self.scratch_dir()?;
        tempfile::tempdir_in(&dir).map_err(io_err(&dir))
    }

    /// Writes a layer with `fill` (which gets the uncompressed tar sink)
    /// and moves it into the store.
    pub fn write_layer<E>(
        &self,
        fill: impl FnOnce(LayerBlobWriter) -> Result<LayerBlobWriter, E>,
    ) -> Result<Result<LayerRef, E>, LayerStoreError> {
        let tmp = tempfile::NamedTempFile::new_in(self.scratch_dir()?).map_err(|e| {
            LayerStoreError::Io {
                path: "store temporary directory".into(),
                source: e,
            }
        })?;
        let path = tmp.path().to_path_buf();
        let writer = LayerBlobWriter::create(&path, self.compression)?;
        let writer = match fill(writer) {
            Ok(w) => w,
            Err(e) => return Ok(Err(e)),
        };
        let blob = writer.finish()?;
        let r = self.import(&blob)?;
        drop(tmp);
        Ok(Ok(r))
    }

    /// Streams a finished layer blob into the store, verified.
    fn import(&self, blob: &LayerBlob) -> Result<LayerRef, LayerStoreError> {
        let digest = Digest::try_from(blob.digest.as_str().to_string())
            .map_err(|_| LayerStoreError::BadDigest(blob.digest.as_str().to_string()))?;
        if self.store.blob_size(&digest) != Some(blob.size) {
            let mut w = self.store.blob_writer(Some(Expected {
                digest: digest.clone(),
                size: Some(blob.size),
            }))?;
            let mut f = File::open(&blob.path).map_err(io_err(&blob.path))?;
            io::copy(&mut f, &mut w).map_err(io_err(&blob.path))?;
            w.commit()?;
        }
        Ok(LayerRef {
            descriptor: Descriptor::new(blob.media_type.clone(), digest, blob.size),
            diff_id: blob.diff_id.as_str().to_string(),
        })
    }

    /// The file of a cache record: `<prefix><key hex><suffix>.json`, the
    /// prefix naming the kind of record (`run-` for RUN records), the
    /// suffix the namespace (plain-tar layers, or compressed ones).
    fn record_path(&self, prefix: &str, key: &CacheKey, suffix: &str) -> PathBuf {
        let hex = key.0.trim_start_matches("sha256:");
        self.store
            .root()
            .join("wharf-cache")
            .join(format!("{prefix}{hex}{suffix}.json"))
    }

    /// The namespace of the other kind of stage (exported or not).
    fn other_suffix(&self) -> &'static str {
        if self.cache_suffix.is_empty() {
            PLAIN_SUFFIX
        } else {
            ""
        }
    }

    fn read_record<T: serde::de::DeserializeOwned>(&self, path: &Path) -> Option<T> {
        serde_json::from_slice(&fs::read(path).ok()?).ok()
    }

    fn present(&self, layer: &LayerRef) -> bool {
        self.store.blob_size(&layer.descriptor.digest) == Some(layer.descriptor.size)
    }

    /// The layer cached for `key`, if its blob is still in the store; a
    /// layer the other namespace (compressed or plain) holds is adopted.
    pub fn cached(&self, key: &CacheKey) -> Option<LayerRef> {
        let lookup = |suffix| {
            self.read_record::<LayerRef>(&self.record_path("", key, suffix))
                .filter(|l| self.present(l))
        };
        if let Some(r) = lookup(self.cache_suffix) {
            return Some(r);
        }
        let mine = self.adopt(&lookup(self.other_suffix())?).ok()?;
        self.remember(key, &mine).ok()?;
        Some(mine)
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
            return Err(LayerStoreError::BadDigest(adopted.diff_id));
        }
        Ok(adopted)
    }

    /// Remembers that `key` produced `layer`.
    pub fn remember(&self, key: &CacheKey, layer: &LayerRef) -> Result<(), LayerStoreError> {
        self.write_record(&self.record_path("", key, self.cache_suffix), layer)
    }

    /// What the RUN with `key` produced before, if its layer (when it made
    /// one) is still in the store; a record of the other namespace is
    /// adopted (its layer compressed when needed), so a stage that becomes
    /// exported does not run its commands again.
    pub fn cached_run(&self, key: &CacheKey) -> Option<RunRecord> {
        let lookup = |suffix| {
            self.read_record::<RunRecord>(&self.record_path("run-", key, suffix))
                .filter(|r| r.layer.as_ref().is_none_or(|l| self.present(l)))
        };
        if let Some(r) = lookup(self.cache_suffix) {
            return Some(r);
        }
        let theirs = lookup(self.other_suffix())?;
        let mine = RunRecord {
            layer: match &theirs.layer {
                Some(l) => Some(self.adopt(l).ok()?),
                None => None,
            },
            ran_instead: theirs.ran_instead,
        };
        self.remember_run(key, &mine).ok()?;
        Some(mine)
    }

    /// Remembers what the RUN with `key` produced (also when it changed
    /// nothing, so it is not run again).
    pub fn remember_run(&self, key: &CacheKey, record: &RunRecord) -> Result<(), LayerStoreError> {
        self.write_record(&self.record_path("run-", key, self.cache_suffix), record)
    }

    fn write_record(&self, path: &Path, record: &impl Serialize) -> Result<(), LayerStoreError> {
        let dir = path.parent().map(PathBuf::from).unwrap_or_default();
        fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        let mut tmp = tempfile::NamedTempFile::new_in(&dir).map_err(io_err(&dir))?;
        let json = serde_json::to_vec(record).unwrap_or_default();
        tmp.write_all(&json).map_err(io_err(path))?;
        tmp.persist(path).map_err(|e| LayerStoreError::Io {
            path: path.display().to_string(),
            source: e.error,
        })?;
        Ok(())
    }
}
