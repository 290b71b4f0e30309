//! `--cache-to` and `--cache-from` values, in buildx's syntax:
//! comma-separated `key=value` pairs, or a bare image reference.

use anyhow::{bail, Context, Result};
use std::path::PathBuf;
use wharf_build::build_cache::{CacheLocation, CacheMode};
use wharf_oci::Reference;

/// One `--cache-to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheTo {
    pub location: CacheLocation,
    pub mode: CacheMode,
    /// `ignore-error=true`: a failed export is a warning.
    pub ignore_error: bool,
}

fn pairs(flag: &str, value: &str) -> Result<Vec<(String, String)>> {
    value
        .split(',')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => Ok((k.trim().to_ascii_lowercase(), v.trim().to_string())),
            None => bail!("{flag} {value}: {p:?} is not KEY=VALUE"),
        })
        .collect()
}

/// Where a spec points: `type=registry,ref=` or `type=local,<dir_key>=`;
/// a value without `=` is a registry reference.
fn location(
    flag: &str,
    value: &str,
    dir_key: &str,
    extra: &[&str],
) -> Result<(CacheLocation, Vec<(String, String)>)> {
    if !value.contains('=') {
        let r = Reference::parse(value)
            .with_context(|| format!("{flag} {value}: not an image reference"))?;
        return Ok((CacheLocation::Registry(r), Vec::new()));
    }
    let pairs = pairs(flag, value)?;
    let get = |k: &str| {
        pairs
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    };
    let kind = get("type").unwrap_or_else(|| "registry".into());
    let allowed: Vec<&str> = match kind.as_str() {
        "registry" => vec!["type", "ref"],
        "local" => vec!["type", dir_key],
        "inline" => bail!("{flag} {value}: type=inline is not supported by wharf: use type=registry,ref=REF (a separate cache tag) or type=local"),
        "gha" | "s3" | "azblob" => bail!("{flag} {value}: type={kind} is not supported by wharf; use type=registry,ref=REF or type=local"),
        other => bail!("{flag} {value}: unknown cache type {other:?}; use type=registry or type=local"),
    };
    let mut rest = Vec::new();
    for (k, v) in &pairs {
        if allowed.contains(&k.as_str()) {
            continue;
        }
        if extra.contains(&k.as_str()) {
            rest.push((k.clone(), v.clone()));
        } else {
            bail!("{flag} {value}: unknown option {k:?} for type={kind}");
        }
    }
    let location =
        match kind.as_str() {
            "registry" => {
                let r = get("ref")
                    .with_context(|| format!("{flag} {value}: type=registry needs ref=REF"))?;
                CacheLocation::Registry(Reference::parse(&r).with_context(|| {
                    format!("{flag} {value}: ref={r} is not an image reference")
                })?)
            }
            _ => {
                let dir = get(dir_key)
                    .with_context(|| format!("{flag} {value}: type=local needs {dir_key}=DIR"))?;
                CacheLocation::Layout(PathBuf::from(dir))
            }
        };
    Ok((location, rest))
}

/// Parses every `--cache-from`.
pub fn parse_from(values: &[String]) -> Result<Vec<CacheLocation>> {
    values
        .iter()
        .map(|v| location("--cache-from", v, "src", &[]).map(|(l, _)| l))
        .collect()
}

/// Parses every `--cache-to`.
pub fn parse_to(values: &[String]) -> Result<Vec<CacheTo>> {
    values
        .iter()
        .map(|v| {
            let (location, rest) = location("--cache-to", v, "dest", &["mode", "ignore-error"])?;
            let mut mode = CacheMode::Min;
            let mut ignore_error = false;
            for (k, val) in rest {
                match (k.as_str(), val.as_str()) {
                    ("mode", "min") => mode = CacheMode::Min,
                    ("mode", "max") => mode = CacheMode::Max,
                    ("mode", other) => {
                        bail!("--cache-to {v}: mode={other}: use mode=min or mode=max")
                    }
                    ("ignore-error", "true") => ignore_error = true,
                    ("ignore-error", "false") => ignore_error = false,
                    ("ignore-error", other) => {
                        bail!("--cache-to {v}: ignore-error={other}: use true or false")
                    }
                    _ => {}
                }
            }
            Ok(CacheTo {
                location,
                mode,
                ignore_error,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_in_buildx_syntax() {
        let to = parse_to(&[
            "type=registry,ref=127.0.0.1:5000/app:cache,mode=max".into(),
            "type=local,dest=/tmp/c".into(),
            "127.0.0.1:5000/app:cache".into(),
        ])
        .unwrap();
        assert_eq!(to[0].mode, CacheMode::Max);
        assert!(
            matches!(&to[0].location, CacheLocation::Registry(r) if r.to_string() == "127.0.0.1:5000/app:cache")
        );
        assert_eq!(to[1].location, CacheLocation::Layout("/tmp/c".into()));
        assert_eq!(to[2].mode, CacheMode::Min);
        let from = parse_from(&["type=local,src=/tmp/c".into()]).unwrap();
        assert_eq!(from[0], CacheLocation::Layout("/tmp/c".into()));
    }

    #[test]
    fn bad_specs_say_what_to_do() {
        let e = |v: &str| parse_to(&[v.into()]).unwrap_err().to_string();
        assert!(e("type=inline").contains("type=registry"));
        assert!(e("type=registry").contains("needs ref=REF"));
        assert!(e("type=local,src=/x").contains("unknown option \"src\""));
        assert!(e("type=registry,ref=a/b,mode=all").contains("mode=min or mode=max"));
        assert!(e("type=ftp,ref=x").contains("unknown cache type"));
        let f = parse_from(&["type=local,dest=/x".into()])
            .unwrap_err()
            .to_string();
        assert!(f.contains("unknown option \"dest\""), "{f}");
    }
}
