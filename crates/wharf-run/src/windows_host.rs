//! The Windows-host half of the Windows RUN executor: layer folders, the
//! HCS run, and the exported folder decoded into the RUN's layer. Compiled
//! on Windows only and, as no Windows host is available where Wharf is
//! developed, type-checked (wincheck) but never run.
//!
//! Layer folders are named by chain id (the digest of the parent's chain
//! id and the layer's diff_id), because an imported Windows layer is tied
//! to its parents and HCS derives the layer id from the folder's name.

use crate::output::LineSink;
use crate::windows_executor::{WindowsRunPlan, WindowsRunSettings};
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use wharf_build::{LayerRef, RunRequest};
use wharf_hcs::{import_layer, MountRetry, Network, OutputStream, RunSpec, WindowsHcs};
use wharf_layer::{
    export_folder_to_layer, layer_to_import_folder, NoBase, Timestamp, WindowsLayerOptions,
    WindowsLayerWriter,
};

fn chain_ids(layers: &[LayerRef]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for l in layers {
        let id = match out.last() {
            None => l.diff_id.clone(),
            Some(parent) => format!(
                "sha256:{:x}",
                Sha256::digest(format!("{parent} {}", l.diff_id).as_bytes())
            ),
        };
        out.push(id);
    }
    out
}

/// Runs `plan` for `req`; returns the new layer (`None`: nothing changed).
pub fn run_on_host(
    req: &RunRequest<'_>,
    plan: &WindowsRunPlan,
    settings: &WindowsRunSettings,
) -> Result<Option<LayerRef>, String> {
    // First: on a host without the Containers feature this says so.
    let mut api = WindowsHcs::open().map_err(|e| e.to_string())?;
    let store = req.layer_store.store();
    let root = store.root().join("wharf-windows-layers");
    std::fs::create_dir_all(&root).map_err(|e| format!("creating {}: {e}", root.display()))?;
    // Immediate parent first, as every HCS call wants them.
    let mut parents: Vec<PathBuf> = Vec::new();
    for (i, (layer, chain)) in req.layers.iter().zip(chain_ids(req.layers)).enumerate() {
        let folder = root.join(chain.trim_start_matches("sha256:"));
        if !folder.is_dir() {
            if i == 0 {
                return Err(format!(
                    "RUN needs the base layer {} written as a Windows base layer folder (BackupWrite, then ProcessBaseImage); Wharf cannot write base layer folders yet",
                    layer.descriptor.digest
                ));
            }
            let staging = tempfile::tempdir_in(&root)
                .map_err(|e| format!("creating a folder in {}: {e}", root.display()))?;
            let blob = std::fs::File::open(store.blob_path(&layer.descriptor.digest))
                .map_err(|e| format!("reading layer {}: {e}", layer.descriptor.digest))?;
            let reader = wharf_layer::decompress(blob, u64::MAX, layer.descriptor.digest.as_ref())
                .map_err(|e| e.to_string())?;
            let summary =
                layer_to_import_folder(reader, staging.path()).map_err(|e| e.to_string())?;
            if !summary.removals.is_empty() || !summary.links.is_empty() {
                // hcsshim applies these to the imported layer folder itself
                // after ImportLayer; Wharf does not do that yet.
                return Err(format!(
                    "layer {} deletes files or holds hard links, which importing for RUN does not handle yet",
                    layer.descriptor.digest
                ));
            }
            import_layer(&mut api, &folder, staging.path(), &parents).map_err(|e| e.to_string())?;
        }
        parents.insert(0, folder);
    }
    let work = req.layer_store.temp_dir().map_err(|e| e.to_string())?;
    let export_to = work.path().join("export");
    std::fs::create_dir(&export_to)
        .map_err(|e| format!("creating {}: {e}", export_to.display()))?;
    let spec = RunSpec {
        system_id: format!("wharf-{}", std::process::id()),
        host_name: "wharf".into(),
        parent_layers: parents,
        scratch: work.path().join("scratch"),
        process: plan.process.clone(),
        mapped_directories: Vec::new(),
        network: Network::None,
        timeout: settings.timeout,
        export_to,
        mount_retry: MountRetry::default(),
    };
    let mut sink = LineSink::new(req.output);
    let result = wharf_hcs::run(&mut api, &spec, &mut |stream, bytes| {
        sink.push(stream == OutputStream::Stderr, bytes)
    });
    sink.finish();
    let result = result.map_err(|e| e.to_string())?;
    if result.exit_code != 0 {
        return Err(sink.failure(&format!("exit code {:#x}", result.exit_code)));
    }
    let Some(folder) = result.exported_folder else {
        return Ok(None);
    };
    let timestamp = Timestamp {
        secs: req.source_date_epoch.unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0)
        }),
        nanos: 0,
    };
    let layer = req
        .layer_store
        .write_layer(|w| {
            let mut ww = WindowsLayerWriter::new(
                w,
                &NoBase,
                WindowsLayerOptions {
                    timestamp,
                    base_layer: false,
                },
            )?;
            export_folder_to_layer(&folder, &mut ww)?;
            ww.finish()
        })
        .map_err(|e| format!("packing the command's changes: {e}"))?
        .map_err(|e: wharf_layer::Error| format!("packing the command's changes: {e}"))?;
    Ok(Some(layer))
}
