//! The Windows RUN executor: a Windows stage's RUN in a transient HCS
//! compute system on a Windows host (`wharf-hcs`); the change is the
//! folder HCS exports, which the builder decodes into a Windows layer.
//!
//! The process parameters HCS gets from a [`RunSpec`]
//! ([`process_parameters`]: command line, working directory, environment
//! without empty values, the container account) are made here; the host
//! half (`crate::windows_host`: importing lower layers into layer folders,
//! the compute system, the export) is portable and tested with fakes, and
//! `crate::windows_shim` pairs it with the real calls on Windows. No
//! Windows host is available where Wharf is developed: the real calls have
//! only been type-checked, and the file calls of the base layer writer run
//! under Wine (docs/windows-run.md).

use crate::seam::{
    Command, LowerForm, LowerLayer, RunChange, RunError, RunExecutor, RunNetwork, RunSpec, RunUser,
};
use std::time::Duration;
use wharf_hcs::ProcessParameters;
use wharf_oci::{check_process_isolation, Platform, WindowsVersion};

/// Choices that hold for every Windows RUN of a build.
#[derive(Debug, Clone)]
pub struct WindowsRunSettings {
    /// A command running longer is stopped and the build fails.
    pub timeout: Duration,
    /// The host's Windows version ([`host_windows_version`] on a Windows
    /// host); `None` where there is no Windows host, and then no Windows
    /// stage is supported.
    pub host_version: Option<WindowsVersion>,
    /// A RUN without `--network` gets the NAT network (`true`, the
    /// default) or none (`wharf build --network none`).
    pub network_by_default: bool,
}

impl Default for WindowsRunSettings {
    fn default() -> Self {
        WindowsRunSettings {
            timeout: Duration::from_secs(3600),
            host_version: None,
            network_by_default: true,
        }
    }
}

/// The Windows version of the machine Wharf runs on (`RtlGetVersion`;
/// the revision is not read, as no rule uses it); `None` off Windows.
pub fn host_windows_version() -> Option<WindowsVersion> {
    #[cfg(windows)]
    {
        wharf_hcs::host_version().map(|v| WindowsVersion {
            major: v.major,
            minor: v.minor,
            build: v.build,
            revision: None,
        })
    }
    #[cfg(not(windows))]
    {
        None
    }
}

/// The first Windows build that runs Windows containers (Windows Server
/// 2016 and Windows 10 1607).
const FIRST_CONTAINER_BUILD: u32 = 14393;

/// The platform of this host: on a Windows host that can run Windows
/// containers, `windows/<arch>:10.0.<build>` with the host's build, the
/// platform images are chosen for by default. An older Windows (or Wine,
/// which reports Windows 7) runs no container, so its build would only
/// rule out every image: there the platform carries no version and the
/// base image decides, as on Linux hosts.
pub fn host_platform() -> Platform {
    let mut platform = Platform::host();
    if let Some(v) =
        host_windows_version().filter(|v| platform.is_windows() && can_run_containers(v))
    {
        platform.os_version = Some(v.to_string());
    }
    platform
}

/// Whether a Windows host of version `v` can run Windows containers.
fn can_run_containers(v: &WindowsVersion) -> bool {
    v.major >= 10 && v.build >= FIRST_CONTAINER_BUILD
}

/// Why a host of version `host` cannot run RUN in a stage of `platform`
/// (process-isolated, the only isolation Wharf uses), naming the rule and
/// both builds. A stage whose base declares no `os.version` cannot be
/// checked and is let through (containerd does the same).
pub fn refusal_for_host(host: &WindowsVersion, platform: &Platform) -> Result<(), String> {
    let Some(image) = platform.windows_version() else {
        return Ok(());
    };
    check_process_isolation(host, &image).map_err(|e| {
        format!("{e} (Wharf runs Windows RUN steps process-isolated; Hyper-V isolation is not supported)")
    })
}

/// Runs Windows RUN commands on a Windows host.
#[derive(Debug, Clone, Default)]
pub struct WindowsRunExecutor {
    settings: WindowsRunSettings,
}

impl WindowsRunExecutor {
    pub fn new(settings: WindowsRunSettings) -> Self {
        WindowsRunExecutor { settings }
    }
}

/// Whether a RUN gets a network: an HCN namespace with an endpoint on the
/// `nat` network for `--network=host` (Windows containers have no host
/// network namespace to share: `host` gets the same NAT network Docker
/// gives) and, when `by_default`, for a RUN without `--network`; none at
/// all for `--network=none`.
pub fn uses_nat(network: RunNetwork, by_default: bool) -> bool {
    match network {
        RunNetwork::Default => by_default,
        RunNetwork::Host => true,
        RunNetwork::None => false,
    }
}

/// The process HCS starts for `spec`.
pub fn process_parameters(spec: &RunSpec<'_>) -> Result<ProcessParameters, RunError> {
    let Command::CommandLine(command_line) = &spec.command else {
        return Err(RunError::Unsupported(
            "a Windows RUN takes a command line, not an argument vector".into(),
        ));
    };
    let user = match &spec.user {
        RunUser::Name(name) => name.as_str(),
        RunUser::Ids { .. } => {
            return Err(RunError::Unsupported(
                "a Windows RUN runs as an account name, not numeric ids".into(),
            ))
        }
    };
    Ok(ProcessParameters::for_run(
        command_line.clone(),
        &spec.cwd,
        spec.env.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        user,
    ))
}

impl RunExecutor for WindowsRunExecutor {
    fn supports(&self, platform: &Platform) -> bool {
        platform.is_windows() && self.settings.host_version.is_some()
    }

    fn check_platform(&self, platform: &Platform) -> Result<(), String> {
        let Some(host) = &self.settings.host_version else {
            return Err("RUN in a Windows stage needs a Windows host (HCS)".into());
        };
        // A host without the Containers feature runs no Windows RUN: say
        // so first, before anything is fetched (the HCS DLLs, loaded here
        // for the first time, are kept loaded for the RUN).
        #[cfg(windows)]
        wharf_hcs::WindowsHcs::open().map_err(|e| e.to_string())?;
        refusal_for_host(host, platform)
    }

    fn lower_form(&self) -> LowerForm {
        LowerForm::WindowsFolder
    }

    fn prepare_lower(&self, layer: &LowerLayer<'_>) -> Result<(), RunError> {
        #[cfg(windows)]
        {
            crate::windows_shim::import_lower(layer)
        }
        #[cfg(not(windows))]
        {
            let _ = layer;
            Err(RunError::Unsupported(
                "importing a Windows layer needs a Windows host (HCS)".into(),
            ))
        }
    }

    fn run(&self, spec: &RunSpec<'_>) -> Result<RunChange, RunError> {
        let process = process_parameters(spec)?;
        #[cfg(windows)]
        {
            let with_network = uses_nat(spec.network, self.settings.network_by_default);
            crate::windows_shim::run_on_host(spec, process, self.settings.timeout, with_network)
        }
        #[cfg(not(windows))]
        {
            let _ = process;
            Err(RunError::Unsupported(
                "RUN in a Windows stage needs a Windows host (HCS)".into(),
            ))
        }
    }

    fn cancel_all(&self) {
        // Each running RUN stops its command at its next check and tears
        // the compute system down.
        wharf_hcs::cancel_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn only_hosts_that_run_containers_give_their_build_to_the_default_platform() {
        let v = |s: &str| s.parse::<WindowsVersion>().unwrap();
        assert!(can_run_containers(&v("10.0.20348")));
        assert!(can_run_containers(&v("10.0.14393")));
        assert!(!can_run_containers(&v("10.0.10586")));
        assert!(
            !can_run_containers(&v("6.1.7601")),
            "Windows 7, as Wine reports"
        );
    }

    #[test]
    fn only_network_none_runs_without_nat() {
        assert!(uses_nat(RunNetwork::Default, true));
        assert!(!uses_nat(RunNetwork::Default, false));
        assert!(uses_nat(RunNetwork::Host, false));
        assert!(!uses_nat(RunNetwork::None, true));
    }

    #[test]
    fn the_host_version_decides_which_stages_run() {
        let host: WindowsVersion = "10.0.20348.2113".parse().unwrap();
        let executor = WindowsRunExecutor::new(WindowsRunSettings {
            host_version: Some(host),
            ..Default::default()
        });
        let ltsc2022: Platform = "windows/amd64:10.0.20348.1".parse().unwrap();
        let ltsc2025: Platform = "windows/amd64:ltsc2025".parse().unwrap();
        let unversioned: Platform = "windows/amd64".parse().unwrap();
        assert!(executor.supports(&ltsc2022));
        assert!(!executor.supports(&"linux/amd64".parse().unwrap()));
        // The rule alone: on Windows the executor first loads the HCS
        // DLLs, which only a host with the Containers feature has (Wine
        // has none), so the executor itself is asked off Windows only.
        assert_eq!(refusal_for_host(&host, &ltsc2022), Ok(()));
        assert_eq!(refusal_for_host(&host, &unversioned), Ok(()));
        #[cfg(not(windows))]
        {
            assert_eq!(executor.check_platform(&ltsc2022), Ok(()));
            assert!(executor.check_platform(&ltsc2025).is_err());
        }
        let refused = refusal_for_host(&host, &ltsc2025).unwrap_err();
        assert!(refused.contains("build 10.0.20348.2113"), "{refused}");
        assert!(refused.contains("build 10.0.26100"), "{refused}");
        assert!(refused.contains("process-isolated"), "{refused}");
        // Without a Windows host nothing Windows is supported.
        assert!(!WindowsRunExecutor::default().supports(&ltsc2022));
    }

    #[test]
    fn workdir_env_and_user_reach_the_process() {
        let platform: Platform = "windows/amd64".parse().unwrap();
        let spec = RunSpec {
            platform: &platform,
            command: Command::CommandLine("powershell -Command Write-Host \"hi there\"".into()),
            env: vec![
                ("MODE".into(), "prod".into()),
                ("EMPTY".into(), String::new()),
            ],
            cwd: "C:\\app".into(),
            user: RunUser::Name("containeradministrator".into()),
            lowers: Vec::new(),
            mounts: Vec::new(),
            network: RunNetwork::Default,
            options: Default::default(),
            scratch: Path::new("scratch"),
            output: &|_| {},
        };
        let p = process_parameters(&spec).unwrap();
        assert_eq!(
            p.command_line,
            "powershell -Command Write-Host \"hi there\""
        );
        assert_eq!(p.working_directory, "C:\\app");
        assert_eq!(p.environment.get("MODE").map(String::as_str), Some("prod"));
        assert!(!p.environment.contains_key("EMPTY"));
        assert_eq!(p.user.as_deref(), Some("ContainerAdministrator"));
        let linux_like = RunSpec {
            command: Command::Argv(vec!["sh".into()]),
            ..spec
        };
        assert!(process_parameters(&linux_like).is_err());
    }
}
