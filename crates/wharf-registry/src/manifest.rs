//! Fetching manifests and indexes, and resolving a reference to the image
//! manifest for one platform (with the Windows `os.version` rules of
//! `wharf_oci::select`). Resolving stores the manifest and the config
//! only: a Windows base used by a COPY-only build needs nothing else.

use crate::auth::Scope;
use crate::body::read_limited;
use crate::client::{RegistryClient, Request};
use crate::error::RegistryError;
use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, CONTENT_TYPE};
use reqwest::{Method, StatusCode};
use wharf_oci::Platform;
use wharf_oci::Reference;
use wharf_oci::{
    manifest_kind, Descriptor, ImageIndex, ImageManifest, ManifestKind, MEDIA_TYPE_OCI_INDEX,
    MEDIA_TYPE_OCI_MANIFEST,
};
use wharf_oci::{Digest, ImageConfig};
use wharf_store::{Store, MAX_DOCUMENT_SIZE};

/// Manifests larger than this are refused (the distribution registry's own
/// limit is 4 MiB).
pub const MAX_MANIFEST_SIZE: usize = 4 * 1024 * 1024;

/// A manifest or index as the registry sent it.
#[derive(Debug, Clone)]
pub struct FetchedManifest {
    /// The exact bytes (their digest is the manifest's identity).
    pub bytes: Bytes,
    /// Media type (from Content-Type, else the document's `mediaType`).
    pub media_type: String,
    /// sha256 of `bytes`.
    pub digest: Digest,
}

impl FetchedManifest {
    /// A descriptor for this manifest.
    pub fn descriptor(&self) -> Descriptor {
        Descriptor::new(
            self.media_type.clone(),
            self.digest.clone(),
            self.bytes.len() as u64,
        )
    }
}

/// A reference resolved to one image manifest, with manifest and config
/// stored in the local store.
#[derive(Debug, Clone)]
pub struct ResolvedImage {
    /// What was asked for.
    pub reference: Reference,
    /// The image manifest's descriptor, with the platform of the index
    /// entry when there was an index.
    pub descriptor: Descriptor,
    /// The image manifest.
    pub manifest: ImageManifest,
    /// The image configuration.
    pub config: ImageConfig,
    /// The platform, from the configuration (with `os.version`).
    pub platform: Platform,
    /// The index the manifest was chosen from, if any.
    pub index: Option<Descriptor>,
    /// Explanation of a non-obvious platform choice, for the build output.
    pub note: Option<String>,
}

/// Every manifest media type Wharf reads (the constants of `wharf_store::oci`).
const ACCEPT_MANIFESTS: &str = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

impl RegistryClient {
    /// Fetches the manifest or index `reference` names (tag or digest),
    /// verifying the digest when the reference pins one.
    pub async fn fetch_manifest(
        &self,
        reference: &Reference,
    ) -> Result<FetchedManifest, RegistryError> {
        let what = reference.manifest_ref();
        let url = self.url(reference, &format!("manifests/{what}"))?;
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static(ACCEPT_MANIFESTS));
        let resp = self
            .send(Request {
                reference,
                scope: Scope::pull(reference.repository()),
                method: Method::GET,
                url: url.clone(),
                headers,
                body: None,
                retry: true,
            })
            .await?;
        if resp.status() != StatusCode::OK {
            return Err(self
                .status_error(resp, reference, "pull", &format!("manifest {what}"))
                .await);
        }
        let header_type = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or("").trim().to_string());
        let header_digest = resp
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let shown = url.to_string();
        let bytes = Bytes::from(read_limited(resp, MAX_MANIFEST_SIZE, "GET", &shown).await?);
        let digest = match reference.digest() {
            Some(d) => {
                let mut h = wharf_oci::Hasher::for_digest(d);
                h.update(&bytes);
                let actual = h.finish();
                if &actual != d {
                    return Err(RegistryError::BadResponse {
                        what: "manifest".into(),
                        url: shown,
                        reason: format!("its digest is {actual}, not the requested {d}"),
                    });
                }
                Digest::of_bytes(&bytes)
            }
            None => Digest::of_bytes(&bytes),
        };
        // A header digest of another algorithm cannot be compared.
        if let Some(hd) = header_digest
            .and_then(|h| Digest::parse(&h).ok())
            .filter(|h| h.algorithm() == digest.algorithm())
        {
            if hd != digest {
                return Err(RegistryError::BadResponse {
                    what: "manifest".into(),
                    url: shown,
                    reason: format!(
                        "Docker-Content-Digest says {hd} but the content hashes to {digest}"
                    ),
                });
            }
        }
        let media_type = media_type_of(header_type, &bytes, &shown)?;
        if manifest_kind(&media_type).is_none() {
            return Err(RegistryError::UnsupportedMediaType {
                reference: reference.to_string(),
                media_type,
            });
        }
        Ok(FetchedManifest {
            bytes,
            media_type,
            digest,
        })
    }

    /// Resolves `reference` to the image manifest for `platform`, storing
    /// the index (if any), the manifest and the config. Layers are not
    /// fetched.
    pub async fn resolve(
        &self,
        reference: &Reference,
        platform: &Platform,
        store: &Store,
    ) -> Result<ResolvedImage, RegistryError> {
        let top = self.fetch_manifest(reference).await?;
        let (fetched, index, note, entry_platform) = match manifest_kind(&top.media_type) {
            Some(ManifestKind::Index) => {
                let index: ImageIndex = parse(&top.bytes, "image index", reference)?;
                let candidates: Vec<(usize, Platform)> = index
                    .manifests
                    .iter()
                    .enumerate()
                    .filter(|(_, d)| manifest_kind(&d.media_type) == Some(ManifestKind::Image))
                    .filter_map(|(i, d)| d.platform.as_ref().map(|p| (i, normalized(p))))
                    .collect();
                let platforms: Vec<Platform> = candidates.iter().map(|(_, p)| p.clone()).collect();
                let selection = wharf_oci::select(platform, &platforms).map_err(|source| {
                    RegistryError::NoMatchingPlatform {
                        reference: reference.to_string(),
                        source,
                    }
                })?;
                let (entry_index, entry_platform) = candidates[selection.index].clone();
                let entry = &index.manifests[entry_index];
                store.put_bytes(&top.bytes, Some(&top.digest))?;
                let child = self
                    .fetch_manifest(&reference.with_digest(entry.digest.clone()))
                    .await?;
                if manifest_kind(&child.media_type) != Some(ManifestKind::Image) {
                    return Err(RegistryError::UnsupportedMediaType {
                        reference: format!("{}@{}", reference.name(), entry.digest),
                        media_type: child.media_type,
                    });
                }
                (
                    child,
                    Some(top.descriptor()),
                    selection.note,
                    Some(entry_platform),
                )
            }
            _ => (top, None, None, None),
        };
        let manifest: ImageManifest = parse(&fetched.bytes, "image manifest", reference)?;
        let config_ref = reference.with_digest(manifest.config.digest.clone());
        self.fetch_blob(&config_ref, &manifest.config, store)
            .await?;
        let config_bytes = store.read_document(&manifest.config.digest, "image configuration")?;
        let config: ImageConfig = parse(&config_bytes, "image configuration", reference)?;
        let config_platform: Platform = parse(&config_bytes, "image configuration", reference)?;
        // A single-platform manifest must still be for the wanted OS.
        if index.is_none() {
            wharf_oci::select(platform, std::slice::from_ref(&config_platform)).map_err(
                |source| RegistryError::NoMatchingPlatform {
                    reference: reference.to_string(),
                    source,
                },
            )?;
        }
        store.put_bytes(&fetched.bytes, Some(&fetched.digest))?;
        let mut descriptor = fetched.descriptor();
        descriptor.platform = Some(entry_platform.unwrap_or_else(|| config_platform.clone()));
        Ok(ResolvedImage {
            reference: reference.clone(),
            descriptor,
            manifest,
            config,
            platform: config_platform,
            index,
            note,
        })
    }
}

fn parse<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    what: &str,
    reference: &Reference,
) -> Result<T, RegistryError> {
    if bytes.len() as u64 > MAX_DOCUMENT_SIZE {
        return Err(RegistryError::BadResponse {
            what: what.to_string(),
            url: reference.to_string(),
            reason: "it is too large".into(),
        });
    }
    serde_json::from_slice(bytes).map_err(|e| RegistryError::BadResponse {
        what: what.to_string(),
        url: reference.to_string(),
        reason: e.to_string(),
    })
}

/// The manifest's media type: a recognised Content-Type, else the
/// document's own `mediaType`, else the Content-Type as sent, else guessed
/// from the document's shape (OCI allows omitting `mediaType`).
fn media_type_of(header: Option<String>, bytes: &[u8], url: &str) -> Result<String, RegistryError> {
    if let Some(t) = header.as_ref().filter(|t| manifest_kind(t).is_some()) {
        return Ok(t.clone());
    }
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Probe {
        media_type: Option<String>,
        manifests: Option<serde_json::Value>,
        config: Option<serde_json::Value>,
    }
    let probe: Probe = serde_json::from_slice(bytes).map_err(|e| RegistryError::BadResponse {
        what: "manifest".into(),
        url: url.to_string(),
        reason: format!("invalid JSON: {e}"),
    })?;
    let generic = |t: &String| t.is_empty() || t == "application/json" || t == "text/plain";
    Ok(match (probe.media_type, header) {
        (Some(t), _) => t,
        (None, Some(h)) if !generic(&h) => h,
        (None, _) if probe.manifests.is_some() => MEDIA_TYPE_OCI_INDEX.to_string(),
        (None, _) if probe.config.is_some() => MEDIA_TYPE_OCI_MANIFEST.to_string(),
        (None, h) => h.unwrap_or_default(),
    })
}

/// Index entries are written by many tools; spell their OS and architecture
/// the way `wharf_oci` compares them (`aarch64` → `arm64`, ...).
fn normalized(p: &Platform) -> Platform {
    Platform {
        os_version: p.os_version.clone(),
        os_features: p.os_features.clone(),
        ..Platform::new(&p.os, &p.architecture, p.variant.as_deref())
    }
}
