//! ESP-IDF otadata: two sectors, each with one 32-byte entry at its start:
//! `u32 ota_seq | u8 seq_label[20] | u32 ota_state | u32 crc`, crc = CRC-32/LE of the 4 seq
//! bytes with initial value 0xFFFFFFFF. The CRC does not cover the state, so states outside the
//! enum are flagged, and so are sectors an interrupted erase or write left half done.

use serde::{Deserialize, Serialize};

/// Size of one otadata sector.
pub const OTADATA_SECTOR: usize = 0x1000;
/// Bytes of one otadata entry (`esp_ota_select_entry_t`).
pub const ENTRY_BYTES: usize = ENTRY_SIZE;
// The entry's layout, states and CRC are the firmware's own (`fut::scheme::esp_idf`), the one
// statement of ESP-IDF's format in the project.
pub use fut::scheme::esp_idf::{
    crc32_le, ENTRY_SIZE, STATE_ABORTED, STATE_INVALID, STATE_NEW, STATE_PENDING_VERIFY, STATE_UNDEFINED, STATE_VALID,
};

/// The CRC an entry with sequence number `seq` must carry.
pub fn otadata_crc(seq: u32) -> u32 {
    fut::scheme::esp_idf::seq_crc(seq)
}

/// Name of an `ota_state` value; `None` outside the enum.
pub fn state_name(state: u32) -> Option<&'static str> {
    match state {
        STATE_NEW => Some("new"),
        STATE_PENDING_VERIFY => Some("pending-verify"),
        STATE_VALID => Some("valid"),
        STATE_INVALID => Some("invalid"),
        STATE_ABORTED => Some("aborted"),
        STATE_UNDEFINED => Some("undefined"),
        _ => None,
    }
}

/// The condition of one otadata sector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SectorCondition {
    /// Entirely erased.
    Blank,
    /// An entry is there and nothing else in the sector is written.
    Written,
    /// Partly erased or partly written: the sequence number or the CRC is erased while other
    /// bytes are not, or bytes past the entry are written (an erase cut short).
    HalfErased,
    /// Not in the bytes given.
    Absent,
}

/// One sector's entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OtaEntry {
    /// 0 or 1.
    pub sector: u8,
    pub condition: SectorCondition,
    pub seq: u32,
    /// The 20 label bytes in hex.
    pub label: String,
    pub state: u32,
    /// The state's name, or `None` when it is outside the enum.
    pub state_name: Option<String>,
    pub crc: u32,
    pub crc_expected: u32,
    pub crc_ok: bool,
    /// ESP-IDF's test: seq not erased, state not invalid or aborted, CRC matches.
    pub valid: bool,
    /// What looks wrong with this sector.
    pub problems: Vec<String>,
}

/// Both sectors and which one the bootloader would pick.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OtadataReport {
    pub entries: Vec<OtaEntry>,
    /// Sector of the valid entry with the highest seq.
    pub active_sector: Option<u8>,
    /// `(seq - 1) mod ota_slots` of the active entry, when the number of slots is not zero.
    pub boot_slot: Option<u32>,
    /// Where the two copies do not tell one story: a copy that is written but neither valid nor
    /// marked failed (torn, half-erased, a bad CRC) beside a valid one, or two valid copies with
    /// the same seq. Empty when they agree.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub disagreement: Vec<String>,
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn decode_sector(index: u8, sector: &[u8], sector_size: usize) -> OtaEntry {
    let mut e = OtaEntry {
        sector: index,
        condition: SectorCondition::Absent,
        seq: u32::MAX,
        label: String::new(),
        state: u32::MAX,
        state_name: None,
        crc: u32::MAX,
        crc_expected: otadata_crc(u32::MAX),
        crc_ok: false,
        valid: false,
        problems: Vec::new(),
    };
    let Some(entry) = sector.get(..ENTRY_SIZE) else {
        e.problems
            .push(format!("only {} byte(s) of the sector are present", sector.len()));
        return e;
    };
    e.seq = le32(entry, 0);
    e.label = hex::encode(&entry[4..24]);
    e.state = le32(entry, 24);
    e.crc = le32(entry, 28);
    e.state_name = state_name(e.state).map(str::to_string);
    e.crc_expected = otadata_crc(e.seq);
    e.crc_ok = e.crc == e.crc_expected;
    e.valid = e.seq != u32::MAX && e.crc_ok && e.state != STATE_INVALID && e.state != STATE_ABORTED;

    let blank = |b: &[u8]| b.iter().all(|&x| x == 0xff);
    let tail = &sector[ENTRY_SIZE..];
    let entry_blank = blank(entry);
    let seq_erased = e.seq == u32::MAX;
    let crc_erased = e.crc == u32::MAX;
    e.condition = if entry_blank && blank(tail) {
        SectorCondition::Blank
    } else if (seq_erased != crc_erased) || (seq_erased && crc_erased && !entry_blank) || !blank(tail) {
        SectorCondition::HalfErased
    } else {
        SectorCondition::Written
    };
    if e.condition == SectorCondition::HalfErased {
        let mut what = Vec::new();
        if seq_erased != crc_erased {
            what.push(if seq_erased {
                "seq erased, crc written"
            } else {
                "seq written, crc erased"
            });
        } else if seq_erased && crc_erased && !entry_blank {
            what.push("seq and crc erased, other entry bytes written");
        }
        if !blank(tail) {
            what.push("bytes past the entry written");
        }
        e.problems.push(format!("half-erased: {}", what.join(", ")));
    }
    if sector.len() < sector_size {
        e.problems.push(format!("sector cut short at {} byte(s)", sector.len()));
    }
    if e.condition != SectorCondition::Blank {
        if e.state_name.is_none() {
            e.problems.push(format!("state 0x{:08x} is outside the enum", e.state));
        }
        if !seq_erased && !e.crc_ok {
            e.problems.push(format!(
                "crc 0x{:08x} does not match seq {} (expected 0x{:08x})",
                e.crc, e.seq, e.crc_expected
            ));
        }
    }
    e
}

/// Decodes otadata from `bytes` (normally 2 x 4 KiB); `ota_slots` is the number of ota_N app
/// partitions, used to name the boot slot.
pub fn decode_otadata(bytes: &[u8], ota_slots: u32) -> OtadataReport {
    decode_otadata_sectors(bytes, OTADATA_SECTOR, ota_slots)
}

/// Decodes otadata kept in two sectors of `sector_size` bytes (at least one entry's worth; a
/// part with smaller erase sectors keeps one entry per sector all the same).
pub fn decode_otadata_sectors(bytes: &[u8], sector_size: usize, ota_slots: u32) -> OtadataReport {
    let sector_size = sector_size.max(ENTRY_SIZE);
    let entries: Vec<OtaEntry> = (0..2u8)
        .map(|i| {
            let start = (usize::from(i) * sector_size).min(bytes.len());
            let end = (start + sector_size).min(bytes.len());
            decode_sector(i, &bytes[start..end], sector_size)
        })
        .collect();
    // ESP-IDF's `bootloader_common_select_otadata`: the higher seq, the first sector on a tie.
    let active = entries
        .iter()
        .filter(|e| e.valid)
        .max_by_key(|e| (e.seq, std::cmp::Reverse(e.sector)));
    let mut disagreement = Vec::new();
    let failed = |e: &OtaEntry| e.state == STATE_INVALID || e.state == STATE_ABORTED;
    for (a, b) in [(0, 1), (1, 0)] {
        let (x, y) = (&entries[a], &entries[b]);
        let damaged = !x.valid
            && !failed(x)
            && matches!(x.condition, SectorCondition::Written | SectorCondition::HalfErased)
            && (x.seq != u32::MAX || x.condition == SectorCondition::HalfErased);
        if damaged && y.valid {
            disagreement.push(format!(
                "sector {} is damaged ({}) while sector {} holds a valid seq {}",
                x.sector,
                x.problems.first().map_or("not valid", String::as_str),
                y.sector,
                y.seq
            ));
        }
    }
    if entries[0].valid && entries[1].valid && entries[0].seq == entries[1].seq {
        disagreement.push(format!("both sectors hold seq {}", entries[0].seq));
    }
    OtadataReport {
        active_sector: active.map(|e| e.sector),
        boot_slot: active.and_then(|e| e.seq.wrapping_sub(1).checked_rem(ota_slots)),
        entries,
        disagreement,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sector(seq: u32, state: u32, crc: u32) -> Vec<u8> {
        let mut s = vec![0xffu8; OTADATA_SECTOR];
        s[0..4].copy_from_slice(&seq.to_le_bytes());
        s[24..28].copy_from_slice(&state.to_le_bytes());
        s[28..32].copy_from_slice(&crc.to_le_bytes());
        s
    }

    #[test]
    fn crc_matches_the_esp_idf_vectors() {
        assert_eq!(otadata_crc(1), 0x4743_989A);
        assert_eq!(otadata_crc(2), 0x55F6_3774);
        assert_eq!(otadata_crc(3), 0xED4A_5011);
        assert_eq!(otadata_crc(4), 0x709D_68A8);
        // zlib's check value: CRC-32 of "123456789".
        assert_eq!(crc32_le(0, b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn picks_the_highest_valid_seq() {
        let mut b = sector(3, STATE_VALID, otadata_crc(3));
        b.extend(sector(4, STATE_NEW, otadata_crc(4)));
        let r = decode_otadata(&b, 2);
        assert_eq!(r.active_sector, Some(1));
        assert_eq!(r.boot_slot, Some(1));
        assert!(r
            .entries
            .iter()
            .all(|e| e.condition == SectorCondition::Written && e.problems.is_empty()));

        // An aborted entry does not count; a bad CRC does not either.
        let mut b = sector(3, STATE_VALID, otadata_crc(3));
        b.extend(sector(4, STATE_ABORTED, otadata_crc(4)));
        assert_eq!(decode_otadata(&b, 2).active_sector, Some(0));
        let mut b = sector(3, STATE_VALID, otadata_crc(3));
        b.extend(sector(4, STATE_VALID, 0x1234));
        let r = decode_otadata(&b, 2);
        assert_eq!(r.active_sector, Some(0));
        assert!(r.entries[1].problems[0].contains("does not match"));
    }

    #[test]
    fn blank_otadata_has_no_active_entry() {
        let r = decode_otadata(&[0xff; 2 * OTADATA_SECTOR], 2);
        assert_eq!(r.active_sector, None);
        assert_eq!(r.boot_slot, None);
        assert!(r
            .entries
            .iter()
            .all(|e| e.condition == SectorCondition::Blank && e.problems.is_empty()));
    }

    #[test]
    fn flags_states_outside_the_enum_and_half_erased_sectors() {
        let mut b = sector(1, 7, otadata_crc(1));
        let mut torn = sector(2, STATE_NEW, u32::MAX);
        torn[100] = 0;
        b.extend(torn);
        let r = decode_otadata(&b, 2);
        assert!(r.entries[0].valid, "the CRC does not cover the state");
        assert!(r.entries[0].problems[0].contains("outside the enum"));
        assert_eq!(r.entries[1].condition, SectorCondition::HalfErased);
        assert!(r.entries[1].problems[0].contains("seq written, crc erased"));
        assert!(r.entries[1].problems[0].contains("past the entry"));
        assert_eq!(r.active_sector, Some(0));
        assert_eq!(r.boot_slot, Some(0));
    }

    #[test]
    fn short_input_and_zero_slots() {
        let r = decode_otadata(&sector(1, STATE_VALID, otadata_crc(1))[..40], 0);
        assert_eq!(r.active_sector, Some(0));
        assert_eq!(r.boot_slot, None);
        assert_eq!(r.entries[1].condition, SectorCondition::Absent);
        assert!(decode_otadata(&[], 2)
            .entries
            .iter()
            .all(|e| e.condition == SectorCondition::Absent));
    }
}
