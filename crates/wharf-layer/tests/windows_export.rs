//! Windows export folders → layer tars, on SYNTHETIC folders built to the
//! documented format by `windows_export_builder` (no Windows host is
//! available). Every produced tar goes through the independent checker.

mod common;
mod windows_export_builder;

use wharf_layer::{Error, ExportSummary};
use windows_export_builder::*;

// ---- decoding ------------------------------------------------------------

#[test]
fn decodes_a_typical_export_folder() {
    let f = Folder::new();
    let dir_sd = sd("O:SYG:SYD:P(A;OICI;FA;;;SY)");
    let file_sd = sd("O:BAG:BAD:(A;;FA;;;BA)");
    f.dir("app", 16, &[stream(SECURITY, 0, "", &dir_sd)]);
    f.file(
        "app/x.exe",
        32,
        &[
            stream(SECURITY, 0, "", &file_sd),
            stream(DATA, 0, "", b"MZ\x90\x00"),
            stream(ALTERNATE, 0, ":Zone.Identifier:$DATA", b"[ZoneTransfer]"),
            stream(ALTERNATE, 0, ":meta:$DATA", b""),
        ],
    );
    f.file(
        "app/empty.txt",
        32 | 1,
        &[stream(SECURITY, 0, "", &file_sd)],
    );
    f.file(
        "app/ea.bin",
        32,
        &[
            stream(
                EA,
                0,
                "",
                &ea_buffer(&[("$LXUID", &[1, 0, 0, 0]), ("USER.K", b"v")]),
            ),
            stream(DATA, 0, "", b"e"),
            stream(OBJECT_ID, 0, "", &[7; 64]),
            stream(LINK, 0, "", b"opaque"),
        ],
    );
    f.file(
        "app/cfg",
        32 | 1024,
        &[stream(
            REPARSE,
            0,
            "",
            &reparse_buffer(r"..\etc\cfg", r"..\etc\cfg", false, 1),
        )],
    );
    f.dir(
        "app/data",
        16 | 1024,
        &[stream(
            REPARSE,
            0,
            "",
            &reparse_buffer(r"C:\data", r"\??\C:\data", false, 0),
        )],
    );
    f.dir(
        "app/j",
        16 | 1024,
        &[stream(
            REPARSE,
            0,
            "",
            &reparse_buffer(r"C:\target", r"\??\C:\target", true, 0),
        )],
    );
    f.file(
        "app/abs",
        32 | 1024,
        &[stream(
            REPARSE,
            0,
            "",
            &reparse_buffer(
                r"C:\Windows\notepad.exe",
                r"\??\C:\Windows\notepad.exe",
                false,
                0,
            ),
        )],
    );
    f.dir(
        "app/reldir",
        16 | 1024,
        &[stream(
            REPARSE,
            0,
            "",
            &reparse_buffer(r"..\ünï", r"..\ünï", false, 1),
        )],
    );
    let a = f.file("app/a.dll", 32, &[stream(DATA, 0, "", b"shared")]);
    std::fs::hard_link(&a, f.path("app/b.dll")).unwrap();
    f.file("app/ünï €.txt", 32, &[stream(DATA, 0, "", "ü".as_bytes())]);
    f.dir("app/sub", 16, &[]);
    f.tombstones(&[
        r"\app\old.dll",
        r"\app\sub\gone",
        r"\Windows\Temp\x.log",
        r"\top",
    ]);
    f.hive("System_Delta", b"regf-system");
    f.hive("Software_Delta", b"");

    let (es, summary) = decode_checked(&f.root);
    let names: Vec<&str> = es.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "Hives",
            "Files",
            "Files/.wh.top",
            "Files/app",
            "Files/app/.wh.old.dll",
            "Files/app/a.dll",
            "Files/app/abs",
            "Files/app/b.dll",
            "Files/app/cfg",
            "Files/app/data",
            "Files/app/ea.bin",
            "Files/app/empty.txt",
            "Files/app/j",
            "Files/app/reldir",
            "Files/app/sub",
            "Files/app/sub/.wh.gone",
            "Files/app/x.exe",
            "Files/app/x.exe:Zone.Identifier",
            "Files/app/x.exe:meta",
            "Files/app/ünï €.txt",
            "Files/Windows",
            "Files/Windows/Temp",
            "Files/Windows/Temp/.wh.x.log",
            "Hives/Software_Delta",
            "Hives/System_Delta",
        ]
    );
    assert_eq!(
        summary,
        ExportSummary {
            files: 5,
            directories: 2,
            symlinks: 4,
            junctions: 1,
            hardlinks: 1,
            alternate_streams: 2,
            whiteouts: 4,
            hives: 2,
            data_bytes: 4 + 14 + 1 + 6 + 2 + 11,
            skipped_streams: 2,
        }
    );
    let app = find(&es, "Files/app");
    assert_eq!(app.ty, b'5');
    assert_eq!(app.pax["MSWINDOWS.rawsd"], b64(&dir_sd));
    assert_eq!(app.pax["MSWINDOWS.fileattr"], "16");
    assert_eq!(app.pax["LIBARCHIVE.creationtime"], "1600000000.000000000");
    let x = find(&es, "Files/app/x.exe");
    assert_eq!(x.data, b"MZ\x90\x00");
    assert_eq!(x.pax["MSWINDOWS.rawsd"], b64(&file_sd));
    let zone = find(&es, "Files/app/x.exe:Zone.Identifier");
    assert_eq!(
        (zone.ty, zone.data.as_slice()),
        (b'0', &b"[ZoneTransfer]"[..])
    );
    let empty = find(&es, "Files/app/empty.txt");
    assert_eq!(empty.pax["MSWINDOWS.fileattr"], "33");
    assert!(empty.data.is_empty());
    let ea = find(&es, "Files/app/ea.bin");
    assert_eq!(ea.pax["MSWINDOWS.xattr.$LXUID"], b64(&[1, 0, 0, 0]));
    assert_eq!(ea.pax["MSWINDOWS.xattr.USER.K"], b64(b"v"));
    assert_eq!(ea.data, b"e");
    let cfg = find(&es, "Files/app/cfg");
    assert_eq!((cfg.ty, cfg.link.as_str()), (b'2', r"..\etc\cfg"));
    assert_eq!(cfg.pax["MSWINDOWS.fileattr"], "1056");
    assert!(!cfg.pax.contains_key("MSWINDOWS.mountpoint"));
    let data = find(&es, "Files/app/data");
    assert_eq!((data.ty, data.link.as_str()), (b'2', r"C:\data"));
    assert_eq!(data.pax["MSWINDOWS.fileattr"], "1040");
    let abs = find(&es, "Files/app/abs");
    assert_eq!(
        (abs.ty, abs.link.as_str()),
        (b'2', r"C:\Windows\notepad.exe")
    );
    assert_eq!(abs.pax["MSWINDOWS.fileattr"], "1056");
    let reldir = find(&es, "Files/app/reldir");
    assert_eq!((reldir.ty, reldir.link.as_str()), (b'2', r"..\ünï"));
    assert_eq!(reldir.pax["MSWINDOWS.fileattr"], "1040");
    let j = find(&es, "Files/app/j");
    assert_eq!((j.ty, j.link.as_str()), (b'2', r"C:\target"));
    assert_eq!(j.pax["MSWINDOWS.mountpoint"], "1");
    let b = find(&es, "Files/app/b.dll");
    assert_eq!((b.ty, b.link.as_str()), (b'1', "Files/app/a.dll"));
    assert_eq!(find(&es, "Files/app/a.dll").data, b"shared");
    assert_eq!(find(&es, "Files/app/ünï €.txt").data, "ü".as_bytes());
    assert_eq!(find(&es, "Hives/System_Delta").data, b"regf-system");
    let wh = find(&es, "Files/app/sub/.wh.gone");
    assert_eq!((wh.ty, wh.data.len()), (b'0', 0));
}

#[test]
fn sparse_files_are_filled_with_zeros_between_blocks() {
    let f = Folder::new();
    f.file(
        "holes.bin",
        32 | 0x200,
        &[
            stream(DATA, 8, "", b""),
            sparse_block(4, b"ab"),
            sparse_block(10, b"cd"),
            sparse_block(16, b""),
        ],
    );
    f.file(
        "unterminated.bin",
        32,
        &[stream(DATA, 8, "", b""), sparse_block(2, b"z")],
    );
    let (es, _) = decode_checked(&f.root);
    assert_eq!(
        find(&es, "Files/holes.bin").data,
        b"\0\0\0\0ab\0\0\0\0cd\0\0\0\0"
    );
    assert_eq!(find(&es, "Files/unterminated.bin").data, b"\0\0z");
    for (name, blocks) in [
        (
            "overlap",
            vec![sparse_block(4, b"abcd"), sparse_block(6, b"x")],
        ),
        (
            "marker-not-last",
            vec![sparse_block(9, b""), sparse_block(10, b"x")],
        ),
    ] {
        let g = Folder::new();
        let mut s = vec![stream(DATA, 8, "", b"")];
        s.extend(blocks);
        g.file(name, 32, &s);
        let err = decode(&g.root).unwrap_err();
        assert!(
            matches!(&err, Error::HostileEntry { entry, .. } if entry.ends_with(name)),
            "{name}: {err}"
        );
    }
}

// ---- hostile folders -------------------------------------------------------

/// Asserts that decoding fails with a refusal naming `file` and mentioning `words`.
fn refused(f: &Folder, file: &str, words: &str) {
    let err = decode(&f.root).unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, Error::HostileEntry { .. }),
        "{file}: wrong error kind: {text}"
    );
    assert!(text.contains(file), "error does not name {file}: {text}");
    assert!(text.contains(words), "error lacks {words:?}: {text}");
}

#[test]
fn hostile_stream_sequences_are_refused_naming_the_file() {
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("short", vec![32, 0], "attribute word"),
        (
            "truncated-header",
            [&32u32.to_le_bytes()[..], &[1, 0, 0, 0, 0, 0]].concat(),
            "truncated stream header",
        ),
        (
            "past-end",
            [
                &32u32.to_le_bytes()[..],
                &stream(DATA, 0, "", b"abc")[..20],
                b"a",
            ]
            .concat(),
            "remain",
        ),
        (
            "huge-size",
            {
                let mut s = stream(DATA, 0, "", b"");
                s[8..16].copy_from_slice(&u64::MAX.to_le_bytes());
                [&32u32.to_le_bytes()[..], &s].concat()
            },
            "remain",
        ),
        (
            "unknown-id",
            [&32u32.to_le_bytes()[..], &stream(42, 0, "", b"x")].concat(),
            "unknown stream id 42",
        ),
        (
            "two-data",
            [
                &32u32.to_le_bytes()[..],
                &stream(DATA, 0, "", b"a"),
                &stream(DATA, 0, "", b"b"),
            ]
            .concat(),
            "more than one data stream",
        ),
        (
            "bad-ads-name",
            [
                &32u32.to_le_bytes()[..],
                &stream(ALTERNATE, 0, ":../../x:$DATA", b"a"),
            ]
            .concat(),
            "alternate stream name",
        ),
        (
            "bad-sd",
            [
                &32u32.to_le_bytes()[..],
                &stream(SECURITY, 0, "", &[1, 0, 0, 0]),
            ]
            .concat(),
            "security descriptor",
        ),
        (
            "bad-ea",
            [
                &32u32.to_le_bytes()[..],
                &stream(EA, 0, "", &[0, 0, 0, 0, 0, 9, 0, 0]),
            ]
            .concat(),
            "EA",
        ),
        (
            "dir-attr",
            [&16u32.to_le_bytes()[..], &stream(DATA, 0, "", b"a")].concat(),
            "attribute word says directory",
        ),
        (
            "link-and-data",
            [
                &(32u32 | 1024).to_le_bytes()[..],
                &stream(REPARSE, 0, "", &reparse_buffer("a", "a", false, 1)),
                &stream(DATA, 0, "", b"a"),
            ]
            .concat(),
            "reparse point cannot also hold file data",
        ),
    ];
    for (name, bytes, words) in cases {
        let f = Folder::new();
        std::fs::write(f.path(name), bytes).unwrap();
        refused(&f, name, words);
    }
}

#[test]
fn hostile_tombstones_are_refused() {
    for (lines, words) in [
        ("Version 1.0\r\n\\a\r\n".to_string(), "byte-order mark"),
        (String::new(), "empty file"),
        ("\u{feff}Version 1.0\r\n\\a\\..\\..\\etc\r\n".into(), "'..'"),
        ("\u{feff}Version 1.0\r\n\\C:\\Windows\r\n".into(), "C:"),
        ("\u{feff}Version 1.0\r\nrelative\r\n".into(), "start with"),
        (
            "\u{feff}Version 1.0\r\n\\a\0b\r\n".into(),
            "control character",
        ),
        ("\u{feff}Version 1.0\r\n\\a\\\\b\r\n".into(), "empty name"),
    ] {
        let f = Folder::new();
        std::fs::write(f.root.join("tombstones.txt"), &lines).unwrap();
        refused(&f, "tombstones.txt", words);
    }
    let f = Folder::new();
    std::fs::remove_file(f.root.join("tombstones.txt")).unwrap();
    assert!(
        matches!(decode(&f.root), Err(Error::Io { path, .. }) if path.ends_with("tombstones.txt"))
    );
}

#[test]
fn hostile_folder_shapes_are_refused() {
    // A directory without its .$wcidirs$ file.
    let f = Folder::new();
    std::fs::create_dir(f.path("naked")).unwrap();
    refused(&f, "naked.$wcidirs$", "missing");

    // Unknown top-level entries and UtilityVM.
    let f = Folder::new();
    std::fs::write(f.root.join("stray.txt"), b"").unwrap();
    refused(&f, "stray.txt", "unexpected entry");
    let f = Folder::new();
    std::fs::create_dir(f.root.join("UtilityVM")).unwrap();
    assert!(matches!(decode(&f.root), Err(Error::Unsupported(m)) if m.contains("UtilityVM")));

    // Reparse points other than symlinks and junctions.
    let f = Folder::new();
    let mut dedup = 0x8000_0013u32.to_le_bytes().to_vec();
    dedup.extend_from_slice(&[0; 16]);
    f.file("dedup.dll", 32 | 1024, &[stream(REPARSE, 0, "", &dedup)]);
    assert!(
        matches!(decode(&f.root), Err(Error::Unsupported(m)) if m.contains("dedup.dll") && m.contains("0x80000013"))
    );

    // A directory reparse point with children.
    let f = Folder::new();
    f.dir(
        "jd",
        16 | 1024,
        &[stream(
            REPARSE,
            0,
            "",
            &reparse_buffer(r"C:\t", r"\??\C:\t", true, 0),
        )],
    );
    f.file("jd/inside", 32, &[]);
    refused(&f, "jd", "cannot have children");

    // Hives with a subdirectory.
    let f = Folder::new();
    std::fs::create_dir(f.root.join("Hives/sub")).unwrap();
    refused(&f, "sub", "hive");

    // Names NTFS cannot hold are refused by the writer.
    let f = Folder::new();
    f.file("CON", 32, &[]);
    assert!(matches!(decode(&f.root), Err(Error::NtfsName { path, .. }) if path == "CON"));
}

#[cfg(unix)]
#[test]
fn links_and_odd_names_inside_the_folder_are_refused() {
    use std::os::unix::ffi::OsStrExt;
    let f = Folder::new();
    std::os::unix::fs::symlink("/etc/passwd", f.path("passwd")).unwrap();
    refused(&f, "passwd", "only files and directories");

    let f = Folder::new();
    let odd = std::ffi::OsStr::from_bytes(b"bad\xff");
    std::fs::write(f.root.join("Files").join(odd), b"").unwrap();
    refused(&f, "bad", "not valid Unicode");
}

/// Windows tells hard links apart by file id, which a caller supplies through
/// `FileIdentity`; here one that keys files by their name's stem.
struct ByStem;

impl wharf_layer::windows::export::FileIdentity for ByStem {
    fn link_key(
        &self,
        path: &std::path::Path,
        _meta: &std::fs::Metadata,
    ) -> std::io::Result<Option<(u64, u64)>> {
        let name = path.file_name().unwrap().to_string_lossy();
        match name.split('.').next() {
            Some("broken") => Err(std::io::Error::other("no file id")),
            Some("same") => Ok(Some((1, 1))),
            _ => Ok(None),
        }
    }
}

#[test]
fn a_caller_supplied_identity_finds_hard_links() {
    use wharf_layer::windows::export::export_folder_to_layer_with;
    use wharf_layer::{NoBase, WindowsLayerWriter};
    let f = Folder::new();
    f.file("same.1", 32, &[stream(DATA, 0, "", b"one")]);
    f.file("same.2", 32, &[stream(DATA, 0, "", b"one")]);
    f.file("other", 32, &[stream(DATA, 0, "", b"two")]);
    let mut w = WindowsLayerWriter::new(Vec::new(), &NoBase, opts()).unwrap();
    let summary = export_folder_to_layer_with(&f.root, &mut w, &ByStem).unwrap();
    let es = read_tar(&w.finish().unwrap());
    assert_eq!(summary.hardlinks, 1);
    let second = find(&es, "Files/same.2");
    assert_eq!((second.ty, second.link.as_str()), (b'1', "Files/same.1"));
    assert_eq!(find(&es, "Files/other").ty, b'0');

    let g = Folder::new();
    g.file("broken.bin", 32, &[]);
    let mut w = WindowsLayerWriter::new(Vec::new(), &NoBase, opts()).unwrap();
    let err = export_folder_to_layer_with(&g.root, &mut w, &ByStem).unwrap_err();
    assert!(matches!(err, Error::Io { path, .. } if path.ends_with("broken.bin")));
}

#[test]
fn the_recycle_bin_is_not_part_of_the_layer() {
    let f = Folder::new();
    f.dir("$Recycle.Bin", 16 | 2 | 4, &[]);
    f.dir("$Recycle.Bin/S-1-5-18", 16, &[]);
    f.file(
        "$Recycle.Bin/S-1-5-18/$Rx.txt",
        32,
        &[stream(DATA, 0, "", b"gone")],
    );
    f.dir("app", 16, &[]);
    f.dir("app/$Recycle.Bin", 16, &[]);
    let (es, summary) = decode_checked(&f.root);
    assert!(
        !es.iter().any(|e| e.name.starts_with("Files/$Recycle.Bin")),
        "{:?}",
        es.iter().map(|e| &e.name).collect::<Vec<_>>()
    );
    // Only the top-level one is skipped, as hcsshim does.
    find(&es, "Files/app/$Recycle.Bin");
    assert_eq!(summary.directories, 2);
    assert_eq!(summary.files, 0);
}

#[test]
fn sub_second_times_keep_windows_resolution() {
    let f = Folder::new();
    let p = f.file("t.txt", 32, &[stream(DATA, 0, "", b"t")]);
    let t = std::time::UNIX_EPOCH + std::time::Duration::new(1_600_000_000, 123_456_789);
    std::fs::File::options()
        .write(true)
        .open(&p)
        .unwrap()
        .set_modified(t)
        .unwrap();
    let (es, _) = decode_checked(&f.root);
    let e = find(&es, "Files/t.txt");
    // 100 ns steps, written as go-winio's layers carry them.
    assert_eq!(e.pax["mtime"], "1600000000.1234567");
    assert_eq!(e.pax["LIBARCHIVE.creationtime"], "1600000000.123456700");
    // Whole seconds need no record.
    assert!(!find(&es, "Files").pax.contains_key("mtime"));
}
