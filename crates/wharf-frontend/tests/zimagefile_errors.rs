//! Invalid ZImagefiles: each error names the exact YAML line and column
//! and says what was expected.

use wharf_frontend::zimagefile::parse;
use wharf_frontend::FrontendError;

fn err(text: &str) -> FrontendError {
    match parse("ZImagefile", text) {
        Ok(z) => panic!("expected an error for:\n{text}\ngot {z:?}"),
        Err(e) => e,
    }
}

/// Asserts position and exact message.
fn check(text: &str, line: usize, column: usize, message: &str) -> FrontendError {
    let e = err(text);
    let pos = e.pos.expect("positioned error");
    assert_eq!(
        (pos.line, pos.column, e.message.as_str()),
        (line, column, message),
        "for:\n{text}"
    );
    assert_eq!(e.file, "ZImagefile");
    e
}

const V: &str = "version: \"1\"\n";

#[test]
fn unknown_fields_with_suggestions() {
    let e = check(
        &format!("{V}base: alpine\nentrypiont: [x]\n"),
        3,
        1,
        "unknown field `entrypiont` in a single-stage ZImagefile",
    );
    let hint = e.hint.unwrap();
    assert!(hint.starts_with("did you mean `entrypoint`?"), "{hint}");
    // Image fields belong inside stages in a multi-stage file.
    check(
        &format!("{V}stages:\n  a:\n    base: x\nenv: {{A: b}}\n"),
        5,
        1,
        "unknown field `env` in a multi-stage ZImagefile (image fields go inside each stage)",
    );
    check(
        &format!("{V}stages:\n  a:\n    base: x\n    stepz: []\n"),
        5,
        5,
        "unknown field `stepz` in stage `a`",
    );
    check(
        &format!("{V}base: x\nsteps:\n  - run: make\n    cached: []\n"),
        5,
        5,
        "unknown field `cached` in a step",
    );
    check(
        &format!("{V}base: x\nhealthcheck:\n  cmd: x\n  intervall: 3s\n"),
        5,
        3,
        "unknown field `intervall` in `healthcheck`",
    );
    check(
        &format!("{V}build:\n  context: .\n  dockerfile: x\n"),
        4,
        3,
        "unknown field `dockerfile` in `build`",
    );
}

#[test]
fn wrong_types() {
    check(
        &format!("{V}base: alpine\nenv: [A]\n"),
        3,
        6,
        "`env` must be a mapping of names to values, found a list",
    );
    check(
        &format!("{V}base: alpine\nworkdir: {{a: b}}\n"),
        3,
        10,
        "`workdir` must be a string, found a mapping",
    );
    check(
        &format!("{V}base: [alpine]\n"),
        2,
        7,
        "`base` must be a string, found a list",
    );
    check(
        &format!("{V}base: x\ncmd: [a, [b]]\n"),
        3,
        10,
        "`cmd` must be a shell command string or an exec list of strings, found a list",
    );
    check(
        &format!("{V}base: x\nsteps: {{run: x}}\n"),
        3,
        8,
        "`steps` must be a list of steps, found a mapping",
    );
    check(
        &format!("{V}base: x\nsteps:\n  - echo hi\n"),
        4,
        5,
        "a step must be a mapping of fields, found a scalar",
    );
    check(
        &format!("{V}base: x\nhealthcheck:\n  cmd: x\n  retries: three\n"),
        5,
        12,
        "`retries` must be a non-negative whole number, found a scalar",
    );
    check(
        &format!("{V}base: x\nsteps:\n  - run: x\n    cache:\n      - target: /c\n        readonly: \"yes\"\n"),
        7,
        19,
        "`readonly` must be true or false, found a scalar",
    );
    check(
        &format!("{V}base: x\nlabels:\n  a: [1]\n"),
        4,
        6,
        "`labels.a` must be a string, found a list",
    );
    check(
        &format!("{V}base: x\ncmd: \"\"\n"),
        3,
        6,
        "`cmd` must not be empty",
    );
}

#[test]
fn top_level_shape() {
    check("", 1, 1, "the ZImagefile is empty");
    check(
        "- a\n- b\n",
        1,
        1,
        "a ZImagefile must be a mapping (`version:`, `base:`...), found a list",
    );
    check("base: alpine\n", 1, 1, "missing `version`");
    check(
        &format!("{V}workdir: /x\n"),
        1,
        1,
        "missing `base`, `stages`, `build`, `runtime` or `wasm`",
    );
    check(
        "version: \"2\"\nbase: alpine\n",
        1,
        10,
        "unsupported ZImagefile version `2`",
    );
    check(
        &format!("{V}base: alpine\nstages:\n  a: {{base: x}}\n"),
        3,
        1,
        "`stages` cannot be combined with `base`: give exactly one of `base`, `stages`, `build`, `runtime` or `wasm`",
    );
    check(
        &format!("{V}build: .\nbase: alpine\n"),
        3,
        1,
        "`base` cannot be combined with `build`: give exactly one of `base`, `stages`, `build`, `runtime` or `wasm`",
    );
    check(
        &format!("{V}stages: {{}}\n"),
        2,
        9,
        "`stages` must hold at least one stage",
    );
    check(
        &format!("{V}stages:\n  build:\n    workdir: /x\n"),
        3,
        3,
        "stage `build` needs `base`, the image or stage it starts from",
    );
    check(
        &format!("{V}stages:\n  Build:\n    base: x\n"),
        3,
        3,
        "invalid stage name `Build`",
    );
}

#[test]
fn step_rules() {
    check(
        &format!("{V}base: x\nsteps:\n  - run: make\n    copy: a\n"),
        5,
        5,
        "a step does one thing, but this one has both `run` and `copy`",
    );
    check(
        &format!("{V}base: x\nsteps:\n  - to: /x\n"),
        4,
        5,
        "a step needs one of `run`, `copy`, `add`, `env`, `workdir` or `user`",
    );
    let e = check(
        &format!("{V}base: x\nsteps:\n  - copy: a\n"),
        4,
        5,
        "a `copy` step needs `to`, the destination",
    );
    assert_eq!(e.hint.as_deref(), Some("add e.g. `to: /app/` to this step"));
    check(
        &format!("{V}base: x\nsteps:\n  - run: make\n    to: /x\n"),
        5,
        5,
        "`to` does not apply to `run` steps",
    );
    check(
        &format!("{V}base: x\nsteps:\n  - copy: a\n    to: /x\n    cache: []\n"),
        6,
        5,
        "`cache` does not apply to `copy` steps",
    );
    check(
        &format!("{V}base: x\nsteps:\n  - add: a\n    to: /x\n    from: build\n"),
        6,
        5,
        "`from` does not apply to `add` steps",
    );
    check(
        &format!("{V}base: x\nsteps:\n  - workdir: /x\n    owner: me\n"),
        5,
        5,
        "`owner` does not apply to `workdir` steps",
    );
    check(
        &format!("{V}base: x\nsteps:\n  - copy: []\n    to: /x\n"),
        4,
        11,
        "`copy` must not be an empty list",
    );
    check(
        &format!("{V}base: x\nsteps:\n  - run: x\n    cache:\n      - id: a\n"),
        6,
        9,
        "a cache mount needs `target`, the path it is mounted at",
    );
    check(
        &format!("{V}base: x\nsteps:\n  - run: x\n    cache:\n      - target: /c\n        sharing: exclusive\n"),
        7,
        18,
        "unknown cache sharing `exclusive`",
    );
    check(
        &format!("{V}base: x\nsteps:\n  - run: x\n    cache: {{target: /c}}\n"),
        5,
        12,
        "`cache` must be a list of cache mounts ({target, id, sharing, readonly}), found a mapping",
    );
    check(
        &format!("{V}base: x\nsteps:\n  - env:\n      A B: c\n"),
        5,
        7,
        "invalid name `A B` in `env`: it contains white space",
    );
}

#[test]
fn value_rules() {
    check(
        &format!("{V}base: x\nexpose:\n  - 80\n  - 8080/http\n"),
        5,
        5,
        "invalid port `8080/http`",
    );
    check(
        &format!("{V}base: x\nexpose: 70000\n"),
        3,
        9,
        "invalid port `70000`",
    );
    check(
        &format!("{V}base: x\nhealthcheck:\n  cmd: x\n  timeout: 30\n"),
        5,
        12,
        "invalid duration `30` for `timeout`",
    );
    check(
        &format!("{V}base: x\nhealthcheck:\n  interval: 3s\n"),
        3,
        1,
        "`healthcheck` needs `cmd`, the command that tests the container",
    );
    check(
        &format!("{V}base: x\nos: macos\n"),
        3,
        5,
        "unknown os `macos`",
    );
    check(
        &format!("{V}base: x\nos: windows\nplatform: linux/amd64\n"),
        4,
        11,
        "platform `linux/amd64` contradicts `os: windows`",
    );
    check(
        &format!("{V}base: x\nargs:\n  1X: a\n"),
        4,
        3,
        "invalid build argument name `1X`: it must start with a letter or `_`",
    );
    check(
        &format!("{V}base: x\nargs: [\"A-B=1\"]\n"),
        3,
        8,
        "invalid build argument name `A-B`: only letters, digits and `_` are allowed",
    );
    let e = check(
        &format!("{V}base: x\nenv:\n  A: ~\n"),
        4,
        6,
        "`env.A` must be a string, found nothing (null)",
    );
    assert!(e.hint.unwrap().contains("\"\""));
}

#[test]
fn yaml_level_errors() {
    check(
        &format!("{V}base: x\nenv:\n  A: 1\n  A: 2\n"),
        5,
        3,
        "duplicate key `A` (first given on line 4)",
    );
    check(
        &format!("{V}base: alpine\n---\nversion: \"1\"\n"),
        3,
        1,
        "a ZImagefile holds one YAML document, found a second",
    );
    let e = err(&format!("{V}base: \"alpine\n"));
    assert_eq!(e.line(), Some(2), "{e}");
    assert!(e.message.starts_with("invalid YAML: "), "{}", e.message);
    let e = err(&format!("{V}base: x\n  env: [\n"));
    assert!(e.message.starts_with("invalid YAML: "), "{}", e.message);
    // Alias bombs are refused instead of expanded without bound.
    let mut bomb = String::from(
        "version: \"1\"\nbase: x\nlabels: {}\nz0: &a0 [x, x, x, x, x, x, x, x, x, x]\n",
    );
    for i in 1..8 {
        let p = i - 1;
        bomb.push_str(&format!(
            "z{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    let e = err(&bomb);
    assert!(e.message.contains("expands to more than"), "{}", e.message);
}

#[test]
fn error_display_quotes_the_line() {
    let e = err(&format!("{V}base: alpine\nexpose: [80, \"x\"]\n"));
    assert_eq!(
        e.to_string(),
        "ZImagefile:3:14: invalid port `x`\n 3 | expose: [80, \"x\"]\n   |              ^\n help: write a port (1-65535) or range, optionally with /tcp, /udp or /sctp, e.g. \"8080/udp\""
    );
}

#[test]
fn deep_nesting_is_refused_not_overflowed() {
    // Our own limit, then the YAML parser's for far deeper input.
    for (depth, expected) in [
        (100, "nesting deeper than 64 levels"),
        (20_000, "recursion limit"),
    ] {
        let deep = format!(
            "{V}base: x\nlabels: {}{}\n",
            "[".repeat(depth),
            "]".repeat(depth)
        );
        let e = err(&deep);
        assert_eq!(e.line(), Some(3), "{e}");
        assert!(e.message.contains(expected), "{}", e.message);
    }
}
