//! Unit tests of the store on a temporary directory.

use super::*;
use std::io::Write;
use std::time::SystemTime;
use wharf_oci::media_types::{MEDIA_TYPE_OCI_CONFIG, MEDIA_TYPE_OCI_MANIFEST};
use wharf_oci::{Descriptor, ImageManifest};

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path().join("store")).expect("open store");
    (dir, store)
}

fn ingest_is_empty(store: &Store) -> bool {
    std::fs::read_dir(store.root().join("ingest"))
        .map(|d| d.count() == 0)
        .unwrap_or(true)
}

/// Writes a one-layer image and returns its manifest descriptor.
fn synthetic_image(store: &Store, layer: &[u8], os_version: Option<&str>) -> Descriptor {
    let layer_blob = store.put_bytes(layer, None).expect("layer");
    let mut config = serde_json::json!({
        "architecture": "amd64", "os": if os_version.is_some() { "windows" } else { "linux" },
        "rootfs": {"type": "layers", "diff_ids": [layer_blob.digest.to_string()]},
        "config": {}
    });
    if let Some(v) = os_version {
        config["os.version"] = v.into();
    }
    let config_bytes = serde_json::to_vec(&config).expect("json");
    let config_blob = store.put_bytes(&config_bytes, None).expect("config");
    let manifest = ImageManifest {
        schema_version: 2,
        media_type: Some(MEDIA_TYPE_OCI_MANIFEST.into()),
        artifact_type: None,
        config: Descriptor::new(MEDIA_TYPE_OCI_CONFIG, config_blob.digest, config_blob.size),
        layers: vec![Descriptor::new(
            "application/vnd.oci.image.layer.v1.tar",
            layer_blob.digest,
            layer_blob.size,
        )],
        subject: None,
        annotations: None,
    };
    let bytes = serde_json::to_vec(&manifest).expect("json");
    let m = store.put_bytes(&bytes, None).expect("manifest");
    Descriptor::new(MEDIA_TYPE_OCI_MANIFEST, m.digest, m.size)
}

#[test]
fn open_creates_a_valid_oci_layout() {
    let (_d, store) = store();
    let layout: serde_json::Value =
        serde_json::from_slice(&std::fs::read(store.root().join("oci-layout")).expect("read"))
            .expect("json");
    assert_eq!(layout["imageLayoutVersion"], "1.0.0");
    let index = store.read_index().expect("index");
    assert_eq!(index.schema_version, 2);
    assert!(index.manifests.is_empty());
    // Reopening keeps what is there.
    let desc = synthetic_image(&store, b"layer", None);
    store.tag("example.com/a:1", &desc).expect("tag");
    let again = Store::open(store.root()).expect("reopen");
    assert_eq!(
        again.resolve("example.com/a:1").expect("resolve").digest,
        desc.digest
    );
}

#[test]
fn verified_write_commits_under_its_digest() {
    let (_d, store) = store();
    let data = b"hello blob";
    let digest = Digest::of_bytes(data);
    let mut w = store
        .blob_writer(Some(Expected {
            digest: digest.clone(),
            size: Some(data.len() as u64),
        }))
        .expect("writer");
    w.write_all(&data[..4]).expect("write");
    w.write_all(&data[4..]).expect("write");
    let committed = w.commit().expect("commit");
    assert_eq!(committed.digest, digest);
    assert_eq!(std::fs::read(store.blob_path(&digest)).expect("read"), data);
    assert_eq!(store.blob_size(&digest), Some(data.len() as u64));
    assert!(ingest_is_empty(&store));
}

#[test]
fn wrong_digest_stores_nothing() {
    let (_d, store) = store();
    let claimed = Digest::of_bytes(b"what the registry promised");
    let mut w = store
        .blob_writer(Some(Expected {
            digest: claimed.clone(),
            size: None,
        }))
        .expect("writer");
    w.write_all(b"something else").expect("write");
    let err = w.commit().expect_err("must fail");
    assert!(matches!(err, StoreError::DigestMismatch { .. }), "{err}");
    assert!(err.to_string().contains(&claimed.to_string()));
    assert_eq!(store.blob_size(&claimed), None);
    assert_eq!(store.blob_size(&Digest::of_bytes(b"something else")), None);
    assert!(ingest_is_empty(&store));
}

#[test]
fn short_and_long_content_are_refused() {
    let (_d, store) = store();
    let data = b"0123456789";
    let digest = Digest::of_bytes(data);
    let expected = Expected {
        digest: digest.clone(),
        size: Some(10),
    };
    let mut w = store.blob_writer(Some(expected.clone())).expect("writer");
    w.write_all(&data[..5]).expect("write");
    assert!(matches!(
        w.commit(),
        Err(StoreError::SizeMismatch { actual: 5, .. })
    ));
    let mut w = store.blob_writer(Some(expected)).expect("writer");
    let err = w.write_all(b"0123456789X").expect_err("too long");
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
    drop(w);
    assert_eq!(store.blob_size(&digest), None);
    assert!(ingest_is_empty(&store));
}

#[test]
fn reset_restarts_the_hash() {
    let (_d, store) = store();
    let data = b"final content";
    let mut w = store
        .blob_writer(Some(Expected {
            digest: Digest::of_bytes(data),
            size: Some(data.len() as u64),
        }))
        .expect("writer");
    w.write_all(b"garbage from a server that ignored Range")
        .ok();
    w.reset().expect("reset");
    assert_eq!(w.written(), 0);
    w.write_all(data).expect("write");
    w.commit().expect("commit after reset");
}

#[test]
fn concurrent_writers_of_one_blob_all_succeed() {
    let (_d, store) = store();
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let digest = Digest::of_bytes(&data);
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| {
                let c = store.put_bytes(&data, Some(&digest)).expect("put");
                assert_eq!(c.digest, digest);
            });
        }
    });
    assert_eq!(std::fs::read(store.blob_path(&digest)).expect("read"), data);
    assert!(ingest_is_empty(&store));
}

#[test]
fn concurrent_tags_are_all_recorded() {
    let (_d, store) = store();
    let desc = synthetic_image(&store, b"layer", None);
    std::thread::scope(|s| {
        for i in 0..8 {
            let store = store.clone();
            let desc = desc.clone();
            s.spawn(move || {
                store
                    .tag(&format!("example.com/img:{i}"), &desc)
                    .expect("tag")
            });
        }
    });
    assert_eq!(store.list_images().expect("list").len(), 8);
}

#[test]
fn tag_requires_the_blob_and_replaces_previous() {
    let (_d, store) = store();
    let missing = Descriptor::new(MEDIA_TYPE_OCI_MANIFEST, Digest::of_bytes(b"nope"), 4);
    assert!(matches!(
        store.tag("x:1", &missing),
        Err(StoreError::BlobNotFound { .. })
    ));
    let a = synthetic_image(&store, b"a", None);
    let b = synthetic_image(&store, b"b", None);
    store.tag("x:1", &a).expect("tag");
    store.tag("x:1", &b).expect("retag");
    assert_eq!(store.resolve("x:1").expect("resolve").digest, b.digest);
    assert_eq!(store.read_index().expect("index").manifests.len(), 1);
    assert!(store.untag("x:1").expect("untag"));
    assert!(!store.untag("x:1").expect("untag again"));
    let err = store.resolve("x:1").expect_err("gone");
    assert!(err.to_string().contains("x:1"), "{err}");
}

#[test]
fn list_and_inspect_show_platform_and_layers() {
    let (_d, store) = store();
    let desc = synthetic_image(&store, b"windows layer", Some("10.0.20348.1"));
    store.tag("example.com/win:ltsc2022", &desc).expect("tag");
    let images = store.list_images().expect("list");
    assert_eq!(images.len(), 1);
    assert_eq!(images[0].name, "example.com/win:ltsc2022");
    assert_eq!(images[0].platforms[0].os, "windows");
    assert_eq!(
        images[0].platforms[0].os_version.as_deref(),
        Some("10.0.20348.1")
    );
    let details = store.inspect("example.com/win:ltsc2022").expect("inspect");
    let m = &details.manifests[0];
    assert_eq!(m.layers.len(), 1);
    assert_eq!(m.layers[0].size, b"windows layer".len() as u64);
    assert!(m.layers[0].present);
    assert_eq!(images[0].size, desc.size + m.manifest.config.size + 13);
    assert_eq!(images[0].full_size, images[0].size);
    // A layer the store only references (a Windows base layer) counts in
    // the image's full size, not in what the store holds.
    std::fs::remove_file(store.blob_path(&m.layers[0].digest)).expect("drop the layer");
    let images = store.list_images().expect("list");
    assert_eq!(images[0].size, desc.size + m.manifest.config.size);
    assert_eq!(images[0].full_size, images[0].size + 13);
}

#[test]
fn gc_removes_only_unreferenced_blobs() {
    let (_d, store) = store();
    let kept = synthetic_image(&store, b"kept layer", None);
    let dropped = synthetic_image(&store, b"dropped layer", None);
    let stray = store.put_bytes(b"stray", None).expect("stray");
    store.tag("k:1", &kept).expect("tag");
    store.tag("d:1", &dropped).expect("tag");
    store.untag("d:1").expect("untag");
    let report = store.gc().expect("gc");
    // dropped: manifest + config + layer; plus the stray blob.
    assert_eq!(report.removed_blobs, 4);
    assert_eq!(report.kept_blobs, 3);
    assert!(store.blob_size(&stray.digest).is_none());
    assert!(store.blob_size(&dropped.digest).is_none());
    let details = store.inspect("k:1").expect("still intact");
    assert!(details.manifests[0].layers[0].present);
    assert_eq!(store.gc().expect("gc again").removed_blobs, 0);
}

#[test]
fn corrupt_index_json_is_reported_with_its_path() {
    let (_d, store) = store();
    std::fs::write(store.root().join("index.json"), b"{not json").expect("write");
    let err = store.list_images().expect_err("corrupt");
    assert!(err.to_string().contains("index.json"), "{err}");
}

#[test]
#[cfg_attr(
    windows,
    ignore = "runs Debian's skopeo, a Linux program that Windows (and Wine) cannot start"
)]
fn skopeo_reads_the_store_as_an_oci_layout() {
    if !std::path::Path::new("/usr/bin/skopeo").exists() {
        panic!("skopeo is required (Debian package skopeo)");
    }
    let (_d, store) = store();
    let desc = synthetic_image(&store, b"layer for skopeo", None);
    store.tag("example.com/team/app:v1", &desc).expect("tag");
    let out = std::process::Command::new("skopeo")
        .arg("inspect")
        .arg("--raw")
        .arg(format!(
            "oci:{}:example.com/team/app:v1",
            store.root().display()
        ))
        .output()
        .expect("run skopeo");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(Digest::of_bytes(&out.stdout), desc.digest);
}

#[test]
#[cfg_attr(
    windows,
    ignore = "runs Debian's umoci, a Linux program that Windows (and Wine) cannot start"
)]
fn umoci_unpacks_an_image_from_the_store() {
    let (dir, store) = store();
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_ustar();
    h.set_size(6);
    h.set_mode(0o644);
    h.set_cksum();
    b.append_data(&mut h, "etc/motd", b"hello\n".as_slice())
        .expect("tar");
    let layer = b.into_inner().expect("tar");
    // An uncompressed layer's digest is also its diff_id, as umoci checks.
    let desc = synthetic_image(&store, &layer, None);
    store.tag("example.com/team/app:v1", &desc).expect("tag");
    let bundle = dir.path().join("bundle");
    let out = std::process::Command::new("umoci")
        .args(["unpack", "--rootless", "--image"])
        .arg(format!(
            "{}:example.com/team/app:v1",
            store.root().display()
        ))
        .arg(&bundle)
        .output()
        .expect("umoci (Debian package umoci)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read(bundle.join("rootfs/etc/motd")).expect("unpacked"),
        b"hello\n"
    );
}

#[test]
fn refuses_a_layout_of_another_version() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("oci-layout"),
        br#"{"imageLayoutVersion":"9.9.9"}"#,
    )
    .expect("write");
    let err = Store::open(dir.path()).expect_err("wrong version");
    assert!(matches!(err, StoreError::NotALayout { .. }), "{err}");
    assert!(err.to_string().contains("9.9.9"), "{err}");
    std::fs::write(dir.path().join("oci-layout"), b"garbage").expect("write");
    assert!(Store::open(dir.path()).is_err());
}

#[test]
fn a_relative_store_path_is_made_absolute() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = std::env::current_dir().unwrap();
    // Relative to the current directory, as `--store ./store` is.
    let rel = pathdiff(dir.path(), &cwd).join("s");
    let s = Store::open(&rel).unwrap();
    assert!(s.root().is_absolute(), "{}", s.root().display());
    assert_eq!(s.root(), cwd.join(&rel));
    assert!(dir.path().join("s/oci-layout").is_file());
}

/// `target` relative to `base` (both absolute), with `..` as needed.
fn pathdiff(target: &std::path::Path, base: &std::path::Path) -> PathBuf {
    let t: Vec<_> = target.components().collect();
    let b: Vec<_> = base.components().collect();
    let common = t.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut out = PathBuf::new();
    for _ in common..b.len() {
        out.push("..");
    }
    for c in &t[common..] {
        out.push(c.as_os_str());
    }
    out
}

#[test]
fn gc_removes_snapshots_of_layers_no_tagged_image_holds() {
    let (_d, store) = store();
    let layer = b"plain tar layer".to_vec();
    let desc = synthetic_image(&store, &layer, None);
    store.tag("example.test/keep:1", &desc).unwrap();
    let live_hex = Digest::of_bytes(&layer).hex().to_string();
    let snaps = store.root().join("wharf-snapshots");
    for name in [
        live_hex.clone(),
        format!("{live_hex}-user"),
        "0".repeat(64),
        format!("{}-user", "1".repeat(64)),
        ".unpacking-abc".to_string(),
    ] {
        fs::create_dir_all(snaps.join(&name).join("etc")).unwrap();
        fs::write(
            snaps.join(&name).join("etc/passwd"),
            "root:x:0:0::/:/bin/sh\n",
        )
        .unwrap();
    }
    let report = store.gc().unwrap();
    assert_eq!(report.removed_snapshots, 3, "{report:?}");
    assert!(report.snapshot_errors.is_empty(), "{report:?}");
    let mut left: Vec<String> = fs::read_dir(&snaps)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, vec![live_hex.clone(), format!("{live_hex}-user")]);
}

#[test]
fn gc_tidies_every_area_and_keeps_what_tagged_images_use() {
    let (_d, store) = store();
    let layer = b"layer of the tagged image".to_vec();
    let desc = synthetic_image(&store, &layer, None);
    store.tag("example.test/keep:1", &desc).unwrap();
    let diff_id = Digest::of_bytes(&layer);
    let live_layer = wharf_oci::LayerRef {
        descriptor: Descriptor::new(
            "application/vnd.oci.image.layer.v1.tar",
            diff_id.clone(),
            layer.len() as u64,
        ),
        diff_id: diff_id.clone(),
    };
    // Windows layer folders: the tagged image's chain, and one of nothing.
    let (live_folder, _) = store.windows_layer_folder(&diff_id).unwrap();
    let (dead_folder, _) = store
        .windows_layer_folder(&Digest::of_bytes(b"gone"))
        .unwrap();
    // Each with its completion marker and lock file beside it.
    let beside = |f: &std::path::Path, suffix: &str| {
        let mut name = f.as_os_str().to_owned();
        name.push(suffix);
        std::path::PathBuf::from(name)
    };
    for f in [&live_folder, &dead_folder] {
        fs::create_dir_all(f.join("Files")).unwrap();
        fs::write(beside(f, ".imported"), b"").unwrap();
        fs::write(beside(f, ".lock"), b"").unwrap();
    }
    // Cache records: one whose layer is here, one whose layer is gone, one
    // RUN record that made no layer (kept: it needs no blob).
    let dead_layer = wharf_oci::LayerRef {
        descriptor: Descriptor::new("x", Digest::of_bytes(b"absent"), 6),
        diff_id: Digest::of_bytes(b"absent"),
    };
    let key = |s: &str| Digest::of_bytes(s.as_bytes());
    let (layer_kind, run_kind) = (RecordKind::Layer, RecordKind::Run);
    store
        .write_cache_record(layer_kind, RecordSpace::Exported, &key("a"), &live_layer)
        .unwrap();
    store
        .write_cache_record(layer_kind, RecordSpace::Plain, &key("b"), &dead_layer)
        .unwrap();
    store
        .write_cache_record(
            run_kind,
            RecordSpace::Exported,
            &key("c"),
            &serde_json::json!({"layer": null}),
        )
        .unwrap();
    store
        .write_cache_record(
            run_kind,
            RecordSpace::Exported,
            &key("d"),
            &serde_json::json!({"layer": dead_layer}),
        )
        .unwrap();
    // Temporary directories killed builds left, one of them just now: no
    // lease is held, so no build is running and both go, with their bytes.
    let old = store.temp_dir().unwrap().keep();
    fs::write(old.join("spool"), vec![0u8; 1000]).unwrap();
    let recent = store.temp_dir().unwrap().keep();
    let two_hours_ago = SystemTime::now() - std::time::Duration::from_secs(7200);
    set_modified(&old, two_hours_ago);
    // An ingest file of a writer without a lease, written just now: kept.
    let ingest = store.ingest_file().unwrap();
    // A RUN cache mount.
    let cache = store.run_cache_dir("go-build").unwrap();
    fs::write(cache.join("data.bin"), b"cached").unwrap();

    let report = store.gc().unwrap();
    // The dead folder, with its marker and its lock.
    assert_eq!(report.removed_windows_layers, 1, "{report:?}");
    assert!(live_folder.is_dir() && !dead_folder.exists());
    assert!(beside(&live_folder, ".imported").is_file() && beside(&live_folder, ".lock").is_file());
    assert!(!beside(&dead_folder, ".imported").exists());
    assert_eq!(report.removed_cache_records, 2, "{report:?}");
    assert!(store
        .read_cache_record::<wharf_oci::LayerRef>(layer_kind, RecordSpace::Exported, &key("a"))
        .is_some());
    assert!(store
        .read_cache_record::<serde_json::Value>(run_kind, RecordSpace::Exported, &key("c"))
        .is_some());
    assert!(store
        .read_cache_record::<serde_json::Value>(run_kind, RecordSpace::Exported, &key("d"))
        .is_none());
    assert_eq!(report.removed_temp, 2, "{report:?}");
    assert!(!old.exists() && !recent.exists());
    assert!(report.freed_bytes >= 1000, "{report:?}");
    assert!(ingest.path().is_file());
    assert!(
        cache.join("data.bin").is_file(),
        "cache mounts stay by default"
    );
    assert_eq!(report.removed_run_caches, 0);

    let report = store.gc_with(GcOptions { run_caches: true }).unwrap();
    assert_eq!(report.removed_run_caches, 1, "{report:?}");
    assert!(!cache.exists());
    assert_eq!(report.removed_blobs, 0, "{report:?}");
}

#[test]
fn a_hashed_file_enters_the_store_by_rename() {
    let (_d, store) = store();
    let file = store.ingest_file().unwrap();
    fs::write(file.path(), b"layer bytes").unwrap();
    let digest = Digest::of_bytes(b"layer bytes");
    let path = file.path().to_path_buf();
    store.commit_hashed(file, &digest, 11).unwrap();
    assert!(!path.exists(), "renamed, not copied");
    assert_eq!(store.blob_size(&digest), Some(11));
    assert_eq!(fs::read(store.blob_path(&digest)).unwrap(), b"layer bytes");
    // A wrong size is refused and the file is not stored.
    let file = store.ingest_file().unwrap();
    fs::write(file.path(), b"short").unwrap();
    let other = Digest::of_bytes(b"short");
    assert!(matches!(
        store.commit_hashed(file, &other, 6),
        Err(StoreError::SizeMismatch { .. })
    ));
    assert_eq!(store.blob_size(&other), None);
}

/// Sets the modification time of a file or directory.
fn set_modified(path: &std::path::Path, time: SystemTime) {
    // Windows opens a directory only with FILE_FLAG_BACKUP_SEMANTICS.
    #[cfg(windows)]
    let f = {
        use std::os::windows::fs::OpenOptionsExt;
        fs::OpenOptions::new()
            .write(true)
            .custom_flags(0x0200_0000)
            .open(path)
            .unwrap()
    };
    #[cfg(not(windows))]
    let f = File::open(path).unwrap();
    f.set_modified(time).unwrap();
}

#[test]
fn a_held_lease_keeps_collection_out_until_dropped() {
    let (_d, store) = store();
    // An untagged blob, as a build writes before it tags.
    let blob = store.put_bytes(b"new layer", None).unwrap();
    let lease = store.lease().unwrap();
    assert_eq!(store.try_gc_with(GcOptions::default()).unwrap(), None);
    assert_eq!(store.blob_size(&blob.digest), Some(9));
    drop(lease);
    let report = store.try_gc_with(GcOptions::default()).unwrap().unwrap();
    assert_eq!(report.removed_blobs, 1, "{report:?}");
}

#[cfg(unix)]
#[test]
fn areas_with_unpacked_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let (_d, store) = store();
    let mode = |p: &std::path::Path| fs::metadata(p).unwrap().permissions().mode() & 0o7777;
    // An area an older version made world-readable is tightened on use.
    let old = store.root().join("wharf-snapshots");
    fs::create_dir(&old).unwrap();
    fs::set_permissions(&old, fs::Permissions::from_mode(0o755)).unwrap();
    let diff_id = Digest::of_bytes(b"layer");
    let (_, snapshots) = store
        .snapshot_dir(&diff_id, crate::SnapshotXattrs::Trusted)
        .unwrap();
    let temp = store.temp_dir().unwrap();
    let cache = store.run_cache_dir("go").unwrap();
    let (_, windows) = store.windows_layer_folder(&diff_id).unwrap();
    for area in [
        snapshots,
        temp.path().parent().unwrap().to_path_buf(),
        cache.parent().unwrap().to_path_buf(),
        windows,
    ] {
        assert_eq!(mode(&area), 0o700, "{}", area.display());
    }
}

/// Where the file system has the "top of directory hierarchy" flag (ext4
/// here), the areas of unrelated trees carry it, an area an older version
/// made without it included; where it has not, nothing fails.
#[cfg(target_os = "linux")]
#[test]
fn areas_of_unrelated_trees_spread_their_children() {
    use rustix::fs::{ioctl_getflags, ioctl_setflags, IFlags, Mode, OFlags};
    let open = |p: &std::path::Path| {
        rustix::fs::open(p, OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty()).unwrap()
    };
    let (d, store) = store();
    let probe = d.path().join("probe");
    fs::create_dir(&probe).unwrap();
    let fd = open(&probe);
    let supported = ioctl_getflags(&fd)
        .and_then(|f| ioctl_setflags(&fd, f | IFlags::TOPDIR))
        .is_ok()
        && ioctl_getflags(&fd).is_ok_and(|f| f.contains(IFlags::TOPDIR));
    let old = store.root().join("wharf-snapshots");
    fs::create_dir(&old).unwrap();
    let (_, snapshots) = store
        .snapshot_dir(&Digest::of_bytes(b"layer"), crate::SnapshotXattrs::Trusted)
        .unwrap();
    let temp = store.temp_dir().unwrap();
    let cache = store.run_cache_dir("go").unwrap();
    let blobs = store.root().join("blobs");
    for (area, spread) in [
        (snapshots, true),
        (temp.path().parent().unwrap().to_path_buf(), true),
        (cache.parent().unwrap().to_path_buf(), true),
        (blobs, false),
    ] {
        let flags = ioctl_getflags(open(&area));
        if supported {
            assert_eq!(
                flags.unwrap().contains(IFlags::TOPDIR),
                spread,
                "{}",
                area.display()
            );
        } else {
            eprintln!(
                "no TOPDIR flag on this file system; {} unchecked",
                area.display()
            );
        }
    }
}
