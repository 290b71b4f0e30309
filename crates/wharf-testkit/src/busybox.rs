//! A real, runnable Linux base image made from Debian's `busybox-static`:
//! `/bin/busybox` with a symlink per applet, `/etc/passwd` and `/etc/group`
//! (root, an `app` user 1000:1000 in a supplementary group, nobody),
//! `/tmp` (1777) and a few files a RUN can delete, chmod or replace. The
//! config and `rootfs.diff_ids` are exact, so other tools (buildah, skopeo,
//! umoci) accept it.

use crate::images::{gzip, GZIP_LAYER};
use std::path::Path;
use std::process::Command;
use wharf_oci::Platform;
use wharf_oci::{
    Descriptor, Digest, ImageManifest, MEDIA_TYPE_OCI_CONFIG, MEDIA_TYPE_OCI_MANIFEST,
};

use wharf_store::Store;

/// Where Debian's `busybox-static` installs the binary.
pub const BUSYBOX: &str = "/bin/busybox";

/// Whether the busybox binary is present (package `busybox-static`).
pub fn available() -> bool {
    Path::new(BUSYBOX).is_file()
}

fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_size(size);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(1_700_000_000);
    h
}

/// The uncompressed root filesystem tar.
pub fn rootfs_tar() -> Vec<u8> {
    let binary = std::fs::read(BUSYBOX).expect("busybox-static is installed (/bin/busybox)");
    rootfs_tar_with(&binary)
}

/// The root filesystem tar around `binary`, a busybox of any architecture
/// (the applet links are the host's busybox's: the same Debian package).
pub fn rootfs_tar_with(binary: &[u8]) -> Vec<u8> {
    let list = Command::new(BUSYBOX)
        .arg("--list-full")
        .output()
        .expect("busybox --list-full");
    let mut applets: Vec<String> = String::from_utf8_lossy(&list.stdout)
        .lines()
        .map(str::to_string)
        .filter(|l| !l.is_empty() && l != "bin/busybox")
        .collect();
    applets.sort();
    applets.dedup();
    let mut b = tar::Builder::new(Vec::new());
    let dir = |b: &mut tar::Builder<Vec<u8>>, path: &str, mode: u32| {
        let mut h = header(tar::EntryType::Directory, mode, 0);
        b.append_data(&mut h, path, std::io::empty()).expect("tar");
    };
    let file = |b: &mut tar::Builder<Vec<u8>>, path: &str, mode: u32, data: &[u8]| {
        let mut h = header(tar::EntryType::Regular, mode, data.len() as u64);
        b.append_data(&mut h, path, data).expect("tar");
    };
    for d in [
        "bin", "dev", "etc", "home", "home/app", "proc", "root", "sbin", "sys", "usr", "usr/bin",
        "usr/sbin", "var", "var/lib", "opt", "opt/data",
    ] {
        dir(&mut b, d, 0o755);
    }
    dir(&mut b, "tmp", 0o1777);
    file(&mut b, "bin/busybox", 0o755, binary);
    for a in &applets {
        let depth = a.matches('/').count();
        let target = format!("{}bin/busybox", "../".repeat(depth));
        let mut h = header(tar::EntryType::Symlink, 0o777, 0);
        b.append_link(&mut h, a, &target).expect("tar");
    }
    file(
        &mut b,
        "etc/passwd",
        0o644,
        b"root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
    );
    file(
        &mut b,
        "etc/group",
        0o644,
        b"root:x:0:\napp:x:1000:\nstaff:x:50:app\nnogroup:x:65534:\n",
    );
    file(&mut b, "etc/motd", 0o644, b"welcome\n");
    file(&mut b, "opt/data/keep.txt", 0o644, b"keep\n");
    file(&mut b, "opt/data/remove.txt", 0o644, b"remove me\n");
    file(&mut b, "opt/data/script.sh", 0o644, b"echo hi\n");
    b.into_inner().expect("tar")
}

/// Stores the busybox image as `tag` and returns its manifest descriptor.
pub fn store_busybox_image(store: &Store, tag: &str) -> Descriptor {
    store_rootfs_image(store, tag, rootfs_tar())
}

/// Stores a one-layer Linux image of the uncompressed root filesystem `tar` (say
/// [`rootfs_tar`] with entries added) as `tag`, configured as the busybox image.
pub fn store_rootfs_image(store: &Store, tag: &str, tar: Vec<u8>) -> Descriptor {
    store_rootfs_image_for(store, tag, tar, Platform::host())
}

/// Like [`store_rootfs_image`], for `platform` (say an arm64 busybox).
pub fn store_rootfs_image_for(
    store: &Store,
    tag: &str,
    tar: Vec<u8>,
    platform: Platform,
) -> Descriptor {
    let diff_id = Digest::of_bytes(&tar).to_string();
    let blob = gzip(&tar);
    let layer = store.put_bytes(&blob, None).expect("layer");
    let config = serde_json::json!({
        "architecture": platform.architecture, "os": "linux",
        "created": "2023-11-14T22:13:20Z",
        "config": {
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "Cmd": ["sh"]
        },
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": "2023-11-14T22:13:20Z", "created_by": "busybox-static rootfs"}],
    });
    let config_bytes = serde_json::to_vec(&config).expect("json");
    let c = store.put_bytes(&config_bytes, None).expect("config");
    let manifest = ImageManifest {
        schema_version: 2,
        media_type: Some(MEDIA_TYPE_OCI_MANIFEST.into()),
        artifact_type: None,
        config: Descriptor::new(MEDIA_TYPE_OCI_CONFIG, c.digest, c.size),
        layers: vec![Descriptor::new(GZIP_LAYER, layer.digest, layer.size)],
        subject: None,
        annotations: None,
    };
    let bytes = serde_json::to_vec(&manifest).expect("json");
    let m = store.put_bytes(&bytes, None).expect("manifest");
    let mut d = Descriptor::new(MEDIA_TYPE_OCI_MANIFEST, m.digest, m.size);
    d.platform = Some(Platform {
        os: "linux".into(),
        ..platform
    });
    store.tag(tag, &d).expect("tag");
    d
}

/// Debian's `busybox-static` for arm64: `apt-get download
/// busybox-static:arm64`, extracted with `dpkg-deb -x`, cached in the
/// temporary directory across test runs. Needs the arm64 architecture in
/// dpkg (`dpkg --add-architecture arm64 && apt-get update`, which
/// `scripts/test.sh` does).
pub fn arm64_binary() -> Vec<u8> {
    let cache = std::env::temp_dir().join("wharf-testkit-busybox-arm64");
    let bin = cache.join("bin/busybox");
    if let Ok(b) = std::fs::read(&bin) {
        return b;
    }
    let work = tempfile::tempdir().expect("a temporary directory");
    let out = Command::new("apt-get")
        .args(["download", "-qq", "busybox-static:arm64"])
        .current_dir(work.path())
        .output()
        .expect("apt-get runs");
    assert!(
        out.status.success(),
        "apt-get download busybox-static:arm64 failed (run `dpkg --add-architecture arm64 && apt-get update`, as scripts/test.sh does): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let deb = std::fs::read_dir(work.path())
        .expect("the download directory")
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "deb"))
        .expect("apt-get download wrote a .deb");
    let root = work.path().join("root");
    let status = Command::new("dpkg-deb")
        .arg("-x")
        .arg(&deb)
        .arg(&root)
        .status()
        .expect("dpkg-deb runs");
    assert!(status.success(), "dpkg-deb -x {}", deb.display());
    let binary = std::fs::read(root.join("bin/busybox")).expect("the package holds /bin/busybox");
    // Another test may fill the cache at the same time: write and rename.
    std::fs::create_dir_all(cache.join("bin")).expect("the cache directory");
    let part = cache.join(format!("bin/.busybox.{}", std::process::id()));
    std::fs::write(&part, &binary).expect("the cache file");
    std::fs::rename(&part, &bin).expect("the cache file");
    binary
}
