//! What a plan amounts to: cut points per phase and kind, and how long it will take. The
//! tests summarise expanded plans with it (and snapshot the summaries).

use std::time::Duration;

use cutpoint_campaign::{CutPoint, OffsetKind};

/// Cut points of one phase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhaseCount {
    pub phase: String,
    pub points: usize,
    /// Per offset kind, in the order kinds are expanded.
    pub kinds: Vec<(OffsetKind, usize)>,
}

/// Counts of a list of cut points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanSummary {
    pub total: usize,
    /// Single cuts per phase, in order of first appearance.
    pub phases: Vec<PhaseCount>,
    /// Heads of double cuts per sequence: each also gets second cuts once its recovery run is
    /// known, so these are a lower bound on the work.
    pub sequences: Vec<(String, usize)>,
}

/// Counts cut points per phase and offset kind.
pub fn plan_summary(points: &[CutPoint]) -> PlanSummary {
    let mut phases: Vec<PhaseCount> = Vec::new();
    let mut sequences: Vec<(String, usize)> = Vec::new();
    for p in points {
        if let Some(seq) = p.sequence() {
            match sequences.iter_mut().find(|(s, _)| s == seq) {
                Some((_, n)) => *n += 1,
                None => sequences.push((seq.to_string(), 1)),
            }
            continue;
        }
        let idx = match phases.iter().position(|c| c.phase == p.phase) {
            Some(i) => i,
            None => {
                phases.push(PhaseCount {
                    phase: p.phase.clone(),
                    points: 0,
                    kinds: Vec::new(),
                });
                phases.len() - 1
            }
        };
        let c = &mut phases[idx];
        c.points += 1;
        let kind = p.kind();
        match c.kinds.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, n)) => *n += 1,
            None => c.kinds.push((kind, 1)),
        }
    }
    for c in &mut phases {
        c.kinds.sort_by_key(|(k, _)| *k);
    }
    PlanSummary {
        total: points.len(),
        phases,
        sequences,
    }
}

/// Wall time of `cuts` cut points at `seconds_per_cut` each (a bench's measured cycle time);
/// a negative or NaN figure gives 0, an overflow the longest duration.
pub fn estimate_wall_time(cuts: usize, seconds_per_cut: f64) -> Duration {
    let secs = cuts as f64 * seconds_per_cut;
    if secs.is_nan() || secs <= 0.0 {
        Duration::ZERO
    } else {
        Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX)
    }
}

impl PlanSummary {
    /// Wall time of the summarised points; sequence heads count twice (the cycle that plans
    /// their later cuts and one chain), which makes a campaign with sequences a lower bound.
    pub fn estimate(&self, seconds_per_cut: f64) -> Duration {
        let heads: usize = self.sequences.iter().map(|(_, n)| n).sum();
        estimate_wall_time(self.total + heads, seconds_per_cut)
    }

    /// A few lines for people: `download  12  (fixed 2, bytes 6, ms 2, random 2)`.
    pub fn lines(&self) -> Vec<String> {
        let width = self.phases.iter().map(|c| c.phase.len()).max().unwrap_or(0);
        let mut out: Vec<String> = self
            .phases
            .iter()
            .map(|c| {
                let kinds: Vec<String> = c.kinds.iter().map(|(k, n)| format!("{} {n}", k.name())).collect();
                format!("{:width$}  {:>5}  ({})", c.phase, c.points, kinds.join(", "))
            })
            .collect();
        for (s, n) in &self.sequences {
            out.push(format!("sequence {s}: {n} first cuts, each followed by its later cuts"));
        }
        out.push(format!("total {}", self.total));
        out
    }
}
