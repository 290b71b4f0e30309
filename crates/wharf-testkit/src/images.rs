//! Synthetic images for tests, built straight into a store: Linux layers,
//! Windows base and app layers as docs/windows-layer-format.md describes
//! them (with foreign-layer variants), OCI and Docker schema-2 manifests,
//! indexes.

use std::io::Write;
use wharf_oci::Digest;
use wharf_oci::Platform;
use wharf_oci::{
    Descriptor, ImageIndex, ImageManifest, MEDIA_TYPE_DOCKER_CONFIG,
    MEDIA_TYPE_DOCKER_FOREIGN_LAYER, MEDIA_TYPE_DOCKER_MANIFEST, MEDIA_TYPE_DOCKER_MANIFEST_LIST,
    MEDIA_TYPE_OCI_CONFIG, MEDIA_TYPE_OCI_INDEX, MEDIA_TYPE_OCI_MANIFEST,
};
use wharf_store::Store;

pub const GZIP_LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

pub fn new_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path().join("store")).expect("store");
    (dir, store)
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).expect("gzip");
    e.finish().expect("gzip")
}

/// A Linux layer: one file.
pub fn linux_layer(name: &str, content: &[u8]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(content.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    b.append_data(&mut h, name, content).expect("tar");
    gzip(&b.into_inner().expect("tar"))
}

/// A Windows base layer as docs/windows-layer-format.md describes: `Files/` and `Hives/`
/// first, every ancestor directory, hives under System32/config, PAX
/// records for attributes and creation time.
pub fn windows_layer(build: &str) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let dirs = [
        "Hives",
        "Files",
        "Files/Windows",
        "Files/Windows/System32",
        "Files/Windows/System32/config",
    ];
    for d in dirs {
        b.append_pax_extensions([
            ("MSWINDOWS.fileattr", b"16".as_slice()),
            (
                "LIBARCHIVE.creationtime",
                b"1700000000.000000005".as_slice(),
            ),
        ])
        .expect("pax");
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_size(0);
        h.set_mode(0o755);
        h.set_cksum();
        b.append_data(&mut h, format!("{d}/"), std::io::empty())
            .expect("dir");
    }
    let files: Vec<(String, Vec<u8>)> = ["DEFAULT", "SAM", "SECURITY", "SOFTWARE", "SYSTEM"]
        .iter()
        .map(|h| {
            (
                format!("Files/Windows/System32/config/{h}"),
                format!("hive {h} {build}").into_bytes(),
            )
        })
        .chain(
            [
                "DefaultUser_Delta",
                "Sam_Delta",
                "Security_Delta",
                "Software_Delta",
                "System_Delta",
            ]
            .iter()
            .map(|h| (format!("Hives/{h}"), format!("delta {h}").into_bytes())),
        )
        .chain(std::iter::once((
            "Files/Windows/System32/ntdll.dll".to_string(),
            format!("not really ntdll, build {build}").into_bytes(),
        )))
        .collect();
    for (name, content) in files {
        b.append_pax_extensions([("MSWINDOWS.fileattr", b"32".as_slice())])
            .expect("pax");
        let mut h = tar::Header::new_ustar();
        h.set_size(content.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, name, content.as_slice())
            .expect("file");
    }
    gzip(&b.into_inner().expect("tar"))
}

/// A layer to store: media type, blob, foreign-layer URLs.
pub type LayerSpec = (String, Vec<u8>, Option<Vec<String>>);

/// A one-layer `linux/amd64` image (`etc/os-release`, gzip) in `store`.
pub fn store_os_release_image(store: &Store) -> Descriptor {
    let linux = "linux/amd64".parse().expect("platform");
    store_image(
        store,
        &linux,
        &[(
            GZIP_LAYER.to_string(),
            linux_layer("etc/os-release", b"ID=test\n"),
            None,
        )],
    )
}

/// Stores an image (config + layers) and returns its manifest descriptor
/// (with the platform set, as an index entry needs).
pub fn store_image(store: &Store, platform: &Platform, layers: &[LayerSpec]) -> Descriptor {
    store_image_typed(
        store,
        platform,
        layers,
        MEDIA_TYPE_OCI_MANIFEST,
        MEDIA_TYPE_OCI_CONFIG,
    )
}

/// Like [`store_image`] with Docker schema-2 media types (as older Windows
/// base images on MCR use).
pub fn store_docker_image(store: &Store, platform: &Platform, layers: &[LayerSpec]) -> Descriptor {
    store_image_typed(
        store,
        platform,
        layers,
        MEDIA_TYPE_DOCKER_MANIFEST,
        MEDIA_TYPE_DOCKER_CONFIG,
    )
}

fn store_image_typed(
    store: &Store,
    platform: &Platform,
    layers: &[LayerSpec],
    manifest_type: &str,
    config_type: &str,
) -> Descriptor {
    let mut descs = Vec::new();
    let mut diff_ids = Vec::new();
    for (media_type, blob, urls) in layers {
        let c = store.put_bytes(blob, None).expect("layer");
        let mut d = Descriptor::new(media_type.clone(), c.digest, c.size);
        d.urls = urls.clone();
        descs.push(d);
        diff_ids.push(Digest::of_bytes(blob).to_string()); // stand-in; not checked by registries
    }
    let mut config = serde_json::json!({
        "architecture": platform.architecture, "os": platform.os,
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "config": {"Cmd": ["run"]},
    });
    if let Some(v) = &platform.os_version {
        config["os.version"] = v.clone().into();
    }
    let config_bytes = serde_json::to_vec(&config).expect("json");
    let c = store.put_bytes(&config_bytes, None).expect("config");
    let manifest = ImageManifest {
        schema_version: 2,
        media_type: Some(manifest_type.into()),
        artifact_type: None,
        config: Descriptor::new(config_type, c.digest, c.size),
        layers: descs,
        subject: None,
        annotations: None,
    };
    let bytes = serde_json::to_vec(&manifest).expect("json");
    let m = store.put_bytes(&bytes, None).expect("manifest");
    let mut d = Descriptor::new(manifest_type, m.digest, m.size);
    d.platform = Some(platform.clone());
    d
}

pub fn store_linux_image(store: &Store, tag: &str, content: &[u8]) -> Descriptor {
    let platform: Platform = "linux/amd64".parse().expect("platform");
    let d = store_image(
        store,
        &platform,
        &[(
            GZIP_LAYER.to_string(),
            linux_layer("hello.txt", content),
            None,
        )],
    );
    store.tag(tag, &d).expect("tag");
    d
}

pub fn windows_platform(version: &str) -> Platform {
    let mut p: Platform = "windows/amd64".parse().expect("platform");
    p.os_version = Some(version.to_string());
    p
}

/// A Windows image whose base layer is foreign (served at `url`) plus one
/// normal app layer. Returns (manifest descriptor, foreign layer blob).
pub fn store_windows_foreign_image(
    store: &Store,
    version: &str,
    url: &str,
) -> (Descriptor, Vec<u8>) {
    let base = windows_layer(version);
    let d = store_docker_image(
        store,
        &windows_platform(version),
        &[
            (
                MEDIA_TYPE_DOCKER_FOREIGN_LAYER.to_string(),
                base.clone(),
                Some(vec![url.to_string()]),
            ),
            (DOCKER_LAYER.to_string(), windows_app_layer(), None),
        ],
    );
    (d, base)
}

/// A Windows app layer on top of a base: `Files/app/app.exe` with its
/// ancestors, and the empty `Hives` directory every Windows layer has.
pub fn windows_app_layer() -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for d in ["Hives", "Files", "Files/app"] {
        b.append_pax_extensions([("MSWINDOWS.fileattr", b"16".as_slice())])
            .expect("pax");
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_size(0);
        h.set_mode(0o755);
        h.set_cksum();
        b.append_data(&mut h, format!("{d}/"), std::io::empty())
            .expect("dir");
    }
    b.append_pax_extensions([("MSWINDOWS.fileattr", b"32".as_slice())])
        .expect("pax");
    let mut h = tar::Header::new_ustar();
    h.set_size(3);
    h.set_mode(0o644);
    h.set_cksum();
    b.append_data(&mut h, "Files/app/app.exe", b"app".as_slice())
        .expect("file");
    gzip(&b.into_inner().expect("tar"))
}

/// A Windows image with a normal (distributable) base layer.
pub fn store_windows_image(store: &Store, version: &str) -> Descriptor {
    store_docker_image(
        store,
        &windows_platform(version),
        &[
            (DOCKER_LAYER.to_string(), windows_layer(version), None),
            (DOCKER_LAYER.to_string(), windows_app_layer(), None),
        ],
    )
}

/// Stores a Docker manifest list and tags it.
pub fn store_manifest_list(store: &Store, tag: &str, manifests: Vec<Descriptor>) -> Descriptor {
    let index = ImageIndex {
        manifests,
        media_type: Some(MEDIA_TYPE_DOCKER_MANIFEST_LIST.into()),
        ..ImageIndex::empty()
    };
    let bytes = serde_json::to_vec(&index).expect("json");
    let c = store.put_bytes(&bytes, None).expect("index");
    let d = Descriptor::new(MEDIA_TYPE_DOCKER_MANIFEST_LIST, c.digest, c.size);
    store.tag(tag, &d).expect("tag");
    d
}

pub fn store_index(store: &Store, tag: &str, manifests: Vec<Descriptor>) -> Descriptor {
    let index = ImageIndex {
        manifests,
        ..ImageIndex::empty()
    };
    let bytes = serde_json::to_vec(&index).expect("json");
    let c = store.put_bytes(&bytes, None).expect("index");
    let d = Descriptor::new(MEDIA_TYPE_OCI_INDEX, c.digest, c.size);
    store.tag(tag, &d).expect("tag");
    d
}

pub fn ingest_is_empty(store: &Store) -> bool {
    std::fs::read_dir(store.root().join("ingest"))
        .map(|d| d.count() == 0)
        .unwrap_or(true)
}

pub fn blob_count(store: &Store) -> usize {
    std::fs::read_dir(store.root().join("blobs/sha256"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Deterministic incompressible bytes (xorshift64).
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}
