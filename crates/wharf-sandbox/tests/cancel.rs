//! `cancel_all` kills every sandbox of the process, so it has its own test binary
//! (needs root and Debian's busybox-static).

#![cfg(target_os = "linux")]

mod common;

use common::*;
use wharf_sandbox::SandboxError;

#[test]
fn cancel_all_kills_the_command_and_returns_cancelled() {
    let s = Scratch::new();
    let before = mounts();
    let spec = s.spec("echo started; sleep 4343; echo not-killed");
    let (tx, rx) = std::sync::mpsc::channel();
    let handle = std::thread::spawn(move || {
        let mut sent = false;
        wharf_sandbox::run(&spec, &mut |_, _| {
            if !sent {
                sent = true;
                tx.send(()).unwrap();
            }
        })
    });
    rx.recv().unwrap();
    // The shell and its sleep both carry the marker.
    assert!(!processes_with("sleep 4343").is_empty());
    wharf_sandbox::cancel_all();
    let result = handle.join().unwrap();
    assert!(matches!(result, Err(SandboxError::Cancelled)), "{result:?}");
    assert_eq!(processes_with("sleep 4343"), Vec::<String>::new());
    assert_eq!(mounts(), before);
}
