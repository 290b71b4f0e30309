//! A ZImagefile's `wasm:` form through the `wharf` binary: a prebuilt
//! module and one compiled in a Linux stage (a fixture `go` that writes a
//! module, since the real toolchain image cannot be pulled here) become
//! CNCF wasm OCI artifacts, pushed to a real loopback registry and read
//! back with `skopeo` (manifest, config, the module's bytes) and `umoci`
//! (the layout's tag); a component is refused.
#![cfg(target_os = "linux")]

mod common;
use common::{json, ok, registry_with_busybox_in, run, wharf};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A core module: the header, then a custom section `w` holding `payload`.
fn module(payload: &str) -> Vec<u8> {
    let mut m = b"\0asm\x01\0\0\0".to_vec();
    m.push(0);
    m.push((2 + payload.len()) as u8);
    m.push(1);
    m.push(b'w');
    m.extend_from_slice(payload.as_bytes());
    m
}

/// `GOOS=wasip1 GOARCH=wasm go build -o OUT .`: writes [`module`] of
/// "GOOS/GOARCH tags:TAGS pre:CONTENT" at OUT (payload under 128 bytes).
const GO: &str = r#"#!/bin/sh
tags=""
while [ $# -gt 0 ]; do
  case "$1" in -o) out="$2" ;; -tags) tags="$2" ;; esac
  shift
done
payload="$GOOS/$GOARCH tags:$tags pre:$(cat pre.txt)"
n=$(( ${#payload} + 2 ))
printf '\000asm\001\000\000\000\000' > "$out"
printf "\\$(printf '%03o' "$n")" >> "$out"
printf '\001w%s' "$payload" >> "$out"
"#;

fn skopeo(args: &[&str]) -> String {
    let (out, _) = ok(Command::new("skopeo").args(args));
    out
}

/// Pushes `ctx`'s build as `tag` (and exports it to `layout`).
fn build_push(store: &Path, ctx: &Path, tag: &str, layout: &Path, extra: &[String]) {
    ok(wharf()
        .args(["build", "--push", "-t", tag])
        .args(extra)
        .arg("--store")
        .arg(store)
        .arg("-o")
        .arg(format!("type=oci,dest={}", layout.display()))
        .arg(ctx));
}

/// Reads the artifact `tag` back from the registry with skopeo: checks the
/// CNCF layout and returns the module's bytes.
fn read_back(dir: &Path, tag: &str) -> Vec<u8> {
    let image = format!("docker://{tag}");
    let manifest = json(&skopeo(&["inspect", "--raw", "--tls-verify=false", &image]));
    assert_eq!(
        manifest["config"]["mediaType"],
        "application/vnd.wasm.config.v0+json"
    );
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1, "{manifest}");
    assert_eq!(layers[0]["mediaType"], "application/wasm");
    let config = json(&skopeo(&[
        "inspect",
        "--config",
        "--raw",
        "--tls-verify=false",
        &image,
    ]));
    assert_eq!(config["architecture"], "wasm");
    assert_eq!(config["os"], "wasip1");
    assert_eq!(config["layerDigests"][0], layers[0]["digest"]);
    assert!(config["created"].is_string(), "{config}");
    // A copy out of the registry holds the module as the layer blob.
    let copy = dir.join(format!("copy-{}", tag.replace(['/', ':'], "-")));
    skopeo(&[
        "copy",
        "--src-tls-verify=false",
        &image,
        &format!("oci:{}:art", copy.display()),
    ]);
    let digest = layers[0]["digest"].as_str().unwrap();
    std::fs::read(copy.join("blobs/sha256").join(&digest["sha256:".len()..])).unwrap()
}

fn context(dir: &Path, name: &str, files: &[(&str, &[u8])]) -> PathBuf {
    let ctx = dir.join(name);
    std::fs::create_dir_all(&ctx).unwrap();
    for (file, data) in files {
        std::fs::write(ctx.join(file), data).unwrap();
    }
    ctx
}

#[test]
fn wasm_modules_become_cncf_artifacts_read_back_by_skopeo_and_umoci() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (reg, busybox) = registry_with_busybox_in(d);
    let store = d.join("store");

    // A prebuilt module from the context.
    let prebuilt = module("prebuilt");
    let ctx = context(
        d,
        "prebuilt",
        &[(
            "ZImagefile",
            b"version: \"1\"\nwasm:\n  target: preview1\n  output: dist/app.wasm\n",
        )],
    );
    std::fs::create_dir_all(ctx.join("dist")).unwrap();
    std::fs::write(ctx.join("dist/app.wasm"), &prebuilt).unwrap();
    let tag = format!("{}/wasm/prebuilt:1", reg.host());
    let layout = d.join("prebuilt-oci");
    build_push(&store, &ctx, &tag, &layout, &[]);
    assert_eq!(read_back(d, &tag), prebuilt);
    let (tags, _) = ok(Command::new("umoci").arg("ls").arg("--layout").arg(&layout));
    assert_eq!(tags.trim(), tag);
    let index = json(&std::fs::read_to_string(layout.join("index.json")).unwrap());
    assert_eq!(index["manifests"][0]["platform"]["os"], "wasip1");
    assert_eq!(index["manifests"][0]["platform"]["architecture"], "wasm");

    // Compiled in a Linux stage by a fixture `go`, with pre/post_build,
    // build_args and features.
    let toolchain_ctx = context(
        d,
        "toolchain",
        &[
            ("go", GO.as_bytes()),
            (
                "Dockerfile",
                format!("FROM {busybox}\nCOPY --chmod=0755 go /usr/local/bin/go\n").as_bytes(),
            ),
        ],
    );
    let go = format!("{}/fixture/go:1", reg.host());
    ok(wharf()
        .args(["build", "--push", "-t", &go, "--store"])
        .arg(d.join("fixture-store"))
        .arg(&toolchain_ctx));
    let zimagefile = "version: \"1\"\nwasm:\n  language: go\n  output: app.wasm\n  features: [netgo]\n\
                      \x20 build_args:\n    GREETING: hi\n  pre_build:\n    - echo \"$GREETING\" > pre.txt\n\
                      \x20 post_build:\n    - test -s app.wasm\n";
    let ctx = context(
        d,
        "compiled",
        &[
            ("ZImagefile", zimagefile.as_bytes()),
            ("main.go", b"package main"),
        ],
    );
    let tag = format!("{}/wasm/compiled:1", reg.host());
    build_push(
        &store,
        &ctx,
        &tag,
        &d.join("compiled-oci"),
        &["--build-arg".into(), format!("GO_IMAGE={go}")],
    );
    assert_eq!(read_back(d, &tag), module("wasip1/wasm tags:netgo pre:hi"));

    // A component is refused, saying why.
    let component = context(
        d,
        "component",
        &[
            ("ZImagefile", b"version: \"1\"\nwasm:\n  output: c.wasm\n"),
            ("c.wasm", b"\0asm\x0d\0\x01\0"),
        ],
    );
    let (o, _, e) = run(wharf()
        .arg("build")
        .arg("--store")
        .arg(&store)
        .arg(&component));
    assert!(!o.status.success());
    assert!(
        e.contains("is a WebAssembly component, not a core module"),
        "{e}"
    );
    drop(reg);
}
