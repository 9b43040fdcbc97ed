//! The recorded timelines in `rig/campaign/tests/timelines/` (the unfaulted run of each target
//! a shipped campaign uses: console, flash operations and the flash regions each operation
//! touches) must be today's firmware's. The campaign crate's tests expand every shipped
//! campaign on them; a stale timeline would make those tests check plans no run produces.
//!
//! `CUTPOINT_RECORD_TIMELINES=1 cargo test -p cutpoint --test timelines` writes them again
//! (then review the plan snapshots of `cargo test -p cutpoint-campaign --test shipped`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use cutpoint::setup::sim_setup;
use cutpoint::target::Target;
use cutpoint_campaign::{load_campaign, Campaign, Delivery, Downgrade, ImageSource, TargetKind};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn toml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            toml_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "toml") {
            out.push(path);
        }
    }
}

/// The file name and header of a simulated campaign's timeline.
fn key(c: &Campaign) -> Option<(String, String)> {
    let TargetKind::Simulated { board, variant } = &c.target.kind else {
        return None;
    };
    let (mode, upgrade, health) = (c.target.mode, c.target.upgrade, c.images.update.health());
    let (suffix, fields) = refusal_key(c);
    let (size, size_field) = match (&c.images.baseline, &c.images.update) {
        (_, ImageSource::Generated { size_kib, .. }) => (format!("{size_kib}k"), format!("size_kib={size_kib}")),
        // An image file's run is keyed by the files' names: no two shipped campaigns over
        // files of the same names run different images.
        (baseline, ImageSource::File { path, .. }) => {
            let base = match baseline {
                ImageSource::File { path, .. } => file_stem(path),
                ImageSource::Generated { .. } => "generated".to_string(),
            };
            let update = file_stem(path);
            (
                format!("file-{base}-{update}"),
                format!("baseline_file={base} update_file={update}"),
            )
        }
    };
    Some((
        format!("{board}-{variant}-{mode}-{upgrade}-{health}-{size}{suffix}"),
        format!("# board={board} variant={variant} mode={mode} upgrade={upgrade} health={health} {size_field}{fields}"),
    ))
}

/// The name of an image file without its folder and extension (`app-2.0.0` of
/// `../../fixtures/esp/app-2.0.0.bin`).
fn file_stem(path: &Path) -> String {
    path.file_stem()
        .map_or_else(String::new, |s| s.to_string_lossy().into_owned())
}

/// What a campaign whose update must be refused adds to its timeline's name and header (nothing
/// for the others, whose recordings keep their names): the delivery, the tamper, the refused
/// downgrade's version.
fn refusal_key(c: &Campaign) -> (String, String) {
    let (mut suffix, mut fields) = (String::new(), String::new());
    if c.target.delivery != Delivery::Download {
        suffix.push_str(&format!("-{}", c.target.delivery));
        fields.push_str(&format!(" delivery={}", c.target.delivery));
    }
    if let Some(t) = c.tamper() {
        suffix.push_str(&format!("-{t}"));
        fields.push_str(&format!(" tamper={t}"));
    }
    if let (Downgrade::Refused, ImageSource::Generated { version, .. }) = (c.images.downgrade, &c.images.update) {
        suffix.push_str(&format!("-no-downgrade-{version}"));
        fields.push_str(&format!(" downgrade=refused version={version}"));
    }
    if c.target.baseline_slot != fut::layout::Slot::Primary {
        let slot = c.target.baseline_slot.name();
        suffix.push_str(&format!("-from-{slot}"));
        fields.push_str(&format!(" baseline_slot={slot}"));
    }
    if c.images.baseline_confirmed {
        suffix.push_str("-confirmed-baseline");
        fields.push_str(" baseline=confirmed");
    }
    if c.target.prior_updates > 0 {
        let n = c.target.prior_updates;
        suffix.push_str(&format!("-after-{n}-updates"));
        fields.push_str(&format!(" prior_updates={n}"));
    }
    (suffix, fields)
}

/// The timeline of `c`'s unfaulted run, in the recorded format.
fn record(c: &Campaign, header: &str) -> String {
    let setup = sim_setup(c, 1).unwrap_or_else(|e| panic!("{}: {e}", c.name));
    let control = setup.target.control().unwrap();
    let mut out = format!("{header}\nupdate_size {}\n", setup.update_size);
    for l in &control.console {
        writeln!(out, "L {} {}", l.t_us, l.text).unwrap();
    }
    for o in control.ops.as_deref().unwrap_or_default() {
        write!(out, "O {} {} {}", o.index, o.start_us, o.end_us).unwrap();
        if !o.regions.is_empty() {
            write!(out, " {}", o.regions).unwrap();
        }
        out.push('\n');
    }
    out
}

#[test]
fn recorded_timelines_are_the_runs_of_todays_firmware() {
    let mut files = Vec::new();
    toml_files(&repo().join("campaigns"), &mut files);
    let mut wanted = BTreeMap::new();
    for path in files {
        let c = load_campaign(&path).unwrap_or_else(|e| panic!("{}", cutpoint_campaign::format_errors(&e)));
        if let Some((name, header)) = key(&c) {
            wanted.entry(name).or_insert_with(|| record(&c, &header));
        }
    }
    let dir = repo().join("rig/campaign/tests/timelines");
    let write = std::env::var_os("CUTPOINT_RECORD_TIMELINES").is_some();
    let mut stale = Vec::new();
    for (name, text) in &wanted {
        let path = dir.join(format!("{name}.txt"));
        if write {
            std::fs::write(&path, text).unwrap();
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            stale.push(name.clone());
        }
    }
    assert!(
        stale.is_empty(),
        "stale or missing recorded timelines: {stale:?}; record them with CUTPOINT_RECORD_TIMELINES=1 \
         cargo test -p cutpoint --test timelines"
    );
}
