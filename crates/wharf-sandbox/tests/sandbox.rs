//! Runs real commands in the embedded sandbox on a busybox root (needs root and
//! Debian's busybox-static).

mod common;

use common::*;
use wharf_sandbox::ExitStatus;

#[test]
fn smoke() {
    let s = Scratch::new();
    let out =
        run_ok(&s.spec("echo hello; id; ls -la /; ls /proc; cat /etc/hosts; ip addr; hostname"));
    println!("{out}");
    assert_eq!(s.upper_entries(), Vec::<String>::new());
    let _ = ExitStatus::Code(0);
}
