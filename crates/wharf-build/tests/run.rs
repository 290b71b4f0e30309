//! RUN through the builder with a test executor: the executor gets the
//! command and working directory the builder decided, its change becomes
//! the layer and is cached, and a translated Windows command is what the
//! history records.

mod common;

use common::*;
use std::fs;
use wharf_build::*;
use wharf_oci::Platform;

/// A RUN executor for tests: "runs" a command by writing a file holding
/// the command it was given into its upper directory, and counts its
/// calls. On Windows stages it changes nothing.
struct RecordingExecutor(std::sync::atomic::AtomicUsize);

impl wharf_run::RunExecutor for RecordingExecutor {
    fn supports(&self, _: &Platform) -> bool {
        true
    }

    fn lower_form(&self) -> wharf_run::LowerForm {
        wharf_run::LowerForm::SnapshotTrusted
    }

    fn prepare_lower(&self, layer: &wharf_run::LowerLayer<'_>) -> Result<(), wharf_run::RunError> {
        fs::create_dir_all(layer.dest).map_err(|e| wharf_run::RunError::Sandbox(e.to_string()))
    }

    fn run(
        &self,
        spec: &wharf_run::RunSpec<'_>,
    ) -> Result<wharf_run::RunChange, wharf_run::RunError> {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if spec.platform.is_windows() {
            return Ok(wharf_run::RunChange::Nothing);
        }
        let upper = spec.scratch.join("upper");
        fs::create_dir(&upper).unwrap();
        let text = format!("{:?} in {}", spec.command, spec.cwd);
        fs::write(upper.join("ran.txt"), text).unwrap();
        Ok(wharf_run::RunChange::Upper(upper))
    }

    fn cancel_all(&self) {}
}

#[test]
fn run_goes_through_the_executor_and_is_cached() {
    let f = fixture();
    let df = "FROM scratch\nWORKDIR /work\nRUN make all\n";
    let executor = std::sync::Arc::new(RecordingExecutor(Default::default()));
    let build = |no_cache| {
        let mut events = Vec::new();
        let out = Builder::new(config(&f.store, no_cache))
            .with_run_executor(executor.clone())
            .build(&request(&f.context, df), &NoRegistry, &mut |e| {
                events.push(e)
            })
            .unwrap_or_else(|e| panic!("{e}"));
        (out, events)
    };
    let (out, _) = build(false);
    let img = &out.images[0];
    // WORKDIR's directory, then the RUN's change.
    assert_eq!(img.layers.len(), 2);
    assert_eq!(layer_names(&f.store, &img.layers[0].descriptor), ["work/"]);
    let files = layer_entries(&f.store, &img.layers[1].descriptor);
    assert_eq!(
        files,
        vec![(
            "ran.txt".to_string(),
            "Argv([\"/bin/sh\", \"-c\", \"make all\"]) in /work".to_string()
        )]
    );
    assert_eq!(
        img.config.history[1].created_by.as_deref(),
        Some("RUN /bin/sh -c make all")
    );
    assert!(!img.config.history[1].empty_layer);
    let (_, events) = build(false);
    assert!(events.iter().any(
        |e| matches!(e, BuildEvent::Step { text, cached: true, .. } if text.starts_with("RUN"))
    ));
    assert_eq!(
        executor.0.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "the second build used the cache"
    );
}

#[test]
fn a_translated_windows_run_is_what_the_history_records() {
    let f = fixture();
    let base = stored_base_layer(&f.store);
    let resolver = WindowsBases { layers: vec![base] };
    let df = "FROM mcr.microsoft.com/windows/nanoserver:ltsc2022\nRUN apt-get install -y git\n";
    let executor = std::sync::Arc::new(RecordingExecutor(Default::default()));
    let mut req = request(&f.context, df);
    let windows: Platform = "windows/amd64".parse().unwrap();
    req.options.platforms = vec![windows.clone()];
    req.options.run_platforms = Some(vec![windows]);
    let mut events = Vec::new();
    let out = Builder::new(config(&f.store, false))
        .with_run_executor(executor.clone())
        .build(&req, &resolver, &mut |e| events.push(e))
        .unwrap_or_else(|e| panic!("{e}"));
    let img = &out.images[0];
    let ran = img.config.history[1].created_by.clone().unwrap_or_default();
    assert!(ran.starts_with("RUN choco install -y git"), "{ran}");
    assert!(img.config.history[1].empty_layer, "nothing changed");
    assert!(events.iter().any(
        |e| matches!(e, BuildEvent::Note { message: n } if n.contains("RUN ran as: choco install"))
    ));
    // Without translation the command runs as written.
    let out = Builder::new(config(&f.store, true))
        .with_run_executor(executor)
        .with_choco_translation(false)
        .build(&req, &resolver, &mut |_| {})
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        out.images[0].config.history[1].created_by.as_deref(),
        Some("RUN cmd /S /C apt-get install -y git")
    );
}

/// [`WindowsBases`] that counts the layer fetches it is asked for (each
/// would download gigabytes from a registry).
struct CountingBases {
    bases: WindowsBases,
    fetches: std::sync::atomic::AtomicUsize,
}

impl BaseResolver for CountingBases {
    fn resolve(
        &self,
        reference: &wharf_oci::Reference,
        platform: &Platform,
    ) -> Result<ResolvedBase, ResolveError> {
        self.bases.resolve(reference, platform)
    }

    fn fetch_layers(
        &self,
        reference: &wharf_oci::Reference,
        layers: &[wharf_oci::LayerRef],
        store: &wharf_store::Store,
    ) -> Result<(), ResolveError> {
        self.fetches
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.bases.fetch_layers(reference, layers, store)
    }
}

#[test]
fn a_run_the_host_cannot_execute_is_refused_before_any_layer_is_fetched() {
    let f = fixture();
    // The base (10.0.20348) is not in the store: running would fetch it,
    // and so would the COPY --from before the RUN.
    let resolver = CountingBases {
        bases: WindowsBases {
            layers: vec![absent_base_layer()],
        },
        fetches: Default::default(),
    };
    let df = "FROM mcr.microsoft.com/windows/nanoserver:ltsc2022\nCOPY --from=mcr.microsoft.com/windows/nanoserver:ltsc2022 /License.txt /\nRUN echo hi\n";
    let mut req = request(&f.context, df);
    let windows: Platform = "windows/amd64".parse().unwrap();
    req.options.platforms = vec![windows.clone()];
    req.options.run_platforms = Some(vec![windows]);
    let build = |host: &str| {
        let executor = wharf_run::WindowsRunExecutor::new(wharf_run::WindowsRunSettings {
            host_version: Some(host.parse().unwrap()),
            ..Default::default()
        });
        Builder::new(config(&f.store, true))
            .with_run_executor(std::sync::Arc::new(executor))
            .build(&req, &resolver, &mut |_| {})
            .map(|_| ())
            .unwrap_err()
            .to_string()
    };
    let fetches = || resolver.fetches.load(std::sync::atomic::Ordering::SeqCst);

    // An ltsc2019 host cannot run an ltsc2022 base process-isolated.
    let refused = build("10.0.17763.5000");
    assert!(
        refused.starts_with("Dockerfile:3: RUN in stage"),
        "{refused}"
    );
    assert!(refused.contains("build 10.0.17763"), "{refused}");
    assert!(refused.contains("build 10.0.20348.2113"), "{refused}");
    assert!(refused.contains("older than build 20348"), "{refused}");
    assert_eq!(fetches(), 0, "nothing fetched for a refused build");

    // A host that can run it goes on and fetches (the check above is not
    // passing because nothing would have been fetched anyway).
    let failed = build("10.0.26100.1");
    assert!(fetches() > 0, "{failed}");
}

#[test]
fn a_translated_run_without_network_is_warned_about() {
    let f = fixture();
    let base = stored_base_layer(&f.store);
    let resolver = WindowsBases { layers: vec![base] };
    let executor = std::sync::Arc::new(RecordingExecutor(Default::default()));
    let windows: Platform = "windows/amd64".parse().unwrap();
    let build = |df: &str| {
        let mut req = request(&f.context, df);
        req.options.platforms = vec![windows.clone()];
        req.options.run_platforms = Some(vec![windows.clone()]);
        let mut events = Vec::new();
        Builder::new(config(&f.store, true))
            .with_run_executor(executor.clone())
            .build(&req, &resolver, &mut |e| events.push(e))
            .unwrap_or_else(|e| panic!("{e}"));
        events
            .into_iter()
            .filter_map(|e| match e {
                BuildEvent::Warning { message, .. } => Some(message),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    let from = "FROM mcr.microsoft.com/windows/nanoserver:ltsc2022\n";
    let warnings = build(&format!(
        "{from}RUN --network=none apt-get install -y git\n"
    ));
    assert!(
        warnings.iter().any(|w| w.starts_with("Dockerfile:2:")
            && w.contains("Chocolatey")
            && w.contains("--network=none")),
        "{warnings:?}"
    );
    // With a network, or without a translation, nothing to warn about.
    let with_network = build(&format!("{from}RUN apt-get install -y git\n"));
    assert!(
        !with_network.iter().any(|w| w.contains("Chocolatey")),
        "{with_network:?}"
    );
    let untranslated = build(&format!("{from}RUN --network=none echo hi\n"));
    assert!(
        !untranslated.iter().any(|w| w.contains("Chocolatey")),
        "{untranslated:?}"
    );
}
