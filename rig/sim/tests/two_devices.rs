//! A flash of two devices in one address map (the nRF52840 DK: the nRF52840's own flash at 0,
//! the MX25R6435F QSPI NOR at 1 MiB): each device programs, erases, tears and limits writes by
//! its own datasheet, an operation never crosses from one into the other, and the part's
//! physics behind the same operations is what the firmware and the engine see.

use cutpoint_sim::flash::{FlashOp, NorError, NorFlash, TornOutcome};
use cutpoint_sim::profile::{FlashProfile, ProfileError};
use cutpoint_sim::BoardProfile;

const KIB: u32 = 1024;
const MIB: u32 = 1024 * KIB;
/// Where the external NOR starts in the address map.
const EXT: u32 = MIB;

fn program(addr: u32, data: &[u8]) -> FlashOp {
    FlashOp::Program {
        addr,
        data: data.to_vec(),
    }
}

fn erase(addr: u32, len: u32) -> FlashOp {
    FlashOp::Erase { addr, len }
}

fn part() -> NorFlash {
    let p = FlashProfile::nrf52840_qspi();
    p.validate().unwrap();
    NorFlash::new(p, 7)
}

#[test]
fn the_board_part_is_the_two_devices_one_after_the_other() {
    let p = FlashProfile::nrf52840_qspi();
    assert_eq!((p.size, p.sector_size, p.write_size), (9 * MIB, 4 * KIB, 4));
    let map: Vec<(u32, &str)> = p.device_map().into_iter().map(|(a, d)| (a, d.name.as_str())).collect();
    assert_eq!(map, [(0, "nrf52840"), (EXT, "mx25r6435f")]);
    assert_eq!(p.device_at(EXT - 1).unwrap().1.name, "nrf52840");
    assert_eq!(p.device_at(EXT).unwrap().1.name, "mx25r6435f");
    assert!(p.device_at(9 * MIB).is_none());
    assert_eq!(p.sector_count(), 256 + 2048);
    // The MX25R6435F's SFDP table: 256-byte pages in 896 us, 4 KiB sectors in 48 ms.
    let mx = FlashProfile::mx25r6435f();
    assert_eq!(
        (mx.size, mx.sector_size, mx.write_size, mx.program_unit),
        (8 * MIB, 4096, 1, 256)
    );
    assert_eq!((mx.program_unit_us, mx.erase_sector_us), (896, 48_000));
    assert_eq!(mx.max_programs_per_granule, None);
    // It round-trips, and a one-device part still writes no `devices`.
    let back: FlashProfile = serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
    assert_eq!(back, p);
    assert!(!serde_json::to_string(&FlashProfile::nrf52840())
        .unwrap()
        .contains("devices"));
}

#[test]
fn each_device_takes_its_own_time() {
    let f = part();
    // Internal: 4-byte words of 41 us each; external: one 256-byte page of 896 us.
    assert_eq!(f.duration_us(&program(0x1_0000, &[0; 256])), 64 * 41);
    assert_eq!(f.duration_us(&program(EXT, &[0; 256])), 896);
    assert_eq!(
        f.duration_us(&program(EXT + 0x80, &[0; 256])),
        2 * 896,
        "two pages touched"
    );
    assert_eq!(f.duration_us(&erase(0, 4096)), 85_000);
    assert_eq!(f.duration_us(&erase(EXT, 8192)), 2 * 48_000);
    assert_eq!(f.read_ns_per_byte(0), 8);
    assert_eq!(f.read_ns_per_byte(EXT), 63);
}

#[test]
fn an_operation_stays_on_one_device() {
    let mut f = part();
    let across = program(EXT - 4, &[0; 8]);
    assert!(
        matches!(f.check(&across), Err(NorError::OutOfBounds { .. })),
        "{:?}",
        f.check(&across)
    );
    assert!(f.apply(&across).is_err());
    assert_eq!(
        &f.raw()[(EXT - 4) as usize..(EXT + 4) as usize],
        &[0xFF; 8],
        "nothing written"
    );
    let across = erase(EXT - 4096, 8192);
    assert!(matches!(f.check(&across), Err(NorError::OutOfBounds { .. })));
    // A cut operation refused the same way changes nothing.
    let report = f.apply_cut(&program(EXT - 4, &[0; 8]), 10, 1);
    assert_eq!(report.outcome, TornOutcome::Rejected);
}

#[test]
fn each_device_aligns_and_limits_writes_by_its_own_rules() {
    let mut f = part();
    // Internal flash writes whole 32-bit words, at most twice between erases (nWRITE = 2).
    assert!(matches!(
        f.check(&program(0x10, &[0])),
        Err(NorError::Misaligned { .. })
    ));
    f.apply(&program(0x10, &[0xF0; 4])).unwrap();
    f.apply(&program(0x10, &[0x00; 4])).unwrap();
    assert_eq!(
        f.apply(&program(0x10, &[0x00; 4])),
        Err(NorError::TooManyPrograms { addr: 0x10 })
    );
    // The serial NOR writes single bytes, as often as bits only go from 1 to 0.
    for _ in 0..4 {
        f.apply(&program(EXT + 3, &[0x7F])).unwrap();
    }
    assert_eq!(f.raw()[(EXT + 3) as usize], 0x7F);
    assert_eq!(f.anomalies().reprogrammed_granules, 1, "only the internal word counts");
}

#[test]
fn a_cut_tears_the_unit_of_the_device_it_lands_on() {
    // Internal: a 32-bit word is in flight; external: a whole 256-byte page.
    let mut f = part();
    let r = f.apply_cut(&program(0x2_0000, &[0; 64]), 41 * 3 + 20, 5);
    let w = r.in_flight.unwrap();
    assert_eq!((w.addr, w.len, r.steps_total), (0x2_0000 + 12, 4, 16));
    let r = f.apply_cut(&program(EXT + 0x1000, &[0; 512]), 896 + 448, 5);
    let page = r.in_flight.unwrap();
    assert_eq!((page.addr, page.len, page.progress_permille), (EXT + 0x1100, 256, 500));
    assert_eq!(r.steps_total, 2);
    assert_eq!(
        &f.raw()[(EXT + 0x1000) as usize..(EXT + 0x1100) as usize],
        &[0; 256],
        "page 1 done"
    );
    // An erase cut late in its 48 ms leaves the sector erased but marginal.
    let mut f = part();
    f.apply(&program(EXT, &[0; 256])).unwrap();
    let r = f.apply_cut(&erase(EXT, 4096), 47_000, 9);
    assert_eq!((r.outcome, r.duration_us), (TornOutcome::Late, 48_000));
    assert_eq!(f.anomalies().marginal_sectors, 1);
}

#[test]
fn the_same_cut_on_the_same_state_leaves_the_same_flash() {
    let run = || {
        let mut f = part();
        f.apply(&program(EXT, &[0x55; 256])).unwrap();
        f.apply_cut(&erase(EXT, 4096), 20_000, 3);
        f.apply_cut(&program(0x3_0000, &[0; 32]), 100, 4);
        (
            f.state_hash(),
            f.memo_key(),
            f.raw()[EXT as usize..(EXT + 4096) as usize].to_vec(),
        )
    };
    assert_eq!(run(), run());
    let mut copy = NorFlash::new(FlashProfile::nrf52840_qspi(), 1);
    let mut f = part();
    f.apply(&program(EXT + 256, &[1; 256])).unwrap();
    copy.copy_from(&f);
    assert_eq!(copy.state_hash(), f.state_hash());
}

#[test]
fn a_part_of_devices_that_do_not_add_up_is_refused() {
    let mut p = FlashProfile::nrf52840_qspi();
    p.size -= 4096;
    assert!(
        matches!(p.validate(), Err(ProfileError::Devices { .. })),
        "{:?}",
        p.validate()
    );
    let mut p = FlashProfile::nrf52840_qspi();
    p.write_size = 1;
    assert!(p.validate().is_err());
    let mut p = FlashProfile::nrf52840_qspi();
    p.devices[1].devices = vec![FlashProfile::nrf52840()];
    assert!(p.validate().is_err());
}

#[test]
fn the_board_keeps_the_bootloader_and_primary_inside_and_the_secondary_outside() {
    let b = BoardProfile::builtin("nrf52840-qspi").unwrap();
    let l = b.layout;
    assert_eq!(l.validate(), Ok(()));
    assert!(l.primary.end() <= EXT && l.scratch.end() <= EXT);
    assert_eq!(l.secondary.offset, EXT);
    assert_eq!((l.primary.size, l.secondary.size), (952 * KIB, 952 * KIB));
    assert_eq!(b.device_name(l.primary.offset), Some("nrf52840"));
    assert_eq!(b.device_name(l.secondary.offset), Some("mx25r6435f"));
    assert!(b.is_external(l.secondary.offset) && !b.is_external(l.scratch.offset));
}
