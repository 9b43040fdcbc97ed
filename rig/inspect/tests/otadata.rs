//! ESP-IDF otadata dumps built here from the published layout (`esp_ota_select_entry_t`:
//! `u32 ota_seq | u8 seq_label[20] | u32 ota_state | u32 crc`, CRC over the 4 seq bytes with
//! `crc32_le(UINT32_MAX, ...)`), with the CRC computed by the `crc` crate's CRC-32/ISO-HDLC
//! (zlib's CRC-32): ESP-IDF's `crc32_le(0xFFFFFFFF, buf)` equals zlib's `crc32(0xFFFFFFFF, buf)`,
//! whose first step inverts the initial value, i.e. a CRC-32/ISO-HDLC register started at 0
//! instead of 0xFFFFFFFF: `Digest::new_with_initial(0)`.

use crc::{Crc, CRC_32_ISO_HDLC};
use cutpoint_inspect::decode_otadata;
use cutpoint_inspect::otadata::{decode_otadata_sectors, SectorCondition, STATE_ABORTED, STATE_NEW, STATE_VALID};
use fut::scheme::esp_idf as fw;

const ISO_HDLC: Crc<u32> = Crc::<u32>::new(&CRC_32_ISO_HDLC);

fn independent_crc(seq: u32) -> u32 {
    let mut d = ISO_HDLC.digest_with_initial(0);
    d.update(&seq.to_le_bytes());
    d.finalize()
}

fn sector(size: usize, seq: u32, state: u32, crc: u32) -> Vec<u8> {
    let mut s = vec![0xffu8; size];
    s[0..4].copy_from_slice(&seq.to_le_bytes());
    s[24..28].copy_from_slice(&state.to_le_bytes());
    s[28..32].copy_from_slice(&crc.to_le_bytes());
    s
}

#[test]
fn the_independent_crc_matches_the_published_vectors_and_the_firmware() {
    for (seq, want) in [(1, 0x4743_989A), (2, 0x55F6_3774), (3, 0xED4A_5011), (4, 0x709D_68A8)] {
        assert_eq!(independent_crc(seq), want, "seq {seq}");
        assert_eq!(fw::seq_crc(seq), want, "the firmware's CRC of seq {seq}");
        assert_eq!(
            cutpoint_inspect::otadata_crc(seq),
            want,
            "the inspector's CRC of seq {seq}"
        );
    }
    for seq in [0, 5, 77, 0x1234_5678, u32::MAX - 1] {
        assert_eq!(fw::seq_crc(seq), independent_crc(seq), "seq {seq}");
    }
}

#[test]
fn a_dump_written_by_the_firmware_decodes_with_the_slot_the_bootloader_picks() {
    // What the firmware writes is the published layout.
    let e = fw::Entry {
        seq: 3,
        label: [0xff; 20],
        state: fw::STATE_PENDING_VERIFY,
        crc: independent_crc(3),
    };
    let mut dump = sector(0x1000, 2, STATE_VALID, independent_crc(2));
    let mut s1 = vec![0xffu8; 0x1000];
    s1[..32].copy_from_slice(&e.bytes());
    dump.extend(s1);
    let r = decode_otadata(&dump, 2);
    assert_eq!(r.active_sector, Some(1));
    assert_eq!(r.boot_slot, Some(0), "(3 - 1) % 2");
    assert_eq!(r.entries[1].state_name.as_deref(), Some("pending-verify"));
    assert!(r.disagreement.is_empty(), "{:?}", r.disagreement);
}

#[test]
fn torn_entries_and_copies_that_disagree_are_reported() {
    // 2 KiB sectors (the STM32L4 profile): sector 0 valid, sector 1 torn (seq written, the CRC
    // still erased: a cut inside the entry's program).
    let mut dump = sector(0x800, 1, STATE_VALID, independent_crc(1));
    dump.extend(sector(0x800, 2, STATE_NEW, u32::MAX));
    let r = decode_otadata_sectors(&dump, 0x800, 2);
    assert_eq!(r.entries[1].condition, SectorCondition::HalfErased);
    assert_eq!(r.active_sector, Some(0));
    assert_eq!(r.boot_slot, Some(0));
    assert_eq!(r.disagreement.len(), 1, "{:?}", r.disagreement);
    assert!(
        r.disagreement[0].starts_with("sector 1 is damaged"),
        "{:?}",
        r.disagreement
    );

    // A bad CRC beside a valid copy disagrees; an aborted copy is a decision, not damage.
    let mut dump = sector(0x1000, 1, STATE_VALID, independent_crc(1));
    dump.extend(sector(0x1000, 2, STATE_VALID, independent_crc(2) ^ 1));
    assert_eq!(decode_otadata(&dump, 2).disagreement.len(), 1);
    let mut dump = sector(0x1000, 1, STATE_VALID, independent_crc(1));
    dump.extend(sector(0x1000, 2, STATE_ABORTED, independent_crc(2)));
    let r = decode_otadata(&dump, 2);
    assert!(r.disagreement.is_empty(), "{:?}", r.disagreement);
    assert_eq!(r.boot_slot, Some(0));

    // Two valid copies with one seq.
    let mut dump = sector(0x1000, 4, STATE_VALID, independent_crc(4));
    dump.extend(sector(0x1000, 4, STATE_VALID, independent_crc(4)));
    let r = decode_otadata(&dump, 2);
    assert_eq!(r.active_sector, Some(0), "the first sector on a tie");
    assert_eq!(r.disagreement, ["both sectors hold seq 4"]);
}
