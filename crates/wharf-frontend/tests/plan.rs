//! The planner: ARG/ENV scoping, automatic platform ARGs, stages and their
//! graph, platforms, the host check, base-image knowledge, and errors.

use std::collections::BTreeMap;
use wharf_frontend::ast::Instruction;
use wharf_frontend::dockerfile::parse;
use wharf_frontend::plan::*;
use wharf_frontend::FrontendError;
use wharf_oci::Platform;

fn linux() -> Platform {
    "linux/amd64".parse().unwrap()
}

fn opts() -> PlanOptions {
    PlanOptions {
        build_args: BTreeMap::new(),
        target: None,
        platforms: vec![],
        build_platform: linux(),
        run_platforms: Some(vec![linux()]),
        named_contexts: BTreeMap::new(),
    }
}

fn try_plan(src: &str, o: &PlanOptions) -> Result<Plan, FrontendError> {
    let f = parse("Dockerfile", src).unwrap_or_else(|e| panic!("{e}"));
    plan(&f, src, o, &NoBaseImages)
}

fn plan_ok(src: &str, o: &PlanOptions) -> Plan {
    try_plan(src, o).unwrap_or_else(|e| panic!("{e}"))
}

fn with_args(pairs: &[(&str, &str)]) -> PlanOptions {
    let mut o = opts();
    for (k, v) in pairs {
        o.build_args.insert(k.to_string(), v.to_string());
    }
    o
}

/// Labels of the output stage as a map.
fn labels(p: &Plan) -> BTreeMap<String, String> {
    let t = &p.targets[0];
    let s = t.stages.iter().find(|s| s.index == t.output_stage).unwrap();
    let mut m = BTreeMap::new();
    for i in &s.instructions {
        if let Instruction::Label { labels } = &i.instruction {
            m.extend(labels.iter().cloned());
        }
    }
    m
}

#[test]
fn global_args_are_for_from_only_unless_redeclared() {
    let src =
        "ARG V=1.0\nARG IMG=alpine\nFROM ${IMG}:${V}\nLABEL a=\"[$V]\"\nARG V\nLABEL b=\"[$V]\"\n";
    let p = plan_ok(src, &opts());
    let s = &p.targets[0].stages[0];
    assert_eq!(
        s.base,
        Base::Image {
            reference: "alpine:1.0".into(),
            resolved: false
        }
    );
    let l = labels(&p);
    assert_eq!(l["a"], "[]");
    assert_eq!(l["b"], "[1.0]");
}

#[test]
fn build_args_override_defaults_and_env_overrides_arg() {
    let src =
        "FROM x\nARG A=default\nARG B\nLABEL a=$A b=$B\nENV A=fromenv\nARG A=again\nLABEL a2=$A\n";
    let p = plan_ok(src, &with_args(&[("A", "cli"), ("B", "bee")]));
    let l = labels(&p);
    assert_eq!(l["a"], "cli");
    assert_eq!(l["b"], "bee");
    assert_eq!(l["a2"], "fromenv");
    assert!(p.unused_build_args.is_empty());
}

#[test]
fn env_on_one_line_uses_values_from_before_it() {
    let src =
        "FROM x\nENV abc=hello\nENV abc=bye def=$abc\nENV ghi=$abc\nLABEL def=$def ghi=$ghi\n";
    let l = labels(&plan_ok(src, &opts()));
    assert_eq!(l["def"], "hello");
    assert_eq!(l["ghi"], "bye");
}

#[test]
fn arg_defaults_expand_and_modifiers_work() {
    let src = "FROM x\nARG BASE=/opt\nARG DIR=${BASE}/app\nARG EMPTY=\nLABEL dir=$DIR v=${EMPTY:-fallback} w=${UNSET-none} s=${DIR##*/}\n";
    let l = labels(&plan_ok(src, &opts()));
    assert_eq!(l["dir"], "/opt/app");
    assert_eq!(l["v"], "fallback");
    assert_eq!(l["w"], "none");
    assert_eq!(l["s"], "app");
}

#[test]
fn automatic_platform_args() {
    let src = "FROM --platform=$BUILDPLATFORM x AS b\nARG TARGETOS TARGETARCH BUILDARCH\nLABEL t=$TARGETOS/$TARGETARCH b=$BUILDARCH\nFROM b\nARG TARGETPLATFORM TARGETOSVERSION\nLABEL tp=$TARGETPLATFORM v=$TARGETOSVERSION\n";
    let mut o = opts();
    o.platforms = vec!["windows/amd64:10.0.20348".parse().unwrap()];
    let p = plan_ok(src, &o);
    let t = &p.targets[0];
    let b = &t.stages[0];
    assert_eq!(b.platform, linux());
    assert_eq!(b.platform_source, PlatformSource::Flag);
    let lb: BTreeMap<_, _> = b
        .instructions
        .iter()
        .filter_map(|i| match &i.instruction {
            Instruction::Label { labels } => Some(labels.clone()),
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(lb["t"], "windows/amd64");
    assert_eq!(lb["b"], "amd64");
    let l = labels(&p);
    assert_eq!(l["tp"], "windows/amd64");
    assert_eq!(l["v"], "10.0.20348");
}

#[test]
fn automatic_args_are_usable_in_from_without_declaration() {
    let src = "FROM --platform=$TARGETPLATFORM base-$TARGETARCH\n";
    let mut o = opts();
    o.platforms = vec!["linux/arm64".parse().unwrap()];
    let p = plan_ok(src, &o);
    let s = &p.targets[0].stages[0];
    assert_eq!(
        s.base,
        Base::Image {
            reference: "base-arm64".into(),
            resolved: false
        }
    );
    assert_eq!(s.platform.architecture, "arm64");
}

#[test]
fn three_platforms_give_three_targets() {
    let src = "FROM --platform=$TARGETPLATFORM img\nARG TARGETOS\nLABEL os=$TARGETOS\n";
    let mut o = opts();
    o.platforms = [
        "windows/amd64:10.0.17763",
        "windows/amd64:10.0.20348",
        "linux/amd64",
    ]
    .iter()
    .map(|p| p.parse().unwrap())
    .collect();
    o.run_platforms = None;
    let p = plan_ok(src, &o);
    assert_eq!(p.targets.len(), 3);
    assert_eq!(
        p.targets[0].stages[0].platform.os_version.as_deref(),
        Some("10.0.17763")
    );
    assert_eq!(
        p.targets[1].stages[0].platform.os_version.as_deref(),
        Some("10.0.20348")
    );
    assert!(p.targets[2].stages[0].platform.is_linux());
    assert!(p.targets.iter().all(|t| t.platform_explicit));
    let bases = p.base_images();
    assert_eq!(bases.len(), 3, "{bases:?}");
}

#[test]
fn windows_output_stage_sets_the_default_target() {
    let src = "FROM --platform=windows/amd64 mcr.microsoft.com/windows/nanoserver:ltsc2022\nARG TARGETOS\nLABEL os=$TARGETOS\n";
    let p = plan_ok(src, &opts());
    assert!(p.targets[0].platform.is_windows());
    assert!(!p.targets[0].platform_explicit);
    assert_eq!(labels(&p)["os"], "windows");
}

const MULTI: &str = "FROM alpine AS base\nRUN echo base\n\nFROM base AS build\nCOPY src /src\n\nFROM alpine AS unused\nRUN exit 1\n\nFROM busybox AS tools\n\nFROM scratch AS final\nCOPY --from=build /src /app\nCOPY --from=3 /bin/sh /sh\nCOPY --from=nginx:1.25 /etc/nginx /etc/nginx\n";

#[test]
fn target_pruning_and_dependency_order() {
    let p = plan_ok(MULTI, &opts());
    let t = &p.targets[0];
    let order: Vec<usize> = t.stages.iter().map(|s| s.index).collect();
    assert_eq!(order, vec![0, 1, 3, 4]);
    assert_eq!(t.skipped_stages, vec![2]);
    let fin = t.stages.last().unwrap();
    assert_eq!(fin.depends_on, vec![1, 3]);
    assert_eq!(fin.base, Base::Scratch);
    assert_eq!(fin.instructions[0].reads, vec![Source::Stage { index: 1 }]);
    assert_eq!(
        fin.instructions[2].reads,
        vec![Source::Image {
            reference: "nginx:1.25".into()
        }]
    );
    assert_eq!(
        t.stages[1].base,
        Base::Stage {
            index: 0,
            name: Some("base".into())
        }
    );
    let refs: Vec<String> = p.base_images().into_iter().map(|(r, _)| r).collect();
    assert_eq!(refs, vec!["alpine", "busybox", "nginx:1.25"]);

    let mut o = opts();
    o.target = Some("BUILD".into());
    let t = &plan_ok(MULTI, &o).targets[0];
    assert_eq!(
        t.stages.iter().map(|s| s.index).collect::<Vec<_>>(),
        vec![0, 1]
    );
    assert_eq!(t.output_stage, 1);
}

#[test]
fn unknown_target_suggests() {
    let mut o = opts();
    o.target = Some("biuld".into());
    let e = try_plan(MULTI, &o).unwrap_err();
    assert!(
        e.message
            .contains("target stage 'biuld' could not be found"),
        "{e}"
    );
    assert_eq!(e.hint.as_deref(), Some("did you mean 'build'?"));
}

#[test]
fn stage_reference_errors_are_positioned() {
    let cases: &[(&str, usize, &str, &str)] = &[
        ("FROM a AS one\nFROM b AS two\nCOPY --from=oen /x /y\n", 3, "unknown stage 'oen'", "did you mean stage 'one'?"),
        ("FROM a AS one\nCOPY --from=one /x /y\n", 2, "cannot read from itself", ""),
        ("FROM a\nCOPY --from=7 /x /y\n", 2, "--from=7: there is no stage 7", "numbered 0 to 0"),
        ("FROM later AS first\nFROM a AS later\nFROM first\n", 1, "is defined later in the file", "move it up"),
        ("FROM a AS x\nFROM b AS x\n", 2, "duplicate stage name 'x'", ""),
        ("FROM a AS one\nCOPY --from=two /a /b\nFROM b AS two\nCOPY --from=one /a /b\n", 2, "circular dependency between stages: 'two' -> 'one' -> 'two'", ""),
        ("FROM a AS one\nRUN --mount=from=two,target=/t x\nFROM b AS two\nCOPY --from=one /a /b\n", 2, "circular dependency", ""),
        ("COPY a b\nFROM x\n", 1, "COPY before the first FROM", "only ARG may come before"),
        ("FROM scratch\nFROM --platform=windows/amd64 scratch\n", 2, "FROM scratch cannot start a Windows stage", "nanoserver"),
        ("FROM --platform=linux/ x\n", 1, "FROM --platform: invalid platform", ""),
        ("ARG IMG\nFROM $IMG\n", 2, "the image name is empty after expansion", "--build-arg"),
        ("FROM x\nLABEL a=${REQUIRED:?set REQUIRED}\n", 2, "REQUIRED: set REQUIRED", "--build-arg"),
        ("FROM x\nEXPOSE 80 99999\n", 2, "not a port number", ""),
        ("FROM x\nSTOPSIGNAL SIGNOPE\n", 2, "is not a signal", ""),
        ("FROM x\nCOPY --chmod=abc a b\n", 2, "--chmod=abc is not a mode", ""),
        ("FROM x\nADD --checksum=sha256:00 https://x/y /z\n", 2, "is not a digest", ""),
        ("FROM x\nADD --checksum=sha256:0000000000000000000000000000000000000000000000000000000000000000 local /z\n", 2, "applies only to http(s) sources", ""),
        ("FROM x\nCOPY https://example.com/a /b\n", 2, "COPY cannot download", "use ADD"),
        ("FROM --platform=windows/amd64 w\nWORKDIR D:\\data\n", 2, "drive D:", ""),
    ];
    for (src, line, msg, hint) in cases {
        let e = match try_plan(src, &opts()) {
            Ok(_) => panic!("expected an error for {src:?}"),
            Err(e) => e,
        };
        assert_eq!(e.line(), Some(*line), "{src:?}: {e}");
        assert!(e.message.contains(msg), "{src:?}: {e}");
        if !hint.is_empty() {
            assert!(
                e.hint.as_deref().unwrap_or("").contains(hint),
                "{src:?}: {e}"
            );
        }
    }
}

#[test]
fn no_from_is_an_error() {
    let e = try_plan("ARG A=1\n", &opts()).unwrap_err();
    assert!(e.message.contains("no FROM instruction"));
    assert_eq!(e.pos, None);
}

#[test]
fn run_that_this_host_cannot_execute_fails_at_plan_time() {
    let src = "FROM --platform=linux/amd64 busybox AS build\nRUN echo ok\n\nFROM --platform=windows/amd64 mcr.microsoft.com/windows/nanoserver:ltsc2022\nCOPY --from=build /a /b\nRUN echo nope\n";
    let e = try_plan(src, &opts()).unwrap_err();
    assert_eq!(e.line(), Some(6));
    assert!(
        e.message
            .contains("RUN in stage #1 (windows/amd64) cannot execute on this linux/amd64 host"),
        "{e}"
    );
    assert!(e.hint.as_deref().unwrap().contains("HCS"));

    // A RUN in a stage the target does not need is not an error.
    let mut o = opts();
    o.target = Some("build".into());
    assert!(try_plan(src, &o).is_ok());

    // Another architecture without emulation is refused too.
    let e = try_plan("FROM --platform=linux/arm64 x\nRUN true\n", &opts()).unwrap_err();
    assert!(e.message.contains("linux/arm64"), "{e}");

    // Without a host check the plan is produced.
    let mut o = opts();
    o.run_platforms = None;
    assert!(try_plan(src, &o).is_ok());
}

#[test]
fn run_gets_args_env_and_shell() {
    let src =
        "FROM x\nARG V=1\nENV E=2\nSHELL [\"/bin/bash\", \"-c\"]\nRUN echo $V $E\nRUN [\"true\"]\n";
    let p = plan_ok(src, &with_args(&[("HTTP_PROXY", "http://proxy:3128")]));
    let s = &p.targets[0].stages[0];
    let run = &s.instructions[3];
    let env = run.env.as_ref().unwrap();
    assert_eq!(env["V"], "1");
    assert_eq!(env["E"], "2");
    assert_eq!(env["HTTP_PROXY"], "http://proxy:3128");
    assert!(env["PATH"].contains("/usr/bin"));
    assert_eq!(
        run.shell.as_deref(),
        Some(&["/bin/bash".to_string(), "-c".to_string()][..])
    );
    assert_eq!(run.args.get("V").map(String::as_str), Some("1"));
    assert_eq!(s.instructions[4].shell, None);
    assert!(p.unused_build_args.is_empty(), "proxy args are predefined");
}

#[test]
fn windows_stage_defaults_and_paths() {
    let src = "# escape=`\nFROM --platform=windows/amd64 w\nWORKDIR app\nWORKDIR /tools/bin\nWORKDIR ..\\lib\nRUN dir\n";
    let mut o = opts();
    o.run_platforms = None;
    let p = plan_ok(src, &o);
    let s = &p.targets[0].stages[0];
    let dirs: Vec<&str> = s.instructions.iter().map(|i| i.workdir.as_str()).collect();
    assert_eq!(
        dirs,
        vec![
            "C:\\app",
            "C:\\tools\\bin",
            "C:\\tools\\lib",
            "C:\\tools\\lib"
        ]
    );
    let run = &s.instructions[3];
    assert_eq!(
        run.shell.as_deref(),
        Some(&["cmd".to_string(), "/S".to_string(), "/C".to_string()][..])
    );
    assert!(
        !run.env.as_ref().unwrap().contains_key("PATH"),
        "no PATH is injected on Windows"
    );
}

#[test]
fn heredoc_content_expands_unless_quoted() {
    let src = "FROM x\nARG N=world\nCOPY <<a.txt <<'b.txt' /d/\nhello $N\na.txt\nhello $N\nb.txt\n";
    let p = plan_ok(src, &opts());
    let Instruction::Copy(c) = &p.targets[0].stages[0].instructions[1].instruction else {
        panic!()
    };
    assert_eq!(c.heredocs[0].content, "hello world\n");
    assert_eq!(c.heredocs[1].content, "hello $N\n");
}

/// Each written source stays one source after expansion, as in BuildKit
/// (which expands every source with `ProcessWord`).
#[test]
fn copy_sources_are_not_split_after_expansion() {
    let src = "FROM x\nARG FILES=\"a b\"\nCOPY $FILES \"c d\" /dst/\nCOPY [\"$FILES\", \"/j/\"]\n";
    let p = plan_ok(src, &opts());
    let ins = &p.targets[0].stages[0].instructions;
    let Instruction::Copy(c) = &ins[1].instruction else {
        panic!()
    };
    assert_eq!(c.sources, vec!["a b", "c d"]);
    let Instruction::Copy(c) = &ins[2].instruction else {
        panic!()
    };
    assert_eq!(c.sources, vec!["a b"]);
}

#[test]
fn unused_build_args_are_reported() {
    let p = plan_ok(
        "FROM x\nARG USED\n",
        &with_args(&[("USED", "1"), ("TYPO", "2")]),
    );
    assert_eq!(p.unused_build_args, vec!["TYPO"]);
    assert!(p.warnings.iter().any(|w| w.message.contains("TYPO")));
}

#[test]
fn base_image_knowledge_refines_the_plan() {
    let src = "FROM mcr.microsoft.com/windows/nanoserver:ltsc2022\nARG TARGETOS\nLABEL os=$TARGETOS home=$APP_HOME\nWORKDIR sub\n";
    let first = plan_ok(src, &opts());
    let wanted = first.base_images();
    assert_eq!(wanted.len(), 1);
    let mut known = KnownBaseImages::default();
    known.insert(
        &wanted[0].0,
        &wanted[0].1,
        BaseImage {
            platform: Some("windows/amd64:10.0.20348.2113".parse().unwrap()),
            env: vec![("APP_HOME".into(), "C:\\app".into())],
            workdir: Some("C:\\base".into()),
            shell: None,
            user: Some("ContainerUser".into()),
            onbuild: vec!["LABEL from.trigger=yes".into()],
        },
    );
    let f = parse("Dockerfile", src).unwrap();
    let p = plan(&f, src, &opts(), &known).unwrap();
    let t = &p.targets[0];
    let s = &t.stages[0];
    assert!(s.platform.is_windows());
    assert_eq!(s.platform.os_version.as_deref(), Some("10.0.20348.2113"));
    assert_eq!(s.platform_source, PlatformSource::Base);
    assert_eq!(
        s.base,
        Base::Image {
            reference: wanted[0].0.clone(),
            resolved: true
        }
    );
    assert!(s.instructions[0].onbuild_trigger);
    let l = labels(&p);
    assert_eq!(l["from.trigger"], "yes");
    assert_eq!(l["home"], "C:\\app");
    assert_eq!(l["os"], "windows");
    assert_eq!(s.instructions.last().unwrap().workdir, "C:\\base\\sub");
    assert_eq!(
        s.instructions.last().unwrap().user.as_deref(),
        Some("ContainerUser")
    );
}

#[test]
fn onbuild_of_a_stage_fires_in_stages_based_on_it() {
    let src = "FROM x AS parent\nONBUILD LABEL fired=yes\nFROM parent\nLABEL own=1\n";
    let p = plan_ok(src, &opts());
    let l = labels(&p);
    assert_eq!(l["fired"], "yes");
    assert_eq!(l["own"], "1");
}

#[test]
fn plan_json_shape() {
    let p = plan_ok(MULTI, &opts());
    let v = serde_json::to_value(&p).unwrap();
    let stage = &v["targets"][0]["stages"][3];
    assert_eq!(stage["name"], "final");
    assert_eq!(stage["base"]["kind"], "scratch");
    assert_eq!(stage["platform"]["os"], "linux");
    let copy = &stage["instructions"][0];
    assert_eq!(copy["instruction"], "COPY");
    assert_eq!(copy["line"], 13);
    assert_eq!(copy["from"], "build");
    assert_eq!(copy["reads"][0]["kind"], "stage");
    assert_eq!(copy["reads"][0]["index"], 1);
}

#[test]
fn windows_stages_read_variables_without_regard_to_case() {
    let src = "# escape=`\nFROM --platform=windows/amd64 w\nENV Path=C:\\tools\nARG target\nLABEL p=$PATH l=${path} t=$TARGET\n";
    let p = plan_ok(src, &with_args(&[("target", "x")]));
    let l = labels(&p);
    assert_eq!(l["p"], "C:\\tools");
    assert_eq!(l["l"], "C:\\tools");
    assert_eq!(l["t"], "x");
    // A Linux stage does not.
    let p = plan_ok("FROM x\nENV Path=/t\nLABEL p=$PATH\n", &opts());
    assert_eq!(labels(&p)["p"], "");
}

#[test]
fn secret_looking_names_are_warned_about() {
    let src = "FROM x\nARG GITHUB_TOKEN\nENV DB_PASSWORD=x PUBLIC_KEY=y\nARG KEYBOARD\n";
    let p = plan_ok(src, &with_args(&[("NPM_AUTH", "1"), ("VERSION", "2")]));
    let lines: Vec<_> = p
        .warnings
        .iter()
        .filter(|w| w.message.contains("sensitive data"))
        .map(|w| (w.line, w.message.clone()))
        .collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert_eq!(lines[0].0, Some(2));
    assert!(lines[0].1.contains("(ARG \"GITHUB_TOKEN\")"));
    assert!(lines[1].1.contains("(ENV \"DB_PASSWORD\")"));
    assert_eq!(lines[2].0, None);
    assert!(lines[2].1.contains("--build-arg NPM_AUTH"));
    assert!(lines[2].1.contains("--secret id=NPM_AUTH"));
}

#[test]
fn doubling_variables_stop_at_the_size_limit_with_the_line() {
    let mut src = String::from("FROM x\nENV A=0123456789abcdef\n");
    for _ in 0..15 {
        src.push_str("ENV A=$A$A$A$A\n");
    }
    let e = try_plan(&src, &opts()).unwrap_err();
    // 16 bytes × 4^8 = 1 MiB: the ninth doubling line (line 11) exceeds it.
    assert_eq!(e.pos.map(|p| p.line), Some(11), "{e}");
    assert!(e.message.contains("1 MiB"), "{e}");
}

/// COPY here-document bodies, as BuildKit's `testCopyHeredocSpecialSymbols`
/// expects them: expanded bodies take `\` as an escape and quotes as
/// text; quoted delimiters keep the body as written.
#[test]
fn copy_heredoc_bodies_treat_escapes_like_buildkit() {
    let src = "FROM x\nCOPY <<EOF q\n\"quotes in file\"\nEOF\nCOPY <<EOF a\n\\\nEOF\nCOPY <<EOF b\n\\\\\nEOF\nCOPY <<EOF c\n\\$\nEOF\nCOPY <<\"EOF\" d\n\\\nEOF\nCOPY <<\"EOF\" e\n\\$\nEOF\n";
    let p = plan_ok(src, &opts());
    let bodies: Vec<String> = p.targets[0].stages[0]
        .instructions
        .iter()
        .map(|i| match &i.instruction {
            Instruction::Copy(c) => c.heredocs[0].content.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        bodies,
        vec!["\"quotes in file\"\n", "\n", "\\\n", "$\n", "\\\n", "\\$\n"]
    );
}
