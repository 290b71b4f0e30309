//! Writing a built image into the store: the configuration blob, the OCI
//! image manifest (base layers' media types and foreign `urls` kept as
//! they were), and for several platforms (or with attestations) an OCI
//! index whose entries carry each image's platform, `os.version` included.

use crate::annotations::{AnnotationTarget, Annotations};
use wharf_oci::ImageConfig;
use wharf_oci::LayerRef;

use wharf_oci::Platform;
use wharf_oci::{
    Descriptor, ImageIndex, ImageManifest, MEDIA_TYPE_OCI_CONFIG, MEDIA_TYPE_OCI_INDEX,
    MEDIA_TYPE_OCI_MANIFEST,
};
use wharf_store::{Store, StoreError};

/// An image in the store: what an embedding program needs to push,
/// export or inspect it.
#[derive(Debug, Clone)]
pub struct BuiltImage {
    pub platform: Platform,
    /// The image manifest's descriptor (with `platform` set).
    pub manifest: Descriptor,
    pub config_descriptor: Descriptor,
    pub config: ImageConfig,
    /// Every layer, base first. Base layers of images resolved from a
    /// registry may be absent from the store (they were never needed).
    pub layers: Vec<LayerRef>,
    /// The registry image the output stage is ultimately based on: where a
    /// push finds (mounts or copies) base layers the store does not hold.
    pub base_reference: Option<wharf_oci::Reference>,
}

impl BuiltImage {
    /// Whether the store holds every layer blob.
    pub fn layers_present(&self, store: &Store) -> bool {
        self.layers
            .iter()
            .all(|l| store.blob_size(&l.descriptor.digest) == Some(l.descriptor.size))
    }
}

fn json<T: serde::Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).unwrap_or_default()
}

/// Stores config and manifest (with the manifest annotations for
/// `platform`); returns the image.
pub fn emit_image(
    store: &Store,
    platform: &Platform,
    mut config: ImageConfig,
    layers: Vec<LayerRef>,
    annotations: &Annotations,
) -> Result<BuiltImage, StoreError> {
    config.rootfs.kind = "layers".into();
    config.rootfs.diff_ids = layers.iter().map(|l| l.diff_id.clone()).collect();
    let config_bytes = json(&config);
    let committed = store.put_bytes(&config_bytes, None)?;
    let config_descriptor =
        Descriptor::new(MEDIA_TYPE_OCI_CONFIG, committed.digest, committed.size);
    let manifest = ImageManifest {
        schema_version: 2,
        media_type: Some(MEDIA_TYPE_OCI_MANIFEST.to_string()),
        artifact_type: None,
        config: config_descriptor.clone(),
        layers: layers.iter().map(|l| l.descriptor.clone()).collect(),
        subject: None,
        annotations: annotations.for_target(AnnotationTarget::Manifest, Some(platform)),
    };
    let bytes = json(&manifest);
    let m = store.put_bytes(&bytes, None)?;
    let mut descriptor = Descriptor::new(MEDIA_TYPE_OCI_MANIFEST, m.digest, m.size);
    descriptor.platform = Some(platform.clone());
    Ok(BuiltImage {
        platform: platform.clone(),
        manifest: descriptor,
        config_descriptor,
        config,
        layers,
        base_reference: None,
    })
}

/// Stores an index over the images (and after them their attestation
/// manifests), with the index annotations and, on each image manifest's
/// descriptor, the descriptor annotations.
pub fn emit_index(
    store: &Store,
    images: &[BuiltImage],
    attestations: &[Descriptor],
    annotations: &Annotations,
) -> Result<Descriptor, StoreError> {
    let manifests = images
        .iter()
        .map(|i| {
            let mut d = i.manifest.clone();
            d.annotations =
                annotations.for_target(AnnotationTarget::ManifestDescriptor, Some(&i.platform));
            d
        })
        .chain(attestations.iter().cloned())
        .collect();
    let index = ImageIndex {
        schema_version: 2,
        media_type: Some(MEDIA_TYPE_OCI_INDEX.to_string()),
        artifact_type: None,
        manifests,
        subject: None,
        annotations: annotations.for_target(AnnotationTarget::Index, None),
    };
    let bytes = json(&index);
    let c = store.put_bytes(&bytes, None)?;
    Ok(Descriptor::new(MEDIA_TYPE_OCI_INDEX, c.digest, c.size))
}
