//! The compression of a changeset's payload: one zstd frame, written on several threads for
//! a large payload, and read back through a counter that refuses a decompression bomb at the
//! first byte past the ceiling.

use std::io::Read;

use super::MAX_PAYLOAD_BYTES;

/// zstd level: the default. Higher levels shrink files by a few percent and slow a full push
/// by more than half (measured in `benches/sync.rs`).
const ZSTD_LEVEL: i32 = 3;
/// At most this many compression threads.
const ZSTD_MAX_WORKERS: u32 = 4;

/// One zstd frame, compressed on several threads when the machine has them (the frame is the
/// same format either way; readers need nothing special).
pub(super) fn compress(payload: &[u8]) -> std::io::Result<Vec<u8>> {
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get() as u32)
        .min(ZSTD_MAX_WORKERS);
    let mut compressor = zstd::bulk::Compressor::new(ZSTD_LEVEL)?;
    if workers > 1 && payload.len() > 1 << 20 {
        compressor.set_parameter(zstd::zstd_safe::CParameter::NbWorkers(workers))?;
    }
    compressor.compress(payload)
}

/// The inflating payload, counted, and cut off past [`MAX_PAYLOAD_BYTES`]; remembers why the
/// decompressor failed, if it did (to tell bad zstd from bad MessagePack).
pub(super) struct Inflated<R> {
    pub(super) inner: R,
    pub(super) read: u64,
    pub(super) failed: Option<String>,
}

impl<R: Read> Read for Inflated<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.read > MAX_PAYLOAD_BYTES as u64 {
            return Err(std::io::Error::other(
                "the payload inflates past the ceiling",
            ));
        }
        match self.inner.read(buf) {
            Ok(n) => {
                self.read += n as u64;
                if self.read > MAX_PAYLOAD_BYTES as u64 {
                    return Err(std::io::Error::other(
                        "the payload inflates past the ceiling",
                    ));
                }
                Ok(n)
            }
            Err(e) => {
                self.failed = Some(e.to_string());
                Err(e)
            }
        }
    }
}
