//! Images from OCI image layouts on disk
//! (`--build-context NAME=oci-layout://PATH[:TAG|@DIGEST]`, as buildx
//! takes them): a [`BaseResolver`] that answers for those images and
//! hands every other reference to the resolver it wraps.
//!
//! The plan names such an image by a reference under the host
//! `oci-layout.invalid` (a name that never resolves, RFC 6761), so a
//! mistake can never reach the network. Resolving copies the chosen
//! manifest, its config and its layers into the store, each verified
//! against its digest: the store then holds the whole image, and pushes,
//! exports and RUN read it there as any other.

use crate::api::{BaseResolver, ResolveError, ResolvedBase};
use std::fs;
use std::path::{Path, PathBuf};
use wharf_oci::{
    manifest_kind, Descriptor, Digest, ImageConfig, ImageIndex, ImageManifest, LayerRef,
    ManifestKind, Platform, Reference, ANNOTATION_REF_NAME,
};
use wharf_store::{Expected, Store};

/// The registry host of the references that name layout images.
pub const LAYOUT_HOST: &str = "oci-layout.invalid";

/// Which image of a layout: a `:TAG` (its `ref.name` annotation), an
/// `@DIGEST`, or the only one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LayoutPick {
    Tag(String),
    Digest(Digest),
    Only,
}

/// One `oci-layout://` context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayoutImage {
    /// The name the plan uses for it.
    pub reference: Reference,
    pub dir: PathBuf,
    pub pick: LayoutPick,
}

impl LayoutImage {
    /// Parses `PATH[:TAG|@DIGEST]` (what follows `oci-layout://`) for the
    /// context `name`.
    pub fn parse(name: &str, value: &str) -> Result<LayoutImage, String> {
        let is_layout = |p: &str| Path::new(p).join("index.json").is_file();
        // The directory is the first prefix that holds a layout: a tag may
        // itself hold `:` and `/` (a reference name, as `wharf build -o
        // type=oci` writes it).
        let (dir, pick) = if let Some((p, d)) = value.rsplit_once('@').filter(|(p, _)| is_layout(p))
        {
            let d = Digest::parse(d).map_err(|e| format!("@{d}: {e}"))?;
            (p, LayoutPick::Digest(d))
        } else if is_layout(value) {
            (value, LayoutPick::Only)
        } else {
            match value
                .match_indices(':')
                .map(|(i, _)| (&value[..i], &value[i + 1..]))
                .find(|(p, t)| !t.is_empty() && is_layout(p))
            {
                Some((p, t)) => (p, LayoutPick::Tag(t.to_string())),
                None => (value, LayoutPick::Only),
            }
        };
        let clean: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .collect();
        let reference =
            Reference::parse(&format!("{LAYOUT_HOST}/{}:latest", clean.trim_matches('-')))
                .map_err(|e| format!("naming it: {e}"))?;
        let dir = PathBuf::from(dir);
        if !dir.join("index.json").is_file() {
            return Err(format!(
                "{} is not an OCI image layout (no index.json)",
                dir.display()
            ));
        }
        Ok(LayoutImage {
            reference,
            dir,
            pick,
        })
    }
}

/// Resolves layout images itself and everything else through `inner`.
pub struct LayoutResolver<'a> {
    inner: &'a dyn BaseResolver,
    images: Vec<LayoutImage>,
    store: Store,
}

impl<'a> LayoutResolver<'a> {
    pub fn new(inner: &'a dyn BaseResolver, images: Vec<LayoutImage>, store: Store) -> Self {
        LayoutResolver {
            inner,
            images,
            store,
        }
    }

    fn image(&self, reference: &Reference) -> Option<&LayoutImage> {
        self.images
            .iter()
            .find(|i| i.reference.name() == reference.name())
    }
}

/// Where an OCI image layout keeps the blob `d`.
pub(crate) fn layout_blob_path(dir: &Path, d: &Digest) -> PathBuf {
    dir.join("blobs").join(d.algorithm().name()).join(d.hex())
}

/// Copies the blob `d` of the OCI layout `dir` into the store (verified
/// against its digest and size) unless the store has it.
pub(crate) fn copy_layout_blob(
    dir: &Path,
    d: &Descriptor,
    store: &Store,
) -> Result<(), ResolveError> {
    if store.blob_size(&d.digest) == Some(d.size) {
        return Ok(());
    }
    let path = layout_blob_path(dir, &d.digest);
    let mut f = fs::File::open(&path).map_err(|e| {
        ResolveError::Unavailable(format!(
            "{}: {e}; the layout lacks a blob its manifests name",
            path.display()
        ))
    })?;
    let mut w = store.blob_writer(Some(Expected {
        digest: d.digest.clone(),
        size: Some(d.size),
    }))?;
    std::io::copy(&mut f, &mut w)
        .map_err(|e| ResolveError::Unavailable(format!("{}: {e}", path.display())))?;
    w.commit()?;
    Ok(())
}

fn read_json<T: serde::de::DeserializeOwned>(
    dir: &Path,
    d: &Descriptor,
    store: &Store,
    what: &'static str,
) -> Result<T, ResolveError> {
    copy_layout_blob(dir, d, store)?;
    store.read_json(&d.digest, what).map_err(ResolveError::from)
}

impl BaseResolver for LayoutResolver<'_> {
    fn resolve(
        &self,
        reference: &Reference,
        platform: &Platform,
    ) -> Result<ResolvedBase, ResolveError> {
        let Some(image) = self.image(reference) else {
            return self.inner.resolve(reference, platform);
        };
        let (dir, store) = (&image.dir, &self.store);
        let unavailable = |m: String| ResolveError::Unavailable(format!("{}: {m}", dir.display()));
        let index: ImageIndex = serde_json::from_slice(
            &fs::read(dir.join("index.json"))
                .map_err(|e| unavailable(format!("index.json: {e}")))?,
        )
        .map_err(|e| unavailable(format!("index.json: {e}")))?;
        let named = |d: &&Descriptor, tag: &str| {
            d.annotations
                .as_ref()
                .and_then(|a| a.get(ANNOTATION_REF_NAME))
                .is_some_and(|n| n == tag)
        };
        let top = match &image.pick {
            LayoutPick::Tag(t) => index
                .manifests
                .iter()
                .find(|d| named(d, t))
                .ok_or_else(|| unavailable(format!("no image is tagged {t:?} in index.json")))?,
            LayoutPick::Digest(dg) => index
                .manifests
                .iter()
                .find(|d| &d.digest == dg)
                .ok_or_else(|| unavailable(format!("index.json lists no {dg}")))?,
            LayoutPick::Only => match index.manifests.as_slice() {
                [only] => only,
                [] => return Err(unavailable("index.json lists no image".into())),
                _ => {
                    return Err(unavailable(
                        "index.json lists several images; name one with :TAG or @DIGEST".into(),
                    ))
                }
            },
        };
        let mut note = None;
        let manifest_desc = match manifest_kind(&top.media_type) {
            Some(ManifestKind::Index) => {
                let inner: ImageIndex = read_json(dir, top, store, "image index")?;
                let candidates: Vec<&Descriptor> = inner
                    .manifests
                    .iter()
                    .filter(|d| manifest_kind(&d.media_type) == Some(ManifestKind::Image))
                    .filter(|d| d.platform.is_some())
                    .collect();
                let platforms: Vec<Platform> = candidates
                    .iter()
                    .filter_map(|d| d.platform.clone())
                    .collect();
                let selection = wharf_oci::select(platform, &platforms)
                    .map_err(|e| unavailable(e.to_string()))?;
                note = selection.note;
                candidates[selection.index].clone()
            }
            Some(ManifestKind::Image) => top.clone(),
            None => return Err(unavailable(format!("{} is not an image", top.media_type))),
        };
        let manifest: ImageManifest = read_json(dir, &manifest_desc, store, "image manifest")?;
        let config: ImageConfig = read_json(dir, &manifest.config, store, "image configuration")?;
        for l in &manifest.layers {
            copy_layout_blob(dir, l, store)?;
        }
        ResolvedBase::from_parts(
            image.reference.clone(),
            manifest_desc.digest.clone(),
            &manifest.layers,
            config,
            note,
            &dir.display().to_string(),
        )
    }

    fn download(
        &self,
        url: &str,
        checksum: Option<&Digest>,
        store: &Store,
    ) -> Result<Digest, ResolveError> {
        self.inner.download(url, checksum, store)
    }

    fn fetch_layers(
        &self,
        reference: &Reference,
        layers: &[LayerRef],
        store: &Store,
    ) -> Result<(), ResolveError> {
        match self.image(reference) {
            Some(image) => {
                for l in layers {
                    copy_layout_blob(&image.dir, &l.descriptor, store)?;
                }
                Ok(())
            }
            None => self.inner.fetch_layers(reference, layers, store),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_tags_and_digests() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("lay:out");
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("index.json"), "{}").unwrap();
        let p = dir.display().to_string();
        assert_eq!(
            LayoutImage::parse("Base", &p).unwrap().pick,
            LayoutPick::Only
        );
        let tagged = LayoutImage::parse("Base", &format!("{p}:example.test/app:v1")).unwrap();
        assert_eq!(tagged.pick, LayoutPick::Tag("example.test/app:v1".into()));
        assert_eq!(tagged.dir, dir);
        assert_eq!(
            tagged.reference.to_string(),
            "oci-layout.invalid/base:latest"
        );
        let dg = Digest::of_bytes(b"x");
        let pinned = LayoutImage::parse("b", &format!("{p}@{dg}")).unwrap();
        assert_eq!(pinned.pick, LayoutPick::Digest(dg));
        let e = LayoutImage::parse("b", "/nonexistent:tag").unwrap_err();
        assert!(e.contains("not an OCI image layout"), "{e}");
    }
}
