//! Decoded images by content: a campaign decodes the slots of every new flash state, and most
//! states hold images the run has already decoded, unchanged. Hashing an image with SHA-256
//! (twice: for the report and for the verdict) and checking its signature cost far more than
//! fingerprinting its bytes, so an [`ImageCache`] keeps each decoded image under a 128-bit
//! fingerprint of the slot's bytes, the slot, the geometry and the key, and gives it back while
//! the same bytes come again.
//!
//! The fingerprint is not cryptographic: the bytes are the run's own flash, not an adversary's,
//! and two different slots sharing 128 bits by chance is far less likely than a bit flip in the
//! machine's memory.

use std::collections::HashMap;
use std::sync::Mutex;

use fut::key::PublicKey;
use fut::layout::Area;

use crate::decode::ImageReport;

/// Images kept before the cache starts over (a few KiB each).
const IMAGES_KEPT: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ImageKey {
    slot: (u32, u32),
    geometry: (u32, u32),
    key: Option<[u8; 32]>,
    /// How many bytes of the slot the dump holds, and their fingerprint.
    len: usize,
    content: (u64, u64),
}

/// Decoded images by the content of their slot; shared by the threads of a run.
#[derive(Debug, Default)]
pub struct ImageCache {
    images: Mutex<HashMap<ImageKey, ImageReport>>,
}

impl ImageCache {
    pub fn new() -> Self {
        Self::default()
    }

    /// The report of the image in `slot` whose bytes in the dump are `bytes`: kept, or made by
    /// `decode` and kept.
    pub(crate) fn get_or_decode(
        &self,
        slot: Area,
        geometry: (u32, u32),
        key: Option<&PublicKey>,
        bytes: &[u8],
        decode: impl FnOnce() -> ImageReport,
    ) -> ImageReport {
        let k = ImageKey {
            slot: (slot.offset, slot.size),
            geometry,
            key: key.map(PublicKey::key_hash),
            len: bytes.len(),
            content: fingerprint(bytes),
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
}
