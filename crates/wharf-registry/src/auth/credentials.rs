//! Registry credentials and where they come from: explicit values, or
//! Docker's `config.json` (`auths`, `credsStore`, `credHelpers`).
//!
//! The `docker_credential` crate does the config lookup too, but always
//! reads the config of the current user; Wharf needs an explicit config path
//! (`--config`, tests) and secrets that cannot leak through `Debug`, so the
//! small lookup is written here. Credential helpers follow Docker's
//! protocol: `docker-credential-<name> get` with the server URL on stdin,
//! answering `{"ServerURL","Username","Secret"}` on stdout. An identity
//! token (config `identitytoken`, or a helper's user name `<token>`) is an
//! OAuth2 refresh token; the token flow exchanges it for access tokens.

use crate::error::CredentialError;
use base64::Engine;
use serde::Deserialize;
use std::collections::HashMap;
use std::ffi::OsString;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The user name Docker and credential helpers use to mark an identity token.
const IDENTITY_TOKEN_USER: &str = "<token>";

/// A secret string: never shown by `Debug` or `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }

    /// The secret itself, for putting on the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// A user name and password (or token) for one registry.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user name.
    pub username: String,
    /// The password or personal access token.
    pub password: Secret,
}

impl Credentials {
    /// Credentials from a user name and password.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Credentials {
            username: username.into(),
            password: Secret::new(password),
        }
    }

    /// An OAuth2 refresh token ("identity token", Docker's `identitytoken`),
    /// exchanged at the registry's token service for access tokens.
    pub fn identity_token(token: impl Into<String>) -> Self {
        Credentials::new(IDENTITY_TOKEN_USER, token)
    }

    /// `true` when these are an identity token rather than a user and password.
    pub fn is_identity_token(&self) -> bool {
        self.username == IDENTITY_TOKEN_USER
    }

    /// The `Authorization: Basic …` header value.
    pub(crate) fn basic_header(&self) -> String {
        let raw = format!("{}:{}", self.username, self.password.expose());
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &self.password)
            .finish()
    }
}

/// Where credentials for each registry come from.
#[derive(Debug, Clone, Default)]
pub struct CredentialStore {
    explicit: HashMap<String, Credentials>,
    docker_config: Option<PathBuf>,
    helper_path: Option<OsString>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct DockerConfig {
    #[serde(default)]
    auths: HashMap<String, AuthEntry>,
    #[serde(default)]
    creds_store: Option<String>,
    #[serde(default)]
    cred_helpers: HashMap<String, String>,
}

#[derive(Deserialize, Default)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default, rename = "identitytoken")]
    identity_token: Option<String>,
}

#[derive(Deserialize)]
struct HelperReply {
    #[serde(rename = "Username")]
    username: String,
    #[serde(rename = "Secret")]
    secret: String,
}

impl CredentialStore {
    /// No credentials at all: anonymous access only.
    pub fn anonymous() -> Self {
        CredentialStore::default()
    }

    /// Docker's config: `$DOCKER_CONFIG/config.json`, else
    /// `~/.docker/config.json`.
    pub fn docker_default() -> Self {
        let path = std::env::var_os("DOCKER_CONFIG")
            .map(PathBuf::from)
            .or_else(|| dirs_home().map(|h| h.join(".docker")))
            .map(|d| d.join("config.json"));
        CredentialStore {
            docker_config: path,
            ..CredentialStore::default()
        }
    }

    /// A specific Docker `config.json`.
    pub fn docker_config(path: impl Into<PathBuf>) -> Self {
        CredentialStore {
            docker_config: Some(path.into()),
            ..CredentialStore::default()
        }
    }

    /// Adds explicit credentials for a registry (`host[:port]`, `docker.io`
    /// for Docker Hub); they win over the Docker config.
    pub fn with(mut self, registry: &str, credentials: Credentials) -> Self {
        self.explicit.insert(registry.to_string(), credentials);
        self
    }

    /// Searches `docker-credential-*` helpers in this `PATH`-style list
    /// instead of the process's `PATH`.
    pub fn with_helper_path(mut self, path: impl Into<OsString>) -> Self {
        self.helper_path = Some(path.into());
        self
    }

    /// Credentials for `registry` (normalised, e.g. `docker.io`,
    /// `localhost:5000`), or `None` for anonymous access.
    pub fn lookup(&self, registry: &str) -> Result<Option<Credentials>, CredentialError> {
        if let Some(c) = self.explicit.get(registry) {
            return Ok(Some(c.clone()));
        }
        let Some(path) = &self.docker_config else {
            return Ok(None);
        };
        let config = match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice::<DockerConfig>(&bytes).map_err(|e| {
                CredentialError::BadConfig {
                    path: path.clone(),
                    reason: format!("invalid JSON at line {} column {}", e.line(), e.column()),
                }
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(CredentialError::BadConfig {
                    path: path.clone(),
                    reason: e.to_string(),
                })
            }
        };
        lookup_in(&config, registry, path, self.helper_path.as_ref())
    }
}

fn dirs_home() -> Option<PathBuf> {
    std::env::var_os(if cfg!(windows) { "USERPROFILE" } else { "HOME" }).map(PathBuf::from)
}

/// The keys Docker may have stored a registry's entry under.
fn config_keys(registry: &str) -> Vec<String> {
    if registry == wharf_oci::reference::DOCKER_HUB {
        vec![
            "https://index.docker.io/v1/".into(),
            "index.docker.io".into(),
            "docker.io".into(),
            "registry-1.docker.io".into(),
        ]
    } else {
        vec![
            registry.to_string(),
            format!("https://{registry}"),
            format!("http://{registry}"),
        ]
    }
}

/// The server name Docker passes to credential helpers.
fn helper_server(registry: &str) -> String {
    if registry == wharf_oci::reference::DOCKER_HUB {
        "https://index.docker.io/v1/".to_string()
    } else {
        registry.to_string()
    }
}

fn lookup_in(
    config: &DockerConfig,
    registry: &str,
    path: &Path,
    helper_path: Option<&OsString>,
) -> Result<Option<Credentials>, CredentialError> {
    let keys = config_keys(registry);
    if let Some(helper) = keys.iter().find_map(|k| config.cred_helpers.get(k)) {
        return run_helper(helper, &helper_server(registry), helper_path);
    }
    // Entries may be written with a scheme and path (`https://host/v1/`).
    let entry = config.auths.iter().find_map(|(k, v)| {
        let host = k
            .trim_start_matches("https://")
            .trim_start_matches("http://")
            .split('/')
            .next()
            .unwrap_or("");
        (keys.contains(k) || keys.iter().any(|key| key == host)).then_some(v)
    });
    if let Some(entry) = entry {
        if let Some(c) = decode_entry(entry, registry, path)? {
            return Ok(Some(c));
        }
    }
    match &config.creds_store {
        Some(store) if !store.is_empty() => {
            run_helper(store, &helper_server(registry), helper_path)
        }
        _ => Ok(None),
    }
}

fn decode_entry(
    entry: &AuthEntry,
    registry: &str,
    path: &Path,
) -> Result<Option<Credentials>, CredentialError> {
    // Docker stores an OAuth2 refresh token (e.g. after `az acr login`)
    // next to an "auth" holding only the user name; the token wins.
    if let Some(token) = entry.identity_token.as_deref().filter(|t| !t.is_empty()) {
        return Ok(Some(Credentials::identity_token(token)));
    }
    if let (Some(u), Some(p)) = (&entry.username, &entry.password) {
        return Ok(Some(Credentials::new(u.clone(), p.clone())));
    }
    if let Some(auth) = entry.auth.as_deref().filter(|a| !a.is_empty()) {
        let bad = || CredentialError::BadConfig {
            path: path.to_path_buf(),
            reason: format!("the \"auth\" value for {registry} is not base64 of user:password"),
        };
        let raw = base64::engine::general_purpose::STANDARD
            .decode(auth.trim())
            .map_err(|_| bad())?;
        let raw = String::from_utf8(raw).map_err(|_| bad())?;
        let (u, p) = raw.split_once(':').ok_or_else(bad)?;
        return Ok(Some(Credentials::new(u, p)));
    }
    Ok(None)
}

fn run_helper(
    helper: &str,
    server: &str,
    helper_path: Option<&OsString>,
) -> Result<Option<Credentials>, CredentialError> {
    let fail = |reason: String| CredentialError::Helper {
        helper: helper.to_string(),
        server: server.to_string(),
        reason,
    };
    if !helper
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
    {
        return Err(fail(
            "the helper name contains unexpected characters".into(),
        ));
    }
    let program = format!("docker-credential-{helper}");
    let mut command = Command::new(&program);
    if let Some(p) = helper_path {
        // With PATH set for the child, std searches the program in it.
        command.env("PATH", p);
    }
    let mut child = command
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            fail(format!(
                "cannot run {program}: {e}; install it or remove it from the Docker config"
            ))
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(server.as_bytes())
            .map_err(|e| fail(format!("writing to the helper: {e}")))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| fail(format!("waiting for the helper: {e}")))?;
    if !out.status.success() {
        let msg = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        if msg.contains("credentials not found") {
            return Ok(None);
        }
        // The helper's message describes its failure; it does not echo secrets.
        return Err(fail(format!("{}: {}", out.status, msg.trim())));
    }
    let reply: HelperReply = serde_json::from_slice(&out.stdout)
        .map_err(|_| fail("the helper's answer is not the expected JSON".into()))?;
    // Helpers answer identity tokens with the user name "<token>", which
    // `Credentials::new` recognises.
    Ok(Some(Credentials::new(reply.username, reply.secret)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_config(dir: &Path, json: &str) -> PathBuf {
        let p = dir.join("config.json");
        std::fs::write(&p, json).expect("write");
        p
    }

    #[test]
    fn debug_never_shows_the_password() {
        let c = Credentials::new("alice", "hunter2-very-secret");
        let shown = format!(
            "{c:?} {:?}",
            CredentialStore::anonymous().with("x", c.clone())
        );
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("alice"));
    }

    #[test]
    fn reads_auths_in_all_spellings() {
        let dir = tempfile::tempdir().expect("tempdir");
        // "bob:pw1" and "carol:pw:with:colons"
        let p = write_config(
            dir.path(),
            r#"{"auths":{
                "https://index.docker.io/v1/":{"auth":"Ym9iOnB3MQ=="},
                "https://ghcr.io/v2/":{"auth":"Y2Fyb2w6cHc6d2l0aDpjb2xvbnM="},
                "localhost:5000":{"username":"dave","password":"pw3"}
            }}"#,
        );
        let store = CredentialStore::docker_config(&p);
        let hub = store.lookup("docker.io").expect("ok").expect("found");
        assert_eq!(
            (hub.username.as_str(), hub.password.expose()),
            ("bob", "pw1")
        );
        let ghcr = store.lookup("ghcr.io").expect("ok").expect("found");
        assert_eq!(ghcr.password.expose(), "pw:with:colons");
        let local = store.lookup("localhost:5000").expect("ok").expect("found");
        assert_eq!(local.username, "dave");
        assert!(store.lookup("quay.io").expect("ok").is_none());
        let explicit = store.with("quay.io", Credentials::new("e", "f"));
        assert_eq!(
            explicit
                .lookup("quay.io")
                .expect("ok")
                .expect("found")
                .username,
            "e"
        );
    }

    #[test]
    fn missing_config_is_anonymous_and_bad_config_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = CredentialStore::docker_config(dir.path().join("absent.json"));
        assert!(store.lookup("docker.io").expect("ok").is_none());
        let p = write_config(dir.path(), r#"{"auths":{"x.io":{"auth":"!!notbase64"}}}"#);
        let err = CredentialStore::docker_config(&p)
            .lookup("x.io")
            .expect_err("bad");
        assert!(err.to_string().contains("config.json"), "{err}");
        let p = write_config(dir.path(), "{broken");
        assert!(CredentialStore::docker_config(&p).lookup("x.io").is_err());
    }

    #[cfg(unix)]
    #[test]
    fn credential_helpers_and_store() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).expect("mkdir");
        // A helper that knows one server and answers like Docker's helpers.
        let helper = bin.join("docker-credential-wharftest");
        std::fs::write(
            &helper,
            "#!/bin/sh\nread server\nif [ \"$server\" = \"helped.example\" ]; then echo '{\"ServerURL\":\"helped.example\",\"Username\":\"hu\",\"Secret\":\"hs\"}'; else echo 'credentials not found in native keychain'; exit 1; fi\n",
        )
        .expect("write");
        std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let p = write_config(
            dir.path(),
            r#"{"credHelpers":{"helped.example":"wharftest"},"credsStore":"wharftest","auths":{}}"#,
        );
        let store = CredentialStore::docker_config(&p).with_helper_path(bin.as_os_str());
        let c = store.lookup("helped.example").expect("ok").expect("found");
        assert_eq!((c.username.as_str(), c.password.expose()), ("hu", "hs"));
        // credsStore answers "not found" for other servers: anonymous.
        assert!(store.lookup("other.example").expect("ok").is_none());
    }
}
