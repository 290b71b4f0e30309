//! `--build-context`: a directory read by `COPY --from=NAME` (also in
//! place of a stage of that name), an image for `FROM NAME`, and clear
//! refusals of what cannot work.

mod common;
use common::{json, run, to_oci_layout, wharf};
use std::path::Path;

fn layer_files(layout: &Path) -> Vec<(String, String)> {
    let index = json(&std::fs::read_to_string(layout.join("index.json")).unwrap());
    let blob = |d: &str| {
        layout
            .join("blobs/sha256")
            .join(d.trim_start_matches("sha256:"))
    };
    let manifest = json(
        &std::fs::read_to_string(blob(index["manifests"][0]["digest"].as_str().unwrap())).unwrap(),
    );
    let mut out = Vec::new();
    for l in manifest["layers"].as_array().unwrap() {
        let f = std::fs::File::open(blob(l["digest"].as_str().unwrap())).unwrap();
        let mut a = tar::Archive::new(flate2::read::GzDecoder::new(f));
        for e in a.entries().unwrap() {
            let mut e = e.unwrap();
            if !e.header().entry_type().is_file() {
                continue;
            }
            let name = e.path().unwrap().to_string_lossy().to_string();
            let mut text = String::new();
            std::io::Read::read_to_string(&mut e, &mut text).unwrap();
            out.push((name, text));
        }
    }
    out
}

#[test]
fn a_directory_context_is_read_by_copy_from_and_overrides_a_stage() {
    let dir = tempfile::tempdir().unwrap();
    let (ctx, extra) = (dir.path().join("ctx"), dir.path().join("extra"));
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::create_dir_all(extra.join("conf")).unwrap();
    std::fs::write(extra.join("conf/app.ini"), "from the named context\n").unwrap();
    std::fs::write(ctx.join("a.txt"), "from the stage\n").unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM scratch AS shared\nCOPY a.txt /conf/app.ini\nFROM scratch\nCOPY --from=Shared /conf/ /etc/app/\n",
    )
    .unwrap();
    let layout = dir.path().join("layout");
    let (out, _, stderr) = run(to_oci_layout(
        wharf()
            .arg("build")
            .arg("--build-context")
            .arg(format!("shared={}", extra.display())),
        &layout,
        &dir.path().join("store"),
        &ctx,
    ));
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        layer_files(&layout),
        vec![(
            "etc/app/app.ini".to_string(),
            "from the named context\n".to_string()
        )]
    );
}

#[test]
fn an_image_context_replaces_the_base_in_the_plan() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Dockerfile"),
        "FROM base\nCOPY --from=tools /bin/tool /bin/tool\n",
    )
    .unwrap();
    let (out, stdout, stderr) = run(wharf()
        .args(["plan", "--platform", "linux/amd64"])
        .args(["--build-context", "base=docker-image://example.com/team/base:1.2"])
        .args(["--build-context", "TOOLS=docker-image://example.com/tools@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"])
        .arg(dir.path()));
    assert!(out.status.success(), "{stderr}");
    let plan = json(&stdout);
    let stage = &plan["targets"][0]["stages"][0];
    assert_eq!(stage["base"]["reference"], "example.com/team/base:1.2");
    let copy = &stage["instructions"][0];
    assert_eq!(copy["reads"][0]["kind"], "image");
    assert!(copy["reads"][0]["reference"]
        .as_str()
        .unwrap()
        .starts_with("example.com/tools@sha256:"));
}

#[test]
fn contexts_that_cannot_work_are_refused_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let extra = dir.path().join("extra");
    std::fs::create_dir_all(&extra).unwrap();
    std::fs::write(dir.path().join("Dockerfile"), "FROM extra\n").unwrap();
    let dir_ctx = format!("extra={}", extra.display());
    for (spec, want) in [
        (dir_ctx.as_str(), "cannot be a base"),
        (
            "extra=oci-layout:///tmp/layout",
            "oci-layout:// contexts are not supported",
        ),
        ("extra=/nonexistent/dir", "is not a directory"),
        ("extra=docker-image://UPPER/Case", "not an image reference"),
        ("=x", "NAME=DIR"),
    ] {
        let (out, _, stderr) = run(wharf()
            .args(["plan", "--build-context", spec])
            .arg(dir.path()));
        assert!(!out.status.success(), "{spec} was accepted");
        assert!(stderr.contains(want), "{spec}: {stderr}");
    }
}
