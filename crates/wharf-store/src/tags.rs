//! Tagged images: the entries of the layout's `index.json`, each named by an
//! `org.opencontainers.image.ref.name` annotation holding the full image
//! reference (e.g. `docker.io/library/busybox:latest`), which is what
//! `skopeo ... oci:<store>:<name>` looks up.

use crate::lock::FileLock;
use crate::{write_atomic, Store, StoreError};
use std::collections::BTreeMap;
use wharf_oci::media_types::ANNOTATION_REF_NAME;
use wharf_oci::{Descriptor, ImageIndex};

impl Store {
    /// Reads `index.json`.
    pub fn read_index(&self) -> Result<ImageIndex, StoreError> {
        let path = self.root().join("index.json");
        let bytes = std::fs::read(&path).map_err(|e| StoreError::io("reading", &path, e))?;
        serde_json::from_slice(&bytes).map_err(|source| StoreError::BadJson {
            what: "OCI layout index",
            path,
            source,
        })
    }

    pub(crate) fn write_index(&self, index: &ImageIndex) -> Result<(), StoreError> {
        let path = self.root().join("index.json");
        let bytes = serde_json::to_vec_pretty(index).map_err(|source| StoreError::BadJson {
            what: "OCI layout index",
            path: path.clone(),
            source,
        })?;
        write_atomic(self.root(), &path, &bytes)
    }

    /// Names `descriptor` (a manifest or index already in the store) `name`,
    /// replacing what the name pointed at before.
    pub fn tag(&self, name: &str, descriptor: &Descriptor) -> Result<(), StoreError> {
        if self.blob_size(&descriptor.digest).is_none() {
            return Err(StoreError::BlobNotFound {
                digest: descriptor.digest.to_string(),
                root: self.root().to_path_buf(),
            });
        }
        let _guard = FileLock::exclusive(&self.root().join("index.lock"))?;
        let mut index = self.read_index()?;
        index.manifests.retain(|d| d.ref_name() != Some(name));
        let mut entry = descriptor.clone();
        entry
            .annotations
            .get_or_insert_with(BTreeMap::new)
            .insert(ANNOTATION_REF_NAME.to_string(), name.to_string());
        index.manifests.push(entry);
        self.write_index(&index)
    }

    /// Removes a name; `true` if it existed. Its blobs stay until
    /// [`gc`](Store::gc).
    pub fn untag(&self, name: &str) -> Result<bool, StoreError> {
        let _guard = FileLock::exclusive(&self.root().join("index.lock"))?;
        let mut index = self.read_index()?;
        let before = index.manifests.len();
        index.manifests.retain(|d| d.ref_name() != Some(name));
        let removed = index.manifests.len() != before;
        if removed {
            self.write_index(&index)?;
        }
        Ok(removed)
    }

    /// The descriptor a name points at.
    pub fn resolve(&self, name: &str) -> Result<Descriptor, StoreError> {
        self.read_index()?
            .manifests
            .into_iter()
            .find(|d| d.ref_name() == Some(name))
            .ok_or_else(|| StoreError::ImageNotFound {
                name: name.to_string(),
                root: self.root().to_path_buf(),
            })
    }
}
