//! The `wasm:` form: what it builds (a prebuilt module copied into a
//! scratch stage, or a Linux stage compiling it), and the fields refused
//! with their line and reason.

use wharf_frontend::ast::BuildFile;
use wharf_frontend::zimagefile::{parse, ZImagefile, WASM_MODULE_PATH};

fn wasm(text: &str) -> (BuildFile, String) {
    match parse("ZImagefile", text) {
        Ok(ZImagefile::Wasm(w)) => (w.file, w.os),
        Ok(other) => panic!("expected wasm, got {other:?}"),
        Err(e) => panic!("{e}"),
    }
}

fn error(text: &str) -> String {
    match parse("ZImagefile", text) {
        Ok(x) => panic!("expected an error, got {x:?}"),
        Err(e) => e.to_string(),
    }
}

fn outline(b: &BuildFile) -> Vec<(usize, &str)> {
    b.instructions
        .iter()
        .map(|i| (i.pos.line, i.source.as_str()))
        .collect()
}

#[test]
fn a_prebuilt_module_is_copied_into_a_scratch_stage() {
    let (file, os) = wasm("version: \"1\"\nwasm:\n  target: preview1\n  output: dist/app.wasm\n");
    assert_eq!(os, "wasip1");
    assert_eq!(
        outline(&file),
        vec![
            (2, "FROM scratch AS wasm"),
            (4, "COPY dist/app.wasm /module.wasm"),
        ]
    );
    assert_eq!(WASM_MODULE_PATH, "/module.wasm");
}

#[test]
fn a_language_compiles_in_a_linux_stage_with_pre_and_post_build() {
    let text = r#"version: "1"
wasm:
  language: go
  output: ./app.wasm
  features: [netgo]
  build_args:
    CGO_ENABLED: "0"
  pre_build:
    - go generate ./...
  post_build:
    - ["ls", "-l", "app.wasm"]
"#;
    let (file, _) = wasm(text);
    assert_eq!(
        outline(&file),
        vec![
            (3, "ARG GO_IMAGE=docker.io/library/golang:1-alpine"),
            (3, "FROM --platform=linux/${TARGETARCH} ${GO_IMAGE} AS build"),
            (6, "ENV CGO_ENABLED=0"),
            (3, "WORKDIR /src"),
            (3, "COPY . ."),
            (9, "RUN go generate ./..."),
            (3, "RUN --mount=type=cache,target=/go/pkg/mod,id=wharf-go-mod,sharing=shared --mount=type=cache,target=/root/.cache/go-build,id=wharf-go-build,sharing=shared GOOS=wasip1 GOARCH=wasm go build -tags netgo -o app.wasm ."),
            (11, "RUN [\"ls\",\"-l\",\"app.wasm\"]"),
            (2, "FROM scratch AS wasm"),
            (4, "COPY --from=build /src/app.wasm /module.wasm"),
        ]
    );
    let (file, _) = wasm(
        "version: \"1\"\nwasm:\n  language: rust\n  output: target/wasm32-wasip1/release/a.wasm\n",
    );
    assert!(outline(&file)
        .iter()
        .any(|(_, s)| s.ends_with("cargo build --release --target wasm32-wasip1")));
}

#[test]
fn unsupported_fields_are_refused_with_line_and_reason() {
    let cases = [
        (
            "  target: preview2\n",
            "ZImagefile:4:11: `wasm.target: preview2` is not supported",
            "imports and exports",
        ),
        (
            "  optimize: true\n",
            "ZImagefile:4:3: `wasm.optimize` is not supported",
            "no wasm-opt",
        ),
        (
            "  opt_level: Oz\n",
            "ZImagefile:4:3: `wasm.opt_level` is not supported",
            "no wasm-opt",
        ),
        (
            "  world: http\n",
            "ZImagefile:4:3: `wasm.world` is not supported",
            "component tooling",
        ),
        (
            "  wit: ./wit\n",
            "ZImagefile:4:3: `wasm.wit` is not supported",
            "component tooling",
        ),
        (
            "  adapter: a.wasm\n",
            "ZImagefile:4:3: `wasm.adapter` is not supported",
            "component tooling",
        ),
        (
            "  oci: false\n",
            "ZImagefile:4:8: `wasm.oci: false` is not supported",
            "always the OCI artifact",
        ),
        (
            "  pre_build: [make]\n",
            "ZImagefile:4:3: `wasm.pre_build` needs `language`",
            "language: rust",
        ),
        (
            "  language: zig\n",
            "ZImagefile:4:13: Wharf does not build wasm from `zig`",
            "rust",
        ),
        (
            "  bogus: 1\n",
            "ZImagefile:4:3: unknown field `bogus` in `wasm`",
            "fields allowed here",
        ),
    ];
    for (line, message, reason) in cases {
        let e = error(&format!("version: \"1\"\nwasm:\n  output: a.wasm\n{line}"));
        assert!(e.starts_with(message), "{line}: {e}");
        assert!(e.contains(reason), "{line}: {e}");
    }
    let e = error("version: \"1\"\nwasm:\n  output: a.wasm\ncmd: [run]\n");
    assert!(
        e.starts_with("ZImagefile:4:1: `cmd` does not apply to a wasm artifact"),
        "{e}"
    );
    let e = error("version: \"1\"\nwasm:\n  language: go\n");
    assert!(
        e.starts_with("ZImagefile:2:1: `wasm` needs `output`"),
        "{e}"
    );
}
