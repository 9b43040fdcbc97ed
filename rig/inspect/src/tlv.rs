//! Lists every entry of an MCUboot TLV area, bounds-checked against the bytes at hand.
//!
//! The bootloader's own walker only picks out the entries it needs and stops at the first
//! fault; this one keeps going as far as the bytes allow and says where and why it stopped.

use serde::{Deserialize, Serialize};

use fut::image::{TLV_ECDSA_SIG, TLV_ED25519, TLV_KEYHASH, TLV_SHA256};

/// Values of entries up to this many bytes are shown in full.
pub const MAX_SHOWN_VALUE: usize = 64;

/// One TLV entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlvEntry {
    /// Offset of the entry's type field from the start of the image.
    pub offset: u32,
    /// The type code.
    pub kind: u16,
    /// MCUboot's name for the type (`SHA256`, `ED25519`...), or `unknown`.
    pub name: String,
    /// Length of the value in bytes.
    pub len: u16,
    /// The value in hex, for values of at most [`MAX_SHOWN_VALUE`] bytes that are all present.
    pub value: Option<String>,
}

/// A TLV area: its info header and the entries it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlvArea {
    /// Offset of the info header from the start of the image.
    pub offset: u32,
    /// The info header's magic as read (`None` when it is not in the bytes).
    pub magic: Option<u16>,
    /// The magic this area must have (0x6907 unprotected, 0x6908 protected).
    pub expected_magic: u16,
    /// Total size from the info header, the header itself included.
    pub total: Option<u16>,
    pub entries: Vec<TlvEntry>,
    /// Why the listing stopped early or what is wrong with the area, if anything.
    pub error: Option<String>,
}

impl TlvArea {
    /// The value of the last entry of `kind` with exactly `N` bytes (the bootloader's rule:
    /// a later entry overrides an earlier one).
    pub fn last_value<const N: usize>(&self, kind: u16) -> Option<[u8; N]> {
        self.entries
            .iter()
            .rev()
            .filter(|e| e.kind == kind && usize::from(e.len) == N)
            .find_map(|e| {
                e.value
                    .as_deref()
                    .and_then(|v| hex::decode(v).ok())
                    .and_then(|v| v.try_into().ok())
            })
    }

    /// The value of the last entry of `kind`, read from `image` (the bytes this area was walked
    /// in), when it lies whole inside the area and the bytes.
    pub fn last_bytes<'a>(&self, image: &'a [u8], kind: u16) -> Option<&'a [u8]> {
        let e = self.entries.iter().rev().find(|e| e.kind == kind)?;
        let start = usize::try_from(e.offset).ok()?.checked_add(4)?;
        let end = start.checked_add(usize::from(e.len))?;
        let area_end = usize::try_from(self.offset).ok()? + usize::from(self.total?);
        (end <= area_end).then(|| image.get(start..end)).flatten()
    }

    /// True when any entry has type `kind`.
    pub fn has(&self, kind: u16) -> bool {
        self.entries.iter().any(|e| e.kind == kind)
    }
}

/// MCUboot's name of a TLV type.
pub fn tlv_name(kind: u16) -> &'static str {
    match kind {
        TLV_KEYHASH => "KEYHASH",
        0x02 => "PUBKEY",
        TLV_SHA256 => "SHA256",
        0x11 => "SHA384",
        0x12 => "SHA512",
        0x20 => "RSA2048_PSS",
        0x21 => "ECDSA224",
        TLV_ECDSA_SIG => "ECDSA_SIG",
        0x23 => "RSA3072_PSS",
        TLV_ED25519 => "ED25519",
        0x25 => "SIG_PURE",
        0x30 => "ENC_RSA2048",
        0x31 => "ENC_KW",
        0x32 => "ENC_EC256",
        0x33 => "ENC_X25519",
        0x34 => "ENC_X25519_SHA512",
        0x40 => "DEPENDENCY",
        0x50 => "SEC_CNT",
        0x60 => "BOOT_RECORD",
        _ => "unknown",
    }
}

/// True for the signature types.
pub fn is_signature(kind: u16) -> bool {
    matches!(kind, 0x20..=0x25)
}

fn le16(b: &[u8], at: usize) -> Option<u16> {
    let end = at.checked_add(2)?;
    let s = b.get(at..end)?;
    Some(u16::from_le_bytes([s[0], s[1]]))
}

fn to_u32(x: usize) -> u32 {
    u32::try_from(x).unwrap_or(u32::MAX)
}

/// Walks the TLV area whose info header is at `at` in `image` (the image's bytes as far as they
/// are known). Never reads outside `image`.
pub fn walk(image: &[u8], at: usize, expected_magic: u16) -> TlvArea {
    let mut area = TlvArea {
        offset: to_u32(at),
        magic: None,
        expected_magic,
        total: None,
        entries: Vec::new(),
        error: None,
    };
    let (Some(magic), Some(total)) = (le16(image, at), at.checked_add(2).and_then(|a| le16(image, a))) else {
        area.error = Some(format!(
            "info header at 0x{at:x} is past the end of the data (0x{:x})",
            image.len()
        ));
        return area;
    };
    area.magic = Some(magic);
    area.total = Some(total);
    if magic != expected_magic {
        area.error = Some(format!("bad magic 0x{magic:04x} (expected 0x{expected_magic:04x})"));
        return area;
    }
    if total < 4 {
        area.error = Some(format!("total {total} is smaller than the info header"));
        return area;
    }
    // `at` is below image.len() here, so these cannot overflow.
    let end = at + usize::from(total);
    let mut p = at + 4;
    while p < end {
        if end - p < 4 {
            area.error = Some(format!("{} stray byte(s) at 0x{p:x} before the area end", end - p));
            return area;
        }
        let (Some(kind), Some(len)) = (le16(image, p), le16(image, p + 2)) else {
            area.error = Some(format!(
                "entry at 0x{p:x} is past the end of the data (0x{:x})",
                image.len()
            ));
            return area;
        };
        let data = p + 4;
        let data_end = data + usize::from(len);
        let value = image
            .get(data..data_end)
            .filter(|v| v.len() <= MAX_SHOWN_VALUE && data_end <= end)
            .map(hex::encode);
        area.entries.push(TlvEntry {
            offset: to_u32(p),
            kind,
            name: tlv_name(kind).to_string(),
            len,
            value,
        });
        if data_end > end {
            area.error = Some(format!("entry at 0x{p:x} (len {len}) runs past the area end 0x{end:x}"));
            return area;
        }
        if data_end > image.len() {
            area.error = Some(format!(
                "entry at 0x{p:x} (len {len}) runs past the end of the data (0x{:x})",
                image.len()
            ));
            return area;
        }
        p = data_end;
    }
    area
}

#[cfg(test)]
mod tests {
    use super::*;

    fn area(entries: &[(u16, &[u8])], magic: u16) -> Vec<u8> {
        let total: usize = 4 + entries.iter().map(|(_, d)| 4 + d.len()).sum::<usize>();
        let mut v = Vec::new();
        v.extend_from_slice(&magic.to_le_bytes());
        v.extend_from_slice(&(total as u16).to_le_bytes());
        for (k, d) in entries {
            v.extend_from_slice(&k.to_le_bytes());
            v.extend_from_slice(&(d.len() as u16).to_le_bytes());
            v.extend_from_slice(d);
        }
        v
    }

    #[test]
    fn lists_all_entries() {
        let mut img = vec![0u8; 8];
        img.extend(area(&[(0x10, &[0xaa; 32]), (0x99, &[1, 2]), (0x02, &[7; 100])], 0x6907));
        let a = walk(&img, 8, 0x6907);
        assert_eq!(a.error, None);
        assert_eq!(a.entries.len(), 3);
        assert_eq!(a.entries[0].name, "SHA256");
        assert_eq!(a.entries[0].offset, 12);
        assert_eq!(a.entries[1].value.as_deref(), Some("0102"));
        assert_eq!(a.entries[1].name, "unknown");
        assert_eq!(a.entries[2].value, None);
        assert_eq!(a.last_value::<32>(0x10), Some([0xaa; 32]));
        assert_eq!(a.last_value::<32>(0x01), None);
        assert_eq!(a.last_bytes(&img, 0x02), Some(&[7u8; 100][..]));
        assert_eq!(a.last_bytes(&img, 0x99), Some(&[1u8, 2][..]));
        assert_eq!(a.last_bytes(&img, 0x01), None);
    }

    #[test]
    fn stops_at_entries_past_the_end() {
        let mut img = area(&[(0x10, &[0xaa; 32])], 0x6907);
        img.truncate(20);
        let a = walk(&img, 0, 0x6907);
        assert_eq!(a.entries.len(), 1);
        assert_eq!(a.entries[0].value, None);
        assert!(a.error.unwrap().contains("end of the data"));

        let mut img = area(&[(0x10, &[0xaa; 4])], 0x6907);
        img[6] = 0xff; // entry length 0x00ff, past the area's total
        let a = walk(&img, 0, 0x6907);
        assert!(a.error.unwrap().contains("area end"));
    }

    #[test]
    fn rejects_bad_info_headers() {
        assert!(walk(&[], 0, 0x6907).error.is_some());
        assert!(walk(&[0x07, 0x69, 2, 0], 0, 0x6907).error.unwrap().contains("smaller"));
        assert!(walk(&[0x08, 0x69, 4, 0], 0, 0x6907)
            .error
            .unwrap()
            .contains("bad magic"));
        assert!(walk(&[0x07, 0x69, 4, 0], usize::MAX, 0x6907).error.is_some());
        let a = walk(&[0x07, 0x69, 6, 0, 1, 2], 0, 0x6907);
        assert!(a.error.unwrap().contains("stray"));
    }
}
