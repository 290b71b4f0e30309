//! The provenance statement's predicate: SLSA v1
//! (`https://slsa.dev/provenance/v1`). `buildDefinition` names the build
//! file and context by digest and lists the base images as resolved
//! dependencies; `mode=max` adds the build arguments (leaving out those
//! whose names look like secrets, BuildKit's `SecretsUsedInArgOrEnv`
//! rule), the target and the platforms; `mode=min` omits them, as
//! BuildKit's does. `--secret` values never reach the builder's plan and
//! so never appear.

use super::options::ProvenanceMode;
use super::sbom::BaseIdentity;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use wharf_oci::{Digest, Platform};

/// SLSA v1's predicate type.
pub const SLSA_V1_PREDICATE: &str = "https://slsa.dev/provenance/v1";

/// The build type this document's `externalParameters` follow
/// (docs/attestations.md describes them).
pub const BUILD_TYPE: &str = "urn:wharf:build-type:dockerfile@v1";

/// What a build was made from.
pub struct BuildFacts<'a> {
    /// The build file's path as given, and the SHA-256 of its text.
    pub file: &'a str,
    pub file_digest: &'a Digest,
    /// The digest of the context's file list (docs/attestations.md).
    pub context_digest: &'a Digest,
    pub build_args: &'a BTreeMap<String, String>,
    pub target: Option<&'a str>,
    pub platforms: &'a [Platform],
    /// Every base image the build resolved, with the platform asked.
    pub bases: &'a [(BaseIdentity, Platform)],
    pub started: &'a str,
    pub finished: &'a str,
}

/// The SLSA v1 predicate of a build.
pub fn slsa_predicate(facts: &BuildFacts<'_>, mode: ProvenanceMode) -> Value {
    let mut request = Map::new();
    request.insert("frontend".into(), "dockerfile.v0".into());
    if mode == ProvenanceMode::Max {
        let args: Map<String, Value> = facts
            .build_args
            .iter()
            .filter(|(k, _)| !wharf_frontend::plan::looks_secret(k))
            .map(|(k, v)| (format!("build-arg:{k}"), Value::from(v.as_str())))
            .collect();
        request.insert("args".into(), args.into());
        if let Some(t) = facts.target {
            request.insert("target".into(), t.into());
        }
        let platforms: Vec<String> = facts.platforms.iter().map(|p| p.to_string()).collect();
        request.insert("platforms".into(), platforms.into());
    }
    let mut deps: Vec<Value> = facts
        .bases
        .iter()
        .map(|(b, p)| json!({"uri": b.purl(p), "digest": {"sha256": b.digest.hex()}}))
        .collect();
    deps.push(json!({
        "uri": "context",
        "digest": {"sha256": facts.context_digest.hex()},
    }));
    json!({
        "buildDefinition": {
            "buildType": BUILD_TYPE,
            "externalParameters": {
                "configSource": {
                    "path": facts.file,
                    "digest": {"sha256": facts.file_digest.hex()},
                },
                "request": request,
            },
            "internalParameters": {
                "builderPlatform": Platform::host().short(),
            },
            "resolvedDependencies": deps,
        },
        "runDetails": {
            "builder": {
                "id": "wharf",
                "version": {"wharf": env!("CARGO_PKG_VERSION")},
            },
            "metadata": {
                "startedOn": facts.started,
                "finishedOn": facts.finished,
            },
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn min_omits_arguments_and_max_drops_secret_looking_ones() {
        let d = Digest::sha256_hex(&"a".repeat(64)).unwrap();
        let args: BTreeMap<String, String> = [
            ("VERSION".to_string(), "1.2".to_string()),
            ("API_TOKEN".to_string(), "hunter2".to_string()),
        ]
        .into();
        let bases = vec![(
            BaseIdentity {
                reference: "docker.io/library/alpine:3".into(),
                digest: d.clone(),
            },
            Platform::new("linux", "arm64", None),
        )];
        let platforms = [Platform::new("linux", "arm64", None)];
        let facts = BuildFacts {
            file: "Dockerfile",
            file_digest: &d,
            context_digest: &d,
            build_args: &args,
            target: Some("app"),
            platforms: &platforms,
            bases: &bases,
            started: "2026-01-01T00:00:00Z",
            finished: "2026-01-01T00:00:01Z",
        };
        let max = slsa_predicate(&facts, ProvenanceMode::Max);
        let req = &max["buildDefinition"]["externalParameters"]["request"];
        assert_eq!(req["args"]["build-arg:VERSION"], "1.2");
        assert!(!max.to_string().contains("hunter2"));
        assert!(!max.to_string().contains("API_TOKEN"));
        assert_eq!(req["target"], "app");
        let deps = max["buildDefinition"]["resolvedDependencies"]
            .as_array()
            .unwrap();
        assert_eq!(
            deps[0]["uri"],
            format!("pkg:docker/docker.io/library/alpine@{d}?platform=linux%2Farm64")
        );
        assert_eq!(deps[1]["uri"], "context");
        let min = slsa_predicate(&facts, ProvenanceMode::Min);
        let req = &min["buildDefinition"]["externalParameters"]["request"];
        assert!(req.get("args").is_none());
        assert!(!min.to_string().contains("1.2\""));
        assert_eq!(
            min["runDetails"]["builder"]["version"]["wharf"],
            env!("CARGO_PKG_VERSION")
        );
    }
}
