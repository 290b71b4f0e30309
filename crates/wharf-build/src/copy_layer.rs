//! The one layer a COPY or ADD writes, in the stage's OS format, whatever
//! its sources: [`CopyWriter`] holds a Linux layer writer (modes, owners,
//! mtimes) or a Windows layer writer
//! (which adds `Files/`, ancestors and PAX metadata; `--chown` becomes the
//! owner in each security descriptor), and takes context files, inline
//! files (here-documents, downloads) and extracted archives. Copies from
//! another stage go through the layer engine's transforms on the same
//! writers ([`CopyWriter::layer`]).
//!
//! Data streams from its source into the layer writer; nothing is held in
//! memory.
//!
//! A Linux layer holds no entry for the parents of what it copies: a
//! parent the image has keeps its owner and mode (`COPY a /tmp/a` leaves
//! `/tmp` 1777, as BuildKit does), and one it lacks is created root-owned
//! 0755 by whoever unpacks the layer, which is what an entry would say.
//! The base's directories are not known here (its layers are not read).

use crate::cache_key::entry_record;
use crate::context::{BuildContext, EntryKind};
use crate::copy_plan::CopyEntry;
use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::{Read, Write};
use wharf_frontend::chmod::Chmod;
use wharf_layer::windows::sddl::with_owner;
use wharf_layer::{
    tarfmt, LinuxLayerOptions, LinuxLayerWriter, TarEntry, Timestamp, WinMeta, WindowsBase,
    WindowsLayerOptions, WindowsLayerWriter,
};
use wharf_oci::{Digest, Hasher};

/// Writing the layer failed.
#[derive(Debug, thiserror::Error)]
pub enum CopyLayerError {
    #[error("{path}: cannot read it from the build context: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Archive(Box<wharf_layer::archive::ArchiveError>),
    #[error("{path}: {source}")]
    Layer {
        path: String,
        #[source]
        source: wharf_layer::Error,
    },
}

/// How a COPY's entries are written.
#[derive(Clone, Copy)]
pub struct CopyOptions<'a> {
    /// Linux owner from `--chown`, else 0:0.
    pub linux_owner: Option<(u64, u64)>,
    /// Windows owner SID from `--chown`.
    pub windows_owner: Option<&'a str>,
    pub chmod: Option<&'a Chmod>,
    /// Time for directories the layer makes up, and the upper bound of
    /// every mtime (`SOURCE_DATE_EPOCH`, when set).
    pub timestamp: u64,
    pub clamp_mtimes: bool,
    /// Told the bytes of file data packed so far, after each file.
    pub progress: Option<&'a dyn Fn(u64)>,
}

/// A layer writer of either OS, as the sources of a COPY use it.
pub enum LayerMut<'l, 'w> {
    Linux(&'l mut LinuxLayerWriter<&'w mut dyn Write>),
    Windows(&'l mut WindowsLayerWriter<'w, &'w mut dyn Write>),
}

enum Layer<'w> {
    Linux(LinuxLayerWriter<&'w mut dyn Write>, BTreeSet<String>),
    Windows(WindowsLayerWriter<'w, &'w mut dyn Write>),
}

/// The layer one COPY/ADD writes.
pub struct CopyWriter<'w> {
    layer: Layer<'w>,
    opts: CopyOptions<'w>,
    packed: u64,
}

/// Extraction failed (the archive names itself in the message).
fn archive_err(e: wharf_layer::archive::ArchiveError) -> CopyLayerError {
    CopyLayerError::Archive(Box::new(e))
}

fn mtime_of(meta: &fs::Metadata) -> u64 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(unix)]
fn mode_of(meta: &fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o7777
}

#[cfg(not(unix))]
fn mode_of(meta: &fs::Metadata) -> u32 {
    windows_context_mode(meta.is_dir(), meta.permissions().readonly())
}

/// Docker's mode for a file from a build context on a Windows host, which
/// has no Unix mode: Go reports 0666 (read-only: 0444, plus 0111 for a
/// directory) and Docker's archive code keeps `mode & 0755 | 0111`, so
/// 0755, or 0555 when read-only.
#[cfg_attr(unix, allow(dead_code))]
pub(crate) fn windows_context_mode(is_dir: bool, readonly: bool) -> u32 {
    let go_mode = if readonly { 0o444 } else { 0o666 } | if is_dir { 0o111 } else { 0 };
    (go_mode & 0o755) | 0o111
}

fn read_err(path: &str) -> impl FnOnce(std::io::Error) -> CopyLayerError + '_ {
    move |source| CopyLayerError::Read {
        path: path.to_string(),
        source,
    }
}

fn layer_err(path: &str) -> impl FnOnce(wharf_layer::Error) -> CopyLayerError + '_ {
    move |source| CopyLayerError::Layer {
        path: path.to_string(),
        source,
    }
}

impl<'w> CopyWriter<'w> {
    /// A Linux layer of files from the build context (or downloads,
    /// here-documents, archives): every entry owned by `--chown` or root,
    /// no extended attributes of the host's files.
    pub fn linux(out: &'w mut dyn Write, opts: CopyOptions<'w>) -> Self {
        let options = LinuxLayerOptions {
            source_date_epoch: opts.clamp_mtimes.then_some(opts.timestamp),
            owner: Some(opts.linux_owner.unwrap_or((0, 0))),
            skip_xattrs: true,
        };
        Self::with_linux(out, options, opts)
    }

    /// A Linux layer of another stage's files: owners and extended
    /// attributes come from that stage unless `--chown` says otherwise.
    pub fn linux_from_stage(
        out: &'w mut dyn Write,
        source_date_epoch: Option<u64>,
        opts: CopyOptions<'w>,
    ) -> Self {
        let options = LinuxLayerOptions {
            source_date_epoch,
            owner: None,
            skip_xattrs: false,
        };
        Self::with_linux(out, options, opts)
    }

    fn with_linux(
        out: &'w mut dyn Write,
        options: LinuxLayerOptions,
        opts: CopyOptions<'w>,
    ) -> Self {
        CopyWriter {
            layer: Layer::Linux(LinuxLayerWriter::new(out, options), BTreeSet::new()),
            opts,
            packed: 0,
        }
    }

    /// A Windows layer; `base` is what the image below has (directory
    /// metadata the layer re-declares).
    pub fn windows(
        out: &'w mut dyn Write,
        base: &'w dyn WindowsBase,
        opts: CopyOptions<'w>,
    ) -> Result<Self, CopyLayerError> {
        let w = WindowsLayerWriter::new(
            out,
            base,
            WindowsLayerOptions {
                timestamp: Timestamp::from_secs(opts.timestamp),
                base_layer: false,
            },
        )
        .map_err(layer_err("layer"))?;
        Ok(CopyWriter {
            layer: Layer::Windows(w),
            opts,
            packed: 0,
        })
    }

    /// The options the layer is written with.
    pub fn options(&self) -> &CopyOptions<'w> {
        &self.opts
    }

    /// The layer writer itself, for the layer engine's copies.
    pub fn layer(&mut self) -> LayerMut<'_, 'w> {
        match &mut self.layer {
            Layer::Linux(writer, _) => LayerMut::Linux(writer),
            Layer::Windows(w) => LayerMut::Windows(w),
        }
    }

    fn packed(&mut self, size: u64) {
        self.packed += size;
        if let Some(p) = self.opts.progress {
            p(self.packed);
        }
    }

    /// Ends the layer.
    pub fn finish(self) -> Result<(), CopyLayerError> {
        match self.layer {
            Layer::Linux(w, _) => w.finish().map(drop),
            Layer::Windows(w) => w.finish().map(drop),
        }
        .map_err(layer_err("layer"))
    }

    /// A Windows file's metadata: the owner, and read-only when `--chmod`
    /// takes every write bit away (the one mode bit Windows has).
    fn windows_meta(&self, mut m: WinMeta, file: bool) -> Result<WinMeta, CopyLayerError> {
        if let Some(sid) = self.opts.windows_owner {
            m.security_descriptor =
                with_owner(&m.security_descriptor, sid).map_err(layer_err(sid))?;
        }
        if file
            && self
                .opts
                .chmod
                .is_some_and(|c| c.apply(0o644, false) & 0o222 == 0)
        {
            m.attributes |= 1; // FILE_ATTRIBUTE_READONLY
        }
        Ok(m)
    }

    /// Adds one planned entry of `ctx`. Symlinks into a Windows layer
    /// keep their target with `\\` separators (relative links stay
    /// relative).
    pub fn context_entry(
        &mut self,
        ctx: &BuildContext,
        e: &CopyEntry,
    ) -> Result<(), CopyLayerError> {
        self.context_entry_keyed(ctx, e, None)
    }

    /// As [`CopyWriter::context_entry`], adding the entry's part of the
    /// COPY's content digest (`cache_key::copy_sources_digest`) to `key`
    /// from the bytes the layer takes: the file is read once.
    pub fn context_entry_keyed(
        &mut self,
        ctx: &BuildContext,
        e: &CopyEntry,
        key: Option<&mut Hasher>,
    ) -> Result<(), CopyLayerError> {
        let name = e.dest.trim_start_matches('/').to_string();
        let mut file_digest = None;
        if !name.is_empty() {
            let host = ctx.host_path(&e.source);
            let hash = key.is_some() && e.kind == EntryKind::File;
            let (size, digest) = if matches!(self.layer, Layer::Linux(..)) {
                self.linux_context_entry(&host, &name, e, hash)?
            } else {
                self.windows_context_entry(&host, &name, e, hash)?
            };
            file_digest = digest;
            if e.kind == EntryKind::File {
                self.packed(size);
            }
        }
        if let Some(key) = key {
            let record = entry_record(ctx, e, file_digest.as_ref()).map_err(read_err(&e.source))?;
            key.update(&record);
        }
        Ok(())
    }

    /// Writes one context entry; with `hash`, also the SHA-256 of a
    /// file's bytes as written.
    fn linux_context_entry(
        &mut self,
        host: &std::path::Path,
        name: &str,
        e: &CopyEntry,
        hash: bool,
    ) -> Result<(u64, Option<Digest>), CopyLayerError> {
        let opts = self.opts;
        let Layer::Linux(w, dirs) = &mut self.layer else {
            unreachable!("called for Linux layers only")
        };
        let meta = fs::symlink_metadata(host).map_err(read_err(&e.source))?;
        let mut mode = mode_of(&meta);
        if let (Some(c), false) = (opts.chmod, e.kind == EntryKind::Symlink) {
            mode = c.apply(mode, e.kind == EntryKind::Dir);
        }
        let (entry, mut data, size) = match e.kind {
            EntryKind::Dir => {
                if !dirs.insert(name.to_string()) {
                    return Ok((0, None));
                }
                let entry = TarEntry::new(format!("{name}/"), tarfmt::EntryKind::Dir);
                (entry, None, 0)
            }
            EntryKind::File => {
                let f = File::open(host).map_err(read_err(&e.source))?;
                let size = f.metadata().map_err(read_err(&e.source))?.len();
                let entry = TarEntry::new(name.to_string(), tarfmt::EntryKind::File { size });
                (entry, Some(HashingRead::new(f, hash)), size)
            }
            EntryKind::Symlink => {
                let target = fs::read_link(host).map_err(read_err(&e.source))?;
                let target = target.to_string_lossy().to_string();
                mode = 0o777;
                let entry = TarEntry::new(name.to_string(), tarfmt::EntryKind::Symlink { target });
                (entry, None, 0)
            }
            EntryKind::Other => return Ok((0, None)),
        };
        let mut entry = entry;
        entry.mode = mode;
        entry.mtime = mtime_of(&meta);
        w.append(entry, data.as_mut().map(|f| f as &mut dyn Read))
            .map_err(layer_err(&e.dest))?;
        Ok((size, data.and_then(HashingRead::finish)))
    }

    fn windows_context_entry(
        &mut self,
        host: &std::path::Path,
        name: &str,
        e: &CopyEntry,
        hash: bool,
    ) -> Result<(u64, Option<Digest>), CopyLayerError> {
        let meta = fs::symlink_metadata(host).map_err(read_err(&e.source))?;
        let ts = self.opts.timestamp;
        let mut time = Timestamp::from_secs(mtime_of(&meta));
        if self.opts.clamp_mtimes && time.secs > ts {
            time = Timestamp::from_secs(ts);
        }
        // Symlinks take the owner but never the read-only bit.
        let link_to_dir =
            e.kind == EntryKind::Symlink && fs::metadata(host).map(|m| m.is_dir()).unwrap_or(false);
        let m = match e.kind {
            EntryKind::Dir => self.windows_meta(WinMeta::default_dir(time), false)?,
            EntryKind::File => self.windows_meta(WinMeta::default_file(time), true)?,
            EntryKind::Symlink if link_to_dir => {
                self.windows_meta(WinMeta::default_dir(time), false)?
            }
            EntryKind::Symlink => self.windows_meta(WinMeta::default_file(time), false)?,
            EntryKind::Other => return Ok((0, None)),
        };
        let Layer::Windows(w) = &mut self.layer else {
            unreachable!("called for Windows layers only")
        };
        match e.kind {
            EntryKind::File => {
                let f = File::open(host).map_err(read_err(&e.source))?;
                let size = f.metadata().map_err(read_err(&e.source))?.len();
                let mut f = HashingRead::new(f, hash);
                w.add_file(name, size, Some(m), &mut f)
                    .map_err(layer_err(&e.dest))?;
                return Ok((size, f.finish()));
            }
            EntryKind::Symlink => {
                let target = fs::read_link(host).map_err(read_err(&e.source))?;
                let target = target.to_string_lossy().to_string();
                let target = if target.starts_with('/') {
                    format!("C:{}", target.replace('/', "\\"))
                } else {
                    target
                };
                w.add_symlink(name, &target, link_to_dir, Some(m))
                    .map_err(layer_err(&e.dest))?;
            }
            _ => w.add_dir(name, Some(m)).map_err(layer_err(&e.dest))?,
        }
        Ok((0, None))
    }

    /// Adds a file whose bytes are not in the context (a here-document, a
    /// download): `mode` before `--chmod`, the layer's timestamp as mtime.
    pub fn inline_file(
        &mut self,
        dest: &str,
        size: u64,
        data: &mut dyn Read,
        mode: u32,
    ) -> Result<(), CopyLayerError> {
        let name = dest.trim_start_matches('/').to_string();
        let opts = self.opts;
        match &mut self.layer {
            Layer::Linux(w, _) => {
                let mut t = TarEntry::new(name, tarfmt::EntryKind::File { size });
                t.mode = opts.chmod.map_or(mode, |c| c.apply(mode, false));
                t.mtime = opts.timestamp;
                w.append(t, Some(data)).map_err(layer_err(dest))?;
            }
            Layer::Windows(_) => {
                let m = self.windows_meta(
                    WinMeta::default_file(Timestamp::from_secs(opts.timestamp)),
                    true,
                )?;
                let Layer::Windows(w) = &mut self.layer else {
                    unreachable!("matched above")
                };
                w.add_file(&name, size, Some(m), data)
                    .map_err(layer_err(dest))?;
            }
        }
        Ok(())
    }

    /// Extracts the tar archive at `path` into `dest_dir` (relative).
    pub fn archive(
        &mut self,
        path: &std::path::Path,
        format: wharf_layer::Format,
        dest_dir: &str,
    ) -> Result<(), CopyLayerError> {
        let timestamp = self.opts.timestamp;
        match &mut self.layer {
            Layer::Linux(w, declared) => {
                let written = wharf_layer::archive::extract_linux(
                    path,
                    format,
                    dest_dir,
                    self.opts.linux_owner,
                    w,
                )
                .map_err(archive_err)?;
                // The destination exists even when every entry was skipped
                // (devices, fifos), as BuildKit creates it.
                let dest = dest_dir.trim_matches('/');
                if written == 0 && !dest.is_empty() && declared.insert(dest.to_string()) {
                    let mut d = TarEntry::new(format!("{dest}/"), tarfmt::EntryKind::Dir);
                    d.mode = 0o755;
                    d.mtime = timestamp;
                    w.append(d, None).map_err(layer_err(dest))?;
                }
                Ok(())
            }
            Layer::Windows(w) => wharf_layer::archive::extract_windows(
                path,
                format,
                dest_dir,
                self.opts.windows_owner,
                w,
            )
            .map_err(archive_err),
        }
    }
}

/// A file read into a layer, hashed on the way when asked (the COPY's
/// content digest then needs no pass of its own).
struct HashingRead {
    file: File,
    hasher: Option<Hasher>,
}

impl HashingRead {
    fn new(file: File, hash: bool) -> Self {
        HashingRead {
            file,
            hasher: hash.then(Hasher::sha256),
        }
    }

    /// The SHA-256 of what was read, when hashing.
    fn finish(self) -> Option<Digest> {
        self.hasher.map(Hasher::finish)
    }
}

impl Read for HashingRead {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.file.read(buf)?;
        if let Some(h) = &mut self.hasher {
            h.update(&buf[..n]);
        }
        Ok(n)
    }
}

#[cfg(test)]
mod mode_tests {
    #[test]
    fn windows_contexts_give_dockers_modes() {
        use super::windows_context_mode as mode;
        assert_eq!(mode(false, false), 0o755);
        assert_eq!(mode(true, false), 0o755);
        assert_eq!(mode(false, true), 0o555);
        assert_eq!(mode(true, true), 0o555);
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use crate::copy_plan::{plan_copy, CopyRequest};
    use std::io::Read;

    fn context() -> (tempfile::TempDir, BuildContext) {
        let d = tempfile::tempdir().unwrap();
        fs::create_dir_all(d.path().join("site/css")).unwrap();
        fs::write(d.path().join("site/index.html"), "<h1>hi</h1>").unwrap();
        fs::write(d.path().join("site/css/a.css"), "body{}").unwrap();
        std::os::unix::fs::symlink("index.html", d.path().join("site/home.html")).unwrap();
        let c = BuildContext::new(d.path(), None);
        (d, c)
    }

    fn entries(c: &BuildContext, windows: bool) -> Vec<CopyEntry> {
        let src = vec!["site".to_string()];
        plan_copy(
            c,
            &CopyRequest {
                sources: &src,
                dest: "/srv/www/",
                workdir: if windows { "C:\\" } else { "/" },
                windows,
                parents: false,
                exclude: &[],
                dest_is_dir_in_image: false,
            },
        )
        .unwrap()
    }

    fn writer<'w>(sink: &'w mut dyn Write, windows: bool, opts: CopyOptions<'w>) -> CopyWriter<'w> {
        if windows {
            CopyWriter::windows(sink, &wharf_layer::NoBase, opts).unwrap()
        } else {
            CopyWriter::linux(sink, opts)
        }
    }

    fn write(c: &BuildContext, windows: bool, opts: CopyOptions<'_>) -> Vec<u8> {
        let mut out = Vec::new();
        let mut w = writer(&mut out, windows, opts);
        for e in entries(c, windows) {
            w.context_entry(c, &e).unwrap();
        }
        w.finish().unwrap();
        out
    }

    fn tar_listing(bytes: &[u8]) -> Vec<(String, u32, u64, u64, String)> {
        let mut a = tar::Archive::new(bytes);
        a.entries()
            .unwrap()
            .map(|e| {
                let mut e = e.unwrap();
                let h = e.header().clone();
                let mut body = String::new();
                e.read_to_string(&mut body).unwrap();
                (
                    e.path().unwrap().to_string_lossy().to_string(),
                    h.mode().unwrap(),
                    h.uid().unwrap(),
                    h.mtime().unwrap(),
                    body,
                )
            })
            .collect()
    }

    /// A layer written with its content digest computed on the way gives
    /// the same layer, and the digest the cache key's own pass gives, for
    /// both layer formats and every kind of entry (an empty file too).
    #[test]
    fn content_digest_made_while_writing_is_the_key_pass_digest() {
        let (d, c) = context();
        fs::write(d.path().join("site/empty"), "").unwrap();
        fs::write(d.path().join("site/css/big.bin"), vec![7u8; 300_000]).unwrap();
        for windows in [false, true] {
            let opts = CopyOptions {
                linux_owner: None,
                windows_owner: None,
                chmod: None,
                timestamp: 1_700_000_000,
                clamp_mtimes: true,
                progress: None,
            };
            let es = entries(&c, windows);
            assert!(es.iter().any(|e| e.kind == EntryKind::Symlink));
            let mut out = Vec::new();
            let mut w = writer(&mut out, windows, opts);
            let mut key = Hasher::sha256();
            for e in &es {
                w.context_entry_keyed(&c, e, Some(&mut key)).unwrap();
            }
            w.finish().unwrap();
            assert_eq!(out, write(&c, windows, opts), "windows: {windows}");
            assert_eq!(
                key.finish(),
                crate::cache_key::copy_sources_digest(&c, &es).unwrap(),
                "windows: {windows}"
            );
        }
    }

    #[test]
    fn linux_layer_without_parents_with_owner_mode_and_clamped_times() {
        let (_d, c) = context();
        let chmod = Chmod::parse("go-rwx").unwrap();
        let opts = CopyOptions {
            linux_owner: Some((1000, 1000)),
            windows_owner: None,
            chmod: Some(&chmod),
            timestamp: 1_700_000_000,
            clamp_mtimes: true,
            progress: None,
        };
        let out = write(&c, false, opts);
        let list = tar_listing(&out);
        let names: Vec<&str> = list.iter().map(|l| l.0.as_str()).collect();
        assert_eq!(
            names,
            // No entries for /srv and /srv/www: the image's own keep their
            // owner and mode.
            vec![
                "srv/www/css/",
                "srv/www/css/a.css",
                "srv/www/home.html",
                "srv/www/index.html"
            ]
        );
        let index = list.iter().find(|l| l.0 == "srv/www/index.html").unwrap();
        assert_eq!(index.4, "<h1>hi</h1>");
        assert_eq!(index.1 & 0o077, 0, "chmod go-rwx applied");
        assert_eq!(index.2, 1000);
        assert!(list.iter().all(|l| l.3 <= 1_700_000_000));
        // Same input, same bytes.
        let again = write(&c, false, opts);
        assert_eq!(out, again);
    }

    #[test]
    fn windows_layer_with_owner() {
        let (_d, c) = context();
        let opts = CopyOptions {
            linux_owner: None,
            windows_owner: Some("S-1-5-93-2-2"),
            chmod: None,
            timestamp: 1_700_000_000,
            clamp_mtimes: true,
            progress: None,
        };
        let out = write(&c, true, opts);
        let mut a = tar::Archive::new(out.as_slice());
        let mut names = Vec::new();
        for e in a.entries().unwrap() {
            let mut e = e.unwrap();
            let name = e.path().unwrap().to_string_lossy().to_string();
            let mut has_sd = false;
            if let Some(exts) = e.pax_extensions().unwrap() {
                for x in exts {
                    let x = x.unwrap();
                    if x.key().unwrap() == "MSWINDOWS.rawsd" {
                        has_sd = true;
                    }
                }
            }
            assert!(has_sd, "{name} has a security descriptor");
            names.push(name.trim_end_matches('/').to_string());
        }
        assert_eq!(&names[..2], &["Hives", "Files"]);
        assert!(
            names.contains(&"Files/srv/www/index.html".to_string()),
            "{names:?}"
        );
        // The independent checker (Python's tarfile) agrees the layer
        // follows the Windows importer's rules.
        let dir = tempfile::tempdir().unwrap();
        let layer = dir.path().join("layer.tar");
        fs::write(&layer, &out).unwrap();
        let checker = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../wharf-layer/tests/check_windows_layer.py"
        );
        let status = std::process::Command::new("python3")
            .arg(checker)
            .arg(&layer)
            .status()
            .expect("python3 runs the independent checker");
        assert!(
            status.success(),
            "the independent Windows layer checker rejected the layer"
        );
        let srv = names.iter().position(|n| n == "Files/srv").unwrap();
        let file = names
            .iter()
            .position(|n| n == "Files/srv/www/css/a.css")
            .unwrap();
        assert!(srv < file, "ancestors come first");
    }
}
