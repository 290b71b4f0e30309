//! Authentication against a real registry: htpasswd Basic auth, and the
//! Docker token flow with a token endpoint in the test code. Credentials
//! come from a Docker config.json, as for a user who ran `docker login`.

mod common;

use base64::Engine;
use common::registry::{self, Auth, PASSWORD, USER};
use common::*;
use std::sync::atomic::Ordering;
use wharf_oci::Platform;
use wharf_oci::Reference;
use wharf_registry::{push_image, CredentialStore, Credentials, PushOptions, RegistryError};

fn docker_config(dir: &std::path::Path, host: &str, user: &str, password: &str) -> CredentialStore {
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    let path = dir.join("config.json");
    std::fs::write(
        &path,
        serde_json::json!({"auths": {host: {"auth": auth}}}).to_string(),
    )
    .expect("write config");
    CredentialStore::docker_config(path)
}

async fn round_trip(reg: &registry::Registry, credentials: CredentialStore) {
    let (_d1, src) = new_store();
    let desc = store_linux_image(&src, "local/app:1", b"authenticated content");
    let client = client(credentials);
    let target = Reference::parse(&format!("{}/secure/app:v1", reg.host())).expect("ref");
    push_image(
        &client.repository(&target),
        &target,
        &src,
        "local/app:1",
        &PushOptions::default(),
    )
    .await
    .unwrap_or_else(|e| panic!("push: {e}\n{}", reg.log()));
    let (_d2, dst) = new_store();
    let pulled = client
        .pull(&target, &Platform::new("linux", "amd64", None), &dst)
        .await
        .expect("pull");
    assert_eq!(pulled.image.descriptor.digest, desc.digest);
}

async fn anonymous_is_refused(reg: &registry::Registry) {
    let (_d, store) = new_store();
    let target = Reference::parse(&format!("{}/secure/app:v1", reg.host())).expect("ref");
    let err = anonymous()
        .pull(&target, &Platform::new("linux", "amd64", None), &store)
        .await
        .expect_err("anonymous");
    let msg = err.to_string();
    assert!(matches!(err, RegistryError::Unauthorized { .. }), "{msg}");
    assert!(
        msg.contains("secure/app") && msg.contains("docker login"),
        "{msg}"
    );
}

async fn wrong_password_is_refused_without_leaking_it(reg: &registry::Registry) {
    let (_d, store) = new_store();
    let target = Reference::parse(&format!("{}/secure/app:v1", reg.host())).expect("ref");
    let creds = CredentialStore::anonymous()
        .with(&reg.host(), Credentials::new(USER, "wrong-Pa55word-xyz"));
    let err = client(creds)
        .pull(&target, &Platform::new("linux", "amd64", None), &store)
        .await
        .expect_err("wrong password");
    let shown = format!("{err} {err:?}");
    assert!(matches!(err, RegistryError::Unauthorized { .. }), "{shown}");
    assert!(shown.contains("were refused"), "{shown}");
    assert!(!shown.contains("wrong-Pa55word-xyz"), "{shown}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn htpasswd_basic_auth() {
    let reg = registry::start(Auth::Htpasswd, None);
    let dir = tempfile::tempdir().expect("tempdir");
    round_trip(&reg, docker_config(dir.path(), &reg.host(), USER, PASSWORD)).await;
    anonymous_is_refused(&reg).await;
    wrong_password_is_refused_without_leaking_it(&reg).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bearer_token_flow() {
    let reg = registry::start(Auth::Token, None);
    let dir = tempfile::tempdir().expect("tempdir");
    let credentials = docker_config(dir.path(), &reg.host(), USER, PASSWORD);
    round_trip(&reg, credentials.clone()).await;
    anonymous_is_refused(&reg).await;
    wrong_password_is_refused_without_leaking_it(&reg).await;

    // One client reuses its pull token for every request of the repository.
    let client = client(credentials);
    let target = Reference::parse(&format!("{}/secure/app:v1", reg.host())).expect("ref");
    let before = reg.tokens_issued.load(Ordering::SeqCst);
    for _ in 0..3 {
        let (_d, store) = new_store();
        client
            .pull(&target, &Platform::new("linux", "amd64", None), &store)
            .await
            .expect("pull");
    }
    assert_eq!(reg.tokens_issued.load(Ordering::SeqCst) - before, 1);
}
