//! Registry authentication: anonymous first, then whatever the registry's
//! `WWW-Authenticate` challenge asks for — Basic with the user's
//! credentials, or the Docker token flow (Bearer): fetch a token for the
//! repository scope from the realm (GET with Basic credentials, or the
//! OAuth2 refresh-token POST for identity tokens), cache it until shortly
//! before it expires, and fetch a new one when it has.

mod challenge;
mod credentials;

pub use crate::error::CredentialError;
pub use challenge::{parse_challenges, Challenge};
pub use credentials::{CredentialStore, Credentials, Secret};

use crate::error::RegistryError;
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wharf_oci::reference::is_loopback_host;

/// Tokens without `expires_in` are valid for 60 s (Docker's token spec).
const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(60);
/// Refresh this long before expiry so a token does not lapse in flight.
const TOKEN_EXPIRY_MARGIN: Duration = Duration::from_secs(10);
/// Token responses are small; refuse anything larger.
const MAX_TOKEN_RESPONSE: usize = 1024 * 1024;

/// The access a request needs, as Docker token scopes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Scope {
    scopes: Vec<String>,
}

impl Scope {
    /// `repository:<repo>:pull`.
    pub fn pull(repository: &str) -> Self {
        Scope {
            scopes: vec![format!("repository:{repository}:pull")],
        }
    }

    /// `repository:<repo>:pull,push`.
    pub fn push(repository: &str) -> Self {
        Scope {
            scopes: vec![format!("repository:{repository}:pull,push")],
        }
    }

    /// Adds pull access to another repository (for cross-repository mounts).
    pub fn and_pull(mut self, repository: &str) -> Self {
        self.scopes.push(format!("repository:{repository}:pull"));
        self
    }

    fn key(&self) -> String {
        self.scopes.join(" ")
    }

    /// `pull` or `push`, for error messages.
    pub fn action(&self) -> &'static str {
        if self.scopes.first().is_some_and(|s| s.ends_with("push")) {
            "push"
        } else {
            "pull"
        }
    }
}

#[derive(Debug, Clone)]
enum Scheme {
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
    },
}

#[derive(Debug, Clone)]
struct Token {
    value: Secret,
    refresh_at: Instant,
}

#[derive(Debug, Default)]
struct RegistryState {
    /// Looked-up credentials (`Some(None)`: looked up, anonymous).
    credentials: Option<Option<Credentials>>,
    scheme: Option<Scheme>,
    tokens: HashMap<String, Token>,
}

/// Per-registry authentication state shared by all requests of a client.
#[derive(Debug)]
pub(crate) struct Authenticator {
    credentials: CredentialStore,
    insecure: Arc<Vec<String>>,
    state: Mutex<HashMap<String, RegistryState>>,
}

#[derive(Deserialize)]
struct TokenResponse {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
}

impl Authenticator {
    pub(crate) fn new(credentials: CredentialStore, insecure: Arc<Vec<String>>) -> Self {
        Authenticator {
            credentials,
            insecure,
            state: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, RegistryState>> {
        // A panic while holding the lock cannot leave the map inconsistent
        // (each update is a single insert), so a poisoned lock is usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The `Authorization` header for a request, if one is known.
    pub(crate) fn header(&self, registry: &str, scope: &Scope) -> Option<String> {
        let state = self.lock();
        let s = state.get(registry)?;
        match s.scheme.as_ref()? {
            Scheme::Basic => s
                .credentials
                .as_ref()?
                .as_ref()
                .map(Credentials::basic_header),
            Scheme::Bearer { .. } => {
                let t = s.tokens.get(&scope.key())?;
                (Instant::now() < t.refresh_at).then(|| format!("Bearer {}", t.value.expose()))
            }
        }
    }

    async fn credentials(&self, registry: &str) -> Result<Option<Credentials>, RegistryError> {
        if let Some(c) = self
            .lock()
            .get(registry)
            .and_then(|s| s.credentials.clone())
        {
            return Ok(c);
        }
        let store = self.credentials.clone();
        let reg = registry.to_string();
        // Credential helpers are external programs: keep them off the runtime threads.
        let found = tokio::task::spawn_blocking(move || store.lookup(&reg))
            .await
            .map_err(|e| RegistryError::Internal(format!("credential lookup task: {e}")))??;
        self.lock()
            .entry(registry.to_string())
            .or_default()
            .credentials = Some(found.clone());
        Ok(found)
    }

    /// Answers a 401 challenge so the request can be retried. Returns an
    /// `Unauthorized` error when there is nothing more to try.
    pub(crate) async fn answer(
        &self,
        http: &reqwest::Client,
        registry: &str,
        repository: &str,
        scope: &Scope,
        www_authenticate: Option<&str>,
        already_tried: bool,
    ) -> Result<(), RegistryError> {
        let credentials = self.credentials(registry).await?;
        let unauthorized = |hint: String| RegistryError::Unauthorized {
            registry: registry.to_string(),
            repository: repository.to_string(),
            action: scope.action(),
            hint,
        };
        let login_hint = if credentials.is_some() {
            format!("; the credentials for {registry} were refused: log in again (docker login {registry}) or check the user's access")
        } else {
            format!("; no credentials for {registry} were found: run `docker login {registry}` or pass credentials")
        };
        if already_tried {
            return Err(unauthorized(login_hint));
        }
        let header = www_authenticate.unwrap_or("");
        let challenges = parse_challenges(header);
        if let Some(c) = challenges.iter().find(|c| c.scheme == "bearer") {
            let realm = c
                .param("realm")
                .ok_or_else(|| RegistryError::BadResponse {
                    what: "Bearer challenge".into(),
                    url: registry.to_string(),
                    reason: "it has no realm".into(),
                })?
                .to_string();
            let service = c.param("service").map(str::to_string);
            let token = self
                .fetch_token(
                    http,
                    registry,
                    &realm,
                    service.as_deref(),
                    scope,
                    credentials.as_ref(),
                )
                .await
                .map_err(|e| match e {
                    RegistryError::Unauthorized { .. } => unauthorized(login_hint.clone()),
                    other => other,
                })?;
            let mut state = self.lock();
            let s = state.entry(registry.to_string()).or_default();
            s.scheme = Some(Scheme::Bearer { realm, service });
            s.tokens.insert(scope.key(), token);
            return Ok(());
        }
        if challenges.iter().any(|c| c.scheme == "basic") {
            match &credentials {
                None => return Err(unauthorized(login_hint)),
                Some(c) if c.is_identity_token() => {
                    return Err(unauthorized(format!(
                        "; {registry} uses Basic authentication, which an identity token cannot answer: log in with a user name and password"
                    )))
                }
                Some(_) => {}
            }
            self.lock().entry(registry.to_string()).or_default().scheme = Some(Scheme::Basic);
            return Ok(());
        }
        if challenges.is_empty() {
            return Err(unauthorized(login_hint));
        }
        Err(RegistryError::UnsupportedAuth {
            registry: registry.to_string(),
            header: header.to_string(),
        })
    }

    /// Gets a token for `scope` ahead of a request whose body cannot be
    /// replayed (streamed uploads), when the registry is known to use tokens.
    pub(crate) async fn ensure_token(
        &self,
        http: &reqwest::Client,
        registry: &str,
        scope: &Scope,
    ) -> Result<(), RegistryError> {
        let scheme = self.lock().get(registry).and_then(|s| s.scheme.clone());
        let Some(Scheme::Bearer { realm, service }) = scheme else {
            return Ok(());
        };
        if self.header(registry, scope).is_some() {
            return Ok(());
        }
        let credentials = self.credentials(registry).await?;
        let token = self
            .fetch_token(
                http,
                registry,
                &realm,
                service.as_deref(),
                scope,
                credentials.as_ref(),
            )
            .await?;
        self.lock()
            .entry(registry.to_string())
            .or_default()
            .tokens
            .insert(scope.key(), token);
        Ok(())
    }

    async fn fetch_token(
        &self,
        http: &reqwest::Client,
        registry: &str,
        realm: &str,
        service: Option<&str>,
        scope: &Scope,
        credentials: Option<&Credentials>,
    ) -> Result<Token, RegistryError> {
        let mut url = reqwest::Url::parse(realm).map_err(|e| RegistryError::BadResponse {
            what: "token realm".into(),
            url: realm.to_string(),
            reason: e.to_string(),
        })?;
        let host = url_host_port(&url);
        if url.scheme() == "http" && !self.allows_http(&host) {
            return Err(RegistryError::InsecureRefused {
                host,
                what: format!("the token service of {registry}"),
            });
        }
        if url.scheme() != "http" && url.scheme() != "https" {
            return Err(RegistryError::BadResponse {
                what: "token realm".into(),
                url: realm.to_string(),
                reason: "it is not an http(s) URL".into(),
            });
        }
        {
            let mut q = url.query_pairs_mut();
            if let Some(s) = service {
                q.append_pair("service", s);
            }
            for s in &scope.scopes {
                q.append_pair("scope", s);
            }
        }
        let req = match credentials {
            // OAuth2 refresh-token grant (distribution's token spec, "oauth").
            Some(c) if c.is_identity_token() => {
                let mut form = vec![
                    ("grant_type", "refresh_token".to_string()),
                    ("refresh_token", c.password.expose().to_string()),
                    ("client_id", "wharf".to_string()),
                    ("scope", scope.scopes.join(" ")),
                ];
                if let Some(s) = service {
                    form.push(("service", s.to_string()));
                }
                let mut base = url.clone();
                base.set_query(None);
                http.post(base).form(&form)
            }
            Some(c) => {
                let mut value =
                    reqwest::header::HeaderValue::from_str(&c.basic_header()).map_err(|_| {
                        RegistryError::Internal(
                            "credentials contain invalid header characters".into(),
                        )
                    })?;
                value.set_sensitive(true);
                http.get(url.clone())
                    .header(reqwest::header::AUTHORIZATION, value)
            }
            None => http.get(url.clone()),
        };
        let shown = realm.to_string();
        let resp = req.send().await.map_err(|e| RegistryError::Transport {
            method: "GET".into(),
            url: shown.clone(),
            reason: e.without_url().to_string(),
        })?;
        let status = resp.status();
        if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
            return Err(RegistryError::Unauthorized {
                registry: registry.to_string(),
                repository: String::new(),
                action: scope.action(),
                hint: String::new(),
            });
        }
        if !status.is_success() {
            return Err(RegistryError::Status {
                method: "GET".into(),
                url: shown,
                status: status.as_u16(),
                codes: String::new(),
            });
        }
        let body = crate::body::read_limited(resp, MAX_TOKEN_RESPONSE, "GET", &shown).await?;
        let parsed: TokenResponse =
            serde_json::from_slice(&body).map_err(|e| RegistryError::BadResponse {
                what: "token response".into(),
                url: shown.clone(),
                reason: format!("invalid JSON at line {} column {}", e.line(), e.column()),
            })?;
        let value = parsed
            .token
            .or(parsed.access_token)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| RegistryError::BadResponse {
                what: "token response".into(),
                url: shown,
                reason: "it has neither token nor access_token".into(),
            })?;
        let lifetime = parsed
            .expires_in
            .map(Duration::from_secs)
            .unwrap_or(DEFAULT_TOKEN_LIFETIME);
        let refresh_at = Instant::now() + lifetime.saturating_sub(TOKEN_EXPIRY_MARGIN);
        Ok(Token {
            value: Secret::new(value),
            refresh_at,
        })
    }

    pub(crate) fn allows_http(&self, host_port: &str) -> bool {
        is_loopback_host(host_port) || self.insecure.iter().any(|h| h == host_port)
    }
}

/// `host[:port]` of a URL, as written in image references.
pub(crate) fn url_host_port(url: &reqwest::Url) -> String {
    // host_str() keeps the brackets of IPv6 addresses.
    let host = url.host_str().unwrap_or("");
    match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    }
}
