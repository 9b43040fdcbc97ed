//! Cut-point expansion on a synthetic timeline: every offset kind, anchors, skipped offsets,
//! id stability and uniqueness, double cuts, partitions and plan summaries.

use std::path::Path;
use std::time::Duration;

use cutpoint_campaign::{
    check_partition, cut_seed, expand_plan, find_phases, in_partition, parse_campaign, Aim, Anchor, Campaign, CutPoint,
    ExpandError, OffsetKind, OpPoint, OpSpan, RegionSet, Timeline,
};
use proptest::prelude::*;

mod common;

use common::plan_summary::{estimate_wall_time, plan_summary};
use common::{expand, expand_second};

const PHASES: &str = r#"
[run]
seed = 42

[[phases]]
name = "download"
start = 'ota: download-(start|resume)'
end = 'ota: download-done'
progress = 'ota: download-progress bytes=(?P<n>\d+)'
offsets = { fixed = ["start", "end"], bytes = [4096, 9000, 20000], ms = [1, 10], random = 3 }

[[phases]]
name = "swap"
start = 'boot: swap-(start|resume)'
end = 'boot: swap-done'
progress = 'boot: swap-progress .* region=(?P<n>\d+)'
offsets = { sectors = { every = 2 }, us = [500, 7000], every_op = ["before", "inside:0.5", "after"] }
"#;

fn campaign(text: &str) -> Campaign {
    parse_campaign(text, Path::new("campaigns/synthetic.toml"))
        .unwrap_or_else(|e| panic!("{}", cutpoint_campaign::format_errors(&e)))
}

/// Console of an update of 10000 bytes: download with three progress markers, a swap of
/// three regions.
const CONSOLE: &[(u64, &str)] = &[
    (0, "boot: start"),
    (1_000, "ota: download-start version=2.0.0 size=10000"),
    (2_000, "ota: download-progress bytes=4096 of=10000"),
    (3_000, "ota: download-progress bytes=8192 of=10000"),
    (4_000, "ota: download-progress bytes=10000 of=10000"),
    (5_000, "ota: download-done bytes=10000"),
    (5_000, "ota: reboot"),
    (6_000, "boot: start"),
    (6_000, "boot: swap-start type=test size=12288 regions=3"),
    (7_000, "boot: swap-progress type=test region=1 of=3"),
    (9_000, "boot: swap-progress type=test region=2 of=3"),
    (11_000, "boot: swap-progress type=test region=3 of=3"),
    (12_000, "boot: swap-done type=test"),
];

const OPS: &[OpSpan] = &[
    OpSpan {
        index: 0,
        start_us: 1_000,
        end_us: 1_500,
        regions: RegionSet::NONE,
    },
    OpSpan {
        index: 1,
        start_us: 2_000,
        end_us: 2_600,
        regions: RegionSet::NONE,
    },
    OpSpan {
        index: 2,
        start_us: 6_000,
        end_us: 6_800,
        regions: RegionSet::NONE,
    },
    OpSpan {
        index: 3,
        start_us: 7_000,
        end_us: 8_000,
        regions: RegionSet::NONE,
    },
    OpSpan {
        index: 4,
        start_us: 11_000,
        end_us: 11_500,
        regions: RegionSet::NONE,
    },
    OpSpan {
        index: 5,
        start_us: 12_000,
        end_us: 12_100,
        regions: RegionSet::NONE,
    },
];

fn timeline() -> Timeline<'static> {
    Timeline {
        console: CONSOLE,
        ops: Some(OPS),
        update_size: 10_000,
    }
}

fn ids(points: &[CutPoint]) -> Vec<&str> {
    points.iter().map(|p| p.id.as_str()).collect()
}

fn anchor(pattern: &str, nth: u32, delay_us: u64) -> Option<Anchor> {
    Some(Anchor {
        pattern: pattern.to_string(),
        nth,
        delay_us,
    })
}

#[test]
fn phases_are_found_in_order() {
    let c = campaign(PHASES);
    let spans = find_phases(&c, &timeline()).expect("found");
    assert_eq!(spans.len(), 2);
    assert_eq!((spans[0].start_line, spans[0].end_line), (1, 5));
    assert_eq!((spans[0].span.start_us, spans[0].span.end_us), (1_000, 5_000));
    assert_eq!((spans[1].start_line, spans[1].end_line), (8, 12));
}

#[test]
fn a_missing_phase_names_the_phase_and_its_pattern() {
    let c = campaign(PHASES);
    let console: Vec<(u64, &str)> = CONSOLE
        .iter()
        .copied()
        .filter(|(_, l)| !l.contains("swap-start"))
        .collect();
    let tl = Timeline {
        console: &console,
        ..timeline()
    };
    let err = find_phases(&c, &tl).unwrap_err();
    assert!(matches!(err, ExpandError::PhaseStartNotFound { ref phase, .. } if phase == "swap"));
    assert_eq!(
        err.to_string(),
        "phase \"swap\" not found: no console line matches its start 'boot: swap-(start|resume)' after phase \
         \"download\" (from console line 6)"
    );
    let console = &CONSOLE[..5];
    let err = find_phases(&c, &Timeline { console, ..timeline() }).unwrap_err();
    assert_eq!(
        err.to_string(),
        "phase \"download\" never ends: no console line after its start (line 2) matches its end 'ota: download-done'"
    );
}

#[test]
fn the_start_of_a_phase_is_searched_after_the_previous_phase_ended() {
    // Both phases start at "boot: start": the second must find the second boot.
    let text = r#"
[[phases]]
name = "first"
start = 'boot: start'
end = 'ota: download-done'
offsets = { fixed = ["start"] }
[[phases]]
name = "second"
start = 'boot: start'
end = 'boot: swap-done'
offsets = { fixed = ["start"] }
"#;
    let points = expand(&campaign(text), &timeline()).expect("expands");
    assert_eq!(points[0].aim, Aim::Time { us: 0 });
    assert_eq!(points[0].anchor, anchor("boot: start", 1, 0));
    assert_eq!(points[1].aim, Aim::Time { us: 6_000 });
    assert_eq!(points[1].anchor, anchor("boot: start", 2, 0));
}

#[test]
fn every_offset_kind_expands_to_its_aims_and_ids() {
    let c = campaign(PHASES);
    let plan = expand_plan(&c, &timeline()).expect("expands");
    let got: Vec<(&str, Aim)> = plan.points.iter().map(|p| (p.id.as_str(), p.aim)).collect();
    let random: Vec<&CutPoint> = plan.points.iter().filter(|p| p.offset.starts_with("random")).collect();
    assert_eq!(
        ids(&random.iter().map(|p| (*p).clone()).collect::<Vec<_>>()),
        ["download/random-01", "download/random-02", "download/random-03"]
    );
    let mut last = 0;
    for p in &random {
        let Aim::Time { us } = p.aim else {
            panic!("random gives time aims")
        };
        assert!((1_000..5_000).contains(&us), "{us} outside the download");
        assert!(us >= last, "random instants are numbered in time order");
        last = us;
        assert_eq!(p.anchor, anchor("ota: download-(start|resume)", 1, us - 1_000));
    }
    let want: Vec<(&str, Aim)> = vec![
        ("download/start", Aim::Time { us: 1_000 }),
        ("download/end", Aim::Time { us: 5_000 }),
        ("download/byte-4096", Aim::Byte { n: 4096 }),
        ("download/byte-9000", Aim::Byte { n: 9000 }),
        ("download/ms-1", Aim::Time { us: 2_000 }),
        // ms-10 is past the end: skipped, and said so below.
        random[0..3]
            .iter()
            .map(|p| (p.id.as_str(), p.aim))
            .next()
            .expect("random 1"),
        (random[1].id.as_str(), random[1].aim),
        (random[2].id.as_str(), random[2].aim),
        ("swap/us-500", Aim::Time { us: 6_500 }),
        ("swap/sector-1", Aim::Time { us: 7_000 }),
        ("swap/sector-3", Aim::Time { us: 11_000 }),
        (
            "swap/op-0002-before",
            Aim::Op {
                index: 2,
                point: OpPoint::Before,
            },
        ),
        (
            "swap/op-0002-inside-0.50",
            Aim::Op {
                index: 2,
                point: OpPoint::Inside { ppm: 500_000 },
            },
        ),
        (
            "swap/op-0002-after",
            Aim::Op {
                index: 2,
                point: OpPoint::After,
            },
        ),
        (
            "swap/op-0003-before",
            Aim::Op {
                index: 3,
                point: OpPoint::Before,
            },
        ),
        (
            "swap/op-0003-inside-0.50",
            Aim::Op {
                index: 3,
                point: OpPoint::Inside { ppm: 500_000 },
            },
        ),
        (
            "swap/op-0003-after",
            Aim::Op {
                index: 3,
                point: OpPoint::After,
            },
        ),
        (
            "swap/op-0004-before",
            Aim::Op {
                index: 4,
                point: OpPoint::Before,
            },
        ),
        (
            "swap/op-0004-inside-0.50",
            Aim::Op {
                index: 4,
                point: OpPoint::Inside { ppm: 500_000 },
            },
        ),
        (
            "swap/op-0004-after",
            Aim::Op {
                index: 4,
                point: OpPoint::After,
            },
        ),
    ];
    // Order: fixed, bytes, ms, us, sectors, random, every_op within a phase.
    let mut want_sorted = want.clone();
    want_sorted.sort_by_key(|(id, _)| plan.points.iter().position(|p| p.id == *id));
    assert_eq!(got, want_sorted);
    assert_eq!(want.len(), got.len());

    let find = |id: &str| plan.points.iter().find(|p| p.id == id).expect(id);
    assert_eq!(
        find("download/start").anchor,
        anchor("ota: download-(start|resume)", 1, 0)
    );
    assert_eq!(find("download/end").anchor, anchor("ota: download-done", 1, 0));
    assert_eq!(
        find("download/ms-1").anchor,
        anchor("ota: download-(start|resume)", 1, 1_000)
    );
    assert_eq!(find("download/byte-4096").anchor, None);
    assert_eq!(
        find("swap/sector-3").anchor,
        anchor(r"boot: swap-progress .* region=(?P<n>\d+)", 3, 0)
    );
    assert_eq!(find("swap/op-0003-after").anchor, None);
    assert_eq!(find("download/start").kind(), OffsetKind::Fixed);
    assert_eq!(find("swap/op-0003-after").kind(), OffsetKind::EveryOp);

    let skipped: Vec<(&str, &str)> = plan
        .skipped
        .iter()
        .map(|s| (s.id.as_str(), s.reason.as_str()))
        .collect();
    assert_eq!(
        skipped,
        [
            ("download/byte-20000", "byte 20000 is not inside the update (10000 B)"),
            (
                "download/ms-10",
                "10 ms is past the phase's end (4000 µs after its start)"
            ),
            (
                "swap/us-7000",
                "7000 us is past the phase's end (6000 µs after its start)"
            ),
        ]
    );
}

#[test]
fn byte_steps_stay_inside_the_update() {
    let text = PHASES.replace("bytes = [4096, 9000, 20000]", "bytes = { step = 3000 }");
    let points = expand(&campaign(&text), &timeline()).expect("expands");
    let bytes: Vec<&str> = points
        .iter()
        .filter(|p| p.kind() == OffsetKind::Bytes)
        .map(|p| p.id.as_str())
        .collect();
    assert_eq!(
        bytes,
        ["download/byte-3000", "download/byte-6000", "download/byte-9000"]
    );
    let text = PHASES.replace(
        "bytes = [4096, 9000, 20000]",
        "bytes = { step = 2000, from = 500, to = 4500 }",
    );
    let points = expand(&campaign(&text), &timeline()).expect("expands");
    let bytes: Vec<&str> = points
        .iter()
        .filter(|p| p.kind() == OffsetKind::Bytes)
        .map(|p| p.id.as_str())
        .collect();
    // `to` is exclusive.
    assert_eq!(bytes, ["download/byte-500", "download/byte-2500"]);
    // A plan too large to hold is an error, not an exhausted machine.
    let text = PHASES.replace("bytes = [4096, 9000, 20000]", "bytes = { step = 1 }");
    let tl = Timeline {
        update_size: u64::MAX,
        ..timeline()
    };
    let err = expand(&campaign(&text), &tl).unwrap_err();
    assert_eq!(
        err,
        ExpandError::TooMany {
            phase: "download".to_string()
        }
    );
    assert!(err.to_string().contains("1000000 cut points"), "{err}");
}

#[test]
fn sector_fractions_aim_inside_the_next_flash_operation() {
    let text = PHASES.replace("sectors = { every = 2 }", "sectors = { every = 1, fraction = 0.25 }");
    let c = campaign(&text);
    let plan = expand_plan(&c, &timeline()).expect("expands");
    let sectors: Vec<(&str, Aim)> = plan
        .points
        .iter()
        .filter(|p| p.kind() == OffsetKind::Sectors)
        .map(|p| (p.id.as_str(), p.aim))
        .collect();
    let inside = OpPoint::Inside { ppm: 250_000 };
    assert_eq!(
        sectors,
        [
            (
                "swap/sector-1+0.25",
                Aim::Op {
                    index: 3,
                    point: inside
                }
            ),
            (
                "swap/sector-3+0.25",
                Aim::Op {
                    index: 4,
                    point: inside
                }
            ),
        ]
    );
    // No operation starts between region 2's marker and region 3's: nothing to cut inside.
    let skipped: Vec<&str> = plan.skipped.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(
        skipped,
        [
            "download/byte-20000",
            "download/ms-10",
            "swap/us-7000",
            "swap/sector-2+0.25"
        ]
    );

    // Without the journal (a bench), the fraction is of the time to the next console line.
    let tl = Timeline {
        ops: None,
        ..timeline()
    };
    let text = text.replace(", every_op = [\"before\", \"inside:0.5\", \"after\"]", "");
    let points = expand(&campaign(&text), &tl).expect("expands without ops");
    let sector_2 = points.iter().find(|p| p.id == "swap/sector-2+0.25").expect("sector 2");
    assert_eq!(sector_2.aim, Aim::Time { us: 9_500 });
    assert_eq!(
        sector_2.anchor,
        anchor(r"boot: swap-progress .* region=(?P<n>\d+)", 2, 500)
    );
}

#[test]
fn every_op_needs_the_journal() {
    let tl = Timeline {
        ops: None,
        ..timeline()
    };
    let err = expand(&campaign(PHASES), &tl).unwrap_err();
    assert_eq!(
        err,
        ExpandError::NoOps {
            phase: "swap".to_string()
        }
    );
}

#[test]
fn every_op_with_regions_takes_only_the_operations_touching_them() {
    let text = PHASES.replace(
        "every_op = [\"before\", \"inside:0.5\", \"after\"]",
        "every_op = { at = [\"inside:0.5\"], regions = [\"primary-trailer\", \"scratch-trailer\"] }",
    );
    let c = campaign(&text);
    let tag = |names: &str| RegionSet::parse(names).unwrap();
    let mut ops = OPS.to_vec();
    ops[2].regions = tag("primary,primary-trailer");
    ops[3].regions = tag("secondary");
    ops[4].regions = tag("scratch,scratch-trailer");
    let tl = Timeline {
        ops: Some(&ops),
        ..timeline()
    };
    let plan = expand_plan(&c, &tl).expect("expands");
    let op_ids: Vec<&str> = ids(&plan.points).into_iter().filter(|id| id.contains("/op-")).collect();
    assert_eq!(op_ids, ["swap/op-0002-inside-0.50", "swap/op-0004-inside-0.50"]);

    // None of the phase's operations touches the regions: the offset is skipped, with why.
    let untagged = Timeline {
        ops: Some(OPS),
        ..timeline()
    };
    let plan = expand_plan(&c, &untagged).expect("expands");
    assert!(!ids(&plan.points).iter().any(|id| id.contains("/op-")));
    let skipped = plan.skipped.iter().find(|s| s.id == "swap/op-*").expect("noted");
    assert!(
        skipped.reason.contains("touches primary-trailer,scratch-trailer"),
        "{}",
        skipped.reason
    );
    assert!(c
        .phase("swap")
        .unwrap()
        .offsets
        .describe()
        .iter()
        .any(|d| d == "every_op inside-0.50 in primary-trailer,scratch-trailer"));
}

#[test]
fn ids_are_stable_and_seeds_follow_them() {
    let c = campaign(PHASES);
    let a = expand(&c, &timeline()).expect("expands");
    let b = expand(&c, &timeline()).expect("expands");
    assert_eq!(a, b);
    for p in &a {
        assert_eq!(p.seed, cut_seed(42, &p.id));
    }
    // Reloading the same text gives the same plan.
    assert_eq!(expand(&campaign(PHASES), &timeline()).expect("expands"), a);
}

#[test]
fn changing_one_phase_leaves_the_other_phases_points_alone() {
    let before = expand(&campaign(PHASES), &timeline()).expect("expands");
    let edited = PHASES.replace("ms = [1, 10], random = 3", "ms = [2, 3], random = 7");
    let after = expand(&campaign(&edited), &timeline()).expect("expands");
    let swap = |v: &[CutPoint]| v.iter().filter(|p| p.phase == "swap").cloned().collect::<Vec<_>>();
    assert_eq!(swap(&before), swap(&after));
    assert_ne!(before, after);
    // Adding random points to the swap does not move the download's random instants.
    let edited = PHASES.replace("us = [500, 7000]", "us = [500, 7000], random = 5");
    let after = expand(&campaign(&edited), &timeline()).expect("expands");
    let download = |v: &[CutPoint]| v.iter().filter(|p| p.phase == "download").cloned().collect::<Vec<_>>();
    assert_eq!(download(&before), download(&after));
}

#[test]
fn repetitions_append_their_number_and_change_the_seed() {
    let text = PHASES.replace("seed = 42", "seed = 42\nrepetitions = 3");
    let points = expand(&campaign(&text), &timeline()).expect("expands");
    let starts: Vec<&CutPoint> = points.iter().filter(|p| p.offset == "start").collect();
    assert_eq!(
        starts.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(),
        ["download/start#1", "download/start#2", "download/start#3"]
    );
    assert_eq!(starts.iter().map(|p| p.repetition).collect::<Vec<_>>(), [1, 2, 3]);
    assert!(starts.iter().all(|p| p.aim == starts[0].aim));
    assert_ne!(starts[0].seed, starts[1].seed);
}

const SEQUENCE: &str = r#"
[[sequences]]
name = "swap-twice"
first = { phase = "swap", offsets = { sectors = { every = 1 } } }
then = { phase = "swap", offsets = { fixed = ["start"], random = 2, every_op = ["inside:0.5"] } }
"#;

#[test]
fn a_third_cut_follows_each_second_cut_of_a_three_cut_sequence() {
    let three = r#"
[[sequences]]
name = "thrice"
first = { phase = "swap", offsets = { sectors = { every = 2 } } }
then = [
  { phase = "swap", offsets = { fixed = ["start"] } },
  { phase = "swap", offsets = { every_op = ["after"] } },
]
"#;
    let c = campaign(&format!("{PHASES}{three}"));
    let points = expand(&c, &timeline()).expect("expands");
    let head = points.iter().find(|p| p.then.is_some()).expect("a first cut");
    assert_eq!(head.then.as_ref().map(|t| t.stage), Some(0));
    let recovery: &[(u64, &str)] = &[
        (0, "boot: start"),
        (0, "boot: swap-resume type=test size=12288 after-region=1 after-step=1"),
        (5_000, "boot: swap-done type=test"),
    ];
    let ops = [OpSpan {
        index: 0,
        start_us: 100,
        end_us: 900,
        regions: RegionSet::NONE,
    }];
    let rtl = Timeline {
        console: recovery,
        ops: Some(&ops),
        update_size: 10_000,
    };
    let seconds = expand_second(&c, head, &rtl).expect("second cuts");
    assert_eq!(ids(&seconds), [format!("{}>swap/start", head.id)]);
    assert_eq!(
        seconds[0].then.as_ref().map(|t| t.stage),
        Some(1),
        "a third cut follows"
    );
    let thirds = expand_second(&c, &seconds[0], &rtl).expect("third cuts");
    assert_eq!(ids(&thirds), [format!("{}>swap/start>swap/op-0000-after", head.id)]);
    assert!(thirds[0].then.is_none(), "the chain ends");
    assert_eq!(thirds[0].seed, cut_seed(42, &thirds[0].id));
}

#[test]
fn sequences_expand_to_heads_then_second_cuts_on_the_recovery_run() {
    let c = campaign(&format!("{PHASES}{SEQUENCE}"));
    let points = expand(&c, &timeline()).expect("expands");
    let heads: Vec<&CutPoint> = points.iter().filter(|p| p.then.is_some()).collect();
    assert_eq!(
        heads.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(),
        [
            "swap-twice:swap/sector-1",
            "swap-twice:swap/sector-2",
            "swap-twice:swap/sector-3"
        ]
    );
    assert_eq!(heads[0].sequence(), Some("swap-twice"));

    let recovery: &[(u64, &str)] = &[
        (0, "boot: start"),
        (0, "boot: swap-resume type=test size=12288 after-region=1 after-step=1"),
        (2_000, "boot: swap-progress type=test region=2 of=3"),
        (4_000, "boot: swap-progress type=test region=3 of=3"),
        (5_000, "boot: swap-done type=test"),
    ];
    let ops = [
        OpSpan {
            index: 0,
            start_us: 100,
            end_us: 900,
            regions: RegionSet::NONE,
        },
        OpSpan {
            index: 1,
            start_us: 2_100,
            end_us: 2_900,
            regions: RegionSet::NONE,
        },
    ];
    let rtl = Timeline {
        console: recovery,
        ops: Some(&ops),
        update_size: 10_000,
    };
    let seconds = expand_second(&c, heads[1], &rtl).expect("second cuts");
    let got: Vec<&str> = ids(&seconds);
    assert_eq!(
        got,
        [
            "swap-twice:swap/sector-2>swap/start",
            "swap-twice:swap/sector-2>swap/random-01",
            "swap-twice:swap/sector-2>swap/random-02",
            "swap-twice:swap/sector-2>swap/op-0000-inside-0.50",
            "swap-twice:swap/sector-2>swap/op-0001-inside-0.50",
        ]
    );
    assert!(seconds
        .iter()
        .all(|p| p.then.is_none() && p.repetition == heads[1].repetition));
    assert!(seconds.iter().all(|p| p.seed == cut_seed(42, &p.id)));
    assert_eq!(seconds[0].aim, Aim::Time { us: 0 });
    assert_eq!(seconds[0].sequence(), Some("swap-twice"));
    // Different heads draw different random instants; the same head always the same ones.
    let other = expand_second(&c, heads[0], &rtl).expect("second cuts");
    assert_eq!(expand_second(&c, heads[1], &rtl).expect("again"), seconds);
    assert_ne!(other[1].aim, seconds[1].aim);

    // A point that heads nothing, and a recovery run without the phase.
    let plain = points.iter().find(|p| p.then.is_none()).expect("plain point");
    assert_eq!(
        expand_second(&c, plain, &rtl).unwrap_err(),
        ExpandError::NotASequence { id: plain.id.clone() }
    );
    let settled = Timeline {
        console: &recovery[..1],
        ..rtl
    };
    assert!(matches!(
        expand_second(&c, heads[0], &settled),
        Err(ExpandError::PhaseStartNotFound { .. })
    ));
}

#[test]
fn duplicate_progress_numbers_get_distinct_ids() {
    let console: Vec<(u64, &str)> = CONSOLE
        .iter()
        .map(|&(t, l)| {
            (
                t,
                if l.contains("region=2") {
                    "boot: swap-progress type=test region=1 of=3"
                } else {
                    l
                },
            )
        })
        .collect();
    let tl = Timeline {
        console: &console,
        ..timeline()
    };
    let text = PHASES.replace("sectors = { every = 2 }", "sectors = { every = 1 }");
    let points = expand(&campaign(&text), &tl).expect("expands");
    let sectors: Vec<&str> = points
        .iter()
        .filter(|p| p.kind() == OffsetKind::Sectors)
        .map(|p| p.id.as_str())
        .collect();
    assert_eq!(sectors, ["swap/sector-1", "swap/sector-1~2", "swap/sector-3"]);
}

#[test]
fn summaries_count_per_phase_and_kind() {
    let c = campaign(&format!("{PHASES}{SEQUENCE}"));
    let points = expand(&c, &timeline()).expect("expands");
    let s = plan_summary(&points);
    assert_eq!(s.total, points.len());
    assert_eq!(s.phases.len(), 2);
    assert_eq!(s.phases[0].phase, "download");
    assert_eq!(
        s.phases[0].kinds,
        [
            (OffsetKind::Fixed, 2),
            (OffsetKind::Bytes, 2),
            (OffsetKind::Ms, 1),
            (OffsetKind::Random, 3)
        ]
    );
    assert_eq!(s.sequences, [("swap-twice".to_string(), 3)]);
    assert_eq!(s.phases.iter().map(|p| p.points).sum::<usize>() + 3, s.total);
    assert_eq!(s.estimate(2.0), estimate_wall_time(s.total + 3, 2.0));
    insta::assert_snapshot!("synthetic_summary", s.lines().join("\n"));
}

// ---------------------------------------------------------------------------------------------
// Partitions

fn numbered(n: usize) -> Vec<CutPoint> {
    (0..n)
        .map(|i| CutPoint {
            id: format!("p/{i}").parse().unwrap(),
            phase: "p".to_string(),
            offset: i.to_string(),
            repetition: 1,
            seed: i as u64,
            aim: Aim::Time { us: i as u64 },
            anchor: None,
            then: None,
        })
        .collect()
}

/// Partition `k` of `n` of first-level points, in their order.
fn partition(points: Vec<CutPoint>, k: u32, n: u32) -> Vec<CutPoint> {
    points
        .into_iter()
        .enumerate()
        .filter(|(i, _)| in_partition(*i as u64, Some((k, n))))
        .map(|(_, p)| p)
        .collect()
}

#[test]
fn partition_validates_k_and_n() {
    assert!(check_partition(1, 1).is_ok());
    assert!(check_partition(0, 3).is_err());
    assert!(check_partition(4, 3).is_err());
    assert!(check_partition(1, 0).is_err());
    assert!(partition(numbered(5), 0, 3).is_empty());
    assert!(partition(numbered(5), 4, 3).is_empty());
    assert!(partition(numbered(5), 1, 0).is_empty());
    assert_eq!(ids(&partition(numbered(7), 2, 3)), ["p/1", "p/4"]);
    assert_eq!(partition(numbered(3), 1, 1).len(), 3);
    assert!(in_partition(5, None));
}

#[test]
fn wall_time_never_panics() {
    assert_eq!(estimate_wall_time(10, 1.5), Duration::from_secs(15));
    assert_eq!(estimate_wall_time(10, -1.0), Duration::ZERO);
    assert_eq!(estimate_wall_time(10, f64::NAN), Duration::ZERO);
    assert_eq!(estimate_wall_time(usize::MAX, f64::MAX), Duration::MAX);
}

proptest! {
    #[test]
    fn partitions_are_disjoint_complete_and_stable(len in 0usize..80, n in 1u32..9) {
        let all = numbered(len);
        let mut seen = vec![0u32; len];
        for k in 1..=n {
            let part = partition(all.clone(), k, n);
            prop_assert_eq!(&part, &partition(all.clone(), k, n));
            let mut last = None;
            for p in &part {
                let i: usize = p.offset.parse().unwrap();
                prop_assert_eq!(i % n as usize + 1, k as usize);
                prop_assert!(last.is_none_or(|l| l < i), "order kept");
                last = Some(i);
                seen[i] += 1;
            }
        }
        prop_assert!(seen.iter().all(|&c| c == 1));
    }

    #[test]
    fn ids_are_unique_for_any_offsets(
        random in 1u32..40,
        step in 1u64..6000,
        every in 1u32..4,
        fraction in proptest::option::of(0.0f64..=1.0),
        reps in 1u32..4,
        ms in proptest::collection::btree_set(0u64..6, 0..4),
        seed in any::<u32>(),
    ) {
        let ms: Vec<String> = ms.iter().map(|m| m.to_string()).collect();
        let ms = if ms.is_empty() { String::new() } else { format!(", ms = [{}]", ms.join(", ")) };
        let sectors = match fraction {
            Some(f) => format!("{{ every = {every}, fraction = {f} }}"),
            None => format!("{{ every = {every} }}"),
        };
        let text = PHASES
            .replace("seed = 42", &format!("seed = {seed}\nrepetitions = {reps}"))
            .replace("bytes = [4096, 9000, 20000], ms = [1, 10], random = 3", &format!("bytes = {{ step = {step} }}, random = {random}{ms}"))
            .replace("sectors = { every = 2 }", &format!("sectors = {sectors}, random = {random}"));
        let c = campaign(&format!("{text}{SEQUENCE}"));
        let points = expand(&c, &timeline()).expect("expands");
        let mut ids: Vec<&str> = points.iter().map(|p| p.id.as_str()).collect();
        let n = ids.len();
        ids.sort_unstable();
        ids.dedup();
        prop_assert_eq!(ids.len(), n);
        prop_assert_eq!(expand(&c, &timeline()).expect("expands"), points);
    }
}
