//! A campaign's target, set up but not yet opened: the simulated board, or a station with its
//! backends read (opening them needs the hardware stack, which this crate has).

use cutpoint_campaign::Campaign;
use cutpoint_engine::judge::Expectations;
use cutpoint_engine::setup::{sim_setup, SetupError, SimSetup};
use cutpoint_engine::target::Target;

use crate::bench_setup::{bench_setup, BenchSetup};
use crate::bench_target::BenchTarget;

/// A campaign's target, set up but not opened: the simulated board or a station.
pub enum Prepared {
    Sim(Box<SimSetup>),
    Bench(Box<BenchSetup>),
}

/// Sets up campaign `c`'s target: the simulated board with `workers` boards, or its station.
pub fn prepare(c: &Campaign, workers: usize) -> Result<Prepared, SetupError> {
    if c.is_simulated() {
        sim_setup(c, workers).map(|s| Prepared::Sim(Box::new(s)))
    } else {
        bench_setup(c).map(|b| Prepared::Bench(Box::new(b)))
    }
}

impl Prepared {
    pub fn expect(&self) -> &Expectations {
        match self {
            Prepared::Sim(s) => &s.expect,
            Prepared::Bench(b) => &b.expect,
        }
    }

    pub fn update_size(&self) -> u64 {
        match self {
            Prepared::Sim(s) => s.update_size,
            Prepared::Bench(b) => b.update_size,
        }
    }

    /// The target, with a station's backends opened.
    pub fn open(self) -> Result<Box<dyn Target>, cutpoint_bench::RigError> {
        match self {
            Prepared::Sim(s) => Ok(Box::new(s.target)),
            Prepared::Bench(b) => {
                let b = *b;
                Ok(Box::new(BenchTarget::open(&b.station, b.config)?))
            }
        }
    }
}
