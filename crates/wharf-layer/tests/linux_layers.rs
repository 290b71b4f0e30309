//! Linux layers end to end: create from a directory, an overlayfs upper dir and
//! a change set; write as a compressed blob; apply onto a directory.
#![cfg(target_os = "linux")]

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::Path;
use wharf_layer::linux::apply::{apply_layer_file, ApplyOptions};
use wharf_layer::{Compression, LayerBlob, LayerBlobWriter, LinuxLayerOptions, LinuxLayerWriter};

fn build_tree(root: &Path) {
    fs::create_dir_all(root.join("usr/bin")).unwrap();
    fs::create_dir_all(root.join("etc")).unwrap();
    fs::write(root.join("usr/bin/tool"), b"#!/bin/sh\necho hi\n").unwrap();
    fs::set_permissions(
        root.join("usr/bin/tool"),
        fs::Permissions::from_mode(0o4755),
    )
    .unwrap();
    fs::write(root.join("etc/config"), vec![b'x'; 100_000]).unwrap();
    fs::hard_link(root.join("etc/config"), root.join("etc/config.link")).unwrap();
    symlink("../usr/bin/tool", root.join("etc/tool")).unwrap();
    symlink("/usr/bin/tool", root.join("etc/abs-tool")).unwrap();
    let long_dir = root.join("d".repeat(120));
    fs::create_dir_all(&long_dir).unwrap();
    fs::write(long_dir.join("f".repeat(130)), b"long").unwrap();
    fs::write(root.join("ünïcode"), b"u").unwrap();
    rustix::fs::setxattr(
        root.join("etc/config"),
        "user.wharf",
        b"v1",
        rustix::fs::XattrFlags::empty(),
    )
    .unwrap();
}

fn write_layer(
    dir: &Path,
    out: &Path,
    compression: Compression,
    opts: LinuxLayerOptions,
) -> LayerBlob {
    let blob = LayerBlobWriter::create(out, compression).unwrap();
    let mut w = LinuxLayerWriter::new(blob, opts);
    w.add_dir_tree(dir).unwrap();
    w.finish().unwrap().finish().unwrap()
}

/// type, mode, size, content digest or link target, for comparing trees.
fn describe(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        let mut names: Vec<_> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        for n in names {
            let p = dir.join(&n);
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            let md = fs::symlink_metadata(&p).unwrap();
            let desc = if md.is_dir() {
                walk(root, &p, out);
                format!("dir {:o}", md.mode() & 0o7777)
            } else if md.file_type().is_symlink() {
                format!("link {}", fs::read_link(&p).unwrap().display())
            } else {
                let data = fs::read(&p).unwrap();
                format!(
                    "file {:o} {} {}",
                    md.mode() & 0o7777,
                    data.len(),
                    wharf_oci::Digest::of_bytes(&data)
                )
            };
            out.insert(rel, desc);
        }
    }
    walk(root, root, &mut out);
    out
}

#[test]
fn directory_round_trips_through_gzip_layer() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    build_tree(&src);
    let blob = write_layer(
        &src,
        &tmp.path().join("l.tgz"),
        Compression::default(),
        LinuxLayerOptions::default(),
    );
    let dst = tmp.path().join("dst");
    fs::create_dir(&dst).unwrap();
    let report = apply_layer_file(&blob.path, &dst, &ApplyOptions::default()).unwrap();
    assert!(report.entries >= 10);
    assert_eq!(describe(&src), describe(&dst));
    let a = fs::metadata(dst.join("etc/config")).unwrap();
    let b = fs::metadata(dst.join("etc/config.link")).unwrap();
    assert_eq!(a.ino(), b.ino(), "hardlink must be restored as a link");
    let mut v = [0u8; 8];
    let n = rustix::fs::getxattr(dst.join("etc/config"), "user.wharf", &mut v[..]).unwrap();
    assert_eq!(&v[..n], b"v1");
}

#[test]
fn same_input_gives_same_digests_and_epoch_clamps_times() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    build_tree(&src);
    let opts = LinuxLayerOptions {
        source_date_epoch: Some(1_000_000),
        owner: Some((0, 0)),
        skip_xattrs: false,
    };
    let a = write_layer(
        &src,
        &tmp.path().join("a"),
        Compression::Gzip {
            level: 6,
            threads: 1,
        },
        opts.clone(),
    );
    // Touch a file: with the clamp its new mtime must not matter.
    let f = fs::File::options()
        .write(true)
        .open(src.join("etc/config"))
        .unwrap();
    f.set_modified(std::time::SystemTime::now()).unwrap();
    let b = write_layer(
        &src,
        &tmp.path().join("b"),
        Compression::Gzip {
            level: 6,
            threads: 2,
        },
        opts.clone(),
    );
    assert_eq!(a.digest, b.digest);
    assert_eq!(a.diff_id, b.diff_id);
    let unclamped = write_layer(
        &src,
        &tmp.path().join("c"),
        Compression::None,
        LinuxLayerOptions::default(),
    );
    assert_ne!(unclamped.diff_id, a.diff_id);
    // Every header time is at most the epoch.
    let mut ar = tar::Archive::new(fs::File::open(tmp.path().join("c")).unwrap());
    assert!(ar
        .entries()
        .unwrap()
        .any(|e| e.unwrap().header().mtime().unwrap() > 1_000_000));
    let mut gz = flate2::read::GzDecoder::new(fs::File::open(&a.path).unwrap());
    let mut raw = Vec::new();
    gz.read_to_end(&mut raw).unwrap();
    let mut ar = tar::Archive::new(&raw[..]);
    for e in ar.entries().unwrap() {
        assert!(e.unwrap().header().mtime().unwrap() <= 1_000_000);
    }
}

#[test]
fn long_names_use_pax_not_gnu() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    build_tree(&src);
    let blob = write_layer(
        &src,
        &tmp.path().join("l.tar"),
        Compression::None,
        LinuxLayerOptions::default(),
    );
    let mut ar = tar::Archive::new(fs::File::open(&blob.path).unwrap());
    let mut raw = ar.entries().unwrap().raw(true);
    let mut types = Vec::new();
    for e in raw.by_ref() {
        types.push(e.unwrap().header().entry_type());
    }
    assert!(types.contains(&tar::EntryType::XHeader));
    assert!(!types.contains(&tar::EntryType::GNULongName));
}

fn apply_all(layers: &[&Path], dst: &Path) {
    for l in layers {
        apply_layer_file(l, dst, &ApplyOptions::default()).unwrap();
    }
}

#[test]
fn whiteouts_and_opaque_directories_apply() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().join("base");
    fs::create_dir_all(base.join("keep")).unwrap();
    fs::create_dir_all(base.join("opq/sub")).unwrap();
    fs::write(base.join("opq/old"), b"old").unwrap();
    fs::write(base.join("gone"), b"gone").unwrap();
    fs::write(base.join("keep/f"), b"keep").unwrap();
    let l1 = write_layer(
        &base,
        &tmp.path().join("l1"),
        Compression::default(),
        LinuxLayerOptions::default(),
    );

    let l2path = tmp.path().join("l2");
    let blob = LayerBlobWriter::create(&l2path, Compression::default()).unwrap();
    let mut w = LinuxLayerWriter::new(blob, LinuxLayerOptions::default());
    w.add_whiteout("gone", 0).unwrap();
    w.append(
        wharf_layer::TarEntry::new("opq", wharf_layer::EntryKind::Dir),
        None,
    )
    .unwrap();
    // The new file sorts before the marker: the marker must not delete it.
    w.append(
        wharf_layer::TarEntry::new("opq/-new", wharf_layer::EntryKind::File { size: 3 }),
        Some(&mut &b"new"[..]),
    )
    .unwrap();
    w.add_opaque_marker("opq", 0).unwrap();
    let l2 = w.finish().unwrap().finish().unwrap();

    let dst = tmp.path().join("dst");
    fs::create_dir(&dst).unwrap();
    apply_all(&[&l1.path, &l2.path], &dst);
    assert!(!dst.join("gone").exists());
    assert!(dst.join("keep/f").exists());
    assert!(!dst.join("opq/old").exists());
    assert!(!dst.join("opq/sub").exists());
    assert_eq!(fs::read(dst.join("opq/-new")).unwrap(), b"new");
}

fn entry_names(blob: &Path) -> Vec<String> {
    let f = fs::File::open(blob).unwrap();
    let r = wharf_layer::decompress(f, u64::MAX, "test").unwrap();
    let mut ar = tar::Archive::new(r);
    ar.entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn overlay_upper_whiteouts_become_oci_whiteouts() {
    if !rustix::process::geteuid().is_root() {
        eprintln!("skipping: creating 0/0 character devices and trusted.* xattrs needs root");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let upper = tmp.path().join("upper");
    fs::create_dir_all(upper.join("etc")).unwrap();
    fs::create_dir_all(upper.join("var/cache")).unwrap();
    fs::write(upper.join("etc/new"), b"n").unwrap();
    rustix::fs::mknodat(
        rustix::fs::CWD,
        upper.join("etc/deleted"),
        rustix::fs::FileType::CharacterDevice,
        rustix::fs::Mode::empty(),
        rustix::fs::makedev(0, 0),
    )
    .unwrap();
    rustix::fs::setxattr(
        upper.join("var/cache"),
        "trusted.overlay.opaque",
        b"y",
        rustix::fs::XattrFlags::empty(),
    )
    .unwrap();
    let blob = LayerBlobWriter::create(tmp.path().join("l"), Compression::None).unwrap();
    let mut w = LinuxLayerWriter::new(blob, LinuxLayerOptions::default());
    w.add_overlay_upper(&upper).unwrap();
    let blob = w.finish().unwrap().finish().unwrap();
    let names = entry_names(&blob.path);
    assert_eq!(
        names,
        [
            "etc",
            "etc/.wh.deleted",
            "etc/new",
            "var",
            "var/cache",
            "var/cache/.wh..wh..opq"
        ]
    );
    // overlay's own xattr must not leak into the layer.
    let raw = fs::read(&blob.path).unwrap();
    assert!(!raw.windows(15).any(|w| w == b"trusted.overlay"));
}

#[test]
fn change_set_between_snapshots() {
    let tmp = tempfile::tempdir().unwrap();
    let lower = tmp.path().join("lower");
    build_tree(&lower);
    let upper = tmp.path().join("upper");
    let st = std::process::Command::new("cp")
        .arg("-a")
        .arg(&lower)
        .arg(&upper)
        .status()
        .unwrap();
    assert!(st.success());
    fs::write(upper.join("etc/added"), b"a").unwrap();
    fs::remove_file(upper.join("ünïcode")).unwrap();
    fs::write(upper.join("usr/bin/tool"), b"changed size").unwrap();
    let blob = LayerBlobWriter::create(tmp.path().join("l"), Compression::default()).unwrap();
    let mut w = LinuxLayerWriter::new(blob, LinuxLayerOptions::default());
    let summary = w.add_changes(&lower, &upper).unwrap();
    let blob = w.finish().unwrap().finish().unwrap();
    assert_eq!(summary.deleted, ["ünïcode"]);
    assert_eq!(summary.changed, ["etc/added", "usr/bin/tool"]);
    assert_eq!(
        entry_names(&blob.path),
        [
            "etc",
            "etc/added",
            "usr",
            "usr/bin",
            "usr/bin/tool",
            ".wh.ünïcode"
        ]
    );
    // lower + change layer == upper
    let dst = tmp.path().join("dst");
    fs::create_dir(&dst).unwrap();
    let base = write_layer(
        &lower,
        &tmp.path().join("base"),
        Compression::default(),
        LinuxLayerOptions::default(),
    );
    apply_all(&[&base.path, &blob.path], &dst);
    assert_eq!(describe(&upper), describe(&dst));
}

#[test]
fn ownership_is_mapped_for_rootless_builds() {
    use wharf_layer::{IdMapping, IdRange};
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("l.tar");
    let blob = LayerBlobWriter::create(&path, Compression::None).unwrap();
    let mut w = LinuxLayerWriter::new(blob, LinuxLayerOptions::default());
    let mut e = wharf_layer::TarEntry::new("f", wharf_layer::EntryKind::File { size: 1 });
    e.uid = 33;
    e.gid = 34;
    w.append(e, Some(&mut &b"x"[..])).unwrap();
    let mut l =
        wharf_layer::TarEntry::new("l", wharf_layer::EntryKind::Symlink { target: "f".into() });
    l.uid = 1;
    l.gid = 1;
    w.append(l, None).unwrap();
    w.finish().unwrap().finish().unwrap();
    let range = |host| {
        vec![IdRange {
            container: 0,
            host,
            size: 65536,
        }]
    };
    let opts = ApplyOptions {
        id_mapping: Some(IdMapping {
            uids: range(100_000),
            gids: range(200_000),
        }),
        ..Default::default()
    };
    let dst = tmp.path().join("dst");
    fs::create_dir(&dst).unwrap();
    if !rustix::process::geteuid().is_root() {
        eprintln!("skipping the chown half: mapping to other ids needs root or a user namespace");
        return;
    }
    apply_layer_file(&path, &dst, &opts).unwrap();
    let md = fs::metadata(dst.join("f")).unwrap();
    assert_eq!((md.uid(), md.gid()), (100_033, 200_034));
    let lmd = fs::symlink_metadata(dst.join("l")).unwrap();
    assert_eq!((lmd.uid(), lmd.gid()), (100_001, 200_001));
    let narrow = ApplyOptions {
        id_mapping: Some(IdMapping {
            uids: vec![IdRange {
                container: 0,
                host: 100_000,
                size: 10,
            }],
            gids: range(200_000),
        }),
        ..Default::default()
    };
    let dst2 = tmp.path().join("dst2");
    fs::create_dir(&dst2).unwrap();
    let err = apply_layer_file(&path, &dst2, &narrow).unwrap_err();
    assert!(err.to_string().contains("outside the id mapping"), "{err}");
}

#[test]
fn parents_a_layer_does_not_list_are_reported_as_implicit() {
    let d = tempfile::tempdir().unwrap();
    // tmp/a and srv/app/ (listed) with srv/app/x: tmp and srv are implied.
    let mut b = tar::Builder::new(Vec::new());
    let file = |name: &str| {
        let mut h = tar::Header::new_ustar();
        h.set_size(1);
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_cksum();
        (h, name.to_string())
    };
    let (mut h, n) = file("tmp/a");
    b.append_data(&mut h, n, &b"a"[..]).unwrap();
    let mut dir = tar::Header::new_ustar();
    dir.set_entry_type(tar::EntryType::Directory);
    dir.set_mode(0o750);
    dir.set_size(0);
    dir.set_uid(0);
    dir.set_gid(0);
    dir.set_mtime(0);
    dir.set_cksum();
    b.append_data(&mut dir, "srv/app/", &b""[..]).unwrap();
    let (mut h, n) = file("srv/app/x");
    b.append_data(&mut h, n, &b"x"[..]).unwrap();
    let blob = d.path().join("layer.tar");
    fs::write(&blob, b.into_inner().unwrap()).unwrap();
    let root = d.path().join("root");
    fs::create_dir(&root).unwrap();
    let report = apply_layer_file(&blob, &root, &ApplyOptions::default()).unwrap();
    let implicit: Vec<String> = report
        .implicit_dirs
        .iter()
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect();
    assert_eq!(implicit, ["srv", "tmp"]);
    assert_eq!(
        fs::metadata(root.join("srv/app")).unwrap().mode() & 0o777,
        0o750
    );
}
