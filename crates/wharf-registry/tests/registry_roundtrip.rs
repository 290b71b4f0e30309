//! Push to and pull from a real CNCF distribution registry without auth,
//! and interoperate with skopeo in both directions.

mod common;

use common::registry::{self, Auth};
use common::*;
use std::process::Command;
use wharf_oci::Platform;
use wharf_oci::Reference;
use wharf_registry::{push_image, PushOptions};

fn skopeo(args: &[&str]) -> std::process::Output {
    let out = Command::new("skopeo")
        .args(args)
        .output()
        .expect("skopeo (Debian package skopeo)");
    assert!(
        out.status.success(),
        "skopeo {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_then_pull_round_trips_and_skopeo_agrees() {
    let reg = registry::start(Auth::None, None);
    let (_d1, src) = new_store();
    let desc = store_linux_image(&src, "local/app:1", b"hello from wharf");
    let client = anonymous();
    let target = Reference::parse(&format!("{}/team/app:v1", reg.host())).expect("ref");
    let repo = client.repository(&target);
    let report = push_image(&repo, &target, &src, "local/app:1", &PushOptions::default())
        .await
        .expect("push");
    assert_eq!(report.digest.as_ref(), Some(&desc.digest));
    assert_eq!(report.uploaded, 2, "config and layer");
    // Pushing again finds everything there.
    let again = push_image(&repo, &target, &src, "local/app:1", &PushOptions::default())
        .await
        .expect("push again");
    assert_eq!((again.uploaded, again.existing), (0, 2));

    // skopeo reads what wharf pushed.
    let raw = skopeo(&[
        "inspect",
        "--tls-verify=false",
        "--raw",
        &format!("docker://{target}"),
    ]);
    assert_eq!(wharf_oci::Digest::of_bytes(&raw.stdout), desc.digest);

    // wharf pulls it back into another store.
    let (_d2, dst) = new_store();
    let pulled = client
        .pull(&target, &"linux/amd64".parse().expect("platform"), &dst)
        .await
        .expect("pull");
    assert_eq!(pulled.image.descriptor.digest, desc.digest);
    assert_eq!(pulled.tag, target.to_string());
    assert_eq!(pulled.layers_downloaded, 1);
    let details = dst.inspect(&target.to_string()).expect("inspect");
    assert!(details.manifests[0].layers.iter().all(|l| l.present));
    assert_eq!(details.manifests[0].platform.os, "linux");
    assert!(ingest_is_empty(&dst));

    // skopeo reads the store as an OCI layout.
    let raw = skopeo(&[
        "inspect",
        "--raw",
        &format!("oci:{}:{}", dst.root().display(), target),
    ]);
    assert_eq!(wharf_oci::Digest::of_bytes(&raw.stdout), desc.digest);

    // A second pull downloads nothing.
    let second = client
        .pull(&target, &"linux/amd64".parse().expect("platform"), &dst)
        .await
        .expect("pull again");
    assert_eq!(second.layers_downloaded, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pulls_what_skopeo_pushed_and_mounts_across_repositories() {
    let reg = registry::start(Auth::None, None);
    let (_d1, src) = new_store();
    let desc = store_linux_image(&src, "example.com/skopeo/src:1", b"pushed by skopeo");
    // skopeo copies from wharf's store (an OCI layout) to the registry.
    let dest = format!("{}/from-skopeo/app:s1", reg.host());
    skopeo(&[
        "copy",
        "--dest-tls-verify=false",
        &format!("oci:{}:example.com/skopeo/src:1", src.root().display()),
        &format!("docker://{dest}"),
    ]);
    let reference = Reference::parse(&dest).expect("ref");
    let client = anonymous();
    let (_d2, dst) = new_store();
    let pulled = client
        .pull(&reference, &Platform::new("linux", "amd64", None), &dst)
        .await
        .expect("pull skopeo's image");
    assert_eq!(pulled.image.manifest.layers.len(), 1);
    assert_eq!(pulled.image.platform.architecture, "amd64");
    // skopeo keeps OCI manifests as they are.
    assert_eq!(pulled.image.descriptor.digest, desc.digest);

    // Pushing the pulled image to another repository of the same registry
    // mounts its blobs instead of uploading them.
    let other = Reference::parse(&format!("{}/elsewhere/app:m1", reg.host())).expect("ref");
    let report = push_image(
        &client.repository(&other),
        &other,
        &dst,
        &reference.to_string(),
        &PushOptions::default(),
    )
    .await
    .expect("push with mount");
    assert_eq!((report.mounted, report.uploaded), (2, 0), "{report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunked_upload_of_a_blob_larger_than_the_chunk_size() {
    let reg = registry::start(Auth::None, None);
    let (_d1, src) = new_store();
    // ~300 KiB of incompressible-ish content, uploaded in 64 KiB PATCHes.
    let content = noise(300_000, 7);
    let desc = store_linux_image(&src, "local/big:1", &content);
    let mut options = options(wharf_registry::CredentialStore::anonymous());
    options.upload_chunk_size = 64 * 1024;
    let client = wharf_registry::RegistryClient::new(options).expect("client");
    let target = Reference::parse(&format!("{}/chunked/app:1", reg.host())).expect("ref");
    let report = push_image(
        &client.repository(&target),
        &target,
        &src,
        "local/big:1",
        &PushOptions::default(),
    )
    .await
    .expect("chunked push");
    assert_eq!(report.uploaded, 2);
    let (_d2, dst) = new_store();
    let pulled = client
        .pull(&target, &Platform::new("linux", "amd64", None), &dst)
        .await
        .expect("pull");
    assert_eq!(pulled.image.descriptor.digest, desc.digest);
    let layer = &pulled.image.manifest.layers[0];
    assert!(layer.size > 64 * 1024 * 2, "layer must need several chunks");
    assert_eq!(dst.blob_size(&layer.digest), Some(layer.size));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_manifest_is_a_clear_not_found() {
    let reg = registry::start(Auth::None, None);
    let client = anonymous();
    let (_d, store) = new_store();
    let r = Reference::parse(&format!("{}/nothing/here:v9", reg.host())).expect("ref");
    let err = client
        .pull(&r, &Platform::new("linux", "amd64", None), &store)
        .await
        .expect_err("absent");
    let msg = err.to_string();
    assert!(
        matches!(err, wharf_registry::RegistryError::NotFound { .. }),
        "{msg}"
    );
    assert!(msg.contains("nothing/here") && msg.contains("v9"), "{msg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_is_reported_for_uploads_and_downloads() {
    use std::sync::{Arc, Mutex};
    use wharf_registry::{Direction, Progress, ProgressSink};
    let reg = registry::start(Auth::None, None);
    let (_d1, src) = new_store();
    // Several upload reads (512 KiB each), so that progress moves in steps.
    store_linux_image(&src, "local/p:1", &noise(3_000_000, 9));
    let events: Arc<Mutex<Vec<Progress>>> = Arc::default();
    let sink = {
        let events = events.clone();
        ProgressSink::new(move |p| events.lock().expect("lock").push(p.clone()))
    };
    let mut options = options(wharf_registry::CredentialStore::anonymous());
    options.progress = Some(sink);
    let client = wharf_registry::RegistryClient::new(options).expect("client");
    let target = Reference::parse(&format!("{}/progress/app:1", reg.host())).expect("ref");
    push_image(
        &client.repository(&target),
        &target,
        &src,
        "local/p:1",
        &PushOptions::default(),
    )
    .await
    .expect("push");
    let (_d2, dst) = new_store();
    let pulled = client
        .pull(&target, &Platform::new("linux", "amd64", None), &dst)
        .await
        .expect("pull");
    let layer = &pulled.image.manifest.layers[0];
    let events = events.lock().expect("lock");
    for direction in [Direction::Upload, Direction::Download] {
        let mine: Vec<&Progress> = events
            .iter()
            .filter(|p| p.direction == direction && p.digest == layer.digest)
            .collect();
        assert!(
            mine.len() > 1,
            "{direction:?}: several reports for a 3 MB layer"
        );
        assert!(
            mine.windows(2).all(|w| w[0].done <= w[1].done),
            "{direction:?}: monotonic"
        );
        let last = mine.last().expect("reports");
        assert_eq!(
            (last.done, last.total),
            (layer.size, layer.size),
            "{direction:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_layer_listed_twice_is_uploaded_once() {
    let reg = registry::start(Auth::None, None);
    let (_d, src) = new_store();
    let layer = linux_layer("same.txt", b"twice");
    let spec = (GZIP_LAYER.to_string(), layer, None);
    let desc = store_image(
        &src,
        &Platform::new("linux", "amd64", None),
        &[spec.clone(), spec],
    );
    src.tag("local/twice:1", &desc).expect("tag");
    let target = Reference::parse(&format!("{}/team/twice:1", reg.host())).expect("ref");
    let client = anonymous();
    let report = push_image(
        &client.repository(&target),
        &target,
        &src,
        "local/twice:1",
        &PushOptions::default(),
    )
    .await
    .expect("push");
    assert_eq!(report.uploaded, 2, "config and the one layer: {report:?}");
    assert_eq!(report.existing, 0, "{report:?}");
    // The registry serves the image with both layer entries.
    let (_d2, dst) = new_store();
    let pulled = client
        .pull(&target, &Platform::new("linux", "amd64", None), &dst)
        .await
        .expect("pull");
    assert_eq!(pulled.image.manifest.layers.len(), 2);
}
