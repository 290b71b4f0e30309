//! The rootless scenario (Linux only); see the test's crate documentation.

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;

use crate::common::{self, busybox_tree, run_ok};
use wharf_sandbox::{ExitStatus, Network, RootlessState, SandboxSpec};

const USER: &str = "wharf-rootless";
const DIR_ENV: &str = "WHARF_ROOTLESS_TEST_DIR";

pub fn main() {
    // libtest passes flags such as --list; this binary has one test and ignores them,
    // but must not run anything when only listing.
    if std::env::args().any(|a| a == "--list") {
        println!("rootless: test");
        return;
    }
    match std::env::var(DIR_ENV) {
        Ok(dir) => unprivileged(Path::new(&dir)),
        Err(_) => orchestrate(),
    }
}

fn sh(cmd: &str) -> std::process::Output {
    Command::new("sh").args(["-c", cmd]).output().unwrap()
}

fn orchestrate() {
    if effective_uid() != 0 {
        // As a plain user, run the scenario directly.
        let dir = tempfile::tempdir().unwrap();
        std::env::set_var(DIR_ENV, dir.path());
        unprivileged(dir.path());
        return;
    }
    if fs::read_to_string("/proc/sys/user/max_user_namespaces")
        .map(|s| s.trim() == "0")
        .unwrap_or(false)
    {
        println!("rootless: SKIPPED: user namespaces are disabled (user.max_user_namespaces = 0)");
        return;
    }
    if Command::new("id")
        .arg(USER)
        .output()
        .map(|o| !o.status.success())
        .unwrap_or(true)
    {
        let out = sh(&format!("useradd -m {USER}"));
        assert!(
            out.status.success(),
            "useradd: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let subuid = fs::read_to_string("/etc/subuid").unwrap_or_default();
    if !subuid.lines().any(|l| l.starts_with(&format!("{USER}:"))) {
        let out = sh(&format!(
            "usermod --add-subuids 300000-365535 --add-subgids 300000-365535 {USER}"
        ));
        assert!(
            out.status.success(),
            "usermod: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let probe = sh(&format!(
        "setpriv --reuid={USER} --regid={USER} --clear-groups unshare -U true"
    ));
    if !probe.status.success() {
        println!(
            "rootless: SKIPPED: this machine forbids unprivileged user namespaces: {}",
            String::from_utf8_lossy(&probe.stderr).trim()
        );
        return;
    }
    let dir = tempfile::Builder::new()
        .prefix("wharf-rootless")
        .tempdir_in("/var/tmp")
        .unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o777)).unwrap();
    let exe = dir.path().join("rootless-test");
    fs::copy(std::env::current_exe().unwrap(), &exe).unwrap();
    fs::set_permissions(&exe, fs::Permissions::from_mode(0o755)).unwrap();
    let work = dir.path().join("w");
    fs::create_dir(&work).unwrap();
    sh(&format!("chown {USER}: {}", work.display()));
    let out = Command::new("setpriv")
        .args([
            &format!("--reuid={USER}"),
            &format!("--regid={USER}"),
            "--clear-groups",
            "env",
            "PATH=/usr/bin:/bin",
        ])
        .arg(format!("{DIR_ENV}={}", work.display()))
        .arg("TMPDIR=/var/tmp")
        .arg(&exe)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "the unprivileged run failed");
    assert!(stdout.contains("rootless: ok"));
    // Seen from the host, the file chowned to container 1000:2000 belongs to the
    // subordinate ids start + 999 / start + 1999.
    let line = fs::read_to_string("/etc/subuid").unwrap();
    let start: u32 = line
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{USER}:")))
        .and_then(|rest| rest.split(':').next()?.parse().ok())
        .unwrap();
    let md = fs::metadata(work.join("upper/owned")).unwrap();
    assert_eq!(md.uid(), start + 999);
    let _ = sh(&format!("rm -rf {}", dir.path().display()));
}

/// The effective uid, from the "Uid:" line of /proc/self/status.
fn effective_uid() -> u32 {
    let status = fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|rest| rest.split_whitespace().nth(1)?.parse().ok())
        .unwrap()
}

fn unprivileged(dir: &Path) {
    let state = wharf_sandbox::enter_rootless().expect("enter_rootless");
    let RootlessState::InUserNamespace { mapped_ids } = state else {
        panic!("expected to run in a user namespace, got {state:?}");
    };
    assert!(
        mapped_ids > 2000,
        "the subordinate range is mapped ({mapped_ids} ids)"
    );
    let lower = dir.join("lower");
    let upper = dir.join("upper");
    let work = dir.join("work");
    busybox_tree(&lower);
    fs::create_dir_all(lower.join("data/sub")).unwrap();
    fs::write(lower.join("data/sub/x"), "x").unwrap();
    fs::write(lower.join("motd"), "hi").unwrap();
    fs::create_dir(&upper).unwrap();
    fs::create_dir(&work).unwrap();
    let mut spec = SandboxSpec::new(
        vec![lower.clone()],
        upper.clone(),
        work.clone(),
        vec![
            "sh".into(),
            "-c".into(),
            "touch /owned && chown 1000:2000 /owned && rm /motd && rm -rf /data && mkdir /data && id -u && ls /sys/class/net".into(),
        ],
    );
    spec.env = vec![("PATH".into(), "/bin".into())];
    let out = run_ok(&spec);
    assert!(out.starts_with("0\nlo\n"), "{out}");
    let owned = fs::metadata(upper.join("owned")).unwrap();
    assert_eq!((owned.uid(), owned.gid()), (1000, 2000));
    let motd = fs::symlink_metadata(upper.join("motd")).unwrap();
    assert!(
        motd.file_type().is_char_device() && motd.rdev() == 0,
        "whiteout expected"
    );
    let mut entries: Vec<String> = fs::read_dir(&upper)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    entries.sort();
    assert_eq!(entries, ["data", "motd", "owned"], "stubs must be gone");
    let opaque = Command::new("python3")
        .args([
            "-c",
            &format!(
                "import os;print(os.getxattr({:?},'user.overlay.opaque').decode())",
                upper.join("data").display().to_string()
            ),
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&opaque.stdout), "y\n");

    // Host network in a user namespace: sysfs is refused, /sys comes from a bind.
    let upper2 = dir.join("upper2");
    let work2 = dir.join("work2");
    fs::create_dir(&upper2).unwrap();
    fs::create_dir(&work2).unwrap();
    let mut spec = SandboxSpec::new(vec![lower], upper2.clone(), work2, vec!["true".into()]);
    spec.env = vec![("PATH".into(), "/bin".into())];
    spec.network = Network::Host;
    let (result, out) = common::run(&spec);
    assert_eq!(result.unwrap(), ExitStatus::Code(0), "{}", out.stderr);
    assert_eq!(fs::read_dir(&upper2).unwrap().count(), 0);
    println!("rootless: ok");
}
