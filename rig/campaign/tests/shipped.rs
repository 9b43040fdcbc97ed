//! The campaign files shipped in `campaigns/`: every one parses and validates, the known-bug
//! campaigns cover every broken variant, and every simulated campaign expands without error
//! on a recorded unfaulted run of its own target (snapshots of the resulting plans).

mod common;

use std::collections::HashSet;

use common::plan_summary::plan_summary;
use common::{campaigns_dir, recorded_for, toml_files};
use cutpoint_campaign::{
    check_file, expand_plan, format_errors, load_campaign, Aim, Campaign, Expect, FileKind, FlashRegion, Health, Mode,
    OpPoint, RegionSet, TargetKind, Upgrade, Variant,
};

fn shipped() -> Vec<(String, Campaign)> {
    let dir = campaigns_dir();
    let files = toml_files(&dir);
    assert!(!files.is_empty(), "no campaigns under {}", dir.display());
    files
        .iter()
        .map(|path| {
            let rel = path
                .strip_prefix(&dir)
                .expect("inside campaigns/")
                .with_extension("")
                .to_string_lossy()
                .replace('\\', "/");
            match load_campaign(path) {
                Ok(c) => (rel, c),
                Err(e) => panic!("{rel} does not validate:\n{}", format_errors(&e)),
            }
        })
        .collect()
}

#[test]
fn every_shipped_campaign_validates_and_checks() {
    let dir = campaigns_dir();
    for path in toml_files(&dir) {
        let summary = check_file(&path).unwrap_or_else(|e| panic!("{}:\n{}", path.display(), format_errors(&e)));
        assert_eq!(summary.kind, FileKind::Campaign, "{}", path.display());
    }
    let names: HashSet<String> = shipped().into_iter().map(|(rel, _)| rel).collect();
    for required in [
        "smoke",
        "nightly",
        "exhaustive",
        "revert",
        "trailer-faults",
        "trailer-faults-revert",
        "metadata-confirm",
        "metadata-perm",
        "metadata-overwrite",
        "metadata-revert",
        "metadata-revert-ecc",
        "max-image",
        "known-bugs/reference",
    ] {
        assert!(names.contains(required), "campaigns/{required}.toml is missing");
    }
}

#[test]
fn known_bug_campaigns_cover_every_broken_variant() {
    let all = shipped();
    for variant in Variant::ALL.iter() {
        let rel = format!("known-bugs/{}", variant.name());
        let (_, c) = all
            .iter()
            .find(|(r, _)| *r == rel)
            .unwrap_or_else(|| panic!("campaigns/{rel}.toml is missing"));
        let TargetKind::Simulated { variant: v, .. } = c.target.kind else {
            panic!("{rel}: must run on the simulated board");
        };
        assert_eq!(v, *variant, "{rel}: wrong variant");
        let expect = if *variant == Variant::Reference {
            Expect::Pass
        } else {
            Expect::Fail
        };
        assert_eq!(c.pass.expect, expect, "{rel}");
        let has = |phase: &str, pred: &dyn Fn(&cutpoint_campaign::Offsets) -> bool| {
            c.phase(phase).is_some_and(|p| pred(&p.offsets))
        };
        match variant {
            Variant::ConfirmAtBoot | Variant::TornMagicRevert => {
                assert_eq!(c.images.update.health(), Health::Fails, "{rel} needs a failing update")
            }
            Variant::OverwriteNoRollback => assert_eq!(c.target.mode, Mode::OVERWRITE, "{rel}"),
            Variant::EarlyTrailerMagic => assert!(
                has("download", &|o| o.bytes.is_some() || o.sectors.is_some()),
                "{rel} needs download cuts"
            ),
            Variant::NoSwapStatus
            | Variant::ScratchEraseForward
            | Variant::SingleSectorMetadata
            | Variant::StatusBeforeCopy => {
                assert!(has("swap", &|o| !o.every_op.is_empty()), "{rel} needs swap every_op")
            }
            Variant::StaleSwapRequest => {
                assert_eq!(c.target.upgrade, Upgrade::Perm, "{rel} needs a permanent upgrade");
                assert!(
                    has("after-install", &|o| !o.every_op.is_empty()),
                    "{rel} needs every_op after the install"
                )
            }
            Variant::IntegritySkipped | Variant::SignatureSkipped | Variant::KeyNotCompared => {
                assert!(c.refuses_update(), "{rel} needs an update the device must refuse")
            }
            Variant::OtadataRunningRewritten | Variant::OtadataSingleSector => {
                assert_eq!(c.target.mode.name(), "esp-idf", "{rel} runs the esp-idf scheme");
                assert_eq!(c.images.update.health(), Health::Fails, "{rel} needs a failing update");
                assert_eq!(
                    c.target.baseline_slot,
                    fut::layout::Slot::Secondary,
                    "{rel} starts from ota_1"
                )
            }
            Variant::ConfirmedOnOneRead => {
                assert!(
                    has("confirm", &|o| !o.every_op.is_empty()),
                    "{rel} needs confirm every_op"
                )
            }
            Variant::RevertConfirmInSecondary => {
                assert_eq!(c.target.mode, Mode::SWAP_MOVE, "{rel}");
                assert_eq!(c.images.update.health(), Health::Fails, "{rel} needs a failing update")
            }
            Variant::InvalidEraseForward => {
                assert!(c.refuses_update(), "{rel} needs an update the bootloader refuses");
                assert_eq!(c.target.delivery, cutpoint_campaign::Delivery::Upload, "{rel} uploads");
                assert!(has("drop", &|o| !o.every_op.is_empty()), "{rel} needs drop every_op")
            }
            Variant::TrailerInitSkipped | Variant::StaleHeaderAfterMove => {
                assert_eq!(c.target.mode, Mode::SWAP_MOVE, "{rel}");
                assert!(has("swap", &|o| !o.every_op.is_empty()), "{rel} needs swap every_op")
            }
            Variant::RedundantGenerationNoWrap => {
                assert_eq!(
                    c.target.mode.name(),
                    "redundant-copies",
                    "{rel} runs the redundant-copies scheme"
                );
                assert!(
                    c.target.prior_updates >= 84,
                    "{rel} must reach the counter's wrap through earlier updates"
                )
            }
            Variant::XipBootsUnconfirmed => {
                assert_eq!(c.target.mode, Mode::DIRECT_XIP, "{rel}");
                assert_eq!(c.images.update.health(), Health::Fails, "{rel} needs a failing update")
            }
            Variant::StaleHeaderAfterResume => {
                assert_eq!(c.target.mode, Mode::SWAP_SCRATCH, "{rel}");
                let kib = |i: &cutpoint_campaign::ImageSource| match i {
                    cutpoint_campaign::ImageSource::Generated { size_kib, .. } => Some(*size_kib),
                    cutpoint_campaign::ImageSource::File { .. } => None,
                };
                assert_ne!(
                    kib(&c.images.baseline),
                    kib(&c.images.update),
                    "{rel} needs images of different sizes"
                );
                assert!(
                    has("swap", &|o| o.sectors.is_some()),
                    "{rel} needs cuts inside the swap"
                )
            }
            Variant::EmbassyBootMagicRewrite => {
                assert_eq!(
                    c.target.mode.name(),
                    "embassy-boot",
                    "{rel} runs the embassy-boot scheme"
                );
                assert!(
                    has("mark-updated", &|o| !o.every_op.is_empty()),
                    "{rel} needs mark_updated every_op"
                )
            }
            Variant::RedundantBodyUnchecked => {
                assert_eq!(
                    c.target.mode.name(),
                    "redundant-copies",
                    "{rel} runs the redundant-copies scheme"
                );
                assert_eq!(
                    c.run.fault,
                    cutpoint_campaign::FaultKind::ZeroedTail,
                    "{rel} needs writes whose tail reads zeros"
                )
            }
            Variant::EmbassyBootDfuErasedBeforeBooted => {
                assert_eq!(
                    c.target.mode.name(),
                    "embassy-boot",
                    "{rel} runs the embassy-boot scheme"
                );
                assert!(
                    has("first-boot", &|o| !o.every_op.is_empty()),
                    "{rel} needs every_op in the first boot of the new image"
                )
            }
            Variant::AtomicWordUnchecked => {
                assert_eq!(c.target.mode.name(), "atomic-word", "{rel} runs the atomic-word scheme")
            }
            Variant::EccErrorFaults => {
                let TargetKind::Simulated { board, .. } = c.target.kind else {
                    unreachable!()
                };
                assert!(board.flash().ecc, "{rel} needs an ECC part");
                assert!(
                    has("request", &|o| !o.every_op.is_empty()),
                    "{rel} needs cuts inside the trailer writes"
                )
            }
            Variant::PendingClearedBeforeTarget => {
                assert_eq!(c.target.mode.name(), "pending-log", "{rel} runs the pending-log scheme");
                assert_eq!(c.images.update.health(), Health::Fails, "{rel} needs a failing update");
                assert_eq!(
                    c.target.baseline_slot,
                    fut::layout::Slot::Secondary,
                    "{rel} starts from slot b, where a lost target boots slot a"
                );
                assert!(
                    has("request", &|o| !o.every_op.is_empty()),
                    "{rel} needs request every_op"
                )
            }
            Variant::OtadataInvalidReboot => {
                assert_eq!(c.target.mode.name(), "esp-idf", "{rel} runs the esp-idf scheme");
                assert_eq!(
                    c.target.baseline_slot,
                    fut::layout::Slot::Primary,
                    "{rel} starts from blank otadata, where the bootloader writes the first entry"
                );
                assert!(
                    has("first-select", &|o| !o.every_op.is_empty()),
                    "{rel} needs every_op in the bootloader's first otadata write"
                )
            }
            Variant::Reference => {}
        }
    }
    // Every reference control passes, every other known-bug campaign must fail.
    for (rel, c) in all.iter().filter(|(r, _)| r.starts_with("known-bugs/")) {
        let TargetKind::Simulated { variant, .. } = c.target.kind else {
            continue;
        };
        assert_eq!(c.pass.expect == Expect::Pass, variant == Variant::Reference, "{rel}");
    }
}

#[test]
fn trailer_campaigns_cut_inside_writes_of_every_trailer() {
    let all = shipped();
    let mut touched = RegionSet::NONE;
    for name in [
        "trailer-faults",
        "trailer-faults-revert",
        "metadata-confirm",
        "metadata-perm",
        "metadata-overwrite",
        "metadata-revert",
        "metadata-revert-ecc",
    ] {
        let (_, c) = all.iter().find(|(r, _)| r == name).expect("shipped");
        let rec = recorded_for(c);
        let lines = rec.lines();
        let plan = expand_plan(c, &rec.timeline(&lines)).expect("expands");
        let mut inside = 0;
        for p in &plan.points {
            let Aim::Op { index, point } = p.aim else {
                panic!("{name}: {} is not aimed at a flash operation", p.id);
            };
            let op = rec.ops.iter().find(|o| o.index == index).expect("recorded operation");
            assert!(
                op.regions.iter().any(|r| r.name().ends_with("-trailer")),
                "{name}: {} touches no trailer ({})",
                p.id,
                op.regions
            );
            touched = op.regions.iter().fold(touched, |mut t, r| {
                t.insert(r);
                t
            });
            inside += usize::from(matches!(point, OpPoint::Inside { .. }));
        }
        assert!(inside * 2 > plan.points.len(), "{name}: mostly torn writes");
    }
    for r in [
        FlashRegion::PrimaryTrailer,
        FlashRegion::SecondaryTrailer,
        FlashRegion::ScratchTrailer,
    ] {
        assert!(touched.contains(r), "no cut in a write of the {}", r.name());
    }
}

#[test]
fn smoke_is_small_and_covers_the_good_update() {
    let (_, smoke) = shipped().into_iter().find(|(r, _)| r == "smoke").expect("smoke");
    assert_eq!(smoke.images.update.health(), Health::Ok);
    let rec = recorded_for(&smoke);
    let lines = rec.lines();
    let plan = expand_plan(&smoke, &rec.timeline(&lines)).expect("smoke expands");
    assert!((40..=80).contains(&plan.points.len()), "{} points", plan.points.len());
    for phase in [
        "download",
        "verify",
        "request",
        "integrity",
        "swap",
        "first-boot",
        "confirm",
    ] {
        assert!(
            plan.points.iter().any(|p| p.phase == phase),
            "smoke has no cut in {phase}"
        );
    }
}

#[test]
fn shipped_simulated_campaigns_expand_on_their_recorded_timelines() {
    for (rel, c) in shipped() {
        // Every simulated campaign has its recorded timeline (`rig/tests/timelines.rs`), one
        // over image files too (esp-idf/esp-images, download-first-chunk): their paths were
        // resolved against the campaign's folder when it loaded, and the run is keyed by the
        // files' names.
        if !c.is_simulated() {
            continue;
        }
        let rec = recorded_for(&c);
        let lines = rec.lines();
        let plan = expand_plan(&c, &rec.timeline(&lines)).unwrap_or_else(|e| panic!("{rel}: {e}"));
        let mut ids = HashSet::new();
        for p in &plan.points {
            assert!(ids.insert(p.id.as_str()), "{rel}: duplicate id {}", p.id);
        }
        for phase in &c.phases {
            let cut = plan.points.iter().any(|p| p.phase == phase.name);
            let noted = plan.skipped.iter().any(|s| s.phase == phase.name);
            assert!(
                cut || noted || phase.offsets.is_empty(),
                "{rel}: phase {} produced neither cuts nor a note",
                phase.name
            );
        }
        let mut report = plan_summary(&plan.points).lines();
        for s in &plan.skipped {
            report.push(format!("skipped {}: {}", s.id, s.reason));
        }
        for found in &plan.phases {
            report.push(format!(
                "phase {} lines {}..{} ({} us)",
                found.span.name,
                found.start_line + 1,
                found.end_line + 1,
                found.span.end_us - found.span.start_us
            ));
        }
        insta::assert_snapshot!(format!("plan_{}", rel.replace('/', "_")), report.join("\n"));
    }
}
