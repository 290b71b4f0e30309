//! Image references with Docker's normalisation: `busybox` is
//! `docker.io/library/busybox:latest`, `localhost:5000/x` names a registry
//! with a port, `name@sha256:…` pins a digest.
//!
//! The grammar is the one of the distribution project's `reference`
//! package: a registry is the first path component when it contains `.` or
//! `:`, is `localhost`, or has an uppercase letter; repository components
//! are lowercase alphanumerics separated by `.`, `_`, `__` or dashes.

use crate::Digest;
use std::fmt;
use std::str::FromStr;

/// The registry Docker uses when a reference names none.
pub const DOCKER_HUB: &str = "docker.io";
/// The host that actually serves Docker Hub's registry API.
pub const DOCKER_HUB_API_HOST: &str = "registry-1.docker.io";
const MAX_NAME_LEN: usize = 255;
const MAX_TAG_LEN: usize = 128;

/// A parsed, normalised image reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    registry: String,
    repository: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

/// Why a reference string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid image reference {input:?}: {reason}; expected [registry[:port]/]name[:tag][@sha256:digest], e.g. busybox, ghcr.io/org/app:1.0 or localhost:5000/app@sha256:…")]
pub struct ReferenceError {
    /// The string as given.
    pub input: String,
    /// What was wrong with it.
    pub reason: String,
}

impl Reference {
    /// Parses and normalises a reference.
    pub fn parse(input: &str) -> Result<Self, ReferenceError> {
        let err = |reason: &str| ReferenceError {
            input: input.to_string(),
            reason: reason.to_string(),
        };
        if input.is_empty() {
            return Err(err("it is empty"));
        }
        if input.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(err("it contains whitespace or control characters"));
        }
        let (rest, digest) = match input.split_once('@') {
            Some((name, d)) => {
                let digest =
                    Digest::try_from(d).map_err(|e| err(&format!("bad digest {d:?}: {e}")))?;
                (name, Some(digest))
            }
            None => (input, None),
        };
        // A ':' after the last '/' starts the tag; before it, it is a port.
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].find(':') {
            Some(i) => {
                let (n, t) = rest.split_at(last_slash + i);
                (n, Some(&t[1..]))
            }
            None => (rest, None),
        };
        if let Some(t) = tag {
            validate_tag(t).map_err(|r| err(&r))?;
        }
        let (registry, repository) = split_registry(name);
        let registry = match registry {
            Some(r) => {
                validate_registry(r).map_err(|e| err(&e))?;
                if r == "index.docker.io" || r == "registry-1.docker.io" {
                    DOCKER_HUB.to_string()
                } else {
                    r.to_string()
                }
            }
            None => DOCKER_HUB.to_string(),
        };
        let repository = if registry == DOCKER_HUB && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository.to_string()
        };
        validate_repository(&repository).map_err(|r| err(&r))?;
        if registry.len() + 1 + repository.len() > MAX_NAME_LEN {
            return Err(err("the name is longer than 255 characters"));
        }
        Ok(Reference {
            registry,
            repository,
            tag: tag.map(str::to_string),
            digest,
        })
    }

    /// A reference from parts (already validated names, e.g. from another reference).
    pub fn with_tag(&self, tag: &str) -> Result<Self, ReferenceError> {
        validate_tag(tag).map_err(|reason| ReferenceError {
            input: format!("{}/{}:{tag}", self.registry, self.repository),
            reason,
        })?;
        Ok(Reference {
            tag: Some(tag.to_string()),
            digest: None,
            ..self.clone()
        })
    }

    /// The same repository pinned to `digest` (no tag).
    pub fn with_digest(&self, digest: Digest) -> Self {
        Reference {
            tag: None,
            digest: Some(digest),
            ..self.clone()
        }
    }

    /// Registry host (with port), normalised: `docker.io` for Docker Hub.
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The host to send API requests to (`registry-1.docker.io` for Docker Hub).
    pub fn api_host(&self) -> &str {
        if self.registry == DOCKER_HUB {
            DOCKER_HUB_API_HOST
        } else {
            &self.registry
        }
    }

    /// Repository path, e.g. `library/busybox`.
    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// The tag as written; `None` when only a digest or nothing was given.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The pinned digest, if any.
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// What to ask the registry for: the digest if pinned, else the tag
    /// (`latest` when none was given).
    pub fn manifest_ref(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => "latest".to_string(),
        }
    }

    /// The reference as Docker shows it: without `docker.io/` and
    /// `library/`, with the tag or digest only when one was given
    /// (`busybox`, `ghcr.io/org/app:1.0`).
    pub fn familiar(&self) -> String {
        let mut out = if self.registry == DOCKER_HUB {
            self.repository
                .strip_prefix("library/")
                .unwrap_or(&self.repository)
                .to_string()
        } else {
            self.name()
        };
        if let Some(t) = &self.tag {
            out.push(':');
            out.push_str(t);
        }
        if let Some(d) = &self.digest {
            out.push('@');
            out.push_str(d.as_str());
        }
        out
    }

    /// `registry/repository` without tag or digest.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// `true` when the registry is on this machine (`localhost`, `127.*`, `::1`).
    pub fn is_loopback(&self) -> bool {
        is_loopback_host(&self.registry)
    }
}

/// `true` for `localhost`, `127.0.0.0/8` and `[::1]`, with or without port.
pub fn is_loopback_host(host_port: &str) -> bool {
    let host = if let Some(rest) = host_port.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        host_port.split(':').next().unwrap_or("")
    };
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    host.parse::<std::net::IpAddr>()
        .map(|ip| ip.is_loopback())
        .unwrap_or(false)
}

/// Canonical form: `registry/repository[:tag][@digest]`, with `:latest`
/// when neither tag nor digest was given.
impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        match (&self.tag, &self.digest) {
            (Some(t), _) => write!(f, ":{t}")?,
            (None, None) => write!(f, ":latest")?,
            (None, Some(_)) => {}
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

impl FromStr for Reference {
    type Err = ReferenceError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Reference::parse(s)
    }
}

fn split_registry(name: &str) -> (Option<&str>, &str) {
    match name.split_once('/') {
        Some((first, rest))
            if first.contains('.')
                || first.contains(':')
                || first == "localhost"
                || first.chars().any(|c| c.is_ascii_uppercase()) =>
        {
            (Some(first), rest)
        }
        _ => (None, name),
    }
}

fn validate_registry(r: &str) -> Result<(), String> {
    let (host, port) = if let Some(rest) = r.strip_prefix('[') {
        let (h, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("registry {r:?} has an unclosed IPv6 bracket"))?;
        h.parse::<std::net::Ipv6Addr>()
            .map_err(|_| format!("registry {r:?} is not a valid IPv6 address"))?;
        (None, after.strip_prefix(':'))
    } else {
        match r.split_once(':') {
            Some((h, p)) => (Some(h), Some(p)),
            None => (Some(r), None),
        }
    };
    if let Some(h) = host {
        let ok = !h.is_empty()
            && h.split('.').all(|label| {
                !label.is_empty()
                    && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                    && !label.starts_with('-')
                    && !label.ends_with('-')
            });
        if !ok {
            return Err(format!("registry host {h:?} is not a valid host name"));
        }
    }
    if let Some(p) = port {
        if p.parse::<u16>().is_err() {
            return Err(format!(
                "registry port {p:?} is not a number from 0 to 65535"
            ));
        }
    }
    Ok(())
}

fn validate_repository(repo: &str) -> Result<(), String> {
    for component in repo.split('/') {
        if component.is_empty() {
            return Err("the repository has an empty path component".into());
        }
        if component.chars().any(|c| c.is_ascii_uppercase()) {
            return Err(format!(
                "repository component {component:?} must be lowercase"
            ));
        }
        let bytes = component.as_bytes();
        let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
        if !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
            return Err(format!(
                "repository component {component:?} must start and end with a letter or digit"
            ));
        }
        // Separators: one '.', one or two '_', or any number of '-'.
        let mut i = 0;
        while i < bytes.len() {
            if alnum(bytes[i]) {
                i += 1;
                continue;
            }
            let start = i;
            while i < bytes.len() && !alnum(bytes[i]) {
                i += 1;
            }
            let sep = &component[start..i];
            let ok = sep == "." || sep == "_" || sep == "__" || sep.chars().all(|c| c == '-');
            if !ok {
                return Err(format!(
                    "repository component {component:?} has an invalid separator {sep:?}"
                ));
            }
        }
    }
    Ok(())
}

fn validate_tag(tag: &str) -> Result<(), String> {
    let mut chars = tag.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    if !first_ok
        || tag.len() > MAX_TAG_LEN
        || !tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-')
    {
        return Err(format!(
            "tag {tag:?} must be 1 to 128 letters, digits, '_', '.' or '-', not starting with '.' or '-'"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn norm(s: &str) -> String {
        Reference::parse(s).expect(s).to_string()
    }

    #[test]
    fn docker_hub_normalisation() {
        assert_eq!(norm("busybox"), "docker.io/library/busybox:latest");
        assert_eq!(norm("busybox:1.36"), "docker.io/library/busybox:1.36");
        assert_eq!(norm("user/app"), "docker.io/user/app:latest");
        assert_eq!(
            norm("docker.io/busybox"),
            "docker.io/library/busybox:latest"
        );
        assert_eq!(
            norm("index.docker.io/library/busybox"),
            "docker.io/library/busybox:latest"
        );
        let r = Reference::parse("busybox").expect("valid");
        assert_eq!(r.api_host(), "registry-1.docker.io");
        assert_eq!(r.repository(), "library/busybox");
        assert_eq!(r.manifest_ref(), "latest");
        assert_eq!(r.tag(), None);
    }

    #[test]
    fn registries_ports_and_digests() {
        let r = Reference::parse("localhost:5000/x").expect("valid");
        assert_eq!((r.registry(), r.repository()), ("localhost:5000", "x"));
        assert!(r.is_loopback());
        assert_eq!(r.to_string(), "localhost:5000/x:latest");
        let r = Reference::parse(&format!("ghcr.io/org/team/app:v1.2@{D}")).expect("valid");
        assert_eq!(r.registry(), "ghcr.io");
        assert_eq!(r.repository(), "org/team/app");
        assert_eq!(r.tag(), Some("v1.2"));
        assert_eq!(r.manifest_ref(), D);
        let r = Reference::parse(&format!("busybox@{D}")).expect("valid");
        assert_eq!(r.to_string(), format!("docker.io/library/busybox@{D}"));
        let r = Reference::parse("127.0.0.1:40000/a/b:t").expect("valid");
        assert!(r.is_loopback());
        let r = Reference::parse("[::1]:5000/a").expect("valid");
        assert_eq!(r.registry(), "[::1]:5000");
        assert!(r.is_loopback());
        assert_eq!(
            Reference::parse("Registry/app").expect("valid").registry(),
            "Registry"
        );
        assert!(!Reference::parse("example.com/a")
            .expect("valid")
            .is_loopback());
        assert_eq!(
            Reference::parse("a__b/c-d--e/f.g_h")
                .expect("valid")
                .repository(),
            "a__b/c-d--e/f.g_h"
        );
    }

    #[test]
    fn refuses_bad_references() {
        for bad in [
            "",
            "UPPER",
            "a//b",
            "a b",
            "app:",
            "app:-x",
            "app@sha256:short",
            "app@nodigest",
            "a..b",
            "-a",
            "a___b",
            "example.com:port/app",
            "exa_mple.com/app",
            "[::1/app",
        ] {
            let e = Reference::parse(bad).expect_err(bad);
            assert_eq!(e.input, bad);
            assert!(e.to_string().contains("expected"), "{e}");
        }
        let long = format!("example.com/{}", "a".repeat(250));
        assert!(Reference::parse(&long).is_err());
        let long_tag = format!("app:{}", "t".repeat(129));
        assert!(Reference::parse(&long_tag).is_err());
    }

    #[test]
    fn retagging() {
        let r = Reference::parse("localhost:5000/x:1").expect("valid");
        assert_eq!(
            r.with_tag("2").expect("tag").to_string(),
            "localhost:5000/x:2"
        );
        assert!(r.with_tag("bad tag").is_err());
        let d = Digest::try_from(D).expect("digest");
        assert_eq!(
            r.with_digest(d).to_string(),
            format!("localhost:5000/x@{D}")
        );
    }

    #[test]
    fn familiar_names_are_what_docker_shows() {
        let f = |s: &str| Reference::parse(s).unwrap().familiar();
        assert_eq!(f("busybox"), "busybox");
        assert_eq!(f("docker.io/library/busybox:1.36"), "busybox:1.36");
        assert_eq!(f("someone/tool"), "someone/tool");
        assert_eq!(f("localhost:5000/app:2"), "localhost:5000/app:2");
    }
}
