//! The Windows-host half of the Windows RUN executor: importing lower
//! layers into layer folders and running the command in an HCS compute
//! system whose changes are exported to a folder. Compiled on Windows only
//! and, as no Windows host is available where Wharf is developed,
//! type-checked (`scripts/wincheck.sh`) but never run.
//!
//! The builder names each layer folder by the layer's chain id (the store
//! gives the path), because an imported Windows layer is tied to its
//! parents and HCS derives the layer id from the folder's name.

use crate::output::LineSink;
use crate::seam::{LowerLayer, RunChange, RunError, RunSpec};
use wharf_hcs::{
    import_layer, MountRetry, Network, OutputStream, ProcessParameters, RunSpec as HcsRunSpec,
    WindowsHcn, WindowsHcs, SHUTDOWN_TIMEOUT,
};
use wharf_layer::layer_to_import_folder;

fn lower_err(layer: &LowerLayer<'_>, reason: impl std::fmt::Display) -> RunError {
    RunError::Lower {
        digest: layer.digest.to_string(),
        reason: reason.to_string(),
    }
}

/// Imports `layer` on top of its parents into `layer.dest`.
pub fn import_lower(layer: &LowerLayer<'_>) -> Result<(), RunError> {
    // First: on a host without the Containers feature this says so.
    let mut api = WindowsHcs::open().map_err(|e| RunError::Sandbox(e.to_string()))?;
    if layer.parents.is_empty() {
        return Err(lower_err(
            layer,
            "RUN needs the base layer written as a Windows base layer folder (BackupWrite, then ProcessBaseImage); Wharf cannot write base layer folders yet",
        ));
    }
    let staging = tempfile::tempdir_in(layer.staging)
        .map_err(|e| RunError::io("creating a folder in", layer.staging, e))?;
    let blob =
        std::fs::File::open(layer.blob).map_err(|e| RunError::io("reading", layer.blob, e))?;
    let reader = wharf_layer::decompress(blob, u64::MAX, layer.digest.as_ref())
        .map_err(|e| lower_err(layer, e))?;
    let summary =
        layer_to_import_folder(reader, staging.path()).map_err(|e| lower_err(layer, e))?;
    if !summary.removals.is_empty() || !summary.links.is_empty() {
        // hcsshim applies these to the imported layer folder itself after
        // ImportLayer; Wharf does not do that yet.
        return Err(lower_err(
            layer,
            "the layer deletes files or holds hard links, which importing for RUN does not handle yet",
        ));
    }
    import_layer(&mut api, layer.dest, staging.path(), layer.parents)
        .map_err(|e| lower_err(layer, e))
}

/// Runs `process` over the layers of `spec`; the change is the exported folder.
pub fn run_on_host(
    spec: &RunSpec<'_>,
    process: ProcessParameters,
    timeout: std::time::Duration,
    with_network: bool,
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
    let mut api = WindowsHcs::open().map_err(|e| RunError::Sandbox(e.to_string()))?;
    let mut sink = LineSink::new(spec.output);
    let mut output =
        |stream: OutputStream, bytes: &[u8]| sink.push(stream == OutputStream::Stderr, bytes);
    let result = if with_network {
        let mut hcn = WindowsHcn::open().map_err(|e| RunError::Sandbox(e.to_string()))?;
        wharf_hcs::run_on_nat(&mut api, &mut hcn, &hcs_spec, &mut output)
    } else {
        wharf_hcs::run(&mut api, &hcs_spec, &mut output)
    };
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
