//! `--chown` with the meaning each OS gives it (`--chmod` is
//! `wharf_frontend::chmod`).
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
}
