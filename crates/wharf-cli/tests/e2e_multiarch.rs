//! Linux RUN for another architecture, end to end: a base index of
//! Debian's `busybox-static` for amd64 and arm64 (the arm64 one from
//! `busybox-static:arm64`) in a real registry, `--platform
//! linux/amd64,linux/arm64` with `RUN uname -m > /arch`: one index with
//! both images, each RUN's output from its own architecture, the foreign
//! one under QEMU through binfmt_misc (`wharf_run::binfmt`).
#![cfg(target_os = "linux")]

mod common;
use common::{json, ok, wharf};
use std::io::Read;
use std::path::Path;
use wharf_oci::Platform;
use wharf_store::Store;
use wharf_testkit::busybox::{arm64_binary, rootfs_tar, rootfs_tar_with, store_rootfs_image_for};
use wharf_testkit::images::store_index;
use wharf_testkit::registry::{start, Auth};

fn blob(layout: &Path, digest: &str) -> Vec<u8> {
    let hex = digest.trim_start_matches("sha256:");
    std::fs::read(layout.join("blobs/sha256").join(hex)).unwrap()
}

/// The content of `name` in a gzip layer, if it holds it.
fn file_in_layer(layer: &[u8], name: &str) -> Option<String> {
    let mut a = tar::Archive::new(flate2::read::GzDecoder::new(layer));
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        if e.path().unwrap().to_string_lossy().trim_start_matches("./") == name {
            let mut s = String::new();
            e.read_to_string(&mut s).unwrap();
            return Some(s);
        }
    }
    None
}

#[test]
fn run_under_emulation_gives_each_image_its_own_architecture() {
    assert_eq!(
        Platform::host().architecture,
        "amd64",
        "this test builds arm64 on an amd64 host"
    );
    wharf_run::binfmt::check_emulation(
        &Platform::new("linux", "arm64", None),
        Path::new(wharf_run::binfmt::BINFMT_DIR),
    )
    .unwrap_or_else(|e| panic!("{e} (scripts/test.sh sets this up)"));
    let reg = start(Auth::None, None);
    let dir = tempfile::tempdir().unwrap();
    let src = Store::open(dir.path().join("src")).unwrap();
    let amd64 = store_rootfs_image_for(
        &src,
        "amd64",
        rootfs_tar(),
        Platform::new("linux", "amd64", None),
    );
    let arm64 = store_rootfs_image_for(
        &src,
        "arm64",
        rootfs_tar_with(&arm64_binary()),
        Platform::new("linux", "arm64", None),
    );
    let base = format!("{}/base/busybox-multi:1", reg.host());
    store_index(&src, &base, vec![amd64, arm64]);
    ok(wharf()
        .arg("push")
        .arg("--store")
        .arg(dir.path().join("src"))
        .arg(&base));

    let ctx = dir.path().join("ctx");
    std::fs::create_dir(&ctx).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        format!("FROM {base}\nRUN uname -m > /arch\n"),
    )
    .unwrap();
    let layout = dir.path().join("layout");
    ok(wharf()
        .args(["build", "--platform", "linux/amd64,linux/arm64"])
        .arg("--output")
        .arg(format!("type=oci,dest={}", layout.display()))
        .arg("--store")
        .arg(dir.path().join("store"))
        .arg(&ctx));
    let top = json(&std::fs::read_to_string(layout.join("index.json")).unwrap());
    let index: serde_json::Value = serde_json::from_slice(&blob(
        &layout,
        top["manifests"][0]["digest"].as_str().unwrap(),
    ))
    .unwrap();
    let entries = index["manifests"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{index}");
    for e in entries {
        let arch = e["platform"]["architecture"].as_str().unwrap();
        let manifest: serde_json::Value =
            serde_json::from_slice(&blob(&layout, e["digest"].as_str().unwrap())).unwrap();
        let last = manifest["layers"].as_array().unwrap().last().unwrap();
        let out = file_in_layer(&blob(&layout, last["digest"].as_str().unwrap()), "arch")
            .expect("the RUN's layer holds /arch");
        let want = match arch {
            "amd64" => "x86_64",
            "arm64" => "aarch64",
            other => panic!("unexpected platform {other}"),
        };
        assert_eq!(out.trim(), want, "the {arch} image's RUN ran as {out}");
    }
}

#[test]
fn an_architecture_without_an_emulator_is_refused_at_plan_time_naming_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = dir.path().join("ctx");
    std::fs::create_dir(&ctx).unwrap();
    // Big-endian ppc64: Wharf knows no handler for it, so nothing counts
    // as registered whatever this host has.
    std::fs::write(ctx.join("Dockerfile"), "FROM scratch\nRUN true\n").unwrap();
    let (out, _, stderr) = common::run(
        wharf()
            .args(["build", "--platform", "linux/ppc64"])
            .arg("--store")
            .arg(dir.path().join("store"))
            .arg(&ctx),
    );
    assert!(!out.status.success());
    assert!(stderr.contains("Dockerfile:2"), "{stderr}");
    assert!(
        stderr.contains("apt-get install qemu-user-static"),
        "{stderr}"
    );
}
