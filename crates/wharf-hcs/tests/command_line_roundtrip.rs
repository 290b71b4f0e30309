//! Round trip: every argument vector `exec_form` accepts is split back into
//! exactly itself by a parser written here from the documented rules of
//! `CommandLineToArgvW` (program name first, then the C runtime rules).

use proptest::prelude::*;
use wharf_hcs::command_line::{exec_form, CommandLineError};

/// Splits a command line the way `CommandLineToArgvW` does.
fn command_line_to_argv(line: &str) -> Vec<String> {
    let chars: Vec<char> = line.chars().collect();
    let mut argv = Vec::new();
    let mut i = 0;

    // The program name: to the next quote if it starts with one, else to
    // the next space or tab; backslashes are plain characters.
    let mut program = String::new();
    if chars.first() == Some(&'"') {
        i = 1;
        while i < chars.len() && chars[i] != '"' {
            program.push(chars[i]);
            i += 1;
        }
        i += 1; // the closing quote
    } else {
        while i < chars.len() && chars[i] != ' ' && chars[i] != '\t' {
            program.push(chars[i]);
            i += 1;
        }
    }
    argv.push(program);

    loop {
        while i < chars.len() && (chars[i] == ' ' || chars[i] == '\t') {
            i += 1;
        }
        if i >= chars.len() {
            break;
        }
        let mut argument = String::new();
        let mut quoted = false;
        while i < chars.len() {
            let c = chars[i];
            if !quoted && (c == ' ' || c == '\t') {
                break;
            }
            if c == '\\' {
                let start = i;
                while i < chars.len() && chars[i] == '\\' {
                    i += 1;
                }
                let count = i - start;
                if i < chars.len() && chars[i] == '"' {
                    argument.extend(std::iter::repeat_n('\\', count / 2));
                    if count % 2 == 1 {
                        argument.push('"');
                        i += 1;
                    }
                    // An even count leaves the quote to toggle below.
                } else {
                    argument.extend(std::iter::repeat_n('\\', count));
                }
                continue;
            }
            if c == '"' {
                // `""` inside a quoted span is a literal quote in the
                // C runtime; exec_form never writes it, so treat it by
                // the plain toggle rule and let the round trip catch it.
                quoted = !quoted;
                i += 1;
                continue;
            }
            argument.push(c);
            i += 1;
        }
        argv.push(argument);
    }
    argv
}

#[test]
fn parser_agrees_with_documented_examples() {
    // The examples table of the CommandLineToArgvW / C runtime documentation.
    assert_eq!(
        command_line_to_argv(r#"p "abc" d e"#),
        ["p", "abc", "d", "e"]
    );
    assert_eq!(
        command_line_to_argv(r#"p a\\b d"e f"g h"#),
        ["p", r"a\\b", "de fg", "h"]
    );
    assert_eq!(
        command_line_to_argv(r#"p a\\\"b c d"#),
        ["p", r#"a\"b"#, "c", "d"]
    );
    assert_eq!(
        command_line_to_argv(r#"p a\\\\"b c" d e"#),
        ["p", r"a\\b c", "d", "e"]
    );
    assert_eq!(
        command_line_to_argv(r#""C:\a b\x.exe" y"#),
        [r"C:\a b\x.exe", "y"]
    );
}

fn argument() -> impl Strategy<Value = String> {
    // Weighted towards the characters that matter to quoting.
    prop::collection::vec(
        prop_oneof![
            4 => prop::sample::select(vec!['\\', '"', ' ', '\t', 'a', 'Z']),
            1 => any::<char>().prop_filter("no NUL", |c| *c != '\0'),
        ],
        0..12,
    )
    .prop_map(|chars| chars.into_iter().collect())
}

fn program() -> impl Strategy<Value = String> {
    argument().prop_map(|p| p.replace('"', ""))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn exec_form_round_trips(program in program(), arguments in prop::collection::vec(argument(), 0..6)) {
        let mut argv = vec![program];
        argv.extend(arguments);
        let line = exec_form(&argv).expect("accepted argv");
        prop_assert_eq!(command_line_to_argv(&line), argv, "line {:?}", line);
    }

    #[test]
    fn program_names_with_quotes_are_refused(before in "[a-z ]{0,4}", after in "[a-z ]{0,4}") {
        let program = format!("{before}\"{after}");
        let refused = matches!(exec_form(&[program]), Err(CommandLineError::QuoteInProgram { .. }));
        prop_assert!(refused);
    }
}
