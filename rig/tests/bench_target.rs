//! The bench target end to end on an emulated bench: the simulated board running the firmware
//! under test behind fake bench parts (see `support/fake_bench.rs`), driven through the
//! engine exactly as a lab bench would be.

#[path = "support/cli.rs"]
mod cli_run;
#[path = "support/fake_bench.rs"]
mod fake_bench;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::AtomicBool;

use cutpoint::bench_setup::{bench_setup, BenchSetup};
use cutpoint::bench_target::BenchTarget;
use cutpoint::engine::{self, RunSpec};
use cutpoint::target::Target;
use cutpoint_bench::{Console, ConsoleLine, RigResult};
use cutpoint_campaign::{load_campaign, Campaign, RestorePolicy};
use cutpoint_report::{CutResult, Status};
use fake_bench::Emulator;
use fut::scheme::Mode;
use fut::Variant;

const STATION: &str = r#"
name = "emulated-nrf52840"
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
"#;

fn campaign_text(name: &str, mode: &str, size_kib: u32, phases: &str) -> String {
    format!(
        r#"
name = "{name}"

[target]
station = "station.toml"
mode = "{mode}"
upgrade = "test"

[images]
baseline = {{ version = "1.0.0", size_kib = {size_kib} }}
update = {{ version = "2.0.0", size_kib = {size_kib}, health = "ok" }}

[run]
seed = 7
off_dwell_ms = 40
boot_timeout_ms = 2000
settle_timeout_ms = 8000

{phases}
"#
    )
}

const DOWNLOAD: &str = r#"
[[phases]]
name = "download"
start = 'ota: download-(start|resume)'
end = 'ota: download-done'
progress = 'ota: download-progress bytes=(?P<n>\d+)'
"#;

const SWAP: &str = r#"
[[phases]]
name = "swap"
start = 'boot: swap-(start|resume)'
end = 'boot: swap-done'
progress = 'boot: swap-progress .* region=(?P<n>\d+)'
"#;

struct Bench {
    campaign: Campaign,
    setup: BenchSetup,
    target: BenchTarget,
    emulator: Emulator,
    _dir: tempfile::TempDir,
}

/// A campaign on the emulated station, with the device running `variant`.
fn bench(campaign: &str, variant: Variant, mode: Mode, relay_ignores_off: bool) -> Bench {
    bench_on(STATION, campaign, variant, mode, relay_ignores_off, fake_bench::SCALE)
}

/// Like [`bench`], on `station`, the device's clock `scale` times the wall clock's.
fn bench_on(station: &str, campaign: &str, variant: Variant, mode: Mode, relay_ignores_off: bool, scale: u64) -> Bench {
    bench_with(station, campaign, variant, mode, relay_ignores_off, scale, |console| {
        console
    })
}

/// Like [`bench_on`], the rig reading the device's console through `console`.
fn bench_with(
    station: &str,
    campaign: &str,
    variant: Variant,
    mode: Mode,
    relay_ignores_off: bool,
    scale: u64,
    console: impl FnOnce(Box<dyn Console>) -> Box<dyn Console>,
) -> Bench {
    let st = fake_bench::emulated_station(station, campaign, mode, variant, scale);
    let mut parts = st.emulator.parts(st.console, relay_ignores_off);
    parts.console = console(parts.console);
    let target = BenchTarget::from_parts(parts, st.setup.config.clone()).unwrap();
    Bench {
        campaign: st.campaign,
        setup: st.setup,
        target,
        emulator: st.emulator,
        _dir: st.dir,
    }
}

/// A finished run: its journal read back from disk, and whether the control run failed.
struct Ran {
    journal: cutpoint_report::journal::Journal,
    control_failed: bool,
}

fn run(b: &Bench) -> Ran {
    let spec = RunSpec::whole(
        &b.campaign,
        b._dir.path().join("report"),
        b.setup.expect.clone(),
        b.setup.update_size,
    );
    let o = engine::run(&b.target, &spec, &mut cutpoint::sink::ignore(), &AtomicBool::new(false)).unwrap();
    Ran {
        journal: cutpoint_report::journal::read_journal(&o.journal_path).unwrap(),
        control_failed: o.control_failed,
    }
}

fn cut<'a>(o: &'a Ran, id: &str) -> &'a CutResult {
    o.journal
        .cuts
        .iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("no cut {id}"))
}

/// The download cut and the first-boot cut of `o` both passed, with the warnings a restarted
/// download and a re-triggered update leave; returns them.
fn restart_cuts_passed(o: &Ran) -> (&CutResult, &CutResult) {
    let download = cut(o, "download/start");
    assert_eq!(download.status, Status::Pass, "{}", statuses(o));
    assert!(
        download.warnings.iter().any(|w| w.contains("started over from byte 0")),
        "{:?}",
        download.warnings
    );
    let first_boot = cut(o, "first-boot/start");
    assert_eq!(first_boot.status, Status::Pass, "{}", statuses(o));
    assert!(
        first_boot.warnings.iter().any(|w| w.contains("re-triggered")),
        "{:?}",
        first_boot.warnings
    );
    (download, first_boot)
}

fn statuses(o: &Ran) -> String {
    o.journal
        .cuts
        .iter()
        .map(|c| format!("{} {}: {}", c.id, c.status.name(), c.reasons.join("; ")))
        .collect::<Vec<_>>()
        .join("\n")
}

fn says(c: &CutResult, text: &str) -> bool {
    c.console.iter().any(|l| l.text.contains(text))
}

#[test]
fn reference_firmware_passes_every_cut_on_the_bench() {
    let phases = format!(
        "{DOWNLOAD}offsets = {{ fixed = [\"start\"], bytes = [6000, 13000], sectors = {{ every = 2 }} }}\n\
         {SWAP}offsets = {{ fixed = [\"start\"], sectors = {{ every = 2 }}, random = 2 }}\n\
         [[phases]]\nname = \"first-boot\"\nstart = 'app: first-boot'\nend = 'app: health ok'\n\
         offsets = {{ us = [250] }}\n"
    );
    // The new image confirms itself 50 ms (device time) after its first boot: at a device clock
    // 5 times the wall clock's, the trigger has 10 ms of wall time to cut before that.
    let b = bench_on(
        STATION,
        &campaign_text("bench-reference", "swap-scratch", 16, &phases),
        Variant::Reference,
        Mode::SWAP_SCRATCH,
        false,
        5,
    );
    assert_eq!(b.target.workers(), 1);
    assert!(
        b.target.describe().contains("emulated-nrf52840"),
        "{}",
        b.target.describe()
    );
    let o = run(&b);
    let control = o.journal.control.as_ref().unwrap();
    assert_eq!(control.status, Status::Pass, "{:?}", control.reasons);
    assert!(control.flash_ops.is_none(), "a bench sees no flash operations");
    assert!(!o.control_failed);
    assert!(o.journal.cuts.len() >= 8, "{}", statuses(&o));
    for c in &o.journal.cuts {
        let l = c.landing.as_ref().unwrap();
        assert_eq!(l.fault, cutpoint_report::RecordedFault::PowerCut);
        // On a loaded machine a cut aimed at the very end of a short window can come too
        // late: the bench records that it never fired, and the cut point, not tested, is a
        // rig error (never a pass).
        let Some(requested) = l.requested_us else {
            assert!(
                l.torn.as_deref().is_some_and(|t| t.contains("never fired")),
                "{}: {l:?}",
                c.id
            );
            assert_eq!(c.status, Status::Error, "{}: {:?}", c.id, c.reasons);
            assert!(
                c.reasons.iter().any(|r| r.contains("the cut never fired")),
                "{:?}",
                c.reasons
            );
            continue;
        };
        assert_eq!(c.status, Status::Pass, "{}", statuses(&o));
        assert!(
            l.actual_us >= requested,
            "{}: the switch returns after the due instant: {l:?}",
            c.id
        );
        assert_eq!(c.final_image.as_deref(), Some("2.0.0+0"), "{}", c.id);
    }
    // A byte cut lands inside the download: the device resumes it from the sector it was in.
    let byte = cut(&o, "download/byte-6000");
    assert!(
        says(byte, "ota: download-resume version=2.0.0+0 offset=4096"),
        "{:?}",
        byte.console
    );
    // A cut at the nth swap-progress marker lands in the swap: the bootloader resumes it.
    let sector = cut(&o, "swap/sector-3");
    assert!(says(sector, "boot: swap-resume"), "{:?}", sector.console);
    // A cut in the new image's health check, before it confirmed itself: the bootloader reverts
    // it, the device rejects the update, and the rig re-triggers it once. On a loaded machine
    // the control run can hear the health check's two lines together (a window shorter than
    // 250 µs): the offset is then skipped, and the journal's header says so.
    match o.journal.cuts.iter().find(|c| c.id == "first-boot/us-250") {
        Some(health) if health.landing.as_ref().is_some_and(|l| l.requested_us.is_some()) => {
            assert_eq!(health.first_boot.as_deref(), Some("1.0.0+0"), "{:?}", health.console);
            assert!(says(health, "ota: idle reason=rejected"), "{:?}", health.console);
            assert!(
                health.warnings.iter().any(|w| w.contains("re-triggered")),
                "{:?}",
                health.warnings
            );
        }
        Some(_) => {} // it never fired: checked above
        None => assert!(
            o.journal
                .header
                .skipped
                .iter()
                .any(|s| s.phase == "first-boot" && s.kind == "time"),
            "no cut first-boot/us-250 and no skipped offset: {:?}",
            o.journal.header.skipped
        ),
    }
    // Every cut restored the baseline and reset the device, powered it back on, and once it
    // settled reset it once more (no cut): the console shows that run after the settled line.
    assert!(b.emulator.power_ons() >= 3 * o.journal.cuts.len() as u64);
    for c in &o.journal.cuts {
        let idle = c.console.iter().position(|l| l.text.starts_with("ota: idle"));
        let again = idle.and_then(|i| {
            c.console[i + 1..]
                .iter()
                .position(|l| l.text.starts_with("boot: start"))
        });
        assert!(
            again.is_some(),
            "{}: no plain reset after settling: {:?}",
            c.id,
            c.console
        );
        assert!(
            c.console.last().is_some_and(|l| l.text.starts_with("ota: idle")),
            "{}",
            c.id
        );
    }
}

#[test]
fn a_changed_sectors_restore_programs_less_and_judges_the_same() {
    let phases = format!(
        "{DOWNLOAD}offsets = {{ bytes = [6000] }}\n{SWAP}offsets = {{ fixed = [\"start\"], sectors = {{ every = 2 }} }}\n"
    );
    let text = campaign_text("bench-restore", "swap-scratch", 16, &phases);
    let full = bench(&text, Variant::Reference, Mode::SWAP_SCRATCH, false);
    assert_eq!(full.setup.config.restore, RestorePolicy::Full);
    let changed_station = STATION.replace(
        "off_dwell_ms = 40\n",
        "off_dwell_ms = 40\nrestore = \"changed-sectors\"\n",
    );
    let changed = bench_on(
        &changed_station,
        &text,
        Variant::Reference,
        Mode::SWAP_SCRATCH,
        false,
        fake_bench::SCALE,
    );
    assert_eq!(changed.setup.config.restore, RestorePolicy::ChangedSectors);
    let (a, b) = (run(&full), run(&changed));
    let outcome = |o: &Ran| -> Vec<(String, Status, Option<String>)> {
        o.journal
            .cuts
            .iter()
            .map(|c| (c.id.clone(), c.status, c.final_image.clone()))
            .collect()
    };
    assert!(a.journal.cuts.len() >= 4, "{}", statuses(&a));
    assert_eq!(outcome(&a), outcome(&b), "{}\n---\n{}", statuses(&a), statuses(&b));
    assert!(
        a.journal.cuts.iter().all(|c| c.status == Status::Pass),
        "{}",
        statuses(&a)
    );
    // A full restore programs both slots and the scratch every time (2 x 192 KiB + 8 KiB here);
    // a changed-sectors restore only what the update touched.
    let runs = a.journal.cuts.len() as u64 + 1;
    let layout = full.setup.config.layout;
    let area_bytes = u64::from(layout.primary.size + layout.secondary.size + layout.scratch.size);
    assert_eq!(full.emulator.bytes_programmed(), runs * area_bytes);
    let saved = changed.emulator.bytes_programmed();
    assert_eq!(
        full.emulator.halts(),
        0,
        "a full restore lets the flash loader stop the CPU"
    );
    assert!(
        changed.emulator.halts() >= runs,
        "the CPU is halted before the read-back"
    );
    assert!(saved > 0, "the first restore writes the baseline");
    assert!(
        saved * 4 < full.emulator.bytes_programmed(),
        "changed-sectors programmed {saved} bytes, full {}",
        full.emulator.bytes_programmed()
    );
}

/// A broken bootloader on the bench: the control run passes, some cut fails, and no cut is a
/// rig error.
fn assert_caught(o: &Ran) {
    assert_eq!(o.journal.control.as_ref().unwrap().status, Status::Pass);
    assert!(
        o.journal.cuts.iter().any(|c| c.status == Status::Fail),
        "the broken bootloader must fail a cut:\n{}",
        statuses(o)
    );
    assert!(
        o.journal.cuts.iter().all(|c| c.status != Status::Error),
        "{}",
        statuses(o)
    );
}

#[test]
fn missing_swap_status_is_caught_by_marker_cuts_in_the_swap() {
    let phases = format!("{SWAP}offsets = {{ sectors = {{ every = 1 }} }}\n");
    let b = bench(
        &campaign_text("bench-no-swap-status", "swap-scratch", 16, &phases),
        Variant::NoSwapStatus,
        Mode::SWAP_SCRATCH,
        false,
    );
    assert_caught(&run(&b));
}

#[test]
fn overwrite_without_rollback_is_caught_by_cuts_in_the_copy() {
    let phases = "[[phases]]\nname = \"overwrite\"\nstart = 'boot: overwrite-start'\nend = 'boot: overwrite-done'\n\
                  progress = 'boot: overwrite-progress sector=(?P<n>\\d+)'\n\
                  offsets = { sectors = { every = 1, fraction = 0.5 } }\n";
    let b = bench(
        &campaign_text("bench-overwrite", "overwrite", 16, phases),
        Variant::OverwriteNoRollback,
        Mode::OVERWRITE,
        false,
    );
    assert_caught(&run(&b));
}

#[test]
fn a_relay_that_does_not_cut_is_a_rig_error_not_a_device_failure() {
    let phases = format!(
        "{DOWNLOAD}offsets = {{ fixed = [\"start\"], bytes = [6000] }}\n\
         {SWAP}offsets = {{ fixed = [\"start\"] }}\n"
    );
    // A long dwell: the device, still powered, talks inside it however loaded the machine is.
    let b = bench_on(
        &STATION.replace("off_dwell_ms = 40\n", "off_dwell_ms = 500\n"),
        &campaign_text("bench-stuck-relay", "swap-scratch", 64, &phases),
        Variant::Reference,
        Mode::SWAP_SCRATCH,
        true,
        fake_bench::SCALE,
    );
    let o = run(&b);
    assert_eq!(o.journal.control.as_ref().unwrap().status, Status::Pass);
    assert_eq!(o.journal.cuts.len(), 3, "{}", statuses(&o));
    for c in &o.journal.cuts {
        assert_eq!(c.status, Status::Error, "{}", statuses(&o));
        assert!(
            c.reasons.iter().any(|r| r.contains("the cut did not take")),
            "{}: {:?}",
            c.id,
            c.reasons
        );
    }
}

/// `cutpoint ARGS` in `dir`: exit code and stderr.
fn cli(dir: &Path, args: &[&str]) -> (i32, String) {
    let (code, _, stderr) = cli_run::cutpoint_in(dir, args);
    (code, stderr)
}

fn write_campaign(dir: &Path, station: &str, extra_run: &str) -> PathBuf {
    std::fs::write(dir.join("station.toml"), station).unwrap();
    let text = campaign_text(
        "bench-cli",
        "swap-scratch",
        16,
        &format!("{DOWNLOAD}offsets = {{ fixed = [\"start\"] }}\n"),
    )
    .replace("[run]\n", &format!("[run]\n{extra_run}"));
    let path = dir.join("campaign.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn run_opens_the_station_and_an_unplugged_probe_is_a_rig_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_campaign(dir.path(), STATION, "");
    let (code, stderr) = cli(dir.path(), &["run", path.to_str().unwrap(), "--out", "report"]);
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("opening the station"), "{stderr}");
    assert!(!stderr.contains("simulated board only"), "{stderr}");
}

#[test]
fn station_campaigns_the_bench_cannot_run_are_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let no_probe = STATION.replace("[probe]", "[unused]").replace(
        "kind = \"probe-rs\"\nselector = \"1366:1051\"\nchip = \"nRF52840_xxAA\"\n",
        "",
    );
    let no_probe = no_probe.replace("[unused]\n", "");
    let path = write_campaign(dir.path(), &no_probe, "");
    let (code, stderr) = cli(dir.path(), &["run", path.to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("has no [probe]"), "{stderr}");

    let path = write_campaign(dir.path(), STATION, "fault = \"brownout\"\n");
    let (code, stderr) = cli(dir.path(), &["run", path.to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("run.fault"), "{stderr}");

    let unknown = STATION
        .replace("board = \"nrf52840\"", "board = \"custom\"")
        .replace("chip = \"nRF52840_xxAA\"", "chip = \"STM32F446RETx\"");
    let path = write_campaign(dir.path(), &unknown, "");
    let (code, stderr) = cli(dir.path(), &["run", path.to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("names no board"), "{stderr}");
}

#[test]
fn a_station_layout_is_used_and_a_bad_one_is_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let region = |name: &str, offset: &str, size: &str| {
        format!("[[layout.regions]]\nname = \"{name}\"\noffset = {offset}\nsize = {size}\n")
    };
    let good = format!(
        "{STATION}\n[layout]\nsector_size = 4096\nwrite_size = 4\n{}{}{}",
        region("primary", "0x10000", "0x20000"),
        region("secondary", "0x30000", "0x20000"),
        region("scratch", "0x50000", "0x2000")
    );
    let path = write_campaign(dir.path(), &good, "");
    let (code, stderr) = cli(dir.path(), &["run", path.to_str().unwrap(), "--out", "report"]);
    assert_eq!(
        code, 3,
        "the map is accepted; only the missing probe stops the run: {stderr}"
    );
    let overlapping = good.replace("offset = 0x30000", "offset = 0x20000");
    let path = write_campaign(dir.path(), &overlapping, "");
    let (code, stderr) = cli(dir.path(), &["run", path.to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("station.toml:"), "{stderr}");
    assert!(stderr.contains("layout.regions.secondary.offset"), "{stderr}");
    assert!(stderr.contains("overlaps primary"), "{stderr}");
}

/// The emulated station as the nRF52840 DK with its secondary slot on the MX25R6435F QSPI NOR
/// (board `nrf52840-qspi`): the probe reaches the part's own 1 MiB only, and the station says
/// the device erases that slot itself (the emulated device's download erases each sector before
/// it writes it).
fn qspi_station() -> String {
    bare_qspi_station().replace(
        "off_dwell_ms = 40\n",
        "off_dwell_ms = 40\nrestore_unreachable = \"device-erases\"\n",
    )
}

/// [`qspi_station`] without `restore_unreachable`.
fn bare_qspi_station() -> String {
    STATION.replace("board = \"nrf52840\"", "board = \"nrf52840-qspi\"")
}

/// The campaign at `path` is refused at its `[target]` key `key` (its line), by the setup and by
/// `cutpoint check` (exit 2, at that line and key): the message.
fn refused_at(path: &Path, key: &str) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let line = text.lines().position(|l| l.starts_with(&format!("{key} = "))).unwrap() + 1;
    let e = match bench_setup(&load_campaign(path).unwrap()) {
        Err(cutpoint::setup::SetupError::Located(e)) => e,
        Err(e) => panic!("not located: {e}"),
        Ok(_) => panic!("{}: accepted, expected a refusal at target.{key}", path.display()),
    };
    let field = format!("target.{key}");
    assert_eq!((e.field.as_str(), e.line), (field.as_str(), line), "{e}");
    let (code, stderr) = cli(path.parent().unwrap(), &["check", path.to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains(&format!("campaign.toml:{line}:")) && stderr.contains(&field),
        "{stderr}"
    );
    e.message
}

#[test]
fn a_slot_the_baseline_restore_cannot_erase_is_refused_unless_the_station_says_the_device_does() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_campaign(dir.path(), &bare_qspi_station(), "");
    let text = std::fs::read_to_string(&path).unwrap();
    // A permanent upgrade: the pass rule does not read the secondary slot, the restore does.
    std::fs::write(&path, text.replace("upgrade = \"test\"", "upgrade = \"perm\"")).unwrap();
    let e = refused_at(&path, "station");
    assert!(
        e.contains("erases the secondary slot before every cut point")
            && e.contains("mx25r6435f")
            && e.contains("restore_unreachable = \"device-erases\""),
        "{e}"
    );
    // The station saying the device erases it: accepted.
    std::fs::write(dir.path().join("station.toml"), qspi_station()).unwrap();
    assert!(bench_setup(&load_campaign(&path).unwrap()).is_ok());
    // Probe-write cannot deliver into that slot, whatever the station says.
    let probe_write = qspi_station().replace("kind = \"http\"\nbind = \"127.0.0.1:0\"", "kind = \"probe-write\"");
    assert_ne!(probe_write, qspi_station());
    std::fs::write(dir.path().join("station.toml"), probe_write).unwrap();
    let e = bench_setup(&load_campaign(&path).unwrap())
        .err()
        .expect("probe-write refused");
    let e = e.to_string();
    assert!(
        e.contains("probe-write delivers the update through the probe") && e.contains("mx25r6435f"),
        "{e}"
    );
    // An unknown value is an error at the key.
    let bad = qspi_station().replace("\"device-erases\"", "\"device-erase\"");
    let st = cutpoint_campaign::parse_station(&bad, Path::new("lab.toml")).unwrap_err();
    let msg = cutpoint_campaign::format_errors(&st);
    assert!(
        msg.contains("lab.toml:4:")
            && msg.contains("restore_unreachable")
            && msg.contains("expected \"device-erases\""),
        "{msg}"
    );
}

#[test]
fn a_slot_the_probe_cannot_read_is_never_read_and_its_checks_are_reported_not_checked() {
    let phases = format!(
        "{DOWNLOAD}offsets = {{ bytes = [6000] }}\n{SWAP}offsets = {{ fixed = [\"start\"], sectors = {{ every = 2 }} }}\n"
    );
    let text =
        campaign_text("bench-qspi", "swap-scratch", 16, &phases).replace("upgrade = \"test\"", "upgrade = \"perm\"");
    let b = bench_on(
        &qspi_station(),
        &text,
        Variant::Reference,
        Mode::SWAP_SCRATCH,
        false,
        fake_bench::SCALE,
    );
    let secondary = b.setup.config.layout.secondary;
    assert_eq!((secondary.offset, secondary.size), (0x100000, 952 * 1024));
    assert_eq!(b.setup.config.unreadable, [secondary]);
    let o = run(&b);
    let control = o.journal.control.as_ref().unwrap();
    assert_eq!(control.status, Status::Pass, "{:?}", control.reasons);
    assert!(o.journal.cuts.len() >= 3, "{}", statuses(&o));
    // No rig fault at any cut: the probe was never asked for the external NOR.
    assert!(
        o.journal.cuts.iter().all(|c| c.status == Status::Pass),
        "{}",
        statuses(&o)
    );
    assert_eq!(b.emulator.out_of_reach(), 0, "the bench reached for the external NOR");
    for c in &o.journal.cuts {
        let note = c
            .warnings
            .iter()
            .find(|w| w.starts_with("not checked:"))
            .unwrap_or_else(|| panic!("{}: {:?}", c.id, c.warnings));
        assert!(
            note.contains("metadata left behind in its trailer")
                && note.ends_with("the secondary slot is on mx25r6435f, which the probe cannot read"),
            "{}: {note}",
            c.id
        );
        let s = c.slots.iter().find(|s| s.slot == "secondary").unwrap();
        assert_eq!(s.trailer, "not readable through the probe", "{}: never erased", c.id);
        let p = c.slots.iter().find(|s| s.slot == "primary").unwrap();
        assert_eq!(
            p.version.as_deref(),
            Some("2.0.0+0"),
            "{}: the primary is read and judged",
            c.id
        );
    }
}

#[test]
fn a_campaign_whose_verdict_reads_a_slot_the_probe_cannot_is_refused_at_its_key() {
    let dir = tempfile::tempdir().unwrap();
    // A test upgrade keeps the old image in the secondary slot until the new one confirms
    // itself: the pass rule checks that copy, and it is on the external NOR.
    let path = write_campaign(dir.path(), &qspi_station(), "");
    let text = std::fs::read_to_string(&path).unwrap();
    let e = refused_at(&path, "upgrade");
    assert!(
        e.contains("the rollback copy of a test upgrade")
            && e.contains("mx25r6435f")
            && e.contains("run a perm upgrade"),
        "{e}"
    );
    // A permanent upgrade keeps no copy there, and an overwrite none at all: both are judged
    // on the primary slot alone.
    std::fs::write(&path, text.replace("upgrade = \"test\"", "upgrade = \"perm\"")).unwrap();
    assert!(bench_setup(&load_campaign(&path).unwrap()).is_ok());
    std::fs::write(&path, text.replace("mode = \"swap-scratch\"", "mode = \"overwrite\"")).unwrap();
    assert!(bench_setup(&load_campaign(&path).unwrap()).is_ok());
    // The same campaign on the one-device board is fine.
    let path = write_campaign(dir.path(), STATION, "");
    assert!(bench_setup(&load_campaign(&path).unwrap()).is_ok());
}

#[test]
fn plan_of_a_station_campaign_does_not_open_the_bench() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("station.toml"), STATION).unwrap();
    let phases = format!(
        "{DOWNLOAD}offsets = {{ fixed = [\"start\"], bytes = [6000, 13000] }}\n{SWAP}offsets = {{ sectors = {{ every = 2 }} }}\n"
    );
    let path = dir.path().join("campaign.toml");
    std::fs::write(&path, campaign_text("bench-plan", "swap-scratch", 16, &phases)).unwrap();
    // The probe in the station is absent: a plan that opened the bench would fail (exit 3).
    let (code, stdout, stderr) = cli_run::cutpoint_in(dir.path(), &["plan", "campaign.toml"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stdout, "download/start\ndownload/byte-6000\ndownload/byte-13000\n",
        "{stderr}"
    );
    assert!(stderr.contains("needs a run: swap/sectors"), "{stderr}");
    assert!(stderr.contains("--control-from"), "{stderr}");
    assert!(!stderr.contains("opening the station"), "{stderr}");
    let (code, stdout, stderr) = cli_run::cutpoint_in(dir.path(), &["plan", "campaign.toml", "--json"]);
    assert_eq!(code, 0, "{stderr}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(doc["total"], 3);
    assert_eq!(doc["needs_a_run"][0]["what"], "swap/sectors");
    // A partition of a plan that needs the control run cannot be told yet.
    let (code, _, stderr) = cli_run::cutpoint_in(dir.path(), &["plan", "campaign.toml", "--partition", "1/2"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--control-from"), "{stderr}");
    // Not a report: bad input, not a rig error.
    let (code, _, stderr) = cli_run::cutpoint_in(dir.path(), &["plan", "campaign.toml", "--control-from", "nowhere"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--control-from nowhere"), "{stderr}");
}

#[test]
fn plan_from_a_recorded_control_run_gives_the_ids_the_run_ran() {
    let phases = format!(
        "{DOWNLOAD}offsets = {{ bytes = [6000] }}\n{SWAP}offsets = {{ fixed = [\"start\"], sectors = {{ every = 2 }} }}\n"
    );
    let b = bench(
        &campaign_text("bench-plan", "swap-scratch", 16, &phases),
        Variant::Reference,
        Mode::SWAP_SCRATCH,
        false,
    );
    let o = run(&b);
    let ran: Vec<&str> = o.journal.header.planned.iter().map(|p| p.id.as_str()).collect();
    assert!(ran.iter().any(|id| id.starts_with("swap/sector-")), "{ran:?}");
    let (code, stdout, stderr) =
        cli_run::cutpoint_in(b._dir.path(), &["plan", "campaign.toml", "--control-from", "report"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout.lines().collect::<Vec<_>>(), ran, "{stderr}");
    assert!(!stderr.contains("needs a run"), "{stderr}");
    let (code, stdout, stderr) = cli_run::cutpoint_in(
        b._dir.path(),
        &[
            "plan",
            "campaign.toml",
            "--control-from",
            "report",
            "--partition",
            "2/2",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    let second: Vec<&str> = ran.iter().skip(1).step_by(2).copied().collect();
    assert_eq!(stdout.lines().collect::<Vec<_>>(), second);
}

/// The firmware under test's console in other words: a device with its own console grammar
/// for the same events (the update given up after a revert, a download from byte 0).
struct Reworded(Box<dyn Console>);

fn reword(text: &str) -> String {
    if let Some(rest) = text.strip_prefix("ota: idle reason=rejected") {
        return format!("[ota] update refused, old image kept{rest}");
    }
    if let Some(rest) = text.strip_prefix("ota: download-start") {
        return format!("[ota] fetching from zero{rest}");
    }
    for (from, to) in [("boot: ", "[mcu] "), ("app: ", "[app] "), ("ota: ", "[ota] ")] {
        if let Some(rest) = text.strip_prefix(from) {
            return format!("{to}{rest}");
        }
    }
    text.to_string()
}

impl Console for Reworded {
    fn describe(&self) -> String {
        self.0.describe()
    }

    fn read_line(&mut self, timeout: std::time::Duration) -> RigResult<Option<ConsoleLine>> {
        Ok(self.0.read_line(timeout)?.map(|l| ConsoleLine {
            text: reword(&l.text),
            ..l
        }))
    }
}

#[test]
fn a_device_with_its_own_console_grammar_is_judged_on_the_same_checks() {
    // A cut just before the download begins: the device downloads again from byte 0 (a
    // warning). A cut on the new image's first boot, before it confirmed itself: the
    // bootloader reverts it, the device gives the update up, and the rig re-triggers it once.
    let phases = |app: &str, ota: &str| {
        format!(
            "[[phases]]\nname = \"download\"\nstart = '{app}health ok version=1'\nend = '{ota}download-done'\n\
             offsets = {{ fixed = [\"start\"] }}\n\
             [[phases]]\nname = \"first-boot\"\nstart = '{app}first-boot'\nend = '{app}health ok'\n\
             offsets = {{ fixed = [\"start\"] }}\n"
        )
    };
    let ours = campaign_text("grammar-ours", "swap-scratch", 16, &phases("app: ", "ota: "));
    let markers = r#"
[markers]
boot = '^\[mcu\] start'
jump = '^\[mcu\] jump version=(?P<version>\S+) hash=(?P<hash>\S+)'
halt = '^\[mcu\] halt'
commit = '^\[app\] confirm version=(?P<version>\S+)'
settled = '^\[ota\] (idle|update refused)'
rejected = '^\[ota\] update refused'
download_restart = '^\[ota\] fetching from zero'
"#;
    let theirs = campaign_text(
        "grammar-theirs",
        "swap-scratch",
        16,
        &format!("{markers}\n{}", phases(r"^\[app\] ", r"^\[ota\] ")),
    );
    // The device's clock runs at the wall clock's: the new image confirms itself 50 ms after
    // its first boot, time enough for the trigger.
    let (a, b) = (
        bench_on(STATION, &ours, Variant::Reference, Mode::SWAP_SCRATCH, false, 1),
        bench_with(
            STATION,
            &theirs,
            Variant::Reference,
            Mode::SWAP_SCRATCH,
            false,
            1,
            |c| Box::new(Reworded(c)),
        ),
    );
    assert_eq!(b.campaign.markers.rejected.source, r"^\[ota\] update refused");
    let (a, b) = (run(&a), run(&b));
    assert!(
        b.journal.cuts[0]
            .console
            .iter()
            .any(|l| l.text.starts_with("[ota] fetching from zero")),
        "{:?}",
        b.journal.cuts[0].console
    );
    /// A cut's id, status, warnings, first and final image.
    type Judged = (String, Status, Vec<String>, Option<String>, Option<String>);
    let judged = |o: &Ran| -> Vec<Judged> {
        o.journal
            .cuts
            .iter()
            .map(|c| {
                (
                    c.id.clone(),
                    c.status,
                    c.warnings.clone(),
                    c.first_boot.clone(),
                    c.final_image.clone(),
                )
            })
            .collect()
    };
    let ours = judged(&a);
    assert_eq!(ours.len(), 2, "{}", statuses(&a));
    restart_cuts_passed(&a);
    assert_eq!(judged(&b), ours, "the same device in other words is judged the same");
}

#[test]
fn a_bench_another_process_drives_is_refused_not_fought_for() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_campaign(dir.path(), STATION, "");
    let locks = dir.path().join("locks");
    std::fs::create_dir(&locks).unwrap();
    let run = || {
        let out = Command::new(env!("CARGO_BIN_EXE_cutpoint"))
            .args(["run", path.to_str().unwrap(), "--out", "report"])
            .env(cutpoint::station_lock::LOCK_DIR_ENV, &locks)
            .current_dir(dir.path())
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    // As the lab daemon holds it during its run on the bench.
    let held = cutpoint::station_lock::StationLock::acquire_in(
        &locks,
        &dir.path().join("station.toml"),
        "the cutpoint daemon",
    )
    .unwrap();
    let (code, stderr) = run();
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("station.toml: this bench is in use by the cutpoint daemon (process "),
        "{stderr}"
    );
    assert!(
        !stderr.contains("opening the station"),
        "the bench was not touched: {stderr}"
    );
    drop(held);
    // Free again: the run goes on to open it (and finds no probe on this machine).
    let (code, stderr) = run();
    assert_eq!(code, Some(3), "{stderr}");
    assert!(stderr.contains("opening the station"), "{stderr}");
}

#[test]
fn the_lab_daemon_waits_for_a_bench_a_manual_run_holds() {
    use cutpoint_daemon::client::{build_submission, Conn};
    let dir = tempfile::tempdir().unwrap();
    let path = write_campaign(dir.path(), STATION, "");
    let locks = dir.path().join("locks");
    std::fs::create_dir(&locks).unwrap();
    std::fs::write(
        dir.path().join("lab.toml"),
        "[[stations]]\nname = \"bench\"\nstation = \"station.toml\"\n",
    )
    .unwrap();
    // A manual run holds the bench.
    let held =
        cutpoint::station_lock::StationLock::acquire_in(&locks, &dir.path().join("station.toml"), "cutpoint run")
            .unwrap();
    let mut daemon = Command::new(env!("CARGO_BIN_EXE_cutpoint"))
        .args([
            "daemon",
            "--lab",
            "lab.toml",
            "--listen",
            "127.0.0.1:0",
            "--addr-file",
            "addr",
        ])
        .env(cutpoint::station_lock::LOCK_DIR_ENV, &locks)
        .current_dir(dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    let url = loop {
        if let Some(u) = std::fs::read_to_string(dir.path().join("addr"))
            .ok()
            .filter(|u| u.ends_with('\n'))
        {
            break u.trim().to_string();
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(30),
            "the daemon did not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let conn = Conn::new(Some(url), None);
    let sub = serde_json::to_value(build_submission(&path).unwrap()).unwrap();
    let id = conn.post_json("/v1/runs", &sub).unwrap()["id"].as_i64().unwrap();
    let run = |conn: &Conn| conn.get_json(&format!("/v1/runs/{id}")).unwrap();
    let waited = |conn: &Conn| {
        let s = conn.event_stream(id, None).unwrap();
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut std::io::Read::take(s, 1 << 16), &mut text);
        text
    };
    let start = std::time::Instant::now();
    while run(&conn)["state"] != "queued" || start.elapsed() < std::time::Duration::from_millis(500) {
        assert!(start.elapsed() < std::time::Duration::from_secs(10));
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(run(&conn)["exit_code"].is_null(), "waiting, not failed");
    drop(held);
    // Free: the daemon's run takes the bench (and finds no probe on this machine: a rig error).
    let start = std::time::Instant::now();
    while ["queued", "running"].contains(&run(&conn)["state"].as_str().unwrap()) {
        assert!(start.elapsed() < std::time::Duration::from_secs(30), "{}", run(&conn));
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let r = run(&conn);
    assert_eq!(r["exit_code"], 3, "{r}");
    let text = waited(&conn);
    assert!(
        text.contains("this bench is in use by cutpoint run (process "),
        "{text}"
    );
    daemon.kill().unwrap();
    daemon.wait().unwrap();
}

/// The flash outside the scheme's areas (the nRF52840 map's bootloader region, for
/// swap-scratch) is read through the probe before the first cut and after each: a device whose
/// first power cut leaves a byte programmed there fails that cut, and only that one (the next
/// restore writes the region back from the first read). A campaign that lets the update
/// change the region (`pass.may_change`) passes the same device, and a name that is no region
/// of the map is bad input at its key.
#[test]
fn a_cut_that_writes_outside_the_schemes_areas_fails_on_the_bench() {
    let phases = format!("{SWAP}offsets = {{ sectors = {{ every = 2 }} }}\n");
    let text = campaign_text("bench-outside", "swap-scratch", 16, &phases);
    let bootloader = cutpoint_sim::BoardProfile::builtin("nrf52840")
        .unwrap()
        .layout
        .bootloader;
    assert!(bootloader.size > 0);
    let scribbled = |campaign: &str| {
        let st = fake_bench::emulated_station(
            STATION,
            campaign,
            Mode::SWAP_SCRATCH,
            Variant::Reference,
            fake_bench::SCALE,
        );
        let emulator = st.emulator.with_scribble_on_first_cut(bootloader.offset + 0x100, 0x00);
        let target = BenchTarget::from_parts(emulator.parts(st.console, false), st.setup.config.clone()).unwrap();
        let b = Bench {
            campaign: st.campaign,
            setup: st.setup,
            target,
            emulator,
            _dir: st.dir,
        };
        assert!(
            b.setup.expect.outside.iter().any(|(r, _)| r == "bootloader") || campaign.contains("may_change"),
            "{:?}",
            b.setup.expect.outside
        );
        run(&b)
    };
    let o = scribbled(&text);
    let failed: Vec<&CutResult> = o.journal.cuts.iter().filter(|c| c.status == Status::Fail).collect();
    assert_eq!(failed.len(), 1, "{}", statuses(&o));
    assert!(
        failed[0]
            .reasons
            .iter()
            .any(|r| r.contains("the update wrote outside its areas: bootloader")
                && r.contains(&format!("at {:#x}", bootloader.offset + 0x100))),
        "{:?}",
        failed[0].reasons
    );
    assert!(o.journal.cuts.len() >= 3, "{}", statuses(&o));
    assert!(
        o.journal
            .cuts
            .iter()
            .all(|c| c.status == Status::Fail || c.status == Status::Pass),
        "{}",
        statuses(&o)
    );
    assert!(
        o.journal
            .cuts
            .iter()
            .all(|c| !c.warnings.iter().any(|w| w.contains("not checked: the flash outside"))),
        "{}",
        statuses(&o)
    );

    let allowed = text.replace("[run]", "[pass]\nmay_change = [\"bootloader\"]\n\n[run]");
    let o = scribbled(&allowed);
    assert!(
        o.journal.cuts.iter().all(|c| c.status == Status::Pass),
        "{}",
        statuses(&o)
    );

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("station.toml"), STATION).unwrap();
    let path = dir.path().join("campaign.toml");
    std::fs::write(
        &path,
        text.replace("[run]", "[pass]\nmay_change = [\"bootlaoder\"]\n\n[run]"),
    )
    .unwrap();
    let c = load_campaign(&path).unwrap();
    let err = bench_setup(&c)
        .err()
        .expect("an unknown region is bad input")
        .to_string();
    assert!(
        err.contains("pass.may_change") && err.contains("\"bootlaoder\" is no region") && err.contains(":14:"),
        "{err}"
    );
}

/// The device's console as Zephyr's logger prints it: every line behind a timestamp and a
/// level tag (`[00:00:01.234,567] <inf> `).
struct Prefixed(Box<dyn Console>, u64);

impl Console for Prefixed {
    fn describe(&self) -> String {
        self.0.describe()
    }

    fn read_line(&mut self, timeout: std::time::Duration) -> RigResult<Option<ConsoleLine>> {
        let line = self.0.read_line(timeout)?;
        Ok(line.map(|l| {
            self.1 += 1;
            let (s, ms) = (self.1 / 1000, self.1 % 1000);
            ConsoleLine {
                text: format!("[00:00:{s:02}.{ms:03},000] <inf> {}", l.text),
                ..l
            }
        }))
    }
}

#[test]
fn the_default_markers_match_console_lines_behind_a_log_prefix() {
    // The default markers on a device whose lines carry Zephyr's timestamp and level: a cut
    // before the download begins makes the device download from byte 0 again (download_restart:
    // a warning); a cut on the new image's first boot makes the bootloader revert it, the
    // device gives the update up (rejected) and the rig offers it once more.
    let phases = "[[phases]]\nname = \"download\"\nstart = 'app: health ok version=1'\nend = 'ota: download-done'\n\
                  offsets = { fixed = [\"start\"] }\n\
                  [[phases]]\nname = \"first-boot\"\nstart = 'app: first-boot'\nend = 'app: health ok'\n\
                  offsets = { fixed = [\"start\"] }\n";
    let b = bench_with(
        STATION,
        &campaign_text("prefixed-lines", "swap-scratch", 16, phases),
        Variant::Reference,
        Mode::SWAP_SCRATCH,
        false,
        1,
        |c| Box::new(Prefixed(c, 1000)),
    );
    let o = run(&b);
    let download = cut(&o, "download/start");
    assert!(
        download
            .console
            .iter()
            .any(|l| l.text.contains("] <inf> ota: download-start")),
        "{:?}",
        download.console
    );
    let (_, first_boot) = restart_cuts_passed(&o);
    assert_eq!(first_boot.final_image.as_deref(), Some("2.0.0+0"));
}

/// The bench target around an emulated station's device, as `change` makes it.
fn assembled(
    st: fake_bench::EmulatedStation,
    change: impl FnOnce(Emulator) -> Emulator,
    relay_ignores_off: bool,
) -> Bench {
    let emulator = change(st.emulator);
    let target =
        BenchTarget::from_parts(emulator.parts(st.console, relay_ignores_off), st.setup.config.clone()).unwrap();
    Bench {
        campaign: st.campaign,
        setup: st.setup,
        target,
        emulator,
        _dir: st.dir,
    }
}

/// A whole run as `cutpoint run` ends it: the journal, the exit code it returns, and the
/// reports it writes (JUnit read back).
struct Reported {
    ran: Ran,
    code: i32,
    junit: String,
}

fn run_reported(b: &Bench) -> Reported {
    let out = b._dir.path().join("report");
    let spec = RunSpec::whole(&b.campaign, out.clone(), b.setup.expect.clone(), b.setup.update_size);
    let o = engine::run(&b.target, &spec, &mut cutpoint::sink::ignore(), &AtomicBool::new(false)).unwrap();
    let code = cutpoint::verdict::run_verdict(&b.campaign, &o, o.tally.fail, o.tally.error).code;
    let journal = cutpoint_report::journal::read_journal(&o.journal_path).unwrap();
    let summary = cutpoint_report::rebuild::write_reports(&out, &journal).unwrap();
    assert_eq!(
        cutpoint::verdict::report_verdict(&summary).code,
        code,
        "`cutpoint report` concludes as the run did"
    );
    Reported {
        ran: Ran {
            journal,
            control_failed: o.control_failed,
        },
        code,
        junit: std::fs::read_to_string(out.join("junit.xml")).unwrap(),
    }
}

/// An update whose every run writes outside the scheme's areas, its uncut path included (here
/// a byte programmed in the bootloader region once the update is done). The guarded flash is
/// read in the control run, after the baseline is restored and before the update starts, so
/// the control run breaks the rule and names the region: the run is the device's failure
/// (exit 1). Read at the first cut instead, after the control run, the copy would already hold
/// the write, every cut would read it back unchanged, and the run would pass.
#[test]
fn an_update_that_writes_outside_on_every_run_fails_its_control_run_on_the_bench() {
    let phases = format!("{SWAP}offsets = {{ sectors = {{ every = 4 }} }}\n");
    let text = campaign_text("bench-outside-always", "swap-scratch", 16, &phases);
    let bootloader = cutpoint_sim::BoardProfile::builtin("nrf52840")
        .unwrap()
        .layout
        .bootloader;
    let at = bootloader.offset + 0x200;
    let st = fake_bench::emulated_station(
        STATION,
        &text,
        Mode::SWAP_SCRATCH,
        Variant::Reference,
        fake_bench::SCALE,
    );
    assert!(
        st.setup.config.guarded.iter().any(|g| g.region == "bootloader"),
        "{:?}",
        st.setup.config.guarded
    );
    let b = assembled(st, |e| e.with_scribble_on_every_update(at, 0x00), false);
    let r = run_reported(&b);
    let control = r.ran.journal.control.as_ref().unwrap();
    assert!(r.ran.control_failed);
    assert_eq!(control.status, Status::Fail, "{:?}", control.reasons);
    assert!(
        control
            .reasons
            .iter()
            .any(|x| x.starts_with("the update wrote outside its areas: bootloader (")
                && x.contains(&format!(
                    "reads 00 ff ff ff ff ff ff ff at {at:#x}, ff ff ff ff ff ff ff ff at the baseline"
                ))),
        "{:?}",
        control.reasons
    );
    assert_eq!(r.code, cutpoint::exit::FAIL, "{}", statuses(&r.ran));
    assert!(
        r.junit.contains("the update wrote outside its areas: bootloader"),
        "{}",
        r.junit
    );

    // The same device without the stray write passes its control run and every cut.
    let st = fake_bench::emulated_station(
        STATION,
        &text,
        Mode::SWAP_SCRATCH,
        Variant::Reference,
        fake_bench::SCALE,
    );
    let r = run_reported(&assembled(st, |e| e, false));
    assert!(!r.ran.control_failed);
    assert!(!r.ran.journal.cuts.is_empty());
    assert_eq!(r.code, cutpoint::exit::PASS, "{}", statuses(&r.ran));
}

/// The first cut point of `r` is a rig error whose reasons say `why`: exit 3, and no JUnit
/// `<failure>` (the device is not blamed), after a control run that passed.
fn assert_first_cut_is_a_rig_error(r: &Reported, why: &str) {
    assert!(!r.ran.control_failed);
    let c = &r.ran.journal.cuts[0];
    assert_eq!(c.status, Status::Error, "{}", statuses(&r.ran));
    assert!(c.reasons.iter().any(|x| x.contains(why)), "{:?}", c.reasons);
    assert_eq!(r.code, cutpoint::exit::RIG_ERROR, "{}", statuses(&r.ran));
    assert!(!r.junit.contains("<failure"), "{}", r.junit);
}

/// One cut 250 µs into the new image's first boot, which is then silent for its 50 ms health
/// check (device time, at the wall clock's pace here) and settles: well after a 10 ms dwell
/// (`short_dwell`), so the device's settling is heard. `change` makes the emulated device;
/// `dead`: the switch's "off" switches nothing.
fn first_boot_cut(name: &str, short_dwell: bool, change: impl FnOnce(Emulator) -> Emulator, dead: bool) -> Reported {
    let phases = "[[phases]]\nname = \"first-boot\"\nstart = 'app: first-boot'\nend = 'app: health ok'\n\
                  offsets = { us = [250] }\n";
    let dwell = |t: &str| match short_dwell {
        true => t.replace("off_dwell_ms = 40", "off_dwell_ms = 10"),
        false => t.to_string(),
    };
    let text = dwell(&campaign_text(name, "swap-scratch", 16, phases));
    let st = fake_bench::emulated_station(&dwell(STATION), &text, Mode::SWAP_SCRATCH, Variant::Reference, 1);
    run_reported(&assembled(st, change, dead))
}

#[test]
fn a_supply_sense_that_reads_power_through_the_dwell_makes_the_cut_a_rig_error() {
    // As below, but the station senses the supply rail: whatever the device does once power
    // is back (settles, or reboots on its own), the dwell already shows the cut did not take.
    let r = first_boot_cut(
        "bench-sensed-switch",
        true,
        |e| e.with_off_muting_the_console().with_a_supply_sense(),
        true,
    );
    assert_first_cut_is_a_rig_error(&r, "the supply sense reads the target powered at the end of the dwell");
}

#[test]
fn a_switch_that_fails_to_restore_power_is_a_rig_error_where_the_supply_sense_tells() {
    // The cut takes, but the relay's first "on" after it switches nothing: the device never
    // boots again. With a sense on the rail, that is the rig's fault, never a device failure.
    let r = first_boot_cut(
        "bench-sensed-stuck-off",
        false,
        |e| e.with_a_supply_sense().with_a_switch_that_fails_to_restore_once(),
        false,
    );
    assert_first_cut_is_a_rig_error(&r, "power did not come back");
}

#[test]
fn a_console_adapter_gone_after_the_cut_is_a_rig_error_not_a_silent_device() {
    // The cut takes and the device recovers, but the serial adapter went away with it: the
    // console hears nothing. Its link says so; the device is not judged on an empty console.
    let r = first_boot_cut(
        "bench-console-gone",
        false,
        |e| e.with_a_console_that_drops_at_the_first_cut(),
        false,
    );
    assert_first_cut_is_a_rig_error(&r, "the console's link is down");
}

#[test]
fn a_supply_sense_that_follows_the_switch_changes_no_verdict() {
    let r = first_boot_cut("bench-sensed-good-switch", false, |e| e.with_a_supply_sense(), false);
    assert_eq!(r.code, cutpoint::exit::PASS, "{}", statuses(&r.ran));
}

/// A power switch that switches nothing but the console's adapter: its "off" succeeds, the
/// device keeps running through the dwell unheard, and once "on" it carries on where it was
/// and settles without a boot. The cut did not take: the cut point is a rig error (JUnit
/// `<error>`, exit 3), never a pass, though the device updated cleanly.
#[test]
fn a_switch_that_switches_nothing_makes_the_cut_a_rig_error_not_a_pass() {
    let r = first_boot_cut("bench-dead-switch", true, |e| e.with_off_muting_the_console(), true);
    assert!(!r.ran.control_failed);
    assert_eq!(r.ran.journal.cuts.len(), 1, "{}", statuses(&r.ran));
    let c = &r.ran.journal.cuts[0];
    assert_eq!(c.status, Status::Error, "{}", statuses(&r.ran));
    assert!(
        c.reasons
            .iter()
            .any(|x| x.contains("the cut did not take: after power came back the device settled")),
        "{:?}",
        c.reasons
    );
    assert_eq!(r.code, cutpoint::exit::RIG_ERROR, "{}", statuses(&r.ran));
    assert!(r.junit.contains("<error"), "{}", r.junit);
    assert!(r.junit.contains("the cut did not take"), "{}", r.junit);
    assert!(
        !r.junit.contains("<failure"),
        "a rig error is never the device's failure: {}",
        r.junit
    );
}
