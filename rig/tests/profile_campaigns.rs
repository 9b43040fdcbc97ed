//! The shipped campaigns of campaigns/profiles/ through the engine and the pass rule: every
//! MCUboot mode on the simulated STM32F4 (16, 64 and 128 KiB sectors), nRF5340 and STM32H7
//! (32-byte ECC flash words, BOOT_MAX_ALIGN 32) passes every cut before, inside and after each
//! flash operation of its request, install and confirmation.

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

#[test]
fn every_mcuboot_mode_passes_on_the_stm32h7() {
    passes("profiles/stm32h7-swap-scratch", 1000);
    passes("profiles/stm32h7-overwrite", 300);
    passes("profiles/stm32h7-swap-move", 1000);
    passes("profiles/stm32h7-swap-offset", 700);
    passes("profiles/stm32h7-direct-xip", 50);
}

#[test]
fn the_ecc_error_faults_build_is_caught_on_the_stm32h7() {
    let c = sim_run::shipped("known-bugs/ecc-error-faults");
    assert_eq!(c.pass.expect, cutpoint_campaign::Expect::Fail);
    let ran = sim_run::run(&c);
    let failures = ran.failures();
    println!(
        "known-bugs/ecc-error-faults: {} of {} cuts fail",
        failures.len(),
        ran.journal.cuts.len()
    );
    assert!(
        !failures.is_empty(),
        "the build that faults on an ECC error was not caught"
    );
    // The same campaign with the reference passes every cut: the failures are the variant's.
    let reference = sim_run::shipped_with("known-bugs/ecc-error-faults", |t| {
        t.replace("variant = \"ecc-error-faults\"", "variant = \"reference\"")
            .replace("expect = \"fail\"", "expect = \"pass\"")
    });
    let ran = sim_run::run(&reference);
    assert!(
        ran.failures().is_empty(),
        "{:#?}",
        &ran.failures()[..ran.failures().len().min(3)]
    );
}
