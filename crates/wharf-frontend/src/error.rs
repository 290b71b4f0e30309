//! Errors of the front end. Every error carries the file, line and column
//! it is about, quotes the offending line, and says what was expected.

use crate::ast::Pos;
use std::fmt;

/// A positioned error in a Dockerfile, ZImagefile or .dockerignore, or in
/// the build options that the plan checks against them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct FrontendError {
    /// File name as the user knows it (`Dockerfile`, `-` for stdin).
    pub file: String,
    /// Where; `None` for errors about build options as a whole.
    pub pos: Option<Pos>,
    /// The source line quoted (without its line break).
    pub line_text: Option<String>,
    /// What is wrong.
    pub message: String,
    /// What to do instead, when there is something to suggest.
    pub hint: Option<String>,
}

impl FrontendError {
    /// An error at `pos` in `source` (the whole file text).
    pub fn at(file: &str, source: &str, pos: Pos, message: impl Into<String>) -> Self {
        let line_text = source
            .lines()
            .nth(pos.line.saturating_sub(1))
            .map(|l| l.trim_end_matches('\r').to_string());
        FrontendError {
            file: file.to_string(),
            pos: Some(pos),
            line_text,
            message: message.into(),
            hint: None,
        }
    }

    /// An error that is not about one place in a file.
    pub fn general(file: &str, message: impl Into<String>) -> Self {
        FrontendError {
            file: file.to_string(),
            pos: None,
            line_text: None,
            message: message.into(),
            hint: None,
        }
    }

    /// Adds advice on what to do.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// The line, when the error has a position.
    pub fn line(&self) -> Option<usize> {
        self.pos.map(|p| p.line)
    }
}

impl fmt::Display for FrontendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.pos {
            Some(p) => write!(f, "{}:{}:{}: {}", self.file, p.line, p.column, self.message)?,
            None => write!(f, "{}: {}", self.file, self.message)?,
        }
        if let (Some(p), Some(text)) = (self.pos, &self.line_text) {
            let gutter = p.line.to_string().len();
            write!(f, "\n {} | {}", p.line, text)?;
            // Columns count characters; tabs are echoed so the caret lines up.
            let pad: String = text
                .chars()
                .take(p.column.saturating_sub(1))
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            write!(f, "\n {} | {}^", " ".repeat(gutter), pad)?;
        }
        if let Some(h) = &self.hint {
            write!(f, "\n help: {h}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_file_line_column_quote_and_caret() {
        let src = "FROM alpine\nRUNN echo hi\n";
        let e = FrontendError::at(
            "Dockerfile",
            src,
            Pos { line: 2, column: 1 },
            "unknown instruction RUNN",
        )
        .with_hint("did you mean RUN?");
        let s = e.to_string();
        assert_eq!(
            s,
            "Dockerfile:2:1: unknown instruction RUNN\n 2 | RUNN echo hi\n   | ^\n help: did you mean RUN?"
        );
    }
}
