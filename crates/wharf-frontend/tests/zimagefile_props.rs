//! Property tests: the ZImagefile front end never panics, whatever the
//! input, and every error it reports points inside the file.

use proptest::prelude::*;
use wharf_frontend::zimagefile::parse;

/// YAML-shaped text from ZImagefile vocabulary, so that generated inputs
/// reach the schema code rather than stopping at YAML syntax errors.
fn zimagefile_like() -> impl Strategy<Value = String> {
    let key = prop::sample::select(vec![
        "version",
        "base",
        "stages",
        "build",
        "steps",
        "run",
        "copy",
        "add",
        "to",
        "from",
        "cache",
        "target",
        "sharing",
        "env",
        "expose",
        "healthcheck",
        "cmd",
        "retries",
        "os",
        "platform",
        "args",
        "labels",
        "a",
        "b",
    ]);
    let value = prop::sample::select(vec![
        "\"1\"",
        "1",
        "x",
        "[]",
        "{}",
        "[a, b]",
        "~",
        "locked",
        "30s",
        "windows",
        "8080/udp",
        "&n x",
        "*n",
        "\"\"",
        "|\n    text",
        "- y",
    ]);
    let line = (0usize..3, key, value)
        .prop_map(|(indent, k, v)| format!("{}{k}: {v}", "  ".repeat(indent)));
    prop::collection::vec(line, 0..12).prop_map(|lines| lines.join("\n"))
}

proptest! {
    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        if let Err(e) = parse("ZImagefile", &text) {
            if let Some(pos) = e.pos {
                prop_assert!(pos.line >= 1 && pos.column >= 1);
            }
        }
    }

    #[test]
    fn yaml_like_text_never_panics(text in zimagefile_like()) {
        match parse("ZImagefile", &text) {
            Ok(_) => {}
            Err(e) => {
                let pos = e.pos.expect("ZImagefile errors are positioned");
                prop_assert!(pos.line >= 1 && pos.line <= text.lines().count().max(1) + 1, "{} for {:?}", e, text);
            }
        }
    }
}
