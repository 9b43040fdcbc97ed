//! A firmware that panics on what it read is a device that crashed: the simulated board says so
//! on its console, records the fault and resets the part, and the run goes on to its end (here,
//! never settling). It must never take the rig down with it.

use cutpoint_sim::board::{BootResult, RunEnd, RunOptions};
use cutpoint_sim::scenario::Scenario;
use cutpoint_sim::BoardProfile;
use fut::app::AppConfig;
use fut::boot::BootConfig;
use fut::hal::Hal;
use fut::image::Version;
use fut::layout::{Layout, LayoutError, Role};
use fut::scheme::{AppBoot, CommitPoint, Mode, Scheme, Upgrade};
use fut::FwError;

/// Swap-scratch, except that one step divides by a count it took as never zero.
struct Divides {
    in_boot: bool,
}

static IN_REQUEST: Divides = Divides { in_boot: false };
static IN_BOOT: Divides = Divides { in_boot: true };

fn inner() -> &'static dyn Scheme {
    Mode::SWAP_SCRATCH.scheme()
}

/// A count the firmware believed could not be zero.
fn per_chunk(total: u32, chunks: u32) -> u32 {
    total / std::hint::black_box(chunks)
}

impl Scheme for Divides {
    fn name(&self) -> &'static str {
        "divides"
    }
    fn can_revert(&self) -> bool {
        inner().can_revert()
    }
    fn regions(&self) -> &'static [Role] {
        inner().regions()
    }
    fn check_layout(&self, layout: &Layout) -> Result<(), LayoutError> {
        inner().check_layout(layout)
    }
    fn commit_point(&self, upgrade: Upgrade) -> CommitPoint {
        inner().commit_point(upgrade)
    }
    fn boot(&self, hal: &mut dyn Hal, cfg: &BootConfig) -> Result<(), FwError> {
        if self.in_boot {
            let _ = per_chunk(cfg.layout.sector_size, 0);
        }
        inner().boot(hal, cfg)
    }
    fn app_boot(&self, hal: &mut dyn Hal, cfg: &AppConfig) -> Result<AppBoot, FwError> {
        inner().app_boot(hal, cfg)
    }
    fn confirm(&self, hal: &mut dyn Hal, cfg: &AppConfig, me: Version) -> Result<(), FwError> {
        inner().confirm(hal, cfg, me)
    }
    fn prepare_download(&self, hal: &mut dyn Hal, cfg: &AppConfig) -> Result<(), FwError> {
        inner().prepare_download(hal, cfg)
    }
    fn downloaded_chunk(&self, hal: &mut dyn Hal, cfg: &AppConfig, offset: u32) -> Result<(), FwError> {
        inner().downloaded_chunk(hal, cfg, offset)
    }
    fn request(&self, hal: &mut dyn Hal, cfg: &AppConfig) -> Result<(), FwError> {
        let _ = per_chunk(cfg.layout.sector_size, 0);
        inner().request(hal, cfg)
    }
}

fn run(scheme: &'static Divides) -> cutpoint_sim::RunLog {
    let mut s = Scenario::new(BoardProfile::builtin("nrf52840").unwrap(), 16);
    s.mode = Mode::of(scheme);
    s.board().run(RunOptions {
        max_boots: 4,
        ..RunOptions::default()
    })
}

#[test]
fn a_firmware_panic_is_a_device_crash_and_the_part_resets() {
    for (scheme, where_) in [(&IN_REQUEST, "app"), (&IN_BOOT, "bootloader")] {
        let log = run(scheme);
        assert_eq!(log.end, RunEnd::Unsettled, "{where_}: it panics at every boot");
        let said: Vec<_> = log
            .console
            .iter()
            .filter(|l| l.text.starts_with("board: firmware panic: "))
            .collect();
        assert_eq!(said.len(), 4, "{where_}: once per boot: {:?}", log.console);
        assert_eq!(said[0].text, "board: firmware panic: attempt to divide by zero");
        let faults = log
            .boots
            .iter()
            .filter(|b| matches!(&b.result, BootResult::Fault { error } if error == "panic: attempt to divide by zero"))
            .count();
        assert_eq!(
            faults, 4,
            "{where_}: each panic recorded as the boot's fault: {:?}",
            log.boots
        );
    }
}
