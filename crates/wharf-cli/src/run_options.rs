//! `--add-host`, `--shm-size`, `--ulimit` and `--ssh`: the command-line
//! text of the settings every Linux RUN of a build gets.

use crate::args::BuildArgs;
use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::path::PathBuf;
use wharf_run::RunOptions;
use wharf_sandbox::{HostEntry, Rlimit};

/// Hosts, `/dev/shm` size and limits from the command line.
pub fn run_options(a: &BuildArgs) -> Result<RunOptions> {
    let extra_hosts = a
        .add_hosts
        .iter()
        .map(|h| HostEntry::parse(h).map_err(anyhow::Error::msg))
        .collect::<Result<Vec<_>>>()?;
    let rlimits = a
        .ulimits
        .iter()
        .map(|l| Rlimit::parse(l).map_err(anyhow::Error::msg))
        .collect::<Result<Vec<_>>>()?;
    let shm_size = a.shm_size.as_deref().map(shm_size).transpose()?;
    Ok(RunOptions {
        extra_hosts,
        shm_size,
        rlimits,
    })
}

/// Docker's memory sizes: a number with an optional binary unit (`b`,
/// `k`, `m`, `g`, `t`, optionally followed by `b` or `ib`).
fn shm_size(text: &str) -> Result<u64> {
    let lower = text.trim().to_ascii_lowercase();
    let digits = lower.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &lower[digits.len()..];
    let mult: u64 = match unit {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        _ => bail!("--shm-size {text}: unknown unit {unit:?}; write e.g. 64m or 1g"),
    };
    let size = digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .with_context(|| format!("--shm-size {text}: write a size such as 64m or 1g"))?;
    if size == 0 {
        bail!("--shm-size {text}: the size must be more than 0");
    }
    Ok(size)
}

/// Agent sockets by id from `--ssh`, as buildx reads them: `ID` alone
/// (`default` included) is `$SSH_AUTH_SOCK`; `ID=PATH` a socket; and
/// `ID=KEY[,KEY]` key files, which buildx serves from an agent of its own:
/// wharf starts one `ssh-agent` per such id for the build, adds the keys
/// with `ssh-add` (they live in that agent's memory only) and stops it
/// when the build ends ([`KeyAgent`], kept alive by the caller).
pub fn ssh_agents(a: &BuildArgs) -> Result<(BTreeMap<String, PathBuf>, Vec<KeyAgent>)> {
    let mut out = BTreeMap::new();
    let mut agents = Vec::new();
    if cfg!(not(target_os = "linux")) && !a.ssh.is_empty() {
        bail!("--ssh: RUN --mount=type=ssh runs in Linux stages, which run on Linux hosts only");
    }
    for spec in &a.ssh {
        let (id, paths) = match spec.split_once('=') {
            Some((id, p)) => (id, Some(p)),
            None => (spec.as_str(), None),
        };
        if id.is_empty() {
            bail!("--ssh {spec}: the id is empty; write default, ID, ID=SOCKET or ID=KEY[,KEY]");
        }
        let socket = match paths {
            None => match std::env::var_os("SSH_AUTH_SOCK").filter(|s| !s.is_empty()) {
                Some(s) => PathBuf::from(s),
                None => bail!(
                    "--ssh {spec}: SSH_AUTH_SOCK is not set; start an agent (eval $(ssh-agent); ssh-add), or write --ssh {id}=SOCKET or --ssh {id}=KEYFILE"
                ),
            },
            Some(p) => {
                let paths: Vec<PathBuf> = p.split(',').map(PathBuf::from).collect();
                let first = std::fs::metadata(&paths[0])
                    .with_context(|| format!("--ssh {spec}: reading {}", paths[0].display()))?;
                if paths.len() == 1 && is_socket(&first) {
                    paths[0].clone()
                } else {
                    let agent = KeyAgent::start(&paths)
                        .with_context(|| format!("--ssh {spec}: loading the keys into an agent"))?;
                    let socket = agent.socket.clone();
                    agents.push(agent);
                    socket
                }
            }
        };
        let meta = std::fs::metadata(&socket)
            .with_context(|| format!("--ssh {spec}: reading {}", socket.display()))?;
        if !is_socket(&meta) {
            bail!("--ssh {spec}: {} is not an agent socket", socket.display());
        }
        out.insert(id.to_string(), socket);
    }
    Ok((out, agents))
}

/// An `ssh-agent` of the build's own, holding the keys of one `--ssh
/// ID=KEY` in memory; stopped on drop.
pub struct KeyAgent {
    child: std::process::Child,
    socket: PathBuf,
    _dir: tempfile::TempDir,
}

impl KeyAgent {
    fn start(keys: &[PathBuf]) -> Result<KeyAgent> {
        use std::process::{Command, Stdio};
        let dir = tempfile::Builder::new().prefix("wharf-ssh-").tempdir()?;
        let socket = dir.path().join("agent.sock");
        let child = Command::new("ssh-agent")
            .arg("-D")
            .arg("-a")
            .arg(&socket)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot run ssh-agent (install openssh-client)")?;
        let agent = KeyAgent {
            child,
            socket,
            _dir: dir,
        };
        for _ in 0..200 {
            if agent.socket.exists() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let out = Command::new("ssh-add")
            .arg("-q")
            .args(keys)
            .env("SSH_AUTH_SOCK", &agent.socket)
            // A key with a passphrase cannot be asked for here.
            .env("SSH_ASKPASS_REQUIRE", "never")
            .env_remove("DISPLAY")
            .stdin(Stdio::null())
            .output()
            .context("cannot run ssh-add (install openssh-client)")?;
        if !out.status.success() {
            bail!(
                "ssh-add: {} (a key with a passphrase: add it to your own agent and pass --ssh ID=$SSH_AUTH_SOCK)",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(agent)
    }
}

impl Drop for KeyAgent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(unix)]
fn is_socket(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::FileTypeExt;
    meta.file_type().is_socket()
}

#[cfg(not(unix))]
fn is_socket(_: &std::fs::Metadata) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::shm_size;

    #[test]
    fn sizes_as_docker_writes_them() {
        assert_eq!(shm_size("64m").unwrap(), 64 << 20);
        assert_eq!(shm_size("1G").unwrap(), 1 << 30);
        assert_eq!(shm_size("512kb").unwrap(), 512 << 10);
        assert_eq!(shm_size("2GiB").unwrap(), 2 << 30);
        assert_eq!(shm_size("4096").unwrap(), 4096);
        assert!(shm_size("0").is_err());
        assert!(shm_size("1x").is_err());
        assert!(shm_size("m").is_err());
    }
}
