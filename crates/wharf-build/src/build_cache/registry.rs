//! Build caches in a registry: the artifact under a tag.
//!
//! Pushing the cache puts every layer blob first (HEAD, then a mount from
//! the repository it came from, then an upload) and the manifest last, in
//! one PUT: two builds pushing the same tag at once leave one of the two
//! caches, whole.

use super::document::{CacheDocument, CACHE_CONFIG_MEDIA_TYPE};
use super::{CacheEntry, CacheError, CacheExportReport};
use crate::registry_resolver::RegistryResolver;
use std::collections::{HashMap, HashSet};
use wharf_oci::{manifest_kind, Descriptor, Digest, ImageManifest, ManifestKind, Reference};
use wharf_registry::{push_manifest, PushOptions, RegistryError};

/// Reads the cache `reference` names: its document and the layer digests
/// the artifact lists. Any failure is a reason to build without it (the
/// caller warns), never an error of the build.
pub fn import_from_registry(
    resolver: &RegistryResolver,
    reference: &Reference,
) -> Result<(CacheDocument, HashSet<Digest>), String> {
    let fetched = resolver
        .runtime
        .block_on(resolver.client.fetch_manifest(reference))
        .map_err(|e| match &e {
            RegistryError::NotFound { .. } => "there is no cache there yet".to_string(),
            _ => error_chain(&e),
        })?;
    if manifest_kind(&fetched.media_type) != Some(ManifestKind::Image) {
        return Err(format!(
            "it is not a wharf build cache (a {} document)",
            fetched.media_type
        ));
    }
    let manifest: ImageManifest = serde_json::from_slice(&fetched.bytes)
        .map_err(|e| format!("its manifest is damaged: {e}"))?;
    if manifest.config.media_type != CACHE_CONFIG_MEDIA_TYPE {
        return Err(format!(
            "it is not a wharf build cache (its config is {})",
            manifest.config.media_type
        ));
    }
    if manifest.config.size > super::document::MAX_DOCUMENT_SIZE as u64 {
        return Err(format!(
            "its records are {} bytes, more than a cache may have",
            manifest.config.size
        ));
    }
    resolver
        .runtime
        .block_on(
            resolver
                .client
                .fetch_blob(reference, &manifest.config, &resolver.store),
        )
        .map_err(|e| error_chain(&e))?;
    let bytes = resolver
        .store
        .read_document(&manifest.config.digest, "build cache records")
        .map_err(|e| e.to_string())?;
    let document = CacheDocument::parse(&bytes).map_err(|e| e.to_string())?;
    let listed = manifest.layers.iter().map(|l| l.digest.clone()).collect();
    Ok((document, listed))
}

/// Pushes `entries` as the cache `reference`. Blobs the store lacks are
/// mounted or copied from `sources` (where an imported cache holds them).
pub fn export_to_registry(
    resolver: &RegistryResolver,
    entries: &[CacheEntry],
    sources: HashMap<Digest, Reference>,
    reference: &Reference,
) -> Result<CacheExportReport, CacheError> {
    let store = &resolver.store;
    let _lease = store.lease()?;
    let document = CacheDocument::new(entries);
    let bytes = document.to_bytes();
    let config = store.put_bytes(&bytes, None)?;
    let manifest = document.manifest(Descriptor::new(
        CACHE_CONFIG_MEDIA_TYPE,
        config.digest,
        config.size,
    ));
    let layers = manifest.layers.len();
    let manifest_bytes = serde_json::to_vec(&manifest).unwrap_or_default();
    let stored = store.put_bytes(&manifest_bytes, None)?;
    let top = Descriptor::new(
        wharf_oci::MEDIA_TYPE_OCI_MANIFEST,
        stored.digest.clone(),
        stored.size,
    );
    let options = PushOptions {
        fetch_missing_with: Some(resolver.client.clone()),
        blob_sources: sources,
        ..PushOptions::default()
    };
    let target = resolver.client.repository(reference);
    resolver
        .runtime
        .block_on(push_manifest(&target, reference, store, &top, &options))
        .map_err(|e| CacheError::Registry {
            location: reference.to_string(),
            source: Box::new(e),
        })?;
    Ok(CacheExportReport {
        records: document.records.len(),
        layers,
        manifest: Some(stored.digest),
    })
}

/// An error and its causes on one line, for a warning.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut next = e.source();
    while let Some(c) = next {
        s.push_str(": ");
        s.push_str(&c.to_string());
        next = c.source();
    }
    s
}
