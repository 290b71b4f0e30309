//! The syntax tree both front ends produce: a Dockerfile and a ZImagefile
//! parse into the same [`BuildFile`], and the planner only ever sees this.
//!
//! Values here are as written (unexpanded): which arguments are expanded,
//! and with which variables, is decided by the planner, because it depends
//! on ARG scoping and on the target platform.

use serde::Serialize;

/// Where something starts in a source file (1-based line and column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Default)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

/// An instruction with the place it was written.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Located<T> {
    /// The instruction itself.
    #[serde(flatten)]
    pub node: T,
    /// Position of the instruction keyword.
    pub pos: Pos,
    /// Last physical line the instruction occupies (continuations, heredocs).
    pub end_line: usize,
    /// The instruction as written, continuations joined, heredoc bodies
    /// excluded; used in messages and image history.
    pub source: String,
}

/// Parser directives from the top of a Dockerfile.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Directives {
    /// `# syntax=` (recorded; Wharf always uses its own front end).
    pub syntax: Option<String>,
    /// `# escape=`: `\` (default) or `` ` ``.
    pub escape: char,
    /// `# check=` (recorded verbatim).
    pub check: Option<String>,
}

impl Default for Directives {
    fn default() -> Self {
        Directives {
            syntax: None,
            escape: '\\',
            check: None,
        }
    }
}

/// A parsed build file: directives and the flat list of instructions
/// (global ARGs come before the first FROM).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BuildFile {
    /// The file's name as the user knows it, for messages.
    pub path: String,
    pub directives: Directives,
    pub instructions: Vec<Located<Instruction>>,
    /// Parse-time warnings (deprecated forms, ignored directives).
    pub warnings: Vec<Warning>,
}

/// A non-fatal finding, positioned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    pub pos: Pos,
    pub message: String,
}

/// Shell form (a string run by the stage's SHELL) or exec form (argv).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "form", content = "value", rename_all = "lowercase")]
pub enum Command {
    Shell(String),
    Exec(Vec<String>),
}

/// A here-document attached to RUN, COPY or ADD.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Heredoc {
    /// The delimiter word, without quotes (`EOF`); for COPY/ADD also the
    /// name of the file the content becomes.
    pub name: String,
    /// The body, lines joined with `\n` and ending with one (leading tabs
    /// already removed for `<<-`).
    pub content: String,
    /// `false` when the delimiter was quoted: no variable expansion.
    pub expand: bool,
    /// `<<-` form: leading tabs were stripped.
    pub strip_tabs: bool,
    /// An explicit file descriptor (`3<<EOF`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fd: Option<u32>,
}

/// `FROM [--platform=P] image [AS name]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct From {
    pub image: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
}

/// `RUN [--mount=...]... [--network=...] [--security=...] command`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Run {
    pub command: Command,
    pub heredocs: Vec<Heredoc>,
    pub mounts: Vec<Mount>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network: Option<Network>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security: Option<Security>,
}

/// `RUN --network=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Network {
    Default,
    None,
    Host,
}

/// `RUN --security=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    Sandbox,
    Insecure,
}

/// `RUN --mount=type=...,...` (values unexpanded).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Mount {
    Bind {
        target: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        source: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        from: Option<String>,
        readwrite: bool,
    },
    Cache {
        target: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        sharing: CacheSharing,
        readonly: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        from: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        source: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        mode: Option<u32>,
        #[serde(skip_serializing_if = "Option::is_none")]
        uid: Option<u32>,
        #[serde(skip_serializing_if = "Option::is_none")]
        gid: Option<u32>,
    },
    Tmpfs {
        target: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        size: Option<u64>,
    },
    Secret {
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        target: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        env: Option<String>,
        required: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        mode: Option<u32>,
        #[serde(skip_serializing_if = "Option::is_none")]
        uid: Option<u32>,
        #[serde(skip_serializing_if = "Option::is_none")]
        gid: Option<u32>,
    },
    Ssh {
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        target: Option<String>,
        required: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        mode: Option<u32>,
        #[serde(skip_serializing_if = "Option::is_none")]
        uid: Option<u32>,
        #[serde(skip_serializing_if = "Option::is_none")]
        gid: Option<u32>,
    },
}

fn map_opt<E>(
    o: &Option<String>,
    f: &mut impl FnMut(&str) -> Result<String, E>,
) -> Result<Option<String>, E> {
    o.as_deref().map(f).transpose()
}

impl Mount {
    /// The same mount with every text field (target, source, from, id,
    /// env) passed through `f`: how the planner expands variables in it.
    pub fn map_strings<E>(&self, mut f: impl FnMut(&str) -> Result<String, E>) -> Result<Mount, E> {
        Ok(match self {
            Mount::Bind {
                target,
                source,
                from,
                readwrite,
            } => Mount::Bind {
                target: f(target)?,
                source: map_opt(source, &mut f)?,
                from: map_opt(from, &mut f)?,
                readwrite: *readwrite,
            },
            Mount::Cache {
                target,
                id,
                sharing,
                readonly,
                from,
                source,
                mode,
                uid,
                gid,
            } => Mount::Cache {
                target: f(target)?,
                id: map_opt(id, &mut f)?,
                sharing: *sharing,
                readonly: *readonly,
                from: map_opt(from, &mut f)?,
                source: map_opt(source, &mut f)?,
                mode: *mode,
                uid: *uid,
                gid: *gid,
            },
            Mount::Tmpfs { target, size } => Mount::Tmpfs {
                target: f(target)?,
                size: *size,
            },
            Mount::Secret {
                id,
                target,
                env,
                required,
                mode,
                uid,
                gid,
            } => Mount::Secret {
                id: map_opt(id, &mut f)?,
                target: map_opt(target, &mut f)?,
                env: map_opt(env, &mut f)?,
                required: *required,
                mode: *mode,
                uid: *uid,
                gid: *gid,
            },
            Mount::Ssh {
                id,
                target,
                required,
                mode,
                uid,
                gid,
            } => Mount::Ssh {
                id: map_opt(id, &mut f)?,
                target: map_opt(target, &mut f)?,
                required: *required,
                mode: *mode,
                uid: *uid,
                gid: *gid,
            },
        })
    }
}

/// Cache mount sharing mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CacheSharing {
    Shared,
    Private,
    Locked,
}

/// COPY and ADD share their shape; ADD-only flags live in [`AddOptions`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Copy {
    /// Sources as written; a source naming a heredoc is in `heredocs`.
    pub sources: Vec<String>,
    pub dest: String,
    pub heredocs: Vec<Heredoc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chown: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chmod: Option<String>,
    pub link: bool,
    pub parents: bool,
    pub exclude: Vec<String>,
    /// `true` when written in JSON form (paths with spaces).
    pub json: bool,
}

/// ADD's extra flags.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct AddOptions {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checksum: Option<String>,
    pub keep_git_dir: bool,
    /// `--unpack=false` turns off archive extraction.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unpack: Option<bool>,
}

/// HEALTHCHECK.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Healthcheck {
    None,
    Cmd {
        command: Command,
        #[serde(skip_serializing_if = "Option::is_none")]
        interval: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        timeout: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        start_period: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        start_interval: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        retries: Option<u32>,
    },
}

/// One `NAME[=default]` of an ARG line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArgDecl {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
}

/// Every Dockerfile instruction.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "instruction", rename_all = "UPPERCASE")]
pub enum Instruction {
    From(From),
    Run(Run),
    Cmd {
        command: Command,
    },
    Entrypoint {
        command: Command,
    },
    Shell {
        shell: Vec<String>,
    },
    Copy(Copy),
    Add {
        #[serde(flatten)]
        copy: Copy,
        #[serde(flatten)]
        options: AddOptions,
    },
    Env {
        vars: Vec<(String, String)>,
    },
    Arg {
        args: Vec<ArgDecl>,
    },
    Label {
        labels: Vec<(String, String)>,
    },
    Expose {
        ports: Vec<String>,
    },
    Volume {
        paths: Vec<String>,
    },
    User {
        user: String,
    },
    Workdir {
        path: String,
    },
    Stopsignal {
        signal: String,
    },
    Healthcheck(Healthcheck),
    Onbuild {
        /// The trigger as written (it is parsed when it fires, in the
        /// build that uses this image as a base); also validated now.
        trigger: String,
        #[serde(skip)]
        parsed: Box<Instruction>,
    },
    Maintainer {
        name: String,
    },
}

impl Instruction {
    /// The keyword, upper case, as Docker prints it.
    pub fn keyword(&self) -> &'static str {
        match self {
            Instruction::From(_) => "FROM",
            Instruction::Run(_) => "RUN",
            Instruction::Cmd { .. } => "CMD",
            Instruction::Entrypoint { .. } => "ENTRYPOINT",
            Instruction::Shell { .. } => "SHELL",
            Instruction::Copy(_) => "COPY",
            Instruction::Add { .. } => "ADD",
            Instruction::Env { .. } => "ENV",
            Instruction::Arg { .. } => "ARG",
            Instruction::Label { .. } => "LABEL",
            Instruction::Expose { .. } => "EXPOSE",
            Instruction::Volume { .. } => "VOLUME",
            Instruction::User { .. } => "USER",
            Instruction::Workdir { .. } => "WORKDIR",
            Instruction::Stopsignal { .. } => "STOPSIGNAL",
            Instruction::Healthcheck(_) => "HEALTHCHECK",
            Instruction::Onbuild { .. } => "ONBUILD",
            Instruction::Maintainer { .. } => "MAINTAINER",
        }
    }
}

/// Every keyword the Dockerfile front end accepts.
pub const KEYWORDS: &[&str] = &[
    "ADD",
    "ARG",
    "CMD",
    "COPY",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "FROM",
    "HEALTHCHECK",
    "LABEL",
    "MAINTAINER",
    "ONBUILD",
    "RUN",
    "SHELL",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
];
