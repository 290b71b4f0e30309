//! The SBOM statement's predicate: an SPDX 2.3 JSON document of an
//! image's contents. Linux images list the packages of their dpkg or
//! apk database; Windows images list their own layers' files with SHA-256
//! digests (Windows base layers are never downloaded, so the base is
//! named by its reference and digest instead of listed). Both name the
//! base image as a package the image descends from.

use super::packages::{apk_installed, dpkg_status, os_release, purl_escape, Package};
use serde_json::{json, Value};
use std::io::Read;
use wharf_layer::view::{StageView, ViewKind};
use wharf_oci::{Digest, Hasher, Platform};

/// SPDX's predicate type, as BuildKit writes it.
pub const SPDX_PREDICATE: &str = "https://spdx.dev/Document";

/// The image a base reference names, with the digest it resolved to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseIdentity {
    /// As written in the build file, normalised (`docker.io/library/debian:12`).
    pub reference: String,
    /// The platform image manifest's digest.
    pub digest: Digest,
}

impl BaseIdentity {
    /// `pkg:docker/NAME@DIGEST?platform=OS%2FARCH`, BuildKit's form.
    pub fn purl(&self, platform: &Platform) -> String {
        let name = self
            .reference
            .split_once('@')
            .map_or(self.reference.as_str(), |(n, _)| n);
        let name = match name.rsplit_once(':') {
            Some((n, tag)) if !tag.contains('/') => n,
            _ => name,
        };
        format!(
            "pkg:docker/{name}@{}?platform={}",
            self.digest,
            purl_escape(&platform.short())
        )
    }
}

/// What an image holds, as read from its files.
#[derive(Debug, Clone, Default)]
pub struct Contents {
    /// os-release `ID` and `VERSION_ID`.
    pub distro: Option<(String, Option<String>)>,
    pub packages: Vec<Package>,
    /// Windows: each regular file of the image's own layers and its digest.
    pub files: Vec<(String, Digest)>,
}

/// Reads the package databases of a Linux view, or (Windows) every
/// regular file with its SHA-256.
pub fn read_contents(view: &StageView, windows: bool) -> std::io::Result<Contents> {
    let read = |path: &str| -> Option<String> {
        let e = view.entry(path)?;
        let mut text = String::new();
        // Package databases are a few MiB at most; 256 MiB bounds a hostile one.
        view.open(e)
            .ok()?
            .take(256 << 20)
            .read_to_string(&mut text)
            .ok()?;
        Some(text)
    };
    let mut out = Contents::default();
    if windows {
        for e in view.entries() {
            if let ViewKind::File { .. } = e.kind {
                let mut r = view.open(e).map_err(std::io::Error::other)?;
                let mut h = Hasher::sha256();
                let mut buf = vec![0u8; 64 << 10];
                loop {
                    let n = r.read(&mut buf)?;
                    if n == 0 {
                        break;
                    }
                    h.update(&buf[..n]);
                }
                out.files.push((e.path.clone(), h.finish()));
            }
        }
        return Ok(out);
    }
    if let Some(text) = read("etc/os-release").or_else(|| read("usr/lib/os-release")) {
        if let (Some(id), version) = os_release(&text) {
            out.distro = Some((id, version));
        }
    }
    if let Some(text) = read("var/lib/dpkg/status") {
        out.packages.extend(dpkg_status(&text));
    }
    if let Some(text) = read("lib/apk/db/installed") {
        out.packages.extend(apk_installed(&text));
    }
    // rpm 4.16+: Fedora 36+ and RHEL 9 keep it under /usr/lib/sysimage.
    for db in [
        "usr/lib/sysimage/rpm/rpmdb.sqlite",
        "var/lib/rpm/rpmdb.sqlite",
    ] {
        let Some(e) = view.entry(db) else { continue };
        let mut bytes = Vec::new();
        if let Ok(mut r) = view.open(e) {
            // 512 MiB bounds a hostile one; real ones are tens of MiB.
            if r.by_ref().take(512 << 20).read_to_end(&mut bytes).is_ok() {
                // A damaged database lists nothing rather than failing the build.
                out.packages
                    .extend(super::rpmdb::rpm_packages(&bytes).unwrap_or_default());
                break;
            }
        }
    }
    Ok(out)
}

/// What the document describes besides the contents.
pub struct SbomSubject<'a> {
    /// The image's name (its first tag) or, untagged, its manifest digest.
    pub name: &'a str,
    pub manifest_digest: &'a Digest,
    pub platform: &'a Platform,
    pub base: Option<&'a BaseIdentity>,
    /// What was left out and why (e.g. Windows base layers), for the
    /// document's comment.
    pub note: Option<&'a str>,
    /// RFC 3339 creation time.
    pub created: &'a str,
}

fn spdx_id(prefix: &str, n: usize, name: &str) -> String {
    let clean: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("SPDXRef-{prefix}-{n}-{clean}")
}

/// The SPDX 2.3 document of `contents`.
pub fn spdx_document(subject: &SbomSubject<'_>, contents: &Contents) -> Value {
    let none = "NOASSERTION";
    let mut packages = vec![json!({
        "SPDXID": "SPDXRef-Image",
        "name": subject.name,
        "versionInfo": subject.manifest_digest.to_string(),
        "downloadLocation": none,
        "filesAnalyzed": !contents.files.is_empty(),
        "licenseConcluded": none,
        "licenseDeclared": none,
        "copyrightText": none,
        "primaryPackagePurpose": "CONTAINER",
        "comment": format!("platform {}", subject.platform),
    })];
    let mut relationships = vec![json!({
        "spdxElementId": "SPDXRef-DOCUMENT",
        "relationshipType": "DESCRIBES",
        "relatedSpdxElement": "SPDXRef-Image",
    })];
    if let Some(base) = subject.base {
        packages.push(json!({
            "SPDXID": "SPDXRef-BaseImage",
            "name": base.reference,
            "versionInfo": base.digest.to_string(),
            "downloadLocation": none,
            "filesAnalyzed": false,
            "licenseConcluded": none,
            "licenseDeclared": none,
            "copyrightText": none,
            "primaryPackagePurpose": "CONTAINER",
            "externalRefs": [{
                "referenceCategory": "PACKAGE-MANAGER",
                "referenceType": "purl",
                "referenceLocator": base.purl(subject.platform),
            }],
        }));
        relationships.push(json!({
            "spdxElementId": "SPDXRef-Image",
            "relationshipType": "DESCENDANT_OF",
            "relatedSpdxElement": "SPDXRef-BaseImage",
        }));
    }
    let distro = contents.distro.as_ref().map(|(id, _)| id.as_str());
    for (n, p) in contents.packages.iter().enumerate() {
        let id = spdx_id("Package", n, &p.name);
        let mut pkg = json!({
            "SPDXID": id,
            "name": p.name,
            "versionInfo": p.version,
            "downloadLocation": none,
            "filesAnalyzed": false,
            "licenseConcluded": none,
            "licenseDeclared": p.license.as_deref().unwrap_or(none),
            "copyrightText": none,
            "primaryPackagePurpose": "LIBRARY",
            "externalRefs": [{
                "referenceCategory": "PACKAGE-MANAGER",
                "referenceType": "purl",
                "referenceLocator": p.purl(distro.unwrap_or(p.kind)),
            }],
        });
        if let Some(s) = &p.supplier {
            pkg["supplier"] = format!("Person: {s}").into();
        }
        packages.push(pkg);
        relationships.push(json!({
            "spdxElementId": "SPDXRef-Image",
            "relationshipType": "CONTAINS",
            "relatedSpdxElement": id,
        }));
    }
    let mut files = Vec::new();
    for (n, (path, digest)) in contents.files.iter().enumerate() {
        let id = spdx_id("File", n, path.rsplit('/').next().unwrap_or(path));
        files.push(json!({
            "SPDXID": id,
            "fileName": format!("./{path}"),
            "checksums": [{"algorithm": "SHA256", "checksumValue": digest.hex()}],
            "licenseConcluded": none,
            "copyrightText": none,
        }));
        relationships.push(json!({
            "spdxElementId": "SPDXRef-Image",
            "relationshipType": "CONTAINS",
            "relatedSpdxElement": id,
        }));
    }
    let mut doc = json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": subject.name,
        // Unique per image and stable across rebuilds of the same image.
        "documentNamespace": format!("urn:wharf:sbom:{}", subject.manifest_digest),
        "creationInfo": {
            "created": subject.created,
            "creators": [format!("Tool: wharf-{}", env!("CARGO_PKG_VERSION"))],
        },
        "packages": packages,
        "relationships": relationships,
    });
    if !files.is_empty() {
        doc["files"] = files.into();
    }
    if let Some(note) = subject.note {
        doc["comment"] = note.into();
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(c: char) -> Digest {
        Digest::sha256_hex(&c.to_string().repeat(64)).unwrap()
    }

    #[test]
    fn a_linux_document_lists_packages_and_the_base() {
        let m = digest('a');
        let base = BaseIdentity {
            reference: "docker.io/library/debian:12".into(),
            digest: digest('b'),
        };
        let platform = Platform::new("linux", "amd64", None);
        let contents = Contents {
            distro: Some(("debian".into(), Some("12".into()))),
            packages: dpkg_status(
                "Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nVersion: 2.36\n",
            ),
            files: vec![],
        };
        let doc = spdx_document(
            &SbomSubject {
                name: "app",
                manifest_digest: &m,
                platform: &platform,
                base: Some(&base),
                note: None,
                created: "2026-01-01T00:00:00Z",
            },
            &contents,
        );
        assert_eq!(doc["spdxVersion"], "SPDX-2.3");
        let pkgs = doc["packages"].as_array().unwrap();
        assert_eq!(pkgs.len(), 3);
        assert_eq!(
            pkgs[1]["externalRefs"][0]["referenceLocator"],
            format!(
                "pkg:docker/docker.io/library/debian@{}?platform=linux%2Famd64",
                base.digest
            )
        );
        assert_eq!(
            pkgs[2]["externalRefs"][0]["referenceLocator"],
            "pkg:deb/debian/libc6@2.36?arch=amd64"
        );
        assert!(doc.get("files").is_none());
        let rels = doc["relationships"].as_array().unwrap();
        assert!(rels
            .iter()
            .any(|r| r["relationshipType"] == "DESCENDANT_OF"));
    }

    #[test]
    fn a_windows_document_lists_files_with_digests() {
        let m = digest('a');
        let platform = Platform::new("windows", "amd64", None);
        let contents = Contents {
            files: vec![("app/run.cmd".into(), digest('c'))],
            ..Contents::default()
        };
        let doc = spdx_document(
            &SbomSubject {
                name: "win",
                manifest_digest: &m,
                platform: &platform,
                base: None,
                note: Some("base layers not read"),
                created: "2026-01-01T00:00:00Z",
            },
            &contents,
        );
        assert_eq!(doc["files"][0]["fileName"], "./app/run.cmd");
        assert_eq!(
            doc["files"][0]["checksums"][0]["checksumValue"],
            "c".repeat(64)
        );
        assert_eq!(doc["comment"], "base layers not read");
    }
}
