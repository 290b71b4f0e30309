//! The seam for RUN: the builder hands each RUN instruction to a
//! [`RunExecutor`] (a Linux namespace sandbox on Linux hosts, an HCS
//! compute system on Windows hosts) and takes back the layer of changes
//! the command made. The executors themselves live outside this crate;
//! without one, a RUN is refused with its stage and line, after the plan
//! has already refused RUNs this host could never execute.

use crate::context::BuildContext;
use crate::layer_store::{LayerRef, LayerStore};
use std::collections::BTreeMap;
use std::path::PathBuf;
use wharf_frontend::plan::{PlannedInstruction, StagePlan};
use wharf_image::ImageConfig;
use wharf_platform::Platform;

/// What an executor gets for one RUN.
pub struct RunRequest<'a> {
    pub stage: &'a StagePlan,
    /// The RUN, expanded: command, heredocs, mounts, environment, shell.
    pub instruction: &'a PlannedInstruction,
    /// The stage's layers so far, base first (all in the store).
    pub layers: &'a [LayerRef],
    /// The stage's configuration so far (USER, WORKDIR, ...).
    pub config: &'a ImageConfig,
    /// Where to read base layers and write the new one.
    pub layer_store: &'a LayerStore,
    /// The build context, for `--mount=type=bind` without `from`.
    pub context: &'a BuildContext,
    /// For each of the RUN's `--mount`s, in order: the layers of the stage
    /// or image its `from=` names (all in the store), `None` without `from`.
    pub mount_sources: &'a [Option<Vec<LayerRef>>],
    /// The build's secrets by id, for `--mount=type=secret`.
    pub secrets: &'a BTreeMap<String, SecretSource>,
    /// Receives the command's output, one line at a time.
    pub output: &'a dyn Fn(OutputLine<'_>),
    /// `SOURCE_DATE_EPOCH`: file times in the new layer are clamped to it.
    pub source_date_epoch: Option<u64>,
}

/// One line the command wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputLine<'a> {
    /// Written to standard error (else standard output).
    pub stderr: bool,
    /// The line, without its newline (invalid UTF-8 replaced).
    pub text: &'a str,
}

/// Where a build secret's value comes from (`--secret id=...,src=...` or
/// `--secret id=...,env=...`). The value is read only when a RUN mounts
/// it, and is never stored in a layer, the configuration, the history or
/// the cache key.
#[derive(Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// A file on the host.
    File(PathBuf),
    /// An environment variable of the builder's process.
    Env(String),
}

impl std::fmt::Debug for SecretSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretSource::File(p) => write!(f, "File({})", p.display()),
            SecretSource::Env(n) => write!(f, "Env({n})"),
        }
    }
}

impl SecretSource {
    /// Reads the secret's value; the error names the file or variable.
    pub fn read(&self, id: &str) -> Result<Vec<u8>, String> {
        match self {
            SecretSource::File(p) => std::fs::read(p).map_err(|e| {
                format!(
                    "secret {id}: reading {}: {e}; check the src= path given to --secret",
                    p.display()
                )
            }),
            SecretSource::Env(name) => std::env::var_os(name)
                .map(|v| v.into_encoded_bytes())
                .ok_or_else(|| {
                    format!("secret {id}: the environment variable {name} is not set; set it or change env= in --secret")
                }),
        }
    }
}

/// What running one RUN produced.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RunOutcome {
    /// The layer of the command's changes; `None` when it changed nothing.
    pub layer: Option<LayerRef>,
    /// The command actually run, when the executor changed it (a Windows
    /// executor translating `apt-get install` into `choco install`): shown
    /// in the build output and recorded in the image history.
    pub ran_instead: Option<String>,
}

/// Runs RUN instructions for some platforms.
pub trait RunExecutor: Send + Sync {
    /// Whether this executor can run commands for `platform` here.
    fn supports(&self, platform: &Platform) -> bool;

    /// Runs the command. The error is shown with the stage and line.
    fn run(&self, request: &RunRequest<'_>) -> Result<RunOutcome, String>;
}
