//! Linux stage → Windows layer: `Files/` prefix, ancestors and PAX records (by
//! the writer), symlinks rewritten to Windows paths, names NTFS cannot hold
//! skipped and listed (or refused in strict mode), as are names that differ
//! only in case from an earlier one; devices and pipes skipped.

use super::paths::{linux_target_to_windows, resolve_linux_target};
use super::{Mapping, Skipped};
use crate::error::{Error, Result};
use crate::view::{LayerOs, StageView, ViewKind};
use crate::windows::meta::{Timestamp, WinMeta};
use crate::windows::names::{fold_case, ntfs_path_problem};
use crate::windows::writer::WindowsLayerWriter;
use std::collections::HashMap;
use std::io::Write;

/// Options of [`linux_to_windows`].
#[derive(Clone, Debug, Default)]
pub struct ToWindowsOptions {
    /// Which part of the Linux stage goes where.
    pub mapping: Mapping,
    /// Refuse names NTFS cannot hold instead of skipping and listing them.
    pub strict: bool,
    /// Owner SID for every entry (`--chown` in a Windows stage), e.g. `S-1-5-93-2-2`.
    pub owner_sid: Option<String>,
}

/// What [`linux_to_windows`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ToWindowsReport {
    /// Entries written.
    pub written: u64,
    /// Entries left out (NTFS-invalid names and everything below them,
    /// devices, pipes), each with its reason. Shown in the build output.
    pub skipped: Vec<Skipped>,
}

/// Copies (part of) a Linux stage into a Windows layer.
pub fn linux_to_windows<W: Write>(
    view: &StageView,
    w: &mut WindowsLayerWriter<'_, W>,
    opts: &ToWindowsOptions,
) -> Result<ToWindowsReport> {
    if view.os() != LayerOs::Linux {
        return Err(Error::Unsupported(
            "linux_to_windows needs a Linux stage view".into(),
        ));
    }
    let source = opts.mapping.source.trim_matches('/');
    if !source.is_empty() && view.entry(source).is_none() {
        return Err(Error::NotFound {
            path: source.into(),
        });
    }
    let mut report = ToWindowsReport::default();
    let mut skipped_dirs: Vec<String> = Vec::new();
    let mut folded: HashMap<String, String> = HashMap::new();
    // Hardlink group (the path all members link to) → destination written first.
    let mut written_files: HashMap<String, String> = HashMap::new();
    let chown = |mut m: WinMeta| -> Result<WinMeta> {
        if let Some(sid) = &opts.owner_sid {
            m.security_descriptor = crate::windows::sddl::with_owner(&m.security_descriptor, sid)?;
        }
        Ok(m)
    };
    for e in view.subtree(source) {
        if skipped_dirs.iter().any(|d| e.path.starts_with(d.as_str())) {
            continue;
        }
        let dest = opts.mapping.map(&e.path);
        if dest.is_empty() {
            continue; // the root of the copy: C:\ or an existing destination
        }
        if let Some(problem) = ntfs_path_problem(&dest) {
            if opts.strict {
                return Err(Error::NtfsName {
                    path: e.path.clone(),
                    reason: problem,
                });
            }
            if e.kind == ViewKind::Dir {
                skipped_dirs.push(format!("{}/", e.path));
            }
            report.skipped.push(Skipped {
                path: e.path.clone(),
                reason: problem,
            });
            continue;
        }
        // NTFS is case-insensitive: the second of two such names cannot be written.
        if let Some(first) = folded.get(&fold_case(&dest)) {
            let problem =
                format!("differs only in case from {first:?}, which NTFS treats as the same name");
            if opts.strict {
                return Err(Error::NtfsName {
                    path: e.path.clone(),
                    reason: problem,
                });
            }
            if e.kind == ViewKind::Dir {
                skipped_dirs.push(format!("{}/", e.path));
            }
            report.skipped.push(Skipped {
                path: e.path.clone(),
                reason: problem,
            });
            continue;
        }
        if !matches!(
            e.kind,
            ViewKind::CharDevice { .. } | ViewKind::BlockDevice { .. } | ViewKind::Fifo
        ) {
            folded.insert(fold_case(&dest), e.path.clone());
        }
        let time = Timestamp::from_secs(e.mtime);
        match &e.kind {
            ViewKind::Dir => {
                let meta = match (&opts.owner_sid, w_base_has(w, &dest)) {
                    (None, _) | (_, true) => None,
                    (Some(_), false) => Some(chown(WinMeta::default_dir(time))?),
                };
                w.add_dir(&dest, meta)?;
            }
            ViewKind::File { size } => {
                let meta = chown(WinMeta::default_file(time))?;
                let group = e.hardlink_to.clone().unwrap_or_else(|| e.path.clone());
                match written_files.get(&group) {
                    Some(first) => w.add_hardlink(&dest, first, Some(meta))?,
                    None => {
                        let mut r = view.open(e)?;
                        w.add_file(&dest, *size, Some(meta), &mut r)?;
                        written_files.insert(group, dest.clone());
                    }
                }
            }
            ViewKind::Symlink { target } => {
                let is_dir = points_to_dir(view, &e.path, target);
                let win = linux_target_to_windows(&e.path, target);
                let meta = chown(if is_dir {
                    WinMeta::default_dir(time)
                } else {
                    WinMeta::default_file(time)
                })?;
                w.add_symlink(&dest, &win, is_dir, Some(meta))?;
            }
            ViewKind::CharDevice { .. } | ViewKind::BlockDevice { .. } | ViewKind::Fifo => {
                report.skipped.push(Skipped {
                    path: e.path.clone(),
                    reason: "device nodes and pipes do not exist on Windows".into(),
                });
                continue;
            }
        }
        report.written += 1;
    }
    Ok(report)
}

fn w_base_has<W: Write>(w: &WindowsLayerWriter<'_, W>, path: &str) -> bool {
    w.base().dir_meta(path).is_some()
}

/// Whether a Linux symlink resolves (within the stage, following up to 16
/// links) to a directory: Windows distinguishes file and directory links.
fn points_to_dir(view: &StageView, link: &str, target: &str) -> bool {
    let mut path = resolve_linux_target(link, target).join("/");
    for _ in 0..16 {
        match view.entry(&path).map(|e| &e.kind) {
            Some(ViewKind::Dir) => return true,
            Some(ViewKind::Symlink { target }) => {
                path = resolve_linux_target(&path, target).join("/")
            }
            _ => return path.is_empty(),
        }
    }
    false
}
