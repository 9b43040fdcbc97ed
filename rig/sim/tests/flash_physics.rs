//! Physics of the NOR-flash model: what programs, erases and power cuts do.

use std::collections::BTreeMap;

use cutpoint_sim::flash::{FlashOp, NorError, NorFlash, TornOutcome, TornReport};
use cutpoint_sim::profile::FlashProfile;
use proptest::prelude::*;

const SECTOR: u32 = 256;

/// nRF52-like: 4-byte words, no ECC, two programs per word.
fn mcu() -> FlashProfile {
    FlashProfile {
        name: "tiny-mcu".into(),
        size: 4 * SECTOR,
        sector_size: SECTOR,
        write_size: 4,
        program_unit: 4,
        ecc: false,
        max_programs_per_granule: Some(2),
        program_unit_us: 10,
        erase_sector_us: 300,
        read_ns_per_byte: 1,
        atomic_word: false,
        zero_overwrite: false,
        zero_over_zero_refused: false,
        sector_map: Vec::new(),
        devices: Vec::new(),
    }
}

/// STM32L4-like: 8-byte double-words with ECC.
fn ecc() -> FlashProfile {
    FlashProfile {
        name: "tiny-ecc".into(),
        write_size: 8,
        program_unit: 8,
        ecc: true,
        max_programs_per_granule: None,
        program_unit_us: 20,
        ..mcu()
    }
}

/// Serial-NOR-like: byte writable, 16-byte pages, no limit.
fn serial() -> FlashProfile {
    FlashProfile {
        name: "tiny-serial".into(),
        write_size: 1,
        program_unit: 16,
        ecc: false,
        max_programs_per_granule: None,
        program_unit_us: 100,
        ..mcu()
    }
}

fn program(addr: u32, data: &[u8]) -> FlashOp {
    FlashOp::Program {
        addr,
        data: data.to_vec(),
    }
}

fn erase(addr: u32, len: u32) -> FlashOp {
    FlashOp::Erase { addr, len }
}

fn read_vec(flash: &mut NorFlash, addr: u32, len: usize) -> Result<Vec<u8>, NorError> {
    let mut buf = vec![0; len];
    flash.read(addr, &mut buf).map(|()| buf)
}

fn ones(bytes: &[u8]) -> u32 {
    bytes.iter().map(|b| b.count_ones()).sum()
}

/// A flash whose sector 0 was left marginal by a late erase cut.
fn with_marginal_sector(profile: FlashProfile, seed: u64) -> NorFlash {
    let mut flash = NorFlash::new(profile, seed);
    flash.load(0, &[0x00; SECTOR as usize]);
    let report = flash.apply_cut(&erase(0, SECTOR), 250, 0);
    assert_eq!(report.outcome, TornOutcome::Late);
    flash
}

#[test]
fn program_only_clears_bits() {
    let mut flash = NorFlash::new(serial(), 1);
    flash.apply(&program(0, &[0xAA, 0x0F])).unwrap();
    assert_eq!(&flash.raw()[..3], &[0xAA, 0x0F, 0xFF]);
    flash.apply(&program(0, &[0xFF, 0xF0])).unwrap();
    assert_eq!(&flash.raw()[..2], &[0xAA, 0x00], "a program never sets a bit");
    flash.apply(&program(0, &[0x0F])).unwrap();
    assert_eq!(flash.raw()[0], 0x0A, "non-ECC reprogram ANDs");
}

#[test]
fn erase_sets_whole_sectors_and_nothing_else() {
    let mut flash = NorFlash::new(serial(), 1);
    flash.load(0, &[0x00; 4 * SECTOR as usize]);
    flash.apply(&erase(SECTOR, 2 * SECTOR)).unwrap();
    let raw = flash.raw();
    assert!(raw[..SECTOR as usize].iter().all(|&b| b == 0));
    assert!(raw[SECTOR as usize..3 * SECTOR as usize].iter().all(|&b| b == 0xFF));
    assert!(raw[3 * SECTOR as usize..].iter().all(|&b| b == 0));
}

#[test]
fn third_program_of_a_word_is_refused_until_erase() {
    let mut flash = NorFlash::new(mcu(), 1);
    flash.apply(&program(8, &[0xF0; 4])).unwrap();
    flash.apply(&program(8, &[0x3F; 4])).unwrap();
    assert_eq!(&flash.raw()[8..12], &[0x30; 4]);
    assert_eq!(
        flash.apply(&program(8, &[0x00; 4])),
        Err(NorError::TooManyPrograms { addr: 8 })
    );
    assert_eq!(&flash.raw()[8..12], &[0x30; 4], "refused program changes nothing");
    assert_eq!(flash.anomalies().reprogrammed_granules, 1);
    flash.apply(&erase(0, SECTOR)).unwrap();
    flash.apply(&program(8, &[0x00; 4])).unwrap();
    assert_eq!(&flash.raw()[8..12], &[0x00; 4]);
}

#[test]
fn ecc_part_refuses_program_over_a_non_erased_granule() {
    let mut flash = NorFlash::new(ecc(), 1);
    flash.apply(&program(0, &[0xFE; 8])).unwrap();
    for data in [[0x00; 8], [0xFF; 8]] {
        assert_eq!(
            flash.apply(&program(0, &data)),
            Err(NorError::ProgramNotErased { addr: 0 })
        );
    }
    let both = program(0, &[0x00; 16]);
    assert_eq!(flash.check(&both), Err(NorError::ProgramNotErased { addr: 0 }));
    assert_eq!(flash.apply(&both), Err(NorError::ProgramNotErased { addr: 0 }));
    assert_eq!(&flash.raw()[..16], &[[0xFE; 8], [0xFF; 8]].concat());
}

#[test]
fn bounds_and_alignment_are_errors_not_panics() {
    let mut flash = NorFlash::new(mcu(), 1);
    let size = 4 * SECTOR;
    assert_eq!(
        flash.apply(&program(size - 4, &[0; 8])),
        Err(NorError::OutOfBounds { addr: size - 4, len: 8 })
    );
    assert!(matches!(
        flash.apply(&program(u32::MAX - 3, &[0; 8])),
        Err(NorError::OutOfBounds { .. })
    ));
    assert_eq!(
        flash.apply(&program(2, &[0; 4])),
        Err(NorError::Misaligned {
            addr: 2,
            len: 4,
            align: 4
        })
    );
    assert!(matches!(
        flash.apply(&program(4, &[0; 3])),
        Err(NorError::Misaligned { .. })
    ));
    assert!(matches!(
        flash.apply(&erase(128, SECTOR)),
        Err(NorError::Misaligned { align: 256, .. })
    ));
    assert!(matches!(
        flash.apply(&erase(0, 5 * SECTOR)),
        Err(NorError::OutOfBounds { .. })
    ));
    assert!(matches!(
        flash.read(size - 1, &mut [0; 2]),
        Err(NorError::OutOfBounds { .. })
    ));
    assert!(flash.read(size, &mut []).is_ok());
    assert!(flash.raw().iter().all(|&b| b == 0xFF));
}

#[test]
fn degenerate_profiles_do_not_panic() {
    let mut profile = mcu();
    profile.sector_size = 0;
    profile.write_size = 0;
    profile.program_unit = 0;
    profile.program_unit_us = 0;
    profile.size = 10;
    let mut flash = NorFlash::new(profile, 3);
    let op = program(0, &[0; 10]);
    assert_eq!(flash.duration_us(&op), 0);
    let report = flash.apply_cut(&op, 5, 1);
    assert_eq!(report.outcome, TornOutcome::Completed);
    assert!(flash.apply(&erase(0, 10)).is_ok());
    assert!(read_vec(&mut flash, 0, 10).is_ok());
}

#[test]
fn rejected_cut_changes_nothing() {
    let mut flash = NorFlash::new(ecc(), 1);
    flash.apply(&program(0, &[0; 8])).unwrap();
    let hash = flash.state_hash();
    let report = flash.apply_cut(&program(0, &[0; 8]), 10, 5);
    assert_eq!(report.outcome, TornOutcome::Rejected);
    assert_eq!(report.error, Some(NorError::ProgramNotErased { addr: 0 }));
    assert_eq!(flash.state_hash(), hash);
}

#[test]
fn durations_follow_units_and_sectors_touched() {
    let flash = NorFlash::new(serial(), 1);
    assert_eq!(flash.duration_us(&program(10, &[0; 20])), 200, "two pages touched");
    assert_eq!(flash.duration_us(&program(16, &[0; 16])), 100);
    assert_eq!(flash.duration_us(&program(0, &[])), 0);
    assert_eq!(flash.duration_us(&erase(0, 3 * SECTOR)), 900);

    let w25 = NorFlash::new(FlashProfile::w25q128(), 1);
    assert_eq!(w25.duration_us(&program(0x1000, &[0; 256])), 400);
    assert_eq!(w25.duration_us(&program(0x10FF, &[0; 2])), 800);
    assert_eq!(w25.duration_us(&erase(0, 0x2000)), 90_000);
    let nrf = NorFlash::new(FlashProfile::nrf52840(), 1);
    assert_eq!(nrf.duration_us(&program(0, &[0; 16])), 4 * 41);
}

/// Cuts a program of 0x00 over an erased word at `elapsed` (unit time 10 us).
fn cut_word(flash_seed: u64, cut_seed: u64, elapsed: u64) -> (NorFlash, TornReport) {
    let mut flash = NorFlash::new(mcu(), flash_seed);
    let report = flash.apply_cut(&program(0, &[0; 4]), elapsed, cut_seed);
    (flash, report)
}

#[test]
fn every_program_outcome_class_is_reachable_with_real_weight() {
    for elapsed in [1, 5, 9] {
        let mut classes: BTreeMap<&str, u32> = BTreeMap::new();
        for cut_seed in 0..1000 {
            let (flash, report) = cut_word(7, cut_seed, elapsed);
            let cleared = 32 - ones(&flash.raw()[..4]);
            let expected = match report.outcome {
                TornOutcome::None => 0..=0,
                TornOutcome::Some => 1..=16,
                TornOutcome::Most => 17..=31,
                TornOutcome::All => 32..=32,
                other => panic!("unexpected outcome {other}"),
            };
            assert!(expected.contains(&cleared), "{report}");
            assert_eq!(u64::from(cleared), report.bits_changed);
            *classes.entry(report.outcome.as_str()).or_default() += 1;
        }
        for class in ["none", "some", "most", "all"] {
            let count = classes.get(class).copied().unwrap_or(0);
            assert!(count >= 100, "{class} only {count}/1000 at {elapsed} us");
        }
    }
}

#[test]
fn cut_program_finishes_earlier_units_and_leaves_later_ones() {
    let mut flash = NorFlash::new(serial(), 3);
    let report = flash.apply_cut(&program(0, &[0x00; 64]), 250, 9);
    assert_eq!(report.steps_total, 4);
    assert_eq!(report.steps_done, 2);
    let unit = report.in_flight.expect("a page in flight");
    assert_eq!((unit.addr, unit.len, unit.progress_permille), (32, 16, 500));
    let raw = flash.raw();
    assert!(raw[..32].iter().all(|&b| b == 0));
    assert!(raw[48..].iter().all(|&b| b == 0xFF));
    let at_boundary = NorFlash::new(serial(), 3).apply_cut(&program(0, &[0; 64]), 200, 9);
    assert_eq!(at_boundary.outcome, TornOutcome::Boundary);
    assert_eq!(at_boundary.bits_changed, 2 * 16 * 8);
}

/// First cut seed whose torn word leaves weak bits.
fn flash_with_weak_bits(flash_seed: u64) -> NorFlash {
    (0..1000)
        .map(|cut_seed| cut_word(flash_seed, cut_seed, 5))
        .find(|(_, report)| report.weak_bits > 0)
        .map(|(flash, _)| flash)
        .expect("some cut leaves weak bits")
}

#[test]
fn weak_bits_read_differently_on_successive_reads() {
    let mut flash = flash_with_weak_bits(11);
    assert!(flash.anomalies().weak_bits > 0);
    let raw = flash.raw()[..4].to_vec();
    let reads: Vec<Vec<u8>> = (0..64).map(|_| read_vec(&mut flash, 0, 4).unwrap()).collect();
    let distinct: std::collections::BTreeSet<_> = reads.iter().collect();
    assert!(distinct.len() > 1, "weak bits must not read the same every time");
    assert_eq!(&flash.raw()[..4], &raw[..], "reading does not change stored bits");
    let varying: u32 = (0..4)
        .map(|i| reads.iter().fold(0u8, |acc, r| acc | (r[i] ^ raw[i])).count_ones())
        .sum();
    assert!(varying <= flash.anomalies().weak_bits, "only weak bits vary");
}

#[test]
fn weak_reads_are_stable_per_seed_and_call_sequence() {
    let mut a = flash_with_weak_bits(11);
    let mut b = a.clone();
    let mut c = flash_with_weak_bits(11);
    for _ in 0..32 {
        let ra = read_vec(&mut a, 0, 16).unwrap();
        assert_eq!(ra, read_vec(&mut b, 0, 16).unwrap());
        assert_eq!(ra, read_vec(&mut c, 0, 16).unwrap());
    }
}

#[test]
fn completing_a_program_makes_its_weak_bits_solid() {
    let mut flash = flash_with_weak_bits(11);
    flash.apply(&program(0, &[0; 4])).unwrap();
    assert_eq!(flash.anomalies().weak_bits, 0);
    assert_eq!(read_vec(&mut flash, 0, 4).unwrap(), vec![0; 4]);
}

/// First cut seed whose torn double-word leaves a torn ECC granule.
fn ecc_flash_with_torn_granule() -> NorFlash {
    (0..1000)
        .find_map(|cut_seed| {
            let mut flash = NorFlash::new(ecc(), 5);
            let report = flash.apply_cut(&program(8, &[0x00; 8]), 10, cut_seed);
            report.ecc_torn.then_some(flash)
        })
        .expect("some cut tears the granule")
}

#[test]
fn ecc_read_of_a_torn_program_is_uncorrectable() {
    let mut flash = ecc_flash_with_torn_granule();
    assert_eq!(flash.anomalies().torn_granules, 1);
    for addr in 8..16 {
        assert_eq!(read_vec(&mut flash, addr, 1), Err(NorError::Uncorrectable { addr }));
    }
    assert_eq!(read_vec(&mut flash, 0, 32), Err(NorError::Uncorrectable { addr: 8 }));
    assert_eq!(read_vec(&mut flash, 0, 8).unwrap(), vec![0xFF; 8]);
    assert_eq!(read_vec(&mut flash, 16, 8).unwrap(), vec![0xFF; 8]);
    assert_eq!(
        flash.apply(&program(8, &[0; 8])),
        Err(NorError::ProgramNotErased { addr: 8 })
    );
    flash.apply(&erase(0, SECTOR)).unwrap();
    assert!(flash.anomalies().is_clean());
    flash.apply(&program(8, &[0; 8])).unwrap();
    assert_eq!(read_vec(&mut flash, 8, 8).unwrap(), vec![0; 8]);
}

/// STM32L4-like with its zero-overwrite rule (RM0351): all-zero data may be programmed over a
/// written double-word.
fn ecc_zero() -> FlashProfile {
    FlashProfile {
        name: "tiny-ecc-zero".into(),
        zero_overwrite: true,
        ..ecc()
    }
}

#[test]
fn zero_overwrite_part_accepts_all_zero_over_a_written_granule_and_nothing_else() {
    let mut flash = NorFlash::new(ecc_zero(), 1);
    flash.apply(&program(0, &[0xFE; 8])).unwrap();
    flash.apply(&program(8, &[0xA5; 8])).unwrap();
    // Any other data over a written granule is still refused, even data that only clears bits.
    for data in [[0xFF; 8], [0xFC; 8], [0x00, 0, 0, 0, 0, 0, 0, 1]] {
        assert_eq!(
            flash.apply(&program(0, &data)),
            Err(NorError::ProgramNotErased { addr: 0 })
        );
    }
    // Zero over the first granule, non-zero over the written second: refused at the second,
    // and nothing changed.
    let mixed = program(0, &[[0x00; 8], [0x01; 8]].concat());
    assert_eq!(flash.apply(&mixed), Err(NorError::ProgramNotErased { addr: 8 }));
    assert_eq!(&flash.raw()[..16], &[[0xFE; 8], [0xA5; 8]].concat());
    // All zero over a written granule and an erased one.
    flash.apply(&program(8, &[0x00; 16])).unwrap();
    flash.apply(&program(0, &[0x00; 8])).unwrap();
    assert_eq!(read_vec(&mut flash, 0, 24).unwrap(), vec![0; 24]);
    // Zero over zero is accepted too; non-zero data over an erased granule as ever.
    flash.apply(&program(0, &[0x00; 8])).unwrap();
    flash.apply(&program(24, &[0x12; 8])).unwrap();
    assert!(flash.anomalies().is_clean());
    // The same history on the part without the rule is refused at the first rewrite.
    let mut strict = NorFlash::new(ecc(), 1);
    strict.apply(&program(0, &[0xFE; 8])).unwrap();
    assert_eq!(
        strict.apply(&program(0, &[0x00; 8])),
        Err(NorError::ProgramNotErased { addr: 0 })
    );
}

/// STM32U5-like (RM0456 Rev 6, §7.3.9): all-zero data over a written quad-word is accepted,
/// except over one that already reads all zero.
fn ecc_zero_once() -> FlashProfile {
    FlashProfile {
        name: "tiny-ecc-zero-once".into(),
        zero_over_zero_refused: true,
        ..ecc_zero()
    }
}

#[test]
fn zero_over_zero_part_refuses_all_zero_over_a_granule_already_zero() {
    let mut flash = NorFlash::new(ecc_zero_once(), 1);
    flash.apply(&program(0, &[0xF0; 8])).unwrap();
    // Zero over a partially programmed granule: accepted, as on the STM32L4.
    flash.apply(&program(0, &[0x00; 8])).unwrap();
    assert_eq!(read_vec(&mut flash, 0, 8).unwrap(), vec![0; 8]);
    // Zero again over the granule now all zero: refused, and nothing changes.
    let before = flash.state_hash();
    assert_eq!(
        flash.apply(&program(0, &[0x00; 8])),
        Err(NorError::ProgramNotErased { addr: 0 })
    );
    assert_eq!(flash.state_hash(), before);
    // Zero over an erased granule is a first program: accepted; then refused again.
    flash.apply(&program(8, &[0x00; 8])).unwrap();
    assert_eq!(
        flash.apply(&program(0, &[0x00; 16])),
        Err(NorError::ProgramNotErased { addr: 0 })
    );
    // Non-zero data over a written granule is refused as on any ECC part.
    assert_eq!(
        flash.apply(&program(0, &[0x01; 8])),
        Err(NorError::ProgramNotErased { addr: 0 })
    );
    // The same history on the STM32L4 rule accepts the second zero program.
    let mut l4 = NorFlash::new(ecc_zero(), 1);
    l4.apply(&program(0, &[0xF0; 8])).unwrap();
    l4.apply(&program(0, &[0x00; 8])).unwrap();
    l4.apply(&program(0, &[0x00; 8])).unwrap();
    // An erase makes the granule programmable again.
    flash.apply(&erase(0, SECTOR)).unwrap();
    flash.apply(&program(0, &[0x00; 8])).unwrap();
    assert!(flash.anomalies().is_clean());
}

#[test]
fn the_stm32u5_profile_carries_rm0456s_rule_and_the_stm32l4_does_not() {
    let u5 = FlashProfile::builtin("stm32u5").unwrap();
    assert!(u5.ecc && u5.zero_overwrite && u5.zero_over_zero_refused);
    assert_eq!((u5.sector_size, u5.write_size), (8192, 16));
    let l4 = FlashProfile::builtin("stm32l4").unwrap();
    assert!(l4.zero_overwrite && !l4.zero_over_zero_refused);
    // The flag is written only where it is set: the other parts serialise as before.
    assert!(!serde_json::to_string(&l4).unwrap().contains("zero_over_zero_refused"));
    let mut flash = NorFlash::new(u5, 2);
    flash.apply(&program(0, &[0xF0; 16])).unwrap();
    flash.apply(&program(0, &[0x00; 16])).unwrap();
    assert_eq!(
        flash.apply(&program(0, &[0x00; 16])),
        Err(NorError::ProgramNotErased { addr: 0 })
    );
}

fn zero_part_with_torn_granule(seed: u64) -> NorFlash {
    (0..1000)
        .find_map(|cut_seed| {
            let mut flash = NorFlash::new(ecc_zero(), seed);
            flash.apply(&program(8, &[0x5A; 8])).unwrap();
            let report = flash.apply_cut(&program(8, &[0x00; 8]), 10, cut_seed);
            report.ecc_torn.then_some(flash)
        })
        .expect("some cut tears the granule")
}

#[test]
fn zero_overwrite_mends_a_torn_granule_and_a_cut_one_tears_like_any_program() {
    // A cut inside an all-zero program over a written granule tears it as any program does.
    let mut flash = zero_part_with_torn_granule(5);
    assert_eq!(read_vec(&mut flash, 8, 8), Err(NorError::Uncorrectable { addr: 8 }));
    // Non-zero data over the torn granule is refused; all zero is accepted and reads back.
    assert_eq!(
        flash.apply(&program(8, &[0x0F; 8])),
        Err(NorError::ProgramNotErased { addr: 8 })
    );
    flash.apply(&program(8, &[0x00; 8])).unwrap();
    assert_eq!(read_vec(&mut flash, 8, 8).unwrap(), vec![0; 8]);
    assert!(flash.anomalies().is_clean(), "{:?}", flash.anomalies());

    // A cut inside the all-zero program over the torn granule leaves it torn; finished units
    // before the one in flight are mended.
    for cut_seed in 0..200 {
        let mut flash = zero_part_with_torn_granule(6);
        flash.apply_cut(&program(0, &[0xC3; 8]), 30, 0);
        let report = flash.apply_cut(&program(0, &[0x00; 16]), 30, cut_seed);
        assert_eq!(report.steps_done, 1, "{report}");
        assert_eq!(read_vec(&mut flash, 0, 8).unwrap(), vec![0; 8], "{report}");
        assert_eq!(
            read_vec(&mut flash, 8, 8),
            Err(NorError::Uncorrectable { addr: 8 }),
            "{report}"
        );
    }

    // A cut of the whole program past its end is `apply`: both granules mended.
    let mut flash = zero_part_with_torn_granule(6);
    let report = flash.apply_cut(&program(8, &[0x00; 8]), 1_000, 3);
    assert_eq!(report.outcome, TornOutcome::Completed);
    assert_eq!(read_vec(&mut flash, 8, 8).unwrap(), vec![0; 8]);
}

#[test]
fn zero_overwrite_cuts_are_deterministic_per_seed() {
    let run = |seed: u64| {
        let mut flash = NorFlash::new(ecc_zero(), seed);
        flash.apply(&program(0, &[0x3C; 32])).unwrap();
        let reports: Vec<String> = (0..32u64)
            .map(|k| flash.apply_cut(&program(0, &[0x00; 32]), 5 + k % 70, k).to_string())
            .collect();
        (
            flash.raw()[..32].to_vec(),
            flash.anomalies(),
            flash.state_hash(),
            reports,
        )
    };
    assert_eq!(run(11), run(11));
}

#[test]
fn ecc_program_outcomes_none_never_tear_and_some_most_always_do() {
    let mut all_torn = 0;
    let mut all_clean = 0;
    for cut_seed in 0..400 {
        let mut flash = NorFlash::new(ecc(), 5);
        let report = flash.apply_cut(&program(0, &[0x00; 8]), 10, cut_seed);
        match report.outcome {
            TornOutcome::None => assert!(!report.ecc_torn),
            TornOutcome::Some | TornOutcome::Most => assert!(report.ecc_torn),
            TornOutcome::All if report.ecc_torn => all_torn += 1,
            TornOutcome::All => all_clean += 1,
            other => panic!("unexpected {other}"),
        }
        assert_eq!(report.weak_bits, 0, "ECC parts tear granules instead");
    }
    assert!(all_torn > 0 && all_clean > 0);
}

fn patterned(profile: FlashProfile, seed: u64) -> (NorFlash, Vec<u8>) {
    let old: Vec<u8> = (0..SECTOR).map(|i| (i as u8).wrapping_mul(37) ^ 0x5A).collect();
    let mut flash = NorFlash::new(profile, seed);
    flash.load(0, &old);
    (flash, old)
}

#[test]
fn early_erase_cut_adds_zeros_up_to_all_zeros() {
    let (mut flash, old) = patterned(mcu(), 2);
    let report = flash.apply_cut(&erase(0, SECTOR), 50, 1);
    assert_eq!(report.outcome, TornOutcome::Early);
    let raw = &flash.raw()[..SECTOR as usize];
    assert!(raw.iter().zip(&old).all(|(&r, &o)| r & !o == 0), "only zeros added");
    assert!(ones(raw) < ones(&old) && ones(raw) > 0);

    let (mut late_in_phase, _) = patterned(mcu(), 2);
    late_in_phase.apply_cut(&erase(0, SECTOR), 99, 1);
    assert!(ones(&late_in_phase.raw()[..SECTOR as usize]) < ones(&old) / 20);
}

#[test]
fn middle_erase_cut_mixes_old_and_erased_bits() {
    let (mut flash, old) = patterned(mcu(), 2);
    let report = flash.apply_cut(&erase(0, SECTOR), 150, 1);
    assert_eq!(report.outcome, TornOutcome::Middle);
    let raw = &flash.raw()[..SECTOR as usize];
    assert!(raw.iter().zip(&old).all(|(&r, &o)| r & o == o), "old ones stay ones");
    let raised: u32 = raw.iter().zip(&old).map(|(&r, &o)| (r & !o).count_ones()).sum();
    let kept_zeros = raw.iter().map(|b| b.count_zeros()).sum::<u32>();
    assert!(
        raised > 0 && kept_zeros > 0,
        "a mix: {raised} raised, {kept_zeros} zeros"
    );
}

#[test]
fn late_erase_cut_reads_erased_but_leaves_the_sector_marginal() {
    let (mut flash, _) = patterned(mcu(), 2);
    let report = flash.apply_cut(&erase(0, SECTOR), 250, 1);
    assert_eq!(report.outcome, TornOutcome::Late);
    assert!(flash.raw()[..SECTOR as usize].iter().all(|&b| b == 0xFF));
    assert_eq!(flash.anomalies().marginal_sectors, 1);
    flash.apply(&erase(0, SECTOR)).unwrap();
    assert!(flash.anomalies().is_clean(), "a full erase clears the marginal state");
}

#[test]
fn ecc_erase_cut_early_and_middle_are_uncorrectable_late_is_readable() {
    for (elapsed, outcome) in [(50, TornOutcome::Early), (150, TornOutcome::Middle)] {
        let (mut flash, _) = patterned(ecc(), 2);
        let report = flash.apply_cut(&erase(0, SECTOR), elapsed, 1);
        assert_eq!(report.outcome, outcome);
        assert!(report.ecc_torn);
        assert_eq!(report.torn_granules, SECTOR / 8);
        assert_eq!(read_vec(&mut flash, 100, 4), Err(NorError::Uncorrectable { addr: 100 }));
        assert!(read_vec(&mut flash, SECTOR, 8).is_ok(), "next sector untouched");
    }
    let (mut flash, _) = patterned(ecc(), 2);
    let report = flash.apply_cut(&erase(0, SECTOR), 250, 1);
    assert!(!report.ecc_torn);
    assert!(read_vec(&mut flash, 0, 8).is_ok());
}

#[test]
fn marginal_sector_programs_sometimes_do_not_stick() {
    let mut flash = with_marginal_sector(mcu(), 4);
    for word in 0..64 {
        flash.apply(&program(word * 4, &[0x00; 4])).unwrap();
    }
    assert!(flash.raw()[..SECTOR as usize].iter().all(|&b| b == 0));
    let weak = flash.anomalies().weak_bits;
    assert!(weak > 0 && weak < 64 * 3, "{weak} weak bits");

    let mut clean = NorFlash::new(mcu(), 4);
    for word in 0..64 {
        clean.apply(&program(SECTOR + word * 4, &[0x00; 4])).unwrap();
    }
    assert_eq!(clean.anomalies().weak_bits, 0, "healthy sectors always stick");
}

#[test]
fn marginal_sector_reads_rarely_flip_a_bit_to_zero() {
    let mut flash = with_marginal_sector(mcu(), 4);
    let mut reads_with_flips = 0;
    for _ in 0..2000 {
        let bytes = read_vec(&mut flash, 0, SECTOR as usize).unwrap();
        let zeros = bytes.iter().map(|b| b.count_zeros()).sum::<u32>();
        assert!(zeros <= 3);
        reads_with_flips += u32::from(zeros > 0);
    }
    assert!(reads_with_flips > 0, "marginal reads must sometimes flip");
    assert!(reads_with_flips < 200, "but rarely: {reads_with_flips}/2000");
    assert!(flash.raw()[..SECTOR as usize].iter().all(|&b| b == 0xFF));
}

#[test]
fn multi_sector_erase_cut_part_way_erases_in_ascending_order() {
    let mut flash = NorFlash::new(serial(), 8);
    flash.load(0, &[0x00; 4 * SECTOR as usize]);
    let report = flash.apply_cut(&erase(0, 4 * SECTOR), 2 * 300 + 250, 3);
    assert_eq!((report.steps_done, report.steps_total), (2, 4));
    assert_eq!(report.outcome, TornOutcome::Late);
    assert_eq!(report.in_flight.map(|u| u.addr), Some(2 * SECTOR));
    let raw = flash.raw();
    assert!(raw[..3 * SECTOR as usize].iter().all(|&b| b == 0xFF));
    assert!(raw[3 * SECTOR as usize..].iter().all(|&b| b == 0x00), "last sector old");

    let mut early = NorFlash::new(serial(), 8);
    early.load(0, &[0x00; 4 * SECTOR as usize]);
    early.apply_cut(&erase(0, 4 * SECTOR), 300 + 10, 3);
    let raw = early.raw();
    assert!(raw[..SECTOR as usize].iter().all(|&b| b == 0xFF));
    assert!(raw[SECTOR as usize..].iter().all(|&b| b == 0x00));
}

/// A fixed sequence mixing cuts, completes and reads; returns every read.
fn scripted_history(flash: &mut NorFlash) -> Vec<Result<Vec<u8>, NorError>> {
    let mut reads = Vec::new();
    flash.load(0, &[0x3C; 2 * SECTOR as usize]);
    flash.apply_cut(&erase(0, 2 * SECTOR), 120, 1);
    reads.push(read_vec(flash, 0, SECTOR as usize));
    flash.apply_cut(&erase(SECTOR, SECTOR), 280, 2);
    for word in 0..16 {
        flash.apply_cut(&program(SECTOR + word * 4, &[0x00; 4]), 5, word.into());
        reads.push(read_vec(flash, SECTOR, 64));
    }
    flash.apply_cut(&program(2 * SECTOR, &[0x12; 64]), 77, 9);
    for _ in 0..8 {
        reads.push(read_vec(flash, 0, 3 * SECTOR as usize));
    }
    reads
}

#[test]
fn same_seed_and_calls_give_identical_flash_and_reads() {
    let mut a = NorFlash::new(mcu(), 42);
    let mut b = NorFlash::new(mcu(), 42);
    let reads_a = scripted_history(&mut a);
    assert_eq!(reads_a, scripted_history(&mut b));
    assert_eq!(a.raw(), b.raw());
    assert_eq!(a.state_hash(), b.state_hash());
    assert_eq!(a.anomalies(), b.anomalies());
    assert!(!a.anomalies().is_clean(), "the script must exercise anomalies");

    let mut other = NorFlash::new(mcu(), 43);
    let reads_other = scripted_history(&mut other);
    assert_ne!(a.raw(), other.raw(), "another flash seed tears differently");
    assert_ne!(reads_a, reads_other);
}

#[test]
fn different_seeds_give_different_torn_outcomes() {
    let outcomes = |flash_seed| -> Vec<(TornOutcome, Vec<u8>)> {
        (0..32)
            .map(|cut_seed| {
                let (flash, report) = cut_word(flash_seed, cut_seed, 5);
                (report.outcome, flash.raw()[..4].to_vec())
            })
            .collect()
    };
    assert_eq!(outcomes(1), outcomes(1));
    assert_ne!(outcomes(1), outcomes(2));
    let per_cut_seed: Vec<_> = outcomes(1).into_iter().map(|(_, raw)| raw).collect();
    let distinct: std::collections::BTreeSet<_> = per_cut_seed.iter().collect();
    assert!(distinct.len() > 8);
}

#[test]
fn state_hash_covers_data_and_anomalies() {
    let fresh = NorFlash::new(mcu(), 1);
    let weak = flash_with_weak_bits(11);
    assert_eq!(weak.state_hash(), weak.clone().state_hash());
    let mut same_bytes = NorFlash::new(mcu(), 99);
    same_bytes.load(0, &weak.raw()[..4]);
    assert_eq!(same_bytes.raw(), weak.raw());
    assert_ne!(same_bytes.state_hash(), weak.state_hash(), "weak bits count");
    assert_eq!(
        fresh.raw() == same_bytes.raw(),
        fresh.state_hash() == same_bytes.state_hash()
    );

    let marginal = with_marginal_sector(mcu(), 1);
    assert_eq!(marginal.raw(), fresh.raw());
    assert_ne!(marginal.state_hash(), fresh.state_hash(), "marginal sectors count");

    let mut once = NorFlash::new(mcu(), 1);
    once.apply(&program(0, &[0xFF; 4])).unwrap();
    assert_eq!(once.raw(), fresh.raw());
    assert_ne!(once.state_hash(), fresh.state_hash(), "program counts count");

    let torn = ecc_flash_with_torn_granule();
    let mut untorn = NorFlash::new(ecc(), 5);
    untorn.load(0, torn.raw());
    assert_ne!(untorn.state_hash(), torn.state_hash(), "torn granules count");
}

#[test]
fn load_sets_bytes_exactly_and_clears_anomalies_in_range() {
    let mut flash = flash_with_weak_bits(11);
    flash.load(0, &[0xA5; 4]);
    assert_eq!(&flash.raw()[..4], &[0xA5; 4]);
    assert!(flash.anomalies().is_clean());
    assert_eq!(read_vec(&mut flash, 0, 4).unwrap(), vec![0xA5; 4]);
    flash.load(4 * SECTOR - 2, &[0; 8]);
    assert_eq!(&flash.raw()[4 * SECTOR as usize - 2..], &[0, 0]);
    flash.load(u32::MAX, &[0; 8]);
}

#[test]
fn report_prints_what_happened() {
    let (_, report) = (0..100)
        .map(|cut_seed| cut_word(7, cut_seed, 5))
        .find(|(_, report)| report.outcome == TornOutcome::Some)
        .expect("a some outcome");
    let text = report.to_string();
    assert!(text.starts_with("program 0x0+0x4 cut at 5/10 us: 0/1 done"), "{text}");
    assert!(
        text.contains("in flight at 50.0%") && text.contains("-> some"),
        "{text}"
    );
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["outcome"], "some");
    assert_eq!(json["op"], "program");
}

#[test]
fn builtin_parts_run_a_cut_update_cycle() {
    for name in FlashProfile::builtin_names() {
        let profile = FlashProfile::builtin(name).unwrap();
        let sector = profile.sector_size;
        let mut flash = NorFlash::new(profile, 1);
        let image = vec![0x42; 2 * sector as usize];
        let op = program(sector, &image);
        let half = flash.duration_us(&op) / 2 + 1;
        let report = flash.apply_cut(&op, half, 1);
        assert!(report.in_flight.is_some(), "{name}: {report}");
        flash.apply(&erase(sector, 2 * sector)).unwrap();
        flash.apply(&op).unwrap();
        let mut back = vec![0; image.len()];
        flash.read(sector, &mut back).unwrap();
        assert_eq!(back, image, "{name}");
    }
}

// Property tests.

fn profile_by_index(index: usize) -> FlashProfile {
    match index % 3 {
        0 => mcu(),
        1 => ecc(),
        _ => serial(),
    }
}

#[derive(Clone, Debug)]
struct Step {
    op: FlashOp,
    /// Fraction of the op's duration (in 1/1000, may exceed 1000) at which
    /// power dies, or `None` for a completed op.
    cut_permille: Option<u64>,
    cut_seed: u64,
}

fn op_strategy(profile: FlashProfile) -> impl Strategy<Value = FlashOp> {
    let granule = profile.write_size;
    let granules = profile.size / granule;
    let sectors = profile.size / profile.sector_size;
    let sector_size = profile.sector_size;
    let program_op = (0..granules, 1u32..24, any::<u8>(), any::<u64>()).prop_map(move |(start, count, fill, noise)| {
        let count = count.min(granules - start);
        let data = (0..count * granule)
            .map(|i| fill | (noise.rotate_left(i) as u8))
            .collect();
        FlashOp::Program {
            addr: start * granule,
            data,
        }
    });
    let erase_op = (0..sectors, 1u32..3).prop_map(move |(start, count)| FlashOp::Erase {
        addr: start * sector_size,
        len: count.min(sectors - start) * sector_size,
    });
    prop_oneof![3 => program_op, 1 => erase_op]
}

fn step_strategy(profile: FlashProfile) -> impl Strategy<Value = Step> {
    (op_strategy(profile), proptest::option::of(0u64..1200), any::<u64>()).prop_map(|(op, cut_permille, cut_seed)| {
        Step {
            op,
            cut_permille,
            cut_seed,
        }
    })
}

fn history_strategy() -> impl Strategy<Value = (usize, u64, Vec<Step>)> {
    (0usize..3, any::<u64>()).prop_flat_map(|(index, seed)| {
        let steps = proptest::collection::vec(step_strategy(profile_by_index(index)), 1..40);
        (Just(index), Just(seed), steps)
    })
}

fn run_step(flash: &mut NorFlash, step: &Step) {
    match step.cut_permille {
        Some(permille) => {
            let elapsed = flash.duration_us(&step.op) * permille / 1000;
            flash.apply_cut(&step.op, elapsed, step.cut_seed);
        }
        None => {
            let _ = flash.apply(&step.op);
        }
    }
}

fn raised_bits_outside(before: &[u8], after: &[u8], erased: Option<(u32, u32)>) -> Vec<usize> {
    before
        .iter()
        .zip(after)
        .enumerate()
        .filter(|(i, _)| match erased {
            Some((addr, len)) => !(addr as usize..(addr + len) as usize).contains(i),
            None => true,
        })
        .filter(|(_, (&b, &a))| a & !b != 0)
        .map(|(i, _)| i)
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn only_erase_turns_a_zero_into_a_one((index, seed, steps) in history_strategy()) {
        let mut flash = NorFlash::new(profile_by_index(index), seed);
        for step in &steps {
            let before = flash.raw().to_vec();
            run_step(&mut flash, step);
            let erased = match &step.op {
                FlashOp::Erase { addr, len } => Some((*addr, *len)),
                // A replaced word is erased before it is programmed.
                FlashOp::ReplaceWord { addr, data } => Some((*addr, data.len() as u32)),
                FlashOp::Program { .. } => None,
            };
            let raised = raised_bits_outside(&before, flash.raw(), erased);
            prop_assert!(raised.is_empty(), "{:?} raised bytes {:?}", step, raised);
            let mut buf = vec![0; 64];
            let _ = flash.read(step.op.addr().min(flash.raw().len() as u32 - 64), &mut buf);
        }
    }

    #[test]
    fn cut_at_zero_is_nothing_and_cut_at_the_end_is_apply(
        (index, seed, steps) in history_strategy(),
        overshoot in 0u64..50,
        cut_seed in any::<u64>(),
    ) {
        let mut flash = NorFlash::new(profile_by_index(index), seed);
        let (last, history) = steps.split_last().expect("at least one step");
        for step in history {
            run_step(&mut flash, step);
        }
        let op = &last.op;

        let mut untouched = flash.clone();
        let report = untouched.apply_cut(op, 0, cut_seed);
        prop_assert!(matches!(report.outcome, TornOutcome::NotStarted | TornOutcome::Rejected));
        prop_assert_eq!(report.bits_changed, 0);
        prop_assert_eq!(untouched.raw(), flash.raw());
        prop_assert_eq!(untouched.state_hash(), flash.state_hash());
        prop_assert_eq!(untouched.anomalies(), flash.anomalies());

        let mut applied = flash.clone();
        let mut cut_late = flash.clone();
        let result = applied.apply(op);
        let duration = cut_late.duration_us(op);
        let report = cut_late.apply_cut(op, duration + overshoot, cut_seed);
        prop_assert_eq!(result.clone().err(), report.error.clone());
        if result.is_ok() {
            prop_assert_eq!(report.outcome, TornOutcome::Completed);
        }
        prop_assert_eq!(applied.raw(), cut_late.raw());
        prop_assert_eq!(applied.state_hash(), cut_late.state_hash());
        let size = applied.raw().len();
        prop_assert_eq!(read_vec(&mut applied, 0, size), read_vec(&mut cut_late, 0, size));
    }
}

/// A copy into a flash that went its own way since the last copy ends byte for byte and
/// anomaly for anomaly equal to its source, though it copies only the sectors that differ.
#[test]
fn copy_from_skips_only_sectors_that_hold_the_same_bytes() {
    use cutpoint_sim::profile::FlashProfile;
    use cutpoint_sim::{FlashOp, NorFlash};
    let profile = FlashProfile::nrf52840();
    let s = profile.sector_size;
    let mut source = NorFlash::new(profile, 3);
    source.load(0, &[0x11; 64]);
    source.load(2 * s, &[0x22; 64]);
    let mut spare = source.clone();
    // The spare changes sectors 0 (erased), 3 (loaded) and 5 (torn erase)...
    spare.apply(&FlashOp::Erase { addr: 0, len: s }).unwrap();
    spare.load(3 * s, &[0x33; 16]);
    spare.apply_cut(&FlashOp::Erase { addr: 5 * s, len: s }, 40_000, 9);
    // ...the source sector 1 and 2.
    source
        .apply(&FlashOp::Program {
            addr: s,
            data: vec![0x44; 8],
        })
        .unwrap();
    source.apply_cut(
        &FlashOp::Program {
            addr: 2 * s + 64,
            data: vec![0; 32],
        },
        100,
        4,
    );
    spare.copy_from(&source);
    assert!(spare.raw() == source.raw(), "the bytes differ after the copy");
    assert_eq!(spare.state_hash(), source.state_hash());
    assert_eq!(spare.anomalies(), source.anomalies());
    // And a fresh flash of the same part shares no sector with it.
    let mut other = NorFlash::new(FlashProfile::nrf52840(), 3);
    other.copy_from(&source);
    assert!(other.raw() == source.raw());
}

/// A part with mixed sector sizes, as an STM32F4 bank is laid out: two small sectors, one
/// twice as big, one four times as big, each with its own erase time.
fn mixed() -> FlashProfile {
    use cutpoint_sim::profile::SectorRun;
    FlashProfile {
        name: "tiny-mixed".into(),
        size: 8 * SECTOR,
        sector_size: 4 * SECTOR,
        sector_map: vec![
            SectorRun::new(2, SECTOR, 100),
            SectorRun::new(1, 2 * SECTOR, 250),
            SectorRun::new(1, 4 * SECTOR, 600),
        ],
        ..mcu()
    }
}

#[test]
fn mixed_sectors_erase_whole_sectors_in_their_own_times() {
    let p = mixed();
    p.validate().unwrap();
    let f = NorFlash::new(p, 1);
    // Each sector at its own datasheet time; an erase of several adds them up.
    assert_eq!(f.duration_us(&erase(0, SECTOR)), 100);
    assert_eq!(f.duration_us(&erase(2 * SECTOR, 2 * SECTOR)), 250);
    assert_eq!(f.duration_us(&erase(4 * SECTOR, 4 * SECTOR)), 600);
    assert_eq!(f.duration_us(&erase(0, 8 * SECTOR)), 1050);
    // Only whole sectors erase: half of the 2-sector one, or a range that ends inside the big
    // one, is refused; so is a uniform-looking range that crosses a boundary.
    for (addr, len) in [(2 * SECTOR, SECTOR), (0, 5 * SECTOR), (SECTOR, 2 * SECTOR)] {
        assert!(
            matches!(f.check(&erase(addr, len)), Err(NorError::Misaligned { .. })),
            "{addr:#x}+{len:#x}: {:?}",
            f.check(&erase(addr, len))
        );
    }
    f.check(&erase(SECTOR, 3 * SECTOR)).unwrap();
}

#[test]
fn a_cut_erase_of_mixed_sectors_tears_only_the_sector_in_flight() {
    let mut f = NorFlash::new(mixed(), 3);
    f.load(0, &vec![0u8; 8 * SECTOR as usize]);
    let op = erase(0, 8 * SECTOR);
    // 100 + 100 done, 250 of the 2-sector one done, 300 of 600 into the big one.
    let report = f.apply_cut(&op, 750, 9);
    assert_eq!(report.steps_done, 3, "{report:?}");
    let in_flight = report.in_flight.expect("a sector in flight");
    assert_eq!((in_flight.addr, in_flight.len), (4 * SECTOR, 4 * SECTOR), "{report:?}");
    let raw = f.raw();
    assert!(
        raw[..4 * SECTOR as usize].iter().all(|&b| b == 0xFF),
        "finished sectors erased"
    );
    let big = &raw[4 * SECTOR as usize..];
    assert!(big.iter().any(|&b| b != 0xFF), "the torn sector is not fully erased");
    // A cut inside the first small sector leaves every later sector as it was.
    let mut g = NorFlash::new(mixed(), 3);
    g.load(0, &vec![0u8; 8 * SECTOR as usize]);
    let report = g.apply_cut(&op, 40, 9);
    assert_eq!((report.steps_done, report.in_flight.map(|s| s.len)), (0, Some(SECTOR)));
    assert!(g.raw()[SECTOR as usize..].iter().all(|&b| b == 0));
    // An erase of the same sectors as two operations ends in the same bytes as one.
    let mut a = NorFlash::new(mixed(), 3);
    let mut b = a.clone();
    a.apply(&op).unwrap();
    b.apply(&erase(0, 4 * SECTOR)).unwrap();
    b.apply(&erase(4 * SECTOR, 4 * SECTOR)).unwrap();
    assert_eq!(a.state_hash(), b.state_hash());
}
