//! What a COPY/ADD from the build context copies, and to where, by
//! Docker's rules:
//! - sources are relative to the context root; a source that leaves the
//!   context (`../x`) is an error, and so is one `.dockerignore` excludes;
//! - wildcards (Docker's pattern rules) match context paths; no match is
//!   an error;
//! - a directory source copies its contents, not the directory itself
//!   (with `--parents`, the path from the context root, or from a `/./`
//!   pivot, is kept);
//! - a source that is itself a symlink is followed; symlinks inside copied
//!   directories are copied as links;
//! - the destination is a directory when it ends in `/` (or `\` in a
//!   Windows stage) or already is one in the image; several sources need
//!   a directory destination;
//! - a relative destination is relative to WORKDIR.
//!
//! The result is a list of (context path → image path) entries; the layer
//! writer turns it into a layer. Image paths are POSIX-style absolute paths
//! even for Windows stages (`C:\app\x` is `/app/x`); the Windows layer
//! writer adds the `Files/` prefix.

use crate::context::{BuildContext, ContextError, EntryKind};
use wharf_frontend::dockerignore::PathPattern;
use wharf_frontend::plan::{resolve_linux_path, resolve_windows_path, windows_path_as_posix};

/// A COPY that cannot be carried out.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error(transparent)]
    Context(#[from] ContextError),
    #[error(
        "{source_path}: the path leaves the build context; COPY reads only files inside {context}"
    )]
    OutsideContext {
        source_path: String,
        context: String,
    },
    #[error("{pattern}: no file in the build context matches (or all matches are excluded by .dockerignore / --exclude)")]
    NoMatch { pattern: String },
    #[error("{0}")]
    BadPattern(String),
    #[error(transparent)]
    DestNotDirectory(#[from] DestNotDirectory),
    #[error("destination {dest}: {reason}")]
    BadDestination { dest: String, reason: String },
}

/// Several sources and a destination that is not a directory.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{keyword} with several sources ({count}) needs a directory destination ending in /, not {dest}")]
pub struct DestNotDirectory {
    /// `COPY` or `ADD`.
    pub keyword: &'static str,
    pub count: usize,
    pub dest: String,
}

/// Where a COPY/ADD puts what it matched: Docker's destination rule,
/// the one every source kind (context, stage, here-document, URL,
/// archive) follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// Absolute POSIX-style path without a trailing `/` (`""` is the root).
    pub path: String,
    /// Whether single files land inside the destination: it names a
    /// directory, or several sources were matched. A directory source
    /// always copies its contents into it.
    pub into_dir: bool,
}

impl Destination {
    /// The destination of `req` for `count` matched sources (wildcards
    /// expanded, every source kind counted): several sources need a
    /// directory destination.
    pub fn for_sources(
        req: &CopyRequest<'_>,
        keyword: &'static str,
        count: usize,
    ) -> Result<Self, CopyError> {
        let (path, is_dir) = destination(req)?;
        let is_dir = is_dir || req.dest_is_dir_in_image;
        if count > 1 && !is_dir {
            return Err(DestNotDirectory {
                keyword,
                count,
                dest: req.dest.to_string(),
            }
            .into());
        }
        Ok(Destination {
            path,
            into_dir: is_dir || count > 1,
        })
    }

    /// Where a single matched file (or link) called `name` lands.
    pub fn file_target(&self, name: &str) -> String {
        if self.into_dir {
            join(&self.path, name)
        } else if self.path.is_empty() {
            "/".into()
        } else {
            self.path.clone()
        }
    }

    /// The destination relative to the image root (`""` for the root).
    pub fn relative(&self) -> &str {
        self.path.trim_start_matches('/')
    }
}

/// One thing to put in the layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyEntry {
    /// Path in the context (what to read).
    pub source: String,
    /// Absolute path in the image, `/`-separated.
    pub dest: String,
    pub kind: EntryKind,
}

/// Inputs of one COPY from the context.
#[derive(Debug, Clone)]
pub struct CopyRequest<'a> {
    /// Sources as expanded by the planner.
    pub sources: &'a [String],
    /// Destination as expanded.
    pub dest: &'a str,
    /// WORKDIR in effect (`C:\...` in Windows stages).
    pub workdir: &'a str,
    pub windows: bool,
    pub parents: bool,
    pub exclude: &'a [String],
    /// Whether the destination already is a directory in the image.
    pub dest_is_dir_in_image: bool,
}

/// Absolute POSIX-style destination and whether it names a directory.
pub(crate) fn destination(req: &CopyRequest<'_>) -> Result<(String, bool), CopyError> {
    let raw = req.dest;
    let mut is_dir = raw.ends_with('/') || (req.windows && raw.ends_with('\\'));
    if req.windows {
        let resolved =
            resolve_windows_path(req.workdir, raw).map_err(|reason| CopyError::BadDestination {
                dest: raw.to_string(),
                reason,
            })?;
        let posix = windows_path_as_posix(&resolved);
        is_dir |= posix == "/" || raw.ends_with("/.") || raw == ".";
        Ok((posix.trim_end_matches('/').to_string(), is_dir))
    } else {
        let resolved = resolve_linux_path(req.workdir, raw);
        is_dir |= resolved == "/" || raw.ends_with("/.") || raw == ".";
        Ok((resolved.trim_end_matches('/').to_string(), is_dir))
    }
}

fn join(dir: &str, name: &str) -> String {
    if name.is_empty() {
        if dir.is_empty() {
            "/".to_string()
        } else {
            dir.to_string()
        }
    } else {
        format!("{dir}/{name}")
    }
}

fn basename(rel: &str) -> &str {
    rel.rsplit('/').next().unwrap_or(rel)
}

/// Cleans a source to a context-relative path; `None` if it leaves the context.
fn clean_source(src: &str) -> Option<(String, Option<String>)> {
    // `--parents` pivot: the part after `/./` is what is kept.
    let pivot = src.find("/./").map(|i| src[i + 3..].to_string());
    let mut out: Vec<&str> = Vec::new();
    for part in src.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                out.pop()?;
            }
            p => out.push(p),
        }
    }
    Some((out.join("/"), pivot))
}

/// `--exclude` patterns of one COPY.
#[derive(Debug, Clone, Default)]
pub struct Excludes(Vec<PathPattern>);

impl Excludes {
    pub fn new(patterns: &[String]) -> Result<Self, CopyError> {
        patterns
            .iter()
            .map(|e| PathPattern::new(e).map_err(CopyError::BadPattern))
            .collect::<Result<Vec<_>, _>>()
            .map(Excludes)
    }

    pub fn matches(&self, rel: &str) -> bool {
        self.0.iter().any(|p| p.matches(rel))
    }
}

/// A context path a source operand matched, and the path `--parents`
/// keeps of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextMatch {
    pub rel: String,
    pub keep: String,
}

/// Matches the sources of `req` in the context: wildcards expanded,
/// `.dockerignore` and `--exclude` applied, nothing outside the context.
pub fn match_context(
    ctx: &BuildContext,
    req: &CopyRequest<'_>,
    excludes: &Excludes,
) -> Result<Vec<ContextMatch>, CopyError> {
    let mut matched: Vec<ContextMatch> = Vec::new();
    for src in req.sources {
        let Some((rel, pivot)) = clean_source(src) else {
            return Err(CopyError::OutsideContext {
                source_path: src.clone(),
                context: ctx.root().display().to_string(),
            });
        };
        if PathPattern::has_wildcards(&rel) {
            let pattern = PathPattern::new(&rel).map_err(CopyError::BadPattern)?;
            let before = matched.len();
            for e in ctx.walk("", &|p| excludes.matches(p))? {
                if pattern.matches(&e.rel)
                    && !matched
                        .iter()
                        .any(|m| e.rel.starts_with(&format!("{}/", m.rel)))
                {
                    matched.push(ContextMatch {
                        rel: e.rel.clone(),
                        keep: e.rel.clone(),
                    });
                }
            }
            if matched.len() == before {
                return Err(CopyError::NoMatch {
                    pattern: src.clone(),
                });
            }
        } else {
            if !rel.is_empty() && (ctx.is_ignored(&rel) || excludes.matches(&rel)) {
                return Err(ContextError::NotFound {
                    path: src.clone(),
                    context: ctx.root().display().to_string(),
                }
                .into());
            }
            let keep = pivot.unwrap_or_else(|| rel.clone());
            matched.push(ContextMatch { rel, keep });
        }
    }
    Ok(matched)
}

/// Every entry the matches put in the layer, and where: a directory's
/// contents go into the destination (below the kept path with
/// `--parents`), a file follows [`Destination::file_target`].
pub fn place_context(
    ctx: &BuildContext,
    matched: &[ContextMatch],
    dest: &Destination,
    parents: bool,
    excludes: &Excludes,
) -> Result<Vec<CopyEntry>, CopyError> {
    let mut out = Vec::new();
    for m in matched {
        // The named source itself is followed if it is a symlink.
        let target = ctx.resolve(&m.rel, true)?;
        let kind = ctx.kind(&target)?;
        let keep = m.keep.trim_end_matches('/');
        match kind {
            EntryKind::Dir => {
                let base = if parents {
                    join(&dest.path, keep)
                } else {
                    dest.path.clone()
                };
                if parents && !keep.is_empty() {
                    out.push(CopyEntry {
                        source: target.clone(),
                        dest: base.clone(),
                        kind: EntryKind::Dir,
                    });
                }
                for e in ctx.walk(&target, &|p| excludes.matches(p))? {
                    let inner = if target.is_empty() {
                        e.rel.clone()
                    } else {
                        e.rel[target.len() + 1..].to_string()
                    };
                    if excludes.matches(&inner) {
                        continue;
                    }
                    out.push(CopyEntry {
                        source: e.rel.clone(),
                        dest: join(&base, &inner),
                        kind: e.kind,
                    });
                }
            }
            EntryKind::Other => {}
            kind => {
                let name = if parents { keep } else { basename(&m.rel) };
                out.push(CopyEntry {
                    source: target,
                    dest: dest.file_target(name),
                    kind,
                });
            }
        }
    }
    out.sort_by(|a, b| a.dest.cmp(&b.dest));
    out.dedup_by(|a, b| a.dest == b.dest);
    Ok(out)
}

/// Works out every entry a COPY of context files alone writes.
pub fn plan_copy(ctx: &BuildContext, req: &CopyRequest<'_>) -> Result<Vec<CopyEntry>, CopyError> {
    let excludes = Excludes::new(req.exclude)?;
    let matched = match_context(ctx, req, &excludes)?;
    let dest = Destination::for_sources(req, "COPY", matched.len())?;
    place_context(ctx, &matched, &dest, req.parents, &excludes)
}

// The tests build symlinks with the Unix API.
#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::fs;
    use wharf_frontend::dockerignore::DockerIgnore;

    fn ctx(ignore: &str) -> (tempfile::TempDir, BuildContext) {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        fs::create_dir_all(r.join("src/sub")).unwrap();
        fs::create_dir_all(r.join("docs")).unwrap();
        fs::write(r.join("src/main.rs"), "m").unwrap();
        fs::write(r.join("src/lib.rs"), "l").unwrap();
        fs::write(r.join("src/sub/x.rs"), "x").unwrap();
        fs::write(r.join("docs/a.md"), "a").unwrap();
        fs::write(r.join("README.md"), "r").unwrap();
        fs::write(r.join("secret.key"), "k").unwrap();
        std::os::unix::fs::symlink("src/main.rs", r.join("main-link")).unwrap();
        std::os::unix::fs::symlink("main.rs", r.join("src/inner-link")).unwrap();
        let ig = DockerIgnore::parse(".dockerignore", ignore).unwrap();
        let c = BuildContext::new(r, Some(ig));
        (d, c)
    }

    fn req<'a>(sources: &'a [String], dest: &'a str) -> CopyRequest<'a> {
        CopyRequest {
            sources,
            dest,
            workdir: "/app",
            windows: false,
            parents: false,
            exclude: &[],
            dest_is_dir_in_image: false,
        }
    }

    fn pairs(v: &[CopyEntry]) -> Vec<(String, String)> {
        v.iter()
            .map(|e| (e.source.clone(), e.dest.clone()))
            .collect()
    }

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn file_to_file_and_to_directory() {
        let (_d, c) = ctx("");
        let src = s(&["README.md"]);
        assert_eq!(
            pairs(&plan_copy(&c, &req(&src, "/r.txt")).unwrap()),
            vec![("README.md".into(), "/r.txt".into())]
        );
        assert_eq!(
            pairs(&plan_copy(&c, &req(&src, "docs/")).unwrap()),
            vec![("README.md".into(), "/app/docs/README.md".into())]
        );
        assert_eq!(
            pairs(&plan_copy(&c, &req(&src, ".")).unwrap()),
            vec![("README.md".into(), "/app/README.md".into())]
        );
        let mut r = req(&src, "/existing");
        r.dest_is_dir_in_image = true;
        assert_eq!(
            pairs(&plan_copy(&c, &r).unwrap()),
            vec![("README.md".into(), "/existing/README.md".into())]
        );
    }

    #[test]
    fn directory_contents_not_the_directory() {
        let (_d, c) = ctx("");
        let src = s(&["src"]);
        let got = pairs(&plan_copy(&c, &req(&src, "/code")).unwrap());
        let dests: Vec<&str> = got.iter().map(|(_, d)| d.as_str()).collect();
        assert_eq!(
            dests,
            vec![
                "/code/inner-link",
                "/code/lib.rs",
                "/code/main.rs",
                "/code/sub",
                "/code/sub/x.rs"
            ]
        );
        let e = plan_copy(&c, &req(&src, "/code")).unwrap();
        assert_eq!(
            e[0].kind,
            EntryKind::Symlink,
            "links inside a directory stay links"
        );
    }

    #[test]
    fn wildcards_several_sources_and_errors() {
        let (_d, c) = ctx("");
        let src = s(&["src/*.rs"]);
        let got = pairs(&plan_copy(&c, &req(&src, "/out/")).unwrap());
        assert_eq!(
            got,
            vec![
                ("src/lib.rs".into(), "/out/lib.rs".into()),
                ("src/main.rs".into(), "/out/main.rs".into())
            ]
        );
        let e = plan_copy(&c, &req(&src, "/out")).unwrap_err();
        assert!(
            matches!(
                e,
                CopyError::DestNotDirectory(DestNotDirectory { count: 2, .. })
            ),
            "{e}"
        );
        let src = s(&["*.nothing"]);
        assert!(matches!(
            plan_copy(&c, &req(&src, "/o/")).unwrap_err(),
            CopyError::NoMatch { .. }
        ));
        let src = s(&["../etc/passwd"]);
        assert!(matches!(
            plan_copy(&c, &req(&src, "/o/")).unwrap_err(),
            CopyError::OutsideContext { .. }
        ));
        let src = s(&["missing.txt"]);
        let e = plan_copy(&c, &req(&src, "/o/")).unwrap_err().to_string();
        assert!(
            e.contains("missing.txt") && e.contains("not found in the build context"),
            "{e}"
        );
    }

    #[test]
    fn dockerignore_and_exclude() {
        let (_d, c) = ctx("*.key\ndocs\n");
        let src = s(&["secret.key"]);
        let e = plan_copy(&c, &req(&src, "/o/")).unwrap_err().to_string();
        assert!(e.contains("excluded by .dockerignore"), "{e}");
        let src = s(&["."]);
        let excl = s(&["*.md", "src/sub"]);
        let mut r = req(&src, "/o/");
        r.exclude = &excl;
        let got: Vec<String> = plan_copy(&c, &r)
            .unwrap()
            .into_iter()
            .map(|e| e.dest)
            .collect();
        assert!(
            !got.iter().any(|d| d.contains("secret")
                || d.contains("docs")
                || d.ends_with(".md")
                || d.contains("/sub")),
            "{got:?}"
        );
        assert!(got.contains(&"/o/src/main.rs".to_string()));
    }

    #[test]
    fn symlinked_source_is_followed_and_parents_kept() {
        let (_d, c) = ctx("");
        let src = s(&["main-link"]);
        let got = plan_copy(&c, &req(&src, "/bin/")).unwrap();
        assert_eq!(
            pairs(&got),
            vec![("src/main.rs".into(), "/bin/main-link".into())]
        );
        assert_eq!(got[0].kind, EntryKind::File);
        let src = s(&["src/sub/x.rs", "./docs/./a.md"]);
        let mut r = req(&src, "/p/");
        r.parents = true;
        assert_eq!(
            pairs(&plan_copy(&c, &r).unwrap()),
            vec![
                ("docs/a.md".into(), "/p/a.md".into()),
                ("src/sub/x.rs".into(), "/p/src/sub/x.rs".into())
            ]
        );
    }

    #[test]
    fn windows_destinations() {
        let (_d, c) = ctx("");
        let src = s(&["README.md"]);
        let mut r = req(&src, "C:\\app\\docs\\");
        r.windows = true;
        r.workdir = "C:\\";
        assert_eq!(
            pairs(&plan_copy(&c, &r).unwrap()),
            vec![("README.md".into(), "/app/docs/README.md".into())]
        );
        let mut r = req(&src, "config\\r.txt");
        r.windows = true;
        r.workdir = "C:\\app";
        assert_eq!(
            pairs(&plan_copy(&c, &r).unwrap()),
            vec![("README.md".into(), "/app/config/r.txt".into())]
        );
        let mut r = req(&src, "D:\\x");
        r.windows = true;
        r.workdir = "C:\\";
        assert!(matches!(
            plan_copy(&c, &r).unwrap_err(),
            CopyError::BadDestination { .. }
        ));
    }
}

/// For a Windows destination: keeps the first of entries whose
/// destinations differ only in case (NTFS holds one of them), with
/// everything below a dropped directory; returns what was dropped.
pub fn drop_case_duplicates(entries: Vec<CopyEntry>) -> (Vec<CopyEntry>, Vec<String>) {
    let mut seen = std::collections::HashSet::new();
    let mut dropped_dirs: Vec<String> = Vec::new();
    let mut kept = Vec::with_capacity(entries.len());
    let mut dropped = Vec::new();
    for e in entries {
        let folded = e.dest.to_lowercase();
        let under_dropped = dropped_dirs.iter().any(|d| {
            folded.starts_with(d.as_str()) && folded.as_bytes().get(d.len()) == Some(&b'/')
        });
        if under_dropped {
            continue;
        }
        if seen.insert(folded.clone()) {
            kept.push(e);
        } else {
            if e.kind == EntryKind::Dir {
                dropped_dirs.push(folded);
            }
            dropped.push(e.dest);
        }
    }
    (kept, dropped)
}

#[cfg(test)]
mod case_tests {
    use super::*;

    fn entry(dest: &str, kind: EntryKind) -> CopyEntry {
        CopyEntry {
            source: dest.trim_start_matches('/').to_string(),
            dest: dest.to_string(),
            kind,
        }
    }

    #[test]
    fn case_only_duplicates_are_dropped_with_what_is_below_them() {
        let entries = vec![
            entry("/man", EntryKind::Dir),
            entry("/man/PAM.7.gz", EntryKind::File),
            entry("/man/pam.7.gz", EntryKind::File),
            entry("/Docs", EntryKind::Dir),
            entry("/Docs/a", EntryKind::File),
            entry("/docs", EntryKind::Dir),
            entry("/docs/a", EntryKind::File),
            entry("/docs/b", EntryKind::File),
            entry("/docsx", EntryKind::File),
        ];
        let (kept, dropped) = drop_case_duplicates(entries);
        let kept: Vec<&str> = kept.iter().map(|e| e.dest.as_str()).collect();
        assert_eq!(
            kept,
            ["/man", "/man/PAM.7.gz", "/Docs", "/Docs/a", "/docsx"]
        );
        assert_eq!(dropped, ["/man/pam.7.gz", "/docs"]);
    }
}
