//! A small HTTP proxy on loopback between `context` and the test S3 server: it counts the
//! requests that pass (what a cron tick costs), adds latency to each (what a pull over a real
//! network waits), and injects faults on demand (a 500, a 503, a dropped connection). One
//! request per client connection; the answer is relayed whole. Shared by the tests and the
//! benches (`#[path]`), so it depends on nothing but std.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the proxy does to one request instead of relaying it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Answers with this status and an S3 error document.
    Status(u16),
    /// Closes the connection without an answer.
    Drop,
}

pub struct Proxy {
    pub addr: SocketAddr,
    requests: Arc<AtomicUsize>,
    faults: Arc<Mutex<VecDeque<Fault>>>,
}

impl Proxy {
    /// Relays to `upstream`, waiting `latency` before each request.
    pub fn start(upstream: SocketAddr, latency: Duration) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let addr = listener.local_addr().expect("its address");
        let requests = Arc::new(AtomicUsize::new(0));
        let faults = Arc::new(Mutex::new(VecDeque::new()));
        let (r, f) = (requests.clone(), faults.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let (r, f) = (r.clone(), f.clone());
                std::thread::spawn(move || {
                    let _ = relay(client, upstream, latency, &r, &f);
                });
            }
        });
        Proxy {
            addr,
            requests,
            faults,
        }
    }

    /// Requests seen so far.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    /// The next requests meet these faults, one each, in order.
    pub fn fail_next(&self, faults: impl IntoIterator<Item = Fault>) {
        self.faults.lock().unwrap().extend(faults);
    }

    /// Forgets the faults not met yet.
    pub fn clear(&self) {
        self.faults.lock().unwrap().clear();
    }

    /// `http://127.0.0.1:PORT`, for `AWS_ENDPOINT_URL`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

fn relay(
    client: TcpStream,
    upstream: SocketAddr,
    latency: Duration,
    requests: &AtomicUsize,
    faults: &Mutex<VecDeque<Fault>>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(client.try_clone()?);
    let mut head = Vec::new();
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
        if lower.starts_with("connection:") {
            continue;
        }
        if line == "\r\n" {
            break;
        }
        head.extend_from_slice(line.as_bytes());
    }
    head.extend_from_slice(b"connection: close\r\n\r\n");
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body)?;
    requests.fetch_add(1, Ordering::SeqCst);
    let mut client = client;
    match faults.lock().unwrap().pop_front() {
        Some(Fault::Drop) => {
            let _ = client.shutdown(Shutdown::Both);
            return Ok(());
        }
        Some(Fault::Status(status)) => {
            let doc = "<?xml version=\"1.0\"?><Error><Code>InternalError</Code>\
                       <Message>injected by the test proxy</Message></Error>";
            write!(
                client,
                "HTTP/1.1 {status} Injected\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{doc}",
                doc.len()
            )?;
            return Ok(());
        }
        None => {}
    }
    std::thread::sleep(latency);
    let mut up = TcpStream::connect(upstream)?;
    up.write_all(&head)?;
    up.write_all(&body)?;
    let mut answer = Vec::new();
    up.read_to_end(&mut answer)?;
    client.write_all(&answer)?;
    client.flush()
}
