//! Helpers shared by the `wharf` binary's integration tests: run the
//! binary, check it succeeded, read its JSON.
#![allow(dead_code)]

use std::process::{Command, Output};

/// The `wharf` binary under test.
pub fn wharf() -> Command {
    Command::new(env!("CARGO_BIN_EXE_wharf"))
}

/// A build context `ctx` under `dir`: `a.txt` and a Dockerfile that
/// copies it onto scratch.
pub fn copy_context(dir: &std::path::Path) -> std::path::PathBuf {
    let ctx = dir.join("ctx");
    std::fs::create_dir(&ctx).unwrap();
    std::fs::write(ctx.join("Dockerfile"), "FROM scratch\nCOPY a.txt /\n").unwrap();
    std::fs::write(ctx.join("a.txt"), "a\n").unwrap();
    ctx
}

/// Runs `cmd`: its output, stdout and stderr as text.
pub fn run(cmd: &mut Command) -> (Output, String, String) {
    let out = cmd.output().expect("the command runs");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    (out, stdout, stderr)
}

/// Runs `cmd` and fails the test with its output unless it succeeded.
pub fn ok(cmd: &mut Command) -> (String, String) {
    let (out, stdout, stderr) = run(cmd);
    assert!(out.status.success(), "{cmd:?} failed:\n{stderr}\n{stdout}");
    (stdout, stderr)
}

/// Ends a `wharf build` command line: export to the OCI layout `layout`,
/// with the store `store`, from the context `ctx`.
pub fn to_oci_layout<'c>(
    cmd: &'c mut Command,
    layout: &std::path::Path,
    store: &std::path::Path,
    ctx: &std::path::Path,
) -> &'c mut Command {
    cmd.arg("--output")
        .arg(format!("type=oci,dest={}", layout.display()))
        .arg("--store")
        .arg(store)
        .arg(ctx)
}

pub fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

/// Runs the independent Windows layer checker (Python's tarfile) on the
/// layer blob at `path`.
pub fn check_windows_layer(path: &std::path::Path) {
    let checker = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../wharf-layer/tests/check_windows_layer.py"
    );
    ok(Command::new("python3").arg(checker).arg(path));
}

/// Whether an image configuration's `Env` holds `entry` (`NAME=value`).
pub fn has_env(config: &serde_json::Value, entry: &str) -> bool {
    config["config"]["Env"]
        .as_array()
        .is_some_and(|env| env.iter().any(|e| e == entry))
}

/// A loopback `docker-registry` holding `<host>/base/busybox:1` (Debian's
/// `busybox-static` made into an image), the directory of its source
/// store, and that name.
#[cfg(target_os = "linux")]
pub fn registry_with_busybox() -> (wharf_testkit::registry::Registry, tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let (reg, name) = registry_with_busybox_in(dir.path());
    (reg, dir, name)
}

/// [`registry_with_busybox`] with its source store under `dir/src`.
#[cfg(target_os = "linux")]
pub fn registry_with_busybox_in(
    dir: &std::path::Path,
) -> (wharf_testkit::registry::Registry, String) {
    assert!(
        wharf_testkit::busybox::available(),
        "install Debian's busybox-static"
    );
    let reg = wharf_testkit::registry::start(wharf_testkit::registry::Auth::None, None);
    let src = wharf_store::Store::open(dir.join("src")).unwrap();
    let name = format!("{}/base/busybox:1", reg.host());
    wharf_testkit::busybox::store_busybox_image(&src, &name);
    ok(wharf()
        .arg("push")
        .arg("--store")
        .arg(dir.join("src"))
        .arg(&name));
    (reg, name)
}
