//! Resource limits of the command (`--ulimit`, Docker's names and syntax)
//! and extra `/etc/hosts` entries (`--add-host`): portable values, parsed
//! once, applied by the Linux sandbox (`setrlimit` before exec) and written
//! into an external runtime's bundle (`process.rlimits`).

use std::net::IpAddr;

/// A resource a limit applies to, by its Docker (`ulimit`) name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RlimitResource {
    Core,
    Cpu,
    Data,
    Fsize,
    Locks,
    Memlock,
    Msgqueue,
    Nice,
    Nofile,
    Nproc,
    Rss,
    Rtprio,
    Rttime,
    Sigpending,
    Stack,
}

/// Every resource with its Docker name and its OCI runtime-spec name.
const RESOURCES: [(RlimitResource, &str, &str); 15] = [
    (RlimitResource::Core, "core", "RLIMIT_CORE"),
    (RlimitResource::Cpu, "cpu", "RLIMIT_CPU"),
    (RlimitResource::Data, "data", "RLIMIT_DATA"),
    (RlimitResource::Fsize, "fsize", "RLIMIT_FSIZE"),
    (RlimitResource::Locks, "locks", "RLIMIT_LOCKS"),
    (RlimitResource::Memlock, "memlock", "RLIMIT_MEMLOCK"),
    (RlimitResource::Msgqueue, "msgqueue", "RLIMIT_MSGQUEUE"),
    (RlimitResource::Nice, "nice", "RLIMIT_NICE"),
    (RlimitResource::Nofile, "nofile", "RLIMIT_NOFILE"),
    (RlimitResource::Nproc, "nproc", "RLIMIT_NPROC"),
    (RlimitResource::Rss, "rss", "RLIMIT_RSS"),
    (RlimitResource::Rtprio, "rtprio", "RLIMIT_RTPRIO"),
    (RlimitResource::Rttime, "rttime", "RLIMIT_RTTIME"),
    (
        RlimitResource::Sigpending,
        "sigpending",
        "RLIMIT_SIGPENDING",
    ),
    (RlimitResource::Stack, "stack", "RLIMIT_STACK"),
];

impl RlimitResource {
    /// The Docker name (`nofile`).
    pub fn name(self) -> &'static str {
        RESOURCES
            .iter()
            .find(|(r, _, _)| *r == self)
            .map_or("", |(_, n, _)| n)
    }

    /// The OCI runtime-spec name (`RLIMIT_NOFILE`).
    pub fn oci_name(self) -> &'static str {
        RESOURCES
            .iter()
            .find(|(r, _, _)| *r == self)
            .map_or("", |(_, _, n)| n)
    }

    fn from_name(name: &str) -> Option<RlimitResource> {
        RESOURCES
            .iter()
            .find(|(_, n, _)| *n == name)
            .map(|(r, _, _)| *r)
    }
}

/// The value of an unlimited limit (`-1` or `unlimited` on the command
/// line; the kernel's `RLIM_INFINITY`).
pub const UNLIMITED: u64 = u64::MAX;

/// One resource limit: soft and hard values ([`UNLIMITED`] for none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Rlimit {
    pub resource: RlimitResource,
    pub soft: u64,
    pub hard: u64,
}

fn limit_value(text: &str) -> Option<u64> {
    match text {
        "-1" | "unlimited" => Some(UNLIMITED),
        _ => text.parse().ok(),
    }
}

impl Rlimit {
    /// Parses Docker's `TYPE=SOFT[:HARD]` (`nofile=1024:2048`, `core=0`,
    /// `-1` or `unlimited` for no limit); a missing hard limit equals the
    /// soft one, and the soft limit may not exceed the hard one.
    pub fn parse(text: &str) -> Result<Rlimit, String> {
        let names = || {
            RESOURCES
                .iter()
                .map(|(_, n, _)| *n)
                .collect::<Vec<_>>()
                .join(", ")
        };
        let Some((name, values)) = text.split_once('=') else {
            return Err(format!(
                "--ulimit {text}: write TYPE=SOFT[:HARD], e.g. nofile=1024:2048"
            ));
        };
        let resource = RlimitResource::from_name(name).ok_or_else(|| {
            format!(
                "--ulimit {text}: unknown limit {name:?}; known: {}",
                names()
            )
        })?;
        let (soft, hard) = match values.split_once(':') {
            Some((s, h)) => (s, h),
            None => (values, values),
        };
        let (Some(soft), Some(hard)) = (limit_value(soft), limit_value(hard)) else {
            return Err(format!(
                "--ulimit {text}: limits are non-negative numbers, -1 or unlimited"
            ));
        };
        if soft > hard {
            return Err(format!(
                "--ulimit {text}: the soft limit {soft} exceeds the hard limit {hard}"
            ));
        }
        Ok(Rlimit {
            resource,
            soft,
            hard,
        })
    }
}

impl std::fmt::Display for Rlimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let v = |n: u64| {
            if n == UNLIMITED {
                "-1".to_string()
            } else {
                n.to_string()
            }
        };
        write!(
            f,
            "{}={}:{}",
            self.resource.name(),
            v(self.soft),
            v(self.hard)
        )
    }
}

/// One extra `/etc/hosts` line: `ip name`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HostEntry {
    pub name: String,
    pub ip: IpAddr,
}

impl HostEntry {
    /// Parses `--add-host` as buildx does: `HOST=IP` or `HOST:IP` (split
    /// at the first `=`, else the first `:`, so `db:::1` is IPv6), the IP
    /// optionally in brackets. buildx's `host-gateway` (the Docker
    /// daemon's bridge address) has no counterpart here and is refused.
    pub fn parse(text: &str) -> Result<HostEntry, String> {
        let split = text.split_once('=').or_else(|| text.split_once(':'));
        let Some((name, ip)) = split.filter(|(n, i)| !n.is_empty() && !i.is_empty()) else {
            return Err(format!(
                "--add-host {text}: write HOST:IP or HOST=IP, e.g. db:10.0.0.5"
            ));
        };
        if ip == "host-gateway" {
            return Err(format!(
                "--add-host {text}: host-gateway names the Docker daemon's bridge address, which wharf does not have; RUN uses the host's network by default (the host is 127.0.0.1 there), so give an IP"
            ));
        }
        if name.chars().any(|c| c.is_whitespace() || c == '#') {
            return Err(format!(
                "--add-host {text}: the host name {name:?} cannot contain spaces or '#'"
            ));
        }
        let bare = ip
            .strip_prefix('[')
            .and_then(|i| i.strip_suffix(']'))
            .unwrap_or(ip);
        let ip = bare
            .parse()
            .map_err(|_| format!("--add-host {text}: {ip:?} is not an IP address"))?;
        Ok(HostEntry {
            name: name.to_string(),
            ip,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ulimits_parse_as_docker_writes_them() {
        let l = Rlimit::parse("nofile=1024:2048").unwrap();
        assert_eq!(
            (l.resource, l.soft, l.hard),
            (RlimitResource::Nofile, 1024, 2048)
        );
        let l = Rlimit::parse("core=0").unwrap();
        assert_eq!((l.soft, l.hard), (0, 0));
        let l = Rlimit::parse("memlock=-1:unlimited").unwrap();
        assert_eq!((l.soft, l.hard), (UNLIMITED, UNLIMITED));
        assert_eq!(l.to_string(), "memlock=-1:-1");
        assert_eq!(l.resource.oci_name(), "RLIMIT_MEMLOCK");
        assert!(Rlimit::parse("nofile=2048:1024")
            .unwrap_err()
            .contains("exceeds"));
        assert!(Rlimit::parse("files=1").unwrap_err().contains("nofile"));
        assert!(Rlimit::parse("nofile").is_err());
        assert!(Rlimit::parse("nofile=x").is_err());
    }

    #[test]
    fn hosts_parse_as_buildx_writes_them() {
        let h = HostEntry::parse("db:10.0.0.5").unwrap();
        assert_eq!(
            (h.name.as_str(), h.ip.to_string()),
            ("db", "10.0.0.5".into())
        );
        let h = HostEntry::parse("db=10.0.0.5").unwrap();
        assert_eq!(h.ip.to_string(), "10.0.0.5");
        assert_eq!(HostEntry::parse("v6:::1").unwrap().ip.to_string(), "::1");
        assert_eq!(
            HostEntry::parse("v6=[fe80::1]").unwrap().ip.to_string(),
            "fe80::1"
        );
        assert!(HostEntry::parse("db:host-gateway")
            .unwrap_err()
            .contains("give an IP"));
        assert!(HostEntry::parse("db:example.com").is_err());
        assert!(HostEntry::parse(":1.2.3.4").is_err());
        assert!(HostEntry::parse("db").is_err());
    }
}
