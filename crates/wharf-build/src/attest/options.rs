//! Which attestations a build attaches, from buildx's spellings:
//! `--sbom=true|false`, `--provenance=true|false|mode=min|max` and
//! `--attest type=sbom|provenance[,mode=...][,disabled=true]`.

/// How much the provenance statement records (BuildKit's modes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProvenanceMode {
    /// Base images, the build file and context digests, the builder.
    Min,
    /// `Min` plus the build arguments (those whose names do not look
    /// like secrets), the target and the platforms.
    Max,
}

/// The attestations to attach to each image of a build.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AttestOptions {
    /// An SPDX SBOM of each image's contents.
    pub sbom: bool,
    /// SLSA v1 provenance, in the given mode.
    pub provenance: Option<ProvenanceMode>,
}

/// A flag value that is not one of buildx's spellings.
#[derive(Debug, thiserror::Error)]
#[error("{flag} {value}: {reason}")]
pub struct AttestOptionError {
    pub flag: String,
    pub value: String,
    pub reason: String,
}

impl AttestOptions {
    /// Whether any attestation is asked for.
    pub fn any(&self) -> bool {
        self.sbom || self.provenance.is_some()
    }

    /// The options of `--sbom`, `--provenance` and each `--attest`, applied
    /// in that order (a later one wins, as buildx's do).
    pub fn parse(
        sbom: Option<&str>,
        provenance: Option<&str>,
        attest: &[String],
    ) -> Result<Self, AttestOptionError> {
        let mut out = AttestOptions::default();
        if let Some(v) = sbom {
            out.sbom = parse_sbom(&format_fields(v, "generator"), "--sbom", v)?;
        }
        if let Some(v) = provenance {
            out.provenance = parse_provenance(&format_fields(v, "mode"), "--provenance", v)?;
        }
        for spec in attest {
            let fields = fields(spec);
            match fields
                .iter()
                .find(|(k, _)| k == "type")
                .map(|(_, v)| v.as_str())
            {
                Some("sbom") => out.sbom = parse_sbom(&fields, "--attest", spec)?,
                Some("provenance") => out.provenance = parse_provenance(&fields, "--attest", spec)?,
                _ => {
                    return Err(err(
                        "--attest",
                        spec,
                        "type= must be sbom or provenance (type=sbom, type=provenance,mode=max)",
                    ))
                }
            }
        }
        Ok(out)
    }
}

fn err(flag: &str, value: &str, reason: &str) -> AttestOptionError {
    AttestOptionError {
        flag: flag.to_string(),
        value: value.to_string(),
        reason: reason.to_string(),
    }
}

/// `k=v,k=v` fields; a bare word is a `k=` without value.
fn fields(spec: &str) -> Vec<(String, String)> {
    spec.split(',')
        .filter(|f| !f.is_empty())
        .map(|f| match f.split_once('=') {
            Some((k, v)) => (k.trim().to_ascii_lowercase(), v.trim().to_string()),
            None => (f.trim().to_ascii_lowercase(), String::new()),
        })
        .collect()
}

/// `--sbom true` / `--provenance mode=max`: a bare boolean becomes
/// `disabled=`, a bare mode word (`min`, `max`) becomes `key=`.
fn format_fields(value: &str, key: &str) -> Vec<(String, String)> {
    fields(value)
        .into_iter()
        .map(|(k, v)| match (k.as_str(), v.is_empty()) {
            ("true" | "1", true) => ("disabled".into(), "false".into()),
            ("false" | "0", true) => ("disabled".into(), "true".into()),
            ("min" | "max", true) if key == "mode" => ("mode".into(), k),
            _ => (k, v),
        })
        .collect()
}

fn disabled(
    fields: &[(String, String)],
    flag: &str,
    spec: &str,
) -> Result<bool, AttestOptionError> {
    match fields.iter().rev().find(|(k, _)| k == "disabled") {
        None => Ok(false),
        Some((_, v)) => match v.as_str() {
            "true" | "1" => Ok(true),
            "false" | "0" | "" => Ok(false),
            _ => Err(err(flag, spec, "disabled= must be true or false")),
        },
    }
}

fn parse_sbom(
    fields: &[(String, String)],
    flag: &str,
    spec: &str,
) -> Result<bool, AttestOptionError> {
    for (k, _) in fields {
        if !matches!(k.as_str(), "type" | "disabled" | "generator") {
            return Err(err(
                flag,
                spec,
                &format!("unknown field {k:?}; use true, false or disabled=true"),
            ));
        }
    }
    if fields.iter().any(|(k, _)| k == "generator") {
        return Err(err(
            flag,
            spec,
            "generator= names a BuildKit scanner image; Wharf reads package databases itself (docs/attestations.md); leave it out",
        ));
    }
    Ok(!disabled(fields, flag, spec)?)
}

fn parse_provenance(
    fields: &[(String, String)],
    flag: &str,
    spec: &str,
) -> Result<Option<ProvenanceMode>, AttestOptionError> {
    let mut mode = ProvenanceMode::Min;
    for (k, v) in fields {
        match k.as_str() {
            "type" | "disabled" => {}
            "mode" => {
                mode = match v.as_str() {
                    "min" => ProvenanceMode::Min,
                    "max" => ProvenanceMode::Max,
                    _ => return Err(err(flag, spec, "mode= must be min or max")),
                }
            }
            _ => {
                return Err(err(
                    flag,
                    spec,
                    &format!("unknown field {k:?}; use true, false, mode=min or mode=max"),
                ))
            }
        }
    }
    Ok((!disabled(fields, flag, spec)?).then_some(mode))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buildx_spellings_parse() {
        let o = AttestOptions::parse(Some("true"), Some("mode=max"), &[]).unwrap();
        assert_eq!(
            o,
            AttestOptions {
                sbom: true,
                provenance: Some(ProvenanceMode::Max)
            }
        );
        let o = AttestOptions::parse(Some("false"), Some("true"), &[]).unwrap();
        assert_eq!(
            o,
            AttestOptions {
                sbom: false,
                provenance: Some(ProvenanceMode::Min)
            }
        );
        let o = AttestOptions::parse(
            None,
            Some("mode=min"),
            &["type=sbom".into(), "type=provenance,mode=max".into()],
        )
        .unwrap();
        assert_eq!(
            o,
            AttestOptions {
                sbom: true,
                provenance: Some(ProvenanceMode::Max)
            }
        );
        let o = AttestOptions::parse(Some("1"), None, &["type=sbom,disabled=true".into()]).unwrap();
        assert!(!o.any());
        let o = AttestOptions::parse(None, Some("false"), &[]).unwrap();
        assert_eq!(o.provenance, None);
    }

    #[test]
    fn unknown_spellings_are_refused_with_the_flag() {
        let e = AttestOptions::parse(None, Some("mode=full"), &[]).unwrap_err();
        assert_eq!(e.flag, "--provenance");
        assert!(e.to_string().contains("min or max"), "{e}");
        assert!(AttestOptions::parse(None, None, &["type=vex".into()]).is_err());
        assert!(
            AttestOptions::parse(Some("generator=docker/scout-sbom-indexer"), None, &[]).is_err()
        );
        assert!(AttestOptions::parse(Some("maybe"), None, &[]).is_err());
    }
}
