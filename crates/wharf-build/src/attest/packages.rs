//! Installed packages, read from the package databases in an image's
//! files: dpkg (`var/lib/dpkg/status`) and apk (`lib/apk/db/installed`)
//! here, rpm's SQLite database in [`super::rpmdb`] (Berkeley DB and ndb
//! databases of older rpm releases are not read; docs/attestations.md).

/// One installed package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    /// `deb`, `apk` or `rpm` (the purl type).
    pub kind: &'static str,
    pub name: String,
    pub version: String,
    pub architecture: Option<String>,
    /// The Maintainer (dpkg) or origin/maintainer (apk) field.
    pub supplier: Option<String>,
    /// The license as the database states it (apk; dpkg has none).
    pub license: Option<String>,
}

impl Package {
    /// The package URL (`pkg:deb/debian/name@version?arch=amd64`) with
    /// `distro` (os-release `ID`) as its namespace.
    pub fn purl(&self, distro: &str) -> String {
        // An rpm epoch is a qualifier in purls (`...@2.0-4?epoch=3`).
        let (epoch, version) = match self.version.split_once(':') {
            Some((e, v)) if self.kind == "rpm" => (Some(e), v),
            _ => (None, self.version.as_str()),
        };
        let mut s = format!(
            "pkg:{}/{}/{}@{}",
            self.kind,
            purl_escape(distro),
            purl_escape(&self.name),
            purl_escape(version)
        );
        let mut qualifiers = Vec::new();
        if let Some(a) = &self.architecture {
            qualifiers.push(format!("arch={}", purl_escape(a)));
        }
        if let Some(e) = epoch {
            qualifiers.push(format!("epoch={}", purl_escape(e)));
        }
        if !qualifiers.is_empty() {
            s.push('?');
            s.push_str(&qualifiers.join("&"));
        }
        s
    }
}

/// Percent-encodes what a purl segment may not hold as is.
pub fn purl_escape(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~+".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// RFC 822-style stanzas separated by blank lines, continuation lines
/// (starting with a space) folded into the previous field.
fn stanzas(text: &str) -> Vec<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut cur: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
        } else if line.starts_with([' ', '\t']) {
            if let Some(last) = cur.last_mut() {
                last.1.push('\n');
                last.1.push_str(line.trim());
            }
        } else if let Some((k, v)) = line.split_once(':') {
            cur.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Packages of a dpkg `status` file that are installed (`Status: ... installed`).
pub fn dpkg_status(text: &str) -> Vec<Package> {
    stanzas(text)
        .into_iter()
        .filter_map(|s| {
            let get = |k: &str| s.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
            let status = get("Status")?;
            if !status.split_whitespace().any(|w| w == "installed") {
                return None;
            }
            Some(Package {
                kind: "deb",
                name: get("Package")?,
                version: get("Version")?,
                architecture: get("Architecture"),
                supplier: get("Maintainer"),
                license: None,
            })
        })
        .collect()
}

/// Packages of an apk `installed` database (single-letter keys: `P`
/// name, `V` version, `A` architecture, `L` license, `m` maintainer).
pub fn apk_installed(text: &str) -> Vec<Package> {
    let mut out = Vec::new();
    for block in text.split("\n\n") {
        let mut fields = std::collections::HashMap::new();
        for line in block.lines() {
            if let Some((k, v)) = line.split_once(':') {
                if k.len() == 1 {
                    fields.entry(k).or_insert_with(|| v.to_string());
                }
            }
        }
        let (Some(name), Some(version)) = (fields.get("P"), fields.get("V")) else {
            continue;
        };
        out.push(Package {
            kind: "apk",
            name: name.clone(),
            version: version.clone(),
            architecture: fields.get("A").cloned(),
            supplier: fields.get("m").cloned(),
            license: fields.get("L").cloned(),
        });
    }
    out
}

/// `ID` and `VERSION_ID` of an os-release file.
pub fn os_release(text: &str) -> (Option<String>, Option<String>) {
    let value = |key: &str| {
        text.lines()
            .filter_map(|l| l.split_once('='))
            .find(|(k, _)| k.trim() == key)
            .map(|(_, v)| v.trim().trim_matches(['"', '\'']).to_string())
    };
    (value("ID"), value("VERSION_ID"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DPKG: &str = "Package: base-files\nStatus: install ok installed\nPriority: required\nArchitecture: amd64\nMaintainer: Santiago Vila <sanvila@debian.org>\nVersion: 12.4+deb12u5\nDescription: Debian base system\n miscellaneous files\n\nPackage: gone\nStatus: deinstall ok config-files\nVersion: 1.0\n\nPackage: libc6\nStatus: install ok installed\nArchitecture: amd64\nVersion: 2.36-9+deb12u4\n";

    #[test]
    fn dpkg_lists_installed_packages_only() {
        let p = dpkg_status(DPKG);
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].name, "base-files");
        assert_eq!(p[0].version, "12.4+deb12u5");
        assert_eq!(
            p[0].supplier.as_deref(),
            Some("Santiago Vila <sanvila@debian.org>")
        );
        assert_eq!(
            p[0].purl("debian"),
            "pkg:deb/debian/base-files@12.4+deb12u5?arch=amd64"
        );
        assert_eq!(p[1].name, "libc6");
    }

    #[test]
    fn apk_database_parses() {
        let text = "C:Q1abc=\nP:musl\nV:1.2.4-r2\nA:x86_64\nL:MIT\nm:Timo <t@a.org>\nF:lib\nR:libc.musl-x86_64.so.1\n\nC:Q1def=\nP:busybox\nV:1.36.1-r5\nA:x86_64\nL:GPL-2.0-only\n\n";
        let p = apk_installed(text);
        assert_eq!(p.len(), 2);
        assert_eq!(p[1].name, "busybox");
        assert_eq!(p[1].license.as_deref(), Some("GPL-2.0-only"));
        assert_eq!(
            p[0].purl("alpine"),
            "pkg:apk/alpine/musl@1.2.4-r2?arch=x86_64"
        );
    }

    #[test]
    fn os_release_fields() {
        let (id, v) =
            os_release("PRETTY_NAME=\"Debian GNU/Linux 12\"\nID=debian\nVERSION_ID=\"12\"\n");
        assert_eq!(id.as_deref(), Some("debian"));
        assert_eq!(v.as_deref(), Some("12"));
    }
}
