//! The pending-flag log decoder against the scheme's own rule, on any bytes: it never panics,
//! says the same twice, and a transaction cut at any point of its program (the words before
//! the cut written, the word in flight part-programmed, the rest erased) leaves the boot target
//! the one before the transaction or the one it writes: never another. The broken order
//! (pending cleared before the target is written) breaks exactly that.

mod support;

use cutpoint_inspect::scheme::decode_pending_log;
use fut::layout::{Layout, Slot};
use fut::scheme::pending_log::{
    encode_word, record_addr, word_size, Target, DONE_VALUE, TAG_DONE, TAG_HEADER, TAG_PENDING, TAG_TARGET,
};
use fut::scheme::redundant::{STATE_BOOTED, STATE_CONFIRMED, STATE_REVERTED, STATE_TRIAL};
use proptest::prelude::*;

fn layout(write_size: u32) -> Layout {
    support::small_layout(write_size)
}

fn target() -> impl Strategy<Value = Target> {
    (
        prop_oneof![Just(Slot::Primary), Just(Slot::Secondary)],
        prop_oneof![
            Just(STATE_CONFIRMED),
            Just(STATE_TRIAL),
            Just(STATE_BOOTED),
            Just(STATE_REVERTED)
        ],
    )
        .prop_map(|(slot, state)| Target { slot, state })
}

fn write_size() -> impl Strategy<Value = u32> {
    prop_oneof![Just(1u32), Just(4), Just(8), Just(16), Just(32)]
}

/// The two log sectors (from the scratch region's start), erased.
fn blank(l: &Layout) -> Vec<u8> {
    vec![0xff; 2 * l.sector_size as usize]
}

fn put(log: &mut [u8], l: &Layout, addr: u32, tag: u8, value: u8) {
    let n = word_size(l.write_size) as usize;
    let at = (addr - l.scratch.offset) as usize;
    log[at..at + n].copy_from_slice(&encode_word(tag, value)[..n]);
}

/// A log of sector 0 (generation 1) holding one completed record selecting `prev`.
fn log_with(l: &Layout, prev: Target) -> Vec<u8> {
    let mut log = blank(l);
    let ws = word_size(l.write_size);
    put(&mut log, l, l.scratch.offset, TAG_HEADER, 1);
    let at = record_addr(l, 0, 0);
    put(&mut log, l, at, TAG_PENDING, prev.value());
    put(&mut log, l, at + ws, TAG_TARGET, prev.value());
    put(&mut log, l, at + 2 * ws, TAG_DONE, DONE_VALUE);
    log
}

/// The words of a transaction writing `t` at record 1, in program order: (address, tag, value).
fn transaction(l: &Layout, t: Target, broken: bool) -> Vec<(u32, u8, u8)> {
    let ws = word_size(l.write_size);
    let at = record_addr(l, 0, 1);
    let pending = (at, TAG_PENDING, t.value());
    let target = (at + ws, TAG_TARGET, t.value());
    let done = (at + 2 * ws, TAG_DONE, DONE_VALUE);
    if broken {
        vec![pending, done, target]
    } else {
        vec![pending, target, done]
    }
}

/// The log after a cut of the transaction at word `k` (0..=3), the word in flight left with
/// the bits of `mask` still erased.
fn cut_log(l: &Layout, prev: Target, t: Target, broken: bool, k: usize, mask: &[u8]) -> Vec<u8> {
    let mut log = log_with(l, prev);
    let n = word_size(l.write_size) as usize;
    for (i, (addr, tag, value)) in transaction(l, t, broken).into_iter().enumerate() {
        if i < k {
            put(&mut log, l, addr, tag, value);
        } else if i == k {
            let at = (addr - l.scratch.offset) as usize;
            for (j, b) in encode_word(tag, value)[..n].iter().enumerate() {
                log[at + j] = b | mask[j];
            }
        }
    }
    log
}

fn boot(l: &Layout, log: &[u8]) -> (Option<String>, Option<String>) {
    let r = decode_pending_log(log, l).expect("a whole log decodes");
    (r.target_slot, r.target_state)
}

fn named(t: Target) -> (Option<String>, Option<String>) {
    (Some(t.slot.name().to_string()), Some(t.state_name().to_string()))
}

proptest! {
    /// A transaction cut anywhere leaves the boot target it found or the one it writes.
    #[test]
    fn a_cut_transaction_leaves_the_old_target_or_the_new_one(
        prev in target(), t in target(), w in write_size(), k in 0usize..4,
        mask in prop::collection::vec(any::<u8>(), 32),
    ) {
        let l = layout(w);
        let got = boot(&l, &cut_log(&l, prev, t, false, k, &mask));
        prop_assert!(got == named(prev) || got == named(t), "{:?}: not {:?} nor {:?}", got, prev, t);
        if k == 3 {
            prop_assert_eq!(got, named(t));
        }
    }

    /// Any bytes in the log sectors: no panic, the same report twice, a slot to boot always,
    /// the primary when no target reads valid, and an open transaction only after the last
    /// completed record.
    #[test]
    fn any_log_bytes_decode_without_panic(
        w in write_size(),
        bytes in prop::collection::vec(prop_oneof![Just(0xffu8), Just(0u8), any::<u8>()], 0..512),
        header in any::<bool>(),
    ) {
        let l = layout(w);
        let mut log = blank(&l);
        if header {
            put(&mut log, &l, l.scratch.offset, TAG_HEADER, 1);
        }
        let from = word_size(w) as usize;
        let end = (from + bytes.len()).min(log.len());
        log[from..end].copy_from_slice(&bytes[..end - from]);
        let a = decode_pending_log(&log, &l).expect("a whole log decodes");
        prop_assert_eq!(&a, &decode_pending_log(&log, &l).unwrap());
        prop_assert!(a.boot_slot == "primary" || a.boot_slot == "secondary");
        if a.target_slot.is_none() {
            prop_assert_eq!(a.boot_slot.as_str(), "primary");
        }
        if let (Some(o), Some(c)) = (a.open_transaction, a.last_completed) {
            prop_assert!(o > c);
        }
        prop_assert_eq!(a.records.len() as u32, a.used);
        let mut flash = vec![0xffu8; 4864];
        flash[4352..].copy_from_slice(&log[..512]);
        let r = cutpoint_inspect::decode_flash_for("pending-log", &flash, 0, &l, None);
        prop_assert_eq!(&r, &cutpoint_inspect::decode_flash_for("pending-log", &flash, 0, &l, None));
        let _ = cutpoint_inspect::render_text(&r);
    }
}

/// The broken order of FIELD-BUGS row 15: cut after the done word and before the target, the
/// record reads completed with no target, and the bootloader starts from the primary slot,
/// neither the target before (slot b) nor the one being written.
#[test]
fn the_broken_order_leaves_a_completed_record_with_no_target() {
    let l = layout(8);
    let prev = Target {
        slot: Slot::Secondary,
        state: STATE_CONFIRMED,
    };
    let t = Target {
        slot: Slot::Secondary,
        state: STATE_BOOTED,
    };
    let log = cut_log(&l, prev, t, true, 2, &[0xff; 32]);
    let r = decode_pending_log(&log, &l).unwrap();
    assert_eq!(r.condition, "no-target");
    assert_eq!((r.last_completed, r.target_slot.as_deref()), (Some(1), None));
    assert_eq!(r.boot_slot, "primary");
    // The reference order at the same point: the target written, pending not yet cleared.
    let log = cut_log(&l, prev, t, false, 2, &[0xff; 32]);
    let r = decode_pending_log(&log, &l).unwrap();
    assert_eq!((r.condition.as_str(), r.open_transaction), ("open", Some(1)));
    assert_eq!(r.boot_slot, "secondary");
}
