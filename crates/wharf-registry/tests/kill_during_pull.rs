//! A `kill -9` in the middle of a pull leaves the store usable: no partial
//! blob is visible, nothing is tagged, locks are released, and the next
//! pull succeeds.

mod common;

use common::http::{serve, Reply, Req};
use common::*;
use std::process::Command;
use std::time::Duration;
use wharf_oci::Platform;
use wharf_oci::{ImageManifest, Reference};

use wharf_store::Store;

const STORE_ENV: &str = "WHARF_KILL_TEST_STORE";
const REF_ENV: &str = "WHARF_KILL_TEST_REF";

/// Serves one image; when `stall` every layer response stops half way.
fn server(stall: bool) -> (common::http::TestServer, wharf_oci::Digest) {
    let (_d, scratch) = new_store();
    let desc = store_linux_image(&scratch, "x:1", &noise(400_000, 11));
    let manifest = scratch.read_document(&desc.digest, "m").expect("manifest");
    let m: ImageManifest = serde_json::from_slice(&manifest).expect("json");
    let config = scratch
        .read_document(&m.config.digest, "c")
        .expect("config");
    let layer = std::fs::read(scratch.blob_path(&m.layers[0].digest)).expect("layer");
    let (cd, ld) = (m.config.digest.clone(), m.layers[0].digest.clone());
    let layer_digest = ld.clone();
    let s = serve(move |req: &Req| {
        if req.path == "/v2/test/app/manifests/v1" {
            Reply::ok(
                "application/vnd.oci.image.manifest.v1+json",
                manifest.clone(),
            )
        } else if req.path == format!("/v2/test/app/blobs/{cd}") {
            Reply::ok("application/octet-stream", config.clone())
        } else if req.path == format!("/v2/test/app/blobs/{ld}") {
            if stall {
                // Half the body, then the connection closes: the client
                // keeps resuming and never finishes.
                return Reply::Cut {
                    status: 200,
                    headers: vec![],
                    declared_len: layer.len(),
                    body: layer[..layer.len() / 2].to_vec(),
                };
            }
            Reply::ok("application/octet-stream", layer.clone())
        } else {
            Reply::status(404)
        }
    });
    (s, layer_digest)
}

/// Runs in a child process started by `kill_9_mid_pull_leaves_store_usable`;
/// ignored in normal runs.
#[tokio::test]
#[ignore = "child process of kill_9_mid_pull_leaves_store_usable"]
async fn child_pull_forever() {
    let store = Store::open(std::env::var(STORE_ENV).expect("store env")).expect("store");
    let reference = Reference::parse(&std::env::var(REF_ENV).expect("ref env")).expect("ref");
    let mut options = options(wharf_registry::CredentialStore::anonymous());
    // Keep retrying for longer than the parent waits.
    options.retry.max_attempts = 1000;
    options.retry.initial_backoff = Duration::from_millis(50);
    options.retry.max_backoff = Duration::from_millis(50);
    let client = wharf_registry::RegistryClient::new(options).expect("client");
    let _ = client
        .pull(&reference, &Platform::new("linux", "amd64", None), &store)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_pull_leaves_store_usable() {
    let (stalling, layer_digest) = server(true);
    let (_d, store) = new_store();
    let reference = format!("{}/test/app:v1", stalling.base());
    let mut child = Command::new(std::env::current_exe().expect("exe"))
        .args(["--ignored", "--exact", "child_pull_forever", "--nocapture"])
        .env(STORE_ENV, store.root())
        .env(REF_ENV, &reference)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn child");
    // Wait until the child has written part of the layer.
    let ingest = store.root().join("ingest");
    let mut partial = false;
    for _ in 0..300 {
        partial = std::fs::read_dir(&ingest)
            .map(|d| {
                d.flatten()
                    .any(|e| e.metadata().map(|m| m.len() > 0).unwrap_or(false))
            })
            .unwrap_or(false);
        if partial {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().expect("SIGKILL"); // Child::kill is SIGKILL on Unix
    child.wait().expect("reap");
    assert!(partial, "the child never started writing the layer");

    let store = Store::open(store.root()).expect("reopen after kill");
    assert_eq!(
        store.blob_size(&layer_digest),
        None,
        "no partial blob is visible"
    );
    assert!(store.list_images().expect("list").is_empty());
    // The killed child's lease lock is gone: collection does not block.
    store.gc().expect("gc");
    let (good, _) = server(false);
    let r = Reference::parse(&format!("{}/test/app:v1", good.base())).expect("ref");
    let pulled = anonymous()
        .pull(&r, &Platform::new("linux", "amd64", None), &store)
        .await
        .expect("pull after kill");
    assert_eq!(
        store.blob_size(&layer_digest),
        Some(pulled.bytes_downloaded)
    );
}
