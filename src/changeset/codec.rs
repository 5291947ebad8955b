//! Reading and writing changeset files. See `docs/changeset-format.md` for the layout:
//!
//! ```text
//! magic (8) | major (u16 BE) | minor (u16 BE) | payload length (u64 BE) | payload | SHA-256 (32)
//! ```
//!
//! Decoding checks, in order: length, magic, format version, declared length, checksum, zstd
//! (bounded: never more than [`MAX_PAYLOAD_BYTES`] out), MessagePack (exactly one value, nothing
//! after it), and the consistency of the header with the entries. Each failure is its own
//! [`DecodeError`]; none panics.

use std::io::Read;

use serde::Deserialize;
use sha2::{Digest, Sha256};

#[cfg(test)]
use super::MAX_ENTRIES;
use super::compression::{Inflated, compress};
use super::{
    Changeset, Checksum, DELTA_MAJOR, FORMAT_MAJOR, FORMAT_MINOR, MAGIC, MAX_FILE_BYTES,
    MAX_PAYLOAD_BYTES,
};
use crate::record::Kind;

const PREAMBLE_LEN: usize = 20;
const CHECKSUM_LEN: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("truncated: {len} bytes is too short to be a changeset")]
    TooShort { len: usize },
    #[error("not a changeset: wrong magic bytes")]
    WrongMagic,
    #[error(
        "written in changeset format {major}.{minor}, newer than this binary reads \
         ({FORMAT_MAJOR}.x and {DELTA_MAJOR}.x, and 2.x and 4.x sealed for encrypted remotes): \
         upgrade context to a release that reads format {major}"
    )]
    NewerFormat { major: u16, minor: u16 },
    #[error("declares a payload of {declared} bytes, beyond the {MAX_FILE_BYTES}-byte limit")]
    AbsurdLength { declared: u64 },
    #[error("truncated: the header declares {expected} bytes, the file has {actual}")]
    Truncated { expected: u64, actual: u64 },
    #[error("{extra} unexpected bytes after the checksum")]
    TrailingBytes { extra: u64 },
    #[error("checksum mismatch: the file records {stored}, its content hashes to {computed}")]
    BadChecksum {
        stored: Checksum,
        computed: Checksum,
    },
    #[error("the payload is not valid zstd: {0}")]
    Decompress(String),
    #[error(
        "the payload decompresses to more than {MAX_PAYLOAD_BYTES} bytes (a decompression bomb)"
    )]
    DecompressionBomb,
    #[error("the payload is not a valid changeset: {0}")]
    Malformed(String),
    #[error("{extra} unexpected bytes after the changeset inside the payload")]
    TrailingPayload { extra: usize },
    #[error("inconsistent changeset: {0}")]
    Inconsistent(String),
}

#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    #[error("cannot serialize the changeset: {0}")]
    Serialize(#[from] rmp_serde::encode::Error),
    #[error("cannot compress the changeset: {0}")]
    Compress(#[from] std::io::Error),
    #[error(
        "a changeset of {bytes} bytes exceeds what a reader accepts ({MAX_PAYLOAD_BYTES} bytes \
         decompressed, {MAX_FILE_BYTES} in the file)"
    )]
    TooLarge { bytes: usize },
}

/// Writes `cs` as a changeset file; returns the bytes and their checksum (the file's trailer).
pub fn encode(cs: &Changeset) -> Result<(Vec<u8>, Checksum), EncodeError> {
    let payload = rmp_serde::to_vec(cs)?;
    if payload.len() > MAX_PAYLOAD_BYTES {
        return Err(EncodeError::TooLarge {
            bytes: payload.len(),
        });
    }
    let compressed = compress(&payload)?;
    // Never write what a reader refuses.
    if compressed.len() as u64 > MAX_FILE_BYTES {
        return Err(EncodeError::TooLarge {
            bytes: compressed.len(),
        });
    }
    // The oldest version that holds everything in it, so older readers read it: 3 only when
    // a version travels as a delta.
    let major = if cs.entries.iter().any(|e| e.delta.is_some()) {
        DELTA_MAJOR
    } else {
        FORMAT_MAJOR
    };
    Ok(frame_as(
        major,
        cs.header.format_minor().min(FORMAT_MINOR),
        &compressed,
    ))
}

/// Frames a compressed payload as a changeset file of format `FORMAT_MAJOR.minor`: preamble,
/// payload, and the SHA-256 trailer over both; returns the file and its checksum. The payload
/// is not checked (tests and the fuzzer frame broken ones on purpose).
pub fn frame_payload(minor: u16, compressed: &[u8]) -> (Vec<u8>, Checksum) {
    frame_as(FORMAT_MAJOR, minor, compressed)
}

/// Frames `payload` as a file of format `major.minor`.
pub(crate) fn frame_as(major: u16, minor: u16, compressed: &[u8]) -> (Vec<u8>, Checksum) {
    let mut out = Vec::with_capacity(PREAMBLE_LEN + compressed.len() + CHECKSUM_LEN);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&major.to_be_bytes());
    out.extend_from_slice(&minor.to_be_bytes());
    out.extend_from_slice(&(compressed.len() as u64).to_be_bytes());
    out.extend_from_slice(compressed);
    let checksum = Checksum(Sha256::digest(&out).into());
    out.extend_from_slice(&checksum.0);
    (out, checksum)
}

/// The parts of a file whose framing is sound.
pub(crate) struct Framed<'a> {
    pub(crate) major: u16,
    pub(crate) minor: u16,
    pub(crate) payload: &'a [u8],
    pub(crate) stored: Checksum,
    pub(crate) computed: Checksum,
}

/// The framing of a plain file: format 1.x or 3.x (2 and 4 are the sealed formats, which
/// only a remote's key opens).
fn frame(bytes: &[u8]) -> Result<Framed<'_>, DecodeError> {
    let f = frame_upto(bytes, DELTA_MAJOR)?;
    if f.major != FORMAT_MAJOR && f.major != DELTA_MAJOR {
        return Err(DecodeError::NewerFormat {
            major: f.major,
            minor: f.minor,
        });
    }
    Ok(f)
}

/// The framing of a file of a major version up to `newest` (the sealed format reads its own).
pub(crate) fn frame_upto(bytes: &[u8], newest: u16) -> Result<Framed<'_>, DecodeError> {
    if bytes.len() < PREAMBLE_LEN + CHECKSUM_LEN {
        return Err(
            if bytes.len() >= MAGIC.len() && bytes[..MAGIC.len()] != MAGIC {
                DecodeError::WrongMagic
            } else {
                DecodeError::TooShort { len: bytes.len() }
            },
        );
    }
    if bytes[..8] != MAGIC {
        return Err(DecodeError::WrongMagic);
    }
    let major = u16::from_be_bytes([bytes[8], bytes[9]]);
    let minor = u16::from_be_bytes([bytes[10], bytes[11]]);
    if major > newest {
        return Err(DecodeError::NewerFormat { major, minor });
    }
    let mut len = [0u8; 8];
    len.copy_from_slice(&bytes[12..20]);
    let declared = u64::from_be_bytes(len);
    if declared > MAX_FILE_BYTES {
        return Err(DecodeError::AbsurdLength { declared });
    }
    let expected = (PREAMBLE_LEN + CHECKSUM_LEN) as u64 + declared;
    let actual = bytes.len() as u64;
    if actual < expected {
        return Err(DecodeError::Truncated { expected, actual });
    }
    if actual > expected {
        return Err(DecodeError::TrailingBytes {
            extra: actual - expected,
        });
    }
    let body_end = PREAMBLE_LEN + declared as usize;
    let stored = Checksum::from_slice(&bytes[body_end..])
        .ok_or(DecodeError::TooShort { len: bytes.len() })?;
    let computed = Checksum(Sha256::digest(&bytes[..body_end]).into());
    Ok(Framed {
        major,
        minor,
        payload: &bytes[PREAMBLE_LEN..body_end],
        stored,
        computed,
    })
}

/// Checks the framing and the checksum only; returns the checksum.
pub fn verify(bytes: &[u8]) -> Result<Checksum, DecodeError> {
    let f = frame(bytes)?;
    if f.stored != f.computed {
        return Err(DecodeError::BadChecksum {
            stored: f.stored,
            computed: f.computed,
        });
    }
    Ok(f.stored)
}

/// Decodes a changeset file, refusing anything malformed; returns it with its checksum.
pub fn decode(bytes: &[u8]) -> Result<(Changeset, Checksum), DecodeError> {
    let checksum = verify(bytes)?;
    let f = frame(bytes)?;
    Ok((decode_payload(f.payload, f.major)?, checksum))
}

/// What `context sync inspect` shows: as much as can be read, with a verdict on each part.
#[derive(Debug)]
pub struct Inspection {
    pub major: u16,
    pub minor: u16,
    pub size: usize,
    /// The checksum when it matches, else why not.
    pub checksum: Result<Checksum, DecodeError>,
    /// The content, decoded even when the checksum failed (to help find what changed).
    pub changeset: Result<Changeset, DecodeError>,
}

/// Reads what can be read of a file; an error only when its framing is broken.
pub fn inspect(bytes: &[u8]) -> Result<Inspection, DecodeError> {
    let f = frame(bytes)?;
    let checksum = if f.stored == f.computed {
        Ok(f.stored)
    } else {
        Err(DecodeError::BadChecksum {
            stored: f.stored,
            computed: f.computed,
        })
    };
    Ok(Inspection {
        major: f.major,
        minor: f.minor,
        size: bytes.len(),
        checksum,
        changeset: decode_payload(f.payload, f.major),
    })
}

/// Decodes the payload as it inflates: MessagePack is read straight from the zstd stream, so
/// memory holds what is decoded (bounded by the largest body and the entry count the header
/// declares), never the whole inflated payload, and a bomb is refused at its first byte that
/// does not belong to a changeset, or at the ceiling.
fn decode_payload(payload: &[u8], major: u16) -> Result<Changeset, DecodeError> {
    let hint = zstd::zstd_safe::get_frame_content_size(payload)
        .ok()
        .flatten()
        .unwrap_or(0);
    if hint > MAX_PAYLOAD_BYTES as u64 {
        return Err(DecodeError::DecompressionBomb);
    }
    // The payload is one zstd frame and nothing else.
    let frame_len = zstd::zstd_safe::find_frame_compressed_size(payload).map_err(|code| {
        DecodeError::Decompress(zstd::zstd_safe::get_error_name(code).to_string())
    })?;
    if frame_len < payload.len() {
        return Err(DecodeError::TrailingPayload {
            extra: payload.len() - frame_len,
        });
    }
    let decoder = zstd::stream::read::Decoder::with_buffer(payload)
        .map_err(|e| DecodeError::Decompress(e.to_string()))?
        .single_frame();
    let mut inflated = Inflated {
        inner: std::io::BufReader::with_capacity(64 << 10, decoder),
        read: 0,
        failed: None,
    };
    let decoded = {
        let mut de = rmp_serde::Deserializer::new(&mut inflated);
        Changeset::deserialize(&mut de)
    };
    let mut cs = match decoded {
        Ok(cs) => cs,
        Err(e) => {
            return Err(match inflated.failed.take() {
                Some(why) => DecodeError::Decompress(why),
                None if inflated.read > MAX_PAYLOAD_BYTES as u64 => DecodeError::DecompressionBomb,
                None => DecodeError::Malformed(e.to_string()),
            });
        }
    };
    // Nothing after the one value.
    let mut extra = 0usize;
    let mut rest = [0u8; 4096];
    loop {
        match inflated.read(&mut rest) {
            Ok(0) => break,
            Ok(n) => extra += n,
            Err(_) => {
                return Err(match inflated.failed.take() {
                    Some(why) => DecodeError::Decompress(why),
                    None => DecodeError::DecompressionBomb,
                });
            }
        }
    }
    if extra > 0 {
        return Err(DecodeError::TrailingPayload { extra });
    }
    check_consistency(&cs)?;
    if major != DELTA_MAJOR && cs.entries.iter().any(|e| e.delta.is_some()) {
        return Err(DecodeError::Inconsistent(format!(
            "a delta entry in a file of format {major}.x (only 3.x carries deltas)"
        )));
    }
    cs.distribute_settles().map_err(DecodeError::Inconsistent)?;
    cs.distribute_authors().map_err(DecodeError::Inconsistent)?;
    Ok(cs)
}

fn check_consistency(cs: &Changeset) -> Result<(), DecodeError> {
    let bad = |msg: String| Err(DecodeError::Inconsistent(msg));
    let h = &cs.header;
    if h.generation == 0 || h.seq == 0 {
        return bad("generation and sequence start at 1".into());
    }
    if (h.seq == 1) != h.prev.is_none() {
        return bad(format!(
            "changeset {} {} a previous checksum",
            h.seq,
            if h.seq == 1 { "has" } else { "lacks" }
        ));
    }
    let versions = cs
        .entries
        .iter()
        .filter(|e| e.kind == Kind::Version)
        .count() as u64;
    if versions != h.versions || cs.entries.len() as u64 != h.versions + h.tombstones {
        return bad(format!(
            "the header counts {} versions and {} tombstones, the entries differ",
            h.versions, h.tombstones
        ));
    }
    let mut projects = std::collections::BTreeMap::<&str, u64>::new();
    for e in &cs.entries {
        *projects.entry(&e.project).or_default() += 1;
        match e.kind {
            Kind::Version if e.body.is_none() => {
                return bad(format!("version {} has no body", e.id));
            }
            Kind::Tombstone if e.body.is_some() || e.expires_at_ms.is_some() => {
                return bad(format!("tombstone {} carries a body or an expiry", e.id));
            }
            Kind::Tombstone if e.delta.is_some() => {
                return bad(format!("tombstone {} is a delta", e.id));
            }
            _ => {}
        }
        if e.hlc.to_i64() < 0 {
            return bad(format!("version {} has an out-of-range timestamp", e.id));
        }
    }
    let listed: Vec<(&str, u64)> = h.projects.iter().map(|(p, n)| (p.as_str(), *n)).collect();
    let counted: Vec<(&str, u64)> = projects.into_iter().collect();
    if listed != counted {
        return bad("the header's per-project counts differ from the entries".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::changeset::Header;
    use crate::clock::Hlc;
    use crate::ids::{PeerId, SeededIds, VersionId};
    use crate::record::Record;
    use proptest::prelude::*;

    pub(crate) fn sample(entries: usize) -> Changeset {
        let ids = SeededIds::new(3);
        let peer = PeerId::generate(&ids);
        let entries = (0..entries)
            .map(|i| {
                let tomb = i % 4 == 3;
                let body = format!("body {i} of some note text");
                Record {
                    id: VersionId::generate(&ids, 1_000 + i as i64),
                    project: if i % 2 == 0 { "default" } else { "work" }.to_string(),
                    key: format!("k/{}", i % 3),
                    kind: if tomb { Kind::Tombstone } else { Kind::Version },
                    body: (!tomb).then(|| body.into_bytes()),
                    hlc: Hlc::from_parts(1_000 + i as i64, 0),
                    peer,
                    parent: None,
                    expires_at_ms: None,
                    settles: vec![],
                    delta: None,
                    author: None,
                }
            })
            .collect();
        let header = Header::of_stream(peer, 1, 1, None, 5_000, "test".into());
        Changeset::new(header, entries)
    }

    #[test]
    fn a_snapshot_seal_is_format_1_1_and_everything_else_stays_1_0() {
        let plain = sample(3);
        let (bytes, _) = encode(&plain).unwrap();
        assert_eq!(&bytes[8..12], &[0, 1, 0, 0]);
        let mut seal = sample(0);
        seal.header.snapshot = true;
        seal.header.covers = vec![crate::changeset::Cover {
            peer: seal.header.peer,
            generation: 2,
            seq: 9,
            checksum: crate::record::Checksum([7; 32]),
        }];
        let (bytes, _) = encode(&seal).unwrap();
        assert_eq!(&bytes[8..12], &[0, 1, 0, 1]);
        assert_eq!(decode(&bytes).unwrap().0, seal);
    }

    #[test]
    fn fields_a_later_minor_version_appends_are_ignored() {
        // A header as a 1.5 writer might send it: the fourteen fields of 1.4 and one more.
        let cs = sample(2);
        let h = &cs.header;
        let later = (
            (
                h.peer,
                h.generation,
                h.seq,
                h.prev,
                h.created_at_ms,
                h.host.clone(),
                h.snapshot,
                h.versions,
                h.tombstones,
                h.projects.clone(),
                Vec::<crate::changeset::Cover>::new(),
                Vec::<(VersionId, VersionId)>::new(),
                Vec::<(crate::ids::PeerId, String)>::new(),
                Vec::<(VersionId, String, Option<String>)>::new(),
                "a field from the future",
            ),
            cs.entries.clone(),
        );
        let payload = compress(&rmp_serde::to_vec(&later).unwrap()).unwrap();
        assert_eq!(decode_payload(&payload, 1).unwrap(), cs);
        // Fewer than ten fields is malformed.
        let short =
            compress(&rmp_serde::to_vec(&((h.peer, h.generation), cs.entries.clone())).unwrap())
                .unwrap();
        assert!(matches!(
            decode_payload(&short, 1),
            Err(DecodeError::Malformed(_))
        ));
    }

    #[test]
    fn settled_versions_travel_in_a_1_2_header_and_back_to_their_entries() {
        let mut cs = sample(3);
        let settled = cs.entries[0].id;
        cs.entries[2].settles = vec![settled];
        let cs = Changeset::new(cs.header.clone(), cs.entries.clone());
        assert_eq!(cs.header.settles, vec![(cs.entries[2].id, settled)]);
        let (bytes, _) = encode(&cs).unwrap();
        assert_eq!(u16::from_be_bytes([bytes[10], bytes[11]]), 2, "format 1.2");
        let (back, _) = decode(&bytes).unwrap();
        assert_eq!(back, cs);
        assert_eq!(back.entries[2].settles, vec![settled]);
        // Without a settled version, a file stays 1.0 (older readers read it as before).
        let (plain, _) = encode(&sample(3)).unwrap();
        assert_eq!(u16::from_be_bytes([plain[10], plain[11]]), 0);

        // A pair naming an entry that is not in the changeset is inconsistent.
        let mut stray = cs.clone();
        stray.header.settles = vec![
            (settled, settled),
            (VersionId::from_bytes([7; 16]), settled),
        ];
        let payload = compress(&rmp_serde::to_vec(&stray).unwrap()).unwrap();
        assert!(matches!(
            decode_payload(&payload, 1),
            Err(DecodeError::Inconsistent(_))
        ));
    }

    #[test]
    fn a_seals_machine_names_travel_in_a_1_3_header() {
        let mut seal = sample(0).header;
        seal.snapshot = true;
        seal.hosts = vec![(crate::ids::PeerId::from_bytes([3; 16]), "laptop".into())];
        let cs = Changeset::new(seal, Vec::new());
        let (bytes, _) = encode(&cs).unwrap();
        assert_eq!(u16::from_be_bytes([bytes[10], bytes[11]]), 3, "format 1.3");
        let (back, _) = decode(&bytes).unwrap();
        assert_eq!(back.header.hosts, cs.header.hosts);
        // A seal without names stays 1.1, as before.
        let mut bare = sample(0).header;
        bare.snapshot = true;
        let (old, _) = encode(&Changeset::new(bare, Vec::new())).unwrap();
        assert_eq!(u16::from_be_bytes([old[10], old[11]]), 1);
    }

    #[test]
    fn round_trip() {
        let cs = sample(10);
        let (bytes, sum) = encode(&cs).unwrap();
        let (back, sum2) = decode(&bytes).unwrap();
        assert_eq!(back, cs);
        assert_eq!(sum, sum2);
        assert_eq!(cs.header.versions, 8);
        assert_eq!(cs.header.tombstones, 2);
        assert_eq!(
            cs.header.projects,
            vec![("default".to_string(), 5), ("work".to_string(), 5)]
        );
    }

    #[test]
    fn each_kind_of_damage_has_its_own_error() {
        let (bytes, _) = encode(&sample(5)).unwrap();
        assert!(matches!(
            decode(&bytes[..10]),
            Err(DecodeError::TooShort { .. })
        ));
        assert!(matches!(
            decode(&bytes[..bytes.len() - 1]),
            Err(DecodeError::Truncated { .. })
        ));
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(matches!(
            decode(&longer),
            Err(DecodeError::TrailingBytes { extra: 1 })
        ));
        let mut magic = bytes.clone();
        magic[0] = b'X';
        assert_eq!(decode(&magic).unwrap_err(), DecodeError::WrongMagic);
        let mut future = bytes.clone();
        future[8..10].copy_from_slice(&2u16.to_be_bytes());
        assert_eq!(
            decode(&future).unwrap_err(),
            DecodeError::NewerFormat { major: 2, minor: 0 }
        );
        let mut absurd = bytes.clone();
        absurd[12..20].copy_from_slice(&u64::MAX.to_be_bytes());
        assert!(matches!(
            decode(&absurd),
            Err(DecodeError::AbsurdLength { .. })
        ));
        let mut flipped = bytes.clone();
        flipped[30] ^= 1;
        assert!(matches!(
            decode(&flipped),
            Err(DecodeError::BadChecksum { .. })
        ));
    }

    /// Re-frames `payload` (already compressed) with a valid checksum.
    fn framed(payload: &[u8]) -> Vec<u8> {
        frame_payload(FORMAT_MINOR, payload).0
    }

    #[test]
    fn a_decompression_bomb_is_refused_without_inflating_it() {
        // 1 GiB of zeros compresses to about 40 KB: refused at its first byte, which begins
        // no changeset.
        let mut enc = zstd::stream::write::Encoder::new(Vec::new(), 19).unwrap();
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..(MAX_PAYLOAD_BYTES >> 20) + 1 {
            std::io::Write::write_all(&mut enc, &zeros).unwrap();
        }
        let bomb = enc.finish().unwrap();
        assert!(matches!(
            decode(&framed(&bomb)).unwrap_err(),
            DecodeError::Malformed(_)
        ));
        // A real changeset with the zeros after it: read up to the ceiling, then refused.
        let mut enc = zstd::stream::write::Encoder::new(Vec::new(), 19).unwrap();
        std::io::Write::write_all(&mut enc, &rmp_serde::to_vec(&sample(1)).unwrap()).unwrap();
        for _ in 0..(MAX_PAYLOAD_BYTES >> 20) + 1 {
            std::io::Write::write_all(&mut enc, &zeros).unwrap();
        }
        let bomb = enc.finish().unwrap();
        assert_eq!(
            decode(&framed(&bomb)).unwrap_err(),
            DecodeError::DecompressionBomb
        );
        // A frame that says it inflates past the ceiling is refused before inflating at all.
        let claims = zstd::bulk::compress(&vec![0u8; MAX_PAYLOAD_BYTES + 1], 1).unwrap();
        assert_eq!(
            decode(&framed(&claims)).unwrap_err(),
            DecodeError::DecompressionBomb
        );
    }

    #[test]
    fn entries_beyond_what_the_header_declares_are_refused_as_they_come() {
        let mut cs = sample(3);
        cs.header.versions = 1;
        cs.header.tombstones = 0;
        let payload = compress(&rmp_serde::to_vec(&cs).unwrap()).unwrap();
        let err = decode_payload(&payload, 1).unwrap_err();
        assert!(
            matches!(&err, DecodeError::Malformed(m) if m.contains("more entries than the 1")),
            "{err:?}"
        );
        cs.header.versions = MAX_ENTRIES + 1;
        let payload = compress(&rmp_serde::to_vec(&cs).unwrap()).unwrap();
        let err = decode_payload(&payload, 1).unwrap_err();
        assert!(
            matches!(&err, DecodeError::Malformed(m) if m.contains("more than a changeset holds")),
            "{err:?}"
        );
    }

    #[test]
    fn garbage_payloads_are_named() {
        assert!(matches!(
            decode(&framed(b"not zstd at all")),
            Err(DecodeError::Decompress(_))
        ));
        let not_msgpack = zstd::bulk::compress(&[0xc1u8, 0xc1, 0xc1], 3).unwrap();
        assert!(matches!(
            decode(&framed(&not_msgpack)),
            Err(DecodeError::Malformed(_))
        ));
        let mut two = rmp_serde::to_vec(&sample(1)).unwrap();
        two.push(0xc0);
        let two = zstd::bulk::compress(&two, 3).unwrap();
        assert!(matches!(
            decode(&framed(&two)),
            Err(DecodeError::TrailingPayload { extra: 1 })
        ));
        let mut after_frame =
            zstd::bulk::compress(&rmp_serde::to_vec(&sample(1)).unwrap(), 3).unwrap();
        after_frame.extend_from_slice(b"junk");
        assert!(matches!(
            decode(&framed(&after_frame)),
            Err(DecodeError::TrailingPayload { extra: 4 })
        ));
        let mut lying = sample(3);
        lying.header.versions = 7;
        let lying = zstd::bulk::compress(&rmp_serde::to_vec(&lying).unwrap(), 3).unwrap();
        assert!(matches!(
            decode(&framed(&lying)),
            Err(DecodeError::Inconsistent(_))
        ));
    }

    proptest! {
        /// Random bytes never panic the decoder and are never taken for a changeset.
        #[test]
        fn random_bytes_are_refused(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
            prop_assert!(decode(&bytes).is_err());
            let _ = inspect(&bytes);
        }

        /// Any change to a valid file (a flipped byte, a cut, an insertion) is refused: the
        /// decoder never panics and never accepts a file that differs from what was written.
        #[test]
        fn mutated_files_are_refused(
            n in 1usize..12,
            at in any::<prop::sample::Index>(),
            mask in 1u8..=255,
            how in 0u8..3,
            extra in any::<u8>(),
        ) {
            let (bytes, _) = encode(&sample(n)).unwrap();
            let i = at.index(bytes.len());
            let mut m = bytes.clone();
            match how {
                0 => m[i] ^= mask,
                1 => m.truncate(i),
                _ => m.insert(i, extra),
            }
            prop_assert!(decode(&m).is_err());
            let _ = inspect(&m);
        }
    }
}
