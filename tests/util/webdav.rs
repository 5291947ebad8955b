#![allow(dead_code)]

//! A real WebDAV server on loopback for the tests: wsgidav (`pip install wsgidav cheroot`),
//! started once per test process on a free 127.0.0.1 port by `webdav_server.py`, serving a
//! temporary folder with one user and Basic authentication. Each test makes its own folder in
//! it. A second server, started only by the test that needs it, ignores `If-None-Match`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Child;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use context::remote::{Location, Remote, WebDav, WebDavLocation};

pub const USER: &str = "context";
pub const PASSWORD: &str = "test-password";

/// A running server and the folder it serves.
pub struct Server {
    pub addr: SocketAddr,
    pub root: PathBuf,
    _root: tempfile::TempDir,
    _child: Child,
}

static HONEST: OnceLock<Server> = OnceLock::new();
static IGNORING: OnceLock<Server> = OnceLock::new();
static FOLDERS: AtomicUsize = AtomicUsize::new(0);

fn start(flags: &str) -> Server {
    let root = tempfile::tempdir().expect("tempdir");
    let port = super::server::free_port();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/util/webdav_server.py");
    let line = format!(
        "python3 {script} {port} {} {USER} {PASSWORD} {flags} >/dev/null 2>&1",
        root.path().display()
    );
    let (child, addr) =
        super::server::start(&line, port, Duration::from_secs(60)).unwrap_or_else(|addr| {
            panic!(
                "wsgidav did not start on {addr}: the WebDAV tests need it (pip install wsgidav \
                 cheroot; .ci/run installs it)"
            )
        });
    Server {
        addr,
        root: root.path().to_path_buf(),
        _root: root,
        _child: child,
    }
}

/// The shared server, started on first use.
pub fn server() -> &'static Server {
    HONEST.get_or_init(|| start(""))
}

/// A server that drops `If-None-Match` before wsgidav sees it.
pub fn ignoring_server() -> &'static Server {
    IGNORING.get_or_init(|| start("--ignore-if-none-match"))
}

/// The environment a `context` process needs to reach the servers.
pub fn env() -> Vec<(String, String)> {
    vec![
        ("CONTEXT_WEBDAV_USER".into(), USER.into()),
        ("CONTEXT_WEBDAV_PASSWORD".into(), PASSWORD.into()),
    ]
}

pub fn lookup(name: &str) -> Option<String> {
    env().into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

/// A new, empty folder of its own on a server, as a `webdav://` URL.
pub struct DavFolder {
    pub url: String,
    /// Where the server keeps it.
    pub path: PathBuf,
}

impl DavFolder {
    pub fn new() -> DavFolder {
        DavFolder::on(server())
    }

    pub fn on(server: &Server) -> DavFolder {
        let name = format!(
            "ctx-{}-{}",
            std::process::id(),
            FOLDERS.fetch_add(1, Ordering::SeqCst)
        );
        let path = server.root.join(&name);
        std::fs::create_dir(&path).expect("the test's folder");
        DavFolder {
            url: format!("webdav://{}/{name}", server.addr),
            path,
        }
    }

    /// The folder as a remote, through the library.
    pub fn remote(&self) -> Remote {
        let location = Location::parse(&self.url).expect("a webdav url");
        context::remote::open_with_env(&location, &lookup).expect("open")
    }

    /// The folder's object store itself (for the object-level suite).
    pub fn objects(&self) -> WebDav {
        let location = Location::parse(&self.url).expect("url");
        let target = location
            .target::<WebDavLocation>()
            .expect("a webdav url")
            .clone();
        WebDav::new(target, &lookup).expect("webdav")
    }
}
