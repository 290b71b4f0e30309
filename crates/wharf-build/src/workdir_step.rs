//! One WORKDIR step, as BuildKit makes it (`dispatchWorkdir`): the
//! directory and any missing parents are created with mode 0755 in a layer
//! of their own, even when no RUN follows, so the image's working
//! directory exists. Linux directories belong to the stage's USER (as
//! `Mkdir(WithParents, WithUser)`); links in the path resolve inside the
//! stage; a directory that is already there makes no layer (BuildKit drops
//! the empty diff), and the history entry says so.
//!
//! A Linux stage reads its layers (the base's fetched when the store lacks
//! them, as `--chown` does) to know what exists. A Windows stage knows its
//! own layers, and the base's only when the build reads the base
//! ([`crate::windows_dirs`]): otherwise a directory the base alone has is
//! declared again with default metadata (docs/dockerfile-conformance.md,
//! "What depends on the layers below"). New Windows directories belong to
//! the stage's USER when it names a built-in account or a SID (BuildKit
//! resolves other names by running the image; Wharf warns instead).
//! The result is cached like a RUN's: a layer or nothing.

use crate::api::{BuildError, BuildEvent, StepWarning};
use crate::cache_key::{instruction_key, CacheKey};
use crate::copy_step::USER_DB_LIMIT;
use crate::layer_store::RunRecord;
use crate::stage_exec::StageExec;
use crate::users::{is_root, run_user_ids, user_in_effect, UserIds};
use wharf_frontend::plan::{windows_path_as_posix, PlannedInstruction, StagePlan};
use wharf_layer::tarfmt::{EntryKind, TarEntry};
use wharf_layer::windows::sddl::{resolve_account, with_owner};
use wharf_layer::{
    LinuxLayerOptions, LinuxLayerWriter, Timestamp, ViewOptions, WinMeta, WindowsBase,
    WindowsLayerOptions, WindowsLayerWriter,
};
use wharf_oci::{ImageConfig, LayerRef, Reference};

/// One WORKDIR as the stage loop hands it over.
pub(crate) struct WorkdirStep<'a> {
    pub stage: &'a StagePlan,
    pub ins: &'a PlannedInstruction,
    /// The directory, resolved against the one before (Linux `/a/b`,
    /// Windows `C:\a\b`).
    pub path: &'a str,
    pub chain: &'a CacheKey,
    pub workdir_before: &'a str,
    pub layers: &'a [LayerRef],
    pub base_reference: Option<&'a Reference>,
    /// How many of `layers` are the base image's.
    pub base_layers: usize,
    pub config: &'a ImageConfig,
}

impl WorkdirStep<'_> {
    /// Whether the step can make anything: the root always exists. The
    /// planner gives the path resolved (`/a/b`, or `C:\\a\\b`).
    pub fn makes_directories(path: &str) -> bool {
        path != "/" && path != "C:\\"
    }
}

impl StageExec<'_> {
    /// One WORKDIR: what it made, whether that came from the cache, and the
    /// chain key for the steps after it.
    pub(crate) fn workdir_step(
        &self,
        step: &WorkdirStep<'_>,
        events: &mut dyn FnMut(BuildEvent),
    ) -> Result<(RunRecord, bool, CacheKey), BuildError> {
        // The chain holds SOURCE_DATE_EPOCH, the directories' times.
        let read_base = match step.stage.platform.is_windows() {
            true => self.windows_base_key(step.layers, step.base_layers),
            false => None,
        };
        let key = instruction_key(
            step.chain,
            &step.stage.platform,
            step.workdir_before,
            step.ins,
            read_base.as_slice(),
        );
        let _claim = self.layers.claim(&key);
        if !self.config.no_cache {
            if let Some(hit) = self.layers.cached_run(&key) {
                for w in &hit.warnings {
                    events(w.event(self.file, step.ins.line));
                }
                return Ok((hit, true, key));
            }
        }
        let mut warnings = Vec::new();
        let layer = match step.stage.platform.is_windows() {
            true => self.windows_workdir(step, &mut warnings)?,
            false => self.linux_workdir(step)?,
        };
        for w in &warnings {
            events(w.event(self.file, step.ins.line));
        }
        let record = RunRecord {
            layer,
            ran_instead: None,
            warnings,
            created: Some(self.config.time()),
        };
        self.layers.remember_run(&key, &record)?;
        Ok((record, false, key))
    }

    fn linux_workdir(&self, step: &WorkdirStep<'_>) -> Result<Option<LayerRef>, BuildError> {
        let line = step.ins.line;
        let fail = |m: String| self.step_err(line, format!("WORKDIR {}: {m}", step.path));
        let what = format!("WORKDIR {}", step.path);
        let user = user_in_effect(step.ins, step.config);
        // What exists needs the tree only; file contents (spooled) only
        // for a USER whose ids the stage's user database gives.
        let root = is_root(&user);
        let opts = match root {
            true => ViewOptions::tree_only(),
            false => ViewOptions::default(),
        };
        let (view, _spool) =
            self.linux_view(step.layers, step.base_reference, line, &what, &opts)?;
        let missing = view
            .dirs_to_make(step.path)
            .map_err(|e| fail(format!("{e}; WORKDIR needs a directory there")))?;
        if missing.is_empty() {
            return Ok(None);
        }
        let ids = if root {
            UserIds::default()
        } else {
            let read = |path: &str| view.read_text(path, USER_DB_LIMIT);
            run_user_ids(
                &user,
                read("etc/passwd").as_deref(),
                read("etc/group").as_deref(),
            )
            .map_err(|e| fail(e.to_string()))?
        };
        let mtime = self.config.time();
        let layer = self
            .layers
            .write_layer(|mut blob| -> Result<_, wharf_layer::Error> {
                let out: &mut dyn std::io::Write = &mut blob;
                let mut w = LinuxLayerWriter::new(out, LinuxLayerOptions::default());
                for dir in &missing {
                    let mut e = TarEntry::new(format!("{dir}/"), EntryKind::Dir);
                    (e.uid, e.gid, e.mtime) = (ids.uid.into(), ids.gid.into(), mtime);
                    w.append(e, None)?;
                }
                w.finish()?;
                Ok(blob)
            })?
            .map_err(|e| fail(format!("writing its layer: {e}")))?;
        Ok(Some(layer))
    }

    fn windows_workdir(
        &self,
        step: &WorkdirStep<'_>,
        warnings: &mut Vec<StepWarning>,
    ) -> Result<Option<LayerRef>, BuildError> {
        let line = step.ins.line;
        let fail = |m: String| self.step_err(line, format!("WORKDIR {}: {m}", step.path));
        let what = format!("WORKDIR {}", step.path);
        let index = self.windows_dirs(
            step.layers,
            step.base_layers,
            step.base_reference,
            line,
            &what,
        )?;
        let posix = windows_path_as_posix(step.path);
        // The directories to make, parents first; a file of one of those
        // names in the stage's layers is in the way.
        let mut missing = Vec::new();
        let mut prefix = String::new();
        for name in posix.split('/').filter(|n| !n.is_empty()) {
            prefix = if prefix.is_empty() {
                name.to_string()
            } else {
                format!("{prefix}/{name}")
            };
            match (index.dir_meta(&prefix), index.spelling(&prefix)) {
                (Some(_), _) => {}
                (None, Some(_)) => {
                    return Err(fail(format!(
                        "C:\\{} is a file in the stage, not a directory",
                        prefix.replace('/', "\\")
                    )))
                }
                (None, None) => missing.push(prefix.clone()),
            }
        }
        if missing.is_empty() {
            return Ok(None);
        }
        let time = Timestamp::from_secs(self.config.time());
        let mut meta = WinMeta::default_dir(time);
        // The new directories belong to the stage's USER, as BuildKit's
        // Windows Mkdir gives them (its SID, or a built-in account's).
        let user = user_in_effect(step.ins, step.config);
        if !user.is_empty() {
            match resolve_account(&user) {
                Some(sid) => {
                    meta.security_descriptor = with_owner(&meta.security_descriptor, &sid)
                        .map_err(|e| fail(format!("USER {user}: {e}")))?;
                }
                None => warnings.push(StepWarning {
                    message: format!(
                        "WORKDIR {}: the account {user} is not one Wharf can name without running the image (ContainerUser, ContainerAdministrator or a SID); the directory keeps the default owner",
                        step.path
                    ),
                    names: Vec::new(),
                }),
            }
        }
        let options = WindowsLayerOptions {
            timestamp: time,
            base_layer: false,
        };
        let layer = self
            .layers
            .write_layer(|mut blob| -> Result<_, wharf_layer::Error> {
                let out: &mut dyn std::io::Write = &mut blob;
                let mut w = WindowsLayerWriter::new(out, &index, options)?;
                for path in &missing {
                    w.add_dir(path, Some(meta.clone()))?;
                }
                w.finish()?;
                Ok(blob)
            })?
            .map_err(|e| fail(format!("writing its layer: {e}")))?;
        Ok(Some(layer))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_root_makes_nothing() {
        assert!(!WorkdirStep::makes_directories("C:\\"));
        assert!(!WorkdirStep::makes_directories("/"));
        assert!(WorkdirStep::makes_directories("/srv"));
        assert!(WorkdirStep::makes_directories("C:\\app"));
        assert_eq!(windows_path_as_posix("C:\\app\\logs"), "/app/logs");
    }
}
