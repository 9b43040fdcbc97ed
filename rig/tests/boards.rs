//! `cutpoint boards` lists every simulated board with its flash part, its map and the modes it
//! runs, naming why a mode cannot run where it cannot.

use std::process::Command;

#[test]
fn boards_lists_every_profile_with_its_sectors_and_modes() {
    let out = Command::new(env!("CARGO_BIN_EXE_cutpoint"))
        .arg("boards")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    for name in [
        "nrf52840", "stm32l4", "w25q128", "w25q32", "stm32f4", "stm32h7", "nrf5340",
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(&format!("{name}: "))),
            "{name}: {text}"
        );
    }
    // The STM32F4's mixed sectors with their erase times, and its scratch in the small ones.
    assert!(
        text.contains("stm32f4: 2048 KiB flash, sectors 4x16 KiB (250 ms), 1x64 KiB (550 ms), 7x128 KiB (1000 ms)"),
        "{text}"
    );
    assert!(
        text.contains("scratch    0x100000   128 KiB  sectors 16 KiB + 16 KiB + 16 KiB + 16 KiB + 64 KiB"),
        "{text}"
    );
    let modes = |board: &str| {
        let start = text.find(&format!("{board}: ")).unwrap();
        text[start..]
            .lines()
            .find(|l| l.trim_start().starts_with("modes:"))
            .unwrap()
            .to_string()
    };
    assert!(
        modes("stm32f4").contains("swap-scratch, overwrite, swap-move, swap-offset, esp-idf (no:"),
        "{text}"
    );
    // The STM32H7's 32-byte flash words: every MCUboot mode runs with BOOT_MAX_ALIGN 32.
    assert!(
        modes("stm32h7").contains("modes: swap-scratch, overwrite, swap-move, swap-offset, "),
        "{text}"
    );
    assert!(modes("stm32h7").contains(", direct-xip,"), "{text}");
    assert!(
        modes("stm32h7").contains("embassy-boot (no: the part's erase and write sizes"),
        "{text}"
    );
    assert!(!modes("nrf5340").contains("swap-move (no"), "{text}");
}
