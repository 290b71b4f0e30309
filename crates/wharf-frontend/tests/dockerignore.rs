//! `.dockerignore` behaviour, case by case, against Docker's documented
//! rules and moby/patternmatcher's behaviour.

use wharf_frontend::ast::Pos;
use wharf_frontend::dockerignore::{ignore_file_candidates, DockerIgnore};

fn ignore(text: &str) -> DockerIgnore {
    DockerIgnore::parse(".dockerignore", text).expect("valid .dockerignore")
}

/// Asserts, for each path, whether it is excluded.
fn check(text: &str, cases: &[(&str, bool)]) {
    let di = ignore(text);
    for (path, want) in cases {
        assert_eq!(
            di.is_excluded(path),
            *want,
            "patterns {text:?}, path {path:?}: expected excluded={want}"
        );
    }
}

#[test]
fn plain_names_are_relative_to_the_root_only() {
    check(
        "foo\n",
        &[
            ("foo", true),
            ("foo/bar", true),
            ("foo/bar/baz.txt", true),
            ("a/foo", false),
            ("foobar", false),
            ("fo", false),
        ],
    );
}

#[test]
fn star_does_not_cross_directories() {
    check(
        "*.o\n*/temp*\n",
        &[
            ("x.o", true),
            ("src/x.o", false),
            ("a/temporary.txt", true),
            ("a/temp", true),
            ("a/b/temp", false),
            ("temp", false),
        ],
    );
}

#[test]
fn docker_doc_examples() {
    // From the Docker build-context documentation.
    check(
        "# comment\n*/temp*\n*/*/temp*\ntemp?\n",
        &[
            ("somedir/temporary.txt", true),
            ("somedir/temp", true),
            ("somedir/subdir/temporary.txt", true),
            ("tempa", true),
            ("tempb", true),
            ("temp", false),
            ("tempab", false),
            ("# comment", false),
        ],
    );
}

#[test]
fn double_star_matches_any_number_of_directories() {
    check(
        "**/*.go\n",
        &[
            ("main.go", true),
            ("a/main.go", true),
            ("a/b/c/main.go", true),
            ("main.goo", false),
            ("a/main.rs", false),
        ],
    );
    check(
        "a/**/b\n",
        &[
            ("a/b", true),
            ("a/x/b", true),
            ("a/x/y/b", true),
            ("a/x/y/b/file", true),
            ("ab", false),
            ("x/a/b", false),
        ],
    );
    check(
        "a/**\n",
        &[("a/x", true), ("a/x/y", true), ("a", false), ("ab", false)],
    );
    check("**\n", &[("anything", true), ("a/b/c", true)]);
}

#[test]
fn docker_shortcut_quirks_are_kept() {
    // `foo**` is a prefix match in Docker, `**foo` a suffix match.
    check(
        "foo**\n",
        &[
            ("foo", true),
            ("foobar", true),
            ("foobar/x", true),
            ("xfoo", false),
        ],
    );
    check(
        "**foo\n",
        &[
            ("foo", true),
            ("xfoo", true),
            ("a/xfoo", true),
            ("foox", false),
        ],
    );
    // `**/foo` also matches `foo` itself, but not `xfoo`.
    check(
        "**/foo\n",
        &[
            ("foo", true),
            ("a/foo", true),
            ("xfoo", false),
            ("a/xfoo", false),
        ],
    );
}

#[test]
fn exclamation_reincludes_and_last_match_wins() {
    check(
        "*.md\n!README.md\n",
        &[("a.md", true), ("README.md", false), ("docs/x.md", false)],
    );
    // Docker doc: README.md excluded again by the final pattern.
    check(
        "*.md\n!README*.md\nREADME-secret.md\n",
        &[
            ("a.md", true),
            ("README.md", false),
            ("README-x.md", false),
            ("README-secret.md", true),
        ],
    );
    check(
        "*.md\nREADME-secret.md\n!README*.md\n",
        &[
            ("README-secret.md", false),
            ("README.md", false),
            ("x.md", true),
        ],
    );
}

#[test]
fn directory_patterns_exclude_contents_and_can_be_reopened() {
    check(
        "node_modules\n",
        &[
            ("node_modules", true),
            ("node_modules/a/b.js", true),
            ("src/node_modules/a.js", false),
        ],
    );
    check(
        "dir\n!dir/keep\n",
        &[
            ("dir", true),
            ("dir/other", true),
            ("dir/keep", false),
            ("dir/keep/inner.txt", false),
        ],
    );
    check(
        "*\n!src\nsrc/generated\n",
        &[
            ("Cargo.toml", true),
            ("src", false),
            ("src/lib.rs", false),
            ("src/generated", true),
            ("src/generated/x.rs", true),
        ],
    );
}

#[test]
fn leading_slash_dot_slash_and_cleaning() {
    check(
        "/foo\n./bar\nbaz/\nqux/./quux\na/../b\n//c//d//\n",
        &[
            ("foo", true),
            ("bar", true),
            ("baz", true),
            ("baz/x", true),
            ("qux/quux", true),
            ("b", true),
            ("a", false),
            ("c/d", true),
        ],
    );
    check("!/foo\n", &[("foo", false)]);
    let di = ignore("/foo\n./bar/\n! ./baz\n");
    let lines: Vec<String> = di.patterns().iter().map(|p| p.to_string()).collect();
    assert_eq!(lines, ["foo", "bar", "!baz"]);
}

#[test]
fn paths_are_cleaned_before_matching() {
    check(
        "foo/bar\n",
        &[
            ("./foo/bar", true),
            ("foo//bar", true),
            ("foo/x/../bar", true),
            ("/foo/bar", true),
            ("foo/bar/", true),
        ],
    );
    // The context root itself is never excluded.
    check(
        "*\n",
        &[(".", false), ("", false), ("/", false), ("x", true)],
    );
}

#[test]
fn comments_whitespace_bom_and_crlf() {
    // Only a `#` in the first column starts a comment.
    check(
        "\u{feff}# note\n  # not a comment\n\n   \n  spaced  \r\nwin\r\n",
        &[
            ("# note", false),
            ("# not a comment", true),
            ("spaced", true),
            ("win", true),
        ],
    );
    let di = ignore("\u{feff}# c\n\n  a\n");
    assert_eq!(di.patterns().len(), 1);
    assert_eq!(di.patterns()[0].pos, Pos { line: 3, column: 3 });
}

#[test]
fn question_mark_classes_and_escapes() {
    check(
        "file?.txt\n",
        &[
            ("file1.txt", true),
            ("file.txt", false),
            ("file/.txt", false),
        ],
    );
    check(
        "[a-c]x\n[^0-9]y\n",
        &[
            ("ax", true),
            ("cx", true),
            ("dx", false),
            ("zy", true),
            ("5y", false),
        ],
    );
    check(
        "\\*star\nq\\?\n\\[x\\]\n",
        &[
            ("*star", true),
            ("xstar", false),
            ("q?", true),
            ("qa", false),
            ("[x]", true),
            ("x", false),
        ],
    );
    // Regex metacharacters in names are literal.
    check(
        "a.b\n(x)+{y}$|z\n",
        &[
            ("a.b", true),
            ("axb", false),
            ("(x)+{y}$|z", true),
            ("x", false),
        ],
    );
}

#[test]
fn non_ascii_names() {
    check(
        "données/*\nя?\n",
        &[
            ("données/a", true),
            ("données", false),
            ("яб", true),
            ("я", false),
        ],
    );
}

#[test]
fn bad_patterns_are_positioned_errors() {
    let e = DockerIgnore::parse(".dockerignore", "ok\n  [abc\n").unwrap_err();
    assert_eq!(e.pos, Some(Pos { line: 2, column: 3 }));
    assert_eq!(e.file, ".dockerignore");
    assert!(
        e.message.contains("invalid pattern `[abc`"),
        "{}",
        e.message
    );
    assert!(e.message.contains("character class"), "{}", e.message);
    assert_eq!(e.line_text.as_deref(), Some("  [abc"));

    let e = DockerIgnore::parse("x.dockerignore", "a\\").unwrap_err();
    assert_eq!(e.pos, Some(Pos { line: 1, column: 1 }));
    assert!(e.message.contains("trailing"), "{}", e.message);

    for lone in ["!\n", "! \n", "!/\n"] {
        let e = DockerIgnore::parse(".dockerignore", lone).unwrap_err();
        assert_eq!(e.line(), Some(1), "{lone:?}");
        assert!(e.message.contains("`!`"), "{}", e.message);
    }
    for bad in ["[]", "[-a]", "x[a-", "[^]"] {
        assert!(DockerIgnore::parse(".dockerignore", bad).is_err(), "{bad}");
    }
}

#[test]
fn must_descend_only_when_something_can_be_reincluded() {
    let di = ignore("build\n!build/keep.txt\nlogs\n");
    assert!(di.has_reincludes());
    assert!(di.must_descend("build"));
    assert!(!di.must_descend("logs"));
    assert!(!di.must_descend("logs/old"));
    assert!(di.must_descend("src"), "not excluded: must be walked");

    let di = ignore("*\n!**/*.rs\n");
    assert!(di.must_descend("target"), "`**` could match anything below");

    let di = ignore("a\n!a/b/c\n");
    assert!(di.must_descend("a"));
    assert!(di.must_descend("a/b"));
    assert!(!di.must_descend("a/x"));

    let di = ignore("a\n!a/*/c\n");
    assert!(di.must_descend("a/anything"));

    let di = ignore("a\n");
    assert!(!di.has_reincludes());
    assert!(!di.must_descend("a"));
}

#[test]
fn must_descend_never_hides_a_reincluded_path() {
    // For each excluded directory a walker would skip, nothing under it
    // may be included.
    let cases = [
        "a\n!a/b\n",
        "*\n!x/y/z\n",
        "dir/*\n!dir/sub/file\n",
        "a\n!a/b*\nc\n",
        "**/tmp\n!keep/tmp/x\n",
    ];
    let paths = [
        "a",
        "a/b",
        "a/b/c",
        "a/c",
        "x",
        "x/y",
        "x/y/z",
        "x/y/q",
        "dir",
        "dir/sub",
        "dir/sub/file",
        "dir/sub/other",
        "c",
        "c/d",
        "keep",
        "keep/tmp",
        "keep/tmp/x",
        "other/tmp",
        "other/tmp/x",
    ];
    for text in cases {
        let di = ignore(text);
        for dir in paths {
            if di.must_descend(dir) {
                continue;
            }
            let prefix = format!("{dir}/");
            for p in paths.iter().filter(|p| p.starts_with(&prefix)) {
                assert!(
                    di.is_excluded(p),
                    "{text:?}: skipping {dir} would hide included {p}"
                );
            }
        }
    }
}

#[test]
fn ignore_file_candidates_prefer_the_build_file_specific_one() {
    assert_eq!(
        ignore_file_candidates("Dockerfile"),
        ["Dockerfile.dockerignore", ".dockerignore"]
    );
    assert_eq!(
        ignore_file_candidates("build/app.Dockerfile"),
        ["build/app.Dockerfile.dockerignore", ".dockerignore"]
    );
    assert_eq!(
        ignore_file_candidates("ZImagefile"),
        ["ZImagefile.dockerignore", ".dockerignore"]
    );
    assert_eq!(ignore_file_candidates("-"), [".dockerignore"]);
}

#[test]
fn no_ignore_file_excludes_nothing() {
    let di = DockerIgnore::default();
    assert!(!di.is_excluded("anything/at/all"));
    assert!(di.must_descend("dir"));
    assert!(di.patterns().is_empty());
    assert_eq!(
        ignore("# only a comment\n\n"),
        DockerIgnore::parse(".dockerignore", "").unwrap()
    );
}

#[test]
fn regex_translation_quirks_match_docker() {
    // `^` outside brackets anchors at the start in Docker's regex...
    check(
        "*^a\n",
        &[("a", true), ("xa", false), ("^a", false), ("a/b", true)],
    );
    check("^[a-b]\n", &[("a", true), ("b/c", true), ("^a", false)]);
    // ...but a plain-name pattern is compared as text.
    check("^a\n", &[("^a", true), ("a", false)]);
    // `/!a` is read back by the matcher as the re-include `!a`.
    check("*\n/!keep\n", &[("keep", false), ("other", true)]);
    // Whitespace left after dropping a leading `/` is trimmed again.
    check("/ spaced\n", &[("spaced", true), (" spaced", false)]);
    let di = ignore("*\n/!keep\n");
    assert!(di.patterns()[1].exclusion);
    assert_eq!(di.patterns()[1].pattern, "keep");
    // `/!./keep` is cleaned while `!.` is still a name, and the `./keep`
    // left once the matcher takes the `!` off is never cleaned again: it
    // re-includes nothing (a walker's paths never start with `./`).
    check("*\n/!./keep\n", &[("keep", true), ("other", true)]);
    let di = ignore("*\n/!./keep\n");
    assert!(di.patterns()[1].exclusion);
    assert_eq!(di.patterns()[1].pattern, "./keep");
}

#[test]
fn reversed_ranges_are_refused_up_front() {
    let e = DockerIgnore::parse(".dockerignore", "ok\n[z-a]\n").unwrap_err();
    assert_eq!(e.pos, Some(Pos { line: 2, column: 1 }));
    assert!(e.message.contains("backwards"), "{}", e.message);
    assert!(DockerIgnore::parse(".dockerignore", "[a-a]\n").is_ok());
}

#[test]
fn must_descend_respects_anchored_reincludes() {
    let di = ignore("a\n!^a/b*\n");
    assert!(!di.is_excluded("a/bx"));
    assert!(di.must_descend("a"));
}
