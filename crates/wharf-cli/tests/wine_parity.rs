//! The Windows build of `wharf`, run for real: every case is built twice,
//! by `wharf.exe` under Wine (a Windows host: Windows paths, a store under
//! `Z:\…`) and by the Linux `wharf`, with the same `SOURCE_DATE_EPOCH`,
//! against one real `docker-registry` on a loopback port, and the two
//! results must have the same manifest and layer digests.
//!
//! The one exception is Docker's rule for build contexts on Windows hosts:
//! a file taken from the context into a LINUX layer gets mode 0755 (a
//! Windows file has no Unix mode). That layer is compared entry by entry,
//! with the rule asserted. Windows layers never depend on the host.
//!
//! These tests are `#[ignore]`d in the ordinary test run; run them with
//! `bash scripts/wine-test.sh`, which cross-builds `wharf.exe`, sets
//! `WHARF_WINE_EXE` and passes `--include-ignored`. Without
//! `WHARF_WINE_EXE`, or when Wine cannot start `wharf.exe`, they fail:
//! they never pass without having run the Windows build.

mod common;
use common::{check_windows_layer, json, ok, run, wharf};
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use wharf_store::Store;
use wharf_testkit::images::{store_image, store_os_release_image, store_windows_image, GZIP_LAYER};
use wharf_testkit::registry::{start, Auth, Registry};

const EPOCH: &str = "1700000000";

/// One of the two hosts a case is built on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Host {
    Linux,
    Windows,
}

const HOSTS: [Host; 2] = [Host::Linux, Host::Windows];

/// `wharf.exe` and the Wine that runs it, from the environment that
/// `scripts/wine-test.sh` sets.
fn wine() -> (PathBuf, PathBuf) {
    let exe = std::env::var_os("WHARF_WINE_EXE").map(PathBuf::from).expect(
        "WHARF_WINE_EXE is not set: run these tests with `bash scripts/wine-test.sh`, which cross-builds wharf.exe",
    );
    let wine = std::env::var_os("WHARF_WINE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/lib/wine/wine64"));
    assert!(exe.is_file(), "{} does not exist", exe.display());
    assert!(wine.is_file(), "{} does not exist", wine.display());
    (wine, exe)
}

/// `path` as a Windows program under Wine names it (`Z:` is `/`).
fn win_path(path: &Path) -> String {
    format!("Z:{}", path.display()).replace('/', "\\")
}

impl Host {
    fn name(self) -> &'static str {
        match self {
            Host::Linux => "linux",
            Host::Windows => "windows",
        }
    }

    /// The `wharf` of this host, with the suite's fixed epoch.
    fn wharf(self) -> Command {
        let mut cmd = match self {
            Host::Linux => wharf(),
            Host::Windows => {
                let (wine, exe) = wine();
                let mut c = Command::new(wine);
                c.arg(exe);
                c
            }
        };
        cmd.env("SOURCE_DATE_EPOCH", EPOCH)
            .env_remove("WHARF_STORE");
        cmd
    }

    /// `path` as this host's `wharf` is given it.
    fn path(self, path: &Path) -> OsString {
        match self {
            Host::Linux => path.into(),
            Host::Windows => win_path(path).into(),
        }
    }

    /// This host's store under `dir`, as an argument pair.
    fn store_args(self, dir: &Path) -> [OsString; 2] {
        ["--store".into(), self.path(&self.store(dir))]
    }

    fn store(self, dir: &Path) -> PathBuf {
        dir.join(format!("store-{}", self.name()))
    }
}

/// Runs `wharf inspect` on `name` in `host`'s store: the JSON.
fn inspect(host: Host, dir: &Path, name: &str) -> serde_json::Value {
    let (out, _) = ok(host
        .wharf()
        .arg("inspect")
        .args(host.store_args(dir))
        .arg(name));
    json(&out)
}

/// The digests that must match: the tagged manifest, its config and its
/// layers.
fn digests(details: &serde_json::Value) -> Vec<String> {
    let m = &details["manifests"][0];
    let mut out = vec![
        m["digest"].as_str().unwrap().to_string(),
        m["manifest"]["config"]["digest"]
            .as_str()
            .unwrap()
            .to_string(),
    ];
    for l in m["layers"].as_array().unwrap() {
        out.push(l["digest"].as_str().unwrap().to_string());
    }
    out
}

/// A gzip tar of `entries`: (name, content or symlink target, is symlink).
fn tar_of(entries: &[(&str, &str, bool)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data, symlink) in entries {
        let mut h = tar::Header::new_ustar();
        h.set_mtime(1_600_000_000);
        if *symlink {
            h.set_entry_type(tar::EntryType::Symlink);
            h.set_size(0);
            h.set_mode(0o777);
            b.append_link(&mut h, name, data).unwrap();
        } else if name.ends_with('/') {
            h.set_entry_type(tar::EntryType::Directory);
            h.set_size(0);
            h.set_mode(0o755);
            h.set_cksum();
            b.append_data(&mut h, name, std::io::empty()).unwrap();
        } else {
            h.set_size(data.len() as u64);
            h.set_mode(0o640);
            h.set_cksum();
            b.append_data(&mut h, name, data.as_bytes()).unwrap();
        }
    }
    b.into_inner().unwrap()
}

/// Names NTFS cannot hold, case-only twins and symlinks: what a Linux
/// layer built on a Windows host must keep exactly.
const ODD: &[(&str, &str, bool)] = &[
    ("odd/", "", false),
    ("odd/a:b", "colon\n", false),
    ("odd/Case", "upper\n", false),
    ("odd/case", "lower\n", false),
    ("odd/trail.", "dot\n", false),
    ("odd/CON", "device name\n", false),
    ("odd/to-colon", "a:b", true),
    ("odd/abs", "/etc/os-release", true),
];

/// A registry holding a Windows base, a Linux base and a Linux image of
/// odd names, pushed there by the Linux `wharf`.
/// The registry, a scratch directory and the registry's host name.
fn setup() -> (Registry, tempfile::TempDir, String) {
    let (reg, dir) = registry();
    let host = reg.host();
    (reg, dir, host)
}

fn registry() -> (Registry, tempfile::TempDir) {
    let reg = start(Auth::None, None);
    let dir = tempfile::tempdir().unwrap();
    let src = Store::open(dir.path().join("src")).unwrap();
    let host = reg.host();
    let win = store_windows_image(&src, "10.0.20348.2113");
    src.tag(&format!("{host}/base/win:1"), &win).unwrap();
    let base = store_os_release_image(&src);
    let linux = "linux/amd64".parse().unwrap();
    src.tag(&format!("{host}/base/linux:1"), &base).unwrap();
    let odd = store_image(
        &src,
        &linux,
        &[(
            GZIP_LAYER.to_string(),
            wharf_testkit::images::gzip(&tar_of(ODD)),
            None,
        )],
    );
    src.tag(&format!("{host}/base/odd:1"), &odd).unwrap();
    for name in ["base/win:1", "base/linux:1", "base/odd:1"] {
        ok(wharf()
            .arg("push")
            .arg("--store")
            .arg(dir.path().join("src"))
            .arg(format!("{host}/{name}")));
    }
    (reg, dir)
}

/// Writes the build file and context files of a case.
fn context(dir: &Path, dockerfile: &str, files: &[(&str, &[u8])]) -> PathBuf {
    let ctx = dir.join("ctx");
    for (name, data) in files {
        let path = ctx.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, data).unwrap();
    }
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(ctx.join("Dockerfile"), dockerfile).unwrap();
    ctx
}

/// Builds `ctx` on `host` with `extra` arguments; stderr.
fn build(host: Host, dir: &Path, ctx: &Path, extra: &[&str]) -> String {
    let (_, stderr) = ok(host
        .wharf()
        .args(["build", "--progress", "plain"])
        .args(host.store_args(dir))
        .args(extra)
        .arg(host.path(ctx)));
    stderr
}

/// The entries of a layer blob: name → (type, mode, link target, content).
type Entries = BTreeMap<String, (char, u32, String, Vec<u8>)>;

/// Builds `ctx` with wharf.exe, which must fail; returns its stderr.
fn failed_windows_build(dir: &Path, ctx: &Path) -> String {
    let h = Host::Windows;
    let (out, stdout, stderr) = run(h
        .wharf()
        .args(["build", "--progress", "plain", "-t", "x/y:1"])
        .args(h.store_args(dir))
        .arg(h.path(ctx)));
    assert!(!out.status.success(), "{stdout}\n{stderr}");
    stderr
}

fn layer_entries(blob: &Path) -> Entries {
    let f = std::fs::File::open(blob).unwrap();
    let mut a = tar::Archive::new(flate2::read::GzDecoder::new(f));
    let mut out = BTreeMap::new();
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let name = String::from_utf8_lossy(&e.path_bytes()).to_string();
        let kind = match e.header().entry_type() {
            tar::EntryType::Directory => 'd',
            tar::EntryType::Symlink => 'l',
            tar::EntryType::Link => 'h',
            _ => 'f',
        };
        let mode = e.header().mode().unwrap() & 0o7777;
        let link = e
            .link_name_bytes()
            .map(|l| String::from_utf8_lossy(&l).to_string())
            .unwrap_or_default();
        let mut data = Vec::new();
        e.read_to_end(&mut data).unwrap();
        out.insert(name, (kind, mode, link, data));
    }
    out
}

fn blob(host: Host, dir: &Path, digest: &str) -> PathBuf {
    Store::open(host.store(dir))
        .unwrap()
        .blob_path(&digest.to_string().try_into().unwrap())
}

fn config(host: Host, dir: &Path, details: &serde_json::Value) -> serde_json::Value {
    let digest = details["manifests"][0]["manifest"]["config"]["digest"]
        .as_str()
        .unwrap();
    json(&std::fs::read_to_string(blob(host, dir, digest)).unwrap())
}

#[test]
#[ignore = "needs wharf.exe and Wine: bash scripts/wine-test.sh"]
fn windows_image_copy_add_config_pushed_and_exported() {
    let (_reg, tmp, host) = setup();
    let dir = tmp.path();
    let files_tar = tar_of(&[
        ("data/", "", false),
        ("data/one.txt", "one\n", false),
        ("data/two.txt", "two\n", false),
    ]);
    let ctx = context(
        dir,
        &format!(
            "# escape=`\n\
             FROM --platform=windows/amd64 {host}/base/win:1\n\
             COPY app/ C:\\app\\\n\
             ADD files.tar C:\\\n\
             ADD config.txt C:\\app\\conf\\\n\
             WORKDIR C:\\app\n\
             ENV APP_MODE=prod `\n    APP_HOME=C:\\app\n\
             USER ContainerUser\n\
             ENTRYPOINT [\"C:\\\\app\\\\app.exe\", \"--serve\"]\n"
        ),
        &[
            ("app/app.exe", b"MZ not really an exe\n"),
            ("app/readme.txt", b"hello\n"),
            ("config.txt", b"mode=prod\n"),
            ("files.tar", &files_tar),
        ],
    );
    let mut results = Vec::new();
    for h in HOSTS {
        let tag = format!("{host}/parity/win-{}:1", h.name());
        let stderr = build(h, dir, &ctx, &["--push", "-t", &tag]);
        assert!(stderr.contains(&format!("pushed {tag}")), "{stderr}");
        // Built again (from the instruction cache) into an OCI layout.
        let layout = dir.join(format!("oci-{}", h.name()));
        let dest = format!("type=oci,dest={}", h.path(&layout).to_string_lossy());
        build(h, dir, &ctx, &["--output", &dest, "-t", &tag]);
        // And as an OCI archive and a docker-archive: files whose bytes
        // must not depend on the host either.
        let mut archives = Vec::new();
        for kind in ["oci", "docker"] {
            let file = dir.join(format!("{kind}-{}.tar", h.name()));
            let dest = format!("type={kind},dest={}", h.path(&file).to_string_lossy());
            // One name on both hosts: archives hold it.
            build(
                h,
                dir,
                &ctx,
                &["--output", &dest, "-t", "example.test/parity/win:1"],
            );
            archives.push(wharf_oci::Digest::of_bytes(&std::fs::read(&file).unwrap()).to_string());
        }
        let details = inspect(h, dir, &tag);
        let index: serde_json::Value =
            json(&std::fs::read_to_string(layout.join("index.json")).unwrap());
        assert_eq!(
            index["manifests"][0]["digest"],
            details["manifests"][0]["digest"],
            "{}: the OCI layout holds the built image",
            h.name()
        );
        // The pushed manifest is the built one: pulled back by the Linux wharf.
        let (pulled, _) = ok(wharf()
            .args(["pull", "--platform", "windows/amd64"])
            .arg("--store")
            .arg(dir.join(format!("pulled-{}", h.name())))
            .arg(&tag));
        assert_eq!(
            pulled.trim(),
            details["manifests"][0]["digest"].as_str().unwrap()
        );
        // App layers pass the independent checker, read from the layout.
        let layers = details["manifests"][0]["layers"].as_array().unwrap();
        assert_eq!(layers.len(), 5, "two base layers, three ADD/COPY layers");
        for l in &layers[2..] {
            let d = l["digest"].as_str().unwrap();
            check_windows_layer(&layout.join("blobs/sha256").join(&d["sha256:".len()..]));
        }
        let cfg = config(h, dir, &details);
        assert_eq!(cfg["os"], "windows");
        assert_eq!(cfg["config"]["WorkingDir"], "C:\\app");
        assert_eq!(cfg["config"]["User"], "ContainerUser");
        assert_eq!(cfg["config"]["Entrypoint"][0], "C:\\app\\app.exe");
        assert!(common::has_env(&cfg, "APP_HOME=C:\\app"), "{cfg}");
        results.push((digests(&details), archives));
    }
    assert_eq!(
        results[0], results[1],
        "the Windows image (and its archives) built on Linux and on Windows"
    );
}

#[test]
#[ignore = "needs wharf.exe and Wine: bash scripts/wine-test.sh"]
fn linux_image_on_a_windows_host_keeps_names_ntfs_cannot_hold() {
    let (_reg, tmp, host) = setup();
    let dir = tmp.path();
    let names_tar = tar_of(ODD);
    let ctx = context(
        dir,
        &format!(
            "FROM --platform=linux/amd64 {host}/base/linux:1\n\
             ADD names.tar /names/\n\
             COPY --from={host}/base/odd:1 /odd/ /copied/\n\
             COPY <<EOF /etc/motd\n\
             hello from a here-document\n\
             EOF\n\
             COPY app/ /app/\n\
             ENV PATH=/app:/usr/bin\n\
             CMD [\"/app/run.sh\"]\n"
        ),
        &[
            ("names.tar", &names_tar),
            ("app/run.sh", b"#!/bin/sh\necho hi\n"),
            ("app/data/notes.txt", b"notes\n"),
        ],
    );
    let mut details = Vec::new();
    for h in HOSTS {
        let tag = format!("{host}/parity/linux-{}:1", h.name());
        build(h, dir, &ctx, &["-t", &tag]);
        details.push(inspect(h, dir, &tag));
    }
    let (lin, win) = (digests(&details[0]), digests(&details[1]));
    assert_eq!(lin.len(), 7, "{lin:?}");
    // Base, ADD, COPY --from and here-document layers: identical.
    assert_eq!(lin[2..6], win[2..6], "layers that do not read the context");
    // Names NTFS cannot hold are kept exactly in the layers the Windows
    // host wrote.
    for (layer, prefix) in [(3, "names/odd/"), (4, "copied/")] {
        let entries = layer_entries(&blob(Host::Windows, dir, &win[layer]));
        for (name, data, symlink) in ODD.iter().filter(|e| !e.0.ends_with('/')) {
            let name = format!("{prefix}{}", &name["odd/".len()..]);
            let (kind, _, link, content) = entries
                .get(&name)
                .unwrap_or_else(|| panic!("{name} missing: {:?}", entries.keys()));
            if *symlink {
                assert_eq!((*kind, link.as_str()), ('l', *data), "{name}");
            } else {
                assert_eq!(
                    (*kind, content.as_slice()),
                    ('f', data.as_bytes()),
                    "{name}"
                );
            }
        }
    }
    // The context layer: the same entries, and Docker's rule for Windows
    // contexts (mode 0755) on the Windows host.
    let lin_ctx = layer_entries(&blob(Host::Linux, dir, &lin[6]));
    let win_ctx = layer_entries(&blob(Host::Windows, dir, &win[6]));
    assert_eq!(
        lin_ctx.keys().collect::<Vec<_>>(),
        win_ctx.keys().collect::<Vec<_>>()
    );
    for (name, (kind, mode, link, data)) in &win_ctx {
        let l = &lin_ctx[name];
        assert_eq!((kind, link, data), (&l.0, &l.2, &l.3), "{name}");
        assert_eq!(*mode, 0o755, "{name}: a Windows context gives mode 0755");
    }
    assert_eq!(
        lin_ctx["app/run.sh"].1, 0o644,
        "the Linux host keeps the mode"
    );
    // The configs differ only in that layer's diff_id.
    let (mut lc, mut wc) = (
        config(Host::Linux, dir, &details[0]),
        config(Host::Windows, dir, &details[1]),
    );
    lc["rootfs"]["diff_ids"][4] = serde_json::Value::Null;
    wc["rootfs"]["diff_ids"][4] = serde_json::Value::Null;
    assert_eq!(lc, wc);
}

#[test]
#[ignore = "needs wharf.exe and Wine: bash scripts/wine-test.sh"]
fn cross_os_copy_from_in_both_directions() {
    let (_reg, tmp, host) = setup();
    let dir = tmp.path();
    let ctx = context(
        dir,
        &format!(
            "# escape=`\n\
             FROM --platform=linux/amd64 {host}/base/odd:1 AS tools\n\
             COPY <<EOF /opt/tool/run.sh\n\
             echo tool\n\
             EOF\n\
             FROM --platform=windows/amd64 {host}/base/win:1 AS win\n\
             COPY --from=tools /opt/tool/ C:\\tool\\\n\
             COPY --from=tools /odd/ C:\\odd\\\n\
             FROM --platform=linux/amd64 {host}/base/linux:1 AS back\n\
             COPY --from=win C:\\tool\\ /tool/\n\
             COPY --from=win C:\\Windows\\System32\\ntdll.dll /lib/ntdll.dll\n"
        ),
        &[],
    );
    let mut results = BTreeMap::new();
    for h in HOSTS {
        let mut per_target = Vec::new();
        for target in ["win", "back"] {
            let tag = format!("{host}/parity/{target}-{}:1", h.name());
            let stderr = build(h, dir, &ctx, &["--target", target, "-t", &tag]);
            if target == "win" {
                // a:b, trail. and CON cannot be Windows names; Case/case collide.
                assert!(stderr.contains("a:b"), "{stderr}");
            }
            let details = inspect(h, dir, &tag);
            if target == "win" {
                for l in &details["manifests"][0]["layers"].as_array().unwrap()[2..] {
                    check_windows_layer(&blob(h, dir, l["digest"].as_str().unwrap()));
                }
            }
            per_target.push(digests(&details));
        }
        results.insert(h.name(), per_target);
    }
    assert_eq!(results["linux"], results["windows"]);
}

#[test]
#[ignore = "needs wharf.exe and Wine: bash scripts/wine-test.sh"]
fn linux_run_is_refused_at_plan_time_on_a_windows_host() {
    let (reg, tmp, host) = setup();
    let dir = tmp.path();
    let ctx = context(
        dir,
        &format!(
            "FROM --platform=linux/amd64 {host}/base/linux:1 AS build\n\
             COPY <<EOF /x\n\
             x\n\
             EOF\n\
             RUN echo compiled > /out\n"
        ),
        &[],
    );
    let h = Host::Windows;
    let log_before = reg.log().len();
    let stderr = failed_windows_build(dir, &ctx);
    assert!(
        stderr.contains("stage 'build'"),
        "names the stage: {stderr}"
    );
    assert!(stderr.contains("Dockerfile:5:"), "names the line: {stderr}");
    assert!(
        stderr.contains("cannot execute on this windows"),
        "{stderr}"
    );
    let requests = reg.log()[log_before..].to_string();
    assert!(
        !requests.contains("/blobs/"),
        "no blob was fetched: {requests}"
    );
    let blobs = h.store(dir).join("blobs/sha256");
    assert_eq!(
        std::fs::read_dir(&blobs).map(|d| d.count()).unwrap_or(0),
        0,
        "nothing in the store"
    );
}

#[test]
#[ignore = "needs wharf.exe and Wine: bash scripts/wine-test.sh"]
fn store_commands_on_a_windows_store_path() {
    let (_reg, tmp, host) = setup();
    let dir = tmp.path();
    let mut seen = BTreeMap::new();
    for h in HOSTS {
        let image = format!("{host}/base/win:1");
        let (pulled, _) = ok(h
            .wharf()
            .args(["pull", "--platform", "windows/amd64"])
            .args(h.store_args(dir))
            .arg(&image));
        let odd = format!("{host}/base/odd:1");
        ok(h.wharf()
            .args(["pull", "--platform", "linux/amd64"])
            .args(h.store_args(dir))
            .arg(&odd));
        let (list, _) = ok(h.wharf().arg("images").args(h.store_args(dir)));
        assert!(list.contains(&image) && list.contains(&odd), "{list}");
        let details = inspect(h, dir, &image);
        assert_eq!(pulled.trim(), details["manifests"][0]["digest"]);
        let copy = format!("{host}/copies/{}/win:2", h.name());
        let (pushed, _) = ok(h
            .wharf()
            .arg("push")
            .args(h.store_args(dir))
            .arg(&image)
            .arg(&copy));
        assert!(pushed.contains(pulled.trim()), "{pushed}");
        ok(h.wharf().arg("prune").args(h.store_args(dir)));
        let (list_after, _) = ok(h.wharf().arg("images").args(h.store_args(dir)));
        assert_eq!(list, list_after, "prune keeps tagged images");
        seen.insert(h.name(), (list, digests(&details)));
    }
    assert_eq!(seen["linux"], seen["windows"]);
}

#[test]
#[ignore = "needs wharf.exe and Wine: bash scripts/wine-test.sh"]
fn windows_run_without_the_containers_feature_says_to_enable_it() {
    // Wine has no computecore.dll or vmcompute.dll, like a Windows host
    // without the Containers feature: wharf.exe starts (they are loaded on
    // first use) and the RUN is refused after planning, before any layer is
    // fetched, with the remedy.
    let (_reg, tmp, host) = setup();
    let dir = tmp.path();
    let ctx = context(
        dir,
        &format!("FROM --platform=windows/amd64 {host}/base/win:1\nRUN echo hi\n"),
        &[],
    );
    let stderr = failed_windows_build(dir, &ctx);
    assert!(stderr.contains("computecore.dll"), "{stderr}");
    assert!(
        stderr.contains("enable the Windows Containers feature"),
        "{stderr}"
    );
}

#[test]
#[ignore = "needs wharf.exe and Wine: bash scripts/wine-test.sh"]
fn the_default_store_on_windows_is_under_localappdata() {
    let prefix = PathBuf::from(
        std::env::var_os("WINEPREFIX").expect("WINEPREFIX is set by scripts/wine-test.sh"),
    );
    ok(Host::Windows.wharf().arg("images"));
    let users = prefix.join("drive_c/users");
    let found = std::fs::read_dir(&users)
        .unwrap()
        .filter_map(|u| u.ok())
        .any(|u| u.path().join("AppData/Local/wharf/oci-layout").is_file());
    assert!(
        found,
        "no store under {}/*/AppData/Local/wharf",
        users.display()
    );
}
