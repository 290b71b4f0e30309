//! WORKDIR makes its directory, as BuildKit does, with no RUN after it:
//! missing parents too, owned by the stage's USER (Linux), one layer, no
//! layer when the directory is there, cached like any step; in Windows
//! stages too, spelled as the stage's earlier layers spell it.

mod common;

use common::*;
use std::fs;
use wharf_build::*;
use wharf_layer::windows::sddl::with_owner;
use wharf_layer::{Timestamp, WinMeta};
use wharf_oci::Descriptor;
use wharf_store::Store;

/// `(name, uid, gid, mode, mtime)` of each entry of a stored layer.
fn owners(store: &Store, d: &Descriptor) -> Vec<(String, u64, u64, u32, u64)> {
    let f = fs::File::open(store.blob_path(&d.digest)).unwrap();
    let r = wharf_layer::decompress(f, 1 << 30, "test layer").unwrap();
    let mut a = tar::Archive::new(r);
    a.entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let h = e.header();
            (
                e.path().unwrap().to_string_lossy().to_string(),
                h.uid().unwrap(),
                h.gid().unwrap(),
                h.mode().unwrap(),
                h.mtime().unwrap(),
            )
        })
        .collect()
}

fn linux_build(f: &Fixture, df: &str) -> BuildOutput {
    run_build(
        &config(&f.store, false),
        &request(&f.context, df),
        &NoRegistry,
    )
    .0
}

fn build_error(f: &Fixture, df: &str) -> String {
    Builder::new(config(&f.store, false))
        .build(&request(&f.context, df), &NoRegistry, &mut |_| {})
        .unwrap_err()
        .to_string()
}

#[test]
fn linux_workdir_makes_missing_directories_owned_by_the_user() {
    let f = fixture();
    fs::create_dir_all(f.context.join("etc")).unwrap();
    fs::write(
        f.context.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n",
    )
    .unwrap();
    fs::write(f.context.join("etc/group"), "root:x:0:\napp:x:1001:\n").unwrap();
    let df = "FROM scratch\nCOPY etc/ /etc/\nCOPY app/ /srv/www/\nUSER app\n\
              WORKDIR /srv/app/logs\nWORKDIR /srv/www\nWORKDIR ../app\nCMD [\"/x\"]\n";
    let (out, events) = run_build(
        &config(&f.store, false),
        &request(&f.context, df),
        &NoRegistry,
    );
    let img = &out.images[0];
    assert_eq!(img.config.config.working_dir, "/srv/app");
    // COPY, COPY, WORKDIR /srv/app/logs; the two others find a directory.
    assert_eq!(img.layers.len(), 3);
    let empty: Vec<bool> = img.config.history.iter().map(|h| h.empty_layer).collect();
    assert_eq!(empty, [false, false, true, false, true, true, true]);
    let entries = owners(&f.store, &img.layers[2].descriptor);
    // /srv exists (the COPY before implies it, root's); the rest is new
    // and belongs to app, 0755, at SOURCE_DATE_EPOCH.
    assert_eq!(
        entries,
        [
            ("srv/app/".to_string(), 1000, 1001, 0o755, EPOCH),
            ("srv/app/logs/".to_string(), 1000, 1001, 0o755, EPOCH),
        ]
    );
    assert_eq!(step_cache_hits(&events, "WORKDIR"), [false, false, false]);

    // Built again: every step from the cache, the same image.
    let (again, events) = run_build(
        &config(&f.store, false),
        &request(&f.context, df),
        &NoRegistry,
    );
    assert_eq!(again.images[0].manifest.digest, img.manifest.digest);
    assert_eq!(step_cache_hits(&events, "WORKDIR"), [true, true, true]);
}

#[test]
fn linux_workdir_as_root_and_onto_a_file() {
    let f = fixture();
    let df = "FROM scratch\nCOPY README.md /data/\nWORKDIR /data/README.md/x\n";
    let err = build_error(&f, df);
    assert!(err.contains("Dockerfile:3"), "{err}");
    assert!(err.contains("/data/README.md is not a directory"), "{err}");

    // No USER: root's; no COPY before: every directory is new.
    let df = "FROM scratch\nWORKDIR /opt/tool\n";
    let out = linux_build(&f, df);
    let img = &out.images[0];
    assert_eq!(img.layers.len(), 1);
    assert_eq!(
        owners(&f.store, &img.layers[0].descriptor),
        [
            ("opt/".to_string(), 0, 0, 0o755, EPOCH),
            ("opt/tool/".to_string(), 0, 0, 0o755, EPOCH),
        ]
    );

    // A USER the stage does not know is refused, naming the fix.
    let df = "FROM scratch\nUSER nobody\nWORKDIR /opt/tool\n";
    let err = build_error(&f, df);
    assert!(err.contains("Dockerfile:3"), "{err}");
    assert!(err.contains("no user nobody"), "{err}");

    // WORKDIR / makes nothing and has no layer.
    let df = "FROM scratch\nCOPY README.md /\nWORKDIR /\n";
    let out = linux_build(&f, df);
    assert_eq!(out.images[0].layers.len(), 1);
}

/// Links in the path resolve inside the stage (a context symlink needs a
/// Unix host to be made).
#[cfg(unix)]
#[test]
fn linux_workdir_through_a_link() {
    let f = fixture();
    // Links in the path resolve inside the stage.
    fs::create_dir_all(f.context.join("var")).unwrap();
    std::os::unix::fs::symlink("/run", f.context.join("var/run")).unwrap();
    let df = "FROM scratch\nCOPY var/ /var/\nWORKDIR /var/run/app\n";
    let out = linux_build(&f, df);
    let img = &out.images[0];
    assert_eq!(img.config.config.working_dir, "/var/run/app");
    assert_eq!(
        owners(&f.store, &img.layers[1].descriptor),
        [
            ("run/".to_string(), 0, 0, 0o755, EPOCH),
            ("run/app/".to_string(), 0, 0, 0o755, EPOCH),
        ]
    );
}

#[test]
fn windows_workdir_makes_its_directory_without_the_base() {
    let f = fixture();
    let df = "# escape=`\nFROM mcr.microsoft.com/windows/nanoserver:ltsc2022\n\
              WORKDIR C:\\tools\\bin\nCOPY app/ C:\\App\\\nWORKDIR C:\\APP\\static\n\
              WORKDIR c:\\app\\logs\n";
    let resolver = WindowsBases {
        layers: vec![absent_base_layer()],
    };
    let (out, events) = run_build(
        &config(&f.store, false),
        &request(&f.context, df),
        &resolver,
    );
    let img = &out.images[0];
    assert!(!img.layers_present(&f.store), "the base is not downloaded");
    assert_eq!(img.config.config.working_dir, "C:\\app\\logs");
    // Base, WORKDIR C:\tools\bin, COPY; C:\APP\static is the COPY's;
    // C:\app\logs is new.
    assert_eq!(img.layers.len(), 4);
    let tools = layer_names(&f.store, &img.layers[1].descriptor);
    assert!(tools.contains(&"Files/tools/bin".to_string()), "{tools:?}");
    check_windows_layer(&f.store, &img.layers[1].descriptor);
    let logs = layer_names(&f.store, &img.layers[3].descriptor);
    // Spelled as the COPY spelled it: one name per directory.
    assert!(logs.contains(&"Files/App/logs".to_string()), "{logs:?}");
    assert!(!logs.iter().any(|n| n.starts_with("Files/app")), "{logs:?}");
    check_windows_layer(&f.store, &img.layers[3].descriptor);
    let empty: Vec<bool> = img.config.history[img.config.history.len() - 4..]
        .iter()
        .map(|h| h.empty_layer)
        .collect();
    assert_eq!(empty, [false, false, true, false]);
    assert_eq!(step_cache_hits(&events, "WORKDIR"), [false, false, false]);
    // The new directories belong to the base's USER (ContainerUser), as
    // BuildKit's Windows Mkdir makes them; the COPY's `App` keeps its own.
    let default = WinMeta::default_dir(Timestamp::from_secs(EPOCH)).security_descriptor;
    let container_user = with_owner(&default, "S-1-5-93-2-2").unwrap();
    let made = windows_dir_meta(&f.store, &img.layers[1].descriptor);
    for name in ["Files/tools", "Files/tools/bin"] {
        let d = made.iter().find(|d| d.0 == name).unwrap();
        assert_eq!(d.1, container_user, "{name}");
    }
    let made = windows_dir_meta(&f.store, &img.layers[3].descriptor);
    assert_eq!(
        made.iter().find(|d| d.0 == "Files/App/logs").unwrap().1,
        container_user
    );
    assert_ne!(
        made.iter().find(|d| d.0 == "Files/App").unwrap().1,
        container_user
    );
}

#[test]
fn windows_workdir_for_an_account_it_cannot_name_warns() {
    let f = fixture();
    let df = "FROM mcr.microsoft.com/windows/nanoserver:ltsc2022
USER builder
WORKDIR C:/work
";
    let resolver = WindowsBases {
        layers: vec![absent_base_layer()],
    };
    let (out, events) = run_build(
        &config(&f.store, false),
        &request(&f.context, df),
        &resolver,
    );
    let warned = events.iter().any(|e| {
        matches!(e, BuildEvent::Warning { message, .. }
            if message.contains("Dockerfile:3") && message.contains("account builder"))
    });
    assert!(warned, "{events:?}");
    // A cached WORKDIR tells its warning again.
    let (_, again) = run_build(
        &config(&f.store, false),
        &request(&f.context, df),
        &resolver,
    );
    assert_eq!(step_cache_hits(&again, "WORKDIR"), [true]);
    assert!(again
        .iter()
        .any(|e| matches!(e, BuildEvent::Warning { message, .. }
        if message.contains("account builder"))));
    let img = &out.images[0];
    let made = windows_dir_meta(&f.store, &img.layers[1].descriptor);
    let default = WinMeta::default_dir(Timestamp::from_secs(EPOCH)).security_descriptor;
    assert_eq!(
        made.iter().find(|d| d.0 == "Files/work").unwrap().1,
        default
    );
}

/// A directory only WORKDIR made crosses OS with its stage, both ways.
#[test]
fn workdir_directories_cross_os_both_directions() {
    let f = fixture();
    let base = stored_base_layer(&f.store);
    let resolver = WindowsBases { layers: vec![base] };
    let df = concat!(
        "# escape=`\n",
        "FROM scratch AS linuxfiles\n",
        "WORKDIR /srv/logs\n",
        "FROM mcr.microsoft.com/windows/nanoserver:ltsc2022 AS win\n",
        "COPY --from=linuxfiles /srv/ C:\\srv\\\n",
        "WORKDIR C:\\data\\cache\n",
        "FROM scratch\n",
        "COPY --from=win /data/ /data/\n",
    );
    // Linux → Windows: the empty directory is in the COPY's layer.
    let mut req = request(&f.context, df);
    req.options.target = Some("win".into());
    let (out, _) = run_build(&config(&f.store, false), &req, &resolver);
    let win = &out.images[0];
    assert_eq!(win.layers.len(), 3, "base, COPY --from, WORKDIR");
    let copied = layer_names(&f.store, &win.layers[1].descriptor);
    assert!(copied.contains(&"Files/srv/logs".to_string()), "{copied:?}");
    let made = layer_names(&f.store, &win.layers[2].descriptor);
    assert!(made.contains(&"Files/data/cache".to_string()), "{made:?}");
    check_windows_layer(&f.store, &win.layers[2].descriptor);

    // Windows → Linux: the final stage copies what WORKDIR made.
    let (out, _) = run_build(
        &config(&f.store, false),
        &request(&f.context, df),
        &resolver,
    );
    let lin = &out.images[0];
    assert_eq!(lin.platform.os, "linux");
    let names = layer_names(&f.store, &lin.layers[0].descriptor);
    assert!(names.contains(&"data/cache".to_string()), "{names:?}");
}
