//! A read-only [`fut::hal::Flash`] over a byte slice, so dumps are decoded by the firmware's own
//! format code.
//!
//! The slice holds the bytes of flash starting at `base`. Reads outside it fail with
//! [`FlashError::OutOfBounds`]; writes and erases always fail (a dump is evidence, not a device).

use fut::hal::{Clock, Flash, FlashError};
use sha2::{Digest, Sha256};

use crate::image_cache::{Content, DumpKeys, ImageCache};

/// Sector and write sizes reported when the caller does not give the real geometry.
pub const DEFAULT_SECTOR_SIZE: u32 = 4096;
pub const DEFAULT_WRITE_SIZE: u32 = 4;

/// A flash dump seen through the firmware's flash trait.
#[derive(Debug, Clone, Copy)]
pub struct SliceFlash<'a> {
    bytes: &'a [u8],
    base: u32,
    sector_size: u32,
    write_size: u32,
    /// Where decoded images are kept by content, if anywhere.
    images: Option<&'a ImageCache>,
    /// Hashes of the dump's bytes, unit by unit, when its source keeps them.
    keys: Option<&'a DumpKeys>,
    /// The last SHA-256 computed: (address, length, digest). The bytes never change.
    last_digest: Option<(u32, u32, [u8; 32])>,
}

impl<'a> SliceFlash<'a> {
    /// `bytes` are the contents of flash from address `base` on.
    pub fn new(bytes: &'a [u8], base: u32) -> Self {
        SliceFlash {
            bytes,
            base,
            sector_size: DEFAULT_SECTOR_SIZE,
            write_size: DEFAULT_WRITE_SIZE,
            images: None,
            keys: None,
            last_digest: None,
        }
    }

    /// Decodes images through `cache`: an image whose slot holds bytes the cache has seen is
    /// not hashed or verified again.
    pub fn with_image_cache(mut self, cache: &'a ImageCache) -> Self {
        self.images = Some(cache);
        self
    }

    pub(crate) fn image_cache(&self) -> Option<&'a ImageCache> {
        self.images
    }

    /// Keys the dump's ranges by `keys`, the hashes its source keeps of its bytes (they must
    /// be this dump's: a simulated flash's sector hashes, taken with the dump).
    pub fn with_dump_keys(mut self, keys: Option<&'a DumpKeys>) -> Self {
        self.keys = keys;
        self
    }

    /// The key of `addr..addr + len` from the dump's keys, when it has them and they cover
    /// the range.
    pub(crate) fn content_key(&self, addr: u32, len: usize) -> Option<Content> {
        self.keys?.key(self.index(addr)?, len)
    }

    /// The erase unit and write granule this flash reports.
    pub fn geometry(&self) -> (u32, u32) {
        (self.sector_size, self.write_size)
    }

    /// Reports this erase unit and write granule through the [`Flash`] trait.
    pub fn with_geometry(mut self, sector_size: u32, write_size: u32) -> Self {
        self.sector_size = sector_size;
        self.write_size = write_size;
        self
    }

    /// Address of the first byte of the dump.
    pub fn base(&self) -> u32 {
        self.base
    }

    /// Length of the dump in bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Index into the slice of flash address `addr`, if the dump starts at or before it.
    fn index(&self, addr: u32) -> Option<usize> {
        usize::try_from(addr.checked_sub(self.base)?).ok()
    }

    /// The bytes at `addr..addr + len`, when the dump holds all of them.
    pub fn get(&self, addr: u32, len: usize) -> Option<&'a [u8]> {
        let start = self.index(addr)?;
        let end = start.checked_add(len)?;
        self.bytes.get(start..end)
    }

    /// The part of `addr..addr + len` the dump holds, from `addr` on (empty when `addr` is
    /// outside the dump).
    pub fn get_prefix(&self, addr: u32, len: usize) -> &'a [u8] {
        let Some(start) = self.index(addr).filter(|s| *s <= self.bytes.len()) else {
            return &[];
        };
        let end = start.saturating_add(len).min(self.bytes.len());
        &self.bytes[start..end]
    }

    /// True when the dump holds every byte of `addr..addr + len`.
    pub fn covers(&self, addr: u32, len: u32) -> bool {
        usize::try_from(len).is_ok_and(|len| self.get(addr, len).is_some())
    }

    /// True when the dump holds at least one byte of `addr..addr + len`.
    pub fn touches(&self, addr: u32, len: u32) -> bool {
        let start = u64::from(addr);
        let end = start + u64::from(len);
        let dump_start = u64::from(self.base);
        let dump_end = dump_start + self.bytes.len() as u64;
        len > 0 && start < dump_end && dump_start < end
    }
}

impl Flash for SliceFlash<'_> {
    fn sector_size(&self) -> u32 {
        self.sector_size
    }

    fn write_size(&self) -> u32 {
        self.write_size
    }

    fn read(&mut self, addr: u32, buf: &mut [u8]) -> Result<(), FlashError> {
        let src = self.get(addr, buf.len()).ok_or(FlashError::OutOfBounds { addr })?;
        buf.copy_from_slice(src);
        Ok(())
    }

    fn write(&mut self, addr: u32, _data: &[u8]) -> Result<(), FlashError> {
        Err(FlashError::ProgramRefused { addr })
    }

    fn erase(&mut self, addr: u32, _len: u32) -> Result<(), FlashError> {
        Err(FlashError::ProgramRefused { addr })
    }
}

/// Decoding takes no time: hashing and signature checks charge nothing.
/// Signatures in software (the provided methods). SHA-256 in software as well, over the dump's
/// bytes in place; with an image cache, resumed from the longest prefix it already hashed (see
/// [`ImageCache::sha256`]), and the last digest is kept: a decode hashes the same range for its
/// report and for its verdict.
impl fut::hal::Crypto for SliceFlash<'_> {
    fn sha256_flash(&mut self, addr: u32, len: u32) -> Result<[u8; 32], FlashError> {
        let Some(bytes) = usize::try_from(len).ok().and_then(|n| self.get(addr, n)) else {
            // A range the dump does not hold: the provided method's reads (the error is the read's).
            return fut::hal::sha256_by_reads(self, addr, len);
        };
        if let Some((a, n, digest)) = self.last_digest {
            if (a, n) == (addr, len) {
                return Ok(digest);
            }
        }
        let digest = match self.images {
            Some(cache) => cache.sha256(bytes),
            None => Sha256::digest(bytes).into(),
        };
        self.last_digest = Some((addr, len, digest));
        Ok(digest)
    }
}

impl Clock for SliceFlash<'_> {
    fn now_us(&self) -> u64 {
        0
    }

    fn spend_us(&mut self, _us: u64) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_inside_the_dump_only() {
        let bytes: Vec<u8> = (0..16).collect();
        let mut f = SliceFlash::new(&bytes, 0x100);
        let mut b = [0u8; 4];
        assert_eq!(f.read(0x104, &mut b), Ok(()));
        assert_eq!(b, [4, 5, 6, 7]);
        assert_eq!(f.read(0x10c, &mut b), Ok(()));
        assert_eq!(f.read(0x10d, &mut b), Err(FlashError::OutOfBounds { addr: 0x10d }));
        assert_eq!(f.read(0xff, &mut b), Err(FlashError::OutOfBounds { addr: 0xff }));
        assert_eq!(
            f.read(u32::MAX, &mut b),
            Err(FlashError::OutOfBounds { addr: u32::MAX })
        );
        assert_eq!(f.read(0x110, &mut []), Ok(()));
    }

    #[test]
    fn refuses_writes_and_erases() {
        let bytes = [0xffu8; 8];
        let mut f = SliceFlash::new(&bytes, 0);
        assert!(f.write(0, &[0]).is_err());
        assert!(f.erase(0, 8).is_err());
        let mut b = [0u8; 8];
        f.read(0, &mut b).unwrap();
        assert_eq!(b, [0xff; 8]);
    }

    #[test]
    fn coverage_queries() {
        let bytes = [0u8; 16];
        let f = SliceFlash::new(&bytes, 0x100);
        assert!(f.covers(0x100, 16));
        assert!(!f.covers(0x100, 17));
        assert!(!f.covers(0xf0, 4));
        assert!(f.touches(0xf0, 0x11));
        assert!(!f.touches(0xf0, 0x10));
        assert!(!f.touches(0x110, 4));
        assert!(!f.touches(u32::MAX, u32::MAX));
        assert_eq!(f.get_prefix(0x108, 100).len(), 8);
        assert_eq!(f.get_prefix(0x110, 4).len(), 0);
        assert_eq!(f.get_prefix(0x10, 4).len(), 0);
    }
}
