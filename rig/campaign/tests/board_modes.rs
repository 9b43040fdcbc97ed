//! A board whose flash map a mode cannot run on is a located campaign error (file, line,
//! column, field, what to do), never a crash: embassy-boot is built for erase and write sizes
//! the STM32H7 does not have, and the STM32F4's 128 KiB scratch area cannot hold the two record
//! sectors of an A/B scheme. Every MCUboot mode loads on the STM32F4, the nRF5340 and the
//! STM32H7 (its 32-byte flash words take BOOT_MAX_ALIGN 32).

use std::path::Path;

use cutpoint_campaign::{format_errors, parse_campaign};

const PHASES: &str = r#"
[[phases]]
name = "download"
start = 'ota: download-start'
end = 'ota: download-done'
offsets = { fixed = ["start"] }
"#;

fn campaign(board: &str, mode: &str) -> String {
    format!("name = \"b\"\n\n[target]\nboard = \"{board}\"\nmode = \"{mode}\"\n{PHASES}")
}

fn error_of(board: &str, mode: &str) -> String {
    match parse_campaign(&campaign(board, mode), Path::new("campaigns/profiles/bad.toml")) {
        Ok(_) => panic!("{board} {mode} unexpectedly accepted"),
        Err(e) => format_errors(&e),
    }
}

#[test]
fn every_mcuboot_mode_loads_on_the_stm32f4_and_the_nrf5340() {
    for board in ["stm32f4", "nrf5340"] {
        for mode in ["swap-scratch", "overwrite", "swap-move", "swap-offset"] {
            let c = parse_campaign(&campaign(board, mode), Path::new("campaigns/ok.toml"))
                .unwrap_or_else(|e| panic!("{board} {mode}: {}", format_errors(&e)));
            assert_eq!(c.target.mode.name(), mode);
        }
    }
}

#[test]
fn every_mcuboot_mode_loads_on_the_stm32h7() {
    for mode in ["swap-scratch", "overwrite", "swap-move", "swap-offset", "direct-xip"] {
        let c = parse_campaign(&campaign("stm32h7", mode), Path::new("campaigns/ok.toml"))
            .unwrap_or_else(|e| panic!("stm32h7 {mode}: {}", format_errors(&e)));
        assert_eq!(c.target.mode.name(), mode);
    }
}

#[test]
fn embassy_boot_on_the_stm32h7_is_an_error_at_the_mode() {
    let e = error_of("stm32h7", "embassy-boot");
    // Line 5, after `mode = "`: the value the user must change.
    assert!(
        e.starts_with("campaigns/profiles/bad.toml:5:8: target.mode: the stm32h7 board's flash map does not fit"),
        "{e}"
    );
    assert!(e.contains("GeometryUnsupported"), "{e}");
    assert!(e.contains("choose another board or mode"), "{e}");
    insta::assert_snapshot!("stm32h7_embassy_boot", e);
}

#[test]
fn an_ab_scheme_on_the_stm32f4_scratch_is_an_error_at_the_mode() {
    let e = error_of("stm32f4", "esp-idf");
    assert!(e.starts_with("campaigns/profiles/bad.toml:5:8: target.mode:"), "{e}");
    assert!(e.contains("ScratchTooSmall"), "{e}");
}

#[test]
fn a_mode_that_runs_from_the_secondary_is_an_error_where_the_secondary_is_on_the_external_nor() {
    // MCUboot swap-scratch, swap-move, swap-offset and overwrite copy the image into the primary
    // slot, so the secondary may sit on the nRF52840 DK's QSPI NOR.
    for mode in ["swap-scratch", "overwrite", "swap-move", "swap-offset"] {
        let c = parse_campaign(&campaign("nrf52840-qspi", mode), Path::new("campaigns/ok.toml"))
            .unwrap_or_else(|e| panic!("nrf52840-qspi {mode}: {}", format_errors(&e)));
        assert_eq!(c.target.mode.name(), mode);
    }
    // Direct-XIP and the A/B schemes run each image from the slot it was written to.
    for mode in ["direct-xip", "esp-idf", "redundant-copies", "atomic-word"] {
        let e = error_of("nrf52840-qspi", mode);
        assert!(
            e.starts_with(
                "campaigns/profiles/bad.toml:5:8: target.mode: the nrf52840-qspi board's flash map does not fit"
            ),
            "{e}"
        );
        assert!(e.contains("SecondaryNotExecutable"), "{e}");
        assert!(e.contains("external serial NOR"), "{e}");
        assert!(e.contains("choose another board or mode"), "{e}");
    }
}
