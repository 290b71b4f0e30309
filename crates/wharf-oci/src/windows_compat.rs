//! Which Windows images a Windows host runs process-isolated: the rule
//! containerd applies (`checkWindowsHostAndContainerCompat` in its
//! `platforms` package) and Microsoft documents as the stable-ABI policy
//! (docs/cross-os.md).
//!
//! - `major.minor` must be equal.
//! - A host older than Windows Server 2022 (build 20348) runs only images
//!   of its own build.
//! - From 20348 on, a host runs images from the LTSC before its own
//!   generation up to its own build: the floor is the LTSC preceding the
//!   newest LTSC the host has reached (20348 itself for 20348 up to 26099).
//!
//! The revision never matters.

use crate::WindowsVersion;

/// Long-term servicing builds that keep the previous LTSC's images
/// running, ascending (containerd's `compatLTSCReleases`).
pub const STABLE_ABI_LTSC_BUILDS: &[u32] = &[20348, 26100];

/// A host that cannot run an image process-isolated, with the rule that
/// says so.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "a Windows host of build {host} cannot run an image of build {image} process-isolated: {rule}"
)]
pub struct WindowsVersionMismatch {
    /// The host's version.
    pub host: WindowsVersion,
    /// The image's version.
    pub image: WindowsVersion,
    /// The rule applied, as a sentence.
    pub rule: String,
}

/// The lowest image build a host of build `host_build` (at least 20348)
/// runs.
fn lowest_runnable_build(host_build: u32) -> u32 {
    let reached = STABLE_ABI_LTSC_BUILDS
        .iter()
        .rposition(|&ltsc| host_build >= ltsc);
    match reached {
        Some(i) if i > 0 => STABLE_ABI_LTSC_BUILDS[i - 1],
        _ => STABLE_ABI_LTSC_BUILDS[0],
    }
}

/// Whether a host of version `host` runs an image of version `image`
/// process-isolated; the error names both builds and the rule.
pub fn check_process_isolation(
    host: &WindowsVersion,
    image: &WindowsVersion,
) -> Result<(), WindowsVersionMismatch> {
    let refuse = |rule: String| {
        Err(WindowsVersionMismatch {
            host: *host,
            image: *image,
            rule,
        })
    };
    if (host.major, host.minor) != (image.major, image.minor) {
        return refuse(format!(
            "major and minor versions must be equal ({}.{} and {}.{})",
            host.major, host.minor, image.major, image.minor
        ));
    }
    let first_ltsc = STABLE_ABI_LTSC_BUILDS[0];
    if host.build < first_ltsc {
        if host.build == image.build {
            return Ok(());
        }
        return refuse(format!(
            "hosts older than build {first_ltsc} run only images of their own build; use a base image for build {} or build on a matching host",
            host.build
        ));
    }
    let floor = lowest_runnable_build(host.build);
    if (floor..=host.build).contains(&image.build) {
        return Ok(());
    }
    refuse(format!(
        "a host of build {} runs images of builds {floor} to {}; use a base image in that range (e.g. --platform windows/<arch>:10.0.{}) or build on a newer host",
        host.build, host.build, host.build
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LTSC2019: u32 = 17763;
    const LTSC2022: u32 = 20348;
    const V22H2_WIN11: u32 = 22621;
    const V23H2: u32 = 25398;
    const LTSC2025: u32 = 26100;

    fn v(build: u32) -> WindowsVersion {
        WindowsVersion {
            major: 10,
            minor: 0,
            build,
            revision: None,
        }
    }

    /// containerd's `Test_PlatformCompat` cases, plus the edges of the
    /// ranges.
    #[test]
    fn containerd_compatibility_table() {
        let cases = [
            (LTSC2019, LTSC2019, true),
            (LTSC2019, LTSC2022, false),
            (LTSC2022, LTSC2019, false),
            (LTSC2022, LTSC2022, true),
            (V22H2_WIN11, LTSC2019, false),
            (V22H2_WIN11, LTSC2022, true),
            (V23H2, LTSC2019, false),
            (V23H2, LTSC2022, true),
            (LTSC2025, LTSC2022, true),
            (LTSC2022, LTSC2025, false),
            (LTSC2022, V22H2_WIN11, false),
            (LTSC2025, V22H2_WIN11, true),
            // Edges: a host never runs a newer image; a 26200 host is
            // still in the 2025 generation (floor 20348).
            (LTSC2025, LTSC2025, true),
            (V22H2_WIN11, V23H2, false),
            (26200, LTSC2022, true),
            (26200, 26300, false),
            (26200, LTSC2019, false),
            (17134, 17134, true),
            (17134, LTSC2019, false),
        ];
        for (host, image, runs) in cases {
            let result = check_process_isolation(&v(host), &v(image));
            assert_eq!(
                result.is_ok(),
                runs,
                "host {host}, image {image}: {result:?}"
            );
        }
    }

    #[test]
    fn revision_is_ignored_and_major_minor_must_match() {
        let host: WindowsVersion = "10.0.20348.2113".parse().unwrap();
        let image: WindowsVersion = "10.0.20348.1".parse().unwrap();
        assert!(check_process_isolation(&host, &image).is_ok());
        let other = WindowsVersion { minor: 1, ..image };
        assert!(check_process_isolation(&host, &other).is_err());
    }

    #[test]
    fn the_refusal_names_both_builds_and_the_rule() {
        let e = check_process_isolation(&v(LTSC2022), &v(LTSC2025)).unwrap_err();
        let text = e.to_string();
        assert!(text.contains("build 10.0.20348"), "{text}");
        assert!(text.contains("build 10.0.26100"), "{text}");
        assert!(text.contains("builds 20348 to 20348"), "{text}");
        let e = check_process_isolation(&v(LTSC2019), &v(LTSC2022)).unwrap_err();
        assert!(e.rule.contains("older than build 20348"), "{}", e.rule);
    }
}
