//! Build caches in an OCI image layout directory (`type=local`): blobs
//! under `blobs/<algorithm>/<hex>`, the cache manifest in `index.json`
//! under the name `latest`. The index is replaced by rename, so a reader
//! or a second writer sees one whole cache or the other.

use super::document::{CacheDocument, CACHE_CONFIG_MEDIA_TYPE};
use super::{CacheEntry, CacheError, CacheExportReport, ImportedCache};
use crate::api::BaseResolver;
use crate::layout_images::layout_blob_path as blob_path;
use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::io::Write;
use std::path::Path;
use wharf_oci::{Descriptor, Digest, ImageIndex, ImageManifest, ANNOTATION_REF_NAME};
use wharf_store::Store;

const REF_NAME: &str = "latest";

/// Reads a small verified blob of the layout.
fn read_blob(dir: &Path, d: &Descriptor, limit: u64) -> Result<Vec<u8>, String> {
    if d.size > limit {
        return Err(format!(
            "{} is {} bytes, more than expected",
            d.digest, d.size
        ));
    }
    let path = blob_path(dir, &d.digest);
    let bytes = fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut h = wharf_oci::Hasher::for_digest(&d.digest);
    h.update(&bytes);
    if h.finish() != d.digest || bytes.len() as u64 != d.size {
        return Err(format!("{} does not match its digest", path.display()));
    }
    Ok(bytes)
}

/// Reads the cache of the layout `dir`: its document and the layers the
/// manifest lists. Any failure is a reason to build without it.
pub fn import_from_layout(dir: &Path) -> Result<(CacheDocument, HashSet<Digest>), String> {
    let index_path = dir.join("index.json");
    let text = fs::read(&index_path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => "there is no cache there yet".to_string(),
        _ => format!("{}: {e}", index_path.display()),
    })?;
    let index: ImageIndex =
        serde_json::from_slice(&text).map_err(|e| format!("{}: {e}", index_path.display()))?;
    let named = |d: &&Descriptor| {
        d.annotations
            .as_ref()
            .and_then(|a| a.get(ANNOTATION_REF_NAME))
            .is_some_and(|n| n == REF_NAME)
    };
    let top = index
        .manifests
        .iter()
        .find(named)
        .or(index.manifests.first())
        .ok_or_else(|| format!("{} lists no manifest", index_path.display()))?;
    let manifest: ImageManifest =
        serde_json::from_slice(&read_blob(dir, top, 4 << 20)?).map_err(|e| e.to_string())?;
    if manifest.config.media_type != CACHE_CONFIG_MEDIA_TYPE {
        return Err(format!(
            "it is not a wharf build cache (its config is {})",
            manifest.config.media_type
        ));
    }
    let bytes = read_blob(
        dir,
        &manifest.config,
        super::document::MAX_DOCUMENT_SIZE as u64,
    )?;
    let document = CacheDocument::parse(&bytes).map_err(|e| e.to_string())?;
    let listed = manifest.layers.iter().map(|l| l.digest.clone()).collect();
    Ok((document, listed))
}

/// Writes `entries` as the cache of the layout `dir` (created when
/// missing; blobs it already holds are kept). Layers the store lacks are
/// fetched first from where `imported` says they are.
pub fn export_to_layout(
    dir: &Path,
    entries: &[CacheEntry],
    store: &Store,
    imported: Option<&ImportedCache>,
    resolver: &dyn BaseResolver,
) -> Result<CacheExportReport, CacheError> {
    let location = dir.display().to_string();
    let fail = |message: String| CacheError::Layout {
        location: location.clone(),
        message,
    };
    let _lease = store.lease()?;
    let document = CacheDocument::new(entries);
    let bytes = document.to_bytes();
    let config = Descriptor::new(
        CACHE_CONFIG_MEDIA_TYPE,
        Digest::of_bytes(&bytes),
        bytes.len() as u64,
    );
    let manifest = document.manifest(config.clone());
    let manifest_bytes = serde_json::to_vec(&manifest).unwrap_or_default();
    let top = Descriptor::new(
        wharf_oci::MEDIA_TYPE_OCI_MANIFEST,
        Digest::of_bytes(&manifest_bytes),
        manifest_bytes.len() as u64,
    );
    fs::create_dir_all(dir.join("blobs").join("sha256"))
        .map_err(|e| fail(format!("creating it: {e}")))?;
    fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#)
        .map_err(|e| fail(format!("writing oci-layout: {e}")))?;
    let layers: Vec<wharf_oci::LayerRef> = document
        .records
        .iter()
        .filter_map(|r| r.layer.clone())
        .collect();
    if let Some(imported) = imported {
        imported
            .fetch_missing(&layers, store, resolver)
            .map_err(|source| CacheError::Fetch {
                location: location.clone(),
                source,
            })?;
    }
    for l in &manifest.layers {
        let to = blob_path(dir, &l.digest);
        if fs::metadata(&to).is_ok_and(|m| m.len() == l.size) {
            continue;
        }
        if store.blob_size(&l.digest) != Some(l.size) {
            return Err(fail(format!(
                "the layer {} is not in the store; build again without --cache-from, or with the cache it came from",
                l.digest
            )));
        }
        copy_atomically(&store.blob_path(&l.digest), &to).map_err(&fail)?;
    }
    write_atomically(&blob_path(dir, &config.digest), &bytes).map_err(&fail)?;
    write_atomically(&blob_path(dir, &top.digest), &manifest_bytes).map_err(&fail)?;
    let mut named = top.clone();
    named.annotations = Some(BTreeMap::from([(
        ANNOTATION_REF_NAME.to_string(),
        REF_NAME.to_string(),
    )]));
    let index = ImageIndex {
        schema_version: 2,
        media_type: Some(wharf_oci::MEDIA_TYPE_OCI_INDEX.into()),
        artifact_type: None,
        manifests: vec![named],
        subject: None,
        annotations: None,
    };
    let index_bytes = serde_json::to_vec_pretty(&index).unwrap_or_default();
    write_atomically(&dir.join("index.json"), &index_bytes).map_err(&fail)?;
    Ok(CacheExportReport {
        records: document.records.len(),
        layers: manifest.layers.len(),
        manifest: Some(top.digest),
    })
}

fn write_atomically(to: &Path, bytes: &[u8]) -> Result<(), String> {
    let dir = to.parent().unwrap_or(Path::new("."));
    let mut tmp =
        tempfile::NamedTempFile::new_in(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    tmp.write_all(bytes)
        .map_err(|e| format!("{}: {e}", to.display()))?;
    tmp.persist(to)
        .map_err(|e| format!("{}: {e}", to.display()))?;
    Ok(())
}

fn copy_atomically(from: &Path, to: &Path) -> Result<(), String> {
    let dir = to.parent().unwrap_or(Path::new("."));
    let mut tmp =
        tempfile::NamedTempFile::new_in(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut src = fs::File::open(from).map_err(|e| format!("{}: {e}", from.display()))?;
    std::io::copy(&mut src, &mut tmp).map_err(|e| format!("{}: {e}", to.display()))?;
    tmp.persist(to)
        .map_err(|e| format!("{}: {e}", to.display()))?;
    Ok(())
}
