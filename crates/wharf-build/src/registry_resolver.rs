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
        ResolvedBase::from_parts(
            reference.clone(),
            image.descriptor.digest.clone(),
            &image.manifest.layers,
            config,
            image.note,
            &reference.familiar(),
        )
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
