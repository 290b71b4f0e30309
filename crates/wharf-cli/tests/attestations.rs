//! `--sbom`, `--provenance` and `--attest` through the `wharf` binary:
//! attestation manifests in the index as BuildKit stores them, pushed to
//! the real registry and read back with skopeo (`inspect --raw`, `copy`
//! to an OCI layout whose blobs are then read); each statement's subject
//! is its image manifest; secrets and secret-looking build arguments
//! appear nowhere; OCI layout and docker-archive exports still work.

mod common;
use common::{json, ok, run, to_oci_layout, wharf};
use std::path::{Path, PathBuf};
use std::process::Command;
use wharf_store::Store;
use wharf_testkit::images::{gzip, store_image, store_index, store_windows_image, GZIP_LAYER};
use wharf_testkit::registry::{start, Auth, Registry};

const DPKG_STATUS: &str = "Package: base-files\nStatus: install ok installed\nArchitecture: amd64\nMaintainer: Santiago Vila <sanvila@debian.org>\nVersion: 12.4+deb12u5\n\nPackage: removed\nStatus: deinstall ok config-files\nVersion: 1\n\nPackage: libc6\nStatus: install ok installed\nArchitecture: amd64\nVersion: 2.36-9+deb12u4\n";
const APK_INSTALLED: &str = "C:Q1x=\nP:musl\nV:1.2.4-r2\nA:x86_64\nL:MIT\n\n";

/// A gzip Linux layer of `files`.
fn layer(files: &[(&str, &str)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, content) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(content.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, name, content.as_bytes()).unwrap();
    }
    gzip(&b.into_inner().unwrap())
}

/// A registry with `base/deb:1` (linux/amd64: a Debian-like dpkg
/// database and an apk one) and `base/multi:1` (Windows 20348).
fn registry_with_bases() -> (Registry, tempfile::TempDir) {
    let reg = start(Auth::None, None);
    let dir = tempfile::tempdir().unwrap();
    let src = Store::open(dir.path().join("src")).unwrap();
    let linux = "linux/amd64".parse().unwrap();
    let deb = store_image(
        &src,
        &linux,
        &[(
            GZIP_LAYER.to_string(),
            layer(&[
                ("etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n"),
                ("var/lib/dpkg/status", DPKG_STATUS),
                ("lib/apk/db/installed", APK_INSTALLED),
            ]),
            None,
        )],
    );
    let deb_name = format!("{}/base/deb:1", reg.host());
    store_index(&src, &deb_name, vec![deb]);
    let win_name = format!("{}/base/multi:1", reg.host());
    store_index(
        &src,
        &win_name,
        vec![store_windows_image(&src, "10.0.20348.2113")],
    );
    for name in [&deb_name, &win_name] {
        ok(wharf()
            .arg("push")
            .arg("--store")
            .arg(dir.path().join("src"))
            .arg(name));
    }
    (reg, dir)
}

fn context(dir: &Path, dockerfile: &str) -> PathBuf {
    let ctx = dir.join("ctx");
    std::fs::create_dir_all(ctx.join("app")).unwrap();
    std::fs::write(ctx.join("app/run.cmd"), "echo hi\n").unwrap();
    std::fs::write(ctx.join("a.txt"), "a\n").unwrap();
    std::fs::write(ctx.join("Dockerfile"), dockerfile).unwrap();
    ctx
}

/// The image `image` copied by skopeo (every manifest) to an OCI layout.
fn skopeo_copy(image: &str, layout: &Path) {
    ok(Command::new("skopeo").args([
        "copy",
        "--all",
        "--src-tls-verify=false",
        image,
        &format!("oci:{}:x", layout.display()),
    ]));
}

fn blob_text(layout: &Path, digest: &str) -> String {
    let hex = digest.trim_start_matches("sha256:");
    std::fs::read_to_string(layout.join("blobs/sha256").join(hex)).unwrap()
}

fn blob(layout: &Path, digest: &str) -> serde_json::Value {
    json(&blob_text(layout, digest))
}

/// Checks the index's attestation entries against its images; returns,
/// per image platform (`os/arch`), its statements by predicate type.
fn statements(
    layout: &Path,
    index: &serde_json::Value,
) -> Vec<(String, Vec<(String, serde_json::Value)>)> {
    let entries = index["manifests"].as_array().unwrap();
    let (atts, images): (Vec<_>, Vec<_>) = entries
        .iter()
        .partition(|e| e["annotations"]["vnd.docker.reference.type"] == "attestation-manifest");
    assert_eq!(
        atts.len(),
        images.len(),
        "one attestation manifest per image: {index}"
    );
    let mut out = Vec::new();
    for a in atts {
        assert_eq!(a["platform"]["os"], "unknown", "{a}");
        assert_eq!(a["platform"]["architecture"], "unknown", "{a}");
        let subject = a["annotations"]["vnd.docker.reference.digest"]
            .as_str()
            .unwrap();
        let image = images
            .iter()
            .find(|i| i["digest"] == subject)
            .unwrap_or_else(|| panic!("{subject} is not an image of the index"));
        let platform = format!(
            "{}/{}",
            image["platform"]["os"].as_str().unwrap(),
            image["platform"]["architecture"].as_str().unwrap()
        );
        let manifest = blob(layout, a["digest"].as_str().unwrap());
        let mut found = Vec::new();
        for l in manifest["layers"].as_array().unwrap() {
            assert_eq!(l["mediaType"], "application/vnd.in-toto+json");
            let predicate_type = l["annotations"]["in-toto.io/predicate-type"]
                .as_str()
                .unwrap()
                .to_string();
            let s = blob(layout, l["digest"].as_str().unwrap());
            assert_eq!(s["predicateType"], predicate_type.as_str());
            assert_eq!(s["_type"], "https://in-toto.io/Statement/v0.1");
            for subj in s["subject"].as_array().unwrap() {
                assert_eq!(
                    format!("sha256:{}", subj["digest"]["sha256"].as_str().unwrap()),
                    subject,
                    "the statement's subject is the image manifest"
                );
            }
            found.push((predicate_type, s["predicate"].clone()));
        }
        out.push((platform, found));
    }
    out
}

fn every_blob_text(layout: &Path) -> String {
    let mut all = String::new();
    for e in std::fs::read_dir(layout.join("blobs/sha256")).unwrap() {
        let bytes = std::fs::read(e.unwrap().path()).unwrap();
        // Layers are gzip: check their decompressed text too.
        let mut text = Vec::new();
        if std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut text)
            .is_err()
        {
            text = bytes;
        }
        all.push_str(&String::from_utf8_lossy(&text));
    }
    all
}

#[test]
fn linux_sbom_and_max_provenance_pushed_and_read_back_with_skopeo() {
    let (reg, dir) = registry_with_bases();
    let host = reg.host();
    let dockerfile = format!("FROM {host}/base/deb:1\nARG VERSION\nARG API_TOKEN\nCOPY a.txt /\n");
    let ctx = context(dir.path(), &dockerfile);
    let target = format!("{host}/app/attested:1");
    let (_, stderr) = ok(wharf()
        .args([
            "build",
            "--platform",
            "linux/amd64",
            "--push",
            "-t",
            &target,
        ])
        .args(["--sbom=true", "--provenance=mode=max"])
        .args([
            "--build-arg",
            "VERSION=1.2.3",
            "--build-arg",
            "API_TOKEN=tok-9f8e7d",
        ])
        .args(["--secret", "id=npm,env=WHARF_TEST_SECRET"])
        .env("WHARF_TEST_SECRET", "s3cr3t-4c5d6e")
        .arg("--store")
        .arg(dir.path().join("store"))
        .arg(&ctx));
    assert!(
        stderr.contains("SBOM of the linux/amd64 image: 3 packages"),
        "{stderr}"
    );

    // A single platform with attestations is an index, as BuildKit's.
    let (raw, _) = ok(Command::new("skopeo").args([
        "inspect",
        "--raw",
        "--tls-verify=false",
        &format!("docker://{target}"),
    ]));
    let index = json(&raw);
    assert_eq!(
        index["mediaType"],
        "application/vnd.oci.image.index.v1+json"
    );
    assert_eq!(index["manifests"].as_array().unwrap().len(), 2, "{index}");

    let layout = dir.path().join("pulled");
    skopeo_copy(&format!("docker://{target}"), &layout);
    let top = json(&std::fs::read_to_string(layout.join("index.json")).unwrap());
    let index = blob(&layout, top["manifests"][0]["digest"].as_str().unwrap());
    let all = statements(&layout, &index);
    assert_eq!(all.len(), 1);
    let (platform, found) = &all[0];
    assert_eq!(platform, "linux/amd64");
    let types: Vec<&str> = found.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        types,
        [
            "https://spdx.dev/Document",
            "https://slsa.dev/provenance/v1"
        ]
    );

    let sbom = &found[0].1;
    assert_eq!(sbom["spdxVersion"], "SPDX-2.3");
    let purls: Vec<String> = sbom["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["externalRefs"][0]["referenceLocator"].as_str())
        .map(str::to_string)
        .collect();
    assert!(
        purls.contains(&"pkg:deb/debian/base-files@12.4+deb12u5?arch=amd64".to_string()),
        "{purls:?}"
    );
    assert!(purls.contains(&"pkg:deb/debian/libc6@2.36-9+deb12u4?arch=amd64".to_string()));
    assert!(purls.contains(&"pkg:apk/debian/musl@1.2.4-r2?arch=x86_64".to_string()));
    assert!(
        !purls.iter().any(|p| p.contains("removed")),
        "deinstalled packages are not listed"
    );
    let (base_raw, _) = ok(Command::new("skopeo").args([
        "inspect",
        "--raw",
        "--tls-verify=false",
        &format!("docker://{host}/base/deb:1"),
    ]));
    let base_digest = json(&base_raw)["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        purls
            .iter()
            .any(|p| p.starts_with("pkg:docker/") && p.contains(&base_digest)),
        "the base image is named with its digest: {purls:?}"
    );

    let prov = &found[1].1;
    let def = &prov["buildDefinition"];
    let deps = def["resolvedDependencies"].as_array().unwrap();
    assert_eq!(
        deps[0]["digest"]["sha256"],
        base_digest.trim_start_matches("sha256:")
    );
    assert_eq!(deps[1]["uri"], "context");
    let file_digest = wharf_oci::Digest::of_bytes(dockerfile.as_bytes());
    assert_eq!(
        def["externalParameters"]["configSource"]["digest"]["sha256"],
        file_digest.hex()
    );
    let args = &def["externalParameters"]["request"]["args"];
    assert_eq!(args["build-arg:VERSION"], "1.2.3");
    assert!(args.get("build-arg:API_TOKEN").is_none(), "{args}");
    assert!(prov["runDetails"]["builder"]["version"]["wharf"].is_string());

    // `wharf images` lists the image's platform, not the attestation's.
    let (images, _) = ok(wharf()
        .arg("images")
        .arg("--store")
        .arg(dir.path().join("store")));
    let row = images
        .lines()
        .find(|l| l.contains("app/attested:1"))
        .unwrap();
    assert!(
        row.contains("linux/amd64") && !row.contains("unknown"),
        "{row}"
    );

    // Nothing secret in any blob: attestation, config or layer.
    let everything = every_blob_text(&layout);
    assert!(!everything.contains("s3cr3t-4c5d6e"));
    assert!(!everything.contains("tok-9f8e7d"));
}

#[test]
fn attest_spelling_multi_platform_to_oci_layout_and_docker_archive_warns() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = context(dir.path(), "FROM scratch\nARG VERSION\nCOPY a.txt /\n");
    let layout = dir.path().join("layout");
    let (out, _, stderr) = run(to_oci_layout(
        wharf()
            .args(["build", "--platform", "linux/amd64,linux/arm64"])
            .args(["--attest", "type=provenance,mode=min"])
            .args(["--build-arg", "VERSION=7.7.7"]),
        &layout,
        &dir.path().join("store"),
        &ctx,
    ));
    assert!(out.status.success(), "{stderr}");
    let top = json(&std::fs::read_to_string(layout.join("index.json")).unwrap());
    let index = blob(&layout, top["manifests"][0]["digest"].as_str().unwrap());
    assert_eq!(index["manifests"].as_array().unwrap().len(), 4, "{index}");
    let all = statements(&layout, &index);
    let mut platforms: Vec<&str> = all.iter().map(|(p, _)| p.as_str()).collect();
    platforms.sort();
    assert_eq!(platforms, ["linux/amd64", "linux/arm64"]);
    for (_, found) in &all {
        assert_eq!(found.len(), 1);
        let (t, prov) = &found[0];
        assert_eq!(t, "https://slsa.dev/provenance/v1");
        // mode=min leaves the arguments out, as BuildKit's does.
        assert!(!prov.to_string().contains("7.7.7"), "{prov}");
        assert!(prov["buildDefinition"]["resolvedDependencies"][0]["uri"] == "context");
    }
    // skopeo reads the layout's image for a platform past the attestations.
    ok(Command::new("skopeo").args([
        "inspect",
        "--override-arch",
        "arm64",
        &format!("oci:{}", layout.display()),
    ]));

    // docker-archive: warned, and still written.
    let archive = dir.path().join("image.tar");
    let (_, stderr) = ok(wharf()
        .args(["build", "--sbom=true", "--platform", "linux/amd64"])
        .arg("--output")
        .arg(format!("type=docker,dest={}", archive.display()))
        .arg("--store")
        .arg(dir.path().join("store"))
        .arg(&ctx));
    assert!(stderr.contains("cannot carry attestations"), "{stderr}");
    let (inspect, _) =
        ok(Command::new("skopeo")
            .args(["inspect", &format!("docker-archive:{}", archive.display())]));
    assert_eq!(json(&inspect)["Architecture"], "amd64");
}

#[test]
fn windows_sbom_lists_its_own_files_and_names_the_base() {
    let (reg, dir) = registry_with_bases();
    let host = reg.host();
    let ctx = context(
        dir.path(),
        &format!("FROM {host}/base/multi:1\nCOPY app/ C:/app/\n"),
    );
    let target = format!("{host}/app/win-attested:1");
    let store = dir.path().join("store");
    ok(wharf()
        .args([
            "build",
            "--platform",
            "windows/amd64:10.0.20348",
            "--push",
            "-t",
            &target,
        ])
        .args(["--sbom=true", "--provenance=true"])
        .arg("--store")
        .arg(&store)
        .arg(&ctx));
    let layout = dir.path().join("pulled");
    skopeo_copy(&format!("docker://{target}"), &layout);
    let top = json(&std::fs::read_to_string(layout.join("index.json")).unwrap());
    let index = blob(&layout, top["manifests"][0]["digest"].as_str().unwrap());
    let all = statements(&layout, &index);
    let (platform, found) = &all[0];
    assert_eq!(platform, "windows/amd64");
    let sbom = &found[0].1;
    let files = sbom["files"].as_array().unwrap();
    let names: Vec<&str> = files
        .iter()
        .map(|f| f["fileName"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["./app/run.cmd"],
        "the image's own files only: {names:?}"
    );
    let want = wharf_oci::Digest::of_bytes(b"echo hi\n");
    assert_eq!(files[0]["checksums"][0]["checksumValue"], want.hex());
    let comment = sbom["comment"].as_str().unwrap();
    assert!(
        comment.contains(&format!("{host}/base/multi:1@sha256:")),
        "{comment}"
    );
    assert!(comment.contains("not downloaded"), "{comment}");
    // The build store still lacks the Windows base layers.
    let s = Store::open(&store).unwrap();
    let windows_base = wharf_testkit::images::windows_layer("10.0.20348.2113");
    assert_eq!(
        s.blob_size(&wharf_oci::Digest::of_bytes(&windows_base)),
        None
    );
}

#[test]
fn sbom_lists_the_packages_of_an_rpm_database() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = context(
        dir.path(),
        "FROM scratch\nCOPY os-release /etc/os-release\nCOPY rpmdb.sqlite /usr/lib/sysimage/rpm/rpmdb.sqlite\n",
    );
    std::fs::write(ctx.join("os-release"), "ID=fedora\nVERSION_ID=40\n").unwrap();
    let package = wharf_testkit::rpm::RpmPackage {
        name: "hello-wharf",
        version: "1.2.3",
        epoch: None,
        description: "t",
    };
    let db = wharf_testkit::rpm::rpm_database(&dir.path().join("rpm"), &[package]);
    std::fs::copy(db, ctx.join("rpmdb.sqlite")).unwrap();
    let layout = dir.path().join("layout");
    let (out, _, stderr) = run(to_oci_layout(
        wharf().args(["build", "--sbom=true", "--platform", "linux/amd64"]),
        &layout,
        &dir.path().join("store"),
        &ctx,
    ));
    assert!(out.status.success(), "{stderr}");
    let top = json(&std::fs::read_to_string(layout.join("index.json")).unwrap());
    let index = blob(&layout, top["manifests"][0]["digest"].as_str().unwrap());
    let all = statements(&layout, &index);
    let sbom = &all[0].1[0].1;
    let purls: Vec<&str> = sbom["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["externalRefs"][0]["referenceLocator"].as_str())
        .collect();
    assert!(
        purls.contains(&"pkg:rpm/fedora/hello-wharf@1.2.3-4?arch=noarch"),
        "{purls:?}"
    );
}
