//! The `wharf` command. Only this crate knows about terminals, the process
//! environment and exit codes; everything else is library code.

mod args;
mod build_cmd;
mod build_contexts;
mod cache_specs;
mod load;
mod output;
mod progress;
mod run_options;
mod run_setup;
mod stdout;
mod store_cmds;

use anyhow::{bail, Context, Result};
use args::{BuildArgs, Cli, Command};
use clap::Parser;
use std::collections::BTreeMap;
use std::process::ExitCode;
use wharf_frontend::plan::{plan, NoBaseImages, Plan, PlanOptions};
use wharf_oci::Platform;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Plan(a) => run_plan(&a, true),
        Command::Build(a) => run_setup::enter_rootless_if_needed().and_then(|()| run_build(&a)),
        Command::Pull(a) => store_cmds::pull(&a),
        Command::Push(a) => store_cmds::push(&a),
        Command::Images(a) => store_cmds::images(&a),
        Command::Inspect(a) => store_cmds::inspect(&a),
        // A rootless build's snapshots belong to its subordinate ids.
        Command::Prune(a) => {
            run_setup::enter_rootless_if_needed().and_then(|()| store_cmds::prune(&a))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.is::<stdout::StdoutClosed>() => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            // A message that already quotes its cause (`writing x: Is a
            // directory`) does not print it again.
            let mut said = e.to_string();
            for cause in e.chain().skip(1) {
                let text = cause.to_string();
                if !said.contains(&text) {
                    eprintln!("  caused by: {text}");
                }
                said = text;
            }
            ExitCode::FAILURE
        }
    }
}

/// `--build-arg` values; a bare name takes the environment's value (and
/// is left unset when the environment has none, as Docker does).
fn build_args(raw: &[String], extra: &[(String, String)]) -> Result<BTreeMap<String, String>> {
    let mut out: BTreeMap<String, String> = extra.iter().cloned().collect();
    for a in raw {
        match a.split_once('=') {
            Some(("", _)) => {
                bail!("--build-arg {a}: the name is empty; write --build-arg NAME=value")
            }
            Some((k, v)) => {
                out.insert(k.to_string(), v.to_string());
            }
            None => {
                if let Ok(v) = std::env::var(a) {
                    out.insert(a.clone(), v);
                }
            }
        }
    }
    Ok(out)
}

/// Plan options from the command line (and a ZImagefile's build args).
fn plan_options(a: &BuildArgs, loaded: &load::Loaded) -> Result<PlanOptions> {
    let mut platforms = Vec::new();
    for p in &a.platforms {
        let p = p.trim();
        if p.is_empty() {
            continue;
        }
        platforms.push(p.parse::<Platform>().context("--platform")?);
    }
    if let (Some(t), Some(w)) = (loaded.template, platforms.iter().find(|p| p.is_windows())) {
        if !t.windows {
            bail!(
                "runtime template `{}` builds Linux images only, but --platform asks for {w}; \
                 the go, rust and dotnet templates also build for Windows",
                t.name
            );
        }
    }
    for l in &a.labels {
        if !l.contains('=') {
            bail!("--label {l}: write --label KEY=value");
        }
    }
    let named_contexts = build_contexts::parse(&a.build_contexts)?
        .into_iter()
        .map(|(name, (context, _))| (name, context))
        .collect();
    Ok(PlanOptions {
        build_args: build_args(&a.build_args, &loaded.extra_args)?,
        target: a.target.clone(),
        platforms,
        named_contexts,
        // On Windows the host's build: images are chosen for it.
        build_platform: wharf_run::host_platform(),
        // The host's, and other Linux architectures QEMU runs through
        // binfmt_misc.
        run_platforms: Some(wharf_run::binfmt::runnable_platforms()),
    })
}

/// The build file, or the runtime template `--runtime-template` names or
/// `--detect-runtime` finds.
fn load_build(a: &BuildArgs) -> Result<load::Loaded> {
    if let Some(name) = &a.runtime_template {
        return load::load_runtime(&a.context, Some(name));
    }
    if a.detect_runtime {
        return load::load_runtime(&a.context, None);
    }
    load::load(&a.context, a.file.as_deref())
}

fn make_plan(a: &BuildArgs) -> Result<Plan> {
    let loaded = load_build(a)?;
    let options = plan_options(a, &loaded)?;
    let plan = plan(&loaded.file, &loaded.text, &options, &NoBaseImages)?;
    if let Some(ignore) = &loaded.ignore {
        if a.progress != args::Progress::Json && !a.quiet {
            eprintln!(
                "note: {} excludes {} pattern(s) from the context {}",
                ignore.file_name(),
                ignore.patterns().len(),
                loaded.context.display()
            );
        }
    }
    for w in &plan.warnings {
        match w.line {
            Some(l) => eprintln!("warning: {}:{l}: {}", plan.file, w.message),
            None => eprintln!("warning: {}: {}", plan.file, w.message),
        }
    }
    for t in &plan.targets {
        if !t.skipped_stages.is_empty() && a.progress != args::Progress::Json && !a.quiet {
            eprintln!(
                "note: {}: stages not needed for the target are skipped: {}",
                t.platform,
                t.skipped_stages
                    .iter()
                    .map(|s| s.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    Ok(plan)
}

fn run_plan(a: &BuildArgs, print: bool) -> Result<()> {
    let plan = make_plan(a)?;
    if print {
        stdout::line(serde_json::to_string_pretty(&plan)?)?;
    }
    Ok(())
}

fn run_build(a: &BuildArgs) -> Result<()> {
    let mut outputs = a
        .outputs
        .iter()
        .map(|o| output::parse_output(o))
        .collect::<Result<Vec<_>>>()?;
    if a.push && !outputs.contains(&output::Output::Registry) {
        outputs.push(output::Output::Registry);
    }
    if outputs.contains(&output::Output::Registry) && a.tags.is_empty() {
        bail!("pushing needs an image name: add -t registry.example/name:tag");
    }
    if a.dry_run {
        return run_plan(a, true);
    }
    // A destination that cannot be written fails now, not after the build.
    for out in &outputs {
        if let output::Output::Export(spec) = out {
            spec.check_destination()?;
        }
    }
    let loaded = load_build(a)?;
    let options = plan_options(a, &loaded)?;
    build_cmd::run(a, loaded, options, &outputs)
}
