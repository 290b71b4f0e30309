//! Target platforms: parsing, normalisation and display (the matcher that
//! picks an image for a platform is `matcher`).
//!
//! Accepted spellings (containerd's and Docker's, plus the Windows
//! version forms that Windows users write):
//!
//! - `linux/amd64`, `linux/arm64/v8`, `linux/arm/v7`, `linux` (host arch)
//! - `windows/amd64:10.0.20348` and `windows/amd64:10.0.20348.2113`
//! - `windows(10.0.17763+win32k)/amd64` (containerd's form, with features)
//! - `windows/amd64:ltsc2022` (release names for the common builds)
//!
//! Architectures are normalised the way containerd does it (`x86_64` →
//! `amd64`, `aarch64` → `arm64`, `arm64/v8` → `arm64`, `armhf` →
//! `arm/v7`), so that two spellings of one platform compare equal.

use crate::WindowsVersion;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// An OS/architecture pair with the optional refinements OCI defines.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Platform {
    /// `linux`, `windows`, `darwin`, ... (lowercase).
    pub os: String,
    /// GOARCH spelling: `amd64`, `arm64`, `arm`, `386`, `ppc64le`, `s390x`, `riscv64`.
    pub architecture: String,
    /// CPU variant (`v7` for arm); `None` where the default applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// Windows `os.version`, e.g. `10.0.20348` or `10.0.20348.2113`.
    #[serde(
        rename = "os.version",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub os_version: Option<String>,
    /// Windows `os.features`, e.g. `win32k`.
    #[serde(rename = "os.features", default, skip_serializing_if = "Vec::is_empty")]
    pub os_features: Vec<String>,
}

/// Why a platform string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid platform {input:?}: {reason}; expected os/arch[/variant], e.g. linux/amd64, linux/arm64/v8, windows/amd64:10.0.20348 or windows(10.0.17763+win32k)/amd64")]
pub struct PlatformError {
    /// The string as given.
    pub input: String,
    /// What was wrong with it.
    pub reason: String,
}

impl Platform {
    /// A platform from its parts, normalised.
    pub fn new(os: &str, architecture: &str, variant: Option<&str>) -> Self {
        let (architecture, variant) = normalize_arch(architecture, variant.unwrap_or(""));
        Platform {
            os: normalize_os(os),
            architecture,
            variant,
            os_version: None,
            os_features: Vec::new(),
        }
    }

    /// The platform of the machine Wharf runs on.
    pub fn host() -> Self {
        Platform::new(std::env::consts::OS, std::env::consts::ARCH, None)
    }

    /// `true` for Windows platforms.
    pub fn is_windows(&self) -> bool {
        self.os == "windows"
    }

    /// `true` for Linux platforms.
    pub fn is_linux(&self) -> bool {
        self.os == "linux"
    }

    /// The parsed Windows version, when one is set and well formed.
    pub fn windows_version(&self) -> Option<WindowsVersion> {
        self.os_version.as_deref().and_then(|v| v.parse().ok())
    }

    /// `os/arch[/variant]`, without Windows version or features: the form
    /// of Docker's `TARGETPLATFORM`.
    pub fn short(&self) -> String {
        match &self.variant {
            Some(v) => format!("{}/{}/{}", self.os, self.architecture, v),
            None => format!("{}/{}", self.os, self.architecture),
        }
    }
}

impl fmt::Display for Platform {
    /// containerd's format: `os(version+feature)/arch/variant` when a
    /// version or features are set, else `os/arch[/variant]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.os)?;
        if self.os_version.is_some() || !self.os_features.is_empty() {
            f.write_str("(")?;
            if let Some(v) = &self.os_version {
                f.write_str(v)?;
            }
            for feature in &self.os_features {
                write!(f, "+{feature}")?;
            }
            f.write_str(")")?;
        }
        write!(f, "/{}", self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

impl FromStr for Platform {
    type Err = PlatformError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let err = |reason: &str| PlatformError {
            input: input.to_string(),
            reason: reason.to_string(),
        };
        let s = input.trim();
        if s.is_empty() {
            return Err(err("it is empty"));
        }

        // containerd form: os(version+features)/arch
        let (head, mut os_version, mut os_features) = match s.find('(') {
            Some(open) => {
                let close = s[open..]
                    .find(')')
                    .map(|i| open + i)
                    .ok_or_else(|| err("'(' without a closing ')'"))?;
                let inner = &s[open + 1..close];
                let mut parts = inner.split('+');
                let version = parts.next().unwrap_or("").trim();
                let features: Vec<String> = parts
                    .map(|f| f.trim().to_string())
                    .filter(|f| !f.is_empty())
                    .collect();
                let rest = format!("{}{}", &s[..open], &s[close + 1..]);
                let version = (!version.is_empty()).then(|| version.to_string());
                (rest, version, features)
            }
            None => (s.to_string(), None, Vec::new()),
        };

        // Docker form: windows/amd64:10.0.20348
        let head = match head.split_once(':') {
            Some((h, v)) => {
                if os_version.is_some() {
                    return Err(err("the Windows version is given twice"));
                }
                os_version = Some(v.trim().to_string());
                h.to_string()
            }
            None => head,
        };

        let parts: Vec<&str> = head.split('/').collect();
        if parts.iter().any(|p| p.trim().is_empty()) {
            return Err(err("an empty component"));
        }
        if parts.len() > 3 {
            return Err(err("too many '/' components"));
        }
        let os = normalize_os(parts[0]);
        if !os.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(err(
                "the OS name has characters other than letters and digits",
            ));
        }
        let host = Platform::host();
        let arch = parts.get(1).copied().unwrap_or(&host.architecture);
        let variant = parts.get(2).copied().unwrap_or("");
        if !arch
            .chars()
            .chain(variant.chars())
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
        {
            return Err(err("the architecture or variant has unexpected characters"));
        }
        let (architecture, variant) = normalize_arch(arch, variant);

        if let Some(v) = &os_version {
            if os != "windows" {
                return Err(err("an OS version is only meaningful for windows"));
            }
            let parsed: WindowsVersion = v.parse().map_err(|e: String| err(&e))?;
            os_version = Some(parsed.to_string());
        }
        if !os_features.is_empty() && os != "windows" {
            return Err(err("OS features are only meaningful for windows"));
        }
        os_features.sort();
        os_features.dedup();

        Ok(Platform {
            os,
            architecture,
            variant,
            os_version,
            os_features,
        })
    }
}

fn normalize_os(os: &str) -> String {
    let os = os.trim().to_ascii_lowercase();
    match os.as_str() {
        "macos" => "darwin".to_string(),
        _ => os,
    }
}

/// containerd's architecture normalisation.
fn normalize_arch(arch: &str, variant: &str) -> (String, Option<String>) {
    let arch = arch.trim().to_ascii_lowercase();
    let variant = variant.trim().to_ascii_lowercase();
    let (arch, variant) = match arch.as_str() {
        "i386" | "i686" | "x86" => ("386".to_string(), String::new()),
        "x86_64" | "x86-64" | "amd64" => {
            let v = if variant == "v1" {
                String::new()
            } else {
                variant
            };
            ("amd64".to_string(), v)
        }
        "aarch64" | "arm64" => {
            let v = match variant.as_str() {
                "8" | "v8" | "v8.0" => String::new(),
                _ => variant,
            };
            ("arm64".to_string(), v)
        }
        "armhf" => ("arm".to_string(), "v7".to_string()),
        "armel" => ("arm".to_string(), "v6".to_string()),
        "arm" => {
            let v = match variant.as_str() {
                "" | "7" => "v7".to_string(),
                "5" | "6" | "8" => format!("v{variant}"),
                _ => variant,
            };
            ("arm".to_string(), v)
        }
        _ => (arch, variant),
    };
    let variant = (!variant.is_empty()).then_some(variant);
    (arch, variant)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Platform {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn linux_forms() {
        let a = p("linux/amd64");
        assert_eq!(a, Platform::new("linux", "amd64", None));
        assert_eq!(a.to_string(), "linux/amd64");
        let b = p("linux/arm64/v8");
        assert_eq!(b.architecture, "arm64");
        assert_eq!(b.variant, None);
        assert_eq!(p("linux/aarch64"), b);
        assert_eq!(p("Linux/x86_64"), a);
        assert_eq!(p("linux/arm").variant.as_deref(), Some("v7"));
        assert_eq!(p("linux/arm/v6").short(), "linux/arm/v6");
        assert_eq!(p("linux/armhf").short(), "linux/arm/v7");
        assert_eq!(p("linux/i386").short(), "linux/386");
        assert_eq!(p("linux").architecture, Platform::host().architecture);
    }

    #[test]
    fn windows_forms() {
        let a = p("windows/amd64:10.0.20348");
        assert!(a.is_windows());
        assert_eq!(a.os_version.as_deref(), Some("10.0.20348"));
        assert_eq!(a.to_string(), "windows(10.0.20348)/amd64");
        assert_eq!(a.short(), "windows/amd64");
        let b = p("windows(10.0.17763+win32k)/amd64");
        assert_eq!(b.os_version.as_deref(), Some("10.0.17763"));
        assert_eq!(b.os_features, vec!["win32k".to_string()]);
        assert_eq!(b.to_string(), "windows(10.0.17763+win32k)/amd64");
        assert_eq!(p(&b.to_string()), b);
        let c = p("windows/amd64:ltsc2025");
        assert_eq!(c.os_version.as_deref(), Some("10.0.26100"));
        let d = p("windows/amd64:10.0.20348.2113");
        assert_eq!(d.windows_version().unwrap().revision, Some(2113));
        assert_eq!(p("windows/amd64").os_version, None);
    }

    #[test]
    fn rejects_bad_strings() {
        for bad in [
            "",
            "/amd64",
            "linux//v7",
            "linux/amd64/v8/x",
            "linux/amd64:10.0.1",
            "windows/amd64:ten",
            "windows(10.0.17763/amd64",
            "linux(+win32k)/amd64",
            "win dows/amd64",
            "windows(10.0.17763)/amd64:10.0.20348",
        ] {
            let e = bad.parse::<Platform>().unwrap_err();
            assert_eq!(e.input, bad);
            assert!(e.to_string().contains("expected os/arch"), "{e}");
        }
    }

    #[test]
    fn serde_uses_oci_field_names() {
        let a = p("windows(10.0.17763+win32k)/amd64");
        let json = serde_json::to_value(&a).unwrap();
        assert_eq!(json["os.version"], "10.0.17763");
        assert_eq!(json["os.features"][0], "win32k");
        assert_eq!(json["architecture"], "amd64");
        let back: Platform = serde_json::from_value(json).unwrap();
        assert_eq!(back, a);
    }
}
