//! A scheme defined here, outside the firmware crate, registered through the registry's public
//! API alone and swept on the simulated board: every flash operation of the update cut before,
//! inside and after, and every recovered board must boot the old or the new image (only the new
//! one once the scheme says the update committed) and then settle on the new one.
//!
//! The toy is an "atomic copy" scheme: the application raises a request as one word at the start
//! of the scratch area; the bootloader validates the secondary image, copies it over the primary
//! sector by sector, and only then erases the word. A cut anywhere leaves either the request
//! (the copy starts over from an intact source) or a complete primary image.

use std::collections::HashMap;
use std::sync::Arc;

use cutpoint_sim::board::{BootResult, CutAt, CutPlan, FaultKind, OpPoint, RunEnd, RunOptions, SimBoard};
use cutpoint_sim::replay::{Cursor, Recording};
use cutpoint_sim::scenario::Scenario;
use cutpoint_sim::BoardProfile;
use fut::app::AppConfig;
use fut::boot::{ops, BootConfig};
use fut::hal::{FlashError, Hal};
use fut::image::{self, Version};
use fut::layout::{Layout, LayoutError, Role};
use fut::scheme::{AppBoot, CommitPoint, Mode, Registry, Scheme, Upgrade};
use fut::FwError;

/// The request word.
const REQUEST: u32 = 0x5afe_c0de;

struct AtomicCopy;

static TOY: AtomicCopy = AtomicCopy;

impl AtomicCopy {
    /// The request word as every read sees it (a bit that reads 0 once was programmed).
    fn request_raised(hal: &mut dyn Hal, layout: &Layout) -> Result<bool, FwError> {
        let mut word = u32::MAX;
        for _ in 0..16 {
            let mut b = [0u8; 4];
            match hal.read(layout.scratch.offset, &mut b) {
                Ok(()) => word &= u32::from_le_bytes(b),
                Err(FlashError::Uncorrectable { .. }) => return Ok(false),
                Err(e) => return Err(e.into()),
            }
        }
        Ok(word == REQUEST)
    }

    fn clear_request(hal: &mut dyn Hal, layout: &Layout) -> Result<(), FwError> {
        hal.erase(layout.scratch.offset, layout.sector_size)?;
        Ok(())
    }

    fn say(hal: &mut dyn Hal, line: &str) {
        hal.write_line(line);
    }
}

impl Scheme for AtomicCopy {
    fn name(&self) -> &'static str {
        "atomic-copy"
    }

    fn can_revert(&self) -> bool {
        false
    }

    fn regions(&self) -> &'static [Role] {
        &[Role::Primary, Role::Secondary, Role::Scratch]
    }

    fn check_layout(&self, layout: &Layout) -> Result<(), LayoutError> {
        layout.validate()
    }

    fn commit_point(&self, _upgrade: Upgrade) -> CommitPoint {
        CommitPoint::Installed
    }

    fn boot(&self, hal: &mut dyn Hal, cfg: &BootConfig) -> Result<(), FwError> {
        let l = cfg.layout;
        if !Self::request_raised(hal, &l)? {
            return Ok(());
        }
        let Ok(info) = image::validate(hal, l.secondary, &cfg.key) else {
            Self::clear_request(hal, &l)?;
            Self::say(hal, "boot: request-dropped slot=secondary");
            return Ok(());
        };
        let size = info.total_size.min(l.max_image_size());
        let sectors = size.div_ceil(l.sector_size);
        Self::say(hal, "boot: copy-start");
        for n in 0..sectors {
            let off = n * l.sector_size;
            hal.erase(l.primary.offset + off, l.sector_size)?;
            ops::copy(hal, l.secondary.offset + off, l.primary.offset + off, l.sector_size)?;
        }
        Self::say(hal, "boot: copy-done");
        Self::clear_request(hal, &l)
    }

    fn app_boot(&self, _hal: &mut dyn Hal, _cfg: &AppConfig) -> Result<AppBoot, FwError> {
        Ok(AppBoot::default())
    }

    fn confirm(&self, _hal: &mut dyn Hal, _cfg: &AppConfig, _me: Version) -> Result<(), FwError> {
        Ok(())
    }

    fn prepare_download(&self, _hal: &mut dyn Hal, _cfg: &AppConfig) -> Result<(), FwError> {
        Ok(())
    }

    fn request(&self, hal: &mut dyn Hal, cfg: &AppConfig) -> Result<(), FwError> {
        let l = cfg.layout;
        let mut b = [0u8; 4];
        let blank = hal.read(l.scratch.offset, &mut b).is_ok() && b == [0xff; 4];
        if !blank {
            Self::clear_request(hal, &l)?;
        }
        let mut word = [0xffu8; 8];
        word[..4].copy_from_slice(&REQUEST.to_le_bytes());
        let w = (l.write_size as usize).clamp(4, word.len());
        hal.write(l.scratch.offset, &word[..w])?;
        Ok(())
    }
}

fn jumps(r: &cutpoint_sim::RunLog) -> Vec<String> {
    r.boots
        .iter()
        .filter_map(|b| match &b.result {
            BootResult::Jump { version, .. } => Some(version.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_toy_scheme_registered_from_outside_survives_every_cut() {
    let extra: [&'static dyn Scheme; 1] = [&TOY];
    let registry = Registry::with_extra(&extra);
    assert!(registry.names().any(|n| n == "swap-scratch"), "the built-in ones stay");
    let mode: Mode = registry.find("atomic-copy").expect("registered");
    assert!(!mode.can_revert());

    let mut s = Scenario::new(BoardProfile::builtin("nrf52840").unwrap(), 32);
    s.mode = mode;
    let (old, new) = (s.old_version.to_string(), s.new_version.to_string());

    let log = s.board().run(RunOptions {
        record_data: true,
        ..RunOptions::default()
    });
    assert_eq!(log.end, RunEnd::Idle, "control run");
    assert_eq!(jumps(&log).last(), Some(&new), "the control run installs the update");
    assert_eq!(log.console[0].text, "boot: start mode=atomic-copy variant=reference");
    // The scheme's commit point: the copy is complete.
    assert_eq!(mode.scheme().commit_point(Upgrade::Test), CommitPoint::Installed);
    let commit_us = log
        .console
        .iter()
        .find(|l| l.text == "boot: copy-done")
        .map(|l| l.t_us)
        .expect("the control run copies");

    let rec = Arc::new(Recording {
        baseline: s.baseline_flash(),
        log,
    });
    let mut cursor = Cursor::new(rec.clone());
    let mut verdicts: HashMap<(u64, bool), Option<String>> = HashMap::new();
    let mut failures = Vec::new();
    let mut cuts = 0;
    let points = [
        OpPoint::Before,
        OpPoint::Inside { ppm: 300_000 },
        OpPoint::Inside { ppm: 700_000 },
        OpPoint::After,
    ];
    for i in 0..rec.log.ops.len() as u64 {
        for point in points {
            let plan = CutPlan {
                at: CutAt::Op { index: i, point },
                kind: FaultKind::PowerCut,
                seed: i * 31 + 7,
            };
            let (flash, landing) = cursor.post_cut(&plan);
            let committed = landing.actual_us >= commit_us;
            cuts += 1;
            let verdict = verdicts
                .entry((flash.state_hash(), committed))
                .or_insert_with(|| {
                    let r = SimBoard::new(flash, s.firmware(), Some(s.update())).run(RunOptions::default());
                    let booted = jumps(&r);
                    let Some(first) = booted.first() else {
                        return Some(format!("nothing booted: {:?}", r.end));
                    };
                    if *first != new && (committed || *first != old) {
                        return Some(format!("first boot ran {first} (committed: {committed})"));
                    }
                    if r.end != RunEnd::Idle || booted.last() != Some(&new) {
                        return Some(format!("settled {:?} on {:?}", r.end, booted.last()));
                    }
                    None
                })
                .clone();
            if let Some(why) = verdict {
                failures.push(format!("op {i} {point:?}: {why}"));
            }
        }
    }
    assert!(cuts > 200, "{cuts} cuts");
    assert!(
        failures.is_empty(),
        "{} failures: {:#?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
}
