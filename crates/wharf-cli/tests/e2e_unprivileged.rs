//! `wharf build` as a plain user on a machine without user namespaces
//! (as in an unprivileged CI container): the test enters a user namespace
//! of its own (ids 0-65535 mapped as they are outside), sets
//! `user.max_user_namespaces` to 0 there, which holds for it and every
//! namespace below it and for nothing else on the machine, and runs the
//! `wharf` binary as `nobody` with `setpriv`. A Windows image built on
//! Linux and a COPY-only Linux image build; a Linux RUN is refused before
//! anything is fetched, naming what is missing. Needs root, util-linux's
//! `unshare`/`setpriv` and a loopback `docker-registry`.
#![cfg(target_os = "linux")]

mod common;
use common::{ok, wharf};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use wharf_store::Store;
use wharf_testkit::images::store_windows_image;
use wharf_testkit::registry::{start, Auth, Registry};

const NOBODY: u32 = 65534;

/// Runs `args` as `nobody` in a user namespace where no further user
/// namespace can be created.
fn without_user_namespaces(args: &[&str]) -> Output {
    // The map is written from here once the namespace exists; the second
    // exec then runs as root of the namespace with its capabilities.
    let script = r#"read go; exec sh -c 'echo 0 > /proc/sys/user/max_user_namespaces && exec setpriv --reuid=65534 --regid=65534 --clear-groups "$@"' sh "$@""#;
    let mut child = Command::new("unshare")
        .args(["--user", "sh", "-c", script, "sh"])
        .args(args)
        .env("HOME", "/nonexistent")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("unshare (util-linux)");
    let pid = child.id();
    let own = std::fs::read_link("/proc/self/ns/user").unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::fs::read_link(format!("/proc/{pid}/ns/user"))
        .ok()
        .as_ref()
        == Some(&own)
    {
        assert!(
            std::time::Instant::now() < deadline,
            "unshare never entered a user namespace"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    for map in ["uid_map", "gid_map"] {
        std::fs::write(format!("/proc/{pid}/{map}"), "0 0 65536\n").unwrap();
    }
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"go\n").unwrap();
    drop(stdin);
    child.wait_with_output().unwrap()
}

/// A registry with a Windows base and the busybox base.
fn registry() -> (Registry, tempfile::TempDir, String, String) {
    let reg = start(Auth::None, None);
    let dir = tempfile::tempdir().unwrap();
    let src = Store::open(dir.path().join("src")).unwrap();
    let windows = format!("{}/base/win:1", reg.host());
    let desc = store_windows_image(&src, "10.0.20348.2113");
    src.tag(&windows, &desc).unwrap();
    let linux = format!("{}/base/busybox:1", reg.host());
    wharf_testkit::busybox::store_busybox_image(&src, &linux);
    for name in [&windows, &linux] {
        ok(wharf()
            .arg("push")
            .arg("--store")
            .arg(dir.path().join("src"))
            .arg(name));
    }
    (reg, dir, windows, linux)
}

fn open_to_nobody(path: &Path) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn plain_user_without_user_namespaces_builds_all_but_linux_run() {
    let probe = without_user_namespaces(&["unshare", "--user", "true"]);
    assert!(
        !probe.status.success(),
        "the test's namespace still allows user namespaces"
    );
    let (reg, dir, windows, linux) = registry();
    open_to_nobody(dir.path());
    let ctx = dir.path().join("ctx");
    std::fs::create_dir_all(ctx.join("app")).unwrap();
    std::fs::write(ctx.join("app/readme.txt"), "hello\n").unwrap();
    for p in [ctx.clone(), ctx.join("app")] {
        open_to_nobody(&p);
    }
    std::fs::set_permissions(
        ctx.join("app/readme.txt"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let store = dir.path().join("store");
    std::fs::create_dir(&store).unwrap();
    std::os::unix::fs::chown(&store, Some(NOBODY), Some(NOBODY)).unwrap();
    let wharf_bin = env!("CARGO_BIN_EXE_wharf");
    let store_s = store.display().to_string();
    let build = |dockerfile: &str, tag: &str, platform: &str| {
        let name = tag.rsplit('/').next().unwrap().replace(':', "-");
        let file = dir.path().join(format!("{name}.Dockerfile"));
        std::fs::write(&file, dockerfile).unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let file_s = file.display().to_string();
        let ctx_s = ctx.display().to_string();
        without_user_namespaces(&[
            wharf_bin,
            "build",
            "--progress",
            "plain",
            "--platform",
            platform,
            "--store",
            &store_s,
            "-f",
            &file_s,
            "-t",
            tag,
            &ctx_s,
        ])
    };
    let text = |o: &Output| String::from_utf8_lossy(&o.stderr).to_string();

    let out = build(
        &format!("FROM {windows}\nCOPY app/ C:/app/\nENV MODE=prod\n"),
        "example.test/win:1",
        "windows/amd64",
    );
    assert!(out.status.success(), "Windows image: {}", text(&out));
    let out = build(
        &format!("FROM {linux}\nCOPY app/ /app/\nUSER 1000\n"),
        "example.test/linux:1",
        "linux/amd64",
    );
    assert!(
        out.status.success(),
        "COPY-only Linux image: {}",
        text(&out)
    );
    // Both are in the store, owned by the plain user.
    let images = without_user_namespaces(&[wharf_bin, "images", "--store", &store_s]);
    let listed = String::from_utf8_lossy(&images.stdout).to_string();
    assert!(listed.contains("example.test/win:1"), "{listed}");
    assert!(listed.contains("example.test/linux:1"), "{listed}");

    // A Linux RUN is refused before anything runs, saying what is missing.
    let out = build(
        &format!("FROM {linux}\nRUN true\n"),
        "example.test/run:1",
        "linux/amd64",
    );
    assert!(!out.status.success());
    let err = text(&out);
    assert!(err.contains("needs root or a user namespace"), "{err}");
    assert!(err.contains("user.max_user_namespaces"), "{err}");
    assert!(err.contains("run-1.Dockerfile:2"), "{err}");
    drop(reg);
}
