//! Changesets: the wire format in which a peer publishes its versions and tombstones.
//!
//! A changeset file is a short fixed preamble (magic, format version, payload length), a zstd
//! frame holding one MessagePack value (a [`Header`] and the [`Entry`] list), and a SHA-256 over
//! every byte before it. `docs/changeset-format.md` documents it byte by byte; [`codec`] reads
//! and writes it, refusing anything malformed with a named [`DecodeError`] and never allocating
//! more than [`MAX_PAYLOAD_BYTES`].
//!
//! Each peer publishes a stream per generation: changesets numbered 1, 2, 3, ... where each
//! header carries the checksum of the one before it, so a reader can tell a gap or a
//! replacement from a continuation.

pub mod codec;

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::clock::Hlc;
use crate::ids::{PeerId, VersionId};
use crate::store::Kind;

pub use codec::{DecodeError, EncodeError, Inspection, decode, encode, inspect, verify};

/// The first eight bytes of every changeset file.
pub const MAGIC: [u8; 8] = *b"CTXCSET\0";
/// The format this binary writes. A reader refuses a newer major version; a newer minor of its
/// own major only adds what an older reader may ignore.
pub const FORMAT_MAJOR: u16 = 1;
pub const FORMAT_MINOR: u16 = 0;
/// Largest changeset file a reader accepts.
pub const MAX_FILE_BYTES: u64 = 256 << 20;
/// Largest decompressed payload a reader accepts (a bigger one is a decompression bomb).
pub const MAX_PAYLOAD_BYTES: usize = 512 << 20;

/// A SHA-256 digest: a changeset file's checksum, or a body's.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Checksum(pub [u8; 32]);

impl Checksum {
    pub fn hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    pub fn from_slice(bytes: &[u8]) -> Option<Checksum> {
        <[u8; 32]>::try_from(bytes).ok().map(Checksum)
    }
}

impl fmt::Debug for Checksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Checksum({})", self.hex())
    }
}

impl fmt::Display for Checksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.hex())
    }
}

impl Serialize for Checksum {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for Checksum {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Checksum(
            serde_bytes::ByteArray::<32>::deserialize(d)?.into_array(),
        ))
    }
}

/// What a changeset says about itself.
///
/// DO NOT CHANGE (fields, their order or their types) without bumping the format version:
/// it is serialized positionally, and files written today must be read forever.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// The peer whose stream this changeset belongs to.
    pub peer: PeerId,
    pub generation: u64,
    /// Position in the stream of (peer, generation), from 1.
    pub seq: u64,
    /// The checksum of changeset `seq - 1` of the same stream; `None` for the first.
    pub prev: Option<Checksum>,
    /// When it was written, milliseconds since the epoch (the writer's clock).
    pub created_at_ms: i64,
    /// The host that wrote it.
    pub host: String,
    /// Whether it holds every version and tombstone its peer had (a bootstrap snapshot).
    pub snapshot: bool,
    pub versions: u64,
    pub tombstones: u64,
    /// Entries per project, in project order.
    pub projects: Vec<(String, u64)>,
}

/// One version or tombstone: every replicated field.
///
/// DO NOT CHANGE (fields, their order or their types) without bumping the format version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub id: VersionId,
    pub project: String,
    pub key: String,
    pub kind: Kind,
    /// The body; `None` for a tombstone. Its SHA-256 is not carried: a reader derives it (the
    /// file's checksum already covers every byte).
    #[serde(with = "serde_bytes")]
    pub body: Option<Vec<u8>>,
    pub hlc: Hlc,
    /// The peer that wrote this version (not necessarily the stream's peer: versions hop).
    pub peer: PeerId,
    pub parent: Option<VersionId>,
    pub expires_at_ms: Option<i64>,
}

/// A header and its entries.
///
/// DO NOT CHANGE without bumping the format version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Changeset {
    pub header: Header,
    pub entries: Vec<Entry>,
}

impl Changeset {
    /// A changeset of `entries` with the counts of its header filled in from them.
    pub fn new(mut header: Header, entries: Vec<Entry>) -> Changeset {
        let mut projects = std::collections::BTreeMap::<&str, u64>::new();
        for e in &entries {
            *projects.entry(&e.project).or_default() += 1;
        }
        header.versions = entries.iter().filter(|e| e.kind == Kind::Version).count() as u64;
        header.tombstones = entries.len() as u64 - header.versions;
        header.projects = projects
            .into_iter()
            .map(|(p, n)| (p.to_string(), n))
            .collect();
        Changeset { header, entries }
    }
}
