//! OCI image layout output, as a directory or as a tar archive of one.

use crate::archive::{blob_name, ArchiveWriter};
use crate::collect::plan_oci;
use crate::{ExportError, ExportImage, ExportReport};
use std::fs;
use std::io::Write;
use std::path::Path;
use wharf_oci::{ImageIndex, ANNOTATION_REF_NAME};

use wharf_store::Store;

const OCI_LAYOUT: &[u8] = br#"{"imageLayoutVersion":"1.0.0"}"#;

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ExportError + '_ {
    move |source| ExportError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The `index.json` of the layout at `dest`, which an export adds to;
/// `None` when there is none yet.
pub(crate) fn existing_index(dest: &Path) -> Result<Option<ImageIndex>, ExportError> {
    let path = dest.join("index.json");
    match fs::read(&path) {
        Ok(bytes) => serde_json::from_slice::<ImageIndex>(&bytes)
            .map(Some)
            .map_err(|e| ExportError::Io {
                path,
                source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io(&path)(e)),
    }
}

/// Writes the images into the OCI image layout directory `dest`, creating
/// it, or adding to it when it already is a layout (entries with the same
/// `org.opencontainers.image.ref.name` are replaced).
pub fn write_oci_dir(
    store: &Store,
    images: &[ExportImage],
    dest: &Path,
) -> Result<ExportReport, ExportError> {
    let plan = plan_oci(store, images)?;
    fs::create_dir_all(dest).map_err(io(dest))?;
    let index_path = dest.join("index.json");
    let mut index = existing_index(dest)?.unwrap_or_else(ImageIndex::empty);
    let mut report = ExportReport::default();
    for (digest, size) in plan.blobs.values() {
        let target = dest.join(blob_name(digest));
        if fs::metadata(&target)
            .map(|m| m.len() == *size)
            .unwrap_or(false)
        {
            continue;
        }
        let parent = target.parent().unwrap_or(dest);
        fs::create_dir_all(parent).map_err(io(parent))?;
        // Copy to a temporary name and rename, so an interrupted export
        // never leaves a truncated blob under its digest.
        let tmp = parent.join(format!(".{}.tmp", digest.hex()));
        let mut src = store.open_blob(digest)?;
        let mut out = fs::File::create(&tmp).map_err(io(&tmp))?;
        std::io::copy(&mut src, &mut out)
            .and_then(|_| out.sync_all())
            .map_err(io(&tmp))?;
        fs::rename(&tmp, &target).map_err(io(&target))?;
        report.blobs += 1;
        report.bytes += size;
    }
    for entry in plan.entries {
        let name = entry.ref_name().map(str::to_string);
        index.manifests.retain(|d| d.ref_name() != name.as_deref());
        index.manifests.push(entry);
        report.tags += 1;
    }
    let layout = dest.join("oci-layout");
    fs::write(&layout, OCI_LAYOUT).map_err(io(&layout))?;
    let bytes = serde_json::to_vec_pretty(&index).map_err(|e| ExportError::Io {
        path: index_path.clone(),
        source: std::io::Error::other(e),
    })?;
    let tmp = dest.join(".index.json.tmp");
    fs::write(&tmp, bytes).map_err(io(&tmp))?;
    wharf_store::replace_file(&tmp, &index_path).map_err(io(&index_path))?;
    Ok(report)
}

/// Writes the images as an OCI archive (a tar of an OCI image layout) to
/// `out`; `label` names the output in errors.
pub fn write_oci_archive<W: Write>(
    store: &Store,
    images: &[ExportImage],
    out: W,
    label: &Path,
) -> Result<ExportReport, ExportError> {
    let plan = plan_oci(store, images)?;
    let mut tar = ArchiveWriter::new(out, label);
    let mut report = ExportReport::default();
    tar.file("oci-layout", OCI_LAYOUT)?;
    let mut index = ImageIndex::empty();
    index.manifests = plan.entries;
    report.tags = index
        .manifests
        .iter()
        .filter(|d| {
            d.annotations
                .as_ref()
                .is_some_and(|a| a.contains_key(ANNOTATION_REF_NAME))
        })
        .count();
    let bytes = serde_json::to_vec_pretty(&index).map_err(|e| ExportError::Io {
        path: label.to_path_buf(),
        source: std::io::Error::other(e),
    })?;
    tar.file("index.json", &bytes)?;
    write_blobs(&mut tar, store, plan.blobs.values(), &mut report)?;
    tar.finish()?;
    Ok(report)
}

pub(crate) fn write_blobs<'a, W: Write>(
    tar: &mut ArchiveWriter<W>,
    store: &Store,
    blobs: impl Iterator<Item = &'a (wharf_oci::Digest, u64)>,
    report: &mut ExportReport,
) -> Result<(), ExportError> {
    let mut dirs_done = std::collections::BTreeSet::new();
    tar.dir("blobs/")?;
    for (digest, size) in blobs {
        let alg = digest.algorithm().name();
        if dirs_done.insert(alg) {
            tar.dir(&format!("blobs/{alg}/"))?;
        }
        tar.blob(store, &blob_name(digest), digest, *size)?;
        report.blobs += 1;
        report.bytes += size;
    }
    Ok(())
}
