//! What the details panel shows of one cut point: the page holds it as JSON, filled in by the
//! script when a cell or a listed cut point is clicked.

use serde::Serialize;

use crate::model::{SlotState, Status};
use crate::text::replay_command;
use crate::view::{describe_landing, CutRow};

/// What the details panel shows for one cut point.
#[derive(Serialize)]
pub(super) struct CellData<'a> {
    id: &'a str,
    phase: &'a str,
    offset: &'a str,
    /// `pass`, `warn`, `fail`, `xfail`, `error` or `not-run` (the cell's class).
    status: &'static str,
    /// What the status is called, e.g. `expected failure`.
    label: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    repetition: Option<u32>,
    /// A string: seeds exceed the integers JavaScript numbers hold exactly.
    #[serde(skip_serializing_if = "Option::is_none")]
    seed: Option<String>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    reasons: &'a [String],
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    warnings: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    landing: Option<String>,
    /// Where cut 2, 3... of a sequence landed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    later_landings: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    first_boot: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    final_image: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    committed: Option<bool>,
    /// `secondary (ota_1)`, and on which flash it was read.
    #[serde(skip_serializing_if = "Option::is_none")]
    booted_slot: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    boot_record: Option<&'a str>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    boot_disagreement: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    same_state_as: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    post_cut_state: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    wall_ms: Option<u64>,
    #[serde(skip_serializing_if = "<[SlotState]>::is_empty")]
    slots: &'a [SlotState],
    /// `[t_us, text]` pairs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    console: Vec<(u64, &'a str)>,
    #[serde(skip_serializing_if = "Option::is_none")]
    replay: Option<String>,
}

pub(super) fn cell_data<'a>(row: &CutRow<'a>, negative: bool, not_run: &'a str, report_dir: &str) -> CellData<'a> {
    let kind = row.kind(negative);
    let mut data = CellData {
        id: row.id,
        phase: row.phase,
        offset: row.offset,
        status: kind.class(),
        label: kind.label(),
        note: None,
        repetition: None,
        seed: None,
        reasons: &[],
        warnings: &[],
        landing: None,
        later_landings: Vec::new(),
        first_boot: None,
        final_image: None,
        committed: None,
        booted_slot: None,
        boot_record: None,
        boot_disagreement: &[],
        same_state_as: None,
        post_cut_state: None,
        wall_ms: None,
        slots: &[],
        console: Vec::new(),
        replay: None,
    };
    match row.result {
        None => data.note = Some(not_run),
        Some(cut) => {
            data.repetition = Some(cut.repetition);
            data.seed = Some(cut.seed.to_string());
            data.reasons = &cut.reasons;
            data.warnings = &cut.warnings;
            data.landing = cut.landing.as_ref().map(describe_landing);
            data.later_landings = cut.later_landings.iter().map(describe_landing).collect();
            // After a rig error nothing is known about the device: no "nothing booted".
            let known = cut.status != Status::Error;
            data.first_boot = cut.first_boot.as_deref().or(known.then_some("nothing booted"));
            data.final_image = cut.final_image.as_deref().or(known.then_some("none"));
            data.committed = known.then_some(cut.committed);
            if let Some(b) = &cut.booted_slot {
                data.booted_slot = Some(format!("{} \u{2014} {}", b.slot_text(), b.read_text()));
                data.boot_record = Some(&b.record);
                data.boot_disagreement = &b.disagreement;
            }
            data.same_state_as = cut.same_state_as.as_deref();
            data.post_cut_state = cut.post_cut_state.as_deref();
            data.wall_ms = Some(cut.wall_ms);
            data.slots = &cut.slots;
            data.console = cut.console.iter().map(|l| (l.t_us, l.text.as_str())).collect();
            data.replay = Some(replay_command(report_dir, &cut.id));
        }
    }
    data
}
