//! The seam for RUN: the builder hands each RUN instruction to a
//! [`RunExecutor`] (a Linux namespace sandbox on Linux hosts, an HCS
//! compute system on Windows hosts) and takes back the layer of changes
//! the command made. The executors themselves live outside this crate;
//! without one, a RUN is refused with its stage and line, after the plan
//! has already refused RUNs this host could never execute.

use crate::context::BuildContext;
use crate::layer_store::{LayerRef, LayerStore};
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
