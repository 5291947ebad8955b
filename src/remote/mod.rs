//! Remotes: where changesets meet. A remote is a folder every machine can see (a Syncthing or
//! Dropbox folder, an NFS mount, a USB stick), or any other place that holds objects; no
//! server of ours runs anywhere.
//!
//! Two layers. [`Transport`] is the narrow trait a transport implements (get, the tail of an
//! object, create-if-absent, put, list under a prefix after a name, delete): [`Folder`] is the
//! shared folder, [`Memory`] keeps everything in memory for the property tests that run
//! thousands of cases. [`Remote`] is what sync needs of a remote, built once over any object
//! store: which names are changesets and snapshots ([`names`]), a publish that never replaces
//! a different file of the same name, and the per-peer manifests that let peers see each
//! other's state cheaply. [`open`] turns a [`Location`] (what the user wrote) into a remote.
//! One test suite runs over every object store.

mod aws;
mod aws_profile;
mod http;
mod location;
mod memory;
pub mod names;
pub mod registry;
pub mod retry;
mod transport;

/// Every transport: its module (one file under `src/remote/`, whose public items are this
/// module's: `Folder`, `S3`, `Ssh`, their targets) and its entry in [`registry::TRANSPORTS`],
/// in the order help lists them. A new transport is one more name here.
macro_rules! transports {
    ($($module:ident),* $(,)?) => {
        $(mod $module; pub use $module::*;)*
        static TRANSPORTS: &[&registry::Scheme] = &[$(&$module::SCHEME),*];
    };
}
transports![folder, s3, ssh, webdav];

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::changeset::MAX_FILE_BYTES;
use crate::encryption::{self, Opened, SecretKey, sealed};
// The key record and the evidence of encryption are the encryption module's; they are named
// here too, where the remote reads and writes them.
pub use crate::encryption::{Evidence, KeyRecord};
use crate::ids::PeerId;
use crate::record::Checksum;

pub use aws::{S3Config, shared_files_have_credentials};
pub use location::{Location, LocationError, redact, redact_in};
pub use memory::Memory;
pub use names::{CsetName, FileName, Found, SnapshotName};
pub use transport::{Created, Transport};

/// A cause from whatever a transport is built on (the file system, an HTTP client, ssh).
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error(
        "the remote {location} does not exist or is not a folder (is it mounted? create it first if it is new)"
    )]
    Missing { location: String },
    #[error("{location} is not there")]
    NotFound { location: String },
    #[error("cannot list the remote {location}: {source}")]
    List { location: String, source: Cause },
    #[error("cannot read {location}: {source}")]
    Read { location: String, source: Cause },
    #[error("{location} is {what}: not read, not written, not followed")]
    NotAFile {
        location: String,
        what: &'static str,
    },
    #[error("{location} is {size} bytes, more than a changeset can be")]
    TooLarge { location: String, size: u64 },
    #[error("cannot write {location} ({step} failed): {source}")]
    Write {
        location: String,
        step: &'static str,
        source: Cause,
    },
    #[error("{location} already exists with different content; it was not replaced")]
    Exists { location: String },
    #[error("the manifest {location} is not valid: {reason}")]
    BadManifest { location: String, reason: String },
    #[error("cannot use the remote {location}: {reason}")]
    Config { location: String, reason: String },
    #[error("cannot reach {location}: {reason}")]
    Unreachable { location: String, reason: String },
    #[error("{location}: {reason}")]
    CompleteSnapshot { location: String, reason: String },
    #[error(
        "the remote {location} holds encrypted files ({file}) but no key record \
         (encryption.json): nothing is written to it in plaintext. On a machine that holds its \
         key, `context sync key export --remote {location} | context sync key import --remote \
         {location}` puts the record back"
    )]
    SealedWithoutRecord { location: String, file: String },
    #[error(
        "{location} does not look like a remote: it holds {found} and nothing context wrote \
         (a remote is a folder that holds peers' folders, or an empty one). Nothing was \
         written to it; is it the folder you meant?"
    )]
    NotARemote { location: String, found: String },
    #[error("the key record {location} is damaged: {reason}")]
    BadKeyRecord { location: String, reason: String },
    #[error(
        "the bucket of {location} does not exist (create it first: context never creates buckets)"
    )]
    NoBucket { location: String },
    #[error("cannot {what} {location}: HTTP {status}{}{hint}", code.as_deref().map(|c| format!(" {c}")).unwrap_or_default())]
    Http {
        location: String,
        what: &'static str,
        status: u16,
        code: Option<String>,
        hint: &'static str,
    },
}

pub type Result<T, E = RemoteError> = std::result::Result<T, E>;

impl RemoteError {
    /// A transport's failure to `what` (`list`, `get`, or a write step) at `location`.
    pub fn failed(what: &'static str, location: String, source: Cause) -> RemoteError {
        match what {
            "list" => RemoteError::List { location, source },
            "get" => RemoteError::Read { location, source },
            step => RemoteError::Write {
                location,
                step,
                source,
            },
        }
    }
}

/// Opens the remote at `location`, configured from the process environment: a folder must
/// exist (an unmounted drive must not turn into an empty folder at its mount point); a bucket
/// needs credentials. Opening sends no request.
pub fn open(location: &Location) -> Result<Remote> {
    open_with_env(location, &|name| {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    })
}

/// The same, with the environment given.
pub fn open_with_env(location: &Location, env: &dyn Fn(&str) -> Option<String>) -> Result<Remote> {
    location.open(env)
}

/// A file the listing passed over, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// Relative to the remote's root.
    pub path: String,
    pub why: Found,
}

/// Everything in a remote, classified.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    /// Every changeset, in stream order.
    pub changesets: Vec<CsetName>,
    /// Every file of every snapshot (parts and seals), by peer and id.
    pub snapshots: Vec<SnapshotName>,
    pub manifests: Vec<PeerId>,
    /// Leftovers of file-sync tools and unknown `.cset` files: warned about, never read.
    pub skipped: Vec<Skipped>,
}

impl Listing {
    fn from_keys(keys: Vec<String>) -> Listing {
        Listing::from_files(keys.into_iter().map(|key| match key.split_once('/') {
            Some((d, f)) => (Some(d.to_string()), f.to_string()),
            None => (None, key),
        }))
    }

    fn from_files(files: impl IntoIterator<Item = (Option<String>, String)>) -> Listing {
        let mut out = Listing::default();
        for (dir, file) in files {
            let found = names::classify(dir.as_deref(), &file);
            let path = match &dir {
                Some(d) => format!("{d}/{file}"),
                None => file.clone(),
            };
            match found {
                Found::Changeset(name) => out.changesets.push(name),
                Found::Snapshot(name) => out.snapshots.push(name),
                Found::Manifest(peer) => out.manifests.push(peer),
                Found::Other if !file.to_ascii_lowercase().ends_with(names::EXTENSION) => {}
                // What file-sync tools keep in a folder (`.stignore`, `.DS_Store`,
                // `.dropbox.cache`, ...) is not ours: passed over silently, so cron mails
                // nothing. Only what looks like ours is reported: our own interrupted writes,
                // and a tool's temporary copy of a changeset on its way.
                Found::Temporary
                    if !names::is_our_temporary(&file)
                        && !file.to_ascii_lowercase().contains(names::EXTENSION) => {}
                why => out.skipped.push(Skipped { path, why }),
            }
        }
        out.changesets.sort();
        out.snapshots.sort();
        out.manifests.sort();
        out.skipped.sort_by(|a, b| a.path.cmp(&b.path));
        out
    }

    /// The changesets of each stream (peer, generation), each list in sequence order.
    pub fn streams(&self) -> BTreeMap<(PeerId, u64), Vec<CsetName>> {
        let mut out: BTreeMap<(PeerId, u64), Vec<CsetName>> = BTreeMap::new();
        for n in &self.changesets {
            out.entry((n.peer, n.generation)).or_default().push(*n);
        }
        out
    }

    /// Each snapshot's files: its parts in order, and whether its seal is there.
    pub fn snapshot_files(&self) -> BTreeMap<(PeerId, u64), (Vec<SnapshotName>, bool)> {
        let mut out: BTreeMap<(PeerId, u64), (Vec<SnapshotName>, bool)> = BTreeMap::new();
        for n in &self.snapshots {
            let files = out.entry((n.peer, n.id)).or_default();
            match n.part {
                Some(_) => files.0.push(*n),
                None => files.1 = true,
            }
        }
        out
    }
}

/// How far a peer has applied one stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    pub peer: String,
    pub generation: u64,
    pub seq: u64,
}

/// A peer's own account of itself in a remote: `<peer>/manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub peer: String,
    pub generation: u64,
    pub host: String,
    /// The last changeset this peer published in each of its generations here.
    pub published: Vec<Ack>,
    /// RFC 3339; `None` before the first push that published anything.
    pub last_push_at: Option<String>,
    /// How far this peer has applied every other stream of this remote.
    pub acks: Vec<Ack>,
    /// RFC 3339: when this manifest last changed (this peer published or applied something).
    /// Absent from manifests written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
}

impl Manifest {
    pub const FORMAT: u32 = 1;

    /// The manifest of `peer` from the bytes of its `manifest.json`, opened with `key` in an
    /// encrypted remote (where a manifest that is not sealed, or does not open, is refused).
    /// Untrusted input: any bytes give a manifest or the reason why not, never a panic.
    pub fn decode(bytes: &[u8], peer: PeerId, key: Option<&SecretKey>) -> Result<Manifest, String> {
        let plain = match key {
            None => bytes.to_vec(),
            Some(k) => encryption::open_manifest(k, &peer.to_string(), bytes)?,
        };
        serde_json::from_slice(&plain).map_err(|e| e.to_string())
    }
}

/// What sync needs of a place to keep changesets, over any [`Transport`]. Clones share the
/// same store.
///
/// An encrypted remote ([`Remote::with_key`]) seals every changeset, snapshot file and manifest
/// it writes and opens every one it reads, so sync above it handles the same plain files
/// either way; a file that does not open is an error naming it, as damage is.
#[derive(Debug, Clone)]
pub struct Remote {
    objects: Arc<dyn Transport>,
    /// The encryption key of an encrypted remote (a secret, never a document key or an
    /// object name).
    secret: Option<Arc<SecretKey>>,
    /// What was found before the first write: whether a remote opened without a key holds
    /// sealed files (see [`Remote::sealed_evidence`]).
    evidence: Arc<std::sync::OnceLock<Option<Evidence>>>,
    /// The projects that travel through it, as this home added it (`None`: all): push writes
    /// nothing of another project into it, pull refuses what it holds of another.
    projects: Option<Arc<Vec<String>>>,
}

/// The largest changeset or snapshot file: the largest payload, its preamble and its checksum.
pub(crate) const MAX_OBJECT_BYTES: u64 = MAX_FILE_BYTES + 64;

impl Remote {
    pub fn new(objects: impl Transport + 'static) -> Remote {
        Remote {
            objects: Arc::new(objects),
            secret: None,
            evidence: Arc::default(),
            projects: None,
        }
    }

    /// The same remote, carrying only `projects` (`None`: all).
    pub fn with_projects(mut self, projects: Option<Vec<String>>) -> Remote {
        self.projects = projects.map(Arc::new);
        self
    }

    /// The projects that travel through it (`None`: all).
    pub fn projects(&self) -> Option<&[String]> {
        self.projects.as_deref().map(Vec::as_slice)
    }

    /// The first sealed file found in the remote (a peer's sealed manifest, else the first
    /// changeset or snapshot file of a peer without one): a remote is encrypted by what it
    /// holds, whatever became of its key record or however its URL is spelt.
    pub fn sealed_evidence(&self) -> Result<Option<Evidence>> {
        for top in self.objects.list_top()? {
            let Some(peer) = top
                .strip_suffix('/')
                .filter(|p| p.parse::<PeerId>().is_ok())
            else {
                continue;
            };
            let manifest = format!("{peer}/{}", names::MANIFEST);
            match self.objects.get(&manifest, MAX_MANIFEST_BYTES) {
                Ok(raw) => {
                    if encryption::is_sealed_manifest(&raw) {
                        return Ok(Some(Evidence::manifest(manifest, raw, peer)));
                    }
                    continue;
                }
                Err(RemoteError::NotFound { .. } | RemoteError::NotAFile { .. }) => {}
                Err(e) => return Err(e),
            }
            let listing = Listing::from_keys(self.objects.list(&top, None)?);
            let first: Option<&dyn FileName> = listing
                .changesets
                .first()
                .map(|n| n as &dyn FileName)
                .or_else(|| listing.snapshots.first().map(|n| n as &dyn FileName));
            if let Some(name) = first {
                match self.objects.get(&name.rel_path(), MAX_OBJECT_BYTES) {
                    Ok(raw) if sealed::is_sealed(&raw) || sealed::newer_format(&raw).is_some() => {
                        return Ok(Some(Evidence::file(name.rel_path(), raw)));
                    }
                    Ok(_) | Err(RemoteError::NotFound { .. } | RemoteError::NotAFile { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(None)
    }

    /// Refuses to write plaintext into a remote that holds sealed files (its key record gone,
    /// or this remote reached by another spelling of its URL): looked up once per remote, before
    /// its first write.
    fn refuse_plaintext_into_sealed(&self) -> Result<()> {
        if self.secret.is_some() {
            if self.evidence.get().is_none() {
                self.refuse_foreign(&self.objects.list_top()?)?;
                let _ = self.evidence.set(None);
            }
            return Ok(());
        }
        let evidence = match self.evidence.get() {
            Some(e) => e.clone(),
            None => {
                self.refuse_foreign(&self.objects.list_top()?)?;
                let found = self.sealed_evidence()?;
                let _ = self.evidence.set(found.clone());
                found
            }
        };
        match evidence {
            None => Ok(()),
            Some(e) => Err(RemoteError::SealedWithoutRecord {
                location: self.location(),
                file: e.file,
            }),
        }
    }

    /// The same remote, encrypted under `key`: every file written is sealed, every file read
    /// must open.
    pub fn with_secret(mut self, secret: SecretKey) -> Remote {
        self.secret = Some(Arc::new(secret));
        self
    }

    /// Whether this remote seals what it writes.
    pub fn is_encrypted(&self) -> bool {
        self.secret.is_some()
    }

    /// The remote's key record, if it is an encrypted remote. A record that cannot be read
    /// is damage ([`RemoteError::BadKeyRecord`]).
    pub fn key_record(&self) -> Result<Option<KeyRecord>> {
        match self.objects.get(names::KEY_RECORD, 1 << 16) {
            Ok(bytes) => {
                KeyRecord::decode(&bytes)
                    .map(Some)
                    .ok_or_else(|| RemoteError::BadKeyRecord {
                        location: self.named(names::KEY_RECORD),
                        reason: "it is not a key record this version reads".into(),
                    })
            }
            Err(RemoteError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Writes the key record of a new encrypted remote, only if none is there (two machines
    /// making the same remote encrypted at once: one wins). Returns whether it was written.
    pub fn create_key_record(&self, record: &KeyRecord) -> Result<bool> {
        Ok(self
            .objects
            .put_if_absent(names::KEY_RECORD, &record.encode())?
            == Created::New)
    }

    /// Opens a sealed file read under `key` (the object's name) as the file it stands for.
    fn open_sealed(&self, name: &dyn FileName, raw: Vec<u8>) -> Result<Vec<u8>> {
        match encryption::open_file(self.secret.as_deref(), name.role(), raw) {
            Opened::Plain(plain) => Ok(plain),
            // Opened as a plain remote (no key record), yet sealed: the record is gone, or
            // this is another spelling of an encrypted remote.
            Opened::SealedWithoutKey => Err(RemoteError::SealedWithoutRecord {
                location: self.location(),
                file: name.rel_path(),
            }),
            Opened::Refused(reason) => Err(RemoteError::CompleteSnapshot {
                location: self.named(&name.rel_path()),
                reason,
            }),
        }
    }

    /// Refuses a folder that holds something other than what `context` and file-sync tools
    /// write, and nothing of ours (a typo: `/etc`), given its top level (`name`, `folder/`). A
    /// remote with peers' folders may hold a stray file (a README): it is passed over.
    fn refuse_foreign(&self, top: &[String]) -> Result<()> {
        let is_peer = |e: &str| {
            e.strip_suffix('/')
                .is_some_and(|d| d.parse::<PeerId>().is_ok_and(|p| p.to_string() == d))
        };
        if top.iter().any(|e| e == names::KEY_RECORD || is_peer(e)) {
            return Ok(());
        }
        let foreign: Vec<&str> = top
            .iter()
            .map(|e| e.as_str())
            .filter(|e| !names::is_file_sync_tools(e.trim_end_matches('/')))
            .collect();
        if foreign.is_empty() {
            return Ok(());
        }
        let mut found = foreign
            .iter()
            .take(3)
            .map(|e| format!("{e:?}"))
            .collect::<Vec<_>>()
            .join(", ");
        if foreign.len() > 3 {
            found.push_str(&format!(" and {} more", foreign.len() - 3));
        }
        Err(RemoteError::NotARemote {
            location: self.location(),
            found,
        })
    }

    /// A remote in memory (for tests); clones share it.
    pub fn in_memory(location: &str) -> Remote {
        Remote::new(Memory::new(location))
    }

    /// Where it is, for messages and for remembering which remote a version came from.
    pub fn location(&self) -> String {
        self.objects.location()
    }

    /// How many reads a pull keeps in flight.
    pub fn read_parallelism(&self) -> usize {
        self.objects.read_parallelism()
    }

    /// Reaches the remote once (a folder is checked when opened; a bucket answers a listing
    /// of one key): what `context sync remote` does before it remembers a remote.
    pub fn probe(&self) -> Result<()> {
        self.objects.probe()
    }

    fn named(&self, key: &str) -> String {
        format!("{}/{key}", self.location())
    }

    /// Everything in the remote, classified.
    pub fn list(&self) -> Result<Listing> {
        let keys = self.objects.list("", None)?;
        let mut top: Vec<String> = keys
            .iter()
            .map(|k| match k.split_once('/') {
                Some((d, _)) => format!("{d}/"),
                None => k.clone(),
            })
            .collect();
        top.dedup();
        self.refuse_foreign(&top)?;
        Ok(Listing::from_keys(keys))
    }

    /// Everything in the remote that is not a file a transport reads (links, FIFOs, devices,
    /// folders where files should be), with what each is: never read, named by `verify`.
    pub fn list_irregular(&self) -> Result<Vec<(String, &'static str)>> {
        self.objects.list_irregular()
    }

    /// What is in the remote, without what sorts before `after` in each peer's folder: a peer
    /// folder named in `after` is listed only from the file after that changeset on (later
    /// changesets, later generations, snapshots and the manifest all sort after it); every
    /// other folder whole. What a cron tick lists: a request per peer, however many
    /// changesets the remote holds.
    pub fn list_after(&self, after: &BTreeMap<PeerId, CsetName>) -> Result<Listing> {
        let mut keys = Vec::new();
        let top = self.objects.list_top()?;
        self.refuse_foreign(&top)?;
        for key in top {
            match key.strip_suffix('/') {
                Some(dir) => {
                    let start = dir
                        .parse::<PeerId>()
                        .ok()
                        .and_then(|p| after.get(&p))
                        .map(|n| n.rel_path());
                    keys.extend(self.objects.list(&key, start.as_deref())?);
                }
                None => keys.push(key),
            }
        }
        Ok(Listing::from_keys(keys))
    }

    /// One peer's folder, from the file after `after` on (whole without it).
    pub fn list_peer(&self, peer: PeerId, after: Option<&CsetName>) -> Result<Listing> {
        let start = after.map(|n| n.rel_path());
        Ok(Listing::from_keys(
            self.objects.list(&format!("{peer}/"), start.as_deref())?,
        ))
    }

    /// The bytes of one changeset or snapshot file (at most
    /// [`crate::changeset::MAX_FILE_BYTES`] and a bit).
    pub fn read(&self, name: &dyn FileName) -> Result<Vec<u8>> {
        let raw = self.objects.get(&name.rel_path(), MAX_OBJECT_BYTES)?;
        self.open_sealed(name, raw)
    }

    /// The bytes of a file as they are in the remote, sealed or not.
    pub fn read_raw(&self, name: &dyn FileName) -> Result<Vec<u8>> {
        self.objects.get(&name.rel_path(), MAX_OBJECT_BYTES)
    }

    /// The checksum a changeset or snapshot file records in its last 32 bytes (not verified:
    /// what tells one published file from another without reading it whole), or `None` for a
    /// file too short to have one.
    pub fn read_trailer(&self, name: &dyn FileName) -> Result<Option<Checksum>> {
        if self.secret.is_some() {
            // The trailer of the file inside the seal: only opening it tells.
            let plain = self.read(name)?;
            return Ok(plain
                .len()
                .checked_sub(32)
                .and_then(|at| Checksum::from_slice(&plain[at..])));
        }
        Ok(self
            .objects
            .get_tail(&name.rel_path(), 32)?
            .and_then(|t| Checksum::from_slice(&t)))
    }

    /// The bytes a changeset or snapshot file is stored as: sealed under the remote's key, or
    /// as they are.
    fn sealed<'b>(
        &self,
        name: &dyn FileName,
        bytes: &'b [u8],
    ) -> Result<std::borrow::Cow<'b, [u8]>> {
        match &self.secret {
            None => Ok(std::borrow::Cow::Borrowed(bytes)),
            Some(k) => sealed::seal(k, name.role(), bytes)
                .map(std::borrow::Cow::Owned)
                .map_err(|e| RemoteError::CompleteSnapshot {
                    location: self.named(&name.rel_path()),
                    reason: format!("cannot seal it: {e}"),
                }),
        }
    }

    /// Publishes a changeset atomically. Publishing the same bytes again is a no-op (a retried
    /// write that meets its own earlier attempt); different bytes under an existing name are
    /// refused with [`RemoteError::Exists`].
    pub fn publish(&self, name: &dyn FileName, bytes: &[u8]) -> Result<()> {
        self.refuse_plaintext_into_sealed()?;
        let key = name.rel_path();
        let written = self.sealed(name, bytes)?;
        match self.objects.put_if_absent(&key, &written)? {
            Created::New => Ok(()),
            // CompleteSnapshot twice, the same file differs (a fresh nonce): compare what is inside.
            // Only a read that succeeds and differs means another writer: a read that fails
            // (a store throttling, a connection lost) is an error of the store, retried by the
            // next run.
            Created::Existed => match self.read(name) {
                Ok(existing) if existing == bytes => Ok(()),
                Ok(_) | Err(RemoteError::CompleteSnapshot { .. }) => Err(RemoteError::Exists {
                    location: self.named(&key),
                }),
                Err(e) => Err(e),
            },
        }
    }

    /// Replaces a damaged changeset with `bytes`, atomically (`context sync repair` only: it
    /// has checked that `bytes` are the ones the file must hold, by their checksum).
    pub fn replace(&self, name: &dyn FileName, bytes: &[u8]) -> Result<()> {
        self.refuse_plaintext_into_sealed()?;
        let key = name.rel_path();
        let written = self.sealed(name, bytes)?;
        self.objects.put(&key, &written)
    }

    /// Deletes a changeset or snapshot file (housekeeping only). Deleting one that is already
    /// gone is not an error (another peer's prune may have been first).
    pub fn remove(&self, name: &dyn FileName) -> Result<()> {
        self.objects.delete(&name.rel_path())
    }

    /// Deletes the temporary files this tool's interrupted writes left, last modified at least
    /// `older_than` ago; with `dry_run`, only lists them. Returns their paths.
    pub fn sweep_temporary(
        &self,
        older_than: std::time::Duration,
        dry_run: bool,
    ) -> Result<Vec<String>> {
        self.objects.sweep_temporary(older_than, dry_run)
    }

    pub fn read_manifest(&self, peer: PeerId) -> Result<Option<Manifest>> {
        let key = format!("{peer}/{}", names::MANIFEST);
        let bad = |reason: String| RemoteError::BadManifest {
            location: self.named(&key),
            reason,
        };
        let bytes = match self.objects.get(&key, MAX_MANIFEST_BYTES) {
            Ok(bytes) => bytes,
            Err(RemoteError::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        if self.secret.is_none() && encryption::is_sealed_manifest(&bytes) {
            return Err(RemoteError::SealedWithoutRecord {
                location: self.location(),
                file: key,
            });
        }
        Manifest::decode(&bytes, peer, self.secret.as_deref())
            .map(Some)
            .map_err(bad)
    }

    /// Replaces the peer's manifest atomically.
    pub fn write_manifest(&self, manifest: &Manifest) -> Result<()> {
        self.refuse_plaintext_into_sealed()?;
        let key = format!("{}/{}", manifest.peer, names::MANIFEST);
        let mut bytes = serde_json::to_vec_pretty(manifest).unwrap_or_default();
        bytes.push(b'\n');
        if let Some(k) = &self.secret {
            bytes = encryption::seal_manifest(k, &manifest.peer, &bytes).map_err(|e| {
                RemoteError::CompleteSnapshot {
                    location: self.named(&key),
                    reason: e.to_string(),
                }
            })?;
        }
        self.objects.put(&key, &bytes)
    }
}

/// A manifest lists a few numbers per stream: a megabyte is thousands of streams.
const MAX_MANIFEST_BYTES: u64 = 16 << 20;
