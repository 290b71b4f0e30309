//! Fault injection with an in-test HTTP server posing as a registry: each
//! case must end in success or a clear error, and never leave a corrupt or
//! partial blob in the store.

mod common;

use common::http::{serve, Reply, Req, TestServer};
use common::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wharf_oci::Platform;
use wharf_oci::{Digest, ImageManifest, Reference};
use wharf_registry::{PushTarget, RegistryError};

use wharf_store::{Store, StoreError};

/// The image the fake registry serves.
struct Image {
    manifest: Vec<u8>,

    config: Vec<u8>,
    config_digest: Digest,
    layer: Vec<u8>,
    layer_digest: Digest,
}

fn image() -> Image {
    let (_d, scratch) = new_store();
    let desc = store_linux_image(&scratch, "x:1", &noise(200_000, 3));
    let manifest = scratch.read_document(&desc.digest, "m").expect("manifest");
    let m: ImageManifest = serde_json::from_slice(&manifest).expect("json");
    Image {
        config: scratch
            .read_document(&m.config.digest, "c")
            .expect("config"),
        config_digest: m.config.digest.clone(),
        layer: std::fs::read(scratch.blob_path(&m.layers[0].digest)).expect("layer"),
        layer_digest: m.layers[0].digest.clone(),
        manifest,
    }
}

type LayerHandler = dyn Fn(usize, &Req, &[u8]) -> Reply + Send + Sync;

/// Serves the image; layer requests go to `layer` with their sequence number.
fn fake_registry(img: Arc<Image>, layer: Box<LayerHandler>) -> (TestServer, Arc<Mutex<Vec<Req>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    let layer_calls = AtomicUsize::new(0);
    let server = serve(move |req: &Req| {
        seen2.lock().expect("lock").push(req.clone());
        let p = req.path.as_str();
        if p == "/v2/test/app/manifests/v1" {
            Reply::ok(
                "application/vnd.oci.image.manifest.v1+json",
                img.manifest.clone(),
            )
        } else if p == format!("/v2/test/app/blobs/{}", img.config_digest) {
            Reply::ok("application/octet-stream", img.config.clone())
        } else if p == format!("/v2/test/app/blobs/{}", img.layer_digest) {
            let n = layer_calls.fetch_add(1, Ordering::SeqCst);
            layer(n, req, &img.layer)
        } else {
            Reply::status(404)
        }
    });
    (server, seen)
}

fn reference(server: &TestServer) -> Reference {
    Reference::parse(&format!("{}/test/app:v1", server.base())).expect("ref")
}

fn linux() -> Platform {
    Platform::new("linux", "amd64", None)
}

fn assert_no_layer(store: &Store, img: &Image) {
    assert_eq!(
        store.blob_size(&img.layer_digest),
        None,
        "no layer blob may be stored"
    );
    assert!(ingest_is_empty(store), "no temporary files may remain");
    assert!(
        store.list_images().expect("list").is_empty(),
        "nothing may be tagged"
    );
}

/// Serves `bytes=N-` ranges properly.
fn ranged(req: &Req, layer: &[u8]) -> Reply {
    if let Some(start) = req
        .header("range")
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.strip_suffix('-'))
        .and_then(|s| s.parse::<usize>().ok())
    {
        return Reply::Full {
            status: 206,
            headers: vec![(
                "Content-Range".into(),
                format!("bytes {start}-{}/{}", layer.len() - 1, layer.len()),
            )],
            body: layer[start..].to_vec(),
        };
    }
    Reply::ok("application/octet-stream", layer.to_vec())
}

/// Pulls from a fake registry that serves the layer as `serve` makes it
/// of the real one; the error, which must name the layer, after checking
/// that nothing of it was stored, and how often the layer was asked for.
async fn pull_refused(serve: fn(&[u8]) -> Vec<u8>) -> (RegistryError, usize) {
    let img = Arc::new(image());
    let (server, seen) = fake_registry(
        img.clone(),
        Box::new(move |_, _, layer| Reply::ok("application/octet-stream", serve(layer))),
    );
    let (_d, store) = new_store();
    let err = anonymous()
        .pull(&reference(&server), &linux(), &store)
        .await
        .expect_err("a bad layer");
    assert!(
        err.to_string().contains(&img.layer_digest.to_string()),
        "{err}"
    );
    assert_no_layer(&store, &img);
    let layer_gets = seen
        .lock()
        .expect("lock")
        .iter()
        .filter(|r| r.path.ends_with(&img.layer_digest.to_string()))
        .count();
    (err, layer_gets)
}

#[tokio::test]
async fn wrong_digest_is_refused_and_nothing_is_stored() {
    let (err, _) = pull_refused(|layer| {
        let mut evil = layer.to_vec();
        let mid = evil.len() / 2;
        evil[mid] ^= 0xff;
        evil
    })
    .await;
    assert!(
        matches!(err, RegistryError::Store(StoreError::DigestMismatch { .. })),
        "{err}"
    );
}

#[tokio::test]
async fn body_longer_than_the_descriptor_is_refused_and_nothing_is_stored() {
    let (err, layer_gets) = pull_refused(|layer| {
        let mut long = layer.to_vec();
        long.extend_from_slice(&[0u8; 70_000]);
        long
    })
    .await;
    assert!(
        matches!(err, RegistryError::Store(StoreError::SizeMismatch { .. })),
        "{err}"
    );
    // A source that is wrong, not flaky: asked for once.
    assert_eq!(layer_gets, 1);
}

#[tokio::test]
async fn dropped_connection_resumes_with_range() {
    let img = Arc::new(image());
    let (server, seen) = fake_registry(
        img.clone(),
        Box::new(|n, req, layer| {
            if n == 0 {
                Reply::Cut {
                    status: 200,
                    headers: vec![],
                    declared_len: layer.len(),
                    body: layer[..70_000].to_vec(),
                }
            } else {
                ranged(req, layer)
            }
        }),
    );
    let (_d, store) = new_store();
    anonymous()
        .pull(&reference(&server), &linux(), &store)
        .await
        .expect("resumed pull");
    assert_eq!(
        std::fs::read(store.blob_path(&img.layer_digest)).expect("layer"),
        img.layer
    );
    let reqs = seen.lock().expect("lock");
    let layer_reqs: Vec<&Req> = reqs
        .iter()
        .filter(|r| r.path.ends_with(&img.layer_digest.to_string()))
        .collect();
    assert_eq!(layer_reqs.len(), 2);
    assert_eq!(layer_reqs[1].header("range"), Some("bytes=70000-"));
    assert!(ingest_is_empty(&store));
}

#[tokio::test]
async fn server_ignoring_range_restarts_from_zero() {
    let img = Arc::new(image());
    let (server, _) = fake_registry(
        img.clone(),
        Box::new(|n, _, layer| {
            if n == 0 {
                Reply::Cut {
                    status: 200,
                    headers: vec![],
                    declared_len: layer.len(),
                    body: layer[..50_000].to_vec(),
                }
            } else {
                // Ignores Range: sends everything with 200.
                Reply::ok("application/octet-stream", layer.to_vec())
            }
        }),
    );
    let (_d, store) = new_store();
    anonymous()
        .pull(&reference(&server), &linux(), &store)
        .await
        .expect("restarted pull");
    assert_eq!(
        store.blob_size(&img.layer_digest),
        Some(img.layer.len() as u64)
    );
}

#[tokio::test]
async fn always_truncated_body_fails_cleanly() {
    let img = Arc::new(image());
    let (server, _) = fake_registry(
        img.clone(),
        Box::new(|_, _, layer| Reply::Cut {
            status: 200,
            headers: vec![],
            declared_len: layer.len(),
            body: layer[..1000].to_vec(),
        }),
    );
    let (_d, store) = new_store();
    let err = anonymous()
        .pull(&reference(&server), &linux(), &store)
        .await
        .expect_err("never completes");
    assert!(
        matches!(err, RegistryError::RetriesExhausted { attempts: 4, .. }),
        "{err}"
    );
    assert_no_layer(&store, &img);
}

#[tokio::test]
async fn server_errors_then_success() {
    let img = Arc::new(image());
    let (server, _) = fake_registry(
        img.clone(),
        Box::new(|n, req, layer| {
            if n < 2 {
                Reply::status(503)
            } else {
                ranged(req, layer)
            }
        }),
    );
    let (_d, store) = new_store();
    anonymous()
        .pull(&reference(&server), &linux(), &store)
        .await
        .expect("third attempt succeeds");
    assert_eq!(
        store.blob_size(&img.layer_digest),
        Some(img.layer.len() as u64)
    );
}

#[tokio::test]
async fn persistent_server_errors_give_up_with_a_clear_error() {
    let img = Arc::new(image());
    let (server, _) = fake_registry(
        img.clone(),
        Box::new(|_, _, _| Reply::Full {
            status: 500,
            headers: vec![],
            body: br#"{"errors":[{"code":"UNKNOWN","message":"disk on fire"}]}"#.to_vec(),
        }),
    );
    let (_d, store) = new_store();
    let err = anonymous()
        .pull(&reference(&server), &linux(), &store)
        .await
        .expect_err("gives up");
    let msg = err.to_string();
    assert!(msg.contains("disk on fire") && msg.contains("500"), "{msg}");
    assert_no_layer(&store, &img);
}

#[tokio::test]
async fn too_many_requests_honours_retry_after() {
    let img = Arc::new(image());
    let (server, _) = fake_registry(
        img.clone(),
        Box::new(|n, req, layer| {
            if n == 0 {
                Reply::Full {
                    status: 429,
                    headers: vec![("Retry-After".into(), "1".into())],
                    body: vec![],
                }
            } else {
                ranged(req, layer)
            }
        }),
    );
    let (_d, store) = new_store();
    let started = Instant::now();
    anonymous()
        .pull(&reference(&server), &linux(), &store)
        .await
        .expect("after waiting");
    // The client's own backoff is 20 ms; only Retry-After explains a 1 s wait.
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        store.blob_size(&img.layer_digest),
        Some(img.layer.len() as u64)
    );
}

#[tokio::test]
async fn unknown_manifest_media_type_is_refused() {
    let server = serve(|req: &Req| {
        if req.path == "/v2/test/app/manifests/v1" {
            Reply::ok(
                "application/vnd.docker.distribution.manifest.v1+prettyjws",
                br#"{"schemaVersion":1,"name":"test/app","tag":"v1","fsLayers":[]}"#.to_vec(),
            )
        } else {
            Reply::status(404)
        }
    });
    let (_d, store) = new_store();
    let err = anonymous()
        .pull(&reference(&server), &linux(), &store)
        .await
        .expect_err("schema 1");
    let msg = err.to_string();
    assert!(
        matches!(err, RegistryError::UnsupportedMediaType { .. }),
        "{msg}"
    );
    assert!(
        msg.contains("manifest.v1+prettyjws") && msg.contains("test/app"),
        "{msg}"
    );
    assert_eq!(blob_count(&store), 0);
}

#[tokio::test]
async fn manifest_blob_unknown_on_500_is_not_retried() {
    let puts = Arc::new(AtomicUsize::new(0));
    let puts2 = puts.clone();
    let server = serve(move |req: &Req| {
        if req.method == "PUT" && req.path.starts_with("/v2/test/app/manifests/") {
            puts2.fetch_add(1, Ordering::SeqCst);
            return Reply::Full {
                status: 500,
                headers: vec![("Content-Type".into(), "application/json".into())],
                body: br#"{"errors":[{"code":"MANIFEST_BLOB_UNKNOWN","message":"blob unknown to registry"}]}"#.to_vec(),
            };
        }
        Reply::status(404)
    });
    let client = anonymous();
    let r = reference(&server);
    let err = client
        .repository(&r)
        .put_manifest(
            "v1",
            "application/vnd.oci.image.manifest.v1+json",
            bytes::Bytes::from_static(b"{}"),
        )
        .await
        .expect_err("rejected");
    assert!(
        matches!(err, RegistryError::ManifestBlobUnknown { .. }),
        "{err}"
    );
    assert!(
        err.to_string().contains("validation.manifests.urls.allow"),
        "{err}"
    );
    assert_eq!(puts.load(Ordering::SeqCst), 1, "must not be retried");
}

#[tokio::test]
async fn plain_http_is_refused_for_non_loopback_token_realms() {
    let server = serve(|_req: &Req| Reply::Full {
        status: 401,
        headers: vec![(
            "WWW-Authenticate".into(),
            r#"Bearer realm="http://auth.example.com/token",service="x""#.into(),
        )],
        body: vec![],
    });
    let (_d, store) = new_store();
    let err = anonymous()
        .pull(&reference(&server), &linux(), &store)
        .await
        .expect_err("insecure realm");
    assert!(
        matches!(err, RegistryError::InsecureRefused { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("auth.example.com"), "{err}");
}

/// A registry that accepts pushes, with `on_put_blob` deciding the answer
/// to each blob PUT (by sequence number).
fn push_server(
    upload_start: u16,
    on_put_blob: impl Fn(usize) -> u16 + Send + Sync + 'static,
) -> (TestServer, Arc<AtomicUsize>) {
    let posts = Arc::new(AtomicUsize::new(0));
    let posts2 = posts.clone();
    let puts = AtomicUsize::new(0);
    let server = serve(move |req: &Req| {
        let p = req.path.as_str();
        match req.method.as_str() {
            "HEAD" => Reply::status(404),
            "POST" if p.starts_with("/v2/test/app/blobs/uploads/") => {
                let n = posts2.fetch_add(1, Ordering::SeqCst);
                if upload_start != 202 {
                    return Reply::status(upload_start);
                }
                Reply::Full {
                    status: 202,
                    headers: vec![(
                        "Location".into(),
                        format!("/v2/test/app/blobs/uploads/session-{n}"),
                    )],
                    body: vec![],
                }
            }
            "PUT" if p.starts_with("/v2/test/app/blobs/uploads/session-") => {
                Reply::status(on_put_blob(puts.fetch_add(1, Ordering::SeqCst)))
            }
            "PUT" if p.starts_with("/v2/test/app/manifests/") => Reply::status(201),
            _ => Reply::status(404),
        }
    });
    (server, posts)
}

async fn push_to(server: &TestServer) -> Result<wharf_registry::PushReport, RegistryError> {
    let (_d, store) = new_store();
    store_linux_image(&store, "local/app:1", b"push me");
    let target = reference(server);
    wharf_registry::push_image(
        &anonymous().repository(&target),
        &target,
        &store,
        "local/app:1",
        &wharf_registry::PushOptions::default(),
    )
    .await
}

#[tokio::test]
async fn push_forbidden_names_the_repository() {
    let (server, _) = push_server(403, |_| 201);
    let err = push_to(&server).await.expect_err("forbidden");
    let msg = err.to_string();
    assert!(
        matches!(err, RegistryError::Denied { action: "push", .. }),
        "{msg}"
    );
    assert!(
        msg.contains("test/app") && msg.contains("permission"),
        "{msg}"
    );
}

#[tokio::test]
async fn push_too_large_says_what_to_do() {
    let (server, _) = push_server(202, |_| 413);
    let err = push_to(&server).await.expect_err("too large");
    let msg = err.to_string();
    assert!(matches!(err, RegistryError::TooLarge { .. }), "{msg}");
    assert!(
        msg.contains("test/app") && msg.contains("chunk size"),
        "{msg}"
    );
}

#[tokio::test]
async fn failed_upload_restarts_in_a_new_session() {
    // The first blob PUT fails with 500; the upload starts over.
    let (server, posts) = push_server(202, |n| if n == 0 { 500 } else { 201 });
    let report = push_to(&server).await.expect("push after retry");
    assert_eq!(report.uploaded, 2);
    assert_eq!(
        posts.load(Ordering::SeqCst),
        3,
        "one extra session for the retry"
    );
}

/// Chunked upload whose second PATCH breaks after half its body: the
/// client asks for the session status and continues from there, and the
/// blob the registry assembles has the right digest.
#[tokio::test]
async fn chunked_upload_continues_after_a_failed_patch() {
    // One upload session per POST (blobs are pushed concurrently).
    #[derive(Default)]
    struct State {
        sessions: std::collections::HashMap<String, Vec<u8>>,
        patches: usize,
        posts: usize,
        status_queries: usize,
        completed: Vec<String>,
    }
    const UPLOADS: &str = "/v2/test/app/blobs/uploads/";
    let state = Arc::new(Mutex::new(State::default()));
    let st = state.clone();
    let server = serve(move |req: &Req| {
        let mut s = st.lock().expect("lock");
        let p = req.path.as_str();
        let session = p
            .strip_prefix(UPLOADS)
            .map(|rest| rest.split('?').next().unwrap_or("").to_string())
            .unwrap_or_default();
        let location = |id: &str| vec![("Location".to_string(), format!("{UPLOADS}{id}"))];
        match req.method.as_str() {
            "HEAD" => Reply::status(404),
            "POST" => {
                s.posts += 1;
                let id = format!("s{}", s.posts);
                s.sessions.insert(id.clone(), Vec::new());
                Reply::Full {
                    status: 202,
                    headers: location(&id),
                    body: vec![],
                }
            }
            "PATCH" => {
                s.patches += 1;
                let second = s.patches == 2;
                let start: usize = req
                    .header("content-range")
                    .and_then(|r| r.split('-').next())
                    .and_then(|a| a.parse().ok())
                    .unwrap_or(usize::MAX);
                let Some(data) = s.sessions.get_mut(&session) else {
                    return Reply::status(404);
                };
                if start != data.len() {
                    return Reply::status(416);
                }
                if second {
                    let half = req.body.len() / 2;
                    data.extend_from_slice(&req.body[..half]);
                    return Reply::status(500);
                }
                data.extend_from_slice(&req.body);
                Reply::Full {
                    status: 202,
                    headers: location(&session),
                    body: vec![],
                }
            }
            "GET" if p.starts_with(UPLOADS) => {
                s.status_queries += 1;
                let len = s.sessions.get(&session).map(Vec::len).unwrap_or(0);
                let mut headers = location(&session);
                headers.push(("Range".into(), format!("0-{}", len.saturating_sub(1))));
                Reply::Full {
                    status: 204,
                    headers,
                    body: vec![],
                }
            }
            "PUT" if p.starts_with(UPLOADS) => {
                let Some(mut data) = s.sessions.remove(&session) else {
                    return Reply::status(404);
                };
                data.extend_from_slice(&req.body);
                let digest = p.split("digest=").nth(1).unwrap_or("").replace("%3A", ":");
                if wharf_oci::Digest::of_bytes(&data).to_string() != digest {
                    return Reply::status(400);
                }
                s.completed.push(digest);
                Reply::status(201)
            }
            "PUT" => Reply::status(201),
            _ => Reply::status(404),
        }
    });
    let (_d, store) = new_store();
    // One big layer: chunks of 64 KiB, config below the chunk size.
    let layer = noise(300_000, 5);
    let c = store.put_bytes(&layer, None).expect("layer");
    let platform = Platform::new("linux", "amd64", None);
    let desc = store_image(&store, &platform, &[(GZIP_LAYER.to_string(), layer, None)]);
    store.tag("local/big:1", &desc).expect("tag");
    let mut options = options(wharf_registry::CredentialStore::anonymous());
    options.upload_chunk_size = 64 * 1024;
    let client = wharf_registry::RegistryClient::new(options).expect("client");
    let target = reference(&server);
    let report = wharf_registry::push_image(
        &client.repository(&target),
        &target,
        &store,
        "local/big:1",
        &wharf_registry::PushOptions::default(),
    )
    .await
    .expect("push continues after the failed chunk");
    assert_eq!(report.uploaded, 2);
    let s = state.lock().expect("lock");
    assert!(
        s.completed.contains(&c.digest.to_string()),
        "{:?}",
        s.completed
    );
    assert_eq!(s.status_queries, 1);
    assert_eq!(s.posts, 2, "one session per blob, no restart");
}
