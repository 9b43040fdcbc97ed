//! `cutpoint check FILE`: tells a campaign from a station file and validates it fully.

use std::fmt;
use std::path::Path;

use toml::de::DeTable;

use crate::error::FileError;
use crate::load::{parse_campaign, read_text};
use crate::model::{Campaign, ImageSource, TargetKind};
use crate::station::{parse_station, Role, StationFile};

/// What kind of file was checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Campaign,
    Station,
}

/// A short account of a valid file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckSummary {
    pub kind: FileKind,
    pub name: String,
    /// One line per fact: target, images, run, then one per phase and sequence.
    pub lines: Vec<String>,
}

impl fmt::Display for CheckSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            FileKind::Campaign => "campaign",
            FileKind::Station => "station",
        };
        writeln!(f, "{kind} {}: ok", self.name)?;
        for l in &self.lines {
            writeln!(f, "  {l}")?;
        }
        Ok(())
    }
}

const CAMPAIGN_KEYS: &[&str] = &["phases", "sequences", "images", "run", "pass", "markers"];
const STATION_KEYS: &[&str] = &[
    "power",
    "console",
    "probe",
    "transport",
    "dwell_ms",
    "off_dwell_ms",
    "off-dwell-ms",
];

/// Reads a file, decides whether it is a campaign or a station file, and validates it.
pub fn check_file(path: impl AsRef<Path>) -> Result<CheckSummary, Vec<FileError>> {
    let path = path.as_ref();
    let text = read_text(path)?;
    let file = path.display().to_string();
    let kind = match DeTable::parse(&text) {
        // Syntax errors are reported by the campaign loader with their position.
        Err(_) => FileKind::Campaign,
        Ok(root) => {
            let has = |keys: &[&str]| root.get_ref().iter().any(|(k, _)| keys.contains(&k.get_ref().as_ref()));
            if has(CAMPAIGN_KEYS) {
                FileKind::Campaign
            } else if has(STATION_KEYS) {
                FileKind::Station
            } else {
                return Err(vec![FileError::whole_file(
                    &file,
                    "neither a campaign (it has no [[phases]]) nor a station file (it has no [power], [console], \
                     [transport])",
                )]);
            }
        }
    };
    match kind {
        FileKind::Campaign => parse_campaign(&text, path).map(|c| campaign_summary(&c)),
        FileKind::Station => parse_station(&text, path).map(|s| station_summary(&s)),
    }
}

fn image_text(i: &ImageSource) -> String {
    match i {
        ImageSource::Generated {
            version,
            size_kib,
            health,
        } => format!("{version}, {size_kib} KiB, health {health}"),
        ImageSource::File { path, health } => format!("{}, health {health}", path.display()),
    }
}

/// The summary `check` prints for a campaign.
pub fn campaign_summary(c: &Campaign) -> CheckSummary {
    let mut lines = Vec::new();
    match &c.target.kind {
        TargetKind::Simulated { board, variant } => lines.push(format!(
            "target: simulated {board}, variant {variant}, {} {} upgrade",
            c.target.mode, c.target.upgrade
        )),
        TargetKind::Station { path, station } => lines.push(format!(
            "target: station {} ({}), {} {} upgrade",
            station.name,
            path.display(),
            c.target.mode,
            c.target.upgrade
        )),
    }
    lines.push(format!(
        "images: baseline {}; update {}",
        image_text(&c.images.baseline),
        image_text(&c.images.update)
    ));
    lines.push(format!(
        "run: seed {}, {} repetition(s), {}, final image {}, expect {}",
        c.run.seed,
        c.run.repetitions,
        c.run.fault,
        c.expected_final(),
        c.pass.expect
    ));
    for p in &c.phases {
        let kinds = p.offsets.describe();
        let kinds = if kinds.is_empty() {
            "no offsets (positions the next phase)".to_string()
        } else {
            kinds.join(", ")
        };
        lines.push(format!("phase {}: {kinds}", p.name));
    }
    for s in &c.sequences {
        let mut line = format!(
            "sequence {}: {} ({})",
            s.name,
            s.first.phase,
            s.first.offsets.describe().join(", ")
        );
        for t in &s.then {
            line.push_str(&format!(" then {} ({})", t.phase, t.offsets.describe().join(", ")));
        }
        lines.push(line);
    }
    CheckSummary {
        kind: FileKind::Campaign,
        name: c.name.clone(),
        lines,
    }
}

/// The summary `check` prints for a station.
pub fn station_summary(s: &StationFile) -> CheckSummary {
    let mut lines = Vec::new();
    for role in Role::ALL {
        match s.role_kind(role) {
            Some(k) => lines.push(format!("{role}: {k}")),
            None => lines.push(format!("{role}: none")),
        }
    }
    if let Some(d) = s.dwell_ms {
        lines.push(format!("dwell: {d} ms"));
    }
    if let Some(c) = &s.chip {
        lines.push(format!("chip: {c}"));
    }
    CheckSummary {
        kind: FileKind::Station,
        name: s.name.clone(),
        lines,
    }
}
