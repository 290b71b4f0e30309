//! Stage views over layer tars and snapshots, and the cross-OS transforms.
//! Unix-only because the snapshot backing and its fixtures are.
#![cfg(unix)]

mod common;

use common::{assert_valid_windows_layer, entries};
use std::io::Read;
use std::path::{Path, PathBuf};
use wharf_layer::tarfmt::{EntryKind, TarEntry, TarWriter};
use wharf_layer::transform::Mapping;
use wharf_layer::windows::meta::{Timestamp, WinMeta};
use wharf_layer::{
    linux_to_windows, windows_to_linux, Compression, Error, LayerBlobWriter, LayerOs,
    LinuxLayerOptions, LinuxLayerWriter, NoBase, StageView, ToLinuxOptions, ToWindowsOptions,
    ViewOptions, WindowsBase, WindowsLayerOptions, WindowsLayerWriter,
};

/// A gzip layer of one 3 MiB file of zeros: a few KiB that expand far
/// beyond a 1 MiB cap.
fn three_mib_of_zeros(dir: &Path) -> PathBuf {
    let zeros = vec![0u8; 3 << 20];
    write_tar(
        &dir.join("bomb.tgz"),
        &[(
            TarEntry::new("big", EntryKind::File { size: 3 << 20 }),
            &zeros[..],
        )],
        Compression::default(),
    )
}

fn write_tar(path: &Path, entries: &[(TarEntry, &[u8])], compression: Compression) -> PathBuf {
    let blob = LayerBlobWriter::create(path, compression).unwrap();
    let mut w = TarWriter::new(blob);
    for (e, data) in entries {
        let mut d: &[u8] = data;
        w.append(
            e,
            matches!(e.kind, EntryKind::File { .. }).then_some(&mut d as &mut dyn Read),
        )
        .unwrap();
    }
    w.finish().unwrap().finish().unwrap().path
}

fn f(name: &str, data: &'static [u8]) -> (TarEntry, &'static [u8]) {
    (
        TarEntry::new(
            name,
            EntryKind::File {
                size: data.len() as u64,
            },
        ),
        data,
    )
}
fn d(name: &str) -> (TarEntry, &'static [u8]) {
    (TarEntry::new(name, EntryKind::Dir), b"")
}
fn l(name: &str, target: &str) -> (TarEntry, &'static [u8]) {
    (
        TarEntry::new(
            name,
            EntryKind::Symlink {
                target: target.into(),
            },
        ),
        b"",
    )
}
fn h(name: &str, target: &str) -> (TarEntry, &'static [u8]) {
    (
        TarEntry::new(
            name,
            EntryKind::Hardlink {
                target: target.into(),
            },
        ),
        b"",
    )
}

fn read_all(view: &StageView, path: &str) -> Vec<u8> {
    let e = view.entry(path).unwrap_or_else(|| panic!("{path} missing"));
    let mut out = Vec::new();
    view.open(e).unwrap().read_to_end(&mut out).unwrap();
    out
}

fn linux_chain(dir: &Path) -> Vec<PathBuf> {
    let base = write_tar(
        &dir.join("base.tgz"),
        &[
            d("etc"),
            f("etc/passwd", b"root"),
            f("etc/group", b"root-group"),
            d("opt"),
            d("opt/old"),
            f("opt/old/file", b"old"),
            d("var"),
            f("var/log", b"was a file"),
        ],
        Compression::default(),
    );
    let upper = write_tar(
        &dir.join("upper.tar"),
        &[
            f("etc/.wh.group", b""),
            d("opt"),
            f("opt/.wh..wh..opq", b""),
            f("opt/new", b"new"),
            h("opt/new-link", "opt/new"),
            h("etc/passwd-link", "etc/passwd"),
            d("var/log"),
            f("var/log/syslog", b"log"),
            l("etc/os-release", "/usr/lib/os-release"),
        ],
        Compression::None,
    );
    vec![base, upper]
}

#[test]
fn linux_view_applies_whiteouts_and_resolves_hardlinks() {
    let tmp = tempfile::tempdir().unwrap();
    let layers = linux_chain(tmp.path());
    let view = StageView::from_layers(LayerOs::Linux, &layers, tmp.path(), &ViewOptions::default())
        .unwrap();
    let paths: Vec<&str> = view.entries().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "etc",
            "etc/os-release",
            "etc/passwd",
            "etc/passwd-link",
            "opt",
            "opt/new",
            "opt/new-link",
            "var",
            "var/log",
            "var/log/syslog"
        ]
    );
    assert_eq!(read_all(&view, "etc/passwd"), b"root");
    assert_eq!(read_all(&view, "/etc/passwd-link"), b"root");
    assert_eq!(
        view.entry("opt/new-link").unwrap().hardlink_to.as_deref(),
        Some("opt/new")
    );
    // A link into a lower layer is resolved to the lower file's content.
    assert_eq!(
        view.entry("etc/passwd-link")
            .unwrap()
            .hardlink_to
            .as_deref(),
        Some("etc/passwd")
    );
    assert_eq!(read_all(&view, "var/log/syslog"), b"log");
    assert_eq!(
        view.children("etc"),
        ["os-release", "passwd", "passwd-link"]
    );
    assert!(
        view.entry("ETC/PASSWD").is_none(),
        "Linux views are case-sensitive"
    );
}

/// A view without contents has the same entries, spools nothing, and
/// says so when a file is opened; the size cap still holds.
#[test]
fn tree_only_view_has_the_same_entries_and_no_contents() {
    let tmp = tempfile::tempdir().unwrap();
    let layers = linux_chain(tmp.path());
    let spool = tmp.path().join("spool");
    std::fs::create_dir(&spool).unwrap();
    let full = StageView::from_layers(LayerOs::Linux, &layers, tmp.path(), &ViewOptions::default())
        .unwrap();
    let tree =
        StageView::from_layers(LayerOs::Linux, &layers, &spool, &ViewOptions::tree_only()).unwrap();
    let a: Vec<_> = full
        .entries()
        .map(|e| (&e.path, &e.kind, e.mode, &e.hardlink_to))
        .collect();
    let b: Vec<_> = tree
        .entries()
        .map(|e| (&e.path, &e.kind, e.mode, &e.hardlink_to))
        .collect();
    assert_eq!(a, b);
    assert_eq!(
        std::fs::read_dir(&spool).unwrap().count(),
        0,
        "nothing spooled"
    );
    let err = tree
        .open(tree.entry("etc/passwd").unwrap())
        .err()
        .expect("no contents");
    assert!(err.to_string().contains("without file contents"), "{err}");
    assert_eq!(tree.read_text("etc/passwd", 1 << 20), None);
    let bomb = three_mib_of_zeros(tmp.path());
    let small = ViewOptions {
        max_uncompressed_bytes: 1 << 20,
        ..ViewOptions::tree_only()
    };
    let err = StageView::from_layers(LayerOs::Linux, &[bomb], &spool, &small)
        .err()
        .expect("the cap must hold");
    // Read as a stream, the entry's declared size is refused before its
    // bytes are decompressed.
    assert!(err.to_string().contains("beyond the cap"), "{err}");
}

#[test]
fn snapshot_view_matches_tar_view() {
    let tmp = tempfile::tempdir().unwrap();
    let layers = linux_chain(tmp.path());
    let tar_view =
        StageView::from_layers(LayerOs::Linux, &layers, tmp.path(), &ViewOptions::default())
            .unwrap();
    let snap = tmp.path().join("snap");
    std::fs::create_dir(&snap).unwrap();
    for layer in &layers {
        wharf_layer::linux::apply::apply_layer_file(layer, &snap, &Default::default()).unwrap();
    }
    let snap_view = StageView::from_snapshot(&snap).unwrap();
    let kinds = |v: &StageView| {
        v.entries()
            .map(|e| (e.path.clone(), e.kind.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(kinds(&tar_view), kinds(&snap_view));
    assert_eq!(read_all(&snap_view, "opt/new-link"), b"new");
    assert_eq!(
        snap_view
            .entry("opt/new-link")
            .unwrap()
            .hardlink_to
            .as_deref(),
        Some("opt/new")
    );
}

fn win(name: &str, kind: EntryKind, data: &'static [u8]) -> (TarEntry, &'static [u8]) {
    let mut e = TarEntry::new(name, kind.clone());
    let meta = if matches!(kind, EntryKind::Dir) {
        WinMeta::default_dir(Timestamp::from_secs(5))
    } else {
        WinMeta::default_file(Timestamp::from_secs(5))
    };
    e.pax = meta.pax_records();
    (e, data)
}

fn windows_chain(dir: &Path) -> Vec<PathBuf> {
    let base = write_tar(
        &dir.join("win-base.tgz"),
        &[
            win("Hives", EntryKind::Dir, b""),
            win("Files", EntryKind::Dir, b""),
            win("UtilityVM", EntryKind::Dir, b""),
            win("UtilityVM/Files", EntryKind::Dir, b""),
            win(
                "UtilityVM/Files/shared.dll",
                EntryKind::File { size: 6 },
                b"shared",
            ),
            win("Files/Windows", EntryKind::Dir, b""),
            win(
                "Files/Windows/shared.dll",
                EntryKind::Hardlink {
                    target: "UtilityVM/Files/shared.dll".into(),
                },
                b"",
            ),
            win("Files/Windows/System32", EntryKind::Dir, b""),
            win(
                "Files/Windows/System32/cmd.exe",
                EntryKind::File { size: 2 },
                b"MZ",
            ),
            win(
                "Files/Windows/System32/cmd-link.exe",
                EntryKind::Hardlink {
                    target: "Files/Windows/System32/cmd.exe".into(),
                },
                b"",
            ),
            win("Files/Readme.txt", EntryKind::File { size: 5 }, b"upper"),
            win("Files/README.TXT", EntryKind::File { size: 5 }, b"UPPER"),
            win("Files/ProgramData", EntryKind::Dir, b""),
            win("Files/ProgramData/junk", EntryKind::File { size: 1 }, b"j"),
            win("Hives/Software_Delta", EntryKind::File { size: 1 }, b"h"),
        ],
        Compression::default(),
    );
    let upper = write_tar(
        &dir.join("win-upper.tar"),
        &[
            win("Hives", EntryKind::Dir, b""),
            win("Files", EntryKind::Dir, b""),
            win("Files/programdata", EntryKind::Dir, b""),
            win(
                "Files/programdata/.wh.JUNK",
                EntryKind::File { size: 0 },
                b"",
            ),
            win("Files/app", EntryKind::Dir, b""),
            win(
                "Files/app/cfg",
                EntryKind::Symlink {
                    target: "..\\Windows\\System32\\cmd.exe".into(),
                },
                b"",
            ),
            win(
                "Files/app/abs",
                EntryKind::Symlink {
                    target: "C:\\Windows".into(),
                },
                b"",
            ),
            win(
                "Files/app/other-drive",
                EntryKind::Symlink {
                    target: "D:\\data".into(),
                },
                b"",
            ),
        ],
        Compression::None,
    );
    vec![base, upper]
}

#[test]
fn windows_view_keeps_files_only_and_reports_case_collisions() {
    let tmp = tempfile::tempdir().unwrap();
    let layers = windows_chain(tmp.path());
    let view = StageView::from_layers(
        LayerOs::Windows,
        &layers,
        tmp.path(),
        &ViewOptions::default(),
    )
    .unwrap();
    assert!(view
        .entries()
        .all(|e| !e.path.starts_with("Files") && !e.path.starts_with("Hives")));
    assert!(view.entry("UtilityVM").is_none());
    // Hardlink whose target (UtilityVM) was dropped: a copy of the content.
    let shared = view.entry("windows/SHARED.dll").unwrap();
    assert_eq!(shared.hardlink_to, None);
    assert_eq!(read_all(&view, "Windows/shared.dll"), b"shared");
    assert_eq!(
        view.entry("Windows/System32/cmd-link.exe")
            .unwrap()
            .hardlink_to
            .as_deref(),
        Some("Windows/System32/cmd.exe")
    );
    assert_eq!(
        view.case_collisions(),
        [("Readme.txt".to_string(), "README.TXT".to_string())]
    );
    assert_eq!(read_all(&view, "readme.txt"), b"UPPER");
    // Case-insensitive whiteout.
    assert!(view.entry("ProgramData/junk").is_none());
    assert!(view.entry("ProgramData").is_some());
    // The view serves as a writer base: directory metadata and children.
    assert_eq!(view.dir_meta("windows").unwrap().attributes, 16);
    assert!(view.dir_meta("Readme.txt").is_none());
    assert_eq!(
        WindowsBase::children(&view, "windows"),
        ["shared.dll", "System32"]
    );
}

#[test]
fn windows_stage_to_linux_layer() {
    let tmp = tempfile::tempdir().unwrap();
    let layers = windows_chain(tmp.path());
    let view = StageView::from_layers(
        LayerOs::Windows,
        &layers,
        tmp.path(),
        &ViewOptions::default(),
    )
    .unwrap();
    let out = tmp.path().join("linux.tgz");
    let blob = LayerBlobWriter::create(&out, Compression::default()).unwrap();
    let mut w = LinuxLayerWriter::new(blob, LinuxLayerOptions::default());
    let report = windows_to_linux(&view, &mut w, &ToLinuxOptions::default()).unwrap();
    w.finish().unwrap().finish().unwrap();
    assert_eq!(report.case_collisions.len(), 1);
    assert_eq!(report.skipped.len(), 1, "{:?}", report.skipped);
    assert!(report.skipped[0].path.ends_with("other-drive"));
    let es = entries(&out);
    let get = |n: &str| {
        es.iter()
            .find(|e| e.0 == n)
            .unwrap_or_else(|| panic!("{n} missing: {es:?}"))
    };
    assert_eq!(
        get("Windows/shared.dll").1,
        b'0',
        "dropped hardlink target becomes a file"
    );
    // "cmd-link.exe" sorts before its target: it carries the content, the target links to it.
    assert_eq!(get("Windows/System32/cmd-link.exe").1, b'0');
    assert_eq!(get("Windows/System32/cmd.exe").1, b'1');
    assert_eq!(
        get("Windows/System32/cmd.exe").2,
        "Windows/System32/cmd-link.exe"
    );
    assert_eq!(get("app/cfg").2, "../Windows/System32/cmd.exe");
    assert_eq!(get("app/abs").2, "/Windows");
    assert!(es.iter().all(|e| !e.0.starts_with("Files")
        && !e.0.starts_with("Hives")
        && !e.0.starts_with("UtilityVM")));
    // Files out of Windows are executable, as BuildKit makes them.
    let dec = flate2::read::GzDecoder::new(std::fs::File::open(&out).unwrap());
    let mut a = tar::Archive::new(dec);
    for e in a.entries().unwrap() {
        let e = e.unwrap();
        let h = e.header();
        if h.entry_type().is_file() || h.entry_type().is_dir() {
            assert_eq!(
                h.mode().unwrap() & 0o777,
                0o755,
                "{}",
                e.path().unwrap().display()
            );
        }
    }
}

#[test]
fn linux_stage_to_windows_layer_skips_ntfs_invalid_names() {
    use std::os::unix::fs::symlink;
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::create_dir_all(root.join("usr/lib")).unwrap();
    std::fs::create_dir_all(root.join("bad:dir/inner")).unwrap();
    std::fs::write(root.join("bad:dir/inner/f"), b"x").unwrap();
    std::fs::write(root.join("usr/lib/os-release"), b"ID=debian\n").unwrap();
    std::fs::write(root.join("usr/lib/CON"), b"reserved").unwrap();
    std::fs::write(root.join("usr/lib/trailing."), b"dot").unwrap();
    std::fs::write(root.join("usr/lib/pkg:amd64.list"), b"list").unwrap();
    std::fs::hard_link(
        root.join("usr/lib/os-release"),
        root.join("usr/lib/os-release.hard"),
    )
    .unwrap();
    std::fs::hard_link(
        root.join("usr/lib/pkg:amd64.list"),
        root.join("usr/lib/list.hard"),
    )
    .unwrap();
    symlink("/usr/lib/os-release", root.join("etc/os-release")).unwrap();
    symlink("../usr/lib", root.join("etc/libdir")).unwrap();
    symlink("/usr", root.join("usrlink")).unwrap();
    let view = StageView::from_snapshot(&root).unwrap();

    let out = tmp.path().join("win.tgz");
    let blob = LayerBlobWriter::create(&out, Compression::default()).unwrap();
    let mut w = WindowsLayerWriter::new(blob, &NoBase, WindowsLayerOptions::default()).unwrap();
    let report = linux_to_windows(&view, &mut w, &ToWindowsOptions::default()).unwrap();
    w.finish().unwrap().finish().unwrap();
    assert_valid_windows_layer(&out);
    let skipped: Vec<&str> = report.skipped.iter().map(|s| s.path.as_str()).collect();
    assert_eq!(
        skipped,
        [
            "bad:dir",
            "usr/lib/CON",
            "usr/lib/pkg:amd64.list",
            "usr/lib/trailing."
        ]
    );
    let es = entries(&out);
    let get = |n: &str| {
        es.iter()
            .find(|e| e.0 == n)
            .unwrap_or_else(|| panic!("{n} missing"))
    };
    assert_eq!(get("Files/etc/os-release").2, "..\\usr\\lib\\os-release");
    assert_eq!(get("Files/etc/libdir").2, "..\\usr\\lib");
    assert_eq!(get("Files/usrlink").2, "usr");
    let attr = |n: &str| {
        get(n)
            .3
            .iter()
            .find(|(k, _)| k == "MSWINDOWS.fileattr")
            .unwrap()
            .1
            .clone()
    };
    assert_eq!(
        attr("Files/etc/libdir"),
        "1040",
        "a link to a directory is a directory link"
    );
    assert_eq!(attr("Files/etc/os-release"), "1056");
    assert_eq!(
        get("Files/usr/lib/os-release.hard").2,
        "Files/usr/lib/os-release"
    );
    // The link's target was skipped: the link became a copy.
    assert_eq!(get("Files/usr/lib/list.hard").1, b'0');
    assert!(!es.iter().any(|e| e.0.contains("bad:dir")));

    let blob = LayerBlobWriter::create(tmp.path().join("strict"), Compression::None).unwrap();
    let mut w = WindowsLayerWriter::new(blob, &NoBase, WindowsLayerOptions::default()).unwrap();
    let strict = ToWindowsOptions {
        strict: true,
        ..Default::default()
    };
    assert!(matches!(
        linux_to_windows(&view, &mut w, &strict),
        Err(Error::NtfsName { .. })
    ));
}

#[test]
fn subtree_copy_with_owner_onto_windows_base() {
    let tmp = tempfile::tempdir().unwrap();
    let layers = windows_chain(tmp.path());
    let base = StageView::from_layers(
        LayerOs::Windows,
        &layers,
        tmp.path(),
        &ViewOptions::default(),
    )
    .unwrap();
    let root = tmp.path().join("root");
    std::fs::create_dir_all(root.join("build/out")).unwrap();
    std::fs::write(root.join("build/out/app.exe"), b"MZapp").unwrap();
    let view = StageView::from_snapshot(&root).unwrap();
    let out = tmp.path().join("copy.tar");
    let blob = LayerBlobWriter::create(&out, Compression::None).unwrap();
    let mut w = WindowsLayerWriter::new(blob, &base, WindowsLayerOptions::default()).unwrap();
    let opts = ToWindowsOptions {
        mapping: Mapping {
            source: "build/out".into(),
            dest: "Windows/app".into(),
        },
        owner_sid: Some("S-1-5-93-2-2".into()),
        ..Default::default()
    };
    let report = linux_to_windows(&view, &mut w, &opts).unwrap();
    w.finish().unwrap().finish().unwrap();
    assert_valid_windows_layer(&out);
    assert_eq!(report.written, 2, "the destination directory and the file");
    let es = entries(&out);
    let names: Vec<&str> = es.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(
        names,
        [
            "Hives",
            "Files",
            "Files/Windows",
            "Files/Windows/app",
            "Files/Windows/app/app.exe"
        ]
    );
    // Files/Windows is re-declared with the base's metadata.
    let base_sd = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD
            .encode(base.dir_meta("Windows").unwrap().security_descriptor)
    };
    assert_eq!(
        es[2]
            .3
            .iter()
            .find(|(k, _)| k == "MSWINDOWS.rawsd")
            .unwrap()
            .1,
        base_sd
    );
    let sd = es[4]
        .3
        .iter()
        .find(|(k, _)| k == "MSWINDOWS.rawsd")
        .unwrap()
        .1
        .clone();
    let raw = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD
            .decode(sd)
            .unwrap()
    };
    // Owner SID at offset 20: S-1-5-93-2-2.
    assert_eq!(
        &raw[20..40],
        &[1, 3, 0, 0, 0, 0, 0, 5, 93, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0]
    );
}

#[test]
fn views_refuse_hostile_names_and_dangling_hardlinks() {
    let tmp = tempfile::tempdir().unwrap();
    let escape = write_tar(
        &tmp.path().join("escape.tar"),
        &[f("../etc/passwd", b"x")],
        Compression::None,
    );
    let err = StageView::from_layers(
        LayerOs::Linux,
        &[escape],
        tmp.path(),
        &ViewOptions::default(),
    )
    .err()
    .expect("'..' must be refused");
    assert!(matches!(err, Error::HostileEntry { .. }), "{err}");
    let dangling = write_tar(
        &tmp.path().join("dangling.tar"),
        &[h("a", "nowhere")],
        Compression::None,
    );
    let err = StageView::from_layers(
        LayerOs::Linux,
        &[dangling],
        tmp.path(),
        &ViewOptions::default(),
    )
    .err()
    .expect("a hardlink to nothing must be refused");
    assert!(matches!(err, Error::MalformedTar { .. }), "{err}");
    let bomb = three_mib_of_zeros(tmp.path());
    let small = ViewOptions {
        max_uncompressed_bytes: 1 << 20,
        ..ViewOptions::default()
    };
    let err = StageView::from_layers(LayerOs::Linux, &[bomb], tmp.path(), &small)
        .err()
        .expect("the cap must hold");
    assert!(matches!(err, Error::TooLarge { .. }), "{err}");
}

#[test]
fn same_os_linux_copy_keeps_links_owners_and_host_hostile_names() {
    let tmp = tempfile::tempdir().unwrap();
    let mut layers = linux_chain(tmp.path());
    layers.push(write_tar(
        &tmp.path().join("names.tar"),
        &[
            f("etc/a:b", b"colon"),
            f("etc/Case", b"C"),
            f("etc/case", b"c"),
        ],
        Compression::None,
    ));
    let view = StageView::from_layers(LayerOs::Linux, &layers, tmp.path(), &ViewOptions::default())
        .unwrap();
    let out = tmp.path().join("copy.tar");
    let blob = LayerBlobWriter::create(&out, Compression::None).unwrap();
    let mut w = LinuxLayerWriter::new(blob, LinuxLayerOptions::default());
    let mapping = Mapping {
        source: "etc".into(),
        dest: "backup/etc".into(),
    };
    let n = wharf_layer::copy_linux(&view, &mut w, &mapping, Some((1000, 1000))).unwrap();
    w.finish().unwrap().finish().unwrap();
    let es = entries(&out);
    let names: Vec<&str> = es.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(
        names,
        [
            "backup/etc",
            "backup/etc/Case",
            "backup/etc/a:b",
            "backup/etc/case",
            "backup/etc/os-release",
            "backup/etc/passwd",
            "backup/etc/passwd-link"
        ]
    );
    assert_eq!(n, 7);
    let link = es.iter().find(|e| e.0 == "backup/etc/passwd-link").unwrap();
    assert_eq!((link.1, link.2.as_str()), (b'1', "backup/etc/passwd"));
    let mut ar = tar::Archive::new(std::fs::File::open(&out).unwrap());
    for e in ar.entries().unwrap() {
        assert_eq!(e.unwrap().header().uid().unwrap(), 1000);
    }
    assert!(matches!(
        wharf_layer::copy_linux(
            &view,
            &mut LinuxLayerWriter::new(Vec::new(), LinuxLayerOptions::default()),
            &Mapping {
                source: "nope".into(),
                dest: String::new()
            },
            None
        ),
        Err(Error::NotFound { .. })
    ));
}

#[test]
fn same_os_windows_copy_keeps_metadata() {
    let tmp = tempfile::tempdir().unwrap();
    let layers = windows_chain(tmp.path());
    let view = StageView::from_layers(
        LayerOs::Windows,
        &layers,
        tmp.path(),
        &ViewOptions::default(),
    )
    .unwrap();
    let out = tmp.path().join("copy.tgz");
    let blob = LayerBlobWriter::create(&out, Compression::default()).unwrap();
    let mut w = WindowsLayerWriter::new(blob, &view, WindowsLayerOptions::default()).unwrap();
    let mapping = Mapping {
        source: "windows/system32".into(),
        dest: "Tools".into(),
    };
    let n = wharf_layer::copy_windows(&view, &mut w, &mapping, Some("S-1-5-93-2-1")).unwrap();
    w.finish().unwrap().finish().unwrap();
    assert_valid_windows_layer(&out);
    assert_eq!(n, 3);
    let es = entries(&out);
    let names: Vec<&str> = es.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(
        names,
        [
            "Hives",
            "Files",
            "Files/Tools",
            "Files/Tools/cmd-link.exe",
            "Files/Tools/cmd.exe"
        ]
    );
    assert_eq!(es[4].2, "Files/Tools/cmd-link.exe");
    let ct = es[3]
        .3
        .iter()
        .find(|(k, _)| k == "LIBARCHIVE.creationtime")
        .unwrap();
    assert_eq!(
        ct.1, "5.000000000",
        "creation time comes from the source entry"
    );
}
