//! The plan before any run: the ids it lists are the ones the control run gives, in order.

use std::path::Path;

use cutpoint_campaign::{expand_plan, parse_campaign, plan_offline, Campaign, Timeline};

fn campaign(text: &str) -> Campaign {
    parse_campaign(text, Path::new("campaigns/synthetic.toml"))
        .unwrap_or_else(|e| panic!("{}", cutpoint_campaign::format_errors(&e)))
}

const CONSOLE: &[(u64, &str)] = &[
    (0, "boot: start"),
    (1_000, "ota: download-start version=2.0.0 size=10000"),
    (2_000, "ota: download-progress bytes=4096 of=10000"),
    (5_000, "ota: download-done bytes=10000"),
    (6_000, "boot: swap-start type=test size=12288 regions=3"),
    (7_000, "boot: swap-progress type=test region=1 of=3"),
    (9_000, "boot: swap-progress type=test region=2 of=3"),
    (12_000, "boot: swap-done type=test"),
];

fn timeline() -> Timeline<'static> {
    Timeline {
        console: CONSOLE,
        ops: None,
        update_size: 10_000,
    }
}

const KNOWN: &str = r#"
[run]
repetitions = 2
[[phases]]
name = "download"
start = 'ota: download-start'
end = 'ota: download-done'
offsets = { fixed = ["start", "end"], bytes = { step = 4096 }, ms = [1, 2], random = 3 }
"#;

#[test]
fn ids_that_need_no_run_are_those_the_run_gives() {
    let c = campaign(KNOWN);
    let offline = plan_offline(&c, 10_000);
    let run = expand_plan(&c, &timeline()).unwrap();
    let offline_ids: Vec<&str> = offline.points.iter().map(|p| p.id.as_str()).collect();
    let run_ids: Vec<&str> = run.points.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(offline_ids, run_ids);
    assert!(offline.pending.is_empty());
    // ms and random points may still be left out by a short phase.
    assert!(!offline.is_complete());
    let fixed_only = campaign(&KNOWN.replace(", ms = [1, 2], random = 3", ""));
    assert!(plan_offline(&fixed_only, 10_000).is_complete());
}

#[test]
fn offsets_that_need_the_console_are_named_with_why() {
    let c = campaign(
        r#"
[target]
board = "nrf52840"
[[phases]]
name = "download"
start = 'ota: download-start'
end = 'ota: download-done'
offsets = { bytes = [4096, 20000] }
[[phases]]
name = "swap"
start = 'boot: swap-start'
end = 'boot: swap-done'
progress = 'region=(?P<n>\d+)'
offsets = { fixed = ["end"], sectors = { every = 1 } }
[[sequences]]
name = "twice"
first = { phase = "swap", offsets = { fixed = ["start"] } }
then = { phase = "swap", offsets = { random = 2 } }
"#,
    );
    let p = plan_offline(&c, 10_000);
    let ids: Vec<&str> = p.points.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(
        ids,
        ["download/byte-4096", "swap/end"],
        "a sequence's first cuts are not items"
    );
    assert_eq!(
        p.skipped,
        [(
            "download/byte-20000".to_string(),
            "byte 20000 is not inside the update (10000 B)".to_string()
        )]
    );
    let pending: Vec<&str> = p.pending.iter().map(|p| p.what.as_str()).collect();
    assert_eq!(pending, ["swap/sectors", "twice:swap/* > swap"]);
    assert!(
        p.pending[0].reason.contains("progress lines"),
        "{}",
        p.pending[0].reason
    );
    assert!(
        p.pending[1].reason.contains("each of its 1 known first cuts"),
        "{}",
        p.pending[1].reason
    );
}
