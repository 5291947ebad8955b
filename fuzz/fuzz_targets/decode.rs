//! The changeset decoder on arbitrary bytes: it must never panic, never allocate beyond its
//! cap, and accept only what re-encodes to a file it accepts again.
//!
//! Each input is tried four ways: as a whole file; as a payload framed with a valid checksum
//! (so mutations reach zstd); as MessagePack compressed and framed (so they reach the
//! MessagePack decoder and the consistency checks, past the checksum and zstd); and as a sealed
//! file (format 2) opened with the test key of the sealed golden files, so mutations reach the
//! public header, the key id and the authentication.
#![no_main]

use libfuzzer_sys::fuzz_target;

use context::changeset::{self, FORMAT_MINOR};
use context::encryption::sealed;

fn framed(payload: &[u8]) -> Vec<u8> {
    changeset::frame_payload(FORMAT_MINOR, payload).0
}

fn check(file: &[u8]) {
    if let Ok((cs, sum)) = changeset::decode(file) {
        // Whatever decodes is a well-formed changeset: it encodes, and decodes back the same.
        let (bytes, _) = changeset::encode(&cs).expect("a decoded changeset encodes");
        let (again, _) = changeset::decode(&bytes).expect("and decodes again");
        assert_eq!(again, cs);
        assert_eq!(changeset::verify(file).ok(), Some(sum));
    }
    let _ = changeset::inspect(file);
}

/// The key of the sealed golden files (`fixtures/changesets/v2/`): 0, 1, ..., 31.
fn test_key() -> sealed::SecretKey {
    let mut k = [0u8; 32];
    for (i, b) in k.iter_mut().enumerate() {
        *b = i as u8;
    }
    sealed::SecretKey::from_bytes(k)
}

fn check_sealed(file: &[u8]) {
    let _ = sealed::public(file);
    if let Ok((_, plain)) = sealed::open(&test_key(), file) {
        // Only a file sealed under the key opens; what is inside is a framed changeset.
        check(&plain);
    }
}

fuzz_target!(|data: &[u8]| {
    check(data);
    check_sealed(data);
    check(&framed(data));
    if let Ok(compressed) = zstd::bulk::compress(data, 1) {
        check(&framed(&compressed));
    }
});
