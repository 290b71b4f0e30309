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
/// (`default` included) is `$SSH_AUTH_SOCK`; `ID=PATH` a socket. buildx
/// also takes key files (`ID=KEY[,KEY]`) and serves them from an
/// in-memory agent; wharf has none and refuses them, naming the fix.
pub fn ssh_agents(a: &BuildArgs) -> Result<BTreeMap<String, PathBuf>> {
    let mut out = BTreeMap::new();
    if cfg!(not(target_os = "linux")) && !a.ssh.is_empty() {
        bail!("--ssh: RUN --mount=type=ssh runs in Linux stages, which run on Linux hosts only");
    }
    for spec in &a.ssh {
        let (id, paths) = match spec.split_once('=') {
            Some((id, p)) => (id, Some(p)),
            None => (spec.as_str(), None),
        };
        if id.is_empty() {
            bail!("--ssh {spec}: the id is empty; write default, ID or ID=SOCKET");
        }
        let socket = match paths {
            None => match std::env::var_os("SSH_AUTH_SOCK").filter(|s| !s.is_empty()) {
                Some(s) => PathBuf::from(s),
                None => bail!(
                    "--ssh {spec}: SSH_AUTH_SOCK is not set; start an agent (eval $(ssh-agent); ssh-add) or write --ssh {id}=SOCKET"
                ),
            },
            Some(p) if p.contains(',') => bail!(
                "--ssh {spec}: several paths are key files, which wharf does not load; run ssh-agent, ssh-add each key, and pass --ssh {id}=$SSH_AUTH_SOCK"
            ),
            Some(p) => PathBuf::from(p),
        };
        let meta = std::fs::metadata(&socket)
            .with_context(|| format!("--ssh {spec}: reading {}", socket.display()))?;
        if !is_socket(&meta) {
            bail!(
                "--ssh {spec}: {} is not an agent socket (a key file?); wharf forwards agents only: run ssh-agent, ssh-add {}, and pass --ssh {id}=$SSH_AUTH_SOCK",
                socket.display(),
                socket.display()
            );
        }
        out.insert(id.to_string(), socket);
    }
    Ok(out)
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
