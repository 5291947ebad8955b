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
use std::time::{Duration, Instant};

/// What the proxy does to one request instead of relaying it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Answers with this status and an S3 error document.
    Status(u16),
    /// Closes the connection without an answer.
    Drop,
    /// Relays the request (it takes effect), then closes the connection without the answer:
    /// a response lost on the way back.
    LoseResponse,
    /// Relays a listing without the keys that contain this text: a store that lists
    /// eventually.
    Hide(&'static str),
    /// Answers 200 with a body cut short (a listing that does not parse).
    Garbage,
}

pub struct Proxy {
    pub addr: SocketAddr,
    requests: Arc<AtomicUsize>,
    faults: Arc<Mutex<VecDeque<Fault>>>,
    rules: Arc<Mutex<Rules>>,
}

/// (text in the request line, fault, the rules armed once it is met).
type Targeted = (String, Fault, Vec<(String, Fault)>);

/// Faults by request rather than by turn.
#[derive(Default)]
struct Rules {
    /// (text in the request line, fault, what follows): for the next request that matches,
    /// once each; the rules that follow are armed when it is met.
    targeted: Vec<Targeted>,
    /// Until then, every request meets this fault (an outage, throttling).
    until: Option<(Instant, Fault)>,
    /// Every listing meets these (until cleared).
    listings: Vec<Fault>,
}

impl Proxy {
    /// Relays to `upstream`, waiting `latency` before each request.
    pub fn start(upstream: SocketAddr, latency: Duration) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let addr = listener.local_addr().expect("its address");
        let requests = Arc::new(AtomicUsize::new(0));
        let faults = Arc::new(Mutex::new(VecDeque::new()));
        let rules = Arc::new(Mutex::new(Rules::default()));
        let (r, f, u) = (requests.clone(), faults.clone(), rules.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let (r, f, u) = (r.clone(), f.clone(), u.clone());
                std::thread::spawn(move || {
                    let _ = relay(client, upstream, latency, &r, &f, &u);
                });
            }
        });
        Proxy {
            addr,
            requests,
            faults,
            rules,
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

    /// The next request whose request line (`PUT /bucket/key HTTP/1.1`) contains `text`
    /// meets `fault`; once.
    pub fn fail_matching(&self, text: &str, fault: Fault) {
        self.fail_matching_then(text, fault, []);
    }

    /// The same, and once it is met, the rules `then` (text, fault) are armed: a lost answer
    /// to a PUT followed by failing reads, say.
    pub fn fail_matching_then(
        &self,
        text: &str,
        fault: Fault,
        then: impl IntoIterator<Item = (&'static str, Fault)>,
    ) {
        let then = then.into_iter().map(|(t, f)| (t.to_string(), f)).collect();
        self.rules
            .lock()
            .unwrap()
            .targeted
            .push((text.to_string(), fault, then));
    }

    /// Every request for `span` from now meets `fault`: a store that is down (`Drop`) or
    /// throttling (`Status(503)`) for a while.
    pub fn fail_for(&self, span: Duration, fault: Fault) {
        self.rules.lock().unwrap().until = Some((Instant::now() + span, fault));
    }

    /// Every listing from now on meets `fault` (`Hide`, `Garbage`), until [`Proxy::clear`].
    pub fn fail_listings(&self, fault: Fault) {
        self.rules.lock().unwrap().listings.push(fault);
    }

    /// Forgets the faults not met yet.
    pub fn clear(&self) {
        self.faults.lock().unwrap().clear();
        *self.rules.lock().unwrap() = Rules::default();
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
    rules: &Mutex<Rules>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(client.try_clone()?);
    let mut head = Vec::new();
    let mut length = 0usize;
    let mut request_line = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        if request_line.is_empty() {
            request_line = line.clone();
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
    let is_listing = request_line.starts_with("GET ") && request_line.contains("list-type=2");
    let (fault, hide) = {
        let mut rules = rules.lock().unwrap();
        let timed = match rules.until {
            Some((until, fault)) if Instant::now() < until => Some(fault),
            _ => None,
        };
        let targeted = rules
            .targeted
            .iter()
            .position(|(text, _, _)| request_line.contains(text.as_str()))
            .map(|i| {
                let (_, fault, then) = rules.targeted.remove(i);
                for (text, f) in then {
                    rules.targeted.push((text, f, Vec::new()));
                }
                fault
            });
        let garbled = is_listing && rules.listings.contains(&Fault::Garbage);
        let hide: Vec<&'static str> = if is_listing {
            rules
                .listings
                .iter()
                .filter_map(|f| match f {
                    Fault::Hide(t) => Some(*t),
                    _ => None,
                })
                .collect()
        } else {
            Vec::new()
        };
        let queued = if timed.is_none() && targeted.is_none() {
            faults.lock().unwrap().pop_front()
        } else {
            None
        };
        let listing = garbled.then_some(Fault::Garbage);
        (timed.or(targeted).or(listing).or(queued), hide)
    };
    match fault {
        Some(Fault::Drop) => {
            let _ = client.shutdown(Shutdown::Both);
            return Ok(());
        }
        Some(Fault::Garbage) => {
            let doc = "<?xml version=\"1.0\"?><ListBucketResult><Contents><Key>cut sho";
            write!(
                client,
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{doc}",
                doc.len()
            )?;
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
        _ => {}
    }
    std::thread::sleep(latency);
    let mut up = TcpStream::connect(upstream)?;
    up.write_all(&head)?;
    up.write_all(&body)?;
    let mut answer = Vec::new();
    up.read_to_end(&mut answer)?;
    if fault == Some(Fault::LoseResponse) {
        let _ = client.shutdown(Shutdown::Both);
        return Ok(());
    }
    let hide = match fault {
        Some(Fault::Hide(t)) => vec![t],
        _ => hide,
    };
    if !hide.is_empty() {
        answer = without_keys(&answer, &hide);
    }
    client.write_all(&answer)?;
    client.flush()
}

/// An HTTP answer holding a ListObjectsV2 document, without the `<Contents>` entries whose
/// key contains any of `hide` (and its content-length set anew).
fn without_keys(answer: &[u8], hide: &[&str]) -> Vec<u8> {
    let text = String::from_utf8_lossy(answer).into_owned();
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return answer.to_vec();
    };
    let mut out = String::new();
    let mut rest = body;
    while let Some(start) = rest.find("<Contents>") {
        let Some(len) = rest[start..].find("</Contents>") else {
            break;
        };
        let end = start + len + "</Contents>".len();
        out.push_str(&rest[..start]);
        let entry = &rest[start..end];
        if !hide.iter().any(|h| entry.contains(h)) {
            out.push_str(entry);
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    let head: Vec<String> = head
        .split("\r\n")
        .map(|l| {
            if l.to_ascii_lowercase().starts_with("content-length:") {
                format!("content-length: {}", out.len())
            } else {
                l.to_string()
            }
        })
        .collect();
    format!("{}\r\n\r\n{out}", head.join("\r\n")).into_bytes()
}
