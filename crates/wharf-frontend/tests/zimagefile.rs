//! ZImagefile corpus: valid files and the instructions they produce.

use wharf_frontend::ast::{
    ArgDecl, BuildFile, CacheSharing, Command, Healthcheck, Instruction, Mount, Pos,
};
use wharf_frontend::zimagefile::{parse, BuildReference, ZImagefile};

fn fixture(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/zimagefile/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

fn image(name: &str) -> BuildFile {
    match parse(name, &fixture(name)) {
        Ok(ZImagefile::Image(b)) => b,
        Ok(other) => panic!("{name}: expected an image, got {other:?}"),
        Err(e) => panic!("{name}: {e}"),
    }
}

/// (keyword, line, column, source) of every instruction.
fn outline(b: &BuildFile) -> Vec<(&'static str, usize, usize, &str)> {
    b.instructions
        .iter()
        .map(|i| {
            (
                i.node.keyword(),
                i.pos.line,
                i.pos.column,
                i.source.as_str(),
            )
        })
        .collect()
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn single_stage_outline() {
    let b = image("single.yaml");
    assert_eq!(b.path, "single.yaml");
    assert!(b.warnings.is_empty());
    assert_eq!(
        outline(&b),
        vec![
            ("ARG", 5, 1, "ARG VERSION=1.2.3 COMMIT"),
            ("FROM", 3, 1, "FROM --platform=linux/arm64 alpine:3.20"),
            ("ARG", 5, 1, "ARG VERSION COMMIT"),
            ("ENV", 8, 1, "ENV PATH=/usr/local/bin:/usr/bin GREETING=\"hello world\""),
            ("WORKDIR", 11, 1, "WORKDIR /app"),
            ("RUN", 13, 5, "RUN apk add --no-cache curl"),
            ("COPY", 14, 5, "COPY --chown=1000:1000 --chmod=0644 go.mod go.sum /app/"),
            ("ADD", 18, 5, "ADD https://example.com/tool.tgz /opt/"),
            ("ENV", 20, 5, "ENV MODE=release"),
            ("WORKDIR", 22, 5, "WORKDIR /app/src"),
            ("USER", 23, 5, "USER builder"),
            ("RUN", 24, 5, "RUN [\"sh\",\"-c\",\"make all\"]"),
            ("USER", 25, 1, "USER 1000"),
            ("EXPOSE", 26, 1, "EXPOSE 8080 53/udp"),
            ("LABEL", 29, 1, "LABEL org.opencontainers.image.title=demo"),
            ("VOLUME", 31, 1, "VOLUME [\"/data\"]"),
            (
                "HEALTHCHECK",
                32,
                1,
                "HEALTHCHECK --interval=30s --timeout=5s --start-period=1m --retries=3 CMD [\"curl\",\"-f\",\"http://localhost:8080/\"]"
            ),
            ("STOPSIGNAL", 38, 1, "STOPSIGNAL SIGTERM"),
            ("ENTRYPOINT", 39, 1, "ENTRYPOINT [\"/app/server\"]"),
            ("CMD", 40, 1, "CMD --port 8080"),
        ]
    );
}

#[test]
fn single_stage_values() {
    let b = image("single.yaml");
    let nodes: Vec<&Instruction> = b.instructions.iter().map(|i| &i.node).collect();
    let Instruction::From(from) = nodes[1] else {
        panic!("{:?}", nodes[1])
    };
    assert_eq!(from.image, "alpine:3.20");
    assert_eq!(from.name, None);
    assert_eq!(from.platform.as_deref(), Some("linux/arm64"));
    assert_eq!(
        nodes[0],
        &Instruction::Arg {
            args: vec![
                ArgDecl {
                    name: "VERSION".into(),
                    default: Some("1.2.3".into())
                },
                ArgDecl {
                    name: "COMMIT".into(),
                    default: None
                },
            ]
        }
    );
    let Instruction::Copy(copy) = nodes[6] else {
        panic!("{:?}", nodes[6])
    };
    assert_eq!(copy.sources, strings(&["go.mod", "go.sum"]));
    assert_eq!(copy.dest, "/app/");
    assert_eq!(copy.chown.as_deref(), Some("1000:1000"));
    assert_eq!(copy.chmod.as_deref(), Some("0644"));
    assert_eq!(copy.from, None);
    assert!(!copy.json);
    let Instruction::Add { copy: add, .. } = nodes[7] else {
        panic!("{:?}", nodes[7])
    };
    assert_eq!(add.sources, strings(&["https://example.com/tool.tgz"]));
    let Instruction::Run(run) = nodes[11] else {
        panic!("{:?}", nodes[11])
    };
    assert_eq!(
        run.command,
        Command::Exec(strings(&["sh", "-c", "make all"]))
    );
    assert!(run.mounts.is_empty());
    assert_eq!(
        nodes[13],
        &Instruction::Expose {
            ports: strings(&["8080", "53/udp"])
        }
    );
    assert_eq!(
        nodes[16],
        &Instruction::Healthcheck(Healthcheck::Cmd {
            command: Command::Exec(strings(&["curl", "-f", "http://localhost:8080/"])),
            interval: Some("30s".into()),
            timeout: Some("5s".into()),
            start_period: Some("1m".into()),
            start_interval: None,
            retries: Some(3),
        })
    );
    assert_eq!(
        nodes[19],
        &Instruction::Cmd {
            command: Command::Shell("--port 8080".into())
        }
    );
    // Inside the stage the global ARGs are declared again, without defaults.
    assert_eq!(
        nodes[2],
        &Instruction::Arg {
            args: vec![
                ArgDecl {
                    name: "VERSION".into(),
                    default: None
                },
                ArgDecl {
                    name: "COMMIT".into(),
                    default: None
                },
            ]
        }
    );
    // Multi-line fields end on their last line.
    assert_eq!(b.instructions[4].end_line, 11);
    assert!(
        b.instructions[16].end_line >= 36,
        "{}",
        b.instructions[16].end_line
    );
    assert!(
        b.instructions[6].end_line >= 17,
        "{}",
        b.instructions[6].end_line
    );
}

#[test]
fn multi_stage_with_cache_mounts_and_copy_from() {
    let b = image("multistage.yaml");
    assert_eq!(
        outline(&b),
        vec![
            ("ARG", 2, 1, "ARG GO_VERSION=1.23"),
            ("FROM", 6, 5, "FROM golang:${GO_VERSION} AS build"),
            ("ARG", 2, 1, "ARG GO_VERSION"),
            ("WORKDIR", 7, 5, "WORKDIR /src"),
            ("COPY", 9, 9, "COPY . ."),
            (
                "RUN",
                11,
                9,
                "RUN --mount=type=cache,target=/root/.cache/go-build,id=gobuild,sharing=locked --mount=type=cache,target=/go/pkg/mod,sharing=shared,readonly go build -o /out/app ./cmd/app"
            ),
            ("FROM", 19, 5, "FROM gcr.io/distroless/static AS runtime"),
            ("ARG", 2, 1, "ARG GO_VERSION"),
            ("COPY", 21, 9, "COPY --from=build /out/app /app"),
            ("ENTRYPOINT", 24, 5, "ENTRYPOINT /app"),
        ]
    );
    let Instruction::Run(run) = &b.instructions[5].node else {
        panic!()
    };
    assert_eq!(
        run.command,
        Command::Shell("go build -o /out/app ./cmd/app".into())
    );
    assert_eq!(run.mounts.len(), 2);
    match &run.mounts[0] {
        Mount::Cache {
            target,
            id,
            sharing,
            readonly,
            ..
        } => {
            assert_eq!(target, "/root/.cache/go-build");
            assert_eq!(id.as_deref(), Some("gobuild"));
            assert_eq!(*sharing, CacheSharing::Locked);
            assert!(!readonly);
        }
        other => panic!("{other:?}"),
    }
    match &run.mounts[1] {
        Mount::Cache {
            id,
            sharing,
            readonly,
            ..
        } => {
            assert_eq!(*id, None);
            assert_eq!(*sharing, CacheSharing::Shared);
            assert!(*readonly);
        }
        other => panic!("{other:?}"),
    }
    let Instruction::Copy(copy) = &b.instructions[8].node else {
        panic!()
    };
    assert_eq!(copy.from.as_deref(), Some("build"));
}

#[test]
fn windows_stage_keeps_its_os_and_backslashes() {
    let b = image("windows.yaml");
    assert_eq!(
        outline(&b),
        vec![
            ("FROM", 4, 5, "FROM --platform=linux/${TARGETARCH} rust:1.85 AS compile"),
            ("RUN", 7, 9, "RUN cargo build --release --target x86_64-pc-windows-gnu"),
            (
                "FROM",
                9,
                5,
                "FROM --platform=windows/${TARGETARCH} mcr.microsoft.com/windows/nanoserver:ltsc2022 AS final"
            ),
            ("WORKDIR", 11, 5, "WORKDIR C:\\app"),
            (
                "COPY",
                13,
                9,
                "COPY --from=compile /src/target/x86_64-pc-windows-gnu/release/tool.exe C:\\app\\tool.exe"
            ),
            ("RUN", 16, 9, "RUN [\"cmd\",\"/S\",\"/C\",\"tool.exe --version\"]"),
            ("USER", 17, 5, "USER ContainerUser"),
            ("CMD", 18, 5, "CMD [\"C:\\\\app\\\\tool.exe\"]"),
        ]
    );
    let Instruction::Cmd { command } = &b.instructions[7].node else {
        panic!()
    };
    assert_eq!(command, &Command::Exec(strings(&["C:\\app\\tool.exe"])));
}

#[test]
fn build_references() {
    let r = parse("build_ref.yaml", &fixture("build_ref.yaml")).unwrap();
    assert_eq!(
        r,
        ZImagefile::Build(BuildReference {
            context: "./service".into(),
            file: Some("docker/Dockerfile.prod".into()),
            args: vec![
                ("RELEASE".into(), "true".into()),
                ("PORT".into(), "8080".into())
            ],
            pos: Pos { line: 2, column: 1 },
        })
    );
    let r = parse("build_path.yaml", &fixture("build_path.yaml")).unwrap();
    assert_eq!(
        r,
        ZImagefile::Build(BuildReference {
            context: "../other".into(),
            file: None,
            args: Vec::new(),
            pos: Pos { line: 2, column: 1 },
        })
    );
    let r = parse("Z", "version: '1'\nbuild: {file: Dockerfile.dev}\n").unwrap();
    let ZImagefile::Build(r) = r else { panic!() };
    assert_eq!(r.context, ".");
    assert_eq!(r.file.as_deref(), Some("Dockerfile.dev"));
}

#[test]
fn smaller_forms() {
    let text = r#"
version: 1
base: scratch
expose: 80
volumes: [/a, /b c]
cmd: ["run"]
args: [A, B=2]
os: windows
platform: windows/amd64
steps:
  - copy: "my file.txt"
    to: /dst dir/
  - env: {A: "1", B: ""}
"#;
    let ZImagefile::Image(b) = parse("Z", text).unwrap() else {
        panic!()
    };
    assert_eq!(
        outline(&b)
            .iter()
            .map(|(_, _, _, s)| *s)
            .collect::<Vec<_>>(),
        vec![
            "ARG A B=2",
            "FROM --platform=windows/amd64 scratch",
            "ARG A B",
            "COPY [\"my file.txt\",\"/dst dir/\"]",
            "ENV A=1 B=\"\"",
            "EXPOSE 80",
            "VOLUME [\"/a\",\"/b c\"]",
            "CMD [\"run\"]",
        ]
    );
    let Instruction::Copy(c) = &b.instructions[3].node else {
        panic!()
    };
    assert!(c.json);
}

#[test]
fn anchors_and_aliases_are_expanded() {
    let text = "version: \"1\"\nstages:\n  a:\n    base: alpine\n    env: &common {K: v}\n  b:\n    base: alpine\n    env: *common\n";
    let ZImagefile::Image(b) = parse("Z", text).unwrap() else {
        panic!()
    };
    let envs: Vec<_> = b
        .instructions
        .iter()
        .filter(|i| i.node.keyword() == "ENV")
        .map(|i| (i.pos.line, i.source.clone()))
        .collect();
    assert_eq!(envs, vec![(5, "ENV K=v".into()), (8, "ENV K=v".into())]);
}

#[test]
fn block_scalar_run_keeps_its_lines() {
    let text = "version: \"1\"\nbase: debian\nsteps:\n  - run: |\n      apt-get update\n      apt-get install -y curl\n  - user: nobody\n";
    let ZImagefile::Image(b) = parse("Z", text).unwrap() else {
        panic!()
    };
    let run = &b.instructions[1];
    assert_eq!((run.pos.line, run.pos.column), (4, 5));
    assert_eq!(
        run.node,
        Instruction::Run(wharf_frontend::ast::Run {
            command: Command::Shell("apt-get update\napt-get install -y curl\n".into()),
            heredocs: Vec::new(),
            mounts: Vec::new(),
            network: None,
            security: None,
        })
    );
    assert!(run.end_line >= 6, "{}", run.end_line);
    assert_eq!(b.instructions[2].pos.line, 7);
}
