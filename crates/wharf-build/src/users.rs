//! Linux users and groups from a stage's own `/etc/passwd` and
//! `/etc/group`: the ids of a `COPY --chown` and of a RUN's `USER`.
//!
//! The two follow Docker's two rules, which differ:
//! - `--chown=user[:group]`: numbers or names; a user without a group
//!   takes the user's primary group when the name is known, else the same
//!   number as the user;
//! - `USER user[:group]`: a numeric user needs no passwd entry (its group
//!   is then 0 unless given), a name must exist, and the user's
//!   supplementary groups are the groups of `/etc/group` that list it
//!   (when no group is forced).
//!
//! Windows stages name accounts or SIDs instead; see
//! `wharf_layer::windows::sddl::resolve_account`.

/// The USER a step runs as: the stage's `USER`, else the image's.
pub fn user_in_effect(
    ins: &wharf_frontend::plan::PlannedInstruction,
    config: &wharf_oci::ImageConfig,
) -> String {
    ins.user
        .clone()
        .unwrap_or_else(|| config.config.user.clone())
}

/// Whether `user` is root without reading a user database.
pub fn is_root(user: &str) -> bool {
    matches!(user, "" | "root" | "0")
}

/// A user or group that cannot be resolved; the message says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UserError(pub String);

/// Numeric identity of a RUN.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UserIds {
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
}

struct PasswdEntry<'a> {
    name: &'a str,
    uid: u32,
    gid: u32,
}

fn passwd_entries(text: &str) -> impl Iterator<Item = PasswdEntry<'_>> {
    text.lines().filter_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        if f.len() < 4 || l.starts_with('#') {
            return None;
        }
        Some(PasswdEntry {
            name: f[0],
            uid: f[2].parse().ok()?,
            gid: f[3].parse().ok()?,
        })
    })
}

/// `(name, gid, members)` of each `/etc/group` line.
fn group_entries(text: &str) -> impl Iterator<Item = (&str, u32, Vec<&str>)> {
    text.lines().filter_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        if f.len() < 3 || l.starts_with('#') {
            return None;
        }
        let members = f
            .get(3)
            .map(|m| m.split(',').filter(|s| !s.is_empty()).collect())
            .unwrap_or_default();
        Some((f[0], f[2].parse().ok()?, members))
    })
}

fn group_id(group: &str, name: &str) -> Option<u32> {
    group_entries(group)
        .find(|(n, _, _)| *n == name)
        .map(|(_, gid, _)| gid)
}

/// The ids of `--chown=spec` in a Linux stage with these files.
pub fn chown_ids(
    spec: &str,
    passwd: Option<&str>,
    group: Option<&str>,
) -> Result<(u32, u32), UserError> {
    let err = |reason: String| UserError(format!("{spec}: {reason}"));
    let (user, grp) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    if user.is_empty() {
        return Err(err("the user is empty; write --chown=user[:group]".into()));
    }
    let (uid, primary) = match user.parse::<u32>() {
        Ok(n) => (n, None),
        Err(_) => passwd_entries(passwd.unwrap_or(""))
            .find(|e| e.name == user)
            .map(|e| (e.uid, Some(e.gid)))
            .ok_or_else(|| err(format!("user {user:?} is not in the stage's /etc/passwd; use a number or create the user first")))?,
    };
    let gid = match grp {
        None => primary.unwrap_or(uid),
        Some("") => return Err(err("the group after ':' is empty".into())),
        Some(g) => match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => group_id(group.unwrap_or(""), g).ok_or_else(|| {
                err(format!("group {g:?} is not in the stage's /etc/group; use a number or create the group first"))
            })?,
        },
    };
    Ok((uid, gid))
}

/// The ids a RUN with `USER user` (empty = root) runs as.
pub fn run_user_ids(
    user: &str,
    passwd: Option<&str>,
    group: Option<&str>,
) -> Result<UserIds, UserError> {
    let (u, g) = match user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (user, None),
    };
    let passwd = passwd.unwrap_or("");
    let group_text = group.unwrap_or("");
    let (uid, primary, name) = if u.is_empty() {
        (0, 0, Some("root".to_string()))
    } else if let Ok(uid) = u.parse::<u32>() {
        match passwd_entries(passwd).find(|e| e.uid == uid) {
            Some(e) => (uid, e.gid, Some(e.name.to_string())),
            None => (uid, 0, None),
        }
    } else {
        let e = passwd_entries(passwd).find(|e| e.name == u).ok_or_else(|| {
            UserError(format!(
                "USER {user}: there is no user {u} in the stage's /etc/passwd; create it in an earlier RUN or use a numeric id"
            ))
        })?;
        (e.uid, e.gid, Some(u.to_string()))
    };
    let gid = match g {
        None | Some("") => primary,
        Some(g) => match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => group_id(group_text, g).ok_or_else(|| {
                UserError(format!(
                    "USER {user}: there is no group {g} in the stage's /etc/group; create it or use a numeric id"
                ))
            })?,
        },
    };
    // Supplementary groups apply when the group is not forced, as Docker does.
    let mut additional_gids = Vec::new();
    if g.is_none() {
        if let Some(name) = &name {
            for (_, id, members) in group_entries(group_text) {
                if members.contains(&name.as_str()) && id != gid && !additional_gids.contains(&id) {
                    additional_gids.push(id);
                }
            }
        }
    }
    Ok(UserIds {
        uid,
        gid,
        additional_gids,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n# comment\napp:x:1000:1001::/home/app:/bin/sh\nbroken line\n";
    const GROUP: &str =
        "root:x:0:\nappgrp:x:1001:\nwheel:x:10:app,other\naudio:x:29:app\nstaff:x:50:\n";

    #[test]
    fn chown_owners() {
        let passwd = Some(PASSWD);
        let group = Some(GROUP);
        assert_eq!(chown_ids("1000", None, None).unwrap(), (1000, 1000));
        assert_eq!(chown_ids("1000:50", None, None).unwrap(), (1000, 50));
        assert_eq!(chown_ids("app", passwd, group).unwrap(), (1000, 1001));
        assert_eq!(chown_ids("app:staff", passwd, group).unwrap(), (1000, 50));
        assert_eq!(chown_ids("0:appgrp", passwd, group).unwrap(), (0, 1001));
        let e = chown_ids("nobody", passwd, group).unwrap_err();
        assert!(
            e.to_string().contains("not in the stage's /etc/passwd"),
            "{e}"
        );
        assert!(chown_ids("app:nogroup", passwd, group).is_err());
        assert!(chown_ids(":1", None, None).is_err());
        assert!(chown_ids("1:", None, None).is_err());
    }

    #[test]
    fn run_users_by_name_and_number() {
        let r = |u: &str| run_user_ids(u, Some(PASSWD), Some(GROUP));
        assert_eq!(r("").unwrap(), UserIds::default());
        let app = r("app").unwrap();
        assert_eq!((app.uid, app.gid), (1000, 1001));
        assert_eq!(app.additional_gids, [10, 29]);
        assert_eq!(r("1000").unwrap(), app);
        let ids = |uid, gid| UserIds {
            uid,
            gid,
            additional_gids: vec![],
        };
        assert_eq!(r("app:staff").unwrap(), ids(1000, 50));
        assert_eq!(r("4242:7").unwrap(), ids(4242, 7));
        assert_eq!(r("4242").unwrap(), ids(4242, 0));
    }

    #[test]
    fn unknown_names_are_errors_that_say_what_to_do() {
        let e = run_user_ids("nobody", Some(PASSWD), Some(GROUP))
            .unwrap_err()
            .to_string();
        assert!(e.contains("no user nobody") && e.contains("numeric"), "{e}");
        let e = run_user_ids("app:nogroup", Some(PASSWD), Some(GROUP))
            .unwrap_err()
            .to_string();
        assert!(e.contains("no group nogroup"), "{e}");
        assert!(run_user_ids("app", None, None).is_err());
    }
}
