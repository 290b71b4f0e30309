//! Finding, reading and parsing the build file: the I/O the front end
//! leaves to its caller. Picks `Dockerfile`, then `ZImagefile`, when `-f`
//! is not given; follows a ZImagefile's `build:` reference; lists the
//! context's files for runtime detection.

use anyhow::{anyhow, bail, Context, Result};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use wharf_frontend::ast::BuildFile;
use wharf_frontend::dockerignore::{ignore_file_candidates, DockerIgnore};
use wharf_frontend::zimagefile::{self, runtime, ZImagefile};

/// A parsed build file, its text (for error quotes) and its context.
#[derive(Debug)]
pub struct Loaded {
    pub file: BuildFile,
    pub text: String,
    pub context: PathBuf,
    /// The context's ignore rules, when an ignore file exists.
    pub ignore: Option<DockerIgnore>,
    /// Build args a ZImagefile `build:` reference adds (the command
    /// line's own take precedence).
    pub extra_args: Vec<(String, String)>,
    /// A ZImagefile's `wasm:` form: the artifact's `os`; the build's
    /// output holds the module, which the builder packages.
    pub wasm_os: Option<String>,
    /// The runtime template built (`--runtime-template`,
    /// `--detect-runtime` or a ZImagefile's `runtime:`).
    pub template: Option<&'static runtime::RuntimeTemplate>,
}

fn is_zimagefile(name: &str) -> bool {
    let base = Path::new(name)
        .file_name()
        .map(|f| f.to_string_lossy().to_string())
        .unwrap_or_default();
    base.starts_with(zimagefile::DEFAULT_FILE_NAME)
        || base.ends_with(".yaml")
        || base.ends_with(".yml")
        || base.ends_with(".zimagefile")
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| {
        format!(
            "cannot read the build file {}; check the path given with -f or the build context",
            path.display()
        )
    })
}

/// Loads the build file for `context` and `-f`.
pub fn load(context: &Path, file: Option<&str>) -> Result<Loaded> {
    load_depth(context, file, 0)
}

fn load_depth(context: &Path, file: Option<&str>, depth: usize) -> Result<Loaded> {
    if depth > 8 {
        bail!("ZImagefile build references nest more than 8 deep; is there a loop?");
    }
    if !context.is_dir() {
        bail!(
            "the build context {} is not a directory; pass the directory holding your sources (often .)",
            context.display()
        );
    }
    let (path, display): (Option<PathBuf>, String) = match file {
        Some("-") => (None, "-".to_string()),
        Some(f) => (Some(PathBuf::from(f)), f.to_string()),
        None => {
            let candidates = ["Dockerfile", zimagefile::DEFAULT_FILE_NAME];
            let found = candidates
                .iter()
                .map(|c| context.join(c))
                .find(|p| p.is_file())
                .ok_or_else(|| {
                    anyhow!(
                        "no Dockerfile or ZImagefile in {}; name the build file with -f, \
                         or build from a runtime template with --runtime-template NAME \
                         or --detect-runtime",
                        context.display()
                    )
                })?;
            let shown = found.display().to_string();
            (Some(found), shown)
        }
    };
    let text = match &path {
        Some(p) => read(p)?,
        None => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .context("cannot read the Dockerfile from standard input")?;
            s
        }
    };
    if path.is_some() && is_zimagefile(&display) {
        return match zimagefile::parse(&display, &text)? {
            ZImagefile::Image(file) => Ok(Loaded {
                template: zimagefile::runtime_template_of(&text),
                file,
                text,
                context: context.to_path_buf(),
                ignore: load_ignore(context, &display)?,
                extra_args: Vec::new(),
                wasm_os: None,
            }),
            ZImagefile::Wasm(w) => Ok(Loaded {
                file: w.file,
                text,
                context: context.to_path_buf(),
                ignore: load_ignore(context, &display)?,
                extra_args: Vec::new(),
                wasm_os: Some(w.os),
                template: None,
            }),
            ZImagefile::Build(r) => {
                let base = path
                    .as_deref()
                    .and_then(Path::parent)
                    .unwrap_or(Path::new("."));
                let ctx = base.join(&r.context);
                let inner_file = r.file.as_ref().map(|f| ctx.join(f).display().to_string());
                let mut loaded =
                    load_depth(&ctx, inner_file.as_deref(), depth + 1).with_context(|| {
                        format!(
                            "{display}:{}: following the build reference to {}",
                            r.pos.line,
                            ctx.display()
                        )
                    })?;
                let mut args: BTreeMap<String, String> = r.args.into_iter().collect();
                for (k, v) in loaded.extra_args.drain(..) {
                    args.entry(k).or_insert(v);
                }
                loaded.extra_args = args.into_iter().collect();
                Ok(loaded)
            }
        };
    }
    let file = wharf_frontend::dockerfile::parse(&display, &text)?;
    Ok(Loaded {
        file,
        text,
        context: context.to_path_buf(),
        ignore: load_ignore(context, &display)?,
        extra_args: Vec::new(),
        wasm_os: None,
        template: None,
    })
}

/// Loads the runtime template `name`, or, without a name, the one the
/// names of the files at the context's root point to. The template's text
/// is the build file errors quote.
pub fn load_runtime(context: &Path, name: Option<&str>) -> Result<Loaded> {
    if !context.is_dir() {
        bail!(
            "the build context {} is not a directory; pass the directory holding your sources (often .)",
            context.display()
        );
    }
    let template = match name {
        Some(n) => runtime::lookup(n).map_err(|e| e.into_error("--runtime-template"))?,
        None => {
            let names = std::fs::read_dir(context)
                .with_context(|| format!("cannot list the build context {}", context.display()))?
                .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
                .collect::<std::io::Result<Vec<String>>>()
                .with_context(|| format!("cannot list the build context {}", context.display()))?;
            runtime::detect(&context.display().to_string(), &names)?
        }
    };
    let file = zimagefile::runtime_build_file(template)?;
    Ok(Loaded {
        file,
        text: template.text.to_string(),
        context: context.to_path_buf(),
        ignore: load_context_ignore(context)?,
        extra_args: Vec::new(),
        wasm_os: None,
        template: Some(template),
    })
}

/// The context's `.dockerignore`, for a build with no build file.
fn load_context_ignore(context: &Path) -> Result<Option<DockerIgnore>> {
    let path = context.join(".dockerignore");
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Some(DockerIgnore::parse(
            &path.display().to_string(),
            &text,
        )?)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read the ignore file {}", path.display())),
    }
}

/// Reads `<build file>.dockerignore` beside the build file, else the
/// context's `.dockerignore`.
fn load_ignore(context: &Path, build_file: &str) -> Result<Option<DockerIgnore>> {
    let candidates = ignore_file_candidates(build_file);
    let last = candidates.len() - 1;
    for (i, c) in candidates.iter().enumerate() {
        // The last candidate lives at the context root; the others beside
        // the build file.
        let path = if i == last {
            context.join(c)
        } else {
            PathBuf::from(c)
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let shown = path.display().to_string();
                return Ok(Some(DockerIgnore::parse(&shown, &text)?));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("cannot read the ignore file {}", path.display()))
            }
        }
    }
    Ok(None)
}
