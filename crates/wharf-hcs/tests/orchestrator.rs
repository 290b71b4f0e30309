//! The orchestrator against a recording fake `HcsApi`: the exact call
//! sequence, and a complete teardown in reverse order whichever step fails
//! (cancellation, which is process-wide, is tested in `cancel.rs`).

mod fake_api;

use fake_api::{FakeApi, INJECTED};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;
use wharf_hcs::hcs_error::{HCS_E_PROCESS_ALREADY_STOPPED, HCS_E_SYSTEM_ALREADY_STOPPED};
use wharf_hcs::{
    finish_base_layer, import_layer, run, ApiError, MappedDirectory, MountRetry, Network,
    OutputEvent, OutputStream, ProcessParameters, RunError, RunFailure, RunResult, RunSpec, Step,
};

const SCRATCH: &str = r"C:\wharf\scratch\run-1";
const EXPORT: &str = r"C:\wharf\export\run-1";

fn spec() -> RunSpec {
    RunSpec {
        system_id: "wharf-run-1".to_owned(),
        host_name: "buildhost".to_owned(),
        parent_layers: vec![
            PathBuf::from(r"C:\wharf\layers\child"),
            PathBuf::from(r"C:\wharf\layers\base"),
        ],
        scratch: PathBuf::from(SCRATCH),
        process: ProcessParameters::for_run(
            r"cmd /S /C echo hi".to_owned(),
            r"C:\app\src",
            [("A", "1")],
            "ContainerUser",
        ),
        mapped_directories: vec![MappedDirectory {
            host_path: r"C:\ctx".to_owned(),
            container_path: r"C:\src".to_owned(),
            read_only: true,
        }],
        network: Network::None,
        timeout: Duration::from_secs(3600),
        export_to: PathBuf::from(EXPORT),
        mount_retry: MountRetry {
            attempts: 5,
            delay: Duration::ZERO,
        },
        shutdown_timeout: Duration::from_millis(50),
    }
}

/// A fake whose process prints to both pipes and exits with `exit_code`.
fn fake(exit_code: u32) -> FakeApi {
    let mut api = FakeApi::new();
    api.output_script = [
        OutputEvent::Output(OutputStream::Stdout, b"hello ".to_vec()),
        OutputEvent::Idle,
        OutputEvent::Output(OutputStream::Stderr, b"warning\n".to_vec()),
        OutputEvent::Output(OutputStream::Stdout, b"world\n".to_vec()),
    ]
    .into();
    api.exited_status = format!(r#"{{"ProcessId":7,"Exited":true,"ExitCode":{exit_code}}}"#);
    api
}

type Collected = Vec<(OutputStream, Vec<u8>)>;

fn run_collecting(api: &mut FakeApi, spec: &RunSpec) -> (Result<RunResult, RunFailure>, Collected) {
    let mut collected = Vec::new();
    let result = run(api, spec, &mut |stream, bytes| {
        collected.push((stream, bytes.to_vec()))
    });
    (result, collected)
}

fn successful_calls() -> Vec<String> {
    let mut api = fake(0);
    let (result, _) = run_collecting(&mut api, &spec());
    result.expect("the baseline run succeeds");
    api.calls
}

#[test]
fn a_successful_run_makes_exactly_these_calls() {
    let mut api = fake(0);
    let (result, output) = run_collecting(&mut api, &spec());
    assert_eq!(
        result.expect("succeeds"),
        RunResult {
            exit_code: 0,
            exported_folder: Some(PathBuf::from(EXPORT)),
        }
    );
    let child = api.calls[0].clone();
    assert_eq!(child, "name_to_guid child");
    let parents = {
        // The ids the fake's NameToGuid gave, in chain order.
        let mut probe = FakeApi::new();
        let child = wharf_hcs::HcsApi::name_to_guid(&mut probe, "child").unwrap();
        let base = wharf_hcs::HcsApi::name_to_guid(&mut probe, "base").unwrap();
        format!(r"C:\wharf\layers\child={child},C:\wharf\layers\base={base}")
    };
    let expected: Vec<String> = vec![
        "name_to_guid child".to_owned(),
        "name_to_guid base".to_owned(),
        r"create_directory C:\wharf\scratch".to_owned(),
        format!("create_scratch_layer {SCRATCH} [{parents}]"),
        format!("activate_layer {SCRATCH}"),
        format!("prepare_layer {SCRATCH} [{parents}]"),
        format!("layer_mount_path {SCRATCH}"),
        r"create_directory \\?\Volume{00000000-0000-0000-0000-00000000beef}\app\src".to_owned(),
        "create_compute_system wharf-run-1".to_owned(),
        "start_compute_system wharf-run-1".to_owned(),
        "create_process".to_owned(),
        "read_output".to_owned(),
        "read_output".to_owned(),
        "process_status".to_owned(),
        "read_output".to_owned(),
        "read_output".to_owned(),
        "read_output".to_owned(),
        "process_status".to_owned(),
        "read_output".to_owned(),
        "close_process".to_owned(),
        "shutdown_compute_system wharf-run-1".to_owned(),
        "compute_system_properties wharf-run-1".to_owned(),
        "close_compute_system wharf-run-1".to_owned(),
        format!("unprepare_layer {SCRATCH}"),
        format!("create_directory {EXPORT}"),
        format!("export_layer {SCRATCH} -> {EXPORT} [{parents}]"),
        format!("deactivate_layer {SCRATCH}"),
        format!("destroy_layer {SCRATCH}"),
    ];
    assert_eq!(api.calls, expected);
    assert_eq!(api.open_handles, 0);
    assert_eq!(
        output,
        vec![
            (OutputStream::Stdout, b"hello ".to_vec()),
            (OutputStream::Stderr, b"warning\n".to_vec()),
            (OutputStream::Stdout, b"world\n".to_vec()),
        ]
    );
}

#[test]
fn the_documents_handed_over_are_the_ones_built_from_the_spec() {
    let mut api = fake(0);
    let (result, _) = run_collecting(&mut api, &spec());
    result.expect("succeeds");
    let system: serde_json::Value = serde_json::from_str(&api.documents[0]).unwrap();
    let storage = &system["Container"]["Storage"];
    assert_eq!(
        storage["Path"],
        r"\\?\Volume{00000000-0000-0000-0000-00000000beef}\"
    );
    assert_eq!(storage["Layers"][0]["Path"], r"C:\wharf\layers\child");
    assert_eq!(storage["Layers"][1]["Path"], r"C:\wharf\layers\base");
    let child_id = wharf_hcs::HcsApi::name_to_guid(&mut FakeApi::new(), "child").unwrap();
    assert_eq!(storage["Layers"][0]["Id"], child_id.to_string());
    assert_eq!(system["Container"]["GuestOs"]["HostName"], "buildhost");
    assert_eq!(
        system["Container"]["MappedDirectories"][0]["ReadOnly"],
        true
    );
    assert!(system["Container"].get("Networking").is_none());
    let process: ProcessParameters = serde_json::from_str(&api.documents[1]).unwrap();
    assert_eq!(process, spec().process);
}

#[test]
fn a_failing_command_is_not_exported_but_everything_is_torn_down() {
    let mut api = fake(0xC000_0005);
    let (result, _) = run_collecting(&mut api, &spec());
    assert_eq!(
        result.expect("the run itself succeeds"),
        RunResult {
            exit_code: 0xC000_0005,
            exported_folder: None,
        }
    );
    let names = api.call_names();
    assert!(!names.contains(&"export_layer"));
    assert_eq!(
        &names[names.len() - 7..],
        [
            "close_process",
            "shutdown_compute_system",
            "compute_system_properties",
            "close_compute_system",
            "unprepare_layer",
            "deactivate_layer",
            "destroy_layer"
        ]
    );
}

/// What teardown must release after the successful calls `done`, when
/// `failed` (the next call) failed: derived from the calls, independently
/// of the orchestrator's bookkeeping.
fn expected_teardown(done: &[String], failed: &str) -> Vec<String> {
    let (mut scratch, mut activated, mut prepared) = (false, false, false);
    let (mut system, mut process) = (false, false);
    for call in done {
        match call.split(' ').next().unwrap_or("") {
            "create_scratch_layer" => scratch = true,
            "activate_layer" => activated = true,
            "prepare_layer" => prepared = true,
            "unprepare_layer" => prepared = false,
            "deactivate_layer" => activated = false,
            "destroy_layer" => scratch = false,
            "create_compute_system" => system = true,
            "close_compute_system" => system = false,
            "create_process" => process = true,
            "close_process" => process = false,
            _ => {}
        }
    }
    let mut teardown = Vec::new();
    match failed {
        // The orderly stop closes the system even when stopping fails,
        // and an unprepare that failed is not retried.
        "compute_system_properties" => {
            teardown.push("close_compute_system wharf-run-1".to_owned());
            system = false;
        }
        "unprepare_layer" => prepared = false,
        // Teardown steps themselves: each is attempted once.
        "deactivate_layer" => activated = false,
        "destroy_layer" => scratch = false,
        _ => {}
    }
    if process {
        teardown.push("terminate_process".to_owned());
        teardown.push("close_process".to_owned());
    }
    if system {
        teardown.push("shutdown_compute_system wharf-run-1".to_owned());
        teardown.push("compute_system_properties wharf-run-1".to_owned());
        teardown.push("close_compute_system wharf-run-1".to_owned());
    }
    if prepared {
        teardown.push(format!("unprepare_layer {SCRATCH}"));
    }
    if activated {
        teardown.push(format!("deactivate_layer {SCRATCH}"));
    }
    if scratch {
        teardown.push(format!("destroy_layer {SCRATCH}"));
    }
    teardown
}

fn step_of(call: &str) -> Step {
    // The folders created before the scratch, the process and the export.
    if let Some(dir) = call.strip_prefix("create_directory ") {
        return if dir == EXPORT {
            Step::ExportScratch
        } else if dir.starts_with(r"\\?\Volume") {
            Step::CreateWorkingDirectory
        } else {
            Step::CreateScratch
        };
    }
    match call {
        "name_to_guid" => Step::LayerId,
        "create_scratch_layer" => Step::CreateScratch,
        "activate_layer" => Step::ActivateScratch,
        "prepare_layer" => Step::PrepareScratch,
        "layer_mount_path" => Step::MountPath,
        "create_compute_system" => Step::CreateComputeSystem,
        "start_compute_system" => Step::StartComputeSystem,
        "create_process" => Step::CreateProcess,
        "read_output" => Step::ReadOutput,
        "process_status" => Step::ProcessStatus,
        "compute_system_properties" => Step::TerminateComputeSystem,
        "unprepare_layer" => Step::UnprepareScratch,
        "export_layer" => Step::ExportScratch,
        "deactivate_layer" => Step::DeactivateScratch,
        "destroy_layer" => Step::DestroyLayer,
        other => panic!("no step for {other}"),
    }
}

#[test]
fn every_failure_point_tears_down_what_was_set_up_in_reverse_order() {
    let baseline = successful_calls();
    let mut tried = 0;
    for (index, call) in baseline.iter().enumerate() {
        let name = call.split(' ').next().unwrap_or("");
        if name.starts_with("close_") {
            continue; // closing a handle cannot fail
        }
        if name == "shutdown_compute_system" {
            continue; // a refused shutdown falls back to terminating (tested below)
        }
        tried += 1;
        let mut api = fake(0);
        api.fail_at = BTreeSet::from([index]);
        let (result, _) = run_collecting(&mut api, &spec());
        let failure = result.expect_err(&format!("failing call {index} ({call}) fails the run"));

        // Up to and including the failed call, the same calls as a
        // successful run; after it, exactly the teardown.
        assert_eq!(api.calls[..=index], baseline[..=index], "failing {call}");
        let expected = expected_teardown(&baseline[..index], name);
        assert_eq!(
            api.calls[index + 1..],
            expected[..],
            "teardown after failing {call}"
        );
        assert_eq!(
            api.open_handles, 0,
            "handles left open after failing {call}"
        );

        match &failure.error {
            RunError::Call { step, source, .. } => {
                let which = if name == "create_directory" {
                    call
                } else {
                    name
                };
                assert_eq!(*step, step_of(which), "failing {call}");
                assert_eq!(source.hresult, INJECTED);
            }
            other => panic!("failing {call} gave {other:?}"),
        }
        assert!(failure.teardown.is_empty(), "failing {call}: {failure}");
    }
    assert!(tried > 15, "only {tried} failure points tried");
}

#[test]
fn teardown_failures_are_attached_to_the_first_error() {
    let mut api = fake(0);
    api.fail_with = vec![
        ("start_compute_system", 0x8037_0101),
        ("unprepare_layer", 0x8000_4005),
        ("destroy_layer", 0x8007_0005),
    ];
    let (result, _) = run_collecting(&mut api, &spec());
    let failure = result.unwrap_err();
    assert!(matches!(
        &failure.error,
        RunError::Call { step: Step::StartComputeSystem, subject, .. } if subject == "wharf-run-1"
    ));
    let steps: Vec<Step> = failure
        .teardown
        .iter()
        .map(|e| match e {
            RunError::Call { step, .. } => *step,
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(steps, [Step::UnprepareScratch, Step::DestroyLayer]);
    // Deactivation was still attempted between the two failures.
    let names = api.call_names();
    assert_eq!(
        &names[names.len() - 6..],
        [
            "shutdown_compute_system",
            "compute_system_properties",
            "close_compute_system",
            "unprepare_layer",
            "deactivate_layer",
            "destroy_layer"
        ]
    );
    let text = failure.to_string();
    assert!(
        text.starts_with(
            "starting compute system wharf-run-1: start_compute_system failed: 0x80370101"
        ),
        "{text}"
    );
    assert!(text.contains("HCS_E_IMAGE_MISMATCH"), "{text}");
    assert!(text.contains("os.version"), "{text}");
    assert!(
        text.contains(r"unmounting the scratch layer C:\wharf\scratch\run-1"),
        "{text}"
    );
    assert!(text.contains("E_ACCESSDENIED"), "{text}");
    assert!(
        text.contains("cleaning up afterwards also failed"),
        "{text}"
    );
}

#[test]
fn a_successful_command_with_a_failed_cleanup_is_a_failure() {
    let mut api = fake(0);
    api.fail_with = vec![("deactivate_layer", INJECTED)];
    let (result, _) = run_collecting(&mut api, &spec());
    let failure = result.unwrap_err();
    assert!(matches!(
        failure.error,
        RunError::Call {
            step: Step::DeactivateScratch,
            ..
        }
    ));
    assert!(failure.teardown.is_empty());
    assert_eq!(api.call_names().last(), Some(&"destroy_layer"));
}

#[test]
fn a_command_running_past_its_timeout_is_stopped_and_reported() {
    let mut api = fake(0);
    let mut spec = spec();
    spec.timeout = Duration::ZERO;
    let (result, output) = run_collecting(&mut api, &spec);
    let failure = result.unwrap_err();
    match &failure.error {
        RunError::TimedOut {
            system_id,
            command_line,
            after,
        } => {
            assert_eq!(system_id, "wharf-run-1");
            assert_eq!(command_line, "cmd /S /C echo hi");
            assert_eq!(*after, Duration::ZERO);
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(failure.to_string().contains("raise the RUN timeout"));
    assert!(output.is_empty());
    let names = api.call_names();
    let start = names.iter().position(|n| *n == "create_process").unwrap();
    assert_eq!(
        &names[start..],
        [
            "create_process",
            "terminate_process",
            "close_process",
            "shutdown_compute_system",
            "compute_system_properties",
            "close_compute_system",
            "unprepare_layer",
            "deactivate_layer",
            "destroy_layer"
        ]
    );
    assert_eq!(api.open_handles, 0);
}

#[test]
fn stopping_what_has_already_stopped_is_not_an_error() {
    // Both HRESULT families, the process code and not-found.
    for (process_code, system_code) in [
        (HCS_E_PROCESS_ALREADY_STOPPED, HCS_E_SYSTEM_ALREADY_STOPPED),
        (0xC037_011F, 0xC037_0110),
        (0x8007_0490, 0xC037_010E),
    ] {
        let mut api = fake(0);
        api.fail_with = vec![
            ("terminate_process", process_code),
            ("shutdown_compute_system", system_code),
        ];
        let mut spec = spec();
        spec.timeout = Duration::ZERO;
        let (result, _) = run_collecting(&mut api, &spec);
        let failure = result.unwrap_err();
        assert!(matches!(failure.error, RunError::TimedOut { .. }));
        assert!(failure.teardown.is_empty(), "{failure}");
        assert!(!api.call_names().contains(&"terminate_compute_system"));

        // And on the orderly path too.
        let mut api = fake(0);
        api.fail_with = vec![("shutdown_compute_system", system_code)];
        let (result, _) = run_collecting(&mut api, &self::spec());
        assert_eq!(result.unwrap().exit_code, 0);
    }
}

#[test]
fn a_system_that_does_not_shut_down_is_terminated_and_waited_for() {
    let mut api = fake(0);
    api.ignores_shutdown = true;
    let (result, _) = run_collecting(&mut api, &spec());
    assert_eq!(result.expect("succeeds").exit_code, 0);
    let names = api.call_names();
    let shutdown = names
        .iter()
        .position(|n| *n == "shutdown_compute_system")
        .unwrap();
    let terminate = names
        .iter()
        .position(|n| *n == "terminate_compute_system")
        .expect("terminated after the shutdown bound");
    let close = names
        .iter()
        .position(|n| *n == "close_compute_system")
        .unwrap();
    let unprepare = names.iter().position(|n| *n == "unprepare_layer").unwrap();
    assert!(shutdown < terminate && terminate < close && close < unprepare);
    // The state was asked for while waiting, and once more after terminating.
    assert!(names[shutdown + 1..terminate]
        .iter()
        .all(|n| *n == "compute_system_properties"));
    assert!(terminate - shutdown >= 2);
    assert_eq!(names[terminate + 1], "compute_system_properties");

    // A shutdown the system refuses goes straight to terminating.
    let mut api = fake(0);
    api.fail_with = vec![("shutdown_compute_system", 0x8037_0105)];
    let (result, _) = run_collecting(&mut api, &spec());
    assert_eq!(result.expect("succeeds").exit_code, 0);
    let names = api.call_names();
    let shutdown = names
        .iter()
        .position(|n| *n == "shutdown_compute_system")
        .unwrap();
    assert_eq!(
        names[shutdown..shutdown + 4],
        [
            "shutdown_compute_system",
            "terminate_compute_system",
            "compute_system_properties",
            "close_compute_system"
        ]
    );

    // A terminate that fails after a refused shutdown fails the RUN.
    let mut api = fake(0);
    api.fail_with = vec![
        ("shutdown_compute_system", 0x8037_0105),
        ("terminate_compute_system", INJECTED),
    ];
    let (result, _) = run_collecting(&mut api, &spec());
    let failure = result.unwrap_err();
    assert!(matches!(
        failure.error,
        RunError::Call {
            step: Step::TerminateComputeSystem,
            ..
        }
    ));
    assert_eq!(
        &api.call_names()[api.calls.len() - 4..],
        [
            "close_compute_system",
            "unprepare_layer",
            "deactivate_layer",
            "destroy_layer"
        ]
    );
}

#[test]
fn activate_and_prepare_are_tried_again_as_a_pair() {
    let mut api = fake(0);
    // ERROR_NOT_READY, then ERROR_DEVICE_NOT_CONNECTED (as a bare code).
    api.prepare_failures = [0x8007_0015, 1167].into();
    let (result, _) = run_collecting(&mut api, &spec());
    result.expect("succeeds on the third attempt");
    let names = api.call_names();
    let first = names.iter().position(|n| *n == "activate_layer").unwrap();
    assert_eq!(
        names[first..first + 9],
        [
            "activate_layer",
            "prepare_layer",
            "deactivate_layer",
            "activate_layer",
            "prepare_layer",
            "deactivate_layer",
            "activate_layer",
            "prepare_layer",
            "layer_mount_path"
        ]
    );
    assert_eq!(
        names.iter().filter(|n| **n == "layer_mount_path").count(),
        1
    );

    let mut api = fake(0);
    api.prepare_failures = std::iter::repeat_n(0x8007_048F, 100).collect();
    let (result, _) = run_collecting(&mut api, &spec());
    let failure = result.unwrap_err();
    assert!(
        matches!(
            &failure.error,
            RunError::MountPathNotReady { attempts: 5, .. }
        ),
        "{failure:?}"
    );
    let text = failure.to_string();
    assert!(text.contains("after 5 attempts"), "{text}");
    assert!(text.contains("ERROR_DEVICE_NOT_CONNECTED"), "{text}");
    let names = api.call_names();
    assert_eq!(names.iter().filter(|n| **n == "prepare_layer").count(), 5);
    assert_eq!(names.iter().filter(|n| **n == "activate_layer").count(), 5);
    // Four deactivations between tries, one in the teardown.
    assert_eq!(
        names.iter().filter(|n| **n == "deactivate_layer").count(),
        5
    );
    assert!(!names.contains(&"layer_mount_path"));
    assert_eq!(
        &names[names.len() - 2..],
        ["deactivate_layer", "destroy_layer"]
    );

    // Other errors are not retried.
    let mut api = fake(0);
    api.prepare_failures = [0x8007_0005].into();
    let (result, _) = run_collecting(&mut api, &spec());
    assert!(matches!(
        result.unwrap_err().error,
        RunError::Call {
            step: Step::PrepareScratch,
            ..
        }
    ));
    assert_eq!(
        api.call_names()
            .iter()
            .filter(|n| **n == "prepare_layer")
            .count(),
        1
    );
}

#[test]
fn output_left_in_the_pipes_after_exit_is_passed_on() {
    let mut api = FakeApi::new();
    api.output_script = [
        OutputEvent::Output(OutputStream::Stdout, b"a".to_vec()),
        OutputEvent::Closed,
        OutputEvent::Output(OutputStream::Stdout, b"b".to_vec()),
        OutputEvent::Output(OutputStream::Stderr, b"c".to_vec()),
    ]
    .into();
    // The process has exited once two events remain.
    api.exit_when_remaining = 2;
    let (result, output) = run_collecting(&mut api, &spec());
    result.expect("succeeds");
    let bytes: Vec<&[u8]> = output.iter().map(|(_, b)| b.as_slice()).collect();
    assert_eq!(bytes, [b"a", b"b", b"c"]);
    assert_eq!(output[2].0, OutputStream::Stderr);
}

#[test]
fn an_unreadable_process_status_fails_and_stops_the_process() {
    let mut api = fake(0);
    api.output_script.clear();
    api.exited_status = "{not json".to_owned();
    let (result, _) = run_collecting(&mut api, &spec());
    let failure = result.unwrap_err();
    assert!(
        matches!(&failure.error, RunError::ProcessStatus { system_id, .. } if system_id == "wharf-run-1")
    );
    assert!(api.call_names().contains(&"terminate_process"));

    let mut api = fake(0);
    api.output_script.clear();
    api.exited_status = r#"{"Exited":true,"LastWaitResult":5}"#.to_owned();
    let (result, _) = run_collecting(&mut api, &spec());
    assert!(result
        .unwrap_err()
        .to_string()
        .contains("wait result 0x00000005"));
}

#[test]
fn bad_layer_folders_are_refused_before_any_host_call() {
    let mut api = fake(0);
    let mut spec = spec();
    spec.parent_layers.push(PathBuf::from(r"C:\"));
    let (result, _) = run_collecting(&mut api, &spec);
    let failure = result.unwrap_err();
    assert!(matches!(failure.error, RunError::LayerFolderName { .. }));
    assert!(failure.to_string().contains("not a drive"));
    assert!(!api.call_names().contains(&"create_scratch_layer"));
}

#[cfg(unix)]
#[test]
fn non_unicode_paths_are_refused() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let mut api = fake(0);
    let mut spec = spec();
    spec.scratch = PathBuf::from(OsStr::from_bytes(b"/tmp/scr\xffatch"));
    let (result, _) = run_collecting(&mut api, &spec);
    assert!(matches!(
        result.unwrap_err().error,
        RunError::NonUnicodePath { .. }
    ));
    assert!(!api.call_names().contains(&"create_scratch_layer"));
}

#[test]
fn importing_a_layer() {
    let mut api = FakeApi::new();
    let layer = PathBuf::from(r"C:\wharf\layers\new");
    let source = PathBuf::from(r"C:\wharf\staging\new");
    import_layer(
        &mut api,
        &layer,
        &source,
        &[PathBuf::from(r"C:\wharf\layers\base")],
    )
    .expect("imports");
    assert_eq!(api.call_names(), ["name_to_guid", "import_layer"]);
    assert!(api.calls[1].starts_with(
        r"import_layer C:\wharf\layers\new <- C:\wharf\staging\new [C:\wharf\layers\base="
    ));

    // A failed import removes the half-written layer folder.
    let mut api = FakeApi::new();
    api.fail_with = vec![("import_layer", 0x8007_0522), ("destroy_layer", INJECTED)];
    let failure = import_layer(&mut api, &layer, &source, &[]).unwrap_err();
    assert_eq!(api.call_names(), ["import_layer", "destroy_layer"]);
    assert!(
        matches!(&failure.error, RunError::Call { step: Step::ImportLayer, subject, .. } if subject == r"C:\wharf\layers\new")
    );
    assert_eq!(failure.teardown.len(), 1);
    let text = failure.to_string();
    assert!(text.contains("ERROR_PRIVILEGE_NOT_HELD"), "{text}");
    assert!(text.contains("administrator"), "{text}");
}

#[test]
fn api_errors_keep_their_result_document() {
    let error = ApiError::new("HcsCreateComputeSystem", 0x8037_0112)
        .with_result_document(r#"{"ErrorMessage":"The layer is invalid.","ErrorEvents":[{"Message":"Layer C:\\l\\x missing"}]}"#);
    let failure = RunFailure::from(RunError::Call {
        step: Step::CreateComputeSystem,
        subject: "wharf-run-1".to_owned(),
        source: error,
    });
    let text = failure.to_string();
    assert!(text.contains("HCS_E_INVALID_LAYER"), "{text}");
    assert!(text.contains(r"Layer C:\l\x missing"), "{text}");
}

#[test]
fn finishing_a_base_layer() {
    let layer = PathBuf::from("/wharf/layers/base");
    let mut api = FakeApi::new();
    finish_base_layer(&mut api, &layer, true).expect("finishes");
    assert_eq!(
        api.calls,
        [
            "process_base_layer /wharf/layers/base",
            "process_utility_vm /wharf/layers/base/UtilityVM"
        ]
    );

    let mut api = FakeApi::new();
    finish_base_layer(&mut api, &layer, false).expect("finishes");
    assert_eq!(api.call_names(), ["process_base_layer"]);

    let mut api = FakeApi::new();
    api.fail_with = vec![("process_base_layer", 0x8007_0005)];
    let error = finish_base_layer(&mut api, &layer, true).unwrap_err();
    assert!(
        matches!(&error, RunError::Call { step: Step::ProcessBaseLayer, subject, .. } if subject == "/wharf/layers/base")
    );
    assert!(error
        .to_string()
        .starts_with("processing base layer /wharf/layers/base: "));
    assert_eq!(api.call_names(), ["process_base_layer"]);
}

#[test]
fn closed_pipes_of_a_running_process_do_not_end_the_wait() {
    let mut api = FakeApi::new();
    // The command closes its output early, then runs on.
    api.output_script = [
        OutputEvent::Output(OutputStream::Stdout, b"x".to_vec()),
        OutputEvent::Closed,
        OutputEvent::Closed,
    ]
    .into();
    let (result, output) = run_collecting(&mut api, &spec());
    assert_eq!(result.expect("succeeds").exit_code, 0);
    assert_eq!(output.len(), 1);
    let names = api.call_names();
    let start = names.iter().position(|n| *n == "create_process").unwrap();
    assert_eq!(
        &names[start..start + 8],
        [
            "create_process",
            "read_output",
            "read_output",
            "process_status",
            "read_output",
            "process_status",
            "read_output",
            "close_process"
        ]
    );
}
