//! The Dockerfile parser over a corpus of constructs: every instruction,
//! both forms, flags, heredocs, directives and the backtick escape.

use wharf_frontend::ast::*;
use wharf_frontend::dockerfile::parse;

fn parse_ok(src: &str) -> BuildFile {
    parse("Dockerfile", src).unwrap_or_else(|e| panic!("{e}"))
}

fn nodes(src: &str) -> Vec<Instruction> {
    parse_ok(src)
        .instructions
        .into_iter()
        .map(|i| i.node)
        .collect()
}

#[test]
fn from_forms() {
    let n = nodes(
        "FROM alpine\nfrom --platform=$BUILDPLATFORM golang:1.22 as Build\nFROM build AS final\n",
    );
    assert_eq!(
        n[0],
        Instruction::From(From {
            image: "alpine".into(),
            name: None,
            platform: None
        })
    );
    assert_eq!(
        n[1],
        Instruction::From(From {
            image: "golang:1.22".into(),
            name: Some("build".into()),
            platform: Some("$BUILDPLATFORM".into())
        })
    );
    assert!(matches!(&n[2], Instruction::From(f) if f.name.as_deref() == Some("final")));
}

#[test]
fn run_shell_exec_and_json_fallback() {
    let f = parse_ok("FROM x\nRUN echo hi\nRUN [\"echo\", \"a b\"]\nRUN [echo, hi]\n");
    let n: Vec<_> = f.instructions.iter().map(|i| &i.node).collect();
    assert!(matches!(n[1], Instruction::Run(r) if r.command == Command::Shell("echo hi".into())));
    assert!(
        matches!(n[2], Instruction::Run(r) if r.command == Command::Exec(vec!["echo".into(), "a b".into()]))
    );
    assert!(
        matches!(n[3], Instruction::Run(r) if r.command == Command::Shell("[echo, hi]".into()))
    );
    assert!(f
        .warnings
        .iter()
        .any(|w| w.pos.line == 4 && w.message.contains("not a JSON array")));
}

#[test]
fn run_flags() {
    let n = nodes(
        "FROM x\nRUN --mount=type=cache,target=/root/.cache/pip,sharing=locked \\\n    --mount=type=secret,id=tok,target=/run/tok \\\n    --mount=type=bind,from=build,source=/out,target=/in \\\n    --mount=type=tmpfs,target=/tmp \\\n    --mount=type=ssh \\\n    --network=none --security=insecure pip install x\n",
    );
    let Instruction::Run(r) = &n[1] else { panic!() };
    assert_eq!(r.mounts.len(), 5);
    assert!(
        matches!(&r.mounts[0], Mount::Cache { sharing: CacheSharing::Locked, target, .. } if target == "/root/.cache/pip")
    );
    assert!(matches!(&r.mounts[1], Mount::Secret { id: Some(id), .. } if id == "tok"));
    assert!(
        matches!(&r.mounts[2], Mount::Bind { from: Some(f), readwrite: false, .. } if f == "build")
    );
    assert!(matches!(&r.mounts[3], Mount::Tmpfs { .. }));
    assert!(matches!(&r.mounts[4], Mount::Ssh { .. }));
    assert_eq!(r.network, Some(Network::None));
    assert_eq!(r.security, Some(Security::Insecure));
    assert_eq!(r.command, Command::Shell("pip install x".into()));
}

#[test]
fn cmd_entrypoint_shell() {
    let n = nodes("FROM x\nCMD [\"a\"]\nCMD []\nENTRYPOINT exec top -b\nSHELL [\"powershell\", \"-Command\"]\n");
    assert_eq!(
        n[1],
        Instruction::Cmd {
            command: Command::Exec(vec!["a".into()])
        }
    );
    assert_eq!(
        n[2],
        Instruction::Cmd {
            command: Command::Exec(vec![])
        }
    );
    assert_eq!(
        n[3],
        Instruction::Entrypoint {
            command: Command::Shell("exec top -b".into())
        }
    );
    assert_eq!(
        n[4],
        Instruction::Shell {
            shell: vec!["powershell".into(), "-Command".into()]
        }
    );
}

#[test]
fn copy_and_add_flags() {
    let n = nodes(concat!(
        "FROM x\n",
        "COPY --from=build --chown=app:app --chmod=755 --link --parents --exclude=*.md --exclude=tmp a b /dst/\n",
        "COPY [\"with space\", \"/d st/\"]\n",
        "ADD --checksum=sha256:abc --keep-git-dir=true --unpack=false https://x/y.tar /z\n",
    ));
    let Instruction::Copy(c) = &n[1] else {
        panic!()
    };
    assert_eq!(c.sources, vec!["a", "b"]);
    assert_eq!(c.dest, "/dst/");
    assert_eq!(c.from.as_deref(), Some("build"));
    assert_eq!(c.chown.as_deref(), Some("app:app"));
    assert_eq!(c.chmod.as_deref(), Some("755"));
    assert!(c.link && c.parents);
    assert_eq!(c.exclude, vec!["*.md", "tmp"]);
    let Instruction::Copy(c) = &n[2] else {
        panic!()
    };
    assert!(c.json);
    assert_eq!(c.sources, vec!["with space"]);
    assert_eq!(c.dest, "/d st/");
    let Instruction::Add { copy, options } = &n[3] else {
        panic!()
    };
    assert_eq!(options.checksum.as_deref(), Some("sha256:abc"));
    assert!(options.keep_git_dir);
    assert_eq!(options.unpack, Some(false));
    assert_eq!(copy.sources, vec!["https://x/y.tar"]);
}

#[test]
fn env_label_arg_forms() {
    let f = parse_ok(concat!(
        "ARG A B=2 C=\"x y\"\n",
        "FROM x\n",
        "ENV K=v K2=\"two words\" K3=a\\ b\n",
        "ENV LEGACY some value here\n",
        "LABEL \"com.example.vendor\"=\"ACME Inc\" version=1.0\n",
        "LABEL legacy value\n",
    ));
    let n: Vec<_> = f.instructions.iter().map(|i| i.node.clone()).collect();
    assert_eq!(
        n[0],
        Instruction::Arg {
            args: vec![
                ArgDecl {
                    name: "A".into(),
                    default: None
                },
                ArgDecl {
                    name: "B".into(),
                    default: Some("2".into())
                },
                ArgDecl {
                    name: "C".into(),
                    default: Some("\"x y\"".into())
                },
            ]
        }
    );
    assert_eq!(
        n[2],
        Instruction::Env {
            vars: vec![
                ("K".into(), "v".into()),
                ("K2".into(), "\"two words\"".into()),
                ("K3".into(), "a\\ b".into())
            ]
        }
    );
    assert_eq!(
        n[3],
        Instruction::Env {
            vars: vec![("LEGACY".into(), "some value here".into())]
        }
    );
    assert_eq!(
        n[4],
        Instruction::Label {
            labels: vec![
                ("\"com.example.vendor\"".into(), "\"ACME Inc\"".into()),
                ("version".into(), "1.0".into())
            ]
        }
    );
    assert_eq!(
        f.warnings
            .iter()
            .filter(|w| w.message.contains("legacy"))
            .count(),
        2
    );
}

#[test]
fn expose_volume_user_workdir_stopsignal_maintainer() {
    let f = parse_ok(concat!(
        "FROM x\n",
        "EXPOSE 80 443/tcp 53/udp 8000-8010\n",
        "VOLUME [\"/data\", \"/logs\"]\n",
        "VOLUME /a /b\n",
        "USER app:staff\n",
        "WORKDIR /my dir\n",
        "STOPSIGNAL SIGQUIT\n",
        "MAINTAINER Jane <jane@example.com>\n",
    ));
    let n: Vec<_> = f.instructions.iter().map(|i| i.node.clone()).collect();
    assert_eq!(
        n[1],
        Instruction::Expose {
            ports: vec![
                "80".into(),
                "443/tcp".into(),
                "53/udp".into(),
                "8000-8010".into()
            ]
        }
    );
    assert_eq!(
        n[2],
        Instruction::Volume {
            paths: vec!["/data".into(), "/logs".into()]
        }
    );
    assert_eq!(
        n[3],
        Instruction::Volume {
            paths: vec!["/a".into(), "/b".into()]
        }
    );
    assert_eq!(
        n[4],
        Instruction::User {
            user: "app:staff".into()
        }
    );
    assert_eq!(
        n[5],
        Instruction::Workdir {
            path: "/my dir".into()
        }
    );
    assert_eq!(
        n[6],
        Instruction::Stopsignal {
            signal: "SIGQUIT".into()
        }
    );
    assert_eq!(
        n[7],
        Instruction::Maintainer {
            name: "Jane <jane@example.com>".into()
        }
    );
    assert!(f
        .warnings
        .iter()
        .any(|w| w.pos.line == 8 && w.message.contains("deprecated")));
}

#[test]
fn healthcheck_forms() {
    let n = nodes(concat!(
        "FROM x\n",
        "HEALTHCHECK NONE\n",
        "HEALTHCHECK --interval=30s --timeout=5s --start-period=1m --start-interval=2s --retries=3 CMD curl -f http://localhost/ || exit 1\n",
        "HEALTHCHECK CMD [\"/bin/check\"]\n",
    ));
    assert_eq!(n[1], Instruction::Healthcheck(Healthcheck::None));
    assert_eq!(
        n[2],
        Instruction::Healthcheck(Healthcheck::Cmd {
            command: Command::Shell("curl -f http://localhost/ || exit 1".into()),
            interval: Some("30s".into()),
            timeout: Some("5s".into()),
            start_period: Some("1m".into()),
            start_interval: Some("2s".into()),
            retries: Some(3),
        })
    );
    assert!(
        matches!(&n[3], Instruction::Healthcheck(Healthcheck::Cmd { command: Command::Exec(v), .. }) if v == &vec!["/bin/check".to_string()])
    );
}

#[test]
fn onbuild_triggers() {
    let n = nodes("FROM x\nONBUILD COPY . /app\nONBUILD RUN make\n");
    let Instruction::Onbuild { trigger, parsed } = &n[1] else {
        panic!()
    };
    assert_eq!(trigger, "COPY . /app");
    assert!(matches!(**parsed, Instruction::Copy(_)));
    assert!(
        matches!(&n[2], Instruction::Onbuild { parsed, .. } if matches!(**parsed, Instruction::Run(_)))
    );
}

#[test]
fn heredocs_in_run_copy_add() {
    let f = parse_ok(concat!(
        "FROM x\n",
        "RUN <<EOF\n",
        "set -e\n",
        "echo $HOME\n",
        "EOF\n",
        "RUN python3 <<'PY' > /out.txt\n",
        "print('$HOME')\n",
        "PY\n",
        "COPY <<a.txt <<-b.txt /dst/\n",
        "alpha\n",
        "a.txt\n",
        "\tbeta\n",
        "\tb.txt\n",
        "ADD <<EOF /x\n",
        "y\n",
        "EOF\n",
        "CMD done\n",
    ));
    let i = &f.instructions;
    let Instruction::Run(r) = &i[1].node else {
        panic!()
    };
    assert_eq!(r.command, Command::Shell("<<EOF".into()));
    assert_eq!(r.heredocs[0].content, "set -e\necho $HOME\n");
    assert!(r.heredocs[0].expand);
    assert_eq!((i[1].pos.line, i[1].end_line), (2, 5));
    let Instruction::Run(r) = &i[2].node else {
        panic!()
    };
    assert_eq!(
        r.command,
        Command::Shell("python3 <<'PY' > /out.txt".into())
    );
    assert!(!r.heredocs[0].expand);
    let Instruction::Copy(c) = &i[3].node else {
        panic!()
    };
    assert_eq!(c.sources, vec!["<<a.txt", "<<b.txt"]);
    assert_eq!(c.heredocs[0].content, "alpha\n");
    assert_eq!(c.heredocs[1].content, "beta\n");
    assert_eq!(c.dest, "/dst/");
    let Instruction::Add { copy, .. } = &i[4].node else {
        panic!()
    };
    assert_eq!(copy.heredocs[0].content, "y\n");
    assert_eq!(i[5].pos.line, 17);
}

#[test]
fn windows_dockerfile_with_backtick_escape() {
    let src = concat!(
        "# escape=`\n",
        "\n",
        "FROM mcr.microsoft.com/windows/servercore:ltsc2022\n",
        "SHELL [\"powershell\", \"-Command\", \"$ErrorActionPreference = 'Stop';\"]\n",
        "RUN New-Item -ItemType Directory C:\\app ; `\n",
        "    # a comment inside the continuation\n",
        "    Set-Content C:\\app\\a.txt 'hi'\n",
        "COPY .\\bin\\ C:\\app\\bin\\\n",
        "WORKDIR C:\\app\n",
        "ENV ROOT=C:\\app `\n",
        "    TOOLS=C:\\tools\n",
        "CMD [\"C:\\\\app\\\\bin\\\\server.exe\"]\n",
    );
    let f = parse_ok(src);
    assert_eq!(f.directives.escape, '`');
    let n: Vec<_> = f.instructions.iter().map(|i| i.node.clone()).collect();
    assert!(
        matches!(&n[2], Instruction::Run(r) if r.command == Command::Shell("New-Item -ItemType Directory C:\\app ;     Set-Content C:\\app\\a.txt 'hi'".into()))
    );
    assert!(
        matches!(&n[3], Instruction::Copy(c) if c.sources == vec![".\\bin\\".to_string()] && c.dest == "C:\\app\\bin\\")
    );
    assert_eq!(
        n[4],
        Instruction::Workdir {
            path: "C:\\app".into()
        }
    );
    assert_eq!(
        n[5],
        Instruction::Env {
            vars: vec![
                ("ROOT".into(), "C:\\app".into()),
                ("TOOLS".into(), "C:\\tools".into())
            ]
        }
    );
    assert_eq!(
        n[6],
        Instruction::Cmd {
            command: Command::Exec(vec!["C:\\app\\bin\\server.exe".into()])
        }
    );
    assert_eq!(f.instructions[2].pos.line, 5);
    assert_eq!(f.instructions[2].end_line, 7);
}

#[test]
fn positions_crlf_bom_and_indentation() {
    let f = parse_ok("\u{feff}FROM x\r\n\r\n   RUN a \\\r\n  b\r\n\tCMD c\r\n");
    assert_eq!(f.instructions[1].pos, Pos { line: 3, column: 4 });
    assert_eq!(f.instructions[1].end_line, 4);
    assert_eq!(f.instructions[2].pos, Pos { line: 5, column: 2 });
    assert!(
        matches!(&f.instructions[1].node, Instruction::Run(r) if r.command == Command::Shell("a   b".into()))
    );
}

#[test]
fn keywords_are_case_insensitive_and_flags_end_at_double_dash() {
    let n = nodes("from x\nrun -- --not-a-flag\ncopy a b\n");
    assert!(
        matches!(&n[1], Instruction::Run(r) if r.command == Command::Shell("--not-a-flag".into()))
    );
    assert!(matches!(&n[2], Instruction::Copy(_)));
}

#[test]
fn directives_recorded() {
    let f = parse_ok(
        "# syntax=docker/dockerfile:1.7\n# check=skip=JSONArgsRecommended;error=true\nFROM x\n",
    );
    assert_eq!(
        f.directives.syntax.as_deref(),
        Some("docker/dockerfile:1.7")
    );
    assert_eq!(
        f.directives.check.as_deref(),
        Some("skip=JSONArgsRecommended;error=true")
    );
    let f = parse_ok("# foo=bar\n# escape=`\nFROM x\n");
    assert_eq!(f.directives.escape, '\\');
    assert!(f.warnings[0].message.contains("unknown parser directive"));
}

/// `ONBUILD RUN <<EOF` takes its body, and the trigger text carries it so
/// that it parses again when it fires.
#[test]
fn onbuild_heredocs_travel_with_the_trigger() {
    let src = "FROM x\nONBUILD RUN <<EOF\necho hi\nEOF\nCMD y\n";
    let f = parse("Dockerfile", src).unwrap();
    assert_eq!(f.instructions.len(), 3);
    let Instruction::Onbuild { trigger, .. } = &f.instructions[1].node else {
        panic!("{:?}", f.instructions[1].node)
    };
    let again = parse("trigger", trigger).unwrap();
    let Instruction::Run(r) = &again.instructions[0].node else {
        panic!()
    };
    assert_eq!(r.heredocs[0].content, "echo hi\n");
}
