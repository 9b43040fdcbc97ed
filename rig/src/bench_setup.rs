//! A station campaign, read without touching the hardware: the station's backends (the hardware
//! crate's types) on top of the engine's station setup (flash map, images, expectations), and
//! what the bench target runs.

use cutpoint_campaign::{self as campaign, Campaign, Health, TargetKind};
use cutpoint_engine::judge::Expectations;
use cutpoint_engine::setup::SetupError;
use cutpoint_engine::station_setup::station_setup;

use crate::bench_target::{station_backends, BenchConfig};
use crate::flash_map::{apply_scheme, apply_station_map};

fn input(c: &Campaign, message: impl Into<String>) -> SetupError {
    SetupError::Input {
        file: c.path.display().to_string(),
        message: message.into(),
    }
}

/// A campaign on a station: the station's backends to open and what the bench runs.
pub struct BenchSetup {
    pub station: cutpoint_bench::StationBackends,
    pub config: BenchConfig,
    pub expect: Expectations,
    pub update_size: u64,
}

/// Reads what a station campaign needs, without touching the hardware: the station's backend
/// tables, then [`station_setup`] (the device's flash map, the images, timing and markers); the
/// probe and probe-write take their regions from the map, probe-write the image's place in its
/// slot from the campaign's scheme.
pub fn bench_setup(c: &Campaign) -> Result<BenchSetup, SetupError> {
    let TargetKind::Station { station, .. } = &c.target.kind else {
        return Err(input(
            c,
            "target: this campaign runs on the simulated board, not on a station",
        ));
    };
    let mut backends = station_backends(station)
        .map_err(|errors| input(c, format!("target.station: {}", campaign::format_errors(&errors))))?;
    let setup = station_setup(c)?;
    apply_station_map(&mut backends, &setup.map);
    apply_scheme(&mut backends, &setup.profile.layout, setup.expect.mode);
    let config = BenchConfig {
        name: station.name.clone(),
        layout: setup.profile.layout,
        baseline: setup.baseline,
        restore: station.restore,
        update: setup.update,
        retrigger: c.images.update.health() == Health::Ok,
        dwell: cutpoint_bench::config::millis(c.effective_dwell_ms()),
        boot_timeout: cutpoint_bench::config::millis(c.run.boot_timeout_ms),
        settle_timeout: cutpoint_bench::config::millis(c.run.settle_timeout_ms),
        max_boots: c.run.max_boots,
        markers: c.markers.clone(),
        unreadable: setup.expect.unreadable.iter().map(|(a, _)| *a).collect(),
        // The parts the engine's recovery rules guard, so the cut points compare with the
        // control run's read of the same parts.
        guarded: cutpoint_engine::engine::recovery_rules(&setup.expect).outside,
    };
    Ok(BenchSetup {
        station: backends,
        config,
        expect: setup.expect,
        update_size: setup.update_size,
    })
}
