//! Variable scopes, as Docker defines them:
//! - global ARGs (before the first FROM) and the automatic platform ARGs
//!   are visible to FROM lines only;
//! - inside a stage, an ARG must be declared to be visible; declaring a
//!   global or automatic ARG without a value imports its value;
//! - `--build-arg` overrides an ARG's default where it is declared;
//! - ENV overrides ARG of the same name;
//! - the proxy ARGs are predefined: usable in RUN without a declaration,
//!   and RUN gets both spellings of each (`http_proxy` and `HTTP_PROXY`),
//!   as BuildKit's exec op does;
//! - `TARGETSTAGE` names the stage being built (`--target`, else the last
//!   stage's name, else `default`);
//! - a Windows stage looks variables up without regard to case, as
//!   Windows does (BuildKit's `EqualEnvKeys` on Windows).

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

/// Build arguments the builder itself consumes: `SOURCE_DATE_EPOCH`
/// pins the image's timestamps (BuildKit's `docs/build-repro.md`).
pub(crate) const BUILDER_ARGS: &[&str] = &["SOURCE_DATE_EPOCH"];

/// Build arguments that are used without any ARG declaring them.
pub(crate) fn is_predefined(name: &str) -> bool {
    PREDEFINED.contains(&name) || BUILDER_ARGS.contains(&name)
}

/// The proxy variables RUN gets from `--build-arg`, both spellings of each
/// (BuildKit's `proxyEnvFromBuildArgs`: names compared without case, in
/// sorted order so that `http_proxy` wins over `HTTP_PROXY`; empty values
/// set nothing).
pub(crate) fn proxy_env(
    build_args: &std::collections::BTreeMap<String, String>,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for kind in [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "FTP_PROXY",
        "NO_PROXY",
        "ALL_PROXY",
    ] {
        let value = build_args
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(kind))
            .map(|(_, v)| v)
            .next_back();
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            out.push((kind.to_string(), v.clone()));
            out.push((kind.to_ascii_lowercase(), v.clone()));
        }
    }
    out
}

/// The automatic ARGs for a build platform, a target platform and the
/// target stage's name.
pub(crate) fn automatic_args(
    build: &Platform,
    target: &Platform,
    target_stage: &str,
) -> Vec<(String, String)> {
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
    v.push(("TARGETSTAGE".to_string(), target_stage.to_string()));
    if target.is_windows() {
        v.push((
            "TARGETOSVERSION".to_string(),
            target.os_version.clone().unwrap_or_default(),
        ));
    }
    v
}

/// An ordered name → value list where setting a name again replaces it
/// in place (Docker keeps the first position of a variable); names
/// compare by the scope's [`CaseRule`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Vars(pub Vec<(String, Option<String>)>, pub CaseRule);

/// How variable names compare: exactly (Linux), or without regard to
/// ASCII case (Windows).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum CaseRule {
    #[default]
    Exact,
    Insensitive,
}

impl CaseRule {
    pub fn for_platform(platform: &Platform) -> Self {
        if platform.is_windows() {
            CaseRule::Insensitive
        } else {
            CaseRule::Exact
        }
    }

    pub fn same(self, a: &str, b: &str) -> bool {
        match self {
            CaseRule::Exact => a == b,
            CaseRule::Insensitive => a.eq_ignore_ascii_case(b),
        }
    }
}

impl Vars {
    /// Empty variables compared by `rule`.
    pub fn with_rule(rule: CaseRule) -> Self {
        Vars(Vec::new(), rule)
    }

    /// How this scope compares names.
    pub fn rule(&self) -> CaseRule {
        self.1
    }

    pub fn set(&mut self, name: &str, value: Option<String>) {
        let rule = self.1;
        match self.0.iter_mut().find(|(n, _)| rule.same(n, name)) {
            Some(slot) => slot.1 = value,
            None => self.0.push((name.to_string(), value)),
        }
    }

    /// `Some(Some(v))`: declared with a value; `Some(None)`: declared
    /// without one; `None`: not declared.
    pub fn get(&self, name: &str) -> Option<Option<&str>> {
        self.0
            .iter()
            .find(|(n, _)| self.1.same(n, name))
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
        let rule = CaseRule::for_platform(platform);
        if platform.is_windows() {
            StageState {
                env: Vars::with_rule(rule),
                args: Vars::with_rule(rule),
                workdir: "C:\\".to_string(),
                shell: vec!["cmd".into(), "/S".into(), "/C".into()],
                user: None,
            }
        } else {
            StageState {
                env: Vars::with_rule(rule),
                args: Vars::with_rule(rule),
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
