//! The cache document: the config blob of a build cache artifact, and the
//! manifest that carries it with the layers its records name.

use super::{CacheEntry, CacheRecord};
use crate::api::StepWarning;
use crate::layer_store::{LayerRecord, RunRecord};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use wharf_oci::{Descriptor, Digest, ImageManifest, LayerRef, MEDIA_TYPE_OCI_MANIFEST};
use wharf_store::RecordSpace;

/// The document's format; another value is an older or newer cache, read
/// as no cache at all.
pub const CACHE_FORMAT: &str = "wharf-build-cache/v1";

/// Media type of the document (the artifact's config).
pub const CACHE_CONFIG_MEDIA_TYPE: &str = "application/vnd.wharf.build-cache.config.v1+json";

/// The artifact type of the cache manifest.
pub const CACHE_ARTIFACT_TYPE: &str = "application/vnd.wharf.build-cache.v1";

/// Documents larger than this are refused (a record is ~300 bytes).
pub const MAX_DOCUMENT_SIZE: usize = 16 * 1024 * 1024;

/// A build cache's records, as stored in the artifact's config blob.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheDocument {
    pub format: String,
    pub records: Vec<WireRecord>,
}

/// One record on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireRecord {
    /// `layer` (COPY/ADD) or `run`.
    pub kind: String,
    /// `image` (layers of exported stages, compressed) or `plain`.
    pub space: String,
    pub key: Digest,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer: Option<LayerRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ran_instead: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<StepWarning>,
}

/// Why a document is not a usable cache.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DocumentError {
    #[error("it is not a wharf build cache ({0})")]
    NotACache(String),
    #[error("it is a build cache of another format ({found}; this wharf reads {CACHE_FORMAT})")]
    OtherFormat { found: String },
    #[error("its records are damaged: {0}")]
    Damaged(String),
}

impl CacheDocument {
    /// The document of `entries` (sorted by key, so equal caches are
    /// byte-identical).
    pub fn new(entries: &[CacheEntry]) -> Self {
        let mut records: Vec<WireRecord> = entries.iter().map(wire).collect();
        records.sort_by(|a, b| (&a.key, &a.kind, &a.space).cmp(&(&b.key, &b.kind, &b.space)));
        records.dedup_by(|a, b| a.key == b.key && a.kind == b.kind && a.space == b.space);
        CacheDocument {
            format: CACHE_FORMAT.into(),
            records,
        }
    }

    /// Parses and checks a document.
    pub fn parse(bytes: &[u8]) -> Result<Self, DocumentError> {
        if bytes.len() > MAX_DOCUMENT_SIZE {
            return Err(DocumentError::Damaged(format!(
                "{} bytes, more than the {MAX_DOCUMENT_SIZE} a cache may have",
                bytes.len()
            )));
        }
        let value: serde_json::Value = serde_json::from_slice(bytes)
            .map_err(|e| DocumentError::Damaged(format!("not JSON: {e}")))?;
        match value.get("format").and_then(|f| f.as_str()) {
            Some(CACHE_FORMAT) => {}
            Some(other) => {
                return Err(DocumentError::OtherFormat {
                    found: other.to_string(),
                })
            }
            None => return Err(DocumentError::NotACache("no \"format\" field".into())),
        }
        let doc: CacheDocument =
            serde_json::from_value(value).map_err(|e| DocumentError::Damaged(e.to_string()))?;
        for r in &doc.records {
            entry(r).map_err(DocumentError::Damaged)?;
        }
        Ok(doc)
    }

    /// The records as entries (the document was checked when parsed).
    pub fn into_entries(self) -> Vec<CacheEntry> {
        self.records.iter().filter_map(|r| entry(r).ok()).collect()
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// The artifact manifest: the document as config, every layer the
    /// records name (once, in key order) as layers.
    pub fn manifest(&self, config: Descriptor) -> ImageManifest {
        let mut layers: BTreeMap<&Digest, &Descriptor> = BTreeMap::new();
        let mut order = Vec::new();
        for l in self.records.iter().filter_map(|r| r.layer.as_ref()) {
            if layers.insert(&l.descriptor.digest, &l.descriptor).is_none() {
                order.push(&l.descriptor.digest);
            }
        }
        ImageManifest {
            schema_version: 2,
            media_type: Some(MEDIA_TYPE_OCI_MANIFEST.into()),
            artifact_type: Some(CACHE_ARTIFACT_TYPE.into()),
            config,
            layers: order.into_iter().map(|d| layers[d].clone()).collect(),
            subject: None,
            annotations: None,
        }
    }
}

fn space_name(space: RecordSpace) -> &'static str {
    match space {
        RecordSpace::Exported => "image",
        RecordSpace::Plain => "plain",
    }
}

fn wire(e: &CacheEntry) -> WireRecord {
    let base = WireRecord {
        kind: String::new(),
        space: space_name(e.space).into(),
        key: e.key.clone(),
        layer: None,
        created: None,
        ran_instead: None,
        warnings: Vec::new(),
    };
    match &e.record {
        CacheRecord::Layer(r) => WireRecord {
            kind: "layer".into(),
            layer: Some(r.layer.clone()),
            created: r.created,
            warnings: r.warnings.clone(),
            ..base
        },
        CacheRecord::Run(r) => WireRecord {
            kind: "run".into(),
            layer: r.layer.clone(),
            created: r.created,
            ran_instead: r.ran_instead.clone(),
            warnings: r.warnings.clone(),
            ..base
        },
    }
}

fn entry(r: &WireRecord) -> Result<CacheEntry, String> {
    let space = match r.space.as_str() {
        "image" => RecordSpace::Exported,
        "plain" => RecordSpace::Plain,
        other => return Err(format!("record {}: unknown space {other:?}", r.key)),
    };
    if let Some(l) = &r.layer {
        if !is_layer_type(&l.descriptor.media_type) {
            return Err(format!(
                "record {}: {} is not a layer media type",
                r.key, l.descriptor.media_type
            ));
        }
    }
    let record = match (r.kind.as_str(), &r.layer) {
        ("layer", Some(l)) => CacheRecord::Layer(LayerRecord {
            layer: l.clone(),
            warnings: r.warnings.clone(),
            created: r.created,
        }),
        ("layer", None) => return Err(format!("record {}: a layer record without a layer", r.key)),
        ("run", layer) => CacheRecord::Run(RunRecord {
            layer: layer.clone(),
            ran_instead: r.ran_instead.clone(),
            warnings: r.warnings.clone(),
            created: r.created,
        }),
        (other, _) => return Err(format!("record {}: unknown kind {other:?}", r.key)),
    };
    Ok(CacheEntry {
        key: r.key.clone(),
        space,
        record,
    })
}

/// OCI and Docker layer media types (compressed or not).
fn is_layer_type(media_type: &str) -> bool {
    media_type.starts_with("application/vnd.oci.image.layer.")
        || media_type.starts_with("application/vnd.docker.image.rootfs.")
}

#[cfg(test)]
mod tests {
    use super::*;
    use wharf_oci::Descriptor;

    fn layer(n: u8) -> LayerRef {
        LayerRef {
            descriptor: Descriptor::new(
                "application/vnd.oci.image.layer.v1.tar+gzip",
                Digest::of_bytes(&[n]),
                10 + u64::from(n),
            ),
            diff_id: Digest::of_bytes(&[n, n]),
        }
    }

    fn entries() -> Vec<CacheEntry> {
        vec![
            CacheEntry {
                key: Digest::of_bytes(b"b"),
                space: RecordSpace::Plain,
                record: CacheRecord::Run(RunRecord {
                    layer: None,
                    ran_instead: Some("choco install git".into()),
                    warnings: Vec::new(),
                    created: Some(5),
                }),
            },
            CacheEntry {
                key: Digest::of_bytes(b"a"),
                space: RecordSpace::Exported,
                record: CacheRecord::Layer(LayerRecord {
                    layer: layer(1),
                    warnings: Vec::new(),
                    created: Some(7),
                }),
            },
        ]
    }

    #[test]
    fn documents_round_trip_and_are_canonical() {
        let e = entries();
        let doc = CacheDocument::new(&e);
        let mut reversed = e.clone();
        reversed.reverse();
        assert_eq!(doc.to_bytes(), CacheDocument::new(&reversed).to_bytes());
        let back = CacheDocument::parse(&doc.to_bytes())
            .unwrap()
            .into_entries();
        assert_eq!(back.len(), 2);
        assert!(back.contains(&e[0]) && back.contains(&e[1]));
        let m = doc.manifest(Descriptor::new(
            CACHE_CONFIG_MEDIA_TYPE,
            Digest::of_bytes(b"c"),
            1,
        ));
        assert_eq!(m.layers, vec![layer(1).descriptor]);
    }

    #[test]
    fn foreign_older_and_damaged_documents_are_refused() {
        assert!(matches!(
            CacheDocument::parse(br#"{"architecture":"amd64"}"#),
            Err(DocumentError::NotACache(_))
        ));
        assert!(matches!(
            CacheDocument::parse(br#"{"format":"wharf-build-cache/v0","records":[]}"#),
            Err(DocumentError::OtherFormat { .. })
        ));
        let bad_kind = format!(
            r#"{{"format":"{CACHE_FORMAT}","records":[{{"kind":"copy","space":"image","key":"{}"}}]}}"#,
            Digest::of_bytes(b"k")
        );
        assert!(matches!(
            CacheDocument::parse(bad_kind.as_bytes()),
            Err(DocumentError::Damaged(m)) if m.contains("unknown kind")
        ));
        let not_a_layer = format!(
            r#"{{"format":"{CACHE_FORMAT}","records":[{{"kind":"layer","space":"image","key":"{}","layer":{{"descriptor":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":1}},"diff_id":"{}"}}}}]}}"#,
            Digest::of_bytes(b"k"),
            Digest::of_bytes(b"l"),
            Digest::of_bytes(b"d")
        );
        let e = CacheDocument::parse(not_a_layer.as_bytes()).unwrap_err();
        assert!(e.to_string().contains("not a layer media type"), "{e}");
        assert!(CacheDocument::parse(b"{").is_err());
        assert!(CacheDocument::parse(&vec![b' '; MAX_DOCUMENT_SIZE + 1]).is_err());
    }
}
