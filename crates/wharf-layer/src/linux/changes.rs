//! A layer from the changes between two snapshot directories: what `RUN` leaves
//! behind when it ran in a copy of the lower snapshot rather than on overlayfs.
//!
//! Objects are compared by type, mode, owner, size, mtime (with nanoseconds),
//! device number and link target, as container engines do; content is not
//! read, so a tool that rewrites a file keeping size and mtime goes unnoticed.
//! Changed entries are preceded by their (unchanged) parent directories so the
//! layer is self-describing.

use super::create::{child_path, emit_entry, sorted_children};
use super::writer::LinuxLayerWriter;
use crate::error::{Error, Result};
use std::collections::{BTreeSet, HashMap};
use std::ffi::OsString;
use std::fs::{self, Metadata};
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// What [`LinuxLayerWriter::add_changes`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChangeSummary {
    /// Paths added or modified (directories included when their metadata changed).
    pub changed: Vec<String>,
    /// Paths deleted (whiteouts written).
    pub deleted: Vec<String>,
}

struct Walk<'a, W: Write> {
    w: &'a mut LinuxLayerWriter<W>,
    links: HashMap<(u64, u64), String>,
    pending: Vec<(PathBuf, String)>,
    summary: ChangeSummary,
}

impl<W: Write> LinuxLayerWriter<W> {
    /// Adds what changed from `lower` to `upper` (two directory snapshots):
    /// new and modified objects as entries, deleted ones as whiteouts.
    pub fn add_changes(&mut self, lower: &Path, upper: &Path) -> Result<ChangeSummary> {
        let mut walk = Walk {
            w: self,
            links: HashMap::new(),
            pending: Vec::new(),
            summary: ChangeSummary::default(),
        };
        walk.dir(lower, upper, "")?;
        Ok(walk.summary)
    }
}

impl<W: Write> Walk<'_, W> {
    fn flush_parents(&mut self) -> Result<()> {
        for (abs, path) in std::mem::take(&mut self.pending) {
            emit_entry(self.w, &abs, &path, false, &mut self.links)?;
        }
        Ok(())
    }

    fn emit_tree(&mut self, abs: &Path, path: &str) -> Result<()> {
        self.flush_parents()?;
        self.summary.changed.push(path.to_string());
        if emit_entry(self.w, abs, path, false, &mut self.links)? {
            for name in sorted_children(abs)? {
                let child = abs.join(&name);
                let p = child_path(path, &name, &child)?;
                self.emit_tree(&child, &p)?;
            }
        }
        Ok(())
    }

    fn dir(&mut self, lower: &Path, upper: &Path, rel: &str) -> Result<()> {
        let lower_names: BTreeSet<Vec<u8>> = sorted_children(lower)?
            .into_iter()
            .map(|n| n.as_bytes().to_vec())
            .collect();
        let upper_names = sorted_children(upper)?;
        let upper_set: BTreeSet<Vec<u8>> =
            upper_names.iter().map(|n| n.as_bytes().to_vec()).collect();
        let mut all: Vec<OsString> = upper_names;
        for n in lower_names.iter().filter(|n| !upper_set.contains(*n)) {
            all.push(std::os::unix::ffi::OsStringExt::from_vec(n.clone()));
        }
        all.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        for name in all {
            let l = lower.join(&name);
            let u = upper.join(&name);
            let path = child_path(rel, &name, &u)?;
            let lmd = lstat_opt(&l)?;
            let umd = lstat_opt(&u)?;
            match (lmd, umd) {
                (Some(_), None) => {
                    self.flush_parents()?;
                    self.w.add_whiteout(&path, 0)?;
                    self.summary.deleted.push(path);
                }
                (None, Some(_)) => self.emit_tree(&u, &path)?,
                (Some(lm), Some(um)) => {
                    if lm.is_dir() && um.is_dir() {
                        if same(&lm, &um, &l, &u)? {
                            self.pending.push((u.clone(), path.clone()));
                            self.dir(&l, &u, &path)?;
                            // Nothing below changed: this directory stays out.
                            if self.pending.last().is_some_and(|(_, p)| *p == path) {
                                self.pending.pop();
                            }
                        } else {
                            self.flush_parents()?;
                            self.summary.changed.push(path.clone());
                            emit_entry(self.w, &u, &path, false, &mut self.links)?;
                            self.dir(&l, &u, &path)?;
                        }
                    } else if !same(&lm, &um, &l, &u)? {
                        self.emit_tree(&u, &path)?;
                    }
                }
                (None, None) => {}
            }
        }
        Ok(())
    }
}

fn lstat_opt(p: &Path) -> Result<Option<Metadata>> {
    match fs::symlink_metadata(p) {
        Ok(m) => Ok(Some(m)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io("reading metadata of", p, e)),
    }
}

fn same(a: &Metadata, b: &Metadata, pa: &Path, pb: &Path) -> Result<bool> {
    let meta_same = a.mode() == b.mode()
        && a.uid() == b.uid()
        && a.gid() == b.gid()
        && a.rdev() == b.rdev()
        && (a.is_dir()
            || (a.size() == b.size()
                && a.mtime() == b.mtime()
                && a.mtime_nsec() == b.mtime_nsec()));
    if !meta_same {
        return Ok(false);
    }
    if a.file_type().is_symlink() {
        let ta = fs::read_link(pa).map_err(|e| Error::io("reading link", pa, e))?;
        let tb = fs::read_link(pb).map_err(|e| Error::io("reading link", pb, e))?;
        return Ok(ta == tb);
    }
    Ok(true)
}
