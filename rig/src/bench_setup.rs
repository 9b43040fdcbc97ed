//! A station campaign, read without touching the hardware: the station's backends, the
//! device's flash map, and what the bench target runs.

use cutpoint_campaign::{self as campaign, Campaign, Health, TargetKind};
use cutpoint_engine::judge::Expectations;
use cutpoint_engine::setup::{campaign_key, check_images, expectations, load_image, SetupError};

use crate::bench_target::{station_backends, BenchConfig};
use crate::flash_map::{apply_station_map, station_board, station_map};

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
/// tables, the device's flash map (the simulated board profile that the station's
/// `[target] board`, `[target] chip` or probe `chip` names), the images, timing and markers.
pub fn bench_setup(c: &Campaign) -> Result<BenchSetup, SetupError> {
    let TargetKind::Station { station, .. } = &c.target.kind else {
        return Err(input(
            c,
            "target: this campaign runs on the simulated board, not on a station",
        ));
    };
    let backends = station_backends(station)
        .map_err(|errors| input(c, format!("target.station: {}", campaign::format_errors(&errors))))?;
    let station_file = station.path.display();
    if backends.probe.is_none() {
        return Err(input(
            c,
            format!(
                "target.station: {station_file} has no [probe]; a campaign needs one to restore the baseline and read the slots"
            ),
        ));
    }
    if c.run.fault != campaign::FaultKind::PowerCut {
        return Err(input(
            c,
            format!(
                "run.fault: a station cuts the supply; fault = \"{}\" needs the simulated board",
                c.run.fault
            ),
        ));
    }
    let map = station_map(station).map_err(|e| input(c, format!("target.station: {e}")))?;
    let profile =
        station_board(station, backends.probe.as_ref()).map_err(|e| input(c, format!("target.station: {e}")))?;
    let mut backends = backends;
    apply_station_map(&mut backends, &map);
    let old = load_image(c, &c.images.baseline, "baseline", &profile.name, &profile.layout)?;
    let new = load_image(c, &c.images.update, "update", &profile.name, &profile.layout)?;
    let (key, key_name) = campaign_key(c)?;
    check_images(c, [("baseline", &old), ("update", &new)], &key, &key_name, false)?;
    let expect = expectations(c, &old, &new, profile.layout, key);
    let config = BenchConfig {
        name: station.name.clone(),
        layout: profile.layout,
        baseline: old.bytes.clone(),
        restore: station.restore,
        update: new.bytes.clone(),
        retrigger: c.images.update.health() == Health::Ok,
        dwell: cutpoint_bench::config::millis(c.effective_dwell_ms()),
        boot_timeout: cutpoint_bench::config::millis(c.run.boot_timeout_ms),
        settle_timeout: cutpoint_bench::config::millis(c.run.settle_timeout_ms),
        max_boots: c.run.max_boots,
        markers: c.markers.clone(),
    };
    Ok(BenchSetup {
        station: backends,
        config,
        expect,
        update_size: new.bytes.len() as u64,
    })
}
