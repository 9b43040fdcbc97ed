//! The campaign templates for stock targets (`campaigns/templates/`) and their example stations:
//! `cutpoint check` accepts them, and their markers and phases match a console made of the lines
//! the stock bootloader and application really print (a fixture under `fixtures/logs/`, each
//! line taken from their sources, cited in the template), run through the rig's own phase
//! finder and marker check. The same patterns must miss a console that differs where it matters
//! (another MCUboot mode, another OTA log), so the match is not vacuous.

#[path = "support/cli.rs"]
mod cli;

use cli::{cutpoint, root};
use cutpoint_campaign::{expand_plan, find_phases, load_campaign, unmatched_markers, Campaign, Timeline};

fn check_ok(rel: &str, kind: &str) {
    let (code, stdout, stderr) = cutpoint(&["check", rel]);
    assert_eq!(code, 0, "cutpoint check {rel}:\n{stdout}\n{stderr}");
    assert!(stdout.contains(&format!("ok ({kind}")), "{rel}: {stdout}");
}

fn template(rel: &str) -> Campaign {
    load_campaign(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {}", cutpoint_campaign::format_errors(&e)))
}

/// The fixture's lines, stamped 1 ms apart (a line-oriented capture has no times).
fn console(text: &str) -> Vec<(u64, &str)> {
    text.lines().enumerate().map(|(i, l)| (i as u64 * 1000, l)).collect()
}

/// Every marker that must match a control run matches, and each phase is found, starting and
/// ending at the expected lines; the plan has points in every phase.
fn matches_log(c: &Campaign, log: &str, phases: &[(&str, &str, &str)]) {
    let lines = console(log);
    let tl = Timeline {
        console: &lines,
        ops: None,
        update_size: 0,
    };
    let unmatched = unmatched_markers(c, &tl, true);
    assert!(
        unmatched.is_empty(),
        "{}",
        unmatched.iter().map(|u| u.to_string()).collect::<Vec<_>>().join("\n")
    );
    let found = find_phases(c, &tl).unwrap_or_else(|e| panic!("{}: {e}", c.name));
    assert_eq!(found.len(), phases.len());
    for (f, (name, start, end)) in found.iter().zip(phases) {
        assert_eq!(f.span.name, *name);
        assert!(lines[f.start_line].1.contains(start), "{name} starts at {:?}", lines[f.start_line].1);
        assert!(lines[f.end_line].1.contains(end), "{name} ends at {:?}", lines[f.end_line].1);
    }
    let plan = expand_plan(c, &tl).unwrap_or_else(|e| panic!("{}: {e}", c.name));
    for (name, _, _) in phases {
        assert!(plan.points.iter().any(|p| p.phase == *name), "no cut point in {name}");
    }
}

#[test]
fn zephyr_mcuboot_template_and_station_check() {
    check_ok("rig/bench/stations/pi-gpio-nrf52840dk-zephyr-mcuboot.toml", "Station");
    check_ok("campaigns/templates/zephyr-mcuboot.toml", "Campaign");
    let c = template("campaigns/templates/zephyr-mcuboot.toml");
    assert_eq!(c.target.mode.name(), "swap-move", "Zephyr's default MCUboot mode");
}

#[test]
fn zephyr_mcuboot_patterns_match_mcuboot_and_zephyr_lines() {
    let c = template("campaigns/templates/zephyr-mcuboot.toml");
    let log = std::fs::read_to_string(root().join("fixtures/logs/zephyr-mcuboot-swap-move.log")).unwrap();
    matches_log(
        &c,
        &log,
        &[
            (
                "swap",
                "I: Starting swap using move algorithm.",
                "I: Bootloader chainload address offset: 0xc000",
            ),
            (
                "first-boot",
                "I: Jumping to the first image slot",
                "<inf> smp_sample: build time:",
            ),
        ],
    );
    // The jump marker reads the version MCUboot names, the new one after the swap.
    let versions: Vec<&str> = log
        .lines()
        .filter_map(|l| c.markers.jump.captures(l))
        .filter_map(|m| m.name("version").map(|v| v.as_str()))
        .collect();
    assert_eq!(versions, ["1.0.0", "2.0.0"]);
    // A bootloader built for swap using scratch prints another line: the swap phase is not there.
    let scratch = log.replace("using move algorithm", "using scratch algorithm");
    let lines = console(&scratch);
    let tl = Timeline {
        console: &lines,
        ops: None,
        update_size: 0,
    };
    let err = find_phases(&c, &tl).unwrap_err().to_string();
    assert!(err.contains("phase \"swap\" not found"), "{err}");
    // Full logging (time stamp and `<inf> mcuboot:` instead of `I:`) matches as well.
    let full = log.replace("I: ", "[00:00:00.000,000] <inf> mcuboot: ");
    matches_log(
        &c,
        &full,
        &[
            ("swap", "Starting swap using move algorithm.", "Bootloader chainload address offset"),
            ("first-boot", "Jumping to the first image slot", "smp_sample: build time:"),
        ],
    );
}
