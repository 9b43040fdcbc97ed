//! Post-cut states without re-running the firmware.
//!
//! A power cut leaves only the flash behind, and the board is deterministic, so the flash at a
//! cut is the baseline plus every operation the control run completed before it, plus the
//! torn effect of the operation in flight. A [`Cursor`] walks the control run's journal forward
//! and forks a post-cut flash at each cut point in amortised constant time.

use std::sync::Arc;

use crate::board::{CutAt, CutPlan, CutRecord, FaultKind, OpPoint, OpRecord, RunLog};
use crate::flash::{FlashOp, NorFlash};

/// A recorded unfaulted run: the baseline flash and the journal with each operation's data.
#[derive(Debug, Clone)]
pub struct Recording {
    pub baseline: NorFlash,
    pub log: RunLog,
}

impl Recording {
    /// Whether a plan can be served from the journal (otherwise the board must run live).
    pub fn supports(plan: &CutPlan) -> bool {
        plan.kind != FaultKind::Brownout && !matches!(plan.at, CutAt::Byte { .. })
    }

    /// Where a plan lands in the journal: the index of the first operation not fully applied,
    /// and what happens to it.
    fn locate(&self, plan: &CutPlan) -> (usize, Tail) {
        let ops = &self.log.ops;
        match plan.at {
            CutAt::Op { index, point } => {
                let i = (index as usize).min(ops.len());
                let tail = match (point, ops.get(i)) {
                    (_, None) => Tail::Nothing {
                        at_us: self.log.duration_us,
                    },
                    (OpPoint::Before, Some(r)) => Tail::Nothing { at_us: r.start_us },
                    (OpPoint::After, Some(_)) => Tail::Complete,
                    (OpPoint::Inside { ppm }, Some(r)) => {
                        let dur = r.end_us - r.start_us;
                        Tail::Inside {
                            elapsed: dur * u64::from(ppm.min(1_000_000)) / 1_000_000,
                        }
                    }
                };
                (i, tail)
            }
            CutAt::Time { us } => {
                let i = ops.partition_point(|r| r.end_us <= us);
                match ops.get(i) {
                    Some(r) if r.start_us <= us => (
                        i,
                        Tail::Inside {
                            elapsed: us - r.start_us,
                        },
                    ),
                    _ => (
                        i,
                        Tail::Nothing {
                            at_us: us.min(self.log.duration_us),
                        },
                    ),
                }
            }
            CutAt::Byte { .. } => (
                ops.len(),
                Tail::Nothing {
                    at_us: self.log.duration_us,
                },
            ),
        }
    }
}

enum Tail {
    /// No operation in flight; power died at `at_us`.
    Nothing { at_us: u64 },
    /// The operation at the index completed, then power died.
    Complete,
    /// Power died `elapsed` µs into the operation at the index.
    Inside { elapsed: u64 },
}

/// Walks a recording forward, keeping the flash after the first `next` operations.
pub struct Cursor {
    rec: Arc<Recording>,
    flash: NorFlash,
    next: usize,
}

impl Cursor {
    pub fn new(rec: Arc<Recording>) -> Self {
        let flash = rec.baseline.clone();
        Cursor { rec, flash, next: 0 }
    }

    pub fn recording(&self) -> &Arc<Recording> {
        &self.rec
    }

    fn seek(&mut self, index: usize) {
        if index < self.next {
            self.flash = self.rec.baseline.clone();
            self.next = 0;
        }
        while self.next < index {
            if let Some(op) = data(&self.rec.log.ops[self.next]) {
                // The control run applied it without error, so this cannot fail.
                let _ = self.flash.apply(op);
            }
            self.next += 1;
        }
    }

    /// The flash the plan leaves behind, and where the cut landed.
    pub fn post_cut(&mut self, plan: &CutPlan) -> (NorFlash, CutRecord) {
        let mut flash = self.rec.baseline.clone();
        let record = self.post_cut_into(plan, &mut flash);
        (flash, record)
    }

    /// As [`Cursor::post_cut`], writing the post-cut flash into `flash` (its buffers are reused).
    pub fn post_cut_into(&mut self, plan: &CutPlan, flash: &mut NorFlash) -> CutRecord {
        let (index, tail) = self.rec.locate(plan);
        self.seek(index);
        // Fill the sector-hash cache here, once, so every fork inherits it.
        let _ = self.flash.state_hash();
        flash.copy_from(&self.flash);
        let rec = Arc::clone(&self.rec);
        let op_rec = rec.log.ops.get(index);
        let (actual_us, torn) = match (tail, op_rec) {
            (Tail::Nothing { at_us }, _) => (at_us, None),
            (Tail::Complete, Some(r)) => {
                apply(flash, r);
                (r.end_us, None)
            }
            (Tail::Inside { elapsed }, Some(r)) => match plan.kind {
                FaultKind::Reset => {
                    apply(flash, r);
                    (r.end_us, None)
                }
                FaultKind::ZeroedTail => match data(r) {
                    Some(op) => (
                        r.start_us + elapsed,
                        Some(flash.apply_zeroed_tail(op, elapsed, plan.seed)),
                    ),
                    None => (r.start_us + elapsed, None),
                },
                _ => match data(r) {
                    Some(op) => (r.start_us + elapsed, Some(flash.apply_cut(op, elapsed, plan.seed))),
                    None => (r.start_us + elapsed, None),
                },
            },
            (_, None) => (rec.log.duration_us, None),
        };
        let op_index = match plan.at {
            CutAt::Op { .. } => op_rec.map(|r| r.index),
            _ => op_rec.filter(|r| r.start_us <= actual_us).map(|r| r.index),
        };
        CutRecord {
            kind: plan.kind,
            requested: plan.at,
            actual_us,
            op_index,
            torn,
            // The recording's journal holds the operation a cut lands just before.
            unstarted_op: None,
        }
    }
}

fn data(r: &OpRecord) -> Option<&FlashOp> {
    if r.dropped {
        None
    } else {
        r.op.as_ref()
    }
}

fn apply(flash: &mut NorFlash, r: &OpRecord) {
    if let Some(op) = data(r) {
        let _ = flash.apply(op);
    }
}
