//! The run's CPU per stage tells the simulated device's own work (its firmware and flash from
//! each power-on of the cut loop) from the rig's: the figure the speed of the rig is judged on.

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use cutpoint_engine::engine::{self, RunSpec};
use cutpoint_engine::setup::sim_setup;
use cutpoint_engine::stages::Stage;
use cutpoint_engine::target::Target;

#[test]
fn the_simulated_devices_runs_are_their_own_stage_and_the_board_keeps_the_rest() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../campaigns/smoke.toml");
    let c =
        cutpoint_campaign::load_campaign(&path).unwrap_or_else(|e| panic!("{}", cutpoint_campaign::format_errors(&e)));
    let setup = sim_setup(&c, 1).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let spec = RunSpec::whole(&c, tmp.path().join("run"), setup.expect.clone(), setup.update_size);
    let before = setup.target.device_cpu_ns();
    let outcome = engine::run(
        &setup.target,
        &spec,
        &mut cutpoint_engine::sink::ignore(),
        &AtomicBool::new(false),
    )
    .unwrap();
    let device = outcome.stages.get(Stage::Device);
    assert!(device > Duration::ZERO, "{}", outcome.stages);
    // The control run's device time stays in planning: the stage holds the cut loop's alone.
    let all = Duration::from_nanos(setup.target.device_cpu_ns() - before);
    assert!(device < all, "{} of {all:?}", outcome.stages);
    assert!(outcome.stages.to_string().contains(", device "), "{}", outcome.stages);
}
