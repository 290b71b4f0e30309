//! Works out what an export contains: the top-level descriptor of each
//! image (named by its tags) and every blob they reach that is in the store.

use crate::{ExportError, ExportImage};
use std::collections::{BTreeMap, BTreeSet};
use wharf_oci::Digest;
use wharf_oci::{
    is_foreign_layer, manifest_kind, Descriptor, ImageIndex, ImageManifest, ManifestKind,
    ANNOTATION_REF_NAME,
};
use wharf_store::Store;

/// The blobs and index entries of an export.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    /// Entries for the output's `index.json`, one per name (one without
    /// a name for an unnamed image).
    pub entries: Vec<Descriptor>,
    /// Blobs to copy, by digest string, with their digest and size.
    pub blobs: BTreeMap<String, (Digest, u64)>,
}

impl Plan {
    fn add_blob(
        &mut self,
        store: &Store,
        image: &str,
        d: &Descriptor,
    ) -> Result<bool, ExportError> {
        match store.blob_size(&d.digest) {
            Some(size) => {
                self.blobs
                    .insert(d.digest.to_string(), (d.digest.clone(), size));
                Ok(true)
            }
            // Non-distributable layers may be absent from a layout.
            None if is_foreign_layer(&d.media_type) => Ok(false),
            None => Err(ExportError::MissingBlob {
                image: image.to_string(),
                digest: d.digest.to_string(),
            }),
        }
    }

    /// Adds an image manifest with its config and layers.
    pub(crate) fn add_manifest(
        &mut self,
        store: &Store,
        image: &str,
        d: &Descriptor,
    ) -> Result<ImageManifest, ExportError> {
        self.add_blob(store, image, d)?;
        let manifest: ImageManifest = store.read_json(&d.digest, "image manifest")?;
        self.add_blob(store, image, &manifest.config)?;
        for layer in &manifest.layers {
            self.add_blob(store, image, layer)?;
        }
        Ok(manifest)
    }
}

/// Collects everything the images need, for an OCI layout.
pub(crate) fn plan_oci(store: &Store, images: &[ExportImage]) -> Result<Plan, ExportError> {
    if images.is_empty() {
        return Err(ExportError::NoImages);
    }
    let mut plan = Plan::default();
    let mut seen_tags = BTreeSet::new();
    for image in images {
        let top = image.top(store)?;
        let label = image.label();
        match manifest_kind(&top.media_type) {
            Some(ManifestKind::Image) => {
                plan.add_manifest(store, &label, &top)?;
            }
            Some(ManifestKind::Index) => {
                plan.add_blob(store, &label, &top)?;
                let index: ImageIndex = store.read_json(&top.digest, "image index")?;
                for child in &index.manifests {
                    if manifest_kind(&child.media_type) == Some(ManifestKind::Image) {
                        plan.add_manifest(store, &label, child)?;
                    }
                }
            }
            None => {
                return Err(ExportError::UnsupportedMediaType {
                    image: label,
                    media_type: top.media_type,
                })
            }
        }
        let names = image.names();
        if names.is_empty() {
            // An unnamed image: its entry without a ref.name annotation.
            let mut entry = Descriptor::new(top.media_type.clone(), top.digest.clone(), top.size);
            entry.platform = top.platform.clone();
            plan.entries.push(entry);
        }
        for name in &names {
            if !seen_tags.insert(name.to_string()) {
                continue;
            }
            let mut entry = Descriptor::new(top.media_type.clone(), top.digest.clone(), top.size);
            entry.platform = top.platform.clone();
            entry
                .annotations
                .get_or_insert_with(Default::default)
                .insert(ANNOTATION_REF_NAME.to_string(), name.to_string());
            plan.entries.push(entry);
        }
    }
    Ok(plan)
}
