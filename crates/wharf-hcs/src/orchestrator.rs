//! One RUN in a transient compute system, driven through any [`HcsApi`]:
//! the order of the calls, the retries, the timeout, and a teardown in
//! reverse order that always runs, whatever step failed.
//!
//! The sequence (what hcsshim and Docker's Windows driver do):
//! 1. `NameToGuid` for each parent layer folder;
//! 2. create the scratch layer on the parents, activate and prepare it
//!    (the pair retried as hcsshim's `MountWCOWLayers` does, `PrepareLayer`
//!    serialised process-wide as hcsshim's `wclayer` does), and find its
//!    volume;
//! 3. create and start the compute system, start the command, pass its
//!    output on until it exits (or stop it at the timeout or on
//!    [`cancel_all`]);
//! 4. close the process, stop the compute system (shut down, bounded,
//!    then terminate; both waited for) and close it, unprepare the
//!    scratch; if the command succeeded, export the scratch's changes into
//!    the export folder (the scratch stays activated for that);
//! 5. deactivate and destroy the scratch.
//!
//! On failure, each resource still held is released in reverse order of
//! acquisition: process (terminated if still running), compute system
//! (stopped as above), prepared volume, activation, scratch folder. The
//! first error is returned with each teardown failure attached.

use crate::api::{HcsApi, LayerDescriptor, OutputEvent, OutputStream};
use crate::documents::{ComputeSystem, MappedDirectory, Network, ProcessParameters, ProcessStatus};
use crate::hcs_error::is_already_stopped;
use crate::run_error::{RunError, RunFailure, Step};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long one wait for output lasts before the process's status is
/// asked for again.
const OUTPUT_POLL: Duration = Duration::from_millis(200);

/// How long a compute system gets to shut down before it is terminated
/// (hcsshim, containerd and moby allow 30 s).
pub const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a terminated compute system gets to stop.
const TERMINATE_WAIT: Duration = Duration::from_secs(30);

/// How far apart a stopping system's state is asked for.
const STATE_POLL: Duration = Duration::from_millis(100);

/// `PrepareLayer` one at a time in this process: hcsshim serialises it
/// (`internal/wclayer`) because concurrent calls make Windows time out.
static PREPARE_LAYER: Mutex<()> = Mutex::new(());

/// Set by [`cancel_all`]: every RUN of this process stops at its next
/// check and tears down.
static CANCELLED: AtomicBool = AtomicBool::new(false);

/// Stops every RUN this process is running, and any it starts later (Ctrl-C
/// ends the build): each stops its command, tears down and returns
/// [`RunError::Cancelled`].
pub fn cancel_all() {
    CANCELLED.store(true, Ordering::SeqCst);
}

fn cancelled(id: &str) -> Result<(), RunError> {
    if CANCELLED.load(Ordering::SeqCst) {
        return Err(RunError::Cancelled {
            system_id: id.to_owned(),
        });
    }
    Ok(())
}

/// How often, and how far apart, to try `ActivateLayer` + `PrepareLayer`
/// again (deactivating in between) while Windows answers `ERROR_NOT_READY`
/// or `ERROR_DEVICE_NOT_CONNECTED`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MountRetry {
    pub attempts: u32,
    pub delay: Duration,
}

impl Default for MountRetry {
    fn default() -> Self {
        // hcsshim's MountWCOWLayers: 5 tries, 100 ms apart.
        MountRetry {
            attempts: 5,
            delay: Duration::from_millis(100),
        }
    }
}

/// Everything one RUN needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunSpec {
    /// A unique id for the compute system (shown by `hcsdiag list`).
    pub system_id: String,
    /// The container's host name.
    pub host_name: String,
    /// The stage's imported layer folders: immediate parent first, base
    /// last (the order of every HCS document).
    pub parent_layers: Vec<PathBuf>,
    /// Where to create the scratch layer (a folder that does not exist
    /// yet; its name must be unique, as its id derives from it).
    pub scratch: PathBuf,
    /// The process to run.
    pub process: ProcessParameters,
    pub mapped_directories: Vec<MappedDirectory>,
    pub network: Network,
    /// The command is stopped after this long (`Duration::MAX`: never).
    pub timeout: Duration,
    /// The empty folder to export the scratch's changes into. After a
    /// failed export it may hold part of the export: the caller removes it.
    pub export_to: PathBuf,
    pub mount_retry: MountRetry,
    /// How long the compute system gets to shut down before it is
    /// terminated ([`SHUTDOWN_TIMEOUT`]).
    pub shutdown_timeout: Duration,
}

/// What a RUN produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunResult {
    /// The command's exit code (Windows exit codes are 32-bit unsigned,
    /// e.g. `0xC0000005` for an access violation).
    pub exit_code: u32,
    /// The export folder, filled, when the command exited with 0; `None`
    /// otherwise (a failed RUN yields no layer).
    pub exported_folder: Option<PathBuf>,
}

/// Runs one command as described by `spec`, passing its output to
/// `output` as it arrives.
pub fn run<A: HcsApi>(
    api: &mut A,
    spec: &RunSpec,
    output: &mut dyn FnMut(OutputStream, &[u8]),
) -> Result<RunResult, RunFailure> {
    let parents = layer_descriptors(api, &spec.parent_layers)?;
    let scratch = path_text(&spec.scratch)?;
    let mut held = Held::default();
    let outcome = execute(api, spec, scratch, &parents, &mut held, output);
    let teardown = release(api, spec, scratch, &mut held);
    match outcome {
        Err(error) => Err(RunFailure { error, teardown }),
        Ok(result) => {
            let mut teardown = teardown.into_iter();
            match teardown.next() {
                None => Ok(result),
                // A scratch left mounted or activated is a failure even
                // when the command succeeded.
                Some(error) => Err(RunFailure {
                    error,
                    teardown: teardown.collect(),
                }),
            }
        }
    }
}

/// Imports the layer in `source` (a folder in the export format) into the
/// new layer folder `layer` on `parents` (immediate parent first). A
/// half-imported layer folder is destroyed.
pub fn import_layer<A: HcsApi>(
    api: &mut A,
    layer: &Path,
    source: &Path,
    parents: &[PathBuf],
) -> Result<(), RunFailure> {
    let descriptors = layer_descriptors(api, parents)?;
    let layer_text = path_text(layer)?;
    path_text(source)?;
    match api.import_layer(layer, source, &descriptors) {
        Ok(()) => Ok(()),
        Err(source) => {
            let error = RunError::call(Step::ImportLayer, layer_text, source);
            let teardown = api
                .destroy_layer(layer)
                .err()
                .map(|e| RunError::call(Step::DestroyLayer, layer_text, e))
                .into_iter()
                .collect();
            Err(RunFailure { error, teardown })
        }
    }
}

/// Makes `layer`, a folder whose `Files\` (and, if `has_utility_vm`,
/// `UtilityVM\Files\`) the caller has filled with a base layer's files,
/// usable as the base of a layer chain. A base layer is not imported with
/// `ImportLayer` (which needs parents): its files are written in place
/// and then processed, as hcsshim's base-layer writer does.
pub fn finish_base_layer<A: HcsApi>(
    api: &mut A,
    layer: &Path,
    has_utility_vm: bool,
) -> Result<(), RunError> {
    let text = path_text(layer)?;
    api.process_base_layer(layer)
        .map_err(|e| RunError::call(Step::ProcessBaseLayer, text, e))?;
    if has_utility_vm {
        let utility_vm = layer.join("UtilityVM");
        let utility_text = path_text(&utility_vm)?.to_owned();
        api.process_utility_vm(&utility_vm)
            .map_err(|e| RunError::call(Step::ProcessUtilityVm, utility_text, e))?;
    }
    Ok(())
}

/// The layer id and path text of each folder, in the same order.
pub fn layer_descriptors<A: HcsApi>(
    api: &mut A,
    folders: &[PathBuf],
) -> Result<Vec<LayerDescriptor>, RunError> {
    folders
        .iter()
        .map(|folder| {
            let path = path_text(folder)?;
            let name = layer_folder_name(path).ok_or_else(|| RunError::LayerFolderName {
                path: folder.clone(),
            })?;
            let id = api
                .name_to_guid(name)
                .map_err(|e| RunError::call(Step::LayerId, path, e))?;
            Ok(LayerDescriptor {
                id,
                path: path.to_owned(),
            })
        })
        .collect()
}

/// The last component of a Windows or portable path (`C:\a\b\` → `b`),
/// whichever separators it uses, so that ids derive the same way when
/// this code is tested on Linux.
pub fn layer_folder_name(path: &str) -> Option<&str> {
    let name = path
        .trim_end_matches(['\\', '/'])
        .rsplit(['\\', '/'])
        .next()?;
    // `C:` alone is a drive, not a folder.
    if name.is_empty() || name.ends_with(':') {
        None
    } else {
        Some(name)
    }
}

/// The folder holding `path`, whichever separators it uses (`C:\a\b` →
/// `C:\a`); `None` for a top-level name or a drive root.
pub fn parent_folder(path: &str) -> Option<&str> {
    let (parent, _) = path
        .trim_end_matches(['\\', '/'])
        .rsplit_once(['\\', '/'])?;
    if parent.is_empty() || parent.ends_with(':') {
        None
    } else {
        Some(parent)
    }
}

fn path_text(path: &Path) -> Result<&str, RunError> {
    path.to_str().ok_or_else(|| RunError::NonUnicodePath {
        path: path.to_owned(),
    })
}

/// What is held at a given moment, so that teardown releases exactly it.
struct Held<S, P> {
    scratch_created: bool,
    activated: bool,
    prepared: bool,
    system: Option<S>,
    process: Option<P>,
    process_running: bool,
}

impl<S, P> Default for Held<S, P> {
    fn default() -> Self {
        Held {
            scratch_created: false,
            activated: false,
            prepared: false,
            system: None,
            process: None,
            process_running: false,
        }
    }
}

fn execute<A: HcsApi>(
    api: &mut A,
    spec: &RunSpec,
    scratch: &str,
    parents: &[LayerDescriptor],
    held: &mut Held<A::System, A::Process>,
    output: &mut dyn FnMut(OutputStream, &[u8]),
) -> Result<RunResult, RunError> {
    let scratch_path = spec.scratch.as_path();
    let id = spec.system_id.as_str();

    // HCS creates neither the scratch's parent folder nor the export
    // folder (hcsshim exports into a folder it made with MkdirTemp).
    if let Some(parent) = parent_folder(scratch) {
        api.create_directory(parent)
            .map_err(|e| RunError::call(Step::CreateScratch, scratch, e))?;
    }
    api.create_scratch_layer(scratch_path, parents)
        .map_err(|e| RunError::call(Step::CreateScratch, scratch, e))?;
    held.scratch_created = true;
    activate_and_prepare(api, spec, scratch, parents, held)?;
    let volume = mount_path(api, spec)?;
    // The working directory exists before the process starts, as BuildKit
    // creates it in the mounted root file system (WORKDIR may name one the
    // layers lack).
    if let Some(dir) = working_directory_in_volume(&volume, &spec.process.working_directory) {
        api.create_directory(&dir)
            .map_err(|e| RunError::call(Step::CreateWorkingDirectory, dir.as_str(), e))?;
    }
    cancelled(id)?;

    let document = ComputeSystem::container(
        &spec.host_name,
        parents,
        &volume,
        spec.mapped_directories.clone(),
        &spec.network,
    );
    let document = to_json(&document);
    let system = api
        .create_compute_system(id, &document)
        .map_err(|e| RunError::call(Step::CreateComputeSystem, id, e))?;
    let system = held.system.insert(system);
    api.start_compute_system(system)
        .map_err(|e| RunError::call(Step::StartComputeSystem, id, e))?;

    cancelled(id)?;
    let parameters = to_json(&spec.process);
    let process = api
        .create_process(system, &parameters)
        .map_err(|e| RunError::call(Step::CreateProcess, id, e))?;
    held.process_running = true;
    let process = held.process.insert(process);
    let exit_code = wait_for_exit(api, spec, process, output)?;
    held.process_running = false;

    // The orderly end: what teardown would do, but failures here are the
    // RUN's own.
    if let Some(process) = held.process.take() {
        api.close_process(process);
    }
    if let Some(mut system) = held.system.take() {
        let stopped = stop_system(api, spec, &mut system);
        api.close_compute_system(system);
        stopped?;
    }
    held.prepared = false;
    api.unprepare_layer(scratch_path)
        .map_err(|e| RunError::call(Step::UnprepareScratch, scratch, e))?;

    let exported_folder = if exit_code == 0 {
        api.create_directory(path_text(&spec.export_to)?)
            .map_err(|e| RunError::call(Step::ExportScratch, scratch, e))?;
        api.export_layer(scratch_path, &spec.export_to, parents)
            .map_err(|e| RunError::call(Step::ExportScratch, scratch, e))?;
        Some(spec.export_to.clone())
    } else {
        None
    };
    Ok(RunResult {
        exit_code,
        exported_folder,
    })
}

/// `ActivateLayer` then `PrepareLayer`, tried again as a pair (after
/// deactivating) while Windows answers `ERROR_NOT_READY` or
/// `ERROR_DEVICE_NOT_CONNECTED`, as hcsshim's `MountWCOWLayers` does.
fn activate_and_prepare<A: HcsApi>(
    api: &mut A,
    spec: &RunSpec,
    scratch: &str,
    parents: &[LayerDescriptor],
    held: &mut Held<A::System, A::Process>,
) -> Result<(), RunError> {
    let scratch_path = spec.scratch.as_path();
    let attempts = spec.mount_retry.attempts.max(1);
    let mut attempt = 1;
    loop {
        let (step, error) = match api.activate_layer(scratch_path) {
            Err(e) => (Step::ActivateScratch, e),
            Ok(()) => {
                held.activated = true;
                let prepared = {
                    let _one_at_a_time = PREPARE_LAYER.lock().unwrap_or_else(|e| e.into_inner());
                    api.prepare_layer(scratch_path, parents)
                };
                match prepared {
                    Ok(()) => {
                        held.prepared = true;
                        return Ok(());
                    }
                    Err(e) => (Step::PrepareScratch, e),
                }
            }
        };
        // Otherwise the teardown deactivates.
        if !error.is_transient_mount_error() {
            return Err(RunError::call(step, scratch, error));
        }
        if attempt >= attempts {
            return Err(RunError::MountPathNotReady {
                scratch: spec.scratch.clone(),
                attempts,
                source: error,
            });
        }
        if std::mem::take(&mut held.activated) {
            api.deactivate_layer(scratch_path)
                .map_err(|e| RunError::call(Step::DeactivateScratch, scratch, e))?;
        }
        attempt += 1;
        std::thread::sleep(spec.mount_retry.delay);
    }
}

/// The scratch's volume (asked once: the retry is around activation and
/// preparation).
fn mount_path<A: HcsApi>(api: &mut A, spec: &RunSpec) -> Result<String, RunError> {
    match api.layer_mount_path(&spec.scratch) {
        Ok(volume) if volume.is_empty() => Err(RunError::EmptyMountPath {
            scratch: spec.scratch.clone(),
        }),
        Ok(volume) => Ok(volume),
        Err(e) => Err(RunError::call(
            Step::MountPath,
            spec.scratch.to_string_lossy(),
            e,
        )),
    }
}

/// Stops a compute system as hcsshim, containerd and moby do: a shutdown
/// request, waited for up to `spec.shutdown_timeout`; if it fails or the
/// system is still running then, terminate, waited for too. Stopping what
/// has already stopped (or no longer exists) is success. Returns once the
/// system has stopped, so that its scratch can be unprepared.
fn stop_system<A: HcsApi>(
    api: &mut A,
    spec: &RunSpec,
    system: &mut A::System,
) -> Result<(), RunError> {
    let id = spec.system_id.as_str();
    match api.shutdown_compute_system(system) {
        Err(e) if is_already_stopped(e.hresult) => return Ok(()),
        Err(_) => {} // not every system accepts a shutdown: terminate
        Ok(()) => {
            if wait_until_stopped(api, spec, system, spec.shutdown_timeout)? {
                return Ok(());
            }
        }
    }
    match api.terminate_compute_system(system) {
        Err(e) if is_already_stopped(e.hresult) => return Ok(()),
        Err(e) => return Err(RunError::call(Step::TerminateComputeSystem, id, e)),
        Ok(()) => {}
    }
    if wait_until_stopped(api, spec, system, TERMINATE_WAIT)? {
        Ok(())
    } else {
        Err(RunError::DidNotStop {
            system_id: id.to_owned(),
            after: spec.shutdown_timeout + TERMINATE_WAIT,
        })
    }
}

/// Asks for the system's state until it has stopped (`true`) or `bound`
/// has passed (`false`).
fn wait_until_stopped<A: HcsApi>(
    api: &mut A,
    spec: &RunSpec,
    system: &mut A::System,
    bound: Duration,
) -> Result<bool, RunError> {
    let started = Instant::now();
    loop {
        match api.compute_system_properties(system) {
            Err(e) if is_already_stopped(e.hresult) => return Ok(true),
            Err(e) => {
                return Err(RunError::call(
                    Step::TerminateComputeSystem,
                    spec.system_id.as_str(),
                    e,
                ))
            }
            Ok(document) if system_has_stopped(&document) => return Ok(true),
            Ok(_) => {}
        }
        let elapsed = started.elapsed();
        if elapsed >= bound {
            return Ok(false);
        }
        std::thread::sleep(STATE_POLL.min(bound - elapsed));
    }
}

/// Where the container's working directory `cwd` (`C:\app`, `\app`,
/// `C:/app`) is in the mounted scratch volume `volume`; `None` for the
/// root, for another drive (not in the volume) and for a path with `..`.
pub fn working_directory_in_volume(volume: &str, cwd: &str) -> Option<String> {
    let cwd = cwd.replace('/', "\\");
    let rest = match cwd.get(..2) {
        Some(drive) if drive.eq_ignore_ascii_case("c:") => &cwd[2..],
        _ if cwd.starts_with('\\') => cwd.as_str(),
        _ => return None,
    };
    let parts: Vec<&str> = rest
        .split('\\')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    if parts.is_empty() || parts.contains(&"..") {
        return None;
    }
    Some(format!(
        "{}\\{}",
        volume.trim_end_matches('\\'),
        parts.join("\\")
    ))
}

/// Whether a compute system's properties document (schema 2 `Properties`)
/// says it has stopped.
pub fn system_has_stopped(document: &str) -> bool {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct State {
        #[serde(default)]
        state: String,
        #[serde(default)]
        stopped: bool,
    }
    serde_json::from_str::<State>(document)
        .map(|s| s.stopped || s.state.eq_ignore_ascii_case("stopped"))
        .unwrap_or(false)
}

/// Passes output on until the process exits; its exit code.
fn wait_for_exit<A: HcsApi>(
    api: &mut A,
    spec: &RunSpec,
    process: &mut A::Process,
    output: &mut dyn FnMut(OutputStream, &[u8]),
) -> Result<u32, RunError> {
    let id = spec.system_id.as_str();
    let started = Instant::now();
    loop {
        cancelled(id)?;
        let elapsed = started.elapsed();
        if elapsed >= spec.timeout {
            return Err(RunError::TimedOut {
                system_id: spec.system_id.clone(),
                command_line: spec.process.command_line.clone(),
                after: spec.timeout,
            });
        }
        let wait = OUTPUT_POLL.min(spec.timeout - elapsed);
        match api
            .read_output(process, wait)
            .map_err(|e| RunError::call(Step::ReadOutput, id, e))?
        {
            OutputEvent::Output(stream, bytes) => output(stream, &bytes),
            event @ (OutputEvent::Idle | OutputEvent::Closed) => {
                let status = api
                    .process_status(process)
                    .map_err(|e| RunError::call(Step::ProcessStatus, id, e))?;
                let exit_code = ProcessStatus::parse(&status)
                    .and_then(|status| status.exit_code())
                    .map_err(|source| RunError::ProcessStatus {
                        system_id: spec.system_id.clone(),
                        source,
                    })?;
                if let Some(exit_code) = exit_code {
                    drain_output(api, process, output)
                        .map_err(|e| RunError::call(Step::ReadOutput, id, e))?;
                    return Ok(exit_code);
                }
                if event == OutputEvent::Closed {
                    // The pipes answer at once from now on: pace the
                    // status polling instead.
                    std::thread::sleep(wait);
                }
            }
        }
    }
}

/// Passes on what the pipes still hold after the process exited: until
/// they end, or stay quiet for one poll (a background process the command
/// started may hold them open).
fn drain_output<A: HcsApi>(
    api: &mut A,
    process: &mut A::Process,
    output: &mut dyn FnMut(OutputStream, &[u8]),
) -> Result<(), crate::api::ApiError> {
    while let OutputEvent::Output(stream, bytes) = api.read_output(process, OUTPUT_POLL)? {
        output(stream, &bytes);
    }
    Ok(())
}

/// Releases what is still held, in reverse order of acquisition; every
/// step is attempted and its failure collected.
fn release<A: HcsApi>(
    api: &mut A,
    spec: &RunSpec,
    scratch: &str,
    held: &mut Held<A::System, A::Process>,
) -> Vec<RunError> {
    let id = spec.system_id.as_str();
    let scratch_path = spec.scratch.as_path();
    let mut errors = Vec::new();
    if let Some(mut process) = held.process.take() {
        if held.process_running {
            match api.terminate_process(&mut process) {
                Err(e) if !is_already_stopped(e.hresult) => {
                    errors.push(RunError::call(Step::TerminateProcess, id, e));
                }
                _ => {}
            }
        }
        api.close_process(process);
    }
    if let Some(mut system) = held.system.take() {
        if let Err(e) = stop_system(api, spec, &mut system) {
            errors.push(e);
        }
        api.close_compute_system(system);
    }
    if std::mem::take(&mut held.prepared) {
        if let Err(e) = api.unprepare_layer(scratch_path) {
            errors.push(RunError::call(Step::UnprepareScratch, scratch, e));
        }
    }
    if std::mem::take(&mut held.activated) {
        if let Err(e) = api.deactivate_layer(scratch_path) {
            errors.push(RunError::call(Step::DeactivateScratch, scratch, e));
        }
    }
    if std::mem::take(&mut held.scratch_created) {
        if let Err(e) = api.destroy_layer(scratch_path) {
            errors.push(RunError::call(Step::DestroyLayer, scratch, e));
        }
    }
    errors
}

fn to_json<T: serde::Serialize>(document: &T) -> String {
    // These documents hold only strings, numbers, booleans and string
    // maps, which always serialise.
    serde_json::to_string(document).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn working_directories_in_the_volume() {
        let volume = r"\\?\Volume{x}\";
        let w = |cwd| working_directory_in_volume(volume, cwd);
        assert_eq!(w(r"C:\app\src").as_deref(), Some(r"\\?\Volume{x}\app\src"));
        assert_eq!(w("c:/app/").as_deref(), Some(r"\\?\Volume{x}\app"));
        assert_eq!(w(r"\tools").as_deref(), Some(r"\\?\Volume{x}\tools"));
        assert_eq!(w(r"C:\"), None);
        assert_eq!(w(""), None);
        assert_eq!(w(r"D:\data"), None);
        assert_eq!(w(r"C:\app\..\Windows"), None);
    }

    #[test]
    fn stopped_state_documents() {
        assert!(system_has_stopped(r#"{"State":"Stopped"}"#));
        assert!(system_has_stopped(r#"{"Id":"x","Stopped":true}"#));
        assert!(!system_has_stopped(r#"{"State":"Running"}"#));
        assert!(!system_has_stopped("not json"));
    }

    #[test]
    fn parent_folders() {
        assert_eq!(
            parent_folder(r"C:\wharf\scratch\run-1"),
            Some(r"C:\wharf\scratch")
        );
        assert_eq!(parent_folder("/tmp/s/run/"), Some("/tmp/s"));
        assert_eq!(parent_folder(r"C:\run"), None);
        assert_eq!(parent_folder("run"), None);
    }

    #[test]
    fn folder_names() {
        assert_eq!(layer_folder_name(r"C:\wharf\layers\abc"), Some("abc"));
        assert_eq!(layer_folder_name(r"C:\wharf\layers\abc\"), Some("abc"));
        assert_eq!(layer_folder_name("/tmp/layers/abc"), Some("abc"));
        assert_eq!(layer_folder_name(r"\\?\C:\l\x"), Some("x"));
        assert_eq!(layer_folder_name("abc"), Some("abc"));
        assert_eq!(layer_folder_name(r"C:\"), None);
        assert_eq!(layer_folder_name("C:"), None);
        assert_eq!(layer_folder_name(""), None);
        assert_eq!(layer_folder_name(r"\\"), None);
    }
}
