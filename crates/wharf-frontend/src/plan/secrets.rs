//! Names that look like secrets, BuildKit's `SecretsUsedInArgOrEnv` rule
//! (`dockerfile2llb/validations.go`): an ARG, ENV or `--build-arg` whose
//! name has an `_`-separated part (any case) among apikey, auth,
//! credential(s), key, password, pword, passwd, secret, token, and none
//! among public, file, version. Their values end up in the image's
//! history or config; `--secret` with `RUN --mount=type=secret` does not.

use super::PlanWarning;
use crate::ast::{BuildFile, Instruction};
use std::collections::BTreeMap;

const SECRET_PARTS: &[&str] = &[
    "apikey",
    "auth",
    "credential",
    "credentials",
    "key",
    "password",
    "pword",
    "passwd",
    "secret",
    "token",
];
const ALLOWED_PARTS: &[&str] = &["public", "file", "version"];

/// Whether `name` looks like it holds sensitive data.
pub fn looks_secret(name: &str) -> bool {
    let has = |list: &[&str]| {
        name.split('_')
            .any(|part| list.iter().any(|t| part.eq_ignore_ascii_case(t)))
    };
    has(SECRET_PARTS) && !has(ALLOWED_PARTS)
}

/// One warning per ARG or ENV name and per `--build-arg` that looks
/// like a secret.
pub(super) fn warnings(
    file: &BuildFile,
    build_args: &BTreeMap<String, String>,
) -> Vec<PlanWarning> {
    let mut out = Vec::new();
    for ins in &file.instructions {
        let names: Vec<(&str, &str)> = match &ins.node {
            Instruction::Arg { args } => args.iter().map(|a| ("ARG", a.name.as_str())).collect(),
            Instruction::Env { vars } => vars.iter().map(|(k, _)| ("ENV", k.as_str())).collect(),
            _ => Vec::new(),
        };
        for (keyword, name) in names.into_iter().filter(|(_, n)| looks_secret(n)) {
            out.push(PlanWarning {
                line: Some(ins.pos.line),
                message: format!(
                    "Do not use ARG or ENV instructions for sensitive data ({keyword} {name:?}): the value is kept in the image; pass it with --secret and read it in RUN --mount=type=secret (SecretsUsedInArgOrEnv)"
                ),
            });
        }
    }
    for name in build_args.keys().filter(|n| looks_secret(n)) {
        out.push(PlanWarning {
            line: None,
            message: format!(
                "--build-arg {name} looks like sensitive data: build arguments are kept in the image's history and in cache keys; pass it with --secret id={name},env={name} and read it in RUN --mount=type=secret,id={name},env={name}"
            ),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::looks_secret;

    #[test]
    fn buildkit_word_list() {
        for yes in [
            "api_key",
            "DATABASE_PASSWORD",
            "GITHUB_TOKEN",
            "secret_MESSAGE",
            "AUTH",
            "my_apikey_x",
            "PASSWD",
        ] {
            assert!(looks_secret(yes), "{yes}");
        }
        for no in [
            "KEYBOARD",
            "TOKENIZER",
            "PUBLIC_KEY",
            "KEY_FILE",
            "TOKEN_VERSION",
            "monkey",
            "PATH",
            "",
        ] {
            assert!(!looks_secret(no), "{no}");
        }
    }
}
