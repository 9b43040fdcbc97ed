//! Replaying one recorded cut point: re-running it (on the simulated board live from
//! power-on, with no journal shortcut and no shared recovery) and comparing the replay with
//! what the journal recorded.

use std::path::Path;

use cutpoint_campaign::Campaign;
use cutpoint_report::{CutResult, LogLine, Status};

use crate::engine::{self, WorkItem};
use crate::exit::{FAIL, PASS, RIG_ERROR};
use crate::judge::{Expectations, Verdict};
use crate::prepare::{sim_plan, PrepareError};
use crate::target::Observation;

/// What a replay produced.
pub struct Replayed {
    /// The console of the faulted runs up to each cut (empty on a bench).
    pub faulted_console: Vec<LogLine>,
    /// What the rig saw after the cut.
    pub observation: Observation,
    /// Whether the update had committed at the cut.
    pub committed: bool,
    pub expect: Expectations,
    /// The cut's seed.
    pub seed: u64,
}

/// The work item of cut `id` in a plan.
pub fn find_item<'a>(items: &'a [WorkItem], id: &str) -> Option<&'a WorkItem> {
    items.iter().find(|i| i.id == id)
}

/// Re-runs cut `id` of campaign `c` (read from `path`) on the simulated board, live from
/// power-on. `Ok(None)` when the id is no longer in the campaign's plan.
pub fn replay_sim(c: &Campaign, path: &Path, id: &str) -> Result<Option<Replayed>, PrepareError> {
    let plan = sim_plan(c, path, None)?;
    let setup = plan.setup;
    let rules = engine::recovery_rules(&setup.expect);
    let Some(item) = find_item(&plan.items, id) else {
        return Ok(None);
    };
    let chain: Vec<_> = item.chain.iter().collect();
    let live = setup.target.replay_live(&chain, &rules);
    let observation = live.observation;
    let committed = engine::committed_at_cut(&observation, plan.commit_us);
    Ok(Some(Replayed {
        faulted_console: live.faulted_console,
        observation,
        committed,
        expect: setup.expect,
        seed: item.seed,
    }))
}

/// How a replay compares with the recorded result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Comparison {
    /// The post-cut flash has the recorded fingerprint (or one side has none: a bench cannot
    /// fingerprint its flash at the cut, and there the outcome is what is compared).
    pub same_bits: bool,
    /// Same status, first boot and final image.
    pub same_outcome: bool,
}

impl Comparison {
    pub fn of(recorded: &CutResult, replayed: &Verdict, observation: &Observation) -> Self {
        let same_bits = recorded.post_cut_state.is_none()
            || observation.post_cut_state.is_none()
            || recorded.post_cut_state == observation.post_cut_state;
        let same_outcome = replayed.status == recorded.status
            && replayed.first_boot == recorded.first_boot
            && replayed.final_image == recorded.final_image;
        Comparison {
            same_bits,
            same_outcome,
        }
    }

    /// The exit code of the replay: a replay that differs from the record is the rig's
    /// failure; one that matches exits as its verdict.
    pub fn exit_code(&self, replayed: Status) -> i32 {
        if !(self.same_bits && self.same_outcome) {
            return RIG_ERROR;
        }
        match replayed {
            Status::Pass => PASS,
            Status::Fail => FAIL,
            Status::Error => RIG_ERROR,
        }
    }
}
