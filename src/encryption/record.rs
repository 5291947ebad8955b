//! What an encrypted remote holds besides its sealed changesets: the key record
//! (`encryption.json`), the sealed manifests, and the rules for opening a file read from it.

use serde::{Deserialize, Serialize};

use super::sealed::{self, KeyError, KeyId, Role, SecretKey, hex, unhex};

/// `encryption.json`: an encrypted remote says so, names its key and carries a check of it
/// (never the key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRecord {
    pub format: u32,
    pub cipher: String,
    /// The key's public id.
    pub key_id: String,
    /// A fixed text sealed under the key, with a random nonce: hex.
    pub check: String,
}

const KEY_CHECK_TEXT: &[u8] = b"context: this key opens this remote";
const KEY_CHECK_AAD: &[u8] = b"context key record\0";
const CIPHER: &str = "xchacha20-poly1305";

impl KeyRecord {
    /// A key record from the bytes of `encryption.json`, if it is one this version reads
    /// (untrusted input: any bytes give a record or `None`, never a panic).
    pub fn decode(bytes: &[u8]) -> Option<KeyRecord> {
        serde_json::from_slice::<KeyRecord>(bytes)
            .ok()
            .filter(|r| r.format == 1 && r.cipher == CIPHER && r.key_id().is_some())
    }

    pub fn new(key: &SecretKey) -> Result<KeyRecord, KeyError> {
        let sealed = key.encrypt(KEY_CHECK_AAD, KEY_CHECK_TEXT)?;
        Ok(KeyRecord {
            format: 1,
            cipher: CIPHER.to_string(),
            key_id: key.id().to_string(),
            check: hex(&sealed),
        })
    }

    /// The bytes of `encryption.json` for this record.
    pub fn encode(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(self).unwrap_or_default();
        bytes.push(b'\n');
        bytes
    }

    /// The id of the key it names, if it is well formed.
    pub fn key_id(&self) -> Option<KeyId> {
        KeyId::parse(&self.key_id)
    }

    /// Whether `key` opens this remote: its id is the one named and the check opens.
    pub fn opens(&self, key: &SecretKey) -> bool {
        self.key_id() == Some(key.id()) && self.check_opens(key)
    }

    /// Whether the check opens with `key`, whatever id the record names.
    pub fn check_opens(&self, key: &SecretKey) -> bool {
        unhex(&self.check)
            .and_then(|sealed| key.decrypt(KEY_CHECK_AAD, &sealed))
            .is_some_and(|text| text == KEY_CHECK_TEXT)
    }
}

/// A sealed manifest: what `manifest.json` holds in an encrypted remote.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SealedManifest {
    format: u32,
    key_id: String,
    sealed: String,
}

/// A manifest is bound to its peer: one copied into another peer's folder does not open.
fn manifest_aad(peer: &str) -> Vec<u8> {
    format!("context manifest\0{peer}").into_bytes()
}

/// The bytes of `peer`'s `manifest.json` in an encrypted remote, sealing `plain`.
pub fn seal_manifest(key: &SecretKey, peer: &str, plain: &[u8]) -> Result<Vec<u8>, KeyError> {
    let sealed = key.encrypt(&manifest_aad(peer), plain)?;
    let wrapper = SealedManifest {
        format: 1,
        key_id: key.id().to_string(),
        sealed: hex(&sealed),
    };
    let mut bytes = serde_json::to_vec_pretty(&wrapper).unwrap_or_default();
    bytes.push(b'\n');
    Ok(bytes)
}

/// The plain manifest inside `peer`'s sealed `manifest.json`, or why not.
pub fn open_manifest(key: &SecretKey, peer: &str, bytes: &[u8]) -> Result<Vec<u8>, String> {
    let sealed: SealedManifest = serde_json::from_slice(bytes)
        .map_err(|_| "not a sealed manifest, in an encrypted remote".to_string())?;
    unhex(&sealed.sealed)
        .and_then(|s| key.decrypt(&manifest_aad(peer), &s))
        .ok_or_else(|| {
            "its encryption does not check out (changed, moved, or sealed under another key)"
                .to_string()
        })
}

/// Whether `bytes` are a sealed manifest (whatever key sealed it).
pub fn is_sealed_manifest(bytes: &[u8]) -> bool {
    serde_json::from_slice::<SealedManifest>(bytes).is_ok()
}

/// What opening a changeset or snapshot file read from a remote gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opened {
    /// The file as sync reads it (opened, or plain in a plain remote).
    Plain(Vec<u8>),
    /// A sealed file, and no key to open it with: the remote is encrypted whatever its key
    /// record says.
    SealedWithoutKey,
    /// It does not open: why (damage, another key, a newer format, moved from another name).
    Refused(String),
}

/// Opens a file read from a remote: with `key` (an encrypted remote) it must be sealed, open
/// under the key, and have been sealed as `role`; without, it must not be sealed.
pub fn open_file(key: Option<&SecretKey>, role: Role, raw: Vec<u8>) -> Opened {
    let Some(key) = key else {
        return if sealed::is_sealed(&raw) {
            Opened::SealedWithoutKey
        } else {
            Opened::Plain(raw)
        };
    };
    if let Some(newer) = sealed::newer_format(&raw) {
        return Opened::Refused(newer.to_string());
    }
    if !sealed::is_sealed(&raw) {
        return Opened::Refused(
            "a plain file in an encrypted remote: not written by a peer holding its key".into(),
        );
    }
    match sealed::open(key, &raw) {
        Err(e) => Opened::Refused(e.to_string()),
        Ok((public, _)) if public.role != role => Opened::Refused(
            "it was sealed as another file (moved or copied from another name)".into(),
        ),
        Ok((_, plain)) => Opened::Plain(plain),
    }
}

/// A sealed file found in a remote that has no key record: what makes it encrypted whatever
/// its record says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    /// Relative to the remote.
    pub file: String,
    /// The file as it is (a sealed manifest, or a sealed changeset or snapshot file).
    raw: Vec<u8>,
    /// The peer whose manifest it is, for a manifest.
    manifest_of: Option<String>,
}

impl Evidence {
    /// A sealed manifest of `peer` at `file`.
    pub fn manifest(file: String, raw: Vec<u8>, peer: &str) -> Evidence {
        Evidence {
            file,
            raw,
            manifest_of: Some(peer.to_string()),
        }
    }

    /// A sealed changeset or snapshot file at `file`.
    pub fn file(file: String, raw: Vec<u8>) -> Evidence {
        Evidence {
            file,
            raw,
            manifest_of: None,
        }
    }

    /// The id of the key it was sealed under, as the file says.
    pub fn key_id(&self) -> Option<KeyId> {
        match &self.manifest_of {
            Some(_) => serde_json::from_slice::<SealedManifest>(&self.raw)
                .ok()
                .and_then(|m| KeyId::parse(&m.key_id)),
            None => sealed::public(&self.raw).ok().map(|p| p.key),
        }
    }

    /// Whether `key` opens it.
    pub fn opens(&self, key: &SecretKey) -> bool {
        match &self.manifest_of {
            Some(peer) => open_manifest(key, peer, &self.raw).is_ok(),
            None => sealed::open(key, &self.raw).is_ok(),
        }
    }
}
