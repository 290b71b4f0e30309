//! Build caches shared between machines (`--cache-to`, `--cache-from`).
//!
//! The instruction cache of a store is local; CI runners start empty. A
//! shared build cache carries the store's cache records to another
//! machine as one OCI artifact: an image manifest whose config is a
//! [`CacheDocument`] (cache key → layer, as the records hold them) and
//! whose layers are every layer those records name, so the registry keeps
//! them and a push can mount them. The format is in `docs/build-cache.md`.
//!
//! Keys are portable by construction ([`crate::cache_key`]): content
//! digests, instruction text, platform and the values steps see; never a
//! path, a time or a store id. Secrets never enter a key or a record.
//!
//! Importing reads only the document: a record's layer is fetched from the
//! cache when something reads it (a later RUN that misses, `COPY --from`,
//! an export), so a layer that only leads to later hits is never
//! downloaded, and a push mounts it from the cache's repository.

mod document;
mod layout;
mod registry;

pub use document::{CacheDocument, CACHE_CONFIG_MEDIA_TYPE, CACHE_FORMAT};
pub use layout::{export_to_layout, import_from_layout};
pub use registry::{export_to_registry, import_from_registry};

use crate::api::{BaseResolver, ResolveError};
use crate::layer_store::{LayerRecord, RunRecord};
use std::collections::HashMap;
use std::path::PathBuf;
use wharf_oci::{Digest, LayerRef, Reference};
use wharf_store::{RecordSpace, Store};

/// One cache record: its key, the namespace it lives in (layers of
/// exported stages or plain tars of the others) and what it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheEntry {
    pub key: Digest,
    pub space: RecordSpace,
    pub record: CacheRecord,
}

/// What a cache record holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheRecord {
    /// The layer a COPY or ADD made.
    Layer(LayerRecord),
    /// What a RUN produced.
    Run(RunRecord),
}

/// The two kinds of record, for lookups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordKindKey {
    Layer,
    Run,
}

impl CacheEntry {
    pub fn kind(&self) -> RecordKindKey {
        match self.record {
            CacheRecord::Layer(_) => RecordKindKey::Layer,
            CacheRecord::Run(_) => RecordKindKey::Run,
        }
    }

    /// The layer the record names, if any.
    pub fn layer(&self) -> Option<&LayerRef> {
        match &self.record {
            CacheRecord::Layer(r) => Some(&r.layer),
            CacheRecord::Run(r) => r.layer.as_ref(),
        }
    }
}

/// Which records `--cache-to` exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CacheMode {
    /// The steps of the stages whose layers the images contain.
    #[default]
    Min,
    /// Every step of the build.
    Max,
}

/// Where a shared build cache lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheLocation {
    /// A tag in a registry.
    Registry(Reference),
    /// An OCI image layout directory.
    Layout(PathBuf),
}

impl std::fmt::Display for CacheLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CacheLocation::Registry(r) => write!(f, "type=registry,ref={r}"),
            CacheLocation::Layout(p) => write!(f, "type=local,{}", p.display()),
        }
    }
}

/// Where the layer blobs of imported records can be had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobSource {
    Registry(Reference),
    Layout(PathBuf),
}

/// The records of the caches a build reads (`--cache-from`, in order:
/// the first cache that has a key wins).
#[derive(Debug, Default)]
pub struct ImportedCache {
    entries: HashMap<(RecordKindKey, Digest), Vec<CacheEntry>>,
    sources: HashMap<Digest, BlobSource>,
    /// How many records were read, for the build's notes.
    pub records: usize,
}

impl ImportedCache {
    /// Adds the records of `document`, whose layers `source` holds. Only
    /// records whose layers the cache artifact lists are kept (`listed`):
    /// a record naming a blob the cache does not hold would fail later.
    pub fn add(
        &mut self,
        document: CacheDocument,
        source: BlobSource,
        listed: &std::collections::HashSet<Digest>,
    ) {
        for entry in document.into_entries() {
            if let Some(l) = entry.layer() {
                if !listed.contains(&l.descriptor.digest) {
                    continue;
                }
                self.sources
                    .entry(l.descriptor.digest.clone())
                    .or_insert_with(|| source.clone());
            }
            self.records += 1;
            self.entries
                .entry((entry.kind(), entry.key.clone()))
                .or_default()
                .push(entry);
        }
    }

    /// Whether nothing was imported.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Where the blob `digest` can be had, if an imported record names it.
    pub fn source(&self, digest: &Digest) -> Option<&BlobSource> {
        self.sources.get(digest)
    }

    /// Registry sources of blobs, for pushes that mount them.
    pub fn registry_sources(&self) -> HashMap<Digest, Reference> {
        self.sources
            .iter()
            .filter_map(|(d, s)| match s {
                BlobSource::Registry(r) => Some((d.clone(), r.clone())),
                BlobSource::Layout(_) => None,
            })
            .collect()
    }

    fn candidates(
        &self,
        kind: RecordKindKey,
        key: &Digest,
        space: RecordSpace,
    ) -> Vec<&CacheEntry> {
        let Some(all) = self.entries.get(&(kind, key.clone())) else {
            return Vec::new();
        };
        // The record of the asking namespace first, then the other.
        let mut v: Vec<&CacheEntry> = all.iter().filter(|e| e.space == space).collect();
        v.extend(all.iter().filter(|e| e.space != space));
        v
    }

    /// The imported COPY/ADD record for `key` whose layer `usable` takes.
    pub fn layer(
        &self,
        key: &Digest,
        space: RecordSpace,
        usable: impl Fn(&LayerRef) -> bool,
    ) -> Option<LayerRecord> {
        self.candidates(RecordKindKey::Layer, key, space)
            .into_iter()
            .find_map(|e| match &e.record {
                CacheRecord::Layer(r) if usable(&r.layer) => Some(r.clone()),
                _ => None,
            })
    }

    /// The imported RUN record for `key` whose layer (if any) `usable`
    /// takes.
    pub fn run(
        &self,
        key: &Digest,
        space: RecordSpace,
        usable: impl Fn(&LayerRef) -> bool,
    ) -> Option<RunRecord> {
        self.candidates(RecordKindKey::Run, key, space)
            .into_iter()
            .find_map(|e| match &e.record {
                CacheRecord::Run(r) if r.layer.as_ref().is_none_or(&usable) => Some(r.clone()),
                _ => None,
            })
    }

    /// Puts the `layers` the store lacks and an imported record names into
    /// the store, from the cache that holds them (registry blobs through
    /// `resolver`). Layers no imported record names are left alone.
    pub fn fetch_missing(
        &self,
        layers: &[LayerRef],
        store: &Store,
        resolver: &dyn BaseResolver,
    ) -> Result<(), ResolveError> {
        self.fetch_missing_where(layers, store, resolver, true)
    }

    /// [`Self::fetch_missing`], leaving registry blobs where they are when
    /// `from_registries` is false (a push mounts or copies them itself).
    pub fn fetch_missing_where(
        &self,
        layers: &[LayerRef],
        store: &Store,
        resolver: &dyn BaseResolver,
        from_registries: bool,
    ) -> Result<(), ResolveError> {
        for l in layers {
            if store.blob_size(&l.descriptor.digest) == Some(l.descriptor.size) {
                continue;
            }
            match self.sources.get(&l.descriptor.digest) {
                Some(BlobSource::Registry(_)) if !from_registries => {}
                Some(BlobSource::Registry(r)) => {
                    resolver.fetch_layers(r, std::slice::from_ref(l), store)?
                }
                Some(BlobSource::Layout(dir)) => {
                    crate::layout_images::copy_layout_blob(dir, &l.descriptor, store)?
                }
                None => {}
            }
        }
        Ok(())
    }
}

/// Reads the caches at `locations` (registry tags through `resolver`,
/// layouts from disk). A cache that cannot be read is a warning and the
/// build goes on without it.
pub fn import(
    resolver: &crate::RegistryResolver,
    locations: &[CacheLocation],
    events: &mut dyn FnMut(crate::BuildEvent),
) -> ImportedCache {
    let mut imported = ImportedCache::default();
    for location in locations {
        let (found, source) = match location {
            CacheLocation::Registry(r) => (
                import_from_registry(resolver, r),
                BlobSource::Registry(r.clone()),
            ),
            CacheLocation::Layout(dir) => {
                (import_from_layout(dir), BlobSource::Layout(dir.clone()))
            }
        };
        match found {
            Ok((document, listed)) => {
                let before = imported.records;
                imported.add(document, source, &listed);
                events(crate::BuildEvent::note(format!(
                    "--cache-from {location}: {} cache records",
                    imported.records - before
                )));
            }
            Err(why) => events(crate::BuildEvent::warning(format!(
                "--cache-from {location}: not used: {why}; building without it"
            ))),
        }
    }
    imported
}

/// Exports the records of `output` that `mode` selects to `location`.
pub fn export(
    resolver: &crate::RegistryResolver,
    output: &crate::BuildOutput,
    location: &CacheLocation,
    mode: CacheMode,
) -> Result<CacheExportReport, CacheError> {
    let entries = records_for(mode, &output.cache_records);
    let imported = output.imported_cache.as_deref();
    match location {
        CacheLocation::Registry(r) => {
            if let Some(i) = imported {
                // Blobs of layout caches are copied; registry ones mounted.
                let layers: Vec<LayerRef> =
                    entries.iter().filter_map(|e| e.layer().cloned()).collect();
                i.fetch_missing_where(&layers, &resolver.store, resolver, false)
                    .map_err(|source| CacheError::Fetch {
                        location: location.to_string(),
                        source,
                    })?;
            }
            let sources = imported.map(|i| i.registry_sources()).unwrap_or_default();
            export_to_registry(resolver, &entries, sources, r)
        }
        CacheLocation::Layout(dir) => {
            export_to_layout(dir, &entries, &resolver.store, imported, resolver)
        }
    }
}

/// The records a build exports with `mode`.
pub fn records_for(mode: CacheMode, used: &[CacheEntry]) -> Vec<CacheEntry> {
    used.iter()
        .filter(|e| mode == CacheMode::Max || e.space == RecordSpace::Exported)
        .cloned()
        .collect()
}

/// What exporting a cache did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CacheExportReport {
    /// Records written.
    pub records: usize,
    /// Layers the cache names.
    pub layers: usize,
    /// Digest of the cache's manifest.
    pub manifest: Option<Digest>,
}

/// Why a cache could not be exported (imports never fail: they warn).
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("exporting the build cache to {location}")]
    Registry {
        location: String,
        #[source]
        source: Box<wharf_registry::RegistryError>,
    },
    #[error("exporting the build cache to {location}: {message}")]
    Layout { location: String, message: String },
    #[error("exporting the build cache to {location}: a layer could not be had")]
    Fetch {
        location: String,
        #[source]
        source: ResolveError,
    },
    #[error(transparent)]
    Store(#[from] wharf_store::StoreError),
}
