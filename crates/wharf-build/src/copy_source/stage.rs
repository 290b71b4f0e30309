//! Files of another stage or of an image (`COPY --from`), read through the
//! layer engine's read-only [`StageView`] (never unpacked on the host) and
//! copied by the layer engine: same OS with metadata and hard links kept;
//! across OS with its transforms (names NTFS cannot hold are skipped and
//! listed; absolute symlinks made relative; Windows-only parts dropped).
//!
//! The destination rules are those of every source: a directory copies
//! its contents; a file lands at the destination, or inside it when the
//! destination is a directory.

use super::{CopySource, SourceError};
use crate::copy_layer::{CopyWriter, LayerMut};
use crate::copy_plan::Destination;
use wharf_frontend::dockerignore::PathPattern;
use wharf_layer::transform::same_os::{copy_linux, copy_windows};
use wharf_layer::transform::Mapping;
use wharf_layer::{
    linux_to_windows, windows_to_linux, LayerOs, Skipped, StageView, ToLinuxOptions,
    ToWindowsOptions, ViewKind,
};
use wharf_oci::Digest;

/// One matched path of the stage (relative, `/`; `""` is the root).
struct StageMatch {
    path: String,
    is_dir: bool,
}

/// The paths one COPY --from names in a stage, and where they go.
pub(crate) struct StageFiles {
    view: StageView,
    /// The view's spool directory, kept as long as the view.
    _spool: tempfile::TempDir,
    /// The stage or image as `--from` names it, for messages.
    name: String,
    /// The stage's cache key: names its content.
    chain: Digest,
    matched: Vec<StageMatch>,
    mappings: Vec<Mapping>,
}

impl StageFiles {
    /// Matches `sources` in the stage `view` (`C:\x` and `/x` are the same
    /// path in a Windows stage).
    pub(crate) fn new(
        view: StageView,
        spool: tempfile::TempDir,
        name: &str,
        chain: Digest,
        sources: &[String],
    ) -> Result<Self, SourceError> {
        let not_found = |s: &str| SourceError::NotInStage {
            path: s.to_string(),
            stage: name.to_string(),
        };
        let mut matched = Vec::new();
        for s in sources {
            let normalized = if view.os() == LayerOs::Windows {
                let t = s.replace('\\', "/");
                match t.get(..2) {
                    Some(d) if d.eq_ignore_ascii_case("c:") => t[2..].to_string(),
                    _ => t,
                }
            } else {
                s.clone()
            };
            let rel = normalized.trim_matches('/');
            if rel.is_empty() {
                // The whole stage: its root's contents.
                matched.push(StageMatch {
                    path: String::new(),
                    is_dir: true,
                });
            } else if PathPattern::has_wildcards(rel) {
                let p =
                    PathPattern::new(rel).map_err(|e| SourceError::Other(format!("{s}: {e}")))?;
                let before = matched.len();
                matched.extend(
                    view.entries()
                        .filter(|e| p.matches(&e.path))
                        .map(|e| StageMatch {
                            path: e.path.clone(),
                            is_dir: e.kind == ViewKind::Dir,
                        }),
                );
                if matched.len() == before {
                    return Err(not_found(s));
                }
            } else {
                let e = view.entry(rel).ok_or_else(|| not_found(s))?;
                matched.push(StageMatch {
                    path: e.path.clone(),
                    is_dir: e.kind == ViewKind::Dir,
                });
            }
        }
        Ok(StageFiles {
            view,
            _spool: spool,
            name: name.to_string(),
            chain,
            matched,
            mappings: Vec::new(),
        })
    }
}

impl CopySource for StageFiles {
    fn matched(&self) -> usize {
        self.matched.len()
    }

    fn place(&mut self, dest: &Destination) -> Result<Vec<crate::api::StepWarning>, SourceError> {
        self.mappings = self
            .matched
            .iter()
            .map(|m| {
                let to = if m.is_dir {
                    dest.path.clone()
                } else {
                    let name = m.path.rsplit('/').next().unwrap_or(&m.path);
                    dest.file_target(name)
                };
                Mapping {
                    source: m.path.clone(),
                    dest: to.trim_matches('/').to_string(),
                }
            })
            .collect();
        Ok(Vec::new())
    }

    fn content_digest(&self) -> Result<Digest, SourceError> {
        Ok(self.chain.clone())
    }

    fn write(&self, out: &mut CopyWriter<'_>) -> Result<Vec<crate::api::StepWarning>, SourceError> {
        let opts = *out.options();
        let mut skipped: Vec<Skipped> = Vec::new();
        let from_windows = self.view.os() == LayerOs::Windows;
        for m in &self.mappings {
            match out.layer() {
                LayerMut::Linux(writer) => {
                    if from_windows {
                        let (uid, gid) = opts.linux_owner.unwrap_or((0, 0));
                        let options = ToLinuxOptions {
                            mapping: m.clone(),
                            uid,
                            gid,
                            ..ToLinuxOptions::default()
                        };
                        skipped.extend(windows_to_linux(&self.view, writer, &options)?.skipped);
                    } else {
                        copy_linux(&self.view, writer, m, opts.linux_owner)?;
                    }
                }
                LayerMut::Windows(writer) => {
                    if from_windows {
                        copy_windows(&self.view, writer, m, opts.windows_owner)?;
                    } else {
                        let options = ToWindowsOptions {
                            mapping: m.clone(),
                            strict: false,
                            owner_sid: opts.windows_owner.map(str::to_string),
                        };
                        skipped.extend(linux_to_windows(&self.view, writer, &options)?.skipped);
                    }
                }
            }
        }
        if skipped.is_empty() {
            return Ok(Vec::new());
        }
        let list: Vec<String> = skipped
            .iter()
            .map(|s| format!("{} ({})", s.path, s.reason))
            .collect();
        Ok(vec![crate::api::StepWarning {
            message: format!(
                "COPY --from={} skipped {} name(s) the destination cannot hold",
                self.name,
                skipped.len(),
            ),
            names: list,
        }])
    }
}
