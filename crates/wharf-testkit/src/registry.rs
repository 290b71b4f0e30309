//! Starts the CNCF distribution registry (`/usr/bin/docker-registry`,
//! Debian package `docker-registry`) on a free loopback port, with no auth,
//! htpasswd Basic auth, or token auth backed by a token endpoint in this
//! file (JWTs signed RS256 with the `openssl` CLI).

use crate::http::{serve, Reply, Req, TestServer};
use base64::Engine;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub const USER: &str = "wharf-user";
pub const PASSWORD: &str = "s3cret-Passw0rd";

pub enum Auth {
    None,
    Htpasswd,
    Token,
}

pub struct Registry {
    child: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
    _token_server: Option<TestServer>,
    /// Tokens issued by the token endpoint (token auth only).
    pub tokens_issued: Arc<AtomicUsize>,
}

impl Registry {
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// Starts a registry. `allow_urls`: regex of foreign-layer URLs the
/// registry accepts in manifests.
pub fn start(auth: Auth, allow_urls: Option<&str>) -> Registry {
    assert!(
        Path::new("/usr/bin/docker-registry").exists(),
        "these tests need /usr/bin/docker-registry (Debian package docker-registry)"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let mut token_server = None;
    let tokens_issued = Arc::new(AtomicUsize::new(0));
    let auth_yaml = match auth {
        Auth::None => String::new(),
        Auth::Htpasswd => {
            let file = dir.path().join("htpasswd");
            let out = Command::new("htpasswd")
                .args(["-Bbn", USER, PASSWORD])
                .output()
                .expect("htpasswd (Debian package apache2-utils)");
            assert!(out.status.success());
            std::fs::write(&file, out.stdout).expect("write htpasswd");
            format!(
                "auth:\n  htpasswd:\n    realm: wharf-test\n    path: {}\n",
                file.display()
            )
        }
        Auth::Token => {
            let keys = TokenKeys::generate(dir.path());
            let server = token_endpoint(keys.clone(), tokens_issued.clone());
            let yaml = format!(
                "auth:\n  token:\n    realm: http://127.0.0.1:{}/token\n    service: wharf-test\n    issuer: wharf-test-issuer\n    rootcertbundle: {}\n",
                server.port,
                keys.cert.display()
            );
            token_server = Some(server);
            yaml
        }
    };
    let validation = match allow_urls {
        Some(re) => {
            format!("validation:\n  manifests:\n    urls:\n      allow:\n        - '{re}'\n")
        }
        None => String::new(),
    };
    let config = format!(
        "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {root}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n  secret: wharf-test-secret\n{auth_yaml}{validation}",
        root = dir.path().join("data").display()
    );
    let config_path = dir.path().join("config.yml");
    std::fs::write(&config_path, config).expect("write config");
    let log = std::fs::File::create(dir.path().join("registry.log")).expect("log");
    let child = Command::new("/usr/bin/docker-registry")
        .arg("serve")
        .arg(&config_path)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start docker-registry");
    let registry = Registry {
        child,
        port,
        dir,
        _token_server: token_server,
        tokens_issued,
    };
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return registry;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("docker-registry did not start: {}", registry.log());
}

#[derive(Clone)]
struct TokenKeys {
    key: PathBuf,
    cert: PathBuf,
    cert_der_b64: String,
}

impl TokenKeys {
    fn generate(dir: &Path) -> TokenKeys {
        let key = dir.join("token.key");
        let cert = dir.join("token.crt");
        let status = Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "1",
                "-subj",
                "/CN=wharf-test-token",
            ])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .stderr(Stdio::null())
            .status()
            .expect("openssl (Debian package openssl)");
        assert!(status.success());
        let der = Command::new("openssl")
            .args(["x509", "-outform", "der", "-in"])
            .arg(&cert)
            .output()
            .expect("openssl x509");
        assert!(der.status.success());
        TokenKeys {
            key,
            cert,
            cert_der_b64: base64::engine::general_purpose::STANDARD.encode(der.stdout),
        }
    }

    fn sign(&self, input: &[u8]) -> Vec<u8> {
        let mut child = Command::new("openssl")
            .args(["dgst", "-sha256", "-sign"])
            .arg(&self.key)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("openssl dgst");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input)
            .expect("write");
        let out = child.wait_with_output().expect("openssl");
        assert!(out.status.success());
        out.stdout
    }
}

fn b64url(data: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data)
}

/// A Docker token endpoint: requires Basic credentials USER/PASSWORD and
/// grants the requested scopes for 5 minutes.
fn token_endpoint(keys: TokenKeys, issued: Arc<AtomicUsize>) -> TestServer {
    serve(move |req: &Req| {
        let expected = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"))
        );
        if req.header("authorization") != Some(expected.as_str()) {
            return Reply::status(401);
        }
        let query = req.path.split_once('?').map(|(_, q)| q).unwrap_or("");
        let mut access = Vec::new();
        for pair in query.split('&') {
            let Some(("scope", v)) = pair.split_once('=') else {
                continue;
            };
            let v = v
                .replace("%3A", ":")
                .replace("%2F", "/")
                .replace("%2C", ",")
                .replace('+', " ");
            let parts: Vec<&str> = v.splitn(3, ':').collect();
            if parts.len() == 3 {
                access.push(serde_json::json!({
                    "type": parts[0], "name": parts[1],
                    "actions": parts[2].split(',').collect::<Vec<_>>()
                }));
            }
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("time")
            .as_secs();
        let header = serde_json::json!({"alg": "RS256", "typ": "JWT", "x5c": [keys.cert_der_b64]});
        let claims = serde_json::json!({
            "iss": "wharf-test-issuer", "sub": USER, "aud": "wharf-test",
            "exp": now + 300, "nbf": now - 10, "iat": now, "jti": format!("{now}-{}", access.len()),
            "access": access,
        });
        let input = format!(
            "{}.{}",
            b64url(header.to_string().as_bytes()),
            b64url(claims.to_string().as_bytes())
        );
        let sig = keys.sign(input.as_bytes());
        issued.fetch_add(1, Ordering::SeqCst);
        let token = format!("{input}.{}", b64url(&sig));
        Reply::ok(
            "application/json",
            serde_json::json!({"token": token, "expires_in": 300})
                .to_string()
                .into_bytes(),
        )
    })
}
