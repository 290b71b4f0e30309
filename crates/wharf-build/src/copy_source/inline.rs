//! Files whose bytes are not in the context: here-documents, and the
//! downloads of `ADD <url>` kept in the store.

use super::{CopySource, SourceError};
use crate::copy_layer::CopyWriter;
use crate::copy_plan::Destination;
use std::path::PathBuf;
use wharf_oci::{Digest, Hasher};

/// Where an [`InlineFile`]'s bytes are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum InlineContent {
    Bytes(Vec<u8>),
    /// A blob of the store, named by its digest (streamed, never read
    /// into memory).
    Blob {
        path: PathBuf,
        digest: Digest,
    },
}

/// One here-document or download.
pub(crate) struct InlineFile {
    /// The operand as written (`<<EOF`, the URL), for messages.
    operand: String,
    /// The file's name inside a directory destination, when it has one.
    name: Option<String>,
    content: InlineContent,
    /// Permission bits before `--chmod` (Docker gives downloads 0600).
    mode: u32,
    /// Absolute image path, once placed.
    dest: String,
}

impl InlineFile {
    /// A here-document called `name` (its delimiter).
    pub(crate) fn here_document(name: &str, content: &str) -> Self {
        InlineFile {
            operand: format!("<<{name}"),
            name: Some(name.to_string()),
            content: InlineContent::Bytes(content.as_bytes().to_vec()),
            mode: 0o644,
            dest: String::new(),
        }
    }

    /// A download of `url` kept in the store as the blob `digest`.
    pub(crate) fn download(url: &str, path: PathBuf, digest: Digest) -> Self {
        // The last path segment, without query or fragment.
        let name = url
            .split(['?', '#'])
            .next()
            .and_then(|u| u.rsplit('/').next())
            .filter(|n| !n.is_empty() && !n.contains(':'))
            .map(str::to_string);
        InlineFile {
            operand: url.to_string(),
            name,
            content: InlineContent::Blob { path, digest },
            mode: 0o600,
            dest: String::new(),
        }
    }
}

impl CopySource for InlineFile {
    fn matched(&self) -> usize {
        1
    }

    fn place(&mut self, dest: &Destination) -> Result<Vec<crate::api::StepWarning>, SourceError> {
        self.dest = match (&self.name, dest.into_dir) {
            (Some(name), _) => dest.file_target(name),
            (None, false) => dest.file_target(""),
            (None, true) => {
                return Err(SourceError::Other(format!(
                "{}: the URL names no file; give a destination file name instead of a directory",
                self.operand
            )))
            }
        };
        Ok(Vec::new())
    }

    fn content_digest(&self) -> Result<Digest, SourceError> {
        let mut h = Hasher::sha256();
        h.update(self.dest.as_bytes());
        h.update(&[0]);
        match &self.content {
            InlineContent::Bytes(b) => h.update(b),
            InlineContent::Blob { digest, .. } => h.update(digest.as_str().as_bytes()),
        }
        Ok(h.finish())
    }

    fn write(&self, out: &mut CopyWriter<'_>) -> Result<Vec<crate::api::StepWarning>, SourceError> {
        match &self.content {
            InlineContent::Bytes(b) => {
                out.inline_file(&self.dest, b.len() as u64, &mut b.as_slice(), self.mode)?
            }
            InlineContent::Blob { path, .. } => {
                let read = |e| SourceError::Other(format!("{}: {e}", path.display()));
                let mut f = std::fs::File::open(path).map_err(read)?;
                let size = f.metadata().map_err(read)?.len();
                out.inline_file(&self.dest, size, &mut f, self.mode)?
            }
        }
        Ok(Vec::new())
    }
}
