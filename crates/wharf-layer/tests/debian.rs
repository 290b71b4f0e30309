//! A real Debian tree (debootstrap --variant=minbase) converted into a Windows
//! layer, through both stage-view backings.
//!
//! The tree is cached in `$WHARF_DEBIAN_ROOT` or
//! `/var/cache/wharf-test/bookworm-minbase`; when missing it is created with
//! debootstrap (needs root and the Debian mirror). The test is skipped, with a
//! message, only when that is impossible.
#![cfg(target_os = "linux")]

mod common;

use common::{assert_valid_windows_layer, entries};
use std::path::{Path, PathBuf};
use std::process::Command;
use wharf_layer::{
    linux_to_windows, Compression, LayerBlob, LayerBlobWriter, LayerOs, LinuxLayerOptions,
    LinuxLayerWriter, NoBase, StageView, ToWindowsOptions, ToWindowsReport, ViewOptions,
    WindowsLayerOptions, WindowsLayerWriter,
};

const DEFAULT_CACHE: &str = "/var/cache/wharf-test/bookworm-minbase";

fn debian_root() -> Option<PathBuf> {
    let root =
        PathBuf::from(std::env::var("WHARF_DEBIAN_ROOT").unwrap_or_else(|_| DEFAULT_CACHE.into()));
    if root.join("etc/os-release").exists() {
        return Some(root);
    }
    let tmp = root.with_extension("tmp");
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(root.parent()?).ok()?;
    let status = Command::new("debootstrap")
        .args(["--variant=minbase", "bookworm"])
        .arg(&tmp)
        .arg("http://deb.debian.org/debian")
        .status();
    match status {
        Ok(s) if s.success() => {
            std::fs::rename(&tmp, &root).ok()?;
            Some(root)
        }
        other => {
            eprintln!(
                "SKIPPED: no Debian tree at {} and debootstrap could not make one ({other:?}); \
                 install debootstrap and allow access to the Debian mirror",
                root.display()
            );
            None
        }
    }
}

fn convert(view: &StageView, out: &Path) -> (LayerBlob, ToWindowsReport) {
    let blob = LayerBlobWriter::create(out, Compression::None).unwrap();
    let mut w = WindowsLayerWriter::new(blob, &NoBase, WindowsLayerOptions::default()).unwrap();
    let report = linux_to_windows(view, &mut w, &ToWindowsOptions::default()).unwrap();
    (w.finish().unwrap().finish().unwrap(), report)
}

#[test]
fn debian_tree_becomes_a_valid_windows_layer() {
    let Some(root) = debian_root() else { return };
    let tmp = tempfile::tempdir().unwrap();

    // Snapshot backing.
    let snap = StageView::from_snapshot(&root).unwrap();
    let (win, report) = convert(&snap, &tmp.path().join("snap-win.tar"));
    assert_valid_windows_layer(&win.path);

    let dpkg_lists: Vec<&str> = report
        .skipped
        .iter()
        .map(|s| s.path.as_str())
        .filter(|p| p.starts_with("var/lib/dpkg/info/") && p.ends_with(":amd64.list"))
        .collect();
    let on_disk = std::fs::read_dir(root.join("var/lib/dpkg/info"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(":amd64.list")
        })
        .count();
    assert!(on_disk > 10, "expected a real dpkg database");
    assert_eq!(
        dpkg_lists.len(),
        on_disk,
        "every *:amd64.list must be reported"
    );
    assert!(report.skipped.iter().all(|s| !s.reason.is_empty()));
    // Debian ships man pages whose names differ only in case (pam.7.gz, PAM.7.gz).
    assert!(
        report
            .skipped
            .iter()
            .any(|s| s.reason.contains("only in case")),
        "{:?}",
        report.skipped
    );

    let es = entries(&win.path);
    let os_release = es
        .iter()
        .find(|e| e.0 == "Files/etc/os-release")
        .expect("etc/os-release kept");
    assert_eq!(os_release.1, b'2');
    assert_eq!(os_release.2, "..\\usr\\lib\\os-release");
    // The link works: its target, resolved inside the layer, is a regular file.
    let resolved = resolve("Files/etc", &os_release.2);
    let target = es
        .iter()
        .find(|e| e.0 == resolved)
        .expect("os-release target present");
    assert!(target.1 == b'0' || target.1 == b'1', "target is a file");
    // Merged /usr: /bin is a directory link to usr\bin.
    let bin = es.iter().find(|e| e.0 == "Files/bin").unwrap();
    assert_eq!(bin.2, "usr\\bin");

    // Tar-index backing: the same tree as a Linux layer, viewed through its tar.
    let linux = tmp.path().join("debian.tar");
    let blob = LayerBlobWriter::create(&linux, Compression::None).unwrap();
    let mut w = LinuxLayerWriter::new(blob, LinuxLayerOptions::default());
    w.add_dir_tree(&root).unwrap();
    w.finish().unwrap().finish().unwrap();
    let spool = tempfile::tempdir().unwrap();
    let tar_view = StageView::from_layers(
        LayerOs::Linux,
        &[linux],
        spool.path(),
        &ViewOptions::default(),
    )
    .unwrap();
    let (win2, report2) = convert(&tar_view, &tmp.path().join("tar-win.tar"));
    assert_valid_windows_layer(&win2.path);
    assert_eq!(report2.skipped, report.skipped);
    assert_eq!(
        win2.diff_id, win.diff_id,
        "both backings must give the same layer"
    );
}

/// Resolves a Windows relative link target against a directory of the layer.
fn resolve(dir: &str, target: &str) -> String {
    let mut parts: Vec<&str> = dir.split('/').collect();
    for c in target.split('\\') {
        match c {
            ".." => {
                parts.pop();
            }
            "." | "" => {}
            c => parts.push(c),
        }
    }
    parts.join("/")
}
