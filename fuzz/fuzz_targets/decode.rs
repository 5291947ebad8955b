//! The changeset decoder on arbitrary bytes: it must never panic, never allocate beyond its
//! cap, and accept only what re-encodes to a file it accepts again.
//!
//! Each input is tried three ways: as a whole file; as a payload framed with a valid checksum
//! (so mutations reach zstd); and as MessagePack compressed and framed (so they reach the
//! MessagePack decoder and the consistency checks, past the checksum and zstd).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sha2::{Digest, Sha256};

use context::changeset::{self, FORMAT_MAJOR, FORMAT_MINOR, MAGIC};

fn framed(payload: &[u8]) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&FORMAT_MAJOR.to_be_bytes());
    out.extend_from_slice(&FORMAT_MINOR.to_be_bytes());
    out.extend_from_slice(&(payload.len() as u64).to_be_bytes());
    out.extend_from_slice(payload);
    let sum: [u8; 32] = Sha256::digest(&out).into();
    out.extend_from_slice(&sum);
    out
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

fuzz_target!(|data: &[u8]| {
    check(data);
    check(&framed(data));
    if let Ok(compressed) = zstd::bulk::compress(data, 1) {
        check(&framed(&compressed));
    }
});
