//! Whether this host can run another architecture's Linux programs:
//! a `binfmt_misc` handler (`/proc/sys/fs/binfmt_misc`) whose magic and
//! mask match that architecture's ELF header, as Debian's
//! `qemu-user-static` registers for `qemu-aarch64` and the others. RUN
//! then runs under emulation, as BuildKit and buildah do.
//!
//! The handler must carry the `F` (fix-binary) flag: the kernel opens the
//! interpreter when the handler is registered, so it works inside the
//! sandbox's root, where `/usr/libexec/qemu-binfmt/...` does not exist.
//! Debian's `qemu-user-static` registers with `F`; a handler without it
//! is reported, not used.

use std::path::Path;
use wharf_oci::Platform;

/// Where the kernel lists its handlers.
pub const BINFMT_DIR: &str = "/proc/sys/fs/binfmt_misc";

/// The ELF identity of an architecture: 64-bit, little-endian, `e_machine`.
fn elf_identity(platform: &Platform) -> Option<(bool, bool, u16)> {
    Some(match platform.architecture.as_str() {
        "amd64" => (true, true, 62),
        "386" => (false, true, 3),
        "arm64" => (true, true, 183),
        "arm" => (false, true, 40),
        "ppc64le" => (true, true, 21),
        "s390x" => (true, false, 22),
        "riscv64" => (true, true, 243),
        "mips64le" => (true, true, 8),
        "loong64" => (true, true, 258),
        _ => return None,
    })
}

/// The first 20 bytes of an executable of `platform` (ELF identification,
/// `e_type` EXEC, `e_machine`), what handlers' magic is matched against.
fn elf_header(platform: &Platform) -> Option<[u8; 20]> {
    let (wide, little, machine) = elf_identity(platform)?;
    let mut h = [0u8; 20];
    h[..4].copy_from_slice(b"\x7fELF");
    h[4] = if wide { 2 } else { 1 };
    h[5] = if little { 1 } else { 2 };
    h[6] = 1;
    let (t, m) = if little {
        (2u16.to_le_bytes(), machine.to_le_bytes())
    } else {
        (2u16.to_be_bytes(), machine.to_be_bytes())
    };
    h[16..18].copy_from_slice(&t);
    h[18..20].copy_from_slice(&m);
    Some(h)
}

/// One registered handler, as its file under `binfmt_misc` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handler {
    pub name: String,
    pub enabled: bool,
    pub interpreter: String,
    pub flags: String,
    offset: usize,
    magic: Vec<u8>,
    mask: Vec<u8>,
}

fn hex(s: &str) -> Option<Vec<u8>> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok())
        .collect()
}

impl Handler {
    /// Parses a handler file; `None` for extension handlers and text
    /// that is not a handler.
    pub fn parse(name: &str, text: &str) -> Option<Handler> {
        let mut h = Handler {
            name: name.to_string(),
            enabled: false,
            interpreter: String::new(),
            flags: String::new(),
            offset: 0,
            magic: Vec::new(),
            mask: Vec::new(),
        };
        for line in text.lines() {
            let (k, v) = line.split_once(' ').unwrap_or((line, ""));
            match k {
                "enabled" => h.enabled = true,
                "interpreter" => h.interpreter = v.to_string(),
                "flags:" => h.flags = v.trim().to_string(),
                "offset" => h.offset = v.trim().parse().ok()?,
                "magic" => h.magic = hex(v.trim())?,
                "mask" => h.mask = hex(v.trim())?,
                _ => {}
            }
        }
        (!h.magic.is_empty()).then_some(h)
    }

    /// Whether the handler claims `header`.
    fn matches(&self, header: &[u8]) -> bool {
        self.magic.iter().enumerate().all(|(i, m)| {
            let mask = self.mask.get(i).copied().unwrap_or(0xff);
            header
                .get(self.offset + i)
                .is_some_and(|b| b & mask == m & mask)
        })
    }
}

/// Every handler registered in `dir`, and whether `binfmt_misc` is
/// enabled at all (`status`).
pub fn handlers(dir: &Path) -> (bool, Vec<Handler>) {
    let status = std::fs::read_to_string(dir.join("status")).unwrap_or_default();
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if name == "status" || name == "register" {
                continue;
            }
            if let Ok(text) = std::fs::read_to_string(e.path()) {
                out.extend(Handler::parse(&name, &text));
            }
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    (status.trim() == "enabled", out)
}

/// Whether a Linux program of `platform` runs on this host natively.
pub fn runs_natively(platform: &Platform) -> bool {
    let host = Platform::host();
    platform.architecture == host.architecture
        || (host.architecture == "amd64" && platform.architecture == "386")
}

/// The platforms RUN can run for on this host: the host's own
/// ([`crate::host_platform`]) and, on Linux, every Linux architecture
/// that runs natively or through a usable handler in [`BINFMT_DIR`].
pub fn runnable_platforms() -> Vec<Platform> {
    let host = crate::host_platform();
    let mut out = vec![host.clone()];
    if host.os != "linux" {
        return out;
    }
    let dir = Path::new(BINFMT_DIR);
    for (arch, variant) in KNOWN_ARCHITECTURES {
        let p = Platform::new("linux", arch, variant);
        if p.architecture != host.architecture && check_emulation(&p, dir).is_ok() {
            out.push(p);
        }
    }
    out
}

/// The architectures [`elf_identity`] knows, as platforms name them.
const KNOWN_ARCHITECTURES: [(&str, Option<&str>); 9] = [
    ("amd64", None),
    ("386", None),
    ("arm64", None),
    ("arm", Some("v7")),
    ("ppc64le", None),
    ("s390x", None),
    ("riscv64", None),
    ("mips64le", None),
    ("loong64", None),
];

/// `Ok` when programs of `platform` run here, natively or through a
/// usable handler in `dir`; otherwise why not and what to install.
pub fn check_emulation(platform: &Platform, dir: &Path) -> Result<(), String> {
    if runs_natively(platform) {
        return Ok(());
    }
    let host = Platform::host().short();
    let fix = "install Debian's qemu-user-static and binfmt-support (apt-get install qemu-user-static binfmt-support), which register QEMU with the kernel's binfmt_misc, or build on a host of that architecture";
    let Some(header) = elf_header(platform) else {
        return Err(format!(
            "this {host} host cannot run {} programs, and Wharf knows no emulator for that architecture",
            platform.short()
        ));
    };
    let (enabled, handlers) = handlers(dir);
    if !dir.join("register").exists() {
        return Err(format!(
            "this {host} host runs {} programs only under emulation, and binfmt_misc is not mounted at {}: mount it (mount -t binfmt_misc binfmt_misc {}) and {fix}",
            platform.short(),
            dir.display(),
            dir.display()
        ));
    }
    let found = handlers.iter().find(|h| h.matches(&header));
    match found {
        Some(h) if enabled && h.enabled && h.flags.contains('F') => Ok(()),
        Some(h) if enabled && h.enabled => Err(format!(
            "the binfmt_misc handler {} for {} programs lacks the F (fix-binary) flag, so its interpreter {} cannot be found inside the build's root; register it with F (Debian's qemu-user-static does)",
            h.name,
            platform.short(),
            h.interpreter
        )),
        Some(h) => Err(format!(
            "the binfmt_misc handler {} for {} programs is disabled: enable it (update-binfmts --enable {})",
            h.name,
            platform.short(),
            h.name
        )),
        None => Err(format!(
            "this {host} host has no binfmt_misc handler for {} programs: {fix}",
            platform.short()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AARCH64: &str = "enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: PF\noffset 0\nmagic 7f454c460201010000000000000000000200b700\nmask ffffffffffffff00fffffffffffffffffeffffff\n";

    fn dir_with(handlers: &[(&str, &str)]) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("status"), "enabled\n").unwrap();
        std::fs::write(d.path().join("register"), "").unwrap();
        for (name, text) in handlers {
            std::fs::write(d.path().join(name), text).unwrap();
        }
        d
    }

    fn arm64() -> Platform {
        Platform::new("linux", "arm64", None)
    }

    #[test]
    fn debians_aarch64_handler_claims_arm64_and_not_others() {
        let h = Handler::parse("qemu-aarch64", AARCH64).unwrap();
        assert!(h.matches(&elf_header(&arm64()).unwrap()));
        assert!(!h.matches(&elf_header(&Platform::new("linux", "riscv64", None)).unwrap()));
        assert!(!h.matches(&elf_header(&Platform::new("linux", "arm", Some("v7"))).unwrap()));
    }

    #[test]
    fn a_foreign_architecture_needs_an_enabled_fix_binary_handler() {
        if !runs_natively(&Platform::new("linux", "amd64", None)) {
            return; // The cases below are written for an amd64 host.
        }
        let ok = dir_with(&[("qemu-aarch64", AARCH64)]);
        assert_eq!(check_emulation(&arm64(), ok.path()), Ok(()));

        let none = dir_with(&[]);
        let e = check_emulation(&arm64(), none.path()).unwrap_err();
        assert!(e.contains("apt-get install qemu-user-static"), "{e}");

        let no_f = dir_with(&[("qemu-aarch64", &AARCH64.replace("flags: PF", "flags: P"))]);
        let e = check_emulation(&arm64(), no_f.path()).unwrap_err();
        assert!(e.contains("F (fix-binary)"), "{e}");

        let disabled = dir_with(&[("qemu-aarch64", &AARCH64.replace("enabled\n", "disabled\n"))]);
        let e = check_emulation(&arm64(), disabled.path()).unwrap_err();
        assert!(e.contains("disabled"), "{e}");

        let unmounted = tempfile::tempdir().unwrap();
        let e = check_emulation(&arm64(), unmounted.path()).unwrap_err();
        assert!(e.contains("not mounted"), "{e}");

        assert_eq!(
            check_emulation(&Platform::new("linux", "386", None), none.path()),
            Ok(())
        );
    }
}
