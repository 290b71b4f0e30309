//! The rootless scenarios (Linux only); see the test's crate documentation.

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;

use crate::common::{self, busybox_tree, run_ok};
use wharf_sandbox::{ExitStatus, Network, RootlessState, SandboxSpec};

/// A user with a subordinate id range.
const USER: &str = "wharf-rootless";
/// A user without one (single-id map).
const USER_SINGLE: &str = "wharf-rootless1";
const DIR_ENV: &str = "WHARF_ROOTLESS_TEST_DIR";
const SCENARIO_ENV: &str = "WHARF_ROOTLESS_SCENARIO";

pub fn main() {
    // libtest-style flags such as --list must not run anything.
    if std::env::args().any(|a| a == "--list") {
        println!("rootless: test");
        return;
    }
    match (std::env::var(DIR_ENV), std::env::var(SCENARIO_ENV)) {
        (Ok(dir), Ok(scenario)) if scenario == "single" => single_id_map(Path::new(&dir)),
        (Ok(dir), _) => subordinate_range(Path::new(&dir)),
        _ => orchestrate(),
    }
}

fn sh(cmd: &str) -> std::process::Output {
    Command::new("sh").args(["-c", cmd]).output().unwrap()
}

fn check(out: std::process::Output, what: &str) {
    assert!(
        out.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
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

fn subuid_start(user: &str) -> Option<u32> {
    fs::read_to_string("/etc/subuid")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{user}:")))
        .and_then(|rest| rest.split(':').next()?.parse().ok())
}

fn ensure_user(user: &str, subids: bool) {
    let exists = Command::new("id")
        .arg(user)
        .output()
        .is_ok_and(|o| o.status.success());
    if !exists {
        check(sh(&format!("useradd -m {user}")), "useradd");
    }
    match (subids, subuid_start(user)) {
        (true, None) => check(
            sh(&format!(
                "usermod --add-subuids 300000-365535 --add-subgids 300000-365535 {user}"
            )),
            "usermod --add-subuids",
        ),
        // useradd may have allocated a range from login.defs: take it away again.
        (false, Some(_)) => check(
            sh(&format!("sed -i '/^{user}:/d' /etc/subuid /etc/subgid")),
            "removing the subordinate ranges",
        ),
        _ => {}
    }
}

/// Runs this binary as `user` with the scenario's environment; returns its stdout.
fn run_as(user: &str, scenario: &str, base: &Path) -> String {
    let exe = base.join("rootless-test");
    if !exe.exists() {
        fs::copy(std::env::current_exe().unwrap(), &exe).unwrap();
        fs::set_permissions(&exe, fs::Permissions::from_mode(0o755)).unwrap();
    }
    let work = base.join(scenario);
    fs::create_dir(&work).unwrap();
    check(sh(&format!("chown {user}: {}", work.display())), "chown");
    let out = Command::new("setpriv")
        .args([
            &format!("--reuid={user}"),
            &format!("--regid={user}"),
            "--clear-groups",
        ])
        .args(["env", "PATH=/usr/bin:/bin", "TMPDIR=/var/tmp"])
        .arg(format!("{DIR_ENV}={}", work.display()))
        .arg(format!("{SCENARIO_ENV}={scenario}"))
        .arg(&exe)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    println!("{stdout}");
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        out.status.success(),
        "the unprivileged {scenario} run failed"
    );
    stdout
}

fn orchestrate() {
    if effective_uid() != 0 {
        // Already unprivileged: run the main scenario directly.
        let dir = tempfile::tempdir().unwrap();
        subordinate_range(dir.path());
        return;
    }
    let disabled =
        fs::read_to_string("/proc/sys/user/max_user_namespaces").is_ok_and(|s| s.trim() == "0");
    if disabled {
        println!("rootless: SKIPPED: user namespaces are disabled (user.max_user_namespaces = 0)");
        return;
    }
    ensure_user(USER, true);
    ensure_user(USER_SINGLE, false);
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
    let base = tempfile::Builder::new()
        .prefix("wharf-rootless")
        .tempdir_in("/var/tmp")
        .unwrap();
    fs::set_permissions(base.path(), fs::Permissions::from_mode(0o755)).unwrap();
    // A base layer's device node, made by root: the user namespace must not open it.
    let devices = base.path().join("devices");
    fs::create_dir(&devices).unwrap();
    check(
        sh(&format!("mknod -m 666 {}/kmsg c 1 11", devices.display())),
        "mknod",
    );

    assert!(run_as(USER, "subids", base.path()).contains("rootless subids: ok"));
    // Seen from the host, the file chowned to container 1000:2000 belongs to the
    // subordinate id start + 999.
    let start = subuid_start(USER).unwrap();
    let md = fs::metadata(base.path().join("subids/main-upper/owned")).unwrap();
    assert_eq!(md.uid(), start + 999);

    assert!(run_as(USER_SINGLE, "single", base.path()).contains("rootless single: ok"));
    let _ = sh(&format!("rm -rf {}", base.path().display()));
}

/// lower (busybox plus a few files), upper and work directories under `dir`.
fn scratch(dir: &Path, name: &str) -> SandboxSpec {
    let lower = dir.join("lower");
    if !lower.exists() {
        busybox_tree(&lower);
        fs::create_dir_all(lower.join("data/sub")).unwrap();
        fs::write(lower.join("data/sub/x"), "x").unwrap();
        fs::write(lower.join("motd"), "hi").unwrap();
    }
    let upper = dir.join(format!("{name}-upper"));
    let work = dir.join(format!("{name}-work"));
    fs::create_dir(&upper).unwrap();
    fs::create_dir(&work).unwrap();
    let mut spec = SandboxSpec::new(vec![lower], upper, work, vec!["true".into()]);
    spec.env = vec![("PATH".into(), "/bin".into())];
    spec
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

fn subordinate_range(dir: &Path) {
    let state = wharf_sandbox::enter_rootless().expect("enter_rootless");
    let RootlessState::InUserNamespace { mapped_ids } = state else {
        panic!("expected to run in a user namespace, got {state:?}");
    };
    assert!(
        mapped_ids > 2000,
        "the subordinate range is mapped ({mapped_ids} ids)"
    );
    let mut spec = scratch(dir, "main");
    spec.args = vec![
        "sh".into(),
        "-c".into(),
        "touch /owned && chown 1000:2000 /owned && rm /motd && rm -rf /data && mkdir /data \
         && id -u && ls /sys/class/net"
            .into(),
    ];
    let out = run_ok(&spec);
    assert!(out.starts_with("0\nlo\n"), "{out}");
    let upper = spec.upper_dir.clone();
    let owned = fs::metadata(upper.join("owned")).unwrap();
    assert_eq!((owned.uid(), owned.gid()), (1000, 2000));
    let motd = fs::symlink_metadata(upper.join("motd")).unwrap();
    assert!(
        motd.file_type().is_char_device() && motd.rdev() == 0,
        "whiteout expected"
    );
    assert_eq!(
        entries(&upper),
        ["data", "motd", "owned"],
        "stubs must be gone"
    );
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
    let mut spec = scratch(dir, "host-net");
    spec.network = Network::Host;
    let (result, out) = common::run(&spec);
    assert_eq!(result.unwrap(), ExitStatus::Code(0), "{}", out.stderr);
    assert!(entries(&spec.upper_dir).is_empty());

    // The external runtime is refused clearly.
    let mut spec = scratch(dir, "runc");
    spec.runtime = wharf_sandbox::Runtime::External {
        program: "runc".into(),
    };
    let err = common::run(&spec).0.unwrap_err().to_string();
    assert!(err.contains("rootless"), "{err}");

    // Device policy: the node the orchestrator made opens nowhere, mknod is refused,
    // the standard devices work.
    let devices = dir.parent().unwrap().join("devices");
    let mut spec = scratch(dir, "devices");
    spec.lower_dirs.insert(0, devices.clone());
    spec.mounts = vec![
        wharf_sandbox::Mount::Layers {
            lower_dirs: vec![devices.clone()],
            target: "/from".into(),
            writable: false,
        },
        wharf_sandbox::Mount::Bind {
            source: devices,
            target: "/bound".into(),
            readonly: false,
        },
    ];
    spec.args = vec!["sh".into(), "-c".into(), common::DEVICE_PROBE.into()];
    assert_eq!(run_ok(&spec), "3\n2\n1\nfull\n");
    println!("rootless subids: ok");
}

fn single_id_map(dir: &Path) {
    let state = wharf_sandbox::enter_rootless().expect("enter_rootless");
    assert_eq!(state, RootlessState::InUserNamespace { mapped_ids: 1 });
    let mut spec = scratch(dir, "single");
    spec.args = vec![
        "sh".into(),
        "-c".into(),
        "id -u; echo new > /f; rm /motd; if chown 1000 /f 2>/dev/null; then echo chowned; fi"
            .into(),
    ];
    assert_eq!(run_ok(&spec), "0\n");
    assert_eq!(entries(&spec.upper_dir), ["f", "motd"]);
    println!("rootless single: ok");
}
