//! The stage structure of a build file (which instructions belong to which
//! stage, stage names) and the stage graph: the stages a target needs, in
//! dependency order, with cycles reported.

use crate::ast::{BuildFile, Instruction, Pos};
use crate::error::FrontendError;
use crate::suggest::closest;
use std::collections::BTreeMap;

/// One `FROM` and the instructions up to the next.
#[derive(Debug, Clone)]
pub(crate) struct StageDecl {
    /// Index of the FROM in `BuildFile::instructions`.
    pub from: usize,
    /// One past the stage's last instruction.
    pub end: usize,
    pub name: Option<String>,
}

/// Global ARGs and stages of a file.
#[derive(Debug)]
pub(crate) struct Structure {
    /// Indices of the instructions before the first FROM (all ARG).
    pub globals: Vec<usize>,
    pub stages: Vec<StageDecl>,
    pub names: BTreeMap<String, usize>,
}

impl Structure {
    pub fn new(file: &BuildFile, source: &str) -> Result<Self, FrontendError> {
        let mut globals = Vec::new();
        let mut stages: Vec<StageDecl> = Vec::new();
        let mut names: BTreeMap<String, usize> = BTreeMap::new();
        for (i, ins) in file.instructions.iter().enumerate() {
            match &ins.node {
                Instruction::From(f) => {
                    if let Some(last) = stages.last_mut() {
                        last.end = i;
                    }
                    if let Some(name) = &f.name {
                        if let Some(&prev) = names.get(name) {
                            let prev_line = file.instructions[stages[prev].from].pos.line;
                            return Err(FrontendError::at(
                                &file.path,
                                source,
                                ins.pos,
                                format!(
                                    "duplicate stage name '{name}' (already used by the stage at line {prev_line})"
                                ),
                            )
                            .with_hint("give each stage a different name"));
                        }
                        names.insert(name.clone(), stages.len());
                    }
                    stages.push(StageDecl {
                        from: i,
                        end: file.instructions.len(),
                        name: f.name.clone(),
                    });
                }
                Instruction::Arg { .. } if stages.is_empty() => globals.push(i),
                other if stages.is_empty() => {
                    return Err(FrontendError::at(
                        &file.path,
                        source,
                        ins.pos,
                        format!("{} before the first FROM", other.keyword()),
                    )
                    .with_hint(
                        "only ARG may come before the first FROM; start a stage with FROM <image>",
                    ));
                }
                _ => {}
            }
        }
        if stages.is_empty() {
            return Err(FrontendError::general(
                &file.path,
                "the file has no FROM instruction, so there is nothing to build",
            )
            .with_hint("start the build with FROM <image> (or FROM scratch)"));
        }
        Ok(Structure {
            globals,
            stages,
            names,
        })
    }

    /// Resolves `--target`: a stage name or a stage number.
    pub fn target_index(
        &self,
        file: &BuildFile,
        target: Option<&str>,
    ) -> Result<usize, FrontendError> {
        let Some(t) = target else {
            return Ok(self.stages.len() - 1);
        };
        let lower = t.to_ascii_lowercase();
        if let Some(&i) = self.names.get(&lower) {
            return Ok(i);
        }
        if let Ok(i) = t.parse::<usize>() {
            if i < self.stages.len() {
                return Ok(i);
            }
        }
        let mut e =
            FrontendError::general(&file.path, format!("target stage '{t}' could not be found"));
        let names: Vec<&str> = self.names.keys().map(String::as_str).collect();
        e = match closest(t, names.iter().copied()) {
            Some(s) => e.with_hint(format!("did you mean '{s}'?")),
            None if names.is_empty() => {
                e.with_hint("the file's stages have no names; name one with FROM <image> AS <name>")
            }
            None => e.with_hint(format!("the stages are: {}", names.join(", "))),
        };
        Err(e)
    }
}

/// A dependency edge and where it was written (for cycle messages).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Edge {
    pub to: usize,
    pub pos: Pos,
}

/// The stages `target` needs, dependencies first (file order among
/// independent stages). A cycle is an error at the edge that closes it.
pub(crate) fn needed_in_order(
    file: &BuildFile,
    source: &str,
    deps: &[Vec<Edge>],
    target: usize,
) -> Result<Vec<usize>, FrontendError> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Active,
        Done,
    }
    fn visit(
        n: usize,
        deps: &[Vec<Edge>],
        marks: &mut [Mark],
        order: &mut Vec<usize>,
        path: &mut Vec<usize>,
    ) -> Result<(), (usize, Edge, Vec<usize>)> {
        marks[n] = Mark::Active;
        path.push(n);
        let mut edges = deps[n].clone();
        edges.sort_by_key(|e| e.to);
        for e in edges {
            match marks[e.to] {
                Mark::Active => return Err((n, e, path.clone())),
                Mark::New => visit(e.to, deps, marks, order, path)?,
                Mark::Done => {}
            }
        }
        path.pop();
        marks[n] = Mark::Done;
        order.push(n);
        Ok(())
    }
    let mut marks = vec![Mark::New; deps.len()];
    let mut order = Vec::new();
    let mut path = Vec::new();
    visit(target, deps, &mut marks, &mut order, &mut path).map_err(|(from, edge, path)| {
        let cycle_start = path.iter().position(|&s| s == edge.to).unwrap_or(0);
        let mut names: Vec<String> = path[cycle_start..]
            .iter()
            .map(|&s| stage_label(file, s))
            .collect();
        names.push(stage_label(file, edge.to));
        FrontendError::at(
            &file.path,
            source,
            edge.pos,
            format!(
                "circular dependency between stages: {} (stage {} reads from {})",
                names.join(" -> "),
                stage_label(file, from),
                stage_label(file, edge.to)
            ),
        )
        .with_hint("a stage can only use stages that do not, directly or indirectly, use it")
    })?;
    Ok(order)
}

/// `'name'` or `#index` for messages.
pub(crate) fn stage_label(file: &BuildFile, index: usize) -> String {
    let mut n = 0;
    for ins in &file.instructions {
        if let Instruction::From(f) = &ins.node {
            if n == index {
                return match &f.name {
                    Some(name) => format!("'{name}'"),
                    None => format!("#{index}"),
                };
            }
            n += 1;
        }
    }
    format!("#{index}")
}
