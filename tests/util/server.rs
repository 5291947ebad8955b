//! What every server a test starts on loopback needs: a free port, and a process that stops
//! when the tests end. The shell that runs the server kills it when this process's end closes
//! the shell's stdin, so nothing outlives the tests, even when they are killed.

#![allow(dead_code)]

use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free loopback port (bound, then released for the server to take).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Runs the shell command line `server` in the background, stopped when this process ends;
/// waits up to `limit` for 127.0.0.1:`port` to accept connections. On time out the server is
/// stopped and the address it never opened is the error.
pub fn start(server: &str, port: u16, limit: Duration) -> Result<(Child, SocketAddr), SocketAddr> {
    let script = format!("{server} & pid=$!; read _ignored; kill $pid");
    let mut child = Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sh");
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let started = Instant::now();
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        if started.elapsed() > limit {
            let _ = child.stdin.as_mut().map(|s| s.write_all(b"\n"));
            let _ = child.wait();
            return Err(addr);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok((child, addr))
}
