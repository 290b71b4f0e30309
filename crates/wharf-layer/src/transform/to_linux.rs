//! Windows stage → Linux layer: only `Files/` (the view already dropped
//! `Hives/` and `UtilityVM/`), names without the prefix, hardlinks whose target
//! was dropped written as copies, symlinks turned into Linux paths, names
//! that differ only in case reported.

use super::paths::windows_target_to_linux;
use super::{Mapping, Skipped};
use crate::error::{Error, Result};
use crate::linux::writer::LinuxLayerWriter;
use crate::tarfmt::{EntryKind, TarEntry};
use crate::view::{LayerOs, StageView, ViewKind};
use std::collections::HashMap;
use std::io::Write;

/// Options of [`windows_to_linux`].
#[derive(Clone, Debug)]
pub struct ToLinuxOptions {
    /// Which part of the Windows stage goes where.
    pub mapping: Mapping,
    /// Owner of every entry (Windows owners have no Linux meaning).
    pub uid: u64,
    /// Group of every entry.
    pub gid: u64,
    /// Mode of files. Windows has no execute bit to carry over, so, as
    /// BuildKit does ("make everything +x from windows"), files get 0755;
    /// read-only ones (`FILE_ATTRIBUTE_READONLY`) lose the write bit.
    pub file_mode: u32,
    /// Mode of directories (the same read-only rule).
    pub dir_mode: u32,
}

impl Default for ToLinuxOptions {
    fn default() -> Self {
        ToLinuxOptions {
            mapping: Mapping::whole(),
            uid: 0,
            gid: 0,
            file_mode: 0o755,
            dir_mode: 0o755,
        }
    }
}

/// What [`windows_to_linux`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ToLinuxReport {
    /// Entries written.
    pub written: u64,
    /// Names that differed only in case in the Windows stage (the later won).
    pub case_collisions: Vec<(String, String)>,
    /// Entries left out (symlinks to other drives or UNC paths), with reasons.
    pub skipped: Vec<Skipped>,
}

/// Copies (part of) a Windows stage into a Linux layer.
pub fn windows_to_linux<W: Write>(
    view: &StageView,
    w: &mut LinuxLayerWriter<W>,
    opts: &ToLinuxOptions,
) -> Result<ToLinuxReport> {
    if view.os() != LayerOs::Windows {
        return Err(Error::Unsupported(
            "windows_to_linux needs a Windows stage view".into(),
        ));
    }
    let source = opts.mapping.source.trim_matches('/');
    let root = view.entry(source);
    if !source.is_empty() && root.is_none() {
        return Err(Error::NotFound {
            path: source.into(),
        });
    }
    // The view's own spelling of the source, for stripping it from paths.
    let mapping = Mapping {
        source: root.map(|r| r.path.clone()).unwrap_or_default(),
        dest: opts.mapping.dest.clone(),
    };
    let mut report = ToLinuxReport {
        case_collisions: view
            .case_collisions()
            .iter()
            .filter(|(a, _)| {
                source.is_empty() || a.to_lowercase().starts_with(&source.to_lowercase())
            })
            .cloned()
            .collect(),
        ..Default::default()
    };
    // Hardlink group (the path all members link to) → destination written first.
    let mut written_files: HashMap<String, String> = HashMap::new();
    for e in view.subtree(source) {
        let dest = mapping.map(&e.path);
        if dest.is_empty() {
            continue;
        }
        let mut t = TarEntry::new(dest.clone(), EntryKind::Dir);
        t.uid = opts.uid;
        t.gid = opts.gid;
        t.mtime = e.mtime;
        // Read-only on Windows: no write bits (Go's and BuildKit's rule).
        let readonly = e.windows.as_ref().is_some_and(|m| m.attributes & 1 != 0);
        let mode = |m: u32| if readonly { m & !0o222 } else { m };
        match &e.kind {
            ViewKind::Dir => {
                t.mode = mode(opts.dir_mode);
                w.append(t, None)?;
            }
            ViewKind::File { size } => {
                t.mode = mode(opts.file_mode);
                let group = e.hardlink_to.clone().unwrap_or_else(|| e.path.clone());
                match written_files.get(&group) {
                    Some(first) => {
                        t.kind = EntryKind::Hardlink {
                            target: first.clone(),
                        };
                        w.append(t, None)?;
                    }
                    None => {
                        t.kind = EntryKind::File { size: *size };
                        let mut r = view.open(e)?;
                        w.append(t, Some(&mut r))?;
                        written_files.insert(group, dest.clone());
                    }
                }
            }
            ViewKind::Symlink { target } => match windows_target_to_linux(target) {
                Some(l) => {
                    t.mode = 0o777;
                    t.kind = EntryKind::Symlink { target: l };
                    w.append(t, None)?;
                }
                None => {
                    report.skipped.push(Skipped {
                        path: e.path.clone(),
                        reason: format!("symlink to {target:?} has no meaning on Linux"),
                    });
                    continue;
                }
            },
            _ => {
                report.skipped.push(Skipped {
                    path: e.path.clone(),
                    reason: "device entries do not belong in a Windows stage".into(),
                });
                continue;
            }
        }
        report.written += 1;
    }
    Ok(report)
}
