//! `ssh://[USER@]HOST[:PORT]/PATH`: a folder on a machine reachable by SSH, through the user's
//! own `ssh` (its config, agent, jump hosts and known hosts), as git, rsync and restic do.
//!
//! One `ssh ... -s sftp` process per command, opened when the remote is and reused for
//! everything the command does; SFTP is spoken over its stdin and stdout by
//! `openssh-sftp-client`, on a small tokio runtime behind the synchronous [`Transport`]
//! (several reads in flight on a pull). `ssh` runs in batch mode, so it never prompts: a host
//! that is down, a refused key or an unknown host key is an error naming the host and what ssh
//! said, within `ConnectTimeout`. `CONTEXT_SSH` replaces the `ssh` command, split as a shell
//! would (like git's `GIT_SSH_COMMAND`).
//!
//! Writes are atomic as in a local folder: a changeset is written to a temporary file beside
//! its name, synced (`fsync@openssh.com`), then hard-linked to its name
//! (`hardlink@openssh.com`, which fails if the name exists: create-if-absent) and the temporary
//! file removed; a manifest is renamed into place (`posix-rename@openssh.com`). A killed write
//! leaves only a temporary file, which prune sweeps.

use std::future::Future;
use std::pin::Pin;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use futures_core::Stream;
use openssh_sftp_client::error::SftpErrorKind;
use openssh_sftp_client::{Error as SftpError, Sftp, SftpOptions};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::transport::{Created, Transport};
use super::{RemoteError, Result, names};
use crate::ids::PeerId;

/// How long ssh may take to reach the host (`ConnectTimeout`).
const CONNECT_TIMEOUT_S: u32 = 10;
/// How long the whole connection (ssh, authentication, the SFTP handshake) may take.
const OPEN_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one read may wait for its answer: a server stuck on a file (or a connection that
/// died without a word) must not hold the sync lock forever.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
/// Reads a pull keeps in flight on the one connection.
const READS_IN_FLIGHT: usize = 4;

/// The SSH transport.
pub(super) static SCHEME: super::registry::Scheme = super::registry::Scheme {
    name: "SSH",
    schemes: &["ssh"],
    form: "ssh://[USER@]HOST[:PORT]/PATH",
    environment: &[(
        "CONTEXT_SSH",
        "replaces the `ssh` command of ssh:// remotes (split like a shell would)",
    )],
    parse: parse_ssh,
};

/// `[USER@]HOST[:PORT]/PATH`: `/PATH` is absolute, `/~/PATH` relative to the login folder.
fn parse_ssh(_: &str, rest: &str) -> super::registry::Parsed {
    let bad = |reason: &str| reason.to_string();
    let (authority, path) = rest
        .split_once('/')
        .ok_or_else(|| bad("it names no folder"))?;
    let (user, host_port) = match authority.rsplit_once('@') {
        Some((u, h)) if !u.is_empty() => (Some(u.to_string()), h),
        Some(_) => return Err(bad("the user before @ is empty")),
        None => (None, authority),
    };
    let (host, port) = match host_port.rsplit_once(':') {
        Some((h, p)) => (
            h,
            Some(
                p.parse::<u16>()
                    .map_err(|_| bad("the port is not a number"))?,
            ),
        ),
        None => (host_port, None),
    };
    let valid_host = !host.is_empty()
        && !host.starts_with('-')
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
    if !valid_host {
        return Err(bad("it names no host"));
    }
    let path = path.trim_end_matches('/');
    let path = match path.strip_prefix('~') {
        Some(home) => home.trim_start_matches('/').to_string(),
        None => format!("/{path}"),
    };
    if path.is_empty() || path == "/" {
        return Err(bad("it names no folder"));
    }
    Ok(Box::new(SshTarget {
        user,
        host: host.to_string(),
        port,
        path,
    }))
}

/// Where an `ssh://` remote is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshTarget {
    pub user: Option<String>,
    pub host: String,
    pub port: Option<u16>,
    /// The folder on the host: absolute, or relative to the login folder when the URL said
    /// `/~/...`.
    pub path: String,
}

impl super::registry::Target for SshTarget {
    fn url(&self) -> String {
        self.location()
    }
    fn open(&self, env: super::registry::Env) -> Result<super::Remote> {
        Ok(super::Remote::new(Ssh::connect(self.clone(), env)?))
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

impl SshTarget {
    /// `ssh://user@host:port/path`, the one spelling of this remote.
    pub fn location(&self) -> String {
        let user = self
            .user
            .as_deref()
            .map(|u| format!("{u}@"))
            .unwrap_or_default();
        let port = self.port.map(|p| format!(":{p}")).unwrap_or_default();
        let path = if self.path.starts_with('/') {
            self.path.clone()
        } else {
            format!("/~/{}", self.path)
        };
        format!("ssh://{user}{}{port}{path}", self.host)
    }
}

/// A folder over SFTP as an [`Transport`]. Clones share the connection.
#[derive(Clone)]
pub struct Ssh(Arc<Inner>);

struct Inner {
    target: SshTarget,
    location: String,
    runtime: tokio::runtime::Runtime,
    sftp: Sftp,
    /// The `ssh` process; killed when the last clone goes.
    child: Mutex<Option<tokio::process::Child>>,
    /// What ssh said on stderr, for messages.
    said: Arc<Mutex<String>>,
}

impl std::fmt::Debug for Ssh {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ssh")
            .field("location", &self.0.location)
            .finish_non_exhaustive()
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Ok(mut child) = self.child.lock()
            && let Some(mut c) = child.take()
        {
            let _ = c.start_kill();
        }
    }
}

impl Ssh {
    /// Starts `ssh` (or `CONTEXT_SSH`) to the target, speaks SFTP, and checks the folder is
    /// there. Never prompts: batch mode, and stdin is the SFTP channel.
    pub fn connect(target: SshTarget, env: &dyn Fn(&str) -> Option<String>) -> Result<Ssh> {
        let location = target.location();
        let unreachable = |reason: String| RemoteError::Unreachable {
            location: location.clone(),
            reason,
        };
        let mut command = match env("CONTEXT_SSH") {
            Some(line) => shlex::split(&line)
                .filter(|words| !words.is_empty())
                .ok_or_else(|| unreachable(format!("CONTEXT_SSH={line:?} is not a command")))?,
            None => vec!["ssh".to_string()],
        };
        command.extend(
            [
                "-o",
                "BatchMode=yes",
                "-o",
                &format!("ConnectTimeout={CONNECT_TIMEOUT_S}"),
                "-o",
                "ServerAliveInterval=15",
                "-o",
                "ServerAliveCountMax=2",
            ]
            .map(String::from),
        );
        if let Some(port) = target.port {
            command.extend(["-p".to_string(), port.to_string()]);
        }
        if let Some(user) = &target.user {
            command.extend(["-l".to_string(), user.clone()]);
        }
        command.extend([
            "-s".to_string(),
            "--".to_string(),
            target.host.clone(),
            "sftp".to_string(),
        ]);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_io()
            .enable_time()
            .build()
            .map_err(|e| unreachable(format!("cannot start the SSH runtime: {e}")))?;
        let said = Arc::new(Mutex::new(String::new()));
        let opened = runtime.block_on(async {
            let mut child = tokio::process::Command::new(&command[0])
                .args(&command[1..])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .kill_on_drop(true)
                .spawn()
                .map_err(|e| format!("cannot run {:?}: {e}", command[0]))?;
            let (Some(stdin), Some(stdout), Some(mut stderr)) =
                (child.stdin.take(), child.stdout.take(), child.stderr.take())
            else {
                return Err("ssh's pipes could not be opened".to_string());
            };
            let collected = said.clone();
            let reader = tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                while let Ok(n) = stderr.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    if let Ok(mut s) = collected.lock()
                        && s.len() < 64 << 10
                    {
                        s.push_str(&String::from_utf8_lossy(&buf[..n]));
                    }
                }
            });
            let handshake =
                tokio::time::timeout(OPEN_TIMEOUT, Sftp::new(stdin, stdout, SftpOptions::new()))
                    .await;
            match handshake {
                Ok(Ok(sftp)) => Ok((sftp, child)),
                failed => {
                    // ssh has said why on stderr, and exited (or is made to).
                    let _ = tokio::time::timeout(Duration::from_secs(5), child.wait()).await;
                    let _ = child.start_kill();
                    let _ = tokio::time::timeout(Duration::from_secs(2), reader).await;
                    let said = said
                        .lock()
                        .map(|s| s.trim().to_string())
                        .unwrap_or_default();
                    let why = match failed {
                        Err(_) => format!("no answer within {}s", OPEN_TIMEOUT.as_secs()),
                        Ok(Err(e)) => e.to_string(),
                        Ok(Ok(_)) => String::new(),
                    };
                    Err(if said.is_empty() {
                        format!("ssh to {} failed: {why}", target.host)
                    } else {
                        format!("ssh to {} failed: {said}", target.host)
                    })
                }
            }
        });
        let (sftp, child) = opened.map_err(unreachable)?;
        let ssh = Ssh(Arc::new(Inner {
            location: location.clone(),
            target,
            runtime,
            sftp,
            child: Mutex::new(Some(child)),
            said,
        }));
        // The folder must exist: a missing one is not created (a typo, an unmounted disk).
        let root = ssh.0.target.path.clone();
        match ssh.block_on(async { ssh.0.sftp.fs().metadata(&root).await }) {
            Ok(m) if m.file_type().is_some_and(|t| t.is_dir()) => Ok(ssh),
            Ok(_) => Err(RemoteError::Missing { location }),
            Err(e) if is_not_found(&e) => Err(RemoteError::Missing { location }),
            Err(e) => Err(unreachable(e.to_string())),
        }
    }

    fn block_on<F: Future>(&self, f: F) -> F::Output {
        self.0.runtime.block_on(f)
    }

    fn path_of(&self, key: &str) -> String {
        let root = self.0.target.path.trim_end_matches('/');
        if root.is_empty() {
            key.to_string()
        } else {
            format!("{root}/{key}")
        }
    }

    fn named(&self, key: &str) -> String {
        format!("{}/{key}", self.0.location)
    }

    /// An SFTP failure as the remote's error, with what ssh said if the connection died.
    fn fail(&self, what: &'static str, key: &str, e: SftpError) -> RemoteError {
        let said = self
            .0
            .said
            .lock()
            .map(|s| s.trim().to_string())
            .unwrap_or_default();
        let cause = if said.is_empty() {
            e.to_string()
        } else {
            format!("{e} (ssh said: {said})")
        };
        RemoteError::failed(what, self.named(key), cause.into())
    }

    /// The entries of a folder: (name, is a folder, modified), `None` if it does not exist.
    async fn read_dir(&self, path: &str) -> std::result::Result<Option<Vec<Entry>>, SftpError> {
        let mut fs = self.0.sftp.fs();
        let dir = match fs.open_dir(path).await {
            Ok(d) => d,
            Err(e) if is_not_found(&e) => return Ok(None),
            Err(e) => return Err(e),
        };
        let mut entries = Box::pin(dir.read_dir());
        let mut out = Vec::new();
        while let Some(entry) =
            std::future::poll_fn(|cx| Pin::new(&mut entries).as_mut().poll_next(cx)).await
        {
            let entry = entry?;
            let name = entry.filename().to_string_lossy().into_owned();
            if name == "." || name == ".." {
                continue;
            }
            let meta = entry.metadata();
            let kind = meta.file_type();
            let is_dir = kind.is_some_and(|t| t.is_dir());
            let is_file = kind.is_some_and(|t| t.is_file());
            out.push(Entry {
                name,
                is_dir,
                is_file,
                odd: (!is_dir && !is_file).then(|| not_a_file(kind)),
                modified: meta.modified().map(|t| t.as_system_time()),
            });
        }
        Ok(Some(out))
    }

    /// Refuses, without following anything, a `key` whose folder is a link (or anything but a
    /// folder) or, with `file`, that is itself anything but a regular file: SFTP servers follow
    /// links, and open a FIFO by blocking. Returns, with `file`, the file's size; `None` for a
    /// path that does not exist (the operation that follows says so, or is spared).
    fn refuse_irregular(&self, key: &str, file: bool) -> Result<Option<u64>> {
        let path = self.path_of(key);
        let mut check = vec![];
        if let Some((dir, _)) = key.rsplit_once('/') {
            check.push((self.path_of(dir), dir.to_string(), true));
        }
        if file {
            check.push((path, key.to_string(), false));
        }
        let mut size = None;
        for (path, rel, folder) in check {
            let meta = self.block_on(async {
                tokio::time::timeout(REQUEST_TIMEOUT, self.0.sftp.fs().symlink_metadata(&path))
                    .await
            });
            let meta = match meta {
                Err(_) => {
                    return Err(self.fail_timeout("get", &rel));
                }
                Ok(Err(e)) if is_not_found(&e) => return Ok(None),
                Ok(Err(e)) => return Err(self.fail("get", &rel, e)),
                Ok(Ok(m)) => m,
            };
            size = meta.len();
            let kind = meta.file_type();
            let fine = if folder {
                kind.is_some_and(|t| t.is_dir())
            } else {
                kind.is_some_and(|t| t.is_file())
            };
            if !fine {
                return Err(RemoteError::NotAFile {
                    location: self.named(&rel),
                    what: if folder && !kind.is_some_and(|t| t.is_symlink()) {
                        "not a folder"
                    } else {
                        not_a_file(kind)
                    },
                });
            }
        }
        Ok(Some(size.unwrap_or(0)))
    }

    /// A request that got no answer in time.
    fn fail_timeout(&self, what: &'static str, key: &str) -> RemoteError {
        RemoteError::failed(
            what,
            self.named(key),
            format!("no answer within {}s", REQUEST_TIMEOUT.as_secs()).into(),
        )
    }

    /// Writes `bytes` to a temporary file beside `key`, synced; returns its path.
    async fn write_temporary(
        &self,
        key: &str,
        bytes: &[u8],
    ) -> std::result::Result<String, (&'static str, SftpError)> {
        let path = self.path_of(key);
        let (dir, file) = path.rsplit_once('/').unwrap_or(("", path.as_str()));
        let mut fs = self.0.sftp.fs();
        if !dir.is_empty() && fs.metadata(dir).await.is_err() {
            // Another writer may create it first: only a folder still missing is a failure.
            if let Err(e) = fs.create_dir(dir).await
                && fs.metadata(dir).await.is_err()
            {
                return Err(("create folder", e));
            }
        }
        let tmp = if dir.is_empty() {
            format!(".{file}.tmp-{}", std::process::id())
        } else {
            format!("{dir}/.{file}.tmp-{}", std::process::id())
        };
        // A name of ours left by an earlier process of the same pid (or planted: a link) is
        // removed, never written through: the file is created new.
        let _ = fs.remove_file(&tmp).await;
        let mut options = self.0.sftp.options();
        let mut f = options
            .write(true)
            .create_new(true)
            .open(&tmp)
            .await
            .map_err(|e| ("create temporary file", e))?;
        f.write_all(bytes)
            .await
            .map_err(|e| ("write temporary file", e))?;
        if self.0.sftp.support_fsync() {
            f.sync_all().await.map_err(|e| ("sync temporary file", e))?;
        }
        f.close().await.map_err(|e| ("close temporary file", e))?;
        Ok(tmp)
    }
}

struct Entry {
    name: String,
    is_dir: bool,
    is_file: bool,
    /// What it is, when it is neither a file nor a folder (a link, a FIFO...).
    odd: Option<&'static str>,
    modified: Option<SystemTime>,
}

/// What a path that is not a regular file is, for messages (as `lstat` says: never followed).
fn not_a_file(t: Option<openssh_sftp_client::metadata::FileType>) -> &'static str {
    match t {
        Some(t) if t.is_symlink() => "a link (links in a remote are never followed)",
        Some(t) if t.is_dir() => "a folder where a file should be",
        Some(t) if t.is_fifo() => "a FIFO (a named pipe), not a file",
        Some(t) if t.is_socket() => "a socket, not a file",
        Some(t) if t.is_block_device() || t.is_char_device() => "a device, not a file",
        _ => "not a regular file",
    }
}

fn is_not_found(e: &SftpError) -> bool {
    matches!(e, SftpError::SftpError(SftpErrorKind::NoSuchFile, _))
}

impl Transport for Ssh {
    fn location(&self) -> String {
        self.0.location.clone()
    }

    fn list(&self, prefix: &str, after: Option<&str>) -> Result<Vec<String>> {
        let mut keys = Vec::new();
        let root = self.0.target.path.clone();
        match prefix.strip_suffix('/') {
            Some(dir) if !dir.is_empty() && !dir.contains('/') => {
                let entries = self
                    .block_on(self.read_dir(&self.path_of(dir)))
                    .map_err(|e| self.fail("list", prefix, e))?;
                for e in entries.unwrap_or_default() {
                    if e.is_file {
                        keys.push(format!("{prefix}{}", e.name));
                    }
                }
            }
            _ => {
                let top = self
                    .block_on(self.read_dir(&root))
                    .map_err(|e| self.fail("list", "", e))?
                    .ok_or_else(|| RemoteError::Missing {
                        location: self.location(),
                    })?;
                for e in top {
                    if e.is_file {
                        keys.push(e.name);
                    } else if e.is_dir && !e.name.starts_with('.') {
                        let inner = self
                            .block_on(self.read_dir(&self.path_of(&e.name)))
                            .map_err(|err| self.fail("list", &e.name, err))?;
                        for f in inner.unwrap_or_default() {
                            if f.is_file {
                                keys.push(format!("{}/{}", e.name, f.name));
                            }
                        }
                    }
                }
                keys.retain(|k| k.starts_with(prefix));
            }
        }
        Ok(names::sorted_after(keys, after))
    }

    fn list_top(&self) -> Result<Vec<String>> {
        let top = self
            .block_on(self.read_dir(&self.0.target.path))
            .map_err(|e| self.fail("list", "", e))?
            .ok_or_else(|| RemoteError::Missing {
                location: self.location(),
            })?;
        let mut keys: Vec<String> = top
            .into_iter()
            .filter_map(|e| {
                if e.is_file {
                    Some(e.name)
                } else if e.is_dir && !e.name.starts_with('.') {
                    Some(format!("{}/", e.name))
                } else {
                    None
                }
            })
            .collect();
        keys.sort();
        Ok(keys)
    }

    fn get(&self, key: &str, max: u64) -> Result<Vec<u8>> {
        // Its size comes with the check that it is a regular file: one request, not two.
        let Some(size) = self.refuse_irregular(key, true)? else {
            return Err(RemoteError::NotFound {
                location: self.named(key),
            });
        };
        let path = self.path_of(key);
        let got = self.block_on(async {
            tokio::time::timeout(REQUEST_TIMEOUT, async {
                if size > max {
                    return Ok(Err(size));
                }
                Ok(Ok(self.0.sftp.fs().read(&path).await?))
            })
            .await
        });
        let Ok(got) = got else {
            return Err(self.fail_timeout("get", key));
        };
        match got {
            Ok(Ok(bytes)) if bytes.len() as u64 > max => Err(RemoteError::TooLarge {
                location: self.named(key),
                size: bytes.len() as u64,
            }),
            Ok(Ok(bytes)) => Ok(bytes.to_vec()),
            Ok(Err(size)) => Err(RemoteError::TooLarge {
                location: self.named(key),
                size,
            }),
            Err(e) if is_not_found(&e) => Err(RemoteError::NotFound {
                location: self.named(key),
            }),
            Err(e) => Err(self.fail("get", key, e)),
        }
    }

    fn get_tail(&self, key: &str, len: u64) -> Result<Option<Vec<u8>>> {
        self.refuse_irregular(key, true)?;
        let path = self.path_of(key);
        let got = self.block_on(async {
            tokio::time::timeout(REQUEST_TIMEOUT, async {
                let mut f = self.0.sftp.open(&path).await?;
                let size = f.metadata().await?.len().unwrap_or(0);
                if size < len {
                    return Ok(None);
                }
                f.seek(std::io::SeekFrom::Start(size - len)).await?;
                let tail = f
                    .read_all(len as usize, bytes::BytesMut::with_capacity(len as usize))
                    .await?;
                f.close().await?;
                Ok(Some(tail.to_vec()))
            })
            .await
        });
        let Ok(got) = got else {
            return Err(self.fail_timeout("get", key));
        };
        match got {
            Ok(tail) => Ok(tail),
            Err(e) if is_not_found(&e) => Err(RemoteError::NotFound {
                location: self.named(key),
            }),
            Err(e) => Err(self.fail("get", key, e)),
        }
    }

    fn put_if_absent(&self, key: &str, bytes: &[u8]) -> Result<Created> {
        self.refuse_irregular(key, false)?;
        let path = self.path_of(key);
        let done = self.block_on(async {
            let tmp = self.write_temporary(key, bytes).await?;
            let mut fs = self.0.sftp.fs();
            let linked = fs.hard_link(&tmp, &path).await;
            let _ = fs.remove_file(&tmp).await;
            match linked {
                Ok(()) => Ok(Created::New),
                // A "failure" may be the name being taken: only its presence says so.
                Err(e) => match fs.metadata(&path).await {
                    Ok(_) => Ok(Created::Existed),
                    Err(_) => Err(("link into place", e)),
                },
            }
        });
        done.map_err(|(step, e)| self.fail(step, key, e))
    }

    fn put(&self, key: &str, bytes: &[u8]) -> Result<()> {
        self.refuse_irregular(key, false)?;
        let path = self.path_of(key);
        let done = self.block_on(async {
            let tmp = self.write_temporary(key, bytes).await?;
            let mut fs = self.0.sftp.fs();
            if let Err(e) = fs.rename(&tmp, &path).await {
                let _ = fs.remove_file(&tmp).await;
                return Err(("rename into place", e));
            }
            Ok(())
        });
        done.map_err(|(step, e)| self.fail(step, key, e))
    }

    fn delete(&self, key: &str) -> Result<()> {
        // Nothing is deleted through a linked folder (a link itself is removed, never followed).
        if let Err(RemoteError::NotAFile { .. }) = self.refuse_irregular(key, false) {
            return Ok(());
        }
        let path = self.path_of(key);
        match self.block_on(async { self.0.sftp.fs().remove_file(&path).await }) {
            Ok(()) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => Err(self.fail("remove", key, e)),
        }
    }

    fn sweep_temporary(&self, older_than: Duration, dry_run: bool) -> Result<Vec<String>> {
        let mut swept = Vec::new();
        let top = self
            .block_on(self.read_dir(&self.0.target.path))
            .map_err(|e| self.fail("list", "", e))?
            .unwrap_or_default();
        let now = SystemTime::now();
        for dir in top.iter().filter(|e| e.is_dir) {
            if dir.name.parse::<PeerId>().is_err() {
                continue;
            }
            let files = self
                .block_on(self.read_dir(&self.path_of(&dir.name)))
                .map_err(|e| self.fail("list", &dir.name, e))?
                .unwrap_or_default();
            for f in files {
                if !f.is_file || !names::is_our_temporary(&f.name) {
                    continue;
                }
                let old = f
                    .modified
                    .and_then(|m| now.duration_since(m).ok())
                    .is_some_and(|age| age >= older_than);
                if !old {
                    continue;
                }
                let key = format!("{}/{}", dir.name, f.name);
                if !dry_run {
                    self.delete(&key)?;
                }
                swept.push(key);
            }
        }
        swept.sort();
        Ok(swept)
    }

    fn read_parallelism(&self) -> usize {
        READS_IN_FLIGHT
    }

    fn list_irregular(&self) -> Result<Vec<(String, &'static str)>> {
        let mut out = Vec::new();
        let top = self
            .block_on(self.read_dir(&self.0.target.path))
            .map_err(|e| self.fail("list", "", e))?
            .unwrap_or_default();
        for e in top.iter().filter(|e| !e.name.starts_with('.')) {
            if let Some(what) = e.odd {
                out.push((e.name.clone(), what));
            } else if e.is_dir {
                let inner = self
                    .block_on(self.read_dir(&self.path_of(&e.name)))
                    .map_err(|err| self.fail("list", &e.name, err))?
                    .unwrap_or_default();
                for f in inner.iter().filter(|f| !f.name.starts_with('.')) {
                    if !f.is_file {
                        out.push((
                            format!("{}/{}", e.name, f.name),
                            f.odd.unwrap_or("a folder where a file should be"),
                        ));
                    }
                }
            }
        }
        out.sort();
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_target_has_one_spelling() {
        let t = SshTarget {
            user: Some("me".into()),
            host: "nas".into(),
            port: Some(2222),
            path: "/srv/notes".into(),
        };
        assert_eq!(t.location(), "ssh://me@nas:2222/srv/notes");
        let home = SshTarget {
            user: None,
            host: "nas".into(),
            port: None,
            path: "notes".into(),
        };
        assert_eq!(home.location(), "ssh://nas/~/notes");
    }

    #[test]
    fn our_temporary_files_are_told_from_others() {
        assert!(names::is_our_temporary(
            ".00000001-0000000000000002.cset.tmp-123"
        ));
        assert!(names::is_our_temporary(".manifest.json.tmp-9"));
        assert!(!names::is_our_temporary(".syncthing.x.cset.tmp"));
        assert!(!names::is_our_temporary("00000001-0000000000000002.cset"));
    }
}

#[cfg(test)]
mod location_tests {
    use super::*;
    use crate::remote::{Location, LocationError};

    #[test]
    fn ssh_urls_name_a_user_a_host_a_port_and_a_folder() {
        let l = Location::parse("ssh://me@nas.local:2222/srv/notes/").unwrap();
        let t = l.target::<SshTarget>().unwrap();
        assert_eq!(t.user.as_deref(), Some("me"));
        assert_eq!(t.host, "nas.local");
        assert_eq!(t.port, Some(2222));
        assert_eq!(t.path, "/srv/notes");
        assert_eq!(l.to_string(), "ssh://me@nas.local:2222/srv/notes");
        let home = Location::parse("ssh://nas/~/notes").unwrap();
        let home = home.target::<SshTarget>().unwrap().clone();
        assert_eq!(
            (home.user, home.port, home.path.as_str()),
            (None, None, "notes")
        );
        for bad in [
            "ssh://nas",
            "ssh://nas/",
            "ssh://@nas/x",
            "ssh://nas:port/x",
            "ssh://-oProxyCommand=x/y",
            "ssh:///x",
        ] {
            assert!(
                matches!(
                    Location::parse(bad),
                    Err(LocationError::Invalid { name: "SSH", .. })
                ),
                "{bad}"
            );
        }
    }
}
