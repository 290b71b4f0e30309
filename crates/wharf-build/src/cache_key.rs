//! Instruction cache keys, stable across runs and releases.
//!
//! A key is the SHA-256 of a canonical JSON document holding: a format
//! version, the parent (the key of the previous step, or the base image's
//! manifest digest), the target platform, the instruction as expanded
//! (without its line number or raw text, so moving or re-indenting a line
//! keeps its cache), the state it runs in (WORKDIR, USER, SHELL, the RUN
//! environment), the build arguments its result depends on, and the
//! content digests of its sources. Nothing here uses `DefaultHasher`,
//! whose output may change between Rust releases.

use crate::context::{BuildContext, EntryKind};
use crate::copy_plan::CopyEntry;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io;
use wharf_frontend::ast::Instruction;
use wharf_frontend::plan::PlannedInstruction;
use wharf_oci::{Digest, Hasher, HashingWriter, Platform};

/// Bump when the key document changes shape: old entries then miss.
const KEY_FORMAT: &str = "wharf-cache-v2";

/// A cache key: the digest of a key document, or of what a chain of
/// steps starts from (a base image's manifest, `scratch`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct CacheKey(pub Digest);

impl CacheKey {
    /// The start of a chain on a base image: its manifest digest.
    pub fn of_base(manifest: &Digest) -> Self {
        CacheKey(manifest.clone())
    }

    /// The start of a chain on `scratch` for `platform`.
    pub fn scratch(platform: &Platform) -> Self {
        CacheKey(Digest::of_bytes(format!("scratch:{platform}").as_bytes()))
    }

    /// This chain start for a build whose layers take their times from
    /// `SOURCE_DATE_EPOCH` (`None`: unchanged). Every layer a step writes
    /// holds that time, so a result made under another epoch (or none)
    /// must not be taken for it.
    pub fn with_source_date_epoch(self, epoch: Option<u64>) -> Self {
        match epoch {
            Some(e) => CacheKey(self.extend("source-date-epoch", e.to_string().as_bytes())),
            None => self,
        }
    }

    /// A digest over this one, a name and some bytes (for content that is
    /// not a file of the context, such as a here-document).
    pub fn extend(&self, name: &str, bytes: &[u8]) -> Digest {
        let mut h = Hasher::sha256();
        h.update(self.0.as_str().as_bytes());
        h.update(&[0]);
        h.update(name.as_bytes());
        h.update(&[0]);
        h.update(bytes);
        h.finish()
    }
}

impl std::fmt::Display for CacheKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.as_str())
    }
}

#[derive(Serialize)]
struct KeyDocument<'a> {
    format: &'static str,
    parent: &'a Digest,
    platform: String,
    instruction: &'a Instruction,
    workdir_before: &'a str,
    user: Option<&'a str>,
    shell: Option<&'a Vec<String>>,
    env: Option<&'a BTreeMap<String, String>>,
    args: &'a BTreeMap<String, String>,
    sources: &'a [Digest],
}

/// The key of `ins` run on top of `parent`, with `workdir_before` the
/// working directory in effect before it and `sources` the content
/// digests of what it reads.
pub fn instruction_key(
    parent: &CacheKey,
    platform: &Platform,
    workdir_before: &str,
    ins: &PlannedInstruction,
    sources: &[Digest],
) -> CacheKey {
    let doc = KeyDocument {
        format: KEY_FORMAT,
        parent: &parent.0,
        platform: platform.to_string(),
        instruction: &ins.instruction,
        workdir_before,
        user: ins.user.as_deref(),
        shell: ins.shell.as_ref(),
        env: ins.env.as_ref(),
        args: &ins.args,
        sources,
    };
    // Struct fields serialise in declaration order and maps are sorted:
    // the document is canonical.
    let json = serde_json::to_vec(&doc).unwrap_or_default();
    CacheKey(Digest::of_bytes(&json))
}

/// The content digest of a COPY's entries: destination paths, kinds,
/// modes, link targets and file contents, in order.
///
/// Each entry becomes a record (its destination, mode and kind, and the
/// SHA-256 of a file's contents or a link's target); the records are made
/// on every core at once, since reading and hashing the files is most of
/// a cold COPY's time besides compression, and then hashed in order.
pub fn copy_sources_digest(ctx: &BuildContext, entries: &[CopyEntry]) -> io::Result<Digest> {
    let records = in_parallel(entries, |e| {
        entry_record(ctx, e, None)
            .map_err(|err| io::Error::new(err.kind(), format!("{}: {err}", e.source)))
    })?;
    let mut h = Hasher::sha256();
    for r in &records {
        h.update(r);
    }
    Ok(h.finish())
}

/// One entry's part of [`copy_sources_digest`]. `file_digest` is the
/// SHA-256 of a file's contents when a layer writer hashed them as it read
/// them; without it the file is read here.
pub(crate) fn entry_record(
    ctx: &BuildContext,
    e: &CopyEntry,
    file_digest: Option<&Digest>,
) -> io::Result<Vec<u8>> {
    let mut r = Vec::with_capacity(e.dest.len() + 96);
    r.extend_from_slice(e.dest.as_bytes());
    r.push(0);
    let host = ctx.host_path(&e.source);
    let meta = fs::symlink_metadata(&host)?;
    r.extend_from_slice(&mode_bits(&meta).to_le_bytes());
    match e.kind {
        EntryKind::File => {
            r.push(b'f');
            r.extend_from_slice(&meta.len().to_le_bytes());
            let digest = match file_digest {
                Some(d) => d.clone(),
                None => {
                    let mut sink = HashingWriter::new(io::sink());
                    io::copy(&mut File::open(&host)?, &mut sink)?;
                    sink.finish().1
                }
            };
            r.extend_from_slice(digest.as_str().as_bytes());
        }
        EntryKind::Symlink => {
            r.push(b'l');
            r.extend_from_slice(fs::read_link(&host)?.to_string_lossy().as_bytes());
        }
        EntryKind::Dir => r.push(b'd'),
        EntryKind::Other => r.push(b'o'),
    }
    r.push(0);
    Ok(r)
}

/// `f` over `items` on up to as many threads as there are cores, results
/// in the items' order; the first error stops the others.
fn in_parallel<T: Sync, R: Send>(
    items: &[T],
    f: impl Fn(&T) -> io::Result<R> + Sync,
) -> io::Result<Vec<R>> {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8)
        .min(items.len() / 16)
        .max(1);
    if threads == 1 {
        return items.iter().map(&f).collect();
    }
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let parts: Vec<io::Result<Vec<(usize, R)>>> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut done = Vec::new();
                    while !failed.load(Ordering::Relaxed) {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(item) = items.get(i) else { break };
                        match f(item) {
                            Ok(r) => done.push((i, r)),
                            Err(e) => {
                                failed.store(true, Ordering::Relaxed);
                                return Err(e);
                            }
                        }
                    }
                    Ok(done)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    let mut slots: Vec<Option<R>> = (0..items.len()).map(|_| None).collect();
    for part in parts {
        for (i, r) in part? {
            slots[i] = Some(r);
        }
    }
    Ok(slots
        .into_iter()
        .map(|r| r.expect("every item done"))
        .collect())
}

#[cfg(unix)]
fn mode_bits(meta: &fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o7777
}

#[cfg(not(unix))]
fn mode_bits(meta: &fs::Metadata) -> u32 {
    u32::from(meta.permissions().readonly())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use crate::copy_plan::{plan_copy, CopyRequest};
    use wharf_frontend::dockerfile::parse;
    use wharf_frontend::plan::{plan, NoBaseImages, PlanOptions};

    fn planned(src: &str) -> Vec<PlannedInstruction> {
        let f = parse("Dockerfile", src).unwrap();
        let mut o = PlanOptions::for_host();
        o.run_platforms = None;
        o.build_args.insert("V".into(), "1".into());
        plan(&f, src, &o, &NoBaseImages).unwrap().targets[0].stages[0]
            .instructions
            .clone()
    }

    fn key(src: &str, i: usize) -> CacheKey {
        let p = planned(src);
        instruction_key(
            &CacheKey(Digest::of_bytes(b"base")),
            &"linux/amd64".parse().unwrap(),
            "/",
            &p[i],
            &[],
        )
    }

    #[test]
    fn keys_ignore_layout_but_not_meaning() {
        let a = key("FROM x\nARG V\nRUN echo $V\n", 1);
        assert_eq!(a, key("FROM x\n\n\nARG V\nRUN   echo $V\n", 1));
        // Moving the instruction down does not change its key.
        assert_eq!(a, key("FROM x\n# comment\nARG V\nRUN echo $V\n", 1));
        // A different command, or a different build-arg value, does.
        assert_ne!(a, key("FROM x\nARG V\nRUN echo $V!\n", 1));
        assert_ne!(a, key("FROM x\nARG V=2\nENV V=3\nRUN echo $V\n", 2));
        assert!(a.0.as_str().starts_with("sha256:") && a.0.as_str().len() == 71);
        // A fixed vector: the key format must not drift between releases.
        let p = planned("FROM x\nWORKDIR /app\n");
        let k = instruction_key(
            &CacheKey(Digest::of_bytes(b"base")),
            &"linux/amd64".parse().unwrap(),
            "/",
            &p[0],
            &[],
        );
        assert_eq!(
            k.0.as_str(),
            "sha256:764f15775701a84aee3e6db3735297b0f99e8323eadaf3fe857f5b7c73468490",
            "the key document changed: bump KEY_FORMAT and update this vector"
        );
        assert_ne!(
            k,
            instruction_key(
                &CacheKey(Digest::of_bytes(b"other")),
                &"linux/amd64".parse().unwrap(),
                "/",
                &p[0],
                &[]
            )
        );
    }

    /// The entries of `COPY <source> <dest>` in a Linux stage.
    fn linux_entries(c: &BuildContext, source: &str, dest: &str) -> Vec<CopyEntry> {
        let src = vec![source.to_string()];
        let req = CopyRequest {
            sources: &src,
            dest,
            workdir: "/",
            windows: false,
            parents: false,
            exclude: &[],
            dest_is_dir_in_image: false,
        };
        plan_copy(c, &req).unwrap()
    }

    #[test]
    fn source_digest_follows_content() {
        let d = tempfile::tempdir().unwrap();
        fs::write(d.path().join("a.txt"), "one").unwrap();
        let c = BuildContext::new(d.path(), None);
        let e = linux_entries(&c, "a.txt", "/a.txt");
        let first = copy_sources_digest(&c, &e).unwrap();
        assert_eq!(first, copy_sources_digest(&c, &e).unwrap());
        fs::write(d.path().join("a.txt"), "two").unwrap();
        assert_ne!(first, copy_sources_digest(&c, &e).unwrap());
    }

    /// Many entries (hashed on several threads) give the digest of their
    /// records hashed one after another, in the entries' order; a file
    /// that vanished is an error, not a digest.
    #[test]
    fn source_digest_on_many_threads_is_the_records_in_order() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("src");
        fs::create_dir(&dir).unwrap();
        for i in 0..300 {
            fs::write(dir.join(format!("f{i:03}")), format!("{i}").repeat(i * 50)).unwrap();
        }
        std::os::unix::fs::symlink("f001", dir.join("link")).unwrap();
        let c = BuildContext::new(d.path(), None);
        let e = linux_entries(&c, "src", "/app/");
        assert!(e.len() > 300);
        let mut h = Hasher::sha256();
        for entry in &e {
            h.update(&entry_record(&c, entry, None).unwrap());
        }
        let one_by_one = h.finish();
        assert_eq!(copy_sources_digest(&c, &e).unwrap(), one_by_one);
        // The order of entries is part of the digest.
        let mut swapped = e.clone();
        swapped.swap(10, 20);
        assert_ne!(copy_sources_digest(&c, &swapped).unwrap(), one_by_one);
        fs::remove_file(dir.join("f150")).unwrap();
        let err = copy_sources_digest(&c, &e).unwrap_err();
        assert!(err.to_string().starts_with("src/f150: "), "{err}");
    }
}

/// The content digest of the context directory (or file) `rel` as a
/// `RUN --mount=type=bind` without `from` shows it: every entry not
/// excluded by `.dockerignore`, with kinds, modes, link targets and file
/// contents.
pub fn context_tree_digest(ctx: &BuildContext, rel: &str) -> Result<Digest, String> {
    let clean = ctx.resolve(rel, true).map_err(|e| e.to_string())?;
    let kind = ctx.kind(&clean).map_err(|e| e.to_string())?;
    let entries: Vec<CopyEntry> = if kind == EntryKind::Dir {
        ctx.walk(&clean, &|_| false)
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|e| CopyEntry {
                dest: e.rel.clone(),
                source: e.rel,
                kind: e.kind,
            })
            .collect()
    } else {
        vec![CopyEntry {
            dest: clean.clone(),
            source: clean,
            kind,
        }]
    };
    copy_sources_digest(ctx, &entries).map_err(|e| format!("reading the context: {e}"))
}
