//! The device policy of RUN through the `wharf` binary: a device node shipped
//! in a base layer never opens the host's device, `mknod`
//! is refused, and the standard devices work, in the embedded sandbox and with
//! `runc`. Needs root, Debian's busybox-static and runc; rootless mode is
//! covered by the sandbox's own rootless test.
#![cfg(target_os = "linux")]

mod common;
use common::{ok, run, wharf};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use wharf_store::Store;
use wharf_testkit::registry::{start, Auth, Registry};

/// A registry holding `<host>/base/busybox-kmsg:1`: busybox whose layer also ships
/// `/kmsg`, a node for the host's `/dev/kmsg` (`c 1 11`), mode 0666.
fn registry_with_device_image() -> (Registry, tempfile::TempDir, String) {
    assert!(
        wharf_testkit::busybox::available(),
        "install Debian's busybox-static"
    );
    let mut rootfs = tar::Builder::new(Vec::new());
    let busybox = wharf_testkit::busybox::rootfs_tar();
    for entry in tar::Archive::new(&busybox[..]).entries().unwrap() {
        let mut entry = entry.unwrap();
        let header = entry.header().clone();
        rootfs.append(&header, &mut entry).unwrap();
    }
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(tar::EntryType::Char);
    h.set_path("kmsg").unwrap();
    h.set_mode(0o666);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(1_700_000_000);
    h.set_device_major(1).unwrap();
    h.set_device_minor(11).unwrap();
    h.set_size(0);
    h.set_cksum();
    rootfs.append(&h, std::io::empty()).unwrap();

    let reg = start(Auth::None, None);
    let dir = tempfile::tempdir().unwrap();
    let src = Store::open(dir.path().join("src")).unwrap();
    let name = format!("{}/base/busybox-kmsg:1", reg.host());
    wharf_testkit::busybox::store_rootfs_image(&src, &name, rootfs.into_inner().unwrap());
    ok(wharf()
        .arg("push")
        .arg("--store")
        .arg(dir.path().join("src"))
        .arg(&name));
    (reg, dir, name)
}

const PROBE: &str =
    "RUN test -c /kmsg && test \"$(head -c 3 /dev/zero | wc -c)\" = 3 && echo x > /dev/null \
    && ! (exec 3</kmsg) 2>/dev/null && ! mknod /tmp/k c 10 232 2>/dev/null \
    && echo DEVICE-POLICY-OK";

fn build(store: &Path, ctx: &Path, runtime: &[&str]) -> (bool, String) {
    let (out, _, stderr) = run(wharf()
        .args(["build", "--progress", "plain", "--no-cache"])
        .args(runtime)
        .arg("--store")
        .arg(store)
        .arg(ctx));
    (out.status.success(), stderr)
}

#[test]
fn run_never_opens_host_devices_in_the_sandbox_or_runc() {
    let (reg, dir, busybox) = registry_with_device_image();
    // A store under a traversable path, as under a home directory.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let ctx = dir.path().join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    let store = dir.path().join("store");
    for runtime in [&[][..], &["--runtime", "runc"][..]] {
        std::fs::write(ctx.join("Dockerfile"), format!("FROM {busybox}\n{PROBE}\n")).unwrap();
        let (success, stderr) = build(&store, &ctx, runtime);
        assert!(success, "{runtime:?}: {stderr}");
        assert!(stderr.contains("DEVICE-POLICY-OK"), "{runtime:?}: {stderr}");

        // The probe's own reproducer fails at mknod.
        std::fs::write(
            ctx.join("Dockerfile"),
            format!(
                "FROM {busybox}\nRUN mknod /tmp/k c 10 232 && (exec 3</tmp/k) && echo OPENED\n"
            ),
        )
        .unwrap();
        let (success, stderr) = build(&store, &ctx, runtime);
        assert!(!success, "{runtime:?}: {stderr}");
        assert!(!stderr.contains("OPENED\n"), "{runtime:?}: {stderr}");
    }

    // The base layer's snapshot holds busybox; another local user cannot
    // even reach it.
    let snapshots = store.join("wharf-snapshots");
    let md = std::fs::metadata(&snapshots).unwrap();
    assert_eq!(md.permissions().mode() & 0o7777, 0o700);
    let snapshot = std::fs::read_dir(&snapshots)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let busybox_path = snapshot.join("bin/busybox");
    assert!(busybox_path.is_file());
    let (out, _, _) = run(std::process::Command::new("setpriv")
        .args([
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            "test",
            "-e",
        ])
        .arg(&busybox_path));
    assert!(
        !out.status.success(),
        "nobody reaches {}",
        busybox_path.display()
    );
    drop(reg);
}

/// `wharf <args>` with its stdout a pipe whose reader is gone before it
/// starts: its first write fails with EPIPE (Rust ignores SIGPIPE), the
/// state `| head` leaves it in.
fn with_closed_stdout(args: &[&std::ffi::OsStr]) -> std::process::Output {
    let (reader, writer) = rustix::pipe::pipe().unwrap();
    drop(reader);
    wharf()
        .args(args)
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap()
}

#[test]
fn plan_dry_run_and_images_end_quietly_when_stdout_is_closed() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = dir.path().join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM scratch
ENV A=1
",
    )
    .unwrap();
    let store = dir.path().join("store");
    wharf_testkit::images::store_linux_image(
        &Store::open(&store).unwrap(),
        "example.test/img:1",
        b"content",
    );
    let c = ctx.as_os_str();
    let s = store.as_os_str();
    for args in [
        vec!["plan".as_ref(), c],
        vec!["build".as_ref(), "--dry-run".as_ref(), c],
        vec!["images".as_ref(), "--store".as_ref(), s],
    ] {
        let out = with_closed_stdout(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

#[test]
fn prune_removes_what_killed_builds_left_in_the_temporary_area() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let s = Store::open(&store).unwrap();
    // What a build killed by SIGKILL leaves: its temporary directory with
    // a layer spool, and no lease held.
    let left = s.temp_dir().unwrap().keep();
    std::fs::write(left.join("spool.tar"), vec![7u8; 1 << 20]).unwrap();
    let (_, stderr) = ok(wharf().arg("prune").arg("--store").arg(&store));
    assert!(stderr.contains("1 temporary file(s)"), "{stderr}");
    assert!(stderr.contains("freed 1.0 MiB"), "{stderr}");
    assert!(!left.exists());
}

/// Files under `roots` (recursively) whose content holds `needle`.
fn files_holding(roots: &[std::path::PathBuf], needle: &[u8]) -> Vec<String> {
    fn walk(dir: &Path, needle: &[u8], out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let Ok(t) = e.file_type() else { continue };
            if t.is_dir() {
                walk(&e.path(), needle, out);
            } else if t.is_file() {
                let held = std::fs::read(e.path())
                    .is_ok_and(|d| d.windows(needle.len()).any(|w| w == needle));
                if held {
                    out.push(e.path().display().to_string());
                }
            }
        }
    }
    let mut out = Vec::new();
    for root in roots {
        walk(root, needle, &mut out);
    }
    out
}

#[test]
fn a_killed_build_leaves_no_copy_of_a_secret() {
    use std::io::BufRead;
    let (reg, dir, busybox) = registry_with_device_image();
    let ctx = dir.path().join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        format!(
            "FROM {busybox}\nRUN --mount=type=secret,id=token \
             grep -q kill-9-secret-value /run/secrets/token && echo READY-FOR-KILL && sleep 600\n"
        ),
    )
    .unwrap();
    let store = dir.path().join("store");
    let secret = b"kill-9-secret-value-5150";
    let mut child = wharf()
        .args([
            "build",
            "--progress",
            "plain",
            "--secret",
            "id=token,env=WHARF_KILL_SECRET",
        ])
        .env("WHARF_KILL_SECRET", std::str::from_utf8(secret).unwrap())
        .arg("--store")
        .arg(&store)
        .arg(&ctx)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The RUN has read the secret and waits: that is where kill -9 lands.
    let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = Vec::new();
    loop {
        let line = lines.next().expect("the build ended before READY").unwrap();
        if line.contains("READY-FOR-KILL") {
            break;
        }
        seen.push(line);
    }
    let mut places = vec![store.clone(), "/dev/shm".into()];
    for e in std::fs::read_dir(std::env::temp_dir()).unwrap().flatten() {
        if e.file_name().to_string_lossy().starts_with("wharf") {
            places.push(e.path());
        }
    }
    assert_eq!(files_holding(&places, secret), Vec::<String>::new());
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert_eq!(files_holding(&places, secret), Vec::<String>::new());
    drop(reg);
}
