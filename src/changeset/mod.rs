//! Changesets: the wire format in which a peer publishes its versions and tombstones.
//!
//! A changeset file is a short fixed preamble (magic, format version, payload length), a zstd
//! frame holding one MessagePack value (a [`Header`] and the [`Record`] list), and a SHA-256 over
//! every byte before it. `docs/changeset-format.md` documents it byte by byte; [`codec`] reads
//! and writes it, refusing anything malformed with a named [`DecodeError`] and never allocating
//! more than [`MAX_PAYLOAD_BYTES`].
//!
//! Each peer publishes a stream per generation: changesets numbered 1, 2, 3, ... where each
//! header carries the checksum of the one before it, so a reader can tell a gap or a
//! replacement from a continuation.

pub mod codec;
mod compression;
pub mod delta;

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ids::{PeerId, VersionId};
use crate::record::{Checksum, Kind, Record};

pub use codec::{
    DecodeError, EncodeError, Inspection, decode, encode, frame_payload, inspect, verify,
};

/// The first eight bytes of every changeset file.
pub const MAGIC: [u8; 8] = *b"CTXCSET\0";
/// The format this binary writes. A reader refuses a newer major version; a newer minor of its
/// own major only adds what an older reader may ignore.
pub const FORMAT_MAJOR: u16 = 1;
pub const FORMAT_MINOR: u16 = 4;
/// The format of a file in which some versions travel as deltas (2 is the sealed format):
/// the layout of 1.2, entries of 9 or 10 fields. A reader of 1.x refuses it as newer, as it
/// must: it could not rebuild those bodies.
pub const DELTA_MAJOR: u16 = 3;
/// The sealed format of a format-3 file (deltas inside): format 2's layout, for an encrypted
/// remote. A reader of sealed 2.x refuses it as newer, as it must (see
/// [`crate::encryption::sealed`]).
pub const SEALED_DELTA_MAJOR: u16 = 4;
/// Largest changeset file a reader accepts.
pub const MAX_FILE_BYTES: u64 = 256 << 20;
/// Largest decompressed payload a reader accepts (a bigger one is a decompression bomb).
pub const MAX_PAYLOAD_BYTES: usize = 512 << 20;

/// What a snapshot covers of one stream: every changeset of (peer, generation) up to `seq`,
/// the last of which has `checksum` (so the changeset after it can be chained on).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Cover {
    pub peer: PeerId,
    pub generation: u64,
    pub seq: u64,
    pub checksum: Checksum,
}

/// What a changeset says about itself.
///
/// DO NOT CHANGE (fields, their order or their types) without bumping the format version:
/// it is serialized positionally, and files written today must be read forever. Format 1.0
/// has the first ten fields; 1.1 appends `covers`, written only when the header is a
/// snapshot's (so that every other file stays readable by a 1.0 reader); 1.2 appends
/// `settles`, written only when an entry settled a conflict; 1.3 appends `hosts`, written only
/// in a snapshot's seal; 1.4 appends `authors`, written when an entry's author is known. A
/// reader of 1.x ignores fields after those it knows: a later minor version may append more
/// (a 1.3 reader reads a 1.4 file whole, without its authors).
#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// (1.1) In a snapshot's seal: the streams it covers, and how far. Empty elsewhere.
    pub covers: Vec<Cover>,
    /// (1.2) For entries that settled a conflict: (the entry's id, a losing row it settled).
    /// Filled from and into the entries' `settles` by [`Changeset::new`] and the decoder.
    pub settles: Vec<(VersionId, VersionId)>,
    /// (1.3) In a snapshot's seal: the machine name of every peer its writer knew, so that a
    /// home that starts from it names every writer. Empty elsewhere.
    pub hosts: Vec<(PeerId, String)>,
    /// (1.4) Who wrote each entry whose author is known: (the entry's id, the author's label,
    /// the session). Filled from and into the entries' `author` by [`Changeset::new`] and the
    /// decoder.
    pub authors: Vec<(VersionId, String, Option<String>)>,
}

/// The fields of format 1.0, in order.
const HEADER_FIELDS_1_0: usize = 10;

impl Header {
    /// The header of changeset `seq` of the stream (`peer`, `generation`), chained on `prev`,
    /// written at `created_at_ms` on `host`: not a snapshot, with the counts, projects and
    /// settled pairs left for [`Changeset::new`] to fill in from the entries, and no covers.
    pub fn of_stream(
        peer: PeerId,
        generation: u64,
        seq: u64,
        prev: Option<Checksum>,
        created_at_ms: i64,
        host: String,
    ) -> Header {
        Header {
            peer,
            generation,
            seq,
            prev,
            created_at_ms,
            host,
            snapshot: false,
            versions: 0,
            tombstones: 0,
            projects: Vec::new(),
            covers: Vec::new(),
            settles: Vec::new(),
            hosts: Vec::new(),
            authors: Vec::new(),
        }
    }

    /// The format minor version this header needs.
    pub fn format_minor(&self) -> u16 {
        if !self.authors.is_empty() {
            4
        } else if !self.hosts.is_empty() {
            3
        } else if !self.settles.is_empty() {
            2
        } else if self.snapshot {
            1
        } else {
            0
        }
    }
}

impl Serialize for Header {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeTuple;
        let minor = usize::from(self.format_minor());
        let mut t = s.serialize_tuple(HEADER_FIELDS_1_0 + minor)?;
        t.serialize_element(&self.peer)?;
        t.serialize_element(&self.generation)?;
        t.serialize_element(&self.seq)?;
        t.serialize_element(&self.prev)?;
        t.serialize_element(&self.created_at_ms)?;
        t.serialize_element(&self.host)?;
        t.serialize_element(&self.snapshot)?;
        t.serialize_element(&self.versions)?;
        t.serialize_element(&self.tombstones)?;
        t.serialize_element(&self.projects)?;
        if minor >= 1 {
            t.serialize_element(&self.covers)?;
        }
        if minor >= 2 {
            t.serialize_element(&self.settles)?;
        }
        if minor >= 3 {
            t.serialize_element(&self.hosts)?;
        }
        if minor >= 4 {
            t.serialize_element(&self.authors)?;
        }
        t.end()
    }
}

impl<'de> Deserialize<'de> for Header {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Header;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a changeset header (an array of at least 10 fields)")
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Header, A::Error> {
                let mut n = 0usize;
                macro_rules! field {
                    () => {
                        crate::record::next_field(
                            &mut seq,
                            &mut n,
                            "a header of at least 10 fields",
                        )?
                    };
                }
                let mut h = Header {
                    peer: field!(),
                    generation: field!(),
                    seq: field!(),
                    prev: field!(),
                    created_at_ms: field!(),
                    host: field!(),
                    snapshot: field!(),
                    versions: field!(),
                    tombstones: field!(),
                    projects: field!(),
                    covers: Vec::new(),
                    settles: Vec::new(),
                    hosts: Vec::new(),
                    authors: Vec::new(),
                };
                if let Some(covers) = seq.next_element()? {
                    h.covers = covers;
                    if let Some(settles) = seq.next_element()? {
                        h.settles = settles;
                        if let Some(hosts) = seq.next_element()? {
                            h.hosts = hosts;
                            if let Some(authors) = seq.next_element()? {
                                h.authors = authors;
                            }
                        }
                    }
                }
                // Fields of later minor versions: not ours to understand.
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(h)
            }
        }
        d.deserialize_seq(Visitor)
    }
}

/// A header and its entries.
///
/// DO NOT CHANGE without bumping the format version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Changeset {
    pub header: Header,
    pub entries: Vec<Record>,
}

/// The most entries a reader takes from one changeset (a writer puts at most 50,000 in one):
/// with the header's own count, what bounds the memory of decoding a file, whatever it
/// inflates to.
pub const MAX_ENTRIES: u64 = 1_000_000;

impl<'de> Deserialize<'de> for Changeset {
    /// `[header, entries]`, where the entries may not outnumber what the header declares (nor
    /// [`MAX_ENTRIES`]): decoding stops there, before holding more.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Changeset;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a changeset: [header, entries]")
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Changeset, A::Error> {
                use serde::de::Error;
                let header: Header = seq
                    .next_element()?
                    .ok_or_else(|| A::Error::invalid_length(0, &"[header, entries]"))?;
                let declared = header.versions.saturating_add(header.tombstones);
                if declared > MAX_ENTRIES {
                    return Err(A::Error::custom(format!(
                        "the header declares {declared} entries, more than a changeset holds \
                         ({MAX_ENTRIES})"
                    )));
                }
                let entries = seq
                    .next_element_seed(Entries { max: declared })?
                    .ok_or_else(|| A::Error::invalid_length(1, &"[header, entries]"))?;
                Ok(Changeset { header, entries })
            }
        }
        d.deserialize_seq(Visitor)
    }
}

/// The entries of a changeset, at most `max` of them.
struct Entries {
    max: u64,
}

impl<'de> serde::de::DeserializeSeed<'de> for Entries {
    type Value = Vec<Record>;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Vec<Record>, D::Error> {
        struct Visitor(u64);
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Vec<Record>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of entries")
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Vec<Record>, A::Error> {
                let room = seq.size_hint().unwrap_or(0).min(self.0 as usize).min(4096);
                let mut out = Vec::with_capacity(room);
                while let Some(e) = seq.next_element::<Record>()? {
                    if out.len() as u64 >= self.0 {
                        return Err(serde::de::Error::custom(format!(
                            "more entries than the {} the header declares",
                            self.0
                        )));
                    }
                    out.push(e);
                }
                Ok(out)
            }
        }
        d.deserialize_seq(Visitor(self.max))
    }
}

impl Changeset {
    /// A changeset of `entries` with the counts of its header filled in from them.
    pub fn new(mut header: Header, entries: Vec<Record>) -> Changeset {
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
        header.settles = entries
            .iter()
            .flat_map(|e| e.settles.iter().map(|s| (e.id, *s)))
            .collect();
        header.authors = entries
            .iter()
            .filter_map(|e| {
                e.author
                    .as_ref()
                    .map(|a| (e.id, a.name.clone(), a.session.clone()))
            })
            .collect();
        Changeset { header, entries }
    }

    /// Where each entry is, by id: what the header's per-entry fields are handed out by.
    fn entry_index(&self) -> std::collections::HashMap<VersionId, usize> {
        self.entries
            .iter()
            .enumerate()
            .map(|(i, e)| (e.id, i))
            .collect()
    }

    /// Hands the header's `authors` to their entries (after decoding); fails naming an author
    /// whose entry is not in the changeset, or a label a terminal should not show.
    pub(crate) fn distribute_authors(&mut self) -> Result<(), String> {
        if self.header.authors.is_empty() {
            return Ok(());
        }
        let at = self.entry_index();
        for (id, name, session) in &self.header.authors {
            let i = at.get(id).ok_or_else(|| {
                format!("the header names the author of {id}, but no entry is {id}")
            })?;
            for (what, value) in [("author", Some(name)), ("session", session.as_ref())] {
                if let Some(why) = value.and_then(|v| crate::record::Author::invalid(v)) {
                    return Err(format!("the {what} of entry {id} is not valid: {why}"));
                }
            }
            self.entries[*i].author = Some(crate::record::Author {
                name: name.clone(),
                session: session.clone(),
            });
        }
        Ok(())
    }

    /// Hands the header's `settles` pairs to their entries (after decoding); fails naming a
    /// pair whose entry is not in the changeset.
    pub(crate) fn distribute_settles(&mut self) -> Result<(), String> {
        if self.header.settles.is_empty() {
            return Ok(());
        }
        let at = self.entry_index();
        for (id, settled) in &self.header.settles {
            let i = at.get(id).ok_or_else(|| {
                format!("the header says {id} settled {settled}, but no entry is {id}")
            })?;
            self.entries[*i].settles.push(*settled);
        }
        Ok(())
    }
}
