//! Build attestations, stored as BuildKit stores them
//! (docs/attestations.md): for each image, one attestation manifest in the
//! image index, with `platform` `unknown/unknown` and the annotations
//! `vnd.docker.reference.type: attestation-manifest` and
//! `vnd.docker.reference.digest: <the image manifest>`; each of its
//! layers is one in-toto statement (`application/vnd.in-toto+json`,
//! annotated with `in-toto.io/predicate-type`) whose subject is the image
//! manifest. The statements are an SPDX SBOM (`sbom`) and SLSA v1
//! provenance (`provenance`).

mod collect;
mod context_digest;
pub mod options;
pub mod packages;
pub mod provenance;
pub mod rpmdb;
pub mod sbom;

pub use collect::{attest_images, AttestInputs};
pub use context_digest::context_digest;
pub use options::{AttestOptionError, AttestOptions, ProvenanceMode};

use crate::emit::BuiltImage;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use wharf_oci::{
    Descriptor, ImageManifest, Platform, Reference, MEDIA_TYPE_OCI_CONFIG, MEDIA_TYPE_OCI_MANIFEST,
};
use wharf_store::{Store, StoreError};

/// The media type of an in-toto statement layer.
pub const MEDIA_TYPE_IN_TOTO: &str = "application/vnd.in-toto+json";
/// The layer annotation naming the statement's predicate type.
pub const ANNOTATION_PREDICATE_TYPE: &str = "in-toto.io/predicate-type";
/// The index annotation marking an attestation manifest.
pub const ANNOTATION_REFERENCE_TYPE: &str = "vnd.docker.reference.type";
/// The index annotation naming the image manifest attested.
pub const ANNOTATION_REFERENCE_DIGEST: &str = "vnd.docker.reference.digest";
/// The in-toto statement type BuildKit writes.
pub const IN_TOTO_STATEMENT: &str = "https://in-toto.io/Statement/v0.1";

/// One statement: its predicate type and predicate.
pub struct Statement {
    pub predicate_type: &'static str,
    pub predicate: Value,
}

/// The statement's subjects: one per name the image is tagged with
/// (`pkg:docker/NAME@TAG?platform=...`, BuildKit's form), or `_` when it
/// is untagged; each with the image manifest's digest.
fn subjects(image: &BuiltImage, names: &[Reference]) -> Value {
    let digest = json!({ "sha256": image.manifest.digest.hex() });
    let platform = packages::purl_escape(&image.platform.short());
    let mut out: Vec<Value> = names
        .iter()
        .map(|r| {
            let tag = r.tag().unwrap_or("latest");
            json!({
                "name": format!("pkg:docker/{}@{tag}?platform={platform}", r.name()),
                "digest": digest,
            })
        })
        .collect();
    if out.is_empty() {
        out.push(json!({ "name": "_", "digest": digest }));
    }
    out.into()
}

fn store_json(store: &Store, value: &Value) -> Result<(wharf_oci::Digest, u64), StoreError> {
    let bytes = serde_json::to_vec(value).unwrap_or_default();
    let c = store.put_bytes(&bytes, None)?;
    Ok((c.digest, c.size))
}

/// Stores the statements about `image` and their attestation manifest;
/// returns the manifest's index entry.
pub fn emit_attestation_manifest(
    store: &Store,
    image: &BuiltImage,
    names: &[Reference],
    statements: &[Statement],
) -> Result<Descriptor, StoreError> {
    let subject = subjects(image, names);
    let mut layers = Vec::new();
    for s in statements {
        let statement = json!({
            "_type": IN_TOTO_STATEMENT,
            "predicateType": s.predicate_type,
            "subject": subject,
            "predicate": s.predicate,
        });
        let (digest, size) = store_json(store, &statement)?;
        let mut d = Descriptor::new(MEDIA_TYPE_IN_TOTO, digest, size);
        d.annotations = Some(BTreeMap::from([(
            ANNOTATION_PREDICATE_TYPE.to_string(),
            s.predicate_type.to_string(),
        )]));
        layers.push(d);
    }
    // A valid image config for tools that expect one; readers ignore it
    // (BuildKit's attestation-storage document says so).
    let config = json!({
        "architecture": "unknown",
        "os": "unknown",
        "config": {},
        "rootfs": {
            "type": "layers",
            "diff_ids": layers.iter().map(|l| l.digest.to_string()).collect::<Vec<_>>(),
        },
    });
    let (digest, size) = store_json(store, &config)?;
    let manifest = ImageManifest {
        schema_version: 2,
        media_type: Some(MEDIA_TYPE_OCI_MANIFEST.to_string()),
        artifact_type: None,
        config: Descriptor::new(MEDIA_TYPE_OCI_CONFIG, digest, size),
        layers,
        subject: None,
        annotations: None,
    };
    let bytes = serde_json::to_vec(&manifest).unwrap_or_default();
    let m = store.put_bytes(&bytes, None)?;
    let mut d = Descriptor::new(MEDIA_TYPE_OCI_MANIFEST, m.digest, m.size);
    d.platform = Some(Platform::new("unknown", "unknown", None));
    d.annotations = Some(BTreeMap::from([
        (
            ANNOTATION_REFERENCE_DIGEST.to_string(),
            image.manifest.digest.to_string(),
        ),
        (
            ANNOTATION_REFERENCE_TYPE.to_string(),
            "attestation-manifest".to_string(),
        ),
    ]));
    Ok(d)
}
