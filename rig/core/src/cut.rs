//! The words of a cut that campaign files, the simulated board and the engine share: what kind
//! of fault ends the power, and where in a flash operation a cut lands.

use std::fmt;

use serde::{Deserialize, Serialize};

/// What kind of fault ends the power. Campaign files name it in `[run] fault`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultKind {
    /// Supply cut: the flash operation in flight tears.
    PowerCut,
    /// Watchdog or pin reset: RAM is lost, the flash operation in flight completes.
    Reset,
    /// Slow brownout: flash operations silently do not happen, then the part resets.
    Brownout,
    /// Supply cut during a write on a part (or a storage stack) that stores what the write had
    /// not reached as zeros: the program in flight keeps its bytes up to the cut and the rest
    /// reads back 0x00, as written data, not as a tear (the 128 KiB environment writes of
    /// nerves_runtime #375 whose last 32 KiB read zeros). An erase in flight tears as in a
    /// power cut.
    ZeroedTail,
}

impl FaultKind {
    pub const ALL: [FaultKind; 4] = [
        FaultKind::PowerCut,
        FaultKind::Reset,
        FaultKind::Brownout,
        FaultKind::ZeroedTail,
    ];

    /// The name campaign files and journals use (the serde spelling).
    pub const fn name(self) -> &'static str {
        match self {
            FaultKind::PowerCut => "power-cut",
            FaultKind::Reset => "reset",
            FaultKind::Brownout => "brownout",
            FaultKind::ZeroedTail => "zeroed-tail",
        }
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where in a flash operation a cut lands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OpPoint {
    /// Just before the operation starts.
    Before,
    /// `ppm` millionths of the operation's duration in.
    Inside { ppm: u32 },
    /// Just after it completes.
    After,
}

impl OpPoint {
    /// The spelling used in cut ids: `before`, `inside-0.50`, `after`.
    pub fn id_part(self) -> String {
        match self {
            OpPoint::Before => "before".to_string(),
            OpPoint::Inside { ppm } => format!("inside-{}", fraction_text(ppm)),
            OpPoint::After => "after".to_string(),
        }
    }
}

/// Where a cut aims: the one type the campaign's plan, the engine and the simulated board use.
///
/// Its own serde form is externally tagged (`{"time": {"us": 5}}`), as the simulated board's
/// cut records write it; a campaign's cut point writes it tagged by `at`
/// (`{"at": "time", "us": 5}`) through [`at_tagged`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CutAt {
    /// A virtual instant, microseconds after power-on.
    Time { us: u64 },
    /// A point of flash operation `index` (0-based, counted from power-on).
    Op { index: u64, point: OpPoint },
    /// Once `n` bytes of the update have been delivered since power-on.
    Byte { n: u64 },
}

/// The `at`-tagged serde form of [`CutAt`] (`#[serde(with = "cutpoint_core::cut::at_tagged")]`).
pub mod at_tagged {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::{CutAt, OpPoint};

    #[derive(Serialize, Deserialize)]
    #[serde(rename_all = "kebab-case", tag = "at")]
    enum Tagged {
        Time { us: u64 },
        Op { index: u64, point: OpPoint },
        Byte { n: u64 },
    }

    pub fn serialize<S: Serializer>(at: &CutAt, s: S) -> Result<S::Ok, S::Error> {
        match *at {
            CutAt::Time { us } => Tagged::Time { us },
            CutAt::Op { index, point } => Tagged::Op { index, point },
            CutAt::Byte { n } => Tagged::Byte { n },
        }
        .serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<CutAt, D::Error> {
        Ok(match Tagged::deserialize(d)? {
            Tagged::Time { us } => CutAt::Time { us },
            Tagged::Op { index, point } => CutAt::Op { index, point },
            Tagged::Byte { n } => CutAt::Byte { n },
        })
    }
}

/// A fraction in millionths written with at least two decimals: `0.50`, `0.10`, `0.125`.
pub fn fraction_text(ppm: u32) -> String {
    let whole = ppm / 1_000_000;
    let frac = ppm % 1_000_000;
    let mut digits = format!("{frac:06}");
    while digits.len() > 2 && digits.ends_with('0') {
        digits.pop();
    }
    format!("{whole}.{digits}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cut_aim_keeps_both_serde_forms() {
        #[derive(Serialize, Deserialize, PartialEq, Debug)]
        struct Point {
            #[serde(with = "at_tagged")]
            aim: CutAt,
        }
        let op = CutAt::Op {
            index: 7,
            point: OpPoint::Inside { ppm: 500_000 },
        };
        let plain = serde_json::to_string(&op).unwrap();
        assert_eq!(plain, r#"{"op":{"index":7,"point":{"inside":{"ppm":500000}}}}"#);
        assert_eq!(serde_json::from_str::<CutAt>(&plain).unwrap(), op);
        let p = Point {
            aim: CutAt::Time { us: 5 },
        };
        let tagged = serde_json::to_string(&p).unwrap();
        assert_eq!(tagged, r#"{"aim":{"at":"time","us":5}}"#);
        assert_eq!(serde_json::from_str::<Point>(&tagged).unwrap(), p);
        let p = Point { aim: op };
        let tagged = serde_json::to_string(&p).unwrap();
        assert_eq!(
            tagged,
            r#"{"aim":{"at":"op","index":7,"point":{"inside":{"ppm":500000}}}}"#
        );
        assert_eq!(serde_json::from_str::<Point>(&tagged).unwrap(), p);
    }

    #[test]
    fn fractions_print_with_two_decimals_or_more() {
        assert_eq!(fraction_text(500_000), "0.50");
        assert_eq!(fraction_text(100_000), "0.10");
        assert_eq!(fraction_text(125_000), "0.125");
        assert_eq!(fraction_text(0), "0.00");
        assert_eq!(fraction_text(1_000_000), "1.00");
        assert_eq!(fraction_text(1), "0.000001");
    }

    #[test]
    fn op_points_spell_their_ids() {
        assert_eq!(OpPoint::Before.id_part(), "before");
        assert_eq!(OpPoint::Inside { ppm: 500_000 }.id_part(), "inside-0.50");
        assert_eq!(OpPoint::After.id_part(), "after");
    }

    #[test]
    fn fault_names_are_their_serde_spellings() {
        for f in FaultKind::ALL {
            let json = serde_json::to_string(&f).unwrap();
            assert_eq!(json, format!("\"{}\"", f.name()));
            assert_eq!(serde_json::from_str::<FaultKind>(&json).unwrap(), f);
        }
    }
}
