//! The `wasm:` form: a WebAssembly module packaged as an OCI artifact
//! (the CNCF TAG Runtime layout: config `application/vnd.wasm.config.v0+json`,
//! one `application/wasm` layer). The front end only describes how to get
//! the module; the builder packages it.
//!
//! The module comes from the context (`output:` alone: a prebuilt file) or
//! from a Linux stage that compiles it (`language: rust | go`, with
//! `output:` the module's path under /src, the context's copy):
//! `build_args` become the stage's environment, `pre_build` and
//! `post_build` commands run before and after the compiler. Either way the
//! build's output stage is `FROM scratch` holding only [`WASM_MODULE_PATH`],
//! which the builder turns into the artifact.
//!
//! Refused, with the reason: `target: preview2` (a wasip2 artifact's config
//! must describe the component's world, which Wharf does not read),
//! `optimize`/`opt_level` (Wharf runs no `wasm-opt`; run it in
//! `post_build`), `wit`, `world`, `adapter` (component tooling),
//! `oci: false` (Wharf's result is always the artifact), and every image
//! field (an artifact has no container configuration).

use super::fields::{env_name_problem, Ctx, Field, Fields};
use super::push;
use super::yaml::Kind;
use crate::ast::{
    ArgDecl, BuildFile, CacheSharing, Command, Copy, Directives, From, Instruction, Located, Mount,
    Run,
};
use crate::error::FrontendError;

/// Where the output stage holds the module.
pub const WASM_MODULE_PATH: &str = "/module.wasm";

/// A `wasm:` ZImagefile: the build that yields the module, and the
/// artifact's `os`.
#[derive(Debug, Clone, PartialEq)]
pub struct WasmBuild {
    /// Its output stage is `FROM scratch` with only [`WASM_MODULE_PATH`].
    pub file: BuildFile,
    /// The artifact config's `os`: `wasip1`.
    pub os: String,
}

const FIELDS: &[&str] = &[
    "target",
    "output",
    "language",
    "features",
    "build_args",
    "pre_build",
    "post_build",
    "optimize",
    "opt_level",
    "wit",
    "world",
    "adapter",
    "oci",
];

/// Why a field Wharf knows from the format is refused, if it is.
fn refusal(name: &str) -> Option<&'static str> {
    Some(match name {
        "optimize" | "opt_level" => {
            "Wharf runs no wasm-opt; run it as a `post_build` command in the build stage"
        }
        "wit" | "world" | "adapter" => {
            "Wharf packages core modules (wasip1) and does no component tooling; build the component's bindings in `pre_build`"
        }
        _ => return None,
    })
}

/// Reads the `wasm` mapping.
pub(crate) fn wasm(ctx: &Ctx<'_>, f: Field<'_>) -> Result<WasmBuild, FrontendError> {
    let w = ctx.fields(f.value, "`wasm`", FIELDS)?;
    for field in w.present(FIELDS) {
        if let Some(reason) = refusal(field.name) {
            return Err(ctx
                .err(
                    field.key.pos,
                    format!("`wasm.{}` is not supported", field.name),
                )
                .with_hint(reason));
        }
    }
    if let Some(o) = w.get("oci") {
        if !ctx.boolean(o)? {
            return Err(ctx
                .err(o.value.pos, "`wasm.oci: false` is not supported")
                .with_hint("Wharf's result is always the OCI artifact; export it with --output type=oci,dest=DIR to reach the module file"));
        }
    }
    let os = match w.get("target") {
        None => "wasip1".to_string(),
        Some(t) => match ctx.string(t)?.as_str() {
            "preview1" | "wasip1" => "wasip1".to_string(),
            "preview2" | "wasip2" => {
                return Err(ctx
                    .err(t.value.pos, "`wasm.target: preview2` is not supported")
                    .with_hint("a wasip2 artifact's config must list the component's imports and exports, which Wharf does not read; package a core module with `target: preview1`"))
            }
            other => {
                return Err(ctx
                    .err(t.value.pos, format!("unknown wasm target `{other}`"))
                    .with_hint("use `preview1` (wasip1)"))
            }
        },
    };
    let Some(output) = w.get("output") else {
        return Err(ctx
            .err(f.key.pos, "`wasm` needs `output`, the path of the module")
            .with_hint("e.g. `output: app.wasm` (a prebuilt module in the context), or with `language: rust`, `output: target/wasm32-wasip1/release/app.wasm`"));
    };
    let module = ctx.non_empty(output)?;
    let mut out = Vec::new();
    let source = match w.get("language") {
        None => {
            for name in ["features", "build_args", "pre_build", "post_build"] {
                if let Some(x) = w.get(name) {
                    return Err(ctx
                        .err(x.key.pos, format!("`wasm.{name}` needs `language`: nothing is built without it"))
                        .with_hint("add `language: rust` or `language: go` to compile the module in a Linux stage, or remove this field to package the prebuilt `output`"));
                }
            }
            module
        }
        Some(lang) => {
            build_stage(ctx, &w, lang, &module, &mut out)?;
            format!("/src/{}", module.trim_start_matches("./"))
        }
    };
    push(
        &mut out,
        f.key,
        f.value.end_line,
        Instruction::From(From {
            image: "scratch".into(),
            name: Some("wasm".into()),
            platform: None,
        }),
    );
    let from_stage = w.get("language").is_some();
    push(
        &mut out,
        output.key,
        output.value.end_line,
        Instruction::Copy(Copy {
            sources: vec![source],
            dest: WASM_MODULE_PATH.into(),
            heredocs: Vec::new(),
            from: from_stage.then(|| "build".to_string()),
            chown: None,
            chmod: None,
            link: false,
            parents: false,
            exclude: Vec::new(),
            json: false,
        }),
    );
    Ok(WasmBuild {
        file: BuildFile {
            path: ctx.file.to_string(),
            directives: Directives::default(),
            instructions: out,
            warnings: Vec::new(),
        },
        os,
    })
}

// Long: the build stage's instructions in order (base argument, FROM, env,
// sources, pre_build, compiler, post_build), each pointing at its key.
/// The Linux stage `build` that compiles the module into /src.
fn build_stage(
    ctx: &Ctx<'_>,
    w: &Fields<'_>,
    lang: Field<'_>,
    module: &str,
    out: &mut Vec<Located<Instruction>>,
) -> Result<(), FrontendError> {
    let language = ctx.string(lang)?;
    let features = match w.get("features") {
        Some(f) => ctx.string_or_list(f, "a feature name or a list of them")?,
        None => Vec::new(),
    };
    let (arg, image, compile, caches) = match language.as_str() {
        "rust" => (
            "RUST_IMAGE",
            "docker.io/library/rust:1-slim",
            {
                let features = if features.is_empty() {
                    String::new()
                } else {
                    format!(" --features {}", features.join(","))
                };
                format!("rustup target add wasm32-wasip1 && cargo build --release --target wasm32-wasip1{features}")
            },
            vec![("/usr/local/cargo/registry", "wharf-cargo-registry")],
        ),
        "go" => (
            "GO_IMAGE",
            "docker.io/library/golang:1-alpine",
            {
                let tags = if features.is_empty() {
                    String::new()
                } else {
                    format!(" -tags {}", features.join(","))
                };
                let dest = module.trim_start_matches("./");
                format!("GOOS=wasip1 GOARCH=wasm go build{tags} -o {dest} .")
            },
            vec![
                ("/go/pkg/mod", "wharf-go-mod"),
                ("/root/.cache/go-build", "wharf-go-build"),
            ],
        ),
        other => {
            return Err(ctx
                .err(lang.value.pos, format!("Wharf does not build wasm from `{other}`"))
                .with_hint("use `language: rust` or `language: go`, or build the module first and give its path as `output` without `language`"))
        }
    };
    let key = lang.key;
    let end = lang.value.end_line;
    push(
        out,
        key,
        end,
        Instruction::Arg {
            args: vec![ArgDecl {
                name: arg.into(),
                default: Some(image.into()),
            }],
        },
    );
    push(
        out,
        key,
        end,
        Instruction::From(From {
            image: format!("${{{arg}}}"),
            name: Some("build".into()),
            platform: Some("linux/${TARGETARCH}".into()),
        }),
    );
    if let Some(b) = w.get("build_args") {
        let vars = ctx.string_map(b, env_name_problem)?;
        if !vars.is_empty() {
            push(out, b.key, b.value.end_line, Instruction::Env { vars });
        }
    }
    push(
        out,
        key,
        end,
        Instruction::Workdir {
            path: "/src".into(),
        },
    );
    push(
        out,
        key,
        end,
        Instruction::Copy(Copy {
            sources: vec![".".into()],
            dest: ".".into(),
            heredocs: Vec::new(),
            from: None,
            chown: None,
            chmod: None,
            link: false,
            parents: false,
            exclude: Vec::new(),
            json: false,
        }),
    );
    commands(ctx, w.get("pre_build"), out)?;
    let mounts = caches
        .into_iter()
        .map(|(target, id)| Mount::Cache {
            target: target.into(),
            id: Some(id.into()),
            sharing: CacheSharing::Shared,
            readonly: false,
            from: None,
            source: None,
            mode: None,
            uid: None,
            gid: None,
        })
        .collect();
    push(out, key, end, run(Command::Shell(compile), mounts));
    commands(ctx, w.get("post_build"), out)
}

fn run(command: Command, mounts: Vec<Mount>) -> Instruction {
    Instruction::Run(Run {
        command,
        heredocs: Vec::new(),
        mounts,
        network: None,
        security: None,
    })
}

/// `pre_build` / `post_build`: a list of commands (strings or exec lists),
/// one RUN each.
fn commands(
    ctx: &Ctx<'_>,
    f: Option<Field<'_>>,
    out: &mut Vec<Located<Instruction>>,
) -> Result<(), FrontendError> {
    let Some(f) = f else { return Ok(()) };
    let Kind::Seq(items) = &f.value.kind else {
        return Err(ctx.err(
            f.value.pos,
            format!(
                "`{}` must be a list of commands, found {}",
                f.name,
                f.value.describe()
            ),
        ));
    };
    for item in items {
        let field = Field {
            name: f.name,
            key: item,
            value: item,
        };
        let command = ctx.command(field)?;
        push(out, item, item.end_line, run(command, Vec::new()));
    }
    Ok(())
}

/// Why a top-level field cannot go beside `wasm`.
pub(crate) fn top_level_refusal(name: &str) -> String {
    format!("`{name}` does not apply to a wasm artifact: it holds one module and no container configuration")
}
