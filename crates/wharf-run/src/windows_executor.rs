//! The Windows RUN executor: a Windows stage's RUN in a transient HCS
//! compute system on a Windows host (`wharf-hcs`), its changes exported
//! and decoded into a Windows layer (`wharf_layer::export_folder_to_layer`).
//!
//! The decisions are portable and tested on Linux ([`plan_windows_run`]):
//! the Chocolatey translation of `apt-get`/`apk`/`yum`/`dnf` lines (unless
//! turned off), the command line (shell form: SHELL joined with the raw
//! text; exec form: MSVCRT quoting), the process parameters (WORKDIR, ENV,
//! USER as ContainerUser/ContainerAdministrator), what is refused
//! (here-documents and `--mount`, which the HCS executor does not offer).
//!
//! Running is Windows-only and has only been type-checked (no Windows host
//! is available where Wharf is developed): the stage's layers are imported
//! once each into `<store>/wharf-windows-layers/<chain id>` (the import
//! folder written by `wharf_layer::layer_to_import_folder`), the
//! orchestrator of `wharf-hcs` runs the command and always tears down,
//! and the exported folder becomes the layer. A stage's base layer must be
//! written with BackupWrite and processed as a base layer; Wharf does not
//! have that writer yet, so on a Windows host RUN stops with an error that
//! says so before anything runs.

use crate::choco::{translate, ChocoTable};
use std::time::Duration;
use wharf_build::{RunExecutor, RunOutcome, RunRequest};
use wharf_frontend::ast::{Command, Instruction};
use wharf_frontend::plan::PlannedInstruction;
use wharf_hcs::command_line::{exec_form, shell_form};
use wharf_hcs::ProcessParameters;
use wharf_image::ImageConfig;
use wharf_platform::Platform;

/// Choices that hold for every Windows RUN of a build.
#[derive(Debug, Clone)]
pub struct WindowsRunSettings {
    /// Translate Linux package-manager commands to Chocolatey.
    pub translate_packages: bool,
    /// The package table.
    pub table: ChocoTable,
    /// A command running longer is stopped and the build fails.
    pub timeout: Duration,
}

impl Default for WindowsRunSettings {
    fn default() -> Self {
        WindowsRunSettings {
            translate_packages: true,
            table: ChocoTable::builtin(),
            timeout: Duration::from_secs(3600),
        }
    }
}

/// What one Windows RUN will execute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowsRunPlan {
    /// The process HCS starts.
    pub process: ProcessParameters,
    /// The command run instead of the one written (Chocolatey).
    pub ran_instead: Option<String>,
    /// What the translation left out or did not know, for the build output.
    pub notes: Vec<String>,
}

/// The default SHELL of Windows stages.
fn default_shell() -> Vec<String> {
    vec!["cmd".into(), "/S".into(), "/C".into()]
}

/// Plans one Windows RUN.
pub fn plan_windows_run(
    ins: &PlannedInstruction,
    config: &ImageConfig,
    settings: &WindowsRunSettings,
) -> Result<WindowsRunPlan, String> {
    let Instruction::Run(run) = &ins.instruction else {
        return Err("not a RUN instruction".into());
    };
    if !run.heredocs.is_empty() {
        return Err(
            "here-documents in a Windows RUN are not supported; write the script with COPY and run it"
                .into(),
        );
    }
    if !run.mounts.is_empty() {
        return Err(
            "RUN --mount is not supported in Windows stages; COPY what the command needs".into(),
        );
    }
    let mut notes = Vec::new();
    let mut ran_instead = None;
    let command_line = match &run.command {
        Command::Shell(text) => {
            let mut text = text.clone();
            if settings.translate_packages {
                if let Some(t) = translate(&text, &settings.table) {
                    for u in &t.unknown {
                        notes.push(format!(
                            "package {u} is not in the Chocolatey table; installing it as {u} (turn translation off with --no-choco-translation)"
                        ));
                    }
                    for d in &t.dropped {
                        notes.push(format!("left out: {d}"));
                    }
                    ran_instead = Some(t.command.clone());
                    text = t.command;
                }
            }
            let shell = ins.shell.clone().unwrap_or_else(default_shell);
            shell_form(&shell, &text)
        }
        Command::Exec(args) => exec_form(args).map_err(|e| e.to_string())?,
    };
    let workdir = if ins.workdir.is_empty() {
        config.config.working_dir.clone()
    } else {
        ins.workdir.clone()
    };
    let user = ins
        .user
        .clone()
        .unwrap_or_else(|| config.config.user.clone());
    let env = ins.env.clone().unwrap_or_default();
    let process = ProcessParameters::for_run(
        command_line,
        &workdir,
        env.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        &user,
    );
    Ok(WindowsRunPlan {
        process,
        ran_instead,
        notes,
    })
}

/// Runs Windows RUN instructions on a Windows host.
#[derive(Debug, Clone, Default)]
pub struct WindowsRunExecutor {
    settings: WindowsRunSettings,
}

impl WindowsRunExecutor {
    pub fn new(settings: WindowsRunSettings) -> Self {
        WindowsRunExecutor { settings }
    }
}

impl RunExecutor for WindowsRunExecutor {
    fn supports(&self, platform: &Platform) -> bool {
        cfg!(windows) && platform.is_windows()
    }

    fn run(&self, req: &RunRequest<'_>) -> Result<RunOutcome, String> {
        let plan = plan_windows_run(req.instruction, req.config, &self.settings)?;
        for n in &plan.notes {
            (req.output)(wharf_build::OutputLine {
                stderr: true,
                text: &format!("wharf: {n}"),
            });
        }
        #[cfg(windows)]
        {
            let layer = crate::windows_host::run_on_host(req, &plan, &self.settings)?;
            Ok(RunOutcome {
                layer,
                ran_instead: plan.ran_instead,
            })
        }
        #[cfg(not(windows))]
        {
            let _ = plan;
            Err("RUN in a Windows stage needs a Windows host (HCS)".into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wharf_frontend::plan::{plan, KnownBaseImages, PlanOptions};

    fn planned(dockerfile: &str) -> (PlannedInstruction, ImageConfig) {
        let file = wharf_frontend::dockerfile::parse("Dockerfile", dockerfile).expect("parses");
        let platform: Platform = "windows/amd64".parse().unwrap();
        let options = PlanOptions {
            platforms: vec![platform.clone()],
            run_platforms: Some(vec![platform.clone()]),
            ..PlanOptions::for_host()
        };
        let p = plan(&file, dockerfile, &options, &KnownBaseImages::default()).expect("plans");
        let stage = p.targets[0].stages.last().unwrap();
        let ins = stage
            .instructions
            .iter()
            .rev()
            .find(|i| matches!(i.instruction, Instruction::Run(_)))
            .unwrap()
            .clone();
        (ins, ImageConfig::for_platform(&platform))
    }

    #[test]
    fn apt_lines_become_chocolatey_and_are_reported() {
        let (ins, config) = planned(
            "FROM mcr.microsoft.com/windows/servercore:ltsc2022\nRUN apt-get update && apt-get install -y git curl\n",
        );
        let p = plan_windows_run(&ins, &config, &WindowsRunSettings::default()).unwrap();
        let cmd = p.ran_instead.clone().expect("translated");
        assert!(cmd.starts_with("choco install -y"), "{cmd}");
        assert!(cmd.contains("git") && cmd.contains("curl"), "{cmd}");
        assert_eq!(p.process.command_line, format!("cmd /S /C {cmd}"));
        assert!(
            p.notes.iter().any(|n| n.contains("apt-get update")),
            "{:?}",
            p.notes
        );
    }

    #[test]
    fn translation_can_be_turned_off() {
        let (ins, config) = planned(
            "FROM mcr.microsoft.com/windows/servercore:ltsc2022\nRUN apt-get install -y git\n",
        );
        let settings = WindowsRunSettings {
            translate_packages: false,
            ..WindowsRunSettings::default()
        };
        let p = plan_windows_run(&ins, &config, &settings).unwrap();
        assert_eq!(p.ran_instead, None);
        assert_eq!(p.process.command_line, "cmd /S /C apt-get install -y git");
    }

    #[test]
    fn shell_workdir_env_and_user_reach_the_process() {
        let (ins, config) = planned(
            "# escape=`\nFROM mcr.microsoft.com/windows/servercore:ltsc2022\nSHELL [\"powershell\", \"-Command\"]\nWORKDIR C:\\app\nENV MODE=prod EMPTY=\nUSER ContainerAdministrator\nRUN Write-Host \"hi there\"\n",
        );
        let p = plan_windows_run(&ins, &config, &WindowsRunSettings::default()).unwrap();
        assert_eq!(
            p.process.command_line,
            "powershell -Command Write-Host \"hi there\""
        );
        assert_eq!(p.process.working_directory, "C:\\app");
        assert_eq!(
            p.process.environment.get("MODE").map(String::as_str),
            Some("prod")
        );
        assert!(!p.process.environment.contains_key("EMPTY"));
        assert_eq!(p.process.user.as_deref(), Some("ContainerAdministrator"));
        assert_eq!(p.ran_instead, None);
    }

    #[test]
    fn exec_form_is_quoted_and_unsupported_features_are_refused() {
        let (ins, config) = planned(
            "FROM mcr.microsoft.com/windows/servercore:ltsc2022\nRUN [\"C:\\\\tools\\\\x.exe\", \"a b\", \"q\\\"uote\"]\n",
        );
        let p = plan_windows_run(&ins, &config, &WindowsRunSettings::default()).unwrap();
        assert_eq!(p.process.command_line, r#"C:\tools\x.exe "a b" "q\"uote""#);
        let (ins, config) = planned(
            "FROM mcr.microsoft.com/windows/servercore:ltsc2022\nRUN --mount=type=cache,target=C:/cache dir\n",
        );
        let e = plan_windows_run(&ins, &config, &WindowsRunSettings::default()).unwrap_err();
        assert!(e.contains("--mount"), "{e}");
    }
}
