//! `--chmod` values: octal (`755`) or symbolic (`u+x,go-w`, `a=rX`),
//! parsed once for both the planner (which refuses bad values with their
//! line) and the builder (which applies them to each entry's mode).

/// A `--chmod` value that is not a mode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--chmod={spec} is not a mode ({reason}); use octal such as 755 or symbolic such as u+x")]
pub struct ChmodError {
    pub spec: String,
    pub reason: String,
}

/// A parsed `--chmod`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chmod {
    Octal(u32),
    /// Clauses like `u+x`, `go-w`, `a=rX`.
    Symbolic(Vec<(u32, char, String)>),
}

impl Chmod {
    /// Parses octal (`755`) or symbolic (`u+x,go-w`) modes.
    pub fn parse(spec: &str) -> Result<Chmod, ChmodError> {
        let err = |reason: &str| ChmodError {
            spec: spec.to_string(),
            reason: reason.to_string(),
        };
        if !spec.is_empty() && spec.bytes().all(|b| b.is_ascii_digit()) {
            return u32::from_str_radix(spec, 8)
                .ok()
                .filter(|m| *m <= 0o7777)
                .map(Chmod::Octal)
                .ok_or_else(|| err("not an octal mode such as 755"));
        }
        let mut clauses = Vec::new();
        for clause in spec.split(',') {
            let who_len = clause
                .find(['+', '-', '='])
                .ok_or_else(|| err("expected +, - or ="))?;
            let mut who = 0;
            for c in clause[..who_len].chars() {
                who |= match c {
                    'u' => 0o4700,
                    'g' => 0o2070,
                    'o' => 0o1007,
                    'a' => 0o7777,
                    _ => return Err(err("who must be u, g, o or a")),
                };
            }
            if who == 0 {
                who = 0o7777;
            }
            let op = clause[who_len..].chars().next().unwrap_or('+');
            let perms = clause[who_len + 1..].to_string();
            if !perms.chars().all(|c| "rwxXst".contains(c)) {
                return Err(err("permissions must be from r, w, x, X, s, t"));
            }
            clauses.push((who, op, perms));
        }
        Ok(Chmod::Symbolic(clauses))
    }

    /// The mode of an entry after the change (`mode` holds permission bits).
    pub fn apply(&self, mode: u32, is_dir: bool) -> u32 {
        match self {
            Chmod::Octal(m) => *m,
            Chmod::Symbolic(clauses) => {
                let mut mode = mode & 0o7777;
                for (who, op, perms) in clauses {
                    let mut bits = 0;
                    for p in perms.chars() {
                        bits |= match p {
                            'r' => 0o444,
                            'w' => 0o222,
                            'x' => 0o111,
                            'X' if is_dir || mode & 0o111 != 0 => 0o111,
                            's' => 0o6000,
                            't' => 0o1000,
                            _ => 0,
                        };
                    }
                    let bits = bits & who;
                    mode = match op {
                        '+' => mode | bits,
                        '-' => mode & !bits,
                        _ => (mode & !(who & 0o777)) | bits,
                    };
                }
                mode
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chmod_forms() {
        assert_eq!(Chmod::parse("755").unwrap().apply(0o644, false), 0o755);
        let sym = Chmod::parse("u+x,go-w").unwrap();
        assert_eq!(sym.apply(0o666, false), 0o744);
        let x = Chmod::parse("a=rX").unwrap();
        assert_eq!(x.apply(0o640, false), 0o444);
        assert_eq!(x.apply(0o750, true), 0o555);
        assert_eq!(Chmod::parse("+x").unwrap().apply(0o644, false), 0o755);
        assert!(Chmod::parse("99999").is_err());
        assert!(Chmod::parse("q+x").is_err());
        assert!(Chmod::parse("u+z").is_err());
    }
}
