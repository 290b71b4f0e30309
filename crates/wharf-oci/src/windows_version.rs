//! Windows `os.version` values (`10.0.<build>[.<revision>]`) and the
//! release names users write instead of build numbers.

use std::fmt;
use std::str::FromStr;

/// Release names and the `os.version` prefix they stand for.
pub const WINDOWS_RELEASES: &[(&str, &str)] = &[
    ("ltsc2019", "10.0.17763"),
    ("1809", "10.0.17763"),
    ("ltsc2022", "10.0.20348"),
    ("23h2", "10.0.25398"),
    ("ltsc2025", "10.0.26100"),
];

/// A parsed Windows version. The revision is optional because a request
/// (`windows/amd64:10.0.20348`) names a build, not a patch level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WindowsVersion {
    pub major: u32,
    pub minor: u32,
    pub build: u32,
    pub revision: Option<u32>,
}

impl WindowsVersion {
    /// Same `major.minor.build`: the rule for choosing an image (the
    /// revision is ignored, as Windows itself does for process isolation).
    pub fn same_build(&self, other: &WindowsVersion) -> bool {
        (self.major, self.minor, self.build) == (other.major, other.minor, other.build)
    }
}

impl fmt::Display for WindowsVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.build)?;
        if let Some(r) = self.revision {
            write!(f, ".{r}")?;
        }
        Ok(())
    }
}

impl FromStr for WindowsVersion {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let lower = s.to_ascii_lowercase();
        if let Some((_, v)) = WINDOWS_RELEASES.iter().find(|(name, _)| *name == lower) {
            return v.parse();
        }
        let nums: Vec<&str> = s.split('.').collect();
        if !(3..=4).contains(&nums.len()) {
            return Err(format!(
                "Windows version {s:?} must be 10.0.<build>[.<revision>] or one of {}",
                WINDOWS_RELEASES
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        let mut parsed = Vec::with_capacity(4);
        for n in &nums {
            if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!(
                    "Windows version {s:?} has a non-numeric component {n:?}"
                ));
            }
            parsed.push(
                n.parse::<u32>()
                    .map_err(|_| format!("Windows version {s:?}: {n:?} is too large"))?,
            );
        }
        Ok(WindowsVersion {
            major: parsed[0],
            minor: parsed[1],
            build: parsed[2],
            revision: parsed.get(3).copied(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_orders() {
        let a: WindowsVersion = "10.0.17763.5000".parse().unwrap();
        let b: WindowsVersion = "10.0.20348.1".parse().unwrap();
        let c: WindowsVersion = "10.0.20348".parse().unwrap();
        assert!(a < b);
        assert!(b.same_build(&c));
        assert!(!a.same_build(&b));
        assert_eq!("LTSC2022".parse::<WindowsVersion>().unwrap(), c);
        assert_eq!(a.to_string(), "10.0.17763.5000");
        assert!("10.0".parse::<WindowsVersion>().is_err());
        assert!("10.0.x".parse::<WindowsVersion>().is_err());
        assert!("10.0.99999999999".parse::<WindowsVersion>().is_err());
    }
}
