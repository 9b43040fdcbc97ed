//! `cutpoint check FILE`: tells a campaign from a station file and validates it fully.

use std::fmt;
use std::path::Path;

use toml::de::DeTable;

use crate::error::FileError;
use crate::flash_map::{parse_flash_map, FlashMap};
use crate::load::{parse_campaign, read_text};
use crate::model::{Campaign, Downgrade, FinalImage, ImageSource, TargetKind};
use crate::station::{parse_station, Role, StationFile};

/// What kind of file was checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Campaign,
    Station,
    /// A flash map (`inspect --layout` file).
    FlashMap,
    /// A lab file (`cutpoint daemon --lab`), checked by the daemon's loader.
    Lab,
    /// A daemon's tokens file (hashed bearer tokens), checked by the daemon's loader.
    Tokens,
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
            FileKind::FlashMap => "flash map",
            FileKind::Lab => "lab",
            FileKind::Tokens => "tokens",
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
    "off_dwell_ms",
    "dwell_ms",
    "off-dwell-ms",
    "restore",
    "layout",
];

/// A file `check` read: a campaign or a station file, validated.
#[derive(Debug, Clone)]
pub enum Checked {
    Campaign(Box<Campaign>),
    Station(Box<StationFile>),
    FlashMap { name: String, map: FlashMap },
}

impl Checked {
    pub fn summary(&self) -> CheckSummary {
        match self {
            Checked::Campaign(c) => campaign_summary(c),
            Checked::Station(s) => station_summary(s),
            Checked::FlashMap { name, map } => CheckSummary {
                kind: FileKind::FlashMap,
                name: name.clone(),
                lines: map_lines(map),
            },
        }
    }

    /// Deprecated spellings read (a campaign's include its station file's).
    pub fn warnings(&self) -> &[FileError] {
        match self {
            Checked::Campaign(c) => &c.warnings,
            Checked::Station(s) => &s.warnings,
            Checked::FlashMap { .. } => &[],
        }
    }

    /// The station file: the one checked, or the one the campaign runs on.
    pub fn station(&self) -> Option<&StationFile> {
        match self {
            Checked::Campaign(c) => match &c.target.kind {
                TargetKind::Station { station, .. } => Some(station),
                TargetKind::Simulated { .. } => None,
            },
            Checked::Station(s) => Some(s),
            Checked::FlashMap { .. } => None,
        }
    }
}

const MAP_KEYS: &[&str] = &["regions", "sector_size", "write_size"];

/// Reads a file, decides whether it is a campaign, a station file or a flash map, and validates what this
/// crate knows of it. A station's backend tables (the keys after `kind`) belong to the bench:
/// check them with [`StationFile::decode_role`] (the `cutpoint check` command does).
pub fn check_file(path: impl AsRef<Path>) -> Result<CheckSummary, Vec<FileError>> {
    load_file(path).map(|c| c.summary())
}

/// [`check_file`], returning what was read.
pub fn load_file(path: impl AsRef<Path>) -> Result<Checked, Vec<FileError>> {
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
            } else if has(MAP_KEYS) {
                FileKind::FlashMap
            } else {
                return Err(vec![FileError::whole_file(
                    &file,
                    "neither a campaign (it has no [[phases]]), a station file (it has no [power], [console], \
                     [transport]) nor a flash map (it has no [[regions]])",
                )]);
            }
        }
    };
    match kind {
        FileKind::Campaign => parse_campaign(&text, path).map(|c| Checked::Campaign(Box::new(c))),
        FileKind::Station => parse_station(&text, path).map(|s| Checked::Station(Box::new(s))),
        // A lab file is read by the daemon's loader (`cutpoint check` tells them apart).
        FileKind::Lab | FileKind::Tokens => Err(vec![FileError::whole_file(
            &file,
            "a daemon's lab or tokens file: `cutpoint check` reads it",
        )]),
        FileKind::FlashMap => parse_flash_map(&text, path).map(|map| Checked::FlashMap {
            name: path
                .file_stem()
                .map_or_else(|| "flash map".to_string(), |s| s.to_string_lossy().into_owned()),
            map,
        }),
    }
}

fn image_text(i: &ImageSource) -> String {
    match i {
        ImageSource::Generated {
            version,
            size_kib,
            health,
            tamper,
        } => match tamper {
            Some(t) => format!("{version}, {size_kib} KiB, health {health}, tampered ({t}): must be refused"),
            None => format!("{version}, {size_kib} KiB, health {health}"),
        },
        ImageSource::File { path, health } => format!("{}, health {health}", path.display()),
    }
}

/// The summary `check` prints for a campaign.
pub fn campaign_summary(c: &Campaign) -> CheckSummary {
    let mut lines = Vec::new();
    match &c.target.kind {
        TargetKind::Simulated { board, variant } => {
            let delivery = match c.target.delivery {
                crate::model::Delivery::Download => String::new(),
                d => format!(", {d} delivery (the application does not check the image)"),
            };
            lines.push(format!(
                "target: simulated {board}, variant {variant}, {} {} upgrade{delivery}",
                c.target.mode, c.target.upgrade
            ))
        }
        TargetKind::Station { path, station } => lines.push(format!(
            "target: station {} ({}), {} {} upgrade",
            station.name,
            path.display(),
            c.target.mode,
            c.target.upgrade
        )),
    }
    let downgrade = match c.images.downgrade {
        crate::model::Downgrade::Refused if c.refuses_update() && c.tamper().is_none() => {
            "; downgrades refused: the update is older, must be refused"
        }
        crate::model::Downgrade::Refused => "; downgrades refused",
        crate::model::Downgrade::Allowed => "",
    };
    lines.push(format!(
        "images: baseline {}; update {}{downgrade}",
        image_text(&c.images.baseline),
        image_text(&c.images.update)
    ));
    lines.push(format!(
        "run: seed {}, {} repetition(s), {}, final image {}, expect {}",
        c.run.seed,
        c.run.repetitions,
        c.run.fault,
        final_image_text(c),
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
        lines.push(format!("off dwell: {d} ms"));
    }
    if let Some(m) = &s.layout {
        lines.extend(map_lines(m).into_iter().map(|l| format!("[layout] {l}")));
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

/// One line for the geometry, one per region.
fn map_lines(m: &FlashMap) -> Vec<String> {
    let mut lines = vec![format!(
        "sectors of {:#x} bytes, writes of {} bytes",
        m.sector_size, m.write_size
    )];
    lines.extend(m.regions.iter().map(|r| {
        let mut extra = Vec::new();
        if r.role.name() != r.name {
            extra.push(format!("role {}", r.role.name()));
        }
        match &r.sectors {
            None => {}
            Some(crate::flash_map::SectorSizes::Uniform(s)) => extra.push(format!("sectors of {s:#x} bytes")),
            Some(crate::flash_map::SectorSizes::List(l)) => extra.push(format!(
                "sectors {}",
                l.iter().map(|s| format!("{s:#x}")).collect::<Vec<_>>().join(", ")
            )),
        }
        if let Some(d) = &r.device {
            extra.push(format!("on {d}"));
        }
        let extra = if extra.is_empty() {
            String::new()
        } else {
            format!(", {}", extra.join(", "))
        };
        format!(
            "{}: {:#x}..{:#x} ({:#x} bytes{extra})",
            r.name,
            r.offset,
            r.end(),
            r.size
        )
    }));
    lines
}

/// The image that must run at the end, as far as the file tells: `auto` over image files whose
/// build refuses downgrades is decided once their versions are read (old for a downgrade).
fn final_image_text(c: &Campaign) -> String {
    let files =
        matches!(c.images.baseline, ImageSource::File { .. }) || matches!(c.images.update, ImageSource::File { .. });
    if c.pass.final_image == FinalImage::Auto
        && c.images.downgrade == Downgrade::Refused
        && files
        && !c.refuses_update()
    {
        return format!(
            "{} (old instead if the update file's version is below the baseline's: a downgrade the build refuses)",
            c.expected_final()
        );
    }
    c.expected_final().to_string()
}
