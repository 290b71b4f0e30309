//! USER resolution for Linux RUN: `name`, `uid`, `name:group`, `uid:gid`
//! into numeric ids, looked up in the stage's `/etc/passwd` and
//! `/etc/group` as Docker does: a numeric user needs no passwd entry (its
//! group is then 0 unless given), a name must exist, and the user's
//! supplementary groups are the groups of `/etc/group` that list it.

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

/// Resolves `user` (empty = root) with the stage's passwd and group files.
pub fn resolve_user(
    user: &str,
    passwd: Option<&str>,
    group: Option<&str>,
) -> Result<UserIds, String> {
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
            format!(
                "USER {user}: there is no user {u} in the stage's /etc/passwd; create it in an earlier RUN or use a numeric id"
            )
        })?;
        (e.uid, e.gid, Some(u.to_string()))
    };
    let gid = match g {
        None | Some("") => primary,
        Some(g) => match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => group_entries(group_text)
                .find(|(n, _, _)| *n == g)
                .map(|(_, gid, _)| gid)
                .ok_or_else(|| {
                    format!(
                        "USER {user}: there is no group {g} in the stage's /etc/group; create it or use a numeric id"
                    )
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
    fn names_and_numbers() {
        let r = |u: &str| resolve_user(u, Some(PASSWD), Some(GROUP));
        assert_eq!(r("").unwrap(), UserIds::default());
        let app = r("app").unwrap();
        assert_eq!((app.uid, app.gid), (1000, 1001));
        assert_eq!(app.additional_gids, [10, 29]);
        assert_eq!(r("1000").unwrap(), app);
        assert_eq!(
            r("app:staff").unwrap(),
            UserIds {
                uid: 1000,
                gid: 50,
                additional_gids: vec![]
            }
        );
        assert_eq!(
            r("4242:7").unwrap(),
            UserIds {
                uid: 4242,
                gid: 7,
                additional_gids: vec![]
            }
        );
        assert_eq!(
            r("4242").unwrap(),
            UserIds {
                uid: 4242,
                gid: 0,
                additional_gids: vec![]
            }
        );
    }

    #[test]
    fn unknown_names_are_errors_that_say_what_to_do() {
        let e = resolve_user("nobody", Some(PASSWD), Some(GROUP)).unwrap_err();
        assert!(e.contains("no user nobody") && e.contains("numeric"), "{e}");
        let e = resolve_user("app:nogroup", Some(PASSWD), Some(GROUP)).unwrap_err();
        assert!(e.contains("no group nogroup"), "{e}");
        assert!(resolve_user("app", None, None).is_err());
    }
}
