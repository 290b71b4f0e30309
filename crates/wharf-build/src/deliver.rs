//! Where a finished build goes: tags in the store, registries, files.
//! Everything works from the build's own descriptors (an untagged build
//! needs no name in the store), and the base layers a file must hold are
//! fetched through the resolver that found the bases, the one place that
//! fetches them.

use crate::api::{BaseResolver, BuildOutput, ResolveError};
use crate::registry_resolver::RegistryResolver;
use std::collections::BTreeMap;
use wharf_export::{ExportError, ExportImage, ImageSource, Output};
use wharf_oci::{Descriptor, Platform, Reference};
use wharf_registry::{push_image, PushOptions, PushReport, RegistryError, ANNOTATION_SOURCE};
use wharf_store::StoreError;

/// Why a delivery failed; each names the image or file involved.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("the build produced no image")]
    NoImage,
    #[error("cannot tag {reference} in the store at {root}")]
    Tag {
        reference: String,
        root: String,
        #[source]
        source: StoreError,
    },
    #[error("pushing {reference}")]
    Push {
        reference: String,
        #[source]
        source: Box<RegistryError>,
    },
    #[error("fetching the base layers of {base} for the export")]
    Fetch {
        base: String,
        #[source]
        source: ResolveError,
    },
    #[error("fetching the layers the build took from a shared build cache")]
    FetchCached {
        #[source]
        source: ResolveError,
    },
    #[error("a layer of the built image is missing from the store and the image has no base to fetch it from; run the build again")]
    MissingLayer,
    #[error("exporting the image")]
    Export(#[from] ExportError),
}

/// A finished build and the means to send it on.
pub struct Delivery<'a> {
    resolver: &'a RegistryResolver,
    output: &'a BuildOutput,
    /// The index, or the single manifest.
    root: Descriptor,
}

impl<'a> Delivery<'a> {
    /// Delivers `output`, reaching registries through `resolver`'s client.
    pub fn new(
        resolver: &'a RegistryResolver,
        output: &'a BuildOutput,
    ) -> Result<Self, DeliveryError> {
        let root = output.root().cloned().ok_or(DeliveryError::NoImage)?;
        Ok(Delivery {
            resolver,
            output,
            root,
        })
    }

    /// The index, or the single manifest.
    pub fn root(&self) -> &Descriptor {
        &self.root
    }

    /// The image the build's first image is based on.
    fn base(&self) -> Option<&Reference> {
        self.output
            .images
            .first()
            .and_then(|i| i.base_reference.as_ref())
    }

    /// Puts the layers the build took from a shared build cache into the
    /// store (a pushed image mounts them instead; a kept one needs them).
    pub fn fetch_cached_layers(&self) -> Result<(), DeliveryError> {
        self.fetch_cached(true)
    }

    fn fetch_cached(&self, from_registries: bool) -> Result<(), DeliveryError> {
        let Some(imported) = &self.output.imported_cache else {
            return Ok(());
        };
        for image in &self.output.images {
            imported
                .fetch_missing_where(
                    &image.layers,
                    &self.resolver.store,
                    self.resolver,
                    from_registries,
                )
                .map_err(|source| DeliveryError::FetchCached { source })?;
        }
        Ok(())
    }

    /// Tags the result in the store under each of `refs` (remembering the
    /// base it came from, for pushes that mount its layers).
    pub fn tag(&self, refs: &[Reference]) -> Result<(), DeliveryError> {
        for r in refs {
            let mut d = self.root.clone();
            if let Some(b) = self.base() {
                d.annotations
                    .get_or_insert_with(BTreeMap::new)
                    .insert(ANNOTATION_SOURCE.to_string(), b.to_string());
            }
            self.resolver
                .store
                .tag(&r.to_string(), &d)
                .map_err(|source| DeliveryError::Tag {
                    reference: r.to_string(),
                    root: self.resolver.store.root().display().to_string(),
                    source,
                })?;
        }
        Ok(())
    }

    /// Pushes the image tagged `r` to its registry, mounting or copying
    /// base layers from the base's registry.
    pub fn push(&self, r: &Reference) -> Result<PushReport, DeliveryError> {
        let client = &self.resolver.client;
        self.fetch_cached(false)?;
        let options = PushOptions {
            mount_from: self.base().cloned(),
            fetch_missing_with: Some(client.clone()),
            blob_sources: self
                .output
                .imported_cache
                .as_ref()
                .map(|i| i.registry_sources())
                .unwrap_or_default(),
            ..PushOptions::default()
        };
        self.resolver
            .runtime
            .block_on(push_image(
                &client.repository(r),
                r,
                &self.resolver.store,
                &r.to_string(),
                &options,
            ))
            .map_err(|e| DeliveryError::Push {
                reference: r.to_string(),
                source: Box::new(e),
            })
    }

    /// Writes the result to a file or directory, named `refs`.
    pub fn export(
        &self,
        output: &Output,
        refs: &[Reference],
    ) -> Result<wharf_export::ExportReport, DeliveryError> {
        // Files hold every layer: fetch base layers the build only referenced.
        self.fetch_cached(true)?;
        let store = &self.resolver.store;
        for image in &self.output.images {
            match &image.base_reference {
                Some(b) => self
                    .resolver
                    .fetch_layers(b, &image.layers, store)
                    .map_err(|source| DeliveryError::Fetch {
                        base: b.familiar(),
                        source,
                    })?,
                None if !image.layers_present(store) => return Err(DeliveryError::MissingLayer),
                None => {}
            }
        }
        let platform = self
            .output
            .images
            .first()
            .map(|i| i.platform.clone())
            .unwrap_or_else(Platform::host);
        let image = ExportImage {
            source: ImageSource::Built(Box::new(self.root.clone())),
            tags: refs.iter().map(|r| r.to_string()).collect(),
        };
        Ok(wharf_export::export(store, &[image], output, &platform)?)
    }
}
