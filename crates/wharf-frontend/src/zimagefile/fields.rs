//! Typed, positioned reading of YAML values for the ZImagefile schema:
//! every accessor names the field it reads and, on a wrong type, reports
//! the line and column of the offending value.

use super::yaml::{Kind, Node};
use crate::ast::{Command, Pos};
use crate::error::FrontendError;
use crate::suggest;

/// The file being read, for positioned errors.
#[derive(Clone, Copy)]
pub(crate) struct Ctx<'a> {
    pub file: &'a str,
    pub text: &'a str,
}

/// A mapping's entries, checked against the fields allowed there.
pub(crate) struct Fields<'n> {
    pub pos: Pos,
    pub end_line: usize,
    entries: Vec<(&'n str, &'n Node, &'n Node)>,
}

/// One field: its name, the key node (where instructions point) and value.
#[derive(Clone, Copy)]
pub(crate) struct Field<'n> {
    pub name: &'n str,
    pub key: &'n Node,
    pub value: &'n Node,
}

impl<'n> Fields<'n> {
    pub fn get(&self, name: &str) -> Option<Field<'n>> {
        self.entries
            .iter()
            .find(|(n, _, _)| *n == name)
            .map(|&(name, key, value)| Field { name, key, value })
    }

    /// The fields present among `names`, in file order.
    pub fn present(&self, names: &[&str]) -> Vec<Field<'n>> {
        self.entries
            .iter()
            .filter(|(n, _, _)| names.contains(n))
            .map(|&(name, key, value)| Field { name, key, value })
            .collect()
    }
}

impl<'a> Ctx<'a> {
    pub fn err(&self, pos: Pos, msg: impl Into<String>) -> FrontendError {
        FrontendError::at(self.file, self.text, pos, msg)
    }

    fn wrong_type(&self, field: &str, expected: &str, node: &Node) -> FrontendError {
        self.err(
            node.pos,
            format!("`{field}` must be {expected}, found {}", node.describe()),
        )
    }

    /// Reads `node` as a mapping whose keys must all be in `allowed`;
    /// `what` names the place in messages ("a stage", "a step").
    pub fn fields<'n>(
        &self,
        node: &'n Node,
        what: &str,
        allowed: &[&str],
    ) -> Result<Fields<'n>, FrontendError> {
        let Kind::Map(entries) = &node.kind else {
            return Err(self.err(
                node.pos,
                format!(
                    "{what} must be a mapping of fields, found {}",
                    node.describe()
                ),
            ));
        };
        let mut out = Vec::with_capacity(entries.len());
        for (key, value) in entries {
            let Kind::Scalar { value: name, .. } = &key.kind else {
                return Err(self.err(key.pos, "field names must be plain words"));
            };
            if !allowed.contains(&name.as_str()) {
                let mut e = self.err(key.pos, format!("unknown field `{name}` in {what}"));
                let list = allowed.join(", ");
                e = match suggest::closest(name, allowed.iter().copied()) {
                    Some(s) => {
                        e.with_hint(format!("did you mean `{s}`? Fields allowed here: {list}"))
                    }
                    None => e.with_hint(format!("fields allowed here: {list}")),
                };
                return Err(e);
            }
            out.push((name.as_str(), key, value));
        }
        Ok(Fields {
            pos: node.pos,
            end_line: node.end_line,
            entries: out,
        })
    }

    /// A non-null scalar, as written (`8080`, `true` and `0755` stay text).
    pub fn string(&self, f: Field<'_>) -> Result<String, FrontendError> {
        self.scalar_named(f.name, f.value, "a string")
    }

    fn scalar_named(
        &self,
        field: &str,
        node: &Node,
        expected: &str,
    ) -> Result<String, FrontendError> {
        match &node.kind {
            Kind::Scalar { value, .. } if !node.is_null() => Ok(value.clone()),
            _ => Err(self.wrong_type(field, expected, node)),
        }
    }

    /// A non-empty string.
    pub fn non_empty(&self, f: Field<'_>) -> Result<String, FrontendError> {
        let s = self.string(f)?;
        if s.trim().is_empty() {
            return Err(self.err(f.value.pos, format!("`{}` must not be empty", f.name)));
        }
        Ok(s)
    }

    /// One string or a non-empty list of strings.
    pub fn string_or_list(
        &self,
        f: Field<'_>,
        expected: &str,
    ) -> Result<Vec<String>, FrontendError> {
        match &f.value.kind {
            Kind::Seq(items) => {
                if items.is_empty() {
                    return Err(self.err(
                        f.value.pos,
                        format!("`{}` must not be an empty list", f.name),
                    ));
                }
                items
                    .iter()
                    .map(|i| self.scalar_named(f.name, i, expected))
                    .collect()
            }
            _ => Ok(vec![self.scalar_named(f.name, f.value, expected)?]),
        }
    }

    /// A shell string or an exec list.
    pub fn command(&self, f: Field<'_>) -> Result<Command, FrontendError> {
        const EXPECTED: &str = "a shell command string or an exec list of strings";
        match &f.value.kind {
            Kind::Seq(_) => Ok(Command::Exec(self.string_or_list(f, EXPECTED)?)),
            _ => {
                let s = self.scalar_named(f.name, f.value, EXPECTED)?;
                if s.trim().is_empty() {
                    return Err(self.err(f.value.pos, format!("`{}` must not be empty", f.name)));
                }
                Ok(Command::Shell(s))
            }
        }
    }

    /// A mapping of names to string values, in file order. `check_key`
    /// validates each name (returning what is wrong with it).
    pub fn string_map(
        &self,
        f: Field<'_>,
        check_key: fn(&str) -> Option<&'static str>,
    ) -> Result<Vec<(String, String)>, FrontendError> {
        let Kind::Map(entries) = &f.value.kind else {
            return Err(self.wrong_type(f.name, "a mapping of names to values", f.value));
        };
        let mut out = Vec::with_capacity(entries.len());
        for (k, v) in entries {
            let name = self.scalar_named(f.name, k, "a mapping with plain names")?;
            if let Some(problem) = check_key(&name) {
                return Err(self.err(
                    k.pos,
                    format!("invalid name `{name}` in `{}`: {problem}", f.name),
                ));
            }
            let value = match &v.kind {
                Kind::Scalar { value, .. } if !v.is_null() => value.clone(),
                _ => {
                    return Err(self
                        .err(
                            v.pos,
                            format!(
                                "`{}.{name}` must be a string, found {}",
                                f.name,
                                v.describe()
                            ),
                        )
                        .with_hint("quote the value; write \"\" for an empty one"))
                }
            };
            out.push((name, value));
        }
        Ok(out)
    }

    /// A non-negative integer written plain.
    pub fn unsigned(&self, f: Field<'_>) -> Result<u32, FrontendError> {
        match &f.value.kind {
            Kind::Scalar { value, plain: true } => value
                .parse::<u32>()
                .map_err(|_| self.wrong_type(f.name, "a non-negative whole number", f.value)),
            _ => Err(self.wrong_type(f.name, "a non-negative whole number", f.value)),
        }
    }

    /// `true` or `false`, written plain.
    pub fn boolean(&self, f: Field<'_>) -> Result<bool, FrontendError> {
        match &f.value.kind {
            Kind::Scalar { value, plain: true }
                if matches!(value.as_str(), "true" | "True" | "TRUE") =>
            {
                Ok(true)
            }
            Kind::Scalar { value, plain: true }
                if matches!(value.as_str(), "false" | "False" | "FALSE") =>
            {
                Ok(false)
            }
            _ => Err(self.wrong_type(f.name, "true or false", f.value)),
        }
    }
}

/// What is wrong with an environment variable name, if anything.
pub(crate) fn env_name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        Some("it is empty")
    } else if name.contains('=') {
        Some("it contains `=`")
    } else if name.chars().any(char::is_whitespace) {
        Some("it contains white space")
    } else {
        None
    }
}

/// What is wrong with a build argument name, if anything.
pub(crate) fn arg_name_problem(name: &str) -> Option<&'static str> {
    let mut chars = name.chars();
    match chars.next() {
        None => Some("it is empty"),
        Some(c) if !(c.is_ascii_alphabetic() || c == '_') => {
            Some("it must start with a letter or `_`")
        }
        _ if !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') => {
            Some("only letters, digits and `_` are allowed")
        }
        _ => None,
    }
}

/// Label keys may be any non-empty text.
pub(crate) fn label_key_problem(name: &str) -> Option<&'static str> {
    name.is_empty().then_some("it is empty")
}
