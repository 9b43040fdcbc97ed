//! After the device settles, the simulated target resets it once more (no cut) and records
//! that run: the pass rule judges what the device does at its next start.

use cutpoint::engine::{self, RunSpec};
use cutpoint::setup::sim_setup;
use cutpoint::target::{RecoveryRules, Target};
use cutpoint_campaign::{load_campaign, CutPoint};

const CAMPAIGN: &str = r#"
name = "plain-reset"
[target]
board = "nrf52840"
variant = "reference"
mode = "swap-scratch"
upgrade = "test"
[images]
baseline = { version = "1.0.0", size_kib = 16 }
update = { version = "2.0.0", size_kib = 16 }
[run]
seed = 5
[[phases]]
name = "swap"
start = 'boot: swap-(start|resume)'
end = 'boot: swap-done'
progress = 'boot: swap-progress .* region=(?P<n>\d+)'
offsets = { fixed = ["start"], sectors = { every = 2, fraction = 0.5 } }
[[phases]]
name = "first-boot"
start = 'app: first-boot'
end = 'app: health ok'
offsets = { ms = [10] }
"#;

#[test]
fn every_settled_recovery_is_followed_by_a_plain_reset_that_boots_the_same_image() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(&path, CAMPAIGN).unwrap();
    let c = load_campaign(&path).unwrap();
    let setup = sim_setup(&c, 1).unwrap();
    let spec = RunSpec::whole(&c, dir.path().join("out"), setup.expect.clone(), setup.update_size);
    let rules = engine::recovery_rules(&setup.expect);
    assert!(rules.reset_after);
    let plan = engine::plan(&setup.target, &spec, &rules).unwrap();
    assert!(plan.items.len() >= 3);
    let settled = |t: &str| t.starts_with("ota: idle");
    for item in &plan.items {
        let cuts = item.cuts().unwrap();
        let chain: Vec<&CutPoint> = cuts.iter().map(|c| &**c).collect();
        let obs = setup.target.run_chain(0, &item.id, &chain, &rules).unwrap();
        let at = obs
            .reset_from
            .unwrap_or_else(|| panic!("{}: no reset after settling", item.id));
        let (recovery, reset) = obs.console.split_at(at);
        assert!(settled(&recovery.last().unwrap().text), "{}: {recovery:?}", item.id);
        assert!(reset[0].text.starts_with("boot: start"), "{}: {reset:?}", item.id);
        assert!(settled(&reset.last().unwrap().text), "{}: {reset:?}", item.id);
        assert!(
            reset[0].t_us > recovery.last().unwrap().t_us,
            "{}: times go on",
            item.id
        );
        assert!(
            reset.iter().any(|l| l.text.starts_with("boot: jump version=2.0.0+0")),
            "{}: {reset:?}",
            item.id
        );
        assert!(
            !reset.iter().any(|l| l.text.starts_with("boot: swap-")),
            "{}: {reset:?}",
            item.id
        );

        // Without the rule, no reset; the timeline a later cut is planned on never has one.
        let plain = RecoveryRules {
            reset_after: false,
            ..rules.clone()
        };
        let without = setup.target.run_chain(0, &item.id, &chain, &plain).unwrap();
        assert_eq!(without.reset_from, None);
        let timeline = setup.target.recovery_timeline(&item.id, &chain, &rules).unwrap();
        assert!(!timeline.console.is_empty());
        assert!(
            timeline.console.len() <= at,
            "{}: the planning timeline stops where the reset begins",
            item.id
        );
    }
}
