//! A real `sshd` on loopback for the tests, started once per test process on a free
//! 127.0.0.1 port with a host key and a user key made for it in a temporary folder, and
//! stopped when the process ends. `CONTEXT_SSH` points `context` at a client config that
//! trusts that host key and offers that user key: nothing of the caller's `~/.ssh` is used.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use context::remote::{Location, Remote};

pub struct Sshd {
    pub addr: SocketAddr,
    /// Holds the keys, the configs and the remote folders of the tests.
    pub dir: PathBuf,
    _keep: tempfile::TempDir,
    _child: Child,
}

static SSHD: OnceLock<Sshd> = OnceLock::new();

fn keygen(path: &Path) {
    let ok = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .stdout(Stdio::null())
        .status()
        .expect("ssh-keygen")
        .success();
    assert!(ok, "ssh-keygen failed");
}

pub fn user() -> String {
    std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .or_else(|| {
            Command::new("id")
                .arg("-un")
                .output()
                .ok()
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        })
        .unwrap_or_else(|| "root".into())
}

/// The shared server, started on first use.
pub fn sshd() -> &'static Sshd {
    SSHD.get_or_init(|| {
        let sshd = Path::new("/usr/sbin/sshd");
        assert!(
            sshd.exists(),
            "the SSH tests need /usr/sbin/sshd (apt-get install openssh-server; .ci/run installs it)"
        );
        let _ = std::fs::create_dir_all("/run/sshd");
        let keep = tempfile::tempdir().expect("tempdir");
        let dir = keep.path().to_path_buf();
        keygen(&dir.join("host_key"));
        keygen(&dir.join("user_key"));
        std::fs::copy(dir.join("user_key.pub"), dir.join("authorized_keys")).unwrap();
        let port = super::server::free_port();
        let config = format!(
            "ListenAddress 127.0.0.1\nPort {port}\nHostKey {d}/host_key\nPidFile {d}/sshd.pid\n\
             AuthorizedKeysFile {d}/authorized_keys\nStrictModes no\nUsePAM no\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\n\
             PermitRootLogin prohibit-password\nSubsystem sftp internal-sftp\n\
             LogLevel ERROR\n",
            d = dir.display()
        );
        std::fs::write(dir.join("sshd_config"), config).unwrap();
        let host_pub = std::fs::read_to_string(dir.join("host_key.pub")).unwrap();
        std::fs::write(
            dir.join("known_hosts"),
            format!("[127.0.0.1]:{port} {host_pub}"),
        )
        .unwrap();
        std::fs::write(
            dir.join("ssh_config"),
            format!(
                "Host *\n  User {user}\n  IdentityFile {d}/user_key\n  IdentitiesOnly yes\n  \
                 UserKnownHostsFile {d}/known_hosts\n  GlobalKnownHostsFile /dev/null\n  \
                 StrictHostKeyChecking yes\n  LogLevel ERROR\n",
                user = user(),
                d = dir.display()
            ),
        )
        .unwrap();
        let server = format!(
            "/usr/sbin/sshd -D -e -f {d}/sshd_config 2>>{d}/sshd.log",
            d = dir.display()
        );
        let (child, addr) = super::server::start(&server, port, Duration::from_secs(20))
            .unwrap_or_else(|addr| {
                let log = std::fs::read_to_string(dir.join("sshd.log")).unwrap_or_default();
                panic!("sshd did not start on {addr}: {log}")
            });
        Sshd {
            addr,
            dir,
            _keep: keep,
            _child: child,
        }
    })
}

impl Sshd {
    /// `CONTEXT_SSH`: the system ssh with this server's client config.
    pub fn command(&self) -> String {
        format!("ssh -F {}", self.dir.join("ssh_config").display())
    }

    /// The environment a `context` process needs to reach this server.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![("CONTEXT_SSH".into(), self.command())]
    }
}

/// A new, empty folder on the server, as an `ssh://` URL.
pub struct SshFolder {
    pub url: String,
    pub path: PathBuf,
    _keep: tempfile::TempDir,
}

impl SshFolder {
    pub fn new() -> SshFolder {
        let server = sshd();
        let keep = tempfile::tempdir().expect("tempdir");
        let path = keep.path().to_path_buf();
        let url = format!("ssh://127.0.0.1:{}{}", server.addr.port(), path.display());
        SshFolder {
            url,
            path,
            _keep: keep,
        }
    }

    /// The folder as a remote, through the library.
    pub fn remote(&self) -> Remote {
        let command = sshd().command();
        let location = Location::parse(&self.url).expect("an ssh url");
        context::remote::open_with_env(&location, &|n| {
            (n == "CONTEXT_SSH").then(|| command.clone())
        })
        .expect("open")
    }

    /// The folder's object store itself (for the object-level suite).
    pub fn objects(&self) -> context::remote::Ssh {
        let command = sshd().command();
        let location = Location::parse(&self.url).expect("url");
        let target = location
            .target::<context::remote::SshTarget>()
            .expect("an ssh url")
            .clone();
        context::remote::Ssh::connect(target, &|n| (n == "CONTEXT_SSH").then(|| command.clone()))
            .expect("connect")
    }
}
