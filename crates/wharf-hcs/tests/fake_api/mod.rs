//! A recording fake of `HcsApi`: it records every call in order, can fail
//! any chosen call (by its index in the record), and plays a scripted
//! process (output events, then an exit status).

use std::collections::{BTreeSet, VecDeque};
use std::path::Path;
use std::time::Duration;
use wharf_hcs::{ApiError, Guid, HcsApi, LayerDescriptor, OutputEvent};

/// A failure injected into the fake.
pub const INJECTED: u32 = 0x8000_4005; // E_FAIL

#[derive(Default)]
pub struct FakeApi {
    /// Every call, in order, e.g. `"activate_layer C:\\s\\scratch"`.
    pub calls: Vec<String>,
    /// Indices into `calls` whose call fails with `INJECTED`.
    pub fail_at: BTreeSet<usize>,
    /// Calls (by name) that fail with a chosen HRESULT each time.
    pub fail_with: Vec<(&'static str, u32)>,
    /// What the first `prepare_layer` calls answer, one code each, before
    /// they succeed (e.g. ERROR_NOT_READY).
    pub prepare_failures: VecDeque<u32>,
    /// What `read_output` returns, in order; then `Idle` forever.
    pub output_script: VecDeque<OutputEvent>,
    /// What `process_status` returns while output remains in the script.
    pub running_status: String,
    /// What `process_status` returns once the script holds no more than
    /// `exit_when_remaining` events.
    pub exited_status: String,
    pub exit_when_remaining: usize,
    /// The documents the fake was given.
    pub documents: Vec<String>,
    /// Processes and systems opened and not yet closed.
    pub open_handles: i32,
    /// The compute system ignores shutdown requests (it stops only when
    /// terminated).
    pub ignores_shutdown: bool,
    /// A shutdown or terminate request was accepted: the system reports
    /// itself stopped from then on.
    pub stopping: bool,
}

pub struct FakeSystem(pub String);
pub struct FakeProcess;

impl FakeApi {
    pub fn new() -> Self {
        FakeApi {
            running_status: r#"{"ProcessId":7}"#.to_owned(),
            exited_status: r#"{"ProcessId":7,"Exited":true,"ExitCode":0}"#.to_owned(),
            ..FakeApi::default()
        }
    }

    fn call(&mut self, name: &'static str, detail: &str) -> Result<(), ApiError> {
        let index = self.calls.len();
        self.calls.push(if detail.is_empty() {
            name.to_owned()
        } else {
            format!("{name} {detail}")
        });
        if self.fail_at.contains(&index) {
            return Err(ApiError::new(name, INJECTED));
        }
        if let Some((_, code)) = self.fail_with.iter().find(|(n, _)| *n == name) {
            return Err(ApiError::new(name, *code));
        }
        Ok(())
    }

    /// The names of the calls, without their arguments.
    pub fn call_names(&self) -> Vec<&str> {
        self.calls
            .iter()
            .map(|c| c.split(' ').next().unwrap_or(""))
            .collect()
    }
}

fn show(path: &Path) -> String {
    path.display().to_string()
}

fn show_parents(parents: &[LayerDescriptor]) -> String {
    parents
        .iter()
        .map(|p| format!("{}={}", p.path, p.id))
        .collect::<Vec<_>>()
        .join(",")
}

impl HcsApi for FakeApi {
    type System = FakeSystem;
    type Process = FakeProcess;

    fn name_to_guid(&mut self, name: &str) -> Result<Guid, ApiError> {
        self.call("name_to_guid", name)?;
        // A stable id per name, as NameToGuid gives.
        let mut value: u128 = 0;
        for byte in name.bytes() {
            value = value.wrapping_mul(131).wrapping_add(u128::from(byte));
        }
        Ok(Guid::from_u128(value))
    }

    fn import_layer(
        &mut self,
        layer: &Path,
        source: &Path,
        parents: &[LayerDescriptor],
    ) -> Result<(), ApiError> {
        let detail = format!(
            "{} <- {} [{}]",
            show(layer),
            show(source),
            show_parents(parents)
        );
        self.call("import_layer", &detail)
    }

    fn process_base_layer(&mut self, layer: &Path) -> Result<(), ApiError> {
        self.call("process_base_layer", &show(layer))
    }

    fn process_utility_vm(&mut self, utility_vm: &Path) -> Result<(), ApiError> {
        self.call("process_utility_vm", &show(utility_vm))
    }

    fn create_scratch_layer(
        &mut self,
        scratch: &Path,
        parents: &[LayerDescriptor],
    ) -> Result<(), ApiError> {
        let detail = format!("{} [{}]", show(scratch), show_parents(parents));
        self.call("create_scratch_layer", &detail)
    }

    fn activate_layer(&mut self, layer: &Path) -> Result<(), ApiError> {
        self.call("activate_layer", &show(layer))
    }

    fn prepare_layer(&mut self, layer: &Path, parents: &[LayerDescriptor]) -> Result<(), ApiError> {
        let detail = format!("{} [{}]", show(layer), show_parents(parents));
        self.call("prepare_layer", &detail)?;
        match self.prepare_failures.pop_front() {
            Some(code) => Err(ApiError::new("PrepareLayer", code)),
            None => Ok(()),
        }
    }

    fn layer_mount_path(&mut self, layer: &Path) -> Result<String, ApiError> {
        self.call("layer_mount_path", &show(layer))?;
        Ok(r"\\?\Volume{00000000-0000-0000-0000-00000000beef}".to_owned())
    }

    fn create_compute_system(&mut self, id: &str, document: &str) -> Result<FakeSystem, ApiError> {
        self.call("create_compute_system", id)?;
        self.documents.push(document.to_owned());
        self.open_handles += 1;
        Ok(FakeSystem(id.to_owned()))
    }

    fn start_compute_system(&mut self, system: &mut FakeSystem) -> Result<(), ApiError> {
        let id = system.0.clone();
        self.call("start_compute_system", &id)
    }

    fn create_process(
        &mut self,
        _system: &mut FakeSystem,
        parameters: &str,
    ) -> Result<FakeProcess, ApiError> {
        self.call("create_process", "")?;
        self.documents.push(parameters.to_owned());
        self.open_handles += 1;
        Ok(FakeProcess)
    }

    fn read_output(
        &mut self,
        _process: &mut FakeProcess,
        _wait: Duration,
    ) -> Result<OutputEvent, ApiError> {
        self.call("read_output", "")?;
        Ok(self.output_script.pop_front().unwrap_or(OutputEvent::Idle))
    }

    fn process_status(&mut self, _process: &mut FakeProcess) -> Result<String, ApiError> {
        self.call("process_status", "")?;
        Ok(if self.output_script.len() <= self.exit_when_remaining {
            self.exited_status.clone()
        } else {
            self.running_status.clone()
        })
    }

    fn terminate_process(&mut self, _process: &mut FakeProcess) -> Result<(), ApiError> {
        self.call("terminate_process", "")
    }

    fn close_process(&mut self, _process: FakeProcess) {
        self.open_handles -= 1;
        // Infallible: recorded only.
        self.calls.push("close_process".to_owned());
    }

    fn terminate_compute_system(&mut self, system: &mut FakeSystem) -> Result<(), ApiError> {
        let id = system.0.clone();
        self.call("terminate_compute_system", &id)?;
        self.stopping = true;
        Ok(())
    }

    fn close_compute_system(&mut self, system: FakeSystem) {
        self.open_handles -= 1;
        self.calls
            .push(format!("close_compute_system {}", system.0));
    }

    fn unprepare_layer(&mut self, layer: &Path) -> Result<(), ApiError> {
        self.call("unprepare_layer", &show(layer))
    }

    fn export_layer(
        &mut self,
        layer: &Path,
        destination: &Path,
        parents: &[LayerDescriptor],
    ) -> Result<(), ApiError> {
        let detail = format!(
            "{} -> {} [{}]",
            show(layer),
            show(destination),
            show_parents(parents)
        );
        self.call("export_layer", &detail)
    }

    fn deactivate_layer(&mut self, layer: &Path) -> Result<(), ApiError> {
        self.call("deactivate_layer", &show(layer))
    }

    fn destroy_layer(&mut self, layer: &Path) -> Result<(), ApiError> {
        self.call("destroy_layer", &show(layer))
    }

    // ---- Stopping a compute system gracefully ----

    fn shutdown_compute_system(&mut self, system: &mut FakeSystem) -> Result<(), ApiError> {
        let id = system.0.clone();
        self.call("shutdown_compute_system", &id)?;
        self.stopping |= !self.ignores_shutdown;
        Ok(())
    }

    fn create_directory(&mut self, path: &str) -> Result<(), ApiError> {
        self.call("create_directory", path)
    }

    fn compute_system_properties(&mut self, system: &mut FakeSystem) -> Result<String, ApiError> {
        let id = system.0.clone();
        self.call("compute_system_properties", &id)?;
        Ok(if self.stopping {
            r#"{"State":"Stopped","Stopped":true}"#.to_owned()
        } else {
            r#"{"State":"Running"}"#.to_owned()
        })
    }
}
