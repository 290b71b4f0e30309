//! Copies from a stage into a new layer: cross-OS transforms (docs/cross-os.md) —
//! a Linux stage's files into a Windows layer and a Windows stage's files into
//! a Linux layer — and same-OS copies. All read a [`crate::StageView`] and
//! write through the one writer of the target format.

pub mod paths;
pub mod same_os;
pub mod to_linux;
pub mod to_windows;

/// A name left out of the output, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    /// Path in the source stage.
    pub path: String,
    /// Why it could not be carried over.
    pub reason: String,
}

/// Which part of the source goes where.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Mapping {
    /// Subtree of the source view to copy (`""` for everything).
    pub source: String,
    /// Destination directory in the target layer (`""` for the root / `C:\`).
    pub dest: String,
}

impl Mapping {
    /// Everything, to the root.
    pub fn whole() -> Self {
        Mapping::default()
    }

    /// Maps a source path inside `source` to its destination path.
    pub(crate) fn map(&self, path: &str) -> String {
        let src = self.source.trim_matches('/');
        let rel = if src.is_empty() {
            path
        } else if path.len() == src.len() {
            ""
        } else {
            path.get(src.len() + 1..).unwrap_or("")
        };
        let dest = self.dest.trim_matches('/');
        match (dest.is_empty(), rel.is_empty()) {
            (true, _) => rel.to_string(),
            (false, true) => dest.to_string(),
            (false, false) => format!("{dest}/{rel}"),
        }
    }
}
