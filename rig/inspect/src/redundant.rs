//! The redundant-copies boot record: two copies, one at the start of each of two sectors,
//! each `u32 crc | u8 generation | u8 boot slot | u8 state | 9 reserved bytes`, the CRC being
//! zlib's CRC-32 of the 11 bytes after the generation (U-Boot's redundant environment keeps
//! its `flags` counter outside the CRC the same way). The format and the reader's choice are
//! the firmware's own code (`fut::scheme::redundant`); this adds what a person needs to read
//! a dump: each copy's CRC, generation and fields, which copy wins and why, and where the two
//! copies do not tell one story.

use fut::scheme::redundant::{state_name, winner, RecordCopy, COPY_SIZE};
use fut::Variant;
use serde::{Deserialize, Serialize};

use crate::otadata::SectorCondition;

/// One copy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedundantCopyReport {
    /// 0 or 1.
    pub copy: u8,
    pub condition: SectorCondition,
    pub crc: u32,
    pub crc_expected: u32,
    pub crc_ok: bool,
    pub generation: u8,
    /// 0 = slot a (primary), 1 = slot b (secondary), anything else is outside the format.
    pub slot: u8,
    pub state: u8,
    /// The state's name, `None` outside the format.
    pub state_name: Option<String>,
    /// A good CRC over a known slot and state: the reader may take it.
    pub valid: bool,
    pub problems: Vec<String>,
}

/// Both copies and the one the bootloader takes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedundantReport {
    pub copies: Vec<RedundantCopyReport>,
    /// The copy the reader takes (U-Boot's rule, with the counter's wrap).
    pub winner: Option<u8>,
    /// Why that copy wins (or why none does).
    pub why: String,
    /// The slot the winning copy selects (`primary`, `secondary`); `primary` when none wins.
    pub boot_slot: String,
    /// Where the copies do not tell one story: a damaged copy beside a valid one, two valid
    /// copies with the same generation or generations further apart than one write.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub disagreement: Vec<String>,
}

fn slot_name(slot: u8) -> &'static str {
    if slot == 0 {
        "primary"
    } else {
        "secondary"
    }
}

fn decode_copy(index: u8, sector: &[u8], sector_size: usize) -> (RedundantCopyReport, RecordCopy) {
    let mut r = RedundantCopyReport {
        copy: index,
        condition: SectorCondition::Absent,
        crc: u32::MAX,
        crc_expected: 0,
        crc_ok: false,
        generation: 0xff,
        slot: 0xff,
        state: 0xff,
        state_name: None,
        valid: false,
        problems: Vec::new(),
    };
    let Some(bytes) = sector.get(..COPY_SIZE) else {
        r.problems
            .push(format!("only {} byte(s) of the sector are present", sector.len()));
        return (r, RecordCopy::ERASED);
    };
    let mut b = [0u8; COPY_SIZE];
    b.copy_from_slice(bytes);
    let c = RecordCopy::parse(&b);
    r.crc = c.crc;
    r.crc_expected = c.crc_expected();
    r.crc_ok = c.crc_ok();
    r.generation = c.generation;
    r.slot = c.slot;
    r.state = c.state;
    r.state_name = state_name(c.state).map(str::to_string);
    r.valid = c.valid();
    let blank = |x: &[u8]| x.iter().all(|&v| v == 0xff);
    let tail_written = !blank(&sector[COPY_SIZE..]);
    r.condition = if blank(bytes) && !tail_written {
        SectorCondition::Blank
    } else if tail_written || (blank(&bytes[..4]) != blank(&bytes[4..])) {
        SectorCondition::HalfErased
    } else {
        SectorCondition::Written
    };
    if r.condition == SectorCondition::HalfErased {
        r.problems.push(if tail_written {
            "half-erased: bytes past the copy written".to_string()
        } else {
            "half-written: the CRC or the data is erased while the other is not".to_string()
        });
    }
    if sector.len() < sector_size {
        r.problems.push(format!("sector cut short at {} byte(s)", sector.len()));
    }
    if r.condition != SectorCondition::Blank {
        if !r.crc_ok {
            r.problems.push(format!(
                "crc 0x{:08x} does not match the data (expected 0x{:08x})",
                r.crc, r.crc_expected
            ));
        }
        if r.crc_ok && c.slot > 1 {
            r.problems.push(format!("boot slot {} is outside the format", c.slot));
        }
        if r.crc_ok && r.state_name.is_none() {
            r.problems
                .push(format!("state 0x{:02x} is outside the format", c.state));
        }
    }
    (r, c)
}

/// Decodes the record kept in two sectors of `sector_size` bytes (the first `2 * sector_size`
/// bytes of `bytes`; what is missing comes out as absent).
pub fn decode_redundant_sectors(bytes: &[u8], sector_size: usize) -> RedundantReport {
    let sector_size = sector_size.max(COPY_SIZE);
    let mut copies = Vec::new();
    let mut raw = [RecordCopy::ERASED; 2];
    for i in 0..2u8 {
        let start = (usize::from(i) * sector_size).min(bytes.len());
        let end = (start + sector_size).min(bytes.len());
        let (r, c) = decode_copy(i, &bytes[start..end], sector_size);
        copies.push(r);
        raw[usize::from(i)] = c;
    }
    let w = winner(&raw, Variant::Reference);
    let (g0, g1) = (raw[0].generation, raw[1].generation);
    let why = match w {
        None => "no valid copy: the bootloader boots the primary slot".to_string(),
        Some(i) if !copies[1 - i].valid => format!("copy {i} is the only valid copy"),
        Some(i) if g0 == g1 => format!("both copies hold generation {g0}: the first copy wins ({i})"),
        Some(i) => {
            let (mine, other) = (raw[i].generation, raw[1 - i].generation);
            let wrap = mine == 0 && other == 0xff;
            let naive = winner(&raw, Variant::RedundantGenerationNoWrap);
            let mut s = if wrap {
                format!("copy {i} holds generation 0 after 255: the counter wrapped, it is the newer")
            } else {
                format!("copy {i} holds the newer generation ({mine} > {other})")
            };
            if naive != Some(i) {
                s.push_str("; a reader comparing without the wrap takes the other copy (FIELD-BUGS row 16)");
            }
            s
        }
    };
    let mut disagreement = Vec::new();
    for (a, b) in [(0usize, 1usize), (1, 0)] {
        let x = &copies[a];
        if !x.valid
            && x.condition != SectorCondition::Blank
            && x.condition != SectorCondition::Absent
            && copies[b].valid
        {
            disagreement.push(format!(
                "copy {a} is damaged ({}) while copy {b} holds a valid generation {}",
                x.problems.first().map_or("not valid", String::as_str),
                copies[b].generation
            ));
        }
    }
    if raw[0].valid() && raw[1].valid() {
        let d = g0.wrapping_sub(g1).min(g1.wrapping_sub(g0));
        if d == 0 {
            disagreement.push(format!("both copies hold generation {g0}"));
        } else if d > 1 {
            disagreement.push(format!(
                "the generations {g0} and {g1} are {d} apart: one writer skipped or rewrote the copy it read"
            ));
        }
    }
    RedundantReport {
        copies,
        winner: w.map(|i| i as u8),
        why,
        boot_slot: w.map_or("primary", |i| slot_name(raw[i].slot)).to_string(),
        disagreement,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fut::layout::Slot;
    use fut::scheme::redundant::{STATE_CONFIRMED, STATE_TRIAL};

    const SECTOR: usize = 4096;

    fn sector(c: &RecordCopy) -> Vec<u8> {
        let mut s = vec![0xffu8; SECTOR];
        s[..COPY_SIZE].copy_from_slice(&c.bytes());
        s
    }

    #[test]
    fn the_wrapped_generation_wins_and_says_why() {
        let mut b = sector(&RecordCopy::new(255, Slot::Primary, STATE_CONFIRMED));
        b.extend(sector(&RecordCopy::new(0, Slot::Secondary, STATE_TRIAL)));
        let r = decode_redundant_sectors(&b, SECTOR);
        assert_eq!(r.winner, Some(1));
        assert_eq!(r.boot_slot, "secondary");
        assert!(r.why.contains("wrapped"), "{}", r.why);
        assert!(r.why.contains("without the wrap"), "{}", r.why);
        assert!(r.disagreement.is_empty(), "{:?}", r.disagreement);
    }

    #[test]
    fn a_damaged_copy_beside_a_valid_one_is_a_disagreement() {
        let mut b = sector(&RecordCopy::new(4, Slot::Secondary, STATE_CONFIRMED));
        let mut torn = sector(&RecordCopy::new(5, Slot::Primary, STATE_TRIAL));
        torn[6] = 0x00;
        b.extend(torn);
        let r = decode_redundant_sectors(&b, SECTOR);
        assert_eq!(r.winner, Some(0));
        assert!(r.why.contains("only valid"));
        assert!(!r.copies[1].crc_ok);
        assert_eq!(r.disagreement.len(), 1, "{:?}", r.disagreement);
        let blank = decode_redundant_sectors(&[0xff; 2 * SECTOR], SECTOR);
        assert_eq!(blank.winner, None);
        assert_eq!(blank.boot_slot, "primary");
        assert!(blank.copies.iter().all(|c| c.condition == SectorCondition::Blank));
        let short = decode_redundant_sectors(&b[..10], SECTOR);
        assert!(short.copies.iter().all(|c| c.condition == SectorCondition::Absent));
    }
}
