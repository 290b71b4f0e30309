//! `wharf pull`, `push`, `images`, `inspect` and `prune`: the store and the
//! registry on their own, without a build.

use crate::args::{InspectArgs, PruneArgs, PullArgs, PushArgs, StoreArgs};
use anyhow::{Context, Result};
use wharf_oci::Platform;
use wharf_oci::Reference;
use wharf_registry::{push_image, ClientOptions, PushOptions, RegistryClient};
use wharf_store::Store;

/// `--store`, else `$WHARF_STORE`, else the user's data directory.
pub fn open_store(a: &StoreArgs) -> Result<Store> {
    let store = match &a.store {
        Some(dir) => Store::open(dir),
        None => Store::open_default(),
    };
    store.context(
        "cannot open the image store; pass --store DIR or set WHARF_STORE to a writable directory",
    )
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the registry client's runtime")
}

fn client(insecure: &[String]) -> Result<RegistryClient> {
    RegistryClient::new(ClientOptions {
        insecure_registries: insecure.to_vec(),
        ..ClientOptions::default()
    })
    .context("cannot set up the registry client")
}

/// A store name for a user's reference: the normalised full reference.
fn store_name(r: &str) -> Result<String> {
    Ok(Reference::parse(r)
        .with_context(|| format!("{r}: not an image reference"))?
        .to_string())
}

pub fn pull(a: &PullArgs) -> Result<()> {
    let store = open_store(&a.store)?;
    let r = Reference::parse(&a.reference)
        .with_context(|| format!("{}: not an image reference", a.reference))?;
    let platform = match &a.platform {
        Some(p) => p.parse::<Platform>().context("--platform")?,
        None => wharf_run::host_platform(),
    };
    let pulled = runtime()?
        .block_on(client(&a.insecure_registries)?.pull(&r, &platform, &store))
        .with_context(|| format!("pulling {r}"))?;
    if let Some(n) = &pulled.image.note {
        eprintln!("note: {n}");
    }
    eprintln!(
        "pulled {} ({}) as {}: {} layer(s), {} bytes downloaded",
        r, pulled.image.platform, pulled.tag, pulled.layers_downloaded, pulled.bytes_downloaded
    );
    crate::stdout::line(&pulled.image.descriptor.digest)?;
    Ok(())
}

pub fn push(a: &PushArgs) -> Result<()> {
    let store = open_store(&a.store)?;
    let source = store_name(&a.source)?;
    let target = Reference::parse(a.target.as_deref().unwrap_or(&a.source))
        .context("the push target is not an image reference")?;
    let client = client(&a.insecure_registries)?;
    let options = PushOptions {
        push_foreign_layers: a.push_foreign_layers,
        fetch_missing_with: Some(client.clone()),
        ..PushOptions::default()
    };
    let report = runtime()?
        .block_on(push_image(
            &client.repository(&target),
            &target,
            &store,
            &source,
            &options,
        ))
        .with_context(|| {
            if source == target.to_string() {
                format!("pushing {target}")
            } else {
                format!("pushing {source} to {target}")
            }
        })?;
    eprintln!(
        "pushed {target}: {} uploaded, {} mounted, {} already there, {} foreign skipped",
        report.uploaded, report.mounted, report.existing, report.skipped_foreign
    );
    if let Some(d) = report.digest {
        crate::stdout::line(d)?;
    }
    Ok(())
}

fn human(bytes: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u < units.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", units[u])
    }
}

pub fn images(a: &StoreArgs) -> Result<()> {
    let store = open_store(a)?;
    let list = store.list_images()?;
    // SIZE is the whole image; IN STORE what this store holds of it (a
    // Windows image built on a base it only references is mostly base).
    crate::stdout::line(format_args!(
        "{:<50} {:<20} {:<40} {:>10} {:>10}",
        "NAME", "DIGEST", "PLATFORMS", "SIZE", "IN STORE"
    ))?;
    for i in list {
        let platforms: Vec<String> = i.platforms.iter().map(|p| p.to_string()).collect();
        crate::stdout::line(format_args!(
            "{:<50} {:<20} {:<40} {:>10} {:>10}",
            i.name,
            &i.digest.to_string()[..19.min(i.digest.to_string().len())],
            platforms.join(","),
            human(i.full_size),
            human(i.size)
        ))?;
    }
    Ok(())
}

pub fn inspect(a: &InspectArgs) -> Result<()> {
    let store = open_store(&a.store)?;
    let name = store_name(&a.reference)?;
    let d = store
        .inspect(&name)
        .with_context(|| format!("inspecting {name}"))?;
    let manifests: Vec<serde_json::Value> = d
        .manifests
        .iter()
        .map(|m| {
            serde_json::json!({
                "digest": m.digest.to_string(),
                "platform": m.platform,
                "manifest": m.manifest,
                "config": m.config,
                "layers": m.layers.iter().map(|l| serde_json::json!({
                    "digest": l.digest.to_string(),
                    "mediaType": l.media_type,
                    "size": l.size,
                    "urls": l.urls,
                    "present": l.present,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let out = serde_json::json!({
        "name": d.name,
        "descriptor": d.descriptor,
        "index": d.index,
        "manifests": manifests,
    });
    crate::stdout::line(serde_json::to_string_pretty(&out)?)?;
    Ok(())
}

pub fn prune(a: &PruneArgs) -> Result<()> {
    let store = open_store(&a.store)?;
    let options = wharf_store::GcOptions {
        run_caches: a.cache,
    };
    let r = match store.try_gc_with(options)? {
        Some(r) => r,
        None => {
            eprintln!("waiting for running builds and pulls on this store to finish");
            store.gc_with(options)?
        }
    };
    eprintln!(
        "removed {} blob(s), freed {}; {} blob(s) kept for tagged images; removed {} unpacked layer snapshot(s), {} Windows layer folder(s), {} cache record(s), {} temporary file(s){}",
        r.removed_blobs,
        human(r.freed_bytes),
        r.kept_blobs,
        r.removed_snapshots,
        r.removed_windows_layers,
        r.removed_cache_records,
        r.removed_temp,
        if a.cache {
            format!(", {} RUN cache mount(s)", r.removed_run_caches)
        } else {
            String::new()
        }
    );
    for e in &r.snapshot_errors {
        eprintln!("warning: could not remove {e}; remove it by hand");
    }
    Ok(())
}
