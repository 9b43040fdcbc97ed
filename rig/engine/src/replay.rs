//! Replaying one recorded cut point: re-running it (on the simulated board live from
//! power-on, with no journal shortcut and no shared recovery) and comparing the replay with
//! what the journal recorded.

use std::path::Path;

use cutpoint_campaign::Campaign;
use cutpoint_report::{CutResult, LogLine, Status};

use cutpoint_core::RigError;

use crate::engine::{self, EngineError, RunSpec, WorkItem};
use crate::exit::{FAIL, PASS, RIG_ERROR};
use crate::judge::{Expectations, Verdict};
use crate::prepare::{sim_plan, PrepareError};
use crate::target::{Observation, Target};

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
    let cuts = item.cuts().map_err(EngineError::Rig)?;
    let chain: Vec<_> = cuts.iter().map(|c| &**c).collect();
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

/// Why a replay on an opened target stopped.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The control run or the plan on it.
    #[error(transparent)]
    Plan(#[from] EngineError),
    /// The rig failed while re-running the cut.
    #[error(transparent)]
    Run(RigError),
}

impl ReplayError {
    /// The exit code of a replay that stopped on this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            ReplayError::Plan(e) => e.exit_code(),
            ReplayError::Run(_) => RIG_ERROR,
        }
    }
}

/// Re-runs cut `id` on an opened target (a station, through its backends): its control run and
/// plan, then the cut's chain. `Ok(None)` when the id is no longer in the campaign's plan.
pub fn replay_on(
    target: &dyn Target,
    spec: &RunSpec,
    expect: Expectations,
    id: &str,
) -> Result<Option<Replayed>, ReplayError> {
    let rules = engine::recovery_rules(&expect);
    let planned = engine::plan(target, spec, &rules)?;
    let Some(item) = find_item(&planned.items, id) else {
        return Ok(None);
    };
    let cuts = item.cuts().map_err(ReplayError::Run)?;
    let chain: Vec<_> = cuts.iter().map(|c| &**c).collect();
    let observation = target.run_chain(0, id, &chain, &rules).map_err(ReplayError::Run)?;
    let committed = engine::committed_at_cut(&observation, planned.commit_us);
    Ok(Some(Replayed {
        faulted_console: Vec::new(),
        observation,
        committed,
        expect,
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
        self.exit_code_in(replayed, false)
    }

    /// The exit code of the replay of a cut of a campaign that is a negative control or not
    /// (`negative`): a negative control's failing cut, replayed as recorded, exits 0, as its
    /// report does for it (the rig caught the broken firmware).
    pub fn exit_code_in(&self, replayed: Status, negative: bool) -> i32 {
        if !(self.same_bits && self.same_outcome) {
            return RIG_ERROR;
        }
        match replayed {
            Status::Pass => PASS,
            Status::Fail if negative => PASS,
            Status::Fail => FAIL,
            Status::Error => RIG_ERROR,
        }
    }

    /// A replayed verdict's name as printed: a negative control's failure is labelled expected.
    pub fn verdict_label(replayed: Status, negative: bool) -> String {
        if negative && replayed == Status::Fail {
            "fail (expected: this campaign is a negative control)".to_string()
        } else {
            replayed.name().to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_negative_controls_failing_cut_replays_as_expected_with_its_reports_exit_code() {
        let same = Comparison {
            same_bits: true,
            same_outcome: true,
        };
        assert_eq!(same.exit_code_in(Status::Fail, true), PASS);
        assert_eq!(same.exit_code_in(Status::Fail, false), FAIL);
        assert_eq!(same.exit_code_in(Status::Pass, true), PASS);
        let differs = Comparison {
            same_bits: false,
            same_outcome: true,
        };
        assert_eq!(differs.exit_code_in(Status::Fail, true), RIG_ERROR);
        assert_eq!(
            Comparison::verdict_label(Status::Fail, true),
            "fail (expected: this campaign is a negative control)"
        );
        assert_eq!(Comparison::verdict_label(Status::Fail, false), "fail");
    }
    use crate::prepare::plan_spec;

    #[test]
    fn a_replay_on_an_opened_target_judges_as_the_recorded_run() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../campaigns/smoke.toml");
        let c = cutpoint_campaign::load_campaign(&path)
            .unwrap_or_else(|e| panic!("{}", cutpoint_campaign::format_errors(&e)));
        let plan = sim_plan(&c, &path, None).unwrap();
        let item = plan.items.iter().find(|i| i.chain.len() == 1).expect("a single cut");
        let id = item.id.clone();
        let spec = plan_spec(&c, &path, plan.setup.expect.clone(), plan.setup.update_size, None);
        let replayed = replay_on(&plan.setup.target, &spec, plan.setup.expect.clone(), &id)
            .unwrap()
            .expect("the id is planned");
        assert_eq!(replayed.seed, item.seed);
        assert!(replayed.observation.post_cut_state.is_some());
        let live = replay_sim(&c, &path, &id).unwrap().unwrap();
        assert_eq!(replayed.observation.post_cut_state, live.observation.post_cut_state);
        assert_eq!(replayed.committed, live.committed);
        assert!(
            replay_on(&plan.setup.target, &spec, plan.setup.expect.clone(), "swap/nowhere")
                .unwrap()
                .is_none()
        );
    }
}
