//! rpm databases written by rpm itself (Debian's `rpm` package: `rpmbuild`
//! makes empty noarch packages, `rpm --justdb` records them), for tests
//! of readers of `rpmdb.sqlite`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// One package to record.
pub struct RpmPackage<'a> {
    pub name: &'a str,
    pub version: &'a str,
    pub epoch: Option<u32>,
    pub description: &'a str,
}

fn run(cmd: &mut Command) {
    let out = cmd
        .output()
        .expect("rpm and rpmbuild (install Debian's rpm package)");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Builds `packages` (release 4, license "MIT and BSD", vendor "Wharf
/// Tests") under `dir` and records them in a new database; returns the
/// path of its `rpmdb.sqlite`.
pub fn rpm_database(dir: &Path, packages: &[RpmPackage<'_>]) -> PathBuf {
    let specs = dir.join("SPECS");
    std::fs::create_dir_all(&specs).unwrap();
    for p in packages {
        let epoch = p.epoch.map(|e| format!("Epoch: {e}\n")).unwrap_or_default();
        let spec = specs.join(format!("{}.spec", p.name));
        std::fs::write(
            &spec,
            format!(
                "Name: {}\nVersion: {}\nRelease: 4\n{epoch}Summary: test\nLicense: MIT and BSD\nVendor: Wharf Tests\nBuildArch: noarch\n%description\n{}\n%files\n",
                p.name, p.version, p.description
            ),
        )
        .unwrap();
        run(Command::new("rpmbuild")
            .arg("--define")
            .arg(format!("_topdir {}", dir.display()))
            .arg("-bb")
            .arg(&spec));
    }
    let db = dir.join("db");
    std::fs::create_dir_all(&db).unwrap();
    run(Command::new("rpm").arg("--dbpath").arg(&db).arg("--initdb"));
    for e in std::fs::read_dir(dir.join("RPMS/noarch")).unwrap() {
        run(Command::new("rpm")
            .arg("--dbpath")
            .arg(&db)
            .args(["-i", "--justdb", "--nodeps", "--ignorearch", "--ignoreos"])
            .arg(e.unwrap().path()));
    }
    db.join("rpmdb.sqlite")
}
