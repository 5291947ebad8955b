//! Identifiers: version ids, peer ids, and the one source of randomness they are made from.
//!
//! A version id is a UUID v7: its first 48 bits are the writer's timestamp, so ids written
//! together sit together in SQLite's index (the bulk imports of a pull stay fast), and the rest
//! is random, so ids from different machines never collide. A peer id is a random UUID.
//!
//! The random bits come from an [`IdSource`] handed in by the caller: the operating system in
//! the binary, a seeded generator in tests and benches that must be reproducible.

use std::fmt;
use std::str::FromStr;
use std::sync::Mutex;

use uuid::Uuid;

/// Where random bits come from.
pub trait IdSource: Send + Sync + fmt::Debug {
    fn random_bytes(&self) -> [u8; 16];
}

/// The operating system's random number generator.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsRandom;

impl IdSource for OsRandom {
    fn random_bytes(&self) -> [u8; 16] {
        Uuid::new_v4().into_bytes()
    }
}

/// A deterministic generator (SplitMix64) for tests and benches: the same seed, the same ids.
#[derive(Debug)]
pub struct SeededIds(Mutex<u64>);

impl SeededIds {
    pub fn new(seed: u64) -> SeededIds {
        SeededIds(Mutex::new(seed))
    }

    fn next_u64(&self) -> u64 {
        let mut state = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

impl IdSource for SeededIds {
    fn random_bytes(&self) -> [u8; 16] {
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&self.next_u64().to_le_bytes());
        out[8..].copy_from_slice(&self.next_u64().to_le_bytes());
        out
    }
}

macro_rules! uuid_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(Uuid);

        impl $name {
            pub fn from_bytes(bytes: [u8; 16]) -> $name {
                $name(Uuid::from_bytes(bytes))
            }

            /// Reads the 16 bytes stored in SQLite or a changeset; `None` for any other length.
            pub fn from_slice(bytes: &[u8]) -> Option<$name> {
                Uuid::from_slice(bytes).ok().map($name)
            }

            pub fn as_bytes(&self) -> &[u8; 16] {
                self.0.as_bytes()
            }

            /// The 32 hex digits without hyphens, for prefix matching.
            pub fn simple(&self) -> String {
                self.0.simple().to_string()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        /// On the wire: 16 raw bytes (MessagePack bin 8).
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_bytes(self.0.as_bytes())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let bytes = serde_bytes::ByteArray::<16>::deserialize(d)?;
                Ok($name::from_bytes(bytes.into_array()))
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map($name)
            }
        }
    };
}

uuid_newtype!(
    /// The globally unique id of one version or tombstone (a UUID v7).
    VersionId
);
uuid_newtype!(
    /// The id of a peer: one home, on one machine.
    PeerId
);

/// The shortest length (at least 8) at which the [`VersionId::short`] forms of `ids` are all
/// different: what a listing shows.
pub fn short_len(ids: &[VersionId]) -> usize {
    (8..32)
        .find(|&len| {
            let mut seen = std::collections::HashSet::new();
            ids.iter().all(|id| seen.insert(id.short(len)))
        })
        .unwrap_or(32)
}

impl VersionId {
    /// The last `len` hex digits of the id. A v7 id begins with its time, so versions written
    /// close together share their beginning; the end is random, and a few digits of it tell
    /// them apart. Every command that takes a version id accepts this form.
    pub fn short(&self, len: usize) -> String {
        let s = self.simple();
        s[s.len() - len.min(s.len())..].to_string()
    }

    /// Whether `wanted` (hyphens and case aside) is the start or the end of this id: a full id,
    /// a prefix, or a short form.
    pub fn matches(&self, wanted: &str) -> bool {
        let wanted: String = wanted
            .chars()
            .filter(|c| *c != '-')
            .map(|c| c.to_ascii_lowercase())
            .collect();
        let s = self.simple();
        !wanted.is_empty() && (s.starts_with(&wanted) || s.ends_with(&wanted))
    }

    /// A new UUID v7 at `wall_ms` with random bits from `ids`.
    pub fn generate(ids: &dyn IdSource, wall_ms: i64) -> VersionId {
        let random = ids.random_bytes();
        let mut tail = [0u8; 10];
        tail.copy_from_slice(&random[..10]);
        let ms = u64::try_from(wall_ms).unwrap_or(0);
        VersionId(uuid::Builder::from_unix_timestamp_millis(ms, &tail).into_uuid())
    }
}

impl PeerId {
    /// A new random peer id (UUID v4) with bits from `ids`.
    pub fn generate(ids: &dyn IdSource) -> PeerId {
        PeerId(uuid::Builder::from_random_bytes(ids.random_bytes()).into_uuid())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_ids_repeat_and_differ_by_seed() {
        let a = VersionId::generate(&SeededIds::new(7), 1_000);
        let b = VersionId::generate(&SeededIds::new(7), 1_000);
        let c = VersionId::generate(&SeededIds::new(8), 1_000);
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn version_ids_sort_by_time_and_round_trip_as_text() {
        let ids = SeededIds::new(1);
        let early = VersionId::generate(&ids, 1_000);
        let late = VersionId::generate(&ids, 2_000);
        assert!(early < late);
        assert_eq!(early.to_string().parse::<VersionId>().ok(), Some(early));
        assert_eq!(VersionId::from_slice(early.as_bytes()), Some(early));
        assert_eq!(VersionId::from_slice(&[1, 2, 3]), None);
    }
}
