//! The store's areas besides blobs and tags, each behind a typed accessor:
//! no other crate builds a path inside the store, and [`Store::gc`] knows
//! every area.
//!
//! ```text
//! <root>/ingest/                               files being written, before they become blobs
//! <root>/wharf-tmp/<random>/                  temporary directories of running builds
//! <root>/wharf-cache/[run-]<key hex>[-tar].json  instruction cache records
//! <root>/wharf-cache/prefix-<hex>.seen          "a record was made for a step like this"
//! <root>/wharf-snapshots/<diff_id hex>[-user]    Linux layers unpacked for RUN
//! <root>/wharf-run-cache/<id hash>/              RUN --mount=type=cache directories
//! <root>/wharf-windows-layers/<chain id hex>/    Windows layer folders for RUN
//! ```
//!
//! Every name is a hex digest with an ASCII suffix: valid on every file
//! system, NTFS included.
//!
//! The areas that hold unpacked files (snapshots, temporary directories,
//! RUN caches, Windows layer folders) are mode 0700 on Unix, as
//! containerd's snapshotters: an unpacked base layer may hold set-uid root
//! programs, and no other local user may reach them. Rootless builds need
//! no group bit (Docker's 0710 with a remapped root): the store belongs to
//! the user, who is the namespace's root and mounts the overlays; the
//! commands inside reach the files only through those mounts. On Windows
//! the store's folder inherits the user profile's ACL.
//!
//! On ext2/3/4 the areas whose children are unrelated trees of many files
//! (snapshots, temporary directories, RUN caches) carry the "top of
//! directory hierarchy" flag (`chattr +T`), so that the Orlov allocator
//! puts each child in a block group of its own choosing instead of next to
//! its siblings. Without it every snapshot lands in the groups where the
//! last ones were deleted, and on an ext4 without a journal the inode
//! allocator re-reads every inode freed there in the last minute before
//! passing over it (`recently_deleted` in `fs/ext4/ialloc.c`): a cold
//! build whose RUN unpacks 2,000 files took 2.7-3.5 s right after such
//! deletions, 1.4-1.6 s with the flag (BENCHMARKS.md, cases 1 and 3).
//! Other file systems do not have the flag; setting it is best effort.

use crate::{sync_dir, Store, StoreError};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use wharf_oci::Digest;

pub(crate) const INGEST: &str = "ingest";
pub(crate) const TEMP: &str = "wharf-tmp";
pub(crate) const CACHE_RECORDS: &str = "wharf-cache";
pub(crate) const SNAPSHOTS: &str = "wharf-snapshots";
pub(crate) const RUN_CACHES: &str = "wharf-run-cache";
pub(crate) const WINDOWS_LAYERS: &str = "wharf-windows-layers";

/// What an instruction cache record remembers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordKind {
    /// The layer a COPY/ADD made.
    Layer,
    /// What a RUN produced (a layer or nothing, and the command run).
    Run,
}

/// Which layers a record's namespace holds: those of exported stages
/// (compressed as the build asks) or of stages no image exports (plain
/// tars), remembered apart so that each finds its own kind first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordSpace {
    /// Layers of stages that an image of the build contains.
    Exported,
    /// Plain-tar layers of stages no image exports.
    Plain,
}

/// The xattr namespace of the overlay that reads a snapshot: overlays
/// mounted by real root read `trusted.overlay.*`, overlays mounted in a
/// user namespace (rootless builds) `user.overlay.*`; the two kinds of a
/// layer's snapshot are kept apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotXattrs {
    /// `trusted.overlay.*`.
    Trusted,
    /// `user.overlay.*`.
    User,
}

impl SnapshotXattrs {
    fn suffix(self) -> &'static str {
        match self {
            SnapshotXattrs::Trusted => "",
            SnapshotXattrs::User => "-user",
        }
    }
}

/// The diff_id hex a snapshot directory name stands for.
pub(crate) fn snapshot_hex(name: &str) -> &str {
    // `<hex>[-user][.implicit]`: a snapshot, and the list of directories
    // it holds only as parents (see wharf-run's Linux executor).
    let name = name.strip_suffix(".implicit").unwrap_or(name);
    name.strip_suffix(SnapshotXattrs::User.suffix())
        .unwrap_or(name)
}

/// A temporary file in the store's ingest area, removed on drop unless
/// committed with [`Store::commit_hashed`]. Being on the store's file
/// system, it enters the store by rename.
pub struct IngestFile {
    file: tempfile::NamedTempFile,
}

impl IngestFile {
    /// Its path (to hand to a writer that opens it itself).
    pub fn path(&self) -> &Path {
        self.file.path()
    }

    /// The open file.
    pub fn as_file(&self) -> &File {
        self.file.as_file()
    }
}

/// The areas only the store's owner may enter.
const PRIVATE_AREAS: [&str; 4] = [TEMP, SNAPSHOTS, RUN_CACHES, WINDOWS_LAYERS];

/// The areas whose children are placed apart from each other (see the
/// module doc).
const SPREAD_AREAS: [&str; 3] = [TEMP, SNAPSHOTS, RUN_CACHES];

impl Store {
    fn area(&self, name: &str) -> Result<PathBuf, StoreError> {
        let dir = self.root().join(name);
        fs::create_dir_all(&dir).map_err(|e| StoreError::io("creating directory", &dir, e))?;
        if PRIVATE_AREAS.contains(&name) {
            owner_only(&dir)?;
        }
        if SPREAD_AREAS.contains(&name) {
            spread_children(&dir);
        }
        Ok(dir)
    }

    /// A private temporary directory for a build step (layer spools, a
    /// RUN's upper and work directories), removed on drop. Use it under a
    /// [`Store::lease`]: a collection removes every one it finds, since
    /// with no lease held they belong to no running build.
    pub fn temp_dir(&self) -> Result<tempfile::TempDir, StoreError> {
        let dir = self.area(TEMP)?;
        tempfile::tempdir_in(&dir).map_err(|e| StoreError::io("creating a directory in", &dir, e))
    }

    /// A temporary file that can enter the store by rename.
    pub fn ingest_file(&self) -> Result<IngestFile, StoreError> {
        let dir = self.area(INGEST)?;
        let file = tempfile::Builder::new()
            .prefix("hashed-")
            .tempfile_in(&dir)
            .map_err(|e| StoreError::io("creating a file in", &dir, e))?;
        Ok(IngestFile { file })
    }

    /// Puts a finished file, hashed as it was written, into the store as
    /// the blob `digest` of `size` bytes: fsync and rename, no second pass
    /// over the data. The size is checked; the digest is the writer's.
    pub fn commit_hashed(
        &self,
        file: IngestFile,
        digest: &Digest,
        size: u64,
    ) -> Result<(), StoreError> {
        let path = file.path().to_path_buf();
        let actual = file
            .as_file()
            .metadata()
            .map_err(|e| StoreError::io("reading", &path, e))?
            .len();
        if actual != size {
            return Err(StoreError::SizeMismatch {
                digest: digest.to_string(),
                expected: size,
                actual,
            });
        }
        if self.blob_size(digest) == Some(size) {
            return Ok(()); // already there; the temporary file goes on drop
        }
        file.as_file()
            .sync_all()
            .map_err(|e| StoreError::io("syncing", &path, e))?;
        let dest = self.blob_path(digest);
        let dir = dest.parent().map(Path::to_path_buf).unwrap_or_default();
        fs::create_dir_all(&dir).map_err(|e| StoreError::io("creating directory", &dir, e))?;
        file.file
            .persist(&dest)
            .map_err(|e| StoreError::io("renaming into the store", &dest, e.error))?;
        sync_dir(&dir);
        Ok(())
    }

    fn record_path(&self, kind: RecordKind, space: RecordSpace, key: &Digest) -> PathBuf {
        let prefix = match kind {
            RecordKind::Layer => "",
            RecordKind::Run => "run-",
        };
        let suffix = match space {
            RecordSpace::Exported => "",
            RecordSpace::Plain => "-tar",
        };
        self.root()
            .join(CACHE_RECORDS)
            .join(format!("{prefix}{}{suffix}.json", key.hex()))
    }

    /// The instruction cache record for `key`, if there is a readable one.
    pub fn read_cache_record<T: DeserializeOwned>(
        &self,
        kind: RecordKind,
        space: RecordSpace,
        key: &Digest,
    ) -> Option<T> {
        serde_json::from_slice(&fs::read(self.record_path(kind, space, key)).ok()?).ok()
    }

    /// Writes the instruction cache record for `key`, atomically.
    pub fn write_cache_record(
        &self,
        kind: RecordKind,
        space: RecordSpace,
        key: &Digest,
        record: &impl Serialize,
    ) -> Result<(), StoreError> {
        let path = self.record_path(kind, space, key);
        let dir = self.area(CACHE_RECORDS)?;
        let mut tmp = tempfile::NamedTempFile::new_in(&dir)
            .map_err(|e| StoreError::io("creating a file in", &dir, e))?;
        let json = serde_json::to_vec(record).unwrap_or_default();
        tmp.write_all(&json)
            .map_err(|e| StoreError::io("writing", &path, e))?;
        tmp.persist(&path)
            .map_err(|e| StoreError::io("replacing", &path, e.error))?;
        Ok(())
    }

    fn prefix_path(&self, prefix: &Digest) -> PathBuf {
        self.root()
            .join(CACHE_RECORDS)
            .join(format!("prefix-{}.seen", prefix.hex()))
    }

    /// Whether [`Store::note_cache_prefix`] was called for `prefix`: a
    /// builder names with it everything of a step's key but what is costly
    /// to compute (the contents a COPY reads), and skips computing that
    /// when no record of such a step was ever made. Markers are never
    /// collected: a stale one only means the cost is paid.
    pub fn cache_prefix_seen(&self, prefix: &Digest) -> bool {
        self.prefix_path(prefix).exists()
    }

    /// Marks `prefix` as seen, before a record under it is written.
    pub fn note_cache_prefix(&self, prefix: &Digest) -> Result<(), StoreError> {
        let path = self.prefix_path(prefix);
        if path.exists() {
            return Ok(());
        }
        self.area(CACHE_RECORDS)?;
        File::create(&path).map_err(|e| StoreError::io("creating", &path, e))?;
        Ok(())
    }

    /// Where the snapshot of the layer `diff_id` for overlays reading
    /// `xattrs` lives (it may not exist yet), and the directory in which
    /// to unpack it before renaming it into place.
    pub fn snapshot_dir(
        &self,
        diff_id: &Digest,
        xattrs: SnapshotXattrs,
    ) -> Result<(PathBuf, PathBuf), StoreError> {
        let area = self.area(SNAPSHOTS)?;
        let dest = area.join(format!("{}{}", diff_id.hex(), xattrs.suffix()));
        Ok((dest, area))
    }

    /// The directory of the RUN cache mount `id` (created when missing);
    /// the id itself is hashed, so any string is a valid id on every OS.
    pub fn run_cache_dir(&self, id: &str) -> Result<PathBuf, StoreError> {
        let hash = Digest::of_bytes(id.as_bytes());
        let dir = self.area(RUN_CACHES)?.join(&hash.hex()[..32]);
        fs::create_dir_all(&dir).map_err(|e| StoreError::io("creating directory", &dir, e))?;
        // Which id the directory belongs to, for people looking at the store.
        let _ = fs::write(dir.join("id"), id);
        Ok(dir)
    }

    /// The folder of the Windows layer whose chain id is `chain_id` (it
    /// may not exist yet), and the folder to stage an import in.
    pub fn windows_layer_folder(
        &self,
        chain_id: &Digest,
    ) -> Result<(PathBuf, PathBuf), StoreError> {
        let area = self.area(WINDOWS_LAYERS)?;
        Ok((area.join(chain_id.hex()), area))
    }
}

/// Makes `dir` mode 0700 (also an area an older version left 0755).
#[cfg(unix)]
fn owner_only(dir: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = fs::metadata(dir)
        .map_err(|e| StoreError::io("reading", dir, e))?
        .permissions()
        .mode();
    if mode & 0o7777 != 0o700 {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
            .map_err(|e| StoreError::io("making private (mode 0700)", dir, e))?;
    }
    Ok(())
}

/// Sets the "top of directory hierarchy" inode flag on `dir` where the
/// file system has it; anything else (no such flag, no permission) leaves
/// the directory as it is, since the flag only decides where new
/// directories go.
#[cfg(target_os = "linux")]
fn spread_children(dir: &Path) {
    use rustix::fs::{ioctl_getflags, ioctl_setflags, IFlags, Mode, OFlags};
    let Ok(fd) = rustix::fs::open(
        dir,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    ) else {
        return;
    };
    if let Ok(flags) = ioctl_getflags(&fd) {
        if !flags.contains(IFlags::TOPDIR) {
            let _ = ioctl_setflags(&fd, flags | IFlags::TOPDIR);
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn spread_children(_dir: &Path) {}

#[cfg(not(unix))]
fn owner_only(_dir: &Path) -> Result<(), StoreError> {
    Ok(())
}
