//! `runtime:` ZImagefiles and the runtime templates: what a template
//! expands to, the image fields on its output stage, argument overrides,
//! Windows targets of the compiled runtimes, and the positioned errors.

use std::collections::BTreeMap;
use wharf_frontend::ast::{BuildFile, Command, Instruction};
use wharf_frontend::plan::{plan, Base, NoBaseImages, Plan, PlanOptions};
use wharf_frontend::zimagefile::{parse, runtime, runtime_build_file, ZImagefile};
use wharf_oci::Platform;

fn image(text: &str) -> BuildFile {
    match parse("ZImagefile", text) {
        Ok(ZImagefile::Image(b)) => b,
        Ok(other) => panic!("expected an image, got {other:?}"),
        Err(e) => panic!("{e}"),
    }
}

fn error(text: &str) -> String {
    match parse("ZImagefile", text) {
        Ok(x) => panic!("expected an error, got {x:?}"),
        Err(e) => e.to_string(),
    }
}

fn options(platforms: &[&str], args: &[(&str, &str)]) -> PlanOptions {
    let linux: Platform = "linux/amd64".parse().unwrap();
    PlanOptions {
        build_args: args
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        target: None,
        platforms: platforms.iter().map(|p| p.parse().unwrap()).collect(),
        build_platform: linux.clone(),
        run_platforms: Some(vec![linux]),
        named_contexts: BTreeMap::new(),
    }
}

fn plan_of(file: &BuildFile, text: &str, o: &PlanOptions) -> Plan {
    plan(file, text, o, &NoBaseImages).unwrap_or_else(|e| panic!("{e}"))
}

/// The image each planned stage starts from, by stage name.
fn bases(p: &Plan, target: usize) -> Vec<(String, String)> {
    p.targets[target]
        .stages
        .iter()
        .map(|s| {
            let base = match &s.base {
                Base::Image { reference, .. } => reference.clone(),
                Base::Stage { name, index } => {
                    format!("stage {}", name.clone().unwrap_or(index.to_string()))
                }
                Base::Scratch => "scratch".into(),
            };
            (s.name.clone().unwrap_or_default(), base)
        })
        .collect()
}

const NODE: &str = r#"version: "1"
runtime: node
args:
  NODE_IMAGE: registry.test/fixture/node:1
env:
  PORT: "8080"
workdir: /app
expose: 8080
labels:
  org.opencontainers.image.title: shop
user: "1001"
cmd: ["npm", "run", "serve"]
"#;

#[test]
fn runtime_fields_go_on_the_output_stage_and_args_replace_defaults() {
    let file = image(NODE);
    assert_eq!(file.path, "ZImagefile");
    // Template instructions point at `runtime:`, the file's own fields at
    // their keys.
    let first = &file.instructions[0];
    assert_eq!(first.pos.line, 2);
    assert_eq!(first.source, "ARG NODE_IMAGE=registry.test/fixture/node:1");
    let tail: Vec<(&str, usize)> = file
        .instructions
        .iter()
        .rev()
        .take(6)
        .map(|i| (i.node.keyword(), i.pos.line))
        .collect();
    assert_eq!(
        tail,
        vec![
            ("CMD", 12),
            ("LABEL", 9),
            ("EXPOSE", 8),
            ("USER", 11),
            ("WORKDIR", 7),
            ("ENV", 5)
        ]
    );
    let p = plan_of(&file, NODE, &options(&["linux/amd64"], &[]));
    let t = &p.targets[0];
    let out = t.stages.iter().find(|s| s.index == t.output_stage).unwrap();
    assert_eq!(out.name.as_deref(), Some("app"));
    assert!(
        matches!(&out.base, Base::Image { reference, .. } if reference == "registry.test/fixture/node:1")
    );
    let last = out.instructions.last().unwrap();
    assert_eq!(
        last.instruction,
        Instruction::Cmd {
            command: Command::Exec(vec!["npm".into(), "run".into(), "serve".into()])
        }
    );
    // The template's own CMD and user come first, so the file's win.
    assert!(out
        .instructions
        .iter()
        .any(|i| i.source == "CMD [\"npm\",\"start\"]"));
}

#[test]
fn a_build_argument_overrides_every_template_base() {
    for t in runtime::TEMPLATES {
        let file = runtime_build_file(t).unwrap();
        let Instruction::Arg { args } = &file.instructions[0].node else {
            panic!("{} does not start with its build arguments", t.name)
        };
        let args: Vec<(&str, &str)> = args
            .iter()
            .map(|a| (a.name.as_str(), "registry.test/fixture/base:1"))
            .collect();
        let platform = if t.windows {
            vec!["linux/amd64", "windows/amd64:10.0.20348"]
        } else {
            vec!["linux/amd64"]
        };
        let p = plan_of(&file, t.text, &options(&platform, &args));
        for (i, _) in platform.iter().enumerate() {
            for (stage, base) in bases(&p, i) {
                assert!(
                    base == "registry.test/fixture/base:1" || base.starts_with("stage "),
                    "{}: stage {stage} starts from {base}",
                    t.name
                );
            }
        }
    }
}

#[test]
fn compiled_runtimes_ship_on_nano_server_for_windows() {
    for name in ["go", "rust", "dotnet"] {
        let t = runtime::lookup(name).unwrap();
        let file = runtime_build_file(t).unwrap();
        let p = plan_of(
            &file,
            t.text,
            &options(
                &[
                    "linux/amd64",
                    "windows/amd64:10.0.17763",
                    "windows/amd64:10.0.20348",
                ],
                &[],
            ),
        );
        let linux = bases(&p, 0);
        assert_eq!(linux[1].0, "runtime-linux", "{name}: {linux:?}");
        for target in [1, 2] {
            let b = bases(&p, target);
            assert_eq!(b[0].0, "build");
            assert_eq!(p.targets[target].stages[0].platform.os, "linux", "{name}");
            assert_eq!(
                b[1],
                (
                    "runtime-windows".to_string(),
                    "mcr.microsoft.com/windows/nanoserver:ltsc2022".to_string()
                )
            );
            assert_eq!(
                b[2],
                ("app".to_string(), "stage runtime-windows".to_string())
            );
        }
    }
}

#[test]
fn unknown_runtime_is_positioned_with_a_suggestion() {
    let e = error("version: \"1\"\nruntime: pyhton312\n");
    assert!(
        e.starts_with("ZImagefile:2:10: unknown runtime `pyhton312`"),
        "{e}"
    );
    assert!(e.contains("did you mean `python312`?"), "{e}");
    assert!(e.contains("node22 (node)"), "{e}");
    let e = error("version: \"1\"\nruntime: cobol\n");
    assert!(e.contains("known runtimes: node20"), "{e}");
}

#[test]
fn runtime_refuses_what_the_template_owns() {
    let e = error("version: \"1\"\nruntime: go\nsteps:\n  - run: make\n");
    assert!(e.contains("ZImagefile:3:1: unknown field `steps`"), "{e}");
    let e = error("version: \"1\"\nruntime: go\nbase: alpine\n");
    assert!(
        e.contains("`runtime` cannot be combined with `base`")
            || e.contains("`base` cannot be combined with `runtime`"),
        "{e}"
    );
    let e = error("version: \"1\"\nruntime: go\nargs:\n  NODE_IMAGE: x\n");
    assert!(
        e.contains("ZImagefile:3:1: runtime template `go` has no build argument `NODE_IMAGE`"),
        "{e}"
    );
    assert!(
        e.contains("GO_IMAGE, RUNTIME_IMAGE, NANOSERVER_IMAGE"),
        "{e}"
    );
}

#[test]
fn the_documentation_lists_every_template_and_alias() {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/runtime-templates.md"
    ))
    .unwrap();
    for t in runtime::TEMPLATES {
        let row = match t.aliases {
            [] => format!("| `{}` |", t.name),
            a => format!(
                "| `{}` ({}) |",
                t.name,
                a.iter()
                    .map(|x| format!("`{x}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        assert!(
            doc.contains(&row),
            "docs/runtime-templates.md lacks the row {row}"
        );
        let windows = doc
            .lines()
            .find(|l| l.starts_with(&row))
            .is_some_and(|l| l.trim_end().ends_with("| yes |"));
        assert_eq!(windows, t.windows, "{}: the Windows column", t.name);
    }
}
