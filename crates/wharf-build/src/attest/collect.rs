//! Computing a build's statements: each image's files read through the
//! layer engine's stage view (Linux base layers fetched through the
//! resolver; Windows base layers never, by design), the build's facts
//! gathered once, and one attestation manifest stored per image.

use super::options::AttestOptions;
use super::provenance::{slsa_predicate, BuildFacts, SLSA_V1_PREDICATE};
use super::sbom::{
    read_contents, spdx_document, BaseIdentity, Contents, SbomSubject, SPDX_PREDICATE,
};
use super::{context_digest, emit_attestation_manifest, Statement};
use crate::api::{BaseResolver, BuildError, BuildEvent, BuildRequest};
use crate::emit::BuiltImage;
use wharf_layer::view::{LayerOs, StageView, ViewOptions};
use wharf_oci::{Descriptor, Digest, Platform, Reference};
use wharf_store::Store;

/// What the statements of a build are made from.
pub struct AttestInputs<'a> {
    pub options: &'a AttestOptions,
    /// The names the image is tagged with (the statements' subjects).
    pub names: &'a [Reference],
    pub store: &'a Store,
    pub resolver: &'a dyn BaseResolver,
    /// Shared build caches the build took layers from (they may not be in
    /// the store yet).
    pub imported: Option<&'a crate::build_cache::ImportedCache>,
    pub req: &'a BuildRequest,
    /// Every base image the build resolved, with the platform asked.
    pub bases: &'a [(BaseIdentity, Platform)],
    /// RFC 3339 times of the build's start and end.
    pub started: &'a str,
    pub finished: &'a str,
}

impl AttestInputs<'_> {
    fn err(&self, message: String) -> BuildError {
        BuildError::Attest {
            file: self.req.file.path.clone(),
            message,
        }
    }

    /// The base image `image` was built from, with its digest.
    fn base_of(&self, image: &BuiltImage) -> Option<&BaseIdentity> {
        let wanted = image.base_reference.as_ref()?.to_string();
        self.bases
            .iter()
            .find(|(b, p)| {
                b.reference == wanted
                    && p.os == image.platform.os
                    && p.architecture == image.platform.architecture
            })
            .or_else(|| self.bases.iter().find(|(b, _)| b.reference == wanted))
            .map(|(b, _)| b)
    }

    /// Reads `image`'s contents. Windows: only the layers the store holds
    /// (the image's own), and a note naming the base left unread.
    fn contents(&self, image: &BuiltImage) -> Result<(Contents, Option<String>), BuildError> {
        let windows = image.platform.os == "windows";
        let mut note = None;
        if let Some(imported) = self.imported {
            imported
                .fetch_missing(&image.layers, self.store, self.resolver)
                .map_err(|e| {
                    self.err(format!("SBOM: fetching layers from the build cache: {e}"))
                })?;
        }
        if !windows {
            if let Some(b) = &image.base_reference {
                self.resolver
                    .fetch_layers(b, &image.layers, self.store)
                    .map_err(|e| {
                        self.err(format!(
                            "SBOM: fetching the layers of {}: {e}",
                            b.familiar()
                        ))
                    })?;
            }
        }
        let present: Vec<_> = image
            .layers
            .iter()
            .filter(|l| self.store.blob_size(&l.descriptor.digest) == Some(l.descriptor.size))
            .map(|l| self.store.blob_path(&l.descriptor.digest))
            .collect();
        if present.len() < image.layers.len() {
            if !windows {
                return Err(self.err(format!(
                    "SBOM of the {} image: a layer is missing from the store; run the build again",
                    image.platform
                )));
            }
            let base = self
                .base_of(image)
                .map(|b| format!("{}@{}", b.reference, b.digest))
                .unwrap_or_else(|| "the base image".into());
            note = Some(format!(
                "Files of the image's own {} layer(s) only: the {} layer(s) of the Windows base {base} are not downloaded by design and are not listed.",
                present.len(),
                image.layers.len() - present.len()
            ));
        }
        let os = if windows {
            LayerOs::Windows
        } else {
            LayerOs::Linux
        };
        let spool = self.store.temp_dir()?;
        let view = StageView::from_layers(os, &present, spool.path(), &ViewOptions::default())
            .map_err(|e| {
                self.err(format!(
                    "SBOM of the {} image: reading its layers: {e}",
                    image.platform
                ))
            })?;
        let contents = read_contents(&view, windows).map_err(|e| {
            self.err(format!(
                "SBOM of the {} image: reading its files: {e}",
                image.platform
            ))
        })?;
        Ok((contents, note))
    }
}

/// Stores the statements of every image; returns one attestation manifest
/// descriptor per image, in the images' order.
pub fn attest_images(
    inputs: &AttestInputs<'_>,
    images: &[BuiltImage],
    events: &mut dyn FnMut(BuildEvent),
) -> Result<Vec<Descriptor>, BuildError> {
    let provenance = match inputs.options.provenance {
        Some(mode) => {
            let file_digest = Digest::of_bytes(inputs.req.source_text.as_bytes());
            let context = context_digest(&inputs.req.context)
                .map_err(|e| inputs.err(format!("provenance: the context's digest: {e}")))?;
            let opts = &inputs.req.options;
            let facts = BuildFacts {
                file: &inputs.req.file.path,
                file_digest: &file_digest,
                context_digest: &context,
                build_args: &opts.build_args,
                target: opts.target.as_deref(),
                platforms: &opts.platforms,
                bases: inputs.bases,
                started: inputs.started,
                finished: inputs.finished,
            };
            Some(slsa_predicate(&facts, mode))
        }
        None => None,
    };
    let mut out = Vec::new();
    for image in images {
        let mut statements = Vec::new();
        if inputs.options.sbom {
            let (contents, note) = inputs.contents(image)?;
            let name = inputs
                .names
                .first()
                .map(|r| r.to_string())
                .unwrap_or_else(|| image.manifest.digest.to_string());
            let subject = SbomSubject {
                name: &name,
                manifest_digest: &image.manifest.digest,
                platform: &image.platform,
                base: inputs.base_of(image),
                note: note.as_deref(),
                created: inputs.finished,
            };
            events(BuildEvent::note(format!(
                "SBOM of the {} image: {} packages, {} files",
                image.platform.short(),
                contents.packages.len(),
                contents.files.len()
            )));
            statements.push(Statement {
                predicate_type: SPDX_PREDICATE,
                predicate: spdx_document(&subject, &contents),
            });
        }
        if let Some(p) = &provenance {
            statements.push(Statement {
                predicate_type: SLSA_V1_PREDICATE,
                predicate: p.clone(),
            });
        }
        out.push(emit_attestation_manifest(
            inputs.store,
            image,
            inputs.names,
            &statements,
        )?);
    }
    Ok(out)
}
