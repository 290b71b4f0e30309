//! Windows layer writer: every rule of docs/windows-layer-format.md, checked by the tar crate
//! here and by the independent Python checker.

mod common;

use common::{assert_valid_windows_layer, check_windows_layer, entries, Seen};
use std::collections::HashMap;
use std::path::Path;
use wharf_layer::tarfmt::{EntryKind, TarEntry, TarWriter};
use wharf_layer::windows::meta::{Timestamp, WinMeta};
use wharf_layer::windows::sddl::{sddl_to_binary, with_owner, CONTAINER_USER_SID};
use wharf_layer::{
    Compression, Error, LayerBlobWriter, NoBase, WindowsBase, WindowsLayerOptions,
    WindowsLayerWriter,
};

/// A base with `Windows` and `Windows/System32` (custom metadata) and a few files.
struct FakeBase {
    dirs: HashMap<String, WinMeta>,
    children: HashMap<String, Vec<String>>,
}

fn fake_base() -> FakeBase {
    let mut meta = WinMeta::default_dir(Timestamp {
        secs: 42,
        nanos: 5_000_000,
    });
    meta.security_descriptor = sddl_to_binary("O:SYG:SYD:P(A;OICI;FA;;;SY)").unwrap();
    meta.attributes = 16 | 4; // directory + system
    let mut dirs = HashMap::new();
    dirs.insert("windows".to_string(), meta.clone());
    dirs.insert("windows/system32".to_string(), meta);
    let mut children = HashMap::new();
    children.insert(
        "app".to_string(),
        vec!["old.dll".to_string(), "cache".to_string()],
    );
    FakeBase { dirs, children }
}

impl WindowsBase for FakeBase {
    fn dir_meta(&self, path: &str) -> Option<WinMeta> {
        self.dirs.get(&path.to_lowercase()).cloned()
    }
    fn children(&self, path: &str) -> Vec<String> {
        self.children
            .get(&path.to_lowercase())
            .cloned()
            .unwrap_or_default()
    }
}

fn opts() -> WindowsLayerOptions {
    WindowsLayerOptions {
        timestamp: Timestamp {
            secs: 1_700_000_000,
            nanos: 5_000_000,
        },
        base_layer: false,
    }
}

fn pax<'a>(e: &'a Seen, key: &str) -> Option<&'a str> {
    e.3.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

#[test]
fn writer_follows_every_rule() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("win.tgz");
    let base = fake_base();
    let blob = LayerBlobWriter::create(&path, Compression::default()).unwrap();
    let mut w = WindowsLayerWriter::new(blob, &base, opts()).unwrap();
    w.add_file(
        "Windows/System32/drivers/etc/hosts.local",
        3,
        None,
        &mut &b"abc"[..],
    )
    .unwrap();
    w.add_file("app/x.exe", 2, None, &mut &b"MZ"[..]).unwrap();
    w.add_hardlink("app/y.exe", "APP/X.EXE", None).unwrap();
    w.add_symlink("app/cfg", "../etc/cfg", false, None).unwrap();
    w.add_symlink("app/data", "C:/data", true, None).unwrap();
    w.add_opaque_dir("app").unwrap();
    w.add_whiteout("tmp/gone.txt").unwrap();
    let chowned = with_owner(
        &sddl_to_binary(wharf_layer::windows::meta::DEFAULT_FILE_SDDL).unwrap(),
        CONTAINER_USER_SID,
    )
    .unwrap();
    let mut m = WinMeta::default_file(Timestamp::from_secs(7));
    m.security_descriptor = chowned.clone();
    w.add_file("app/owned.txt", 0, Some(m), &mut std::io::empty())
        .unwrap();
    let blob = w.finish().unwrap().finish().unwrap();
    assert_valid_windows_layer(&blob.path);

    let es = entries(&blob.path);
    let names: Vec<&str> = es.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(
        names,
        [
            "Hives",
            "Files",
            "Files/Windows",
            "Files/Windows/System32",
            "Files/Windows/System32/drivers",
            "Files/Windows/System32/drivers/etc",
            "Files/Windows/System32/drivers/etc/hosts.local",
            "Files/app",
            "Files/app/x.exe",
            "Files/app/y.exe",
            "Files/app/cfg",
            "Files/app/data",
            "Files/app/.wh.old.dll",
            "Files/app/.wh.cache",
            "Files/tmp",
            "Files/tmp/.wh.gone.txt",
            "Files/app/owned.txt",
        ]
    );
    let by_name: HashMap<&str, &Seen> = es.iter().map(|e| (e.0.as_str(), e)).collect();
    // Ancestors the base has reuse its metadata; others get defaults.
    let base_sd = base64_of(&base.dirs["windows"].security_descriptor);
    assert_eq!(
        pax(by_name["Files/Windows"], "MSWINDOWS.rawsd"),
        Some(base_sd.as_str())
    );
    assert_eq!(
        pax(by_name["Files/Windows"], "MSWINDOWS.fileattr"),
        Some("20")
    );
    assert_eq!(
        pax(by_name["Files/Windows"], "LIBARCHIVE.creationtime"),
        Some("42.005000000")
    );
    assert_eq!(
        pax(
            by_name["Files/Windows/System32/drivers"],
            "MSWINDOWS.fileattr"
        ),
        Some("16")
    );
    assert_eq!(
        pax(by_name["Files/app/x.exe"], "LIBARCHIVE.creationtime"),
        Some("1700000000.005000000")
    );
    assert_eq!(
        pax(by_name["Files/app/x.exe"], "MSWINDOWS.fileattr"),
        Some("32")
    );
    // Links.
    assert_eq!(by_name["Files/app/y.exe"].1, b'1');
    assert_eq!(by_name["Files/app/y.exe"].2, "Files/app/x.exe");
    assert_eq!(by_name["Files/app/cfg"].2, "..\\etc\\cfg");
    assert_eq!(
        pax(by_name["Files/app/cfg"], "MSWINDOWS.fileattr"),
        Some("1056")
    );
    assert_eq!(by_name["Files/app/data"].2, "C:\\data");
    assert_eq!(
        pax(by_name["Files/app/data"], "MSWINDOWS.fileattr"),
        Some("1040")
    );
    assert_eq!(
        pax(by_name["Files/app/owned.txt"], "MSWINDOWS.rawsd"),
        Some(base64_of(&chowned).as_str())
    );
}

fn base64_of(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(b)
}

#[test]
fn writer_refuses_rule_breaking_requests() {
    let mut w = WindowsLayerWriter::new(Vec::new(), &NoBase, opts()).unwrap();
    w.add_file("a/b.txt", 0, None, &mut std::io::empty())
        .unwrap();
    assert!(matches!(
        w.add_file("A/B.TXT", 0, None, &mut std::io::empty()),
        Err(Error::WindowsLayer { .. })
    ));
    assert!(matches!(
        w.add_file("a/c:d", 0, None, &mut std::io::empty()),
        Err(Error::NtfsName { .. })
    ));
    assert!(matches!(
        w.add_file("a/../x", 0, None, &mut std::io::empty()),
        Err(Error::WindowsLayer { .. })
    ));
    assert!(matches!(
        w.add_file("/abs", 0, None, &mut std::io::empty()),
        Err(Error::WindowsLayer { .. })
    ));
    assert!(matches!(
        w.add_hardlink("h", "missing", None),
        Err(Error::WindowsLayer { .. })
    ));
    assert!(matches!(
        w.add_file("a/b.txt/child", 0, None, &mut std::io::empty()),
        Err(Error::WindowsLayer { .. })
    ));
    let mut base = WindowsLayerWriter::new(
        Vec::new(),
        &NoBase,
        WindowsLayerOptions {
            base_layer: true,
            ..opts()
        },
    )
    .unwrap();
    assert!(matches!(
        base.add_whiteout("x"),
        Err(Error::WindowsLayer { .. })
    ));
}

fn bad_layer(dir: &Path, name: &str, entries: &[TarEntry]) -> std::path::PathBuf {
    let mut w = TarWriter::new(Vec::new());
    for e in entries {
        match e.kind {
            EntryKind::File { size } => w
                .append(e, Some(&mut &vec![0u8; size as usize][..]))
                .unwrap(),
            _ => w.append(e, None).unwrap(),
        }
    }
    let p = dir.join(name);
    std::fs::write(&p, w.finish().unwrap()).unwrap();
    p
}

fn win_entry(name: &str, kind: EntryKind, creation: &str) -> TarEntry {
    let mut e = TarEntry::new(name, kind.clone());
    let dir = matches!(kind, EntryKind::Dir);
    let meta = if dir {
        WinMeta::default_dir(Timestamp::default())
    } else {
        WinMeta::default_file(Timestamp::default())
    };
    e.pax = meta.pax_records();
    e.pax.retain(|(k, _)| k != "LIBARCHIVE.creationtime");
    e.pax.push((
        "LIBARCHIVE.creationtime".into(),
        creation.as_bytes().to_vec(),
    ));
    e
}

#[test]
fn independent_checker_catches_each_violation() {
    let tmp = tempfile::tempdir().unwrap();
    let ok = "1.000000000";
    let hives = win_entry("Hives", EntryKind::Dir, ok);
    let files = win_entry("Files", EntryKind::Dir, ok);
    let cases: Vec<(&str, Vec<TarEntry>, &str)> = vec![
        (
            "no-hives",
            vec![files.clone(), win_entry("Files/a", EntryKind::Dir, ok)],
            "first two entries",
        ),
        (
            "unpadded",
            vec![
                hives.clone(),
                files.clone(),
                win_entry("Files/a", EntryKind::File { size: 1 }, "1.5"),
            ],
            "creationtime",
        ),
        (
            "orphan",
            vec![
                hives.clone(),
                files.clone(),
                win_entry("Files/a/b", EntryKind::File { size: 1 }, ok),
            ],
            "not declared",
        ),
        (
            "opaque",
            vec![
                hives.clone(),
                files.clone(),
                win_entry("Files/.wh..wh..opq", EntryKind::File { size: 0 }, ok),
            ],
            "opaque",
        ),
        (
            "bad-hardlink",
            vec![
                hives.clone(),
                files.clone(),
                win_entry("Files/a", EntryKind::File { size: 1 }, ok),
                win_entry("Files/b", EntryKind::Hardlink { target: "a".into() }, ok),
            ],
            "Files/ prefix",
        ),
        (
            "slash-symlink",
            vec![
                hives.clone(),
                files.clone(),
                win_entry(
                    "Files/l",
                    EntryKind::Symlink {
                        target: "../x".into(),
                    },
                    ok,
                ),
            ],
            "Windows path",
        ),
        (
            "ntfs-name",
            vec![
                hives.clone(),
                files.clone(),
                win_entry("Files/a:b", EntryKind::File { size: 0 }, ok),
            ],
            "NTFS",
        ),
        (
            "no-sd",
            vec![
                hives.clone(),
                files.clone(),
                TarEntry::new("Files/x", EntryKind::File { size: 0 }),
            ],
            "rawsd",
        ),
        (
            "dup",
            vec![
                hives.clone(),
                files.clone(),
                win_entry("Files/a", EntryKind::File { size: 0 }, ok),
                win_entry("Files/A", EntryKind::File { size: 0 }, ok),
            ],
            "duplicate",
        ),
    ];
    for (name, es, expect) in cases {
        let p = bad_layer(tmp.path(), name, &es);
        let report = check_windows_layer(&p).expect_err(name);
        assert!(report.contains(expect), "{name}: checker said:\n{report}");
    }
}

#[test]
fn paths_keep_the_spelling_the_layer_or_the_base_gave_them() {
    struct Base;
    impl WindowsBase for Base {
        fn dir_meta(&self, _: &str) -> Option<WinMeta> {
            None
        }
        fn children(&self, _: &str) -> Vec<String> {
            Vec::new()
        }
        fn spelling(&self, path: &str) -> Option<String> {
            match path.to_ascii_lowercase().as_str() {
                "windows" => Some("Windows".into()),
                "windows/system32" => Some("Windows/System32".into()),
                _ => None,
            }
        }
    }
    let mut w = WindowsLayerWriter::new(Vec::new(), &Base, opts()).unwrap();
    w.add_dir("app", None).unwrap();
    w.add_file("APP/BIN/App.exe", 1, None, &mut &b"x"[..])
        .unwrap();
    w.add_file("WINDOWS/system32/drivers/x.sys", 1, None, &mut &b"y"[..])
        .unwrap();
    let out = w.finish().unwrap();
    let mut names = Vec::new();
    for e in tar::Archive::new(out.as_slice()).entries().unwrap() {
        names.push(e.unwrap().path().unwrap().to_string_lossy().to_string());
    }
    assert!(
        names.contains(&"Files/app/BIN/App.exe".to_string()),
        "{names:?}"
    );
    assert!(
        !names.iter().any(|n| n.starts_with("Files/APP")),
        "{names:?}"
    );
    assert!(
        names.contains(&"Files/Windows/System32/drivers/x.sys".to_string()),
        "{names:?}"
    );
}
