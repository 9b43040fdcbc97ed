//! The pass rule's check of the flash outside the areas a scheme writes, end to end: a campaign
//! on the simulated board, whose map outside the scheme's areas holds data at the baseline.
//! The reference passes every cut; a build whose application also erases the sector after the
//! secondary slot (on the nRF52840 board the scratch region, which swap-offset does not use)
//! fails every cut that reaches that erase, with a verdict that names where.

use std::path::Path;
use std::sync::atomic::AtomicBool;

use cutpoint_engine::engine::{self, RunSpec};
use cutpoint_engine::setup::sim_setup;
use cutpoint_report::Status;
use fut::app::AppConfig;
use fut::boot::BootConfig;
use fut::hal::Hal;
use fut::image::{Descriptor, ImageError, ImageInfo, Version};
use fut::layout::{Area, Layout, LayoutError, Role, Slot};
use fut::scheme::{AppBoot, CommitPoint, Mode, Scheme, Upgrade};
use fut::{FwError, PublicKey, Variant};

/// Swap-offset, except that the application, before a download from byte 0, also erases the
/// sector after the secondary slot: an application whose erase runs one sector too far.
struct ErasesPastSlot;

fn inner() -> &'static dyn Scheme {
    Mode::SWAP_OFFSET.scheme()
}

impl Scheme for ErasesPastSlot {
    fn name(&self) -> &'static str {
        inner().name()
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
    fn areas(&self, layout: &Layout, put: &mut dyn FnMut(&'static str, Area)) {
        inner().areas(layout, put)
    }
    fn sector_rule(&self) -> fut::map::SectorRule {
        inner().sector_rule()
    }
    fn runs_from_secondary(&self) -> bool {
        inner().runs_from_secondary()
    }
    fn max_image_size(&self, layout: &Layout) -> u32 {
        inner().max_image_size(layout)
    }
    fn staging_area(&self, layout: &Layout) -> Area {
        inner().staging_area(layout)
    }
    fn commit_point(&self, upgrade: Upgrade) -> CommitPoint {
        inner().commit_point(upgrade)
    }
    fn boot(&self, hal: &mut dyn Hal, cfg: &BootConfig) -> Result<(), FwError> {
        inner().boot(hal, cfg)
    }
    fn boot_slot(&self, hal: &mut dyn Hal, cfg: &BootConfig) -> Result<Slot, FwError> {
        inner().boot_slot(hal, cfg)
    }
    fn provision(&self, layout: &Layout, slot: Slot, put: &mut dyn FnMut(u32, &[u8])) -> bool {
        inner().provision(layout, slot, put)
    }
    fn refused_version(&self, hal: &mut dyn Hal, cfg: &AppConfig) -> Result<Option<Version>, FwError> {
        inner().refused_version(hal, cfg)
    }
    fn validate_image(
        &self,
        hal: &mut dyn Hal,
        area: Area,
        key: &PublicKey,
        variant: Variant,
    ) -> Result<ImageInfo, ImageError> {
        inner().validate_image(hal, area, key, variant)
    }
    fn image_version(&self, hal: &mut dyn Hal, area: Area) -> Result<Version, ImageError> {
        inner().image_version(hal, area)
    }
    fn image_hash(&self, hal: &mut dyn Hal, area: Area) -> Result<[u8; 32], ImageError> {
        inner().image_hash(hal, area)
    }
    fn image_descriptor(&self, hal: &mut dyn Hal, area: Area) -> Result<Descriptor, ImageError> {
        inner().image_descriptor(hal, area)
    }
    fn app_boot(&self, hal: &mut dyn Hal, cfg: &AppConfig) -> Result<AppBoot, FwError> {
        inner().app_boot(hal, cfg)
    }
    fn confirm(&self, hal: &mut dyn Hal, cfg: &AppConfig, me: Version) -> Result<(), FwError> {
        inner().confirm(hal, cfg, me)
    }
    fn prepare_download(&self, hal: &mut dyn Hal, cfg: &AppConfig) -> Result<(), FwError> {
        inner().prepare_download(hal, cfg)?;
        let l = cfg.layout;
        hal.erase(l.secondary.end(), l.sector_size).map_err(FwError::from)
    }
    fn upload_blocked(&self, hal: &mut dyn Hal, cfg: &AppConfig) -> Result<bool, FwError> {
        inner().upload_blocked(hal, cfg)
    }
    fn downloaded_chunk(&self, hal: &mut dyn Hal, cfg: &AppConfig, offset: u32) -> Result<(), FwError> {
        inner().downloaded_chunk(hal, cfg, offset)
    }
    fn request(&self, hal: &mut dyn Hal, cfg: &AppConfig) -> Result<(), FwError> {
        inner().request(hal, cfg)
    }
}

static ERASES_PAST_SLOT: ErasesPastSlot = ErasesPastSlot;

type Cuts = Vec<(String, Status, Vec<String>)>;

/// Runs the shipped campaign `name`, its scheme replaced by `mode` when given: the cuts'
/// statuses and reasons, and the text of the JUnit and HTML reports.
fn run(name: &str, mode: Option<Mode>) -> (Cuts, String, String) {
    run_edited(name, mode, |t| t)
}

/// [`run`], the campaign's text changed by `edit` first.
fn run_edited(name: &str, mode: Option<Mode>, edit: impl Fn(String) -> String) -> (Cuts, String, String) {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../campaigns").join(name);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("campaign.toml");
    std::fs::write(&path, edit(std::fs::read_to_string(&shipped).unwrap())).unwrap();
    let mut c =
        cutpoint_campaign::load_campaign(&path).unwrap_or_else(|e| panic!("{}", cutpoint_campaign::format_errors(&e)));
    if let Some(m) = mode {
        c.target.mode = m;
    }
    let setup = sim_setup(&c, 1).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let spec = RunSpec::whole(&c, tmp.path().join("run"), setup.expect.clone(), setup.update_size);
    let outcome = engine::run(
        &setup.target,
        &spec,
        &mut cutpoint_engine::sink::ignore(),
        &AtomicBool::new(false),
    )
    .unwrap();
    let out = tmp.path().join("run");
    cutpoint_report::write_reports_from_journals(
        &out,
        &[&outcome.journal_path],
        &cutpoint_report::ReportOptions::default(),
    )
    .unwrap();
    let journal = std::fs::read_to_string(&outcome.journal_path).unwrap();
    let cuts = journal
        .lines()
        .filter_map(|l| serde_json::from_str::<cutpoint_report::CutResult>(l).ok())
        .map(|r| (r.id, r.status, r.reasons))
        .collect();
    let read = |f: &str| std::fs::read_to_string(out.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
    (cuts, read("junit.xml"), read("report.html"))
}

#[test]
fn an_erase_past_the_secondary_slot_fails_the_cuts_and_the_reference_passes() {
    let campaign = "swap-offset/rejected-body-byte.toml";
    let (reference, _, _) = run(campaign, None);
    assert!(reference.len() > 10, "{reference:?}");
    for (id, status, reasons) in &reference {
        assert_eq!(*status, Status::Pass, "{id}: {reasons:?}");
    }

    let (broken, junit, html) = run(campaign, Some(Mode::of(&ERASES_PAST_SLOT)));
    assert_eq!(broken.len(), reference.len());
    let outside: Vec<_> = broken
        .iter()
        .filter(|(_, _, reasons)| {
            reasons
                .iter()
                .any(|r| r.starts_with("the update wrote outside its areas"))
        })
        .collect();
    // Every cut: the download from byte 0 runs before the first cut point or in its recovery.
    assert_eq!(outside.len(), broken.len(), "{broken:?}");
    let (id, status, reasons) = outside[0];
    assert_eq!(*status, Status::Fail, "{id}");
    // nRF52840 board: the secondary slot ends at 448 KiB, where the scratch region begins.
    assert!(
        reasons.iter().any(|r| r.starts_with(
            "the update wrote outside its areas: scratch (0x70000..0x72000, not written by swap-offset) reads ff ff ff ff \
             ff ff ff ff at 0x70000, "
        ) && r.ends_with("(4096 bytes changed)")),
        "{id}: {reasons:?}"
    );
    // The verdict's line reaches the reports.
    assert!(
        junit.contains("the update wrote outside its areas: scratch (0x70000..0x72000"),
        "{junit}"
    );
    assert!(html.contains("the update wrote outside its areas: scratch (0x70000..0x72000"));
}

/// A campaign that lets the update change a region (`pass.may_change`, the application's own
/// settings, say) leaves it out of the rule: the same broken build passes there. A name that is
/// no region of the board's map is bad input at its key.
#[test]
fn a_region_the_campaign_lets_change_is_not_guarded() {
    let campaign = "swap-offset/rejected-body-byte.toml";
    let allow = |t: String| t.replacen("[pass]", "[pass]\nmay_change = [\"scratch\"]", 1);
    let (broken, _, _) = run_edited(campaign, Some(Mode::of(&ERASES_PAST_SLOT)), allow);
    assert!(broken.len() > 10);
    for (id, status, reasons) in &broken {
        assert_eq!(*status, Status::Pass, "{id}: {reasons:?}");
    }

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("campaign.toml");
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../campaigns")
            .join(campaign),
    )
    .unwrap()
    .replacen("[pass]", "[pass]\nmay_change = [\"settings\"]", 1);
    std::fs::write(&path, text).unwrap();
    let c = cutpoint_campaign::load_campaign(&path).unwrap();
    let err = sim_setup(&c, 1)
        .err()
        .expect("an unknown region is bad input")
        .to_string();
    assert!(
        err.contains("pass.may_change[0]: \"settings\" is no region of nrf52840's flash map"),
        "{err}"
    );
}
