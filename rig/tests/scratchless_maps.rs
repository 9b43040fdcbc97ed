//! A station's flash map states a scratch region only where the campaign's mode uses one:
//! swap-move and overwrite run end to end on an emulated bench whose `[layout]` has none, and
//! `cutpoint check` accepts them; swap-scratch (and an A/B scheme, whose record lives there) on
//! the same map is bad input at the station's `[layout]`, saying what to add.

#[path = "support/fake_bench.rs"]
mod fake_bench;

#[path = "support/cli.rs"]
mod cli_run;
use std::sync::atomic::AtomicBool;

use cutpoint::bench_target::BenchTarget;
use cutpoint::engine::{self, RunSpec};
use cutpoint::target::Target;
use cutpoint_report::Status;
use fut::scheme::Mode;
use fut::Variant;

/// The nRF52840 DK with its own map: two slots of 32 sectors and no scratch region.
const STATION: &str = r#"
name = "emulated-no-scratch"
off_dwell_ms = 40

[target]
board = "nrf52840"

[power]
kind = "command"
on = ["true"]
off = ["true"]

[console]
kind = "serial"
port = "/dev/null"
baud = 115200

[probe]
kind = "probe-rs"
selector = "1366:1051"
chip = "nRF52840_xxAA"

[transport]
kind = "http"
bind = "127.0.0.1:0"

[layout]
sector_size = 4096
write_size = 4

[[layout.regions]]
name = "bootloader"
offset = 0x0
size = 0x10000

[[layout.regions]]
name = "primary"
offset = 0x10000
size = 0x20000

[[layout.regions]]
name = "secondary"
offset = 0x30000
size = 0x20000
"#;

fn campaign(mode: &str, phases: &str) -> String {
    format!(
        r#"name = "no-scratch-{mode}"

[target]
station = "station.toml"
mode = "{mode}"
upgrade = "perm"

[images]
baseline = {{ version = "1.0.0", size_kib = 16 }}
update = {{ version = "2.0.0", size_kib = 16, health = "ok" }}

[run]
seed = 7
off_dwell_ms = 40
boot_timeout_ms = 2000
settle_timeout_ms = 8000

[[phases]]
name = "download"
start = 'ota: download-(start|resume)'
end = 'ota: download-done'
progress = 'ota: download-progress bytes=(?P<n>\d+)'
offsets = {{ fixed = ["start"], bytes = [6000] }}
{phases}"#
    )
}

const MOVE: &str = r#"
[[phases]]
name = "move"
start = 'boot: swap-(start|resume)'
end = 'boot: move-done'
progress = 'boot: move-progress .* sector=(?P<n>\d+)'
offsets = { fixed = ["start"], sectors = { every = 2 } }
"#;

const OVERWRITE: &str = r#"
[[phases]]
name = "overwrite"
start = 'boot: overwrite-start'
end = 'boot: overwrite-done'
progress = 'boot: overwrite-progress sector=(?P<n>\d+)'
offsets = { sectors = { every = 2 } }
"#;

/// Runs `campaign` on the emulated bench (the reference firmware in `mode`, on the station's
/// map): every cut point and the control run pass, the update ends up running.
fn runs_clean(campaign: &str, mode: Mode) {
    let st = fake_bench::emulated_station(STATION, campaign, mode, Variant::Reference, fake_bench::SCALE);
    let l = st.setup.config.layout;
    assert_eq!(l.scratch.size, 0, "{l:?}");
    assert_eq!((l.primary.offset, l.secondary.offset), (0x10000, 0x30000));
    let parts = st.emulator.parts(st.console, false);
    let target = BenchTarget::from_parts(parts, st.setup.config.clone()).unwrap();
    assert_eq!(target.workers(), 1);
    let spec = RunSpec::whole(
        &st.campaign,
        st.dir.path().join("report"),
        st.setup.expect.clone(),
        st.setup.update_size,
    );
    let o = engine::run(&target, &spec, &mut cutpoint::sink::ignore(), &AtomicBool::new(false)).unwrap();
    let journal = cutpoint_report::journal::read_journal(&o.journal_path).unwrap();
    let control = journal.control.as_ref().unwrap();
    assert_eq!(control.status, Status::Pass, "{:?}", control.reasons);
    assert!(!o.control_failed);
    assert!(journal.cuts.len() >= 4, "{}", journal.cuts.len());
    for c in &journal.cuts {
        // A cut aimed at the very end of a short window on a loaded machine may never fire:
        // a rig error, never a pass.
        if c.status == Status::Error && c.reasons.iter().any(|r| r.contains("never fired")) {
            continue;
        }
        assert_eq!(c.status, Status::Pass, "{}: {:?}", c.id, c.reasons);
        assert_eq!(c.final_image.as_deref(), Some("2.0.0+0"), "{}", c.id);
    }
}

#[test]
fn swap_move_runs_on_a_station_map_without_scratch() {
    runs_clean(&campaign("swap-move", MOVE), Mode::SWAP_MOVE);
}

#[test]
fn overwrite_runs_on_a_station_map_without_scratch() {
    runs_clean(&campaign("overwrite", OVERWRITE), Mode::OVERWRITE);
}

/// The 1-based line of the first line of `text` that starts with `start`.
fn line_of(text: &str, start: &str) -> usize {
    text.lines().position(|l| l.starts_with(start)).unwrap() + 1
}

#[test]
fn check_accepts_a_map_without_scratch_only_for_modes_that_use_none() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("station.toml"), STATION).unwrap();
    let path = dir.path().join("campaign.toml");
    let path = path.to_str().unwrap();

    // The station on its own, and campaigns in modes without scratch: accepted.
    let (code, _, stderr) = cli_run::cutpoint_in(dir.path(), &["check", "station.toml"]);
    assert_eq!(code, 0, "{stderr}");
    for (mode, phases) in [("swap-move", MOVE), ("overwrite", OVERWRITE), ("swap-offset", "")] {
        std::fs::write(path, campaign(mode, phases)).unwrap();
        let (code, stdout, stderr) = cli_run::cutpoint_in(dir.path(), &["check", path]);
        assert_eq!(code, 0, "{mode}: {stderr}");
        assert!(stdout.contains("the station's [layout]"), "{mode}: {stdout}");
    }

    // Swap-scratch swaps through a scratch region: refused at the station's [layout] regions.
    let first_region = line_of(STATION, "[[layout.regions]]");
    std::fs::write(path, campaign("swap-scratch", "")).unwrap();
    let (code, _, stderr) = cli_run::cutpoint_in(dir.path(), &["check", path]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains(&format!("station.toml:{first_region}:")) && stderr.contains("layout.regions"),
        "{stderr}"
    );
    assert!(
        stderr.contains("mode swap-scratch needs a scratch region")
            && stderr.contains("add [[layout.regions]] name = \"scratch\""),
        "{stderr}"
    );
    // `run` refuses it the same way, before it opens anything.
    let (code, _, stderr) = cli_run::cutpoint_in(dir.path(), &["run", path]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("mode swap-scratch needs a scratch region"), "{stderr}");

    // An A/B scheme keeps its record there: refused too, saying what it keeps.
    std::fs::write(path, campaign("redundant-copies", "")).unwrap();
    let (code, _, stderr) = cli_run::cutpoint_in(dir.path(), &["check", path]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("mode redundant-copies needs a scratch region (it keeps its boot-select record"),
        "{stderr}"
    );

    // With a scratch region of one sector swap-scratch is accepted; the A/B record needs two,
    // and the error is at that region's size.
    let with_scratch = format!("{STATION}\n[[layout.regions]]\nname = \"scratch\"\noffset = 0x50000\nsize = 0x1000\n");
    std::fs::write(dir.path().join("station.toml"), &with_scratch).unwrap();
    std::fs::write(path, campaign("swap-scratch", "")).unwrap();
    let (code, _, stderr) = cli_run::cutpoint_in(dir.path(), &["check", path]);
    assert_eq!(code, 0, "{stderr}");
    std::fs::write(path, campaign("redundant-copies", "")).unwrap();
    let (code, _, stderr) = cli_run::cutpoint_in(dir.path(), &["check", path]);
    assert_eq!(code, 2, "{stderr}");
    let size_line = with_scratch.lines().count();
    assert!(
        stderr.contains(&format!("station.toml:{size_line}:")) && stderr.contains("layout.regions.scratch.size"),
        "{stderr}"
    );
    assert!(stderr.contains("too small for mode redundant-copies"), "{stderr}");
}
