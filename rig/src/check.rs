//! `cutpoint check FILE`: everything `run` and `doctor` would refuse in a campaign or station
//! file, found without opening any device: the file itself, a station's backend tables and
//! their settings, its flash map, and a station campaign's images.

use std::path::Path;

use cutpoint_campaign::{self as campaign, CheckSummary, Checked, FileError, TargetKind};

use crate::bench_setup::bench_setup;
use crate::bench_target::station_backends;
use crate::flash_map::describe_station_map;
use crate::setup::SetupError;

/// A file that passed: what `check` prints, and the deprecated spellings it read.
#[derive(Debug, Clone)]
pub struct CheckReport {
    pub summary: CheckSummary,
    pub warnings: Vec<FileError>,
}

/// Checks `path` fully; errors name file, line, column and field where there is one.
pub fn check_file(path: &Path) -> Result<CheckReport, Vec<FileError>> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    if cutpoint_daemon::lab::looks_like_lab(&text) {
        return check_lab(path);
    }
    if cutpoint_daemon::auth::looks_like_tokens(&text) {
        let tokens = cutpoint_daemon::auth::load_tokens(path)?;
        return Ok(CheckReport {
            summary: CheckSummary {
                kind: campaign::FileKind::Tokens,
                name: path
                    .file_stem()
                    .map_or_else(|| "tokens".to_string(), |s| s.to_string_lossy().into_owned()),
                lines: tokens.describe(),
            },
            warnings: Vec::new(),
        });
    }
    let checked = campaign::load_file(path)?;
    let mut summary = checked.summary();
    if let Some(station) = checked.station() {
        let backends = station_backends(station)?;
        // The deprecated probe slots and probe-write addresses must fit the station's map.
        station.flash_map().map_err(|e| vec![e])?;
        summary
            .lines
            .push(describe_station_map(station, backends.probe.as_ref()));
    }
    if let Checked::Campaign(c) = &checked {
        let as_errors = |e: SetupError| match e {
            SetupError::Input { file, message } => vec![FileError::whole_file(&file, message)],
            SetupError::Located(e) => vec![e],
        };
        match c.target.kind {
            TargetKind::Station { .. } => bench_setup(c).map(|_| ()).map_err(as_errors)?,
            // The images and key the run would refuse, refused here too.
            TargetKind::Simulated { .. } => crate::setup::check_sim_images(c).map_err(as_errors)?,
        }
    }
    Ok(CheckReport {
        summary,
        warnings: checked.warnings().to_vec(),
    })
}

/// A lab file: the daemon's loader, then each bench's station file as `check` reads one.
fn check_lab(path: &Path) -> Result<CheckReport, Vec<FileError>> {
    use cutpoint_daemon::lab::StationKind;
    let lab = cutpoint_daemon::lab::load_lab(path)?;
    let mut lines = vec![
        format!("listen {}", lab.listen),
        format!("data in {}", lab.data_dir.display()),
        match &lab.tokens {
            Some(t) => format!("tokens from {}", t.display()),
            None => "no tokens file: loopback only, every request allowed".to_string(),
        },
    ];
    let mut warnings = Vec::new();
    for s in &lab.stations {
        if let StationKind::Bench { station, .. } = &s.kind {
            station_backends(station)?;
            station.flash_map().map_err(|e| vec![e])?;
            warnings.extend(station.warnings.iter().cloned());
        }
        let tags = if s.tags.is_empty() {
            String::new()
        } else {
            format!(" (tags: {})", s.tags.join(", "))
        };
        lines.push(format!("station {}: {}{tags}", s.name, s.describe()));
    }
    let name = path
        .file_stem()
        .map_or_else(|| "lab".to_string(), |s| s.to_string_lossy().into_owned());
    Ok(CheckReport {
        summary: CheckSummary {
            kind: campaign::FileKind::Lab,
            name,
            lines,
        },
        warnings,
    })
}
