//! What a CI pipeline reads back from `wharf build`: `-q`, `--iidfile`,
//! `--metadata-file` (BuildKit's keys) and `--annotation` (buildx's
//! syntax), checked in an exported OCI layout.

mod common;
use common::{copy_context, json, run, to_oci_layout, wharf};
use std::path::Path;

fn blob(layout: &Path, digest: &str) -> serde_json::Value {
    let hex = digest.trim_start_matches("sha256:");
    json(&std::fs::read_to_string(layout.join("blobs/sha256").join(hex)).unwrap())
}

#[test]
fn quiet_iidfile_metadata_and_manifest_annotations() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = copy_context(dir.path());
    let layout = dir.path().join("layout");
    let (iid, meta) = (dir.path().join("iid"), dir.path().join("meta.json"));
    let (out, stdout, stderr) = run(to_oci_layout(
        wharf()
            .args([
                "build",
                "-q",
                "-t",
                "example.com/app:1",
                "--platform",
                "linux/amd64",
            ])
            .args(["--annotation", "org.opencontainers.image.title=hello"])
            .args(["--annotation", "manifest[linux/amd64]:only.amd64=yes"])
            .args(["--annotation", "manifest[linux/arm64]:only.arm64=yes"])
            .arg("--iidfile")
            .arg(&iid)
            .arg("--metadata-file")
            .arg(&meta),
        &layout,
        &dir.path().join("store"),
        &ctx,
    ));
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stderr, "", "-q prints nothing but the id");
    let index = json(&std::fs::read_to_string(layout.join("index.json")).unwrap());
    let manifest_digest = index["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let manifest = blob(&layout, &manifest_digest);
    let config_digest = manifest["config"]["digest"].as_str().unwrap();
    // The image id of a local single-platform build is its config digest.
    assert_eq!(stdout.trim(), config_digest);
    assert_eq!(std::fs::read_to_string(&iid).unwrap(), config_digest);
    let a = &manifest["annotations"];
    assert_eq!(a["org.opencontainers.image.title"], "hello", "{manifest}");
    assert_eq!(a["only.amd64"], "yes");
    assert!(
        a["only.arm64"].is_null(),
        "another platform's annotation: {a}"
    );
    let m = json(&std::fs::read_to_string(&meta).unwrap());
    assert_eq!(m["containerimage.digest"], manifest_digest.as_str());
    assert_eq!(m["containerimage.config.digest"], config_digest);
    assert_eq!(
        m["containerimage.descriptor"]["digest"],
        manifest_digest.as_str()
    );
    assert_eq!(
        m["containerimage.descriptor"]["mediaType"],
        "application/vnd.oci.image.manifest.v1+json"
    );
    assert_eq!(m["image.name"], "example.com/app:1");
}

#[test]
fn index_and_descriptor_annotations_on_a_multi_platform_build() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = copy_context(dir.path());
    let layout = dir.path().join("layout");
    let (iid, meta) = (dir.path().join("iid"), dir.path().join("meta.json"));
    let (out, _, stderr) = run(to_oci_layout(
        wharf()
            .args(["build", "--platform", "linux/amd64,linux/arm64"])
            .args([
                "--annotation",
                "index:org.opencontainers.image.description=two",
            ])
            .args(["--annotation", "manifest-descriptor[linux/arm64]:arm=1"])
            .args(["--annotation", "index,manifest:both=x"])
            .arg("--iidfile")
            .arg(&iid)
            .arg("--metadata-file")
            .arg(&meta),
        &layout,
        &dir.path().join("store"),
        &ctx,
    ));
    assert!(out.status.success(), "{stderr}");
    let top = json(&std::fs::read_to_string(layout.join("index.json")).unwrap());
    let index_digest = top["manifests"][0]["digest"].as_str().unwrap().to_string();
    let index = blob(&layout, &index_digest);
    assert_eq!(
        index["annotations"]["org.opencontainers.image.description"],
        "two"
    );
    assert_eq!(index["annotations"]["both"], "x");
    let entries = index["manifests"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    for e in entries {
        let arch = e["platform"]["architecture"].as_str().unwrap();
        let want = if arch == "arm64" { "1" } else { "" };
        assert_eq!(e["annotations"]["arm"].as_str().unwrap_or(""), want, "{e}");
        let manifest = blob(&layout, e["digest"].as_str().unwrap());
        assert_eq!(manifest["annotations"]["both"], "x");
    }
    // Several platforms: the id is the index's digest, and no single
    // config digest is claimed.
    assert_eq!(std::fs::read_to_string(&iid).unwrap(), index_digest);
    let m = json(&std::fs::read_to_string(&meta).unwrap());
    assert_eq!(m["containerimage.digest"], index_digest.as_str());
    assert!(m["containerimage.config.digest"].is_null(), "{m}");
    assert!(m["image.name"].is_null(), "untagged: {m}");
}

#[test]
fn annotations_that_cannot_apply_are_refused_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = copy_context(dir.path());
    let store = dir.path().join("store");
    for (spec, want) in [
        ("index:k=v", "need an image index"),
        ("nokey", "KEY=VALUE"),
        ("indx:k=v", "unknown type indx"),
    ] {
        let (out, _, stderr) = run(wharf()
            .args(["build", "--platform", "linux/amd64", "--annotation", spec])
            .arg("--store")
            .arg(&store)
            .arg(&ctx));
        assert!(!out.status.success(), "{spec} was accepted");
        assert!(stderr.contains(want), "{spec}: {stderr}");
        assert!(!stderr.contains("#1"), "{spec}: a step ran: {stderr}");
    }
}
