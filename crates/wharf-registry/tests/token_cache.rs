//! Bearer tokens are cached per scope, refreshed shortly before they
//! expire, and never shown by `Debug`.

mod common;

use base64::Engine;
use common::http::{serve, Reply, Req};
use common::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use wharf_oci::Reference;
use wharf_registry::{CredentialStore, Credentials};

const PASSWORD: &str = "very-secret-pw";

#[tokio::test]
async fn tokens_are_cached_refreshed_and_redacted() {
    let issued = Arc::new(AtomicUsize::new(0));
    let issued2 = issued.clone();
    let port = Arc::new(AtomicUsize::new(0));
    let port2 = port.clone();
    let manifest = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","size":0},"layers":[]}"#;
    let server = serve(move |req: &Req| {
        if req.path.starts_with("/token?") {
            let basic = format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("u:{PASSWORD}"))
            );
            if req.header("authorization") != Some(basic.as_str()) {
                return Reply::status(401);
            }
            assert!(
                req.path.contains("scope=repository%3Atest%2Fapp%3Apull"),
                "{}",
                req.path
            );
            let n = issued2.fetch_add(1, Ordering::SeqCst);
            // 11 s lifetime: refreshed 10 s early, i.e. after 1 s.
            return Reply::ok(
                "application/json",
                format!(r#"{{"token":"tok-secret-{n}","expires_in":11}}"#).into_bytes(),
            );
        }
        if req
            .header("authorization")
            .is_some_and(|a| a.starts_with("Bearer tok-secret-"))
        {
            return Reply::ok(
                "application/vnd.oci.image.manifest.v1+json",
                manifest.to_vec(),
            );
        }
        Reply::Full {
            status: 401,
            headers: vec![(
                "WWW-Authenticate".into(),
                format!(
                    r#"Bearer realm="http://127.0.0.1:{}/token",service="fake",scope="repository:test/app:pull""#,
                    port2.load(Ordering::SeqCst)
                ),
            )],
            body: vec![],
        }
    });
    port.store(server.port as usize, Ordering::SeqCst);
    let reference = Reference::parse(&format!("{}/test/app:v1", server.base())).expect("ref");
    let client =
        client(CredentialStore::anonymous().with(&server.base(), Credentials::new("u", PASSWORD)));
    for _ in 0..3 {
        client.fetch_manifest(&reference).await.expect("manifest");
    }
    assert_eq!(
        issued.load(Ordering::SeqCst),
        1,
        "one token for three requests"
    );
    tokio::time::sleep(Duration::from_millis(1200)).await;
    client.fetch_manifest(&reference).await.expect("manifest");
    assert_eq!(issued.load(Ordering::SeqCst), 2, "refreshed before expiry");
    let shown = format!("{client:?}");
    assert!(!shown.contains("tok-secret"), "{shown}");
    assert!(!shown.contains(PASSWORD), "{shown}");
    assert!(
        shown.contains("<redacted>"),
        "the cached token and credentials are in the state: {shown}"
    );
}

#[tokio::test]
async fn identity_tokens_use_the_oauth2_refresh_grant() {
    let port = Arc::new(AtomicUsize::new(0));
    let port2 = port.clone();
    let server = serve(move |req: &Req| {
        if req.path == "/token" && req.method == "POST" {
            let body = String::from_utf8_lossy(&req.body).to_string();
            let ok = body.contains("grant_type=refresh_token")
                && body.contains("refresh_token=refresh-me-secret")
                && body.contains("scope=repository%3Atest%2Fapp%3Apull")
                && body.contains("service=fake");
            if !ok || req.header("authorization").is_some() {
                return Reply::status(401);
            }
            return Reply::ok(
                "application/json",
                br#"{"access_token":"access-secret","expires_in":300}"#.to_vec(),
            );
        }
        if req.header("authorization") == Some("Bearer access-secret") {
            return Reply::ok(
                "application/vnd.oci.image.manifest.v1+json",
                br#"{"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","size":0},"layers":[]}"#.to_vec(),
            );
        }
        Reply::Full {
            status: 401,
            headers: vec![(
                "WWW-Authenticate".into(),
                format!(
                    r#"Bearer realm="http://127.0.0.1:{}/token",service="fake""#,
                    port2.load(Ordering::SeqCst)
                ),
            )],
            body: vec![],
        }
    });
    port.store(server.port as usize, Ordering::SeqCst);
    // As `docker login` with an OAuth2 provider leaves it in config.json.
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("config.json");
    std::fs::write(
        &config,
        serde_json::json!({"auths": {server.base(): {"auth": "PHRva2VuPjo=", "identitytoken": "refresh-me-secret"}}})
            .to_string(),
    )
    .expect("write");
    let reference = Reference::parse(&format!("{}/test/app:v1", server.base())).expect("ref");
    let client = client(CredentialStore::docker_config(&config));
    let m = client
        .fetch_manifest(&reference)
        .await
        .expect("manifest with identity token");
    assert_eq!(m.media_type, "application/vnd.oci.image.manifest.v1+json");
    let shown = format!("{client:?}");
    assert!(
        !shown.contains("refresh-me-secret") && !shown.contains("access-secret"),
        "{shown}"
    );
}
