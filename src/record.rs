//! What the store and the wire format both speak: the kind of a row (a version or a
//! tombstone), the SHA-256 digest type, and [`Record`], one row as it is exported by a push and
//! imported by a pull. [`crate::store`] and [`crate::changeset`] import this module and never
//! each other, so the wire format stands alone.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::clock::Hlc;
use crate::ids::{PeerId, VersionId};

/// What a row is. On the wire and in SQLite: 0 for a version, 1 for a tombstone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(into = "u8", try_from = "u8")]
pub enum Kind {
    Version,
    Tombstone,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Version => "version",
            Kind::Tombstone => "tombstone",
        }
    }

    pub(crate) fn to_sql(self) -> i64 {
        i64::from(u8::from(self))
    }
}

impl From<Kind> for u8 {
    fn from(kind: Kind) -> u8 {
        match kind {
            Kind::Version => 0,
            Kind::Tombstone => 1,
        }
    }
}

impl TryFrom<u8> for Kind {
    type Error = String;
    fn try_from(v: u8) -> Result<Kind, String> {
        match v {
            0 => Ok(Kind::Version),
            1 => Ok(Kind::Tombstone),
            other => Err(format!("unknown kind {other}")),
        }
    }
}

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

/// One version or tombstone: every replicated field.
///
/// DO NOT CHANGE (fields, their order or their types) without bumping the format version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
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
    /// Concurrent rows of the same key that had lost and that this row's writer settled (see
    /// `migrations/0005_conflicts.sql`). Not in the entry on the wire: a changeset carries
    /// these in its header (format 1.2), so that 1.0 and 1.1 readers read the entry as before.
    #[serde(skip)]
    pub settles: Vec<VersionId>,
}
