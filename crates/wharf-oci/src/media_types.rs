//! Media types Wharf reads and writes, and how to classify them.

/// OCI image manifest media type.
pub const MEDIA_TYPE_OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index media type.
pub const MEDIA_TYPE_OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Docker image manifest, schema 2.
pub const MEDIA_TYPE_DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker manifest list.
pub const MEDIA_TYPE_DOCKER_MANIFEST_LIST: &str =
    "application/vnd.docker.distribution.manifest.list.v2+json";
/// OCI image configuration.
pub const MEDIA_TYPE_OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// Docker image configuration.
pub const MEDIA_TYPE_DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
/// OCI media type of an uncompressed layer.
pub const MEDIA_TYPE_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
/// OCI media type of a gzip layer.
pub const MEDIA_TYPE_TAR_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// OCI media type of a zstd layer.
pub const MEDIA_TYPE_TAR_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
/// Docker foreign (non-distributable) layer.
pub const MEDIA_TYPE_DOCKER_FOREIGN_LAYER: &str =
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
/// OCI non-distributable layer prefix (`.tar`, `.tar+gzip`, `.tar+zstd`).
pub const MEDIA_TYPE_OCI_NONDISTRIBUTABLE_PREFIX: &str =
    "application/vnd.oci.image.layer.nondistributable.v1.tar";
/// Annotation naming a tagged image in an OCI layout's `index.json`.
pub const ANNOTATION_REF_NAME: &str = "org.opencontainers.image.ref.name";

/// What a manifest media type denotes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManifestKind {
    /// An image manifest (OCI or Docker schema 2).
    Image,
    /// An index / manifest list.
    Index,
}

/// Classifies a manifest media type; `None` for anything Wharf does not read
/// (Docker schema 1, artifacts of unknown kinds...).
pub fn manifest_kind(media_type: &str) -> Option<ManifestKind> {
    match media_type {
        MEDIA_TYPE_OCI_MANIFEST | MEDIA_TYPE_DOCKER_MANIFEST => Some(ManifestKind::Image),
        MEDIA_TYPE_OCI_INDEX | MEDIA_TYPE_DOCKER_MANIFEST_LIST => Some(ManifestKind::Index),
        _ => None,
    }
}

/// `true` for foreign / non-distributable layer media types.
pub fn is_foreign_layer(media_type: &str) -> bool {
    media_type == MEDIA_TYPE_DOCKER_FOREIGN_LAYER
        || media_type.starts_with(MEDIA_TYPE_OCI_NONDISTRIBUTABLE_PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_media_types() {
        assert_eq!(
            manifest_kind(MEDIA_TYPE_DOCKER_MANIFEST),
            Some(ManifestKind::Image)
        );
        assert_eq!(
            manifest_kind(MEDIA_TYPE_OCI_INDEX),
            Some(ManifestKind::Index)
        );
        assert_eq!(
            manifest_kind("application/vnd.docker.distribution.manifest.v1+prettyjws"),
            None
        );
        assert!(is_foreign_layer(MEDIA_TYPE_DOCKER_FOREIGN_LAYER));
        assert!(is_foreign_layer(
            "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
        ));
        assert!(!is_foreign_layer(
            "application/vnd.oci.image.layer.v1.tar+gzip"
        ));
    }
}
