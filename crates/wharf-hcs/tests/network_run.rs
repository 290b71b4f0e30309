//! A RUN with a network (`run_on_nat`) against the recording HCS fake and
//! an HCN fake: the namespace reaches the compute system document, and
//! the network is torn down on every path.

mod fake_api;

use fake_api::{FakeApi, INJECTED};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;
use wharf_hcs::{
    run_on_nat, ApiError, HcnApi, MountRetry, Network, ProcessParameters, RunError, RunSpec,
};

#[derive(Default)]
struct FakeHcn {
    calls: Vec<String>,
    fail: Option<&'static str>,
}

impl FakeHcn {
    fn call(&mut self, name: &'static str) -> Result<(), ApiError> {
        self.calls.push(name.to_owned());
        if self.fail == Some(name) {
            return Err(ApiError::new(name, INJECTED));
        }
        Ok(())
    }
}

impl HcnApi for FakeHcn {
    fn enumerate_networks(&mut self, _: &str) -> Result<String, ApiError> {
        self.call("enumerate_networks")?;
        Ok(r#"["11111111-2222-3333-4444-555555555555"]"#.to_owned())
    }
    fn create_namespace(&mut self, _: &str) -> Result<String, ApiError> {
        self.call("create_namespace")?;
        Ok(r#"{"ID":"aaaaaaaa-0000-0000-0000-000000000001"}"#.to_owned())
    }
    fn create_endpoint(&mut self, _: &str, _: &str) -> Result<String, ApiError> {
        self.call("create_endpoint")?;
        Ok(r#"{"ID":"bbbbbbbb-0000-0000-0000-000000000002"}"#.to_owned())
    }
    fn modify_namespace(&mut self, _: &str, _: &str) -> Result<(), ApiError> {
        self.call("modify_namespace")
    }
    fn delete_endpoint(&mut self, _: &str) -> Result<(), ApiError> {
        self.call("delete_endpoint")
    }
    fn delete_namespace(&mut self, _: &str) -> Result<(), ApiError> {
        self.call("delete_namespace")
    }
}

fn spec() -> RunSpec {
    RunSpec {
        system_id: "wharf-net-1".to_owned(),
        host_name: "wharf".to_owned(),
        parent_layers: vec![PathBuf::from(r"C:\wharf\layers\base")],
        scratch: PathBuf::from(r"C:\wharf\scratch\net-1"),
        process: ProcessParameters::for_run(
            "choco install -y git".to_owned(),
            "",
            [],
            "ContainerAdministrator",
        ),
        mapped_directories: Vec::new(),
        network: Network::None,
        timeout: Duration::from_secs(3600),
        export_to: PathBuf::from(r"C:\wharf\export\net-1"),
        mount_retry: MountRetry::default(),
        shutdown_timeout: Duration::from_millis(10),
    }
}

fn fake() -> FakeApi {
    let mut api = FakeApi::new();
    api.exited_status = r#"{"ProcessId":7,"Exited":true,"ExitCode":0}"#.to_owned();
    api
}

const ATTACH: [&str; 4] = [
    "enumerate_networks",
    "create_namespace",
    "create_endpoint",
    "modify_namespace",
];
const DETACH: [&str; 2] = ["delete_endpoint", "delete_namespace"];

#[test]
fn the_namespace_reaches_the_document_and_is_deleted_afterwards() {
    let (mut api, mut hcn) = (fake(), FakeHcn::default());
    let result = run_on_nat(&mut api, &mut hcn, &spec(), &mut |_, _| {});
    assert_eq!(result.expect("succeeds").exit_code, 0);
    let system: serde_json::Value = serde_json::from_str(&api.documents[0]).unwrap();
    assert_eq!(
        system["Container"]["Networking"]["Namespace"],
        "aaaaaaaa-0000-0000-0000-000000000001"
    );
    assert_eq!(
        system["Container"]["Networking"]["AllowUnqualifiedDnsQuery"],
        true
    );
    assert_eq!(hcn.calls, [&ATTACH[..], &DETACH[..]].concat());
    assert_eq!(api.call_names().last(), Some(&"destroy_layer"));
}

#[test]
fn a_failure_at_every_hcs_step_still_deletes_the_network() {
    let baseline = {
        let (mut api, mut hcn) = (fake(), FakeHcn::default());
        run_on_nat(&mut api, &mut hcn, &spec(), &mut |_, _| {}).unwrap();
        api.calls
    };
    for (index, call) in baseline.iter().enumerate() {
        let name = call.split(' ').next().unwrap();
        if name.starts_with("close_") || name == "shutdown_compute_system" {
            continue;
        }
        let (mut api, mut hcn) = (fake(), FakeHcn::default());
        api.fail_at = BTreeSet::from([index]);
        let failure = run_on_nat(&mut api, &mut hcn, &spec(), &mut |_, _| {})
            .expect_err(&format!("failing {call}"));
        assert!(!matches!(failure.error, RunError::Network(_)), "{call}");
        assert_eq!(
            hcn.calls,
            [&ATTACH[..], &DETACH[..]].concat(),
            "failing {call}"
        );
        assert_eq!(api.open_handles, 0, "failing {call}");
    }
}

#[test]
fn network_failures_are_reported_and_cleaned_up() {
    // Attaching fails: nothing runs, what was created is deleted.
    let (mut api, mut hcn) = (
        fake(),
        FakeHcn {
            fail: Some("modify_namespace"),
            ..Default::default()
        },
    );
    let failure = run_on_nat(&mut api, &mut hcn, &spec(), &mut |_, _| {}).unwrap_err();
    assert!(matches!(failure.error, RunError::Network(_)));
    assert!(
        failure.to_string().contains("adding the endpoint"),
        "{failure}"
    );
    assert!(api.calls.is_empty());
    assert_eq!(hcn.calls, [&ATTACH[..], &DETACH[..]].concat());

    // Detaching fails after a successful command: the RUN fails, and the
    // namespace is still deleted.
    let (mut api, mut hcn) = (
        fake(),
        FakeHcn {
            fail: Some("delete_endpoint"),
            ..Default::default()
        },
    );
    let failure = run_on_nat(&mut api, &mut hcn, &spec(), &mut |_, _| {}).unwrap_err();
    assert!(
        failure
            .to_string()
            .starts_with("deleting the RUN's network endpoint"),
        "{failure}"
    );
    assert_eq!(
        hcn.calls.last().map(String::as_str),
        Some("delete_namespace")
    );

    // Detaching fails after a failed command: attached to its failure.
    let (mut api, mut hcn) = (
        fake(),
        FakeHcn {
            fail: Some("delete_namespace"),
            ..Default::default()
        },
    );
    api.fail_with = vec![("start_compute_system", 0xC037_0101)];
    let failure = run_on_nat(&mut api, &mut hcn, &spec(), &mut |_, _| {}).unwrap_err();
    assert!(
        failure.to_string().contains("HCS_E_IMAGE_MISMATCH"),
        "{failure}"
    );
    assert!(matches!(
        failure.teardown.last(),
        Some(RunError::Network(_))
    ));
}
