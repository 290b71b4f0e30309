//! Shared build caches between two stores standing in for two CI runners:
//! `--cache-to`/`--cache-from` through a real loopback `docker-registry`
//! and through an OCI layout; a runner with an empty store and another
//! checkout path runs no RUN, pulls no layer it does not need and makes
//! the same image; a one-file change runs exactly what depends on it; a
//! missing, foreign, damaged or older cache is a warning; two runners
//! pushing one cache tag at once leave one whole cache.
#![cfg(target_os = "linux")]

mod common;
use common::{json, ok, registry_with_busybox, run, wharf};
use std::path::{Path, PathBuf};

/// A two-stage project under `at`: a build stage whose RUN writes random
/// bytes (a rerun would change the image), a final stage that copies a
/// context file and the build stage's output and runs once more.
fn project(at: &Path, base: &str) -> PathBuf {
    let ctx = at.join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        format!(
            "FROM {base} AS build\n\
             COPY src.txt /src.txt\n\
             RUN tr a-z A-Z < /src.txt > /upper.txt && head -c 65536 /dev/urandom > /random.bin\n\
             FROM {base}\n\
             COPY other.txt /other.txt\n\
             COPY --from=build /upper.txt /random.bin /\n\
             RUN cat /upper.txt /other.txt > /both.txt && head -c 16 /dev/urandom > /nonce\n\
             ENV DONE=1\n"
        ),
    )
    .unwrap();
    std::fs::write(ctx.join("src.txt"), "hello\n").unwrap();
    std::fs::write(ctx.join("other.txt"), "other\n").unwrap();
    ctx
}

/// `wharf build` of `ctx` into `store` with `--progress json`, pushing
/// to `tag`; returns the pushed digest and the steps as (instruction,
/// cached).
fn build(store: &Path, ctx: &Path, tag: &str, extra: &[&str]) -> (String, Vec<(String, bool)>) {
    let meta = ctx
        .parent()
        .unwrap()
        .join(format!("meta-{}.json", tag.len()));
    let (_, stderr) = ok(wharf()
        .args(["build", "--progress", "json", "--push", "-t", tag])
        .args(extra)
        .arg("--metadata-file")
        .arg(&meta)
        .arg("--store")
        .arg(store)
        .arg(ctx));
    let steps = stderr
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(json)
        // Base resolutions are steps too; only the Dockerfile's count here.
        .filter(|e| {
            e["event"] == "step" && !e["instruction"].as_str().unwrap().starts_with("resolve ")
        })
        .map(|e| {
            (
                e["instruction"].as_str().unwrap().to_string(),
                e["cached"].as_bool().unwrap(),
            )
        })
        .collect();
    let m = json(&std::fs::read_to_string(&meta).unwrap());
    (
        m["containerimage.digest"].as_str().unwrap().to_string(),
        steps,
    )
}

fn warnings(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(json)
        .filter(|e| e["event"] == "warning")
        .map(|e| e["message"].as_str().unwrap().to_string())
        .collect()
}

/// The sizes of the blobs a store holds.
fn blob_sizes(store: &Path) -> Vec<u64> {
    std::fs::read_dir(store.join("blobs/sha256"))
        .map(|d| d.map(|e| e.unwrap().metadata().unwrap().len()).collect())
        .unwrap_or_default()
}

#[test]
fn a_fresh_runner_rebuilds_from_the_registry_cache() {
    let (reg, dir, base) = registry_with_busybox();
    let host = reg.host();
    let cache = format!("{host}/cache/app:main");
    // Runner A builds and exports every step's cache.
    let a_ctx = project(&dir.path().join("runner-a/checkout"), &base);
    let (a_digest, a_steps) = build(
        &dir.path().join("store-a"),
        &a_ctx,
        &format!("{host}/app:a"),
        &["--cache-to", &format!("type=registry,ref={cache},mode=max")],
    );
    assert!(a_steps.iter().all(|(_, cached)| !cached), "{a_steps:?}");

    // Runner B: an empty store, another checkout path, files with other
    // times; the same image comes out and nothing runs.
    let b_ctx = project(&dir.path().join("runner-b/somewhere/else"), &base);
    let b_store = dir.path().join("store-b");
    let (b_digest, b_steps) = build(
        &b_store,
        &b_ctx,
        &format!("{host}/app:b"),
        &["--cache-from", &cache],
    );
    assert_eq!(b_steps.len(), 6, "{b_steps:?}");
    assert!(
        b_steps
            .iter()
            .filter(|(i, _)| !i.starts_with("ENV"))
            .all(|(_, c)| *c),
        "{b_steps:?}"
    );
    assert_eq!(a_digest, b_digest, "the same image from the cache");
    // No layer was downloaded: the push mounted them from the cache's and
    // the base's repositories (the store holds configs and manifests).
    let big: Vec<u64> = blob_sizes(&b_store)
        .into_iter()
        .filter(|s| *s > 16 * 1024)
        .collect();
    assert!(big.is_empty(), "layers were downloaded: {big:?}");

    // A one-file change: the build stage stays cached, the final stage's
    // steps from the changed file on run (reading the build stage's layer
    // from the cache); the SBOM reads every layer, cached ones included.
    std::fs::write(b_ctx.join("other.txt"), "changed\n").unwrap();
    let (c_digest, c_steps) = build(
        &b_store,
        &b_ctx,
        &format!("{host}/app:c"),
        &["--cache-from", &cache, "--sbom=true"],
    );
    assert_ne!(c_digest, a_digest);
    let cached: Vec<bool> = c_steps.iter().map(|(_, c)| *c).collect();
    assert_eq!(
        cached,
        [true, true, false, false, false, false],
        "{c_steps:?}"
    );
}

#[test]
fn a_local_layout_cache_round_trips_with_min_mode() {
    let (reg, dir, base) = registry_with_busybox();
    let host = reg.host();
    let layout = dir.path().join("cache-dir");
    let a_ctx = project(&dir.path().join("a"), &base);
    let (a_digest, _) = build(
        &dir.path().join("store-a"),
        &a_ctx,
        &format!("{host}/app:a"),
        &[
            "--cache-to",
            &format!("type=local,dest={}", layout.display()),
        ],
    );
    assert!(layout.join("index.json").is_file());
    let b_ctx = project(&dir.path().join("b"), &base);
    let (b_digest, b_steps) = build(
        &dir.path().join("store-b"),
        &b_ctx,
        &format!("{host}/app:b"),
        &[
            "--cache-from",
            &format!("type=local,src={}", layout.display()),
        ],
    );
    // mode=min holds the steps of the stage the image is made of: the
    // build stage runs again, and the final stage, keyed by the build
    // stage's steps rather than the bytes they made, is taken from the
    // cache whole, so the image is the one runner A made.
    let cached: Vec<bool> = b_steps.iter().map(|(_, c)| *c).collect();
    assert_eq!(
        cached,
        [false, false, true, true, true, false],
        "{b_steps:?}"
    );
    assert_eq!(a_digest, b_digest);
}

#[test]
fn unusable_caches_are_warnings_and_the_build_goes_on() {
    let (reg, dir, base) = registry_with_busybox();
    let host = reg.host();
    let ctx = project(&dir.path().join("p"), &base);
    let store = dir.path().join("store");
    // Missing tag, an image that is no cache, a damaged and an older layout.
    let damaged = dir.path().join("damaged");
    let older = dir.path().join("older");
    write_layout(
        &damaged,
        br#"{"format":"wharf-build-cache/v1","records":[{"kind":"teleport"}]}"#,
    );
    write_layout(&older, br#"{"format":"wharf-build-cache/v0","records":[]}"#);
    let (out, _, stderr) = run(wharf()
        .args(["build", "--progress", "json"])
        .args(["--cache-from", &format!("{host}/nothing/here:yet")])
        .args(["--cache-from", &base])
        .args([
            "--cache-from",
            &format!("type=local,src={}", damaged.display()),
        ])
        .args([
            "--cache-from",
            &format!("type=local,src={}", older.display()),
        ])
        .args([
            "--cache-from",
            &format!("type=local,src={}", dir.path().join("absent").display()),
        ])
        .arg("--store")
        .arg(&store)
        .arg(&ctx));
    assert!(out.status.success(), "{stderr}");
    let w = warnings(&stderr);
    let has = |s: &str| w.iter().any(|m| m.contains(s));
    assert!(
        has("nothing/here:yet: not used: there is no cache there yet"),
        "{w:?}"
    );
    assert!(has("it is not a wharf build cache"), "{w:?}");
    assert!(has("records are damaged"), "{w:?}");
    assert!(has("another format (wharf-build-cache/v0"), "{w:?}");
    assert_eq!(
        w.iter()
            .filter(|m| m.contains("building without it"))
            .count(),
        5,
        "{w:?}"
    );
}

/// SHA-256 of `b` in hex, computed apart from the code under test.
fn sha256_hex(b: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

/// An OCI layout whose cache manifest carries `document` as its config.
fn write_layout(dir: &Path, document: &[u8]) {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    std::fs::write(blobs.join(sha256_hex(document)), document).unwrap();
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.wharf.build-cache.config.v1+json",
            "digest": format!("sha256:{}", sha256_hex(document)),
            "size": document.len()
        },
        "layers": []
    })
    .to_string();
    std::fs::write(blobs.join(sha256_hex(manifest.as_bytes())), &manifest).unwrap();
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": format!("sha256:{}", sha256_hex(manifest.as_bytes())),
            "size": manifest.len()
        }]
    });
    std::fs::write(dir.join("index.json"), index.to_string()).unwrap();
}

#[test]
fn two_runners_pushing_one_cache_tag_leave_one_whole_cache() {
    let (reg, dir, base) = registry_with_busybox();
    let host = reg.host();
    let cache = format!("{host}/cache/shared:main");
    let spawn = |name: &str, text: &str| {
        let ctx = project(&dir.path().join(name), &base);
        std::fs::write(ctx.join("src.txt"), text).unwrap();
        let layout = dir.path().join(format!("{name}-layout"));
        let child = wharf()
            .args(["build", "--progress", "plain"])
            .args(["--cache-to", &format!("type=registry,ref={cache},mode=max")])
            .args([
                "--cache-to",
                &format!("type=local,dest={},mode=max", layout.display()),
            ])
            .arg("--store")
            .arg(dir.path().join(format!("{name}-store")))
            .arg(&ctx)
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        (child, layout)
    };
    let (one, one_layout) = spawn("one", "first\n");
    let (two, two_layout) = spawn("two", "second\n");
    for child in [one, two] {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let manifest_of = |layout: &Path| {
        json(&std::fs::read_to_string(layout.join("index.json")).unwrap())["manifests"][0]["digest"]
            .as_str()
            .unwrap()
            .to_string()
    };
    // The tag names exactly one runner's cache manifest, and every blob it
    // names is in the registry (a third runner can use it wholly).
    let (out, stdout, stderr) = run(std::process::Command::new("skopeo")
        .args(["inspect", "--raw", "--tls-verify=false"])
        .arg(format!("docker://{cache}")));
    assert!(out.status.success(), "{stderr}");
    let raw = stdout.trim_end_matches('\n');
    let pushed = format!("sha256:{}", sha256_hex(raw.as_bytes()));
    assert!(
        pushed == manifest_of(&one_layout) || pushed == manifest_of(&two_layout),
        "the tag holds neither runner's cache"
    );
    let third = project(&dir.path().join("three"), &base);
    let text = if pushed == manifest_of(&one_layout) {
        "first\n"
    } else {
        "second\n"
    };
    std::fs::write(third.join("src.txt"), text).unwrap();
    let (_, steps) = build(
        &dir.path().join("store-three"),
        &third,
        &format!("{host}/app:three"),
        &["--cache-from", &cache],
    );
    assert!(
        steps
            .iter()
            .filter(|(i, _)| !i.starts_with("ENV"))
            .all(|(_, c)| *c),
        "{steps:?}"
    );
}
