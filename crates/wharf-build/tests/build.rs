//! The builder end to end on the local store: Linux images from scratch,
//! Windows images on a (synthetic) resolved base without downloading its
//! layers, COPY --from in both OS directions, the cache, reproducibility,
//! and positioned errors.

mod common;

use common::*;
use std::fs;
use std::path::Path;
use wharf_build::*;

#[test]
fn linux_image_from_scratch() {
    let f = fixture();
    let df = "FROM scratch\nCOPY app/ /srv/app/\nCOPY README.md /\nENV MODE=prod\nWORKDIR /srv/app\nEXPOSE 8080\nCMD [\"/srv/app/server\"]\n";
    let (out, events) = run_build(
        &config(&f.store, false),
        &request(&f.context, df),
        &NoRegistry,
    );
    assert_eq!(out.images.len(), 1);
    assert!(out.index.is_none());
    let img = &out.images[0];
    assert_eq!(img.platform.to_string(), "linux/amd64");
    assert_eq!(img.layers.len(), 2);
    let c = &img.config;
    assert_eq!(c.rootfs.diff_ids.len(), 2);
    assert_eq!(c.history.len(), 6, "one history entry per instruction");
    let empty: Vec<bool> = c.history.iter().map(|h| h.empty_layer).collect();
    assert_eq!(empty, vec![false, false, true, true, true, true]);
    assert_eq!(c.created.as_deref(), Some("2023-11-14T22:13:20Z"));
    assert_eq!(c.config.env, vec!["MODE=prod"]);
    assert_eq!(c.config.working_dir, "/srv/app");
    assert_eq!(c.config.labels["built.by"], "wharf-tests");
    assert!(c.config.exposed_ports.contains_key("8080/tcp"));
    let first = layer_entries(&f.store, &img.layers[0].descriptor);
    let names: Vec<&str> = first.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        // No entries for /srv and /srv/app: unpacking makes them (and an
        // image that has them keeps their owner and mode).
        vec![
            "srv/app/server.conf",
            "srv/app/static/",
            "srv/app/static/index.html"
        ]
    );
    assert_eq!(first[0].1, "port=8080\n");
    // The manifest and config are in the store, as the descriptors say.
    assert!(img.layers_present(&f.store));
    let manifest: serde_json::Value =
        serde_json::from_slice(&fs::read(f.store.blob_path(&img.manifest.digest)).unwrap())
            .unwrap();
    assert_eq!(manifest["layers"].as_array().unwrap().len(), 2);
    assert_eq!(
        manifest["config"]["digest"],
        img.config_descriptor.digest.to_string()
    );
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, BuildEvent::Step { .. }))
            .count(),
        6
    );
}

#[test]
fn windows_copy_only_build_references_base_layers_without_downloading() {
    let f = fixture();
    let df = "# escape=`\nFROM mcr.microsoft.com/windows/nanoserver:ltsc2022\nCOPY --chown=ContainerAdministrator app/ C:\\app\\\nWORKDIR C:\\app\nCMD [\"server.exe\"]\n";
    let resolver = WindowsBases {
        layers: vec![absent_base_layer()],
    };
    let (out, _) = run_build(
        &config(&f.store, false),
        &request(&f.context, df),
        &resolver,
    );
    let img = &out.images[0];
    assert_eq!(img.platform.os, "windows");
    assert_eq!(img.platform.os_version.as_deref(), Some("10.0.20348.2113"));
    assert_eq!(
        img.manifest
            .platform
            .as_ref()
            .unwrap()
            .os_version
            .as_deref(),
        Some("10.0.20348.2113")
    );
    assert_eq!(img.config.os_version.as_deref(), Some("10.0.20348.2113"));
    assert_eq!(img.config.config.working_dir, "C:\\app");
    assert_eq!(
        img.config.config.user, "ContainerUser",
        "inherited from the base"
    );
    assert_eq!(img.layers.len(), 2);
    // The base layer is referenced as the registry described it, never fetched.
    assert_eq!(img.layers[0], absent_base_layer());
    assert!(!img.layers_present(&f.store));
    assert_eq!(img.config.rootfs.diff_ids[0], absent_base_layer().diff_id);
    assert_eq!(
        img.config.history.len(),
        4,
        "base history plus one entry per instruction"
    );
    let app = &img.layers[1].descriptor;
    check_windows_layer(&f.store, app);
    let names: Vec<String> = layer_names(&f.store, app);
    assert!(
        names.contains(&"Files/app/static/index.html".to_string()),
        "{names:?}"
    );
}

#[test]
fn cross_os_both_directions() {
    let f = fixture();
    let base = stored_base_layer(&f.store);
    let resolver = WindowsBases { layers: vec![base] };
    // Linux → Windows.
    let df = concat!(
        "# escape=`\n",
        "FROM scratch AS linuxfiles\n",
        "COPY app/ /opt/app/\n",
        "FROM mcr.microsoft.com/windows/nanoserver:ltsc2022 AS win\n",
        "COPY --from=linuxfiles /opt/app/ C:\\app\\\n",
        "COPY README.md C:\\docs\\\n",
        "FROM scratch\n",
        "COPY --from=win /app/server.conf /etc/server.conf\n",
        "COPY --from=win C:\\Windows\\System32\\config\\SYSTEM /hives/\n",
    );
    let mut req = request(&f.context, df);
    req.options.target = Some("win".into());
    let (out, _) = run_build(&config(&f.store, false), &req, &resolver);
    let win = &out.images[0];
    assert_eq!(win.platform.os, "windows");
    let l = &win.layers[1].descriptor;
    check_windows_layer(&f.store, l);
    let entries = layer_entries(&f.store, l);
    let conf = entries
        .iter()
        .find(|(n, _)| n == "Files/app/server.conf")
        .unwrap();
    assert_eq!(conf.1, "port=8080\n");

    // Windows → Linux: the final Linux stage reads the Windows stage.
    let req = request(&f.context, df);
    let (out, _) = run_build(&config(&f.store, false), &req, &resolver);
    let lin = &out.images[0];
    assert_eq!(lin.platform.os, "linux");
    assert_eq!(lin.layers.len(), 2);
    let a = layer_entries(&f.store, &lin.layers[0].descriptor);
    assert!(
        a.iter()
            .any(|(n, b)| n == "etc/server.conf" && b == "port=8080\n"),
        "{a:?}"
    );
    let b = layer_entries(&f.store, &lin.layers[1].descriptor);
    assert!(
        b.iter()
            .any(|(n, body)| n == "hives/SYSTEM" && body == "regf"),
        "{b:?}"
    );
}

#[test]
fn cache_hits_and_misses_and_reproducible_digests() {
    let f = fixture();
    let df =
        "FROM scratch\nCOPY app/ /app/\nCOPY README.md /\nCOPY app/server.conf /etc/\nLABEL v=1\n";
    let req = request(&f.context, df);
    let (first, events1) = run_build(&config(&f.store, false), &req, &NoRegistry);
    assert!(events1
        .iter()
        .all(|e| !matches!(e, BuildEvent::Step { cached: true, .. })));
    // On a store that never made such a step, each COPY hashed its files
    // while writing them and marked its step's prefix; the keys it made
    // are the ones the next build computes before looking them up.
    let seen = fs::read_dir(f.store.root().join("wharf-cache"))
        .unwrap()
        .filter(|e| {
            let name = e.as_ref().unwrap().file_name();
            let name = name.to_string_lossy();
            name.starts_with("prefix-") && name.ends_with(".seen")
        })
        .count();
    assert_eq!(seen, 3);
    let (second, events2) = run_build(&config(&f.store, false), &req, &NoRegistry);
    let cached: Vec<bool> = copy_cache_hits(&events2);
    assert_eq!(cached, vec![true, true, true]);
    assert_eq!(
        first.images[0].manifest.digest,
        second.images[0].manifest.digest
    );

    // No cache at all: the same bytes again (SOURCE_DATE_EPOCH is set).
    let (third, _) = run_build(&config(&f.store, true), &req, &NoRegistry);
    assert_eq!(
        first.images[0].manifest.digest,
        third.images[0].manifest.digest
    );

    // A changed file invalidates its COPY and what follows, not what precedes.
    fs::write(f.context.join("README.md"), "changed\n").unwrap();
    let (fourth, events4) = run_build(&config(&f.store, false), &req, &NoRegistry);
    let cached: Vec<bool> = copy_cache_hits(&events4);
    assert_eq!(cached, vec![true, false, false]);
    assert_ne!(
        first.images[0].manifest.digest,
        fourth.images[0].manifest.digest
    );
}

#[test]
fn three_platforms_give_an_index() {
    let f = fixture();
    let df = "# escape=`\nFROM --platform=$TARGETPLATFORM mcr.microsoft.com/windows/nanoserver:ltsc2022\nCOPY app/ C:\\app\\\n";
    let mut req = request(&f.context, df);
    req.options.platforms = ["windows/amd64:10.0.17763", "windows/amd64:10.0.20348"]
        .iter()
        .map(|p| p.parse().unwrap())
        .collect();
    let resolver = WindowsBases {
        layers: vec![absent_base_layer()],
    };
    let (out, events) = run_build(&config(&f.store, false), &req, &resolver);
    assert_eq!(out.images.len(), 2);
    // Built once: the other Windows version takes the layer from the
    // cache (the two targets build at the same time, so either may be
    // the one that builds it).
    let mut copies: Vec<bool> = copy_cache_hits(&events);
    copies.sort();
    assert_eq!(copies, vec![false, true]);
    let index = out.index.as_ref().unwrap();
    let doc: serde_json::Value =
        serde_json::from_slice(&fs::read(f.store.blob_path(&index.digest)).unwrap()).unwrap();
    assert_eq!(doc["manifests"].as_array().unwrap().len(), 2);
    assert_eq!(doc["manifests"][0]["platform"]["os"], "windows");
    // The app layer is built once and shared by both images.
    assert_eq!(out.images[0].layers[1], out.images[1].layers[1]);
}

#[test]
fn heredoc_sources_become_files() {
    let f = fixture();
    let df = "FROM scratch\nARG WHO=world\nCOPY <<hello.txt <<'raw.txt' README.md /etc/greet/\nhello $WHO\nhello.txt\nhello $WHO\nraw.txt\nCOPY <<EOF /single.conf\nkey=value\nEOF\n";
    let (out, _) = run_build(
        &config(&f.store, false),
        &request(&f.context, df),
        &NoRegistry,
    );
    let img = &out.images[0];
    let first = layer_entries(&f.store, &img.layers[0].descriptor);
    let get = |n: &str| {
        first
            .iter()
            .find(|(name, _)| name == n)
            .map(|(_, b)| b.clone())
    };
    assert_eq!(get("etc/greet/hello.txt").as_deref(), Some("hello world\n"));
    assert_eq!(get("etc/greet/raw.txt").as_deref(), Some("hello $WHO\n"));
    assert_eq!(get("etc/greet/README.md").as_deref(), Some("readme\n"));
    let second = layer_entries(&f.store, &img.layers[1].descriptor);
    assert_eq!(
        second,
        vec![("single.conf".to_string(), "key=value\n".to_string())]
    );
}

fn pkg_archive(ctx: &Path) {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in [
        ("bin/tool", &b"#!/bin/sh\necho tool\n"[..]),
        ("share/doc.txt", b"doc\n"),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o755);
        h.set_cksum();
        b.append_data(&mut h, name, data).unwrap();
    }
    let tar = b.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &tar).unwrap();
    fs::write(ctx.join("pkg.tar.gz"), gz.finish().unwrap()).unwrap();
}

#[test]
fn add_extracts_local_archives() {
    let f = fixture();
    pkg_archive(&f.context);
    let df =
        "FROM scratch\nADD pkg.tar.gz /opt/pkg/\nADD --unpack=false pkg.tar.gz /dist/pkg.tar.gz\n";
    let (out, _) = run_build(
        &config(&f.store, false),
        &request(&f.context, df),
        &NoRegistry,
    );
    let img = &out.images[0];
    let first = layer_entries(&f.store, &img.layers[0].descriptor);
    let names: Vec<&str> = first.iter().map(|(n, _)| n.as_str()).collect();
    assert!(names.contains(&"opt/pkg/bin/tool"), "{names:?}");
    assert!(names.contains(&"opt/pkg/share/doc.txt"), "{names:?}");
    let second = layer_entries(&f.store, &img.layers[1].descriptor);
    assert!(
        second.iter().any(|(n, _)| n == "dist/pkg.tar.gz"),
        "{second:?}"
    );

    // Into a Windows stage: Windows layer rules hold for extracted entries.
    let resolver = WindowsBases {
        layers: vec![absent_base_layer()],
    };
    let df = "# escape=`\nFROM mcr.microsoft.com/windows/nanoserver:ltsc2022\nADD pkg.tar.gz C:\\tools\\\n";
    let (out, _) = run_build(
        &config(&f.store, false),
        &request(&f.context, df),
        &resolver,
    );
    let layer = &out.images[0].layers[1].descriptor;
    check_windows_layer(&f.store, layer);
    let names: Vec<String> = layer_names(&f.store, layer);
    assert!(
        names.contains(&"Files/tools/bin/tool".to_string()),
        "{names:?}"
    );
}

#[test]
fn chown_by_name_reads_the_stage_users() {
    let f = fixture();
    fs::create_dir_all(f.context.join("etc")).unwrap();
    fs::write(
        f.context.join("etc/passwd"),
        "root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n",
    )
    .unwrap();
    fs::write(
        f.context.join("etc/group"),
        "root:x:0:\nstaff:x:50:\napp:x:1000:\n",
    )
    .unwrap();
    let df = "FROM scratch AS users\nCOPY etc/ /etc/\nFROM users\nCOPY --chown=app:staff README.md /home/app/\n";
    let (out, _) = run_build(
        &config(&f.store, false),
        &request(&f.context, df),
        &NoRegistry,
    );
    let layer = &out.images[0].layers[1].descriptor;
    let file = fs::File::open(f.store.blob_path(&layer.digest)).unwrap();
    let mut a = tar::Archive::new(wharf_layer::decompress(file, 1 << 30, "t").unwrap());
    let owners: Vec<(String, u64, u64)> = a
        .entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.path().unwrap().to_string_lossy().to_string(),
                e.header().uid().unwrap(),
                e.header().gid().unwrap(),
            )
        })
        .collect();
    assert!(
        owners.contains(&("home/app/README.md".to_string(), 1000, 50)),
        "{owners:?}"
    );
}

#[test]
fn packing_reports_progress() {
    let f = fixture();
    fs::write(f.context.join("big.bin"), vec![0u8; 40 << 20]).unwrap();
    let df = "FROM scratch\nCOPY big.bin /big.bin\n";
    let (_, events) = run_build(
        &config(&f.store, true),
        &request(&f.context, df),
        &NoRegistry,
    );
    let packed: Vec<u64> = events
        .iter()
        .filter_map(|e| match e {
            BuildEvent::LayerProgress { line: 2, bytes, .. } => Some(*bytes),
            _ => None,
        })
        .collect();
    assert_eq!(packed, vec![40 << 20]);
}

#[test]
fn positioned_errors() {
    let f = fixture();
    let cases: &[(&str, &str)] = &[
        (
            "FROM scratch\nCOPY missing.txt /x\n",
            "Dockerfile:2: COPY: missing.txt: not found in the build context",
        ),
        (
            "FROM scratch\nRUN echo hi\n",
            "Dockerfile:2: RUN in stage #0",
        ),
        (
            "FROM scratch\nADD https://example.com/a.tgz /a\n",
            "Dockerfile:2: ADD https://example.com/a.tgz: this build has no network access",
        ),
        (
            "FROM scratch\nCOPY --chown=someone app /app\n",
            "Dockerfile:2: --chown someone",
        ),
        (
            "FROM busybox\nCOPY app /app\n",
            "Dockerfile:1: FROM busybox: cannot resolve busybox",
        ),
        (
            "FROM scratch\nCOPY --from=tools:1 /bin/tool /tool\n",
            "Dockerfile:2: COPY reading image tools:1: cannot resolve tools:1",
        ),
        (
            "FROM scratch\nRUN --mount=from=tools:1,target=/t true\n",
            "Dockerfile:2: RUN --mount reading image tools:1: cannot resolve tools:1",
        ),
        (
            "FROM scratch\nCOPY ../outside /x\n",
            "the path leaves the build context",
        ),
    ];
    for (df, expected) in cases {
        let mut req = request(&f.context, df);
        req.options.run_platforms = None;
        let e = Builder::new(config(&f.store, false))
            .build(&req, &NoRegistry, &mut |_| {})
            .unwrap_err()
            .to_string();
        assert!(e.contains(expected), "{df:?}: {e}");
    }
}

#[test]
fn unexported_stages_keep_plain_layers_and_an_exported_stage_adopts_them() {
    let f = fixture();
    let df = "FROM scratch AS build\nCOPY app/ /src/\nFROM build AS mid\nCOPY README.md /\nFROM scratch\nCOPY --from=mid /src/server.conf /etc/\n";
    let cfg = config(&f.store, false);
    let (out, events) = run_build(&cfg, &request(&f.context, df), &NoRegistry);
    assert!(copy_cache_hits(&events).iter().all(|hit| !hit));
    // The image's layer is compressed.
    let img = &out.images[0];
    assert_eq!(img.layers.len(), 1);
    assert!(img.layers[0].descriptor.media_type.ends_with("gzip"));
    // The build stages' layers were stored as plain tars.
    let plain: Vec<String> = fs::read_dir(f.store.root().join("wharf-cache"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with("-tar.json"))
        .collect();
    assert_eq!(plain.len(), 2, "{plain:?}");
    for name in &plain {
        let r: wharf_oci::LayerRef = serde_json::from_slice(
            &fs::read(f.store.root().join("wharf-cache").join(name)).unwrap(),
        )
        .unwrap();
        assert!(r.descriptor.media_type.ends_with(".tar"), "{r:?}");
    }

    // Exporting the middle stage (FROM build) reuses both COPY layers,
    // compressed now, with the same contents (diff_ids).
    let mut req = request(&f.context, df);
    req.options.target = Some("mid".into());
    let (out, events) = run_build(&cfg, &req, &NoRegistry);
    assert_eq!(copy_cache_hits(&events), vec![true, true]);
    let img = &out.images[0];
    assert_eq!(img.layers.len(), 2);
    for l in &img.layers {
        assert!(l.descriptor.media_type.ends_with("gzip"), "{l:?}");
    }
    let names: Vec<String> = layer_entries(&f.store, &img.layers[0].descriptor)
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert!(names.contains(&"src/server.conf".to_string()), "{names:?}");
}

#[test]
fn windows_copy_skips_names_that_differ_only_in_case() {
    let f = fixture();
    fs::create_dir_all(f.context.join("man")).unwrap();
    fs::write(f.context.join("man/PAM.7.gz"), "upper").unwrap();
    fs::write(f.context.join("man/pam.7.gz"), "lower").unwrap();
    let df = "FROM mcr.microsoft.com/windows/nanoserver:ltsc2022\nCOPY man/ C:/man/\n";
    let resolver = WindowsBases {
        layers: vec![absent_base_layer()],
    };
    let (out, events) = run_build(
        &config(&f.store, false),
        &request(&f.context, df),
        &resolver,
    );
    let warning = events
        .iter()
        .find_map(|e| match e {
            BuildEvent::Warning { message: w, .. } if w.contains("only in case") => Some(w.clone()),
            _ => None,
        })
        .expect("a warning names the skipped file");
    assert!(
        warning.contains("pam.7.gz") && warning.contains("Dockerfile:2"),
        "{warning}"
    );
    let app = &out.images[0].layers[1].descriptor;
    check_windows_layer(&f.store, app);
    let names = layer_names(&f.store, app);
    assert!(
        names.contains(&"Files/man/PAM.7.gz".to_string()),
        "{names:?}"
    );
    assert!(
        !names.contains(&"Files/man/pam.7.gz".to_string()),
        "{names:?}"
    );
}

#[test]
fn a_cached_step_tells_its_warnings_again_and_long_lists_are_summarised() {
    let f = fixture();
    fs::create_dir_all(f.context.join("names")).unwrap();
    for i in 0..8 {
        fs::write(f.context.join(format!("names/part:{i}")), "x").unwrap();
    }
    fs::write(f.context.join("names/fine.txt"), "ok").unwrap();
    let df = "FROM scratch AS files\nCOPY names/ /names/\nFROM mcr.microsoft.com/windows/nanoserver:ltsc2022\nCOPY --from=files /names/ C:/names/\n";
    let resolver = WindowsBases {
        layers: vec![absent_base_layer()],
    };
    let skipped = |events: &[BuildEvent]| {
        events
            .iter()
            .filter_map(|e| match e {
                BuildEvent::Warning { message, names } if message.contains("cannot hold") => {
                    Some((message.clone(), names.clone()))
                }
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    let req = request(&f.context, df);
    let (_, first) = run_build(&config(&f.store, false), &req, &resolver);
    let (_, again) = run_build(&config(&f.store, false), &req, &resolver);
    assert_eq!(
        copy_cache_hits(&again),
        vec![true, true],
        "the rebuild is cached"
    );
    let (first, again) = (skipped(&first), skipped(&again));
    assert_eq!(first.len(), 1, "{first:?}");
    assert_eq!(first, again, "the cached step warns as it did when it ran");
    let (message, names) = &first[0];
    assert_eq!(names.len(), 8, "{names:?}");
    assert!(message.starts_with("Dockerfile:4: "), "{message}");
    assert!(message.contains("skipped 8 name(s)"), "{message}");
    assert!(message.contains("and 3 more"), "{message}");
    assert!(
        !message.contains("part:7"),
        "only the first few are listed: {message}"
    );
}

/// The window between a build's end and its tag: a prune in it must wait
/// (the output holds the store lease), so the new blobs survive until
/// tagged; an output dropped untagged leaves them to the next prune.
#[test]
fn prune_waits_until_the_build_output_is_delivered() {
    let f = fixture();
    let df = "FROM scratch\nCOPY app/ /srv/app/\n";
    let (out, _) = run_build(
        &config(&f.store, false),
        &request(&f.context, df),
        &NoRegistry,
    );
    let gc = wharf_store::GcOptions::default();
    // Exactly where the probe's prune ran: built, not yet tagged.
    assert_eq!(f.store.try_gc_with(gc).unwrap(), None);
    let clone = out.clone();
    f.store
        .tag("example.test/leased:1", out.root().unwrap())
        .unwrap();
    drop(out);
    assert_eq!(f.store.try_gc_with(gc).unwrap(), None, "a clone keeps it");
    drop(clone);
    let report = f.store.try_gc_with(gc).unwrap().expect("no lease left");
    assert_eq!(report.removed_blobs, 0, "{report:?}");
    let kept = report.kept_blobs;
    assert!(kept >= 3, "manifest, config and the layer: {report:?}");

    // Built and never tagged: the next prune takes its blobs.
    let df = "FROM scratch\nCOPY README.md /\n";
    let (out, _) = run_build(
        &config(&f.store, true),
        &request(&f.context, df),
        &NoRegistry,
    );
    let layer = out.images[0].layers[0].descriptor.digest.clone();
    drop(out);
    let report = f.store.try_gc_with(gc).unwrap().expect("no lease left");
    assert!(report.removed_blobs >= 3, "{report:?}");
    assert_eq!(f.store.blob_size(&layer), None);
    assert_eq!(report.kept_blobs, kept);
}

#[test]
fn windows_copies_keep_one_spelling_per_path_and_linux_sees_one_directory() {
    let f = fixture();
    fs::create_dir_all(f.context.join("v1/bin")).unwrap();
    fs::write(f.context.join("v1/bin/app.exe"), "v1").unwrap();
    fs::create_dir_all(f.context.join("v2")).unwrap();
    fs::write(f.context.join("v2/App.exe"), "v2").unwrap();
    let df = "FROM mcr.microsoft.com/windows/nanoserver:ltsc2022 AS win\n\
              COPY v1/ C:/app/\n\
              COPY v2/App.exe C:/APP/BIN/\n\
              FROM scratch\n\
              COPY --from=win /app/ /out/\n";
    let resolver = WindowsBases {
        layers: vec![stored_base_layer(&f.store)],
    };
    let mut req = request(&f.context, df);
    req.options.target = Some("win".into());
    let (out, _) = run_build(&config(&f.store, false), &req, &resolver);
    let second = &out.images[0].layers[2].descriptor;
    check_windows_layer(&f.store, second);
    let names = layer_names(&f.store, second);
    // NTFS keeps the first spelling: the file replaces app\bin\app.exe.
    assert!(
        names.contains(&"Files/app/bin/app.exe".to_string()),
        "{names:?}"
    );
    assert!(
        !names.iter().any(|n| n.starts_with("Files/APP")),
        "{names:?}"
    );

    // The stage copied to Linux: one directory, the second COPY's bytes.
    let (out, _) = run_build(
        &config(&f.store, false),
        &request(&f.context, df),
        &resolver,
    );
    let linux = layer_entries(&f.store, &out.images[0].layers[0].descriptor);
    let files: Vec<&(String, String)> = linux.iter().filter(|(_, c)| !c.is_empty()).collect();
    assert_eq!(
        files,
        [&("out/bin/app.exe".to_string(), "v2".to_string())],
        "{linux:?}"
    );
}

/// Layers hold SOURCE_DATE_EPOCH as their files' times: a result made
/// under another epoch is not reused, and a store that built under one
/// epoch gives the image a fresh store gives under another.
#[test]
fn source_date_epoch_is_part_of_every_key() {
    let f = fixture();
    let df = "FROM scratch\nCOPY app/ /app/\nWORKDIR /srv\nCOPY README.md /srv/\n";
    let with_epoch = |store: &wharf_store::Store, epoch: Option<u64>| {
        let mut cfg = config(store, false);
        cfg.source_date_epoch = epoch;
        run_build(&cfg, &request(&f.context, df), &NoRegistry)
    };
    let (first, _) = with_epoch(&f.store, Some(EPOCH));
    let (later, events) = with_epoch(&f.store, Some(EPOCH + 100));
    assert_eq!(copy_cache_hits(&events), [false, false]);
    assert_eq!(step_cache_hits(&events, "WORKDIR"), [false]);
    let fresh = wharf_store::Store::open(f._dir.path().join("fresh")).unwrap();
    let (clean, _) = with_epoch(&fresh, Some(EPOCH + 100));
    assert_eq!(
        later.images[0].manifest.digest,
        clean.images[0].manifest.digest
    );
    assert_ne!(
        first.images[0].manifest.digest,
        later.images[0].manifest.digest
    );
    // The first epoch again: all from the cache.
    let (again, events) = with_epoch(&f.store, Some(EPOCH));
    assert_eq!(copy_cache_hits(&events), [true, true]);
    assert_eq!(
        again.images[0].manifest.digest,
        first.images[0].manifest.digest
    );
    // No epoch: keys without one, reused as before.
    with_epoch(&f.store, None);
    let (_, events) = with_epoch(&f.store, None);
    assert_eq!(copy_cache_hits(&events), [true, true]);
    assert_eq!(step_cache_hits(&events, "WORKDIR"), [true]);
}
