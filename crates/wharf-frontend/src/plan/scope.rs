//! Variable scopes, as Docker defines them:
//! - global ARGs (before the first FROM) and the automatic platform ARGs
//!   are visible to FROM lines only;
//! - inside a stage, an ARG must be declared to be visible; declaring a
//!   global or automatic ARG without a value imports its value;
//! - `--build-arg` overrides an ARG's default where it is declared;
//! - ENV overrides ARG of the same name;
//! - the proxy ARGs are predefined: usable in RUN without a declaration.

use wharf_oci::Platform;

/// Names Docker predefines; they reach RUN without an ARG line.
pub(crate) const PREDEFINED: &[&str] = &[
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
];

pub(crate) fn is_predefined(name: &str) -> bool {
    PREDEFINED.contains(&name)
}

/// The automatic platform ARGs for a build platform and a target.
pub(crate) fn automatic_args(build: &Platform, target: &Platform) -> Vec<(String, String)> {
    let mut v = vec![
        ("BUILDPLATFORM".to_string(), build.short()),
        ("BUILDOS".to_string(), build.os.clone()),
        ("BUILDARCH".to_string(), build.architecture.clone()),
        (
            "BUILDVARIANT".to_string(),
            build.variant.clone().unwrap_or_default(),
        ),
        ("TARGETPLATFORM".to_string(), target.short()),
        ("TARGETOS".to_string(), target.os.clone()),
        ("TARGETARCH".to_string(), target.architecture.clone()),
        (
            "TARGETVARIANT".to_string(),
            target.variant.clone().unwrap_or_default(),
        ),
    ];
    if target.is_windows() {
        v.push((
            "TARGETOSVERSION".to_string(),
            target.os_version.clone().unwrap_or_default(),
        ));
    }
    v
}

/// An ordered name → value list where setting a name again replaces it
/// in place (Docker keeps the first position of a variable).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Vars(pub Vec<(String, Option<String>)>);

impl Vars {
    pub fn set(&mut self, name: &str, value: Option<String>) {
        match self.0.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = value,
            None => self.0.push((name.to_string(), value)),
        }
    }

    /// `Some(Some(v))`: declared with a value; `Some(None)`: declared
    /// without one; `None`: not declared.
    pub fn get(&self, name: &str) -> Option<Option<&str>> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_deref())
    }

    pub fn value(&self, name: &str) -> Option<String> {
        self.get(name).flatten().map(str::to_string)
    }
}

/// What a stage carries from instruction to instruction.
#[derive(Debug, Clone)]
pub(crate) struct StageState {
    pub env: Vars,
    pub args: Vars,
    pub workdir: String,
    pub shell: Vec<String>,
    pub user: Option<String>,
}

impl StageState {
    /// A stage on `platform` with nothing inherited.
    pub fn fresh(platform: &Platform) -> Self {
        if platform.is_windows() {
            StageState {
                env: Vars::default(),
                args: Vars::default(),
                workdir: "C:\\".to_string(),
                shell: vec!["cmd".into(), "/S".into(), "/C".into()],
                user: None,
            }
        } else {
            StageState {
                env: Vars::default(),
                args: Vars::default(),
                workdir: "/".to_string(),
                shell: vec!["/bin/sh".into(), "-c".into()],
                user: None,
            }
        }
    }

    /// Variable lookup for expansion in this stage: ENV wins over ARG.
    pub fn lookup(&self, name: &str) -> Option<String> {
        self.env.value(name).or_else(|| self.args.value(name))
    }
}
