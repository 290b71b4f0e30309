//! Shared helpers for the sandbox tests: a busybox root, a spec, output capture.

#![allow(dead_code)]

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;

use wharf_sandbox::{ExitStatus, SandboxError, SandboxSpec, Stream};

/// Builds a minimal root at `dir`: /bin/busybox (Debian's busybox-static) and a symlink
/// per applet in /bin, like `busybox --install -s` would but with relative targets.
pub fn busybox_tree(dir: &Path) {
    let bin = dir.join("bin");
    fs::create_dir_all(&bin).unwrap();
    fs::copy("/bin/busybox", bin.join("busybox"))
        .expect("copy /bin/busybox (install busybox-static)");
    let list = Command::new("/bin/busybox").arg("--list").output().unwrap();
    for applet in String::from_utf8(list.stdout).unwrap().lines() {
        if applet != "busybox" {
            symlink("busybox", bin.join(applet)).unwrap();
        }
    }
}

/// A scratch area with a busybox lower, an empty upper and a work dir.
pub struct Scratch {
    pub dir: tempfile::TempDir,
    pub lower: PathBuf,
    pub upper: PathBuf,
    pub work: PathBuf,
}

impl Scratch {
    pub fn new() -> Scratch {
        let dir = tempfile::Builder::new()
            .prefix("wharf-sandbox-test")
            .tempdir_in("/var/tmp")
            .unwrap();
        let lower = dir.path().join("lower");
        let upper = dir.path().join("upper");
        let work = dir.path().join("work");
        busybox_tree(&lower);
        fs::create_dir(&upper).unwrap();
        fs::create_dir(&work).unwrap();
        Scratch {
            dir,
            lower,
            upper,
            work,
        }
    }

    pub fn spec(&self, script: &str) -> SandboxSpec {
        let mut spec = SandboxSpec::new(
            vec![self.lower.clone()],
            self.upper.clone(),
            self.work.clone(),
            vec!["sh".into(), "-c".into(), script.into()],
        );
        spec.env = vec![("PATH".into(), "/bin".into())];
        spec
    }

    /// Every path in the upper directory, relative, sorted.
    pub fn upper_entries(&self) -> Vec<String> {
        let mut out = Vec::new();
        walk(&self.upper, "", &mut out);
        out.sort();
        out
    }
}

fn walk(dir: &Path, rel: &str, out: &mut Vec<String>) {
    for e in fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().into_string().unwrap();
        let path = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        out.push(path.clone());
        if e.file_type().unwrap().is_dir() {
            walk(&e.path(), &path, out);
        }
    }
}

/// Output of one run, per stream.
#[derive(Default, Debug)]
pub struct Output {
    pub stdout: String,
    pub stderr: String,
}

pub fn run(spec: &SandboxSpec) -> (Result<ExitStatus, SandboxError>, Output) {
    let mut out = Output::default();
    let result = wharf_sandbox::run(spec, &mut |stream, bytes| {
        let text = String::from_utf8_lossy(bytes);
        match stream {
            Stream::Stdout => out.stdout.push_str(&text),
            Stream::Stderr => out.stderr.push_str(&text),
        }
    });
    (result, out)
}

/// Runs and expects exit code 0, returning stdout.
pub fn run_ok(spec: &SandboxSpec) -> String {
    let (result, out) = run(spec);
    assert_eq!(
        result.unwrap(),
        ExitStatus::Code(0),
        "stderr: {}",
        out.stderr
    );
    out.stdout
}

/// Mount points of this process, for leak checks.
pub fn mounts() -> String {
    fs::read_to_string("/proc/self/mountinfo").unwrap()
}

/// Processes whose command line contains `marker`.
pub fn processes_with(marker: &str) -> Vec<String> {
    let mut found = Vec::new();
    for e in fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmd) = fs::read(e.path().join("cmdline")) {
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            if cmd.contains(marker) {
                found.push(format!("{}: {cmd}", e.file_name().to_string_lossy()));
            }
        }
    }
    found
}

/// A directory holding `kmsg`, a node for the host's `/dev/kmsg` (`c 1 11`, readable
/// by root on the host), as a base layer could ship it.
pub fn device_node_dir(s: &Scratch) -> PathBuf {
    let dir = s.dir.path().join("devices");
    fs::create_dir(&dir).unwrap();
    let node = std::ffi::CString::new(dir.join("kmsg").to_str().unwrap()).unwrap();
    // SAFETY: mknod on a fresh path with a constant device number.
    let rc = unsafe { libc::mknod(node.as_ptr(), libc::S_IFCHR | 0o666, libc::makedev(1, 11)) };
    assert_eq!(rc, 0, "mknod: {}", std::io::Error::last_os_error());
    fs::File::open(dir.join("kmsg")).expect("the host opens its own node");
    dir
}

/// What a RUN reports about devices: mknod refused, a node from a layer (root, layers
/// mount, bind mount) unusable, the standard devices working.
pub const DEVICE_PROBE: &str = "mknod /tmp/k c 1 11 2>/dev/null && echo MADE; \
     (exec 3</kmsg) 2>/dev/null && echo OPENED-ROOT; \
     (exec 3</from/kmsg) 2>/dev/null && echo OPENED-LAYERS; \
     (exec 3</bound/kmsg) 2>/dev/null && echo OPENED-BIND; \
     echo x >/dev/null && head -c 3 /dev/zero | wc -c && head -c 2 /dev/urandom | wc -c \
     && head -c 1 /dev/random | wc -c && (echo x >/dev/full) 2>/dev/null || echo full";

pub fn device_spec(s: &Scratch, devices: &Path) -> SandboxSpec {
    let mut spec = s.spec(DEVICE_PROBE);
    spec.lower_dirs.insert(0, devices.to_path_buf());
    spec.mounts = vec![
        wharf_sandbox::Mount::Layers {
            lower_dirs: vec![devices.to_path_buf()],
            target: "/from".into(),
            writable: false,
        },
        wharf_sandbox::Mount::Bind {
            source: devices.to_path_buf(),
            target: "/bound".into(),
            readonly: false,
        },
    ];
    spec
}

/// A secret file mount at /run/secrets/s (0440, owned 1000:50) and a
/// script that shows it and tries to change it.
pub fn secret_spec(s: &Scratch) -> SandboxSpec {
    let mut spec = s.spec(
        "cat /run/secrets/s; stat -c '%a %u %g' /run/secrets/s; \
         (echo x > /run/secrets/s) 2>/dev/null || echo read-only",
    );
    spec.mounts = vec![wharf_sandbox::Mount::File {
        target: "/run/secrets/s".into(),
        data: wharf_sandbox::FileData(b"s3cr3t-file-marker\n".to_vec()),
        mode: 0o440,
        owner: (1000, 50),
    }];
    spec
}

pub const SECRET_OUTPUT: &str = "s3cr3t-file-marker\n440 1000 50\nread-only\n";
