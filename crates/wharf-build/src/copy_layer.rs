//! Turns the entries of a COPY from the build context into one layer, in
//! the stage's OS format: a Linux layer (modes, owners, mtimes; missing
//! parent directories added) or a Windows layer (through the Windows layer
//! writer, which adds `Files/`, ancestors and PAX metadata; `--chown`
//! becomes the owner in each security descriptor).
//!
//! Data streams from the context files into the layer writer; nothing is
//! held in memory.

use crate::context::{BuildContext, EntryKind};
use crate::copy_plan::CopyEntry;
use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::Write;
use wharf_frontend::chmod::Chmod;
use wharf_layer::windows::sddl::with_owner;
use wharf_layer::{
    tarfmt, LinuxLayerOptions, LinuxLayerWriter, TarEntry, Timestamp, WinMeta, WindowsBase,
    WindowsLayerOptions, WindowsLayerWriter,
};

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

/// How the entries are written.
pub struct CopyLayerSpec<'a> {
    /// Linux owner from `--chown`, else 0:0.
    pub linux_owner: Option<(u64, u64)>,
    /// Windows owner SID from `--chown`.
    pub windows_owner: Option<String>,
    pub chmod: Option<Chmod>,
    /// Time for directories the layer makes up, and the upper bound of
    /// every mtime (`SOURCE_DATE_EPOCH`, when set).
    pub timestamp: u64,
    pub clamp_mtimes: bool,
    /// For Windows stages: what the image below has (directory metadata).
    pub windows_base: Option<&'a dyn WindowsBase>,
    /// Files whose content is in the Dockerfile (here-documents).
    pub inline: &'a [InlineFile],
    /// Tar archives ADD extracts.
    pub archives: &'a [ArchiveSource],
    /// Told the bytes of file data packed so far, after each file.
    pub progress: Option<&'a dyn Fn(u64)>,
}

impl CopyLayerSpec<'_> {
    fn packed(&self, total: &mut u64, size: u64) {
        *total += size;
        if let Some(p) = self.progress {
            p(*total);
        }
    }
}

/// A local tar archive to extract into the layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveSource {
    pub path: std::path::PathBuf,
    pub format: wharf_layer::Format,
    /// Relative destination directory, `/`-separated.
    pub dest_dir: String,
}

/// Extraction failed (the archive names itself in the message).
fn archive_err(e: wharf_layer::archive::ArchiveError) -> CopyLayerError {
    CopyLayerError::Archive(Box::new(e))
}

/// A file that is not a file of the context: a here-document, or a
/// download of `ADD <url>` kept in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InlineFile {
    /// Absolute image path, `/`-separated.
    pub dest: String,
    pub content: InlineContent,
    /// Permission bits before `--chmod` (Docker gives downloads 0600).
    pub mode: u32,
}

/// Where an [`InlineFile`]'s bytes are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InlineContent {
    Bytes(Vec<u8>),
    /// A file on disk (streamed, never read into memory).
    File(std::path::PathBuf),
}

impl InlineFile {
    /// Size and a reader of the content.
    fn open(&self) -> Result<(u64, Box<dyn std::io::Read + '_>), CopyLayerError> {
        match &self.content {
            InlineContent::Bytes(b) => Ok((b.len() as u64, Box::new(b.as_slice()))),
            InlineContent::File(p) => {
                let shown = p.display().to_string();
                let f = File::open(p).map_err(read_err(&shown))?;
                let size = f.metadata().map_err(read_err(&shown))?.len();
                Ok((size, Box::new(f)))
            }
        }
    }
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

/// Declares (once) every parent directory of `path` that the layer has
/// not declared yet, root-owned 0755 at `mtime`: a Linux layer lists
/// parents before children.
pub(crate) fn declare_parents<W: Write>(
    w: &mut LinuxLayerWriter<W>,
    declared: &mut BTreeSet<String>,
    path: &str,
    mtime: u64,
) -> Result<(), wharf_layer::Error> {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    for i in 1..parts.len() {
        let parent = parts[..i].join("/");
        if declared.insert(parent.clone()) {
            let mut d = TarEntry::new(format!("{parent}/"), tarfmt::EntryKind::Dir);
            d.mode = 0o755;
            d.mtime = mtime;
            w.append(d, None)?;
        }
    }
    Ok(())
}

/// Writes a Linux layer holding `entries`; returns the writer's sink.
pub fn write_linux<W: Write>(
    ctx: &BuildContext,
    entries: &[CopyEntry],
    spec: &CopyLayerSpec<'_>,
    out: W,
) -> Result<W, CopyLayerError> {
    let opts = LinuxLayerOptions {
        source_date_epoch: spec.clamp_mtimes.then_some(spec.timestamp),
        owner: Some(spec.linux_owner.unwrap_or((0, 0))),
        skip_xattrs: true,
    };
    let mut w = LinuxLayerWriter::new(out, opts);
    let mut dirs: BTreeSet<String> = BTreeSet::new();
    let mut packed = 0;
    for e in entries {
        let name = e.dest.trim_start_matches('/').to_string();
        if name.is_empty() {
            continue;
        }
        declare_parents(&mut w, &mut dirs, &name, spec.timestamp).map_err(layer_err(&e.dest))?;
        let host = ctx.host_path(&e.source);
        let meta = fs::symlink_metadata(&host).map_err(read_err(&e.source))?;
        let is_dir = e.kind == EntryKind::Dir;
        let mut mode = mode_of(&meta);
        if let Some(c) = &spec.chmod {
            if e.kind != EntryKind::Symlink {
                mode = c.apply(mode, is_dir);
            }
        }
        match e.kind {
            EntryKind::Dir => {
                if !dirs.insert(name.clone()) {
                    continue;
                }
                let mut d = TarEntry::new(format!("{name}/"), tarfmt::EntryKind::Dir);
                d.mode = mode;
                d.mtime = mtime_of(&meta);
                w.append(d, None).map_err(layer_err(&e.dest))?;
            }
            EntryKind::File => {
                let mut f = File::open(&host).map_err(read_err(&e.source))?;
                let size = f.metadata().map_err(read_err(&e.source))?.len();
                let mut t = TarEntry::new(name.clone(), tarfmt::EntryKind::File { size });
                t.mode = mode;
                t.mtime = mtime_of(&meta);
                w.append(t, Some(&mut f)).map_err(layer_err(&e.dest))?;
                spec.packed(&mut packed, size);
            }
            EntryKind::Symlink => {
                let target = fs::read_link(&host).map_err(read_err(&e.source))?;
                let mut t = TarEntry::new(
                    name.clone(),
                    tarfmt::EntryKind::Symlink {
                        target: target.to_string_lossy().to_string(),
                    },
                );
                t.mode = 0o777;
                t.mtime = mtime_of(&meta);
                w.append(t, None).map_err(layer_err(&e.dest))?;
            }
            EntryKind::Other => {}
        }
    }
    for f in spec.inline {
        let name = f.dest.trim_start_matches('/').to_string();
        declare_parents(&mut w, &mut dirs, &name, spec.timestamp).map_err(layer_err(&f.dest))?;
        let (size, mut data) = f.open()?;
        let mut t = TarEntry::new(name, tarfmt::EntryKind::File { size });
        t.mode = spec
            .chmod
            .as_ref()
            .map_or(f.mode, |c| c.apply(f.mode, false));
        t.mtime = spec.timestamp;
        w.append(t, Some(&mut data)).map_err(layer_err(&f.dest))?;
    }
    for a in spec.archives {
        wharf_layer::archive::extract_linux(
            &a.path,
            a.format,
            &a.dest_dir,
            spec.linux_owner,
            &mut w,
        )
        .map_err(archive_err)?;
    }
    w.finish().map_err(layer_err("layer"))
}

/// Writes a Windows layer holding `entries`; returns the writer's sink.
/// Symlinks from a Linux context keep their target with `\` separators
/// (relative links stay relative).
pub fn write_windows<W: Write>(
    ctx: &BuildContext,
    entries: &[CopyEntry],
    spec: &CopyLayerSpec<'_>,
    out: W,
) -> Result<W, CopyLayerError> {
    let no_base = wharf_layer::NoBase;
    let base = spec.windows_base.unwrap_or(&no_base);
    let ts = Timestamp::from_secs(spec.timestamp);
    let mut w = WindowsLayerWriter::new(
        out,
        base,
        WindowsLayerOptions {
            timestamp: ts,
            base_layer: false,
        },
    )
    .map_err(layer_err("layer"))?;
    let owned = |mut m: WinMeta| -> Result<WinMeta, CopyLayerError> {
        if let Some(sid) = &spec.windows_owner {
            m.security_descriptor =
                with_owner(&m.security_descriptor, sid).map_err(layer_err(sid))?;
        }
        Ok(m)
    };
    // A file's metadata: the owner, and read-only when --chmod takes
    // every write bit away (the one mode bit Windows has).
    let file_meta = |time: Timestamp| -> Result<WinMeta, CopyLayerError> {
        let mut m = owned(WinMeta::default_file(time))?;
        if spec
            .chmod
            .as_ref()
            .is_some_and(|c| c.apply(0o644, false) & 0o222 == 0)
        {
            m.attributes |= 1; // FILE_ATTRIBUTE_READONLY
        }
        Ok(m)
    };
    let mut packed = 0;
    for e in entries {
        let name = e.dest.trim_start_matches('/').to_string();
        if name.is_empty() {
            continue;
        }
        let host = ctx.host_path(&e.source);
        let meta = fs::symlink_metadata(&host).map_err(read_err(&e.source))?;
        let mut time = Timestamp::from_secs(mtime_of(&meta));
        if spec.clamp_mtimes && time.secs > spec.timestamp {
            time = ts;
        }
        match e.kind {
            EntryKind::Dir => {
                let m = owned(WinMeta::default_dir(time))?;
                w.add_dir(&name, Some(m)).map_err(layer_err(&e.dest))?;
            }
            EntryKind::File => {
                let mut f = File::open(&host).map_err(read_err(&e.source))?;
                let size = f.metadata().map_err(read_err(&e.source))?.len();
                let m = file_meta(time)?;
                w.add_file(&name, size, Some(m), &mut f)
                    .map_err(layer_err(&e.dest))?;
                spec.packed(&mut packed, size);
            }
            EntryKind::Symlink => {
                let target = fs::read_link(&host).map_err(read_err(&e.source))?;
                let target = target.to_string_lossy().to_string();
                let is_dir = fs::metadata(&host).map(|m| m.is_dir()).unwrap_or(false);
                let m = owned(if is_dir {
                    WinMeta::default_dir(time)
                } else {
                    WinMeta::default_file(time)
                })?;
                let target = if target.starts_with('/') {
                    format!("C:{}", target.replace('/', "\\"))
                } else {
                    target
                };
                w.add_symlink(&name, &target, is_dir, Some(m))
                    .map_err(layer_err(&e.dest))?;
            }
            EntryKind::Other => {}
        }
    }
    for f in spec.inline {
        let name = f.dest.trim_start_matches('/');
        let m = file_meta(ts)?;
        let (size, mut data) = f.open()?;
        w.add_file(name, size, Some(m), &mut data)
            .map_err(layer_err(&f.dest))?;
    }
    for a in spec.archives {
        wharf_layer::archive::extract_windows(
            &a.path,
            a.format,
            &a.dest_dir,
            spec.windows_owner.as_deref(),
            &mut w,
        )
        .map_err(archive_err)?;
    }
    w.finish().map_err(layer_err("layer"))
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

    #[test]
    fn linux_layer_with_parents_owner_mode_and_clamped_times() {
        let (_d, c) = context();
        let spec = CopyLayerSpec {
            linux_owner: Some((1000, 1000)),
            windows_owner: None,
            chmod: Some(Chmod::parse("go-rwx").unwrap()),
            timestamp: 1_700_000_000,
            clamp_mtimes: true,
            windows_base: None,
            inline: &[],
            archives: &[],
            progress: None,
        };
        let out = write_linux(&c, &entries(&c, false), &spec, Vec::new()).unwrap();
        let list = tar_listing(&out);
        let names: Vec<&str> = list.iter().map(|l| l.0.as_str()).collect();
        assert_eq!(
            names,
            vec![
                "srv/",
                "srv/www/",
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
        let again = write_linux(&c, &entries(&c, false), &spec, Vec::new()).unwrap();
        assert_eq!(out, again);
    }

    #[test]
    fn windows_layer_with_owner() {
        let (_d, c) = context();
        let spec = CopyLayerSpec {
            linux_owner: None,
            windows_owner: Some("S-1-5-93-2-2".into()),
            chmod: None,
            timestamp: 1_700_000_000,
            clamp_mtimes: true,
            windows_base: None,
            inline: &[],
            archives: &[],
            progress: None,
        };
        let out = write_windows(&c, &entries(&c, true), &spec, Vec::new()).unwrap();
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
