//! The shipped campaigns of campaigns/profiles/ through the engine and the pass rule: every
//! MCUboot mode on the simulated STM32F4 (16, 64 and 128 KiB sectors) and nRF5340 passes every
//! cut before, inside and after each flash operation of its request, install and confirmation.

#[path = "support/sim_run.rs"]
mod sim_run;

use cutpoint_campaign::{load_campaign, Expect};
use cutpoint_report::Status;
use sim_run::{run, shipped_path};

fn passes(rel: &str, min_cuts: usize) {
    let c = load_campaign(shipped_path(rel)).expect("campaign");
    assert_eq!(c.pass.expect, Expect::Pass, "{rel}");
    let r = run(&c);
    assert!(!r.control_failed, "{rel}: control run: {:?}", r.control_reasons());
    let failures = r.failures();
    assert!(
        failures.is_empty(),
        "{rel}: {} failing cuts, first: {:#?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    let cuts = r.journal.cuts.len();
    println!("{rel}: {cuts} cut points, all pass");
    assert!(cuts >= min_cuts, "{rel}: {cuts} cut points");
    assert_eq!(r.count(Status::Pass), cuts);
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
