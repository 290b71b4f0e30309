//! `RUN --mount=type=ssh`: a socket for the command that forwards every
//! connection to an SSH agent of the host (`--ssh ID=SOCKET`).
//!
//! The command does not get the host's agent socket itself: it gets a
//! socket of its own, owned by the mount's `uid`/`gid` with its `mode`
//! (BuildKit's defaults: 0, 0, 0600), as BuildKit serves one per mount.
//! Bytes pass through unread; no key is ever read, written or kept.
//! Key files (`--ssh ID=KEYFILE`, which buildx loads into an in-memory
//! agent) are refused by the CLI: load them with `ssh-add` into an
//! `ssh-agent` and pass its socket.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

/// A listening socket forwarding to an agent, for one RUN; stops when
/// dropped.
pub struct AgentForward {
    /// Where the socket is (the mount's source on the host).
    pub socket: PathBuf,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
    // Holds the socket's directory; removed last.
    _dir: tempfile::TempDir,
}

impl AgentForward {
    /// Listens on a new socket (in a short private directory under the
    /// system's temporary directory: socket paths are limited to 107
    /// bytes) owned by `owner` with `mode`, forwarding to `agent`.
    pub fn start(agent: &Path, mode: u32, owner: (u32, u32)) -> Result<AgentForward, String> {
        let fail = |what: &str, p: &Path, e: io::Error| format!("{what} {}: {e}", p.display());
        let dir = tempfile::Builder::new()
            .prefix("wharf-ssh-")
            .tempdir()
            .map_err(|e| fail("creating a directory in", &std::env::temp_dir(), e))?;
        let socket = dir.path().join("agent");
        let listener = UnixListener::bind(&socket).map_err(|e| fail("listening on", &socket, e))?;
        std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(mode & 0o777))
            .map_err(|e| fail("setting the mode of", &socket, e))?;
        std::os::unix::fs::lchown(&socket, Some(owner.0), Some(owner.1))
            .map_err(|e| fail("setting the owner of", &socket, e))?;
        let stop = Arc::new(AtomicBool::new(false));
        let agent = agent.to_path_buf();
        let stopping = stop.clone();
        let accept = std::thread::Builder::new()
            .name("ssh-forward".into())
            .spawn(move || accept_loop(&listener, &agent, &stopping))
            .map_err(|e| format!("starting the ssh agent forwarder: {e}"))?;
        Ok(AgentForward {
            socket,
            stop,
            accept: Some(accept),
            _dir: dir,
        })
    }
}

fn accept_loop(listener: &UnixListener, agent: &Path, stop: &AtomicBool) {
    for client in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(client) = client else { continue };
        // A dead agent closes the command's connection: ssh reports it.
        let Ok(upstream) = UnixStream::connect(agent) else {
            continue;
        };
        let _ = std::thread::Builder::new()
            .name("ssh-forward-conn".into())
            .spawn(move || relay(client, upstream));
    }
}

/// Copies both ways until either side closes.
fn relay(client: UnixStream, upstream: UnixStream) {
    let (Ok(mut c_read), Ok(mut u_read)) = (client.try_clone(), upstream.try_clone()) else {
        return;
    };
    let (mut c_write, mut u_write) = (client, upstream);
    let up = std::thread::spawn(move || {
        let _ = io::copy(&mut c_read, &mut u_write);
        let _ = u_write.shutdown(std::net::Shutdown::Write);
    });
    let _ = io::copy(&mut u_read, &mut c_write);
    let _ = c_write.shutdown(std::net::Shutdown::Both);
    let _ = up.join();
}

impl Drop for AgentForward {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop, which then sees the flag.
        let _ = UnixStream::connect(&self.socket);
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn forwards_bytes_both_ways_and_stops_when_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let agent_path = dir.path().join("agent.sock");
        let agent = UnixListener::bind(&agent_path).unwrap();
        let echo = std::thread::spawn(move || {
            let (mut s, _) = agent.accept().unwrap();
            let mut buf = [0u8; 5];
            s.read_exact(&mut buf).unwrap();
            s.write_all(&buf.map(|b| b.to_ascii_uppercase())).unwrap();
        });
        let fwd = AgentForward::start(&agent_path, 0o600, (0, 0)).unwrap();
        let meta = std::fs::metadata(&fwd.socket).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        let mut c = UnixStream::connect(&fwd.socket).unwrap();
        c.write_all(b"hello").unwrap();
        let mut back = String::new();
        c.read_to_string(&mut back).unwrap();
        assert_eq!(back, "HELLO");
        echo.join().unwrap();
        let socket = fwd.socket.clone();
        drop(fwd);
        assert!(!socket.exists());
    }
}
