//! The atomic-word decoder against the word's own rule, on any bytes: it never panics, says the
//! same twice, and a word caught part-way through its program (bits of the new word not yet
//! cleared, every other bit still erased) reads as erased, as invalid, or as the new word
//! itself: never as another valid selection. That is what lets the scheme run on a part that
//! tears the word: a torn word can cost the trial, never select a slot nobody chose.

use cutpoint_inspect::scheme::decode_word;
use fut::layout::{Area, Layout, Slot};
use fut::scheme::atomic_word::{decode, encode, word_size, BootWord};
use fut::scheme::redundant::{STATE_BOOTED, STATE_CONFIRMED, STATE_REVERTED, STATE_TRIAL};
use proptest::prelude::*;

fn slot() -> impl Strategy<Value = Slot> {
    prop_oneof![Just(Slot::Primary), Just(Slot::Secondary)]
}

fn state() -> impl Strategy<Value = u8> {
    prop_oneof![
        Just(STATE_CONFIRMED),
        Just(STATE_TRIAL),
        Just(STATE_BOOTED),
        Just(STATE_REVERTED)
    ]
}

fn write_size() -> impl Strategy<Value = u32> {
    prop_oneof![Just(1u32), Just(4), Just(8), Just(16), Just(32)]
}

proptest! {
    /// Every valid word decodes as what it encodes, at every write granule.
    #[test]
    fn a_written_word_reads_back(s in slot(), st in state(), w in write_size()) {
        let n = word_size(w);
        prop_assert_eq!(decode(&encode(s, st)[..n]), BootWord::Valid { slot: s, state: st });
        let r = decode_word(&encode(s, st)[..n], 0x1000);
        prop_assert_eq!(r.condition.as_str(), "valid");
        prop_assert_eq!(r.slot.as_deref(), Some(s.name()));
        prop_assert_eq!(r.boot_slot.as_str(), s.name());
    }

    /// A program cut part-way leaves some of the word's cleared bits still set: such a word
    /// never reads as a valid selection other than the one being written.
    #[test]
    fn a_part_programmed_word_never_selects_another_slot(
        s in slot(), st in state(), w in write_size(), mask in prop::collection::vec(any::<u8>(), 32),
    ) {
        let n = word_size(w);
        let target = encode(s, st);
        let torn: Vec<u8> = target[..n].iter().zip(&mask).map(|(t, m)| t | m).collect();
        match decode(&torn) {
            BootWord::Erased | BootWord::Invalid => {}
            BootWord::Valid { slot, state } => {
                prop_assert_eq!((slot, state), (s, st), "torn {:02x?} of {:02x?}", torn, &target[..n]);
            }
        }
    }

    /// Any bytes: no panic, the same report twice, a slot only for a valid word, and the
    /// primary as the start for anything else; a whole flash decoded as the scheme neither.
    #[test]
    fn decode_word_never_panics(bytes in prop::collection::vec(prop_oneof![Just(0xffu8), Just(0u8), Just(1u8), any::<u8>()], 0..40)) {
        let a = decode_word(&bytes, 0);
        prop_assert_eq!(&a, &decode_word(&bytes, 0));
        prop_assert_eq!(a.slot.is_some(), a.condition == "valid");
        if a.condition != "valid" {
            prop_assert_eq!(a.boot_slot.as_str(), "primary");
        }
        let layout = Layout {
            sector_size: 256,
            write_size: 4,
            bootloader: Area { offset: 0, size: 256 },
            primary: Area { offset: 256, size: 2048 },
            secondary: Area { offset: 2304, size: 2048 },
            scratch: Area { offset: 4352, size: 512 },
        };
        let mut flash = vec![0xffu8; 4864];
        flash[4352..4352 + bytes.len()].copy_from_slice(&bytes);
        let r = cutpoint_inspect::decode_flash_for("atomic-word", &flash, 0, &layout, None);
        prop_assert_eq!(&r, &cutpoint_inspect::decode_flash_for("atomic-word", &flash, 0, &layout, None));
        let _ = cutpoint_inspect::render_text(&r);
    }
}
