//! A campaign's plan outside a run: the spec a plan is made with, and the simulated board's
//! control run and plan (what `cutpoint plan` and `cutpoint replay` start from).

use std::path::{Path, PathBuf};

use cutpoint_campaign::Campaign;
use cutpoint_report::ControlRun;

use crate::engine::{self, EngineError, RunSpec, WorkItem};
use crate::exit::BAD_INPUT;
use crate::judge::Expectations;
use crate::setup::{sim_setup, SetupError, SimSetup};

/// Why a plan could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    /// The campaign cannot be set up (board, images, key): bad input.
    #[error(transparent)]
    Setup(#[from] SetupError),
    /// The control run or the expansion of the plan stopped.
    #[error(transparent)]
    Engine(#[from] EngineError),
}

impl PrepareError {
    /// The exit code of a command that stopped on this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            PrepareError::Setup(_) => BAD_INPUT,
            PrepareError::Engine(e) => e.exit_code(),
        }
    }
}

/// The spec a plan is made with: the campaign at `path`, no report directory, no resume and
/// no filter.
pub fn plan_spec<'a>(
    c: &'a Campaign,
    path: &Path,
    expect: Expectations,
    update_size: u64,
    partition: Option<(u32, u32)>,
) -> RunSpec<'a> {
    RunSpec {
        campaign: c,
        campaign_path: path.display().to_string(),
        campaign_sha256: c.sha256.clone(),
        out_dir: PathBuf::new(),
        partition,
        resume: false,
        filter: None,
        expect,
        update_size,
        seed: c.run.seed,
    }
}

/// The simulated board set up for a campaign, its control run and its plan.
pub struct SimPlan {
    pub setup: SimSetup,
    pub control: ControlRun,
    pub items: Vec<WorkItem>,
    /// When the control run's update committed (µs after power-on), or `u64::MAX`.
    pub commit_us: u64,
}

/// Sets up the simulated board for campaign `c` (read from `path`), runs its control run and
/// expands the plan of `partition`.
pub fn sim_plan(c: &Campaign, path: &Path, partition: Option<(u32, u32)>) -> Result<SimPlan, PrepareError> {
    let setup = sim_setup(c, 1)?;
    let spec = plan_spec(c, path, setup.expect.clone(), setup.update_size, partition);
    let rules = engine::recovery_rules(&setup.expect);
    let planned = engine::plan(&setup.target, &spec, &rules)?;
    Ok(SimPlan {
        setup,
        control: planned.control,
        items: planned.items,
        commit_us: planned.commit_us,
    })
}
