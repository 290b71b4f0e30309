//! Files of the build context, or of a git checkout standing in for it.

use super::{CopySource, SourceError};
use crate::cache_key::copy_sources_digest;
use crate::context::BuildContext;
use crate::copy_layer::CopyWriter;
use crate::copy_plan::{
    drop_case_duplicates, match_context, place_context, ContextMatch, CopyEntry, CopyRequest,
    Destination, Excludes,
};
use wharf_oci::Digest;

/// The context paths one COPY/ADD names, matched, then placed as entries.
pub(crate) struct ContextFiles {
    keyword: &'static str,
    ctx: BuildContext,
    /// Keeps a git checkout on disk until the layer is written.
    _checkout: Option<tempfile::TempDir>,
    excludes: Excludes,
    parents: bool,
    windows: bool,
    matched: Vec<ContextMatch>,
    entries: Vec<CopyEntry>,
}

impl ContextFiles {
    /// Matches `req.sources` in `ctx` (a git checkout kept alive by
    /// `checkout`, when it stands in for the context).
    pub(crate) fn new(
        keyword: &'static str,
        ctx: BuildContext,
        checkout: Option<tempfile::TempDir>,
        req: &CopyRequest<'_>,
    ) -> Result<Self, SourceError> {
        let excludes = Excludes::new(req.exclude)?;
        let matched = match_context(&ctx, req, &excludes)?;
        Ok(ContextFiles {
            keyword,
            ctx,
            _checkout: checkout,
            excludes,
            parents: req.parents,
            windows: req.windows,
            matched,
            entries: Vec::new(),
        })
    }
}

impl CopySource for ContextFiles {
    fn matched(&self) -> usize {
        self.matched.len()
    }

    fn place(&mut self, dest: &Destination) -> Result<Vec<crate::api::StepWarning>, SourceError> {
        let entries = place_context(&self.ctx, &self.matched, dest, self.parents, &self.excludes)?;
        if !self.windows {
            self.entries = entries;
            return Ok(Vec::new());
        }
        let (kept, dropped) = drop_case_duplicates(entries);
        self.entries = kept;
        if dropped.is_empty() {
            return Ok(Vec::new());
        }
        Ok(vec![crate::api::StepWarning {
            message: format!(
                "{} skipped {} name(s) that differ from another only in case, which Windows cannot hold apart",
                self.keyword,
                dropped.len(),
            ),
            names: dropped,
        }])
    }

    fn content_digest(&self) -> Result<Digest, SourceError> {
        Ok(copy_sources_digest(&self.ctx, &self.entries)?)
    }

    fn write(&self, out: &mut CopyWriter<'_>) -> Result<Vec<crate::api::StepWarning>, SourceError> {
        for e in &self.entries {
            out.context_entry(&self.ctx, e)?;
        }
        Ok(Vec::new())
    }

    /// The records of `copy_sources_digest`, made as the files are written.
    fn write_with_digest(
        &self,
        out: &mut CopyWriter<'_>,
    ) -> Result<(Vec<crate::api::StepWarning>, Digest), SourceError> {
        let mut key = wharf_oci::Hasher::sha256();
        for e in &self.entries {
            out.context_entry_keyed(&self.ctx, e, Some(&mut key))?;
        }
        Ok((Vec::new(), key.finish()))
    }
}
