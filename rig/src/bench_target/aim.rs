//! How a bench fires one cut: byte aims through the transport's delivery counter, every other
//! aim through a console anchor.

use std::time::Duration;

use cutpoint_bench::{RigError, RigResult};
use cutpoint_campaign::{Aim, CutPoint};
use regex::Regex;

use super::BACKEND;

/// How a bench fires one cut.
#[derive(Debug, Clone)]
pub enum BenchAim {
    /// Hold the transport at `n` bytes and cut once the delivery counter reaches `n`.
    Bytes { n: u64 },
    /// `delay` after the `nth` console line matching `pattern` since power-on (no pattern: after
    /// power-on itself).
    Marker {
        pattern: Option<Regex>,
        nth: u32,
        delay: Duration,
    },
}

impl BenchAim {
    pub fn describe(&self) -> String {
        match self {
            BenchAim::Bytes { n } => format!("{n} bytes delivered"),
            BenchAim::Marker {
                pattern: None, delay, ..
            } => format!("power-on + {} µs", delay.as_micros()),
            BenchAim::Marker {
                pattern: Some(p),
                nth,
                delay,
            } => format!("line #{nth} matching /{p}/ + {} µs", delay.as_micros()),
        }
    }
}

/// How the bench fires `point`: byte aims through the transport's counter, every other aim
/// through its console anchor. An operation aim has no anchor and cannot be fired on a bench.
pub fn bench_aim(point: &CutPoint) -> RigResult<BenchAim> {
    match (point.aim, &point.anchor) {
        (Aim::Byte { n }, _) => Ok(BenchAim::Bytes { n }),
        (_, Some(a)) => {
            let pattern = Regex::new(&a.pattern).map_err(|e| {
                RigError::unsupported(
                    BACKEND,
                    format!("cut {}: anchor /{}/ is not a pattern: {e}", point.id, a.pattern),
                )
            })?;
            Ok(BenchAim::Marker {
                pattern: Some(pattern),
                nth: a.nth.max(1),
                delay: Duration::from_micros(a.delay_us),
            })
        }
        (Aim::Time { us }, None) => Ok(BenchAim::Marker {
            pattern: None,
            nth: 1,
            delay: Duration::from_micros(us),
        }),
        (Aim::Op { .. }, None) => Err(RigError::unsupported(
            BACKEND,
            format!(
                "cut {}: a bench cannot aim at a flash operation (it has no operation journal); use sectors or ms offsets",
                point.id
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cutpoint_bench::RigErrorKind;
    use cutpoint_campaign::{Anchor, OpPoint};

    fn point(aim: Aim, anchor: Option<Anchor>) -> CutPoint {
        CutPoint {
            id: "swap/sector-3".parse().unwrap(),
            phase: "swap".into(),
            offset: "sector-3".into(),
            repetition: 1,
            seed: 7,
            aim,
            anchor,
            then: None,
        }
    }

    #[test]
    fn aims_map_to_trigger_conditions() {
        match bench_aim(&point(Aim::Byte { n: 4096 }, None)).unwrap() {
            BenchAim::Bytes { n } => assert_eq!(n, 4096),
            other => panic!("{other:?}"),
        }
        let anchored = point(
            Aim::Time { us: 123_456 },
            Some(Anchor {
                pattern: r"boot: swap-progress .* region=(?P<n>\d+)".into(),
                nth: 3,
                delay_us: 250,
            }),
        );
        match bench_aim(&anchored).unwrap() {
            BenchAim::Marker {
                pattern: Some(p),
                nth,
                delay,
            } => {
                assert!(p.is_match("boot: swap-progress type=test region=3 of=5"));
                assert_eq!((nth, delay), (3, Duration::from_micros(250)));
            }
            other => panic!("{other:?}"),
        }
        // nth 0 would never fire: the first line counts.
        let zeroth = point(
            Aim::Time { us: 1 },
            Some(Anchor {
                pattern: "x".into(),
                nth: 0,
                delay_us: 0,
            }),
        );
        assert!(matches!(bench_aim(&zeroth).unwrap(), BenchAim::Marker { nth: 1, .. }));
        match bench_aim(&point(Aim::Time { us: 5_000 }, None)).unwrap() {
            BenchAim::Marker {
                pattern: None, delay, ..
            } => assert_eq!(delay, Duration::from_millis(5)),
            other => panic!("{other:?}"),
        }
        let op = point(
            Aim::Op {
                index: 12,
                point: OpPoint::After,
            },
            None,
        );
        let err = bench_aim(&op).unwrap_err();
        assert_eq!(err.kind, RigErrorKind::Unsupported);
        assert!(err.message.contains("flash operation"), "{err}");
        let bad = point(
            Aim::Time { us: 1 },
            Some(Anchor {
                pattern: "(".into(),
                nth: 1,
                delay_us: 0,
            }),
        );
        assert_eq!(bench_aim(&bad).unwrap_err().kind, RigErrorKind::Unsupported);
    }
}
