//! Remotes: where changesets live. A remote is a folder every machine can see (a Syncthing or
//! Dropbox folder, an NFS mount, a USB stick); no server runs anywhere.
//!
//! [`Remote`] is what sync needs of one: list what is there, read a changeset, publish one
//! atomically (it appears whole or not at all, and never replaces a different file of the same
//! name), and read and write the small per-peer manifests that let peers see each other's state
//! cheaply. [`FolderRemote`] is the real thing; [`MemoryRemote`] keeps everything in memory for
//! the property tests that run thousands of cases. One test suite runs over both.

mod folder;
mod memory;
pub mod names;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::ids::PeerId;

pub use folder::{FolderIo, FolderRemote, RealIo};
pub use memory::MemoryRemote;
pub use names::{CsetName, FileName, Found, SnapshotName};

#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error(
        "the remote {path} does not exist or is not a folder (is it mounted? create it first if it is new)"
    )]
    Missing { path: PathBuf },
    #[error("cannot list the remote {path}: {source}")]
    List {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is {size} bytes, more than a changeset can be")]
    TooLarge { path: PathBuf, size: u64 },
    #[error("cannot write {path} ({step} failed): {source}")]
    Write {
        path: PathBuf,
        step: &'static str,
        source: std::io::Error,
    },
    #[error("{path} already exists with different content; it was not replaced")]
    Exists { path: PathBuf },
    #[error("the manifest {path} is not valid: {reason}")]
    BadManifest { path: PathBuf, reason: String },
}

pub type Result<T, E = RemoteError> = std::result::Result<T, E>;

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
}

/// What sync needs of a place to keep changesets.
pub trait Remote: Send + Sync + std::fmt::Debug {
    /// Where it is, for messages and for remembering which remote a version came from.
    fn location(&self) -> String;
    fn list(&self) -> Result<Listing>;
    /// The bytes of one changeset or snapshot file (at most
    /// [`crate::changeset::MAX_FILE_BYTES`] and a bit).
    fn read(&self, name: &dyn FileName) -> Result<Vec<u8>>;
    /// The checksum a changeset or snapshot file records in its last 32 bytes (not verified:
    /// what tells one published file from another without reading it whole), or `None` for a
    /// file too short to have one.
    fn read_trailer(&self, name: &dyn FileName) -> Result<Option<crate::record::Checksum>> {
        let bytes = self.read(name)?;
        Ok(bytes
            .len()
            .checked_sub(32)
            .and_then(|at| crate::record::Checksum::from_slice(&bytes[at..])))
    }
    /// Publishes a changeset atomically. Publishing the same bytes again is a no-op; different
    /// bytes under an existing name are refused with [`RemoteError::Exists`].
    fn publish(&self, name: &dyn FileName, bytes: &[u8]) -> Result<()>;
    /// Deletes a changeset or snapshot file (housekeeping only). Deleting one that is already
    /// gone is not an error (another peer's prune may have been first).
    fn remove(&self, name: &dyn FileName) -> Result<()>;
    /// Deletes the temporary files this tool's interrupted writes left (`.NAME.tmp-PID`) last
    /// modified at least `older_than` ago; with `dry_run`, only lists them. Returns their paths.
    fn sweep_temporary(
        &self,
        older_than: std::time::Duration,
        dry_run: bool,
    ) -> Result<Vec<String>> {
        let _ = (older_than, dry_run);
        Ok(Vec::new())
    }
    fn read_manifest(&self, peer: PeerId) -> Result<Option<Manifest>>;
    /// Replaces the peer's manifest atomically.
    fn write_manifest(&self, manifest: &Manifest) -> Result<()>;
}

fn manifest_from_json(path: PathBuf, bytes: &[u8]) -> Result<Manifest> {
    serde_json::from_slice(bytes).map_err(|e| RemoteError::BadManifest {
        path,
        reason: e.to_string(),
    })
}

fn manifest_to_json(m: &Manifest) -> Vec<u8> {
    let mut out = serde_json::to_vec_pretty(m).unwrap_or_default();
    out.push(b'\n');
    out
}

/// The same suite over every implementation.
#[cfg(test)]
mod suite {
    use super::*;
    use crate::ids::{PeerId, SeededIds};

    pub fn peer() -> PeerId {
        PeerId::generate(&SeededIds::new(11))
    }

    fn name(g: u64, s: u64) -> CsetName {
        CsetName {
            peer: peer(),
            generation: g,
            seq: s,
        }
    }

    pub fn empty_lists_nothing(r: &dyn Remote) {
        assert_eq!(r.list().unwrap(), Listing::default());
        assert_eq!(r.read_manifest(peer()).unwrap(), None);
    }

    pub fn publish_then_list_and_read(r: &dyn Remote) {
        r.publish(&name(1, 2), b"two").unwrap();
        r.publish(&name(1, 1), b"one").unwrap();
        r.publish(&name(2, 1), b"gen two").unwrap();
        let l = r.list().unwrap();
        assert_eq!(l.changesets, vec![name(1, 1), name(1, 2), name(2, 1)]);
        assert_eq!(r.read(&name(1, 2)).unwrap(), b"two");
        assert_eq!(l.streams().len(), 2);
        assert!(r.read(&name(9, 9)).is_err());
    }

    pub fn republishing_is_idempotent_but_never_replaces(r: &dyn Remote) {
        r.publish(&name(1, 1), b"same").unwrap();
        r.publish(&name(1, 1), b"same").unwrap();
        let e = r.publish(&name(1, 1), b"different").unwrap_err();
        assert!(matches!(e, RemoteError::Exists { .. }), "{e}");
        assert_eq!(r.read(&name(1, 1)).unwrap(), b"same");
    }

    pub fn manifests_are_replaced_whole(r: &dyn Remote) {
        let mut m = Manifest {
            format: Manifest::FORMAT,
            peer: peer().to_string(),
            generation: 1,
            host: "h".into(),
            published: vec![],
            last_push_at: None,
            acks: vec![],
            updated_at: None,
        };
        r.write_manifest(&m).unwrap();
        m.generation = 2;
        r.write_manifest(&m).unwrap();
        assert_eq!(r.read_manifest(peer()).unwrap(), Some(m));
        assert_eq!(r.list().unwrap().manifests, vec![peer()]);
    }

    pub fn the_trailer_is_the_last_32_bytes(r: &dyn Remote) {
        let mut bytes = b"header and payload ".to_vec();
        bytes.extend_from_slice(&[7u8; 32]);
        r.publish(&name(1, 1), &bytes).unwrap();
        assert_eq!(
            r.read_trailer(&name(1, 1)).unwrap(),
            Some(crate::record::Checksum([7; 32]))
        );
        r.publish(&name(1, 2), b"short").unwrap();
        assert_eq!(r.read_trailer(&name(1, 2)).unwrap(), None);
        assert!(r.read_trailer(&name(1, 3)).is_err());
    }

    pub fn remove_deletes(r: &dyn Remote) {
        r.publish(&name(1, 1), b"x").unwrap();
        r.remove(&name(1, 1)).unwrap();
        assert!(r.list().unwrap().changesets.is_empty());
        r.remove(&name(1, 1)).unwrap();
    }

    pub fn snapshots_are_listed_apart(r: &dyn Remote) {
        let part = SnapshotName {
            peer: peer(),
            id: 7,
            part: Some(1),
        };
        r.publish(&part, b"part").unwrap();
        r.publish(&name(1, 1), b"one").unwrap();
        let l = r.list().unwrap();
        assert_eq!(l.changesets, vec![name(1, 1)]);
        assert_eq!(l.snapshots, vec![part]);
        assert_eq!(l.snapshot_files()[&(peer(), 7)], (vec![part], false));
        r.publish(&part.seal(), b"seal").unwrap();
        let l = r.list().unwrap();
        assert_eq!(l.snapshot_files()[&(peer(), 7)], (vec![part], true));
        assert_eq!(r.read(&part).unwrap(), b"part");
        r.remove(&part.seal()).unwrap();
        assert_eq!(r.list().unwrap().snapshots, vec![part]);
    }

    macro_rules! remote_suite {
        ($module:ident, $make:expr) => {
            mod $module {
                use super::*;
                #[test]
                fn empty_lists_nothing() {
                    let (r, _keep) = $make;
                    suite::empty_lists_nothing(&r);
                }
                #[test]
                fn publish_then_list_and_read() {
                    let (r, _keep) = $make;
                    suite::publish_then_list_and_read(&r);
                }
                #[test]
                fn republishing_is_idempotent_but_never_replaces() {
                    let (r, _keep) = $make;
                    suite::republishing_is_idempotent_but_never_replaces(&r);
                }
                #[test]
                fn manifests_are_replaced_whole() {
                    let (r, _keep) = $make;
                    suite::manifests_are_replaced_whole(&r);
                }
                #[test]
                fn the_trailer_is_the_last_32_bytes() {
                    let (r, _keep) = $make;
                    suite::the_trailer_is_the_last_32_bytes(&r);
                }
                #[test]
                fn remove_deletes() {
                    let (r, _keep) = $make;
                    suite::remove_deletes(&r);
                }
                #[test]
                fn snapshots_are_listed_apart() {
                    let (r, _keep) = $make;
                    suite::snapshots_are_listed_apart(&r);
                }
            }
        };
    }

    remote_suite!(memory, (MemoryRemote::new("mem://test"), ()));
    remote_suite!(folder, {
        let dir = tempfile::tempdir().unwrap();
        (
            FolderRemote::open(dir.path().to_str().unwrap()).unwrap(),
            dir,
        )
    });
}
