//! Encrypted remotes: making an empty remote encrypted, finding the key of one, and handing
//! a key from one home to another.
//!
//! A remote is encrypted when it holds a key record (`encryption.json`: the key's id and a
//! check sealed under it, never the key). A home opens such a remote only with the key the
//! record names (from its key ring, `$CONTEXT_HOME/keys/`); without it every command but
//! `verify` (which then checks structure only) is refused and told how to import the key. A
//! home that made or joined an encrypted remote remembers it, so that a remote whose record
//! disappeared (replaced, emptied) is never written to in plaintext.

use serde::Serialize;

use crate::encryption::KeyRing;
use crate::encryption::sealed::{KeyId, SecretKey};
use crate::remote::{KeyRecord, Remote, RemoteError};
use crate::store::Store;

use super::SyncError;

/// The setting that remembers which key a remote was encrypted with, here.
fn key_setting(location: &str) -> String {
    format!("sync.key:{location}")
}

/// Whether this home knows the remote at `location` (canonical) as an encrypted one (it
/// made it so, or imported its key): without asking the remote.
pub fn known_encrypted(store: &Store, location: &str) -> Result<bool, SyncError> {
    Ok(store.setting(&key_setting(location))?.is_some())
}

/// A remote as this home can use it.
pub enum Unlocked {
    /// Not encrypted.
    Plain(Remote),
    /// Encrypted, and this home holds the key.
    Open(Remote),
    /// Encrypted, and this home does not hold the key: only its structure can be checked.
    Locked(Remote),
}

/// Finds out whether `remote` is encrypted and, if so, opens it with this home's key.
pub fn unlock(remote: Remote, store: &Store, keys: &KeyRing) -> Result<Unlocked, SyncError> {
    let location = remote.location();
    match remote.key_record()? {
        None => match store.setting(&key_setting(&location))? {
            Some(key_id) => Err(SyncError::KeyRecordMissing { location, key_id }),
            None => Ok(Unlocked::Plain(remote)),
        },
        Some(record) => {
            let id = record
                .key_id()
                .ok_or_else(|| SyncError::Remote(bad_record(&remote, "no key id")))?;
            match keys.get(id)? {
                None => {
                    // A record whose key id was changed still opens with the key this home
                    // encrypted the remote with: that is damage, not another key.
                    let remembered = store
                        .setting(&key_setting(&location))?
                        .and_then(|id| KeyId::parse(&id));
                    if let Some(key) = remembered.map(|id| keys.get(id)).transpose()?.flatten()
                        && record.check_opens(&key)
                    {
                        return Err(SyncError::Remote(bad_record(
                            &remote,
                            "its key id was changed",
                        )));
                    }
                    Ok(Unlocked::Locked(remote))
                }
                Some(key) if record.opens(&key) => Ok(Unlocked::Open(remote.with_secret(key))),
                // The key of that id is the one: its check must open. It does not: changed.
                Some(_) => Err(SyncError::Remote(bad_record(
                    &remote,
                    "its key check does not open with the key it names",
                ))),
            }
        }
    }
}

fn bad_record(remote: &Remote, reason: &str) -> RemoteError {
    RemoteError::BadKeyRecord {
        location: format!("{}/{}", remote.location(), crate::remote::names::KEY_RECORD),
        reason: reason.to_string(),
    }
}

/// What `context sync init --encrypt` did.
#[derive(Debug, Clone, Serialize)]
pub struct InitReport {
    pub remote: String,
    pub key_id: String,
    /// Where this home keeps the key.
    pub key_file: String,
}

/// Makes an empty remote encrypted under a fresh key, kept in this home.
pub fn init(store: &Store, remote: &Remote, keys: &KeyRing) -> Result<InitReport, SyncError> {
    let location = remote.location();
    if let Some(record) = remote.key_record()? {
        return Err(SyncError::AlreadyEncrypted {
            location,
            key_id: record.key_id,
        });
    }
    let listing = remote.list()?;
    if !listing.changesets.is_empty()
        || !listing.snapshots.is_empty()
        || !listing.manifests.is_empty()
    {
        return Err(SyncError::NotEmpty { location });
    }
    let key = SecretKey::generate()?;
    // Kept before the record exists, so that no remote is ever encrypted under a lost key.
    let key_file = keys.add(&key)?;
    if !remote.create_key_record(&KeyRecord::new(&key)?)? {
        // Another machine was first: its key is the one.
        let record = remote.key_record()?;
        return Err(SyncError::AlreadyEncrypted {
            location,
            key_id: record.map(|r| r.key_id).unwrap_or_default(),
        });
    }
    store.set_setting(&key_setting(&location), &key.id().to_string())?;
    Ok(InitReport {
        remote: location,
        key_id: key.id().to_string(),
        key_file: key_file.display().to_string(),
    })
}

/// The key of an encrypted remote, as the line to carry to another machine. A remote whose key
/// record is gone but which holds sealed files is still encrypted: its key is found by the id
/// those files name.
pub fn export(store: &Store, remote: &Remote, keys: &KeyRing) -> Result<String, SyncError> {
    let location = remote.location();
    let id = match remote.key_record()? {
        Some(record) => record
            .key_id()
            .ok_or_else(|| SyncError::Remote(bad_record(remote, "no key id")))?,
        None => {
            let evidence = evidence_of(remote)?;
            let remembered = store
                .setting(&key_setting(&location))?
                .and_then(|id| KeyId::parse(&id));
            evidence.key_id().or(remembered).ok_or(SyncError::NoKey {
                location: location.clone(),
            })?
        }
    };
    let key = keys.get(id)?.ok_or(SyncError::NoKey { location })?;
    Ok(key.export())
}

/// The sealed file that makes a remote with no key record encrypted; a remote with neither is
/// not encrypted.
fn evidence_of(remote: &Remote) -> Result<crate::encryption::Evidence, SyncError> {
    remote
        .sealed_evidence()?
        .ok_or_else(|| SyncError::NotEncrypted {
            location: remote.location(),
        })
}

/// What `context sync key import` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    pub key_id: KeyId,
    /// The remote's key record was gone and was put back.
    pub restored_record: bool,
}

/// Takes the key line another machine exported, if it opens `remote`; keeps it in this home.
/// A remote that holds sealed files but lost its key record gets the record back, once the
/// key is shown to open one of those files.
pub fn import(
    store: &Store,
    remote: &Remote,
    keys: &KeyRing,
    line: &str,
) -> Result<Imported, SyncError> {
    let location = remote.location();
    let key = SecretKey::import(line)?;
    let restored_record = match remote.key_record()? {
        Some(record) if record.opens(&key) => false,
        Some(_) => return Err(SyncError::WrongKey { location }),
        None => {
            let evidence = evidence_of(remote)?;
            if !evidence.opens(&key) {
                return Err(SyncError::WrongKey { location });
            }
            // Kept before the record exists, so that no remote is ever encrypted under a
            // lost key.
            keys.add(&key)?;
            remote.create_key_record(&KeyRecord::new(&key)?)?;
            true
        }
    };
    if !restored_record {
        keys.add(&key)?;
    }
    store.set_setting(&key_setting(&location), &key.id().to_string())?;
    Ok(Imported {
        key_id: key.id(),
        restored_record,
    })
}
