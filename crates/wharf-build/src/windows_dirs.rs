//! What a new Windows layer knows of the directories below it. A Windows
//! layer declares every parent of its entries (the importer creates none,
//! docs/windows-layer-format.md), so each re-declared directory needs
//! metadata: the stage's own earlier layers always give theirs (and their
//! spelling); the base image's only when the build reads the base
//! (`--read-windows-base`), which downloads its layers. Without that, a
//! directory only the base has gets default metadata, as in BuildKit's
//! Windows layers; the choice is part of the step's cache key, so the two
//! kinds of layer never stand in for each other.

use crate::api::BuildError;
use crate::stage_exec::StageExec;
use wharf_layer::{ViewOptions, WindowsDirIndex};
use wharf_oci::{Digest, LayerRef, Reference};

impl StageExec<'_> {
    /// The directories of a Windows stage's `layers` (the first
    /// `base_layers` of them the base image's, from `base`), read from
    /// the tar headers only.
    pub(crate) fn windows_dirs(
        &self,
        layers: &[LayerRef],
        base_layers: usize,
        base: Option<&Reference>,
        line: usize,
        what: &str,
    ) -> Result<WindowsDirIndex, BuildError> {
        let (used, base) = match self.read_windows_base {
            true => (layers, base),
            false => (&layers[base_layers.min(layers.len())..], None),
        };
        if used.is_empty() {
            return Ok(WindowsDirIndex::default());
        }
        self.fetch_layers(base, used)
            .map_err(|m| self.step_err(line, format!("{what}: reading the stage's layers: {m}")))?;
        let store = self.layers.store();
        let paths: Vec<_> = used
            .iter()
            .map(|l| store.blob_path(&l.descriptor.digest))
            .collect();
        let refs: Vec<&std::path::Path> = paths.iter().map(|p| p.as_path()).collect();
        WindowsDirIndex::from_layers(&refs, ViewOptions::default().max_uncompressed_bytes)
            .map_err(|e| self.step_err(line, format!("{what}: reading the stage's layers: {e}")))
    }

    /// What a Windows step's cache key gains when the build reads the
    /// base: the base's layers, whose directories the new layer reuses.
    pub(crate) fn windows_base_key(
        &self,
        layers: &[LayerRef],
        base_layers: usize,
    ) -> Option<Digest> {
        if !self.read_windows_base || base_layers == 0 {
            return None;
        }
        let mut text = String::from("read-windows-base");
        for l in &layers[..base_layers.min(layers.len())] {
            text.push(' ');
            text.push_str(l.diff_id.as_ref());
        }
        Some(Digest::of_bytes(text.as_bytes()))
    }
}
