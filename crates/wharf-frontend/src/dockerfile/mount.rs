//! `RUN --mount=` values: comma-separated `key=value` fields (CSV quoting
//! allowed), with BuildKit's keys, aliases and defaults per mount type.

use crate::ast::{CacheSharing, Mount};

/// Splits on commas outside double quotes; a field quoted as a whole, or
/// a value quoted after `=`, loses its quotes.
fn fields(value: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_quote = false;
    for c in value.chars() {
        match c {
            '"' => in_quote = !in_quote,
            ',' if !in_quote => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    if in_quote {
        return Err("unterminated quote".to_string());
    }
    out.push(cur);
    Ok(out.into_iter().map(|f| f.trim().to_string()).collect())
}

fn parse_bool(key: &str, v: Option<&str>) -> Result<bool, String> {
    match v.map(|s| s.to_ascii_lowercase()).as_deref() {
        None | Some("true") | Some("1") => Ok(true),
        Some("false") | Some("0") => Ok(false),
        Some(other) => Err(format!("{key} takes true or false, not {other:?}")),
    }
}

fn parse_octal(key: &str, v: &str) -> Result<u32, String> {
    u32::from_str_radix(v.trim_start_matches("0o"), 8)
        .map_err(|_| format!("{key}={v} is not an octal mode such as 0644"))
}

fn parse_u32(key: &str, v: &str) -> Result<u32, String> {
    v.parse()
        .map_err(|_| format!("{key}={v} is not a non-negative number"))
}

/// Parses a size such as `64m`, `1g`, `512k` or plain bytes.
fn parse_size(v: &str) -> Result<u64, String> {
    let lower = v.to_ascii_lowercase();
    let trimmed = lower.trim_end_matches('b').trim_end_matches('i');
    let (num, mult) = match trimmed.chars().last() {
        Some('k') => (&trimmed[..trimmed.len() - 1], 1u64 << 10),
        Some('m') => (&trimmed[..trimmed.len() - 1], 1 << 20),
        Some('g') => (&trimmed[..trimmed.len() - 1], 1 << 30),
        Some('t') => (&trimmed[..trimmed.len() - 1], 1 << 40),
        _ => (trimmed, 1),
    };
    num.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .ok_or_else(|| format!("size={v} is not a size such as 64m or 1g"))
}

/// Parses one `--mount` value into a typed mount.
// Long: one arm per mount type with that type's options, as BuildKit's
// reference lists them; the table-like shape is easier to check against
// it than helpers would be.
pub(crate) fn parse_mount(value: &str) -> Result<Mount, String> {
    let mut kind = "bind".to_string();
    let mut pairs: Vec<(String, Option<String>)> = Vec::new();
    for field in fields(value)? {
        if field.is_empty() {
            continue;
        }
        let (k, v) = match field.split_once('=') {
            Some((k, v)) => (k.trim().to_ascii_lowercase(), Some(v.trim().to_string())),
            None => (field.to_ascii_lowercase(), None),
        };
        if k == "type" {
            kind = v.ok_or("type needs a value: bind, cache, tmpfs, secret or ssh")?;
        } else {
            pairs.push((k, v));
        }
    }
    let mut target = None;
    let mut source = None;
    let mut from = None;
    let mut id = None;
    let mut readonly: Option<bool> = None;
    let mut sharing = CacheSharing::Shared;
    let mut mode = None;
    let mut uid = None;
    let mut gid = None;
    let mut size = None;
    let mut required = false;
    let mut env = None;

    let allowed: &[&str] = match kind.as_str() {
        "bind" => &["target", "source", "from", "readonly", "readwrite"],
        "cache" => &[
            "target", "source", "from", "readonly", "id", "sharing", "mode", "uid", "gid",
        ],
        "tmpfs" => &["target", "size"],
        "secret" => &["target", "id", "required", "mode", "uid", "gid", "env"],
        "ssh" => &["target", "id", "required", "mode", "uid", "gid"],
        other => {
            return Err(format!(
                "unknown mount type {other:?}; expected bind, cache, tmpfs, secret or ssh"
            ))
        }
    };
    for (k, v) in pairs {
        let canonical = match k.as_str() {
            "target" | "dst" | "destination" => "target",
            "source" | "src" => "source",
            "readonly" | "ro" => "readonly",
            "readwrite" | "rw" => "readwrite",
            other => other,
        };
        if !allowed.contains(&canonical) {
            return Err(format!(
                "unexpected key '{k}' for a {kind} mount; it accepts {}",
                allowed.join(", ")
            ));
        }
        let need = |v: &Option<String>| -> Result<String, String> {
            v.clone()
                .filter(|s| !s.is_empty())
                .ok_or_else(|| format!("{k} needs a value"))
        };
        match canonical {
            "target" => target = Some(need(&v)?),
            "source" => source = Some(need(&v)?),
            "from" => from = Some(need(&v)?),
            "id" => id = Some(need(&v)?),
            "env" => env = Some(need(&v)?),
            "readonly" => readonly = Some(parse_bool(&k, v.as_deref())?),
            "readwrite" => readonly = Some(!parse_bool(&k, v.as_deref())?),
            "required" => required = parse_bool(&k, v.as_deref())?,
            "sharing" => {
                sharing = match need(&v)?.as_str() {
                    "shared" => CacheSharing::Shared,
                    "private" => CacheSharing::Private,
                    "locked" => CacheSharing::Locked,
                    other => {
                        return Err(format!(
                            "sharing={other} is not one of shared, private, locked"
                        ))
                    }
                }
            }
            "mode" => mode = Some(parse_octal(&k, &need(&v)?)?),
            "uid" => uid = Some(parse_u32(&k, &need(&v)?)?),
            "gid" => gid = Some(parse_u32(&k, &need(&v)?)?),
            "size" => size = Some(parse_size(&need(&v)?)?),
            _ => unreachable!("every allowed key is handled"),
        }
    }
    let need_target =
        |t: Option<String>| t.ok_or_else(|| format!("a {kind} mount needs target=<path>"));
    Ok(match kind.as_str() {
        "bind" => Mount::Bind {
            target: need_target(target)?,
            source,
            from,
            readwrite: readonly == Some(false),
        },
        "cache" => Mount::Cache {
            target: need_target(target)?,
            id,
            sharing,
            readonly: readonly.unwrap_or(false),
            from,
            source,
            mode,
            uid,
            gid,
        },
        "tmpfs" => Mount::Tmpfs {
            target: need_target(target)?,
            size,
        },
        "secret" => {
            if id.is_none() && target.is_none() && env.is_none() {
                return Err(
                    "a secret mount needs id=<id> (or a target or env to derive it from)".into(),
                );
            }
            Mount::Secret {
                id,
                target,
                env,
                required,
                mode,
                uid,
                gid,
            }
        }
        _ => Mount::Ssh {
            id,
            target,
            required,
            mode,
            uid,
            gid,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_types() {
        assert_eq!(
            parse_mount("target=/src,from=build,source=/out,rw").unwrap(),
            Mount::Bind {
                target: "/src".into(),
                source: Some("/out".into()),
                from: Some("build".into()),
                readwrite: true
            }
        );
        match parse_mount("type=cache,target=/root/.cache,id=pip,sharing=locked,mode=0755,uid=1000")
            .unwrap()
        {
            Mount::Cache {
                id,
                sharing,
                mode,
                uid,
                readonly,
                ..
            } => {
                assert_eq!(id.as_deref(), Some("pip"));
                assert_eq!(sharing, CacheSharing::Locked);
                assert_eq!(mode, Some(0o755));
                assert_eq!(uid, Some(1000));
                assert!(!readonly);
            }
            m => panic!("{m:?}"),
        }
        assert_eq!(
            parse_mount("type=tmpfs,dst=/tmp,size=64m").unwrap(),
            Mount::Tmpfs {
                target: "/tmp".into(),
                size: Some(64 << 20)
            }
        );
        match parse_mount("type=secret,id=npm,env=NPM_TOKEN,required").unwrap() {
            Mount::Secret {
                id, env, required, ..
            } => {
                assert_eq!(id.as_deref(), Some("npm"));
                assert_eq!(env.as_deref(), Some("NPM_TOKEN"));
                assert!(required);
            }
            m => panic!("{m:?}"),
        }
        assert!(matches!(
            parse_mount("type=ssh").unwrap(),
            Mount::Ssh { .. }
        ));
        assert!(matches!(
            parse_mount("\"type=bind\",\"target=/a,b\"").unwrap(),
            Mount::Bind { target, .. } if target == "/a,b"
        ));
    }

    #[test]
    fn errors() {
        assert!(parse_mount("type=nfs,target=/x")
            .unwrap_err()
            .contains("unknown mount type"));
        assert!(parse_mount("type=cache")
            .unwrap_err()
            .contains("needs target"));
        assert!(parse_mount("type=cache,target=/x,sharing=all")
            .unwrap_err()
            .contains("sharing"));
        assert!(parse_mount("type=tmpfs,target=/x,from=y")
            .unwrap_err()
            .contains("unexpected key 'from'"));
        assert!(parse_mount("type=cache,target=/x,mode=999")
            .unwrap_err()
            .contains("octal"));
        assert!(parse_mount("type=secret").unwrap_err().contains("id="));
        assert!(parse_mount("target=\"/x").unwrap_err().contains("quote"));
    }
}
