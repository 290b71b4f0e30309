//! The import sequence of Windows lower layers (`windows_host::import_lower`)
//! driven by the recording HCS fake of `wharf-hcs` and a recording fake of
//! the layer-folder operations over real temporary folders: the base path,
//! the non-base path with deletions and links applied afterwards, markers,
//! half-finished imports, a failure at every step, and two builds sharing
//! one import.

#[allow(dead_code)]
#[path = "../../wharf-hcs/tests/fake_api/mod.rs"]
mod fake_api;

use fake_api::FakeApi;
use std::cell::RefCell;
use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use wharf_layer::{BaseLayerSink, BasicInfo};
use wharf_oci::Digest;
use wharf_run::layer_folders::{host_fs, marker_path, LayerFolderOps};
use wharf_run::windows_host::import_lower;
use wharf_run::LowerLayer;

/// The shared call record of the folder fake and its base writer, with
/// the indices of the calls that fail.
#[derive(Default)]
struct Log {
    calls: Vec<String>,
    fail_at: BTreeSet<usize>,
}

fn record(log: &Rc<RefCell<Log>>, call: String) -> io::Result<()> {
    let mut log = log.borrow_mut();
    let index = log.calls.len();
    log.calls.push(call);
    if log.fail_at.contains(&index) {
        return Err(io::Error::other("injected failure"));
    }
    Ok(())
}

/// Real folders, recorded. `create_folder` of a layer folder also creates
/// the directories listed in `imported_dirs` inside it, standing in for
/// what `ImportLayer` (faked) would have put there.
struct FakeFolders {
    log: Rc<RefCell<Log>>,
    imported_dirs: Vec<&'static str>,
}

struct FakeBaseWriter {
    log: Rc<RefCell<Log>>,
}

impl BaseLayerSink for FakeBaseWriter {
    fn create(&mut self, path: &str, directory: bool, _info: &BasicInfo) -> io::Result<()> {
        record(&self.log, format!("base.create {path} dir={directory}"))
    }
    fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        record(&self.log, format!("base.write {}", bytes.len()))
    }
    fn end_file(&mut self) -> io::Result<()> {
        record(&self.log, "base.end_file".into())
    }
    fn link(&mut self, path: &str, target: &str) -> io::Result<()> {
        record(&self.log, format!("base.link {path} -> {target}"))
    }
    fn set_directory_info(&mut self, path: &str, _info: &BasicInfo) -> io::Result<()> {
        record(&self.log, format!("base.directory_info {path}"))
    }
}

fn name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

impl LayerFolderOps for FakeFolders {
    type BaseWriter = FakeBaseWriter;

    fn base_writer(&mut self, root: &Path) -> io::Result<FakeBaseWriter> {
        record(&self.log, format!("base_writer {}", name(root)))?;
        Ok(FakeBaseWriter {
            log: self.log.clone(),
        })
    }
    fn create_folder(&mut self, path: &Path) -> io::Result<()> {
        record(&self.log, format!("create_folder {}", name(path)))?;
        host_fs::create_folder(path)?;
        for dir in &self.imported_dirs {
            std::fs::create_dir_all(path.join(dir))?;
        }
        Ok(())
    }
    fn remove_folder(&mut self, path: &Path) -> io::Result<()> {
        record(&self.log, format!("remove_folder {}", name(path)))?;
        host_fs::remove_folder(path)
    }
    fn remove_relative(&mut self, root: &Path, path: &str) -> io::Result<()> {
        record(&self.log, format!("remove_relative {} {path}", name(root)))?;
        host_fs::remove_relative(root, path)
    }
    fn link_relative(
        &mut self,
        target_root: &Path,
        target: &str,
        root: &Path,
        path: &str,
    ) -> io::Result<()> {
        record(
            &self.log,
            format!(
                "link_relative {} {path} -> {} {target}",
                name(root),
                name(target_root)
            ),
        )?;
        host_fs::link_relative(target_root, target, root, path)
    }
    fn exists_relative(&mut self, root: &Path, path: &str) -> io::Result<bool> {
        record(&self.log, format!("exists_relative {} {path}", name(root)))?;
        host_fs::exists_relative(root, path)
    }
    fn write_marker(&mut self, folder: &Path) -> io::Result<()> {
        record(&self.log, format!("write_marker {}", name(folder)))?;
        host_fs::write_marker(folder)
    }
    fn remove_marker(&mut self, folder: &Path) -> io::Result<()> {
        record(&self.log, format!("remove_marker {}", name(folder)))?;
        host_fs::remove_marker(folder)
    }
    fn is_complete(&mut self, folder: &Path) -> io::Result<bool> {
        record(&self.log, format!("is_complete {}", name(folder)))?;
        host_fs::is_complete(folder)
    }
}

fn tar_of(entries: &[(&str, tar::EntryType, Option<&str>, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, kind, link, data) in entries {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(*kind);
        h.set_mtime(1_700_000_000);
        h.set_size(data.len() as u64);
        h.set_path(path).unwrap();
        if let Some(link) = link {
            h.set_link_name(link).unwrap();
        }
        h.set_cksum();
        b.append(&h, *data).unwrap();
    }
    b.into_inner().unwrap()
}

use tar::EntryType::{Directory as D, Link as L, Regular as R};

fn base_tar() -> Vec<u8> {
    tar_of(&[
        ("Files/", D, None, b""),
        ("Files/a.dll", R, None, b"MZ"),
        ("Files/b.dll", L, Some("Files/a.dll"), b""),
    ])
}

/// Deletes `Files/gone.txt`, links `Files/new.dll` to the parent's
/// `Files/p.dll`, and adds `Files/app.exe`.
fn upper_tar() -> Vec<u8> {
    tar_of(&[
        ("Files/", D, None, b""),
        ("Files/.wh.gone.txt", R, None, b""),
        ("Files/app.exe", R, None, b"MZ"),
        ("Files/new.dll", L, Some("Files/p.dll"), b""),
    ])
}

struct Setup {
    _tmp: tempfile::TempDir,
    area: PathBuf,
    blob: PathBuf,
    digest: Digest,
}

fn setup(tar: Vec<u8>) -> Setup {
    let tmp = tempfile::tempdir().unwrap();
    let area = tmp.path().join("wharf-windows-layers");
    std::fs::create_dir(&area).unwrap();
    let blob = tmp.path().join("blob");
    std::fs::write(&blob, &tar).unwrap();
    Setup {
        digest: Digest::of_bytes(&tar),
        area,
        blob,
        _tmp: tmp,
    }
}

fn folders(imported_dirs: Vec<&'static str>, fail_at: &[usize]) -> FakeFolders {
    FakeFolders {
        log: Rc::new(RefCell::new(Log {
            calls: Vec::new(),
            fail_at: fail_at.iter().copied().collect(),
        })),
        imported_dirs,
    }
}

fn import(
    s: &Setup,
    dest: &Path,
    parents: &[PathBuf],
    api: &mut FakeApi,
    f: &mut FakeFolders,
) -> Result<(), wharf_run::RunError> {
    import_lower(
        api,
        f,
        &LowerLayer {
            blob: &s.blob,
            media_type: "application/vnd.oci.image.layer.v1.tar",
            digest: &s.digest,
            dest,
            staging: &s.area,
            parents,
        },
    )
}

#[test]
fn base_layer_is_written_processed_and_marked() {
    let s = setup(base_tar());
    let dest = s.area.join("base");
    let mut api = FakeApi::new();
    let mut f = folders(Vec::new(), &[]);
    import(&s, &dest, &[], &mut api, &mut f).unwrap();
    assert_eq!(
        f.log.borrow().calls,
        [
            "is_complete base",
            "remove_marker base",
            "remove_folder base",
            "create_folder base",
            "base_writer base",
            "base.create Files dir=true",
            "base.end_file",
            "base.create Files/a.dll dir=false",
            // One BACKUP_DATA header (20 bytes) and "MZ".
            "base.write 22",
            "base.end_file",
            "base.link Files/b.dll -> Files/a.dll",
            "base.directory_info Files",
            "write_marker base",
        ]
    );
    assert_eq!(
        api.calls,
        [format!("process_base_layer {}", dest.display())]
    );
    assert!(marker_path(&dest).is_file());

    // Imported once: the next build uses it as it is.
    let mut api = FakeApi::new();
    let mut f = folders(Vec::new(), &[]);
    import(&s, &dest, &[], &mut api, &mut f).unwrap();
    assert_eq!(f.log.borrow().calls, ["is_complete base"]);
    assert!(api.calls.is_empty());
}

#[test]
fn utility_vm_is_processed_only_when_present() {
    let s = setup(tar_of(&[
        ("Files/", D, None, b""),
        ("UtilityVM/", D, None, b""),
        ("UtilityVM/Files/", D, None, b""),
    ]));
    let dest = s.area.join("base");
    let mut api = FakeApi::new();
    import(&s, &dest, &[], &mut api, &mut folders(Vec::new(), &[])).unwrap();
    assert_eq!(
        api.call_names(),
        ["process_base_layer", "process_utility_vm"]
    );
}

#[test]
fn non_base_layer_is_imported_then_deletions_and_links_applied() {
    let s = setup(upper_tar());
    let parent = s.area.join("parent");
    std::fs::create_dir_all(parent.join("Files")).unwrap();
    std::fs::write(parent.join("Files/p.dll"), b"parent").unwrap();
    let dest = s.area.join("upper");
    let mut api = FakeApi::new();
    let mut f = folders(vec!["Files"], &[]);
    import(&s, &dest, std::slice::from_ref(&parent), &mut api, &mut f).unwrap();
    assert_eq!(
        f.log.borrow().calls,
        [
            "is_complete upper",
            "remove_marker upper",
            "remove_folder upper",
            "create_folder upper",
            "remove_relative upper Files/gone.txt",
            "exists_relative upper Files/p.dll",
            "exists_relative parent Files/p.dll",
            "remove_relative upper Files/new.dll",
            "link_relative upper Files/new.dll -> parent Files/p.dll",
            "write_marker upper",
        ]
    );
    // ImportLayer on a staging folder, with the parent's id; no tombstones.
    assert_eq!(api.call_names(), ["name_to_guid", "import_layer"]);
    assert!(api.calls[1].contains(&format!("{} <- ", dest.display())));
    assert!(api.calls[1].contains(&format!("[{}=", parent.display())));
    assert_eq!(
        std::fs::read(dest.join("Files/new.dll")).unwrap(),
        b"parent"
    );
    assert!(marker_path(&dest).is_file());
}

#[test]
fn a_folder_without_its_marker_is_imported_again() {
    let s = setup(base_tar());
    let dest = s.area.join("base");
    std::fs::create_dir_all(dest.join("Files/leftover")).unwrap();
    let mut api = FakeApi::new();
    let mut f = folders(Vec::new(), &[]);
    import(&s, &dest, &[], &mut api, &mut f).unwrap();
    assert!(!dest.join("Files/leftover").exists());
    assert_eq!(api.call_names(), ["process_base_layer"]);

    // A marker whose folder is gone is not trusted either.
    std::fs::remove_dir_all(&dest).unwrap();
    let mut api = FakeApi::new();
    import(&s, &dest, &[], &mut api, &mut folders(Vec::new(), &[])).unwrap();
    assert_eq!(api.call_names(), ["process_base_layer"]);
}

/// Runs one import with a failure injected by `inject`, then checks that
/// nothing half-imported is trusted: the folder is gone or unmarked, and
/// a clean import afterwards does the whole work again.
fn fails_cleanly(
    tar: Vec<u8>,
    parents_files: bool,
    inject: &dyn Fn(&mut FakeApi, &mut FakeFolders),
) -> String {
    let s = setup(tar);
    let parent = s.area.join("parent");
    std::fs::create_dir_all(parent.join("Files")).unwrap();
    std::fs::write(parent.join("Files/p.dll"), b"parent").unwrap();
    let parents = if parents_files {
        vec![parent]
    } else {
        Vec::new()
    };
    let dest = s.area.join("layer");
    let mut api = FakeApi::new();
    let mut f = folders(vec!["Files"], &[]);
    inject(&mut api, &mut f);
    let err = import(&s, &dest, &parents, &mut api, &mut f).unwrap_err();
    assert!(!marker_path(&dest).exists(), "{err}");
    assert!(!host_fs::is_complete(&dest).unwrap());
    let mut api = FakeApi::new();
    let mut again = folders(vec!["Files"], &[]);
    import(&s, &dest, &parents, &mut api, &mut again).unwrap();
    assert!(host_fs::is_complete(&dest).unwrap());
    err.to_string()
}

#[test]
fn a_failure_at_any_step_leaves_nothing_trusted() {
    for (tar, has_parent) in [(base_tar(), false), (upper_tar(), true)] {
        // How many calls a clean import makes.
        let s = setup(tar.clone());
        let parent = s.area.join("parent");
        std::fs::create_dir_all(parent.join("Files")).unwrap();
        std::fs::write(parent.join("Files/p.dll"), b"parent").unwrap();
        let parents = if has_parent { vec![parent] } else { Vec::new() };
        let mut api = FakeApi::new();
        let mut f = folders(vec!["Files"], &[]);
        import(&s, &s.area.join("layer"), &parents, &mut api, &mut f).unwrap();
        let folder_calls = f.log.borrow().calls.len();
        let api_calls = api.calls.len();
        assert!(folder_calls > 5 && api_calls > 0);

        for i in 0..folder_calls {
            let text = fails_cleanly(tar.clone(), has_parent, &|_, f| {
                f.log.borrow_mut().fail_at.insert(i);
            });
            assert!(text.contains("injected failure"), "folder call {i}: {text}");
        }
        for j in 0..api_calls {
            let text = fails_cleanly(tar.clone(), has_parent, &|api, _| {
                api.fail_at.insert(j);
            });
            assert!(text.contains("0x80004005"), "HCS call {j}: {text}");
        }
    }
}

#[test]
fn a_failed_cleanup_says_to_delete_the_folder() {
    // The base writer fails, then removing the folder fails too.
    let s = setup(base_tar());
    let dest = s.area.join("layer");
    let mut api = FakeApi::new();
    // 0 is_complete, 1 remove_marker, 2 remove_folder, 3 create_folder,
    // 4 base_writer (fails), 5 remove_folder (fails).
    let mut f = folders(Vec::new(), &[4, 5]);
    let err = import(&s, &dest, &[], &mut api, &mut f)
        .unwrap_err()
        .to_string();
    assert!(err.contains("delete") && err.contains("by hand"), "{err}");
    assert!(!marker_path(&dest).exists());
}

#[test]
fn concurrent_builds_share_one_import() {
    let s = setup(base_tar());
    let dest = s.area.join("base");
    let processed: usize = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..2)
            .map(|_| {
                scope.spawn(|| {
                    let mut api = FakeApi::new();
                    let mut f = folders(Vec::new(), &[]);
                    import(&s, &dest, &[], &mut api, &mut f).unwrap();
                    api.calls.len()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(processed, 1, "ProcessBaseImage ran once for both builds");
    assert!(host_fs::is_complete(&dest).unwrap());
}

#[test]
fn a_chain_is_imported_in_order_with_parents_nearest_first() {
    let tmp = tempfile::tempdir().unwrap();
    let area = tmp.path().join("wharf-windows-layers");
    std::fs::create_dir(&area).unwrap();
    let tars = [
        base_tar(),
        tar_of(&[("Files/", D, None, b""), ("Files/mid.txt", R, None, b"m")]),
        tar_of(&[("Files/", D, None, b""), ("Files/top.txt", R, None, b"t")]),
    ];
    let mut api = FakeApi::new();
    let mut prepared: Vec<PathBuf> = Vec::new();
    for (i, tar) in tars.iter().enumerate() {
        let blob = tmp.path().join(format!("blob{i}"));
        std::fs::write(&blob, tar).unwrap();
        let dest = area.join(format!("chain{i}"));
        import_lower(
            &mut api,
            &mut folders(vec!["Files"], &[]),
            &LowerLayer {
                blob: &blob,
                media_type: "application/vnd.oci.image.layer.v1.tar",
                digest: &Digest::of_bytes(tar),
                dest: &dest,
                staging: &area,
                parents: &prepared,
            },
        )
        .unwrap();
        prepared.insert(0, dest);
    }
    let imports: Vec<&String> = api
        .calls
        .iter()
        .filter(|c| c.starts_with("import_layer") || c.starts_with("process_base_layer"))
        .collect();
    assert_eq!(imports.len(), 3);
    assert!(imports[0].starts_with("process_base_layer") && imports[0].ends_with("chain0"));
    let parents_of = |call: &str| -> Vec<String> {
        let list = call.rsplit_once('[').unwrap().1.trim_end_matches(']');
        list.split(',')
            .map(|p| {
                let path = p.split('=').next().unwrap();
                Path::new(path)
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect()
    };
    assert_eq!(parents_of(imports[1]), ["chain0"]);
    assert_eq!(parents_of(imports[2]), ["chain1", "chain0"]);
    for i in 0..3 {
        assert!(host_fs::is_complete(&area.join(format!("chain{i}"))).unwrap());
    }
}

#[test]
fn a_run_exports_its_scratch_over_the_prepared_layers() {
    use wharf_run::{Command, RunChange, RunNetwork, RunSpec, RunUser};
    let tmp = tempfile::tempdir().unwrap();
    let platform: wharf_oci::Platform = "windows/amd64".parse().unwrap();
    let lowers = vec![tmp.path().join("top"), tmp.path().join("base")];
    let spec = RunSpec {
        platform: &platform,
        command: Command::CommandLine("cmd /S /C echo hi".into()),
        env: Vec::new(),
        cwd: "C:\\".into(),
        user: RunUser::Name(String::new()),
        lowers: lowers.clone(),
        mounts: Vec::new(),
        network: RunNetwork::Default,
        options: Default::default(),
        scratch: tmp.path(),
        output: &|_| {},
    };
    let process = wharf_run::windows_executor::process_parameters(&spec).unwrap();
    let mut api = FakeApi::new();
    let change = wharf_run::windows_host::run_on_host(
        &mut api,
        &spec,
        process,
        std::time::Duration::from_secs(60),
    )
    .unwrap();
    assert_eq!(change, RunChange::ExportFolder(tmp.path().join("export")));
    let scratch = api
        .calls
        .iter()
        .find(|c| c.starts_with("create_scratch_layer"))
        .unwrap();
    let top = scratch.find("top=").unwrap();
    let base = scratch.find("base=").unwrap();
    assert!(top < base, "immediate parent first: {scratch}");
    // No HCN networking yet: the document has no Networking member.
    assert!(!api.documents[0].contains("Networking"));

    // A non-zero exit code fails the RUN, with no layer.
    let mut api = FakeApi::new();
    api.exited_status = r#"{"ProcessId":7,"Exited":true,"ExitCode":3}"#.to_owned();
    std::fs::remove_dir(tmp.path().join("export")).unwrap();
    let process = wharf_run::windows_executor::process_parameters(&spec).unwrap();
    let err = wharf_run::windows_host::run_on_host(
        &mut api,
        &spec,
        process,
        std::time::Duration::from_secs(60),
    )
    .unwrap_err();
    assert!(err.to_string().contains("exit code 0x3"), "{err}");
}
