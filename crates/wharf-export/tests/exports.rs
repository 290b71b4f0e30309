//! Exports read back by skopeo (an independent OCI implementation).

use std::io::Write;
use std::path::Path;
use std::process::Command;
use wharf_export::{export, ExportError, ExportImage, ImageSource, Output};
use wharf_oci::Digest;
use wharf_oci::Platform;
use wharf_oci::{
    Descriptor, ImageIndex, ImageManifest, MEDIA_TYPE_OCI_CONFIG, MEDIA_TYPE_OCI_INDEX,
    MEDIA_TYPE_OCI_MANIFEST,
};
use wharf_store::Store;

fn new_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path().join("store")).expect("store");
    (dir, store)
}

/// A gzip layer holding one file, with its diff_id (digest of the tar).
fn layer(name: &str, content: &[u8]) -> (Vec<u8>, String) {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_ustar();
    h.set_size(content.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    b.append_data(&mut h, name, content).expect("tar");
    let tar = b.into_inner().expect("tar");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar).expect("gzip");
    (
        gz.finish().expect("gzip"),
        Digest::of_bytes(&tar).to_string(),
    )
}

/// Stores a two-layer image for `platform` and returns its manifest descriptor.
fn image(store: &Store, platform: &Platform, text: &str) -> Descriptor {
    let layers = [
        layer("a.txt", text.as_bytes()),
        layer("b.txt", b"second layer"),
    ];
    let mut descs = Vec::new();
    for (blob, _) in &layers {
        let c = store.put_bytes(blob, None).expect("layer");
        descs.push(Descriptor::new(
            "application/vnd.oci.image.layer.v1.tar+gzip",
            c.digest,
            c.size,
        ));
    }
    let config = serde_json::json!({
        "architecture": platform.architecture, "os": platform.os,
        "rootfs": {"type": "layers", "diff_ids": layers.iter().map(|l| l.1.clone()).collect::<Vec<_>>()},
        "config": {"Cmd": ["/bin/true"]},
    });
    let c = store
        .put_bytes(&serde_json::to_vec(&config).expect("json"), None)
        .expect("config");
    let manifest = ImageManifest {
        schema_version: 2,
        media_type: Some(MEDIA_TYPE_OCI_MANIFEST.into()),
        artifact_type: None,
        config: Descriptor::new(MEDIA_TYPE_OCI_CONFIG, c.digest, c.size),
        layers: descs,
        subject: None,
        annotations: None,
    };
    let m = store
        .put_bytes(&serde_json::to_vec(&manifest).expect("json"), None)
        .expect("manifest");
    let mut d = Descriptor::new(MEDIA_TYPE_OCI_MANIFEST, m.digest, m.size);
    d.platform = Some(platform.clone());
    d
}

fn skopeo(args: &[&str]) -> Vec<u8> {
    let out = Command::new("skopeo")
        .args(args)
        .output()
        .expect("skopeo (Debian package skopeo)");
    assert!(
        out.status.success(),
        "skopeo {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn linux() -> Platform {
    Platform::new("linux", "amd64", None)
}

fn one(source: &str, tags: &[&str]) -> Vec<ExportImage> {
    vec![ExportImage {
        source: ImageSource::Named(source.into()),
        tags: tags.iter().map(|t| t.to_string()).collect(),
    }]
}

#[test]
fn oci_directory_with_several_tags() {
    let (dir, store) = new_store();
    let d = image(&store, &linux(), "hello");
    store.tag("example.com/app:1", &d).expect("tag");
    let out = dir.path().join("layout");
    let report = export(
        &store,
        &one(
            "example.com/app:1",
            &["example.com/app:1", "example.com/app:latest"],
        ),
        &Output::OciDir(out.clone()),
        &linux(),
    )
    .expect("export");
    assert_eq!((report.blobs, report.tags), (4, 2));
    for tag in ["example.com/app:1", "example.com/app:latest"] {
        let raw = skopeo(&["inspect", "--raw", &format!("oci:{}:{tag}", out.display())]);
        assert_eq!(Digest::of_bytes(&raw), d.digest);
    }
    // skopeo can copy the whole image out (it verifies every blob).
    skopeo(&[
        "copy",
        &format!("oci:{}:example.com/app:1", out.display()),
        &format!("dir:{}", dir.path().join("copy").display()),
    ]);
    // Exporting again adds nothing new and keeps one entry per tag.
    let again = export(
        &store,
        &one("example.com/app:1", &["example.com/app:1"]),
        &Output::OciDir(out.clone()),
        &linux(),
    )
    .expect("again");
    assert_eq!(again.blobs, 0);
    let index: ImageIndex =
        serde_json::from_slice(&std::fs::read(out.join("index.json")).expect("read"))
            .expect("json");
    assert_eq!(index.manifests.len(), 2);
}

#[test]
fn oci_archive_of_a_multi_platform_index() {
    let (dir, store) = new_store();
    let amd = image(&store, &linux(), "amd64");
    let arm = image(&store, &Platform::new("linux", "arm64", None), "arm64");
    let index = ImageIndex {
        manifests: vec![amd.clone(), arm.clone()],
        ..ImageIndex::empty()
    };
    let bytes = serde_json::to_vec(&index).expect("json");
    let c = store.put_bytes(&bytes, None).expect("index");
    store
        .tag(
            "example.com/multi:1",
            &Descriptor::new(MEDIA_TYPE_OCI_INDEX, c.digest.clone(), c.size),
        )
        .expect("tag");
    let file = dir.path().join("multi.tar");
    export(
        &store,
        &one("example.com/multi:1", &[]),
        &Output::OciArchive(file.clone()),
        &linux(),
    )
    .expect("export");
    let raw = skopeo(&[
        "inspect",
        "--raw",
        &format!("oci-archive:{}:example.com/multi:1", file.display()),
    ]);
    assert_eq!(Digest::of_bytes(&raw), c.digest);
    let inspected = skopeo(&[
        "inspect",
        "--override-arch",
        "arm64",
        &format!("oci-archive:{}:example.com/multi:1", file.display()),
    ]);
    let v: serde_json::Value = serde_json::from_slice(&inspected).expect("json");
    let arm_manifest: ImageManifest = store.read_json(&arm.digest, "manifest").expect("manifest");
    assert_eq!(v["Architecture"], "arm64");
    assert_eq!(v["Layers"][0], arm_manifest.layers[0].digest.to_string());
    // The same input gives the same bytes.
    let file2 = dir.path().join("multi2.tar");
    export(
        &store,
        &one("example.com/multi:1", &[]),
        &Output::OciArchive(file2.clone()),
        &linux(),
    )
    .expect("export");
    assert_eq!(
        std::fs::read(&file).expect("read"),
        std::fs::read(&file2).expect("read")
    );
}

#[test]
fn docker_archive_is_read_by_skopeo() {
    let (dir, store) = new_store();
    let amd = image(&store, &linux(), "docker me");
    let arm = image(&store, &Platform::new("linux", "arm64", None), "not me");
    let index = ImageIndex {
        manifests: vec![arm, amd.clone()],
        ..ImageIndex::empty()
    };
    let c = store
        .put_bytes(&serde_json::to_vec(&index).expect("json"), None)
        .expect("index");
    store
        .tag(
            "example.com/d:1",
            &Descriptor::new(MEDIA_TYPE_OCI_INDEX, c.digest, c.size),
        )
        .expect("tag");
    let file = dir.path().join("docker.tar");
    export(
        &store,
        &one(
            "example.com/d:1",
            &["example.com/d:1", "example.com/d:stable"],
        ),
        &Output::DockerArchive(file.clone()),
        &linux(),
    )
    .expect("export");
    let inspected = skopeo(&["inspect", &format!("docker-archive:{}", file.display())]);
    let v: serde_json::Value = serde_json::from_slice(&inspected).expect("json");
    assert_eq!(v["Architecture"], "amd64");
    assert_eq!(v["Layers"].as_array().map(Vec::len), Some(2));
    let m: ImageManifest = store.read_json(&amd.digest, "manifest").expect("manifest");
    let config = skopeo(&[
        "inspect",
        "--config",
        "--raw",
        &format!("docker-archive:{}", file.display()),
    ]);
    assert_eq!(Digest::of_bytes(&config), m.config.digest);
    // A full copy checks every layer against the config's diff_ids.
    skopeo(&[
        "copy",
        &format!("docker-archive:{}:example.com/d:stable", file.display()),
        &format!("oci:{}:copied", dir.path().join("out").display()),
    ]);
}

#[test]
fn missing_blob_is_an_error_and_leaves_no_file() {
    let (dir, store) = new_store();
    let d = image(&store, &linux(), "partial");
    store.tag("example.com/p:1", &d).expect("tag");
    let m: ImageManifest = store.read_json(&d.digest, "manifest").expect("manifest");
    std::fs::remove_file(store.blob_path(&m.layers[1].digest)).expect("remove");
    for output in [
        Output::OciArchive(dir.path().join("p.tar")),
        Output::DockerArchive(dir.path().join("d.tar")),
        Output::OciDir(dir.path().join("pdir")),
    ] {
        let err =
            export(&store, &one("example.com/p:1", &[]), &output, &linux()).expect_err("missing");
        assert!(matches!(err, ExportError::MissingBlob { .. }), "{err}");
        assert!(
            err.to_string().contains(&m.layers[1].digest.to_string()),
            "{err}"
        );
    }
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .expect("ls")
        .flatten()
        .map(|e| e.file_name())
        .filter(|n| n != "store")
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    assert!(!Path::new(&dir.path().join("p.tar")).exists());
}

#[test]
fn unknown_image_and_no_images() {
    let (dir, store) = new_store();
    let err = export(
        &store,
        &one("example.com/none:1", &[]),
        &Output::OciArchive(dir.path().join("x.tar")),
        &linux(),
    )
    .expect_err("unknown");
    assert!(err.to_string().contains("example.com/none:1"), "{err}");
    assert!(matches!(
        export(&store, &[], &Output::OciDir(dir.path().join("y")), &linux()),
        Err(ExportError::NoImages)
    ));
}
