//! A WebAssembly module as an OCI artifact, in the CNCF TAG Runtime layout:
//! an OCI image manifest whose config has the media type
//! `application/vnd.wasm.config.v0+json` (`created`, `architecture: wasm`,
//! `os: wasip1`, `layerDigests`) and whose one layer is the module itself,
//! `application/wasm`, uncompressed. See docs/wasm-artifacts.md.
//!
//! The build that precedes it (a ZImagefile's `wasm:` form) ends in a
//! `FROM scratch` stage holding only the module; [`package`] reads the
//! module out of that image's layer and writes the artifact beside it in
//! the store. Only core modules are packaged: a component (wasip2) needs its
//! world described in the config, which Wharf does not read.

use crate::api::BuildOutput;
use crate::emit::BuiltImage;
use std::io::Read;
use wharf_oci::{
    Descriptor, ImageConfig, ImageManifest, LayerRef, Platform, MEDIA_TYPE_OCI_MANIFEST,
};
use wharf_store::{Store, StoreError};

/// The artifact config's media type.
pub const WASM_CONFIG_MEDIA_TYPE: &str = "application/vnd.wasm.config.v0+json";
/// The module layer's media type.
pub const WASM_LAYER_MEDIA_TYPE: &str = "application/wasm";
/// The config's `architecture`.
pub const WASM_ARCHITECTURE: &str = "wasm";

/// The largest module read (the layer is read into memory once).
const MAX_MODULE: u64 = 1 << 30;

/// Why the module could not be packaged.
#[derive(Debug, thiserror::Error)]
pub enum WasmArtifactError {
    #[error("a wasm artifact holds one module, but the build made {0} images; build one platform (drop the extra --platform values)")]
    NotOneImage(usize),
    #[error(
        "the build's output stage has no {path}; the wasm build must end with the module there"
    )]
    NoModule { path: String },
    #[error("{path} is not a WebAssembly module (it does not start with \\0asm); check the `output` path of the ZImagefile's `wasm:`")]
    NotWasm { path: String },
    #[error("{path} is a WebAssembly component, not a core module; Wharf packages core modules (wasip1): a wasip2 artifact's config must describe the component's world, which Wharf does not read")]
    Component { path: String },
    #[error("reading the module from the built layer: {0}")]
    Layer(#[from] wharf_layer::Error),
    #[error("reading the module from the built layer: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Replaces the build's single image (its top layer holding `module_path`)
/// by the wasm artifact of that module, with `os` in its config; manifest
/// annotations are kept.
pub fn package(
    store: &Store,
    output: BuildOutput,
    module_path: &str,
    os: &str,
) -> Result<BuildOutput, WasmArtifactError> {
    let [image] = output.images.as_slice() else {
        return Err(WasmArtifactError::NotOneImage(output.images.len()));
    };
    let module = read_module(store, image, module_path)?;
    check_core_module(&module, module_path)?;
    let blob = store.put_bytes(&module, None)?;
    let layer = Descriptor::new(WASM_LAYER_MEDIA_TYPE, blob.digest.clone(), blob.size);
    let config_json = serde_json::json!({
        "created": image.config.created,
        "architecture": WASM_ARCHITECTURE,
        "os": os,
        "layerDigests": [blob.digest.to_string()],
    });
    let config_bytes = serde_json::to_vec(&config_json).unwrap_or_default();
    let c = store.put_bytes(&config_bytes, None)?;
    let config_descriptor = Descriptor::new(WASM_CONFIG_MEDIA_TYPE, c.digest, c.size);
    let built: ImageManifest = store.read_json(&image.manifest.digest, "manifest")?;
    let manifest = ImageManifest {
        schema_version: 2,
        media_type: Some(MEDIA_TYPE_OCI_MANIFEST.to_string()),
        artifact_type: None,
        config: config_descriptor.clone(),
        layers: vec![layer.clone()],
        subject: None,
        annotations: built.annotations,
    };
    let m = store.put_bytes(&serde_json::to_vec(&manifest).unwrap_or_default(), None)?;
    let platform = Platform::new(os, WASM_ARCHITECTURE, None);
    let mut descriptor = Descriptor::new(MEDIA_TYPE_OCI_MANIFEST, m.digest, m.size);
    descriptor.platform = Some(platform.clone());
    // The in-memory summary callers read (platform, created); the stored
    // config is the wasm one above.
    let config = ImageConfig {
        created: image.config.created.clone(),
        architecture: WASM_ARCHITECTURE.to_string(),
        os: os.to_string(),
        ..ImageConfig::default()
    };
    let artifact = BuiltImage {
        platform,
        manifest: descriptor,
        config_descriptor,
        config,
        layers: vec![LayerRef {
            descriptor: layer,
            diff_id: blob.digest,
        }],
        base_reference: None,
    };
    Ok(BuildOutput {
        images: vec![artifact],
        index: None,
        ..output
    })
}

/// The bytes of `module_path` in the image's top layer.
fn read_module(
    store: &Store,
    image: &BuiltImage,
    module_path: &str,
) -> Result<Vec<u8>, WasmArtifactError> {
    let missing = || WasmArtifactError::NoModule {
        path: module_path.to_string(),
    };
    let top = image.layers.last().ok_or_else(missing)?;
    let file = store.open_blob(&top.descriptor.digest)?;
    let name = top.descriptor.digest.to_string();
    let reader = wharf_layer::decompress(file, u64::MAX, &name)?;
    let mut archive = tar::Archive::new(reader);
    let wanted = module_path.trim_start_matches('/');
    for entry in archive.entries()? {
        let entry = entry?;
        let path = entry
            .path()?
            .to_string_lossy()
            .trim_start_matches("./")
            .to_string();
        if path == wanted && entry.header().entry_type().is_file() {
            let mut bytes = Vec::new();
            entry.take(MAX_MODULE).read_to_end(&mut bytes)?;
            return Ok(bytes);
        }
    }
    Err(missing())
}

/// A core module: `\0asm` then version 1 (a component has version 0x0d
/// and layer 1).
fn check_core_module(bytes: &[u8], path: &str) -> Result<(), WasmArtifactError> {
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        return Err(WasmArtifactError::NotWasm {
            path: path.to_string(),
        });
    }
    if bytes[4..8] != [1, 0, 0, 0] {
        return Err(WasmArtifactError::Component {
            path: path.to_string(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_modules_pass_components_and_others_do_not() {
        assert!(check_core_module(b"\0asm\x01\0\0\0", "m").is_ok());
        assert!(matches!(
            check_core_module(b"\0asm\x0d\0\x01\0", "m"),
            Err(WasmArtifactError::Component { .. })
        ));
        assert!(matches!(
            check_core_module(b"#!/bin/sh\n", "m"),
            Err(WasmArtifactError::NotWasm { .. })
        ));
    }
}
