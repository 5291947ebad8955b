//! The changeset decoder on arbitrary bytes: it must never panic, never allocate beyond its
//! cap, and accept only what re-encodes to a file it accepts again.
//!
//! Each input is tried three ways: as a whole file; as a payload framed with a valid checksum
//! (so mutations reach zstd); and as MessagePack compressed and framed (so they reach the
//! MessagePack decoder and the consistency checks, past the checksum and zstd).
#![no_main]

use libfuzzer_sys::fuzz_target;

use context::changeset::{self, FORMAT_MINOR};

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

fuzz_target!(|data: &[u8]| {
    check(data);
    check(&framed(data));
    if let Ok(compressed) = zstd::bulk::compress(data, 1) {
        check(&framed(&compressed));
    }
});
