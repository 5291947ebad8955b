//! The other files a remote holds, on arbitrary bytes: a peer's `manifest.json` (plain, and
//! sealed under the test key) and the key record `encryption.json`. Anyone who can write to the
//! remote writes these: their decoders must never panic, and what they accept must be what a
//! peer could have written (a manifest that decodes encodes and decodes back the same).
#![no_main]

use libfuzzer_sys::fuzz_target;

use context::encryption::sealed;
use context::ids::PeerId;
use context::remote::{KeyRecord, Manifest};

/// The key of the sealed golden files: 0, 1, ..., 31.
fn test_key() -> sealed::SecretKey {
    let mut k = [0u8; 32];
    for (i, b) in k.iter_mut().enumerate() {
        *b = i as u8;
    }
    sealed::SecretKey::from_bytes(k)
}

fuzz_target!(|data: &[u8]| {
    let peer = PeerId::from_bytes([7; 16]);
    let key = test_key();
    for k in [None, Some(&key)] {
        if let Ok(m) = Manifest::decode(data, peer, k) {
            let again = serde_json::to_vec(&m).expect("a decoded manifest encodes");
            assert_eq!(Manifest::decode(&again, peer, None).ok(), Some(m));
        }
    }
    if let Some(record) = KeyRecord::decode(data) {
        let _ = record.opens(&key);
        assert!(record.key_id().is_some());
    }
});
