//! docker-archive output (what `docker save` writes and `docker load` and
//! `skopeo copy docker-archive:` read): `manifest.json` listing each
//! image's config, tags and layers. Blobs sit at their OCI layout paths
//! (`blobs/sha256/<hex>`), as Docker 25 and later write them; layers stay
//! compressed, which `docker load` and skopeo decompress themselves.
//!
//! A docker-archive holds one platform per image: for an index, the entry
//! for the requested platform is chosen with `wharf_oci::select`.

use crate::archive::{blob_name, ArchiveWriter};
use crate::collect::Plan;
use crate::oci::write_blobs;
use crate::{ExportError, ExportImage, ExportReport};
use serde::Serialize;
use std::io::Write;
use std::path::Path;
use wharf_oci::Platform;
use wharf_oci::{manifest_kind, Descriptor, ImageIndex, ManifestKind};

use wharf_store::Store;

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ManifestEntry {
    config: String,
    repo_tags: Vec<String>,
    layers: Vec<String>,
}

/// Writes the images as a docker-archive to `out`. `platform` picks the
/// entry of multi-platform images; `label` names the output in errors.
pub fn write_docker_archive<W: Write>(
    store: &Store,
    images: &[ExportImage],
    platform: &Platform,
    out: W,
    label: &Path,
) -> Result<ExportReport, ExportError> {
    if images.is_empty() {
        return Err(ExportError::NoImages);
    }
    let mut plan = Plan::default();
    let mut entries = Vec::new();
    let mut report = ExportReport::default();
    for image in images {
        let desc = single_platform(store, image, platform)?;
        let label = image.label();
        let manifest = plan.add_manifest(store, &label, &desc)?;
        for layer in &manifest.layers {
            if store.blob_size(&layer.digest).is_none() {
                // docker-archive has no place for an absent layer.
                return Err(ExportError::MissingBlob {
                    image: label.clone(),
                    digest: layer.digest.to_string(),
                });
            }
        }
        let repo_tags = image.names();
        report.tags += repo_tags.len();
        entries.push(ManifestEntry {
            config: blob_name(&manifest.config.digest),
            repo_tags,
            layers: manifest
                .layers
                .iter()
                .map(|l| blob_name(&l.digest))
                .collect(),
        });
    }
    let mut tar = ArchiveWriter::new(out, label);
    let bytes = serde_json::to_vec(&entries).map_err(|e| ExportError::Io {
        path: label.to_path_buf(),
        source: std::io::Error::other(e),
    })?;
    tar.file("manifest.json", &bytes)?;
    write_blobs(&mut tar, store, plan.blobs.values(), &mut report)?;
    tar.finish()?;
    Ok(report)
}

/// The image manifest of `image` for `platform`.
fn single_platform(
    store: &Store,
    image: &ExportImage,
    platform: &Platform,
) -> Result<Descriptor, ExportError> {
    let top = image.top(store)?;
    match manifest_kind(&top.media_type) {
        Some(ManifestKind::Image) => Ok(top),
        Some(ManifestKind::Index) => {
            let index: ImageIndex = store.read_json(&top.digest, "image index")?;
            let present: Vec<&Descriptor> = index
                .manifests
                .iter()
                .filter(|d| manifest_kind(&d.media_type) == Some(ManifestKind::Image))
                .filter(|d| store.blob_size(&d.digest).is_some())
                .collect();
            let platforms: Vec<Platform> = present
                .iter()
                .map(|d| {
                    d.platform
                        .clone()
                        .unwrap_or_else(|| Platform::new("unknown", "unknown", None))
                })
                .collect();
            let selection = wharf_oci::select(platform, &platforms).map_err(|source| {
                ExportError::NoMatchingPlatform {
                    image: image.label(),
                    source,
                }
            })?;
            Ok(present[selection.index].clone())
        }
        None => Err(ExportError::UnsupportedMediaType {
            image: image.label(),
            media_type: top.media_type,
        }),
    }
}
