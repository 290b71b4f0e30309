//! Windows layers that re-declare a directory of the base image: with
//! default metadata unless the build reads the base
//! (`with_windows_base_read`), then with the base's security descriptor,
//! attributes and spelling; the two never share a cache entry.

mod common;

use common::*;
use wharf_build::layer_store::LayerStore;
use wharf_build::*;
use wharf_layer::windows::sddl::sddl_to_binary;
use wharf_layer::{Compression, Timestamp, WinMeta, WindowsLayerOptions, WindowsLayerWriter};
use wharf_oci::LayerRef;
use wharf_store::Store;

const SYSTEM_SDDL: &str = "O:SYG:SYD:P(A;OICI;FA;;;SY)(A;OICI;0x1200a9;;;BU)";

/// A stored base whose `Windows` and `Windows\System32` carry a
/// descriptor of their own and the system attribute.
fn base_with_system_dirs(store: &Store) -> LayerRef {
    let ls = LayerStore::new(store.clone(), Compression::None);
    ls.write_layer(|w| -> Result<_, wharf_layer::Error> {
        let mut lw = WindowsLayerWriter::new(
            w,
            &wharf_layer::NoBase,
            WindowsLayerOptions {
                timestamp: Timestamp::from_secs(EPOCH),
                base_layer: true,
            },
        )?;
        let mut meta = WinMeta::default_dir(Timestamp::from_secs(1_000));
        meta.security_descriptor = sddl_to_binary(SYSTEM_SDDL).unwrap();
        meta.attributes = 16 | 4;
        lw.add_dir("Windows", Some(meta.clone()))?;
        lw.add_dir("Windows/System32", Some(meta))?;
        let file = WinMeta::default_file(Timestamp::from_secs(EPOCH));
        for hive in ["DEFAULT", "SAM", "SECURITY", "SOFTWARE", "SYSTEM"] {
            let path = format!("Windows/System32/config/{hive}");
            lw.add_file(&path, 4, Some(file.clone()), &mut &b"regf"[..])?;
        }
        lw.finish()
    })
    .unwrap()
    .unwrap()
}

fn find<'a>(dirs: &'a [(String, Vec<u8>, u32)], name: &str) -> &'a (String, Vec<u8>, u32) {
    dirs.iter().find(|d| d.0 == name).unwrap_or_else(|| {
        panic!(
            "{name} not in {:?}",
            dirs.iter().map(|d| &d.0).collect::<Vec<_>>()
        )
    })
}

#[test]
fn the_base_directories_keep_their_metadata_only_when_the_build_reads_the_base() {
    let f = fixture();
    let base = base_with_system_dirs(&f.store);
    let resolver = WindowsBases { layers: vec![base] };
    let df = "# escape=`\nFROM mcr.microsoft.com/windows/nanoserver:ltsc2022\n\
              COPY app/server.conf C:/WINDOWS/system32/\nWORKDIR C:\\windows\\Temp\n";
    let system_sd = sddl_to_binary(SYSTEM_SDDL).unwrap();
    let build = |read: bool| {
        let mut events = Vec::new();
        let out = Builder::new(config(&f.store, false))
            .with_windows_base_read(read)
            .build(&request(&f.context, df), &resolver, &mut |e| events.push(e))
            .unwrap_or_else(|e| panic!("{e}"));
        (out, events)
    };

    // Not read: the base's names and metadata are unknown; defaults.
    let (out, _) = build(false);
    let img = &out.images[0];
    assert_eq!(img.layers.len(), 3);
    let copy = windows_dir_meta(&f.store, &img.layers[1].descriptor);
    let (_, sd, attrs) = find(&copy, "Files/WINDOWS/system32");
    assert_ne!(sd, &system_sd);
    assert_eq!(*attrs, 16);
    check_windows_layer(&f.store, &img.layers[1].descriptor);

    // Read: the base's spelling, descriptor and attributes; a new key.
    let (out, events) = build(true);
    let img = &out.images[0];
    assert_eq!(img.layers.len(), 3);
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, BuildEvent::Step { cached: true, .. })),
        "a layer made without the base is not reused"
    );
    let copy = windows_dir_meta(&f.store, &img.layers[1].descriptor);
    for name in ["Files/Windows", "Files/Windows/System32"] {
        let (_, sd, attrs) = find(&copy, name);
        assert_eq!(sd, &system_sd, "{name}");
        assert_eq!(*attrs, 16 | 4, "{name}");
    }
    assert!(!copy.iter().any(|d| d.0.starts_with("Files/WINDOWS")));
    check_windows_layer(&f.store, &img.layers[1].descriptor);
    let workdir = windows_dir_meta(&f.store, &img.layers[2].descriptor);
    assert_eq!(find(&workdir, "Files/Windows").1, system_sd);
    let (_, sd, _) = find(&workdir, "Files/Windows/Temp");
    assert_ne!(sd, &system_sd, "a new directory gets the default");

    // And again: all from the cache, the same image.
    let (again, events) = build(true);
    assert_eq!(again.images[0].manifest.digest, img.manifest.digest);
    let steps: Vec<(String, bool)> = events
        .iter()
        .filter_map(|e| match e {
            BuildEvent::Step { text, cached, .. } if !text.starts_with("resolve ") => {
                Some((text.clone(), *cached))
            }
            _ => None,
        })
        .collect();
    assert!(steps.iter().all(|s| s.1), "{steps:?}");
}

#[test]
fn reading_a_base_that_cannot_be_downloaded_names_the_step() {
    let f = fixture();
    let resolver = WindowsBases {
        layers: vec![absent_base_layer()],
    };
    let df = "FROM mcr.microsoft.com/windows/nanoserver:ltsc2022\nCOPY README.md C:/Windows/\n";
    let err = Builder::new(config(&f.store, false))
        .with_windows_base_read(true)
        .build(&request(&f.context, df), &resolver, &mut |_| {})
        .unwrap_err()
        .to_string();
    assert!(err.contains("Dockerfile:2"), "{err}");
    assert!(err.contains("reading the stage's layers"), "{err}");
    assert!(err.contains("not in the store"), "{err}");
}
