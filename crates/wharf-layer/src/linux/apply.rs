//! Applying a Linux layer onto a directory, safely.
//!
//! Layers come from registries and may be hostile. Every filesystem operation
//! is made relative to a directory file descriptor that was opened with
//! `openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)` from the target root, so
//! the kernel, not string checks, guarantees that nothing outside the target
//! is touched, even through symlinks planted earlier in the same layer. A
//! symlink that would lead out of the target while resolving a parent makes
//! the entry fail with [`Error::HostileEntry`]. The final component is never
//! followed (`O_NOFOLLOW`, `AT_SYMLINK_NOFOLLOW`, `unlinkat`). Where
//! `openat2` is missing (Linux < 5.6, some seccomp profiles), parents are
//! walked one component at a time with `O_NOFOLLOW`, refusing any symlink.
//!
//! Names are validated by [`super::names::clean_components`]; decompressed
//! size and entry count are capped ([`ApplyOptions`]).

use super::names::{clean_components, join};
use super::{OPAQUE_MARKER, WHITEOUT_PREFIX};
use crate::compress::{decompress, unwrap_io};
use crate::error::{Error, Result};
use rustix::fd::{AsFd, OwnedFd};
use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags, Timespec, Timestamps};
use rustix::io::Errno;
use std::collections::HashSet;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// What to do with device nodes found in a layer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DevicePolicy {
    /// Create them when permitted (root), otherwise skip them with a note.
    #[default]
    CreateIfPermitted,
    /// Never create them; note each one.
    Skip,
    /// Refuse the layer.
    Reject,
}

/// One range of an id mapping, as in `/proc/<pid>/uid_map`: ids
/// `container..container+size` of the layer become `host..host+size`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdRange {
    /// First id as recorded in the layer.
    pub container: u64,
    /// First id on the host.
    pub host: u64,
    /// Number of ids in the range.
    pub size: u64,
}

/// How layer ownership is translated for a rootless build (a user namespace
/// where the builder may `chown` to its subordinate ids).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IdMapping {
    /// User id ranges.
    pub uids: Vec<IdRange>,
    /// Group id ranges.
    pub gids: Vec<IdRange>,
}

impl IdMapping {
    fn map(ranges: &[IdRange], id: u64) -> Option<u64> {
        ranges
            .iter()
            .find(|r| id >= r.container && id - r.container < r.size)
            .map(|r| r.host + (id - r.container))
    }
}

/// What a whiteout in the layer does to the target.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum WhiteoutStyle {
    /// Delete the named entry (the target is a merged tree).
    #[default]
    Apply,
    /// Keep deletions as overlayfs records, for a per-layer snapshot used
    /// as an overlay lower directory: a whiteout becomes a 0/0 character
    /// device, an opaque marker sets `<xattr_prefix>overlay.opaque=y` on
    /// its directory. `xattr_prefix` is `trusted.` for overlays mounted in
    /// the initial user namespace, `user.` for `userxattr` mounts in a
    /// user namespace.
    Overlay {
        /// `trusted.` or `user.`.
        xattr_prefix: String,
    },
}

/// Limits and choices for [`apply_layer`].
#[derive(Clone, Debug)]
pub struct ApplyOptions {
    /// Cap on the decompressed tar size (decompression bombs). Default 64 GiB.
    pub max_uncompressed_bytes: u64,
    /// Cap on the number of entries. Default 10 million.
    pub max_entries: u64,
    /// Set owners from the layer (effective only when running as root, or
    /// with `id_mapping`).
    pub preserve_ownership: bool,
    /// Translate owners through this mapping and set them even when not
    /// running as root; an id outside every range is an error.
    pub id_mapping: Option<IdMapping>,
    /// Device node handling.
    pub devices: DevicePolicy,
    /// Apply `SCHILY.xattr.*` records (those the kernel refuses are noted).
    pub xattrs: bool,
    /// What whiteouts do.
    pub whiteouts: WhiteoutStyle,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions {
            max_uncompressed_bytes: 64 << 30,
            max_entries: 10_000_000,
            preserve_ownership: true,
            id_mapping: None,
            devices: DevicePolicy::default(),
            xattrs: true,
            whiteouts: WhiteoutStyle::Apply,
        }
    }
}

/// What [`apply_layer`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ApplyReport {
    /// Entries processed.
    pub entries: u64,
    /// Things skipped or degraded, one line each (devices not created, xattrs refused...).
    pub notes: Vec<String>,
    /// Directories made only because the layer has entries below them (it
    /// lists none for them), relative, parents first. Their owner and
    /// mode are not the layer's: over other layers, theirs show through.
    pub implicit_dirs: Vec<Vec<u8>>,
}

/// Applies the layer in `blob` (gzip, zstd or plain; detected) onto `target`.
pub fn apply_layer_file(blob: &Path, target: &Path, opts: &ApplyOptions) -> Result<ApplyReport> {
    let f = std::fs::File::open(blob).map_err(|e| Error::io("opening layer", blob, e))?;
    apply_layer(f, &blob.display().to_string(), target, opts)
}

/// Applies a layer read from `input` onto the existing directory `target`.
/// `layer` names the layer in errors.
pub fn apply_layer(
    input: impl Read + Send + 'static,
    layer: &str,
    target: &Path,
    opts: &ApplyOptions,
) -> Result<ApplyReport> {
    let root = rustix::fs::open(
        target,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::io("opening target directory", target, e.into()))?;
    let reader = decompress(input, opts.max_uncompressed_bytes, layer)?;
    let mut archive = tar::Archive::new(reader);
    let mut ctx = Applier {
        root,
        target: target.to_path_buf(),
        opts: opts.clone(),
        is_root: rustix::process::geteuid().is_root(),
        created: HashSet::new(),
        implicit: HashSet::new(),
        dirs: Vec::new(),
        report: ApplyReport::default(),
        use_openat2: true,
    };
    let entries = archive
        .entries()
        .map_err(|e| unwrap_io(e, "reading layer", layer))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| malformed_or_cap(e, layer))?;
        ctx.report.entries += 1;
        if ctx.report.entries > opts.max_entries {
            return Err(Error::MalformedTar {
                layer: layer.to_string(),
                reason: format!(
                    "more than {} entries; raise ApplyOptions::max_entries if the layer is trusted",
                    opts.max_entries
                ),
            });
        }
        ctx.apply_entry(&mut entry, layer)?;
    }
    ctx.finish_dirs();
    let mut implicit: Vec<Vec<u8>> = ctx.implicit.into_iter().collect();
    implicit.sort_by_key(|p| (p.iter().filter(|b| **b == b'/').count(), p.clone()));
    ctx.report.implicit_dirs = implicit;
    Ok(ctx.report)
}

fn malformed_or_cap(e: io::Error, layer: &str) -> Error {
    match unwrap_io(e, "reading", layer) {
        Error::Io { source, .. } => Error::MalformedTar {
            layer: layer.to_string(),
            reason: source.to_string(),
        },
        other => other,
    }
}

struct Applier {
    root: OwnedFd,
    target: PathBuf,
    opts: ApplyOptions,
    is_root: bool,
    /// Paths created by this layer: an opaque marker must not delete them.
    created: HashSet<Vec<u8>>,
    /// Directories made for entries below them that the layer does not list.
    implicit: HashSet<Vec<u8>>,
    /// Directories whose times are set at the end (adding children changes them).
    dirs: Vec<(Vec<Vec<u8>>, u64)>,
    report: ApplyReport,
    use_openat2: bool,
}

struct Meta {
    mode: u32,
    uid: u64,
    gid: u64,
    mtime: u64,
    xattrs: Vec<(String, Vec<u8>)>,
}

fn errno_io(e: Errno) -> io::Error {
    e.into()
}

impl Applier {
    fn hostile(&self, name: &[u8], reason: impl Into<String>) -> Error {
        Error::hostile(String::from_utf8_lossy(name).into_owned(), reason)
    }

    fn io(&self, name: &[u8], action: &'static str, e: Errno) -> Error {
        Error::io(
            action,
            self.target.join(String::from_utf8_lossy(name).as_ref()),
            errno_io(e),
        )
    }

    // Long: one arm per entry kind, each with its safety checks in the
    // order they must run (name, declared size, header, parent, whiteout,
    // kind); split apart, a check could be skipped for one kind without
    // it showing.
    fn apply_entry<R: Read>(&mut self, entry: &mut tar::Entry<'_, R>, layer: &str) -> Result<()> {
        let raw_name = entry.path_bytes().into_owned();
        crate::pax::check_entry(entry).map_err(|reason| self.hostile(&raw_name, reason))?;
        let comps = clean_components(&raw_name)?;
        let header = entry.header();
        let ty = header.entry_type();
        let size = entry.size();
        let cap = self.opts.max_uncompressed_bytes;
        if size > cap {
            return Err(self.hostile(
                &raw_name,
                format!("declares {size} bytes, more than the cap of {cap}"),
            ));
        }
        let mode = header.mode().map_err(|e| malformed_or_cap(e, layer))?;
        let uid = header.uid().map_err(|e| malformed_or_cap(e, layer))?;
        let gid = header.gid().map_err(|e| malformed_or_cap(e, layer))?;
        let mtime = header.mtime().map_err(|e| malformed_or_cap(e, layer))?;
        let mut xattrs = Vec::new();
        if let Some(exts) = entry
            .pax_extensions()
            .map_err(|e| malformed_or_cap(e, layer))?
        {
            for ext in exts {
                let ext = ext.map_err(|e| malformed_or_cap(e, layer))?;
                if let Ok(key) = ext.key() {
                    if let Some(name) = key.strip_prefix("SCHILY.xattr.") {
                        xattrs.push((name.to_string(), ext.value_bytes().to_vec()));
                    }
                }
            }
        }
        let meta = Meta {
            mode,
            uid,
            gid,
            mtime,
            xattrs,
        };
        let Some((leaf, parent)) = comps.split_last() else {
            // The root itself: its metadata belongs to the target, not the layer.
            if ty != tar::EntryType::Directory {
                return Err(self.hostile(&raw_name, "only a directory may name the layer root"));
            }
            return Ok(());
        };
        let leaf_str = leaf.as_slice();
        if let Some(rest) = leaf_str.strip_prefix(WHITEOUT_PREFIX.as_bytes()) {
            let dir = self.open_dir(parent, &raw_name, true)?;
            if let WhiteoutStyle::Overlay { xattr_prefix } = &self.opts.whiteouts {
                let prefix = xattr_prefix.clone();
                return self.overlay_whiteout(&dir, leaf_str, rest, &prefix, &raw_name);
            }
            if leaf_str == OPAQUE_MARKER.as_bytes() {
                self.make_opaque(&dir, parent, &raw_name)?;
            } else if rest.starts_with(WHITEOUT_PREFIX.as_bytes()) {
                // Other `.wh..wh.` names are aufs bookkeeping: meaningless here.
                self.report.notes.push(format!(
                    "{}: aufs metadata entry ignored",
                    String::from_utf8_lossy(&raw_name)
                ));
            } else {
                if rest.is_empty() {
                    return Err(self.hostile(&raw_name, "whiteout without a name"));
                }
                self.remove_at(&dir, rest, &raw_name)?;
            }
            return Ok(());
        }
        let dir = self.open_dir(parent, &raw_name, true)?;
        let full = join(&comps);
        match ty {
            tar::EntryType::Directory => {
                self.implicit.remove(&full);
                self.make_dir(&dir, leaf, &raw_name, &meta)?;
                self.dirs.push((comps.clone(), meta.mtime));
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                self.clear_for(&dir, leaf, &raw_name)?;
                let fd = rustix::fs::openat(
                    &dir,
                    leaf.as_slice(),
                    OFlags::WRONLY
                        | OFlags::CREATE
                        | OFlags::EXCL
                        | OFlags::NOFOLLOW
                        | OFlags::CLOEXEC,
                    Mode::from_raw_mode(0o600),
                )
                .map_err(|e| self.io(&raw_name, "creating", e))?;
                let mut file = std::fs::File::from(fd);
                let copied = io::copy(&mut entry.take(size), &mut file)
                    .map_err(|e| malformed_or_cap(e, layer))?;
                if copied != size {
                    return Err(Error::MalformedTar {
                        layer: layer.to_string(),
                        reason: format!(
                            "{}: tar ends after {copied} of {size} bytes",
                            String::from_utf8_lossy(&raw_name)
                        ),
                    });
                }
                self.set_fd_meta(file.as_fd(), &raw_name, &meta)?;
            }
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| self.hostile(&raw_name, "symlink without a target"))?
                    .into_owned();
                if target.contains(&0) {
                    return Err(self.hostile(&raw_name, "symlink target contains a NUL byte"));
                }
                self.clear_for(&dir, leaf, &raw_name)?;
                rustix::fs::symlinkat(target.as_slice(), &dir, leaf.as_slice())
                    .map_err(|e| self.io(&raw_name, "creating symlink", e))?;
                if let Some((uid, gid)) = self.owner(&raw_name, &meta)? {
                    rustix::fs::chownat(
                        &dir,
                        leaf.as_slice(),
                        Some(uid),
                        Some(gid),
                        AtFlags::SYMLINK_NOFOLLOW,
                    )
                    .map_err(|e| self.io(&raw_name, "setting owner of", e))?;
                }
                let ts = timestamps(meta.mtime);
                let _ =
                    rustix::fs::utimensat(&dir, leaf.as_slice(), &ts, AtFlags::SYMLINK_NOFOLLOW);
            }
            tar::EntryType::Link => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| self.hostile(&raw_name, "hardlink without a target"))?
                    .into_owned();
                let tcomps = clean_components(&target).map_err(|e| match e {
                    Error::HostileEntry { reason, .. } => self.hostile(
                        &raw_name,
                        format!(
                            "hardlink target {:?}: {reason}",
                            String::from_utf8_lossy(&target)
                        ),
                    ),
                    other => other,
                })?;
                let Some((tleaf, tparent)) = tcomps.split_last() else {
                    return Err(self.hostile(&raw_name, "hardlink to the root directory"));
                };
                let tdir = self.open_dir(tparent, &raw_name, false)?;
                let st = rustix::fs::statat(&tdir, tleaf.as_slice(), AtFlags::SYMLINK_NOFOLLOW)
                    .map_err(|e| self.io(&target, "finding hardlink target", e))?;
                if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
                    return Err(self.hostile(&raw_name, "hardlink to a directory"));
                }
                if join(&tcomps) == full {
                    return Ok(());
                }
                self.clear_for(&dir, leaf, &raw_name)?;
                rustix::fs::linkat(
                    &tdir,
                    tleaf.as_slice(),
                    &dir,
                    leaf.as_slice(),
                    AtFlags::empty(),
                )
                .map_err(|e| self.io(&raw_name, "creating hardlink", e))?;
            }
            tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => {
                self.make_node(&dir, leaf, &raw_name, ty, entry.header(), &meta)?;
            }
            tar::EntryType::XGlobalHeader => return Ok(()),
            other => {
                return Err(self.hostile(
                    &raw_name,
                    format!("unsupported tar entry type {:?}", other.as_byte() as char),
                ))
            }
        }
        self.created.insert(full);
        Ok(())
    }

    /// Opens directory `comps` under the root, creating missing directories
    /// (0755) when `create` is set. Never leaves the root.
    fn open_dir(&mut self, comps: &[Vec<u8>], name: &[u8], create: bool) -> Result<OwnedFd> {
        if comps.is_empty() {
            return rustix::fs::openat(&self.root, ".", dir_flags(), Mode::empty())
                .map_err(|e| self.io(b".", "opening", e));
        }
        let path = join(comps);
        match self.resolve(&path) {
            Ok(fd) => return Ok(fd),
            Err(Errno::NOENT) if create => {}
            Err(e) => return Err(self.resolve_error(e, name, &path)),
        }
        // Create the missing components one by one, each resolved from the root again.
        for i in 1..=comps.len() {
            let prefix = join(&comps[..i]);
            match self.resolve(&prefix) {
                Ok(_) => continue,
                Err(Errno::NOENT) => {
                    let parent = self.open_dir(&comps[..i - 1], name, false)?;
                    match rustix::fs::mkdirat(
                        &parent,
                        comps[i - 1].as_slice(),
                        Mode::from_raw_mode(0o755),
                    ) {
                        Ok(()) => {
                            self.implicit.insert(prefix.clone());
                        }
                        Err(Errno::EXIST) => {}
                        Err(e) => return Err(self.io(&prefix, "creating directory", e)),
                    }
                }
                Err(e) => return Err(self.resolve_error(e, name, &prefix)),
            }
        }
        self.resolve(&path)
            .map_err(|e| self.resolve_error(e, name, &path))
    }

    fn resolve_error(&self, e: Errno, name: &[u8], path: &[u8]) -> Error {
        let p = String::from_utf8_lossy(path);
        match e {
            Errno::XDEV => self.hostile(
                name,
                format!("resolving {p:?} leads outside the target directory (through a symlink)"),
            ),
            Errno::LOOP => self.hostile(
                name,
                format!("{p:?} goes through a symlink loop or a refused symlink"),
            ),
            Errno::NOTDIR => self.hostile(name, format!("{p:?} is not a directory")),
            other => self.io(path, "resolving", other),
        }
    }

    fn resolve(&mut self, path: &[u8]) -> std::result::Result<OwnedFd, Errno> {
        if self.use_openat2 {
            let how = ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS;
            for _ in 0..8 {
                match rustix::fs::openat2(&self.root, path, dir_flags(), Mode::empty(), how) {
                    Err(Errno::AGAIN) => continue,
                    Err(Errno::NOSYS) => {
                        self.use_openat2 = false;
                        break;
                    }
                    other => return other,
                }
            }
            if self.use_openat2 {
                return Err(Errno::AGAIN);
            }
        }
        // Fallback: one component at a time, refusing symlinks entirely.
        let mut cur = rustix::fs::openat(&self.root, ".", dir_flags(), Mode::empty())?;
        for comp in path.split(|b| *b == b'/').filter(|c| !c.is_empty()) {
            cur = rustix::fs::openat(&cur, comp, dir_flags() | OFlags::NOFOLLOW, Mode::empty())?;
        }
        Ok(cur)
    }

    /// Removes whatever is at `leaf` unless it is a directory that the new
    /// entry (a directory) can reuse.
    fn clear_for(&self, dir: &OwnedFd, leaf: &[u8], name: &[u8]) -> Result<()> {
        match rustix::fs::statat(dir, leaf, AtFlags::SYMLINK_NOFOLLOW) {
            Err(Errno::NOENT) => Ok(()),
            Err(e) => Err(self.io(name, "inspecting", e)),
            Ok(st) => {
                if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
                    remove_tree(dir, leaf).map_err(|e| self.io(name, "replacing directory", e))
                } else {
                    rustix::fs::unlinkat(dir, leaf, AtFlags::empty())
                        .map_err(|e| self.io(name, "replacing", e))
                }
            }
        }
    }

    fn make_dir(&mut self, dir: &OwnedFd, leaf: &[u8], name: &[u8], meta: &Meta) -> Result<()> {
        match rustix::fs::statat(dir, leaf, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Directory => {}
            Ok(_) => {
                rustix::fs::unlinkat(dir, leaf, AtFlags::empty())
                    .map_err(|e| self.io(name, "replacing", e))?;
                rustix::fs::mkdirat(dir, leaf, Mode::from_raw_mode(0o700))
                    .map_err(|e| self.io(name, "creating directory", e))?;
            }
            Err(Errno::NOENT) => rustix::fs::mkdirat(dir, leaf, Mode::from_raw_mode(0o700))
                .map_err(|e| self.io(name, "creating directory", e))?,
            Err(e) => return Err(self.io(name, "inspecting", e)),
        }
        let fd = rustix::fs::openat(dir, leaf, dir_flags() | OFlags::NOFOLLOW, Mode::empty())
            .map_err(|e| self.io(name, "opening directory", e))?;
        self.set_fd_meta(fd.as_fd(), name, meta)
    }

    fn make_node(
        &mut self,
        dir: &OwnedFd,
        leaf: &[u8],
        name: &[u8],
        ty: tar::EntryType,
        header: &tar::Header,
        meta: &Meta,
    ) -> Result<()> {
        let shown = String::from_utf8_lossy(name).into_owned();
        let is_device = ty != tar::EntryType::Fifo;
        if is_device {
            match self.opts.devices {
                DevicePolicy::Reject => {
                    return Err(self.hostile(name, "device nodes are refused by the apply options"))
                }
                DevicePolicy::Skip => {
                    self.report
                        .notes
                        .push(format!("{shown}: device node skipped"));
                    return Ok(());
                }
                DevicePolicy::CreateIfPermitted if !self.is_root => {
                    self.report.notes.push(format!(
                        "{shown}: device node skipped (not running as root)"
                    ));
                    return Ok(());
                }
                DevicePolicy::CreateIfPermitted => {}
            }
        }
        let major = header.device_major().ok().flatten().unwrap_or(0);
        let minor = header.device_minor().ok().flatten().unwrap_or(0);
        let ft = match ty {
            tar::EntryType::Char => FileType::CharacterDevice,
            tar::EntryType::Block => FileType::BlockDevice,
            _ => FileType::Fifo,
        };
        self.clear_for(dir, leaf, name)?;
        match rustix::fs::mknodat(
            dir,
            leaf,
            ft,
            Mode::from_raw_mode(meta.mode & 0o777),
            rustix::fs::makedev(major, minor),
        ) {
            Ok(()) => {}
            Err(Errno::PERM) | Err(Errno::ACCESS) if is_device => {
                self.report.notes.push(format!(
                    "{shown}: device node skipped (creation not permitted)"
                ));
                return Ok(());
            }
            Err(e) => return Err(self.io(name, "creating node", e)),
        }
        if let Some((uid, gid)) = self.owner(name, meta)? {
            rustix::fs::chownat(dir, leaf, Some(uid), Some(gid), AtFlags::SYMLINK_NOFOLLOW)
                .map_err(|e| self.io(name, "setting owner of", e))?;
        }
        let _ = rustix::fs::utimensat(
            dir,
            leaf,
            &timestamps(meta.mtime),
            AtFlags::SYMLINK_NOFOLLOW,
        );
        Ok(())
    }

    /// The owner to set for an entry, if ownership is applied at all.
    fn owner(
        &self,
        name: &[u8],
        meta: &Meta,
    ) -> Result<Option<(rustix::fs::Uid, rustix::fs::Gid)>> {
        if !self.opts.preserve_ownership {
            return Ok(None);
        }
        match &self.opts.id_mapping {
            Some(m) => {
                let uid = IdMapping::map(&m.uids, meta.uid);
                let gid = IdMapping::map(&m.gids, meta.gid);
                match (uid, gid) {
                    (Some(u), Some(g)) => Ok(Some((uid_of(u), gid_of(g)))),
                    _ => Err(self.hostile(
                        name,
                        format!(
                            "owner {}:{} is outside the id mapping; extend the mapping (subordinate ids)",
                            meta.uid, meta.gid
                        ),
                    )),
                }
            }
            None if self.is_root => Ok(Some((uid_of(meta.uid), gid_of(meta.gid)))),
            None => Ok(None),
        }
    }

    fn set_fd_meta(
        &mut self,
        fd: rustix::fd::BorrowedFd<'_>,
        name: &[u8],
        meta: &Meta,
    ) -> Result<()> {
        if let Some((uid, gid)) = self.owner(name, meta)? {
            rustix::fs::fchown(fd, Some(uid), Some(gid))
                .map_err(|e| self.io(name, "setting owner of", e))?;
        }
        // Without root, setuid/setgid bits cannot be kept meaningfully.
        let mask = if self.is_root { 0o7777 } else { 0o1777 };
        rustix::fs::fchmod(fd, Mode::from_raw_mode(meta.mode & mask))
            .map_err(|e| self.io(name, "setting mode of", e))?;
        if self.opts.xattrs {
            for (k, v) in &meta.xattrs {
                if let Err(e) =
                    rustix::fs::fsetxattr(fd, k.as_str(), v, rustix::fs::XattrFlags::empty())
                {
                    self.report.notes.push(format!(
                        "{}: xattr {k} not set ({e})",
                        String::from_utf8_lossy(name)
                    ));
                }
            }
        }
        rustix::fs::futimens(fd, &timestamps(meta.mtime))
            .map_err(|e| self.io(name, "setting times of", e))
    }

    fn remove_at(&self, dir: &OwnedFd, leaf: &[u8], name: &[u8]) -> Result<()> {
        match rustix::fs::statat(dir, leaf, AtFlags::SYMLINK_NOFOLLOW) {
            Err(Errno::NOENT) => Ok(()),
            Err(e) => Err(self.io(name, "inspecting", e)),
            Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Directory => {
                remove_tree(dir, leaf).map_err(|e| self.io(name, "removing", e))
            }
            Ok(_) => rustix::fs::unlinkat(dir, leaf, AtFlags::empty())
                .map_err(|e| self.io(name, "removing", e)),
        }
    }

    /// Records a whiteout or opaque marker the way overlayfs reads it.
    fn overlay_whiteout(
        &mut self,
        dir: &OwnedFd,
        leaf: &[u8],
        rest: &[u8],
        xattr_prefix: &str,
        name: &[u8],
    ) -> Result<()> {
        if leaf == OPAQUE_MARKER.as_bytes() {
            let attr = format!("{xattr_prefix}overlay.opaque");
            return rustix::fs::fsetxattr(
                dir,
                attr.as_str(),
                b"y",
                rustix::fs::XattrFlags::empty(),
            )
            .map_err(|e| self.io(name, "marking opaque", e));
        }
        if rest.starts_with(WHITEOUT_PREFIX.as_bytes()) {
            return Ok(());
        }
        if rest.is_empty() {
            return Err(self.hostile(name, "whiteout without a name"));
        }
        self.remove_at(dir, rest, name)?;
        // Since Linux 5.8 anyone may create a 0/0 character device (a whiteout).
        rustix::fs::mknodat(
            dir,
            rest,
            FileType::CharacterDevice,
            Mode::empty(),
            rustix::fs::makedev(0, 0),
        )
        .map_err(|e| self.io(name, "creating whiteout", e))
    }

    /// Removes every child of `dir` that this layer did not create.
    fn make_opaque(&self, dir: &OwnedFd, parent: &[Vec<u8>], name: &[u8]) -> Result<()> {
        for child in list_dir(dir).map_err(|e| self.io(name, "listing", e))? {
            let mut p = parent.to_vec();
            p.push(child.clone());
            if !self.created.contains(&join(&p)) {
                self.remove_at(dir, &child, name)?;
            }
        }
        Ok(())
    }

    fn finish_dirs(&mut self) {
        let dirs = std::mem::take(&mut self.dirs);
        for (comps, mtime) in dirs.iter().rev() {
            if let Ok(fd) = self.resolve(&join(comps)) {
                let _ = rustix::fs::futimens(&fd, &timestamps(*mtime));
            }
        }
    }
}

fn dir_flags() -> OFlags {
    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC
}

fn uid_of(id: u64) -> rustix::fs::Uid {
    rustix::fs::Uid::from_raw(u32::try_from(id).unwrap_or(u32::MAX - 1))
}

fn gid_of(id: u64) -> rustix::fs::Gid {
    rustix::fs::Gid::from_raw(u32::try_from(id).unwrap_or(u32::MAX - 1))
}

fn timestamps(mtime: u64) -> Timestamps {
    let t = Timespec {
        tv_sec: i64::try_from(mtime).unwrap_or(i64::MAX),
        tv_nsec: 0,
    };
    Timestamps {
        last_access: t,
        last_modification: t,
    }
}

fn list_dir(dir: &OwnedFd) -> std::result::Result<Vec<Vec<u8>>, Errno> {
    let fd = rustix::fs::openat(dir, ".", dir_flags(), Mode::empty())?;
    let mut out = Vec::new();
    let mut d = rustix::fs::Dir::read_from(&fd)?;
    while let Some(e) = d.read() {
        let e = e?;
        let n = e.file_name().to_bytes();
        if n != b"." && n != b".." {
            out.push(n.to_vec());
        }
    }
    Ok(out)
}

/// Removes `leaf` in `dir` and everything below it, never following symlinks.
fn remove_tree(dir: &OwnedFd, leaf: &[u8]) -> std::result::Result<(), Errno> {
    match rustix::fs::openat(dir, leaf, dir_flags() | OFlags::NOFOLLOW, Mode::empty()) {
        Ok(sub) => {
            for child in list_dir(&sub)? {
                remove_tree(&sub, &child)?;
            }
            rustix::fs::unlinkat(dir, leaf, AtFlags::REMOVEDIR)
        }
        Err(Errno::NOTDIR) | Err(Errno::LOOP) => rustix::fs::unlinkat(dir, leaf, AtFlags::empty()),
        Err(e) => Err(e),
    }
}
