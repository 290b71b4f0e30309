//! The copy-based fallback for hosts where overlayfs cannot be mounted.
//!
//! The lower layers are merged (base first, honouring whiteouts and opaque directories)
//! into a private root under the work directory, the tree is recorded (inode and change
//! time of every entry), the command runs on that root, and the differences are written
//! into the upper directory in overlayfs format: new and changed entries copied, deleted
//! entries as 0/0 character-device whiteouts, replaced directories marked opaque. So the
//! caller packs the upper directory the same way whichever path ran.
//!
//! The change time (ctime) decides "changed": the kernel updates it on every content or
//! metadata change and no program can set it back. Inode number plus birth time decide
//! "same entry", so a directory deleted and recreated is seen as replaced.
//!
//! Limits: extended attributes other than the opaque marker are not copied, and hard
//! links in the lowers become separate files in the private root.

use std::collections::HashMap;
use std::ffi::CString;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::union::{xattr_is_y, Union};
use super::{in_user_namespace, run_copy_root};
use crate::{ExitStatus, SandboxError, SandboxSpec, Stream};

/// What the tree looked like before the command ran, per relative path.
#[derive(Debug, Clone, Copy)]
struct Before {
    /// Inode number and birth time: together they tell a directory that was deleted
    /// and recreated (which may reuse the inode number) from the same directory.
    identity: (u64, Option<SystemTime>),
    ctime: (i64, i64),
    is_dir: bool,
}

fn identity(md: &fs::Metadata) -> (u64, Option<SystemTime>) {
    (md.ino(), md.created().ok())
}

pub(crate) fn run(
    spec: &SandboxSpec,
    output: &mut dyn FnMut(Stream, &[u8]),
) -> Result<ExitStatus, SandboxError> {
    let root = spec.work_dir.join("root");
    fs::create_dir(&root).map_err(|e| SandboxError::io("creating the private root", &root, e))?;
    let result = run_in(spec, &root, output);
    let removed = fs::remove_dir_all(&root);
    let status = result?;
    removed.map_err(|e| SandboxError::io("removing the private root", &root, e))?;
    Ok(status)
}

fn run_in(
    spec: &SandboxSpec,
    root: &Path,
    output: &mut dyn FnMut(Stream, &[u8]),
) -> Result<ExitStatus, SandboxError> {
    for lower in spec.lower_dirs.iter().rev() {
        merge_layer(lower, root, Path::new(""))?;
    }
    let mut before = HashMap::new();
    record(root, Path::new(""), &mut before)?;
    let (status, stubs) = run_copy_root(spec, root, output)?;
    let opaque = if in_user_namespace() {
        "user.overlay.opaque"
    } else {
        "trusted.overlay.opaque"
    };
    let diff = Diff {
        root,
        upper: &spec.upper_dir,
        before: &before,
        opaque,
    };
    diff.walk(Path::new(""))?;
    diff.whiteouts()?;
    stubs.remove(&spec.upper_dir, &Union::new(&spec.lower_dirs))?;
    Ok(status)
}

fn io_err<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> SandboxError + 'a {
    move |e| SandboxError::io(action, path, e)
}

fn is_whiteout(md: &fs::Metadata) -> bool {
    md.file_type().is_char_device() && md.rdev() == 0
}

fn remove_any(path: &Path) -> Result<(), SandboxError> {
    match fs::symlink_metadata(path) {
        Ok(md) if md.is_dir() => fs::remove_dir_all(path).map_err(io_err("removing", path)),
        Ok(_) => fs::remove_file(path).map_err(io_err("removing", path)),
        Err(_) => Ok(()),
    }
}

fn cpath(path: &Path) -> Result<CString, SandboxError> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| SandboxError::invalid(format!("path {} contains a NUL byte", path.display())))
}

/// Gives `dst` the owner, mode and times of `md` (not following symlinks).
fn copy_metadata(md: &fs::Metadata, dst: &Path) -> Result<(), SandboxError> {
    let c = cpath(dst)?;
    // SAFETY: plain system calls on a NUL-terminated path and stack values.
    unsafe {
        if libc::lchown(c.as_ptr(), md.uid(), md.gid()) != 0 {
            return Err(SandboxError::io(
                "changing the owner of",
                dst,
                io::Error::last_os_error(),
            ));
        }
        if !md.file_type().is_symlink() && libc::chmod(c.as_ptr(), md.mode() & 0o7777) != 0 {
            return Err(SandboxError::io(
                "changing the mode of",
                dst,
                io::Error::last_os_error(),
            ));
        }
        let times = [
            libc::timespec {
                tv_sec: md.atime(),
                tv_nsec: md.atime_nsec(),
            },
            libc::timespec {
                tv_sec: md.mtime(),
                tv_nsec: md.mtime_nsec(),
            },
        ];
        if libc::utimensat(
            libc::AT_FDCWD,
            c.as_ptr(),
            times.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        ) != 0
        {
            return Err(SandboxError::io(
                "setting the times of",
                dst,
                io::Error::last_os_error(),
            ));
        }
    }
    Ok(())
}

/// Copies one non-directory entry (file, symlink, device, fifo) with its metadata.
fn copy_entry(src: &Path, md: &fs::Metadata, dst: &Path) -> Result<(), SandboxError> {
    let ft = md.file_type();
    if ft.is_file() {
        fs::copy(src, dst).map_err(io_err("copying", src))?;
    } else if ft.is_symlink() {
        let target = fs::read_link(src).map_err(io_err("reading the symlink", src))?;
        std::os::unix::fs::symlink(&target, dst).map_err(io_err("creating the symlink", dst))?;
    } else {
        let c = cpath(dst)?;
        // SAFETY: mknod on a NUL-terminated path with the source's type and device.
        if unsafe { libc::mknod(c.as_ptr(), md.mode(), md.rdev()) } != 0 {
            return Err(SandboxError::io(
                "creating the special file",
                dst,
                io::Error::last_os_error(),
            ));
        }
    }
    copy_metadata(md, dst)
}

/// Applies one lower layer (overlay format) onto the private root.
fn merge_layer(layer: &Path, root: &Path, rel: &Path) -> Result<(), SandboxError> {
    let dir = layer.join(rel);
    for entry in fs::read_dir(&dir).map_err(io_err("listing", &dir))? {
        let entry = entry.map_err(io_err("listing", &dir))?;
        let rel = rel.join(entry.file_name());
        let src = layer.join(&rel);
        let dst = root.join(&rel);
        let md = fs::symlink_metadata(&src).map_err(io_err("reading", &src))?;
        if is_whiteout(&md) {
            remove_any(&dst)?;
        } else if md.is_dir() {
            let existing = fs::symlink_metadata(&dst).ok();
            let opaque = xattr_is_y(&src, "trusted.overlay.opaque")
                || xattr_is_y(&src, "user.overlay.opaque");
            if existing.as_ref().is_some_and(|m| !m.is_dir() || opaque) {
                remove_any(&dst)?;
            }
            if !dst.is_dir() {
                fs::create_dir(&dst).map_err(io_err("creating", &dst))?;
            }
            merge_layer(layer, root, &rel)?;
            copy_metadata(&md, &dst)?;
        } else {
            remove_any(&dst)?;
            copy_entry(&src, &md, &dst)?;
        }
    }
    Ok(())
}

fn record(root: &Path, rel: &Path, out: &mut HashMap<PathBuf, Before>) -> Result<(), SandboxError> {
    let dir = root.join(rel);
    for entry in fs::read_dir(&dir).map_err(io_err("listing", &dir))? {
        let entry = entry.map_err(io_err("listing", &dir))?;
        let rel = rel.join(entry.file_name());
        let md = fs::symlink_metadata(root.join(&rel)).map_err(io_err("reading", &dir))?;
        out.insert(
            rel.clone(),
            Before {
                identity: identity(&md),
                ctime: (md.ctime(), md.ctime_nsec()),
                is_dir: md.is_dir(),
            },
        );
        if md.is_dir() {
            record(root, &rel, out)?;
        }
    }
    Ok(())
}

/// Writes the differences between the recorded tree and the root into the upper dir.
struct Diff<'a> {
    root: &'a Path,
    upper: &'a Path,
    before: &'a HashMap<PathBuf, Before>,
    opaque: &'a str,
}

impl Diff<'_> {
    /// Creates the ancestors of `rel` in the upper directory with the root's metadata.
    fn parents(&self, rel: &Path) -> Result<(), SandboxError> {
        let mut ancestors: Vec<&Path> = rel
            .ancestors()
            .skip(1)
            .filter(|a| !a.as_os_str().is_empty())
            .collect();
        ancestors.reverse();
        for a in ancestors {
            let dst = self.upper.join(a);
            if fs::symlink_metadata(&dst).is_err() {
                let src = self.root.join(a);
                let md = fs::symlink_metadata(&src).map_err(io_err("reading", &src))?;
                fs::create_dir(&dst).map_err(io_err("creating", &dst))?;
                copy_metadata(&md, &dst)?;
            }
        }
        Ok(())
    }

    /// Copies `rel` (recursively for directories) into the upper directory.
    fn copy_new(&self, rel: &Path, opaque: bool) -> Result<(), SandboxError> {
        let src = self.root.join(rel);
        let dst = self.upper.join(rel);
        let md = fs::symlink_metadata(&src).map_err(io_err("reading", &src))?;
        self.parents(rel)?;
        remove_any(&dst)?;
        if md.is_dir() {
            fs::create_dir(&dst).map_err(io_err("creating", &dst))?;
            if opaque {
                self.mark_opaque(&dst)?;
            }
            for entry in fs::read_dir(&src).map_err(io_err("listing", &src))? {
                let entry = entry.map_err(io_err("listing", &src))?;
                self.copy_new(&rel.join(entry.file_name()), false)?;
            }
            copy_metadata(&md, &dst)
        } else {
            copy_entry(&src, &md, &dst)
        }
    }

    fn mark_opaque(&self, dst: &Path) -> Result<(), SandboxError> {
        let (c, name) = (cpath(dst)?, CString::new(self.opaque).unwrap_or_default());
        // SAFETY: setting a one-byte xattr on a NUL-terminated path.
        if unsafe { libc::lsetxattr(c.as_ptr(), name.as_ptr(), b"y".as_ptr().cast(), 1, 0) } != 0 {
            return Err(SandboxError::io(
                "marking opaque",
                dst,
                io::Error::last_os_error(),
            ));
        }
        Ok(())
    }

    /// Walks the root after the run, copying new and changed entries.
    fn walk(&self, rel: &Path) -> Result<(), SandboxError> {
        let dir = self.root.join(rel);
        for entry in fs::read_dir(&dir).map_err(io_err("listing", &dir))? {
            let entry = entry.map_err(io_err("listing", &dir))?;
            let rel = rel.join(entry.file_name());
            let md = fs::symlink_metadata(self.root.join(&rel)).map_err(io_err("reading", &dir))?;
            let now = (identity(&md), (md.ctime(), md.ctime_nsec()));
            match self.before.get(&rel) {
                None => self.copy_new(&rel, false)?,
                Some(b) if md.is_dir() && b.is_dir && b.identity == now.0 => {
                    if b.ctime != now.1 {
                        self.parents(&rel)?;
                        let dst = self.upper.join(&rel);
                        if !dst.is_dir() {
                            fs::create_dir(&dst).map_err(io_err("creating", &dst))?;
                        }
                        self.walk(&rel)?;
                        copy_metadata(&md, &dst)?;
                    } else {
                        self.walk(&rel)?;
                    }
                }
                // A directory that replaced whatever was there hides everything below.
                Some(_) if md.is_dir() => self.copy_new(&rel, true)?,
                Some(b) if (b.identity, b.ctime) != now => self.copy_new(&rel, false)?,
                Some(_) => {}
            }
        }
        Ok(())
    }

    /// Writes a whiteout for every recorded entry that is gone while its parent
    /// directory is still the same one.
    fn whiteouts(&self) -> Result<(), SandboxError> {
        for rel in self.before.keys() {
            if fs::symlink_metadata(self.root.join(rel)).is_ok() {
                continue;
            }
            let parent = rel.parent().unwrap_or(Path::new(""));
            if !parent.as_os_str().is_empty() {
                let same = match (
                    self.before.get(parent),
                    fs::symlink_metadata(self.root.join(parent)),
                ) {
                    (Some(b), Ok(md)) => md.is_dir() && b.identity == identity(&md),
                    _ => false,
                };
                if !same {
                    continue;
                }
            }
            self.parents(rel)?;
            let dst = self.upper.join(rel);
            let c = cpath(&dst)?;
            // SAFETY: mknod of a 0/0 character device (the overlay whiteout).
            if unsafe { libc::mknod(c.as_ptr(), libc::S_IFCHR, 0) } != 0 {
                return Err(SandboxError::io(
                    "creating the whiteout",
                    &dst,
                    io::Error::last_os_error(),
                ));
            }
        }
        Ok(())
    }
}
