//! `wharf build` with RUN, end to end: a busybox base (Debian's
//! `busybox-static`) pushed to a real loopback `docker-registry`, a
//! multi-stage Dockerfile whose RUN steps create, delete, chmod and link
//! files, use cache and secret mounts and switch USER; the result is
//! unpacked by umoci and compared file by file with what buildah
//! (`bud --isolation chroot --runtime runc`) builds from the same
//! Dockerfile; the image's CMD is run in the sandbox; the secret is looked
//! for in every blob; a cache mount keeps its content between builds; a
//! Linux stage's RUN output is copied into a Windows stage; and the same
//! build runs as an unprivileged user (rootless).
#![cfg(target_os = "linux")]

mod common;
use common::{check_windows_layer, ok, registry_with_busybox, run, wharf};
use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use wharf_store::Store;

const SECRET: &str = "s3cr3t-Value-4242-never-stored";

fn have(tool: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// The Dockerfile; `heredoc: false` writes the here-document step as a
/// plain RUN with the same effect (Debian 12's buildah 1.28 predates
/// here-documents).
fn dockerfile(base: &str, heredoc: bool) -> String {
    // buildah keeps cache mounts outside its --root: a fresh id per run.
    let nonce = std::process::id();
    let text = format!(
        r#"FROM {base} AS build
RUN mkdir -p /out/sub && echo hello > /out/hello.txt && ln -s hello.txt /out/link \
 && chmod 0750 /out/sub && echo x > /out/sub/x && chmod 0600 /out/sub/x
RUN rm /opt/data/remove.txt /etc/motd && chmod 0755 /opt/data/script.sh \
 && ln -sf /opt/data/keep.txt /opt/keep-link
RUN --mount=type=cache,target=/cache,id=counter-{nonce} \
    echo run >> /cache/log && wc -l < /cache/log > /out/cache-count
RUN --mount=type=secret,id=token wc -c < /run/secrets/token > /out/token-len
RUN --mount=type=bind,source=src,target=/src cp /src/input.txt /out/input.txt
RUN <<EOF
set -e
echo "from a here-document" > /out/heredoc.txt
EOF
USER app
WORKDIR /home/app/work
RUN id -u > uid && id -G > groups && touch made-by-app

FROM {base}
COPY --from=build /out /app
COPY --from=build /home/app/work /work
RUN rm -rf /opt/data && mkdir /opt/data && echo new > /opt/data/n
CMD ["sh", "-c", "cat /app/hello.txt /app/input.txt"]
"#
    );
    if heredoc {
        text
    } else {
        text.replace(
            "RUN <<EOF\nset -e\necho \"from a here-document\" > /out/heredoc.txt\nEOF\n",
            "RUN set -e; echo \"from a here-document\" > /out/heredoc.txt\n",
        )
    }
}

fn context(dir: &Path, base: &str) -> PathBuf {
    let ctx = dir.join("ctx");
    std::fs::create_dir_all(ctx.join("src")).unwrap();
    std::fs::write(ctx.join("Dockerfile"), dockerfile(base, true)).unwrap();
    std::fs::write(ctx.join("Dockerfile.plain"), dockerfile(base, false)).unwrap();
    assert_ne!(dockerfile(base, true), dockerfile(base, false));
    std::fs::write(ctx.join("src/input.txt"), "input from the context\n").unwrap();
    std::fs::write(dir.join("token"), SECRET).unwrap();
    ctx
}

/// The OCI layout at `dir`: its blobs and the first manifest's ref name.
fn layout_ref(dir: &Path) -> String {
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
    index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"]
        .as_str()
        .unwrap_or("latest")
        .to_string()
}

fn umoci_unpack(layout: &Path, bundle: &Path) -> PathBuf {
    let r = layout_ref(layout);
    ok(Command::new("umoci")
        .arg("unpack")
        .arg("--image")
        .arg(format!("{}:{r}", layout.display()))
        .arg(bundle));
    bundle.join("rootfs")
}

/// path → (kind, mode, uid, gid, link target or content digest).
type Tree = BTreeMap<String, (char, u32, u32, u32, String)>;

fn tree(root: &Path) -> Tree {
    fn walk(root: &Path, dir: &Path, out: &mut Tree) {
        let mut names: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        for n in names {
            let p = dir.join(&n);
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().to_string();
            let m = std::fs::symlink_metadata(&p).unwrap();
            let (kind, what) = if m.file_type().is_symlink() {
                (
                    'l',
                    std::fs::read_link(&p)
                        .unwrap()
                        .to_string_lossy()
                        .to_string(),
                )
            } else if m.is_dir() {
                ('d', String::new())
            } else if m.is_file() {
                let mut s = String::new();
                let mut f = std::fs::File::open(&p).unwrap();
                let mut buf = Vec::new();
                f.read_to_end(&mut buf).unwrap();
                if buf.len() < 256 {
                    s.push_str(&String::from_utf8_lossy(&buf));
                } else {
                    s = format!("{} bytes", buf.len());
                }
                ('f', s)
            } else {
                ('o', String::new())
            };
            out.insert(
                rel,
                (
                    kind,
                    m.permissions().mode() & 0o7777,
                    m.uid(),
                    m.gid(),
                    what,
                ),
            );
            if m.is_dir() {
                walk(root, &p, out);
            }
        }
    }
    let mut out = Tree::new();
    walk(root, root, &mut out);
    out
}

/// Every layer tar (decompressed) and the config of the image in `layout`.
fn all_blobs_text(layout: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(layout.join("blobs/sha256")).unwrap() {
        let p = e.unwrap().path();
        let raw = std::fs::read(&p).unwrap();
        let data = if raw.starts_with(&[0x1f, 0x8b]) {
            let mut d = Vec::new();
            flate2::read::GzDecoder::new(raw.as_slice())
                .read_to_end(&mut d)
                .unwrap();
            d
        } else {
            raw
        };
        out.push((p.display().to_string(), data));
    }
    out
}

fn wharf_build(store: &Path, ctx: &Path, secret: &Path, out: &Path, extra: &[&str]) -> String {
    let (_, stderr) = ok(wharf()
        .arg("build")
        .arg("--store")
        .arg(store)
        .arg("--progress")
        .arg("plain")
        .arg("--secret")
        .arg(format!("id=token,src={}", secret.display()))
        .arg("-t")
        .arg("example.test/run:1")
        .arg("-o")
        .arg(format!("type=oci,dest={}", out.display()))
        .args(extra)
        .arg(ctx));
    stderr
}

#[test]
fn multi_stage_run_build_matches_buildah_and_keeps_secrets_out() {
    let (reg, dir, base) = registry_with_busybox();
    let ctx = context(dir.path(), &base);
    let store = dir.path().join("store");
    let out = dir.path().join("wharf-oci");
    let stderr = wharf_build(&store, &ctx, &dir.path().join("token"), &out, &[]);
    // Output of the commands is streamed to the progress view.
    assert!(stderr.contains("RUN"), "{stderr}");

    // The file tree umoci unpacks.
    let rootfs = umoci_unpack(&out, &dir.path().join("bundle"));
    let t = tree(&rootfs);
    let file = |p: &str| t.get(p).unwrap_or_else(|| panic!("{p} missing")).clone();
    assert_eq!(file("app/hello.txt").4, "hello\n");
    assert_eq!(file("app/link"), ('l', 0o777, 0, 0, "hello.txt".into()));
    assert_eq!(file("app/sub").1, 0o750);
    assert_eq!(file("app/sub/x").1, 0o600);
    assert_eq!(file("app/cache-count").4.trim(), "1");
    assert_eq!(file("app/token-len").4.trim(), SECRET.len().to_string());
    assert_eq!(file("app/input.txt").4, "input from the context\n");
    assert_eq!(file("app/heredoc.txt").4, "from a here-document\n");
    assert_eq!(file("work/uid").4.trim(), "1000");
    assert_eq!(file("work/groups").4.trim(), "1000 50");
    assert_eq!(file("work/made-by-app").2, 1000, "owned by app");
    // The final stage replaced /opt/data: only the new file is there.
    assert_eq!(file("opt/data/n").4, "new\n");
    assert!(!t.contains_key("opt/data/keep.txt"), "opaque directory");
    // Nothing of the sandbox's own mounts leaked into the image.
    for p in ["cache", "run/secrets", "src", "dev/pipes", "proc/self"] {
        assert!(!t.contains_key(p), "{p} should not be in the image");
    }

    // The secret is in no blob (layers decompressed, config, manifests).
    for (name, data) in all_blobs_text(&out) {
        assert!(
            !data.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()),
            "the secret is in {name}"
        );
    }

    // The first stage's layers record deletions as whiteouts.
    let build_out = dir.path().join("build-oci");
    let (o, _, e) = run(wharf()
        .arg("build")
        .arg("--store")
        .arg(&store)
        .arg("--target")
        .arg("build")
        .arg("--secret")
        .arg(format!(
            "id=token,src={}",
            dir.path().join("token").display()
        ))
        .arg("-o")
        .arg(format!("type=oci,dest={}", build_out.display()))
        .arg(&ctx));
    assert!(o.status.success(), "{e}");
    let mut names = Vec::new();
    for (_, data) in all_blobs_text(&build_out) {
        if let Ok(entries) = tar::Archive::new(data.as_slice()).entries() {
            for en in entries.flatten() {
                names.push(en.path().unwrap().to_string_lossy().to_string());
            }
        }
    }
    for w in ["opt/data/.wh.remove.txt", "etc/.wh.motd"] {
        assert!(names.iter().any(|n| n == w), "{w} missing in {names:?}");
    }

    // The image's CMD runs under the sandbox.
    let upper = dir.path().join("cmd-upper");
    let work = dir.path().join("cmd-work");
    std::fs::create_dir_all(&upper).unwrap();
    std::fs::create_dir_all(&work).unwrap();
    let spec = wharf_sandbox::SandboxSpec::new(
        vec![rootfs.clone()],
        upper,
        work,
        vec![
            "sh".into(),
            "-c".into(),
            "cat /app/hello.txt /app/input.txt".into(),
        ],
    );
    let mut stdout = Vec::new();
    let status = wharf_sandbox::run(&spec, &mut |s, b| {
        if s == wharf_sandbox::Stream::Stdout {
            stdout.extend_from_slice(b)
        }
    })
    .unwrap();
    assert!(status.success());
    assert_eq!(
        String::from_utf8_lossy(&stdout),
        "hello\ninput from the context\n"
    );

    // A cache mount keeps its content between builds.
    let out2 = dir.path().join("wharf-oci-2");
    wharf_build(
        &store,
        &ctx,
        &dir.path().join("token"),
        &out2,
        &["--no-cache"],
    );
    let t2 = tree(&umoci_unpack(&out2, &dir.path().join("bundle2")));
    assert_eq!(t2["app/cache-count"].4.trim(), "2");

    // buildah builds the same tree.
    if !have("buildah") {
        panic!("install Debian's buildah to compare with it");
    }
    let broot = dir.path().join("buildah");
    let buildah = |args: &[&str]| {
        let mut c = Command::new("buildah");
        c.arg("--root")
            .arg(broot.join("root"))
            .arg("--runroot")
            .arg(broot.join("runroot"))
            .args(args);
        c
    };
    let secret_arg = format!("id=token,src={}", dir.path().join("token").display());
    ok(buildah(&[
        "bud",
        "--isolation",
        "chroot",
        "--runtime",
        "runc",
        "--tls-verify=false",
        "--secret",
        &secret_arg,
        "-t",
        "localhost/run:1",
        "-f",
    ])
    .arg(ctx.join("Dockerfile.plain"))
    .arg(&ctx));
    let b_layout = dir.path().join("buildah-oci");
    ok(buildah(&["push", "localhost/run:1"]).arg(format!("oci:{}:run", b_layout.display())));
    let b_tree = tree(&umoci_unpack(&b_layout, &dir.path().join("bbundle")));
    // buildah 1.28's chroot isolation leaves the stubs of its bind mounts
    // in the image (empty 0755 files, an empty /run); BuildKit and wharf
    // remove what they created to mount on.
    let buildah_stub = |k: &str| {
        ["etc/hostname", "etc/hosts", "etc/resolv.conf", "run"].contains(&k)
            && !t.contains_key(k)
            && matches!(b_tree.get(k), Some((_, 0o755, 0, 0, w)) if w.is_empty())
    };
    let differences: Vec<String> = t
        .keys()
        .chain(b_tree.keys())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .filter(|k| t.get(*k) != b_tree.get(*k) && !buildah_stub(k))
        .map(|k| format!("{k}: wharf {:?} buildah {:?}", t.get(k), b_tree.get(k)))
        .collect();
    assert!(
        differences.is_empty(),
        "wharf and buildah differ:\n{}",
        differences.join("\n")
    );
    drop(reg);
}

fn layer_entries(blob: &Path) -> Vec<(String, u64, u64, Vec<u8>)> {
    let f = std::fs::File::open(blob).unwrap();
    let mut a = tar::Archive::new(flate2::read::GzDecoder::new(f));
    let mut out = Vec::new();
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().to_string_lossy().to_string();
        let (uid, gid) = (e.header().uid().unwrap(), e.header().gid().unwrap());
        let mut data = Vec::new();
        e.read_to_end(&mut data).unwrap();
        out.push((name, uid, gid, data));
    }
    out
}

/// The store's areas of unpacked files that exist are mode 0700.
fn assert_private_areas(store: &Path) {
    for area in ["wharf-snapshots", "wharf-tmp", "wharf-run-cache"] {
        if let Ok(md) = std::fs::metadata(store.join(area)) {
            assert_eq!(md.permissions().mode() & 0o7777, 0o700, "{area}");
        }
    }
    assert!(store.join("wharf-snapshots").is_dir());
}

/// The blob path of each layer of the stored image `name`.
fn stored_layers(store: &Path, name: &str) -> Vec<PathBuf> {
    let (inspect, _) = ok(wharf().arg("inspect").arg("--store").arg(store).arg(name));
    let v: serde_json::Value = serde_json::from_str(&inspect).unwrap();
    let s = Store::open(store).unwrap();
    v["manifests"][0]["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let d: wharf_oci::Digest = l["digest"]
                .as_str()
                .unwrap()
                .to_string()
                .try_into()
                .unwrap();
            s.blob_path(&d)
        })
        .collect()
}

#[test]
fn linux_run_output_copied_into_a_windows_stage() {
    let (reg, dir, busybox) = registry_with_busybox();
    let src = Store::open(dir.path().join("win-src")).unwrap();
    let win = format!("{}/base/windows:1", reg.host());
    let d = wharf_testkit::images::store_windows_image(&src, "10.0.20348.2113");
    src.tag(&win, &d).unwrap();
    ok(wharf()
        .arg("push")
        .arg("--store")
        .arg(dir.path().join("win-src"))
        .arg(&win));
    let ctx = dir.path().join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        format!(
            "FROM --platform=linux/amd64 {busybox} AS build\n\
             RUN mkdir -p /out/bin && echo built-on-linux > /out/bin/app.txt && chmod 0755 /out/bin/app.txt\n\
             FROM {win}\n\
             COPY --from=build /out/ C:/app/\n"
        ),
    )
    .unwrap();
    let store = dir.path().join("store");
    ok(wharf()
        .args([
            "build",
            "--platform",
            "windows/amd64:10.0.20348",
            "-t",
            "example.test/cross:1",
        ])
        .arg("--store")
        .arg(&store)
        .arg(&ctx));
    let layers = stored_layers(&store, "example.test/cross:1");
    let last = layers.last().unwrap();
    let entries = layer_entries(last);
    let app = entries
        .iter()
        .find(|e| e.0 == "Files/app/bin/app.txt")
        .unwrap_or_else(|| {
            panic!(
                "no Files/app/bin/app.txt in {:?}",
                entries.iter().map(|e| &e.0).collect::<Vec<_>>()
            )
        });
    assert_eq!(app.3, b"built-on-linux\n");
    check_windows_layer(last);
}

/// An unprivileged user (created if missing) for the rootless test.
const ROOTLESS_USER: &str = "wharf-rootless";

#[test]
fn rootless_build_runs_run_steps_with_container_owners() {
    // The test creates the user when it runs as root (CI); as any other
    // user it runs the build as itself.
    let as_root = rustix::process::geteuid().is_root();
    if as_root {
        let exists = Command::new("id")
            .arg(ROOTLESS_USER)
            .output()
            .unwrap()
            .status
            .success();
        if !exists {
            ok(Command::new("useradd").args(["-m", ROOTLESS_USER]));
        }
        let has_range = |file: &str| {
            std::fs::read_to_string(file)
                .unwrap_or_default()
                .lines()
                .any(|l| l.starts_with(&format!("{ROOTLESS_USER}:")))
        };
        if !has_range("/etc/subuid") || !has_range("/etc/subgid") {
            // useradd gives ranges only where /etc/subuid already exists.
            ok(Command::new("usermod").args([
                "--add-subuids",
                "300000-365535",
                "--add-subgids",
                "300000-365535",
                ROOTLESS_USER,
            ]));
        }
    }
    let (reg, dir, busybox) = registry_with_busybox();
    let work = dir.path().join("rootless");
    std::fs::create_dir_all(work.join("ctx")).unwrap();
    std::fs::write(
        work.join("ctx/Dockerfile"),
        format!(
            "FROM {busybox}\n\
             RUN mkdir /data && echo root-file > /data/r && chown -R app:staff /data && touch /data/app-owned && chown 1000:50 /data/app-owned\n\
             RUN rm /opt/data/remove.txt\n\
             USER app\n\
             RUN id -u > /tmp/uid\n"
        ),
    )
    .unwrap();
    let mut cmd = if as_root {
        ok(Command::new("chown")
            .arg("-R")
            .arg(ROOTLESS_USER)
            .arg(&work));
        // The tempdir itself is 0700 root: let the user through to `work`.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o711)).unwrap();
        let mut c = Command::new("runuser");
        c.args(["-u", ROOTLESS_USER, "--", "env"])
            .arg(format!("HOME={}", work.display()))
            .arg(env!("CARGO_BIN_EXE_wharf"));
        c
    } else {
        wharf()
    };
    let store = work.join("store");
    ok(cmd
        .args([
            "build",
            "--progress",
            "plain",
            "-t",
            "example.test/rootless:1",
        ])
        .arg("--store")
        .arg(&store)
        .arg(work.join("ctx")));
    let layers = stored_layers(&store, "example.test/rootless:1");
    assert_eq!(layers.len(), 4, "base + three RUN layers");
    // The unpacked layers stay private to the user (the namespace needs no
    // group bit: the user mounts the overlays).
    assert_private_areas(&store);
    let first = layer_entries(&layers[1]);
    let owner = |name: &str| {
        first
            .iter()
            .find(|e| e.0.trim_end_matches('/') == name)
            .map(|e| (e.1, e.2))
            .unwrap_or_else(|| panic!("{name} missing"))
    };
    // Container ids, not the host ids they were mapped to.
    assert_eq!(owner("data"), (1000, 50));
    assert_eq!(owner("data/r"), (1000, 50));
    assert_eq!(owner("data/app-owned"), (1000, 50));
    let second = layer_entries(&layers[2]);
    assert!(second.iter().any(|e| e.0 == "opt/data/.wh.remove.txt"));
    let third = layer_entries(&layers[3]);
    let uid = third.iter().find(|e| e.0 == "tmp/uid").expect("tmp/uid");
    assert_eq!(String::from_utf8_lossy(&uid.3).trim(), "1000");
    assert_eq!((uid.1, uid.2), (1000, 1000));

    // `wharf prune` (rootless too) keeps the snapshots of tagged images and
    // removes the others, though their files belong to subordinate ids.
    let prune = |as_user: bool| {
        let mut c = if as_user {
            let mut c = Command::new("runuser");
            c.args(["-u", ROOTLESS_USER, "--"])
                .arg(env!("CARGO_BIN_EXE_wharf"));
            c
        } else {
            wharf()
        };
        let (_, stderr) = ok(c.arg("prune").arg("--store").arg(&store));
        stderr
    };
    let snapshots = || {
        std::fs::read_dir(store.join("wharf-snapshots"))
            .map(|d| d.count())
            .unwrap_or(0)
    };
    let before = snapshots();
    // The base and the layers of the first two RUNs (the last one is
    // never a lower directory).
    assert_eq!(before, 3);
    let stderr = prune(as_root);
    assert!(
        stderr.contains("removed 0 unpacked layer snapshot(s)"),
        "{stderr}"
    );
    assert_eq!(snapshots(), before);
    // Untag everything: every snapshot goes.
    let index = store.join("index.json");
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&index).unwrap()).unwrap();
    v["manifests"] = serde_json::json!([]);
    std::fs::write(&index, serde_json::to_vec(&v).unwrap()).unwrap();
    let stderr = prune(as_root);
    assert!(
        stderr.contains(&format!("removed {before} unpacked layer snapshot(s)")),
        "{stderr}"
    );
    assert!(!stderr.contains("could not remove"), "{stderr}");
    assert_eq!(snapshots(), 0);
    drop(reg);
}

#[test]
fn external_runc_runtime_and_failing_commands() {
    let (reg, dir, busybox) = registry_with_busybox();
    let ctx = dir.path().join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        format!("FROM {busybox}\nRUN echo hi > /x && rm /etc/motd\n"),
    )
    .unwrap();
    let store = dir.path().join("store");
    ok(wharf()
        .args([
            "build",
            "--progress",
            "plain",
            "--runtime",
            "runc",
            "-t",
            "example.test/runc:1",
        ])
        .arg("--store")
        .arg(&store)
        .arg(&ctx));
    let layers = stored_layers(&store, "example.test/runc:1");
    assert_private_areas(&store);
    let names: Vec<String> = layer_entries(&layers[1]).into_iter().map(|e| e.0).collect();
    assert!(names.iter().any(|n| n == "x"), "{names:?}");
    assert!(names.iter().any(|n| n == "etc/.wh.motd"), "{names:?}");

    // A failing command names the file, line and exit code, with its output.
    std::fs::write(
        ctx.join("Dockerfile"),
        format!("FROM {busybox}\nRUN echo first\nRUN echo about to fail >&2; exit 3\n"),
    )
    .unwrap();
    let (out, _, stderr) = run(wharf()
        .args(["build", "--progress", "plain"])
        .arg("--store")
        .arg(&store)
        .arg(&ctx));
    assert!(!out.status.success());
    assert!(stderr.contains("Dockerfile:3"), "{stderr}");
    assert!(stderr.contains("exit code 3"), "{stderr}");
    assert!(stderr.contains("about to fail"), "{stderr}");
    drop(reg);
}

/// COPY into a directory the base has leaves that directory as it is
/// (`/tmp` stays 1777), and one it lacks is made root-owned 0755, as
/// BuildKit does.
#[test]
fn copy_keeps_the_owner_and_mode_of_existing_parents() {
    let (reg, dir, busybox) = registry_with_busybox();
    let ctx = dir.path().join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(ctx.join("a.txt"), "a\n").unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        format!(
            "FROM {busybox}\n\
             COPY a.txt /tmp/a.txt\n\
             COPY a.txt /made/here/a.txt\n\
             RUN stat -c %a /tmp > /tmp-mode && stat -c '%a %u' /made/here > /made-mode\n"
        ),
    )
    .unwrap();
    let out = dir.path().join("oci");
    ok(wharf()
        .args([
            "build",
            "--progress",
            "plain",
            "-t",
            "example.test/parents:1",
        ])
        .arg("--output")
        .arg(format!("type=oci,dest={}", out.display()))
        .arg("--store")
        .arg(dir.path().join("store"))
        .arg(&ctx));
    let rootfs = umoci_unpack(&out, &dir.path().join("bundle"));
    let t = tree(&rootfs);
    assert_eq!(t["tmp"].1, 0o1777, "COPY changed /tmp");
    assert_eq!(t["tmp-mode"].4.trim(), "1777", "as the RUN saw it");
    assert_eq!(t["made-mode"].4.trim(), "755 0");
    drop(reg);
}
