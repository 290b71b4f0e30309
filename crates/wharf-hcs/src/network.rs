//! A RUN's network through the Host Compute Network service (HCN,
//! `computenetwork.dll`): an HCN namespace holding one endpoint on the
//! host's `nat` network, whose id goes into the compute system's
//! `Networking.Namespace`. The documents and the call order are portable
//! and tested here against a fake; [`HcnApi`] is implemented over the DLL
//! by `windows_network` (Windows only, type-checked, not run).
//!
//! The calls follow hcsshim's `hcn` package: the `nat` network is found
//! with `HcnEnumerateNetworks` and a `{"Name":"nat"}` filter
//! (`GetNetworkByName`); the namespace is created with a zero id (HCN
//! assigns it) and read back; the endpoint is created on the network and
//! added to the namespace with a `ModifyNamespaceSettingRequest`
//! (`AddNamespaceEndpoint`). The namespace type is `Guest`, as BuildKit's
//! Windows CNI provider creates it for build containers. Teardown deletes
//! the endpoint, then the namespace, each attempted whatever failed.

use crate::api::{ApiError, HcsApi, OutputStream};
use crate::documents::Network;
use crate::orchestrator::{run, RunResult, RunSpec};
use crate::run_error::{RunError, RunFailure};
use serde::{Deserialize, Serialize};
use serde_json::json;
use thiserror::Error;

/// The network Windows creates for containers (Docker's default).
pub const NAT_NETWORK: &str = "nat";

/// The HCN calls a RUN's network needs. Each method is one of hcsshim's
/// `hcn` helpers (open, act, read back, close), without decisions.
pub trait HcnApi {
    /// `HcnEnumerateNetworks(query)`: the ids of the matching networks, a
    /// JSON array of GUID strings.
    fn enumerate_networks(&mut self, query: &str) -> Result<String, ApiError>;

    /// `HcnCreateNamespace` with a zero id and `settings`, then
    /// `HcnQueryNamespaceProperties`: the new namespace's properties.
    fn create_namespace(&mut self, settings: &str) -> Result<String, ApiError>;

    /// `HcnOpenNetwork(network)`, `HcnCreateEndpoint` with a zero id and
    /// `settings`, then `HcnQueryEndpointProperties`: the new endpoint's
    /// properties.
    fn create_endpoint(&mut self, network: &str, settings: &str) -> Result<String, ApiError>;

    /// `HcnOpenNamespace(namespace)`, then `HcnModifyNamespace(request)`.
    fn modify_namespace(&mut self, namespace: &str, request: &str) -> Result<(), ApiError>;

    /// `HcnDeleteEndpoint`.
    fn delete_endpoint(&mut self, endpoint: &str) -> Result<(), ApiError>;

    /// `HcnDeleteNamespace`.
    fn delete_namespace(&mut self, namespace: &str) -> Result<(), ApiError>;
}

/// What a RUN's network holds, to be torn down with [`detach`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatAttachment {
    /// The namespace id: the compute system's `Networking.Namespace`.
    pub namespace: String,
    pub endpoint: String,
}

/// A step of setting up or tearing down a RUN's network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetworkStep {
    FindNetwork,
    CreateNamespace,
    CreateEndpoint,
    AddEndpoint,
    DeleteEndpoint,
    DeleteNamespace,
}

impl std::fmt::Display for NetworkStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            NetworkStep::FindNetwork => "finding the nat network",
            NetworkStep::CreateNamespace => "creating the RUN's network namespace",
            NetworkStep::CreateEndpoint => "creating the RUN's endpoint on the nat network",
            NetworkStep::AddEndpoint => "adding the endpoint to the RUN's network namespace",
            NetworkStep::DeleteEndpoint => "deleting the RUN's network endpoint",
            NetworkStep::DeleteNamespace => "deleting the RUN's network namespace",
        })
    }
}

/// Why a RUN's network could not be set up or torn down.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NetworkError {
    #[error("{step}: {source}")]
    Call { step: NetworkStep, source: ApiError },
    #[error("this host has no HCN network named \"nat\", which RUN uses for its network: it comes with the Containers feature (restart the Host Network Service, hns, to recreate it), or run the step with RUN --network=none")]
    NoNatNetwork,
    #[error("{step}: HCN answered with a document Wharf cannot read ({document:?})")]
    Unreadable { step: NetworkStep, document: String },
}

/// A failed network setup: the first error, and the failures of the
/// teardown that followed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkFailure {
    pub error: NetworkError,
    pub teardown: Vec<NetworkError>,
}

impl std::fmt::Display for NetworkFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.error)?;
        for e in &self.teardown {
            write!(f, "; cleaning up also failed: {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for NetworkFailure {}

/// HCN's schema version of these documents (hcsshim's `V2SchemaVersion`).
fn schema_2_0() -> serde_json::Value {
    json!({"Major": 2, "Minor": 0})
}

/// The `HostComputeQuery` that finds a network by name.
pub fn network_query(name: &str) -> String {
    let filter = json!({ "Name": name }).to_string();
    json!({"SchemaVersion": schema_2_0(), "Filter": filter}).to_string()
}

/// The `HostComputeNamespace` settings of a RUN's namespace.
pub fn namespace_settings() -> String {
    json!({"Type": "Guest", "SchemaVersion": schema_2_0()}).to_string()
}

/// The `HostComputeEndpoint` settings of a RUN's endpoint on `network`.
pub fn endpoint_settings(name: &str, network: &str) -> String {
    json!({
        "Name": name,
        "HostComputeNetwork": network,
        "SchemaVersion": schema_2_0(),
    })
    .to_string()
}

/// The `ModifyNamespaceSettingRequest` adding `endpoint` to a namespace.
pub fn add_endpoint_request(endpoint: &str) -> String {
    json!({
        "ResourceType": "Endpoint",
        "RequestType": "Add",
        "Settings": {"EndpointId": endpoint},
    })
    .to_string()
}

/// The `ID` of an HCN object's properties document.
fn object_id(step: NetworkStep, document: &str) -> Result<String, NetworkError> {
    #[derive(Deserialize, Serialize)]
    struct Object {
        #[serde(rename = "ID")]
        id: String,
    }
    serde_json::from_str::<Object>(document)
        .ok()
        .map(|o| o.id)
        .filter(|id| !id.is_empty())
        .ok_or_else(|| NetworkError::Unreadable {
            step,
            document: document.to_owned(),
        })
}

/// Sets up a namespace with an endpoint named `endpoint_name` on the `nat`
/// network. On failure, what was created is deleted again.
pub fn attach_nat<H: HcnApi>(
    api: &mut H,
    endpoint_name: &str,
) -> Result<NatAttachment, NetworkFailure> {
    let call = |step| move |source| NetworkError::Call { step, source };
    let found = api
        .enumerate_networks(&network_query(NAT_NETWORK))
        .map_err(call(NetworkStep::FindNetwork))?;
    let networks: Vec<String> =
        serde_json::from_str(&found).map_err(|_| NetworkError::Unreadable {
            step: NetworkStep::FindNetwork,
            document: found.clone(),
        })?;
    let network = networks
        .into_iter()
        .next()
        .ok_or(NetworkError::NoNatNetwork)?;

    let created = api
        .create_namespace(&namespace_settings())
        .map_err(call(NetworkStep::CreateNamespace))?;
    let namespace = object_id(NetworkStep::CreateNamespace, &created)?;
    let mut held = NatAttachment {
        namespace,
        endpoint: String::new(),
    };
    let endpoint = api
        .create_endpoint(&network, &endpoint_settings(endpoint_name, &network))
        .map_err(call(NetworkStep::CreateEndpoint))
        .and_then(|document| object_id(NetworkStep::CreateEndpoint, &document));
    let added = endpoint.and_then(|endpoint| {
        held.endpoint = endpoint;
        api.modify_namespace(&held.namespace, &add_endpoint_request(&held.endpoint))
            .map_err(call(NetworkStep::AddEndpoint))
    });
    match added {
        Ok(()) => Ok(held),
        Err(error) => Err(NetworkFailure {
            error,
            teardown: detach(api, &held),
        }),
    }
}

impl From<NetworkError> for NetworkFailure {
    fn from(error: NetworkError) -> Self {
        NetworkFailure {
            error,
            teardown: Vec::new(),
        }
    }
}

/// Deletes the endpoint (when one was created), then the namespace; each
/// is attempted, and its failure returned.
pub fn detach<H: HcnApi>(api: &mut H, attachment: &NatAttachment) -> Vec<NetworkError> {
    let mut errors = Vec::new();
    if !attachment.endpoint.is_empty() {
        if let Err(source) = api.delete_endpoint(&attachment.endpoint) {
            errors.push(NetworkError::Call {
                step: NetworkStep::DeleteEndpoint,
                source,
            });
        }
    }
    if let Err(source) = api.delete_namespace(&attachment.namespace) {
        errors.push(NetworkError::Call {
            step: NetworkStep::DeleteNamespace,
            source,
        });
    }
    errors
}

/// Runs `spec` (whose `network` is replaced) with a network: attaches a
/// namespace with a `nat` endpoint named after the compute system, runs,
/// and detaches on every path; a failed detach fails the RUN (or is
/// attached to its failure).
pub fn run_on_nat<A: HcsApi, H: HcnApi>(
    api: &mut A,
    hcn: &mut H,
    spec: &RunSpec,
    output: &mut dyn FnMut(OutputStream, &[u8]),
) -> Result<RunResult, RunFailure> {
    let attachment = attach_nat(hcn, &spec.system_id).map_err(|f| RunFailure {
        error: f.error.into(),
        teardown: f.teardown.into_iter().map(RunError::from).collect(),
    })?;
    let spec = RunSpec {
        network: Network::Namespace(attachment.namespace.clone()),
        ..spec.clone()
    };
    let result = run(api, &spec, output);
    let mut detached = detach(hcn, &attachment).into_iter().map(RunError::from);
    match result {
        Ok(done) => match detached.next() {
            None => Ok(done),
            Some(error) => Err(RunFailure {
                error,
                teardown: detached.collect(),
            }),
        },
        Err(mut failure) => {
            failure.teardown.extend(detached);
            Err(failure)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn value(text: &str) -> Value {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn documents_golden() {
        assert_eq!(
            value(&network_query("nat")),
            json!({"SchemaVersion": {"Major": 2, "Minor": 0}, "Filter": "{\"Name\":\"nat\"}"})
        );
        assert_eq!(
            value(&namespace_settings()),
            json!({"Type": "Guest", "SchemaVersion": {"Major": 2, "Minor": 0}})
        );
        assert_eq!(
            value(&endpoint_settings("wharf-1", "n-1")),
            json!({"Name": "wharf-1", "HostComputeNetwork": "n-1", "SchemaVersion": {"Major": 2, "Minor": 0}})
        );
        assert_eq!(
            value(&add_endpoint_request("e-1")),
            json!({"ResourceType": "Endpoint", "RequestType": "Add", "Settings": {"EndpointId": "e-1"}})
        );
    }

    #[test]
    fn hcn_keys_are_hcsshim_members() {
        let tags = crate::documents::tests::schema2_tags();
        for (ty, document) in [
            ("HostComputeQuery", network_query("nat")),
            ("HostComputeNamespace", namespace_settings()),
            ("HostComputeEndpoint", endpoint_settings("e", "n")),
            ("ModifyNamespaceSettingRequest", add_endpoint_request("e")),
        ] {
            let value = value(&document);
            let mut keys: Vec<&String> = value.as_object().unwrap().keys().collect();
            keys.sort();
            let mut listed: Vec<&String> = tags[ty].iter().collect();
            listed.sort();
            assert_eq!(keys, listed, "{ty}");
        }
    }

    /// A recording fake of [`HcnApi`].
    #[derive(Default)]
    struct FakeHcn {
        calls: Vec<String>,
        fail: Option<&'static str>,
        networks: Option<&'static str>,
    }

    impl FakeHcn {
        fn call(&mut self, name: &'static str, detail: &str) -> Result<(), ApiError> {
            self.calls.push(format!("{name} {detail}"));
            if self.fail == Some(name) {
                return Err(ApiError::new(name, 0x8000_4005));
            }
            Ok(())
        }
    }

    impl HcnApi for FakeHcn {
        fn enumerate_networks(&mut self, query: &str) -> Result<String, ApiError> {
            self.call("enumerate_networks", query)?;
            Ok(self.networks.unwrap_or(r#"["n-1"]"#).to_owned())
        }
        fn create_namespace(&mut self, settings: &str) -> Result<String, ApiError> {
            self.call("create_namespace", settings)?;
            Ok(r#"{"ID":"ns-1","Type":"Guest"}"#.to_owned())
        }
        fn create_endpoint(&mut self, network: &str, settings: &str) -> Result<String, ApiError> {
            self.call("create_endpoint", &format!("{network} {settings}"))?;
            Ok(r#"{"ID":"ep-1"}"#.to_owned())
        }
        fn modify_namespace(&mut self, namespace: &str, request: &str) -> Result<(), ApiError> {
            self.call("modify_namespace", &format!("{namespace} {request}"))
        }
        fn delete_endpoint(&mut self, endpoint: &str) -> Result<(), ApiError> {
            self.call("delete_endpoint", endpoint)
        }
        fn delete_namespace(&mut self, namespace: &str) -> Result<(), ApiError> {
            self.call("delete_namespace", namespace)
        }
    }

    fn names(api: &FakeHcn) -> Vec<&str> {
        api.calls
            .iter()
            .map(|c| c.split(' ').next().unwrap())
            .collect()
    }

    #[test]
    fn attach_and_detach_in_order() {
        let mut api = FakeHcn::default();
        let held = attach_nat(&mut api, "wharf-7").unwrap();
        assert_eq!(
            held,
            NatAttachment {
                namespace: "ns-1".into(),
                endpoint: "ep-1".into()
            }
        );
        assert_eq!(
            names(&api),
            [
                "enumerate_networks",
                "create_namespace",
                "create_endpoint",
                "modify_namespace"
            ]
        );
        assert!(api.calls[2].starts_with("create_endpoint n-1 "));
        assert!(api.calls[3].starts_with("modify_namespace ns-1 "));
        assert!(api.calls[3].contains("\"EndpointId\":\"ep-1\""));
        api.calls.clear();
        assert!(detach(&mut api, &held).is_empty());
        assert_eq!(api.calls, ["delete_endpoint ep-1", "delete_namespace ns-1"]);
    }

    #[test]
    fn a_failure_at_each_step_deletes_what_was_created() {
        let cases: [(&str, &[&str]); 4] = [
            ("enumerate_networks", &[]),
            ("create_namespace", &[]),
            ("create_endpoint", &["delete_namespace"]),
            ("modify_namespace", &["delete_endpoint", "delete_namespace"]),
        ];
        for (failing, teardown) in cases {
            let mut api = FakeHcn {
                fail: Some(failing),
                ..Default::default()
            };
            let failure = attach_nat(&mut api, "w").unwrap_err();
            assert!(
                matches!(failure.error, NetworkError::Call { .. }),
                "{failing}"
            );
            assert!(failure.teardown.is_empty(), "{failing}");
            let calls = names(&api);
            let at = calls.iter().position(|c| *c == failing).unwrap();
            assert_eq!(&calls[at + 1..], teardown, "after failing {failing}");
        }
        // A teardown failure is reported and the next step still runs.
        let mut api = FakeHcn {
            fail: Some("delete_endpoint"),
            ..Default::default()
        };
        let held = attach_nat(&mut api, "w").unwrap();
        let errors = detach(&mut api, &held);
        assert_eq!(errors.len(), 1);
        assert_eq!(names(&api).last(), Some(&"delete_namespace"));
    }

    #[test]
    fn no_nat_network_says_what_to_do() {
        let mut api = FakeHcn {
            networks: Some("[]"),
            ..Default::default()
        };
        let failure = attach_nat(&mut api, "w").unwrap_err();
        assert_eq!(failure.error, NetworkError::NoNatNetwork);
        assert!(failure.to_string().contains("--network=none"));
        assert_eq!(names(&api), ["enumerate_networks"]);
        let mut api = FakeHcn {
            networks: Some("{}"),
            ..Default::default()
        };
        assert!(matches!(
            attach_nat(&mut api, "w").unwrap_err().error,
            NetworkError::Unreadable { .. }
        ));
    }
}
