//! What one RUN executes, decided from the Dockerfile and the stage: the
//! command, environment, working directory, user, network and mounts an
//! executor receives in a [`RunSpec`].
//!
//! Linux stages: USER names are resolved from the stage's own
//! `/etc/passwd` and `/etc/group` (read through the merged view of its
//! prepared layers); the environment is exactly the stage's (ENV and the
//! ARGs in scope) with Docker's default PATH when none is set; mounts
//! come from [`crate::run_mounts`]; a `#!` here-document is written to a
//! file and bound read-only where the command expects it. Windows stages:
//! the command line of [`crate::run_command::windows_command`] (with the
//! Chocolatey translation unless turned off), the container account, no
//! mounts.

use crate::stage_exec::{RunStep, StageExec};
use std::any::Any;
use std::path::{Path, PathBuf};
use wharf_frontend::ast::Network as DockerfileNetwork;
#[cfg(target_os = "linux")]
use wharf_frontend::plan::DEFAULT_LINUX_PATH;
use wharf_run::{Command, OutputLine, RunNetwork, RunSpec, RunUser};

/// What a RUN's spec is made over.
pub(crate) struct SpecInputs<'a, 'm> {
    /// The stage's prepared lower layers, top first.
    pub lowers: Vec<PathBuf>,
    /// The prepared layers of each `--mount`'s `from=` (mounts exist in
    /// Linux stages only, which run on Linux hosts).
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    pub mount_lowers: &'m [Option<Vec<PathBuf>>],
    /// The executor's scratch directory for this run.
    pub scratch: &'a Path,
    /// Receives the command's output.
    pub output: &'a dyn Fn(OutputLine<'_>),
}

/// A RUN ready for its executor.
pub(crate) struct PlannedRun<'a> {
    pub spec: RunSpec<'a>,
    /// The command run instead of the one written (Chocolatey).
    pub ran_instead: Option<String>,
    /// Remarks for the build output.
    pub notes: Vec<String>,
    /// What must live until the command ends (mount trees, cache locks,
    /// secret files).
    pub keep_alive: Box<dyn Any>,
}

fn network(n: Option<DockerfileNetwork>) -> RunNetwork {
    match n {
        Some(DockerfileNetwork::None) => RunNetwork::None,
        Some(DockerfileNetwork::Host) => RunNetwork::Host,
        Some(DockerfileNetwork::Default) | None => RunNetwork::Default,
    }
}

impl StageExec<'_> {
    /// The spec of `step` over the prepared layers of `io`.
    pub(crate) fn run_spec<'a>(
        &self,
        step: &'a RunStep<'_>,
        io: SpecInputs<'a, '_>,
    ) -> Result<PlannedRun<'a>, String> {
        if step.stage.platform.is_windows() {
            return self.windows_spec(step, io);
        }
        #[cfg(target_os = "linux")]
        return self.linux_spec(step, io);
        // Linux stages run on Linux hosts only (the plan refuses others).
        #[cfg(not(target_os = "linux"))]
        {
            let _ = io;
            Err(format!(
                "RUN in a {} stage needs a Linux host",
                step.stage.platform.short()
            ))
        }
    }

    fn windows_spec<'a>(
        &self,
        step: &'a RunStep<'_>,
        io: SpecInputs<'a, '_>,
    ) -> Result<PlannedRun<'a>, String> {
        let SpecInputs {
            lowers,
            scratch,
            output,
            ..
        } = io;
        let (ins, config) = (step.ins, step.config);
        let choco = self.choco;
        let command = crate::run_command::windows_command(step.run, ins.shell.as_deref(), choco)?;
        let cwd = if ins.workdir.is_empty() {
            config.config.working_dir.clone()
        } else {
            ins.workdir.clone()
        };
        let user = crate::users::user_in_effect(ins, config);
        let mut notes = command.notes;
        if !self.run_options.is_default() {
            notes.push(
                "--add-host, --shm-size and --ulimit apply to Linux RUN only; this Windows RUN runs without them".into(),
            );
        }
        Ok(PlannedRun {
            spec: RunSpec {
                platform: &step.stage.platform,
                command: Command::CommandLine(command.command_line),
                env: ins.env.clone().unwrap_or_default().into_iter().collect(),
                cwd,
                user: RunUser::Name(user),
                lowers,
                mounts: Vec::new(),
                network: network(step.run.network),
                options: Default::default(),
                scratch,
                output,
            },
            ran_instead: command.ran_instead,
            notes,
            keep_alive: Box::new(()),
        })
    }

    #[cfg(target_os = "linux")]
    fn linux_spec<'a>(
        &self,
        step: &'a RunStep<'_>,
        io: SpecInputs<'a, '_>,
    ) -> Result<PlannedRun<'a>, String> {
        let SpecInputs {
            lowers,
            mount_lowers,
            scratch,
            output,
        } = io;
        use crate::run_mounts::{prepare, MountInputs};
        use wharf_frontend::ast::Security;
        let (ins, run) = (step.ins, step.run);
        if run.security == Some(Security::Insecure) {
            return Err(
                "--security=insecure is not supported: wharf runs every RUN without extra privileges".into(),
            );
        }
        let user = self.linux_user(step, &lowers)?;
        let shell = ins
            .shell
            .clone()
            .unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into()]);
        let cmd = crate::run_command::command_line(&run.command, &run.heredocs, &shell)?;
        let cwd = if ins.workdir.is_empty() {
            "/".to_string()
        } else {
            ins.workdir.clone()
        };
        // The executor's upper and work directories go beside these.
        let temp_root = scratch.join("mounts");
        std::fs::create_dir(&temp_root)
            .map_err(|e| format!("creating {}: {e}", temp_root.display()))?;
        let mut prepared = prepare(&MountInputs {
            mounts: &run.mounts,
            sources: mount_lowers,
            context: self.context,
            secrets: self.secrets,
            ssh_agents: self.ssh_agents,
            store: self.layers.store(),
            temp_root: &temp_root,
            workdir: &cwd,
        })?;
        if let Some((path, content)) = &cmd.script {
            let file = temp_root.join("script");
            std::fs::write(&file, content)
                .map_err(|e| format!("writing the here-document script: {e}"))?;
            std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o755))
                .map_err(|e| format!("writing the here-document script: {e}"))?;
            prepared.mounts.push(wharf_run::RunMount::Bind {
                source: file,
                target: path.clone(),
                readonly: true,
            });
        }
        let mut env: Vec<(String, String)> =
            ins.env.clone().unwrap_or_default().into_iter().collect();
        if !env.iter().any(|(k, _)| k == "PATH") {
            env.push(("PATH".into(), DEFAULT_LINUX_PATH.into()));
        }
        env.append(&mut prepared.env);
        // As BuildKit: the first ssh mount's socket, unless the stage sets one.
        if let Some(sock) = prepared.ssh_auth_sock.take() {
            if !env.iter().any(|(k, _)| k == "SSH_AUTH_SOCK") {
                env.push(("SSH_AUTH_SOCK".into(), sock));
            }
        }
        let mounts = std::mem::take(&mut prepared.mounts);
        Ok(PlannedRun {
            spec: RunSpec {
                platform: &step.stage.platform,
                command: Command::Argv(cmd.args),
                env,
                cwd,
                user,
                lowers,
                mounts,
                network: network(run.network),
                options: self.run_options.clone(),
                scratch,
                output,
            },
            ran_instead: None,
            notes: Vec::new(),
            keep_alive: Box::new(prepared),
        })
    }

    /// The ids of the RUN's user, from the stage's own user database.
    #[cfg(target_os = "linux")]
    fn linux_user(&self, step: &RunStep<'_>, lowers: &[PathBuf]) -> Result<RunUser, String> {
        use wharf_sandbox::{LowerKind, LowerView};
        let user = crate::users::user_in_effect(step.ins, step.config);
        let ids = if crate::users::is_root(&user) {
            crate::users::UserIds::default()
        } else {
            let view = LowerView::new(lowers);
            let read = |p: &str| {
                let e = view.lookup(p).filter(|e| e.kind == LowerKind::File)?;
                read_small(e.layers.first()?)
            };
            crate::users::run_user_ids(
                &user,
                read("etc/passwd").as_deref(),
                read("etc/group").as_deref(),
            )
            .map_err(|e| e.to_string())?
        };
        Ok(RunUser::Ids {
            uid: ids.uid,
            gid: ids.gid,
            additional_gids: ids.additional_gids,
        })
    }
}

/// A small text file (a user database), at most 8 MiB of it.
#[cfg(target_os = "linux")]
fn read_small(path: &Path) -> Option<String> {
    use std::io::Read;
    let f = std::fs::File::open(path).ok()?;
    let mut s = String::new();
    f.take(8 << 20).read_to_string(&mut s).ok()?;
    Some(s)
}
