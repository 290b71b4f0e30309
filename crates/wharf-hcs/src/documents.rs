//! The JSON documents HCS reads and writes, built and parsed by portable
//! code so that they are unit-tested here (golden tests below).
//!
//! Field names follow the HCS schema 2.1 (hcsshim's `internal/hcs/schema2`
//! types `ComputeSystem`, `Container`, `GuestOs`, `Storage`, `Layer`,
//! `MappedDirectory`, `Networking`, `ProcessParameters`, `ProcessStatus`,
//! `Version`): PascalCase names, absent optional members omitted.

use crate::api::LayerDescriptor;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use thiserror::Error;

/// The owner recorded on every compute system Wharf creates, so that one
/// left behind by a crash can be recognised (`hcsdiag list`).
pub const OWNER: &str = "wharf";

/// `GraphDriverType::FilterDriver`: the `Flavour` of the legacy
/// `vmcompute.dll` storage calls' driver info (a Go `int` in hcsshim's
/// `driverInfo`: pointer-sized). Its `HomeDir` must point to
/// an empty string (a NULL `HomeDir` crashes the service) and the layer
/// "id" passed beside it is the layer's full folder path.
pub const LAYER_DRIVER_FLAVOUR_FILTER: isize = 1;

/// `SchemaVersion` of the documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SchemaVersion {
    pub major: u32,
    pub minor: u32,
}

/// Schema 2.1, understood by Windows Server 2019 (1809) and later.
pub const SCHEMA_2_1: SchemaVersion = SchemaVersion { major: 2, minor: 1 };

/// The document given to `HcsCreateComputeSystem` for a process-isolated
/// Windows container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ComputeSystem {
    pub owner: String,
    pub schema_version: SchemaVersion,
    /// Closing our handle (even by crashing) terminates the container.
    pub should_terminate_on_last_handle_closed: bool,
    pub container: Container,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Container {
    pub guest_os: GuestOs,
    pub storage: Storage,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mapped_directories: Vec<MappedDirectory>,
    /// Absent for `--network=none`: the container then has no adapter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub networking: Option<Networking>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GuestOs {
    pub host_name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Storage {
    /// Read-only layers: immediate parent first, base last; the scratch
    /// is not listed.
    pub layers: Vec<Layer>,
    /// The scratch layer's mounted volume, `\\?\Volume{GUID}\` (with the
    /// trailing backslash).
    pub path: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Layer {
    /// `NameToGuid(basename(folder))`, lowercase hyphenated.
    pub id: String,
    /// The layer's folder.
    pub path: String,
}

/// A host directory shown inside the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MappedDirectory {
    pub host_path: String,
    pub container_path: String,
    pub read_only: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Networking {
    pub allow_unqualified_dns_query: bool,
    /// The HCN namespace id (a GUID) holding the container's endpoint.
    pub namespace: String,
}

/// The container's network.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Network {
    /// `--network=none`: no adapter at all.
    #[default]
    None,
    /// An HCN namespace (created by the caller, usually with an endpoint on
    /// the `nat` network), given by its GUID.
    Namespace(String),
}

impl ComputeSystem {
    /// The document for one transient container on `parents` (immediate
    /// parent first) with the scratch mounted at `volume_path`.
    pub fn container(
        host_name: &str,
        parents: &[LayerDescriptor],
        volume_path: &str,
        mapped_directories: Vec<MappedDirectory>,
        network: &Network,
    ) -> Self {
        let mut path = volume_path.to_owned();
        if !path.ends_with('\\') {
            path.push('\\');
        }
        ComputeSystem {
            owner: OWNER.to_owned(),
            schema_version: SCHEMA_2_1,
            should_terminate_on_last_handle_closed: true,
            container: Container {
                guest_os: GuestOs {
                    host_name: host_name.to_owned(),
                },
                storage: Storage {
                    layers: parents
                        .iter()
                        .map(|parent| Layer {
                            id: parent.id.to_string(),
                            path: parent.path.clone(),
                        })
                        .collect(),
                    path,
                },
                mapped_directories,
                networking: match network {
                    Network::None => None,
                    Network::Namespace(id) => Some(Networking {
                        allow_unqualified_dns_query: true,
                        namespace: id.clone(),
                    }),
                },
            },
        }
    }
}

/// The document given to `HcsCreateProcess`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProcessParameters {
    pub command_line: String,
    pub working_directory: String,
    /// Sorted, so that the document is the same from run to run.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub environment: BTreeMap<String, String>,
    /// Absent: the image's default user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    pub create_std_out_pipe: bool,
    pub create_std_err_pipe: bool,
    /// No console: output arrives as plain bytes on the two pipes.
    pub emulate_console: bool,
}

/// The container's `C:\`, where a RUN starts without WORKDIR.
pub const DEFAULT_WORKING_DIRECTORY: &str = r"C:\";

impl ProcessParameters {
    /// Parameters for a RUN: `working_directory` empty means `C:\`;
    /// variables with an empty value are dropped (Windows has no empty
    /// environment variables: setting one to "" deletes it); `user` is
    /// mapped by [`container_user`].
    pub fn for_run<'a>(
        command_line: String,
        working_directory: &str,
        environment: impl IntoIterator<Item = (&'a str, &'a str)>,
        user: &str,
    ) -> Self {
        let working_directory = if working_directory.is_empty() {
            DEFAULT_WORKING_DIRECTORY.to_owned()
        } else {
            working_directory.to_owned()
        };
        ProcessParameters {
            command_line,
            working_directory,
            environment: environment
                .into_iter()
                .filter(|(_, value)| !value.is_empty())
                .map(|(name, value)| (name.to_owned(), value.to_owned()))
                .collect(),
            user: container_user(user),
            create_std_out_pipe: true,
            create_std_err_pipe: true,
            emulate_console: false,
        }
    }
}

/// The `User` for a Dockerfile `USER`: the two built-in container accounts
/// in their canonical spelling (Windows account names are
/// case-insensitive, HCS matches them exactly), any other name as written,
/// nothing for an empty USER.
pub fn container_user(user: &str) -> Option<String> {
    let user = user.trim();
    if user.is_empty() {
        None
    } else if user.eq_ignore_ascii_case("ContainerUser") {
        Some("ContainerUser".to_owned())
    } else if user.eq_ignore_ascii_case("ContainerAdministrator") {
        Some("ContainerAdministrator".to_owned())
    } else {
        Some(user.to_owned())
    }
}

/// A process's state as `HcsGetProcessProperties` reports it. Go's
/// `omitempty` drops `false` and `0`, hence the defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProcessStatus {
    #[serde(default)]
    pub process_id: u32,
    #[serde(default)]
    pub exited: bool,
    #[serde(default)]
    pub exit_code: u32,
    #[serde(default)]
    pub last_wait_result: i32,
}

/// Why a process-status document gave no exit code.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ProcessStatusError {
    #[error("HCS returned a process status that is not valid JSON ({detail}): {document:?}; this is a bug or an unsupported Windows version, please report it")]
    Malformed { document: String, detail: String },
    #[error("HCS could not wait for the process (wait result {code:#010x}); its exit code is unknown: retry, and check the Windows event log (Hyper-V-Compute) if it persists")]
    WaitFailed { code: u32 },
}

impl ProcessStatus {
    pub fn parse(document: &str) -> Result<Self, ProcessStatusError> {
        serde_json::from_str(document).map_err(|e| ProcessStatusError::Malformed {
            document: document.to_owned(),
            detail: e.to_string(),
        })
    }

    /// The exit code once the process has exited; `Ok(None)` while it runs.
    pub fn exit_code(&self) -> Result<Option<u32>, ProcessStatusError> {
        if !self.exited {
            return Ok(None);
        }
        if self.last_wait_result != 0 {
            return Err(ProcessStatusError::WaitFailed {
                // The bit pattern, as Windows prints it.
                code: self.last_wait_result as u32,
            });
        }
        Ok(Some(self.exit_code))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::api::Guid;
    use serde_json::json;

    fn parents() -> Vec<LayerDescriptor> {
        vec![
            LayerDescriptor {
                id: Guid::from_u128(0x1a2b3c4d_0001_4002_8003_000000000001),
                path: r"C:\wharf\layers\sha256-child".to_owned(),
            },
            LayerDescriptor {
                id: Guid::from_u128(0xdeadbeef_0001_4002_8003_0000000000ff),
                path: r"C:\wharf\layers\sha256-base".to_owned(),
            },
        ]
    }

    #[test]
    fn compute_system_golden_with_network_and_mounts() {
        let document = ComputeSystem::container(
            "buildhost",
            &parents(),
            r"\\?\Volume{0b1c2d3e-0000-0000-0000-000000000000}",
            vec![MappedDirectory {
                host_path: r"C:\ctx".to_owned(),
                container_path: r"C:\src".to_owned(),
                read_only: true,
            }],
            &Network::Namespace("7c9d6f44-7b43-4b8a-9d3b-1c2d3e4f5a6b".to_owned()),
        );
        let expected = json!({
            "Owner": "wharf",
            "SchemaVersion": {"Major": 2, "Minor": 1},
            "ShouldTerminateOnLastHandleClosed": true,
            "Container": {
                "GuestOs": {"HostName": "buildhost"},
                "Storage": {
                    "Layers": [
                        {"Id": "1a2b3c4d-0001-4002-8003-000000000001", "Path": "C:\\wharf\\layers\\sha256-child"},
                        {"Id": "deadbeef-0001-4002-8003-0000000000ff", "Path": "C:\\wharf\\layers\\sha256-base"}
                    ],
                    "Path": "\\\\?\\Volume{0b1c2d3e-0000-0000-0000-000000000000}\\"
                },
                "MappedDirectories": [
                    {"HostPath": "C:\\ctx", "ContainerPath": "C:\\src", "ReadOnly": true}
                ],
                "Networking": {
                    "AllowUnqualifiedDnsQuery": true,
                    "Namespace": "7c9d6f44-7b43-4b8a-9d3b-1c2d3e4f5a6b"
                }
            }
        });
        assert_eq!(serde_json::to_value(&document).unwrap(), expected);
    }

    /// `data/schema2-tags.txt`: type → its members.
    pub(crate) fn schema2_tags() -> BTreeMap<String, Vec<String>> {
        include_str!("../data/schema2-tags.txt")
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .map(|l| {
                let (ty, members) = l.split_once(':').expect("Type: members");
                let members = members.split_whitespace().map(str::to_owned).collect();
                (ty.trim().to_owned(), members)
            })
            .collect()
    }

    /// The schema 2 type of the object a member holds (arrays: of their
    /// elements); `None` for scalars and for `Environment`, a map whose
    /// keys are variable names.
    fn member_type(parent: &str, member: &str) -> Option<&'static str> {
        Some(match (parent, member) {
            ("ComputeSystem", "SchemaVersion") => "Version",
            ("ComputeSystem", "Container") => "Container",
            ("Container", "GuestOs") => "GuestOs",
            ("Container", "Storage") => "Storage",
            ("Container", "MappedDirectories") => "MappedDirectory",
            ("Container", "Networking") => "Networking",
            ("Storage", "Layers") => "Layer",
            _ => return None,
        })
    }

    fn check_members(
        value: &serde_json::Value,
        ty: &str,
        tags: &BTreeMap<String, Vec<String>>,
        seen: &mut std::collections::BTreeSet<String>,
    ) {
        let object = value.as_object().expect("an object");
        let known = tags
            .get(ty)
            .unwrap_or_else(|| panic!("no type {ty} in the list"));
        for (member, child) in object {
            seen.insert(format!("{ty}.{member}"));
            assert!(
                known.contains(member),
                "{ty}.{member} is not a schema 2 member in data/schema2-tags.txt"
            );
            let Some(child_ty) = member_type(ty, member) else {
                assert!(
                    !child.is_object() || member == "Environment",
                    "{ty}.{member} holds an object of no known type"
                );
                continue;
            };
            match child {
                serde_json::Value::Array(items) => {
                    for item in items {
                        check_members(item, child_ty, tags, seen);
                    }
                }
                other => check_members(other, child_ty, tags, seen),
            }
        }
    }

    #[test]
    fn every_serialised_key_is_a_schema2_tag() {
        let tags = schema2_tags();
        let mut seen = std::collections::BTreeSet::new();
        let system = ComputeSystem::container(
            "h",
            &parents(),
            r"\\?\Volume{x}",
            vec![MappedDirectory {
                host_path: r"C:\a".to_owned(),
                container_path: r"C:\b".to_owned(),
                read_only: false,
            }],
            &Network::Namespace("n".to_owned()),
        );
        let value = serde_json::to_value(&system).unwrap();
        check_members(&value, "ComputeSystem", &tags, &mut seen);
        let process = ProcessParameters::for_run("x".to_owned(), "", [("A", "1")], "u");
        check_members(
            &serde_json::to_value(&process).unwrap(),
            "ProcessParameters",
            &tags,
            &mut seen,
        );
        let status = ProcessStatus {
            process_id: 1,
            exited: true,
            exit_code: 2,
            last_wait_result: 3,
        };
        check_members(
            &serde_json::to_value(status).unwrap(),
            "ProcessStatus",
            &tags,
            &mut seen,
        );
        // Every member listed for a written document was reached (the
        // `Properties` members are only read, by `system_has_stopped`; the
        // HCN documents are checked in `network.rs`).
        let listed: std::collections::BTreeSet<String> = tags
            .iter()
            .filter(|(ty, _)| {
                *ty != "Properties" && !ty.starts_with("HostCompute") && !ty.starts_with("Modify")
            })
            .flat_map(|(ty, members)| members.iter().map(move |m| format!("{ty}.{m}")))
            .collect();
        assert_eq!(seen, listed);
        // And a wrong key would be caught.
        let wrong = serde_json::json!({"HostName": "h", "Hostname": "h"});
        let caught = std::panic::catch_unwind(|| {
            check_members(&wrong, "GuestOs", &schema2_tags(), &mut Default::default())
        });
        assert!(caught.is_err());
    }

    #[test]
    fn network_none_omits_networking_and_keeps_one_trailing_backslash() {
        let document = ComputeSystem::container(
            "h",
            &parents()[1..],
            r"\\?\Volume{x}\",
            Vec::new(),
            &Network::None,
        );
        let text = serde_json::to_string(&document).unwrap();
        assert!(!text.contains("Networking"), "{text}");
        assert!(!text.contains("MappedDirectories"), "{text}");
        assert_eq!(document.container.storage.path, r"\\?\Volume{x}\");
        assert_eq!(document.container.storage.layers.len(), 1);
    }

    #[test]
    fn process_parameters_golden() {
        let parameters = ProcessParameters::for_run(
            r#"cmd /S /C echo "hi""#.to_owned(),
            "",
            [("PATH", r"C:\Windows;C:\tools"), ("EMPTY", ""), ("A", "1")],
            "containeruser",
        );
        let expected = json!({
            "CommandLine": "cmd /S /C echo \"hi\"",
            "WorkingDirectory": "C:\\",
            "Environment": {"A": "1", "PATH": "C:\\Windows;C:\\tools"},
            "User": "ContainerUser",
            "CreateStdOutPipe": true,
            "CreateStdErrPipe": true,
            "EmulateConsole": false
        });
        assert_eq!(serde_json::to_value(&parameters).unwrap(), expected);
        // Sorted keys: the serialised text is stable.
        let text = serde_json::to_string(&parameters).unwrap();
        assert!(text.find("\"A\"").unwrap() < text.find("\"PATH\"").unwrap());
    }

    #[test]
    fn process_parameters_without_user_or_environment_omit_them() {
        let parameters =
            ProcessParameters::for_run("x".to_owned(), r"C:\app", std::iter::empty(), "  ");
        let value = serde_json::to_value(&parameters).unwrap();
        assert_eq!(value["WorkingDirectory"], r"C:\app");
        assert!(value.get("User").is_none());
        assert!(value.get("Environment").is_none());
    }

    #[test]
    fn user_mapping() {
        assert_eq!(
            container_user("CONTAINERADMINISTRATOR").as_deref(),
            Some("ContainerAdministrator")
        );
        assert_eq!(
            container_user("ContainerUser").as_deref(),
            Some("ContainerUser")
        );
        assert_eq!(
            container_user("containerUSER").as_deref(),
            Some("ContainerUser")
        );
        assert_eq!(container_user("builder").as_deref(), Some("builder"));
        assert_eq!(
            container_user(r"DOMAIN\Builder").as_deref(),
            Some(r"DOMAIN\Builder")
        );
        assert_eq!(container_user(""), None);
    }

    #[test]
    fn process_status_exit_codes() {
        let exited =
            ProcessStatus::parse(r#"{"ProcessId":4242,"Exited":true,"ExitCode":3}"#).unwrap();
        assert_eq!(exited.process_id, 4242);
        assert_eq!(exited.exit_code(), Ok(Some(3)));
        // ExitCode 0 is omitted by the service.
        let success = ProcessStatus::parse(r#"{"ProcessId":1,"Exited":true}"#).unwrap();
        assert_eq!(success.exit_code(), Ok(Some(0)));
        // Exited false is omitted too.
        let running = ProcessStatus::parse(r#"{"ProcessId":1}"#).unwrap();
        assert_eq!(running.exit_code(), Ok(None));
        // NTSTATUS-style exit codes do not fit an i32.
        let crashed = ProcessStatus::parse(r#"{"Exited":true,"ExitCode":3221225477}"#).unwrap();
        assert_eq!(crashed.exit_code(), Ok(Some(0xC000_0005)));
        let failed_wait =
            ProcessStatus::parse(r#"{"Exited":true,"LastWaitResult":-2147024890}"#).unwrap();
        assert_eq!(
            failed_wait.exit_code(),
            Err(ProcessStatusError::WaitFailed { code: 0x8007_0006 })
        );
    }

    #[test]
    fn process_status_rejects_garbage() {
        for bad in ["", "not json", r#"{"Exited":"yes"}"#, r#"{"ExitCode":-1}"#] {
            let error = ProcessStatus::parse(bad).unwrap_err();
            assert!(
                matches!(error, ProcessStatusError::Malformed { .. }),
                "{bad}"
            );
            assert!(error.to_string().contains("not valid JSON"));
        }
    }
}
