//! The command line handed to `HcsCreateProcess`.
//!
//! Windows passes a process ONE string, not an argument vector; each
//! program splits it itself, almost always by the Microsoft C runtime rules
//! that `CommandLineToArgvW` also implements. So:
//! - shell form (`RUN dir c:\`) is `SHELL` joined by spaces, a space, and the
//!   RUN text exactly as written. The RUN text is not escaped: `cmd /S /C`
//!   reads it verbatim, and that is what Docker does.
//! - exec form (`RUN ["a", "b c"]`) quotes each argument so that the C
//!   runtime splits the line back into exactly that vector.
//!
//! The rules (from the documentation of `CommandLineToArgvW` and of the
//! C runtime's argument parsing):
//! - outside quotes, spaces and tabs separate arguments;
//! - `2n` backslashes followed by `"` give `n` backslashes, and the quote
//!   opens or closes a quoted span; `2n+1` backslashes followed by `"` give
//!   `n` backslashes and a literal quote; backslashes not followed by a
//!   quote are literal;
//! - the program name (the first argument) is parsed differently: it runs
//!   to the next space or tab, or, if it starts with a quote, to the next
//!   quote, with no backslash escapes at all. A program name holding a
//!   quote therefore cannot be written, and is refused.
//!
//! Written by hand because no maintained crate produces this quoting
//! outside `std::process::Command` (which quotes only on Windows and does
//! not expose the resulting string).

use thiserror::Error;

/// Why an exec-form argument vector cannot become a Windows command line.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CommandLineError {
    #[error("the exec-form command is empty: write at least the program to run, e.g. [\"cmd\", \"/C\", \"dir\"]")]
    Empty,
    #[error("the program name {program:?} contains a double quote, which a Windows command line cannot express for the program name: remove the quote")]
    QuoteInProgram { program: String },
    #[error("argument {index} ({argument:?}) contains a NUL character, which a Windows command line cannot carry: remove it")]
    Nul { index: usize, argument: String },
}

/// The shell-form command line: `shell` joined by spaces, then the RUN text
/// exactly as written (no escaping).
pub fn shell_form(shell: &[String], run_text: &str) -> String {
    let mut line = shell.join(" ");
    if !line.is_empty() {
        line.push(' ');
    }
    line.push_str(run_text);
    line
}

/// The exec-form command line: each argument quoted by the C runtime rules,
/// joined by single spaces; the first argument by the program-name rules.
pub fn exec_form<S: AsRef<str>>(argv: &[S]) -> Result<String, CommandLineError> {
    let (program, arguments) = argv.split_first().ok_or(CommandLineError::Empty)?;
    let program = program.as_ref();
    if program.contains('"') {
        return Err(CommandLineError::QuoteInProgram {
            program: program.to_owned(),
        });
    }
    for (index, argument) in argv.iter().enumerate() {
        if argument.as_ref().contains('\0') {
            return Err(CommandLineError::Nul {
                index,
                argument: argument.as_ref().to_owned(),
            });
        }
    }
    let mut line = String::new();
    // The program name has no escapes: quote it whole when it needs quoting.
    if program.is_empty() || program.contains([' ', '\t']) {
        line.push('"');
        line.push_str(program);
        line.push('"');
    } else {
        line.push_str(program);
    }
    for argument in arguments {
        line.push(' ');
        quote_argument(argument.as_ref(), &mut line);
    }
    Ok(line)
}

/// Appends one (non-program) argument quoted by the C runtime rules.
fn quote_argument(argument: &str, line: &mut String) {
    let needs_quotes = argument.is_empty() || argument.contains([' ', '\t', '"']);
    if !needs_quotes {
        line.push_str(argument);
        return;
    }
    line.push('"');
    let mut backslashes = 0usize;
    for c in argument.chars() {
        match c {
            '\\' => backslashes += 1,
            '"' => {
                // Each backslash before a quote must be doubled, and the
                // quote itself escaped.
                push_backslashes(line, backslashes * 2 + 1);
                line.push('"');
                backslashes = 0;
            }
            _ => {
                push_backslashes(line, backslashes);
                backslashes = 0;
                line.push(c);
            }
        }
    }
    // Backslashes before the closing quote are doubled so that the quote
    // still closes the span.
    push_backslashes(line, backslashes * 2);
    line.push('"');
}

fn push_backslashes(line: &mut String, count: usize) {
    line.extend(std::iter::repeat_n('\\', count));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exec(argv: &[&str]) -> String {
        exec_form(argv).expect("valid argv")
    }

    #[test]
    fn shell_form_joins_shell_and_keeps_run_text_verbatim() {
        let shell = vec!["cmd".to_owned(), "/S".to_owned(), "/C".to_owned()];
        assert_eq!(
            shell_form(&shell, r#"mkdir "c:/foo""#),
            r#"cmd /S /C mkdir "c:/foo""#
        );
        let powershell = vec![
            "powershell".to_owned(),
            "-Command".to_owned(),
            "$ErrorActionPreference = 'Stop';".to_owned(),
        ];
        assert_eq!(
            shell_form(&powershell, r#"Write-Host "a\"b" \\srv\share\"#),
            r#"powershell -Command $ErrorActionPreference = 'Stop'; Write-Host "a\"b" \\srv\share\"#
        );
        assert_eq!(shell_form(&[], "dir"), "dir");
    }

    #[test]
    fn plain_arguments_stay_bare() {
        assert_eq!(exec(&["cmd", "/C", "echo", "hi"]), "cmd /C echo hi");
        assert_eq!(
            exec(&[r"C:\tools\x.exe", r"C:\dir\"]),
            r"C:\tools\x.exe C:\dir\"
        );
    }

    #[test]
    fn golden_quoting() {
        let cases: &[(&[&str], &str)] = &[
            (&["p", ""], r#"p """#),
            (&["p", "a b"], r#"p "a b""#),
            (&["p", "a\tb"], "p \"a\tb\""),
            (&["p", r#"say "hi""#], r#"p "say \"hi\"""#),
            (&["p", r#"a"b"#], r#"p "a\"b""#),
            // Trailing backslashes inside quotes are doubled.
            (&["p", r"C:\Program Files\"], r#"p "C:\Program Files\\""#),
            (&["p", r"C:\a b\\"], r#"p "C:\a b\\\\""#),
            // Backslashes before a quote: doubled, plus one for the quote.
            (&["p", r#"a\"b"#], r#"p "a\\\"b""#),
            (&["p", r#"a\\"b"#], r#"p "a\\\\\"b""#),
            // Backslashes not before a quote stay single.
            (&["p", r"a\\b c"], r#"p "a\\b c""#),
            (&["p", "\""], r#"p "\"""#),
            (&["p", "ünï cødé ✓"], "p \"ünï cødé ✓\""),
            (&["p", "日本語"], "p 日本語"),
            (
                &["C:\\Program Files\\Git\\bin\\bash.exe", "-c", "ls -l"],
                r#""C:\Program Files\Git\bin\bash.exe" -c "ls -l""#,
            ),
            (&[""], r#""""#),
            (&["a b\\"], r#""a b\""#),
        ];
        for (argv, expected) in cases {
            assert_eq!(&exec(argv), expected, "argv {argv:?}");
        }
    }

    #[test]
    fn refuses_what_a_command_line_cannot_carry() {
        assert_eq!(exec_form::<&str>(&[]), Err(CommandLineError::Empty));
        assert!(matches!(
            exec_form(&["a\"b", "x"]),
            Err(CommandLineError::QuoteInProgram { .. })
        ));
        assert_eq!(
            exec_form(&["p", "x\0y"]),
            Err(CommandLineError::Nul {
                index: 1,
                argument: "x\0y".to_owned()
            })
        );
        let message = CommandLineError::Empty.to_string();
        assert!(message.contains("empty"), "{message}");
    }
}
