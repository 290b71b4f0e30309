//! Windows export folders → layer tars and back, on SYNTHETIC folders built
//! here to the documented format (no Windows host is available): the
//! attribute word and `WIN32_STREAM_ID` headers, reparse buffers and EA
//! records are encoded by this file's own builder, independently of the
//! crate's encoder. Every produced tar goes through the independent checker.

mod common;

use base64::Engine;
use common::{assert_valid_windows_layer, check_windows_layer};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use wharf_layer::windows::meta::Timestamp;
use wharf_layer::windows::sddl::sddl_to_binary;
use wharf_layer::{
    export_folder_to_layer, layer_to_import_folder, Error, ExportSummary, NoBase,
    WindowsLayerOptions, WindowsLayerWriter,
};

// ---- test-side builder of export folders --------------------------------

const DATA: u32 = 1;
const EA: u32 = 2;
const SECURITY: u32 = 3;
const ALTERNATE: u32 = 4;
const LINK: u32 = 5;
const OBJECT_ID: u32 = 7;
const REPARSE: u32 = 8;
const SPARSE_BLOCK: u32 = 9;

/// One `WIN32_STREAM_ID` header plus data, laid out by hand.
fn stream(id: u32, attributes: u32, name: &str, data: &[u8]) -> Vec<u8> {
    let name16: Vec<u8> = name.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let mut out = Vec::new();
    out.extend_from_slice(&id.to_le_bytes());
    out.extend_from_slice(&attributes.to_le_bytes());
    out.extend_from_slice(&(data.len() as u64).to_le_bytes());
    out.extend_from_slice(&(name16.len() as u32).to_le_bytes());
    out.extend_from_slice(&name16);
    out.extend_from_slice(data);
    out
}

fn sparse_block(offset: u64, data: &[u8]) -> Vec<u8> {
    let mut d = offset.to_le_bytes().to_vec();
    d.extend_from_slice(data);
    stream(SPARSE_BLOCK, 0, "", &d)
}

fn utf16z(s: &str) -> Vec<u8> {
    s.encode_utf16()
        .chain([0])
        .flat_map(u16::to_le_bytes)
        .collect()
}

/// A `REPARSE_DATA_BUFFER` for a symlink (`flags` 1 = relative) or junction.
fn reparse_buffer(print: &str, substitute: &str, junction: bool, flags: u32) -> Vec<u8> {
    let sub = utf16z(substitute);
    let pr = utf16z(print);
    let mut body = Vec::new();
    for v in [0, sub.len() - 2, sub.len(), pr.len() - 2] {
        body.extend_from_slice(&(v as u16).to_le_bytes());
    }
    if !junction {
        body.extend_from_slice(&flags.to_le_bytes());
    }
    body.extend_from_slice(&sub);
    body.extend_from_slice(&pr);
    let tag: u32 = if junction { 0xA000_0003 } else { 0xA000_000C };
    let mut out = tag.to_le_bytes().to_vec();
    out.extend_from_slice(&(body.len() as u16).to_le_bytes());
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&body);
    out
}

/// One `FILE_FULL_EA_INFORMATION` record list.
fn ea_buffer(eas: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, (name, value)) in eas.iter().enumerate() {
        let len = 8 + name.len() + 1 + value.len();
        let padded = (len + 3) & !3;
        let next = if i + 1 == eas.len() { 0 } else { padded as u32 };
        out.extend_from_slice(&next.to_le_bytes());
        out.push(0);
        out.push(name.len() as u8);
        out.extend_from_slice(&(value.len() as u16).to_le_bytes());
        out.extend_from_slice(name.as_bytes());
        out.push(0);
        out.extend_from_slice(value);
        if next != 0 {
            out.resize(out.len() + padded - len, 0);
        }
    }
    out
}

fn sd(sddl: &str) -> Vec<u8> {
    sddl_to_binary(sddl).unwrap()
}

struct Folder {
    _tmp: tempfile::TempDir,
    root: PathBuf,
}

impl Folder {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("export");
        std::fs::create_dir_all(root.join("Files")).unwrap();
        std::fs::create_dir_all(root.join("Hives")).unwrap();
        let f = Folder { _tmp: tmp, root };
        f.tombstones(&[]);
        f
    }

    fn tombstones(&self, lines: &[&str]) {
        let mut t = "\u{feff}Version 1.0\r\n".to_string();
        for l in lines {
            t.push_str(l);
            t.push_str("\r\n");
        }
        std::fs::write(self.root.join("tombstones.txt"), t).unwrap();
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.root.join("Files").join(rel)
    }

    /// `Files/<rel>`: attribute word then the given streams.
    fn file(&self, rel: &str, attr: u32, streams: &[Vec<u8>]) -> PathBuf {
        let mut b = attr.to_le_bytes().to_vec();
        for s in streams {
            b.extend_from_slice(s);
        }
        let p = self.path(rel);
        std::fs::write(&p, b).unwrap();
        set_mtime(&p, 1_600_000_000);
        p
    }

    /// `Files/<rel>/` and its `<rel>.$wcidirs$`.
    fn dir(&self, rel: &str, attr: u32, streams: &[Vec<u8>]) {
        std::fs::create_dir(self.path(rel)).unwrap();
        self.file(&format!("{rel}.$wcidirs$"), attr, streams);
    }

    fn hive(&self, name: &str, data: &[u8]) {
        let p = self.root.join("Hives").join(name);
        std::fs::write(&p, data).unwrap();
        set_mtime(&p, 1_600_000_000);
    }
}

fn set_mtime(p: &Path, secs: u64) {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs);
    std::fs::File::options()
        .write(true)
        .open(p)
        .unwrap()
        .set_modified(t)
        .unwrap();
}

fn opts() -> WindowsLayerOptions {
    WindowsLayerOptions {
        timestamp: Timestamp::from_secs(1_700_000_000),
        base_layer: false,
    }
}

fn decode(folder: &Path) -> wharf_layer::Result<(Vec<u8>, ExportSummary)> {
    let mut w = WindowsLayerWriter::new(Vec::new(), &NoBase, opts())?;
    let summary = export_folder_to_layer(folder, &mut w)?;
    Ok((w.finish()?, summary))
}

/// Decodes, writes the tar to disk and runs the independent checker on it.
fn decode_checked(folder: &Path) -> (Vec<Seen>, ExportSummary) {
    let (tar, summary) = decode(folder).unwrap();
    let path = folder.with_extension("tar");
    std::fs::write(&path, &tar).unwrap();
    assert_valid_windows_layer(&path);
    (read_tar(&tar), summary)
}

/// One entry: name, type byte, link name, PAX records, content.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Seen {
    name: String,
    ty: u8,
    link: String,
    pax: BTreeMap<String, String>,
    data: Vec<u8>,
}

fn read_tar(bytes: &[u8]) -> Vec<Seen> {
    let mut ar = tar::Archive::new(bytes);
    let mut out = Vec::new();
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let name = String::from_utf8(e.path_bytes().into_owned()).unwrap();
        let ty = e.header().entry_type().as_byte();
        let link = e
            .link_name_bytes()
            .map(|l| String::from_utf8(l.into_owned()).unwrap())
            .unwrap_or_default();
        let mut pax = BTreeMap::new();
        if let Some(x) = e.pax_extensions().unwrap() {
            for r in x {
                let r = r.unwrap();
                pax.insert(r.key().unwrap().to_string(), r.value().unwrap().to_string());
            }
        }
        let mut data = Vec::new();
        e.read_to_end(&mut data).unwrap();
        out.push(Seen {
            name,
            ty,
            link,
            pax,
            data,
        });
    }
    out
}

fn find<'a>(es: &'a [Seen], name: &str) -> &'a Seen {
    es.iter()
        .find(|e| e.name == name)
        .unwrap_or_else(|| panic!("no entry {name}"))
}

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

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
            "Files/app/b.dll",
            "Files/app/cfg",
            "Files/app/data",
            "Files/app/ea.bin",
            "Files/app/empty.txt",
            "Files/app/j",
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
            symlinks: 2,
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

// ---- encoding and round trips -----------------------------------------------

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
