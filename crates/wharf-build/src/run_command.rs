//! What a RUN executes, from its shell or exec form.
//!
//! Linux ([`command_line`]): the argument vector, from the form and the
//! here-documents, the way BuildKit's Dockerfile front end does:
//!
//! - exec form: the arguments as written;
//! - shell form: the stage's SHELL plus the command text as one argument;
//! - here-documents: when the command is a single here-document and nothing
//!   else (`RUN <<EOF`), its body is the script: run by the SHELL, or, when
//!   it starts with `#!`, written to a file and executed directly so its
//!   interpreter line is honoured; otherwise the command text is followed by
//!   each body and its delimiter line, and the shell reads them as the
//!   here-documents they are.
//!
//! Windows ([`windows_command`]): the command line HCS starts: shell form
//! is SHELL joined with the raw text (no escaping, as Docker does), exec
//! form each argument quoted by the MSVCRT rules; `apt-get`, `apk`, `yum`
//! and `dnf` lines are translated to `choco install` unless turned off
//! (shown in the output and recorded in the history); here-documents and
//! `--mount` are refused, which the HCS executor does not offer.

use wharf_frontend::ast::{Command, Heredoc, Run};
use wharf_hcs::command_line::{exec_form, shell_form};
use wharf_run::choco::{translate, ChocoTable};

/// What to execute for one RUN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandLine {
    /// The argument vector; `args[0]` is looked up in the container's PATH.
    pub args: Vec<String>,
    /// A script to place in the container (read-only) at `script.0` before
    /// running: the body of a `#!` here-document.
    pub script: Option<(String, String)>,
}

/// Where a `#!` here-document script is mounted (as BuildKit does).
pub const SCRIPT_DIR: &str = "/dev/pipes";

/// The command line for `command` with `heredocs`, run by `shell`.
pub fn command_line(
    command: &Command,
    heredocs: &[Heredoc],
    shell: &[String],
) -> Result<CommandLine, String> {
    let text = match command {
        Command::Exec(args) => {
            if args.is_empty() {
                return Err("RUN has an empty command".into());
            }
            return Ok(CommandLine {
                args: args.clone(),
                script: None,
            });
        }
        Command::Shell(text) => text,
    };
    if shell.is_empty() {
        return Err("SHELL is empty: set SHELL [\"/bin/sh\", \"-c\"] before this RUN".into());
    }
    let with_shell = |script: String| {
        let mut args = shell.to_vec();
        args.push(script);
        args
    };
    if let [only] = heredocs {
        if only.fd.is_none() && is_only_marker(text, &only.name) {
            if only.content.starts_with("#!") {
                let path = format!("{SCRIPT_DIR}/{}", script_file_name(&only.name));
                return Ok(CommandLine {
                    args: vec![path.clone()],
                    script: Some((path, only.content.clone())),
                });
            }
            return Ok(CommandLine {
                args: with_shell(only.content.clone()),
                script: None,
            });
        }
    }
    let mut script = text.clone();
    for h in heredocs {
        script.push('\n');
        script.push_str(&h.content);
        script.push_str(&h.name);
    }
    Ok(CommandLine {
        args: with_shell(script),
        script: None,
    })
}

/// Whether `text` is nothing but a here-document marker for `name`
/// (`<<EOF`, `<<-EOF`, `<<"EOF"`, `<<'EOF'`).
fn is_only_marker(text: &str, name: &str) -> bool {
    let Some(rest) = text.trim().strip_prefix("<<") else {
        return false;
    };
    let rest = rest.strip_prefix('-').unwrap_or(rest);
    let unquoted = rest
        .strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .or_else(|| rest.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')))
        .unwrap_or(rest);
    unquoted == name
}

/// A file name for a script, from its delimiter (which may hold anything).
fn script_file_name(name: &str) -> String {
    let clean: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if clean.is_empty() {
        "script".into()
    } else {
        clean
    }
}

/// What one Windows RUN executes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowsCommand {
    /// The command line HCS starts.
    pub command_line: String,
    /// The command run instead of the one written (Chocolatey).
    pub ran_instead: Option<String>,
    /// What the translation left out or did not know, for the build output.
    pub notes: Vec<String>,
}

/// The default SHELL of Windows stages.
fn default_windows_shell() -> Vec<String> {
    vec!["cmd".into(), "/S".into(), "/C".into()]
}

/// The command line of a Windows RUN; `choco` translates Linux package
/// manager lines when given.
pub fn windows_command(
    run: &Run,
    shell: Option<&[String]>,
    choco: Option<&ChocoTable>,
) -> Result<WindowsCommand, String> {
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
            if let Some(t) = choco.and_then(|table| translate(&text, table)) {
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
            let shell = shell
                .map(<[String]>::to_vec)
                .unwrap_or_else(default_windows_shell);
            shell_form(&shell, &text)
        }
        Command::Exec(args) => exec_form(args).map_err(|e| e.to_string())?,
    };
    Ok(WindowsCommand {
        command_line,
        ran_instead,
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh() -> Vec<String> {
        vec!["/bin/sh".into(), "-c".into()]
    }

    fn doc(name: &str, content: &str) -> Heredoc {
        Heredoc {
            name: name.into(),
            content: content.into(),
            expand: true,
            strip_tabs: false,
            fd: None,
        }
    }

    #[test]
    fn exec_form_is_taken_as_written() {
        let c = command_line(&Command::Exec(vec!["ls".into(), "-l a".into()]), &[], &sh()).unwrap();
        assert_eq!(c.args, ["ls", "-l a"]);
        assert!(command_line(&Command::Exec(vec![]), &[], &sh()).is_err());
    }

    #[test]
    fn shell_form_uses_the_stage_shell() {
        let bash = vec![
            "/bin/bash".into(),
            "-eo".into(),
            "pipefail".into(),
            "-c".into(),
        ];
        let c = command_line(&Command::Shell("echo $HOME | wc".into()), &[], &bash).unwrap();
        assert_eq!(
            c.args,
            ["/bin/bash", "-eo", "pipefail", "-c", "echo $HOME | wc"]
        );
        assert!(command_line(&Command::Shell("x".into()), &[], &[]).is_err());
    }

    #[test]
    fn a_lone_heredoc_is_the_script() {
        let d = doc("EOF", "set -e\necho one\necho two\n");
        for marker in ["<<EOF", "<<-EOF", "<<\"EOF\"", " <<'EOF' "] {
            let c = command_line(
                &Command::Shell(marker.into()),
                std::slice::from_ref(&d),
                &sh(),
            )
            .unwrap();
            assert_eq!(
                c.args,
                ["/bin/sh", "-c", "set -e\necho one\necho two\n"],
                "{marker}"
            );
            assert_eq!(c.script, None);
        }
    }

    #[test]
    fn a_shebang_heredoc_is_executed_as_a_file() {
        let d = doc("PY", "#!/usr/bin/python3\nprint(1)\n");
        let c = command_line(&Command::Shell("<<PY".into()), &[d], &sh()).unwrap();
        assert_eq!(c.args, ["/dev/pipes/PY"]);
        assert_eq!(
            c.script,
            Some((
                "/dev/pipes/PY".into(),
                "#!/usr/bin/python3\nprint(1)\n".into()
            ))
        );
    }

    #[test]
    fn heredocs_in_a_command_are_given_to_the_shell() {
        let a = doc("A", "alpha\n");
        let b = doc("B", "beta\n");
        let c = command_line(
            &Command::Shell("cat <<A >/a && cat <<B >/b".into()),
            &[a, b],
            &sh(),
        )
        .unwrap();
        assert_eq!(
            c.args,
            [
                "/bin/sh",
                "-c",
                "cat <<A >/a && cat <<B >/b\nalpha\nA\nbeta\nB"
            ]
        );
    }

    #[test]
    fn script_names_are_made_safe() {
        assert_eq!(script_file_name("../x y"), "___x_y");
        assert_eq!(script_file_name(""), "script");
    }

    fn windows_run(dockerfile: &str) -> (Run, Option<Vec<String>>) {
        use wharf_frontend::ast::Instruction;
        use wharf_frontend::plan::{plan, KnownBaseImages, PlanOptions};
        let file = wharf_frontend::dockerfile::parse("Dockerfile", dockerfile).expect("parses");
        let platform: wharf_oci::Platform = "windows/amd64".parse().unwrap();
        let options = PlanOptions {
            platforms: vec![platform.clone()],
            run_platforms: Some(vec![platform]),
            ..PlanOptions::for_host()
        };
        let p = plan(&file, dockerfile, &options, &KnownBaseImages::default()).expect("plans");
        let stage = p.targets[0].stages.last().unwrap();
        let ins = stage
            .instructions
            .iter()
            .rev()
            .find(|i| matches!(i.instruction, Instruction::Run(_)))
            .unwrap();
        let Instruction::Run(run) = &ins.instruction else {
            unreachable!()
        };
        (run.clone(), ins.shell.clone())
    }

    #[test]
    fn apt_lines_become_chocolatey_and_are_reported() {
        let (run, shell) = windows_run(
            "FROM mcr.microsoft.com/windows/servercore:ltsc2022\nRUN apt-get update && apt-get install -y git curl\n",
        );
        let table = ChocoTable::builtin();
        let p = windows_command(&run, shell.as_deref(), Some(&table)).unwrap();
        let cmd = p.ran_instead.clone().expect("translated");
        assert!(cmd.starts_with("choco install -y"), "{cmd}");
        assert!(cmd.contains("git") && cmd.contains("curl"), "{cmd}");
        assert_eq!(p.command_line, format!("cmd /S /C {cmd}"));
        assert!(
            p.notes.iter().any(|n| n.contains("apt-get update")),
            "{:?}",
            p.notes
        );
    }

    #[test]
    fn translation_can_be_turned_off() {
        let (run, shell) = windows_run(
            "FROM mcr.microsoft.com/windows/servercore:ltsc2022\nRUN apt-get install -y git\n",
        );
        let p = windows_command(&run, shell.as_deref(), None).unwrap();
        assert_eq!(p.ran_instead, None);
        assert_eq!(p.command_line, "cmd /S /C apt-get install -y git");
    }

    #[test]
    fn windows_shell_form_uses_the_stage_shell() {
        let (run, shell) = windows_run(
            "# escape=`\nFROM mcr.microsoft.com/windows/servercore:ltsc2022\nSHELL [\"powershell\", \"-Command\"]\nRUN Write-Host \"hi there\"\n",
        );
        let p = windows_command(&run, shell.as_deref(), Some(&ChocoTable::builtin())).unwrap();
        assert_eq!(
            p.command_line,
            "powershell -Command Write-Host \"hi there\""
        );
        assert_eq!(p.ran_instead, None);
    }

    #[test]
    fn windows_exec_form_is_quoted_and_unsupported_features_are_refused() {
        let (run, shell) = windows_run(
            "FROM mcr.microsoft.com/windows/servercore:ltsc2022\nRUN [\"C:\\\\tools\\\\x.exe\", \"a b\", \"q\\\"uote\"]\n",
        );
        let p = windows_command(&run, shell.as_deref(), None).unwrap();
        assert_eq!(p.command_line, r#"C:\tools\x.exe "a b" "q\"uote""#);
        let (run, shell) = windows_run(
            "FROM mcr.microsoft.com/windows/servercore:ltsc2022\nRUN --mount=type=cache,target=C:/cache dir\n",
        );
        let e = windows_command(&run, shell.as_deref(), None).unwrap_err();
        assert!(e.contains("--mount"), "{e}");
    }
}
