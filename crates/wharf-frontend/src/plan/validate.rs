//! Checks of expanded argument values: ports, signals, modes, checksums,
//! URLs. Each returns a sentence saying what was expected.

/// Normalises an EXPOSE item to `port[-port]/proto` (lowercase proto).
pub(crate) fn expose_port(item: &str) -> Result<String, String> {
    let (ports, proto) = match item.split_once('/') {
        Some((p, proto)) => (p, proto.to_ascii_lowercase()),
        None => (item, "tcp".to_string()),
    };
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(format!(
            "EXPOSE {item}: protocol {proto:?} is not tcp, udp or sctp"
        ));
    }
    let port = |s: &str| -> Result<u16, String> {
        s.parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| format!("EXPOSE {item}: {s:?} is not a port number between 1 and 65535"))
    };
    match ports.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (port(a)?, port(b)?);
            if a > b {
                return Err(format!("EXPOSE {item}: the range {a}-{b} is reversed"));
            }
            Ok(format!("{a}-{b}/{proto}"))
        }
        None => Ok(format!("{}/{proto}", port(ports)?)),
    }
}

const SIGNALS: &[&str] = &[
    "ABRT", "ALRM", "BUS", "CHLD", "CLD", "CONT", "FPE", "HUP", "ILL", "INT", "IO", "IOT", "KILL",
    "PIPE", "POLL", "PROF", "PWR", "QUIT", "SEGV", "STKFLT", "STOP", "SYS", "TERM", "TRAP", "TSTP",
    "TTIN", "TTOU", "URG", "USR1", "USR2", "VTALRM", "WINCH", "XCPU", "XFSZ",
];

/// Accepts a signal number, `SIGNAME`, `NAME` or `SIGRTMIN+n`.
pub(crate) fn stop_signal(sig: &str) -> Result<(), String> {
    if sig.parse::<u32>().is_ok_and(|n| (1..=64).contains(&n)) {
        return Ok(());
    }
    let upper = sig.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    let rt = |prefix: &str| {
        name.strip_prefix(prefix)
            .is_some_and(|n| n.is_empty() || n.parse::<u32>().is_ok_and(|v| v <= 30))
    };
    if SIGNALS.contains(&name) || rt("RTMIN+") || rt("RTMAX-") || name == "RTMIN" || name == "RTMAX"
    {
        Ok(())
    } else {
        Err(format!(
            "STOPSIGNAL {sig} is not a signal; use a name such as SIGTERM or SIGQUIT, or a number"
        ))
    }
}

/// `--chmod`: octal (`755`, `0644`) or symbolic (`u+x,go-w`).
pub(crate) fn chmod(mode: &str) -> Result<(), String> {
    crate::chmod::Chmod::parse(mode)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// `ADD --checksum`: `sha256:`, `sha384:` or `sha512:` and hex of the
/// right length.
pub(crate) fn checksum(sum: &str) -> Result<(), String> {
    let err = || {
        format!("--checksum={sum} is not a digest; use sha256:<64 hex digits> (or sha384, sha512)")
    };
    wharf_oci::Digest::parse(sum).map(|_| ()).map_err(|_| err())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports() {
        assert_eq!(expose_port("80").unwrap(), "80/tcp");
        assert_eq!(expose_port("53/UDP").unwrap(), "53/udp");
        assert_eq!(expose_port("8000-8010").unwrap(), "8000-8010/tcp");
        assert!(expose_port("0").is_err());
        assert!(expose_port("70000").is_err());
        assert!(expose_port("80/icmp").is_err());
        assert!(expose_port("90-80").is_err());
        assert!(expose_port("http").is_err());
    }

    #[test]
    fn signals() {
        for ok in ["SIGTERM", "term", "9", "SIGRTMIN+3", "SIGQUIT"] {
            assert!(stop_signal(ok).is_ok(), "{ok}");
        }
        for bad in ["SIGFOO", "0", "100", "RTMIN+99"] {
            assert!(stop_signal(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn modes_and_checksums() {
        assert!(chmod("755").is_ok());
        assert!(chmod("0644").is_ok());
        assert!(chmod("u+x,go-w").is_ok());
        assert!(chmod("a=rX").is_ok());
        assert!(chmod("999").is_err());
        assert!(chmod("rwx").is_err());
        let h = "a".repeat(64);
        assert!(checksum(&format!("sha256:{h}")).is_ok());
        assert!(checksum(&format!("sha512:{h}")).is_err());
        assert!(checksum("md5:abc").is_err());
    }
}
