//! An ESP-IDF app image file as a campaign names it: checked whole, as the esp-idf bootloader
//! checks it (the firmware's own [`fut::esp_image::validate`]: segments, checksum, appended
//! SHA-256), and its version read from its app descriptor.

use fut::esp_image::{self, EspChecks};
use fut::hal::{Clock, Crypto, Flash, FlashError};
use fut::layout::Area;

/// The file's bytes as a read-only flash.
struct Bytes<'a>(&'a [u8]);

impl Flash for Bytes<'_> {
    fn sector_size(&self) -> u32 {
        4096
    }
    fn write_size(&self) -> u32 {
        4
    }
    fn read(&mut self, addr: u32, buf: &mut [u8]) -> Result<(), FlashError> {
        let src = (addr as usize)
            .checked_add(buf.len())
            .and_then(|end| self.0.get(addr as usize..end))
            .ok_or(FlashError::OutOfBounds { addr })?;
        buf.copy_from_slice(src);
        Ok(())
    }
    fn write(&mut self, _addr: u32, _data: &[u8]) -> Result<(), FlashError> {
        Err(FlashError::Device)
    }
    fn erase(&mut self, _addr: u32, _len: u32) -> Result<(), FlashError> {
        Err(FlashError::Device)
    }
}

impl Crypto for Bytes<'_> {}

impl Clock for Bytes<'_> {
    fn now_us(&self) -> u64 {
        0
    }
    fn spend_us(&mut self, _us: u64) {}
}

/// A valid ESP app image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EspAppImage {
    /// The app descriptor's version in the rig's form (`1.0.0+0`).
    pub version: fut::image::Version,
    /// The header, segments, checksum and appended SHA-256: what a download moves.
    pub total_size: u32,
}

/// Checks an ESP app image held in `bytes`: what the bootloader checks, and a version the rig
/// can name. The error says what is wrong and what to do.
pub fn check_esp_app_image(bytes: &[u8]) -> Result<EspAppImage, String> {
    let len = u32::try_from(bytes.len()).map_err(|_| "it is larger than 4 GiB".to_string())?;
    let info = esp_image::validate(&mut Bytes(bytes), Area { offset: 0, size: len }, EspChecks::ALL).map_err(|e| {
        format!(
            "an ESP-IDF app image the bootloader would refuse: {e}; rebuild it (`idf.py build` or `esptool \
             elf2image`) or give the file the build wrote"
        )
    })?;
    let desc = info.app_desc.ok_or_else(|| {
        "an ESP-IDF app image without an app descriptor (esp_app_desc_t, magic 0xabcd5432, at the start of its \
         first segment): the rig reads the image's version there; build it with ESP-IDF's app_update component"
            .to_string()
    })?;
    let version = esp_image::app_version(&desc).ok_or_else(|| {
        format!(
            "an ESP-IDF app image whose version \"{}\" is not a version like 1.2.3 (or v1.2.3): the rig matches the \
             console's `App version:` line against it; set PROJECT_VER to one",
            esp_image::c_str(&desc.version).unwrap_or("(not text)").escape_default()
        )
    })?;
    Ok(EspAppImage {
        version,
        total_size: info.layout.total_size,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../fixtures/esp")
            .join(name);
        std::fs::read(p).unwrap()
    }

    #[test]
    fn esptool_images_check_with_their_versions() {
        let i = check_esp_app_image(&fixture("app-2.0.0.bin")).unwrap();
        assert_eq!(i.version.to_string(), "2.0.0+0");
        assert_eq!(i.total_size, 5728);
        let i = check_esp_app_image(&fixture("app-1.0.0-no-digest.bin")).unwrap();
        assert_eq!(i.version.to_string(), "1.0.0+0");
    }

    #[test]
    fn a_flipped_byte_or_a_cut_is_refused_with_the_reason() {
        let good = fixture("app-1.0.0.bin");
        let mut b = good.clone();
        b[0x400] ^= 4;
        let e = check_esp_app_image(&b).unwrap_err();
        assert!(e.contains("refuse: checksum"), "{e}");
        let e = check_esp_app_image(&good[..good.len() - 10]).unwrap_err();
        assert!(e.contains("past the end of the slot"), "{e}");
    }
}
