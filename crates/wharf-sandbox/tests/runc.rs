//! The external runtime path with `runc` (needs root and Debian's runc and
//! busybox-static).

#![cfg(target_os = "linux")]

mod common;

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};

use common::*;
use wharf_sandbox::{ExitStatus, Ids, Mount, Runtime, SandboxSpec};

fn runc(s: &Scratch, script: &str) -> SandboxSpec {
    let mut spec = s.spec(script);
    spec.runtime = Runtime::External {
        program: "runc".into(),
    };
    spec
}

#[test]
fn runc_runs_the_command_and_leaves_only_its_changes() {
    let s = Scratch::new();
    fs::create_dir(s.lower.join("etc")).unwrap();
    fs::write(s.lower.join("etc/motd"), "hi").unwrap();
    let other = s.dir.path().join("other");
    fs::create_dir(&other).unwrap();
    fs::write(other.join("hello"), "layers\n").unwrap();
    let before = mounts();
    let mut spec = runc(
        &s,
        "echo out; echo err >&2; hostname; id -u; cat /from/hello; echo $GREETING; \
         ls /sys/class/net; echo data > /cache/x; rm /etc/motd; mkdir -p /new && echo n > /new/f; exit 7",
    );
    spec.hostname = "runc-box".into();
    spec.env.push(("GREETING".into(), "hello there".into()));
    spec.user = Ids {
        uid: 0,
        gid: 0,
        additional_gids: vec![],
    };
    spec.mounts = vec![
        Mount::Layers {
            lower_dirs: vec![other],
            target: "/from".into(),
            writable: false,
        },
        Mount::Tmpfs {
            target: "/cache".into(),
            size: None,
            mode: None,
        },
    ];
    let (result, out) = run(&spec);
    assert_eq!(
        result.unwrap(),
        ExitStatus::Code(7),
        "stderr: {}",
        out.stderr
    );
    assert_eq!(out.stdout, "out\nrunc-box\n0\nlayers\nhello there\nlo\n");
    assert_eq!(out.stderr, "err\n");
    assert_eq!(s.upper_entries(), ["etc", "etc/motd", "new", "new/f"]);
    let motd = fs::symlink_metadata(s.upper.join("etc/motd")).unwrap();
    assert!(motd.file_type().is_char_device() && motd.rdev() == 0);
    assert_eq!(mounts(), before, "nothing stays mounted");
}

#[test]
fn runc_device_nodes_never_open_host_devices_but_standard_devices_work() {
    let s = Scratch::new();
    let devices = device_node_dir(&s);
    let mut spec = device_spec(&s, &devices);
    spec.runtime = Runtime::External {
        program: "runc".into(),
    };
    let (result, out) = run(&spec);
    assert_eq!(result.unwrap(), ExitStatus::Code(0), "{}", out.stderr);
    assert_eq!(out.stdout, "3\n2\n1\nfull\n");
}

#[test]
fn runc_file_mounts_are_read_only_memory_files_that_leave_no_trace() {
    let s = Scratch::new();
    let mut spec = secret_spec(&s);
    spec.runtime = Runtime::External {
        program: "runc".into(),
    };
    let (result, out) = run(&spec);
    assert_eq!(result.unwrap(), ExitStatus::Code(0), "{}", out.stderr);
    assert_eq!(out.stdout, SECRET_OUTPUT);
    assert_eq!(s.upper_entries(), Vec::<String>::new());
}

#[test]
fn runc_missing_program_is_a_clear_error() {
    let s = Scratch::new();
    let mut spec = s.spec("true");
    spec.runtime = Runtime::External {
        program: "/nonexistent/runc".into(),
    };
    let err = run(&spec).0.unwrap_err().to_string();
    assert!(
        err.contains("/nonexistent/runc") && err.contains("runc"),
        "{err}"
    );
}
