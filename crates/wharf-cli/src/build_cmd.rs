//! `wharf build`: loads the build file, runs the builder against the local
//! store (base images through the registry client), tags the result in the
//! store and sends it where `--output` / `--push` say.

use crate::args::BuildArgs;
use crate::load::Loaded;
use crate::output::Output;
use crate::progress::Reporter;
use anyhow::{anyhow, bail, Context, Result};
use std::collections::BTreeMap;
use wharf_build::{
    BaseResolver, BuildConfig, BuildContext, BuildRequest, Builder, RegistryResolver, SecretSource,
};
use wharf_export::{ExportImage, ImageSource};
use wharf_frontend::plan::PlanOptions;
use wharf_layer::Compression;
use wharf_oci::Reference;
use wharf_registry::{push_image, ClientOptions, PushOptions, RegistryClient, ANNOTATION_SOURCE};

/// `--compression`: `gzip[:1-9]`, `zstd[:1-19]` or `uncompressed`.
fn compression(spec: &str) -> Result<Compression> {
    let (algo, level) = match spec.split_once(':') {
        Some((a, l)) => (a, Some(l)),
        None => (spec, None),
    };
    let level = |default: i64, max: i64| -> Result<i64> {
        match level {
            None => Ok(default),
            Some(l) => l
                .parse::<i64>()
                .ok()
                .filter(|n| (1..=max).contains(n))
                .with_context(|| format!("--compression {spec}: the level must be 1 to {max}")),
        }
    };
    Ok(match algo {
        "gzip" => Compression::Gzip {
            level: level(6, 9)? as u32,
            threads: 0,
        },
        "zstd" => Compression::Zstd {
            level: level(3, 19)? as i32,
            threads: 0,
        },
        "uncompressed" | "none" if level(0, 0).is_ok() => Compression::None,
        _ => bail!("--compression {spec}: use gzip[:LEVEL], zstd[:LEVEL] or uncompressed"),
    })
}

/// `--secret id=ID,src=FILE` / `--secret id=ID,env=VAR` (a bare
/// `id=ID` reads the environment variable ID, as BuildKit does).
fn secrets(raw: &[String]) -> Result<BTreeMap<String, SecretSource>> {
    let mut out = BTreeMap::new();
    for spec in raw {
        let (mut id, mut src, mut env) = (None, None, None);
        for field in spec.split(',') {
            match field.split_once('=') {
                Some(("id", v)) => id = Some(v.to_string()),
                Some(("src" | "source", v)) => src = Some(v.to_string()),
                Some(("env", v)) => env = Some(v.to_string()),
                Some(("type", "file" | "env")) => {}
                _ => bail!(
                    "--secret {spec}: unknown field {field:?}; write id=ID,src=FILE or id=ID,env=VAR"
                ),
            }
        }
        let id = id.filter(|i| !i.is_empty()).with_context(|| {
            format!("--secret {spec}: id= is missing; write id=ID,src=FILE or id=ID,env=VAR")
        })?;
        let source = match (src, env) {
            (Some(_), Some(_)) => bail!("--secret {spec}: give src= or env=, not both"),
            (Some(f), None) => {
                let path = std::path::PathBuf::from(&f);
                if !path.is_file() {
                    bail!("--secret {spec}: {f} is not a readable file");
                }
                SecretSource::File(path)
            }
            (None, Some(v)) => SecretSource::Env(v),
            (None, None) => SecretSource::Env(id.clone()),
        };
        out.insert(id, source);
    }
    Ok(out)
}

fn source_date_epoch() -> Result<Option<u64>> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) if !v.trim().is_empty() => Ok(Some(v.trim().parse().with_context(|| {
            format!("SOURCE_DATE_EPOCH={v} is not a number of seconds since 1970")
        })?)),
        _ => Ok(None),
    }
}

/// Runs a build and delivers its outputs.
pub fn run(a: &BuildArgs, loaded: Loaded, options: PlanOptions, outputs: &[Output]) -> Result<()> {
    let store = crate::store_cmds::open_store(&a.store)?;
    let mut reporter = Reporter::new(a.progress);
    let client = RegistryClient::new(ClientOptions {
        insecure_registries: a.insecure_registries.clone(),
        progress: reporter.transfer_sink(),
        ..ClientOptions::default()
    })
    .context("cannot set up the registry client")?;
    // One runtime for every registry call of the build: the client's
    // pooled connections live on it.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the registry client's runtime")?;
    let resolver = RegistryResolver::new(client.clone(), store.clone(), runtime.handle().clone());
    let labels: BTreeMap<String, String> = a
        .labels
        .iter()
        .filter_map(|l| {
            l.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect();
    let request = BuildRequest {
        source_text: loaded.text,
        context: BuildContext::new(&loaded.context, loaded.ignore),
        file: loaded.file,
        options,
        labels,
    };
    let mut builder = Builder::new(BuildConfig {
        store: store.clone(),
        compression: compression(&a.compression)?,
        source_date_epoch: source_date_epoch()?,
        no_cache: a.no_cache,
    })
    .with_secrets(secrets(&a.secrets)?)
    .with_choco_translation(!a.no_choco_translation);
    let executor = crate::run_setup::executor(a)?;
    if let Some(executor) = &executor {
        builder = builder.with_run_executor(executor.clone());
    }
    // Ctrl-C: stop running commands (their mounts go with their
    // namespaces), then leave.
    runtime.spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            if let Some(executor) = executor {
                executor.cancel_all();
            }
            eprintln!("interrupted");
            std::process::exit(130);
        }
    });
    let output = builder.build(&request, &resolver, &mut |e| reporter.event(&e))?;
    let Some(root) = output.root().cloned() else {
        bail!("the build produced no image");
    };
    let delivery = Delivery {
        store: &store,
        client: &client,
        runtime: &runtime,
        resolver: &resolver,
        output: &output,
        root: &root,
    };
    let (refs, mut destinations) = delivery.tag(&a.tags)?;
    for out in outputs {
        let done = match out {
            Output::Registry => delivery.push(&refs)?,
            Output::Export(spec) => vec![delivery.export(spec, &refs)?],
        };
        destinations.extend(done);
    }
    reporter.done(root.digest.as_ref(), &destinations);
    Ok(())
}

/// Where a finished build goes: tags in the store, registries, files.
/// Everything works from the build's descriptors, not from a store name.
struct Delivery<'a> {
    store: &'a wharf_store::Store,
    client: &'a RegistryClient,
    runtime: &'a tokio::runtime::Runtime,
    resolver: &'a RegistryResolver,
    output: &'a wharf_build::BuildOutput,
    /// The index, or the single manifest.
    root: &'a wharf_oci::Descriptor,
}

impl Delivery<'_> {
    /// The image the build's first image is based on.
    fn base(&self) -> Option<&Reference> {
        self.output
            .images
            .first()
            .and_then(|i| i.base_reference.as_ref())
    }

    /// Tags the result in the store with each `-t`; returns the parsed
    /// names and what to report.
    fn tag(&self, tags: &[String]) -> Result<(Vec<Reference>, Vec<String>)> {
        let mut destinations = Vec::new();
        let mut refs = Vec::new();
        for t in tags {
            let r = Reference::parse(t).with_context(|| format!("-t {t}: not an image name"))?;
            let mut d = self.root.clone();
            if let Some(b) = self.base() {
                d.annotations
                    .get_or_insert_with(BTreeMap::new)
                    .insert(ANNOTATION_SOURCE.to_string(), b.to_string());
            }
            self.store.tag(&r.to_string(), &d).with_context(|| {
                format!(
                    "cannot tag {r} in the store at {}",
                    self.store.root().display()
                )
            })?;
            destinations.push(format!("store:{r}"));
            refs.push(r);
        }
        if refs.is_empty() {
            destinations.push(format!(
                "store {} (untagged; add -t NAME to keep it)",
                self.store.root().display()
            ));
        }
        Ok((refs, destinations))
    }

    /// Pushes the tagged image to each name's registry, mounting or
    /// copying base layers from the base's registry.
    fn push(&self, refs: &[Reference]) -> Result<Vec<String>> {
        let mut done = Vec::new();
        for r in refs {
            let options = PushOptions {
                mount_from: self.base().cloned(),
                fetch_missing_with: Some(self.client.clone()),
                ..PushOptions::default()
            };
            let report = self
                .runtime
                .block_on(push_image(
                    &self.client.repository(r),
                    r,
                    self.store,
                    &r.to_string(),
                    &options,
                ))
                .with_context(|| format!("pushing {r}"))?;
            done.push(format!(
                "pushed {r} ({} uploaded, {} mounted, {} already there)",
                report.uploaded, report.mounted, report.existing
            ));
        }
        Ok(done)
    }

    /// Writes the build's result to a file or directory, named `refs`.
    fn export(&self, spec: &wharf_export::Output, refs: &[Reference]) -> Result<String> {
        // Files hold every layer: fetch base layers the build only
        // referenced (through the resolver that found the bases).
        for image in &self.output.images {
            match &image.base_reference {
                Some(b) => self
                    .resolver
                    .fetch_layers(b, &image.layers, self.store)
                    .map_err(|m| anyhow!("fetching the base layers of {b} for the export: {m}"))?,
                None if !image.layers_present(self.store) => {
                    bail!("a layer of the built image is missing from the store")
                }
                None => {}
            }
        }
        let platform = self
            .output
            .images
            .first()
            .map(|i| i.platform.clone())
            .unwrap_or_else(wharf_oci::Platform::host);
        // The export takes the build's own descriptor: an untagged build
        // needs no name in the store.
        let image = ExportImage {
            source: ImageSource::Built(Box::new(self.root.clone())),
            tags: refs.iter().map(|r| r.to_string()).collect(),
        };
        let report = wharf_export::export(self.store, &[image], spec, &platform)
            .context("exporting the image")?;
        Ok(format!(
            "{} ({} blobs, {} bytes)",
            export_target(spec),
            report.blobs,
            report.bytes
        ))
    }
}

fn export_target(o: &wharf_export::Output) -> String {
    match o {
        wharf_export::Output::OciDir(p) => format!("OCI layout {}", p.display()),
        wharf_export::Output::OciArchive(p) => format!("OCI archive {}", p.display()),
        wharf_export::Output::DockerArchive(p) => format!("docker-archive {}", p.display()),
    }
}
