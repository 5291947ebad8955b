#![allow(dead_code)]

//! A real S3 server on loopback for the tests: moto (`pip install 'moto[server]'`), started
//! once per test process on a free 127.0.0.1 port, and stopped when the process ends. Each test
//! makes its own bucket, so tests share the server but nothing else.

use std::net::SocketAddr;
use std::process::Child;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use context::remote::{Location, Remote, S3, S3Config};

/// The running server's address.
pub struct Moto {
    pub addr: SocketAddr,
    _child: Child,
}

static MOTO: OnceLock<Moto> = OnceLock::new();
static BUCKETS: AtomicUsize = AtomicUsize::new(0);

/// The shared server, started on first use.
pub fn moto() -> &'static Moto {
    MOTO.get_or_init(|| {
        let port = super::server::free_port();
        let server = format!("python3 -m moto.server -H 127.0.0.1 -p {port} >/dev/null 2>&1");
        let (child, addr) = super::server::start(&server, port, Duration::from_secs(60))
            .unwrap_or_else(|addr| {
                panic!(
                    "moto did not start on {addr}: the S3 tests need it (pip install \
                     'moto[server]'; .ci/run installs it)"
                )
            });
        Moto {
            addr,
            _child: child,
        }
    })
}

impl Moto {
    /// The environment a `context` process needs to reach this server.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("AWS_ENDPOINT_URL".into(), format!("http://{}", self.addr)),
            ("AWS_ALLOW_HTTP".into(), "true".into()),
            ("AWS_ACCESS_KEY_ID".into(), "testing".into()),
            ("AWS_SECRET_ACCESS_KEY".into(), "testing".into()),
            ("AWS_REGION".into(), "us-east-1".into()),
        ]
    }

    pub fn lookup(&self, name: &str) -> Option<String> {
        self.env()
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }
}

/// A new, empty bucket of its own for one test, as an `s3://` URL.
pub struct Bucket {
    pub url: String,
    pub name: String,
}

impl Bucket {
    pub fn new() -> Bucket {
        Bucket::with_prefix("")
    }

    pub fn with_prefix(prefix: &str) -> Bucket {
        let moto = moto();
        let name = format!(
            "ctx-{}-{}",
            std::process::id(),
            BUCKETS.fetch_add(1, Ordering::SeqCst)
        );
        let config = S3Config::from_env(&name, prefix, &|n| moto.lookup(n)).expect("config");
        S3::new(config)
            .and_then(|s| s.create_bucket())
            .expect("create the test bucket");
        let url = if prefix.is_empty() {
            format!("s3://{name}")
        } else {
            format!("s3://{name}/{prefix}")
        };
        Bucket { url, name }
    }

    /// The bucket as a remote, through the library.
    pub fn remote(&self) -> Remote {
        let moto = moto();
        let location = Location::parse(&self.url).expect("an s3 url");
        context::remote::open_with_env(&location, &|n| moto.lookup(n)).expect("open")
    }

    /// The bucket as a remote reached through `endpoint` (a proxy in front of the server).
    pub fn remote_via(&self, endpoint: &str) -> Remote {
        let moto = moto();
        let location = Location::parse(&self.url).expect("an s3 url");
        let lookup = |n: &str| match n {
            "AWS_ENDPOINT_URL" => Some(endpoint.to_string()),
            n => moto.lookup(n),
        };
        context::remote::open_with_env(&location, &lookup).expect("open")
    }

    /// The whole bucket `name` (no prefix) as a remote.
    pub fn remote_of(name: &str) -> Remote {
        Bucket {
            url: format!("s3://{name}"),
            name: name.to_string(),
        }
        .remote()
    }

    /// The bucket's object store itself (for the object-level suite).
    pub fn objects(&self) -> S3 {
        let moto = moto();
        let location = Location::parse(&self.url).expect("url");
        let s3 = location
            .target::<context::remote::S3Location>()
            .expect("an s3 url");
        S3::new(S3Config::from_env(&s3.bucket, &s3.prefix, &|n| moto.lookup(n)).expect("config"))
            .expect("s3")
    }
}
