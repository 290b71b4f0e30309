//! Runtime templates: builds for a language runtime with no Dockerfile,
//! chosen by name (`runtime: node22`, `wharf build --runtime-template`) or
//! detected from the names of the context's files. Each template is a
//! multi-stage ZImagefile kept beside this module (`templates/*.yaml`,
//! compiled in) whose base images are build arguments, so every one can be
//! replaced with `--build-arg`. Its last stage is the output; a ZImagefile
//! with `runtime:` appends its image fields to that stage.
//!
//! `go`, `rust` and `dotnet` compile in a Linux stage for the target's OS
//! and end in `FROM runtime-${TARGETOS}`, so a Windows target ships the
//! program on Nano Server; the others build Linux images only.
//!
//! Detection takes the file names the caller listed (the front end does no
//! I/O); see [`detect`] for the rules.

use crate::error::FrontendError;
use crate::suggest;

pub(crate) mod form;

/// One shipped template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuntimeTemplate {
    /// The name `runtime:` takes.
    pub name: &'static str,
    /// Other names for it.
    pub aliases: &'static [&'static str],
    /// Whether a Windows target is supported (compiled in a Linux stage,
    /// shipped on Nano Server).
    pub windows: bool,
    /// The template, a ZImagefile.
    pub text: &'static str,
}

impl RuntimeTemplate {
    /// The name errors and `wharf plan` give the template's text.
    pub fn file_name(&self) -> String {
        format!("runtime template {}", self.name)
    }
}

/// Every template, in the order the documentation lists them.
pub const TEMPLATES: &[RuntimeTemplate] = &[
    RuntimeTemplate {
        name: "node20",
        aliases: &[],
        windows: false,
        text: include_str!("templates/node20.yaml"),
    },
    RuntimeTemplate {
        name: "node22",
        aliases: &["node"],
        windows: false,
        text: include_str!("templates/node22.yaml"),
    },
    RuntimeTemplate {
        name: "python312",
        aliases: &[],
        windows: false,
        text: include_str!("templates/python312.yaml"),
    },
    RuntimeTemplate {
        name: "python313",
        aliases: &["python"],
        windows: false,
        text: include_str!("templates/python313.yaml"),
    },
    RuntimeTemplate {
        name: "rust",
        aliases: &["rs"],
        windows: true,
        text: include_str!("templates/rust.yaml"),
    },
    RuntimeTemplate {
        name: "go",
        aliases: &["golang"],
        windows: true,
        text: include_str!("templates/go.yaml"),
    },
    RuntimeTemplate {
        name: "dotnet",
        aliases: &["csharp"],
        windows: true,
        text: include_str!("templates/dotnet.yaml"),
    },
    RuntimeTemplate {
        name: "deno",
        aliases: &[],
        windows: false,
        text: include_str!("templates/deno.yaml"),
    },
    RuntimeTemplate {
        name: "bun",
        aliases: &[],
        windows: false,
        text: include_str!("templates/bun.yaml"),
    },
];

/// The template named `name` or one of its aliases (case-insensitive).
pub fn lookup(name: &str) -> Result<&'static RuntimeTemplate, UnknownRuntime> {
    let wanted = name.trim().to_ascii_lowercase();
    TEMPLATES
        .iter()
        .find(|t| t.name == wanted || t.aliases.contains(&wanted.as_str()))
        .ok_or_else(|| UnknownRuntime {
            name: name.to_string(),
            suggestion: suggest::closest(&wanted, all_names()),
        })
}

/// Every name and alias.
fn all_names() -> impl Iterator<Item = &'static str> {
    TEMPLATES
        .iter()
        .flat_map(|t| std::iter::once(t.name).chain(t.aliases.iter().copied()))
}

/// The known names, for messages: `node20, node22 (node), ...`.
pub fn known_names() -> String {
    TEMPLATES
        .iter()
        .map(|t| match t.aliases {
            [] => t.name.to_string(),
            a => format!("{} ({})", t.name, a.join(", ")),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A runtime name that is no template's name or alias.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownRuntime {
    pub name: String,
    /// The closest known name, when the name looks like a typo of it.
    pub suggestion: Option<&'static str>,
}

impl UnknownRuntime {
    pub fn message(&self) -> String {
        format!("unknown runtime `{}`", self.name)
    }

    pub fn hint(&self) -> String {
        match self.suggestion {
            Some(s) => format!("did you mean `{s}`? Known runtimes: {}", known_names()),
            None => format!("known runtimes: {}", known_names()),
        }
    }

    /// As an error about `file` (a flag or file name) with no position.
    pub fn into_error(self, file: &str) -> FrontendError {
        FrontendError::general(file, self.message()).with_hint(self.hint())
    }
}

/// The files detection looks for, with the runtime each points to.
pub const DETECTION_FILES: &[(&str, &str)] = &[
    ("package.json", "node22, or bun / deno beside their files"),
    ("bun.lockb", "bun"),
    ("bun.lock", "bun"),
    ("deno.json", "deno"),
    ("deno.jsonc", "deno"),
    ("Cargo.toml", "rust"),
    ("go.mod", "go"),
    ("requirements.txt", "python313"),
    ("pyproject.toml", "python313"),
    ("setup.py", "python313"),
    ("*.csproj", "dotnet"),
    ("*.fsproj", "dotnet"),
];

/// Picks the template for a context from the names of the files at its
/// root: `package.json` means Node unless `bun.lockb`/`bun.lock` (Bun) or
/// `deno.json`/`deno.jsonc` (Deno) is there too; `deno.json` alone means
/// Deno; `Cargo.toml` Rust; `go.mod` Go; `requirements.txt`,
/// `pyproject.toml` or `setup.py` Python; a `*.csproj` or `*.fsproj` .NET.
/// Finding none, or files of two runtimes, is an error naming the files.
pub fn detect(
    context: &str,
    file_names: &[String],
) -> Result<&'static RuntimeTemplate, FrontendError> {
    let has = |n: &str| file_names.iter().any(|f| f == n);
    let first_with = |suffix: &str| file_names.iter().find(|f| f.ends_with(suffix)).cloned();
    let mut found: Vec<(&'static str, String)> = Vec::new();
    let deno_file = ["deno.json", "deno.jsonc"].into_iter().find(|f| has(f));
    let bun_file = ["bun.lockb", "bun.lock"].into_iter().find(|f| has(f));
    if has("package.json") {
        match (bun_file, deno_file) {
            (Some(b), _) => found.push(("bun", format!("package.json and {b}"))),
            (None, Some(d)) => found.push(("deno", format!("package.json and {d}"))),
            (None, None) => found.push(("node22", "package.json".into())),
        }
    } else if let Some(d) = deno_file {
        found.push(("deno", d.into()));
    }
    if has("Cargo.toml") {
        found.push(("rust", "Cargo.toml".into()));
    }
    if has("go.mod") {
        found.push(("go", "go.mod".into()));
    }
    if let Some(p) = ["requirements.txt", "pyproject.toml", "setup.py"]
        .into_iter()
        .find(|f| has(f))
    {
        found.push(("python313", p.into()));
    }
    if let Some(p) = first_with(".csproj").or_else(|| first_with(".fsproj")) {
        found.push(("dotnet", p));
    }
    let looked_for = DETECTION_FILES
        .iter()
        .map(|(f, _)| *f)
        .collect::<Vec<_>>()
        .join(", ");
    match found.as_slice() {
        [(name, _)] => lookup(name).map_err(|e| e.into_error(context)),
        [] => Err(FrontendError::general(
            context,
            format!("cannot detect the runtime: none of {looked_for} is in the context"),
        )
        .with_hint(format!(
            "name it with --runtime-template NAME ({}), or write a Dockerfile or ZImagefile",
            known_names()
        ))),
        several => {
            let list = several
                .iter()
                .map(|(n, f)| format!("{f} ({n})"))
                .collect::<Vec<_>>()
                .join(", ");
            Err(FrontendError::general(
                context,
                format!("cannot detect the runtime: the context has files of several: {list}"),
            )
            .with_hint(format!(
                "choose one with --runtime-template NAME; detection looks for {looked_for}"
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn names_and_aliases_resolve() {
        assert_eq!(lookup("node").unwrap().name, "node22");
        assert_eq!(lookup("Python").unwrap().name, "python313");
        assert_eq!(lookup("golang").unwrap().name, "go");
        assert_eq!(lookup("rs").unwrap().name, "rust");
        assert_eq!(lookup("node20").unwrap().name, "node20");
        let e = lookup("pyhton312").unwrap_err();
        assert_eq!(e.suggestion, Some("python312"));
        assert!(e.hint().contains("node22 (node)"), "{}", e.hint());
        assert_eq!(lookup("cobol").unwrap_err().suggestion, None);
    }

    #[test]
    fn detection_follows_the_files() {
        let d = |l: &[&str]| detect("ctx", &names(l)).map(|t| t.name);
        assert_eq!(d(&["package.json", "index.js"]).unwrap(), "node22");
        assert_eq!(d(&["package.json", "bun.lockb"]).unwrap(), "bun");
        assert_eq!(d(&["package.json", "deno.json"]).unwrap(), "deno");
        assert_eq!(d(&["deno.jsonc", "main.ts"]).unwrap(), "deno");
        assert_eq!(d(&["Cargo.toml", "src"]).unwrap(), "rust");
        assert_eq!(d(&["go.mod", "main.go"]).unwrap(), "go");
        assert_eq!(d(&["pyproject.toml"]).unwrap(), "python313");
        assert_eq!(d(&["setup.py"]).unwrap(), "python313");
        assert_eq!(d(&["App.csproj", "Program.cs"]).unwrap(), "dotnet");
        let none = d(&["README.md"]).unwrap_err().to_string();
        assert!(none.contains("none of package.json"), "{none}");
        assert!(none.contains("go.mod"), "{none}");
        let two = d(&["go.mod", "Cargo.toml"]).unwrap_err().to_string();
        assert!(two.contains("Cargo.toml (rust)"), "{two}");
        assert!(two.contains("go.mod (go)"), "{two}");
    }

    #[test]
    fn every_template_parses_and_ends_in_app() {
        for t in TEMPLATES {
            let file = super::super::parse(&t.file_name(), t.text)
                .unwrap_or_else(|e| panic!("{}: {e}", t.name));
            let super::super::ZImagefile::Image(file) = file else {
                panic!("{} is not an image build", t.name)
            };
            let last_from = file
                .instructions
                .iter()
                .rev()
                .find_map(|i| match &i.node {
                    crate::ast::Instruction::From(f) => Some(f),
                    _ => None,
                })
                .unwrap();
            assert_eq!(last_from.name.as_deref(), Some("app"), "{}", t.name);
            // Every base image is a build argument.
            for i in &file.instructions {
                if let crate::ast::Instruction::From(f) = &i.node {
                    assert!(f.image.contains('$') || f.image == "build", "{}", f.image);
                }
            }
        }
    }
}
