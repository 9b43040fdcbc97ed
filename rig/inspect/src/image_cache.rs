//! Decoded images by content: a campaign decodes the slots of every new flash state, and most
//! states hold images the run has already decoded, unchanged. Hashing an image with SHA-256
//! (twice: for the report and for the verdict) and checking its signature cost far more than
//! fingerprinting its bytes, so an [`ImageCache`] keeps each decoded image under a 128-bit
//! fingerprint of the slot's bytes, the slot, the geometry and the key, and gives it back while
//! the same bytes come again.
//!
//! An image the cache has not seen often shares a prefix with one it has: a cut in the middle
//! of a swap leaves a slot whose first sectors still hold the image that was there, and only its
//! tail changed. The cache also keeps the SHA-256 state after every [`HASH_CHUNK`] bytes of the
//! ranges it hashed, under a fingerprint of the bytes before that point, so a new image is hashed
//! from the end of the longest prefix already hashed: the digest is the same, the bytes before
//! that point are only fingerprinted.
//!
//! A simulated flash already keeps a hash of each of its sectors, updated as they change: a dump
//! taken from it can come with those hashes ([`DumpKeys`]), and a slot's key is then folded from
//! the hashes of the sectors it spans instead of fingerprinted from its bytes (a slot of 1 MiB
//! is 256 hashes, not a pass over a megabyte per new flash state).
//!
//! The fingerprint is not cryptographic: the bytes are the run's own flash, not an adversary's,
//! and two different slots sharing 128 bits by chance is far less likely than a bit flip in the
//! machine's memory.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use fut::key::PublicKey;
use fut::layout::Area;

use crate::decode::ImageReport;

/// Images kept before the cache starts over (a few KiB each).
const IMAGES_KEPT: usize = 256;

/// Bytes between two kept SHA-256 states of a hashed range.
pub const HASH_CHUNK: usize = 16 * 1024;
/// SHA-256 states kept before that cache starts over (about 130 bytes each with the key).
const HASH_STATES_KEPT: usize = 8192;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ImageKey {
    slot: (u32, u32),
    geometry: (u32, u32),
    key: Option<[u8; 32]>,
    /// How many bytes of the slot the dump holds, and their key.
    len: usize,
    content: Content,
}

/// The key of a slot's bytes: their fingerprint, or folded from the dump's unit hashes (two
/// kinds that never compare equal).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Content {
    Bytes((u64, u64)),
    Units((u64, u64)),
}

/// Hashes of a dump's bytes, `unit` bytes each from the dump's first byte on, as a simulated
/// flash keeps them for its sectors: the same hash at the same place means the same bytes (up
/// to a 63-bit collision). The last unit may run past the end of the dump (it is hashed whole).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DumpKeys {
    unit: u32,
    hashes: Arc<Vec<u64>>,
}

impl DumpKeys {
    /// `None` for a zero unit.
    pub fn new(unit: u32, hashes: Arc<Vec<u64>>) -> Option<DumpKeys> {
        (unit > 0).then_some(DumpKeys { unit, hashes })
    }

    /// The key of the dump's bytes `start..start + len` (offsets into the dump), folded from
    /// the hashes of every unit the range overlaps (more bytes than the range: equal keys, equal
    /// bytes in it); `None` when a hash is missing or the range is empty.
    pub(crate) fn key(&self, start: usize, len: usize) -> Option<Content> {
        let unit = self.unit as usize;
        let end = start.checked_add(len).filter(|_| len > 0)?;
        let units = self.hashes.get(start / unit..end.div_ceil(unit))?;
        let (mut a, mut b) = (mix(start as u64 ^ P1), mix(len as u64 ^ P2));
        for &h in units {
            a = mix(a ^ h).wrapping_add(P3);
            b = mix(b.rotate_left(23) ^ h ^ P4);
        }
        Some(Content::Units((a, b)))
    }
}

/// Decoded images by the content of their slot; shared by the threads of a run.
#[derive(Debug, Default)]
pub struct ImageCache {
    images: Mutex<HashMap<ImageKey, ImageReport>>,
    /// The SHA-256 state after the first `n * HASH_CHUNK` bytes of a hashed range, by the
    /// chained fingerprint of those bytes.
    hash_states: Mutex<HashMap<(u64, u64), Sha256>>,
    /// Bytes run through SHA-256 (not resumed from a kept state), for tests and benchmarks.
    sha_bytes: AtomicU64,
    /// Slot bytes fingerprinted to key an image (not keyed by the dump's keys).
    fingerprinted: AtomicU64,
}

impl ImageCache {
    pub fn new() -> Self {
        Self::default()
    }

    /// The report of the image in `slot` whose bytes in the dump are `bytes`, keyed by
    /// `keyed` (from the dump's keys) or else by their fingerprint: kept, or made by `decode`
    /// and kept.
    pub(crate) fn get_or_decode(
        &self,
        slot: Area,
        geometry: (u32, u32),
        key: Option<&PublicKey>,
        (bytes, keyed): (&[u8], Option<Content>),
        decode: impl FnOnce() -> ImageReport,
    ) -> ImageReport {
        let len = bytes.len();
        let content = keyed.unwrap_or_else(|| {
            self.fingerprinted.fetch_add(len as u64, Ordering::Relaxed);
            Content::Bytes(fingerprint(bytes))
        });
        let k = ImageKey {
            slot: (slot.offset, slot.size),
            geometry,
            key: key.map(PublicKey::key_hash),
            len,
            content,
        };
        if let Some(r) = self.images.lock().ok().and_then(|m| m.get(&k).cloned()) {
            return r;
        }
        let r = decode();
        if let Ok(mut m) = self.images.lock() {
            if m.len() >= IMAGES_KEPT {
                m.clear();
            }
            m.insert(k, r.clone());
        }
        r
    }

    /// SHA-256 of `bytes`, resumed from the state kept after the longest prefix of them (in
    /// whole [`HASH_CHUNK`]s) that an earlier call hashed; the states after each later chunk
    /// are kept in turn. The digest is `Sha256::digest(bytes)` whatever the cache holds.
    pub fn sha256(&self, bytes: &[u8]) -> [u8; 32] {
        // keys[i]: the fingerprint of bytes[..(i + 1) * HASH_CHUNK].
        let mut keys = Vec::with_capacity(bytes.len() / HASH_CHUNK);
        let mut chain = (P3, P4);
        for chunk in bytes.chunks_exact(HASH_CHUNK) {
            let (a, b) = fingerprint(chunk);
            chain = (
                mix(chain.0 ^ a).wrapping_add(P1),
                mix(chain.1 ^ b ^ chain.0.rotate_left(23)),
            );
            keys.push(chain);
        }
        let resumed = self.hash_states.lock().ok().and_then(|m| {
            keys.iter()
                .enumerate()
                .rev()
                .find_map(|(i, k)| m.get(k).map(|s| (i + 1, s.clone())))
        });
        let (done, mut sha) = resumed.unwrap_or_else(|| (0, Sha256::new()));
        let mut fresh = Vec::with_capacity(keys.len() - done);
        for (i, key) in keys.iter().enumerate().skip(done) {
            sha.update(&bytes[i * HASH_CHUNK..(i + 1) * HASH_CHUNK]);
            fresh.push((*key, sha.clone()));
        }
        let tail = &bytes[keys.len() * HASH_CHUNK..];
        sha.update(tail);
        let hashed = bytes.len() - done * HASH_CHUNK;
        self.sha_bytes.fetch_add(hashed as u64, Ordering::Relaxed);
        if !fresh.is_empty() {
            if let Ok(mut m) = self.hash_states.lock() {
                if m.len() + fresh.len() > HASH_STATES_KEPT {
                    m.clear();
                }
                m.extend(fresh);
            }
        }
        sha.finalize().into()
    }

    /// Bytes [`ImageCache::sha256`] ran through SHA-256 so far (the rest were resumed).
    pub fn sha256_bytes(&self) -> u64 {
        self.sha_bytes.load(Ordering::Relaxed)
    }

    /// Slot bytes fingerprinted so far to key an image (the rest were keyed by their dump's
    /// [`DumpKeys`]).
    pub fn fingerprinted_bytes(&self) -> u64 {
        self.fingerprinted.load(Ordering::Relaxed)
    }

    /// Images kept.
    pub fn len(&self) -> usize {
        self.images.lock().map_or(0, |m| m.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

const P1: u64 = 0x9E37_79B9_7F4A_7C15;
const P2: u64 = 0xC2B2_AE3D_27D4_EB4F;
const P3: u64 = 0x1656_67B1_9E37_79F9;
const P4: u64 = 0x85EB_CA77_C2B2_AE63;

fn mix(x: u64) -> u64 {
    let x = (x ^ (x >> 31)).wrapping_mul(P2);
    let x = (x ^ (x >> 29)).wrapping_mul(P3);
    x ^ (x >> 32)
}

/// A 128-bit fingerprint of `bytes`: four independent 64-bit lanes over 32-byte blocks, each
/// word multiplied in and rotated, then the lanes and the length folded into two words.
fn fingerprint(bytes: &[u8]) -> (u64, u64) {
    let mut lanes = [P1, P2, P3, P4];
    let mut blocks = bytes.chunks_exact(32);
    for block in &mut blocks {
        for (lane, word) in lanes.iter_mut().zip(block.chunks_exact(8)) {
            let mut w = [0u8; 8];
            w.copy_from_slice(word);
            *lane = (*lane ^ u64::from_le_bytes(w)).wrapping_mul(P1).rotate_left(29);
        }
    }
    let rest = blocks.remainder();
    for (i, &b) in rest.iter().enumerate() {
        let lane = &mut lanes[i % 4];
        *lane = (*lane ^ u64::from(b) ^ ((i as u64) << 8))
            .wrapping_mul(P4)
            .rotate_left(17);
    }
    let len = bytes.len() as u64;
    let a = mix(lanes[0] ^ mix(lanes[1].wrapping_add(len)));
    let b = mix(lanes[2] ^ mix(lanes[3].wrapping_add(len ^ P1)));
    (mix(a ^ b.rotate_left(21)), mix(b ^ a.rotate_left(43) ^ P2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fingerprint_tells_every_single_change_apart() {
        let base = vec![0xFFu8; 4099];
        let f = fingerprint(&base);
        for at in [0usize, 7, 8, 31, 32, 2048, 4095, 4096, 4098] {
            for bit in [0u8, 3, 7] {
                let mut changed = base.clone();
                changed[at] ^= 1 << bit;
                assert_ne!(fingerprint(&changed), f, "bit {bit} of byte {at}");
            }
        }
        assert_ne!(fingerprint(&base[..4098]), f, "the length counts");
        assert_ne!(fingerprint(&[]), fingerprint(&[0]));
        // A byte moved within a block is another content.
        let mut moved = base.clone();
        moved[1] = 0;
        let mut other = base.clone();
        other[9] = 0;
        assert_ne!(fingerprint(&moved), fingerprint(&other));
    }

    #[test]
    fn a_dump_key_covers_every_unit_its_range_overlaps_and_no_other() {
        let keys = |h: &[u64]| DumpKeys::new(4096, Arc::new(h.to_vec())).unwrap();
        let base = keys(&[1, 2, 3, 4]);
        let k = |d: &DumpKeys, start, len| d.key(start, len);
        // A range within units 1..3: units 0 and 3 do not count, 1 and 2 do.
        assert_eq!(k(&base, 4096, 8000), k(&keys(&[9, 2, 3, 9]), 4096, 8000));
        assert_ne!(k(&base, 4096, 8000), k(&keys(&[1, 7, 3, 4]), 4096, 8000));
        assert_ne!(k(&base, 4096, 8000), k(&keys(&[1, 2, 7, 4]), 4096, 8000));
        // Where the range starts and how long it is count, though the units are the same.
        assert_ne!(k(&base, 4096, 8000), k(&base, 4097, 7999));
        assert_ne!(k(&base, 4096, 8000), k(&base, 4096, 8001));
        // The same units in another order are other bytes.
        assert_ne!(k(&base, 0, 8192), k(&keys(&[2, 1, 3, 4]), 0, 8192));
        // A range past the last hash, an empty range, a zero unit: no key.
        assert_eq!(k(&base, 12288, 4097), None);
        assert_eq!(k(&base, 0, 0), None);
        assert_eq!(k(&base, usize::MAX, 2), None);
        assert!(DumpKeys::new(0, Arc::new(vec![1])).is_none());
        // A key of unit hashes is never a fingerprint's.
        assert!(matches!(k(&base, 0, 1), Some(Content::Units(_))));
    }

    fn image(len: usize, seed: u8) -> Vec<u8> {
        (0..len)
            .map(|i| (i as u8).wrapping_mul(31) ^ seed ^ (i >> 9) as u8)
            .collect()
    }

    #[test]
    fn a_range_sharing_a_prefix_is_hashed_from_its_end_with_the_same_digest() {
        let cache = ImageCache::new();
        let old = image(10 * HASH_CHUNK + 300, 1);
        assert_eq!(cache.sha256(&old), <[u8; 32]>::from(Sha256::digest(&old)));
        assert_eq!(cache.sha256_bytes(), old.len() as u64);

        // The last three chunks and the tail swapped for other bytes, as a swap leaves a slot.
        let mut mixed = old.clone();
        let new = image(old.len(), 9);
        mixed[7 * HASH_CHUNK..].copy_from_slice(&new[7 * HASH_CHUNK..]);
        assert_eq!(cache.sha256(&mixed), <[u8; 32]>::from(Sha256::digest(&mixed)));
        assert_eq!(
            cache.sha256_bytes() - old.len() as u64,
            (mixed.len() - 7 * HASH_CHUNK) as u64,
            "only the bytes after the shared prefix are hashed"
        );

        // The same bytes again: only the tail after the last whole chunk.
        let before = cache.sha256_bytes();
        assert_eq!(cache.sha256(&mixed), <[u8; 32]>::from(Sha256::digest(&mixed)));
        assert_eq!(cache.sha256_bytes() - before, 300);

        // One bit changed in the first chunk: nothing to resume from.
        let mut flipped = mixed.clone();
        flipped[5] ^= 0x10;
        let before = cache.sha256_bytes();
        assert_eq!(cache.sha256(&flipped), <[u8; 32]>::from(Sha256::digest(&flipped)));
        assert_eq!(cache.sha256_bytes() - before, flipped.len() as u64);

        // A prefix of a hashed range, shorter than a chunk, and empty.
        for n in [0, 1, 64, HASH_CHUNK - 1, HASH_CHUNK, HASH_CHUNK + 1, 3 * HASH_CHUNK] {
            assert_eq!(
                cache.sha256(&old[..n]),
                <[u8; 32]>::from(Sha256::digest(&old[..n])),
                "{n}"
            );
        }
    }

    #[test]
    fn a_full_cache_of_hash_states_starts_over_and_still_hashes_right() {
        let cache = ImageCache::new();
        for seed in 0..(HASH_STATES_KEPT / 4 + 3) {
            let bytes = image(4 * HASH_CHUNK, seed as u8 ^ (seed >> 8) as u8);
            let mut bytes = bytes;
            bytes[0] = seed as u8;
            bytes[1] = (seed >> 8) as u8;
            assert_eq!(cache.sha256(&bytes), <[u8; 32]>::from(Sha256::digest(&bytes)));
        }
        assert!(cache.hash_states.lock().unwrap().len() <= HASH_STATES_KEPT);
    }
}
