//! Encryption, in one place: the keys a home holds ([`KeyRing`], `$CONTEXT_HOME/keys/`), the
//! sealed file format every changeset, snapshot file and manifest of an encrypted remote is
//! written in ([`sealed`]: XChaCha20-Poly1305, the file's role and the key's id authenticated),
//! the key record that says a remote is encrypted (`encryption.json`, [`KeyRecord`]), the
//! sealed manifest, and what tells a remote is encrypted when its record has gone
//! ([`Evidence`]).
//!
//! The remote layer calls it to seal what it writes and open what it reads
//! ([`open_file`], [`seal_manifest`], [`open_manifest`]); the sync layer to join, unlock and
//! restore an encrypted remote (`sync::encryption`). Nothing here touches a remote or the
//! database.

mod keyring;
mod record;
pub mod sealed;

pub use keyring::{KeyRing, KeyRingError};
pub use record::{
    Evidence, KeyRecord, Opened, is_sealed_manifest, open_file, open_manifest, seal_manifest,
};
pub use sealed::{KeyError, KeyId, SecretKey};
