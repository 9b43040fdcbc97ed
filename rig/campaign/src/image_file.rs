//! Image files as a campaign names them: checked before they are read whole.
//!
//! A file must be a regular file (a FIFO would block the reader, a device or a directory is
//! never an image), no larger than the slot it goes into, and start with an MCUboot header or
//! an ESP-IDF app image header (magic 0xE9, what `esptool elf2image` writes; see
//! [`ImageFormat`]).
//! Only the first 32 bytes are read to decide; [`read_image_file`] then reads at most the
//! slot's size, so a huge or growing file costs no more than a slot of memory.

use std::fmt;
use std::fs::{File, Metadata};
use std::io::{Read, Seek};
use std::path::Path;

/// MCUboot's image header magic (`IMAGE_MAGIC`, little-endian at offset 0).
const IMAGE_MAGIC: u32 = 0x96f3_b83d;
/// Size of the MCUboot image header.
const HEADER_SIZE: usize = 32;

/// ESP-IDF's app image magic (`ESP_IMAGE_HEADER_MAGIC`, byte 0).
const ESP_IMAGE_MAGIC: u8 = 0xE9;

/// Which bootloader's image format a file is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    /// An MCUboot image (`imgtool sign`).
    Mcuboot,
    /// An ESP-IDF app image (`esptool elf2image`, `idf.py build`).
    Esp,
}

/// Why an image file cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageFileError {
    /// It cannot be opened or read.
    Io(String),
    /// It is not a regular file: what it is instead (`a directory`, `a FIFO`...).
    NotRegular(&'static str),
    /// It is larger than the slot.
    TooLarge { size: u64, slot: u64 },
    /// It is shorter than an image header.
    TooShort(u64),
    /// It does not start with the image magic.
    NoHeader,
}

impl fmt::Display for ImageFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImageFileError::Io(e) => write!(f, "cannot read it: {e}"),
            ImageFileError::NotRegular(what) => {
                write!(
                    f,
                    "it is {what}, not a regular file; give the path of a signed image file"
                )
            }
            ImageFileError::TooLarge { size, slot } => write!(
                f,
                "it is {size} bytes, larger than the {slot}-byte slot it must fit (header, body, TLVs and any \
                 trailer padding)"
            ),
            ImageFileError::TooShort(n) => {
                write!(f, "it is {n} bytes, shorter than the {HEADER_SIZE}-byte MCUboot header")
            }
            ImageFileError::NoHeader => write!(
                f,
                "it does not start with an MCUboot image header (magic 0x{IMAGE_MAGIC:08x}) nor an ESP-IDF app image \
                 header (magic 0x{ESP_IMAGE_MAGIC:02x}); sign it with imgtool (`imgtool sign`) or give the signed \
                 output, or for the esp-idf scheme the app image `esptool elf2image` or `idf.py build` makes"
            ),
        }
    }
}

/// What a file is, when it is not a regular file.
fn kind(meta: &Metadata) -> Option<&'static str> {
    let t = meta.file_type();
    if t.is_file() {
        return None;
    }
    if t.is_dir() {
        return Some("a directory");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return Some("a FIFO");
        }
        if t.is_char_device() {
            return Some("a character device");
        }
        if t.is_block_device() {
            return Some("a block device");
        }
        if t.is_socket() {
            return Some("a socket");
        }
    }
    Some("not a regular file")
}

/// Opens a regular file without blocking: the type is checked before opening, and opened
/// non-blocking on Unix in case the path changed in between (a FIFO opened for reading would
/// otherwise wait for a writer), then checked again on the open file.
pub(crate) fn open_regular(path: &Path) -> Result<(File, u64), ImageFileError> {
    let io = |e: std::io::Error| ImageFileError::Io(e.to_string());
    let meta = std::fs::metadata(path).map_err(io)?;
    if let Some(what) = kind(&meta) {
        return Err(ImageFileError::NotRegular(what));
    }
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(path).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    if let Some(what) = kind(&meta) {
        return Err(ImageFileError::NotRegular(what));
    }
    Ok((file, meta.len()))
}

/// Checks an image file without reading more than its header: a regular file, at most
/// `slot` bytes, starting with the image magic. Returns its size.
pub fn check_image_file(path: &Path, slot: u64) -> Result<u64, ImageFileError> {
    image_file_format(path, slot).map(|(size, _)| size)
}

/// As [`check_image_file`], with the format the header says the file is in.
pub fn image_file_format(path: &Path, slot: u64) -> Result<(u64, ImageFormat), ImageFileError> {
    let (mut file, size) = open_regular(path)?;
    let format = check_header(&mut file, size, slot)?;
    Ok((size, format))
}

fn check_header(file: &mut File, size: u64, slot: u64) -> Result<ImageFormat, ImageFileError> {
    if size > slot {
        return Err(ImageFileError::TooLarge { size, slot });
    }
    if size < HEADER_SIZE as u64 {
        return Err(ImageFileError::TooShort(size));
    }
    let mut header = [0u8; HEADER_SIZE];
    file.read_exact(&mut header)
        .map_err(|e| ImageFileError::Io(e.to_string()))?;
    if u32::from_le_bytes([header[0], header[1], header[2], header[3]]) == IMAGE_MAGIC {
        return Ok(ImageFormat::Mcuboot);
    }
    if header[0] == ESP_IMAGE_MAGIC {
        return Ok(ImageFormat::Esp);
    }
    Err(ImageFileError::NoHeader)
}

/// Reads an image file after the checks of [`check_image_file`], never more than `slot` bytes
/// (a file that grew since its size was read is refused as too large).
pub fn read_image_file(path: &Path, slot: u64) -> Result<Vec<u8>, ImageFileError> {
    let (mut file, size) = open_regular(path)?;
    check_header(&mut file, size, slot)?;
    let mut bytes = Vec::with_capacity(size as usize);
    file.rewind().map_err(|e| ImageFileError::Io(e.to_string()))?;
    (&mut file)
        .take(slot + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| ImageFileError::Io(e.to_string()))?;
    if bytes.len() as u64 > slot {
        return Err(ImageFileError::TooLarge {
            size: bytes.len() as u64,
            slot,
        });
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(len: usize) -> Vec<u8> {
        let mut b = vec![0u8; len];
        b[..4].copy_from_slice(&IMAGE_MAGIC.to_le_bytes());
        b
    }

    #[test]
    fn a_small_image_is_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.bin");
        std::fs::write(&p, image(100)).unwrap();
        assert_eq!(check_image_file(&p, 100), Ok(100));
        assert_eq!(read_image_file(&p, 100).unwrap(), image(100));
        assert_eq!(
            check_image_file(&p, 99),
            Err(ImageFileError::TooLarge { size: 100, slot: 99 })
        );
    }

    #[test]
    fn an_esp_app_image_is_told_apart_from_an_mcuboot_one() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.bin");
        std::fs::write(&p, image(100)).unwrap();
        assert_eq!(image_file_format(&p, 100), Ok((100, ImageFormat::Mcuboot)));
        let mut esp = vec![0u8; 64];
        esp[0] = ESP_IMAGE_MAGIC;
        std::fs::write(&p, &esp).unwrap();
        assert_eq!(image_file_format(&p, 100), Ok((64, ImageFormat::Esp)));
        assert_eq!(read_image_file(&p, 100).unwrap(), esp);
    }

    #[test]
    fn short_and_headerless_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.bin");
        std::fs::write(&p, [0u8; 10]).unwrap();
        assert_eq!(check_image_file(&p, 100), Err(ImageFileError::TooShort(10)));
        std::fs::write(&p, [0u8; 64]).unwrap();
        assert_eq!(check_image_file(&p, 100), Err(ImageFileError::NoHeader));
        assert!(matches!(
            check_image_file(&dir.path().join("none"), 100),
            Err(ImageFileError::Io(_))
        ));
        assert_eq!(
            check_image_file(dir.path(), 100),
            Err(ImageFileError::NotRegular("a directory"))
        );
    }
}
