//! The `runtime:` form of a ZImagefile: the named template's build with
//! the file's `args` as new defaults and its image fields on the output
//! stage.

use super::super::fields::{Ctx, Field, Fields};
use super::super::yaml::{self, Kind};
use super::super::{arg_instruction, image_fields, parse, render, scalar_text, ZImagefile};
use super::RuntimeTemplate;
use crate::ast::{BuildFile, Instruction};
use crate::error::FrontendError;

/// `runtime: NAME`: the template's build, its instructions pointing at
/// `runtime:` (the file errors quote is the ZImagefile), `args` replacing
/// the template's argument defaults, and the image fields appended to the
/// output stage (the template's last).
pub(crate) fn runtime_form(
    ctx: &Ctx<'_>,
    top: &Fields<'_>,
    f: Field<'_>,
) -> Result<BuildFile, FrontendError> {
    let name = ctx.non_empty(f)?;
    let template =
        super::lookup(&name).map_err(|e| ctx.err(f.value.pos, e.message()).with_hint(e.hint()))?;
    let mut file = runtime_build_file(template)?;
    let end_line = f.value.end_line.max(f.key.pos.line);
    for i in &mut file.instructions {
        i.pos = f.key.pos;
        i.end_line = end_line;
    }
    if let Some(args) = top.get("args") {
        override_template_args(ctx, args, template, &mut file)?;
    }
    image_fields(ctx, top, &mut file.instructions)?;
    file.path = ctx.file.to_string();
    Ok(file)
}

/// The known runtime template a ZImagefile's top-level `runtime:` names
/// (for checks the caller makes against the target platforms).
pub fn runtime_template_of(text: &str) -> Option<&'static RuntimeTemplate> {
    let root = yaml::load("", text).ok()??;
    let Kind::Map(entries) = &root.kind else {
        return None;
    };
    entries
        .iter()
        .find(|(k, _)| scalar_text(k) == "runtime")
        .and_then(|(_, v)| super::lookup(scalar_text(v)).ok())
}

/// A runtime template's build, positioned in the template's own text
/// ([`RuntimeTemplate::file_name`], [`RuntimeTemplate::text`]).
pub fn runtime_build_file(template: &RuntimeTemplate) -> Result<BuildFile, FrontendError> {
    match parse(&template.file_name(), template.text)? {
        ZImagefile::Image(file) => Ok(file),
        ZImagefile::Build(_) | ZImagefile::Wasm(_) => Err(FrontendError::general(
            &template.file_name(),
            "a runtime template must describe an image, not refer to another build",
        )),
    }
}

/// `args` of a `runtime:` ZImagefile: new defaults for the template's
/// build arguments (its first instruction declares them all).
fn override_template_args(
    ctx: &Ctx<'_>,
    args: Field<'_>,
    template: &RuntimeTemplate,
    file: &mut BuildFile,
) -> Result<(), FrontendError> {
    let Instruction::Arg { args: given } = arg_instruction(ctx, args)? else {
        return Ok(());
    };
    let Some(first) = file.instructions.first_mut() else {
        return Ok(());
    };
    let Instruction::Arg { args: declared } = &mut first.node else {
        return Err(ctx.err(
            args.key.pos,
            format!(
                "runtime template `{}` takes no build arguments",
                template.name
            ),
        ));
    };
    for g in given {
        let known = declared
            .iter()
            .map(|d| d.name.clone())
            .collect::<Vec<_>>()
            .join(", ");
        let Some(d) = declared.iter_mut().find(|d| d.name == g.name) else {
            return Err(ctx
                .err(
                    args.key.pos,
                    format!(
                        "runtime template `{}` has no build argument `{}`",
                        template.name, g.name
                    ),
                )
                .with_hint(format!("its build arguments: {known}")));
        };
        if g.default.is_some() {
            d.default = g.default;
        }
    }
    first.source = render::render(&first.node);
    Ok(())
}
