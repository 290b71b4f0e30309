//! Property tests: `.dockerignore` parsing and matching never panic, and a
//! walker skipping what `must_descend` allows never loses an included path.

use proptest::prelude::*;
use wharf_frontend::dockerignore::DockerIgnore;

fn pattern_text() -> impl Strategy<Value = String> {
    // Lines built from the characters that matter to the matcher.
    prop::collection::vec("[!#a-c/.*?\\[\\]\\\\^ -]{0,8}", 0..6).prop_map(|l| l.join("\n"))
}

fn rel_path() -> impl Strategy<Value = String> {
    // Clean path segments (no `.` or `..`), as a walker reports them.
    prop::collection::vec("[a-c*\\[][a-c.*\\[]{0,2}", 1..5).prop_map(|p| p.join("/"))
}

proptest! {
    #[test]
    fn arbitrary_text_never_panics(text in any::<String>(), path in any::<String>()) {
        if let Ok(di) = DockerIgnore::parse(".dockerignore", &text) {
            let _ = di.is_excluded(&path);
            let _ = di.must_descend(&path);
        }
    }

    #[test]
    fn pattern_like_text_never_panics(text in pattern_text(), path in rel_path()) {
        if let Ok(di) = DockerIgnore::parse(".dockerignore", &text) {
            let _ = di.is_excluded(&path);
            let _ = di.must_descend(&path);
            for p in di.patterns() {
                // The normalised form parses back to the same pattern
                // (except where Docker's own normal form is not stable: a
                // name starting with `#`, `!` or `/`, or with outer spaces,
                // which Docker's second cleaning pass can leave behind; and
                // a re-include starting with `./`, from a `/!./…` line,
                // which Docker cleans while `!.` is still a name and never
                // again once the `!` is taken off).
                if p.pattern.starts_with(['#', '!', '/'])
                    || p.pattern.trim() != p.pattern
                    || (p.exclusion && p.pattern.starts_with("./"))
                {
                    continue;
                }
                let again = DockerIgnore::parse(".dockerignore", &p.to_string()).unwrap();
                prop_assert_eq!(&again.patterns()[0].pattern, &p.pattern);
            }
        }
    }

    #[test]
    fn skipped_directories_hold_nothing_included(text in pattern_text(), path in rel_path()) {
        if let Ok(di) = DockerIgnore::parse(".dockerignore", &text) {
            let parts: Vec<&str> = path.split('/').collect();
            for i in 1..parts.len() {
                let dir = parts[..i].join("/");
                if !di.must_descend(&dir) {
                    prop_assert!(di.is_excluded(&path), "{:?}: {} skipped but {} included", text, dir, path);
                }
            }
        }
    }
}
