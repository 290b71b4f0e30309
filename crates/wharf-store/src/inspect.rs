//! Listing and inspecting stored images (what `wharf images` and
//! `wharf inspect` show).

use crate::{Store, StoreError};
use wharf_oci::Platform;
use wharf_oci::{manifest_kind, Descriptor, ImageIndex, ImageManifest, ManifestKind};
use wharf_oci::{Digest, ImageConfig};

/// One line of `wharf images`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSummary {
    /// The tag (full reference).
    pub name: String,
    /// Digest of the tagged manifest or index.
    pub digest: Digest,
    /// Media type of the tagged manifest or index.
    pub media_type: String,
    /// Platforms of the images present in the store.
    pub platforms: Vec<Platform>,
    /// Bytes of the manifests, configs and layers present in the store.
    pub size: u64,
    /// Bytes of the whole image: every manifest, config and layer, also
    /// the base layers the store only references.
    pub full_size: u64,
}

/// Everything `wharf inspect` shows about a tagged image.
#[derive(Debug, Clone)]
pub struct ImageDetails {
    /// The tag.
    pub name: String,
    /// The tagged descriptor.
    pub descriptor: Descriptor,
    /// The index, when the tag points at one.
    pub index: Option<ImageIndex>,
    /// Each image manifest present in the store (one for a plain manifest).
    pub manifests: Vec<ManifestDetails>,
}

/// One image manifest with its configuration.
#[derive(Debug, Clone)]
pub struct ManifestDetails {
    /// Digest of the manifest.
    pub digest: Digest,
    /// The manifest.
    pub manifest: ImageManifest,
    /// The platform, from the configuration.
    pub platform: Platform,
    /// The parsed configuration.
    pub config: ImageConfig,
    /// Layers, base first.
    pub layers: Vec<LayerInfo>,
}

/// A layer of a stored image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerInfo {
    /// Digest of the (compressed) blob.
    pub digest: Digest,
    /// Media type.
    pub media_type: String,
    /// Size in bytes.
    pub size: u64,
    /// Foreign-layer URLs, if any.
    pub urls: Vec<String>,
    /// Whether the blob is in the store (foreign or Windows base layers of
    /// images resolved without download are not).
    pub present: bool,
}

impl Store {
    /// All tagged images, sorted by name.
    pub fn list_images(&self) -> Result<Vec<ImageSummary>, StoreError> {
        let mut out = Vec::new();
        for desc in self.read_index()?.manifests {
            let Some(name) = desc.ref_name().map(str::to_string) else {
                continue;
            };
            let details = self.details(&name, desc)?;
            let mut size = details.descriptor.size;
            let mut full_size = details.descriptor.size;
            let mut platforms = Vec::new();
            for m in &details.manifests {
                size += m.manifest.config.size;
                full_size += m.manifest.config.size + m.layers.iter().map(|l| l.size).sum::<u64>();
                size += m
                    .layers
                    .iter()
                    .filter(|l| l.present)
                    .map(|l| l.size)
                    .sum::<u64>();
                // Attestation manifests (`unknown/unknown`) are not images.
                if m.platform.os != "unknown" {
                    platforms.push(m.platform.clone());
                }
            }
            if let Some(index) = &details.index {
                full_size += index.manifests.iter().map(|d| d.size).sum::<u64>();
                size += index
                    .manifests
                    .iter()
                    .filter(|d| self.blob_size(&d.digest).is_some())
                    .map(|d| d.size)
                    .sum::<u64>();
            }
            out.push(ImageSummary {
                name,
                digest: details.descriptor.digest,
                media_type: details.descriptor.media_type,
                platforms,
                size,
                full_size,
            });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Manifest(s), configuration(s), platform(s) and layers of a tagged image.
    pub fn inspect(&self, name: &str) -> Result<ImageDetails, StoreError> {
        let desc = self.resolve(name)?;
        self.details(name, desc)
    }

    /// Reads an image manifest and its configuration from the store.
    pub fn manifest_details(&self, digest: &Digest) -> Result<ManifestDetails, StoreError> {
        let manifest: ImageManifest = self.read_json(digest, "image manifest")?;
        let config_bytes = self.read_document(&manifest.config.digest, "image configuration")?;
        let bad = |source| StoreError::BadJson {
            what: "image configuration",
            path: self.blob_path(&manifest.config.digest),
            source,
        };
        let config: ImageConfig = serde_json::from_slice(&config_bytes).map_err(bad)?;
        // The configuration's top-level os/architecture/variant/os.version/
        // os.features have exactly the OCI platform shape.
        let platform: Platform = serde_json::from_slice(&config_bytes).map_err(bad)?;
        let layers = manifest
            .layers
            .iter()
            .map(|l| LayerInfo {
                digest: l.digest.clone(),
                media_type: l.media_type.clone(),
                size: l.size,
                urls: l.urls.clone().unwrap_or_default(),
                present: self.blob_size(&l.digest) == Some(l.size),
            })
            .collect();
        Ok(ManifestDetails {
            digest: digest.clone(),
            manifest,
            platform,
            config,
            layers,
        })
    }

    fn details(&self, name: &str, desc: Descriptor) -> Result<ImageDetails, StoreError> {
        match manifest_kind(&desc.media_type) {
            Some(ManifestKind::Image) => Ok(ImageDetails {
                name: name.to_string(),
                manifests: vec![self.manifest_details(&desc.digest)?],
                descriptor: desc,
                index: None,
            }),
            Some(ManifestKind::Index) => {
                let index: ImageIndex = self.read_json(&desc.digest, "image index")?;
                let mut manifests = Vec::new();
                for child in &index.manifests {
                    if manifest_kind(&child.media_type) == Some(ManifestKind::Image)
                        && self.blob_size(&child.digest).is_some()
                    {
                        manifests.push(self.manifest_details(&child.digest)?);
                    }
                }
                Ok(ImageDetails {
                    name: name.to_string(),
                    descriptor: desc,
                    index: Some(index),
                    manifests,
                })
            }
            None => Err(StoreError::UnsupportedMediaType {
                digest: desc.digest.to_string(),
                media_type: desc.media_type,
            }),
        }
    }
}
