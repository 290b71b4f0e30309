//! `wharf build`: loads the build file, runs the builder against the local
//! store (base images through the registry client), tags the result in the
//! store and sends it where `--output` / `--push` say.

use crate::args::BuildArgs;
use crate::build_contexts::ContextFiles;
use crate::load::Loaded;
use crate::output::Output;
use crate::progress::Reporter;
use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use wharf_build::build_cache;
use wharf_build::Annotations;
use wharf_build::{
    AttestOptions, BuildConfig, BuildContext, BuildRequest, Builder, Delivery, RegistryResolver,
    SecretSource,
};
use wharf_frontend::plan::PlanOptions;
use wharf_layer::Compression;
use wharf_oci::Descriptor;
use wharf_oci::Reference;
use wharf_registry::{ClientOptions, RegistryClient};

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

/// `--build-arg SOURCE_DATE_EPOCH=N` (BuildKit's form), else the
/// `SOURCE_DATE_EPOCH` environment variable.
fn source_date_epoch(build_args: &BTreeMap<String, String>) -> Result<Option<u64>> {
    let (value, origin) = match build_args.get("SOURCE_DATE_EPOCH") {
        Some(v) => (v.clone(), "--build-arg SOURCE_DATE_EPOCH"),
        None => match std::env::var("SOURCE_DATE_EPOCH") {
            Ok(v) => (v, "the environment variable SOURCE_DATE_EPOCH"),
            Err(_) => return Ok(None),
        },
    };
    if value.trim().is_empty() {
        return Ok(None);
    }
    Ok(Some(value.trim().parse().with_context(|| {
        format!("{origin}={value} is not a number of seconds since 1970")
    })?))
}

/// Runs a build and delivers its outputs.
pub fn run(a: &BuildArgs, loaded: Loaded, options: PlanOptions, outputs: &[Output]) -> Result<()> {
    let store = crate::store_cmds::open_store(&a.store)?;
    let style = if a.quiet {
        crate::args::Progress::Quiet
    } else {
        a.progress
    };
    let mut reporter = Reporter::new(style);
    let annotations = Annotations::parse(&a.annotations)?;
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
    let source_date_epoch = source_date_epoch(&options.build_args)?;
    let wasm_os = loaded.wasm_os.clone();
    let request = BuildRequest {
        source_text: loaded.text,
        context: BuildContext::new(&loaded.context, loaded.ignore),
        file: loaded.file,
        options,
        labels,
    };
    let refs = a
        .tags
        .iter()
        .map(|t| Reference::parse(t).with_context(|| format!("-t {t}: not an image name")))
        .collect::<Result<Vec<_>>>()?;
    let attest = AttestOptions::parse(a.sbom.as_deref(), a.provenance.as_deref(), &a.attest)?;
    if attest.any() {
        for out in outputs {
            if let Output::Export(spec @ wharf_export::Output::DockerArchive(_)) = out {
                // As buildx warns for the docker exporter: the format has
                // no place for an index, so the attestations stay behind.
                reporter.event(&wharf_build::BuildEvent::warning(format!(
                    "{} cannot carry attestations; they are in the store's index and in OCI and registry outputs",
                    export_target(spec)
                )));
            }
        }
    }
    // Agents started for `--ssh ID=KEY` live until the build ends.
    let (ssh_agents, _key_agents) = crate::run_options::ssh_agents(a)?;
    let mut builder = Builder::new(BuildConfig {
        store: store.clone(),
        compression: compression(&a.compression)?,
        source_date_epoch,
        no_cache: a.no_cache,
    })
    .with_secrets(secrets(&a.secrets)?)
    .with_choco_translation(!a.no_choco_translation)
    .with_windows_base_read(a.read_windows_base)
    .with_annotations(annotations)
    .with_run_options(crate::run_options::run_options(a)?)
    .with_ssh_agents(ssh_agents)
    .with_attestations(attest, refs.clone());
    // Fetched contexts live in the store's temporary area until the end.
    let mut fetched = Vec::new();
    let mut layouts = Vec::new();
    for (name, (_, files)) in crate::build_contexts::parse(&a.build_contexts)? {
        let dir = match files {
            ContextFiles::Image => continue,
            ContextFiles::Layout(image) => {
                layouts.push(image);
                continue;
            }
            ContextFiles::Directory(dir) => dir,
            ContextFiles::Remote(remote) => {
                let tmp = store
                    .temp_dir()
                    .context("cannot make a directory for a fetched build context")?;
                let dir = remote
                    .fetch(&resolver, &store, tmp.path())
                    .map_err(|e| anyhow::anyhow!("--build-context {name}: {e}"))?;
                fetched.push(tmp);
                dir
            }
        };
        builder = builder.with_named_context(&name, BuildContext::new(dir, None));
    }
    let cache_to = crate::cache_specs::parse_to(&a.cache_to)?;
    let cache_from = crate::cache_specs::parse_from(&a.cache_from)?;
    if !cache_from.is_empty() {
        let imported = build_cache::import(&resolver, &cache_from, &mut |e| reporter.event(&e));
        builder = builder.with_imported_cache(std::sync::Arc::new(imported));
    }
    if let Some(jobs) = a.jobs {
        builder = builder.with_jobs(usize::from(jobs));
    }
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
    let bases = wharf_build::layout_images::LayoutResolver::new(&resolver, layouts, store.clone());
    let mut output = builder.build(&request, &bases, &mut |e| reporter.event(&e))?;
    if let Some(os) = &wasm_os {
        output = wharf_build::wasm_artifact::package(
            &store,
            output,
            wharf_frontend::zimagefile::WASM_MODULE_PATH,
            os,
        )?;
    }
    let delivery = Delivery::new(&resolver, &output)?;
    if !outputs.contains(&Output::Registry) {
        // The image stays in the store: it must hold the layers the build
        // took from a shared cache (a push mounts them instead).
        delivery.fetch_cached_layers()?;
    }
    delivery.tag(&refs)?;
    let mut destinations: Vec<String> = refs.iter().map(|r| format!("store:{r}")).collect();
    if refs.is_empty() {
        destinations.push(format!(
            "store {} (untagged; add -t NAME to keep it)",
            store.root().display()
        ));
    }
    for out in outputs {
        match out {
            Output::Registry => {
                for r in &refs {
                    let report = delivery.push(r)?;
                    destinations.push(format!(
                        "pushed {r} ({} uploaded, {} mounted, {} already there)",
                        report.uploaded, report.mounted, report.existing
                    ));
                }
            }
            Output::Export(spec) => {
                let report = delivery.export(spec, &refs)?;
                destinations.push(format!(
                    "{} ({} blobs, {} bytes)",
                    export_target(spec),
                    report.blobs,
                    report.bytes
                ));
            }
        }
    }
    for to in &cache_to {
        match build_cache::export(&resolver, &output, &to.location, to.mode) {
            Ok(report) => destinations.push(format!(
                "cache {} ({} records, {} layers)",
                to.location, report.records, report.layers
            )),
            Err(e) if to.ignore_error => {
                reporter.event(&wharf_build::BuildEvent::warning(format!(
                    "{:#}",
                    anyhow::Error::new(e).context("--cache-to ignore-error=true")
                )))
            }
            Err(e) => return Err(e.into()),
        }
    }
    reporter.done(delivery.root().digest.as_ref(), &destinations);
    let pushed = outputs.contains(&Output::Registry);
    let id = image_id(&output, delivery.root(), pushed);
    if let Some(path) = &a.iidfile {
        std::fs::write(path, id.as_bytes())
            .with_context(|| format!("--iidfile {}: cannot write it", path.display()))?;
    }
    if let Some(path) = &a.metadata_file {
        let text = serde_json::to_string_pretty(&metadata(&output, delivery.root(), &refs))?;
        std::fs::write(path, text)
            .with_context(|| format!("--metadata-file {}: cannot write it", path.display()))?;
    }
    if a.quiet {
        crate::stdout::line(&id)?;
    }
    Ok(())
}

/// What `--iidfile` and `-q` give, as buildx: the configuration digest
/// of a single image kept locally, else the digest of what was built
/// (the manifest, or the index of several platforms).
fn image_id(output: &wharf_build::BuildOutput, root: &Descriptor, pushed: bool) -> String {
    match (&output.images[..], pushed) {
        ([one], false) => one.config_descriptor.digest.to_string(),
        _ => root.digest.to_string(),
    }
}

/// `--metadata-file`: BuildKit's exporter response keys.
fn metadata(
    output: &wharf_build::BuildOutput,
    root: &Descriptor,
    refs: &[Reference],
) -> serde_json::Value {
    let mut m = serde_json::Map::new();
    m.insert(
        "containerimage.digest".into(),
        root.digest.to_string().into(),
    );
    m.insert(
        "containerimage.descriptor".into(),
        serde_json::to_value(root).unwrap_or_default(),
    );
    if let [one] = &output.images[..] {
        m.insert(
            "containerimage.config.digest".into(),
            one.config_descriptor.digest.to_string().into(),
        );
    }
    if !refs.is_empty() {
        let names: Vec<String> = refs.iter().map(|r| r.to_string()).collect();
        m.insert("image.name".into(), names.join(",").into());
    }
    serde_json::Value::Object(m)
}

fn export_target(o: &wharf_export::Output) -> String {
    match o {
        wharf_export::Output::OciDir(p) => format!("OCI layout {}", p.display()),
        wharf_export::Output::OciArchive(p) => format!("OCI archive {}", p.display()),
        wharf_export::Output::DockerArchive(p) => format!("docker-archive {}", p.display()),
    }
}
