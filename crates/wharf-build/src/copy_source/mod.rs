//! Where a COPY or ADD reads: every kind of source behind one trait,
//! [`CopySource`], so that one step plans, keys and writes them alike:
//! - [`ContextFiles`]: paths of the build context, or of a git checkout
//!   standing in for it (`ADD <git url>`);
//! - [`StageFiles`]: another stage or an image (`COPY --from`), read
//!   through the layer engine's stage view, in either OS direction;
//! - [`InlineFile`]: a here-document or an `ADD <url>` download;
//! - [`LocalArchive`]: a context tar archive that ADD extracts.
//!
//! A step first builds its sources (each matches its operands), counts
//! the matches for the one destination rule
//! ([`crate::copy_plan::Destination`]), lets each place its matches, names
//! their contents for the instruction cache, and writes them into one
//! [`CopyWriter`](crate::copy_layer::CopyWriter).

mod archive;
mod context;
mod inline;
mod stage;

pub(crate) use archive::LocalArchive;
pub(crate) use context::ContextFiles;
pub(crate) use inline::InlineFile;
pub(crate) use stage::StageFiles;

use crate::api::StepWarning;
use crate::context::ContextError;
use crate::copy_layer::{CopyLayerError, CopyWriter};
use crate::copy_plan::{CopyError, Destination};
use wharf_oci::Digest;

/// A source that cannot be read, planned or written.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error(transparent)]
    Plan(#[from] CopyError),
    #[error(transparent)]
    Context(#[from] ContextError),
    #[error(transparent)]
    Write(#[from] CopyLayerError),
    #[error("{path}: not found in stage {stage}")]
    NotInStage { path: String, stage: String },
    #[error("{0}")]
    Layer(#[from] wharf_layer::Error),
    #[error("reading the sources: {0}")]
    Read(#[from] std::io::Error),
    /// Said in full by the source (a URL without a file name, say).
    #[error("{0}")]
    Other(String),
}

/// One kind of thing a COPY/ADD copies.
pub(crate) trait CopySource {
    /// How many operands this source matched (wildcards expanded), for
    /// the destination rule.
    fn matched(&self) -> usize;

    /// Works out where each match lands under `dest`; returns warnings
    /// (what was left out, and why).
    fn place(&mut self, dest: &Destination) -> Result<Vec<StepWarning>, SourceError>;

    /// Names what [`place`](Self::place) planned, content and
    /// destinations, for the instruction cache.
    fn content_digest(&self) -> Result<Digest, SourceError>;

    /// Adds what was planned to the layer; returns warnings.
    fn write(&self, out: &mut CopyWriter<'_>) -> Result<Vec<StepWarning>, SourceError>;

    /// [`write`](Self::write), and the digest
    /// [`content_digest`](Self::content_digest) gives, for a step that
    /// only learns its cache key after writing its layer. Sources that
    /// read many files compute it from the bytes they write.
    fn write_with_digest(
        &self,
        out: &mut CopyWriter<'_>,
    ) -> Result<(Vec<StepWarning>, Digest), SourceError> {
        let warnings = self.write(out)?;
        Ok((warnings, self.content_digest()?))
    }
}

/// Counts the matches of every source, settles the destination once and
/// places each source's matches; returns the warnings.
pub(crate) fn place_all(
    sources: &mut [Box<dyn CopySource + '_>],
    req: &crate::copy_plan::CopyRequest<'_>,
    keyword: &'static str,
) -> Result<Vec<StepWarning>, SourceError> {
    let count = sources.iter().map(|s| s.matched()).sum();
    let dest = Destination::for_sources(req, keyword, count)?;
    let mut warnings = Vec::new();
    for s in sources.iter_mut() {
        warnings.extend(s.place(&dest)?);
    }
    Ok(warnings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::BuildContext;
    use crate::copy_plan::CopyRequest;
    use std::fs;

    fn req<'a>(sources: &'a [String], dest: &'a str) -> CopyRequest<'a> {
        CopyRequest {
            sources,
            dest,
            workdir: "/",
            windows: false,
            parents: false,
            exclude: &[],
            dest_is_dir_in_image: false,
        }
    }

    fn context() -> (tempfile::TempDir, BuildContext) {
        let d = tempfile::tempdir().unwrap();
        fs::write(d.path().join("a.txt"), "a").unwrap();
        let mut tar = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(1);
        h.set_mode(0o644);
        h.set_cksum();
        tar.append_data(&mut h, "inside.txt", &b"x"[..]).unwrap();
        fs::write(d.path().join("b.tar"), tar.into_inner().unwrap()).unwrap();
        let c = BuildContext::new(d.path(), None);
        (d, c)
    }

    /// The entry names of a Linux layer the placed `sources` write.
    fn linux_layer_names(sources: &[Box<dyn CopySource>]) -> Vec<String> {
        let mut out = Vec::new();
        let sink: &mut dyn std::io::Write = &mut out;
        let opts = crate::copy_layer::CopyOptions {
            linux_owner: None,
            windows_owner: None,
            chmod: None,
            timestamp: 0,
            clamp_mtimes: true,
            progress: None,
        };
        let mut w = CopyWriter::linux(sink, opts);
        for s in sources {
            s.write(&mut w).unwrap();
        }
        w.finish().unwrap();
        tar::Archive::new(out.as_slice())
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().to_string_lossy().to_string())
            .collect()
    }

    fn sources(c: &BuildContext, files: &[String]) -> Vec<Box<dyn CopySource>> {
        let context = ContextFiles::new("COPY", c.clone(), None, &req(files, "/")).unwrap();
        vec![
            Box::new(context),
            Box::new(InlineFile::here_document("EOF", "hello\n")),
        ]
    }

    #[test]
    fn every_source_kind_counts_for_the_destination_rule() {
        let (_d, c) = context();
        let files = vec!["a.txt".to_string()];
        let operands = vec!["a.txt".to_string(), "<<EOF".to_string()];
        // One file and one here-document: two sources need a directory.
        let err = place_all(&mut sources(&c, &files), &req(&operands, "/x"), "COPY").unwrap_err();
        assert!(err.to_string().contains("several sources (2)"), "{err}");
        let mut both = sources(&c, &files);
        place_all(&mut both, &req(&operands, "/x/"), "COPY").unwrap();
        // No entry for /x: an existing one keeps its owner and mode.
        assert_eq!(linux_layer_names(&both), ["x/a.txt", "x/EOF"]);
    }

    #[test]
    fn content_digests_follow_content_and_destination() {
        let (_d, c) = context();
        let files = vec!["a.txt".to_string()];
        let digests = |dest: &str, text: &str| {
            let ops = vec!["a.txt".to_string(), "<<EOF".to_string()];
            let mut s = sources(&c, &files);
            s[1] = Box::new(InlineFile::here_document("EOF", text));
            place_all(&mut s, &req(&ops, dest), "COPY").unwrap();
            s.iter()
                .map(|s| s.content_digest().unwrap())
                .collect::<Vec<_>>()
        };
        let base = digests("/x/", "one");
        assert_eq!(base, digests("/x/", "one"));
        let changed = digests("/x/", "two");
        assert_eq!(base[0], changed[0]);
        assert_ne!(base[1], changed[1]);
        let moved = digests("/y/", "one");
        assert_ne!(base[0], moved[0]);
        assert_ne!(base[1], moved[1]);
    }

    #[test]
    fn a_download_needs_a_name_inside_a_directory() {
        let blob = std::path::PathBuf::from("/nonexistent");
        let digest = wharf_oci::Digest::of_bytes(b"");
        let ops = vec!["u".to_string()];
        let mut named: Vec<Box<dyn CopySource>> = vec![Box::new(InlineFile::download(
            "https://example.com/dl/tool.tgz?x=1",
            blob.clone(),
            digest.clone(),
        ))];
        place_all(&mut named, &req(&ops, "/opt/"), "ADD").unwrap();
        let mut bare: Vec<Box<dyn CopySource>> = vec![Box::new(InlineFile::download(
            "https://example.com/",
            blob.clone(),
            digest.clone(),
        ))];
        let err = place_all(&mut bare, &req(&ops, "/opt/"), "ADD").unwrap_err();
        assert!(err.to_string().contains("names no file"), "{err}");
        let mut to_file: Vec<Box<dyn CopySource>> = vec![Box::new(InlineFile::download(
            "https://example.com/",
            blob,
            digest,
        ))];
        place_all(&mut to_file, &req(&ops, "/opt/tool"), "ADD").unwrap();
    }

    #[test]
    fn an_archive_whose_entries_are_all_skipped_still_makes_its_destination() {
        let d = tempfile::tempdir().unwrap();
        let mut tar = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Fifo);
        h.set_size(0);
        h.set_mode(0o644);
        h.set_cksum();
        tar.append_data(&mut h, "pipe", &b""[..]).unwrap();
        fs::write(d.path().join("fifo.tar"), tar.into_inner().unwrap()).unwrap();
        let c = BuildContext::new(d.path(), None);
        let archive = LocalArchive::detect(&c, "fifo.tar").expect("a tar archive");
        let ops = vec!["fifo.tar".to_string()];
        let mut s: Vec<Box<dyn CopySource>> = vec![Box::new(archive)];
        place_all(&mut s, &req(&ops, "/opt/empty/"), "ADD").unwrap();
        assert_eq!(linux_layer_names(&s), ["opt/empty/"]);
    }

    #[test]
    fn archives_are_recognised_by_content_and_extracted_into_the_destination() {
        let (_d, c) = context();
        assert!(LocalArchive::detect(&c, "a.txt").is_none());
        assert!(
            LocalArchive::detect(&c, "*.tar").is_none(),
            "wildcards copy"
        );
        let archive = LocalArchive::detect(&c, "b.tar").expect("a tar archive");
        let ops = vec!["b.tar".to_string()];
        let mut s: Vec<Box<dyn CopySource>> = vec![Box::new(archive)];
        place_all(&mut s, &req(&ops, "/opt"), "ADD").unwrap();
        let names = linux_layer_names(&s);
        assert!(names.contains(&"opt/inside.txt".to_string()), "{names:?}");
    }
}
