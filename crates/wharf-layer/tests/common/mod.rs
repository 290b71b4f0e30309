//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

/// Runs the independent Python checker on a Windows layer; returns its report.
pub fn check_windows_layer(layer: &Path) -> Result<String, String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/check_windows_layer.py");
    let out = Command::new("python3")
        .arg(&script)
        .arg(layer)
        .output()
        .expect("python3 is needed by the Windows layer checker");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    if out.status.success() {
        Ok(text)
    } else {
        Err(text)
    }
}

/// Asserts that the checker accepts the layer.
pub fn assert_valid_windows_layer(layer: &Path) {
    if let Err(report) = check_windows_layer(layer) {
        panic!(
            "independent checker rejected {}:\n{report}",
            layer.display()
        );
    }
}

/// One tar entry as the tests see it: (name, type byte, link name, PAX records).
pub type Seen = (String, u8, String, Vec<(String, String)>);

/// Every entry of a (possibly compressed) tar layer.
pub fn entries(layer: &Path) -> Vec<Seen> {
    let f = std::fs::File::open(layer).unwrap();
    let r = wharf_layer::decompress(f, u64::MAX, "test").unwrap();
    let mut ar = tar::Archive::new(r);
    let mut out = Vec::new();
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().to_string_lossy().into_owned();
        let ty = e.header().entry_type().as_byte();
        let link = e
            .link_name()
            .unwrap()
            .map(|l| l.to_string_lossy().into_owned())
            .unwrap_or_default();
        let pax = e
            .pax_extensions()
            .unwrap()
            .map(|exts| {
                exts.map(|x| {
                    let x = x.unwrap();
                    (x.key().unwrap().to_string(), x.value().unwrap().to_string())
                })
                .collect()
            })
            .unwrap_or_default();
        out.push((name, ty, link, pax));
    }
    out
}
