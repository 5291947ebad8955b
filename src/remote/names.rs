//! File names in a remote are an API: this is the one place that formats and parses them.
//!
//! ```text
//! REMOTE/<peer id>/<generation: 8 hex>-<sequence: 16 hex>.cset   a changeset of a stream
//! REMOTE/<peer id>/snapshot-<id: 16 hex>-<part: 8 hex>.cset       a part of a snapshot
//! REMOTE/<peer id>/snapshot-<id: 16 hex>.cset                     its seal (written last)
//! REMOTE/<peer id>/manifest.json                                 that peer's manifest
//! ```
//!
//! A snapshot's id is the hybrid-clock time at which its peer began it, so a peer's snapshots
//! sort oldest first, and its seal sorts after its parts.
//!
//! Fixed-width lower-case hex, so that sorting names sorts a peer's changesets in stream order
//! (generation, then sequence), as `ls` shows them. Anything else is not ours: the leftovers of
//! file-sync tools (temporary files, conflict copies) are recognised so that they can be
//! skipped with a warning rather than taken for damage.

use std::fmt;

use crate::encryption::sealed::Role;
use crate::ids::PeerId;

pub const EXTENSION: &str = ".cset";
pub const MANIFEST: &str = "manifest.json";
/// At the root of an encrypted remote: that it is encrypted, and a check of its key.
pub const KEY_RECORD: &str = "encryption.json";

/// `.NAME.tmp-PID`: what a write to a folder (local or over SSH) leaves if it is killed before
/// its rename or link, for a changeset or a manifest.
pub fn is_our_temporary(file: &str) -> bool {
    file.strip_prefix('.')
        .and_then(|f| f.rsplit_once(".tmp-"))
        .is_some_and(|(name, pid)| {
            (name.ends_with(EXTENSION) || name == MANIFEST)
                && !pid.is_empty()
                && pid.bytes().all(|b| b.is_ascii_digit())
        })
}

/// Whether `name` (at a remote's top level) is what a file-sync tool or a desktop keeps in a
/// shared folder (`.stfolder`, `.dropbox.cache`, `desktop.ini`, a temporary or conflict
/// copy): never ours, never a reason to doubt the folder is a remote.
pub fn is_file_sync_tools(name: &str) -> bool {
    matches!(classify(None, name), Found::Temporary | Found::ConflictCopy)
        || ["desktop.ini", "thumbs.db", "icon\r"].contains(&name.to_ascii_lowercase().as_str())
}

/// Keeps the keys after `after` (when given), sorted: what a store that cannot list from a
/// given name (a folder, SFTP) does after listing.
pub fn sorted_after(mut keys: Vec<String>, after: Option<&str>) -> Vec<String> {
    if let Some(after) = after {
        keys.retain(|k| k.as_str() > after);
    }
    keys.sort();
    keys
}

/// What every file a peer writes in a remote has: a folder (the peer) and a name in it.
pub trait FileName: fmt::Display + Send + Sync {
    fn peer(&self) -> PeerId;
    fn file_name(&self) -> String;
    /// What a sealed file of this name must say it is (in an encrypted remote).
    fn role(&self) -> Role;
    /// The path relative to the remote's root, with `/` separators.
    fn rel_path(&self) -> String {
        format!("{}/{}", self.peer(), self.file_name())
    }
}

/// A changeset's place: stream (peer, generation) and position in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CsetName {
    pub peer: PeerId,
    pub generation: u64,
    pub seq: u64,
}

impl CsetName {
    /// Generations are written with 8 hex digits; a larger one cannot be named.
    pub const MAX_GENERATION: u64 = 0xffff_ffff;
}

impl FileName for CsetName {
    fn peer(&self) -> PeerId {
        self.peer
    }

    fn role(&self) -> Role {
        Role::Changeset {
            peer: self.peer,
            generation: self.generation,
            seq: self.seq,
        }
    }

    fn file_name(&self) -> String {
        format!("{:08x}-{:016x}{EXTENSION}", self.generation, self.seq)
    }
}

/// A file of a snapshot: one of its parts (from 1), or its seal (`part` is `None`).
///
/// A snapshot is complete when its seal is there: the parts are published first, in order,
/// each chaining on from the one before it, and the seal (which says what the snapshot covers)
/// last. Parts without a seal are an interrupted snapshot, which readers ignore.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SnapshotName {
    pub peer: PeerId,
    pub id: u64,
    pub part: Option<u64>,
}

impl SnapshotName {
    pub fn seal(&self) -> SnapshotName {
        SnapshotName {
            part: None,
            ..*self
        }
    }
}

impl FileName for SnapshotName {
    fn peer(&self) -> PeerId {
        self.peer
    }

    fn role(&self) -> Role {
        match self.part {
            Some(part) => Role::Part {
                peer: self.peer,
                id: self.id,
                part,
            },
            None => Role::Seal {
                peer: self.peer,
                id: self.id,
            },
        }
    }

    fn file_name(&self) -> String {
        match self.part {
            Some(part) => format!("{SNAPSHOT_PREFIX}{:016x}-{part:08x}{EXTENSION}", self.id),
            None => format!("{SNAPSHOT_PREFIX}{:016x}{EXTENSION}", self.id),
        }
    }
}

impl fmt::Display for SnapshotName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.rel_path())
    }
}

const SNAPSHOT_PREFIX: &str = "snapshot-";

impl fmt::Display for CsetName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.rel_path())
    }
}

/// What a file found in a remote is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    Changeset(CsetName),
    Snapshot(SnapshotName),
    Manifest(PeerId),
    /// A file-sync tool's conflict copy of a changeset: two machines wrote as the same peer.
    ConflictCopy,
    /// A file being written (ours or a file-sync tool's), or left by an interrupted write.
    Temporary,
    /// Something else; a `.cset` among these is worth a warning.
    Other,
}

/// Classifies the file `file` in the folder `dir` (a peer id, or `None` at the root).
pub fn classify(dir: Option<&str>, file: &str) -> Found {
    let lower = file.to_ascii_lowercase();
    if file.starts_with('.') || file.starts_with('~') || lower.ends_with(".tmp") {
        return Found::Temporary;
    }
    let peer = dir.and_then(|d| d.parse::<PeerId>().ok().filter(|p| p.to_string() == d));
    if let Some(peer) = peer {
        if file == MANIFEST {
            return Found::Manifest(peer);
        }
        if let Some(name) = parse_stem(peer, file) {
            return Found::Changeset(name);
        }
        if let Some(name) = parse_snapshot(peer, file) {
            return Found::Snapshot(name);
        }
    }
    if lower.contains("conflict") {
        return Found::ConflictCopy;
    }
    Found::Other
}

/// Fixed-width lower-case hex, or nothing.
fn hex(t: &str, n: usize) -> Option<u64> {
    (t.len() == n
        && t.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
    .then(|| u64::from_str_radix(t, 16).ok())
    .flatten()
}

fn parse_snapshot(peer: PeerId, file: &str) -> Option<SnapshotName> {
    let stem = file
        .strip_suffix(EXTENSION)?
        .strip_prefix(SNAPSHOT_PREFIX)?;
    let (id, part) = match stem.split_once('-') {
        Some((id, part)) => (id, Some(hex(part, 8).filter(|&p| p > 0)?)),
        None => (stem, None),
    };
    Some(SnapshotName {
        peer,
        id: hex(id, 16)?,
        part,
    })
}

fn parse_stem(peer: PeerId, file: &str) -> Option<CsetName> {
    let stem = file.strip_suffix(EXTENSION)?;
    let (g, s) = stem.split_once('-')?;
    Some(CsetName {
        peer,
        generation: hex(g, 8)?,
        seq: hex(s, 16)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: &str = "0b9a0f4e-7c36-4f57-9d5f-4a4c6f1b2e3d";

    #[test]
    fn names_round_trip_and_sort_in_stream_order() {
        let peer: PeerId = P.parse().unwrap();
        let names: Vec<CsetName> = [(1, 2), (1, 10), (2, 1), (1, 1)]
            .iter()
            .map(|&(generation, seq)| CsetName {
                peer,
                generation,
                seq,
            })
            .collect();
        for n in &names {
            assert_eq!(classify(Some(P), &n.file_name()), Found::Changeset(*n));
        }
        let mut by_name: Vec<String> = names.iter().map(|n| n.rel_path()).collect();
        by_name.sort();
        let mut by_stream = names.clone();
        by_stream.sort();
        let sorted: Vec<String> = by_stream.iter().map(|n| n.rel_path()).collect();
        assert_eq!(by_name, sorted);
        assert_eq!(names[0].file_name(), "00000001-0000000000000002.cset");
    }

    #[test]
    fn snapshot_names_round_trip_and_the_seal_sorts_after_the_parts() {
        let peer: PeerId = P.parse().unwrap();
        let part = SnapshotName {
            peer,
            id: 0x1234,
            part: Some(2),
        };
        assert_eq!(part.file_name(), "snapshot-0000000000001234-00000002.cset");
        assert_eq!(part.seal().file_name(), "snapshot-0000000000001234.cset");
        for n in [part, part.seal()] {
            assert_eq!(classify(Some(P), &n.file_name()), Found::Snapshot(n));
        }
        assert!(part.file_name() < part.seal().file_name());
        for bad in [
            "snapshot-0000000000001234-00000000.cset",
            "snapshot-000000000000123-00000001.cset",
            "snapshot-0000000000001234-1.cset",
        ] {
            assert_eq!(classify(Some(P), bad), Found::Other, "{bad}");
        }
    }

    #[test]
    fn leftovers_of_sync_tools_are_recognised() {
        let cases = [
            (
                "00000001-0000000000000002.sync-conflict-20261125-101500-ABC1234.cset",
                Found::ConflictCopy,
            ),
            (
                "00000001-0000000000000002 (conflicted copy 2026-11-25).cset",
                Found::ConflictCopy,
            ),
            (
                ".syncthing.00000001-0000000000000002.cset.tmp",
                Found::Temporary,
            ),
            (
                "~syncthing~00000001-0000000000000002.cset.tmp",
                Found::Temporary,
            ),
            (".00000001-0000000000000002.cset.tmp-123", Found::Temporary),
            ("00000001-2.cset", Found::Other),
            ("00000001-000000000000000G.cset", Found::Other),
            ("0000000A-0000000000000002.cset", Found::Other),
            ("notes.txt", Found::Other),
        ];
        for (file, want) in cases {
            assert_eq!(classify(Some(P), file), want, "{file}");
        }
        assert_eq!(
            classify(None, "00000001-0000000000000002.cset"),
            Found::Other
        );
        assert_eq!(
            classify(Some(&P.to_uppercase()), "00000001-0000000000000002.cset"),
            Found::Other
        );
        assert_eq!(
            classify(Some(P), MANIFEST),
            Found::Manifest(P.parse().unwrap())
        );
    }
}
