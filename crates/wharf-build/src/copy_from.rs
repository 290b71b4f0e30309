//! `COPY --from=<stage>`: reads the source stage through the layer
//! engine's read-only [`StageView`] (never unpacked on the host) and
//! writes one layer in the destination stage's format, through the layer
//! engine's copies: same OS with metadata and hardlinks kept; across OS
//! with its transforms (names NTFS cannot hold are skipped and listed;
//! absolute symlinks made relative; Windows-only parts dropped).
//!
//! Destination rules match COPY from the context: a directory source
//! copies its contents; a file source lands at the destination, or inside
//! it when the destination is a directory.

use crate::copy_plan::{into_directory, DestNotDirectory};
use std::io::Write;
use wharf_frontend::dockerignore::PathPattern;
use wharf_layer::transform::same_os::{copy_linux, copy_windows};
use wharf_layer::transform::Mapping;
use wharf_layer::{
    linux_to_windows, windows_to_linux, LayerOs, LinuxLayerWriter, Skipped, StageView,
    ToLinuxOptions, ToWindowsOptions, ViewEntry, ViewKind, WindowsLayerWriter,
};

/// A COPY --from that cannot be carried out.
#[derive(Debug, thiserror::Error)]
pub enum CopyFromError {
    #[error("{path}: not found in stage {stage}")]
    NotFound { path: String, stage: String },
    #[error("{0}")]
    BadPattern(String),
    #[error(transparent)]
    DestNotDirectory(#[from] DestNotDirectory),
    #[error("{0}")]
    Layer(#[from] wharf_layer::Error),
}

/// One source path of the stage and where it goes (both relative, `/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FromMapping {
    pub source: String,
    pub dest: String,
}

/// Resolves the COPY's sources against the view: wildcards, directory
/// versus file, destination directory rules.
pub fn plan_copy_from(
    view: &StageView,
    stage: &str,
    sources: &[String],
    dest: &str,
    dest_is_dir: bool,
) -> Result<Vec<FromMapping>, CopyFromError> {
    let mut matched: Vec<&ViewEntry> = Vec::new();
    for s in sources {
        // In a Windows stage `C:\app\x` and `/app/x` name the same file.
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
        if PathPattern::has_wildcards(rel) {
            let p = PathPattern::new(rel).map_err(CopyFromError::BadPattern)?;
            let before = matched.len();
            matched.extend(view.entries().filter(|e| p.matches(&e.path)));
            if matched.len() == before {
                return Err(CopyFromError::NotFound {
                    path: s.clone(),
                    stage: stage.to_string(),
                });
            }
        } else if rel.is_empty() {
            // The whole stage: its root's contents.
            return Ok(vec![FromMapping {
                source: String::new(),
                dest: dest.trim_matches('/').to_string(),
            }]);
        } else {
            matched.push(view.entry(rel).ok_or_else(|| CopyFromError::NotFound {
                path: s.clone(),
                stage: stage.to_string(),
            })?);
        }
    }
    let into_dir = into_directory("COPY", matched.len(), dest, dest_is_dir)?;
    let dest = dest.trim_matches('/');
    Ok(matched
        .into_iter()
        .map(|e| {
            let to = match e.kind {
                ViewKind::Dir => dest.to_string(),
                _ if into_dir => {
                    let name = e.path.rsplit('/').next().unwrap_or(&e.path);
                    if dest.is_empty() {
                        name.to_string()
                    } else {
                        format!("{dest}/{name}")
                    }
                }
                _ => dest.to_string(),
            };
            FromMapping {
                source: e.path.clone(),
                dest: to,
            }
        })
        .collect())
}

/// Ownership of copied entries in the destination's terms.
#[derive(Debug, Clone, Default)]
pub struct FromOwner {
    pub linux: Option<(u64, u64)>,
    pub windows_sid: Option<String>,
}

/// Copies into a Linux layer. Returns what was skipped (cross-OS only).
pub fn copy_into_linux<W: Write>(
    view: &StageView,
    mappings: &[FromMapping],
    owner: &FromOwner,
    timestamp: u64,
    w: &mut LinuxLayerWriter<W>,
) -> Result<Vec<Skipped>, CopyFromError> {
    let mut skipped = Vec::new();
    let mut declared: std::collections::BTreeSet<String> = Default::default();
    for m in mappings {
        // Parents of the destination that the layer must declare.
        crate::copy_layer::declare_parents(w, &mut declared, &m.dest, timestamp)?;
        if view.os() == LayerOs::Windows {
            let (uid, gid) = owner.linux.unwrap_or((0, 0));
            let report = windows_to_linux(
                view,
                w,
                &ToLinuxOptions {
                    mapping: Mapping {
                        source: m.source.clone(),
                        dest: m.dest.clone(),
                    },
                    uid,
                    gid,
                    ..ToLinuxOptions::default()
                },
            )?;
            skipped.extend(report.skipped);
            continue;
        }
        copy_linux(
            view,
            w,
            &Mapping {
                source: m.source.clone(),
                dest: m.dest.clone(),
            },
            owner.linux,
        )?;
    }
    Ok(skipped)
}

/// Copies into a Windows layer. Returns what was skipped.
pub fn copy_into_windows<W: Write>(
    view: &StageView,
    mappings: &[FromMapping],
    owner: &FromOwner,
    w: &mut WindowsLayerWriter<'_, W>,
) -> Result<Vec<Skipped>, CopyFromError> {
    let mut skipped = Vec::new();
    for m in mappings {
        if view.os() == LayerOs::Linux {
            let report = linux_to_windows(
                view,
                w,
                &ToWindowsOptions {
                    mapping: Mapping {
                        source: m.source.clone(),
                        dest: m.dest.clone(),
                    },
                    strict: false,
                    owner_sid: owner.windows_sid.clone(),
                },
            )?;
            skipped.extend(report.skipped);
            continue;
        }
        copy_windows(
            view,
            w,
            &Mapping {
                source: m.source.clone(),
                dest: m.dest.clone(),
            },
            owner.windows_sid.as_deref(),
        )?;
    }
    Ok(skipped)
}
