//! Build secrets (`--secret id=...,src=...|env=...`): where each value
//! comes from. A value is read only when a RUN mounts it, and is never
//! stored in a layer, the configuration, the history or the cache key.

use std::path::PathBuf;

/// Where a build secret's value comes from (`--secret id=...,src=...` or
/// `--secret id=...,env=...`). The value is read only when a RUN mounts
/// it, and is never stored in a layer, the configuration, the history or
/// the cache key.
#[derive(Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// A file on the host.
    File(PathBuf),
    /// An environment variable of the builder's process.
    Env(String),
}

impl std::fmt::Debug for SecretSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretSource::File(p) => write!(f, "File({})", p.display()),
            SecretSource::Env(n) => write!(f, "Env({n})"),
        }
    }
}

impl SecretSource {
    /// Reads the secret's value; the error names the file or variable.
    pub fn read(&self, id: &str) -> Result<Vec<u8>, String> {
        match self {
            SecretSource::File(p) => std::fs::read(p).map_err(|e| {
                format!(
                    "secret {id}: reading {}: {e}; check the src= path given to --secret",
                    p.display()
                )
            }),
            SecretSource::Env(name) => std::env::var_os(name)
                .map(|v| v.into_encoded_bytes())
                .ok_or_else(|| {
                    format!("secret {id}: the environment variable {name} is not set; set it or change env= in --secret")
                }),
        }
    }
}
