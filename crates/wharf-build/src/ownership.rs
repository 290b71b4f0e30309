//! `--chown` and `--chmod` with the meaning each OS gives them.
//!
//! Linux: `user[:group]`, numbers or names; names are looked up in the
//! stage's `/etc/passwd` and `/etc/group` (the caller reads them from the
//! stage's files). A user without a group takes the user's primary group
//! when the name is known, else the same number. Windows: a user name
//! (`ContainerUser`, `ContainerAdministrator`) or a SID string, which
//! becomes the owner in each entry's security descriptor.

/// Why an owner or mode cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{spec}: {reason}")]
pub struct OwnershipError {
    pub spec: String,
    pub reason: String,
}

fn lookup(table: Option<&str>, name: &str, id_field: usize) -> Option<(u64, Option<u64>)> {
    table?.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.first() == Some(&name))
            .then(|| {
                let id = fields.get(id_field)?.parse().ok()?;
                let gid = fields.get(id_field + 1).and_then(|g| g.parse().ok());
                Some((id, gid))
            })
            .flatten()
    })
}

/// Resolves a Linux `--chown` value to numeric ids.
pub fn linux_owner(
    spec: &str,
    passwd: Option<&str>,
    group: Option<&str>,
) -> Result<(u64, u64), OwnershipError> {
    let err = |reason: String| OwnershipError {
        spec: spec.to_string(),
        reason,
    };
    let (user, grp) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    if user.is_empty() {
        return Err(err("the user is empty; write --chown=user[:group]".into()));
    }
    let (uid, primary) = match user.parse::<u64>() {
        Ok(n) => (n, None),
        Err(_) => lookup(passwd, user, 2)
            .ok_or_else(|| err(format!("user {user:?} is not in the stage's /etc/passwd; use a number or create the user first")))?,
    };
    let gid = match grp {
        None => primary.unwrap_or(uid),
        Some("") => return Err(err("the group after ':' is empty".into())),
        Some(g) => match g.parse::<u64>() {
            Ok(n) => n,
            Err(_) => lookup(group, g, 2)
                .map(|(id, _)| id)
                .ok_or_else(|| err(format!("group {g:?} is not in the stage's /etc/group; use a number or create the group first")))?,
        },
    };
    Ok((uid, gid))
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
    pub fn parse(spec: &str) -> Result<Chmod, OwnershipError> {
        let err = |reason: &str| OwnershipError {
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

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n";
    const GROUP: &str = "root:x:0:\nstaff:x:50:\napp:x:1001:\n";

    #[test]
    fn linux_owners() {
        assert_eq!(linux_owner("1000", None, None).unwrap(), (1000, 1000));
        assert_eq!(linux_owner("1000:50", None, None).unwrap(), (1000, 50));
        assert_eq!(
            linux_owner("app", Some(PASSWD), Some(GROUP)).unwrap(),
            (1000, 1001)
        );
        assert_eq!(
            linux_owner("app:staff", Some(PASSWD), Some(GROUP)).unwrap(),
            (1000, 50)
        );
        assert_eq!(
            linux_owner("0:app", Some(PASSWD), Some(GROUP)).unwrap(),
            (0, 1001)
        );
        let e = linux_owner("nobody", Some(PASSWD), Some(GROUP)).unwrap_err();
        assert!(
            e.to_string().contains("not in the stage's /etc/passwd"),
            "{e}"
        );
        assert!(linux_owner("app:nogroup", Some(PASSWD), Some(GROUP)).is_err());
        assert!(linux_owner(":1", None, None).is_err());
        assert!(linux_owner("1:", None, None).is_err());
    }

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
