//! A small positioned YAML tree built from `saphyr-parser` events.
//!
//! We build our own tree rather than use a loader because the ZImagefile
//! schema needs what loaders drop: the line and column of every key and
//! value (for errors and instruction positions), whether a scalar was
//! quoted, and duplicate keys (an error here, silently merged by maps).
//! Aliases are expanded, with a size cap against "billion laughs" input.

use crate::ast::Pos;
use crate::error::FrontendError;
use saphyr_parser::{Event, Parser, ScalarStyle, Span};
use std::collections::HashMap;

/// Expanded nodes allowed in one document (aliases included).
const MAX_NODES: usize = 100_000;
/// Nesting depth allowed; the schema needs about six levels.
const MAX_DEPTH: usize = 64;

/// A YAML node with where it starts and the last line it covers.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub pos: Pos,
    pub end_line: usize,
    pub kind: Kind,
}

#[derive(Debug, Clone)]
pub(crate) enum Kind {
    /// A scalar as written; `plain` is false for quoted and block scalars.
    Scalar {
        value: String,
        plain: bool,
    },
    Seq(Vec<Node>),
    /// Entries in file order (keys are scalars, checked unique).
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// `null`, `~` or nothing, written plain.
    pub fn is_null(&self) -> bool {
        matches!(&self.kind, Kind::Scalar { value, plain: true } if matches!(value.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }

    /// What the node is, for "expected X, found Y" messages.
    pub fn describe(&self) -> &'static str {
        match &self.kind {
            _ if self.is_null() => "nothing (null)",
            Kind::Scalar { .. } => "a scalar",
            Kind::Seq(_) => "a list",
            Kind::Map(_) => "a mapping",
        }
    }
}

fn pos_of(span: &Span) -> Pos {
    Pos {
        line: span.start.line(),
        column: span.start.col() + 1,
    }
}

/// Parses `text` into one document's tree; `None` for an empty file.
pub(crate) fn load(file: &str, text: &str) -> Result<Option<Node>, FrontendError> {
    let mut builder = Builder {
        file,
        text,
        anchors: HashMap::new(),
        nodes: 0,
        stack: Vec::new(),
        root: None,
        documents: 0,
    };
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|e| {
            let m = e.marker();
            FrontendError::at(
                file,
                text,
                Pos {
                    line: m.line(),
                    column: m.col() + 1,
                },
                format!("invalid YAML: {}", e.info()),
            )
            .with_hint("check the indentation and quoting around this place")
        })?;
        builder.event(event, span)?;
    }
    Ok(builder.root)
}

/// A collection being filled, with the anchor it will be stored under.
struct Open {
    node: Node,
    anchor: usize,
    pending_key: Option<Node>,
}

struct Builder<'a> {
    file: &'a str,
    text: &'a str,
    anchors: HashMap<usize, Node>,
    nodes: usize,
    stack: Vec<Open>,
    root: Option<Node>,
    documents: usize,
}

impl Builder<'_> {
    fn error(&self, pos: Pos, msg: impl Into<String>) -> FrontendError {
        FrontendError::at(self.file, self.text, pos, msg)
    }

    fn count(&mut self, n: usize, pos: Pos) -> Result<(), FrontendError> {
        self.nodes = self.nodes.saturating_add(n);
        if self.nodes > MAX_NODES {
            return Err(self
                .error(
                    pos,
                    format!("the document expands to more than {MAX_NODES} nodes"),
                )
                .with_hint("aliases (`*name`) multiply nodes; write the values out instead"));
        }
        Ok(())
    }

    fn event(&mut self, event: Event<'_>, span: Span) -> Result<(), FrontendError> {
        let pos = pos_of(&span);
        match event {
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => Ok(()),
            Event::DocumentStart(_) => {
                self.documents += 1;
                if self.documents > 1 {
                    return Err(self
                        .error(pos, "a ZImagefile holds one YAML document, found a second")
                        .with_hint("remove the `---` separator and the document after it"));
                }
                Ok(())
            }
            Event::Scalar(value, style, anchor, _tag) => {
                self.count(1, pos)?;
                let node = Node {
                    pos,
                    end_line: span.end.line().max(pos.line),
                    kind: Kind::Scalar {
                        value: value.into_owned(),
                        plain: style == ScalarStyle::Plain,
                    },
                };
                if anchor != 0 {
                    self.anchors.insert(anchor, node.clone());
                }
                self.add(node)
            }
            Event::Alias(id) => {
                let Some(node) = self.anchors.get(&id).cloned() else {
                    return Err(self.error(pos, "alias to an unknown anchor"));
                };
                self.count(node_size(&node), pos)?;
                let node = Node { pos, ..node };
                self.add(node)
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                self.count(1, pos)?;
                if self.stack.len() >= MAX_DEPTH {
                    return Err(self.error(pos, format!("nesting deeper than {MAX_DEPTH} levels")));
                }
                let kind = if matches!(event, Event::SequenceStart(..)) {
                    Kind::Seq(Vec::new())
                } else {
                    Kind::Map(Vec::new())
                };
                self.stack.push(Open {
                    node: Node {
                        pos,
                        end_line: pos.line,
                        kind,
                    },
                    anchor,
                    pending_key: None,
                });
                Ok(())
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let Some(open) = self.stack.pop() else {
                    return Ok(());
                };
                if open.anchor != 0 {
                    self.anchors.insert(open.anchor, open.node.clone());
                }
                self.add(open.node)
            }
        }
    }

    /// Attaches a finished node to the collection being filled.
    fn add(&mut self, node: Node) -> Result<(), FrontendError> {
        let Some(open) = self.stack.last_mut() else {
            self.root = Some(node);
            return Ok(());
        };
        open.node.end_line = open.node.end_line.max(node.end_line);
        match &mut open.node.kind {
            Kind::Seq(items) => items.push(node),
            Kind::Map(entries) => match open.pending_key.take() {
                None => {
                    let Kind::Scalar { value, .. } = &node.kind else {
                        return Err(FrontendError::at(
                            self.file,
                            self.text,
                            node.pos,
                            format!(
                                "mapping keys must be plain names, found {}",
                                node.describe()
                            ),
                        ));
                    };
                    if let Some((first, _)) = entries.iter().find(
                        |(k, _)| matches!(&k.kind, Kind::Scalar { value: v, .. } if v == value),
                    ) {
                        return Err(FrontendError::at(
                            self.file,
                            self.text,
                            node.pos,
                            format!(
                                "duplicate key `{value}` (first given on line {})",
                                first.pos.line
                            ),
                        )
                        .with_hint("give each key once"));
                    }
                    open.pending_key = Some(node);
                }
                Some(key) => entries.push((key, node)),
            },
            Kind::Scalar { .. } => {}
        }
        Ok(())
    }
}

fn node_size(node: &Node) -> usize {
    match &node.kind {
        Kind::Scalar { .. } => 1,
        Kind::Seq(items) => 1 + items.iter().map(node_size).sum::<usize>(),
        Kind::Map(entries) => {
            1 + entries
                .iter()
                .map(|(k, v)| node_size(k) + node_size(v))
                .sum::<usize>()
        }
    }
}
