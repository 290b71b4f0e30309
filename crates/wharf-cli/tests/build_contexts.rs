//! `--build-context`: a directory read by `COPY --from=NAME` (also in
//! place of a stage of that name), an image for `FROM NAME`, and clear
//! refusals of what cannot work.

mod common;
use common::{json, run, to_oci_layout, wharf};
use std::path::Path;

fn layer_files(layout: &Path) -> Vec<(String, String)> {
    let index = json(&std::fs::read_to_string(layout.join("index.json")).unwrap());
    let blob = |d: &str| {
        layout
            .join("blobs/sha256")
            .join(d.trim_start_matches("sha256:"))
    };
    let manifest = json(
        &std::fs::read_to_string(blob(index["manifests"][0]["digest"].as_str().unwrap())).unwrap(),
    );
    let mut out = Vec::new();
    for l in manifest["layers"].as_array().unwrap() {
        let f = std::fs::File::open(blob(l["digest"].as_str().unwrap())).unwrap();
        let mut a = tar::Archive::new(flate2::read::GzDecoder::new(f));
        for e in a.entries().unwrap() {
            let mut e = e.unwrap();
            if !e.header().entry_type().is_file() {
                continue;
            }
            let name = e.path().unwrap().to_string_lossy().to_string();
            let mut text = String::new();
            std::io::Read::read_to_string(&mut e, &mut text).unwrap();
            out.push((name, text));
        }
    }
    out
}

#[test]
fn a_directory_context_is_read_by_copy_from_and_overrides_a_stage() {
    let dir = tempfile::tempdir().unwrap();
    let (ctx, extra) = (dir.path().join("ctx"), dir.path().join("extra"));
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::create_dir_all(extra.join("conf")).unwrap();
    std::fs::write(extra.join("conf/app.ini"), "from the named context\n").unwrap();
    std::fs::write(ctx.join("a.txt"), "from the stage\n").unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM scratch AS shared\nCOPY a.txt /conf/app.ini\nFROM scratch\nCOPY --from=Shared /conf/ /etc/app/\n",
    )
    .unwrap();
    let layout = dir.path().join("layout");
    let (out, _, stderr) = run(to_oci_layout(
        wharf()
            .arg("build")
            .arg("--build-context")
            .arg(format!("shared={}", extra.display())),
        &layout,
        &dir.path().join("store"),
        &ctx,
    ));
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        layer_files(&layout),
        vec![(
            "etc/app/app.ini".to_string(),
            "from the named context\n".to_string()
        )]
    );
}

#[test]
fn an_image_context_replaces_the_base_in_the_plan() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Dockerfile"),
        "FROM base\nCOPY --from=tools /bin/tool /bin/tool\n",
    )
    .unwrap();
    let (out, stdout, stderr) = run(wharf()
        .args(["plan", "--platform", "linux/amd64"])
        .args(["--build-context", "base=docker-image://example.com/team/base:1.2"])
        .args(["--build-context", "TOOLS=docker-image://example.com/tools@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"])
        .arg(dir.path()));
    assert!(out.status.success(), "{stderr}");
    let plan = json(&stdout);
    let stage = &plan["targets"][0]["stages"][0];
    assert_eq!(stage["base"]["reference"], "example.com/team/base:1.2");
    let copy = &stage["instructions"][0];
    assert_eq!(copy["reads"][0]["kind"], "image");
    assert!(copy["reads"][0]["reference"]
        .as_str()
        .unwrap()
        .starts_with("example.com/tools@sha256:"));
}

#[test]
fn contexts_that_cannot_work_are_refused_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let extra = dir.path().join("extra");
    std::fs::create_dir_all(&extra).unwrap();
    std::fs::write(dir.path().join("Dockerfile"), "FROM extra\n").unwrap();
    let dir_ctx = format!("extra={}", extra.display());
    for (spec, want) in [
        (dir_ctx.as_str(), "cannot be a base"),
        (
            "extra=oci-layout:///nonexistent/layout",
            "is not an OCI image layout",
        ),
        ("extra=/nonexistent/dir", "is not a directory"),
        ("extra=docker-image://UPPER/Case", "not an image reference"),
        ("=x", "NAME=DIR"),
    ] {
        let (out, _, stderr) = run(wharf()
            .args(["plan", "--build-context", spec])
            .arg(dir.path()));
        assert!(!out.status.success(), "{spec} was accepted");
        assert!(stderr.contains(want), "{spec}: {stderr}");
    }
}

/// A loopback server for `root` (Python's HTTP server for tarballs, git's
/// daemon for repositories); stopped on drop.
struct Served {
    child: std::process::Child,
    port: u16,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(root: &Path, git_daemon: bool) -> Served {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut cmd = std::process::Command::new(if git_daemon { "git" } else { "python3" });
    if git_daemon {
        cmd.args([
            "daemon",
            "--export-all",
            "--reuseaddr",
            "--listen=127.0.0.1",
        ])
        .arg(format!("--port={port}"))
        .arg(format!("--base-path={}", root.display()))
        .arg(root);
    } else {
        cmd.args([
            "-m",
            "http.server",
            "--bind",
            "127.0.0.1",
            &port.to_string(),
        ]);
    }
    let child = cmd
        .current_dir(root)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let served = Served { child, port };
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return served;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("the server did not start");
}

fn git(dir: &Path, args: &[&str]) {
    let out = std::process::Command::new("git")
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn git_and_tarball_contexts_are_fetched_and_read_by_copy_from() {
    let dir = tempfile::tempdir().unwrap();
    let www = dir.path().join("www");
    std::fs::create_dir_all(&www).unwrap();
    // A repository with a tag, served as a bare repository by git's daemon.
    let work = dir.path().join("work");
    std::fs::create_dir_all(work.join("docs")).unwrap();
    std::fs::write(work.join("docs/guide.md"), "from git, v1\n").unwrap();
    git(&work, &["init", "-q"]);
    git(&work, &["add", "."]);
    git(&work, &["commit", "-qm", "one"]);
    git(&work, &["tag", "v1"]);
    std::fs::write(work.join("docs/guide.md"), "from git, later\n").unwrap();
    git(&work, &["commit", "-qam", "two"]);
    git(
        dir.path(),
        &["clone", "-q", "--bare", "work", "www/repo.git"],
    );
    // A gzip tarball.
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::default(),
    ));
    let mut h = tar::Header::new_ustar();
    h.set_size(13);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h.set_cksum();
    tar.append_data(&mut h, "assets/logo.svg", &b"from tarball\n"[..])
        .unwrap();
    std::fs::write(
        www.join("assets.tar.gz"),
        tar.into_inner().unwrap().finish().unwrap(),
    )
    .unwrap();
    std::fs::write(www.join("not-an-archive.txt"), "plain text\n").unwrap();
    let server = serve(&www, false);
    let base = format!("http://127.0.0.1:{}", server.port);
    let daemon = serve(&www, true);
    let repo = format!("git://127.0.0.1:{}/repo.git", daemon.port);

    let ctx = dir.path().join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM scratch\nCOPY --from=docs /guide.md /doc/\nCOPY --from=assets /assets/ /www/\n",
    )
    .unwrap();
    let layout = dir.path().join("layout");
    let (out, _, stderr) = run(to_oci_layout(
        wharf()
            .arg("build")
            .arg("--build-context")
            .arg(format!("docs={repo}#v1:docs"))
            .arg("--build-context")
            .arg(format!("assets={base}/assets.tar.gz")),
        &layout,
        &dir.path().join("store"),
        &ctx,
    ));
    assert!(out.status.success(), "{stderr}");
    let files = layer_files(&layout);
    assert!(
        files.contains(&("doc/guide.md".into(), "from git, v1\n".into())),
        "{files:?}"
    );
    assert!(
        files.contains(&("www/logo.svg".into(), "from tarball\n".into())),
        "{files:?}"
    );

    // A URL that is no archive, and a repository without the directory.
    for (spec, want) in [
        (
            format!("assets={base}/not-an-archive.txt"),
            "is not a tar archive",
        ),
        (format!("docs={repo}#v1:nowhere"), "has no directory"),
    ] {
        let (out, _, stderr) = run(to_oci_layout(
            wharf().arg("build").arg("--build-context").arg(&spec),
            &dir.path().join("layout2"),
            &dir.path().join("store"),
            &ctx,
        ));
        assert!(!out.status.success(), "{spec} was accepted");
        assert!(
            stderr.contains(want) && stderr.contains("--build-context"),
            "{spec}: {stderr}"
        );
    }
}

#[test]
fn an_oci_layout_context_is_a_base_image() {
    let dir = tempfile::tempdir().unwrap();
    let (first, second) = (dir.path().join("first"), dir.path().join("second"));
    for d in [&first, &second] {
        std::fs::create_dir_all(d).unwrap();
    }
    std::fs::write(first.join("a.txt"), "from the layout\n").unwrap();
    std::fs::write(
        first.join("Dockerfile"),
        "FROM scratch\nCOPY a.txt /a.txt\nENV FROM_LAYOUT=1\n",
    )
    .unwrap();
    let base_layout = dir.path().join("base-layout");
    let (out, _, stderr) = run(to_oci_layout(
        wharf().args(["build", "-t", "example.test/base:v1"]),
        &base_layout,
        &dir.path().join("store-a"),
        &first,
    ));
    assert!(out.status.success(), "{stderr}");
    std::fs::write(second.join("b.txt"), "on top\n").unwrap();
    std::fs::write(second.join("Dockerfile"), "FROM base\nCOPY b.txt /b.txt\n").unwrap();
    let tags = json(&std::fs::read_to_string(base_layout.join("index.json")).unwrap());
    let tag = tags["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"]
        .as_str()
        .unwrap()
        .to_string();
    let layout = dir.path().join("layout");
    // A fresh store: the base comes from the layout alone.
    let (out, _, stderr) = run(to_oci_layout(
        wharf()
            .arg("build")
            .arg("--build-context")
            .arg(format!("base=oci-layout://{}:{tag}", base_layout.display())),
        &layout,
        &dir.path().join("store-b"),
        &second,
    ));
    assert!(out.status.success(), "{stderr}");
    let files = layer_files(&layout);
    assert!(
        files.contains(&("a.txt".into(), "from the layout\n".into())),
        "{files:?}"
    );
    assert!(
        files.contains(&("b.txt".into(), "on top\n".into())),
        "{files:?}"
    );
    // The config carries on from the layout's image.
    let index = json(&std::fs::read_to_string(layout.join("index.json")).unwrap());
    let blob = |d: &str| {
        layout
            .join("blobs/sha256")
            .join(d.trim_start_matches("sha256:"))
    };
    let manifest = json(
        &std::fs::read_to_string(blob(index["manifests"][0]["digest"].as_str().unwrap())).unwrap(),
    );
    let config = json(
        &std::fs::read_to_string(blob(manifest["config"]["digest"].as_str().unwrap())).unwrap(),
    );
    assert!(
        config["config"]["Env"]
            .to_string()
            .contains("FROM_LAYOUT=1"),
        "{config}"
    );
    // A tag the layout lacks.
    let (out, _, stderr) = run(to_oci_layout(
        wharf()
            .arg("build")
            .arg("--build-context")
            .arg(format!("base=oci-layout://{}:nope", base_layout.display())),
        &dir.path().join("layout2"),
        &dir.path().join("store-b"),
        &second,
    ));
    assert!(!out.status.success());
    assert!(stderr.contains("no image is tagged \"nope\""), "{stderr}");
}
