//! Synthetic Windows base images (Files/, Hives/, hives under
//! System32/config, PAX records) for 17763, 20348 and 26100 in one
//! manifest list on a real registry; the 17763 one has a foreign base layer
//! served by a second loopback HTTP server. Selection must pick the entry
//! of the requested `os.version`.

mod common;

use common::http::{serve, Reply, Req, TestServer};
use common::registry::{self, Auth};
use common::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use wharf_oci::Platform;
use wharf_oci::Reference;
use wharf_registry::{push_image, PushOptions, PushTarget, RegistryError};
use wharf_store::Store;

const ALLOW_LOOPBACK: &str = r"^http://127\.0\.0\.1:";

/// Serves foreign layers at `/layers/<n>`; counts requests.
struct ForeignServer {
    server: TestServer,
    blobs: Arc<Mutex<Vec<Vec<u8>>>>,
    hits: Arc<AtomicUsize>,
}

impl ForeignServer {
    fn start() -> ForeignServer {
        let blobs: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
        let hits = Arc::new(AtomicUsize::new(0));
        let (b2, h2) = (blobs.clone(), hits.clone());
        let server = serve(move |req: &Req| {
            h2.fetch_add(1, Ordering::SeqCst);
            let n: Option<usize> = req
                .path
                .strip_prefix("/layers/")
                .and_then(|n| n.parse().ok());
            match n.and_then(|n| b2.lock().expect("lock").get(n).cloned()) {
                Some(blob) => Reply::ok("application/octet-stream", blob),
                None => Reply::status(404),
            }
        });
        ForeignServer {
            server,
            blobs,
            hits,
        }
    }

    /// The URL the next blob will be served at.
    fn next_url(&self) -> String {
        let n = self.blobs.lock().expect("lock").len();
        format!("http://{}/layers/{n}", self.server.base())
    }

    fn add(&self, blob: Vec<u8>) {
        self.blobs.lock().expect("lock").push(blob);
    }
}

struct Fixture {
    reg: registry::Registry,
    foreign: ForeignServer,
    reference: Reference,
    _dir: tempfile::TempDir,
}

async fn publish() -> Fixture {
    let reg = registry::start(Auth::None, Some(ALLOW_LOOPBACK));
    let foreign = ForeignServer::start();
    let (dir, src) = new_store();
    let url = foreign.next_url();
    let (ltsc2019, base) = store_windows_foreign_image(&src, "10.0.17763.5458", &url);
    foreign.add(base);
    let ltsc2022 = store_windows_image(&src, "10.0.20348.2113");
    let ltsc2025 = store_windows_image(&src, "10.0.26100.1742");
    let linux = store_image(
        &src,
        &Platform::new("linux", "amd64", None),
        &[(GZIP_LAYER.into(), linux_layer("a", b"linux"), None)],
    );
    store_manifest_list(
        &src,
        "local/windows:multi",
        vec![ltsc2019, ltsc2022, linux, ltsc2025],
    );
    let reference =
        Reference::parse(&format!("{}/windows/servercore:multi", reg.host())).expect("ref");
    let client = anonymous();
    let report = push_image(
        &client.repository(&reference),
        &reference,
        &src,
        "local/windows:multi",
        &PushOptions::default(),
    )
    .await
    .unwrap_or_else(|e| panic!("push: {e}\n{}", reg.log()));
    assert_eq!(report.skipped_foreign, 1, "the foreign base is not pushed");
    Fixture {
        reg,
        foreign,
        reference,
        _dir: dir,
    }
}

async fn pull_version(
    f: &Fixture,
    platform: &str,
) -> (tempfile::TempDir, Store, wharf_registry::PulledImage) {
    let (dir, store) = new_store();
    let pulled = anonymous()
        .pull(&f.reference, &platform.parse().expect("platform"), &store)
        .await
        .unwrap_or_else(|e| panic!("pull {platform}: {e}"));
    (dir, store, pulled)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn selection_follows_os_version() {
    let f = publish().await;
    for (wanted, expected) in [
        ("windows/amd64:10.0.20348", "10.0.20348.2113"),
        ("windows/amd64:10.0.26100", "10.0.26100.1742"),
        ("windows/amd64:ltsc2022", "10.0.20348.2113"),
    ] {
        let (_d, store, pulled) = pull_version(&f, wanted).await;
        assert_eq!(
            pulled.image.platform.os_version.as_deref(),
            Some(expected),
            "{wanted}"
        );
        assert!(pulled.image.note.is_none(), "{wanted}");
        let details = store.inspect(&pulled.tag).expect("inspect");
        assert_eq!(
            details.manifests[0].platform.os_version.as_deref(),
            Some(expected)
        );
        assert_eq!(
            pulled
                .image
                .descriptor
                .platform
                .as_ref()
                .and_then(|p| p.os_version.as_deref()),
            Some(expected),
            "the store tag keeps the index entry's platform"
        );
    }
    // No version asked: the newest, with a note saying so.
    let (_d, _s, pulled) = pull_version(&f, "windows/amd64").await;
    assert_eq!(
        pulled.image.platform.os_version.as_deref(),
        Some("10.0.26100.1742")
    );
    assert!(pulled.image.note.is_some());
    // The Linux entry is still reachable.
    let (_d, _s, pulled) = pull_version(&f, "linux/amd64").await;
    assert_eq!(pulled.image.platform.os, "linux");
    // A version the index does not have is an error listing what it has.
    let (_d, store) = new_store();
    let err = anonymous()
        .pull(
            &f.reference,
            &"windows/amd64:10.0.14393".parse().expect("platform"),
            &store,
        )
        .await
        .expect_err("no 14393");
    let msg = err.to_string();
    assert!(
        matches!(err, RegistryError::NoMatchingPlatform { .. }),
        "{msg}"
    );
    assert!(msg.contains("10.0.20348"), "{msg}");
    drop(f.reg);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_layer_comes_from_its_url_and_resolve_fetches_no_layers() {
    let f = publish().await;
    // Resolving (what a COPY-only Windows build needs) fetches no layers.
    let (_d, store) = new_store();
    let resolved = anonymous()
        .resolve(
            &f.reference,
            &"windows/amd64:10.0.17763".parse().expect("platform"),
            &store,
        )
        .await
        .expect("resolve");
    assert_eq!(
        resolved.platform.os_version.as_deref(),
        Some("10.0.17763.5458")
    );
    assert!(resolved
        .manifest
        .layers
        .iter()
        .all(|l| store.blob_size(&l.digest).is_none()));
    assert_eq!(f.foreign.hits.load(Ordering::SeqCst), 0);
    assert!(store.blob_size(&resolved.manifest.config.digest).is_some());

    // Pulling gets the foreign base from its URL (the registry lacks it).
    let (_d, store, pulled) = pull_version(&f, "windows/amd64:10.0.17763").await;
    let base = &pulled.image.manifest.layers[0];
    assert!(base.urls.is_some());
    assert_eq!(store.blob_size(&base.digest), Some(base.size));
    assert_eq!(f.foreign.hits.load(Ordering::SeqCst), 1);

    // Re-pushing the pulled image elsewhere keeps the foreign descriptor.
    let target = Reference::parse(&format!("{}/copy/ltsc2019:1", f.reg.host())).expect("ref");
    let report = push_image(
        &anonymous().repository(&target),
        &target,
        &store,
        &pulled.tag,
        &PushOptions::default(),
    )
    .await
    .expect("push");
    assert_eq!(report.skipped_foreign, 1);

    // With the option set, the foreign blob is uploaded as well.
    let target = Reference::parse(&format!("{}/copy/with-foreign:1", f.reg.host())).expect("ref");
    let repo = anonymous().repository(&target);
    let report = push_image(
        &repo,
        &target,
        &store,
        &pulled.tag,
        &PushOptions {
            push_foreign_layers: true,
            ..PushOptions::default()
        },
    )
    .await
    .expect("push with foreign blobs");
    assert_eq!(report.skipped_foreign, 0);
    assert!(repo.blob_exists(&base.digest).await.expect("HEAD"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_foreign_layer_is_refused() {
    let reg = registry::start(Auth::None, Some(ALLOW_LOOPBACK));
    let foreign = ForeignServer::start();
    let (_dir, src) = new_store();
    let (desc, base) = store_windows_foreign_image(&src, "10.0.17763.1", &foreign.next_url());
    let mut bad = base.clone();
    bad[10] ^= 1;
    foreign.add(bad);
    src.tag("local/bad:1", &desc).expect("tag");
    let reference = Reference::parse(&format!("{}/bad/foreign:1", reg.host())).expect("ref");
    push_image(
        &anonymous().repository(&reference),
        &reference,
        &src,
        "local/bad:1",
        &PushOptions::default(),
    )
    .await
    .expect("push");
    let (_d, store) = new_store();
    let err = anonymous()
        .pull(
            &reference,
            &"windows/amd64:10.0.17763".parse().expect("platform"),
            &store,
        )
        .await
        .expect_err("corrupt");
    let msg = err.to_string();
    assert!(
        matches!(err, RegistryError::ForeignLayerUnavailable { .. }),
        "{msg}"
    );
    assert!(
        msg.contains("digest mismatch") && msg.contains("/layers/0"),
        "{msg}"
    );
    assert_eq!(store.blob_size(&wharf_oci::Digest::of_bytes(&base)), None);
    assert!(ingest_is_empty(&store));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_refusing_foreign_urls_fails_fast_with_advice() {
    // No validation.manifests.urls.allow: the CNCF registry answers 500
    // MANIFEST_BLOB_UNKNOWN, which must not be retried.
    let reg = registry::start(Auth::None, None);
    let (_dir, src) = new_store();
    let (desc, _) =
        store_windows_foreign_image(&src, "10.0.17763.1", "http://127.0.0.1:9/layers/0");
    src.tag("local/f:1", &desc).expect("tag");
    let reference = Reference::parse(&format!("{}/refused/foreign:1", reg.host())).expect("ref");
    let err = push_image(
        &anonymous().repository(&reference),
        &reference,
        &src,
        "local/f:1",
        &PushOptions::default(),
    )
    .await
    .expect_err("refused");
    assert!(
        matches!(err, RegistryError::ManifestBlobUnknown { .. }),
        "{err}"
    );
    assert!(
        err.to_string().contains("validation.manifests.urls.allow"),
        "{err}"
    );
}

/// A COPY-only Windows build resolves its base (manifest and config only)
/// and pushes an image on top of it: the base layers are mounted on the same
/// registry, or copied through the store from another one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn base_layers_never_downloaded_are_mounted_or_copied() {
    let f = publish().await;
    let (_d, store) = new_store();
    let client = anonymous();
    let resolved = client
        .resolve(
            &f.reference,
            &"windows/amd64:10.0.20348".parse().expect("platform"),
            &store,
        )
        .await
        .expect("resolve");
    assert!(resolved
        .manifest
        .layers
        .iter()
        .all(|l| store.blob_size(&l.digest).is_none()));
    let mut desc = resolved.descriptor.clone();
    desc.annotations
        .get_or_insert_with(Default::default)
        .insert(
            wharf_registry::ANNOTATION_SOURCE.to_string(),
            f.reference.name(),
        );
    store.tag("local/app:1", &desc).expect("tag");

    // Same registry: everything is mounted, nothing is uploaded.
    let same = Reference::parse(&format!("{}/apps/web:1", f.reg.host())).expect("ref");
    let report = push_image(
        &client.repository(&same),
        &same,
        &store,
        "local/app:1",
        &PushOptions::default(),
    )
    .await
    .expect("push with mounts");
    assert_eq!(
        (report.mounted, report.uploaded, report.fetched),
        (3, 0, 0),
        "{report:?}"
    );
    assert!(resolved
        .manifest
        .layers
        .iter()
        .all(|l| store.blob_size(&l.digest).is_none()));

    // Another registry: an error naming the blob, unless fetching is allowed.
    let other_reg = registry::start(Auth::None, None);
    let other = Reference::parse(&format!("{}/apps/web:1", other_reg.host())).expect("ref");
    let err = push_image(
        &client.repository(&other),
        &other,
        &store,
        "local/app:1",
        &PushOptions::default(),
    )
    .await
    .expect_err("layers unavailable");
    assert!(
        matches!(err, RegistryError::BlobUnavailableForPush { .. }),
        "{err}"
    );
    let report = push_image(
        &client.repository(&other),
        &other,
        &store,
        "local/app:1",
        &PushOptions {
            fetch_missing_with: Some(client.clone()),
            ..PushOptions::default()
        },
    )
    .await
    .expect("copy between registries");
    // The failed push above may have uploaded the config before it
    // stopped (blobs go up concurrently); the base layers were copied now.
    assert_eq!(report.fetched, 2, "{report:?}");
    assert!(report.uploaded >= 2, "{report:?}");
    assert_eq!(report.uploaded + report.existing, 3, "{report:?}");
}
