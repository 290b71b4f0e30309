//! Same-OS copies from a stage view into a new layer (`COPY --from` a stage of
//! the same OS): every entry keeps its metadata, hardlinks stay hardlinks, and
//! because the view is read from layer tars, names the host could not hold
//! (`a:b` on a Windows host, case twins on a Linux host) pass through.

use super::Mapping;
use crate::error::{Error, Result};
use crate::linux::writer::LinuxLayerWriter;
use crate::tarfmt::{EntryKind, TarEntry};
use crate::view::{LayerOs, StageView, ViewEntry, ViewKind};
use crate::windows::meta::{Timestamp, WinMeta};
use crate::windows::writer::WindowsLayerWriter;
use std::collections::HashMap;
use std::io::Write;

/// Checks the source subtree and returns the view's spelling of it.
fn source_root(view: &StageView, mapping: &Mapping) -> Result<Mapping> {
    let source = mapping.source.trim_matches('/');
    let spelled = if source.is_empty() {
        String::new()
    } else {
        view.entry(source)
            .ok_or_else(|| Error::NotFound {
                path: source.into(),
            })?
            .path
            .clone()
    };
    Ok(Mapping {
        source: spelled,
        dest: mapping.dest.clone(),
    })
}

/// Hardlink bookkeeping: the first destination written for each link group.
#[derive(Default)]
struct Links(HashMap<String, String>);

impl Links {
    /// Returns the destination to link to, or records `dest` as the group's first.
    fn link_or_record(&mut self, e: &ViewEntry, dest: &str) -> Option<String> {
        let group = e.hardlink_to.clone().unwrap_or_else(|| e.path.clone());
        match self.0.get(&group) {
            Some(first) => Some(first.clone()),
            None => {
                self.0.insert(group, dest.to_string());
                None
            }
        }
    }
}

/// Copies (part of) a Linux stage into a Linux layer. `owner` replaces every
/// entry's uid/gid (`--chown`).
pub fn copy_linux<W: Write>(
    view: &StageView,
    w: &mut LinuxLayerWriter<W>,
    mapping: &Mapping,
    owner: Option<(u64, u64)>,
) -> Result<u64> {
    if view.os() != LayerOs::Linux {
        return Err(Error::Unsupported(
            "copy_linux needs a Linux stage view".into(),
        ));
    }
    let mapping = source_root(view, mapping)?;
    let mut links = Links::default();
    let mut written = 0;
    for e in view.subtree(&mapping.source) {
        let dest = mapping.map(&e.path);
        if dest.is_empty() {
            continue;
        }
        let (uid, gid) = owner.unwrap_or((e.uid, e.gid));
        let mut t = TarEntry::new(dest.clone(), EntryKind::Dir);
        t.mode = e.mode;
        t.uid = uid;
        t.gid = gid;
        t.mtime = e.mtime;
        if e.path == mapping.source && matches!(e.kind, ViewKind::Dir) {
            // A directory's contents are copied into the destination,
            // which is created as BuildKit and buildah create it: 0755,
            // owned by root or the --chown owner, not like the source.
            let (uid, gid) = owner.unwrap_or((0, 0));
            t.mode = 0o755;
            t.uid = uid;
            t.gid = gid;
        }
        t.pax = e
            .xattrs
            .iter()
            .map(|(k, v)| (format!("SCHILY.xattr.{k}"), v.clone()))
            .collect();
        match &e.kind {
            ViewKind::Dir => w.append(t, None)?,
            ViewKind::File { size } => match links.link_or_record(e, &dest) {
                Some(first) => {
                    t.kind = EntryKind::Hardlink { target: first };
                    w.append(t, None)?;
                }
                None => {
                    t.kind = EntryKind::File { size: *size };
                    let mut r = view.open(e)?;
                    w.append(t, Some(&mut r))?;
                }
            },
            ViewKind::Symlink { target } => {
                t.kind = EntryKind::Symlink {
                    target: target.clone(),
                };
                t.pax.clear();
                w.append(t, None)?;
            }
            ViewKind::CharDevice { major, minor } => {
                t.kind = EntryKind::CharDevice {
                    major: *major,
                    minor: *minor,
                };
                w.append(t, None)?;
            }
            ViewKind::BlockDevice { major, minor } => {
                t.kind = EntryKind::BlockDevice {
                    major: *major,
                    minor: *minor,
                };
                w.append(t, None)?;
            }
            ViewKind::Fifo => {
                t.kind = EntryKind::Fifo;
                w.append(t, None)?;
            }
        }
        written += 1;
    }
    Ok(written)
}

/// Copies (part of) a Windows stage into a Windows layer, keeping attributes,
/// security descriptors and creation times. `owner_sid` replaces the owner
/// of every entry (`--chown`).
pub fn copy_windows<W: Write>(
    view: &StageView,
    w: &mut WindowsLayerWriter<'_, W>,
    mapping: &Mapping,
    owner_sid: Option<&str>,
) -> Result<u64> {
    if view.os() != LayerOs::Windows {
        return Err(Error::Unsupported(
            "copy_windows needs a Windows stage view".into(),
        ));
    }
    let mapping = source_root(view, mapping)?;
    let mut links = Links::default();
    let mut written = 0;
    for e in view.subtree(&mapping.source) {
        let dest = mapping.map(&e.path);
        if dest.is_empty() {
            continue;
        }
        let is_dir = matches!(e.kind, ViewKind::Dir);
        let mut meta = e.windows.clone().unwrap_or_else(|| {
            let t = Timestamp::from_secs(e.mtime);
            if is_dir {
                WinMeta::default_dir(t)
            } else {
                WinMeta::default_file(t)
            }
        });
        if let Some(sid) = owner_sid {
            meta.security_descriptor =
                crate::windows::sddl::with_owner(&meta.security_descriptor, sid)?;
        }
        match &e.kind {
            ViewKind::Dir => w.add_dir(&dest, Some(meta))?,
            ViewKind::File { size } => match links.link_or_record(e, &dest) {
                Some(first) => w.add_hardlink(&dest, &first, Some(meta))?,
                None => {
                    let mut r = view.open(e)?;
                    w.add_file(&dest, *size, Some(meta), &mut r)?;
                }
            },
            ViewKind::Symlink { target } => {
                let dir_link =
                    meta.attributes & crate::windows::meta::FILE_ATTRIBUTE_DIRECTORY != 0;
                w.add_symlink(&dest, target, dir_link, Some(meta))?;
            }
            _ => {
                return Err(Error::WindowsLayer {
                    path: e.path.clone(),
                    reason: "device entries cannot be part of a Windows layer".into(),
                })
            }
        }
        written += 1;
    }
    Ok(written)
}
