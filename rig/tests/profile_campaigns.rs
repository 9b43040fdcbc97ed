//! The shipped campaigns of campaigns/profiles/ through the engine and the pass rule: every
//! MCUboot mode on the simulated STM32F4 (16, 64 and 128 KiB sectors) and nRF5340 passes every
//! cut before, inside and after each flash operation of its request, install and confirmation.

#[path = "support/sim_run.rs"]
mod sim_run;

fn passes(rel: &str, min_cuts: usize) {
    sim_run::assert_shipped_passes(rel, min_cuts);
}

#[test]
fn every_mcuboot_mode_passes_on_the_stm32f4() {
    passes("profiles/stm32f4-swap-scratch", 1000);
    passes("profiles/stm32f4-overwrite", 300);
    passes("profiles/stm32f4-swap-move", 1000);
    passes("profiles/stm32f4-swap-offset", 700);
}

#[test]
fn every_mcuboot_mode_passes_on_the_nrf5340() {
    passes("profiles/nrf5340-swap-scratch", 300);
    passes("profiles/nrf5340-overwrite", 90);
    passes("profiles/nrf5340-swap-move", 250);
    passes("profiles/nrf5340-swap-offset", 200);
}
