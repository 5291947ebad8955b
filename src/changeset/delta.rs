//! A version as a delta against its parent's body: one zstd frame compressed with the parent's
//! body as a raw-content prefix (zstd's "reference prefix", a single-use dictionary). A one-line
//! edit of a long document costs about the edit, at every size up to the body limit: the
//! frame's window covers the base and the body together (so a match may reach back to the
//! base's first byte), and long-distance matching finds them in a large one. The reader
//! rebuilds the body from the base it holds and checks it against the SHA-256 the entry
//! carries.
//!
//! What a reader needs to rebuild one: the base and the body in memory (the prefix is read in
//! place, not copied), so at most twice [`crate::record::MAX_BODY_BYTES`] (128 MiB) plus zstd's
//! few hundred KB of state; the window a frame may ask for is bounded by [`MAX_WINDOW_LOG`]
//! (a frame asking for more is refused, not allocated).

use sha2::{Digest, Sha256};
use zstd::zstd_safe::{self, CCtx, CParameter, DCtx};

use crate::record::Checksum;

/// The zstd level of deltas and of the whole-body estimate they are compared with: the level
/// changeset payloads are written at.
const LEVEL: i32 = 3;

/// The largest body a delta may rebuild (the store's document limit).
const MAX_BODY: u64 = crate::record::MAX_BODY_BYTES as u64;

/// The largest window a delta frame may use: 2^27 = 128 MiB, a base and a body at the limit.
pub const MAX_WINDOW_LOG: u32 = 27;

/// Up to this much base and body, level 3's own window (2 MiB, fitted to the input) already
/// covers both: the frame is left as it always was, byte for byte (what `sync repair` rebuilds
/// of files written before large deltas). Above it, the window is set to cover both and
/// long-distance matching finds the far matches.
const OWN_WINDOW: usize = 1 << 21;

/// The window that covers `base` and `body` as one stream (zstd's smallest is 2^10).
fn window_log(base: usize, body: usize) -> u32 {
    let total = (base + body).max(1 << 10);
    (usize::BITS - (total - 1).leading_zeros()).clamp(10, MAX_WINDOW_LOG)
}

/// `body` as a delta against `base`, or `None` if zstd refuses.
pub fn encode(base: &[u8], body: &[u8]) -> Option<Vec<u8>> {
    let mut cctx = CCtx::create();
    cctx.set_parameter(CParameter::CompressionLevel(LEVEL))
        .ok()?;
    cctx.set_parameter(CParameter::ContentSizeFlag(true)).ok()?;
    cctx.set_parameter(CParameter::ChecksumFlag(false)).ok()?;
    // The level's own window would not reach back over a large base: every byte further
    // back than it would travel again.
    if base.len() + body.len() > OWN_WINDOW {
        cctx.set_parameter(CParameter::WindowLog(window_log(base.len(), body.len())))
            .ok()?;
        cctx.set_parameter(CParameter::EnableLongDistanceMatching(true))
            .ok()?;
    }
    cctx.ref_prefix(base).ok()?;
    let mut out = Vec::with_capacity(zstd_safe::compress_bound(body.len()));
    cctx.compress2(&mut out, body).ok()?;
    Some(out)
}

/// How many bytes `body` takes compressed on its own: what a delta must beat.
pub fn whole_size(body: &[u8]) -> usize {
    zstd::bulk::compress(body, LEVEL).map_or(body.len(), |c| c.len())
}

/// The body `delta` rebuilds from `base`, checked against `sha256`; or why not.
pub fn decode(base: &[u8], delta: &[u8], sha256: &Checksum) -> Result<Vec<u8>, String> {
    let size = match zstd_safe::get_frame_content_size(delta) {
        Ok(Some(n)) if n <= MAX_BODY => n as usize,
        Ok(Some(n)) => return Err(format!("a delta that rebuilds {n} bytes, more than a body")),
        _ => return Err("a delta that does not say how large its body is".to_string()),
    };
    let mut dctx = DCtx::create();
    dctx.set_parameter(zstd_safe::DParameter::WindowLogMax(MAX_WINDOW_LOG))
        .map_err(|c| zstd_safe::get_error_name(c).to_string())?;
    dctx.ref_prefix(base)
        .map_err(|c| zstd_safe::get_error_name(c).to_string())?;
    let mut out = Vec::with_capacity(size);
    let n = dctx.decompress(&mut out, delta).map_err(|c| {
        format!(
            "a delta that does not decode: {}",
            zstd_safe::get_error_name(c)
        )
    })?;
    if n != size {
        return Err("a delta that rebuilds another size than it says".to_string());
    }
    let got = Checksum(Sha256::digest(&out).into());
    if &got != sha256 {
        return Err(format!(
            "a delta whose body does not match its SHA-256 ({sha256}, rebuilt {got}): against \
             another base than the one it names"
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` lines of word-like text that compresses like prose, not like a repeated line.
    fn text(n: usize) -> Vec<u8> {
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut out = String::new();
        for _ in 0..n {
            for _ in 0..8 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let word: String = (0..3 + x % 6)
                    .map(|k| char::from(b'a' + ((x >> (k * 5)) % 26) as u8))
                    .collect();
                out.push_str(&word);
                out.push(' ');
            }
            out.push('\n');
        }
        out.into_bytes()
    }

    #[test]
    fn a_one_line_append_costs_about_the_line() {
        let base = text(700);
        let mut body = base.clone();
        body.extend_from_slice(b"a finding appended today\n");
        let d = encode(&base, &body).unwrap();
        assert!(d.len() < 120, "{} bytes", d.len());
        assert!(whole_size(&body) > 1000);
        let sha = Checksum(Sha256::digest(&body).into());
        assert_eq!(decode(&base, &d, &sha).unwrap(), body);
    }

    #[test]
    fn a_small_edit_of_a_large_body_costs_about_the_edit() {
        // 9 MB: far past the 2 MiB window level 3 would use on its own.
        let base = text(170_000);
        assert!(base.len() > 8_000_000, "{}", base.len());
        let mut body = base.clone();
        body.extend_from_slice(b"a finding appended today\n");
        body[10] = b'X';
        let d = encode(&base, &body).unwrap();
        assert!(d.len() < 2_000, "{} bytes", d.len());
        let sha = Checksum(Sha256::digest(&body).into());
        assert_eq!(decode(&base, &d, &sha).unwrap(), body);
    }

    #[test]
    fn the_window_covers_base_and_body_within_the_bound() {
        assert_eq!(window_log(0, 0), 10);
        assert_eq!(window_log(35_000, 35_100), 17);
        assert_eq!(window_log(8 << 20, 8 << 20), 24);
        assert_eq!(window_log(64 << 20, 64 << 20), MAX_WINDOW_LOG);
        assert_eq!(window_log(usize::MAX / 4, 1), MAX_WINDOW_LOG);
    }

    #[test]
    fn another_base_or_a_changed_byte_is_caught() {
        let base = text(100);
        let mut body = base.clone();
        body.extend_from_slice(b"more\n");
        let sha = Checksum(Sha256::digest(&body).into());
        let d = encode(&base, &body).unwrap();
        let other = text(99);
        assert!(decode(&other, &d, &sha).is_err());
        let mut flipped = d.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert!(decode(&base, &flipped, &sha).is_err());
        assert!(decode(&base, b"not zstd", &sha).is_err());
    }
}
