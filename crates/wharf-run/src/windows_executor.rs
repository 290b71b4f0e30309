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
    Command, LowerForm, LowerLayer, RunChange, RunError, RunExecutor, RunSpec, RunUser,
};
use std::time::Duration;
use wharf_hcs::ProcessParameters;
use wharf_oci::Platform;

/// Choices that hold for every Windows RUN of a build.
#[derive(Debug, Clone)]
pub struct WindowsRunSettings {
    /// A command running longer is stopped and the build fails.
    pub timeout: Duration,
}

impl Default for WindowsRunSettings {
    fn default() -> Self {
        WindowsRunSettings {
            timeout: Duration::from_secs(3600),
        }
    }
}

/// Runs Windows RUN commands on a Windows host.
#[derive(Debug, Clone, Default)]
pub struct WindowsRunExecutor {
    #[cfg_attr(not(windows), allow(dead_code))]
    settings: WindowsRunSettings,
}

impl WindowsRunExecutor {
    pub fn new(settings: WindowsRunSettings) -> Self {
        WindowsRunExecutor { settings }
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
        cfg!(windows) && platform.is_windows()
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
            crate::windows_shim::run_on_host(spec, process, self.settings.timeout)
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
        // A Windows RUN ends at its timeout or with the process: the
        // orchestrator always tears the compute system down.
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seam::RunNetwork;
    use std::path::Path;

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
