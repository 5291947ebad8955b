//! Bodies of common words for the benches: deterministic (from the version's number and the
//! bench's seed), prose-like enough to compress and to index as text does.

const WORDS: [&str; 12] = [
    "sync",
    "plan",
    "notes",
    "changeset",
    "peer",
    "remote",
    "version",
    "history",
    "the",
    "and",
    "research",
    "draft",
];

/// `start`, then words chosen by `i` and `seed` until the body is at least `len` bytes.
pub fn body(i: u64, seed: u64, start: String, len: usize) -> Vec<u8> {
    let mut out = start;
    let mut x = i.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ seed;
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.push_str(WORDS[(x % WORDS.len() as u64) as usize]);
        out.push(' ');
    }
    out.into_bytes()
}
