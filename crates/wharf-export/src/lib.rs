//! Exports images from Wharf's store:
//!
//! - `type=oci,dest=DIR`: an OCI image layout directory ([`write_oci_dir`]);
//! - `type=oci,dest=FILE.tar`: an OCI archive ([`write_oci_archive`]);
//! - `type=docker,dest=FILE.tar`: a docker-archive ([`write_docker_archive`]).
//!
//! Multi-platform images (an index in the store) are exported as an index
//! in the OCI forms; a docker-archive takes one platform. Each image can
//! carry several tags. Pushing to a registry (`type=registry`) is
//! `wharf_registry::push_image`, not this crate.

mod archive;
mod collect;
mod docker;
mod error;
mod oci;

pub use docker::write_docker_archive;
pub use error::ExportError;
pub use oci::{write_oci_archive, write_oci_dir};

use std::path::{Path, PathBuf};
use wharf_oci::{Descriptor, Platform};
use wharf_store::Store;

/// Which image of the store to export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageSource {
    /// A tagged image, by its name in the store (e.g.
    /// `docker.io/library/busybox:latest`).
    Named(String),
    /// An image by its descriptor (a manifest or an index), as a build
    /// returns it: no tag needed.
    Built(Box<Descriptor>),
}

/// One image to export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportImage {
    pub source: ImageSource,
    /// Names to give it in the output (OCI `ref.name` annotations, docker
    /// `RepoTags`). When empty, a named image keeps its store name and a
    /// built one goes unnamed.
    pub tags: Vec<String>,
}

impl ExportImage {
    /// The image's top descriptor.
    pub(crate) fn top(&self, store: &Store) -> Result<Descriptor, ExportError> {
        match &self.source {
            ImageSource::Named(name) => Ok(store.resolve(name)?),
            ImageSource::Built(d) => Ok((**d).clone()),
        }
    }

    /// How messages name the image.
    pub(crate) fn label(&self) -> String {
        match &self.source {
            ImageSource::Named(name) => name.clone(),
            ImageSource::Built(d) => d.digest.to_string(),
        }
    }

    /// The names the output gives the image.
    pub(crate) fn names(&self) -> Vec<String> {
        match (&self.source, self.tags.is_empty()) {
            (ImageSource::Named(name), true) => vec![name.clone()],
            _ => self.tags.clone(),
        }
    }
}

/// What an export wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportReport {
    /// Blobs written.
    pub blobs: usize,
    /// Bytes of blobs written.
    pub bytes: u64,
    /// Names recorded.
    pub tags: usize,
}

/// The output forms of `--output`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// OCI image layout directory.
    OciDir(PathBuf),
    /// OCI archive file.
    OciArchive(PathBuf),
    /// docker-archive file.
    DockerArchive(PathBuf),
}

impl Output {
    /// Parses Docker-style `type=oci,dest=out.tar` (`type=oci` with a
    /// `dest` ending in `.tar` is an archive, otherwise a directory;
    /// `tar=true|false` forces the choice). `type=registry` is not an
    /// export here: push with `wharf_registry` instead.
    pub fn parse(spec: &str) -> Result<Output, ExportError> {
        let bad = |reason: &str| ExportError::BadOutputSpec {
            spec: spec.to_string(),
            reason: reason.to_string(),
        };
        let mut kind = None;
        let mut dest = None;
        let mut tar = None;
        for part in spec.split(',').filter(|p| !p.is_empty()) {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| bad(&format!("{part:?} is not key=value")))?;
            match k.trim() {
                "type" => kind = Some(v.trim().to_string()),
                "dest" => dest = Some(PathBuf::from(v.trim())),
                "tar" => {
                    tar = Some(match v.trim() {
                        "true" => true,
                        "false" => false,
                        other => return Err(bad(&format!("tar={other} must be true or false"))),
                    })
                }
                other => return Err(bad(&format!("unknown key {other:?}"))),
            }
        }
        let dest = dest.ok_or_else(|| bad("dest= is missing"))?;
        let is_tar = tar.unwrap_or_else(|| dest.extension().is_some_and(|e| e == "tar"));
        match kind.as_deref() {
            Some("oci") if is_tar => Ok(Output::OciArchive(dest)),
            Some("oci") => Ok(Output::OciDir(dest)),
            Some("docker") if tar == Some(false) => Err(bad("type=docker is always a tar archive")),
            Some("docker") => Ok(Output::DockerArchive(dest)),
            Some(other) => Err(bad(&format!("unsupported type {other:?}"))),
            None => Err(bad("type= is missing")),
        }
    }

    /// The destination path.
    pub fn dest(&self) -> &Path {
        match self {
            Output::OciDir(p) | Output::OciArchive(p) | Output::DockerArchive(p) => p,
        }
    }

    /// Checks, before a build, that the destination can take this output:
    /// an archive's path is not a directory, a layout's is not a file, a
    /// layout directory that exists holds a readable `index.json` (the
    /// export adds to it), and the nearest existing ancestor is a
    /// directory (missing ones are created by the export). Writes nothing.
    pub fn check_destination(&self) -> Result<(), ExportError> {
        let dest = self.dest();
        let bad = |reason: String| ExportError::BadDestination {
            path: dest.to_path_buf(),
            reason,
        };
        let meta = std::fs::metadata(dest).ok();
        match (self, &meta) {
            (Output::OciDir(_), Some(m)) if !m.is_dir() => {
                return Err(bad(
                    "is a file, and an OCI layout is a directory; give a directory path, or a dest ending in .tar for an OCI archive".into(),
                ))
            }
            (Output::OciDir(_), Some(_)) => {
                if let Err(e) = oci::existing_index(dest) {
                    let detail = match e {
                        ExportError::Io { path, source } => format!(
                            "{} cannot be read as an OCI image index ({source})",
                            path.display()
                        ),
                        other => other.to_string(),
                    };
                    return Err(bad(format!(
                        "{detail}; the export adds to it: choose an empty or new directory"
                    )));
                }
            }
            (Output::OciArchive(_), Some(m)) if m.is_dir() => {
                return Err(bad(
                    "is a directory, and an OCI archive is written as a file; remove the directory or choose another path (tar=false writes an OCI layout directory)".into(),
                ))
            }
            (Output::DockerArchive(_), Some(m)) if m.is_dir() => {
                return Err(bad(
                    "is a directory, and a docker-archive is written as a file; remove the directory or choose another path".into(),
                ))
            }
            _ => {}
        }
        if meta.is_none() {
            // The nearest ancestor that exists must be a directory.
            let mut up = dest.parent();
            while let Some(dir) = up.filter(|d| !d.as_os_str().is_empty()) {
                match std::fs::metadata(dir) {
                    Ok(m) if m.is_dir() => break,
                    Ok(_) => {
                        return Err(bad(format!("{} is a file, not a directory", dir.display())))
                    }
                    Err(_) => up = dir.parent(),
                }
            }
        }
        Ok(())
    }
}

/// Writes `images` to `output`. Archives are written to a temporary file
/// beside the destination and renamed into place when complete.
pub fn export(
    store: &Store,
    images: &[ExportImage],
    output: &Output,
    platform: &Platform,
) -> Result<ExportReport, ExportError> {
    // Keeps garbage collection from deleting blobs while they are copied.
    let _lease = store.lease()?;
    match output {
        Output::OciDir(dir) => write_oci_dir(store, images, dir),
        Output::OciArchive(file) => write_file(file, |f| write_oci_archive(store, images, f, file)),
        Output::DockerArchive(file) => write_file(file, |f| {
            write_docker_archive(store, images, platform, f, file)
        }),
    }
}

fn write_file(
    dest: &Path,
    write: impl FnOnce(&mut std::io::BufWriter<std::fs::File>) -> Result<ExportReport, ExportError>,
) -> Result<ExportReport, ExportError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ExportError::Io { path, source }
    };
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "export".into());
    let tmp = dest.with_file_name(format!(".{name}.tmp"));
    if let Some(parent) = dest.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    let file = std::fs::File::create(&tmp).map_err(io(&tmp))?;
    let mut out = std::io::BufWriter::new(file);
    let result = write(&mut out).and_then(|report| {
        let file = out.into_inner().map_err(|e| io(&tmp)(e.into_error()))?;
        file.sync_all().map_err(io(&tmp))?;
        wharf_store::replace_file(&tmp, dest).map_err(io(dest))?;
        Ok(report)
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_that_cannot_take_the_output_are_refused_up_front() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        std::fs::create_dir(root.join("adir.tar")).expect("mkdir");
        std::fs::write(root.join("afile"), b"x").expect("write");
        std::fs::create_dir(root.join("junk")).expect("mkdir");
        std::fs::write(root.join("junk/index.json"), b"not json").expect("write");
        let refused = |out: Output, says: &str| {
            let e = out.check_destination().expect_err(says).to_string();
            assert!(e.contains(says), "{e}");
            assert!(e.contains(&out.dest().display().to_string()), "{e}");
        };
        refused(Output::OciArchive(root.join("adir.tar")), "is a directory");
        refused(
            Output::DockerArchive(root.join("adir.tar")),
            "a docker-archive",
        );
        refused(Output::OciDir(root.join("afile")), "is a file");
        refused(
            Output::OciArchive(root.join("afile/x.tar")),
            "is a file, not a directory",
        );
        refused(
            Output::OciDir(root.join("afile/a/b")),
            "is a file, not a directory",
        );
        refused(
            Output::OciDir(root.join("junk")),
            "cannot be read as an OCI image index",
        );
        // New paths (their directories are made by the export), a file to
        // replace, and a layout to add to are fine; nothing is written.
        for ok in [
            Output::OciArchive(root.join("new/deep/x.tar")),
            Output::DockerArchive(root.join("afile")),
            Output::OciDir(root.join("new/layout")),
            Output::OciDir(root.join("adir.tar")),
            Output::OciArchive("relative.tar".into()),
        ] {
            ok.check_destination().expect("accepted");
        }
        assert!(!root.join("new").exists());
    }

    #[test]
    fn parses_output_specs() {
        assert_eq!(
            Output::parse("type=oci,dest=out").expect("ok"),
            Output::OciDir("out".into())
        );
        assert_eq!(
            Output::parse("type=oci,dest=a/b.tar").expect("ok"),
            Output::OciArchive("a/b.tar".into())
        );
        assert_eq!(
            Output::parse("dest=x,type=oci,tar=true").expect("ok"),
            Output::OciArchive("x".into())
        );
        assert_eq!(
            Output::parse("type=docker,dest=img.tar").expect("ok"),
            Output::DockerArchive("img.tar".into())
        );
        for bad in [
            "type=oci",
            "dest=x",
            "type=registry,dest=x",
            "type=oci,dest=x,tar=maybe",
            "type=docker,dest=x,tar=false",
            "type=oci,dest=x,color=red",
            "oci",
        ] {
            let e = Output::parse(bad).expect_err(bad);
            assert!(e.to_string().contains(bad), "{e}");
        }
    }
}
