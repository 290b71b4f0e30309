//! Runtime templates through the `wharf` binary against a real loopback
//! registry. The real toolchain images cannot be pulled here, so each
//! template's base images are replaced (`--build-arg`) by fixtures: the
//! busybox image plus shell scripts standing in for `npm`, `go`, `cargo`,
//! `dotnet`, ... that write what the real tool would (a "binary" that is a
//! shell script). Each Linux image's entry point then runs in the sandbox
//! as the image says (user, working directory, environment); the Windows
//! outputs of `go`, `rust` and `dotnet` are built for two Windows versions
//! at once on a fixture Nano Server index and checked with the Windows
//! layer checker.
#![cfg(target_os = "linux")]

mod common;
use common::{check_windows_layer, json, ok, registry_with_busybox_in, run, wharf};
use std::path::{Path, PathBuf};
use wharf_store::Store;
use wharf_testkit::registry::Registry;

/// Builds and pushes `<host>/fixture/<name>:1`: busybox with `scripts`
/// (name, text) as executables in /usr/local/bin.
fn push_toolchain(
    reg: &Registry,
    dir: &Path,
    busybox: &str,
    name: &str,
    scripts: &[(&str, &str)],
) -> String {
    let ctx = dir.join(format!("toolchain-{name}"));
    std::fs::create_dir_all(ctx.join("bin")).unwrap();
    for (file, text) in scripts {
        std::fs::write(ctx.join("bin").join(file), text).unwrap();
    }
    std::fs::write(
        ctx.join("Dockerfile"),
        format!("FROM {busybox}\nCOPY --chmod=0755 bin/ /usr/local/bin/\n"),
    )
    .unwrap();
    let tag = format!("{}/fixture/{name}:1", reg.host());
    ok(wharf()
        .args(["build", "--push", "-t", &tag, "--store"])
        .arg(dir.join("fixture-store"))
        .arg(&ctx));
    tag
}

/// Writes `files` (name, text) into a fresh context directory.
fn context(dir: &Path, name: &str, files: &[(&str, &str)]) -> PathBuf {
    let ctx = dir.join(name);
    std::fs::create_dir_all(&ctx).unwrap();
    for (file, text) in files {
        std::fs::write(ctx.join(file), text).unwrap();
    }
    ctx
}

/// `wharf build --detect-runtime` (unless `args` name the template or the
/// context has a build file) exporting an OCI layout; returns the layout.
fn build(dir: &Path, ctx: &Path, out: &str, args: &[String]) -> PathBuf {
    let layout = dir.join(out);
    let named = args.iter().any(|a| a == "--runtime-template") || ctx.join("ZImagefile").exists();
    ok(wharf()
        .arg("build")
        .args((!named).then_some("--detect-runtime"))
        .arg("-t")
        .arg(format!("example.test/{out}:1"))
        .args(args)
        .arg("--store")
        .arg(dir.join("store"))
        .arg("-o")
        .arg(format!("type=oci,dest={}", layout.display()))
        .arg(ctx));
    layout
}

fn blob(layout: &Path, digest: &str) -> PathBuf {
    layout
        .join("blobs/sha256")
        .join(digest.trim_start_matches("sha256:"))
}

fn read_json(path: &Path) -> serde_json::Value {
    json(&std::fs::read_to_string(path).unwrap())
}

/// The layout's root (a manifest or an index).
fn root(layout: &Path) -> serde_json::Value {
    let index = read_json(&layout.join("index.json"));
    read_json(&blob(
        layout,
        index["manifests"][0]["digest"].as_str().unwrap(),
    ))
}

/// The ref name of the layout's first manifest.
fn ref_name(layout: &Path) -> String {
    let index = read_json(&layout.join("index.json"));
    index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"]
        .as_str()
        .unwrap_or("latest")
        .to_string()
}

/// Unpacks the layout's image with umoci and runs its entry point and
/// command in the sandbox as its configuration says; returns stdout.
fn run_image(dir: &Path, layout: &Path) -> String {
    let manifest = root(layout);
    let config = read_json(&blob(
        layout,
        manifest["config"]["digest"].as_str().unwrap(),
    ));
    let c = &config["config"];
    let bundle = dir.join(format!(
        "bundle-{}",
        layout.file_name().unwrap().to_string_lossy()
    ));
    ok(std::process::Command::new("umoci")
        .args(["unpack", "--image"])
        .arg(format!("{}:{}", layout.display(), ref_name(layout)))
        .arg(&bundle));
    let strings = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .map(|a| a.iter().map(|s| s.as_str().unwrap().to_string()).collect())
            .unwrap_or_default()
    };
    let mut argv = strings(&c["Entrypoint"]);
    argv.extend(strings(&c["Cmd"]));
    let upper = bundle.join("upper");
    let work = bundle.join("work");
    std::fs::create_dir_all(&upper).unwrap();
    std::fs::create_dir_all(&work).unwrap();
    let mut spec = wharf_sandbox::SandboxSpec::new(vec![bundle.join("rootfs")], upper, work, argv);
    spec.env = strings(&c["Env"])
        .iter()
        .filter_map(|e| e.split_once('=').map(|(k, v)| (k.into(), v.into())))
        .collect();
    spec.cwd = c["WorkingDir"].as_str().unwrap_or("/").to_string();
    let uid: u32 = c["User"].as_str().unwrap().parse().unwrap();
    spec.user = wharf_sandbox::Ids {
        uid,
        gid: 0,
        additional_gids: Vec::new(),
    };
    let mut stdout = Vec::new();
    let status = wharf_sandbox::run(&spec, &mut |s, b| {
        if s == wharf_sandbox::Stream::Stdout {
            stdout.extend_from_slice(b)
        }
    })
    .unwrap();
    assert!(status.success(), "{}", String::from_utf8_lossy(&stdout));
    String::from_utf8_lossy(&stdout).into_owned()
}

const NPM: &str = r#"#!/bin/sh
case "$1" in
  ci|install) mkdir -p node_modules && echo "npm $1" > node_modules/.fixture ;;
  run) [ "$2" = build ] && echo built > build.txt ;;
  prune) echo pruned >> node_modules/.fixture ;;
  start) echo "start: $(cat node_modules/.fixture | tr '\n' ' ')$(cat build.txt) NODE_ENV=$NODE_ENV uid=$(id -u) $(cat index.js)" ;;
esac
"#;

const PYTHON: &str = r#"#!/bin/sh
if [ "$1" = -m ] && [ "$2" = venv ]; then
  mkdir -p "$3/bin"
  cp /usr/local/bin/python "$3/bin/python"
  printf '#!/bin/sh\necho "$*" >> /opt/venv/installed\n' > "$3/bin/pip"
  chmod 0755 "$3/bin/pip"
  exit 0
fi
echo "python $1 from $0: $(cat /opt/venv/installed) uid=$(id -u)"
"#;

const DENO: &str = r#"#!/bin/sh
case "$1" in
  cache) mkdir -p "$DENO_DIR" && echo "cached $2" > "$DENO_DIR/deps" ;;
  run) shift; while [ "${1#--}" != "$1" ]; do shift; done; echo "deno ran $1: $(cat "$DENO_DIR/deps") uid=$(id -u)" ;;
esac
"#;

const BUN: &str = r#"#!/bin/sh
case "$1" in
  install) mkdir -p node_modules && echo "bun install $2" > node_modules/.fixture ;;
  run) if [ "$2" = build ]; then echo built > build.txt; else echo "bun $2: $(cat node_modules/.fixture) $(cat build.txt) uid=$(id -u)"; fi ;;
esac
"#;

/// `go build -trimpath -o OUT .`: a shell script "binary" at OUT.
const GO: &str = r#"#!/bin/sh
while [ $# -gt 0 ]; do [ "$1" = -o ] && out="$2"; shift; done
printf '#!/bin/sh\necho "go binary for %s/%s, uid $(id -u)"\n' "$GOOS" "$GOARCH" > "$out"
chmod 0755 "$out"
"#;

/// `cargo build --release [--target T]`: a binary and a `.d` file.
const CARGO: &str = r#"#!/bin/sh
t=""
while [ $# -gt 0 ]; do [ "$1" = --target ] && t="$2"; shift; done
if [ -n "$t" ]; then d="target/$t/release"; n=hello.exe; else d=target/release; n=hello; fi
mkdir -p "$d"
printf '#!/bin/sh\necho "rust binary for %s, uid $(id -u)"\n' "${t:-host}" > "$d/$n"
chmod 0755 "$d/$n"
echo "deps" > "$d/hello.d"
"#;

/// `dotnet publish ... -r RID ... -o OUT`: app or app.exe in OUT.
const DOTNET: &str = r#"#!/bin/sh
while [ $# -gt 0 ]; do case "$1" in -r) rid="$2" ;; -o) out="$2" ;; esac; shift; done
mkdir -p "$out"
case "$rid" in win-*) f="$out/app.exe" ;; *) f="$out/app" ;; esac
printf '#!/bin/sh\necho "dotnet app for %s, uid $(id -u)"\n' "$rid" > "$f"
chmod 0755 "$f"
echo '{}' > "$out/app.runtimeconfig.json"
"#;

const NOOP: &str = "#!/bin/sh\nexit 0\n";

fn arg(name: &str, value: &str) -> [String; 2] {
    ["--build-arg".into(), format!("{name}={value}")]
}

#[test]
fn interpreted_runtimes_build_and_run_from_fixture_toolchains() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (reg, busybox) = registry_with_busybox_in(d);
    let node = push_toolchain(&reg, d, &busybox, "node", &[("npm", NPM)]);
    let python = push_toolchain(&reg, d, &busybox, "python", &[("python", PYTHON)]);
    let deno = push_toolchain(&reg, d, &busybox, "deno", &[("deno", DENO)]);
    let bun = push_toolchain(&reg, d, &busybox, "bun", &[("bun", BUN)]);

    // Detected from package.json, with no build file.
    let ctx = context(
        d,
        "node-app",
        &[("package.json", "{}"), ("index.js", "hello-node")],
    );
    let layout = build(d, &ctx, "node-oci", &arg("NODE_IMAGE", &node));
    assert_eq!(
        run_image(d, &layout),
        "start: npm install pruned built NODE_ENV=production uid=1000 hello-node\n"
    );
    // Named on the command line, under an alias; a lock file means `npm ci`.
    std::fs::write(ctx.join("package-lock.json"), "{}").unwrap();
    let mut a = vec!["--runtime-template".to_string(), "node".into()];
    a.extend(arg("NODE_IMAGE", &node));
    let layout = build(d, &ctx, "node-ci-oci", &a);
    assert!(run_image(d, &layout).starts_with("start: npm ci pruned"));

    let ctx = context(
        d,
        "py-app",
        &[("requirements.txt", "flask\n"), ("app.py", "")],
    );
    let layout = build(d, &ctx, "py-oci", &arg("PYTHON_IMAGE", &python));
    assert_eq!(
        run_image(d, &layout),
        "python app.py from /opt/venv/bin/python: install -r requirements.txt uid=1000\n"
    );

    let ctx = context(d, "deno-app", &[("deno.json", "{}"), ("main.ts", "")]);
    let layout = build(d, &ctx, "deno-oci", &arg("DENO_IMAGE", &deno));
    assert_eq!(
        run_image(d, &layout),
        "deno ran main.ts: cached main.ts uid=1000\n"
    );

    let ctx = context(
        d,
        "bun-app",
        &[
            ("package.json", r#"{"scripts":{"build":"x"}}"#),
            ("bun.lockb", ""),
        ],
    );
    let layout = build(d, &ctx, "bun-oci", &arg("BUN_IMAGE", &bun));
    assert_eq!(
        run_image(d, &layout),
        "bun start: bun install --frozen-lockfile built uid=1000\n"
    );
    drop(reg);
}

#[test]
fn runtime_zimagefile_sets_the_output_stage_fields() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (reg, busybox) = registry_with_busybox_in(d);
    let node = push_toolchain(&reg, d, &busybox, "node", &[("npm", NPM)]);
    let zimagefile = format!(
        "version: \"1\"\nruntime: node20\nargs:\n  NODE_IMAGE: {node}\nenv:\n  GREETING: hi\n\
         expose: 8080\nlabels:\n  org.opencontainers.image.title: shop\nuser: \"1001\"\n"
    );
    let ctx = context(
        d,
        "app",
        &[
            ("ZImagefile", &zimagefile),
            ("package.json", "{}"),
            ("index.js", "z"),
        ],
    );
    let layout = build(d, &ctx, "oci", &[]);
    let config = read_json(&blob(
        &layout,
        root(&layout)["config"]["digest"].as_str().unwrap(),
    ));
    let c = &config["config"];
    assert_eq!(c["User"], "1001");
    assert_eq!(c["WorkingDir"], "/app");
    assert!(common::has_env(&config, "GREETING=hi"), "{c}");
    assert!(common::has_env(&config, "NODE_ENV=production"), "{c}");
    assert_eq!(c["Labels"]["org.opencontainers.image.title"], "shop");
    assert!(c["ExposedPorts"]["8080/tcp"].is_object(), "{c}");
    assert_eq!(
        run_image(d, &layout),
        "start: npm install pruned built NODE_ENV=production uid=1001 z\n"
    );

    // `wharf plan` shows what the template expands to.
    let (plan, _) = ok(wharf()
        .args([
            "plan",
            "--runtime-template",
            "go",
            "--platform",
            "windows/amd64:10.0.20348",
        ])
        .arg(&ctx));
    let plan = json(&plan);
    let stages: Vec<&str> = plan["targets"][0]["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(stages, ["build", "runtime-windows", "app"]);
    assert_eq!(plan["file"], "runtime template go");
    drop(reg);
}

#[test]
fn runtime_errors_name_what_was_looked_for() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let empty = context(d, "empty", &[("README.md", "")]);
    let (o, _, e) = run(wharf().args(["plan", "--detect-runtime"]).arg(&empty));
    assert!(!o.status.success());
    assert!(
        e.contains("cannot detect the runtime: none of package.json"),
        "{e}"
    );
    assert!(e.contains("go.mod"), "{e}");
    let two = context(d, "two", &[("go.mod", ""), ("Cargo.toml", "")]);
    let (_, _, e) = run(wharf().args(["plan", "--detect-runtime"]).arg(&two));
    assert!(e.contains("Cargo.toml (rust), go.mod (go)"), "{e}");
    let (_, _, e) = run(wharf()
        .args(["plan", "--runtime-template", "nod22"])
        .arg(&two));
    assert!(
        e.contains("--runtime-template: unknown runtime `nod22`"),
        "{e}"
    );
    assert!(e.contains("did you mean `node22`?"), "{e}");
    // Without a build file, the message points at the runtime flags.
    let (_, _, e) = run(wharf().arg("plan").arg(&two));
    assert!(e.contains("--detect-runtime"), "{e}");
    let bad = context(
        d,
        "bad",
        &[("ZImagefile", "version: \"1\"\nruntime: nodejs\n")],
    );
    let (_, _, e) = run(wharf().arg("plan").arg(&bad));
    assert!(
        e.contains("ZImagefile:2:10: unknown runtime `nodejs`"),
        "{e}"
    );
    // Linux-only templates refuse a Windows target, named or from a file.
    let (_, _, e) = run(wharf()
        .args([
            "plan",
            "--runtime-template",
            "bun",
            "--platform",
            "windows/amd64",
        ])
        .arg(&two));
    assert!(
        e.contains("runtime template `bun` builds Linux images only"),
        "{e}"
    );
    let py = context(
        d,
        "py",
        &[("ZImagefile", "version: \"1\"\nruntime: python\n")],
    );
    let (_, _, e) = run(wharf()
        .args(["plan", "--platform", "linux/amd64,windows/amd64:10.0.17763"])
        .arg(&py));
    assert!(
        e.contains("runtime template `python313` builds Linux images only"),
        "{e}"
    );
}

/// The `os.version` and top layer blob of each manifest of the layout's index.
fn windows_app_layers(layout: &Path) -> Vec<(String, PathBuf)> {
    let index = root(layout);
    index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let version = m["platform"]["os.version"].as_str().unwrap().to_string();
            let manifest = read_json(&blob(layout, m["digest"].as_str().unwrap()));
            let last = manifest["layers"]
                .as_array()
                .unwrap()
                .last()
                .unwrap()
                .clone();
            (version, blob(layout, last["digest"].as_str().unwrap()))
        })
        .collect()
}

/// (name, contents) of the files in a gzip layer tar.
fn layer_files(path: &Path) -> Vec<(String, String)> {
    use std::io::Read;
    let f = std::fs::File::open(path).unwrap();
    let mut a = tar::Archive::new(flate2::read::GzDecoder::new(f));
    let mut out = Vec::new();
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().to_string_lossy().to_string();
        let mut data = String::new();
        e.read_to_string(&mut data).unwrap_or_default();
        out.push((name, data));
    }
    out
}

#[test]
fn compiled_runtimes_build_for_linux_and_for_two_windows_versions() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (reg, busybox) = registry_with_busybox_in(d);
    let go = push_toolchain(&reg, d, &busybox, "go", &[("go", GO)]);
    let rust = push_toolchain(
        &reg,
        d,
        &busybox,
        "rust",
        &[
            ("cargo", CARGO),
            ("rustup", NOOP),
            ("x86_64-w64-mingw32-gcc", NOOP),
        ],
    );
    let dotnet = push_toolchain(&reg, d, &busybox, "dotnet", &[("dotnet", DOTNET)]);
    // Nano Server: one index of two Windows versions.
    let src = Store::open(d.join("win-src")).unwrap();
    let nano = format!("{}/fixture/nanoserver:1", reg.host());
    let manifests = ["10.0.17763.5122", "10.0.20348.2113"]
        .iter()
        .map(|v| {
            let mut m = wharf_testkit::images::store_windows_image(&src, v);
            m.platform = Some(wharf_testkit::images::windows_platform(v));
            m
        })
        .collect();
    wharf_testkit::images::store_index(&src, &nano, manifests);
    ok(wharf()
        .arg("push")
        .arg("--store")
        .arg(d.join("win-src"))
        .arg(&nano));

    let cases = [
        (
            "go",
            "GO_IMAGE",
            &go,
            ("go.mod", "module example"),
            "go binary for linux/amd64, uid 1000\n",
            "go binary for windows/amd64",
        ),
        (
            "rust",
            "RUST_IMAGE",
            &rust,
            ("Cargo.toml", "[package]"),
            "rust binary for host, uid 1000\n",
            "rust binary for x86_64-pc-windows-gnu",
        ),
        (
            "dotnet",
            "DOTNET_SDK_IMAGE",
            &dotnet,
            ("App.csproj", "<Project/>"),
            "dotnet app for linux-x64, uid 1000\n",
            "dotnet app for win-x64",
        ),
    ];
    for (name, toolchain_arg, toolchain, file, linux_out, windows_out) in cases {
        let ctx = context(d, &format!("{name}-app"), &[file]);
        let mut a = arg(toolchain_arg, toolchain).to_vec();
        a.extend(arg("RUNTIME_IMAGE", &busybox));
        a.extend(["--platform".into(), "linux/amd64".into()]);
        let layout = build(d, &ctx, &format!("{name}-linux"), &a);
        assert_eq!(run_image(d, &layout), linux_out, "{name}");

        let mut a = arg(toolchain_arg, toolchain).to_vec();
        a.extend(arg("NANOSERVER_IMAGE", &nano));
        a.extend([
            "--runtime-template".into(),
            name.into(),
            "--platform".into(),
            "windows/amd64:10.0.17763,windows/amd64:10.0.20348".into(),
        ]);
        let layout = build(d, &ctx, &format!("{name}-windows"), &a);
        let layers = windows_app_layers(&layout);
        let versions: Vec<&str> = layers.iter().map(|(v, _)| v.as_str()).collect();
        assert_eq!(versions, ["10.0.17763.5122", "10.0.20348.2113"], "{name}");
        for (version, layer) in &layers {
            let files = layer_files(layer);
            let exe = files
                .iter()
                .find(|(n, _)| n == "Files/app/app.exe")
                .unwrap_or_else(|| panic!("{name} {version}: no Files/app/app.exe in {files:?}"));
            assert!(exe.1.contains(windows_out), "{name}: {}", exe.1);
            check_windows_layer(layer);
        }
        let index = root(&layout);
        for m in index["manifests"].as_array().unwrap() {
            let manifest = read_json(&blob(&layout, m["digest"].as_str().unwrap()));
            let config = read_json(&blob(
                &layout,
                manifest["config"]["digest"].as_str().unwrap(),
            ));
            assert_eq!(config["os"], "windows");
            assert_eq!(config["config"]["User"], "ContainerUser");
            assert_eq!(config["config"]["Entrypoint"][0], "C:\\app\\app.exe");
        }
    }
    drop(reg);
}
