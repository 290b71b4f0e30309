//! Property tests: the parser, the expander and the planner never panic,
//! whatever the input, and the expander leaves plain text alone.

use proptest::prelude::*;
use std::collections::BTreeMap;
use wharf_frontend::dockerfile::parse;
use wharf_frontend::expand::{Expander, Mode};
use wharf_frontend::plan::{plan, NoBaseImages, PlanOptions};

/// Lines that look like Dockerfile syntax, to reach deep parser paths.
fn dockerfile_line() -> impl Strategy<Value = String> {
    let keyword = prop::sample::select(vec![
        "FROM",
        "RUN",
        "CMD",
        "COPY",
        "ADD",
        "ENV",
        "ARG",
        "LABEL",
        "EXPOSE",
        "VOLUME",
        "USER",
        "WORKDIR",
        "SHELL",
        "ONBUILD",
        "HEALTHCHECK",
        "STOPSIGNAL",
        "MAINTAINER",
        "ENTRYPOINT",
        "#",
        "# escape=`",
        "",
        "EOF",
    ]);
    let piece = prop::sample::select(vec![
        " ",
        "a",
        "b=c",
        "\"",
        "'",
        "\\",
        "`",
        "$",
        "${",
        "}",
        ":-",
        "[",
        "]",
        "\"x\"",
        ",",
        "--from=",
        "--mount=type=cache,target=/x",
        "--platform=",
        "<<EOF",
        "<<-'E'",
        "AS",
        "stage",
        "CMD",
        "NONE",
        "--interval=",
        "1s",
        "=",
        "/",
        ":",
        "\t",
        "*",
        "0",
        "-",
        "\u{e9}",
    ]);
    (keyword, prop::collection::vec(piece, 0..8))
        .prop_map(|(k, pieces)| format!("{k} {}", pieces.concat()))
}

fn options() -> PlanOptions {
    PlanOptions {
        build_args: BTreeMap::from([("A".to_string(), "1".to_string())]),
        target: None,
        platforms: vec![],
        build_platform: "linux/amd64".parse().unwrap(),
        run_platforms: Some(vec!["linux/amd64".parse().unwrap()]),
        named_contexts: Default::default(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, .. ProptestConfig::default() })]

    #[test]
    fn parser_never_panics_on_any_text(s in any::<String>()) {
        let _ = parse("Dockerfile", &s);
    }

    #[test]
    fn parser_and_planner_never_panic_on_dockerfile_like_text(
        lines in prop::collection::vec(dockerfile_line(), 0..12)
    ) {
        let src = format!("FROM base AS s0\n{}\n", lines.join("\n"));
        if let Ok(file) = parse("Dockerfile", &src) {
            let _ = plan(&file, &src, &options(), &NoBaseImages);
            // Every instruction position lies inside the file.
            let n = src.lines().count().max(1);
            for i in &file.instructions {
                prop_assert!(i.pos.line >= 1 && i.pos.line <= n);
                prop_assert!(i.end_line >= i.pos.line);
            }
        } else if let Err(e) = parse("Dockerfile", &src) {
            // Errors always carry a position inside the file.
            let p = e.pos.expect("parse errors are positioned");
            prop_assert!(p.line >= 1 && p.line <= src.split('\n').count());
        }
    }

    #[test]
    fn expander_never_panics(s in any::<String>(), backtick in any::<bool>()) {
        let ex = Expander { escape: if backtick { '`' } else { '\\' } };
        let vars = |n: &str| (n == "A").then(|| "x y".to_string());
        let _ = ex.word(&s, Mode::Word, &vars);
        let _ = ex.word(&s, Mode::Raw, &vars);
        let _ = ex.words(&s, &vars);
    }

    #[test]
    fn expander_leaves_plain_text_alone(s in "[a-zA-Z0-9_./:@ -]{0,40}") {
        let ex = Expander::default();
        let none = |_: &str| None;
        prop_assert_eq!(ex.word(&s, Mode::Word, &none).unwrap().value, s.clone());
        prop_assert_eq!(ex.word(&s, Mode::Raw, &none).unwrap().value, s.clone());
        let words: Vec<String> = s.split_whitespace().map(str::to_string).collect();
        prop_assert_eq!(ex.words(&s, &none).unwrap().value, words);
    }

    #[test]
    fn single_quotes_protect_everything(s in "[^']{0,30}") {
        let ex = Expander::default();
        let vars = |_: &str| Some("EXPANDED".to_string());
        let quoted = format!("'{s}'");
        prop_assert_eq!(ex.word(&quoted, Mode::Word, &vars).unwrap().value, s);
    }
}
