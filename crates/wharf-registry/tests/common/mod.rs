//! Shared test fixtures: registry clients with short retries; synthetic
//! images, the test HTTP server and the real registry come from
//! `wharf-testkit`.
#![allow(dead_code, unused_imports)] // each test file uses a different part

pub use wharf_testkit::http;
pub use wharf_testkit::registry;

pub use wharf_testkit::images::*;

use std::time::Duration;
use wharf_registry::{ClientOptions, CredentialStore, RegistryClient, RetryPolicy};

pub fn options(credentials: CredentialStore) -> ClientOptions {
    ClientOptions {
        credentials,
        retry: RetryPolicy {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_millis(100),
            max_retry_after: Duration::from_secs(5),
        },
        ..ClientOptions::default()
    }
}

pub fn client(credentials: CredentialStore) -> RegistryClient {
    RegistryClient::new(options(credentials)).expect("client")
}

pub fn anonymous() -> RegistryClient {
    client(CredentialStore::anonymous())
}
