//! What the builder's integration tests share: a context and a store,
//! build requests, readers of built layers, and a resolver of synthetic
//! Windows bases.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::Path;
use wharf_build::layer_store::LayerStore;
use wharf_build::*;
use wharf_frontend::dockerfile::parse;
use wharf_frontend::plan::PlanOptions;
use wharf_oci::{Descriptor, Digest, ImageConfig, LayerRef};

use wharf_layer::{Compression, Timestamp, WinMeta, WindowsLayerOptions, WindowsLayerWriter};
use wharf_oci::Platform;

use wharf_store::Store;

pub const EPOCH: u64 = 1_700_000_000;

pub struct Fixture {
    pub _dir: tempfile::TempDir,
    pub store: Store,
    pub context: std::path::PathBuf,
}

pub fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("store")).unwrap();
    let context = dir.path().join("ctx");
    fs::create_dir_all(context.join("app/static")).unwrap();
    fs::write(context.join("app/server.conf"), "port=8080\n").unwrap();
    fs::write(context.join("app/static/index.html"), "<h1>wharf</h1>\n").unwrap();
    fs::write(context.join("README.md"), "readme\n").unwrap();
    Fixture {
        _dir: dir,
        store,
        context,
    }
}

pub fn config(store: &Store, no_cache: bool) -> BuildConfig {
    BuildConfig {
        store: store.clone(),
        compression: Compression::Gzip {
            level: 6,
            threads: 0,
        },
        source_date_epoch: Some(EPOCH),
        no_cache,
    }
}

pub fn request(ctx: &Path, dockerfile: &str) -> BuildRequest {
    let file = parse("Dockerfile", dockerfile).unwrap_or_else(|e| panic!("{e}"));
    let mut options = PlanOptions::for_host();
    options.build_platform = "linux/amd64".parse().unwrap();
    options.run_platforms = Some(vec!["linux/amd64".parse().unwrap()]);
    BuildRequest {
        file,
        source_text: dockerfile.to_string(),
        context: BuildContext::new(ctx, None),
        options,
        labels: BTreeMap::from([("built.by".to_string(), "wharf-tests".to_string())]),
    }
}

/// Lists a stored layer's tar entries (gzip or plain) with their contents.
pub fn layer_entries(store: &Store, d: &Descriptor) -> Vec<(String, String)> {
    let f = fs::File::open(store.blob_path(&d.digest)).unwrap();
    let r = wharf_layer::decompress(f, 1 << 30, "test layer").unwrap();
    let mut a = tar::Archive::new(r);
    a.entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let name = e.path().unwrap().to_string_lossy().to_string();
            let mut body = String::new();
            let _ = e.read_to_string(&mut body);
            (name, body)
        })
        .collect()
}

/// Names of a stored layer's entries.
pub fn layer_names(store: &Store, d: &Descriptor) -> Vec<String> {
    layer_entries(store, d)
        .into_iter()
        .map(|(n, _)| n)
        .collect()
}

/// For each COPY step, in order: whether it came from the cache.
pub fn copy_cache_hits(events: &[BuildEvent]) -> Vec<bool> {
    step_cache_hits(events, "COPY")
}

/// For each step whose text starts with `keyword`, in order: whether it
/// came from the cache.
pub fn step_cache_hits(events: &[BuildEvent], keyword: &str) -> Vec<bool> {
    events
        .iter()
        .filter_map(|e| match e {
            BuildEvent::Step { text, cached, .. } if text.starts_with(keyword) => Some(*cached),
            _ => None,
        })
        .collect()
}

/// A resolver over synthetic Windows bases whose layers live (or not) in
/// the store.
pub struct WindowsBases {
    pub layers: Vec<LayerRef>,
}

impl BaseResolver for WindowsBases {
    fn resolve(
        &self,
        reference: &wharf_oci::Reference,
        platform: &Platform,
    ) -> Result<ResolvedBase, ResolveError> {
        if !reference.repository().contains("nanoserver") {
            return Err(ResolveError::Unavailable(format!(
                "unknown test image {reference}"
            )));
        }
        let mut p: Platform = "windows/amd64:10.0.20348.2113".parse().unwrap();
        p.architecture = platform.architecture.clone();
        let mut config = ImageConfig::for_platform(&p);
        config.config.env = vec!["PATH=C:\\Windows\\system32;C:\\Windows".into()];
        config.config.user = "ContainerUser".into();
        config.rootfs.diff_ids = self.layers.iter().map(|l| l.diff_id.clone()).collect();
        config.history = vec![wharf_oci::History {
            created_by: Some("Apply image 10.0.20348.2113".into()),
            ..Default::default()
        }];
        Ok(ResolvedBase {
            reference: reference.clone(),
            manifest_digest: Digest::try_from(format!("sha256:{}", "ab".repeat(32))).unwrap(),
            config,
            layers: self.layers.clone(),
            note: None,
        })
    }
}

/// A base layer that was never downloaded (its blob is not in the store).
pub fn absent_base_layer() -> LayerRef {
    let mut d = Descriptor::new(
        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
        Digest::try_from(format!("sha256:{}", "cd".repeat(32))).unwrap(),
        123_456_789,
    );
    d.urls = Some(vec![
        "https://mcr.microsoft.com/v2/windows/nanoserver/blobs/sha256:cdcd".into(),
    ]);
    LayerRef {
        descriptor: d,
        diff_id: wharf_oci::Digest::sha256_hex(&"ef".repeat(32)).unwrap(),
    }
}

/// A small real Windows base layer, stored.
pub fn stored_base_layer(store: &Store) -> LayerRef {
    let ls = LayerStore::new(store.clone(), Compression::None);
    ls.write_layer(|w| -> Result<_, wharf_layer::Error> {
        let base = wharf_layer::NoBase;
        let mut lw = WindowsLayerWriter::new(
            w,
            &base,
            WindowsLayerOptions {
                timestamp: Timestamp::from_secs(EPOCH),
                base_layer: true,
            },
        )?;
        let meta = WinMeta::default_file(Timestamp::from_secs(EPOCH));
        for hive in ["DEFAULT", "SAM", "SECURITY", "SOFTWARE", "SYSTEM"] {
            let path = format!("Windows/System32/config/{hive}");
            lw.add_file(&path, 4, Some(meta.clone()), &mut &b"regf"[..])?;
        }
        lw.add_file("License.txt", 7, None, &mut &b"license"[..])?;
        lw.finish()
    })
    .unwrap()
    .unwrap()
}

pub fn run_build(
    cfg: &BuildConfig,
    req: &BuildRequest,
    resolver: &dyn BaseResolver,
) -> (BuildOutput, Vec<BuildEvent>) {
    let mut events = Vec::new();
    let out = Builder::new(cfg.clone())
        .build(req, resolver, &mut |e| events.push(e))
        .unwrap_or_else(|e| panic!("{e}"));
    (out, events)
}

pub fn check_windows_layer(store: &Store, d: &Descriptor) {
    let checker = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../wharf-layer/tests/check_windows_layer.py"
    );
    let status = std::process::Command::new("python3")
        .arg(checker)
        .arg(store.blob_path(&d.digest))
        .status()
        .expect("python3 runs the independent checker");
    assert!(
        status.success(),
        "the independent checker rejected {}",
        d.digest
    );
}

/// `name → (security descriptor, attributes)` of a layer's directories.
pub fn windows_dir_meta(store: &Store, d: &Descriptor) -> Vec<(String, Vec<u8>, u32)> {
    let f = fs::File::open(store.blob_path(&d.digest)).unwrap();
    let r = wharf_layer::decompress(f, 1 << 30, "test layer").unwrap();
    let mut a = tar::Archive::new(r);
    let mut out = Vec::new();
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        if !e.header().entry_type().is_dir() {
            continue;
        }
        let name = e.path().unwrap().to_string_lossy().to_string();
        let mut pax: Vec<(String, Vec<u8>)> = Vec::new();
        if let Some(records) = e.pax_extensions().unwrap() {
            for r in records {
                let r = r.unwrap();
                pax.push((r.key().unwrap().to_string(), r.value_bytes().to_vec()));
            }
        }
        let meta = WinMeta::from_pax(&pax, true, 0);
        out.push((name, meta.security_descriptor, meta.attributes));
    }
    out
}
