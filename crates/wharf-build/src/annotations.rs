//! Annotations a build adds to what it emits, in BuildKit's terms: on
//! each image manifest (all, or those of one platform), on the index, or
//! on the index's descriptors of the manifests. The text form is buildx's
//! `--annotation`: `[TYPE[,TYPE...]:]KEY=VALUE`, each TYPE one of
//! `manifest`, `index`, `manifest-descriptor`, optionally followed by a
//! platform in brackets (`manifest[linux/arm64]:`); no type means
//! `manifest`.

use std::collections::BTreeMap;
use wharf_oci::Platform;

/// Where an annotation goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnnotationTarget {
    /// The image manifest.
    Manifest,
    /// The image index (a build of several platforms).
    Index,
    /// The index's descriptor of each image manifest.
    ManifestDescriptor,
}

/// One annotation: where it goes, for which platform, key and value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Annotation {
    pub target: AnnotationTarget,
    /// Only the image (or descriptor) of this platform; `None`: every one.
    pub platform: Option<Platform>,
    pub key: String,
    pub value: String,
}

/// An `--annotation` that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnnotationError {
    #[error("--annotation {0}: write [TYPE:]KEY=VALUE, e.g. org.opencontainers.image.title=app or index:org.opencontainers.image.title=app")]
    Syntax(String),
    #[error(
        "--annotation {spec}: unknown type {kind}; use manifest, index or manifest-descriptor"
    )]
    UnknownType { spec: String, kind: String },
    #[error("--annotation {spec}: {kind} annotations apply to the OCI layout's index.json, which Wharf writes without annotations; put it on the index or the manifest instead")]
    Unsupported { spec: String, kind: String },
    #[error("--annotation {spec}: {platform} is not a platform ({reason})")]
    Platform {
        spec: String,
        platform: String,
        reason: String,
    },
    #[error("{types} annotations need an image index, and a build of one platform makes a single manifest: build several platforms, or annotate the manifest")]
    NeedsIndex { types: String },
}

/// The annotations of one build.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Annotations(pub Vec<Annotation>);

impl Annotations {
    /// Reads buildx's `--annotation` values.
    pub fn parse(specs: &[String]) -> Result<Self, AnnotationError> {
        let mut out = Vec::new();
        for spec in specs {
            out.extend(parse_one(spec)?);
        }
        Ok(Annotations(out))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The annotations of `target` that apply to `platform` (`None`: the
    /// index itself), or `None` when there are none.
    pub fn for_target(
        &self,
        target: AnnotationTarget,
        platform: Option<&Platform>,
    ) -> Option<BTreeMap<String, String>> {
        let map: BTreeMap<String, String> = self
            .0
            .iter()
            .filter(|a| a.target == target)
            .filter(|a| match (&a.platform, platform) {
                (None, _) => true,
                (Some(want), Some(p)) => platform_matches(want, p),
                (Some(_), None) => false,
            })
            .map(|a| (a.key.clone(), a.value.clone()))
            .collect();
        (!map.is_empty()).then_some(map)
    }

    /// Refuses index-level annotations for a build that makes no index.
    pub fn check_index(&self, has_index: bool) -> Result<(), AnnotationError> {
        if has_index {
            return Ok(());
        }
        let mut kinds: Vec<&str> = Vec::new();
        for a in &self.0 {
            let kind = match a.target {
                AnnotationTarget::Index => "index",
                AnnotationTarget::ManifestDescriptor => "manifest-descriptor",
                AnnotationTarget::Manifest => continue,
            };
            if !kinds.contains(&kind) {
                kinds.push(kind);
            }
        }
        if kinds.is_empty() {
            return Ok(());
        }
        Err(AnnotationError::NeedsIndex {
            types: kinds.join(" and "),
        })
    }
}

/// `linux/arm64` matches `linux/arm64/v8`: the fields given must agree.
fn platform_matches(want: &Platform, p: &Platform) -> bool {
    want.os == p.os
        && want.architecture == p.architecture
        && (want.variant.is_none() || want.variant == p.variant)
        && (want.os_version.is_none() || want.os_version == p.os_version)
}

fn parse_one(spec: &str) -> Result<Vec<Annotation>, AnnotationError> {
    let (left, value) = spec
        .split_once('=')
        .ok_or_else(|| AnnotationError::Syntax(spec.to_string()))?;
    // `TYPES:KEY` when what comes before the last `:` is a list of types;
    // keys themselves may hold `:` (rarely), so an unknown prefix that
    // does not look like a type list is part of the key.
    let (types, key) = match left.rsplit_once(':') {
        Some((t, k)) if looks_like_types(t) => (Some(t), k),
        _ => (None, left),
    };
    // Brackets belong to a type's platform, never to a key.
    if key.is_empty() || key.contains(['[', ']']) {
        return Err(AnnotationError::Syntax(spec.to_string()));
    }
    let Some(types) = types else {
        return Ok(vec![Annotation {
            target: AnnotationTarget::Manifest,
            platform: None,
            key: key.to_string(),
            value: value.to_string(),
        }]);
    };
    types
        .split(',')
        .map(|t| {
            let (kind, platform) = match t.split_once('[') {
                Some((k, rest)) => {
                    let p = rest
                        .strip_suffix(']')
                        .ok_or_else(|| AnnotationError::Syntax(spec.to_string()))?;
                    let platform = Some(p)
                        .filter(|p| !p.is_empty())
                        .ok_or_else(|| "empty".to_string())
                        .and_then(|p| p.parse::<Platform>().map_err(|e| e.to_string()))
                        .map_err(|e| AnnotationError::Platform {
                            spec: spec.to_string(),
                            platform: p.to_string(),
                            reason: e,
                        })?;
                    (k, Some(platform))
                }
                None => (t, None),
            };
            let target = match kind {
                "" | "manifest" => AnnotationTarget::Manifest,
                "index" => AnnotationTarget::Index,
                "manifest-descriptor" => AnnotationTarget::ManifestDescriptor,
                "index-descriptor" => {
                    return Err(AnnotationError::Unsupported {
                        spec: spec.to_string(),
                        kind: kind.to_string(),
                    })
                }
                other => {
                    return Err(AnnotationError::UnknownType {
                        spec: spec.to_string(),
                        kind: other.to_string(),
                    })
                }
            };
            Ok(Annotation {
                target,
                platform,
                key: key.to_string(),
                value: value.to_string(),
            })
        })
        .collect()
}

/// Whether `text` reads as `type[,type]...` with optional `[platform]`s.
fn looks_like_types(text: &str) -> bool {
    !text.is_empty()
        && text.split(',').all(|t| {
            let kind = t.split('[').next().unwrap_or("");
            !kind.is_empty()
                && kind.chars().all(|c| c.is_ascii_lowercase() || c == '-')
                && (!t.contains('[') || t.ends_with(']'))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(spec: &str) -> Annotation {
        let mut v = Annotations::parse(&[spec.to_string()]).unwrap().0;
        assert_eq!(v.len(), 1, "{spec}");
        v.remove(0)
    }

    #[test]
    fn types_platforms_and_defaults() {
        let a = one("org.opencontainers.image.title=app");
        assert_eq!(a.target, AnnotationTarget::Manifest);
        assert_eq!(
            (a.key.as_str(), a.value.as_str()),
            ("org.opencontainers.image.title", "app")
        );
        assert_eq!(one("index:k=v").target, AnnotationTarget::Index);
        assert_eq!(
            one("manifest-descriptor:k=v").target,
            AnnotationTarget::ManifestDescriptor
        );
        let p = one("manifest[linux/arm64]:k=a=b");
        assert_eq!(p.platform, Some("linux/arm64".parse().unwrap()));
        assert_eq!(p.value, "a=b");
        let both = Annotations::parse(&["index,manifest:k=v".to_string()]).unwrap();
        assert_eq!(both.0.len(), 2);
        // A key with a colon that is not a type list stays whole.
        assert_eq!(one("com.example:Thing=1").key, "com.example:Thing");
    }

    #[test]
    fn bad_specs_are_refused_with_the_fix() {
        for (spec, want) in [
            ("novalue", "KEY=VALUE"),
            ("index:=v", "KEY=VALUE"),
            ("manifest[linux/arm64:k=v", "KEY=VALUE"),
            ("indx:k=v", "unknown type indx"),
            ("index-descriptor:k=v", "index.json"),
            ("manifest[]:k=v", "not a platform"),
        ] {
            let e = Annotations::parse(&[spec.to_string()]).unwrap_err();
            assert!(e.to_string().contains(want), "{spec}: {e}");
        }
    }

    #[test]
    fn selection_by_target_and_platform() {
        let a = Annotations::parse(&[
            "k=all".to_string(),
            "manifest[linux/arm64]:arm=yes".to_string(),
            "index:i=1".to_string(),
        ])
        .unwrap();
        let amd: Platform = "linux/amd64".parse().unwrap();
        let arm: Platform = "linux/arm64/v8".parse().unwrap();
        let m = a
            .for_target(AnnotationTarget::Manifest, Some(&amd))
            .unwrap();
        assert_eq!(m.len(), 1);
        let m = a
            .for_target(AnnotationTarget::Manifest, Some(&arm))
            .unwrap();
        assert_eq!(m.get("arm").map(String::as_str), Some("yes"));
        assert_eq!(
            a.for_target(AnnotationTarget::Index, None)
                .unwrap()
                .get("i"),
            Some(&"1".to_string())
        );
        assert!(a
            .for_target(AnnotationTarget::ManifestDescriptor, Some(&amd))
            .is_none());
        assert!(a.check_index(true).is_ok());
        assert!(a
            .check_index(false)
            .unwrap_err()
            .to_string()
            .contains("index"));
    }
}
