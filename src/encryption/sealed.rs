//! Formats 2 and 4: a changeset sealed for an encrypted remote.
//!
//! A sealed file wraps a format-1 file (format 2) or a format-3 file, one with deltas inside
//! (format 4; the layout is the same): its zstd frame is encrypted with XChaCha20-Poly1305
//! (RustCrypto's audited `chacha20poly1305`) under the remote's key, with a random 24-byte
//! nonce per file, and framed like every changeset (magic, version, length, SHA-256), so that
//! damage is told from a wrong key and both from a forgery:
//!
//! ```text
//! magic (8) | major 2 or 4 (u16) | minor 0 (u16) | N (u64) | body (N) | SHA-256 of all before (32)
//! body: peer (16) | role (1) | stream or snapshot id (u64) | sequence or part (u64)
//!       | key id (16) | inner minor (u16) | nonce (24) | ciphertext of the zstd frame + tag (16)
//! ```
//!
//! Public: which file it is (peer, role, generation and sequence, or snapshot id and part:
//! what its name says anyway), which key sealed it, and its size. Everything a user wrote
//! (keys, bodies, project names, host names, counts per project) is inside the ciphertext.
//! The associated data is every byte before the ciphertext, so a file moved to another name,
//! or re-labelled, fails to open. Compression happens before encryption.
//!
//! Opening gives back the exact file that was sealed (same bytes, same checksum), so the chain
//! of checksums between changesets is the same in a plain and an encrypted remote. The inner
//! file's major is told by the sealed file's own (2: 1, 4: 3), not by a field of the body: a
//! reader of format 2 rebuilds the inner file as format 1, so a file with deltas inside must be
//! one that reader refuses as newer before it opens it, rather than one it would misread.

use std::fmt;

use chacha20poly1305::aead::{AeadInOut, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use sha2::{Digest, Sha256};

use crate::changeset::codec::{self, DecodeError};
use crate::ids::PeerId;
use crate::record::Checksum;

/// The format major version of sealed files (of format-1 files; see [`inner_major`]).
pub const SEALED_MAJOR: u16 = 2;

/// The major of the file inside a sealed file of major `sealed`, if that is a sealed format.
pub fn inner_major(sealed: u16) -> Option<u16> {
    match sealed {
        SEALED_MAJOR => Some(crate::changeset::FORMAT_MAJOR),
        crate::changeset::SEALED_DELTA_MAJOR => Some(crate::changeset::DELTA_MAJOR),
        _ => None,
    }
}

/// The major of the sealed file that holds a file of major `inner`, if it can be sealed.
fn sealed_major(inner: u16) -> Option<u16> {
    [SEALED_MAJOR, crate::changeset::SEALED_DELTA_MAJOR]
        .into_iter()
        .find(|&m| inner_major(m) == Some(inner))
}
const BODY_HEAD: usize = 16 + 1 + 8 + 8 + 16 + 2 + 24;
const TAG_LEN: usize = 16;

/// A remote's 256-bit key.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey([u8; 32]);

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey({})", hex(&self.id().0))
    }
}

/// What names a key in public: the first 16 bytes of a SHA-256 of it, domain-separated.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(pub [u8; 16]);

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex(&self.0))
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

impl KeyId {
    pub fn parse(text: &str) -> Option<KeyId> {
        let bytes = unhex(text)?;
        <[u8; 16]>::try_from(bytes.as_slice()).ok().map(KeyId)
    }
}

/// The prefix of a key written for a person.
const EXPORT_PREFIX: &str = "ctxkey1";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error(
        "not a context key: expected {EXPORT_PREFIX}- followed by 64 hex digits (as `context sync key export` prints it)"
    )]
    Malformed,
    #[error("the system's random source failed: {0}")]
    Random(String),
}

impl SecretKey {
    pub fn from_bytes(bytes: [u8; 32]) -> SecretKey {
        SecretKey(bytes)
    }

    /// A fresh random key.
    pub fn generate() -> Result<SecretKey, KeyError> {
        let mut k = [0u8; 32];
        getrandom::fill(&mut k).map_err(|e| KeyError::Random(e.to_string()))?;
        Ok(SecretKey(k))
    }

    pub fn id(&self) -> KeyId {
        let digest = Sha256::new()
            .chain_update(b"context remote key id\0")
            .chain_update(self.0)
            .finalize();
        let mut id = [0u8; 16];
        id.copy_from_slice(&digest[..16]);
        KeyId(id)
    }

    /// One line a person can paste or write down: `ctxkey1-` and eight groups of 8 hex digits.
    pub fn export(&self) -> String {
        let h = hex(&self.0);
        let groups: Vec<&str> = (0..8).map(|i| &h[i * 8..i * 8 + 8]).collect();
        format!("{EXPORT_PREFIX}-{}", groups.join("-"))
    }

    /// Reads what [`SecretKey::export`] wrote; spaces, dashes and case do not matter.
    pub fn import(text: &str) -> Result<SecretKey, KeyError> {
        let text = text.trim().to_ascii_lowercase();
        let rest = text
            .strip_prefix(EXPORT_PREFIX)
            .ok_or(KeyError::Malformed)?;
        let digits: String = rest
            .chars()
            .filter(|c| !matches!(c, '-' | ' ' | '\t'))
            .collect();
        let bytes = unhex(&digits).ok_or(KeyError::Malformed)?;
        <[u8; 32]>::try_from(bytes.as_slice())
            .map(SecretKey)
            .map_err(|_| KeyError::Malformed)
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(&self.0.into())
    }

    /// Encrypts `plain` with `aad` under a fresh random nonce: nonce, then ciphertext and tag.
    pub fn encrypt(&self, aad: &[u8], plain: &[u8]) -> Result<Vec<u8>, KeyError> {
        let mut nonce = [0u8; 24];
        getrandom::fill(&mut nonce).map_err(|e| KeyError::Random(e.to_string()))?;
        Ok(self.encrypt_with_nonce(nonce, aad, plain))
    }

    fn encrypt_with_nonce(&self, nonce: [u8; 24], aad: &[u8], plain: &[u8]) -> Vec<u8> {
        let mut buffer = plain.to_vec();
        let tag = self
            .cipher()
            .encrypt_inout_detached(&XNonce::from(nonce), aad, buffer.as_mut_slice().into())
            .expect("XChaCha20-Poly1305 encrypts any length this format allows");
        let mut out = Vec::with_capacity(24 + buffer.len() + TAG_LEN);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&buffer);
        out.extend_from_slice(&tag);
        out
    }

    /// Decrypts what [`SecretKey::encrypt`] wrote with the same `aad`; `None` if it is not
    /// authentic (changed, moved, or sealed under another key).
    pub fn decrypt(&self, aad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
        if sealed.len() < 24 {
            return None;
        }
        let (nonce, rest) = sealed.split_at(24);
        self.decrypt_parts(aad, nonce, rest)
    }

    /// The same with the nonce apart from the ciphertext and its tag.
    fn decrypt_parts(&self, aad: &[u8], nonce: &[u8], body_and_tag: &[u8]) -> Option<Vec<u8>> {
        if body_and_tag.len() < TAG_LEN {
            return None;
        }
        let (body, tag) = body_and_tag.split_at(body_and_tag.len() - TAG_LEN);
        let nonce = <[u8; 24]>::try_from(nonce).ok()?;
        let tag = <[u8; TAG_LEN]>::try_from(tag).ok()?;
        let mut buffer = body.to_vec();
        self.cipher()
            .decrypt_inout_detached(
                &XNonce::from(nonce),
                aad,
                buffer.as_mut_slice().into(),
                &tag.into(),
            )
            .ok()?;
        Some(buffer)
    }
}

/// Which file a sealed file is: what its name says, bound to its content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Changeset {
        peer: PeerId,
        generation: u64,
        seq: u64,
    },
    Part {
        peer: PeerId,
        id: u64,
        part: u64,
    },
    Seal {
        peer: PeerId,
        id: u64,
    },
}

impl Role {
    fn encode(&self) -> [u8; 33] {
        let (peer, role, a, b) = match *self {
            Role::Changeset {
                peer,
                generation,
                seq,
            } => (peer, 0u8, generation, seq),
            Role::Part { peer, id, part } => (peer, 1, id, part),
            Role::Seal { peer, id } => (peer, 2, id, 0),
        };
        let mut out = [0u8; 33];
        out[..16].copy_from_slice(peer.as_bytes());
        out[16] = role;
        out[17..25].copy_from_slice(&a.to_be_bytes());
        out[25..33].copy_from_slice(&b.to_be_bytes());
        out
    }

    fn decode(bytes: &[u8]) -> Option<Role> {
        let peer = PeerId::from_slice(&bytes[..16])?;
        let a = u64::from_be_bytes(bytes[17..25].try_into().ok()?);
        let b = u64::from_be_bytes(bytes[25..33].try_into().ok()?);
        match bytes[16] {
            0 => Some(Role::Changeset {
                peer,
                generation: a,
                seq: b,
            }),
            1 => Some(Role::Part {
                peer,
                id: a,
                part: b,
            }),
            2 if b == 0 => Some(Role::Seal { peer, id: a }),
            _ => None,
        }
    }
}

/// What anyone can read of a sealed file, without its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Public {
    pub role: Role,
    pub key: KeyId,
    /// The format of the sealed file itself (2.0 or 4.0).
    pub major: u16,
    /// The format major and minor version of the file inside.
    pub inner_major: u16,
    pub inner_minor: u16,
    pub size: usize,
    /// Its SHA-256, when it matches its content.
    pub checksum: Checksum,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    /// Damage a reader without the key sees too: bad framing or checksum.
    #[error(transparent)]
    Damaged(#[from] DecodeError),
    #[error("a sealed changeset (format 2 or 4) with an unreadable public header")]
    BadHeader,
    #[error("sealed under another key ({found}) than this remote's ({expected})")]
    OtherKey { found: KeyId, expected: KeyId },
    #[error(
        "its encryption does not check out: it was changed, or moved from another name, after it was written"
    )]
    NotAuthentic,
    #[error("the file inside the seal is damaged: {0}")]
    Inner(DecodeError),
}

/// Whether `bytes` are a sealed (format 2 or 4) file, by their preamble alone.
pub fn is_sealed(bytes: &[u8]) -> bool {
    bytes.len() >= 12
        && bytes[..8] == crate::changeset::MAGIC
        && inner_major(u16::from_be_bytes([bytes[8], bytes[9]])).is_some()
}

/// A file of a format newer than any this binary reads, sealed or not: what to say of it in
/// an encrypted remote (rather than take it for a plain file, as it is not sealed as far as
/// this binary can tell).
pub fn newer_format(bytes: &[u8]) -> Option<DecodeError> {
    if bytes.len() < 12 || bytes[..8] != crate::changeset::MAGIC {
        return None;
    }
    let major = u16::from_be_bytes([bytes[8], bytes[9]]);
    let minor = u16::from_be_bytes([bytes[10], bytes[11]]);
    (major > crate::changeset::SEALED_DELTA_MAJOR)
        .then_some(DecodeError::NewerFormat { major, minor })
}

/// Seals the format-1 or format-3 file `plain` for `role` under `key`.
pub fn seal(key: &SecretKey, role: Role, plain: &[u8]) -> Result<Vec<u8>, OpenError> {
    let mut nonce = [0u8; 24];
    getrandom::fill(&mut nonce).map_err(|_| OpenError::BadHeader)?;
    seal_with_nonce(key, role, plain, nonce)
}

/// The same with a given nonce: for the golden files only, never for a real write (a nonce
/// must never repeat under one key).
pub fn seal_with_nonce(
    key: &SecretKey,
    role: Role,
    plain: &[u8],
    nonce: [u8; 24],
) -> Result<Vec<u8>, OpenError> {
    let inner = codec::frame_upto(plain, crate::changeset::DELTA_MAJOR)?;
    let major = sealed_major(inner.major).ok_or(OpenError::Inner(DecodeError::NewerFormat {
        major: inner.major,
        minor: inner.minor,
    }))?;
    if inner.stored != inner.computed {
        return Err(OpenError::Inner(DecodeError::BadChecksum {
            stored: inner.stored,
            computed: inner.computed,
        }));
    }
    let mut head = Vec::with_capacity(20 + BODY_HEAD);
    head.extend_from_slice(&crate::changeset::MAGIC);
    head.extend_from_slice(&major.to_be_bytes());
    head.extend_from_slice(&0u16.to_be_bytes());
    let body_len = BODY_HEAD + inner.payload.len() + TAG_LEN;
    head.extend_from_slice(&(body_len as u64).to_be_bytes());
    head.extend_from_slice(&role.encode());
    head.extend_from_slice(&key.id().0);
    head.extend_from_slice(&inner.minor.to_be_bytes());
    head.extend_from_slice(&nonce);
    // The associated data: every byte before the ciphertext.
    let sealed = key.encrypt_with_nonce(nonce, &head, inner.payload);
    let mut body = head[20..].to_vec();
    body.extend_from_slice(&sealed[24..]);
    let (file, _) = codec::frame_as(major, 0, &body);
    Ok(file)
}

/// Reads the public part of a sealed file, checking its framing and checksum (what `verify`
/// can check without the key).
pub fn public(bytes: &[u8]) -> Result<Public, OpenError> {
    parse(bytes).map(|(public, _)| public)
}

/// The public part of a sealed file and its body, framing and checksum checked once.
fn parse(bytes: &[u8]) -> Result<(Public, &[u8]), OpenError> {
    let f = codec::frame_upto(bytes, crate::changeset::SEALED_DELTA_MAJOR)?;
    let inner_major = inner_major(f.major).ok_or(OpenError::BadHeader)?;
    if f.stored != f.computed {
        return Err(OpenError::Damaged(DecodeError::BadChecksum {
            stored: f.stored,
            computed: f.computed,
        }));
    }
    if f.payload.len() < BODY_HEAD + TAG_LEN {
        return Err(OpenError::BadHeader);
    }
    let role = Role::decode(&f.payload[..33]).ok_or(OpenError::BadHeader)?;
    let key = KeyId(
        f.payload[33..49]
            .try_into()
            .map_err(|_| OpenError::BadHeader)?,
    );
    let inner_minor = u16::from_be_bytes([f.payload[49], f.payload[50]]);
    let public = Public {
        role,
        key,
        major: f.major,
        inner_major,
        inner_minor,
        size: bytes.len(),
        checksum: f.stored,
    };
    Ok((public, f.payload))
}

/// Opens a sealed file with `key`: the exact file that was sealed, and what its public part
/// says.
pub fn open(key: &SecretKey, bytes: &[u8]) -> Result<(Public, Vec<u8>), OpenError> {
    let (public, body) = parse(bytes)?;
    if public.key != key.id() {
        return Err(OpenError::OtherKey {
            found: public.key,
            expected: key.id(),
        });
    }
    // The associated data is every byte before the ciphertext: preamble and public head.
    let aad = &bytes[..20 + BODY_HEAD];
    let frame = key
        .decrypt_parts(aad, &body[BODY_HEAD - 24..BODY_HEAD], &body[BODY_HEAD..])
        .ok_or(OpenError::NotAuthentic)?;
    let (plain, _) = codec::frame_as(public.inner_major, public.inner_minor, &frame);
    Ok((public, plain))
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The bytes of lower- or upper-case hex; `None` for anything else.
pub fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::changeset::{Changeset, Header, decode, encode};
    use crate::ids::SeededIds;

    fn header(peer: PeerId, seq: u64) -> Header {
        Header::of_stream(peer, 1, seq, None, 0, "secret-host".into())
    }

    /// The file of changeset 3 of a peer's first generation, and the peer.
    fn plain() -> (Vec<u8>, PeerId) {
        let peer = PeerId::generate(&SeededIds::new(5));
        let (bytes, _) = encode(&Changeset::new(header(peer, 3), vec![])).unwrap();
        (bytes, peer)
    }

    /// What that file is.
    fn role(peer: PeerId) -> Role {
        Role::Changeset {
            peer,
            generation: 1,
            seq: 3,
        }
    }

    #[test]
    fn a_sealed_file_opens_to_the_very_file_that_was_sealed() {
        let key = SecretKey::generate().unwrap();
        let (bytes, peer) = plain();
        let role = role(peer);
        let sealed = seal(&key, role, &bytes).unwrap();
        assert!(is_sealed(&sealed));
        assert!(!sealed.windows(11).any(|w| w == b"secret-host"));
        let (public, opened) = open(&key, &sealed).unwrap();
        assert_eq!(opened, bytes);
        assert_eq!(public.role, role);
        assert_eq!(public.key, key.id());
        // An old reader refuses it with its "newer format" message.
        assert!(matches!(
            decode(&sealed),
            Err(DecodeError::NewerFormat { major: 2, .. })
        ));
        // Two seals of one file differ (a fresh nonce each time) and both open.
        let again = seal(&key, role, &bytes).unwrap();
        assert_ne!(again, sealed);
        assert_eq!(open(&key, &again).unwrap().1, bytes);
    }

    #[test]
    fn a_file_with_deltas_inside_is_sealed_as_format_4_which_a_reader_of_2_does_not_open() {
        use crate::clock::Hlc;
        use crate::ids::VersionId;
        use crate::record::{Delta, Kind, Record};
        let ids = SeededIds::new(6);
        let (one, peer) = plain();
        let base = VersionId::generate(&ids, 1);
        let entries = vec![Record {
            id: VersionId::generate(&ids, 2),
            project: "default".into(),
            key: "plan".into(),
            kind: Kind::Version,
            body: Some(b"a delta's bytes".to_vec()),
            hlc: Hlc::from_parts(2, 0),
            peer,
            parent: Some(base),
            expires_at_ms: None,
            settles: vec![],
            delta: Some(Delta {
                base,
                sha256: Checksum([9; 32]),
            }),
            author: None,
        }];
        let (three, _) = encode(&Changeset::new(header(peer, 1), entries)).unwrap();
        assert_eq!(&three[8..10], &crate::changeset::DELTA_MAJOR.to_be_bytes());
        let key = SecretKey::generate().unwrap();
        let role = role(peer);
        let sealed = seal(&key, role, &three).unwrap();
        assert!(is_sealed(&sealed));
        let public = public(&sealed).unwrap();
        assert_eq!((public.major, public.inner_major), (4, 3));
        assert_eq!(open(&key, &sealed).unwrap().1, three);
        // A reader of the sealed format 2 frames up to major 2: newer, not opened.
        assert!(matches!(
            codec::frame_upto(&sealed, SEALED_MAJOR),
            Err(DecodeError::NewerFormat { major: 4, .. })
        ));
        // Format 1 still seals as 2; a sealed file is not sealed again.
        assert_eq!(&seal(&key, role, &one).unwrap()[8..10], &2u16.to_be_bytes());
        assert!(seal(&key, role, &sealed).is_err());
        // A major beyond every one this binary knows is newer, sealed or not.
        let mut future = sealed.clone();
        future[8..10].copy_from_slice(&5u16.to_be_bytes());
        assert!(!is_sealed(&future));
        assert!(matches!(
            newer_format(&future),
            Some(DecodeError::NewerFormat { major: 5, .. })
        ));
        assert_eq!(newer_format(&sealed), None);
    }

    #[test]
    fn damage_another_key_and_a_forgery_are_told_apart() {
        let key = SecretKey::generate().unwrap();
        let (bytes, peer) = plain();
        let role = role(peer);
        let sealed = seal(&key, role, &bytes).unwrap();
        // A flipped byte anywhere: the checksum says so, with or without the key.
        for at in [
            0,
            15,
            40,
            70,
            sealed.len() / 2,
            sealed.len() - 40,
            sealed.len() - 1,
        ] {
            let mut bad = sealed.clone();
            bad[at] ^= 0x20;
            assert!(open(&key, &bad).is_err(), "flip at {at}");
        }
        // Another key.
        let other = SecretKey::generate().unwrap();
        assert!(matches!(
            open(&other, &sealed),
            Err(OpenError::OtherKey { .. })
        ));
        // A forger who fixes the checksum after re-labelling the file (moving it to another
        // name) is caught by the associated data.
        let mut moved = sealed.clone();
        moved[20 + 25 + 7] ^= 1; // the sequence number
        let body_end = moved.len() - 32;
        let sum: [u8; 32] = Sha256::digest(&moved[..body_end]).into();
        moved[body_end..].copy_from_slice(&sum);
        assert_eq!(open(&key, &moved), Err(OpenError::NotAuthentic));
    }

    #[test]
    fn a_key_round_trips_through_the_line_a_person_writes_down() {
        let key = SecretKey::generate().unwrap();
        let line = key.export();
        assert!(line.starts_with("ctxkey1-"), "{line}");
        assert_eq!(SecretKey::import(&line).unwrap(), key);
        assert_eq!(
            SecretKey::import(&format!("  {}\n", line.to_uppercase().replace('-', " - "))).unwrap(),
            key
        );
        for bad in ["", "ctxkey1-00", "hello", &line[..line.len() - 1]] {
            assert_eq!(SecretKey::import(bad), Err(KeyError::Malformed), "{bad}");
        }
        assert_eq!(KeyId::parse(&key.id().to_string()), Some(key.id()));
    }
}
