//! Base images from registries: a [`BaseResolver`] over the registry
//! client. It fetches the manifest (choosing the platform's entry of an
//! index, Windows `os.version` rules included) and the configuration into
//! the store; layers stay in the registry until something needs them.

use crate::api::{BaseResolver, ResolveError, ResolvedBase};
use wharf_oci::LayerRef;
use wharf_oci::{Digest, ImageConfig, Reference};

use wharf_oci::Platform;
use wharf_registry::RegistryClient;
use wharf_store::Store;

/// Resolves bases through `client`, storing what it fetches in `store`.
pub struct RegistryResolver {
    pub(crate) client: RegistryClient,
    pub(crate) store: Store,
    pub(crate) runtime: tokio::runtime::Handle,
}

impl RegistryResolver {
    /// A resolver driving `client` on `runtime`. Use the runtime the
    /// caller uses for the client elsewhere (pushes, downloads): the
    /// client's pooled connections belong to the runtime that opened them,
    /// and a multi-thread runtime keeps them alive between calls.
    pub fn new(client: RegistryClient, store: Store, runtime: tokio::runtime::Handle) -> Self {
        RegistryResolver {
            client,
            store,
            runtime,
        }
    }
}

impl BaseResolver for RegistryResolver {
    fn resolve(
        &self,
        reference: &Reference,
        platform: &Platform,
    ) -> Result<ResolvedBase, ResolveError> {
        let image = self
            .runtime
            .block_on(self.client.resolve(reference, platform, &self.store))?;
        // The full document, Docker's fields (Healthcheck, OnBuild, Shell)
        // included: they carry over to the new image.
        let config: ImageConfig = image.config;
        if config.rootfs.diff_ids.len() != image.manifest.layers.len() {
            return Err(ResolveError::Unavailable(format!(
                "{}: the manifest lists {} layers but the configuration {} diff_ids; the image is damaged",
                reference.familiar(),
                image.manifest.layers.len(),
                config.rootfs.diff_ids.len()
            )));
        }
        let layers = image
            .manifest
            .layers
            .iter()
            .zip(&config.rootfs.diff_ids)
            .map(|(d, diff)| LayerRef {
                descriptor: d.clone(),
                diff_id: diff.clone(),
            })
            .collect();
        Ok(ResolvedBase {
            reference: reference.clone(),
            manifest_digest: image.descriptor.digest.clone(),
            config,
            layers,
            note: image.note,
        })
    }

    fn download(
        &self,
        url: &str,
        checksum: Option<&Digest>,
        store: &Store,
    ) -> Result<Digest, ResolveError> {
        // With a checksum, content already in the store is not fetched again.
        if let Some(d) = checksum {
            if store.blob_size(d).is_some() {
                return Ok(d.clone());
            }
        }
        let committed =
            self.runtime
                .block_on(self.client.fetch_url(url, checksum.cloned(), store))?;
        Ok(committed.digest)
    }

    fn fetch_layers(
        &self,
        reference: &Reference,
        layers: &[LayerRef],
        store: &Store,
    ) -> Result<(), ResolveError> {
        for l in layers {
            let d = &l.descriptor;
            if store.blob_size(&d.digest) == Some(d.size) {
                continue;
            }
            self.runtime
                .block_on(self.client.fetch_blob(reference, d, store))?;
        }
        Ok(())
    }
}
