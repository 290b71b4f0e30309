//! Conformance with BuildKit's own Dockerfile test data: every case of
//! `../shared/peer-buildkit/` (BuildKit's parser test files and their
//! dumps, the shell lexer's `envVarTest` and `wordsTest`, and the table
//! cases transcribed from its Go tests; see that directory's README) runs
//! through Wharf's front end and must agree, except the deliberate
//! differences listed in [`DELIBERATE`], each with its reason.
//! `docs/dockerfile-conformance.md` describes the comparison.

mod buildkit;

use buildkit::dump::{dump, normalise, parse_line, strip_markers};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use wharf_frontend::ast::{Command, Healthcheck, Heredoc, Instruction};
use wharf_frontend::dockerfile::parse;
use wharf_frontend::expand::{Expander, Mode};
use wharf_frontend::plan::{plan, Base, NoBaseImages, Plan, PlanOptions};
use wharf_oci::Platform;

/// Cases where Wharf deliberately differs from BuildKit, by case id.
const DELIBERATE: &[(&str, &str)] = &[
    (
        "testfiles/flags",
        "BuildKit's parser keeps unknown flags (--user, --doit, CMD --doit) and its instruction layer rejects them before the build; Wharf rejects them while parsing, with a suggestion",
    ),
    (
        "testfiles/health",
        "BuildKit's parser accepts `HEALTHCHECK`, `HEALTHCHECK CMD` and `HEALTHCHECK CONNECT ...` and its instruction layer rejects them before the build; Wharf rejects them while parsing",
    ),
    (
        "testfiles/escapes",
        "BuildKit splits COPY/ADD arguments on blanks whatever the quotes, then rejects `ADD \\conf\\\\\" /.znc` when it expands the unterminated quote; Wharf keeps quoted blanks in one word (`COPY \"a b\" /c` works) and reports the unterminated quote while parsing",
    ),
];

/// The data directory, beside the repository.
fn data_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/peer-buildkit");
    assert!(
        dir.join("README.md").is_file(),
        "BuildKit's test data is missing: expected it in {} (the directory `shared/peer-buildkit` beside the repository; CI always has it). It is not copied into the repository.",
        dir.display()
    );
    dir
}

type Outcome = Result<(), String>;

fn linux() -> Platform {
    "linux/amd64".parse().unwrap()
}

fn options(build_args: BTreeMap<String, String>, target: Option<String>) -> PlanOptions {
    PlanOptions {
        build_args,
        target,
        platforms: vec![],
        build_platform: linux(),
        run_platforms: None,
        named_contexts: Default::default(),
    }
}

/// Parses and plans; the first error either gives.
fn parse_and_plan(src: &str, o: &PlanOptions) -> Result<Plan, String> {
    let f = parse("Dockerfile", src).map_err(|e| e.to_string())?;
    plan(&f, src, o, &NoBaseImages).map_err(|e| e.to_string())
}

fn dump_compare(src: &str, expected: &[String]) -> Outcome {
    let f = parse("Dockerfile", src).map_err(|e| format!("Wharf rejects it: {e}"))?;
    if f.instructions.len() != expected.len() {
        return Err(format!(
            "{} instructions, BuildKit has {}",
            f.instructions.len(),
            expected.len()
        ));
    }
    for (ins, want) in f.instructions.iter().zip(expected) {
        let want = normalise(strip_markers(parse_line(want)?));
        let got = normalise(dump(&ins.node));
        if got != want {
            return Err(format!(
                "line {}: Wharf {got:?}, BuildKit {want:?}",
                ins.pos.line
            ));
        }
    }
    Ok(())
}

fn parser_testfiles(dir: &Path, out: &mut Vec<(String, Outcome)>) {
    let base = dir.join("buildkit/parser/testfiles");
    for entry in sorted_dirs(&base) {
        let name = entry.file_name().unwrap().to_string_lossy().to_string();
        let src = std::fs::read_to_string(entry.join("Dockerfile")).unwrap();
        let result = std::fs::read_to_string(entry.join("result")).unwrap();
        let lines: Vec<String> = result
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_string)
            .collect();
        out.push((format!("testfiles/{name}"), dump_compare(&src, &lines)));
    }
    let base = dir.join("buildkit/parser/testfiles-negative");
    for entry in sorted_dirs(&base) {
        let name = entry.file_name().unwrap().to_string_lossy().to_string();
        let src = std::fs::read_to_string(entry.join("Dockerfile")).unwrap();
        let r = match parse_and_plan(&src, &options(BTreeMap::new(), None)) {
            Ok(_) => Err("Wharf accepts a file BuildKit rejects".to_string()),
            Err(_) => Ok(()),
        };
        out.push((format!("testfiles-negative/{name}"), r));
    }
}

fn sorted_dirs(base: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(base)
        .unwrap_or_else(|e| panic!("{}: {e}", base.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    v.sort();
    v
}

/// `envVarTest`: `platform | input | expected` with BuildKit's fixed
/// environment; `W` lines are looked up as a Windows stage does (without
/// regard to case), `U` lines as a Linux stage, `A` lines both ways.
fn env_var_test(dir: &Path, out: &mut Vec<(String, Outcome)>) {
    let text = std::fs::read_to_string(dir.join("buildkit/shell/envVarTest")).unwrap();
    let env = [
        ("PWD", "/home"),
        ("SHELL", "bash"),
        ("KOREAN", "한국어"),
        ("NULL", ""),
    ];
    for (n, raw) in text.lines().enumerate() {
        if raw.starts_with('#') || raw.trim().is_empty() {
            continue;
        }
        let cols: Vec<&str> = raw.trim().split('|').collect();
        assert_eq!(cols.len(), 3, "envVarTest line {}", n + 1);
        let (platform, input, expected) = (cols[0].trim(), cols[1].trim(), cols[2].trim());
        let mut lookups: Vec<bool> = Vec::new();
        if platform != "W" {
            lookups.push(false);
        }
        if platform != "U" {
            lookups.push(true);
        }
        let mut r = Ok(());
        for insensitive in lookups {
            let vars = |name: &str| {
                env.iter()
                    .find(|(k, _)| {
                        if insensitive {
                            k.eq_ignore_ascii_case(name)
                        } else {
                            *k == name
                        }
                    })
                    .map(|(_, v)| v.to_string())
            };
            let got = Expander::default().word(input, Mode::Word, &vars);
            let agrees = match (&got, expected) {
                (Err(_), "error") => true,
                (Ok(g), e) => g.value == e,
                _ => false,
            };
            if !agrees {
                r = Err(format!(
                    "{input:?} ({}): Wharf {:?}, BuildKit {expected:?}",
                    if insensitive { "Windows" } else { "Linux" },
                    got.map(|g| g.value).map_err(|e| e.message)
                ));
            }
        }
        out.push((format!("envVarTest:{}", n + 1), r));
    }
}

/// `wordsTest`: `input | word,word,...`, `ENV name=value` lines adding to
/// the environment of the lines after them.
fn words_test(dir: &Path, out: &mut Vec<(String, Outcome)>) {
    let text = std::fs::read_to_string(dir.join("buildkit/shell/wordsTest")).unwrap();
    let mut env: BTreeMap<String, String> = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        if line.starts_with('#') {
            continue;
        }
        if let Some(rest) = line.strip_prefix("ENV ") {
            let (k, v) = rest.trim_start_matches(' ').split_once('=').unwrap();
            env.insert(k.to_string(), v.to_string());
            continue;
        }
        let cols: Vec<&str> = line.split('|').collect();
        assert_eq!(cols.len(), 2, "wordsTest line {}", n + 1);
        let input = cols[0].trim();
        let expected: Vec<String> = cols[1]
            .trim_start_matches(' ')
            .split(',')
            .map(str::to_string)
            .collect();
        let got = Expander::default()
            .words(input, &|k| env.get(k).cloned())
            .map(|w| w.value)
            .unwrap_or_else(|_| vec!["error".to_string()]);
        let r = if got == expected {
            Ok(())
        } else {
            Err(format!("{input:?}: Wharf {got:?}, BuildKit {expected:?}"))
        };
        out.push((format!("wordsTest:{}", n + 1), r));
    }
}

fn table_cases(dir: &Path, out: &mut Vec<(String, Outcome)>) {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("cases"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    for file in files {
        let stem = file.file_stem().unwrap().to_string_lossy().to_string();
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        for case in doc["cases"].as_array().unwrap() {
            let id = format!("{stem}:{}", case["name"].as_str().unwrap());
            let r = match case["kind"].as_str().unwrap() {
                "word" => word_case(case),
                "parse" => parse_case(case),
                "plan" => plan_case(case),
                "no_panic" => no_panic_case(case),
                other => Err(format!("unknown case kind {other}")),
            };
            out.push((id, r));
        }
    }
}

fn str_map(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

fn str_list(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| a.iter().map(|s| s.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

fn word_case(case: &Value) -> Outcome {
    let env = str_map(&case["env"]);
    let input = case["input"].as_str().unwrap();
    let got = Expander::default().word(input, Mode::Word, &|k| env.get(k).cloned());
    if case["expect_error"].as_bool() == Some(true) {
        return match got {
            Ok(g) => Err(format!(
                "{input:?}: Wharf gives {:?}, BuildKit an error",
                g.value
            )),
            Err(e) => match case["error_contains"].as_str() {
                Some(want) if !e.message.contains(want) => {
                    Err(format!("{input:?}: error {:?} lacks {want:?}", e.message))
                }
                _ => Ok(()),
            },
        };
    }
    let got = got.map_err(|e| format!("{input:?}: Wharf error {:?}", e.message))?;
    let want = case["expect"].as_str().unwrap();
    if got.value != want {
        return Err(format!(
            "{input:?}: Wharf {:?}, BuildKit {want:?}",
            got.value
        ));
    }
    if !case["names"].is_null() {
        let want: BTreeSet<String> = str_list(&case["names"]).into_iter().collect();
        let used: BTreeSet<String> = got.used.into_iter().collect();
        if used != want {
            return Err(format!("{input:?}: reads {used:?}, BuildKit {want:?}"));
        }
    }
    Ok(())
}

/// A heredoc as BuildKit's parser reports it: `chomp` content has not had
/// its leading tabs removed yet; Wharf's has.
fn heredoc_agrees(h: &Heredoc, want: &Value) -> bool {
    let mut content = want["content"].as_str().unwrap().to_string();
    let chomp = want["chomp"].as_bool().unwrap();
    if chomp {
        content = chomped(&content);
    }
    let fd = want["fd"].as_u64().unwrap();
    h.name == want["name"].as_str().unwrap()
        && h.content == content
        && h.expand == want["expand"].as_bool().unwrap()
        && h.strip_tabs == chomp
        && h.fd.map(u64::from).unwrap_or(0) == fd
}

fn chomped(s: &str) -> String {
    s.split_inclusive('\n')
        .map(|l| l.trim_start_matches('\t'))
        .collect()
}

fn heredocs_of(ins: &Instruction) -> Vec<Heredoc> {
    match ins {
        Instruction::Run(r) => r.heredocs.clone(),
        Instruction::Copy(c) | Instruction::Add { copy: c, .. } => c.heredocs.clone(),
        _ => vec![],
    }
}

// Long: one branch per kind of expectation the transcribed parse cases
// carry (heredocs, heredoc names, RUN, COPY, HEALTHCHECK, dumps).
fn parse_case(case: &Value) -> Outcome {
    let src = case["dockerfile"].as_str().unwrap();
    let parsed = parse("Dockerfile", src);
    if case["expect_error"].as_bool() == Some(true) {
        return match parsed {
            Err(_) => Ok(()),
            Ok(_) if parse_and_plan(src, &options(BTreeMap::new(), None)).is_err() => Ok(()),
            Ok(_) => Err("Wharf accepts what BuildKit rejects".into()),
        };
    }
    let f = parsed.map_err(|e| format!("Wharf rejects it: {e}"))?;
    if let Some(e) = case["escape"].as_str() {
        if f.directives.escape.to_string() != e {
            return Err(format!("escape {:?}, BuildKit {e:?}", f.directives.escape));
        }
    }
    if !case["expect_dump"].is_null() {
        return dump_compare(src, &str_list(&case["expect_dump"]));
    }
    for want in case["instructions"].as_array().unwrap() {
        let index = want["index"].as_u64().unwrap() as usize;
        let ins = &f
            .instructions
            .get(index)
            .ok_or_else(|| format!("no instruction {index}"))?
            .node;
        let docs = heredocs_of(ins);
        if let Some(hs) = want["heredocs"].as_array() {
            if docs.len() != hs.len() || !docs.iter().zip(hs).all(|(h, w)| heredoc_agrees(h, w)) {
                return Err(format!("heredocs {docs:?}, BuildKit {hs:?}"));
            }
        }
        if !want["heredoc_names"].is_null() {
            let names: Vec<String> = docs.iter().map(|h| h.name.clone()).collect();
            if names != str_list(&want["heredoc_names"]) {
                return Err(format!(
                    "heredoc names {names:?}, BuildKit {}",
                    want["heredoc_names"]
                ));
            }
        }
        if !want["run"].is_null() {
            let Instruction::Run(r) = ins else {
                return Err("not a RUN".into());
            };
            let (cmdline, shell) = match &r.command {
                Command::Exec(v) => (v.clone(), false),
                Command::Shell(s) => (vec![s.clone()], true),
            };
            let w = &want["run"];
            if cmdline != str_list(&w["cmdline"]) || Some(shell) != w["prepend_shell"].as_bool() {
                return Err(format!("RUN {cmdline:?} (shell {shell}), BuildKit {w}"));
            }
            if let Some(files) = w["files"].as_array() {
                let ok = files.len() == r.heredocs.len()
                    && files.iter().zip(&r.heredocs).all(|(f, h)| {
                        let chomp = f["chomp"].as_bool().unwrap();
                        let mut data = f["data"].as_str().unwrap().to_string();
                        if chomp {
                            data = chomped(&data);
                        }
                        h.name == f["name"].as_str().unwrap()
                            && h.content == data
                            && h.strip_tabs == chomp
                    });
                if !ok {
                    return Err(format!("RUN files {:?}, BuildKit {files:?}", r.heredocs));
                }
            }
        }
        if !want["copy"].is_null() {
            let (Instruction::Copy(c) | Instruction::Add { copy: c, .. }) = ins else {
                return Err("not a COPY".into());
            };
            let w = &want["copy"];
            let paths: Vec<String> = c
                .sources
                .iter()
                .filter(|s| !c.heredocs.iter().any(|h| **s == format!("<<{}", h.name)))
                .cloned()
                .collect();
            let contents: Vec<(String, String, bool)> = c
                .heredocs
                .iter()
                .map(|h| (h.name.clone(), h.content.clone(), h.expand))
                .collect();
            let want_contents: Vec<(String, String, bool)> = w["source_contents"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| {
                    (
                        s["path"].as_str().unwrap().to_string(),
                        s["data"].as_str().unwrap().to_string(),
                        s["expand"].as_bool().unwrap(),
                    )
                })
                .collect();
            if c.dest != w["dest"].as_str().unwrap()
                || paths != str_list(&w["source_paths"])
                || contents != want_contents
            {
                return Err(format!(
                    "COPY {paths:?} {contents:?} -> {}, BuildKit {w}",
                    c.dest
                ));
            }
        }
        if !want["healthcheck_test"].is_null() {
            let test = match ins {
                Instruction::Healthcheck(Healthcheck::None) => vec!["NONE".to_string()],
                Instruction::Healthcheck(Healthcheck::Cmd { command, .. }) => match command {
                    Command::Shell(s) => vec!["CMD-SHELL".to_string(), s.clone()],
                    Command::Exec(v) => std::iter::once("CMD".to_string())
                        .chain(v.clone())
                        .collect(),
                },
                _ => return Err("not a HEALTHCHECK".into()),
            };
            if test != str_list(&want["healthcheck_test"]) {
                return Err(format!(
                    "HEALTHCHECK test {test:?}, BuildKit {}",
                    want["healthcheck_test"]
                ));
            }
        }
    }
    Ok(())
}

fn plan_case(case: &Value) -> Outcome {
    let src = case["dockerfile"].as_str().unwrap();
    let o = options(
        str_map(&case["build_args"]),
        case["target"].as_str().map(str::to_string),
    );
    let planned = parse_and_plan(src, &o);
    if case["expect_error"].as_bool() == Some(true) {
        let want = case["error_contains"].as_str().unwrap_or("");
        return match planned {
            Ok(_) => Err("Wharf accepts what BuildKit rejects".into()),
            Err(e) if e.contains(want) => Ok(()),
            Err(e) => Err(format!("error {e:?} lacks {want:?}")),
        };
    }
    let p = planned.map_err(|e| format!("Wharf rejects it: {e}"))?;
    let target = &p.targets[0];
    for check in case["checks"].as_array().unwrap() {
        let line = check["line"].as_u64().unwrap() as usize;
        if let Some(want) = check["from"].as_str() {
            let stage = target
                .stages
                .iter()
                .find(|s| s.line == line)
                .ok_or_else(|| format!("no planned stage at line {line}"))?;
            let got = match &stage.base {
                Base::Image { reference, .. } => reference.clone(),
                Base::Scratch => "scratch".into(),
                Base::Stage { name, index } => name.clone().unwrap_or(index.to_string()),
            };
            if got != want {
                return Err(format!("line {line}: FROM {got:?}, BuildKit {want:?}"));
            }
            continue;
        }
        let ins = target
            .stages
            .iter()
            .flat_map(|s| &s.instructions)
            .find(|i| i.line == line)
            .ok_or_else(|| format!("no planned instruction at line {line}"))?;
        let env = ins.env.clone().unwrap_or_default();
        for (k, v) in str_map(&check["env_has"]) {
            if env.get(&k) != Some(&v) {
                return Err(format!(
                    "line {line}: {k}={:?}, BuildKit {v:?}",
                    env.get(&k)
                ));
            }
        }
        for k in str_list(&check["env_lacks"]) {
            if env.contains_key(&k) {
                return Err(format!("line {line}: {k} is set, BuildKit leaves it unset"));
            }
        }
        for (k, v) in str_map(&check["shell_env"]) {
            let got = env.get(&k).cloned().unwrap_or_default();
            if got != v {
                return Err(format!("line {line}: ${k} reads {got:?}, BuildKit {v:?}"));
            }
        }
        if let Some(pairs) = check["env_vars"].as_array() {
            let Instruction::Env { vars } = &ins.instruction else {
                return Err(format!("line {line} is not ENV"));
            };
            for pair in pairs {
                let pair = str_list(pair);
                if !vars.iter().any(|(k, v)| *k == pair[0] && *v == pair[1]) {
                    return Err(format!("line {line}: ENV {vars:?}, BuildKit {pair:?}"));
                }
            }
        }
        if !check["heredoc_contents"].is_null() {
            let got: Vec<String> = heredocs_of(&ins.instruction)
                .into_iter()
                .map(|h| h.content)
                .collect();
            if got != str_list(&check["heredoc_contents"]) {
                return Err(format!(
                    "line {line}: heredocs {got:?}, BuildKit {}",
                    check["heredoc_contents"]
                ));
            }
        }
    }
    Ok(())
}

fn no_panic_case(case: &Value) -> Outcome {
    for src in str_list(&case["dockerfiles"]) {
        let r = std::panic::catch_unwind(|| {
            let _ = parse_and_plan(&src, &options(BTreeMap::new(), None));
        });
        if r.is_err() {
            return Err(format!("panics on {src:?}"));
        }
    }
    Ok(())
}

#[test]
fn buildkit_test_data_agrees() {
    let dir = data_dir();
    let mut results = Vec::new();
    parser_testfiles(&dir, &mut results);
    env_var_test(&dir, &mut results);
    words_test(&dir, &mut results);
    table_cases(&dir, &mut results);

    let total = results.len();
    let agree = results.iter().filter(|(_, r)| r.is_ok()).count();
    eprintln!("BuildKit conformance: {agree} of {total} cases agree");
    let mut failures = Vec::new();
    for (id, r) in &results {
        let deliberate = DELIBERATE.iter().any(|(d, _)| d == id);
        match (r, deliberate) {
            (Err(e), false) => failures.push(format!("{id}: {e}")),
            (Ok(()), true) => failures.push(format!(
                "{id} agrees now: remove it from the list of deliberate differences"
            )),
            (Err(e), true) => eprintln!("deliberate: {id}: {e}"),
            (Ok(()), false) => {}
        }
    }
    for (d, _) in DELIBERATE {
        if !results.iter().any(|(id, _)| id == d) {
            failures.push(format!("deliberate difference {d} names no case"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} disagreement(s) with BuildKit:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
