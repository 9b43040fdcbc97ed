//! The journal's words for the board's faults and cut points: one exhaustive mapping each, so
//! a new fault or cut point cannot be written under a name the journal does not know.

use cutpoint_core::journal;

use crate::board::{FaultKind, OpPoint};

impl From<FaultKind> for journal::FaultKind {
    fn from(k: FaultKind) -> Self {
        match k {
            FaultKind::PowerCut => journal::FaultKind::PowerCut,
            FaultKind::Reset => journal::FaultKind::Reset,
            FaultKind::Brownout => journal::FaultKind::Brownout,
        }
    }
}

/// Where a cut aimed at an operation falls on it: before it starts, inside it (at any
/// fraction), or just after it.
impl From<OpPoint> for journal::OpRelation {
    fn from(p: OpPoint) -> Self {
        match p {
            OpPoint::Before => journal::OpRelation::Before,
            OpPoint::Inside { .. } => journal::OpRelation::Inside,
            OpPoint::After => journal::OpRelation::After,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_journal_writes_the_boards_names() {
        for k in [FaultKind::PowerCut, FaultKind::Reset, FaultKind::Brownout] {
            assert_eq!(journal::FaultKind::from(k).as_str(), k.name());
        }
        assert_eq!(journal::OpRelation::from(OpPoint::Before).as_str(), "before");
        assert_eq!(journal::OpRelation::from(OpPoint::Inside { ppm: 1 }).as_str(), "inside");
        assert_eq!(journal::OpRelation::from(OpPoint::After).as_str(), "after");
    }
}
