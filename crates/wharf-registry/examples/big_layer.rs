//! Pushes a large generated layer to a registry and pulls it back, printing
//! the process's peak resident memory, to show that pull and push stream.
//!
//! Usage: `big_layer <registry host:port> <size in MiB> <work dir> [chunk MiB]`.
//! `scripts/measure-memory.sh` starts a registry and runs this under
//! `/usr/bin/time -v`.

use std::io::Write;
use wharf_oci::{
    Descriptor, ImageManifest, Reference, MEDIA_TYPE_OCI_CONFIG, MEDIA_TYPE_OCI_MANIFEST,
};
use wharf_registry::{push_image, ClientOptions, CredentialStore, PushOptions, RegistryClient};

use wharf_store::Store;

fn peak_rss_kib() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM"))
                .map(str::to_string)
        })
        .unwrap_or_else(|| "VmHWM: unknown".into())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        return Err(
            "usage: big_layer <registry host:port> <size MiB> <work dir> [chunk MiB]".into(),
        );
    }
    let host = &args[1];
    let size_mib: u64 = args[2].parse()?;
    let work = std::path::PathBuf::from(&args[3]);
    let chunk_mib: u64 = args.get(4).map(|s| s.parse()).transpose()?.unwrap_or(64);

    let src = Store::open(work.join("src"))?;
    let mut writer = src.blob_writer(None)?;
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut buf = vec![0u8; 1 << 20];
    for _ in 0..size_mib {
        for chunk in buf.chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
        }
        writer.write_all(&buf)?;
    }
    let layer = writer.commit()?;
    println!(
        "generated {} MiB layer {}; {}",
        size_mib,
        layer.digest,
        peak_rss_kib()
    );

    let config = serde_json::json!({"architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [layer.digest.to_string()]}});
    let config = src.put_bytes(&serde_json::to_vec(&config)?, None)?;
    let manifest = ImageManifest {
        schema_version: 2,
        media_type: Some(MEDIA_TYPE_OCI_MANIFEST.into()),
        artifact_type: None,
        config: Descriptor::new(MEDIA_TYPE_OCI_CONFIG, config.digest, config.size),
        layers: vec![Descriptor::new(
            "application/vnd.oci.image.layer.v1.tar",
            layer.digest.clone(),
            layer.size,
        )],
        subject: None,
        annotations: None,
    };
    let m = src.put_bytes(&serde_json::to_vec(&manifest)?, None)?;
    src.tag(
        "local/big:1",
        &Descriptor::new(MEDIA_TYPE_OCI_MANIFEST, m.digest, m.size),
    )?;

    let client = RegistryClient::new(ClientOptions {
        credentials: CredentialStore::anonymous(),
        upload_chunk_size: chunk_mib << 20,
        ..ClientOptions::default()
    })?;
    let target = Reference::parse(&format!("{host}/measure/big:1"))?;
    let started = std::time::Instant::now();
    let report = push_image(
        &client.repository(&target),
        &target,
        &src,
        "local/big:1",
        &PushOptions::default(),
    )
    .await?;
    println!(
        "pushed ({} blobs uploaded, chunks of {chunk_mib} MiB) in {:?}; {}",
        report.uploaded,
        started.elapsed(),
        peak_rss_kib()
    );

    let dst = Store::open(work.join("dst"))?;
    let started = std::time::Instant::now();
    let pulled = client.pull(&target, &"linux/amd64".parse()?, &dst).await?;
    println!(
        "pulled {} bytes in {:?}; {}",
        pulled.bytes_downloaded,
        started.elapsed(),
        peak_rss_kib()
    );
    assert_eq!(dst.blob_size(&layer.digest), Some(layer.size));
    Ok(())
}
