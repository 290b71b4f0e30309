//! Runs real commands in the embedded sandbox on a busybox root (needs root and
//! Debian's busybox-static).

#![cfg(target_os = "linux")]

mod common;

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::PathBuf;

use common::*;
use wharf_sandbox::{ExitStatus, Ids, Mount, Network, RootfsMode, SandboxError};

#[test]
fn exit_codes_and_signals_are_reported_exactly() {
    let s = Scratch::new();
    assert_eq!(run(&s.spec("exit 3")).0.unwrap(), ExitStatus::Code(3));
    assert_eq!(run(&s.spec("true")).0.unwrap(), ExitStatus::Code(0));
    assert_eq!(
        run(&s.spec("kill -TERM $$")).0.unwrap(),
        ExitStatus::Signal(15)
    );
    assert_eq!(
        run(&s.spec("kill -KILL $$")).0.unwrap(),
        ExitStatus::Signal(9)
    );
}

#[test]
fn environment_is_exactly_the_given_one() {
    let s = Scratch::new();
    let mut spec = s.spec("");
    spec.args = vec!["env".into()];
    spec.env = vec![
        ("PATH".into(), "/bin".into()),
        ("GREETING".into(), "hello world".into()),
        ("EMPTY".into(), String::new()),
    ];
    let mut lines: Vec<String> = run_ok(&spec).lines().map(str::to_string).collect();
    lines.sort();
    assert_eq!(lines, ["EMPTY=", "GREETING=hello world", "PATH=/bin"]);
}

#[test]
fn command_is_looked_up_in_the_container_path() {
    let s = Scratch::new();
    let mut spec = s.spec("");
    spec.args = vec!["echo".into(), "found".into()];
    spec.env = vec![("PATH".into(), "/nonexistent:/bin".into())];
    assert_eq!(run_ok(&spec), "found\n");
    spec.args = vec!["no-such-command".into()];
    match run(&spec).0 {
        Err(SandboxError::CommandNotFound { command, searched }) => {
            assert_eq!(command, "no-such-command");
            assert_eq!(searched, "/nonexistent:/bin");
        }
        other => panic!("expected CommandNotFound, got {other:?}"),
    }
}

#[test]
fn missing_working_directory_is_created() {
    let s = Scratch::new();
    let mut spec = s.spec("pwd");
    spec.cwd = "/app/src".into();
    assert_eq!(run_ok(&spec), "/app/src\n");
    assert_eq!(s.upper_entries(), ["app", "app/src"]);
    let md = fs::metadata(s.upper.join("app/src")).unwrap();
    assert_eq!(md.mode() & 0o7777, 0o755);
}

#[test]
fn user_group_and_additional_groups_apply() {
    let s = Scratch::new();
    let mut spec = s.spec("id -u; id -g; id -G; touch /tmpfile; stat -c %u:%g /tmpfile");
    spec.user = Ids {
        uid: 1234,
        gid: 567,
        additional_gids: vec![10, 20],
    };
    spec.mounts.push(Mount::Tmpfs {
        target: "/t".into(),
        size: None,
        mode: None,
    });
    // The root is owned by root, so the user may not create /tmpfile: prove the identity
    // by the failure, then write where it may.
    let (result, out) = run(&spec);
    assert_eq!(result.unwrap(), ExitStatus::Code(1));
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines[0], "1234");
    assert_eq!(lines[1], "567");
    let groups: Vec<&str> = lines[2].split_whitespace().collect();
    assert!(
        groups.contains(&"10") && groups.contains(&"20"),
        "{groups:?}"
    );
    spec.args[2] = "touch /t/f && stat -c %u:%g /t/f".into();
    assert_eq!(run_ok(&spec), "1234:567\n");
}

#[test]
fn running_true_leaves_an_empty_upper_directory() {
    let s = Scratch::new();
    // /etc exists in the lower (so /etc/hosts forces a copy-up of /etc); /dev, /proc,
    // /sys do not exist at all.
    fs::create_dir(s.lower.join("etc")).unwrap();
    fs::write(s.lower.join("etc/passwd"), "root:x:0:0::/:/bin/sh\n").unwrap();
    let mut spec = s.spec("true");
    spec.mounts = vec![
        Mount::Tmpfs {
            target: "/deep/tmp/dir".into(),
            size: Some(1 << 20),
            mode: Some(0o700),
        },
        Mount::Bind {
            source: s.lower.join("etc/passwd"),
            target: "/etc/mounted-file".into(),
            readonly: true,
        },
    ];
    run_ok(&spec);
    assert_eq!(s.upper_entries(), Vec::<String>::new());
}

#[test]
fn written_files_appear_with_only_their_parents() {
    let s = Scratch::new();
    run_ok(
        &s.spec("mkdir -p /a/b && echo hi > /a/b/f && ls /proc >/dev/null && echo x > /dev/null"),
    );
    assert_eq!(s.upper_entries(), ["a", "a/b", "a/b/f"]);
    assert_eq!(fs::read_to_string(s.upper.join("a/b/f")).unwrap(), "hi\n");
}

#[test]
fn deletions_modes_symlinks_and_opaque_directories() {
    let s = Scratch::new();
    fs::create_dir_all(s.lower.join("etc")).unwrap();
    fs::write(s.lower.join("etc/motd"), "hello").unwrap();
    fs::write(s.lower.join("etc/passwd"), "root:x:0:0::/:/bin/sh\n").unwrap();
    fs::create_dir_all(s.lower.join("data/sub")).unwrap();
    fs::write(s.lower.join("data/sub/x"), "x").unwrap();
    run_ok(&s.spec(
        "rm /etc/motd && chmod 600 /etc/passwd && ln -s ../etc/passwd /link && rm -rf /data && mkdir /data",
    ));
    assert_eq!(
        s.upper_entries(),
        ["data", "etc", "etc/motd", "etc/passwd", "link"]
    );
    let motd = fs::symlink_metadata(s.upper.join("etc/motd")).unwrap();
    assert!(
        motd.file_type().is_char_device() && motd.rdev() == 0,
        "whiteout expected"
    );
    let passwd = fs::metadata(s.upper.join("etc/passwd")).unwrap();
    assert_eq!(passwd.permissions().mode() & 0o7777, 0o600);
    assert_eq!(
        fs::read_link(s.upper.join("link")).unwrap(),
        PathBuf::from("../etc/passwd")
    );
    assert!(xattr_is_y(&s.upper.join("data"), "trusted.overlay.opaque"));
}

fn xattr_is_y(path: &std::path::Path, name: &str) -> bool {
    let out = std::process::Command::new("getfattr")
        .args(["--absolute-names", "--only-values", "-n", name])
        .arg(path)
        .output();
    match out {
        Ok(out) => out.stdout == b"y",
        // Without getfattr (attr package), read the xattr through python3.
        Err(_) => {
            let script = format!(
                "import os;print(os.getxattr({:?},{:?}).decode())",
                path.display().to_string(),
                name
            );
            let out = std::process::Command::new("python3")
                .args(["-c", &script])
                .output()
                .unwrap();
            out.stdout == b"y\n"
        }
    }
}

#[test]
fn bind_mounts_read_only_and_read_write() {
    let s = Scratch::new();
    let host = s.dir.path().join("host");
    fs::create_dir(&host).unwrap();
    fs::write(host.join("in"), "from host").unwrap();
    let mut spec = s.spec(
        "cat /ro/in; if touch /ro/new 2>/dev/null; then echo ro-writable; fi; echo out > /rw/out",
    );
    spec.mounts = vec![
        Mount::Bind {
            source: host.clone(),
            target: "/ro".into(),
            readonly: true,
        },
        Mount::Bind {
            source: host.clone(),
            target: "/mnt/rw".into(),
            readonly: false,
        },
    ];
    spec.args[2] = spec.args[2].replace("/rw/out", "/mnt/rw/out");
    assert_eq!(run_ok(&spec), "from host");
    assert!(!host.join("new").exists());
    assert_eq!(fs::read_to_string(host.join("out")).unwrap(), "out\n");
    assert_eq!(s.upper_entries(), Vec::<String>::new());
}

#[test]
fn tmpfs_contents_stay_out_of_the_upper_directory() {
    let s = Scratch::new();
    let mut spec = s.spec(
        "echo data > /cache/f && mkdir /cache/d && grep ' /cache ' /proc/mounts | cut -d' ' -f3",
    );
    spec.mounts = vec![Mount::Tmpfs {
        target: "/cache".into(),
        size: Some(4 << 20),
        mode: None,
    }];
    assert_eq!(run_ok(&spec), "tmpfs\n");
    assert_eq!(s.upper_entries(), Vec::<String>::new());
}

#[test]
fn layers_mounts_read_only_and_writable() {
    let s = Scratch::new();
    let other = s.dir.path().join("other");
    fs::create_dir(&other).unwrap();
    fs::write(other.join("hello"), "from another stage\n").unwrap();
    let mut spec = s.spec(
        "cat /from/hello; if touch /from/x 2>/dev/null; then echo ro-writable; fi; \
         echo changed > /scratchpad/hello && cat /scratchpad/hello",
    );
    spec.mounts = vec![
        Mount::Layers {
            lower_dirs: vec![other.clone()],
            target: "/from".into(),
            writable: false,
        },
        Mount::Layers {
            lower_dirs: vec![other.clone()],
            target: "/scratchpad".into(),
            writable: true,
        },
    ];
    assert_eq!(run_ok(&spec), "from another stage\nchanged\n");
    assert_eq!(
        fs::read_to_string(other.join("hello")).unwrap(),
        "from another stage\n"
    );
    assert_eq!(s.upper_entries(), Vec::<String>::new());
}

#[test]
fn network_none_has_only_an_up_loopback_and_host_shares() {
    let s = Scratch::new();
    let spec = s.spec("ls /sys/class/net; ip link show lo | grep -c ',UP'");
    assert_eq!(run_ok(&spec), "lo\n1\n");
    let mut spec = s.spec("ls /sys/class/net");
    spec.network = Network::Host;
    let host: Vec<String> = fs::read_dir("/sys/class/net")
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    let inside: Vec<String> = run_ok(&spec).lines().map(str::to_string).collect();
    let mut host_sorted = host.clone();
    host_sorted.sort();
    assert_eq!(inside, host_sorted);
}

#[test]
fn hostname_hosts_and_resolv_conf() {
    let s = Scratch::new();
    let mut spec = s.spec("hostname; cat /etc/hosts; cat /etc/resolv.conf");
    spec.hostname = "builder-7".into();
    spec.resolv_conf = Some("nameserver 192.0.2.1\n".into());
    let out = run_ok(&spec);
    assert!(out.starts_with("builder-7\n"), "{out}");
    assert!(out.contains("127.0.0.1\tlocalhost builder-7\n"), "{out}");
    assert!(out.ends_with("nameserver 192.0.2.1\n"), "{out}");
    spec.hosts = Some("10.0.0.1 db\n".into());
    spec.args[2] = "cat /etc/hosts".into();
    assert_eq!(run_ok(&spec), "10.0.0.1 db\n");
    assert_eq!(s.upper_entries(), Vec::<String>::new());
}

#[test]
fn proc_shows_only_the_sandbox_processes_and_minimal_dev() {
    let s = Scratch::new();
    let out = run_ok(&s.spec("echo $$; ls -d /proc/[0-9]* | wc -l; ls /dev | tr '\\n' ' '; echo; mount | grep -c ' /sys .*ro'"));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "2", "the command is PID 2 under the sandbox init");
    // init, sh, and the ls pipeline's processes: a handful, not the host's hundreds.
    let count: usize = lines[1].trim().parse().unwrap();
    assert!((2..=6).contains(&count), "{count} pids visible");
    let dev: Vec<&str> = lines[2].split_whitespace().collect();
    assert_eq!(
        dev,
        [
            "fd", "full", "null", "ptmx", "pts", "random", "shm", "stderr", "stdin", "stdout",
            "tty", "urandom", "zero"
        ]
    );
    assert_eq!(lines[3], "1", "/sys is mounted read-only");
}

#[test]
fn output_streams_keep_their_order_and_arrive_while_running() {
    let s = Scratch::new();
    let signal_dir = s.dir.path().join("signal");
    fs::create_dir(&signal_dir).unwrap();
    let mut spec = s.spec(
        "for i in 1 2 3; do echo out$i; echo err$i >&2; done; \
         n=0; while [ ! -e /signal/go ]; do sleep 0.05; n=$((n+1)); \
         if [ $n -gt 600 ]; then echo 'output was not streamed'; exit 1; fi; done; echo done",
    );
    spec.mounts = vec![Mount::Bind {
        source: signal_dir.clone(),
        target: "/signal".into(),
        readonly: false,
    }];
    let mut stdout = String::new();
    let mut stderr = String::new();
    let status = wharf_sandbox::run(&spec, &mut |stream, bytes| {
        let text = String::from_utf8_lossy(bytes);
        match stream {
            wharf_sandbox::Stream::Stdout => stdout.push_str(&text),
            wharf_sandbox::Stream::Stderr => stderr.push_str(&text),
        }
        // The command waits for this file, which only appears once its first output
        // reached us: buffered output would make it time out.
        if stdout.contains("out3") {
            fs::write(signal_dir.join("go"), "").unwrap();
        }
    })
    .unwrap();
    assert_eq!(status, ExitStatus::Code(0), "{stdout}");
    assert_eq!(stdout, "out1\nout2\nout3\ndone\n");
    assert_eq!(stderr, "err1\nerr2\nerr3\n");
}

#[test]
fn failures_leave_no_mounts_processes_or_stubs() {
    let s = Scratch::new();
    let before = mounts();
    // A command that fails with a background process still running.
    let (result, _) = run(&s.spec("sleep 4242 & exit 5"));
    assert_eq!(result.unwrap(), ExitStatus::Code(5));
    assert_eq!(processes_with("sleep 4242"), Vec::<String>::new());
    // A setup failure: mounting a directory under a regular file.
    let mut spec = s.spec("true");
    spec.mounts = vec![Mount::Tmpfs {
        target: "/bin/busybox/sub".into(),
        size: None,
        mode: None,
    }];
    match run(&spec).0 {
        Err(SandboxError::Setup { step, .. }) => {
            assert!(step.contains("bin/busybox/sub"), "{step}")
        }
        other => panic!("expected a setup error, got {other:?}"),
    }
    assert_eq!(mounts(), before);
    assert_eq!(s.upper_entries(), Vec::<String>::new());
}

#[test]
fn scratch_root_with_a_bind_mounted_static_binary() {
    let s = Scratch::new();
    let mut spec = s.spec("");
    spec.lower_dirs.clear();
    spec.args = vec![
        "/busybox".into(),
        "sh".into(),
        "-c".into(),
        "/busybox mkdir /out && /busybox echo ok".into(),
    ];
    spec.mounts = vec![Mount::Bind {
        source: "/bin/busybox".into(),
        target: "/busybox".into(),
        readonly: true,
    }];
    assert_eq!(run_ok(&spec), "ok\n");
    assert_eq!(s.upper_entries(), ["out"]);
}

#[test]
fn invalid_specs_are_refused_before_anything_runs() {
    let s = Scratch::new();
    let mut spec = s.spec("true");
    spec.cwd = "relative".into();
    assert!(matches!(
        run(&spec).0,
        Err(SandboxError::InvalidSpec { .. })
    ));
    let mut spec = s.spec("true");
    spec.env.push(("SECRET".into(), "top\0secret".into()));
    let err = run(&spec).0.unwrap_err().to_string();
    assert!(err.contains("SECRET") && !err.contains("top"), "{err}");
    let mut spec = s.spec("true");
    spec.args.clear();
    assert!(matches!(
        run(&spec).0,
        Err(SandboxError::InvalidSpec { .. })
    ));
    let mut spec = s.spec("true");
    spec.mounts = vec![Mount::Bind {
        source: s.dir.path().join("missing"),
        target: "/x".into(),
        readonly: false,
    }];
    let err = run(&spec).0.unwrap_err().to_string();
    assert!(err.contains("missing"), "{err}");
}

#[test]
fn concurrent_runs_from_many_threads() {
    let handles: Vec<_> = (0..4)
        .map(|i| {
            std::thread::spawn(move || {
                let s = Scratch::new();
                let out = run_ok(&s.spec(&format!("echo {i} > /f; cat /f")));
                assert_eq!(out, format!("{i}\n"));
                assert_eq!(s.upper_entries(), ["f"]);
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}

/// A lower with files to delete, change and replace, for both root modes.
fn change_scenario(s: &Scratch) -> wharf_sandbox::SandboxSpec {
    fs::create_dir_all(s.lower.join("etc")).unwrap();
    fs::write(s.lower.join("etc/motd"), "hello").unwrap();
    fs::write(s.lower.join("etc/passwd"), "root:x:0:0::/:/bin/sh\n").unwrap();
    fs::create_dir_all(s.lower.join("data/sub")).unwrap();
    fs::write(s.lower.join("data/sub/x"), "x").unwrap();
    fs::create_dir_all(s.lower.join("keep/deep")).unwrap();
    fs::write(s.lower.join("keep/deep/file"), "same").unwrap();
    s.spec(
        "rm /etc/motd && chmod 600 /etc/passwd && ln -s ../etc/passwd /link && rm -rf /data && mkdir /data \
         && mkdir -p /new/dir && echo n > /new/dir/f && cat /keep/deep/file >/dev/null",
    )
}

fn assert_scenario_upper(s: &Scratch) {
    assert_eq!(
        s.upper_entries(),
        [
            "data",
            "etc",
            "etc/motd",
            "etc/passwd",
            "link",
            "new",
            "new/dir",
            "new/dir/f"
        ]
    );
    let motd = fs::symlink_metadata(s.upper.join("etc/motd")).unwrap();
    assert!(
        motd.file_type().is_char_device() && motd.rdev() == 0,
        "whiteout expected"
    );
    let passwd = fs::metadata(s.upper.join("etc/passwd")).unwrap();
    assert_eq!(passwd.permissions().mode() & 0o7777, 0o600);
    assert_eq!(
        fs::read_to_string(s.upper.join("etc/passwd")).unwrap(),
        "root:x:0:0::/:/bin/sh\n"
    );
    assert_eq!(
        fs::read_link(s.upper.join("link")).unwrap(),
        PathBuf::from("../etc/passwd")
    );
    assert!(xattr_is_y(&s.upper.join("data"), "trusted.overlay.opaque"));
    assert_eq!(
        fs::read_to_string(s.upper.join("new/dir/f")).unwrap(),
        "n\n"
    );
}

#[test]
fn copy_fallback_writes_the_same_upper_format_as_overlayfs() {
    let overlay = Scratch::new();
    run_ok(&change_scenario(&overlay));
    assert_scenario_upper(&overlay);

    let copy = Scratch::new();
    let mut spec = change_scenario(&copy);
    spec.rootfs = RootfsMode::Copy;
    run_ok(&spec);
    assert_scenario_upper(&copy);
    assert_eq!(
        fs::read_dir(&copy.work).unwrap().count(),
        0,
        "the private root is removed"
    );

    // A lower that deletes through whiteouts and an opaque directory, merged by the copy.
    let layered = Scratch::new();
    let top = layered.dir.path().join("top");
    fs::create_dir_all(top.join("bin")).unwrap();
    std::process::Command::new("mknod")
        .arg(top.join("bin/vi"))
        .args(["c", "0", "0"])
        .status()
        .unwrap();
    let mut spec = layered.spec("ls /bin/vi 2>/dev/null; true");
    spec.lower_dirs.insert(0, top);
    spec.rootfs = RootfsMode::Copy;
    assert_eq!(
        run_ok(&spec),
        "",
        "the whiteout in the top lower hides /bin/vi"
    );
    assert_eq!(layered.upper_entries(), Vec::<String>::new());
}

#[test]
fn overlay_refusal_falls_back_to_copy_or_says_what_to_do() {
    let s = Scratch::new();
    // upper on /var/tmp and work on /dev/shm: overlayfs refuses different filesystems.
    let shm_work = tempfile::tempdir_in("/dev/shm").unwrap();
    let mut spec = s.spec("echo hi > /f");
    spec.work_dir = shm_work.path().to_path_buf();
    spec.rootfs = RootfsMode::Overlay;
    let err = run(&spec).0.unwrap_err();
    assert!(
        matches!(err, SandboxError::OverlayUnavailable { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("RootfsMode::Copy"), "{err}");
    assert_eq!(s.upper_entries(), Vec::<String>::new());
    spec.rootfs = RootfsMode::Auto;
    run_ok(&spec);
    assert_eq!(s.upper_entries(), ["f"]);
}

#[test]
fn root_commands_keep_only_the_default_capabilities() {
    let s = Scratch::new();
    let out = run_ok(&s.spec(
        "grep CapBnd /proc/self/status | cut -f2; if mount -t tmpfs t /bin 2>/dev/null; then echo mounted; fi",
    ));
    assert_eq!(out, "00000000a00425fb\n");
}

#[test]
fn device_nodes_never_open_host_devices_but_standard_devices_work() {
    for mode in [RootfsMode::Overlay, RootfsMode::Copy] {
        let s = Scratch::new();
        let devices = device_node_dir(&s);
        let mut spec = device_spec(&s, &devices);
        spec.rootfs = mode;
        assert_eq!(run_ok(&spec), "3\n2\n1\nfull\n", "{mode:?}");
    }
}

#[test]
fn long_layer_chains_fit_the_mount_options() {
    // 150 lowers with long paths: absolute paths in the options would need ~25 KiB,
    // far over the kernel's one-page limit.
    let s = Scratch::new();
    let mut spec = s.spec("cat /layer-0 /layer-149 && ls / | grep -c '^layer-'");
    for i in 0..150 {
        let dir = s.dir.path().join(format!(
            "{}-{i}",
            "a-rather-long-directory-name-for-an-unpacked-layer-snapshot".repeat(2)
        ));
        fs::create_dir(&dir).unwrap();
        fs::write(dir.join(format!("layer-{i}")), format!("{i}\n")).unwrap();
        spec.lower_dirs.insert(0, dir);
    }
    assert_eq!(run_ok(&spec), "0\n149\n150\n");
}

#[test]
fn file_mounts_are_read_only_memory_files_that_leave_no_trace() {
    for mode in [RootfsMode::Overlay, RootfsMode::Copy] {
        let s = Scratch::new();
        let mut spec = secret_spec(&s);
        spec.rootfs = mode;
        assert_eq!(run_ok(&spec), SECRET_OUTPUT, "{mode:?}");
        assert_eq!(s.upper_entries(), Vec::<String>::new(), "{mode:?}");
        assert!(format!("{spec:?}").contains("FileData(19 bytes)"));
        assert!(!format!("{spec:?}").contains("marker"));
    }
}
