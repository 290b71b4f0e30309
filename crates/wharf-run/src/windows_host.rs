//! The host half of the Windows RUN executor, portable and generic over
//! the HCS calls ([`HcsApi`]) and the layer-folder file operations
//! ([`LayerFolderOps`]): importing lower layers into layer folders
//! ([`import_lower`]) and running the command in a compute system whose
//! changes are exported to a folder ([`run_on_host`]). On Windows,
//! `windows_shim` passes the real implementations; tests drive both with
//! fakes.
//!
//! The builder names each layer folder by the layer's chain id (the store
//! gives the path), because an imported Windows layer is tied to its
//! parents and HCS derives the layer id from the folder's name.
//!
//! Importing, under the folder's [`ImportLock`]:
//! 1. a folder with its completion marker is used as it is (another build
//!    may have imported it while this one waited for the lock);
//! 2. anything else at the folder's place (a half-finished import) is
//!    removed, marker first;
//! 3. a **base** layer (no parents) is written entry by entry through
//!    [`LayerFolderOps::base_writer`] in the order [`plan_base_layer`]
//!    gives, then `ProcessBaseImage` (and `ProcessUtilityImage` when
//!    `UtilityVM/Files` exists, as hcsshim does; Wharf itself runs process
//!    isolation only, which never uses it);
//! 4. a **non-base** layer is staged without deletions and hard links
//!    ([`layer_to_staging_folder`]), the destination folder is created,
//!    `ImportLayer` fills it, then the deleted paths are removed from it
//!    and the hard links created in it (target in this layer, else in the
//!    nearest parent that has it), as hcsshim's `importlayer.go` does. Its
//!    `UtilityVM/` is imported, not processed;
//! 5. the completion marker is written last.
//!
//! Whatever step fails, the folder is removed, so nothing half-imported is
//! trusted later.

use crate::layer_folders::{ImportLock, LayerFolderOps};
use crate::output::LineSink;
use crate::seam::{LowerLayer, RunChange, RunError, RunSpec};
use std::path::{Path, PathBuf};
use wharf_hcs::{
    finish_base_layer, import_layer, HcnApi, HcsApi, MountRetry, Network, OutputStream,
    ProcessParameters, RunFailure, RunResult, RunSpec as HcsRunSpec, SHUTDOWN_TIMEOUT,
};
use wharf_layer::{layer_to_staging_folder, plan_base_layer, ImportSummary};

fn lower_err(layer: &LowerLayer<'_>, reason: impl std::fmt::Display) -> RunError {
    RunError::Lower {
        digest: layer.digest.to_string(),
        reason: reason.to_string(),
    }
}

fn io_reason(what: &str, path: &Path, e: std::io::Error) -> String {
    format!("{what} {}: {e}", path.display())
}

/// Imports `layer` on top of its parents into `layer.dest`, unless a
/// complete import is already there.
pub fn import_lower<A: HcsApi, F: LayerFolderOps>(
    api: &mut A,
    folders: &mut F,
    layer: &LowerLayer<'_>,
) -> Result<(), RunError> {
    let dest = layer.dest;
    let _lock =
        ImportLock::acquire(dest).map_err(|e| lower_err(layer, io_reason("locking", dest, e)))?;
    match folders.is_complete(dest) {
        Ok(true) => return Ok(()),
        Ok(false) => {}
        Err(e) => return Err(lower_err(layer, io_reason("checking", dest, e))),
    }
    folders
        .remove_marker(dest)
        .and_then(|()| folders.remove_folder(dest))
        .map_err(|e| lower_err(layer, io_reason("removing the unfinished import", dest, e)))?;
    let imported = if layer.parents.is_empty() {
        import_base(api, folders, layer)
    } else {
        import_on_parents(api, folders, layer)
    }
    .and_then(|()| {
        folders
            .write_marker(dest)
            .map_err(|e| io_reason("marking as imported", dest, e))
    });
    match imported {
        Ok(()) => Ok(()),
        Err(reason) => {
            // Not trusted later either way; a failed removal is reported.
            let cleanup = match folders.remove_folder(dest) {
                Ok(()) => String::new(),
                Err(e) => format!(
                    "; removing the unfinished folder also failed ({e}): delete {} by hand",
                    dest.display()
                ),
            };
            Err(lower_err(layer, format!("{reason}{cleanup}")))
        }
    }
}

fn open_layer(layer: &LowerLayer<'_>) -> Result<impl std::io::Read, String> {
    let blob = std::fs::File::open(layer.blob).map_err(|e| io_reason("reading", layer.blob, e))?;
    wharf_layer::decompress(blob, u64::MAX, layer.digest.as_ref()).map_err(|e| e.to_string())
}

/// Steps 3: the base layer written in place, then processed.
fn import_base<A: HcsApi, F: LayerFolderOps>(
    api: &mut A,
    folders: &mut F,
    layer: &LowerLayer<'_>,
) -> Result<(), String> {
    let dest = layer.dest;
    folders
        .create_folder(dest)
        .map_err(|e| io_reason("creating", dest, e))?;
    let mut writer = folders
        .base_writer(dest)
        .map_err(|e| io_reason("opening for writing", dest, e))?;
    let plan = plan_base_layer(open_layer(layer)?, &mut writer).map_err(|e| e.to_string())?;
    drop(writer);
    finish_base_layer(api, dest, plan.has_utility_vm).map_err(|e| e.to_string())
}

/// Step 4: staged, imported, then deletions and links applied.
fn import_on_parents<A: HcsApi, F: LayerFolderOps>(
    api: &mut A,
    folders: &mut F,
    layer: &LowerLayer<'_>,
) -> Result<(), String> {
    let dest = layer.dest;
    let staging = tempfile::tempdir_in(layer.staging)
        .map_err(|e| io_reason("creating a folder in", layer.staging, e))?;
    let summary =
        layer_to_staging_folder(open_layer(layer)?, staging.path()).map_err(|e| e.to_string())?;
    folders
        .create_folder(dest)
        .map_err(|e| io_reason("creating", dest, e))?;
    import_layer(api, dest, staging.path(), layer.parents).map_err(|e| e.to_string())?;
    apply_removals_and_links(folders, dest, layer.parents, &summary)
}

/// Deletes what the layer deletes and creates its hard links, in the
/// imported folder `dest`.
pub fn apply_removals_and_links<F: LayerFolderOps>(
    folders: &mut F,
    dest: &Path,
    parents: &[PathBuf],
    summary: &ImportSummary,
) -> Result<(), String> {
    for removed in &summary.removals {
        let path = format!("Files/{removed}");
        folders
            .remove_relative(dest, &path)
            .map_err(|e| format!("deleting {path} in {}: {e}", dest.display()))?;
    }
    for (path, target) in &summary.links {
        let fail =
            |e: std::io::Error| format!("linking {path} to {target} in {}: {e}", dest.display());
        let mut target_root = None;
        for root in std::iter::once(dest).chain(parents.iter().map(PathBuf::as_path)) {
            if folders.exists_relative(root, target).map_err(fail)? {
                target_root = Some(root);
                break;
            }
        }
        let Some(target_root) = target_root else {
            return Err(format!(
                "the hard link {path} points to {target}, which neither this layer nor its parents hold"
            ));
        };
        folders.remove_relative(dest, path).map_err(fail)?;
        folders
            .link_relative(target_root, target, dest, path)
            .map_err(fail)?;
    }
    Ok(())
}

/// Runs `process` over the layers of `spec` without a network; the
/// change is the exported folder.
pub fn run_on_host<A: HcsApi>(
    api: &mut A,
    spec: &RunSpec<'_>,
    process: ProcessParameters,
    timeout: std::time::Duration,
) -> Result<RunChange, RunError> {
    run_with(spec, process, timeout, |hcs_spec, output| {
        wharf_hcs::run(api, hcs_spec, output)
    })
}

/// As [`run_on_host`], attached to the `nat` network (an HCN namespace
/// and endpoint made for the RUN and deleted after it, on every path).
pub fn run_on_host_with_nat<A: HcsApi, H: HcnApi>(
    api: &mut A,
    hcn: &mut H,
    spec: &RunSpec<'_>,
    process: ProcessParameters,
    timeout: std::time::Duration,
) -> Result<RunChange, RunError> {
    run_with(spec, process, timeout, |hcs_spec, output| {
        wharf_hcs::run_on_nat(api, hcn, hcs_spec, output)
    })
}

type HcsRun<'r> = dyn FnMut(OutputStream, &[u8]) + 'r;

fn run_with(
    spec: &RunSpec<'_>,
    process: ProcessParameters,
    timeout: std::time::Duration,
    run: impl FnOnce(&HcsRunSpec, &mut HcsRun<'_>) -> Result<RunResult, RunFailure>,
) -> Result<RunChange, RunError> {
    let export_to = spec.scratch.join("export");
    std::fs::create_dir(&export_to).map_err(|e| RunError::io("creating", &export_to, e))?;
    let hcs_spec = HcsRunSpec {
        system_id: format!("wharf-{}", std::process::id()),
        host_name: "wharf".into(),
        parent_layers: spec.lowers.clone(),
        scratch: spec.scratch.join("scratch"),
        process,
        mapped_directories: Vec::new(),
        // Replaced by the namespace when the RUN has a network.
        network: Network::None,
        timeout,
        export_to,
        mount_retry: MountRetry::default(),
        shutdown_timeout: SHUTDOWN_TIMEOUT,
    };
    let mut sink = LineSink::new(spec.output);
    let result = run(&hcs_spec, &mut |stream, bytes| {
        sink.push(stream == OutputStream::Stderr, bytes)
    });
    sink.finish();
    let result = result.map_err(|e| RunError::Sandbox(e.to_string()))?;
    if result.exit_code != 0 {
        return Err(sink.failure(&format!("exit code {:#x}", result.exit_code)));
    }
    Ok(match result.exported_folder {
        Some(folder) => RunChange::ExportFolder(folder),
        None => RunChange::Nothing,
    })
}
