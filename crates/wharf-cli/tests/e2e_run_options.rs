//! `wharf build --add-host --shm-size --ulimit --ssh` end to end: a
//! busybox base (Debian's `busybox-static`) in a loopback
//! `docker-registry`; RUN sees the extra `/etc/hosts` lines, the
//! `/dev/shm` size and the limits, with the embedded sandbox and with
//! `runc`; each of them is part of the RUN's cache key; `RUN
//! --mount=type=ssh` lists, with `ssh-add -l`, a key added on the host to
//! an `ssh-agent` (Debian's openssh-client), and neither the key nor the
//! socket path reaches the image (embedded sandbox and runc).
#![cfg(target_os = "linux")]

mod common;
use common::{ok, registry_with_busybox, run, wharf};
use std::path::Path;
use std::process::Command;

fn build(store: &Path, ctx: &Path, extra: &[&str]) -> String {
    let (_, stderr) = ok(wharf()
        .args(["build", "--progress", "plain"])
        .arg("--store")
        .arg(store)
        .args(extra)
        .arg(ctx));
    stderr
}

const PROBE: &str = "RUN cat /etc/hosts; df -k /dev/shm | tail -n 1; \
    echo nofile=$(ulimit -n) hard=$(ulimit -Hn) core=$(ulimit -c)\n";

const OPTIONS: [&str; 10] = [
    "--add-host",
    "db:10.9.8.7",
    "--add-host",
    "v6=[fd00::5]",
    "--shm-size",
    "128m",
    "--ulimit",
    "nofile=512:1024",
    "--ulimit",
    "core=0",
];

fn check(stderr: &str) {
    assert!(stderr.contains("10.9.8.7\tdb"), "{stderr}");
    assert!(stderr.contains("fd00::5\tv6"), "{stderr}");
    assert!(stderr.contains(" 131072 "), "/dev/shm of 128 MiB: {stderr}");
    assert!(stderr.contains("nofile=512 hard=1024 core=0"), "{stderr}");
}

#[test]
fn run_sees_hosts_shm_size_and_ulimits_and_they_key_the_cache() {
    let (reg, dir, base) = registry_with_busybox();
    let ctx = dir.path().join("ctx");
    std::fs::create_dir(&ctx).unwrap();
    std::fs::write(ctx.join("Dockerfile"), format!("FROM {base}\n{PROBE}")).unwrap();
    let store = dir.path().join("store");

    let first = build(&store, &ctx, &OPTIONS);
    check(&first);
    assert!(!first.contains("CACHED"), "{first}");
    // The same options: the RUN is cached.
    let again = build(&store, &ctx, &OPTIONS);
    assert!(again.contains("CACHED"), "{again}");
    // Each option changes the key.
    for (i, changed) in [
        (1, "db:10.9.8.8"),
        (5, "256m"),
        (7, "nofile=512:2048"),
        (9, "core=1"),
    ] {
        let mut options = OPTIONS;
        options[i] = changed;
        let out = build(&store, &ctx, &options);
        assert!(!out.contains("CACHED"), "{changed}: {out}");
    }
    // Without options: the key of a plain RUN, which differs again.
    let plain = build(&store, &ctx, &[]);
    assert!(!plain.contains("CACHED"), "{plain}");
    assert!(plain.contains(" 65536 "), "default /dev/shm: {plain}");
    assert!(!plain.contains("10.9.8.7"), "{plain}");

    // The same through runc's bundle.
    let mut with_runc = vec!["--no-cache", "--runtime", "runc"];
    with_runc.extend(OPTIONS);
    check(&build(&store, &ctx, &with_runc));
    drop(reg);
}

#[test]
fn bad_option_values_are_refused_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Dockerfile"), "FROM scratch\n").unwrap();
    for (args, expect) in [
        (["--add-host", "db:host-gateway"], "give an IP"),
        (["--add-host", "db"], "HOST:IP"),
        (["--ulimit", "files=1"], "nofile"),
        (["--ulimit", "nofile=9:3"], "exceeds"),
        (["--shm-size", "12q"], "64m"),
    ] {
        let (out, _, stderr) = run(wharf()
            .arg("build")
            .arg("--store")
            .arg(dir.path().join("store"))
            .args(args)
            .arg(dir.path()));
        assert!(!out.status.success(), "{args:?}");
        assert!(stderr.contains(expect), "{args:?}: {stderr}");
    }
}

/// An `ssh-agent` with one fresh key; killed on drop.
struct Agent {
    pid: String,
    socket: String,
    fingerprint: String,
    key: std::path::PathBuf,
}

impl Agent {
    fn start(dir: &Path) -> Agent {
        let key = dir.join("id_ed25519");
        let out = Command::new("ssh-keygen")
            .args([
                "-q",
                "-t",
                "ed25519",
                "-N",
                "",
                "-C",
                "wharf-test-key",
                "-f",
            ])
            .arg(&key)
            .output()
            .expect("ssh-keygen (install Debian's openssh-client)");
        assert!(out.status.success());
        let socket = dir.join("agent.sock").display().to_string();
        let out = Command::new("ssh-agent")
            .args(["-s", "-a", &socket])
            .output()
            .expect("ssh-agent (install Debian's openssh-client)");
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let pid = text
            .split("SSH_AGENT_PID=")
            .nth(1)
            .and_then(|t| t.split(';').next())
            .unwrap_or_else(|| panic!("{text}"))
            .to_string();
        let out = Command::new("ssh-add")
            .arg(&key)
            .env("SSH_AUTH_SOCK", &socket)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let out = Command::new("ssh-add")
            .arg("-l")
            .env("SSH_AUTH_SOCK", &socket)
            .output()
            .unwrap();
        let listed = String::from_utf8_lossy(&out.stdout).to_string();
        let fingerprint = listed.split_whitespace().nth(1).unwrap().to_string();
        Agent {
            pid,
            socket,
            fingerprint,
            key,
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(&self.pid).status();
    }
}

/// Every file of every blob in an OCI layout, as bytes.
fn blobs(layout: &Path) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(layout.join("blobs/sha256")).unwrap() {
        let raw = std::fs::read(e.unwrap().path()).unwrap();
        let mut gz = Vec::new();
        if std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&raw[..]), &mut gz).is_ok()
        {
            out.push(gz);
        }
        out.push(raw);
    }
    out
}

#[test]
fn ssh_mount_forwards_the_agent_and_stores_nothing() {
    let (reg, dir, base) = registry_with_busybox();
    let agent = Agent::start(dir.path());
    // busybox has no ssh-add: the host's client, bound in read-only.
    let ctx = dir.path().join("ctx");
    std::fs::create_dir_all(ctx.join("tools")).unwrap();
    std::fs::copy("/usr/bin/ssh-add", ctx.join("tools/ssh-add")).unwrap();
    let libs = Command::new("sh")
        .arg("-c")
        .arg("ldd /usr/bin/ssh-add | grep -o '/[^ ]*'")
        .output()
        .unwrap();
    for lib in String::from_utf8_lossy(&libs.stdout).lines() {
        let name = Path::new(lib).file_name().unwrap().to_str().unwrap();
        std::fs::copy(lib, ctx.join("tools").join(name)).unwrap();
    }
    let loader = "ld-linux-x86-64.so.2";
    std::fs::write(
        ctx.join("Dockerfile"),
        format!(
            "FROM {base}\n\
             RUN --mount=type=bind,source=tools,target=/tools \
                 --mount=type=ssh \
                 echo sock=$SSH_AUTH_SOCK; ls -l $SSH_AUTH_SOCK; \
                 /tools/{loader} --library-path /tools /tools/ssh-add -l > /listed; cat /listed\n\
             RUN --mount=type=bind,source=tools,target=/tools \
                 --mount=type=ssh,id=other,target=/tmp/agent,uid=1000,mode=0660,required \
                 ls -ln /tmp/agent; SSH_AUTH_SOCK=/tmp/agent \
                 /tools/{loader} --library-path /tools /tools/ssh-add -l\n"
        ),
    )
    .unwrap();
    let store = dir.path().join("store");
    let layout = dir.path().join("oci");
    let (_, stderr) = ok(wharf()
        .args(["build", "--progress", "plain", "--ssh", "default"])
        .arg("--ssh")
        .arg(format!("other={}", agent.socket))
        .env("SSH_AUTH_SOCK", &agent.socket)
        .arg("--store")
        .arg(&store)
        .arg("-o")
        .arg(format!("type=oci,dest={}", layout.display()))
        .arg(&ctx));
    assert!(
        stderr.contains("sock=/run/buildkit/ssh_agent.0"),
        "{stderr}"
    );
    // The key listed inside is the one added on the host.
    assert_eq!(stderr.matches(&agent.fingerprint).count(), 2, "{stderr}");
    // BuildKit's default mode 0600 (root); the second mount's own owner and mode.
    assert!(stderr.contains("srw-------"), "{stderr}");
    let line = stderr
        .lines()
        .find(|l| l.contains("srw-rw----"))
        .unwrap_or_else(|| panic!("{stderr}"));
    let fields: Vec<&str> = line.split_whitespace().collect();
    let at = fields
        .iter()
        .position(|f| f.starts_with("srw-rw----"))
        .unwrap();
    assert_eq!(fields[at + 2], "1000", "{line}");
    // Neither the private key nor the host socket path is in any blob.
    let key = std::fs::read_to_string(&agent.key).unwrap();
    let secret_line = key.lines().nth(1).unwrap().as_bytes().to_vec();
    for blob in blobs(&layout) {
        let found = |needle: &[u8]| blob.windows(needle.len()).any(|w| w == needle);
        assert!(!found(&secret_line), "the private key is in a blob");
        assert!(
            !found(agent.socket.as_bytes()),
            "the socket path is in a blob"
        );
    }

    // The same through runc's bundle.
    let (_, stderr) = ok(wharf()
        .args([
            "build",
            "--no-cache",
            "--runtime",
            "runc",
            "--progress",
            "plain",
        ])
        .args(["--ssh", "default", "--ssh"])
        .arg(format!("other={}", agent.socket))
        .env("SSH_AUTH_SOCK", &agent.socket)
        .arg("--store")
        .arg(&store)
        .arg(&ctx));
    assert_eq!(stderr.matches(&agent.fingerprint).count(), 2, "{stderr}");

    // A missing required agent names the fix.
    let (out, _, stderr) = run(wharf()
        .args(["build", "--no-cache", "--progress", "plain"])
        .arg("--ssh")
        .arg(format!("default={}", agent.socket))
        .arg("--store")
        .arg(&store)
        .arg(&ctx));
    assert!(!out.status.success());
    assert!(stderr.contains("--ssh other=SOCKET"), "{stderr}");
    // Key files are served by an agent of the build's own, as buildx does:
    // the same key is listed inside, without the host's agent.
    let (_, stderr) = ok(wharf()
        .args(["build", "--no-cache", "--progress", "plain", "--ssh"])
        .arg(format!("default={}", agent.key.display()))
        .arg("--ssh")
        .arg(format!("other={}", agent.key.display()))
        .env_remove("SSH_AUTH_SOCK")
        .arg("--store")
        .arg(&store)
        .arg(&ctx));
    assert_eq!(stderr.matches(&agent.fingerprint).count(), 2, "{stderr}");
    // A key with a passphrase cannot be asked for: refused with the fix.
    let locked = dir.path().join("locked_key");
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "secret-pass", "-f"])
        .arg(&locked)
        .output()
        .unwrap();
    assert!(out.status.success());
    let (out, _, stderr) = run(wharf()
        .args(["build", "--ssh"])
        .arg(format!("default={}", locked.display()))
        .arg("--store")
        .arg(&store)
        .arg(&ctx));
    assert!(!out.status.success());
    assert!(
        stderr.contains("passphrase") && stderr.contains("--ssh"),
        "{stderr}"
    );
    drop(reg);
}
