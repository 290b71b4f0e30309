//! The base images of a build, resolved once: the first plan (from the
//! build file alone) names them; each is parsed, resolved for the platform
//! that plan asked, and what it declares (platform, ENV, WORKDIR, SHELL,
//! USER, ONBUILD) goes into the second plan.

use crate::api::{BaseResolver, BuildError, BuildEvent, ResolvedBase};
use std::collections::HashMap;
use wharf_frontend::plan::{Base, KnownBaseImages, Plan, Source, StagePlan};
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
        jobs: usize,
        events: &mut dyn FnMut(BuildEvent),
    ) -> Result<(Self, KnownBaseImages), BuildError> {
        let wanted = first.base_images();
        // Each resolution is a step of the progress view (stage and line:
        // the first FROM that names the image).
        let step = |written: &str, platform: &wharf_oci::Platform| {
            let (line, stage, _) = first_use_of(first, written);
            (platform.to_string(), stage, line)
        };
        for (written, platform) in &wanted {
            let (platform, stage, line) = step(written, platform);
            events(BuildEvent::StepStarted {
                platform,
                stage,
                line,
                text: format!("resolve {written}"),
            });
        }
        // Resolved at the same time (each is a few registry round trips),
        // reported in plan order.
        let outcomes = in_parallel(&wanted, jobs, |(written, platform)| {
            let reference = Reference::parse(written).map_err(|e| e.to_string())?;
            let base = resolver
                .resolve(&reference, platform)
                .map_err(|e| e.to_string())?;
            Ok::<_, String>((reference, base))
        });
        let mut known = KnownBaseImages::default();
        let mut bases = HashMap::new();
        for ((written, platform), outcome) in wanted.into_iter().zip(outcomes) {
            let (reference, base) = outcome.map_err(|message| {
                let (line, _, used_as) = first_use_of(first, &written);
                BuildError::Resolve {
                    file: file.to_string(),
                    line,
                    used_as,
                    message,
                }
            })?;
            let (step_platform, stage, line) = step(&written, &platform);
            events(BuildEvent::Step {
                platform: step_platform,
                stage,
                line,
                text: format!("resolve {written} ({})", base.manifest_digest),
                cached: false,
            });
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

    /// Every base image resolved, with the platform asked, sorted (for
    /// provenance).
    pub fn identities(&self) -> Vec<(crate::attest::sbom::BaseIdentity, Platform)> {
        let mut out: Vec<_> = self
            .bases
            .iter()
            .map(|((r, p), b)| {
                let identity = crate::attest::sbom::BaseIdentity {
                    reference: r.to_string(),
                    digest: b.manifest_digest.clone(),
                };
                (identity, p.clone())
            })
            .collect();
        out.sort_by(|a, b| {
            (&a.0.reference, a.1.to_string()).cmp(&(&b.0.reference, b.1.to_string()))
        });
        out
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

/// `work` applied to every item on up to `jobs` threads; results in the
/// items' order.
fn in_parallel<T: Sync, R: Send>(
    items: &[T],
    jobs: usize,
    work: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let slots: Vec<std::sync::Mutex<Option<R>>> =
        items.iter().map(|_| std::sync::Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, items.len().max(1)) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let Some(item) = items.get(i) else { break };
                let r = work(item);
                if let Ok(mut slot) = slots[i].lock() {
                    *slot = Some(r);
                }
            });
        }
    });
    slots
        .into_iter()
        .map(|s| {
            s.into_inner()
                .ok()
                .flatten()
                .expect("every item was worked on")
        })
        .collect()
}

/// Where `reference` is first used: the line, the stage, and how that
/// line uses it (`FROM busybox`, `COPY reading image tools`), for the
/// progress view and for the error when it cannot be resolved.
fn first_use_of(plan: &Plan, reference: &str) -> (usize, String, String) {
    for s in plan.targets.iter().flat_map(|t| &t.stages) {
        if matches!(&s.base, Base::Image { reference: r, .. } if r == reference) {
            return (s.line, s.display_name(), format!("FROM {reference}"));
        }
        let read = s.instructions.iter().find(|i| {
            i.reads
                .iter()
                .any(|r| matches!(r, Source::Image { reference: r } if r == reference))
        });
        if let Some(i) = read {
            // Named by `--from` (or `from=`), a build context, or an
            // ONBUILD trigger: the image is what every one of them reads.
            let how = match i.instruction.keyword() {
                "RUN" => "RUN --mount",
                keyword => keyword,
            };
            return (
                i.line,
                s.display_name(),
                format!("{how} reading image {reference}"),
            );
        }
    }
    (0, String::new(), format!("FROM {reference}"))
}
