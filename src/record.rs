//! What the store and the wire format both speak: the kind of a row (a version or a
//! tombstone), the SHA-256 digest type, the largest body a row may have, and [`Record`], one
//! row as it is exported by a push and imported by a pull. [`crate::store`] and [`crate::changeset`] import this module and never
//! each other, so the wire format stands alone.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::clock::Hlc;
use crate::ids::{PeerId, VersionId};

/// The largest document body a write accepts: 64 MiB. Every changeset a push can then write
/// (at most 4 MiB of rows beside one such body, compressed) is far below what every reader of
/// this version accepts ([`crate::changeset::MAX_FILE_BYTES`]); a delta is never rebuilt into
/// more.
pub const MAX_BODY_BYTES: usize = 64 << 20;

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

/// What a version that travels as a delta is a delta against: the version `base` (its
/// parent), whose body the reader already holds, and the SHA-256 of the body the delta
/// rebuilds (a wrong base is bad data, never a wrong document).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delta {
    pub base: VersionId,
    pub sha256: Checksum,
}

/// Who wrote a version or tombstone: a short label (a person's login name, an agent's name)
/// and, for an agent, the session it wrote in. Travels in a changeset's header (format 1.4),
/// not in its entry, so that a 1.3 reader reads the entry as before.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Author {
    pub name: String,
    pub session: Option<String>,
}

impl Author {
    /// The longest label or session id kept (bytes).
    pub const MAX_BYTES: usize = 256;

    /// Why `value` cannot be an author's label or session id, if it cannot: empty, longer
    /// than [`Author::MAX_BYTES`], or holding a control character (it is shown in a terminal).
    pub fn invalid(value: &str) -> Option<&'static str> {
        if value.is_empty() {
            Some("it is empty")
        } else if value.len() > Author::MAX_BYTES {
            Some("it is longer than 256 bytes")
        } else if value.chars().any(char::is_control) {
            Some("it holds a control character")
        } else {
            None
        }
    }
}

/// One version or tombstone: every replicated field.
///
/// DO NOT CHANGE (fields, their order or their types) without bumping the format version.
/// On the wire an array of 9 (format 1.x, and a whole version in 3.x) or 10 (format 3.x: a
/// version whose `body` is a delta, see [`Delta`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub id: VersionId,
    pub project: String,
    pub key: String,
    pub kind: Kind,
    /// The body; `None` for a tombstone. Its SHA-256 is not carried: a reader derives it (the
    /// file's checksum already covers every byte). A delta's bytes when `delta` is set.
    pub body: Option<Vec<u8>>,
    pub hlc: Hlc,
    /// The peer that wrote this version (not necessarily the stream's peer: versions hop).
    pub peer: PeerId,
    pub parent: Option<VersionId>,
    pub expires_at_ms: Option<i64>,
    /// Concurrent rows of the same key that had lost and that this row's writer settled (see
    /// `migrations/0005_conflicts.sql`). Not in the entry on the wire: a changeset carries
    /// these in its header (format 1.2), so that 1.0 and 1.1 readers read the entry as before.
    pub settles: Vec<VersionId>,
    /// (format 3) Set when `body` is a zstd frame made with the base's body as its dictionary,
    /// not the body itself.
    pub delta: Option<Delta>,
    /// Who wrote it, if recorded. Not in the entry on the wire: the header carries it (format
    /// 1.4), as it does `settles`.
    pub author: Option<Author>,
}

impl Serialize for Record {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeTuple;
        let mut t = s.serialize_tuple(9 + usize::from(self.delta.is_some()))?;
        t.serialize_element(&self.id)?;
        t.serialize_element(&self.project)?;
        t.serialize_element(&self.key)?;
        t.serialize_element(&self.kind)?;
        t.serialize_element(&self.body.as_deref().map(serde_bytes::Bytes::new))?;
        t.serialize_element(&self.hlc)?;
        t.serialize_element(&self.peer)?;
        t.serialize_element(&self.parent)?;
        t.serialize_element(&self.expires_at_ms)?;
        if let Some(d) = &self.delta {
            t.serialize_element(d)?;
        }
        t.end()
    }
}

/// The next element of a positional struct, the `n`-th: one that is missing is an error
/// saying what was `expected`. What the hand-written visitors of the wire format share.
pub(crate) fn next_field<'de, T: Deserialize<'de>, A: serde::de::SeqAccess<'de>>(
    seq: &mut A,
    n: &mut usize,
    expected: &'static str,
) -> Result<T, A::Error> {
    let at = *n;
    *n += 1;
    seq.next_element()?
        .ok_or_else(|| serde::de::Error::invalid_length(at, &expected))
}

impl<'de> Deserialize<'de> for Record {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Record;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an entry (an array of 9, or 10 for a delta)")
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Record, A::Error> {
                let mut n = 0usize;
                macro_rules! field {
                    () => {
                        next_field(&mut seq, &mut n, "an entry of 9 fields")?
                    };
                }
                let id = field!();
                let project = field!();
                let key = field!();
                let kind = field!();
                let body: Option<serde_bytes::ByteBuf> = field!();
                let hlc = field!();
                let peer = field!();
                let parent = field!();
                let expires_at_ms = field!();
                let delta = seq.next_element::<Delta>()?;
                if seq.next_element::<serde::de::IgnoredAny>()?.is_some() {
                    return Err(serde::de::Error::invalid_length(11, &"at most 10 fields"));
                }
                Ok(Record {
                    id,
                    project,
                    key,
                    kind,
                    body: body.map(serde_bytes::ByteBuf::into_vec),
                    hlc,
                    peer,
                    parent,
                    expires_at_ms,
                    settles: Vec::new(),
                    delta,
                    author: None,
                })
            }
        }
        d.deserialize_seq(Visitor)
    }
}
