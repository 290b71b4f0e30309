//! Choosing one entry of an image index for a wanted platform.
//!
//! Linux (and every non-Windows OS) follows the OCI rule: the first entry
//! whose OS, architecture and variant match. Windows adds the `os.version`
//! rule (docs/registry.md): match `major.minor.build` of the requested version,
//! ignore the revision, prefer the highest revision among matches; failing
//! that, the newest entry a host of the requested build runs
//! process-isolated (containerd's rule, `windows_compat`), with a note; with
//! no version requested, take the newest and say so rather than silently
//! taking whichever entry comes first.

use crate::{check_process_isolation, Platform, WindowsVersion};

/// The chosen entry and, when the choice was not obvious, a sentence for
/// the build output explaining it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// Index into the candidate list.
    pub index: usize,
    /// Explanation to show the user, e.g. which Windows version was taken
    /// when none was asked for.
    pub note: Option<String>,
}

/// No candidate fits; lists what the index does offer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "no image for platform {wanted}; the image offers: {}. Pick one of these with --platform (or FROM --platform)",
    if available.is_empty() { "nothing".to_string() } else { available.join(", ") }
)]
pub struct NoMatchingPlatform {
    /// The requested platform, displayed.
    pub wanted: String,
    /// Every candidate platform, displayed.
    pub available: Vec<String>,
}

fn arch_matches(wanted: &Platform, have: &Platform) -> bool {
    if wanted.os != have.os || wanted.architecture != have.architecture {
        return false;
    }
    match (&wanted.variant, &have.variant) {
        (None, _) => true,
        (Some(w), Some(h)) => w == h,
        (Some(_), None) => false,
    }
}

fn features_match(wanted: &Platform, have: &Platform) -> bool {
    wanted
        .os_features
        .iter()
        .all(|f| have.os_features.iter().any(|h| h == f))
}

/// Picks the candidate for `wanted` (see the module docs for the rules).
pub fn select(wanted: &Platform, candidates: &[Platform]) -> Result<Selection, NoMatchingPlatform> {
    let no_match = || NoMatchingPlatform {
        wanted: wanted.to_string(),
        available: candidates.iter().map(|c| c.to_string()).collect(),
    };
    let fitting: Vec<usize> = candidates
        .iter()
        .enumerate()
        .filter(|(_, c)| arch_matches(wanted, c) && features_match(wanted, c))
        .map(|(i, _)| i)
        .collect();

    if !wanted.is_windows() {
        // An exact variant beats a candidate that merely does not contradict.
        let exact = fitting
            .iter()
            .copied()
            .find(|&i| candidates[i].variant == wanted.variant);
        return exact
            .or_else(|| fitting.first().copied())
            .map(|index| Selection { index, note: None })
            .ok_or_else(no_match);
    }

    let versioned: Vec<(usize, WindowsVersion)> = fitting
        .iter()
        .filter_map(|&i| candidates[i].windows_version().map(|v| (i, v)))
        .collect();

    match wanted.windows_version() {
        Some(want) => versioned
            .iter()
            .filter(|(_, v)| v.same_build(&want))
            .max_by_key(|(i, v)| (v.revision.unwrap_or(0), std::cmp::Reverse(*i)))
            .map(|&(index, _)| Selection { index, note: None })
            .or_else(|| {
                // No entry of that build: the newest one a host of that
                // build runs (containerd's matcher picks the same one).
                versioned
                    .iter()
                    .filter(|(_, v)| check_process_isolation(&want, v).is_ok())
                    .max_by_key(|(i, v)| (*v, std::cmp::Reverse(*i)))
                    .map(|&(index, version)| Selection {
                        index,
                        note: Some(format!(
                            "the image has no {} entry for build {}; using {}, which a host of build {} runs",
                            wanted.short(),
                            want,
                            version,
                            want.build
                        )),
                    })
            })
            .or_else(|| {
                // An index whose single Windows entry has no os.version at
                // all cannot be checked; take it, but say so.
                (fitting.len() == 1 && versioned.is_empty()).then(|| Selection {
                    index: fitting[0],
                    note: Some(format!(
                        "the image's only {} entry declares no os.version; using it for {}",
                        wanted.short(),
                        want
                    )),
                })
            })
            .ok_or_else(no_match),
        None => {
            if let Some(&(index, version)) = versioned
                .iter()
                .max_by_key(|(i, v)| (*v, std::cmp::Reverse(*i)))
            {
                let note = (fitting.len() > 1).then(|| {
                    format!(
                        "no Windows version requested; the image has {} {} entries, using the newest, {} (ask for another with --platform {}:<version>)",
                        fitting.len(),
                        wanted.short(),
                        version,
                        wanted.short()
                    )
                });
                Ok(Selection { index, note })
            } else {
                fitting
                    .first()
                    .map(|&index| Selection { index, note: None })
                    .ok_or_else(no_match)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Platform {
        s.parse().unwrap()
    }

    fn windows_index() -> Vec<Platform> {
        vec![
            p("linux/amd64"),
            p("windows/amd64:10.0.17763.1000"),
            p("windows/amd64:10.0.20348.100"),
            p("windows/amd64:10.0.20348.2113"),
            p("windows/amd64:10.0.26100.50"),
            p("windows/arm64:10.0.26100.50"),
        ]
    }

    #[test]
    fn windows_build_match_prefers_highest_revision() {
        let idx = windows_index();
        assert_eq!(
            select(&p("windows/amd64:10.0.20348"), &idx).unwrap().index,
            3
        );
        assert_eq!(
            select(&p("windows/amd64:10.0.20348.1"), &idx)
                .unwrap()
                .index,
            3
        );
        assert_eq!(
            select(&p("windows/amd64:10.0.17763"), &idx).unwrap().index,
            1
        );
        assert_eq!(select(&p("windows/arm64:ltsc2025"), &idx).unwrap().index, 5);
    }

    #[test]
    fn windows_without_version_takes_newest_and_says_so() {
        let idx = windows_index();
        let s = select(&p("windows/amd64"), &idx).unwrap();
        assert_eq!(s.index, 4);
        let note = s.note.unwrap();
        assert!(note.contains("10.0.26100.50"), "{note}");
        assert!(note.contains("4 windows/amd64 entries"), "{note}");
    }

    #[test]
    fn windows_missing_version_lists_what_exists() {
        let idx = windows_index();
        let e = select(&p("windows/amd64:10.0.17134"), &idx).unwrap_err();
        assert_eq!(e.wanted, "windows(10.0.17134)/amd64");
        assert_eq!(e.available.len(), 6);
        assert!(e.to_string().contains("windows(10.0.17763.1000)/amd64"));
    }

    #[test]
    fn windows_without_that_build_takes_the_newest_runnable_entry() {
        let idx = windows_index();
        // A 23H2 host runs 20348 images (not 26100): the highest revision.
        let s = select(&p("windows/amd64:10.0.25398"), &idx).unwrap();
        assert_eq!(s.index, 3);
        let note = s.note.unwrap();
        assert!(note.contains("10.0.20348.2113"), "{note}");
        // A 2025-generation host newer than every entry.
        assert_eq!(
            select(&p("windows/amd64:10.0.26200"), &idx).unwrap().index,
            4
        );
        // Older hosts need their own build.
        assert!(select(&p("windows/amd64:10.0.19041"), &idx).is_err());
        let only_2019 = vec![p("windows/amd64:10.0.17763.1000")];
        assert!(select(&p("windows/amd64:10.0.20348"), &only_2019).is_err());
    }

    #[test]
    fn features_must_be_present() {
        let idx = vec![
            p("windows/amd64:10.0.17763.1"),
            p("windows(10.0.17763.2+win32k)/amd64"),
        ];
        assert_eq!(
            select(&p("windows(10.0.17763+win32k)/amd64"), &idx)
                .unwrap()
                .index,
            1
        );
    }

    #[test]
    fn linux_first_match_and_variants() {
        let idx = vec![
            p("linux/arm/v6"),
            p("linux/arm/v7"),
            p("linux/arm64"),
            p("linux/amd64"),
            p("linux/amd64"),
        ];
        assert_eq!(select(&p("linux/amd64"), &idx).unwrap().index, 3);
        assert_eq!(select(&p("linux/arm/v7"), &idx).unwrap().index, 1);
        assert_eq!(select(&p("linux/arm64/v8"), &idx).unwrap().index, 2);
        assert!(select(&p("linux/s390x"), &idx).is_err());
        assert!(select(&p("windows/amd64"), &idx).is_err());
    }
}
