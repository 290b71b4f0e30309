//! What `--progress plain` and `json` show besides instructions: each
//! base image resolution is a numbered step, and each blob pulled from a
//! registry is a numbered step with its size.

mod common;
use common::{json, ok, wharf};
use wharf_store::Store;
use wharf_testkit::images::store_linux_image;
use wharf_testkit::registry::{start, Auth};

#[test]
fn base_resolution_and_pulls_are_steps() {
    let reg = start(Auth::None, None);
    let dir = tempfile::tempdir().unwrap();
    let src = Store::open(dir.path().join("src")).unwrap();
    let base = format!("{}/base/hello:1", reg.host());
    store_linux_image(&src, &base, &[7u8; 3000]);
    ok(wharf()
        .arg("push")
        .arg("--store")
        .arg(dir.path().join("src"))
        .arg(&base));
    let ctx = dir.path().join("ctx");
    std::fs::create_dir(&ctx).unwrap();
    // COPY --from the image reads its layer: a pull.
    std::fs::write(
        ctx.join("Dockerfile"),
        format!("FROM scratch\nCOPY --from={base} /hello.txt /copied.txt\n"),
    )
    .unwrap();
    let (_, stderr) = ok(wharf()
        .args(["build", "--platform", "linux/amd64", "--progress", "plain"])
        .arg("--store")
        .arg(dir.path().join("store"))
        .arg(&ctx));
    let resolve = stderr
        .lines()
        .find(|l| l.contains(&format!("resolve {base} (sha256:")))
        .unwrap_or_else(|| panic!("no resolution step: {stderr}"));
    assert!(
        resolve.starts_with("#1 [linux/amd64 #0] line 2:"),
        "{resolve}"
    );
    let pull = stderr
        .lines()
        .find(|l| l.contains(" pull sha256:"))
        .unwrap_or_else(|| panic!("no pull step: {stderr}"));
    assert!(pull.starts_with('#'), "{pull}");
    assert!(
        pull.contains(" B ") || pull.contains("KiB"),
        "the size: {pull}"
    );

    // JSON: the resolution is a step event.
    let (_, stderr) = ok(wharf()
        .args([
            "build",
            "--platform",
            "linux/amd64",
            "--progress",
            "json",
            "--no-cache",
        ])
        .arg("--store")
        .arg(dir.path().join("store2"))
        .arg(&ctx));
    let events: Vec<_> = stderr.lines().map(json).collect();
    assert!(events
        .iter()
        .any(|e| e["event"] == "step-started"
            && e["instruction"] == format!("resolve {base}").as_str()));
    assert!(events.iter().any(|e| e["event"] == "step"
        && e["instruction"]
            .as_str()
            .unwrap()
            .starts_with(&format!("resolve {base} (sha256:"))));
}
