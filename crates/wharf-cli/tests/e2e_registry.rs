//! `wharf` end to end against the real CNCF registry (`docker-registry`,
//! started on a free loopback port) and independent tools (skopeo, umoci,
//! Python's tarfile through the Windows layer checker):
//! - a cross-OS Windows build (Linux stage feeding a Windows stage) pushed
//!   without downloading the Windows base layers, pulled back and checked
//!   field by field;
//! - three platforms from one build, as one index, the app layer shared;
//! - a Linux image exported as OCI archive and docker-archive, read by
//!   skopeo and unpacked by umoci.

mod common;
use common::{check_windows_layer, json, ok, run, wharf};
use std::path::{Path, PathBuf};
use std::process::Command;
use wharf_store::Store;
use wharf_testkit::images::{store_index, store_os_release_image, store_windows_image};
use wharf_testkit::registry::{start, Auth, Registry};

/// A registry holding `base/multi:1`: Windows 17763, 20348 and 26100 and
/// Linux entries in one index.
fn registry_with_bases() -> (Registry, tempfile::TempDir) {
    let reg = start(Auth::None, None);
    let dir = tempfile::tempdir().unwrap();
    let src = Store::open(dir.path().join("src")).unwrap();
    let mut entries: Vec<_> = ["10.0.17763.5000", "10.0.20348.2113", "10.0.26100.100"]
        .iter()
        .map(|v| store_windows_image(&src, v))
        .collect();
    entries.push(store_os_release_image(&src));
    let name = format!("{}/base/multi:1", reg.host());
    store_index(&src, &name, entries);
    ok(wharf()
        .arg("push")
        .arg("--store")
        .arg(dir.path().join("src"))
        .arg(&name));
    (reg, dir)
}

fn context(dir: &Path) -> PathBuf {
    let ctx = dir.join("ctx");
    std::fs::create_dir_all(ctx.join("app")).unwrap();
    std::fs::write(ctx.join("app/app.exe"), "MZ not really an exe\n").unwrap();
    std::fs::write(ctx.join("app/readme.txt"), "hello\n").unwrap();
    std::fs::write(ctx.join("config.txt"), "mode=prod\n").unwrap();
    ctx
}

fn skopeo_raw(image: &str) -> serde_json::Value {
    let (out, _) =
        ok(Command::new("skopeo").args(["inspect", "--raw", "--tls-verify=false", image]));
    json(&out)
}

/// Every regular file of each layer of the stored image `name`:
/// (path, permission bits, content), layer by layer.
fn image_files(store: &Path, name: &str) -> Vec<Vec<(String, u32, String)>> {
    let (inspect, _) = ok(wharf().arg("inspect").arg("--store").arg(store).arg(name));
    let s = Store::open(store).unwrap();
    json(&inspect)["manifests"][0]["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let digest: wharf_oci::Digest = l["digest"]
                .as_str()
                .unwrap()
                .to_string()
                .try_into()
                .unwrap();
            let f = std::fs::File::open(s.blob_path(&digest)).unwrap();
            let mut a = tar::Archive::new(flate2::read::GzDecoder::new(f));
            let mut files = Vec::new();
            for e in a.entries().unwrap() {
                let mut e = e.unwrap();
                if e.header().entry_type().is_file() {
                    let name = e.path().unwrap().to_string_lossy().to_string();
                    let mode = e.header().mode().unwrap() & 0o777;
                    let mut text = String::new();
                    std::io::Read::read_to_string(&mut e, &mut text).unwrap();
                    files.push((name, mode, text));
                }
            }
            files
        })
        .collect()
}

#[test]
fn windows_cross_os_build_pushed_without_base_downloads_and_pulled_back() {
    let (reg, dir) = registry_with_bases();
    let ctx = context(dir.path());
    let host = reg.host();
    std::fs::write(
        ctx.join("Dockerfile"),
        format!(
            "# escape=`\n\
             FROM --platform=linux/amd64 scratch AS linux\n\
             COPY app/ /opt/app/\n\
             FROM {host}/base/multi:1\n\
             COPY --from=linux /opt/app/ C:\\app\\\n\
             COPY --chown=ContainerUser config.txt C:\\app\\config.txt\n\
             WORKDIR C:\\app\n\
             ENV APP_MODE=prod\n\
             CMD [\"app.exe\"]\n"
        ),
    )
    .unwrap();
    let store = dir.path().join("build-store");
    let target = format!("{host}/app/win:1");
    let (_, stderr) = ok(wharf()
        .args([
            "build",
            "--platform",
            "windows/amd64:10.0.20348",
            "--push",
            "-t",
            &target,
        ])
        .arg("--store")
        .arg(&store)
        .arg(&ctx));
    assert!(stderr.contains(&format!("pushed {target}")), "{stderr}");
    assert!(stderr.contains("mounted"), "{stderr}");

    // Zero base-layer bytes downloaded: the build store lacks the base layers.
    let (inspect, _) = ok(wharf()
        .arg("inspect")
        .arg("--store")
        .arg(&store)
        .arg(&target));
    let details = json(&inspect);
    let layers = details["manifests"][0]["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 4, "two base layers and two COPY layers");
    assert_eq!(layers[0]["present"], false);
    assert_eq!(layers[1]["present"], false);
    assert_eq!(layers[2]["present"], true);

    // The registry has the image; skopeo reads it.
    let manifest = skopeo_raw(&format!("docker://{target}"));
    assert_eq!(manifest["layers"].as_array().unwrap().len(), 4);

    // Pulled back into a fresh store, field by field.
    let pulled = dir.path().join("pulled");
    ok(wharf()
        .args(["pull", "--platform", "windows/amd64:10.0.20348"])
        .arg("--store")
        .arg(&pulled)
        .arg(&target));
    let (inspect, _) = ok(wharf()
        .arg("inspect")
        .arg("--store")
        .arg(&pulled)
        .arg(&target));
    let d = json(&inspect);
    let m = &d["manifests"][0];
    assert_eq!(m["platform"]["os"], "windows");
    assert_eq!(m["platform"]["os.version"], "10.0.20348.2113");
    let config_digest = m["manifest"]["config"]["digest"].as_str().unwrap();
    let pulled_store = Store::open(&pulled).unwrap();
    let config: serde_json::Value = json(
        &std::fs::read_to_string(
            pulled_store.blob_path(&config_digest.to_string().try_into().unwrap()),
        )
        .unwrap(),
    );
    assert_eq!(config["os"], "windows");
    assert_eq!(config["os.version"], "10.0.20348.2113");
    assert_eq!(config["config"]["WorkingDir"], "C:\\app");
    assert_eq!(config["config"]["Cmd"][0], "app.exe");
    assert!(common::has_env(&config, "APP_MODE=prod"), "{config}");
    assert!(
        config["config"]
            .get("Env")
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .all(|e| !e.as_str().unwrap().starts_with("PATH=/")),
        "no Linux PATH in a Windows image"
    );
    assert_eq!(config["rootfs"]["diff_ids"].as_array().unwrap().len(), 4);
    let history = config["history"].as_array().unwrap();
    let created_by: Vec<&str> = history
        .iter()
        .filter_map(|h| h["created_by"].as_str())
        .collect();
    assert!(
        created_by
            .iter()
            .any(|c| c.starts_with("COPY --from=linux")),
        "{created_by:?}"
    );
    assert_eq!(
        history.iter().filter(|h| h["empty_layer"] != true).count(),
        2,
        "{history:?}"
    );
    // Both COPY layers pass the independent Windows layer checker.
    for l in &m["layers"].as_array().unwrap()[2..] {
        let digest = l["digest"].as_str().unwrap().to_string();
        check_windows_layer(&pulled_store.blob_path(&digest.try_into().unwrap()));
    }
}

#[test]
fn three_platforms_from_one_build_share_the_app_layer() {
    let (reg, dir) = registry_with_bases();
    let ctx = context(dir.path());
    std::fs::write(
        ctx.join("Dockerfile"),
        format!(
            "FROM --platform=$TARGETPLATFORM {}/base/multi:1\nCOPY config.txt /config/app.txt\n",
            reg.host()
        ),
    )
    .unwrap();
    let out = dir.path().join("oci-out");
    ok(wharf()
        .args([
            "build",
            "--platform",
            "windows/amd64:10.0.17763,windows/amd64:10.0.20348,linux/amd64",
            "-t",
            "example.test/multi:1",
            "--output",
        ])
        .arg(format!("type=oci,dest={}", out.display()))
        .arg("--store")
        .arg(dir.path().join("store"))
        .arg(&ctx));
    let index = skopeo_raw(&format!("oci:{}:example.test/multi:1", out.display()));
    let entries = index["manifests"].as_array().unwrap();
    assert_eq!(entries.len(), 3);
    let versions: Vec<String> = entries
        .iter()
        .map(|e| {
            format!(
                "{}:{}",
                e["platform"]["os"].as_str().unwrap(),
                e["platform"]["os.version"].as_str().unwrap_or("")
            )
        })
        .collect();
    assert_eq!(
        versions,
        vec![
            "windows:10.0.17763.5000",
            "windows:10.0.20348.2113",
            "linux:"
        ]
    );
    let layer_of = |i: usize| {
        let d = entries[i]["digest"]
            .as_str()
            .unwrap()
            .trim_start_matches("sha256:")
            .to_string();
        let m = json(&std::fs::read_to_string(out.join("blobs/sha256").join(d)).unwrap());
        m["layers"].as_array().unwrap().last().unwrap()["digest"].clone()
    };
    assert_eq!(
        layer_of(0),
        layer_of(1),
        "one app layer for every Windows version"
    );
    assert_ne!(
        layer_of(0),
        layer_of(2),
        "the Linux image has a Linux layer"
    );
}

#[test]
fn linux_image_exported_and_read_by_skopeo_and_umoci() {
    let dir = tempfile::tempdir().unwrap();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/hello");
    let archive = dir.path().join("hello-oci.tar");
    let docker = dir.path().join("hello-docker.tar");
    let layout = dir.path().join("layout");
    for spec in [
        format!("type=oci,dest={}", archive.display()),
        format!("type=docker,dest={}", docker.display()),
        format!("type=oci,dest={}", layout.display()),
    ] {
        ok(wharf()
            .args(["build", "-t", "example.test/hello:1", "--output", &spec])
            .arg("--store")
            .arg(dir.path().join("store"))
            .arg(&example));
    }
    let (info, _) = ok(Command::new("skopeo")
        .args(["inspect"])
        .arg(format!("docker-archive:{}", docker.display())));
    assert_eq!(
        json(&info)["Labels"]["org.opencontainers.image.version"],
        "1.0"
    );
    ok(Command::new("skopeo").arg("inspect").arg(format!(
        "oci-archive:{}:example.test/hello:1",
        archive.display()
    )));
    let bundle = dir.path().join("bundle");
    ok(Command::new("umoci")
        .args(["unpack", "--rootless", "--image"])
        .arg(format!("{}:example.test/hello:1", layout.display()))
        .arg(&bundle));
    let text = std::fs::read_to_string(bundle.join("rootfs/srv/hello.txt")).unwrap();
    assert_eq!(text, "Hello from an image built by wharf.\n");
}

#[test]
fn base_without_the_requested_platform_lists_what_it_has() {
    let (reg, dir) = registry_with_bases();
    let ctx = context(dir.path());
    std::fs::write(
        ctx.join("Dockerfile"),
        format!("FROM {}/base/multi:1\nCOPY config.txt /c.txt\n", reg.host()),
    )
    .unwrap();
    // 19041 runs only its own build (below 20348, containerd's rule), which
    // the index lacks.
    let (out, _, stderr) = run(wharf()
        .args(["build", "--platform", "windows/amd64:10.0.19041"])
        .arg("--store")
        .arg(dir.path().join("store"))
        .arg(&ctx));
    assert!(!out.status.success());
    assert!(stderr.contains("Dockerfile:1: FROM"), "{stderr}");
    assert!(
        stderr.contains("no image for platform windows(10.0.19041)/amd64"),
        "{stderr}"
    );
    for offered in [
        "10.0.17763.5000",
        "10.0.20348.2113",
        "10.0.26100.100",
        "linux/amd64",
    ] {
        assert!(stderr.contains(offered), "{offered} missing from: {stderr}");
    }
}

#[test]
fn copy_from_an_image_and_from_a_stage_on_a_registry_image() {
    let (reg, dir) = registry_with_bases();
    let ctx = context(dir.path());
    let host = reg.host();
    std::fs::write(
        ctx.join("Dockerfile"),
        format!(
            "FROM {host}/base/multi:1 AS base\n\
             FROM scratch\n\
             COPY --from={host}/base/multi:1 /etc/os-release /from-image\n\
             COPY --from=base /etc/os-release /from-stage\n"
        ),
    )
    .unwrap();
    let store = dir.path().join("store");
    ok(wharf()
        .args([
            "build",
            "--platform",
            "linux/amd64",
            "-t",
            "example.test/copied:1",
        ])
        .arg("--store")
        .arg(&store)
        .arg(&ctx));
    let layers = image_files(&store, "example.test/copied:1");
    assert_eq!(layers.len(), 2);
    assert_eq!(
        layers[0],
        vec![("from-image".to_string(), 0o644, "ID=test\n".to_string())]
    );
    assert_eq!(
        layers[1],
        vec![("from-stage".to_string(), 0o644, "ID=test\n".to_string())]
    );
}

#[test]
fn add_downloads_urls_verified_by_checksum() {
    use sha2::Digest as _;
    let body = b"release 1.2.3\n".to_vec();
    let served = body.clone();
    let server = wharf_testkit::http::serve(move |req| {
        if req.path.starts_with("/files/tool-1.2.3.txt") {
            wharf_testkit::http::Reply::Full {
                status: 200,
                headers: vec![],
                body: served.clone(),
            }
        } else {
            wharf_testkit::http::Reply::Full {
                status: 404,
                headers: vec![],
                body: Vec::new(),
            }
        }
    });
    let hex: String = sha2::Sha256::digest(&body)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect();
    let sum = format!("sha256:{hex}");
    let url = format!("http://{}/files/tool-1.2.3.txt", server.base());
    let dir = tempfile::tempdir().unwrap();
    let ctx = dir.path().join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        format!("FROM scratch\nADD --checksum={sum} {url} /opt/\nADD {url} /opt/copy.txt\n"),
    )
    .unwrap();
    let store = dir.path().join("store");
    ok(wharf()
        .args(["build", "-t", "example.test/dl:1", "--store"])
        .arg(&store)
        .arg(&ctx));
    let seen: Vec<(String, u32, String)> = image_files(&store, "example.test/dl:1")
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(
        seen,
        vec![
            (
                "opt/tool-1.2.3.txt".to_string(),
                0o600,
                "release 1.2.3\n".to_string()
            ),
            (
                "opt/copy.txt".to_string(),
                0o600,
                "release 1.2.3\n".to_string()
            ),
        ]
    );

    // A wrong checksum fails the build and leaves nothing in the store.
    let wrong = format!("sha256:{}", "0".repeat(64));
    std::fs::write(
        ctx.join("Dockerfile"),
        format!("FROM scratch\nADD --checksum={wrong} {url} /opt/\n"),
    )
    .unwrap();
    let fresh = dir.path().join("fresh");
    let (out, _, stderr) = run(wharf().arg("build").arg("--store").arg(&fresh).arg(&ctx));
    assert!(!out.status.success());
    assert!(stderr.contains("Dockerfile:2: ADD http://"), "{stderr}");
    assert!(stderr.contains("digest mismatch"), "{stderr}");
}

/// A `git-daemon` on a free loopback port; killed on drop.
struct GitDaemon(std::process::Child);

impl Drop for GitDaemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn git(dir: &Path, args: &[&str]) {
    ok(Command::new("git")
        .args([
            "-c",
            "user.name=wharf",
            "-c",
            "user.email=wharf@example.test",
        ])
        .args(args)
        .current_dir(dir));
}

#[test]
fn add_checks_out_git_repositories() {
    let dir = tempfile::tempdir().unwrap();
    let repos = dir.path().join("repos");
    let repo = repos.join("app.git");
    std::fs::create_dir_all(repo.join("docs")).unwrap();
    git(&repo, &["init", "--quiet", "-b", "main"]);
    std::fs::write(repo.join("readme.txt"), "version one\n").unwrap();
    std::fs::write(repo.join("docs/guide.txt"), "guide\n").unwrap();
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "--quiet", "-m", "one"]);
    git(&repo, &["tag", "v1"]);
    std::fs::write(repo.join("readme.txt"), "version two\n").unwrap();
    git(&repo, &["commit", "--quiet", "-am", "two"]);

    let port = wharf_testkit::registry::free_port();
    // git-daemon itself, not `git daemon`: the `git` wrapper would run it
    // as a child that outlives a kill of the wrapper.
    let (exec_path, _) = ok(Command::new("git").arg("--exec-path"));
    let child = Command::new(Path::new(exec_path.trim()).join("git-daemon"))
        .args(["--reuseaddr", "--export-all", "--listen=127.0.0.1"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .arg(format!("--port={port}"))
        .arg(format!("--base-path={}", repos.display()))
        .arg(&repos)
        .spawn()
        .expect("git daemon");
    let _daemon = GitDaemon(child);
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let ctx = dir.path().join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        format!(
            "FROM scratch\n\
             ADD git://127.0.0.1:{port}/app.git#v1 /src/\n\
             ADD --keep-git-dir=true git://127.0.0.1:{port}/app.git#main:docs /docs/\n"
        ),
    )
    .unwrap();
    let store = dir.path().join("store");
    let (_, stderr) = ok(wharf()
        .args(["build", "-t", "example.test/git:1", "--store"])
        .arg(&store)
        .arg(&ctx));
    assert!(stderr.contains("at commit"), "{stderr}");
    let layers = image_files(&store, "example.test/git:1");
    assert!(
        layers[0].contains(&(
            "src/readme.txt".to_string(),
            0o644,
            "version one\n".to_string()
        )),
        "{:?}",
        layers[0]
    );
    assert!(
        layers[0].iter().all(|(n, _, _)| !n.contains(".git/")),
        "no .git without --keep-git-dir"
    );
    assert!(
        layers[1].contains(&("docs/guide.txt".to_string(), 0o644, "guide\n".to_string())),
        "{:?}",
        layers[1]
    );
    assert!(
        !layers[1]
            .iter()
            .any(|(n, _, _)| n.starts_with("docs/readme")),
        "only the subdirectory"
    );
    // A subdirectory that climbs out of the checkout (into the build
    // host's files) is refused, naming the line.
    std::fs::write(
        ctx.join("Dockerfile"),
        format!("FROM scratch\nADD git://127.0.0.1:{port}/app.git#main:../../.. /host/\n"),
    )
    .unwrap();
    let (out, _, stderr) = run(wharf().args(["build", "--store"]).arg(&store).arg(&ctx));
    assert!(!out.status.success());
    assert!(
        stderr.contains("Dockerfile:2") && stderr.contains("climbs out of the repository"),
        "{stderr}"
    );
}

/// `--read-windows-base`: the base's layers are downloaded and a COPY
/// re-declaring a directory of the base spells it as the base does
/// (without the flag the base stays in the registry and the COPY's own
/// spelling is written).
#[test]
fn windows_build_reading_its_base_spells_directories_as_the_base() {
    let (reg, dir) = registry_with_bases();
    let ctx = context(dir.path());
    let host = reg.host();
    std::fs::write(
        ctx.join("Dockerfile"),
        format!("FROM {host}/base/multi:1\nCOPY config.txt C:/APP/\n"),
    )
    .unwrap();
    let names = |read: bool| {
        let store = dir.path().join(format!("store-{read}"));
        let mut cmd = wharf();
        cmd.args([
            "build",
            "--platform",
            "windows/amd64:10.0.20348",
            "-t",
            "app:1",
        ]);
        if read {
            cmd.arg("--read-windows-base");
        }
        ok(cmd.arg("--store").arg(&store).arg(&ctx));
        let (inspect, _) = ok(wharf()
            .arg("inspect")
            .arg("--store")
            .arg(&store)
            .arg("app:1"));
        let layers = json(&inspect)["manifests"][0]["layers"].clone();
        let layers = layers.as_array().unwrap();
        let base_present = layers[0]["present"] == true && layers[1]["present"] == true;
        let s = Store::open(&store).unwrap();
        let digest: wharf_oci::Digest = layers[2]["digest"]
            .as_str()
            .unwrap()
            .to_string()
            .try_into()
            .unwrap();
        let f = std::fs::File::open(s.blob_path(&digest)).unwrap();
        let mut a = tar::Archive::new(flate2::read::GzDecoder::new(f));
        let names: Vec<String> = a
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().to_string_lossy().to_string())
            .collect();
        (base_present, names)
    };
    let (present, plain) = names(false);
    assert!(!present, "the base is not downloaded without the flag");
    assert!(
        plain.contains(&"Files/APP/config.txt".to_string()),
        "{plain:?}"
    );
    let (present, read) = names(true);
    assert!(present, "the flag downloads the base");
    assert!(
        read.contains(&"Files/app/config.txt".to_string()),
        "{read:?}"
    );
    assert!(!read.iter().any(|n| n.starts_with("Files/APP")), "{read:?}");
}
