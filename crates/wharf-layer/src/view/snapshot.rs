//! The snapshot backing of [`StageView`]: an unpacked directory of a Linux
//! stage (for instance the result of `RUN` on this host). Only metadata is
//! read up front; contents are read from the files when opened.
//!
//! Windows snapshots (mounted HCS volumes) carry attributes and security
//! descriptors that only Windows APIs can read; they are not handled here,
//! and no Windows host is available to test them.

use super::{LayerOs, Location, StageView, ViewEntry, ViewKind};
use crate::error::{Error, Result};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

impl StageView {
    /// A view of the Linux tree unpacked at `dir`.
    pub fn from_snapshot(dir: &Path) -> Result<Self> {
        let mut view = StageView {
            os: LayerOs::Linux,
            entries: BTreeMap::new(),
            layer_tars: Vec::new(),
            case_collisions: Vec::new(),
        };
        let mut links = HashMap::new();
        walk(&mut view, dir, "", &mut links)?;
        Ok(view)
    }
}

fn walk(
    view: &mut StageView,
    dir: &Path,
    rel: &str,
    links: &mut HashMap<(u64, u64), String>,
) -> Result<()> {
    use crate::linux::create::{child_path, read_xattrs, sorted_children};
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    for name in sorted_children(dir)? {
        let abs = dir.join(&name);
        let path = child_path(rel, &name, &abs)?;
        let md = std::fs::symlink_metadata(&abs)
            .map_err(|e| Error::io("reading metadata of", &abs, e))?;
        let ft = md.file_type();
        let mut e = ViewEntry {
            path: path.clone(),
            kind: ViewKind::Dir,
            mode: md.mode() & 0o7777,
            uid: u64::from(md.uid()),
            gid: u64::from(md.gid()),
            mtime: u64::try_from(md.mtime()).unwrap_or(0),
            xattrs: read_xattrs(&abs)?,
            windows: None,
            hardlink_to: None,
            location: Location::None,
        };
        if ft.is_file() {
            e.kind = ViewKind::File { size: md.len() };
            e.location = Location::Snapshot(abs.clone());
            if md.nlink() > 1 {
                match links.get(&(md.dev(), md.ino())) {
                    Some(first) => e.hardlink_to = Some(first.clone()),
                    None => {
                        links.insert((md.dev(), md.ino()), path.clone());
                    }
                }
            }
        } else if ft.is_symlink() {
            let t = std::fs::read_link(&abs).map_err(|e| Error::io("reading link", &abs, e))?;
            e.kind = ViewKind::Symlink {
                target: t.to_string_lossy().into_owned(),
            };
        } else if ft.is_char_device() || ft.is_block_device() {
            let (major, minor) = (rustix::fs::major(md.rdev()), rustix::fs::minor(md.rdev()));
            e.kind = if ft.is_char_device() {
                ViewKind::CharDevice { major, minor }
            } else {
                ViewKind::BlockDevice { major, minor }
            };
        } else if ft.is_fifo() {
            e.kind = ViewKind::Fifo;
        } else if !ft.is_dir() {
            continue;
        }
        let is_dir = ft.is_dir();
        view.entries.insert(path.clone(), e);
        if is_dir {
            walk(view, &abs, &path, links)?;
        }
    }
    Ok(())
}
