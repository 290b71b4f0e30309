//! A tiny HTTP/1.1 server for tests: one thread per connection, one
//! request per connection, answers chosen by a closure. It can also cut a
//! body short and drop the connection, which real servers will not do on
//! request.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A request as the handler sees it.
#[derive(Debug, Clone)]
pub struct Req {
    pub method: String,
    /// Path with query.
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Req {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What to send back.
pub enum Reply {
    Full {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// Declares `declared_len` bytes, sends `body`, then closes.
    Cut {
        status: u16,
        headers: Vec<(String, String)>,
        declared_len: usize,
        body: Vec<u8>,
    },
}

impl Reply {
    pub fn status(status: u16) -> Reply {
        Reply::Full {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn ok(content_type: &str, body: Vec<u8>) -> Reply {
        Reply::Full {
            status: 200,
            headers: vec![("Content-Type".into(), content_type.into())],
            body,
        }
    }
}

pub struct TestServer {
    pub port: u16,
    stop: Arc<AtomicBool>,
}

impl TestServer {
    pub fn base(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

pub fn serve<F>(handler: F) -> TestServer
where
    F: Fn(&Req) -> Reply + Send + Sync + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let port = listener.local_addr().expect("addr").port();
    let stop = Arc::new(AtomicBool::new(false));
    let handler = Arc::new(handler);
    let stop2 = stop.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            if stop2.load(Ordering::SeqCst) {
                break;
            }
            let Ok(conn) = conn else { continue };
            let handler = handler.clone();
            std::thread::spawn(move || {
                let _ = handle(conn, &*handler);
            });
        }
    });
    TestServer { port, stop }
}

fn handle(conn: TcpStream, handler: &(dyn Fn(&Req) -> Reply + Send + Sync)) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let path = parts.next().unwrap_or("").to_string();
    let mut headers = Vec::new();
    for _ in 0..200 {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 {
            break;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let mut req = Req {
        method,
        path,
        headers,
        body: Vec::new(),
    };
    let len: usize = req
        .header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    if len > 0 {
        let mut body = vec![0u8; len.min(64 * 1024 * 1024)];
        reader.read_exact(&mut body)?;
        req.body = body;
    }
    let mut out = conn;
    match handler(&req) {
        Reply::Full {
            status,
            headers,
            body,
        } => {
            write_head(&mut out, status, &headers, body.len())?;
            if req.method != "HEAD" {
                out.write_all(&body)?;
            }
        }
        Reply::Cut {
            status,
            headers,
            declared_len,
            body,
        } => {
            write_head(&mut out, status, &headers, declared_len)?;
            out.write_all(&body)?;
        }
    }
    out.flush()?;
    out.shutdown(std::net::Shutdown::Both)
}

fn write_head(
    out: &mut TcpStream,
    status: u16,
    headers: &[(String, String)],
    len: usize,
) -> std::io::Result<()> {
    let mut head = format!("HTTP/1.1 {status} X\r\nContent-Length: {len}\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    out.write_all(head.as_bytes())
}
