//! Errors of a RUN (and of a layer import) through HCS: the first failure,
//! naming the step and the layer folder or compute system involved, with
//! every failure of the teardown that followed attached.

use crate::api::ApiError;
use crate::command_line::CommandLineError;
use crate::documents::ProcessStatusError;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;
use thiserror::Error;

/// A step of a RUN, in the order the orchestrator takes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Step {
    LayerId,
    ImportLayer,
    ProcessBaseLayer,
    ProcessUtilityVm,
    CreateScratch,
    ActivateScratch,
    PrepareScratch,
    MountPath,
    CreateWorkingDirectory,
    CreateComputeSystem,
    StartComputeSystem,
    CreateProcess,
    ReadOutput,
    ProcessStatus,
    TerminateProcess,
    TerminateComputeSystem,
    UnprepareScratch,
    ExportScratch,
    DeactivateScratch,
    DestroyLayer,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Step::LayerId => "deriving the layer id of",
            Step::ImportLayer => "importing layer",
            Step::ProcessBaseLayer => "processing base layer",
            Step::ProcessUtilityVm => "processing the utility VM of base layer",
            Step::CreateScratch => "creating the scratch layer",
            Step::ActivateScratch => "activating the scratch layer",
            Step::PrepareScratch => "mounting the scratch layer",
            Step::MountPath => "finding the volume of the scratch layer",
            Step::CreateWorkingDirectory => "creating the working directory",
            Step::CreateComputeSystem => "creating compute system",
            Step::StartComputeSystem => "starting compute system",
            Step::CreateProcess => "starting the command in compute system",
            Step::ReadOutput => "reading the command's output in compute system",
            Step::ProcessStatus => "asking for the command's status in compute system",
            Step::TerminateProcess => "stopping the command in compute system",
            Step::TerminateComputeSystem => "stopping compute system",
            Step::UnprepareScratch => "unmounting the scratch layer",
            Step::ExportScratch => "exporting the changes of the scratch layer",
            Step::DeactivateScratch => "deactivating the scratch layer",
            Step::DestroyLayer => "removing layer",
        })
    }
}

/// What stopped a RUN.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RunError {
    /// A host call failed. `subject` is the layer folder or compute system.
    #[error("{step} {subject}: {source}")]
    Call {
        step: Step,
        subject: String,
        source: ApiError,
    },
    #[error("the layer folder {path:?} has no name to derive its layer id from: pass the layer's own folder (C:\\...\\<layer>), not a drive or share root")]
    LayerFolderName { path: PathBuf },
    #[error("the path {path:?} is not valid Unicode, which HCS documents cannot carry: use a path of valid Unicode characters")]
    NonUnicodePath { path: PathBuf },
    #[error("the scratch layer {scratch:?} could still not be activated and mounted after {attempts} attempts ({source}): the host may be overloaded; retry")]
    MountPathNotReady {
        scratch: PathBuf,
        attempts: u32,
        source: ApiError,
    },
    #[error("GetLayerMountPath returned no volume for the scratch layer {scratch:?}: the layer is not mounted; check that nothing else unprepared it and retry")]
    EmptyMountPath { scratch: PathBuf },
    #[error("the command line for compute system {system_id} cannot be built: {source}")]
    CommandLine {
        system_id: String,
        source: CommandLineError,
    },
    #[error("the exit code of the command in compute system {system_id} is unknown: {source}")]
    ProcessStatus {
        system_id: String,
        source: ProcessStatusError,
    },
    /// Setting up or tearing down the RUN's network failed.
    #[error(transparent)]
    Network(#[from] crate::network::NetworkError),
    #[error("the RUN in compute system {system_id} was cancelled")]
    Cancelled { system_id: String },
    #[error("compute system {system_id} was still running {} s after it was asked to shut down and then terminated: remove it with `hcsdiag kill {system_id}`", .after.as_secs_f64())]
    DidNotStop { system_id: String, after: Duration },
    #[error("the command {command_line:?} in compute system {system_id} ran longer than the {} s allowed and was stopped: raise the RUN timeout or make the command finish", .after.as_secs_f64())]
    TimedOut {
        system_id: String,
        command_line: String,
        after: Duration,
    },
}

impl RunError {
    pub(crate) fn call(step: Step, subject: impl Into<String>, source: ApiError) -> Self {
        RunError::Call {
            step,
            subject: subject.into(),
            source,
        }
    }
}

/// A failed RUN or import: the first error, then what went wrong while
/// tearing down (each teardown step is attempted whatever failed before).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunFailure {
    pub error: RunError,
    pub teardown: Vec<RunError>,
}

impl fmt::Display for RunFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.error)?;
        if !self.teardown.is_empty() {
            f.write_str(
                "; cleaning up afterwards also failed (remove what was left behind with `hcsdiag kill <id>` or by hand): ",
            )?;
            for (index, error) in self.teardown.iter().enumerate() {
                if index > 0 {
                    f.write_str("; ")?;
                }
                write!(f, "{error}")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for RunFailure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

impl From<RunError> for RunFailure {
    fn from(error: RunError) -> Self {
        RunFailure {
            error,
            teardown: Vec::new(),
        }
    }
}
