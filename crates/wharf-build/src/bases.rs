//! The base images of a build, resolved once: the first plan (from the
//! build file alone) names them; each is parsed, resolved for the platform
//! that plan asked, and what it declares (platform, ENV, WORKDIR, SHELL,
//! USER, ONBUILD) goes into the second plan.

use crate::api::{BaseResolver, BuildError, BuildEvent, ResolvedBase};
use std::collections::HashMap;
use wharf_frontend::plan::{Base, KnownBaseImages, Plan, StagePlan};
use wharf_oci::{Platform, Reference};

/// Resolved base images, and the platform each stage asked for.
pub(crate) struct ResolvedBases {
    /// By the image and the platform asked.
    bases: HashMap<(Reference, Platform), ResolvedBase>,
    /// By (target index, stage index): the platform the first plan asked
    /// (the second plan refines it with the base's own os.version).
    asked: HashMap<(usize, usize), Platform>,
}

impl ResolvedBases {
    /// Resolves every base image `first` names, reporting notes, and the
    /// planner's view of them.
    pub fn resolve(
        first: &Plan,
        file: &str,
        resolver: &dyn BaseResolver,
        events: &mut dyn FnMut(BuildEvent),
    ) -> Result<(Self, KnownBaseImages), BuildError> {
        let mut known = KnownBaseImages::default();
        let mut bases = HashMap::new();
        for (written, platform) in first.base_images() {
            let err = |message: String| BuildError::Resolve {
                file: file.to_string(),
                line: first_line_of(first, &written),
                reference: written.clone(),
                message,
            };
            let reference = Reference::parse(&written).map_err(|e| err(e.to_string()))?;
            let base = resolver
                .resolve(&reference, &platform)
                .map_err(|e| err(e.to_string()))?;
            if let Some(n) = &base.note {
                events(BuildEvent::note(format!("{written}: {n}")));
            }
            known.insert(&written, &platform, wharf_image::base_image(&base.config));
            bases.insert((reference, platform), base);
        }
        let asked = first
            .targets
            .iter()
            .enumerate()
            .flat_map(|(t, target)| {
                target
                    .stages
                    .iter()
                    .map(move |s| ((t, s.index), s.platform.clone()))
            })
            .collect();
        Ok((ResolvedBases { bases, asked }, known))
    }

    /// The image `written` (as the plan names it) resolved for `stage` of
    /// target `target`.
    pub fn for_stage(
        &self,
        target: usize,
        stage: &StagePlan,
        written: &str,
    ) -> Option<&ResolvedBase> {
        let platform = self
            .asked
            .get(&(target, stage.index))
            .unwrap_or(&stage.platform);
        let reference = Reference::parse(written).ok()?;
        self.bases.get(&(reference, platform.clone()))
    }
}

fn first_line_of(plan: &Plan, reference: &str) -> usize {
    plan.targets
        .iter()
        .flat_map(|t| &t.stages)
        .find(|s| matches!(&s.base, Base::Image { reference: r, .. } if r == reference))
        .map(|s| s.line)
        .unwrap_or(0)
}
