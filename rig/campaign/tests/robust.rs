//! Nothing panics on user input: arbitrary text, mangled campaign files, arbitrary consoles.

mod common;

use std::path::Path;

use cutpoint_campaign::{
    expand_plan, expand_second_plan, load_campaign, parse_campaign, parse_station, OpSpan, RegionSet, Timeline,
};
use proptest::prelude::*;

fn nightly_text() -> String {
    std::fs::read_to_string(common::campaigns_dir().join("nightly.toml")).expect("nightly.toml")
}

const LINES: &[&str] = &[
    "boot: start",
    "ota: download-start version=2.0.0 size=10000",
    "ota: download-progress bytes=4096 of=10000",
    "ota: download-done bytes=10000",
    "ota: verify-start",
    "ota: verify-ok",
    "ota: request-start type=test",
    "ota: request-done type=test",
    "ota: reboot",
    "boot: integrity slot=secondary ok",
    "boot: swap-start type=test size=8192 regions=2",
    "boot: swap-progress type=test region=1 of=2",
    "boot: swap-progress type=test region=99999999999999999999999 of=2",
    "boot: swap-done type=test",
    "boot: jump version=2.0.0 hash=00",
    "app: first-boot version=2.0.0 pending=confirm",
    "app: health ok version=2.0.0",
    "app: confirm version=2.0.0",
    "ota: idle reason=up-to-date",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        let _ = parse_campaign(&text, Path::new("x.toml"));
        let _ = parse_station(&text, Path::new("x.toml"));
    }

    #[test]
    fn mangled_campaigns_never_panic(at in 0usize..4000, len in 0usize..40, with in "[\\[\\]{}=\"',.a-z0-9 \\n-]{0,12}") {
        let text = nightly_text();
        let mut at = at.min(text.len());
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        let mut end = (at + len).min(text.len());
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let mangled = format!("{}{}{}", &text[..at], with, &text[end..]);
        if let Err(errors) = parse_campaign(&mangled, Path::new("campaigns/nightly.toml")) {
            prop_assert!(!errors.is_empty());
            for e in &errors {
                prop_assert!(e.line <= mangled.lines().count() + 1, "{}", e);
            }
        }
    }

    #[test]
    fn arbitrary_consoles_never_panic(
        picks in proptest::collection::vec((0usize..LINES.len(), 0u64..5_000_000), 0..80),
        ops in proptest::collection::vec((0u64..5_000_000, 0u64..100_000), 0..50),
        update_size in 0u64..200_000,
    ) {
        let campaign = load_campaign(common::campaigns_dir().join("nightly.toml")).expect("nightly");
        let console: Vec<(u64, &str)> = picks.iter().map(|&(i, t)| (t, LINES[i])).collect();
        let ops = spans(&ops);
        let tl = Timeline { console: &console, ops: Some(&ops), update_size };
        let _ = expand_plan(&campaign, &tl);
        let tl = Timeline { ops: None, ..tl };
        let _ = expand_plan(&campaign, &tl);
    }

    /// Every phase is found, but times go anywhere (even backwards) and lines repeat.
    #[test]
    fn disordered_times_never_panic(
        times in proptest::collection::vec(any::<u64>(), LINES.len()),
        extra in proptest::collection::vec((0usize..LINES.len(), any::<u64>()), 0..20),
        ops in proptest::collection::vec((any::<u64>(), any::<u64>()), 0..30),
        update_size in any::<u64>(),
    ) {
        let campaign = parse_campaign(EVERY_KIND, Path::new("every-kind.toml")).expect("valid");
        let mut console: Vec<(u64, &str)> = LINES.iter().zip(&times).map(|(l, t)| (*t, *l)).collect();
        for (i, t) in extra {
            let at = i.min(console.len());
            console.insert(at, (t, LINES[i]));
        }
        let ops = spans(&ops);
        for ops in [Some(&ops[..]), None] {
            let tl = Timeline { console: &console, ops, update_size };
            if let Ok(plan) = expand_plan(&campaign, &tl) {
                for p in plan.points.iter().filter(|p| p.then.is_some()) {
                    let _ = expand_second_plan(&campaign, p, &tl);
                }
            }
        }
    }
}

fn spans(ops: &[(u64, u64)]) -> Vec<OpSpan> {
    ops.iter()
        .enumerate()
        .map(|(i, &(s, d))| OpSpan {
            index: i as u64,
            start_us: s,
            end_us: s.saturating_add(d),
            regions: RegionSet::NONE,
        })
        .collect()
}

const EVERY_KIND: &str = r#"
[run]
repetitions = 2
[[phases]]
name = "download"
start = 'ota: download-start'
end = 'ota: download-done'
progress = 'ota: download-progress bytes=(?P<n>\d+)'
offsets = { fixed = ["start", "end"], bytes = { step = 1000 }, ms = [0, 1, 1000], us = [0, 5], sectors = { every = 1, fraction = 0.5 }, random = 5, every_op = ["before", "inside:0.5", "after"] }
[[phases]]
name = "swap"
start = 'boot: swap-start'
end = 'boot: swap-done'
progress = 'boot: swap-progress .* region=(?P<n>\d+)'
offsets = { fixed = ["end"], bytes = [1, 99999999999], sectors = { every = 1 }, random = 3, every_op = ["inside:1"] }
[[sequences]]
first = { phase = "swap", offsets = { sectors = { every = 1, fraction = 1 } } }
then = { phase = "download", offsets = { random = 2, sectors = { every = 1, fraction = 0 }, every_op = ["after"] } }
"#;
