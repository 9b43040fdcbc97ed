//! The shipped overwrite-only campaigns through the engine and the pass rule on the simulated
//! nRF52840: the reference passes every cut of the smoke and of the exhaustive matrix (every
//! flash operation of the request and of the install, before, at 10, 50 and 90 % and after).

#[path = "support/sim_run.rs"]
mod sim_run;

fn passes(rel: &str, min_cuts: usize) {
    assert_eq!(
        sim_run::shipped(rel).target.mode.name(),
        "overwrite",
        "{rel}: a campaign of the overwrite folder"
    );
    sim_run::assert_shipped_passes(rel, min_cuts);
}

#[test]
fn overwrite_smoke_passes() {
    passes("overwrite/smoke", 25);
}

#[test]
fn overwrite_exhaustive_passes_every_flash_operation() {
    passes("overwrite/exhaustive", 800);
}
