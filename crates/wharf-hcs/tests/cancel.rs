//! Cancellation (`cancel_all`, process-wide, so in its own test binary):
//! a cancelled RUN starts nothing more and tears down what it holds.

mod fake_api;

use fake_api::FakeApi;
use std::path::PathBuf;
use std::time::Duration;
use wharf_hcs::{cancel_all, run, MountRetry, Network, ProcessParameters, RunError, RunSpec};

#[test]
fn a_cancelled_run_tears_down_and_says_so() {
    let spec = RunSpec {
        system_id: "wharf-run-2".to_owned(),
        host_name: "wharf".to_owned(),
        parent_layers: vec![PathBuf::from(r"C:\wharf\layers\base")],
        scratch: PathBuf::from(r"C:\wharf\scratch\run-2"),
        process: ProcessParameters::for_run("cmd /S /C ver".to_owned(), "", [], "ContainerUser"),
        mapped_directories: Vec::new(),
        network: Network::None,
        timeout: Duration::from_secs(3600),
        export_to: PathBuf::from(r"C:\wharf\export\run-2"),
        mount_retry: MountRetry::default(),
        shutdown_timeout: Duration::from_millis(10),
    };
    cancel_all();
    let mut api = FakeApi::new();
    let failure = run(&mut api, &spec, &mut |_, _| {}).unwrap_err();
    assert!(
        matches!(&failure.error, RunError::Cancelled { system_id } if system_id == "wharf-run-2"),
        "{failure:?}"
    );
    assert!(failure.teardown.is_empty(), "{failure}");
    let names = api.call_names();
    assert!(!names.contains(&"create_compute_system"));
    assert_eq!(
        &names[names.len() - 3..],
        ["unprepare_layer", "deactivate_layer", "destroy_layer"]
    );
}
