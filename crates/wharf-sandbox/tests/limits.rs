//! `/etc/hosts` extra entries, the `/dev/shm` size and resource limits, in
//! the embedded sandbox and through `runc` (needs root, Debian's
//! busybox-static and runc).

#![cfg(target_os = "linux")]

mod common;

use common::*;
use wharf_sandbox::{ExitStatus, HostEntry, Ids, Rlimit, Runtime, SandboxSpec};

const PROBE: &str = "cat /etc/hosts; df -k /dev/shm | tail -n 1; \
     echo nofile=$(ulimit -n) hard=$(ulimit -Hn) core=$(ulimit -c)";

fn limited(s: &Scratch) -> SandboxSpec {
    let mut spec = s.spec(PROBE);
    spec.extra_hosts = vec![
        HostEntry::parse("db:10.1.2.3").unwrap(),
        HostEntry::parse("v6=[fd00::7]").unwrap(),
    ];
    spec.shm_size = Some(128 << 20);
    spec.rlimits = vec![
        Rlimit::parse("nofile=512:1024").unwrap(),
        Rlimit::parse("core=0").unwrap(),
    ];
    spec
}

fn check(out: &Output) {
    let text = &out.stdout;
    assert!(text.contains("localhost"), "{text}");
    assert!(text.contains("10.1.2.3\tdb\n"), "{text}");
    assert!(text.contains("fd00::7\tv6\n"), "{text}");
    // df -k: total size in KiB is the second column.
    let shm = text
        .lines()
        .find(|l| l.contains("/dev/shm"))
        .unwrap_or_else(|| panic!("{text}"));
    let kib: u64 = shm.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert_eq!(kib, 128 * 1024, "{shm}");
    assert!(text.contains("nofile=512 hard=1024 core=0"), "{text}");
}

#[test]
fn embedded_sandbox_applies_hosts_shm_size_and_ulimits() {
    let s = Scratch::new();
    let (result, out) = run(&limited(&s));
    assert_eq!(result.unwrap(), ExitStatus::Code(0), "{}", out.stderr);
    check(&out);
}

#[test]
fn limits_hold_for_a_non_root_user() {
    let s = Scratch::new();
    let mut spec = limited(&s);
    spec.user = Ids {
        uid: 1000,
        gid: 1000,
        additional_gids: vec![],
    };
    let (result, out) = run(&spec);
    assert_eq!(result.unwrap(), ExitStatus::Code(0), "{}", out.stderr);
    check(&out);
}

#[test]
fn default_shm_is_64_mib() {
    let s = Scratch::new();
    let (result, out) = run(&s.spec("df -k /dev/shm | tail -n 1"));
    assert_eq!(result.unwrap(), ExitStatus::Code(0), "{}", out.stderr);
    assert!(out.stdout.contains(" 65536 "), "{}", out.stdout);
}

#[test]
fn runc_bundle_carries_hosts_shm_size_and_rlimits() {
    let s = Scratch::new();
    let mut spec = limited(&s);
    spec.runtime = Runtime::External {
        program: "runc".into(),
    };
    let (result, out) = run(&spec);
    assert_eq!(result.unwrap(), ExitStatus::Code(0), "{}", out.stderr);
    check(&out);
}
