//! Malformed Dockerfiles: each error names the file, line and column,
//! quotes the line, and says what was expected.

use wharf_frontend::dockerfile::parse;

/// (source, line, column, message fragment, hint fragment or "")
const CASES: &[(&str, usize, usize, &str, &str)] = &[
    (
        "FROM x\nRUNN echo\n",
        2,
        1,
        "unknown instruction RUNN",
        "did you mean RUN?",
    ),
    (
        "FROM x\ncopu a b\n",
        2,
        1,
        "unknown instruction copu",
        "did you mean COPY?",
    ),
    (
        "FROM x\nRUN a\n  apt-get install y\n",
        3,
        3,
        "unknown instruction apt-get",
        "end the previous line with \\",
    ),
    (
        "FROM x\nBANANA y\n",
        2,
        1,
        "unknown instruction BANANA",
        "instructions are",
    ),
    ("FROM\n", 1, 1, "FROM requires an image", "usage: FROM"),
    (
        "FROM a b\n",
        1,
        8,
        "FROM takes an image and an optional AS",
        "",
    ),
    (
        "FROM a AS 1bad\n",
        1,
        11,
        "invalid stage name",
        "start with a letter",
    ),
    ("FROM a AS\n", 1, 8, "FROM takes an image", ""),
    (
        "FROM x\nCOPY --form=a b c\n",
        2,
        6,
        "unknown flag --form for COPY",
        "did you mean --from?",
    ),
    (
        "FROM x\nCOPY --chown a b\n",
        2,
        6,
        "missing a value on flag --chown",
        "--chown=<value>",
    ),
    (
        "FROM x\nCOPY --link=yes a b\n",
        2,
        6,
        "--link takes true or false",
        "",
    ),
    (
        "FROM x\nCOPY --from=a --from=b c d\n",
        2,
        15,
        "flag --from is given more than once",
        "",
    ),
    (
        "FROM x\nADD --from=a b c\n",
        2,
        5,
        "ADD does not accept --from",
        "COPY --from",
    ),
    (
        "FROM x\nWORKDIR --bogus /a\n",
        2,
        9,
        "unknown flag --bogus for WORKDIR",
        "WORKDIR takes no flags",
    ),
    (
        "FROM x\nCOPY onlyone\n",
        2,
        6,
        "COPY requires at least two arguments, but only one was provided",
        "usage: COPY",
    ),
    ("FROM x\nRUN\n", 2, 1, "RUN requires a command", ""),
    (
        "FROM x\nRUN --network=wifi a\n",
        2,
        5,
        "--network=wifi is not one of default, none, host",
        "",
    ),
    (
        "FROM x\nRUN --security=relaxed a\n",
        2,
        5,
        "--security=relaxed is not one of",
        "",
    ),
    (
        "FROM x\nRUN --mount=type=nfs,target=/a b\n",
        2,
        5,
        "invalid --mount: unknown mount type",
        "",
    ),
    (
        "FROM x\nRUN --mount=type=cache b\n",
        2,
        5,
        "invalid --mount: a cache mount needs target",
        "",
    ),
    (
        "FROM x\nRUN --mount=type=cache,target=/a,sharing=wide b\n",
        2,
        5,
        "sharing=wide",
        "",
    ),
    ("FROM x\nRUN []\n", 2, 5, "RUN [] has no command", ""),
    ("FROM x\nCMD\n", 2, 4, "CMD requires a command", ""),
    (
        "FROM x\nSHELL /bin/bash -c\n",
        2,
        7,
        "SHELL requires the arguments in JSON form",
        "powershell",
    ),
    (
        "FROM x\nSHELL []\n",
        2,
        7,
        "SHELL requires the arguments in JSON form",
        "",
    ),
    (
        "FROM x\nENV\n",
        2,
        4,
        "ENV requires at least one KEY=value",
        "",
    ),
    (
        "FROM x\nENV ONLYKEY\n",
        2,
        5,
        "ENV ONLYKEY has no value",
        "ONLYKEY=<value>",
    ),
    (
        "FROM x\nENV a=1 b\n",
        2,
        9,
        "can't find = in \"b\"",
        "name=value",
    ),
    (
        "FROM x\nENV =1\n",
        2,
        5,
        "name before '=' cannot be empty",
        "",
    ),
    (
        "FROM x\nLABEL\n",
        2,
        6,
        "LABEL requires at least one KEY=value",
        "",
    ),
    ("FROM x\nARG\n", 2, 1, "ARG requires a name", ""),
    ("FROM x\nARG =x\n", 2, 5, "invalid ARG name", ""),
    (
        "FROM x\nEXPOSE\n",
        2,
        1,
        "EXPOSE requires at least one port",
        "",
    ),
    (
        "FROM x\nVOLUME\n",
        2,
        1,
        "VOLUME requires at least one path",
        "",
    ),
    (
        "FROM x\nVOLUME [\"\"]\n",
        2,
        8,
        "VOLUME paths cannot be empty",
        "",
    ),
    ("FROM x\nUSER\n", 2, 1, "USER requires a user", ""),
    (
        "FROM x\nUSER a b\n",
        2,
        8,
        "USER takes exactly one argument",
        "",
    ),
    ("FROM x\nWORKDIR\n", 2, 1, "WORKDIR requires a path", ""),
    (
        "FROM x\nSTOPSIGNAL\n",
        2,
        1,
        "STOPSIGNAL requires a signal",
        "",
    ),
    (
        "FROM x\nSTOPSIGNAL A B\n",
        2,
        14,
        "STOPSIGNAL takes exactly one signal",
        "",
    ),
    (
        "FROM x\nHEALTHCHECK\n",
        2,
        1,
        "HEALTHCHECK takes CMD <command> or NONE",
        "usage: HEALTHCHECK",
    ),
    (
        "FROM x\nHEALTHCHECK --interval=30s NONE\n",
        2,
        13,
        "HEALTHCHECK NONE takes no options",
        "",
    ),
    (
        "FROM x\nHEALTHCHECK NONE extra\n",
        2,
        13,
        "HEALTHCHECK NONE takes no arguments",
        "",
    ),
    (
        "FROM x\nHEALTHCHECK --interval=soon CMD a\n",
        2,
        13,
        "--interval=soon is not a duration",
        "30s",
    ),
    (
        "FROM x\nHEALTHCHECK --timeout=10us CMD a\n",
        2,
        13,
        "--timeout cannot be less than 1ms",
        "",
    ),
    (
        "FROM x\nHEALTHCHECK --retries=-1 CMD a\n",
        2,
        13,
        "--retries=-1 is not a non-negative",
        "",
    ),
    (
        "FROM x\nHEALTHCHECK CMD\n",
        2,
        16,
        "HEALTHCHECK CMD requires a command",
        "",
    ),
    (
        "FROM x\nHEALTHCHECK RUN a\n",
        2,
        13,
        "HEALTHCHECK takes CMD <command> or NONE",
        "",
    ),
    (
        "FROM x\nONBUILD ONBUILD RUN a\n",
        2,
        9,
        "ONBUILD isn't allowed as an ONBUILD trigger",
        "",
    ),
    (
        "FROM x\nONBUILD FROM y\n",
        2,
        9,
        "FROM isn't allowed as an ONBUILD trigger",
        "",
    ),
    (
        "FROM x\nONBUILD MAINTAINER me\n",
        2,
        9,
        "MAINTAINER isn't allowed",
        "",
    ),
    (
        "FROM x\nONBUILD\n",
        2,
        1,
        "ONBUILD requires an instruction",
        "",
    ),
    (
        "FROM x\nONBUILD RUNN a\n",
        2,
        9,
        "unknown instruction RUNN",
        "did you mean RUN?",
    ),
    (
        "FROM x\nRUN cat <<EOF\nnever closed\n",
        2,
        9,
        "here-document <<EOF is never closed",
        "only EOF",
    ),
    (
        "FROM x\nCOPY a <<EOF\nx\nEOF\n",
        2,
        6,
        "destination of COPY cannot be a here-document",
        "",
    ),
    (
        "# escape=x\nFROM x\n",
        1,
        1,
        "invalid escape token 'x'",
        "only \\ or `",
    ),
    (
        "# escape=`\n# escape=\\\nFROM x\n",
        2,
        1,
        "only one 'escape' parser directive",
        "",
    ),
    (
        "FROM x\nRUN a \\\n  && b \\\n  --mount=bad\nMAINTAINERR x\n",
        5,
        1,
        "unknown instruction MAINTAINERR",
        "did you mean MAINTAINER?",
    ),
];

#[test]
fn every_malformed_input_has_an_exact_position() {
    for (src, line, column, msg, hint) in CASES {
        let e = match parse("Dockerfile", src) {
            Ok(f) => panic!("expected an error for {src:?}, parsed {:?}", f.instructions),
            Err(e) => e,
        };
        let pos = e
            .pos
            .unwrap_or_else(|| panic!("no position for {src:?}: {e}"));
        assert_eq!(
            (pos.line, pos.column),
            (*line, *column),
            "position for {src:?}: {e}"
        );
        assert!(e.message.contains(msg), "message for {src:?}: {e}");
        if !hint.is_empty() {
            let h = e.hint.clone().unwrap_or_default();
            assert!(h.contains(hint), "hint for {src:?}: {e}");
        }
        // The rendered error names the file and quotes the line.
        let shown = e.to_string();
        assert!(
            shown.starts_with(&format!("Dockerfile:{line}:{column}: ")),
            "{shown}"
        );
        let quoted = src.lines().nth(line - 1).unwrap();
        assert!(shown.contains(&format!("{line} | {quoted}")), "{shown}");
    }
}

#[test]
fn error_inside_a_continuation_points_at_the_continued_line() {
    let src = "FROM x\nCOPY --chown=a \\\n     --frum=b \\\n     src dst\n";
    let e = parse("Dockerfile", src).unwrap_err();
    assert_eq!(e.pos.map(|p| (p.line, p.column)), Some((3, 6)));
    assert!(e.to_string().contains(" 3 |      --frum=b \\"));
}
