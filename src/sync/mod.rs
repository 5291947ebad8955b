//! Sync: push this peer's changes to a remote as changesets, pull the other peers'.
//!
//! - [`push`] exports the rows above this peer's high-water mark for a remote into changesets
//!   of bounded size, publishes each atomically, and only then advances the mark. Before that
//!   it checks that the remote holds exactly the stream this database remembers publishing:
//!   not more (a restored backup, a copied home), not less (an emptied or replaced folder).
//! - [`pull`] reads every stream it has not fully applied, checks each changeset (checksum,
//!   chain, no gaps), and classifies and applies every entry in one SQLite transaction:
//!   fast-forward, already present, kept in history, or conflict.
//! - [`status`] compares the two sides without changing either.
//!
//! Every run is logged in the database (`sync_runs`) and publishes this peer's manifest in the
//! remote, with how far it has applied each stream (its acknowledgements).

pub(crate) mod deltas;
pub mod encryption;
pub mod health;
mod lock;
mod prefetch;
pub mod prune;
pub mod pull;
pub mod push;
pub mod remotes;
pub mod repair;
pub mod snapshot;
pub mod status;
pub mod verify;

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::changeset::{self, Changeset, EncodeError, Header};
use crate::clock::rfc3339;
use crate::outcome::Outcome;
use crate::record::Checksum;
use crate::remote::{Ack, CsetName, FileName, Manifest, Remote, RemoteError, SnapshotName};
use crate::store::{Store, StoreError};

pub use health::{Health, health};
pub use lock::{Holder, LOCK_FILE, SyncLock};
pub use prune::{PeerStatus, PruneOptions, PruneReport, prune};
pub use pull::{PullOptions, PullReport, pull};
pub use push::{PushOptions, PushReport, push};
pub use repair::{RepairReport, repair};
pub use snapshot::{SnapshotReport, snapshot};
pub use status::{Status, status};
pub use verify::{VerifyReport, verify};

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Remote(#[from] RemoteError),
    #[error(transparent)]
    Encode(#[from] EncodeError),
    #[error(
        "no remote: pass --remote R, or add one once with `context sync remote add NAME URL` \
         (or `context sync remote URL`)"
    )]
    NoRemote,
    #[error(
        "no remote named {name:?} (this home's remotes: {known}); `context sync remote list` shows them"
    )]
    NoSuchRemote { name: String, known: String },
    #[error("this home has several remotes ({known}): name one with --remote")]
    WhichRemote { known: String },
    #[error("the remote {name:?} of this home is not a remote this version reads: {reason}")]
    StoredRemote { name: String, reason: String },
    #[error(
        "another sync is running on this home (it holds {path}); gave up after {waited_s}s: \
         try again later or pass --wait DURATION (e.g. --wait 2m)"
    )]
    Busy { path: PathBuf, waited_s: u64 },
    #[error("cannot take the sync lock {path}: {source}")]
    Lock {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Diverged(Divergence),
    #[error(
        "the remote {location} is encrypted and this home does not hold its key: on a machine \
         that syncs with it, run `context sync key export --remote {location}`, then here \
         `context sync key import --remote {location}` and paste that line"
    )]
    NoKey { location: String },
    #[error("this key does not open this remote ({location}): it is not the key its record names")]
    WrongKey { location: String },
    #[error(
        "the remote {location} has no key record (encryption.json), but this home encrypted it \
         with key {key_id}: it may have been replaced, emptied, or its record deleted. Nothing \
         is written to it in plaintext. If it still holds its files, `context sync key export \
         --remote {location} | context sync key import --remote {location}` puts the record \
         back; if it is meant to start over, run `context sync init --encrypt` on it"
    )]
    KeyRecordMissing { location: String, key_id: String },
    #[error(
        "the remote {location} is not empty: only an empty remote can be made encrypted (its \
         changesets would stay readable)"
    )]
    NotEmpty { location: String },
    #[error("the remote {location} is not encrypted: it has no key to export or import")]
    NotEncrypted { location: String },
    #[error("the remote {location} is already encrypted (key {key_id})")]
    AlreadyEncrypted { location: String, key_id: String },
    #[error(transparent)]
    Keys(#[from] crate::encryption::KeyRingError),
    #[error(transparent)]
    Key(#[from] crate::encryption::sealed::KeyError),
    #[error("interrupted; {0}")]
    Interrupted(String),
}

impl SyncError {
    /// How a command that failed with this error ended.
    pub fn outcome(&self) -> Outcome {
        match self {
            SyncError::Diverged(_) => Outcome::Diverged,
            SyncError::Busy { .. } => Outcome::Busy,
            SyncError::Interrupted(_) => Outcome::Interrupted,
            SyncError::Remote(RemoteError::BadKeyRecord { .. }) => Outcome::BadData,
            _ => Outcome::Error,
        }
    }
}

/// What a push found wrong between this database and its stream in the remote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Divergence {
    pub kind: DivergenceKind,
    /// What was found, and what `--force` would do.
    pub explanation: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DivergenceKind {
    /// The remote holds more of this peer's history than this database knows.
    RemoteAhead,
    /// The remote lacks (or holds something else than) what this peer published there.
    RemoteMissing,
}

impl std::fmt::Display for Divergence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.explanation)
    }
}

/// Versions and tombstones per project, for summaries.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Counts {
    pub versions: u64,
    pub tombstones: u64,
}

impl Counts {
    pub fn add(&mut self, kind: crate::record::Kind) {
        match kind {
            crate::record::Kind::Version => self.versions += 1,
            crate::record::Kind::Tombstone => self.tombstones += 1,
        }
    }

    pub fn total(&self) -> u64 {
        self.versions + self.tombstones
    }
}

pub type PerProject = BTreeMap<String, Counts>;

/// Counts one version or tombstone of `project`.
pub fn count(per_project: &mut PerProject, project: &str, kind: crate::record::Kind) {
    match per_project.get_mut(project) {
        Some(c) => c.add(kind),
        None => per_project
            .entry(project.to_string())
            .or_default()
            .add(kind),
    }
}

pub fn plural(n: u64, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// Reads and decodes one changeset of `remote`; the error is why not, for a report.
pub(crate) fn read_changeset(
    remote: &Remote,
    name: &dyn FileName,
) -> Result<(Changeset, Checksum), String> {
    let bytes = remote.read(name).map_err(|e| e.to_string())?;
    changeset::decode(&bytes).map_err(|e| e.to_string())
}

/// Who can put a damaged changeset of `peer`'s stream back, and how (for pull's and verify's
/// messages).
pub fn repair_hint(peer: crate::ids::PeerId, me: crate::ids::PeerId, host: Option<&str>) -> String {
    if peer == me {
        "this peer wrote it: `context sync repair` here puts it back".to_string()
    } else {
        match host {
            Some(host) => format!(
                "written by {host} (peer {peer}): `context sync repair` on {host} puts it back"
            ),
            None => format!(
                "written by peer {peer}: `context sync repair` on the machine of that peer \
                 puts it back"
            ),
        }
    }
}

/// Why a changeset's header disagrees with its file name, if it does.
pub(crate) fn misnamed(header: &Header, name: &CsetName) -> Option<String> {
    let agrees =
        header.peer == name.peer && header.generation == name.generation && header.seq == name.seq;
    (!agrees).then(|| {
        format!(
            "its header says peer {} generation {} changeset {}, not what its name says",
            header.peer, header.generation, header.seq
        )
    })
}

/// Why a snapshot part's header disagrees with its name, or does not chain on from `prev` (the
/// checksum of the part before it), if it does.
pub(crate) fn misplaced_part(
    header: &Header,
    part: &SnapshotName,
    prev: Option<Checksum>,
) -> Option<String> {
    let agrees = header.snapshot && header.peer == part.peer && Some(header.seq) == part.part;
    if !agrees {
        Some("its header is not that of the snapshot part its name says".into())
    } else if header.prev != prev {
        Some("it does not chain on from the part before it".into())
    } else {
        None
    }
}

/// The other peers' manifests in a remote, read and checked.
#[derive(Debug, Default)]
pub struct Manifests {
    pub good: BTreeMap<crate::ids::PeerId, Manifest>,
    /// (file, why): a manifest that is not what its peer wrote (unsealed in an encrypted
    /// remote, changed, another peer's): bad data.
    pub bad: Vec<(String, String)>,
    /// (file, why): a link, a FIFO or a folder where a manifest should be: never read.
    pub skipped: Vec<(String, String)>,
}

/// Reads the manifest of each of `peers` but `me`. A manifest is authenticated like a
/// changeset in an encrypted remote: one that fails is bad data, named; a remote that cannot
/// be read is an error.
pub(crate) fn read_manifests(
    remote: &Remote,
    peers: impl IntoIterator<Item = crate::ids::PeerId>,
    me: crate::ids::PeerId,
) -> Result<Manifests, SyncError> {
    let mut out = Manifests::default();
    for peer in peers.into_iter().filter(|p| *p != me) {
        let file = format!("{peer}/{}", crate::remote::names::MANIFEST);
        match remote.read_manifest(peer) {
            Ok(Some(m)) if m.peer == peer.to_string() => {
                out.good.insert(peer, m);
            }
            Ok(Some(m)) => out.bad.push((
                file,
                format!("it is the manifest of another peer ({})", m.peer),
            )),
            Ok(None) => {}
            Err(RemoteError::BadManifest { reason, .. }) => out.bad.push((file, reason)),
            Err(e @ RemoteError::TooLarge { .. }) => out.bad.push((file, e.to_string())),
            Err(e @ RemoteError::NotAFile { .. }) => {
                out.skipped.push((file, format!("{e}; skipped")))
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(out)
}

/// Each stream's last changeset, as its peer's manifest says it published it.
pub(crate) fn published_tails(
    manifests: &BTreeMap<crate::ids::PeerId, Manifest>,
) -> impl Iterator<Item = ((crate::ids::PeerId, u64), u64)> + '_ {
    manifests.iter().flat_map(|(peer, m)| {
        m.published
            .iter()
            .filter(move |a| a.peer == peer.to_string())
            .map(move |a| ((*peer, a.generation), a.seq))
    })
}

/// The warning for a manifest that could not be written: the run's work is done and stays
/// done; only what other peers can see of this one is stale until the next run.
pub(crate) fn manifest_warning(e: &SyncError) -> String {
    let msg = format!(
        "could not publish this peer's manifest (its acknowledgements) in the remote: {e}; \
         the next sync tries again"
    );
    tracing::debug!("{msg}");
    msg
}

/// Publishes this peer's manifest in `remote` when it changed: its generation, the last
/// changeset of each of its streams there, and how far it has applied every other stream.
pub(crate) fn publish_manifest(
    store: &Store,
    remote: &Remote,
    remote_id: i64,
    pushed_now: bool,
) -> Result<(), SyncError> {
    let me = store.peer();
    // A manifest we cannot parse is ours to replace.
    let existing = remote.read_manifest(me.id).unwrap_or(None);
    let published = store
        .all_pushed(remote_id)?
        .into_iter()
        .filter(|p| p.last_seq > 0)
        .map(|p| Ack {
            peer: me.id.to_string(),
            generation: p.generation,
            seq: p.last_seq,
        })
        .collect();
    let acks = store
        .applied(remote_id)?
        .into_iter()
        .map(|((peer, generation), a)| Ack {
            peer: peer.to_string(),
            generation,
            seq: a.last_seq,
        })
        .collect();
    let last_push_at = if pushed_now {
        Some(rfc3339(store.now_ms()))
    } else {
        existing.as_ref().and_then(|m| m.last_push_at.clone())
    };
    let mut manifest = Manifest {
        format: Manifest::FORMAT,
        peer: me.id.to_string(),
        generation: me.generation as u64,
        host: store.peer().name.clone(),
        published,
        last_push_at,
        acks,
        updated_at: existing.as_ref().and_then(|m| m.updated_at.clone()),
    };
    if existing.as_ref() != Some(&manifest) {
        manifest.updated_at = Some(rfc3339(store.now_ms()));
        remote.write_manifest(&manifest)?;
    }
    Ok(())
}
