//! Translating Linux package-manager commands in Windows stages into
//! Chocolatey: `apt-get install -y curl git` (or `apt`, `apk add`, `yum`/
//! `dnf install`, optionally through `sudo` and with environment
//! assignments) becomes `choco install -y curl git`; index updates and
//! cache clean-ups are dropped; other commands of a `&&`/`;`/`||` chain are
//! kept. Package names go through a table that ships with Wharf
//! (`data/choco-packages.tsv`), never a network lookup; names the table
//! does not know are kept and reported.

use std::collections::BTreeMap;

/// The table that ships with Wharf.
const BUILTIN_TABLE: &str = include_str!("../data/choco-packages.tsv");

/// A malformed line of a package table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {reason}")]
pub struct TableError {
    pub file: String,
    pub line: usize,
    pub reason: String,
}

/// Linux package name → Chocolatey package (`None`: built into Windows).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChocoTable {
    map: BTreeMap<String, Option<String>>,
}

impl ChocoTable {
    /// The table shipped with Wharf.
    pub fn builtin() -> ChocoTable {
        // The shipped table is tested to parse.
        ChocoTable::parse("choco-packages.tsv", BUILTIN_TABLE).unwrap_or_default()
    }

    /// Parses `<linux>\t<choco or ->` lines (`#` comments, blank lines).
    pub fn parse(file: &str, text: &str) -> Result<ChocoTable, TableError> {
        let mut map = BTreeMap::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let err = |reason: &str| TableError {
                file: file.to_string(),
                line: i + 1,
                reason: reason.to_string(),
            };
            let mut cols = line.split('\t').map(str::trim);
            let (Some(linux), Some(choco), None) = (cols.next(), cols.next(), cols.next()) else {
                return Err(err(
                    "expected two tab-separated columns: <linux name> <choco name or ->",
                ));
            };
            if linux.is_empty() || choco.is_empty() {
                return Err(err("a column is empty"));
            }
            let target = (choco != "-").then(|| choco.to_string());
            if map.insert(linux.to_string(), target).is_some() {
                return Err(err(&format!("{linux} is listed twice")));
            }
        }
        Ok(ChocoTable { map })
    }

    /// The Chocolatey package for a Linux name: `Some(Some(x))` mapped,
    /// `Some(None)` built in, `None` unknown.
    pub fn lookup(&self, linux: &str) -> Option<Option<&str>> {
        self.map.get(linux).map(|v| v.as_deref())
    }
}

/// What translation did to a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Translation {
    /// The command to run instead.
    pub command: String,
    /// Packages the table does not know, kept under their own name.
    pub unknown: Vec<String>,
    /// Parts left out (index updates, clean-ups, built-in packages,
    /// version pins), for the build output.
    pub dropped: Vec<String>,
}

/// Splits a shell command into (segment, separator following it), at
/// `&&`, `||` and `;` outside quotes.
fn segments(cmd: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let chars: Vec<char> = cmd.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match quote {
            Some(q) => {
                if c == q {
                    quote = None;
                }
                cur.push(c);
            }
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                cur.push(c);
            }
            None if (c == '&' || c == '|') && chars.get(i + 1) == Some(&c) => {
                out.push((std::mem::take(&mut cur), format!("{c}{c}")));
                i += 1;
            }
            None if c == ';' => out.push((std::mem::take(&mut cur), ";".to_string())),
            None => cur.push(c),
        }
        i += 1;
    }
    out.push((cur, String::new()));
    out
}

/// What one segment is.
enum Segment {
    Install(Vec<String>),
    Dropped(String),
    Other(String),
}

fn classify(segment: &str) -> Segment {
    let words: Vec<&str> = segment.split_whitespace().collect();
    // Leading `sudo [-E ...]` and `VAR=value` assignments.
    let is_prefix = |k: usize| {
        let w = words[k];
        let sudo_flag = k > 0 && words[k - 1] == "sudo" && w.starts_with('-');
        let assignment = w.contains('=')
            && !w.starts_with('-')
            && w.split('=')
                .next()
                .is_some_and(|n| n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
        w == "sudo" || sudo_flag || assignment
    };
    let mut k = 0;
    while k < words.len() && is_prefix(k) {
        k += 1;
    }
    let rest = &words[k..];
    let text = segment.trim().to_string();
    let Some((tool, args)) = rest.split_first() else {
        return Segment::Other(text);
    };
    let sub = args
        .iter()
        .find(|a| !a.starts_with('-'))
        .copied()
        .unwrap_or("");
    let packages = |after: &str| -> Vec<String> {
        let pos = args.iter().position(|a| *a == after).map_or(0, |p| p + 1);
        args[pos..]
            .iter()
            .filter(|a| !a.starts_with('-'))
            .map(|a| a.to_string())
            .collect()
    };
    match (*tool, sub) {
        ("apt-get" | "apt", "install") | ("yum" | "dnf" | "microdnf", "install") => {
            Segment::Install(packages("install"))
        }
        ("apk", "add") => Segment::Install(packages("add")),
        ("apt-get" | "apt", "update" | "upgrade" | "clean" | "autoremove" | "autoclean")
        | ("apk", "update" | "upgrade" | "cache")
        | ("yum" | "dnf" | "microdnf", "update" | "upgrade" | "makecache" | "clean") => {
            Segment::Dropped(text)
        }
        ("rm", _)
            if rest.iter().any(|w| {
                w.contains("/var/lib/apt/lists")
                    || w.contains("/var/cache/apk")
                    || w.contains("/var/cache/yum")
                    || w.contains("/var/cache/dnf")
            }) =>
        {
            Segment::Dropped(text)
        }
        _ => Segment::Other(text),
    }
}

/// Translates `command`; `None` when it calls no Linux package manager.
pub fn translate(command: &str, table: &ChocoTable) -> Option<Translation> {
    let parts = segments(command);
    let classified: Vec<(Segment, String)> = parts
        .iter()
        .map(|(s, sep)| (classify(s), sep.clone()))
        .collect();
    if !classified
        .iter()
        .any(|(s, _)| matches!(s, Segment::Install(_) | Segment::Dropped(_)))
    {
        return None;
    }
    let mut unknown = Vec::new();
    let mut dropped = Vec::new();
    let mut kept: Vec<(String, String)> = Vec::new();
    for (segment, sep) in classified {
        let text = match segment {
            Segment::Install(packages) => {
                let mut choco = Vec::new();
                for p in packages {
                    // Version pins (`curl=7.88*`, `curl>=7`) have no Chocolatey equivalent here.
                    let name = p
                        .split(['=', '<', '>', '~'])
                        .next()
                        .unwrap_or(&p)
                        .to_string();
                    if name != p {
                        dropped.push(format!("version pin of {p}"));
                    }
                    match table.lookup(&name) {
                        Some(Some(c)) => choco.push(c.to_string()),
                        Some(None) => dropped.push(format!("{name} (built into Windows)")),
                        None => {
                            unknown.push(name.clone());
                            choco.push(name);
                        }
                    }
                }
                choco.dedup();
                if choco.is_empty() {
                    continue;
                }
                format!("choco install -y {}", choco.join(" "))
            }
            Segment::Dropped(t) => {
                dropped.push(t);
                continue;
            }
            Segment::Other(t) => t,
        };
        kept.push((text, sep));
    }
    let mut command = String::new();
    for (i, (text, sep)) in kept.iter().enumerate() {
        command.push_str(text);
        if i + 1 < kept.len() {
            let sep = if sep.is_empty() { "&&" } else { sep.as_str() };
            command.push_str(&format!(" {sep} "));
        }
    }
    Some(Translation {
        command,
        unknown,
        dropped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(cmd: &str) -> Option<Translation> {
        translate(cmd, &ChocoTable::builtin())
    }

    #[test]
    fn the_shipped_table_parses() {
        let table = ChocoTable::parse("choco-packages.tsv", BUILTIN_TABLE).unwrap();
        assert_eq!(table.lookup("curl"), Some(Some("curl")));
        assert_eq!(table.lookup("ca-certificates"), Some(None));
        assert_eq!(table.lookup("no-such-package"), None);
    }

    #[test]
    fn real_world_run_lines() {
        let cases: &[(&str, &str)] = &[
            ("apt-get update && apt-get install -y curl git", "choco install -y curl git"),
            (
                "apt-get update && apt-get install -y --no-install-recommends ca-certificates curl && rm -rf /var/lib/apt/lists/*",
                "choco install -y curl",
            ),
            ("apk add --no-cache bash jq", "choco install -y git jq"),
            ("sudo DEBIAN_FRONTEND=noninteractive apt install -y python3 python3-pip", "choco install -y python3"),
            ("yum install -y make gcc && yum clean all", "choco install -y make mingw"),
            ("dnf -y install nodejs npm", "choco install -y nodejs"),
            ("apt-get install -y wget; echo done", "choco install -y wget ; echo done"),
            ("apt-get install -y curl=7.88.1-10 || true", "choco install -y curl || true"),
        ];
        for (input, expected) in cases {
            let got = t(input).unwrap_or_else(|| panic!("{input} not translated"));
            assert_eq!(got.command, *expected, "{input}");
        }
    }

    #[test]
    fn reports_unknown_and_dropped() {
        let r = t("apt-get update && apt-get install -y curl libfoo-dev tzdata").unwrap();
        assert_eq!(r.command, "choco install -y curl libfoo-dev");
        assert_eq!(r.unknown, vec!["libfoo-dev"]);
        assert!(r.dropped.iter().any(|d| d == "apt-get update"));
        assert!(r.dropped.iter().any(|d| d.starts_with("tzdata")));
    }

    #[test]
    fn leaves_other_commands_alone() {
        assert_eq!(t("echo 'apt-get install -y x' > notes.txt"), None);
        assert_eq!(t("powershell -Command Install-Module Foo"), None);
        assert_eq!(t("mkdir C:\\app && cd C:\\app"), None);
    }

    #[test]
    fn bad_tables() {
        assert!(ChocoTable::parse("t", "curl curl\n").is_err());
        assert!(ChocoTable::parse("t", "curl\tcurl\ncurl\twget\n")
            .unwrap_err()
            .to_string()
            .contains("listed twice"));
        assert_eq!(
            ChocoTable::parse("t", "# c\n\ncurl\t-\n")
                .unwrap()
                .lookup("curl"),
            Some(None)
        );
    }
}
