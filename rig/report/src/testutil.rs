//! Small builders for unit tests.

use cutpoint_core::CutIdRef;

use crate::journal::JOURNAL_FORMAT;
use crate::model::{CutResult, Expect, JournalHeader, PlannedCut, SlotState, Status};

pub(crate) fn header(sha: &str, partition: Option<&str>, ids: &[&str]) -> JournalHeader {
    JournalHeader {
        format: JOURNAL_FORMAT,
        campaign: "swap-basic".into(),
        campaign_path: "campaigns/swap-basic.toml".into(),
        campaign_sha256: sha.into(),
        target: "sim".into(),
        seed: 7,
        partition: partition.map(str::to_owned),
        filter: None,
        planned: ids
            .iter()
            .map(|id| {
                let (phase, offset) = phase_and_offset(id);
                PlannedCut {
                    id: (*id).into(),
                    phase: phase.into(),
                    offset: offset.into(),
                    index: None,
                }
            })
            .collect(),
        started: "2025-01-01T00:00:00Z".into(),
        expect: Expect::Pass,
        inputs: Vec::new(),
        skipped: Vec::new(),
    }
}

/// The row of `id` in the matrix: its first cut's phase and the rest; the phase `phase` for a
/// text that is not an id.
fn phase_and_offset(id: &str) -> (&str, &str) {
    match CutIdRef::parse(id) {
        Ok(id) => (id.first().phase, id.after_first_phase()),
        Err(_) => ("phase", id),
    }
}

pub(crate) fn cut(id: &str, status: Status) -> CutResult {
    let (phase, offset) = phase_and_offset(id);
    CutResult {
        id: id.into(),
        phase: phase.into(),
        offset: offset.into(),
        repetition: 1,
        status,
        reasons: if status == Status::Pass {
            vec![]
        } else {
            vec!["bricked".into()]
        },
        warnings: vec![],
        seed: 99,
        landing: None,
        later_landings: Vec::new(),
        first_boot: Some("1.0.0+0".into()),
        final_image: Some("1.1.0+0".into()),
        committed: false,
        slots: vec![SlotState {
            slot: "primary".into(),
            version: Some("1.1.0+0".into()),
            hash: Some("deadbeef".into()),
            validity: "valid".into(),
            trailer: "magic=good".into(),
        }],
        console: vec![],
        console_of: None,
        wall_ms: 10,
        same_state_as: None,
        post_cut_state: None,
        booted_slot: None,
    }
}

/// A control run that failed (what a run that ended "stopped" has).
pub(crate) fn failed_control() -> crate::model::ControlRun {
    crate::model::ControlRun {
        status: Status::Fail,
        reasons: vec!["the device did not update".into()],
        phases: Vec::new(),
        console: Vec::new(),
        flash_ops: None,
    }
}
