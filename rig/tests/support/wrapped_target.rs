//! A target wrapped for a test: one worker, every call passed to the simulated target inside,
//! except the ones the test replaces (what a bench would say that the simulated board does not:
//! a cut that never fired, a console that stops, a run cancelled part-way).

use cutpoint::target::{ControlObservation, Observation, RecoveryRules, RecoveryTimeline, Target};
use cutpoint_bench::RigError;
use cutpoint_campaign::CutPoint;

type ControlHook<'a> = Box<dyn Fn(ControlObservation) -> ControlObservation + Sync + 'a>;
type ChainHook<'a> =
    Box<dyn Fn(&dyn Target, usize, &str, &[&CutPoint], &RecoveryRules) -> Result<Observation, RigError> + Sync + 'a>;

pub struct Wrapped<'a> {
    inner: &'a dyn Target,
    control: Option<ControlHook<'a>>,
    reference_control: Option<ControlHook<'a>>,
    run_chain: Option<ChainHook<'a>>,
    workers: usize,
}

#[allow(dead_code)] // each test file uses the hooks it needs
impl<'a> Wrapped<'a> {
    pub fn new(inner: &'a dyn Target) -> Self {
        Wrapped {
            inner,
            control: None,
            reference_control: None,
            run_chain: None,
            workers: 1,
        }
    }

    /// `n` workers (the inner target must have as many).
    pub fn with_workers(mut self, n: usize) -> Self {
        self.workers = n;
        self
    }

    /// The control run's observation, changed by `f`.
    pub fn on_control(mut self, f: impl Fn(ControlObservation) -> ControlObservation + Sync + 'a) -> Self {
        self.control = Some(Box::new(f));
        self
    }

    /// The reference firmware's control run, changed by `f`.
    pub fn on_reference_control(mut self, f: impl Fn(ControlObservation) -> ControlObservation + Sync + 'a) -> Self {
        self.reference_control = Some(Box::new(f));
        self
    }

    /// Every cut point's run, made by `f` (given the inner target to run it on).
    pub fn on_run_chain(
        mut self,
        f: impl Fn(&dyn Target, usize, &str, &[&CutPoint], &RecoveryRules) -> Result<Observation, RigError> + Sync + 'a,
    ) -> Self {
        self.run_chain = Some(Box::new(f));
        self
    }
}

impl Target for Wrapped<'_> {
    fn describe(&self) -> String {
        self.inner.describe()
    }
    /// One worker unless the test asks for more, whatever the inner target offers: on one,
    /// the hooks see the cut points in order.
    fn workers(&self) -> usize {
        self.workers
    }
    fn control(&self) -> Result<ControlObservation, RigError> {
        let c = self.inner.control()?;
        Ok(match &self.control {
            Some(f) => f(c),
            None => c,
        })
    }
    fn reference_control(&self, max_boots: u32) -> Option<Result<ControlObservation, RigError>> {
        let r = self.inner.reference_control(max_boots)?;
        Some(match &self.reference_control {
            Some(f) => r.map(f),
            None => r,
        })
    }
    fn run_chain(
        &self,
        worker: usize,
        id: &str,
        chain: &[&CutPoint],
        rules: &RecoveryRules,
    ) -> Result<Observation, RigError> {
        match &self.run_chain {
            Some(f) => f(self.inner, worker, id, chain, rules),
            None => self.inner.run_chain(worker, id, chain, rules),
        }
    }
    fn recovery_timeline(
        &self,
        id: &str,
        chain: &[&CutPoint],
        rules: &RecoveryRules,
    ) -> Result<RecoveryTimeline, RigError> {
        self.inner.recovery_timeline(id, chain, rules)
    }
}
