//! Which directories `mkdir -p` of a path would create in a Linux view,
//! resolving symbolic links inside the stage's root as BuildKit's file
//! operations do (`fs.RootPath`): an absolute target restarts at the
//! stage's root and `..` never climbs above it. `WORKDIR` uses this to put
//! exactly the missing directories in its layer.

use super::{StageView, ViewKind};

/// Links followed while resolving one path before it is refused as a loop
/// (the kernel's limit).
const MAX_LINKS: usize = 40;

/// A path that cannot be a directory in the view.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MkdirError {
    /// A component is a file, device or pipe.
    #[error("/{0} is not a directory in the stage")]
    NotADirectory(String),
    /// Symbolic links point at each other.
    #[error("/{0}: too many levels of symbolic links")]
    LinkLoop(String),
}

impl StageView {
    /// The directories to create, parents first, as relative paths with
    /// links resolved, so that `path` (absolute or relative to the root)
    /// exists as a directory. Empty when it already does.
    pub fn dirs_to_make(&self, path: &str) -> Result<Vec<String>, MkdirError> {
        let mut pending: Vec<String> = components(path).into_iter().rev().collect();
        let mut resolved: Vec<String> = Vec::new();
        let mut missing = Vec::new();
        let mut links = 0;
        while let Some(name) = pending.pop() {
            if name == ".." {
                resolved.pop();
                continue;
            }
            resolved.push(name);
            let here = resolved.join("/");
            if !missing.is_empty() {
                // Below a directory still to be made, nothing exists.
                missing.push(here);
                continue;
            }
            match self.entry(&here).map(|e| &e.kind) {
                None => missing.push(here),
                Some(ViewKind::Dir) => {}
                Some(ViewKind::Symlink { target }) => {
                    links += 1;
                    if links > MAX_LINKS {
                        return Err(MkdirError::LinkLoop(here));
                    }
                    resolved.pop();
                    if target.starts_with('/') {
                        resolved.clear();
                    }
                    pending.extend(components(target).into_iter().rev());
                }
                Some(_) => return Err(MkdirError::NotADirectory(here)),
            }
        }
        Ok(missing)
    }
}

/// `path`'s components, cleaned lexically as Go's `filepath.Clean` does
/// (BuildKit cleans the same way before walking): `a/../b` is `b`; a
/// relative path keeps its leading `..`, which climbs from the link's
/// directory; an absolute one drops them.
fn components(path: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => match out.last().map(String::as_str) {
                Some(last) if last != ".." => {
                    out.pop();
                }
                _ if path.starts_with('/') => {}
                _ => out.push("..".to_string()),
            },
            c => out.push(c.to_string()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tarfmt::{EntryKind, TarEntry};
    use crate::view::{LayerOs, ViewOptions};
    use crate::{LinuxLayerOptions, LinuxLayerWriter};

    fn view(entries: &[(&str, EntryKind)]) -> (StageView, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let mut w = LinuxLayerWriter::new(Vec::new(), LinuxLayerOptions::default());
        for (path, kind) in entries {
            let data: &[u8] = b"";
            let mut r = data;
            let is_file = matches!(kind, EntryKind::File { .. });
            w.append(
                TarEntry::new(*path, kind.clone()),
                is_file.then_some(&mut r as &mut dyn std::io::Read),
            )
            .unwrap();
        }
        let tar = dir.path().join("layer.tar");
        std::fs::write(&tar, w.finish().unwrap()).unwrap();
        let v = StageView::from_layers(LayerOs::Linux, &[tar], dir.path(), &ViewOptions::default())
            .unwrap();
        (v, dir)
    }

    #[test]
    fn only_missing_directories_are_made_and_links_resolve_in_the_root() {
        let (v, _d) = view(&[
            ("srv", EntryKind::Dir),
            ("var", EntryKind::Dir),
            ("run", EntryKind::Dir),
            (
                "var/run",
                EntryKind::Symlink {
                    target: "/run".into(),
                },
            ),
            (
                "up",
                EntryKind::Symlink {
                    target: "../../../..".into(),
                },
            ),
            ("etc/passwd", EntryKind::File { size: 0 }),
        ]);
        assert_eq!(v.dirs_to_make("/srv").unwrap(), Vec::<String>::new());
        assert_eq!(v.dirs_to_make("/").unwrap(), Vec::<String>::new());
        assert_eq!(
            v.dirs_to_make("/srv/app/logs").unwrap(),
            ["srv/app", "srv/app/logs"]
        );
        assert_eq!(v.dirs_to_make("/var/run/app").unwrap(), ["run/app"]);
        // `..` stops at the root, also through a link.
        assert_eq!(v.dirs_to_make("/up/x").unwrap(), ["x"]);
        assert_eq!(v.dirs_to_make("/a/../srv/./b").unwrap(), ["srv/b"]);
        // The parents a layer only implies are directories.
        assert_eq!(v.dirs_to_make("/etc").unwrap(), Vec::<String>::new());
        assert_eq!(
            v.dirs_to_make("/etc/passwd/x"),
            Err(MkdirError::NotADirectory("etc/passwd".into()))
        );
    }

    #[test]
    fn link_loops_are_refused() {
        let (v, _d) = view(&[
            ("a", EntryKind::Symlink { target: "b".into() }),
            ("b", EntryKind::Symlink { target: "a".into() }),
        ]);
        assert!(matches!(
            v.dirs_to_make("/a/x"),
            Err(MkdirError::LinkLoop(_))
        ));
    }
}
