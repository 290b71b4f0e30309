//! Base layer tar → the operations that write a base layer folder
//! (`plan_base_layer`): golden operation lists, the defaults of go-winio's
//! `FileInfoFromHeader`, stream bytes equal to the layer folder encoder's,
//! and refused layers.

use std::path::Path;
use wharf_layer::windows::export::base_layer::filetime;
use wharf_layer::windows::meta::{Timestamp, WinMeta};
use wharf_layer::{
    layer_to_staging_folder, BaseOp, BasicInfo, Error, NoBase, WindowsLayerOptions,
    WindowsLayerWriter,
};

const T: u64 = 1_700_000_000;

/// A tar built entry by entry, with optional PAX records.
struct RawTar(tar::Builder<Vec<u8>>);

impl RawTar {
    fn new() -> Self {
        RawTar(tar::Builder::new(Vec::new()))
    }

    fn add(
        &mut self,
        kind: tar::EntryType,
        name: &str,
        pax: &[(&str, &str)],
        link: Option<&str>,
        data: &[u8],
    ) -> &mut Self {
        if !pax.is_empty() {
            self.0
                .append_pax_extensions(pax.iter().map(|(k, v)| (*k, v.as_bytes())))
                .unwrap();
        }
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(kind);
        h.set_mtime(T);
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        h.set_path(name).unwrap();
        if let Some(link) = link {
            h.set_link_name(link).unwrap();
        }
        h.set_cksum();
        self.0.append(&h, data).unwrap();
        self
    }

    fn dir(&mut self, name: &str) -> &mut Self {
        self.add(tar::EntryType::Directory, name, &[], None, &[])
    }

    fn file(&mut self, name: &str, data: &[u8]) -> &mut Self {
        self.add(tar::EntryType::Regular, name, &[], None, data)
    }

    fn hardlink(&mut self, name: &str, target: &str) -> &mut Self {
        self.add(tar::EntryType::Link, name, &[], Some(target), &[])
    }

    fn finish(&mut self) -> Vec<u8> {
        let b = std::mem::replace(&mut self.0, tar::Builder::new(Vec::new()));
        b.into_inner().unwrap()
    }
}

fn info(attributes: u32, creation: Timestamp) -> BasicInfo {
    BasicInfo {
        creation_time: filetime(creation),
        last_access_time: 0,
        last_write_time: filetime(Timestamp::from_secs(T)),
        change_time: 0,
        attributes,
    }
}

fn create(path: &str, directory: bool, attributes: u32) -> BaseOp {
    BaseOp::Create {
        path: path.into(),
        directory,
        info: info(attributes, Timestamp::from_secs(T)),
    }
}

fn dir_info(path: &str) -> BaseOp {
    BaseOp::DirectoryInfo {
        path: path.into(),
        info: info(16, Timestamp::from_secs(T)),
    }
}

/// The backup stream of a file's data alone.
fn data_stream(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&1u32.to_le_bytes()); // BACKUP_DATA
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&(data.len() as u64).to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(data);
    out
}

#[test]
fn golden_operation_list_without_pax_records() {
    let tar = RawTar::new()
        .dir("Files")
        .dir("Files/Windows")
        .file("Files/Windows/a.dll", b"MZ")
        .hardlink("Files/Windows/b.dll", "Files/Windows/a.dll")
        .dir("Hives")
        .file("Hives/SYSTEM", b"regf")
        .finish();
    let (ops, plan) = BaseOp::record(&tar[..]).unwrap();
    let expected = vec![
        // hcsshim's defaults: 16 for a directory, 0 for anything else; no
        // security descriptor stream when the entry has none.
        create("Files", true, 16),
        BaseOp::EndFile,
        create("Files/Windows", true, 16),
        BaseOp::EndFile,
        create("Files/Windows/a.dll", false, 0),
        BaseOp::Streams(data_stream(b"MZ")),
        BaseOp::EndFile,
        BaseOp::Link {
            path: "Files/Windows/b.dll".into(),
            target: "Files/Windows/a.dll".into(),
        },
        create("Hives", true, 16),
        BaseOp::EndFile,
        create("Hives/SYSTEM", false, 0),
        BaseOp::Streams(data_stream(b"regf")),
        BaseOp::EndFile,
        // Directory times last, children before parents.
        dir_info("Hives"),
        dir_info("Files/Windows"),
        dir_info("Files"),
    ];
    assert_eq!(ops, expected);
    assert_eq!(plan.entries, 5);
    assert_eq!(plan.links, 1);
    assert!(!plan.has_utility_vm);
}

#[test]
fn creation_time_falls_back_to_mtime_and_pax_wins() {
    let tar = RawTar::new()
        .dir("Files")
        .add(
            tar::EntryType::Regular,
            "Files/x",
            &[
                ("LIBARCHIVE.creationtime", "1600000000.5"),
                ("MSWINDOWS.fileattr", "33"),
                ("mtime", "1700000000.25"),
            ],
            None,
            b"",
        )
        .file("Files/y", b"")
        .finish();
    let (ops, _) = BaseOp::record(&tar[..]).unwrap();
    let creates: Vec<&BaseOp> = ops
        .iter()
        .filter(|o| matches!(o, BaseOp::Create { .. }))
        .collect();
    let BaseOp::Create { info: x, .. } = creates[1] else {
        unreachable!()
    };
    assert_eq!(x.attributes, 33);
    assert_eq!(
        x.creation_time,
        filetime(Timestamp::parse_pax("1600000000.5").unwrap())
    );
    assert_eq!(
        x.last_write_time,
        filetime(Timestamp::parse_pax("1700000000.25").unwrap())
    );
    let BaseOp::Create { info: y, .. } = creates[2] else {
        unreachable!()
    };
    assert_eq!(y.creation_time, y.last_write_time);
    assert_eq!(y.creation_time, filetime(Timestamp::from_secs(T)));
    // 100 ns units since 1601: 1970 is 116444736000000000.
    assert_eq!(filetime(Timestamp::from_secs(0)), 116_444_736_000_000_000);
    assert_eq!(
        filetime(Timestamp {
            secs: 0,
            nanos: 250
        }),
        116_444_736_000_000_002
    );
}

/// A layer with every kind of entry but whiteouts, written by Wharf's own
/// Windows layer writer.
fn rich_base() -> Vec<u8> {
    let t = Timestamp::from_secs(T);
    let options = WindowsLayerOptions {
        timestamp: t,
        base_layer: true,
    };
    let mut w = WindowsLayerWriter::new(Vec::new(), &NoBase, options).unwrap();
    let mut file = WinMeta::default_file(t);
    file.extended_attributes = vec![("$KERNEL.PURGE.ESBCACHE".into(), vec![1, 2, 3])];
    w.add_dir("Windows", None).unwrap();
    w.add_file("Windows/a.dll", 6, Some(file.clone()), &mut &b"shared"[..])
        .unwrap();
    w.add_hardlink("Windows/b.dll", "Windows/a.dll", Some(file))
        .unwrap();
    w.add_symlink("Windows/cfg", r"..\etc\cfg", false, None)
        .unwrap();
    let mut junction = WinMeta::default_dir(t);
    junction.mountpoint = true;
    w.add_symlink("Documents and Settings", r"C:\Users", true, Some(junction))
        .unwrap();
    w.add_file("Windows/x.exe", 2, None, &mut &b"MZ"[..])
        .unwrap();
    w.add_alternate_stream(
        "Windows/x.exe",
        "Zone.Identifier",
        3,
        None,
        &mut &b"zzz"[..],
    )
    .unwrap();
    w.add_hive("SYSTEM", 4, None, &mut &b"regf"[..]).unwrap();
    w.finish().unwrap()
}

#[test]
fn stream_bytes_equal_the_layer_folder_encoder() {
    let tar = rich_base();
    let (ops, plan) = BaseOp::record(&tar[..]).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let folder = tmp.path().join("staging");
    layer_to_staging_folder(&tar[..], &folder).unwrap();
    let mut current: Option<String> = None;
    let mut compared = 0;
    for op in &ops {
        match op {
            BaseOp::Create { path, .. } => current = Some(path.clone()),
            BaseOp::Streams(bytes) => {
                let path = current.clone().unwrap();
                if path.starts_with("Hives/") {
                    // The folder holds hives as plain files; the base
                    // writer writes them like any entry: their security
                    // descriptor, then their data as a backup stream.
                    let plain = std::fs::read(folder.join(&path)).unwrap();
                    assert!(bytes.ends_with(&data_stream(&plain)), "{path}");
                    assert_eq!(bytes[..4], 3u32.to_le_bytes(), "{path}");
                } else {
                    let folder_file = folder_file(&folder, &path, &ops);
                    let encoded = std::fs::read(&folder_file).unwrap();
                    assert_eq!(bytes[..], encoded[4..], "{path}");
                }
                compared += 1;
            }
            _ => {}
        }
    }
    // Files, Windows, a.dll, cfg, the junction, x.exe (+ stream), Hives, SYSTEM.
    assert_eq!(compared, 8);
    assert_eq!(plan.links, 1);
    assert!(ops.contains(&BaseOp::Link {
        path: "Files/Windows/b.dll".into(),
        target: "Files/Windows/a.dll".into(),
    }));
}

/// The encoder's file for `path`: the file itself, or `<dir>.$wcidirs$`.
fn folder_file(folder: &Path, path: &str, ops: &[BaseOp]) -> std::path::PathBuf {
    let directory = ops
        .iter()
        .any(|o| matches!(o, BaseOp::Create { path: p, directory: true, .. } if p == path));
    if directory {
        folder.join(format!("{path}.$wcidirs$"))
    } else {
        folder.join(path)
    }
}

#[test]
fn utility_vm_is_reported_and_links_stay_in_files() {
    let tar = RawTar::new()
        .dir("Files")
        .file("Files/a", b"1")
        .dir("UtilityVM")
        .dir("UtilityVM/Files")
        .file("UtilityVM/Files/b", b"2")
        .hardlink("UtilityVM/Files/c", "Files/a")
        .hardlink("Files/d", "UtilityVM/Files/b")
        .finish();
    let (_, plan) = BaseOp::record(&tar[..]).unwrap();
    assert!(plan.has_utility_vm);
    assert_eq!(plan.links, 2);

    let refused = |tar: Vec<u8>, why: &str| {
        let err = BaseOp::record(&tar[..]).unwrap_err();
        assert!(matches!(&err, Error::HostileEntry { .. }), "{why}: {err}");
        err.to_string()
    };
    // Forwards: the target comes later.
    let text = refused(
        RawTar::new()
            .dir("Files")
            .hardlink("Files/b", "Files/a")
            .file("Files/a", b"1")
            .finish(),
        "forward link",
    );
    assert!(text.contains("not written earlier"), "{text}");
    // A link into Hives, and a link living in Hives.
    refused(
        RawTar::new()
            .dir("Files")
            .dir("Hives")
            .file("Hives/h", b"1")
            .hardlink("Files/b", "Hives/h")
            .finish(),
        "link to Hives",
    );
    refused(
        RawTar::new()
            .dir("Files")
            .file("Files/a", b"1")
            .dir("Hives")
            .hardlink("Hives/b", "Files/a")
            .finish(),
        "link in Hives",
    );
    // UtilityVM outside its Files.
    refused(
        RawTar::new()
            .dir("Files")
            .file("Files/a", b"1")
            .dir("UtilityVM")
            .hardlink("UtilityVM/x", "Files/a")
            .finish(),
        "link in UtilityVM",
    );
    // To a directory, and escaping.
    refused(
        RawTar::new()
            .dir("Files")
            .dir("Files/d")
            .hardlink("Files/x", "Files/d")
            .finish(),
        "link to a directory",
    );
    refused(
        RawTar::new()
            .dir("Files")
            .hardlink("Files/x", "../etc/passwd")
            .finish(),
        "link out",
    );
}

#[test]
fn whiteouts_and_hostile_names_are_refused() {
    let whiteout = RawTar::new()
        .dir("Files")
        .file("Files/.wh.gone", b"")
        .finish();
    let text = BaseOp::record(&whiteout[..]).unwrap_err().to_string();
    assert!(text.contains("whiteouts are refused"), "{text}");

    for name in [
        "/Files/x",
        "Files/../x",
        "Files/./x",
        "Other/x",
        "x",
        "Files//x",
        "Files\\x",
    ] {
        let mut raw = RawTar::new();
        raw.dir("Files");
        // Written with a raw header so that the tar crate does not clean it.
        let mut h = tar::Header::new_old();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_size(0);
        h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        h.set_cksum();
        raw.0.append(&h, &[][..]).unwrap();
        let tar = raw.finish();
        let err = BaseOp::record(&tar[..]).unwrap_err();
        assert!(matches!(err, Error::HostileEntry { .. }), "{name}: {err}");
    }

    // A parent not declared, a parent that is a file, a path through a
    // junction this layer created, case duplicates.
    for (tar, why) in [
        (
            RawTar::new().file("Files/a", b"").finish(),
            "undeclared parent",
        ),
        (
            RawTar::new()
                .dir("Files")
                .file("Files/a", b"")
                .file("Files/a/b", b"")
                .finish(),
            "file parent",
        ),
        (
            RawTar::new()
                .dir("Files")
                .add(
                    tar::EntryType::Symlink,
                    "Files/j",
                    &[
                        ("MSWINDOWS.fileattr", "1040"),
                        ("MSWINDOWS.mountpoint", "1"),
                    ],
                    Some("C:\\Windows"),
                    b"",
                )
                .file("Files/j/evil.dll", b"")
                .finish(),
            "through a junction",
        ),
        (
            RawTar::new()
                .dir("Files")
                .file("Files/A", b"")
                .file("Files/a", b"")
                .finish(),
            "case duplicate",
        ),
    ] {
        let err = BaseOp::record(&tar[..]).unwrap_err();
        assert!(matches!(err, Error::HostileEntry { .. }), "{why}: {err}");
    }
}
