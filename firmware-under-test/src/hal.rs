//! The board the firmware runs on: flash, console, clock and the OTA transport.

/// Why a flash operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlashError {
    /// Address or length outside the device.
    OutOfBounds { addr: u32 },
    /// Address or length not aligned to the write or erase unit.
    Misaligned { addr: u32 },
    /// The controller refused to program (e.g. a non-erased granule on an ECC part).
    ProgramRefused { addr: u32 },
    /// A read returned an uncorrectable ECC error (a bus fault or NMI on a real part).
    Uncorrectable { addr: u32 },
    /// The flash controller stopped answering.
    Device,
}

/// Access to the on-chip flash.
pub trait Flash {
    /// Erase unit in bytes.
    fn sector_size(&self) -> u32;
    /// Program alignment in bytes.
    fn write_size(&self) -> u32;
    fn read(&mut self, addr: u32, buf: &mut [u8]) -> Result<(), FlashError>;

    /// Reads the byte at `addr` `times` times, one read after the other, handing each result
    /// to `each` until it breaks (a status record read over and over, to see whether any of
    /// its bits is weak). A part on which the byte cannot read differently from one read to
    /// the next may answer the later reads without going to the array; this default reads
    /// every time.
    fn read_byte_times(
        &mut self,
        addr: u32,
        times: u32,
        each: &mut dyn FnMut(Result<u8, FlashError>) -> core::ops::ControlFlow<()>,
    ) {
        for _ in 0..times {
            let mut b = [0u8; 1];
            if each(self.read(addr, &mut b).map(|()| b[0])).is_break() {
                return;
            }
        }
    }

    /// Programs `data` at `addr`; bits only go from 1 to 0.
    fn write(&mut self, addr: u32, data: &[u8]) -> Result<(), FlashError>;
    /// Erases `len` bytes at `addr` (sector aligned) in one controller operation.
    fn erase(&mut self, addr: u32, len: u32) -> Result<(), FlashError>;

    /// Replaces the word at `addr` (whole write granules, alone in its sector) by `word`. A
    /// part that rewrites such a word atomically (STM32 option bytes, loaded at once by the
    /// option-byte loader) does it in one operation that leaves the old word or the new one.
    /// Everywhere else this default runs: the word's sector erased, then the word programmed,
    /// two operations a power cut can tear or split.
    fn replace_word(&mut self, addr: u32, word: &[u8]) -> Result<(), FlashError> {
        let sector = self.sector_size();
        if sector == 0 {
            return Err(FlashError::Misaligned { addr });
        }
        self.erase(addr - addr % sector, sector)?;
        self.write(addr, word)
    }
}

/// The UART console: one line per call, without the line ending.
pub trait Console {
    fn write_line(&mut self, line: &str);
}

/// A monotonic clock; `spend_us` stands for work the CPU does (hashing, checking signatures).
pub trait Clock {
    fn now_us(&self) -> u64;
    fn spend_us(&mut self, us: u64);
}

/// What the update server offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Offer {
    /// Total size of the signed image (header, body and TLVs).
    pub size: u32,
    /// The version in the offered image's header.
    pub version: crate::image::Version,
    /// The server asks to try again an update this device already reverted.
    pub retry: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportError {
    /// The server could not be reached or the connection dropped.
    Unreachable,
    /// The server answered something unexpected.
    Protocol,
}

/// Where the OTA application fetches the update from.
pub trait Transport {
    /// Asks the server what update it offers, if any.
    fn offer(&mut self) -> Result<Option<Offer>, TransportError>;
    /// Fetches bytes of the offered image starting at `offset`; returns how many were read.
    fn fetch(&mut self, offset: u32, buf: &mut [u8]) -> Result<usize, TransportError>;
}

/// Hash and signature engine. Parts with a crypto accelerator (the nRF52840's CryptoCell, an
/// STM32 HASH unit) implement it in hardware; the provided methods do the work in software.
pub trait Crypto: Flash {
    /// SHA-256 of `len` bytes of flash at `addr`.
    fn sha256_flash(&mut self, addr: u32, len: u32) -> Result<[u8; 32], FlashError> {
        sha256_by_reads(self, addr, len)
    }

    /// Whether `key` is an Ed25519 public key at all (a point on the curve): an image signed
    /// for a key the bootloader cannot decode is refused as signed by an unknown key.
    fn ed25519_key_valid(&mut self, key: &[u8; 32]) -> bool {
        ed25519_key_valid(key)
    }

    /// Checks an Ed25519 signature over a 32-byte digest.
    fn ed25519_verify(&mut self, key: &[u8; 32], digest: &[u8; 32], sig: &[u8; 64]) -> bool {
        verify_ed25519(key, digest, sig)
    }

    /// Checks an ECDSA P-256 signature (`r || s`) over a 32-byte SHA-256 digest; `key` is the
    /// uncompressed SEC1 point.
    fn p256_verify(&mut self, key: &[u8; 65], digest: &[u8; 32], sig: &[u8; 64]) -> bool {
        verify_p256(key, digest, sig)
    }
}

/// SHA-256 of `len` bytes of `flash` at `addr`, read through `flash` 1 KiB at a time: what
/// [`Crypto::sha256_flash`] does unless an implementation has a faster way to the same digest.
pub fn sha256_by_reads<F: Flash + ?Sized>(flash: &mut F, addr: u32, len: u32) -> Result<[u8; 32], FlashError> {
    use sha2::{Digest, Sha256};
    let mut sha = Sha256::new();
    let mut buf = [0u8; 1024];
    let mut done = 0u32;
    while done < len {
        let n = (len - done).min(buf.len() as u32) as usize;
        flash.read(addr + done, &mut buf[..n])?;
        sha.update(&buf[..n]);
        done += n as u32;
    }
    Ok(sha.finalize().into())
}

/// Ed25519 key decoding in software (the point's decompression).
pub fn ed25519_key_valid(key: &[u8; 32]) -> bool {
    ed25519_dalek::VerifyingKey::from_bytes(key).is_ok()
}

/// Ed25519 in software: the 32-byte digest is the signed message (strict verification).
pub fn verify_ed25519(key: &[u8; 32], digest: &[u8; 32], sig: &[u8; 64]) -> bool {
    use ed25519_dalek::{Signature, VerifyingKey};
    VerifyingKey::from_bytes(key).is_ok_and(|vk| vk.verify_strict(digest, &Signature::from_bytes(sig)).is_ok())
}

/// ECDSA P-256 in software over a SHA-256 digest. Like bootutil, a high `s` is accepted
/// (imgtool does not normalise its signatures).
pub fn verify_p256(key: &[u8; 65], digest: &[u8; 32], sig: &[u8; 64]) -> bool {
    use p256::ecdsa::signature::hazmat::PrehashVerifier;
    use p256::ecdsa::{Signature, VerifyingKey};
    let (Ok(vk), Ok(sig)) = (VerifyingKey::from_sec1_bytes(key), Signature::from_slice(sig)) else {
        return false;
    };
    vk.verify_prehash(digest, &sig).is_ok()
}

/// Where a long job (a swap's region loop) tells the board how far it got.
pub trait Progress {
    /// The job is at a rest point: everything it and the boot it belongs to will do from here
    /// on is decided by the flash and `state` alone, nothing else held in RAM. `state` names
    /// the job, its parameters, the step it is about to take and what its caller does after
    /// it. A board may feed its watchdog here, or a trace probe note the progress; the default
    /// does nothing.
    fn at_rest(&mut self, state: &[u8]) {
        let _ = state;
    }
}

/// Everything the firmware needs from its board.
pub trait Hal: Flash + Console + Clock + Transport + Crypto + Progress {}

impl<T: Flash + Console + Clock + Transport + Crypto + Progress> Hal for T {}

/// Writes the parts of a rest point's state ([`Progress::at_rest`]) into one buffer.
pub struct RestState {
    buf: [u8; 32],
    len: usize,
    overflowed: bool,
}

impl RestState {
    /// A state that starts with the job's `tag`.
    pub fn new(tag: &[u8]) -> Self {
        RestState {
            buf: [0; 32],
            len: 0,
            overflowed: false,
        }
        .bytes(tag)
    }

    /// Appends `bytes`. A state longer than 32 bytes is never told: told cut short, two
    /// different states could read alike.
    pub fn bytes(mut self, bytes: &[u8]) -> Self {
        match self.buf.get_mut(self.len..self.len + bytes.len()) {
            Some(room) => {
                room.copy_from_slice(bytes);
                self.len += bytes.len();
            }
            None => self.overflowed = true,
        }
        self
    }

    /// Appends `v`, little-endian.
    pub fn word(self, v: u32) -> Self {
        self.bytes(&v.to_le_bytes())
    }

    /// Tells the state to `board` ([`Progress::at_rest`]), unless it overflowed.
    pub fn tell<P: Progress + ?Sized>(&self, board: &mut P) {
        if !self.overflowed {
            board.at_rest(&self.buf[..self.len]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Told(Option<([u8; 40], usize)>);

    impl Progress for Told {
        fn at_rest(&mut self, state: &[u8]) {
            let mut b = [0u8; 40];
            b[..state.len()].copy_from_slice(state);
            self.0 = Some((b, state.len()));
        }
    }

    #[test]
    fn a_rest_state_is_told_whole_or_not_at_all() {
        let mut told = Told::default();
        RestState::new(b"job").bytes(&[1, 2]).word(0x0403_0201).tell(&mut told);
        let (b, n) = told.0.take().unwrap();
        assert_eq!(&b[..n], b"job\x01\x02\x01\x02\x03\x04");
        RestState::new(&[7; 28]).word(1).tell(&mut told);
        assert_eq!(told.0.take().map(|(_, n)| n), Some(32), "32 bytes fit");
        RestState::new(&[7; 29]).word(1).tell(&mut told);
        assert!(told.0.is_none(), "a state that does not fit is never told cut short");
    }
}
