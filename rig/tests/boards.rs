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

#[test]
fn boards_lists_the_two_devices_of_the_nrf52840_dk_and_where_each_region_lives() {
    let out = Command::new(env!("CARGO_BIN_EXE_cutpoint"))
        .arg("boards")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    let start = text.find("nrf52840-qspi: ").expect("the board is listed");
    let block: Vec<&str> = text[start..].lines().take_while(|l| !l.contains("modes:")).collect();
    let block = block.join("\n");
    assert!(block.starts_with("nrf52840-qspi: 9216 KiB flash"), "{block}");
    assert!(
        block.contains("device nrf52840 at 0x000000: 1024 KiB, 256 sectors of 4 KiB erased in 85 ms"),
        "{block}"
    );
    assert!(
        block.contains(
            "device mx25r6435f at 0x100000: 8192 KiB, 2048 sectors of 4 KiB erased in 48 ms, writes of 1 B in 256 B program units of 896 us"
        ),
        "{block}"
    );
    assert!(
        block.contains("primary    0x010000   952 KiB  sectors 4 KiB on nrf52840"),
        "{block}"
    );
    assert!(
        block.contains("secondary  0x100000   952 KiB  sectors 4 KiB on mx25r6435f"),
        "{block}"
    );
    let modes = text[start..]
        .lines()
        .find(|l| l.trim_start().starts_with("modes:"))
        .unwrap();
    assert!(
        modes.contains("swap-scratch, overwrite, swap-move, swap-offset, esp-idf (no:"),
        "{modes}"
    );
    assert!(
        modes.contains("direct-xip (no: the mode runs images from the secondary slot"),
        "{modes}"
    );
}
