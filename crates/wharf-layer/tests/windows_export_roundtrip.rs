//! Windows layer tars → layer folders (what `HcsImportLayer` reads) and back:
//! round trips, and hostile layers that must not write outside the folder.
//! Every produced tar goes through the independent checker.

mod common;
mod windows_export_builder;

use common::{assert_valid_windows_layer, check_windows_layer};
use std::collections::BTreeMap;
use wharf_layer::windows::meta::Timestamp;
use wharf_layer::{layer_to_import_folder, Error, NoBase, WindowsLayerWriter};
use windows_export_builder::*;

/// A layer written by the writer with every kind of entry, creation time =
/// modification time with no fraction (what a folder on a non-Windows host
/// can carry).
fn rich_layer() -> Vec<u8> {
    use wharf_layer::windows::meta::WinMeta;
    let t = opts().timestamp;
    let mut w = WindowsLayerWriter::new(Vec::new(), &NoBase, opts()).unwrap();
    let mut dir = WinMeta::default_dir(t);
    dir.security_descriptor = sd("O:SYG:SYD:P(A;OICI;FA;;;SY)");
    dir.attributes = 16 | 2;
    w.add_whiteout("gone.txt").unwrap();
    w.add_dir("app", Some(dir.clone())).unwrap();
    w.add_whiteout("app/old.dll").unwrap();
    let mut file = WinMeta::default_file(t);
    file.extended_attributes = vec![("$KERNEL.PURGE.ESBCACHE".into(), vec![1, 2, 3])];
    w.add_file("app/a.dll", 6, Some(file.clone()), &mut &b"shared"[..])
        .unwrap();
    w.add_hardlink("app/b.dll", "app/a.dll", Some(file.clone()))
        .unwrap();
    w.add_symlink("app/cfg", r"..\etc\cfg", false, None)
        .unwrap();
    w.add_symlink("app/data", r"C:\data", true, None).unwrap();
    let mut junction = WinMeta::default_dir(t);
    junction.mountpoint = true;
    w.add_symlink("app/j", r"C:\target", true, Some(junction))
        .unwrap();
    w.add_dir("app/sub", None).unwrap();
    // A stream carries its owner's metadata, as the decoder gives it.
    let sub_meta = WinMeta::default_dir(t);
    w.add_alternate_stream("app/sub", "dirstream", 1, Some(sub_meta), &mut &b"d"[..])
        .unwrap();
    w.add_file("app/x.exe", 2, None, &mut &b"MZ"[..]).unwrap();
    w.add_alternate_stream("app/x.exe", "Zone.Identifier", 3, None, &mut &b"zzz"[..])
        .unwrap();
    w.add_file("app/ünï.txt", 0, None, &mut std::io::empty())
        .unwrap();
    w.add_hive("System_Delta", 4, None, &mut &b"regf"[..])
        .unwrap();
    w.finish().unwrap()
}

#[test]
fn layer_to_folder_to_layer_round_trips() {
    let original = rich_layer();
    let tmp = tempfile::tempdir().unwrap();
    let orig_path = tmp.path().join("orig.tar");
    std::fs::write(&orig_path, &original).unwrap();
    assert_valid_windows_layer(&orig_path);

    let folder = tmp.path().join("folder");
    let summary = layer_to_import_folder(&original[..], &folder).unwrap();
    assert_eq!(summary.removals, ["gone.txt", "app/old.dll"]);
    assert_eq!(
        summary.links,
        [("Files/app/b.dll".to_string(), "Files/app/a.dll".to_string())]
    );
    assert_eq!((summary.files, summary.directories), (3, 2));
    assert_eq!((summary.symlinks, summary.junctions), (2, 1));
    assert_eq!((summary.alternate_streams, summary.hives), (2, 1));

    // The folder has the documented layout.
    let tomb = std::fs::read(folder.join("tombstones.txt")).unwrap();
    assert_eq!(
        tomb,
        b"\xef\xbb\xbfVersion 1.0\r\n\\gone.txt\r\n\\app\\old.dll\r\n"
    );
    assert!(folder.join("Files/app").is_dir());
    assert!(folder.join("Files/app.$wcidirs$").is_file());
    assert!(folder.join("Files/app/data").is_dir());
    assert!(folder.join("Files/app/data.$wcidirs$").is_file());
    assert_eq!(
        std::fs::read(folder.join("Hives/System_Delta")).unwrap(),
        b"regf"
    );
    let x = std::fs::read(folder.join("Files/app/x.exe")).unwrap();
    assert_eq!(&x[..4], &32u32.to_le_bytes());
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let a = std::fs::metadata(folder.join("Files/app/a.dll")).unwrap();
        let b = std::fs::metadata(folder.join("Files/app/b.dll")).unwrap();
        assert_eq!((a.ino(), a.nlink()), (b.ino(), 2));
    }

    let (tar, _) = decode(&folder).unwrap();
    let back_path = tmp.path().join("back.tar");
    std::fs::write(&back_path, &tar).unwrap();
    assert_valid_windows_layer(&back_path);
    let key = |es: Vec<Seen>| -> BTreeMap<String, Seen> {
        es.into_iter().map(|e| (e.name.clone(), e)).collect()
    };
    let (before, after) = (key(read_tar(&original)), key(read_tar(&tar)));
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>()
    );
    for (name, b) in &before {
        assert_eq!(b, &after[name], "{name} changed in the round trip");
    }
}

#[test]
fn hostile_layers_never_write_outside_the_folder() {
    use wharf_layer::tarfmt::{EntryKind, TarEntry, TarWriter};
    use wharf_layer::windows::meta::WinMeta;
    let dir = |n: &str| {
        let mut e = TarEntry::new(n, EntryKind::Dir);
        e.pax = WinMeta::default_dir(Timestamp::default()).pax_records();
        e
    };
    let file = |n: &str| {
        let mut e = TarEntry::new(n, EntryKind::File { size: 1 });
        e.pax = WinMeta::default_file(Timestamp::default()).pax_records();
        e
    };
    let head = || vec![dir("Hives"), dir("Files")];
    let cases: Vec<(&str, Vec<TarEntry>, &str)> = vec![
        (
            "dotdot",
            [head(), vec![file("Files/../escape")]].concat(),
            "clean",
        ),
        (
            "absolute",
            [head(), vec![file("/tmp/escape")]].concat(),
            "relative",
        ),
        (
            "outside",
            [head(), vec![file("Other/x")]].concat(),
            "outside",
        ),
        (
            "orphan",
            [head(), vec![file("Files/a/b")]].concat(),
            "parent",
        ),
        (
            "link-out",
            [
                head(),
                vec![TarEntry::new(
                    "Files/l",
                    EntryKind::Hardlink {
                        target: "../../etc/passwd".into(),
                    },
                )],
            ]
            .concat(),
            "hardlink target",
        ),
        (
            "opaque",
            [head(), vec![file("Files/.wh..wh..opq")]].concat(),
            "opaque",
        ),
        (
            "lonely-stream",
            [head(), vec![dir("Files/d"), file("Files/x:s")]].concat(),
            "directly follow",
        ),
        (
            "case-dup",
            [head(), vec![file("Files/A"), file("Files/a")]].concat(),
            "case-insensitive",
        ),
        (
            "reserved",
            [head(), vec![dir("Files/x"), file("Files/x.$wcidirs$")]].concat(),
            "reserved",
        ),
        (
            "whiteout-in-bad-dir",
            [head(), vec![file("Files/a:b/.wh.c")]].concat(),
            "cannot be stored",
        ),
        (
            "device",
            [
                head(),
                vec![TarEntry::new(
                    "Files/dev",
                    EntryKind::CharDevice { major: 1, minor: 3 },
                )],
            ]
            .concat(),
            "no meaning",
        ),
    ];
    for (name, entries, words) in cases {
        let tmp = tempfile::tempdir().unwrap();
        let mut w = TarWriter::new(Vec::new());
        for e in &entries {
            match e.kind {
                EntryKind::File { .. } => w.append(e, Some(&mut &b"x"[..])).unwrap(),
                _ => w.append(e, None).unwrap(),
            }
        }
        let bytes = w.finish().unwrap();
        let folder = tmp.path().join("inner/folder");
        let err = layer_to_import_folder(&bytes[..], &folder).unwrap_err();
        let text = err.to_string();
        assert!(text.contains(words), "{name}: {text}");
        // Nothing was created next to the folder.
        let siblings: Vec<_> = std::fs::read_dir(tmp.path().join("inner"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(siblings, ["folder"], "{name}");
        assert!(!tmp.path().join("escape").exists(), "{name}");
    }
    // The folder must be new or empty.
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("x"), b"").unwrap();
    assert!(matches!(
        layer_to_import_folder(&rich_layer()[..], tmp.path()),
        Err(Error::Unsupported(m)) if m.contains("empty")
    ));
}

#[test]
fn checker_rejects_streams_not_after_their_file() {
    use wharf_layer::tarfmt::{EntryKind, TarEntry, TarWriter};
    use wharf_layer::windows::meta::WinMeta;
    let with_meta = |n: &str, kind: EntryKind, dir: bool| {
        let mut e = TarEntry::new(n, kind);
        e.pax = if dir {
            WinMeta::default_dir(Timestamp::default())
        } else {
            WinMeta::default_file(Timestamp::default())
        }
        .pax_records();
        e
    };
    let tmp = tempfile::tempdir().unwrap();
    let mut w = TarWriter::new(Vec::new());
    for e in [
        with_meta("Hives", EntryKind::Dir, true),
        with_meta("Files", EntryKind::Dir, true),
        with_meta("Files/a", EntryKind::File { size: 0 }, false),
        with_meta("Files/b", EntryKind::File { size: 0 }, false),
        with_meta("Files/a:s", EntryKind::File { size: 0 }, false),
    ] {
        w.append(&e, Some(&mut std::io::empty())).unwrap();
    }
    let p = tmp.path().join("bad.tar");
    std::fs::write(&p, w.finish().unwrap()).unwrap();
    let report = check_windows_layer(&p).unwrap_err();
    assert!(report.contains("directly after its file"), "{report}");
}

#[test]
fn writer_refuses_misplaced_streams_and_hives() {
    let mut w = WindowsLayerWriter::new(Vec::new(), &NoBase, opts()).unwrap();
    w.add_file("a", 1, None, &mut &b"a"[..]).unwrap();
    w.add_alternate_stream("a", "s1", 0, None, &mut std::io::empty())
        .unwrap();
    w.add_alternate_stream("A", "s2", 0, None, &mut std::io::empty())
        .unwrap_err();
    w.add_alternate_stream("a", "S1", 0, None, &mut std::io::empty())
        .unwrap_err();
    w.add_alternate_stream("a", "bad:name", 0, None, &mut std::io::empty())
        .unwrap_err();
    w.add_file("b", 0, None, &mut std::io::empty()).unwrap();
    assert!(matches!(
        w.add_alternate_stream("a", "late", 0, None, &mut std::io::empty()),
        Err(Error::WindowsLayer { reason, .. }) if reason.contains("directly follow")
    ));
    w.add_hive("System_Delta", 0, None, &mut std::io::empty())
        .unwrap();
    assert!(matches!(
        w.add_hive("system_delta", 0, None, &mut std::io::empty()),
        Err(Error::WindowsLayer { .. })
    ));
    assert!(matches!(
        w.add_hive("sub/x", 0, None, &mut std::io::empty()),
        Err(Error::WindowsLayer { .. })
    ));
    assert!(matches!(
        w.add_hive("NUL", 0, None, &mut std::io::empty()),
        Err(Error::NtfsName { .. })
    ));
}

#[test]
fn staging_folder_has_no_tombstones_or_links_and_takes_utility_vm() {
    use wharf_layer::layer_to_staging_folder;
    let tmp = tempfile::tempdir().unwrap();
    let folder = tmp.path().join("staging");
    let summary = layer_to_staging_folder(&rich_layer()[..], &folder).unwrap();
    assert!(!folder.join("tombstones.txt").exists());
    // The link is left for the caller, not made in the folder.
    assert!(!folder.join("Files/app/b.dll").exists());
    assert_eq!(
        summary.links,
        vec![("Files/app/b.dll".to_string(), "Files/app/a.dll".to_string())]
    );
    assert_eq!(summary.removals, vec!["gone.txt", "app/old.dll"]);

    let mut b = tar::Builder::new(Vec::new());
    for (name, kind) in [
        ("UtilityVM/", tar::EntryType::Directory),
        ("UtilityVM/Files/", tar::EntryType::Directory),
        ("UtilityVM/Files/x", tar::EntryType::Regular),
    ] {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(kind);
        h.set_size(0);
        h.set_path(name).unwrap();
        h.set_cksum();
        b.append(&h, &[][..]).unwrap();
    }
    let uvm = b.into_inner().unwrap();
    let staged = tmp.path().join("uvm");
    layer_to_staging_folder(&uvm[..], &staged).unwrap();
    assert!(staged.join("UtilityVM/Files/x").is_file());
    assert!(staged.join("UtilityVM/Files.$wcidirs$").is_file());
    // An export folder has no UtilityVM.
    assert!(layer_to_import_folder(&uvm[..], &tmp.path().join("export")).is_err());
}
