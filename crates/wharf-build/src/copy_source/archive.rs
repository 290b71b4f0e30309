//! A tar archive of the context that ADD extracts (recognised by its
//! content, compressed or not) instead of copying it.

use super::{CopySource, SourceError};
use crate::context::{BuildContext, EntryKind};
use crate::copy_layer::CopyWriter;
use crate::copy_plan::Destination;
use std::path::PathBuf;
use wharf_frontend::dockerignore::PathPattern;
use wharf_oci::{Digest, Hasher, HashingWriter};

/// One archive and the directory it is extracted into.
pub(crate) struct LocalArchive {
    path: PathBuf,
    format: wharf_layer::Format,
    /// Relative destination directory, `/`-separated, once placed.
    dest_dir: String,
}

impl LocalArchive {
    /// The archive the context path `src` names, if it is one: a plain
    /// path (no wildcard) to a file that is not ignored and whose bytes
    /// are a tar archive.
    pub(crate) fn detect(ctx: &BuildContext, src: &str) -> Option<Self> {
        if PathPattern::has_wildcards(src) {
            return None;
        }
        let rel = ctx.resolve(src, true).ok()?;
        if ctx.is_ignored(&rel) || ctx.kind(&rel).ok()? != EntryKind::File {
            return None;
        }
        let path = ctx.host_path(&rel);
        let format = wharf_layer::archive::detect(&path).ok()??;
        Some(LocalArchive {
            path,
            format,
            dest_dir: String::new(),
        })
    }
}

impl CopySource for LocalArchive {
    fn matched(&self) -> usize {
        1
    }

    fn place(&mut self, dest: &Destination) -> Result<Vec<crate::api::StepWarning>, SourceError> {
        // An archive is always extracted into the destination, as a directory.
        self.dest_dir = dest.relative().to_string();
        Ok(Vec::new())
    }

    fn content_digest(&self) -> Result<Digest, SourceError> {
        // Hashed while it streams: an archive can be larger than memory.
        let mut content = HashingWriter::new(std::io::sink());
        let shown = |e: std::io::Error| SourceError::Other(format!("{}: {e}", self.path.display()));
        std::io::copy(
            &mut std::fs::File::open(&self.path).map_err(shown)?,
            &mut content,
        )
        .map_err(shown)?;
        let mut h = Hasher::sha256();
        h.update(self.dest_dir.as_bytes());
        h.update(&[0]);
        h.update(content.finish().1.as_str().as_bytes());
        Ok(h.finish())
    }

    fn write(&self, out: &mut CopyWriter<'_>) -> Result<Vec<crate::api::StepWarning>, SourceError> {
        out.archive(&self.path, self.format, &self.dest_dir)?;
        Ok(Vec::new())
    }
}
