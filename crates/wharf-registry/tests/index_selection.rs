//! Index entries as other tools write them: BuildKit's attestation
//! manifests (`unknown/unknown`), `aarch64` spelled the kernel's way.

mod common;

use common::http::{serve, Reply, Req};
use common::*;
use std::collections::HashMap;
use wharf_oci::Platform;
use wharf_oci::{ImageIndex, Reference, MEDIA_TYPE_OCI_INDEX};

#[tokio::test]
async fn picks_the_right_entry_among_foreign_spellings_and_attestations() {
    let (_d, scratch) = new_store();
    let layer = |s: &str| vec![(GZIP_LAYER.to_string(), linux_layer("f", s.as_bytes()), None)];
    let attestation = store_image(
        &scratch,
        &Platform {
            os: "unknown".into(),
            architecture: "unknown".into(),
            variant: None,
            os_version: None,
            os_features: vec![],
        },
        &layer("attestation"),
    );
    let mut arm = store_image(
        &scratch,
        &Platform::new("linux", "arm64", None),
        &layer("arm"),
    );
    // As some tools write it.
    if let Some(p) = arm.platform.as_mut() {
        p.architecture = "aarch64".into();
    }
    let amd = store_image(
        &scratch,
        &Platform::new("linux", "amd64", None),
        &layer("amd"),
    );
    let index = ImageIndex {
        manifests: vec![attestation, arm.clone(), amd.clone()],
        ..ImageIndex::empty()
    };
    let index_bytes = serde_json::to_vec(&index).expect("json");
    let mut manifests: HashMap<String, (String, Vec<u8>)> = HashMap::new();
    manifests.insert("v1".into(), (MEDIA_TYPE_OCI_INDEX.into(), index_bytes));
    for d in [&arm, &amd] {
        let bytes = scratch.read_document(&d.digest, "m").expect("manifest");
        manifests.insert(d.digest.to_string(), (d.media_type.clone(), bytes));
    }
    let blobs = scratch.clone();
    let server = serve(move |req: &Req| {
        if let Some(r) = req.path.strip_prefix("/v2/test/app/manifests/") {
            return match manifests.get(r) {
                Some((t, b)) => Reply::ok(t, b.clone()),
                None => Reply::status(404),
            };
        }
        let digest = req
            .path
            .strip_prefix("/v2/test/app/blobs/")
            .and_then(|d| wharf_oci::Digest::try_from(d).ok());
        match digest.and_then(|d| std::fs::read(blobs.blob_path(&d)).ok()) {
            Some(b) => Reply::ok("application/octet-stream", b),
            None => Reply::status(404),
        }
    });
    let reference = Reference::parse(&format!("{}/test/app:v1", server.base())).expect("ref");
    for (wanted, expected) in [
        ("linux/arm64", &arm),
        ("linux/arm64/v8", &arm),
        ("linux/amd64", &amd),
    ] {
        let (_d, store) = new_store();
        let pulled = anonymous()
            .pull(&reference, &wanted.parse().expect("platform"), &store)
            .await
            .unwrap_or_else(|e| panic!("{wanted}: {e}"));
        assert_eq!(pulled.image.descriptor.digest, expected.digest, "{wanted}");
    }
    let (_d, store) = new_store();
    let err = anonymous()
        .pull(
            &reference,
            &"linux/s390x".parse().expect("platform"),
            &store,
        )
        .await
        .expect_err("no s390x");
    assert!(err.to_string().contains("linux/arm64"), "{err}");
}
