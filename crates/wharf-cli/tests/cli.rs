//! The `wharf` binary end to end: file discovery, plan output, errors and
//! exit codes.

mod common;
use common::{copy_context, json, run, wharf};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn plans_the_cross_os_example() {
    let (out, stdout, stderr) = run(wharf()
        .arg("plan")
        .arg(repo_root().join("examples/cross-os")));
    assert!(out.status.success(), "{stderr}");
    let p = json(&stdout);
    let t = &p["targets"][0];
    assert_eq!(
        t["platform"]["os"], "windows",
        "the output stage decides the default target"
    );
    let stages = t["stages"].as_array().unwrap();
    assert_eq!(stages.len(), 2);
    assert_eq!(stages[0]["name"], "tools");
    assert_eq!(stages[0]["platform"]["os"], "linux");
    assert_eq!(stages[1]["name"], "app");
    assert_eq!(stages[1]["platform"]["os"], "windows");
    assert_eq!(
        stages[1]["base"]["reference"],
        "mcr.microsoft.com/windows/nanoserver:ltsc2022"
    );
    assert_eq!(stages[1]["depends_on"][0], 0);
    let ins = stages[1]["instructions"].as_array().unwrap();
    let workdir = ins.iter().find(|i| i["instruction"] == "WORKDIR").unwrap();
    assert_eq!(workdir["path"], "C:\\app");
    let copy = ins.iter().find(|i| i["instruction"] == "COPY").unwrap();
    assert_eq!(copy["reads"][0]["index"], 0);
    let label = ins.iter().find(|i| i["instruction"] == "LABEL").unwrap();
    assert_eq!(label["labels"][0][1], "1.0.0");
    assert_eq!(label["labels"][1][1], "windows/amd64");
    let heredoc = &stages[0]["instructions"][3]["heredocs"][0];
    assert_eq!(heredoc["content"], "version=1.0.0\n");
}

#[test]
fn build_args_platforms_and_dry_run() {
    let (out, stdout, stderr) = run(wharf()
        .args([
            "build",
            "--dry-run",
            "--build-arg",
            "APP_VERSION=2.5",
            "--build-arg",
            "WIN_VERSION",
        ])
        .args([
            "--platform",
            "windows/amd64:10.0.17763,windows/amd64:10.0.20348",
        ])
        .env("WIN_VERSION", "ltsc2019")
        .arg(repo_root().join("examples/cross-os")));
    assert!(out.status.success(), "{stderr}");
    let p = json(&stdout);
    let targets = p["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 2);
    assert_eq!(targets[0]["platform"]["os.version"], "10.0.17763");
    assert_eq!(targets[1]["platform"]["os.version"], "10.0.20348");
    let app = &targets[0]["stages"][1];
    assert_eq!(
        app["base"]["reference"],
        "mcr.microsoft.com/windows/nanoserver:ltsc2019"
    );
    let label = app["instructions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["instruction"] == "LABEL")
        .unwrap();
    assert_eq!(label["labels"][0][1], "2.5");
}

#[test]
fn builds_the_hello_example_into_the_store() {
    let store = tempfile::tempdir().unwrap();
    let (out, _, stderr) = run(wharf()
        .args([
            "build",
            "-t",
            "example.test/hello:1",
            "--build-arg",
            "VERSION=2.0",
        ])
        .arg("--store")
        .arg(store.path())
        .arg(repo_root().join("examples/hello")));
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("line 4: COPY hello.txt /srv/hello.txt"),
        "{stderr}"
    );
    assert!(stderr.contains("built sha256:"), "{stderr}");
    assert!(stderr.contains("store:example.test/hello:1"), "{stderr}");
    // The store is an OCI layout whose index names the image.
    let index = json(&std::fs::read_to_string(store.path().join("index.json")).unwrap());
    let entry = &index["manifests"][0];
    assert_eq!(
        entry["annotations"]["org.opencontainers.image.ref.name"],
        "example.test/hello:1"
    );
    let digest = entry["digest"]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:");
    let manifest =
        json(&std::fs::read_to_string(store.path().join("blobs/sha256").join(digest)).unwrap());
    let config_digest = manifest["config"]["digest"]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:");
    let config = json(
        &std::fs::read_to_string(store.path().join("blobs/sha256").join(config_digest)).unwrap(),
    );
    assert_eq!(
        config["config"]["Labels"]["org.opencontainers.image.version"],
        "2.0"
    );
    assert_eq!(config["config"]["WorkingDir"], "/srv");
    assert_eq!(config["rootfs"]["diff_ids"].as_array().unwrap().len(), 1);

    // Built again: every step comes from the cache.
    let (out, _, stderr) = run(wharf()
        .args(["build", "--build-arg", "VERSION=2.0", "--progress", "json"])
        .arg("--store")
        .arg(store.path())
        .arg(repo_root().join("examples/hello")));
    assert!(out.status.success(), "{stderr}");
    let copy = stderr
        .lines()
        .map(json)
        .find(|e| e["event"] == "step" && e["instruction"].as_str().unwrap().starts_with("COPY"))
        .unwrap();
    assert_eq!(copy["cached"], true);
}

#[test]
fn unreachable_base_registry_names_the_line_and_reference() {
    let dir = tempfile::tempdir().unwrap();
    let store = tempfile::tempdir().unwrap();
    // Port 1 on loopback: nothing listens, the connection is refused at once.
    std::fs::write(
        dir.path().join("Dockerfile"),
        "FROM scratch AS a
FROM 127.0.0.1:1/base:1
COPY --from=a / /
",
    )
    .unwrap();
    let (out, _, stderr) = run(wharf()
        .arg("build")
        .arg("--store")
        .arg(store.path())
        .arg(dir.path()));
    assert!(!out.status.success());
    assert!(
        stderr.contains("Dockerfile:2: FROM 127.0.0.1:1/base:1"),
        "{stderr}"
    );
}

#[test]
fn picks_dockerfile_then_zimagefile() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("ZImagefile"),
        "version: \"1\"\nbase: alpine:3.20\nsteps:\n  - run: echo hi\n",
    )
    .unwrap();
    let (out, stdout, stderr) = run(wharf().arg("plan").arg(dir.path()));
    assert!(out.status.success(), "{stderr}");
    assert!(json(&stdout)["file"]
        .as_str()
        .unwrap()
        .ends_with("ZImagefile"));
    std::fs::write(dir.path().join("Dockerfile"), "FROM busybox\n").unwrap();
    let (out, stdout, stderr) = run(wharf().arg("plan").arg(dir.path()));
    assert!(out.status.success(), "{stderr}");
    let p = json(&stdout);
    assert!(p["file"].as_str().unwrap().ends_with("Dockerfile"));
    assert_eq!(p["targets"][0]["stages"][0]["base"]["reference"], "busybox");
}

#[test]
fn multistage_zimagefile_plans_like_a_dockerfile() {
    let dir = tempfile::tempdir().unwrap();
    let z = repo_root().join("crates/wharf-frontend/tests/fixtures/zimagefile/multistage.yaml");
    let (out, stdout, stderr) = run(wharf().arg("plan").arg("-f").arg(&z).arg(dir.path()));
    assert!(out.status.success(), "{stderr}");
    let p = json(&stdout);
    let stages = p["targets"][0]["stages"].as_array().unwrap();
    assert_eq!(stages.len(), 2);
    assert_eq!(stages[0]["base"]["reference"], "golang:1.23");
    let run = stages[0]["instructions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["instruction"] == "RUN")
        .unwrap();
    assert_eq!(run["mounts"][0]["type"], "cache");
    assert_eq!(run["mounts"][0]["sharing"], "locked");
    assert_eq!(stages[1]["depends_on"][0], 0);
}

#[test]
fn reads_a_dockerfile_from_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = wharf()
        .args(["plan", "-f", "-"])
        .arg(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"FROM alpine\nLABEL from=stdin\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let p = json(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(p["file"], "-");
}

#[test]
fn errors_name_the_file_line_and_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Dockerfile"), "FROM alpine\nRUNN echo hi\n").unwrap();
    let (out, stdout, stderr) = run(wharf().arg("plan").arg(dir.path()));
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout.is_empty());
    assert!(
        stderr.contains("Dockerfile:2:1: unknown instruction RUNN"),
        "{stderr}"
    );
    assert!(stderr.contains(" 2 | RUNN echo hi"), "{stderr}");
    assert!(stderr.contains("did you mean RUN?"), "{stderr}");

    std::fs::write(
        dir.path().join("Dockerfile"),
        "FROM --platform=windows/amd64 w\nRUN dir\n",
    )
    .unwrap();
    let (out, _, stderr) = run(wharf().arg("plan").arg(dir.path()));
    assert!(!out.status.success());
    assert!(
        stderr.contains(":2:1: RUN in stage #0 (windows/amd64) cannot execute"),
        "{stderr}"
    );

    let (out, _, stderr) = run(wharf()
        .args(["plan", "--platform", "linux//x"])
        .arg(dir.path()));
    assert!(!out.status.success());
    assert!(stderr.contains("invalid platform \"linux//x\""), "{stderr}");

    let (out, _, stderr) = run(wharf()
        .args(["build", "--output", "type=oci"])
        .arg(dir.path()));
    assert!(!out.status.success());
    assert!(stderr.contains("dest= is missing"), "{stderr}");

    let (out, _, stderr) = run(wharf().args(["build", "--push"]).arg(dir.path()));
    assert!(!out.status.success());
    assert!(stderr.contains("-t"), "{stderr}");

    let (out, _, stderr) = run(wharf().arg("plan").arg(dir.path().join("missing")));
    assert!(!out.status.success());
    assert!(stderr.contains("is not a directory"), "{stderr}");

    let empty = tempfile::tempdir().unwrap();
    let (out, _, stderr) = run(wharf().arg("plan").arg(empty.path()));
    assert!(!out.status.success());
    assert!(stderr.contains("no Dockerfile or ZImagefile"), "{stderr}");
}

#[test]
fn an_output_that_cannot_be_written_fails_before_the_build() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = copy_context(dir.path());
    std::fs::write(dir.path().join("afile"), "x").unwrap();
    std::fs::create_dir(dir.path().join("adir.tar")).unwrap();
    let store = dir.path().join("store");
    for (dest, says) in [
        ("afile/img.tar", "is a file, not a directory"),
        (
            "adir.tar",
            "is a directory, and an OCI archive is written as a file",
        ),
    ] {
        let (out, _, stderr) = run(wharf()
            .args(["build", "--progress", "plain", "--store"])
            .arg(&store)
            .arg("--output")
            .arg(format!("type=oci,dest={}", dir.path().join(dest).display()))
            .arg(&ctx));
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains(says), "{stderr}");
        assert!(stderr.contains("--output dest="), "{stderr}");
        // Refused before any step ran.
        assert!(!stderr.contains("COPY a.txt"), "{stderr}");
    }
    // A missing directory on the way is made.
    let deep = dir.path().join("out/deep/img.tar");
    let (out, _, stderr) = run(wharf()
        .args(["build", "--store"])
        .arg(&store)
        .arg("--output")
        .arg(format!("type=docker,dest={}", deep.display()))
        .arg(&ctx));
    assert!(out.status.success(), "{stderr}");
    assert!(deep.is_file());
}

#[test]
fn dockerignore_errors_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Dockerfile"), "FROM alpine\n").unwrap();
    std::fs::write(dir.path().join(".dockerignore"), "ok\n[unclosed\n").unwrap();
    let (out, _, stderr) = run(wharf().arg("plan").arg(dir.path()));
    assert!(!out.status.success());
    assert!(stderr.contains(".dockerignore:2"), "{stderr}");
}

#[test]
fn images_and_prune() {
    let store = tempfile::tempdir().unwrap();
    let ctx = tempfile::tempdir().unwrap();
    std::fs::write(
        ctx.path().join("Dockerfile"),
        "FROM scratch\nCOPY a.txt /\n",
    )
    .unwrap();
    for content in ["one\n", "two\n"] {
        std::fs::write(ctx.path().join("a.txt"), content).unwrap();
        let (out, _, stderr) = run(wharf()
            .args(["build", "-t", "example.test/a:1", "--store"])
            .arg(store.path())
            .arg(ctx.path()));
        assert!(out.status.success(), "{stderr}");
    }
    let (out, stdout, stderr) = run(wharf().args(["images", "--store"]).arg(store.path()));
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("example.test/a:1"), "{stdout}");
    // A name the store does not hold: said once, with where to look.
    for cmd in ["inspect", "push"] {
        let (out, _, stderr) = run(wharf()
            .args([cmd, "--store"])
            .arg(store.path())
            .arg("example.test/a:2"));
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains("no image named example.test/a:2 in the store"),
            "{stderr}"
        );
        assert!(stderr.contains("`wharf images`"), "{stderr}");
        assert_eq!(stderr.matches("example.test/a:2").count(), 2, "{stderr}");
    }
    assert!(stdout.contains("linux/amd64"), "{stdout}");
    // The first build's layer, config and manifest are no longer tagged.
    let (out, _, stderr) = run(wharf().args(["prune", "--store"]).arg(store.path()));
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("removed 3 blob(s)"), "{stderr}");
    let (out, _, stderr) = run(wharf().args(["prune", "--store"]).arg(store.path()));
    assert!(out.status.success());
    assert!(stderr.contains("removed 0 blob(s)"), "{stderr}");
}

#[test]
fn compression_choices() {
    let store = tempfile::tempdir().unwrap();
    let (out, _, stderr) = run(wharf()
        .args([
            "build",
            "-t",
            "example.test/z:1",
            "--compression",
            "zstd:3",
            "--store",
        ])
        .arg(store.path())
        .arg(repo_root().join("examples/hello")));
    assert!(out.status.success(), "{stderr}");
    let index = json(&std::fs::read_to_string(store.path().join("index.json")).unwrap());
    let digest = index["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:")
        .to_string();
    let manifest =
        json(&std::fs::read_to_string(store.path().join("blobs/sha256").join(digest)).unwrap());
    assert_eq!(
        manifest["layers"][0]["mediaType"],
        "application/vnd.oci.image.layer.v1.tar+zstd"
    );
    for bad in ["gzip:12", "brotli", "none:3"] {
        let (out, _, stderr) = run(wharf()
            .args(["build", "--compression", bad, "--store"])
            .arg(store.path())
            .arg(repo_root().join("examples/hello")));
        assert!(!out.status.success());
        assert!(stderr.contains(&format!("--compression {bad}")), "{stderr}");
    }
}

#[test]
fn an_untagged_build_exports_by_its_digest_and_leaves_no_tag() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = copy_context(dir.path());
    let store = dir.path().join("store");
    let layout = dir.path().join("layout");
    let archive = dir.path().join("image.tar");
    let (out, _, stderr) = run(wharf()
        .arg("build")
        .arg("--output")
        .arg(format!("type=oci,dest={}", layout.display()))
        .arg("--output")
        .arg(format!("type=docker,dest={}", archive.display()))
        .arg("--store")
        .arg(&store)
        .arg(&ctx));
    assert!(out.status.success(), "{stderr}");
    // Nothing was tagged in the store.
    let index = json(&std::fs::read_to_string(store.join("index.json")).unwrap());
    assert_eq!(index["manifests"].as_array().unwrap().len(), 0, "{index}");
    // The layout holds the image without a name.
    let exported = json(&std::fs::read_to_string(layout.join("index.json")).unwrap());
    let entries = exported["manifests"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{exported}");
    assert!(entries[0]["annotations"].is_null(), "{exported}");
    let digest = entries[0]["digest"].as_str().unwrap();
    let hex = digest.trim_start_matches("sha256:");
    assert!(layout.join("blobs/sha256").join(hex).is_file());
    assert!(archive.is_file());
}

/// `--build-arg SOURCE_DATE_EPOCH=N`, BuildKit's documented form, pins
/// `created`, history and file times exactly as the environment variable
/// does: the two builds give the same image, byte for byte.
#[test]
fn source_date_epoch_as_a_build_arg_equals_the_environment_variable() {
    let digest_of = |store: &std::path::Path| {
        let index = json(&std::fs::read_to_string(store.join("index.json")).unwrap());
        index["manifests"][0]["digest"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let arg_store = tempfile::tempdir().unwrap();
    let (out, _, stderr) = run(wharf()
        .env_remove("SOURCE_DATE_EPOCH")
        .args(["build", "-t", "example.test/epoch:1"])
        .args(["--build-arg", "SOURCE_DATE_EPOCH=1700000000"])
        .arg("--store")
        .arg(arg_store.path())
        .arg(repo_root().join("examples/hello")));
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("not consumed"), "{stderr}");
    let env_store = tempfile::tempdir().unwrap();
    let (out, _, stderr) = run(wharf()
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .args(["build", "-t", "example.test/epoch:1"])
        .arg("--store")
        .arg(env_store.path())
        .arg(repo_root().join("examples/hello")));
    assert!(out.status.success(), "{stderr}");
    assert_eq!(digest_of(arg_store.path()), digest_of(env_store.path()));

    let manifest_digest = digest_of(arg_store.path());
    let blob = |d: &str| {
        json(
            &std::fs::read_to_string(
                arg_store
                    .path()
                    .join("blobs/sha256")
                    .join(d.trim_start_matches("sha256:")),
            )
            .unwrap(),
        )
    };
    let manifest = blob(&manifest_digest);
    let config = blob(manifest["config"]["digest"].as_str().unwrap());
    assert_eq!(config["created"], "2023-11-14T22:13:20Z");
    for h in config["history"].as_array().unwrap() {
        assert_eq!(h["created"], "2023-11-14T22:13:20Z", "{h}");
    }

    let (out, _, stderr) = run(wharf()
        .args(["build", "--build-arg", "SOURCE_DATE_EPOCH=yesterday"])
        .arg("--store")
        .arg(arg_store.path())
        .arg(repo_root().join("examples/hello")));
    assert!(!out.status.success());
    assert!(
        stderr.contains("--build-arg SOURCE_DATE_EPOCH=yesterday is not a number"),
        "{stderr}"
    );
}
