//! BuildKit's parser dump (`Node.Dump()`): reading the expected text, and
//! writing Wharf's syntax tree in the same shape, so that the two compare
//! as trees.

use wharf_frontend::ast::{Command, Healthcheck, Instruction};

/// One dumped node: `(name ["--flag" ...] "arg" (child ...) ...)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DNode {
    pub name: String,
    pub flags: Vec<String>,
    pub args: Vec<DArg>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DArg {
    Str(String),
    Node(DNode),
}

/// Reads one line of a `result` file.
pub fn parse_line(line: &str) -> Result<DNode, String> {
    let chars: Vec<char> = line.trim().chars().collect();
    let mut pos = 0;
    let node = parse_node(&chars, &mut pos)?;
    if pos != chars.len() {
        return Err(format!("trailing text in dump line {line:?}"));
    }
    Ok(node)
}

fn skip_blanks(c: &[char], pos: &mut usize) {
    while *pos < c.len() && c[*pos].is_whitespace() {
        *pos += 1;
    }
}

fn parse_node(c: &[char], pos: &mut usize) -> Result<DNode, String> {
    if c.get(*pos) != Some(&'(') {
        return Err(format!("expected '(' at {pos}"));
    }
    *pos += 1;
    let mut name = String::new();
    while *pos < c.len() && !c[*pos].is_whitespace() && c[*pos] != ')' {
        name.push(c[*pos]);
        *pos += 1;
    }
    let mut node = DNode {
        name,
        flags: Vec::new(),
        args: Vec::new(),
    };
    loop {
        skip_blanks(c, pos);
        match c.get(*pos) {
            None => return Err("unterminated node".into()),
            Some(')') => {
                *pos += 1;
                return Ok(node);
            }
            Some('[') => {
                *pos += 1;
                loop {
                    skip_blanks(c, pos);
                    match c.get(*pos) {
                        Some(']') => {
                            *pos += 1;
                            break;
                        }
                        Some('"') => node.flags.push(go_unquote(c, pos)?),
                        _ => return Err("bad flag list".into()),
                    }
                }
            }
            Some('"') => node.args.push(DArg::Str(go_unquote(c, pos)?)),
            Some('(') => node.args.push(DArg::Node(parse_node(c, pos)?)),
            Some(other) => return Err(format!("unexpected {other:?} in dump")),
        }
    }
}

/// Reads a Go `strconv.Quote` string starting at `c[*pos] == '"'`.
fn go_unquote(c: &[char], pos: &mut usize) -> Result<String, String> {
    *pos += 1;
    let mut s = String::new();
    let hex = |c: &[char], pos: &mut usize, n: usize| -> Result<u32, String> {
        let digits: String = c
            .get(*pos..*pos + n)
            .ok_or("short escape")?
            .iter()
            .collect();
        *pos += n;
        u32::from_str_radix(&digits, 16).map_err(|e| e.to_string())
    };
    while let Some(&ch) = c.get(*pos) {
        *pos += 1;
        match ch {
            '"' => return Ok(s),
            '\\' => {
                let e = *c.get(*pos).ok_or("dangling escape")?;
                *pos += 1;
                match e {
                    'a' => s.push('\x07'),
                    'b' => s.push('\x08'),
                    'f' => s.push('\x0c'),
                    'n' => s.push('\n'),
                    'r' => s.push('\r'),
                    't' => s.push('\t'),
                    'v' => s.push('\x0b'),
                    'x' => s.push(char::from_u32(hex(c, pos, 2)?).ok_or("bad \\x")?),
                    'u' => s.push(char::from_u32(hex(c, pos, 4)?).ok_or("bad \\u")?),
                    'U' => s.push(char::from_u32(hex(c, pos, 8)?).ok_or("bad \\U")?),
                    other => s.push(other),
                }
            }
            other => s.push(other),
        }
    }
    Err("unterminated string".into())
}

fn strs<I: IntoIterator<Item = S>, S: Into<String>>(v: I) -> Vec<DArg> {
    v.into_iter().map(|s| DArg::Str(s.into())).collect()
}

fn command_args(c: &Command) -> Vec<DArg> {
    match c {
        Command::Exec(v) => strs(v.clone()),
        Command::Shell(s) => strs([s.clone()]),
    }
}

/// Wharf's instruction in BuildKit's dump shape. ENV and LABEL carry no
/// form marker (BuildKit's third word, `=` or empty): see [`normalise`].
pub fn dump(ins: &Instruction) -> DNode {
    let name = ins.keyword().to_ascii_lowercase();
    let mut flags = Vec::new();
    let args = match ins {
        Instruction::From(f) => {
            if let Some(p) = &f.platform {
                flags.push(format!("--platform={p}"));
            }
            let mut a = vec![f.image.clone()];
            if let Some(n) = &f.name {
                a.push("as".into());
                a.push(n.clone());
            }
            strs(a)
        }
        Instruction::Run(r) => command_args(&r.command),
        Instruction::Cmd { command } | Instruction::Entrypoint { command } => command_args(command),
        Instruction::Shell { shell } => strs(shell.clone()),
        Instruction::Copy(c) | Instruction::Add { copy: c, .. } => {
            let pairs = [("from", &c.from), ("chown", &c.chown), ("chmod", &c.chmod)];
            for (n, v) in pairs {
                if let Some(v) = v {
                    flags.push(format!("--{n}={v}"));
                }
            }
            if c.link {
                flags.push("--link".into());
            }
            if c.parents {
                flags.push("--parents".into());
            }
            for e in &c.exclude {
                flags.push(format!("--exclude={e}"));
            }
            let mut a = c.sources.clone();
            a.push(c.dest.clone());
            strs(a)
        }
        Instruction::Env { vars } => strs(vars.iter().flat_map(|(k, v)| [k.clone(), v.clone()])),
        Instruction::Label { labels } => {
            strs(labels.iter().flat_map(|(k, v)| [k.clone(), v.clone()]))
        }
        Instruction::Arg { args } => strs(args.iter().map(|a| match &a.default {
            Some(d) => format!("{}={d}", a.name),
            None => a.name.clone(),
        })),
        Instruction::Expose { ports } => strs(ports.clone()),
        Instruction::Volume { paths } => strs(paths.clone()),
        Instruction::User { user } => strs([user.clone()]),
        Instruction::Workdir { path } => strs([path.clone()]),
        Instruction::Stopsignal { signal } => strs([signal.clone()]),
        Instruction::Maintainer { name } => strs([name.clone()]),
        Instruction::Healthcheck(Healthcheck::None) => strs(["NONE"]),
        Instruction::Healthcheck(Healthcheck::Cmd {
            command,
            interval,
            timeout,
            start_period,
            start_interval,
            retries,
        }) => {
            let durations = [
                ("interval", interval),
                ("timeout", timeout),
                ("start-period", start_period),
                ("start-interval", start_interval),
            ];
            for (n, v) in durations {
                if let Some(v) = v {
                    flags.push(format!("--{n}={v}"));
                }
            }
            if let Some(r) = retries {
                flags.push(format!("--retries={r}"));
            }
            let mut a = strs(["CMD"]);
            a.extend(command_args(command));
            a
        }
        Instruction::Onbuild { parsed, .. } => vec![DArg::Node(dump(parsed))],
    };
    DNode { name, flags, args }
}

/// BuildKit's ENV/LABEL form marker (its third word per pair, `=` or
/// empty) removed: Wharf's tree keeps the pairs, not whether the legacy
/// `KEY value` form was used.
pub fn strip_markers(mut n: DNode) -> DNode {
    if matches!(n.name.as_str(), "env" | "label") && n.args.len() % 3 == 0 && is_marked(&n.args) {
        n.args = n.args.chunks(3).flat_map(|c| c[..2].to_vec()).collect();
    }
    n.args = n
        .args
        .into_iter()
        .map(|a| match a {
            DArg::Node(c) => DArg::Node(strip_markers(c)),
            s => s,
        })
        .collect();
    n
}

/// What the comparison ignores: the order of flags and the case of FROM's
/// `AS` and stage name (BuildKit lower-cases names later, Wharf at once).
pub fn normalise(mut n: DNode) -> DNode {
    n.flags.sort();
    if n.name == "from" {
        for a in &mut n.args {
            if let DArg::Str(s) = a {
                if s.eq_ignore_ascii_case("as") {
                    *s = s.to_ascii_lowercase();
                }
            }
        }
        if n.args.len() == 3 {
            if let DArg::Str(s) = &mut n.args[2] {
                *s = s.to_ascii_lowercase();
            }
        }
    }
    n.args = n
        .args
        .into_iter()
        .map(|a| match a {
            DArg::Node(c) => DArg::Node(normalise(c)),
            s => s,
        })
        .collect();
    n
}

/// Whether every third word is a form marker (`=` or empty).
fn is_marked(args: &[DArg]) -> bool {
    args.chunks(3)
        .all(|c| matches!(&c[2], DArg::Str(s) if s.is_empty() || s == "="))
}
