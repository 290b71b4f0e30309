//! `wharf pull`: resolve a reference for a platform, download its layers
//! concurrently into the store, and tag it there under the full reference.

use crate::client::RegistryClient;
use crate::error::RegistryError;
use crate::manifest::ResolvedImage;
use futures_util::{stream, StreamExt, TryStreamExt};
use std::collections::BTreeMap;
use wharf_oci::Platform;
use wharf_oci::Reference;
use wharf_store::Store;

/// Annotation on a store tag recording the reference an image was pulled
/// from; push uses it to mount blobs across repositories of one registry.
pub const ANNOTATION_SOURCE: &str = "io.github.wharf.source";

/// The outcome of a pull.
#[derive(Debug, Clone)]
pub struct PulledImage {
    /// The resolved image (manifest, config, platform, selection note).
    pub image: ResolvedImage,
    /// The name it is tagged with in the store.
    pub tag: String,
    /// Layers downloaded now (the others were already in the store).
    pub layers_downloaded: usize,
    /// Bytes of layers downloaded now.
    pub bytes_downloaded: u64,
}

impl RegistryClient {
    /// Pulls `reference` for `platform` into `store` and tags it there as
    /// `reference.to_string()` (e.g. `docker.io/library/busybox:latest`).
    pub async fn pull(
        &self,
        reference: &Reference,
        platform: &Platform,
        store: &Store,
    ) -> Result<PulledImage, RegistryError> {
        // Keeps garbage collection away until the image is tagged.
        let _lease = store.lease()?;
        let image = self.resolve(reference, platform, store).await?;
        let missing: Vec<_> = image
            .manifest
            .layers
            .iter()
            .filter(|l| store.blob_size(&l.digest) != Some(l.size))
            .cloned()
            .collect();
        let layers_downloaded = missing.len();
        let bytes_downloaded = missing.iter().map(|l| l.size).sum();
        let concurrency = self.options().max_concurrent_downloads.max(1);
        stream::iter(
            missing
                .iter()
                .map(|layer| async move { self.fetch_blob(reference, layer, store).await }),
        )
        .buffer_unordered(concurrency)
        .try_collect::<Vec<_>>()
        .await?;
        let mut descriptor = image.descriptor.clone();
        descriptor
            .annotations
            .get_or_insert_with(BTreeMap::new)
            .insert(ANNOTATION_SOURCE.to_string(), reference.name());
        let tag = reference.to_string();
        store.tag(&tag, &descriptor)?;
        Ok(PulledImage {
            image,
            tag,
            layers_downloaded,
            bytes_downloaded,
        })
    }
}
