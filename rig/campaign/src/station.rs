//! Station files: how one lab bench is wired.
//!
//! The loader checks the file's own keys and that each role table names its backend with
//! `kind`; the backend's keys are decoded by the caller's type through
//! [`StationFile::decode_role`], which reports errors at their line and field the same way.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::{DeserializeOwned, IgnoredAny};
use serde::Deserialize;
use toml::de::DeValue;
use toml::Spanned;

use crate::de::{Doc, Seg};
use crate::error::FileError;
use crate::load::read_text;

/// The four things a bench wires to the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// Switches the target's supply.
    Power,
    /// Reads the target's console lines.
    Console,
    /// Debug probe: restores the baseline and reads flash.
    Probe,
    /// Delivers the update and starts the OTA.
    Transport,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Power, Role::Console, Role::Probe, Role::Transport];

    pub const fn name(self) -> &'static str {
        match self {
            Role::Power => "power",
            Role::Console => "console",
            Role::Probe => "probe",
            Role::Transport => "transport",
        }
    }

    /// Whether a station must have this role.
    pub const fn required(self) -> bool {
        !matches!(self, Role::Probe)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One role's table: its backend and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleTable {
    pub role: Role,
    /// The backend named by `kind`.
    pub kind: String,
    /// 1-based line of the table.
    pub line: usize,
}

/// A station file, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct StationFile {
    /// The file as named to the loader.
    pub path: PathBuf,
    /// From `name`, or the file stem.
    pub name: String,
    pub description: String,
    /// Least power-off time this bench needs for the target to really reset.
    pub dwell_ms: Option<u64>,
    /// `[target] chip`: the part as the probe knows it (e.g. `nRF52840_xxAA`).
    pub chip: Option<String>,
    /// `[target] board`: free text for reports.
    pub board: Option<String>,
    /// `[layout]`: the flash map of this bench's firmware, when it is not a built-in board's.
    pub layout: Option<StationLayout>,
    /// How the probe brings the slots back to the baseline before each cut point.
    pub restore: RestorePolicy,
    pub roles: Vec<RoleTable>,
    text: String,
}

/// A flash map as a station states it (addresses in bytes; TOML accepts `0x...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub struct StationLayout {
    /// Erase unit in bytes.
    pub sector_size: u32,
    /// Program alignment in bytes.
    pub write_size: u32,
    #[serde(default)]
    pub bootloader: Option<StationArea>,
    pub primary: StationArea,
    pub secondary: StationArea,
    pub scratch: StationArea,
}

/// How the baseline is restored through the probe before each cut point.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RestorePolicy {
    /// Erase and program the primary and secondary slots and the scratch area in full: every
    /// sector the last cut may have left marginal is erased again. Slow (seconds per cut).
    #[default]
    Full,
    /// Read the areas back and erase and program only the sectors that differ from the
    /// baseline. Fast, but a sector whose erase the last cut interrupted late can read as
    /// erased and still be marginal, and stays so into the next cut point.
    ChangedSectors,
}

impl RestorePolicy {
    pub const NAMES: [&'static str; 2] = ["full", "changed-sectors"];

    pub fn name(self) -> &'static str {
        match self {
            RestorePolicy::Full => "full",
            RestorePolicy::ChangedSectors => "changed-sectors",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "full" => Some(RestorePolicy::Full),
            "changed-sectors" => Some(RestorePolicy::ChangedSectors),
            _ => None,
        }
    }
}

/// One region of a station's flash map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table { offset, size }")]
pub struct StationArea {
    pub offset: u32,
    pub size: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
struct RawStation {
    name: Option<Spanned<String>>,
    description: Option<String>,
    #[serde(alias = "off_dwell_ms", alias = "off-dwell-ms")]
    dwell_ms: Option<Spanned<u64>>,
    restore: Option<Spanned<String>>,
    target: Option<RawStationTarget>,
    layout: Option<StationLayout>,
    // The role tables are checked from the document itself, then decoded by their users.
    #[serde(rename = "power")]
    _power: Option<IgnoredAny>,
    #[serde(rename = "console")]
    _console: Option<IgnoredAny>,
    #[serde(rename = "probe")]
    _probe: Option<IgnoredAny>,
    #[serde(rename = "transport")]
    _transport: Option<IgnoredAny>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
struct RawStationTarget {
    chip: Option<String>,
    board: Option<String>,
}

/// Reads and checks a station file.
pub fn load_station(path: impl AsRef<Path>) -> Result<StationFile, Vec<FileError>> {
    let path = path.as_ref();
    let text = read_text(path)?;
    parse_station(&text, path)
}

/// Checks station text; `path` names the file in errors.
pub fn parse_station(text: &str, path: &Path) -> Result<StationFile, Vec<FileError>> {
    let file = path.display().to_string();
    let doc = Doc::parse(&file, text).map_err(|e| vec![e])?;
    let raw: RawStation = doc.decode().map_err(|e| vec![e])?;
    let mut errors = Vec::new();
    let name = match &raw.name {
        Some(n) if n.get_ref().trim().is_empty() => {
            errors.push(doc.error(&[Seg::key("name")], n.span(), "expected a non-empty name"));
            String::new()
        }
        Some(n) => n.get_ref().trim().to_string(),
        None => path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "station".to_string()),
    };
    if let Some(d) = &raw.dwell_ms {
        if *d.get_ref() == 0 {
            errors.push(doc.error(
                &[Seg::key("dwell_ms")],
                d.span(),
                "expected a power-off time of at least 1 ms, got 0",
            ));
        }
    }
    let mut restore = RestorePolicy::default();
    if let Some(r) = &raw.restore {
        match RestorePolicy::parse(r.get_ref()) {
            Some(p) => restore = p,
            None => {
                let hint = crate::hint::closest(r.get_ref(), &RestorePolicy::NAMES)
                    .map(|h| format!("; did you mean \"{h}\"?"))
                    .unwrap_or_default();
                errors.push(doc.error(
                    &[Seg::key("restore")],
                    r.span(),
                    format!(
                        "expected \"full\" or \"changed-sectors\", got \"{}\"{hint}",
                        r.get_ref()
                    ),
                ));
            }
        }
    }
    let mut roles = Vec::new();
    for role in Role::ALL {
        let path = [Seg::key(role.name())];
        let Some(v) = doc.get(&path) else {
            if role.required() {
                errors.push(FileError {
                    field: role.name().to_string(),
                    ..FileError::whole_file(&file, format!("missing table [{}] (with kind = \"...\")", role.name()))
                });
            }
            continue;
        };
        let (line, _) = doc.source.line_col(v.span().start);
        let DeValue::Table(t) = v.get_ref() else {
            errors.push(doc.error(
                &path,
                v.span(),
                format!("expected a table [{}] with kind = \"...\"", role.name()),
            ));
            continue;
        };
        let kind = t.iter().find(|(k, _)| k.get_ref().as_ref() == "kind").map(|(_, v)| v);
        match kind {
            None => errors.push(doc.error(
                &path,
                v.span(),
                "missing required key \"kind\" (the backend, e.g. kind = \"gpio\")",
            )),
            Some(k) => match k.get_ref().as_str() {
                Some(s) if !s.trim().is_empty() => roles.push(RoleTable {
                    role,
                    kind: s.to_string(),
                    line,
                }),
                _ => errors.push(doc.error(
                    &[Seg::key(role.name()), Seg::key("kind")],
                    k.span(),
                    "expected the backend's name as a non-empty string",
                )),
            },
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let (chip, board) = raw.target.map(|t| (t.chip, t.board)).unwrap_or((None, None));
    Ok(StationFile {
        path: path.to_path_buf(),
        name,
        description: raw.description.unwrap_or_default(),
        dwell_ms: raw.dwell_ms.map(|d| d.into_inner()),
        chip,
        board,
        layout: raw.layout,
        restore,
        roles,
        text: text.to_string(),
    })
}

impl StationFile {
    /// Stands in for a station that could not be loaded (its errors are reported elsewhere).
    pub(crate) fn placeholder(path: &Path) -> Self {
        StationFile {
            path: path.to_path_buf(),
            name: String::new(),
            description: String::new(),
            dwell_ms: None,
            chip: None,
            board: None,
            layout: None,
            restore: RestorePolicy::default(),
            roles: Vec::new(),
            text: String::new(),
        }
    }

    pub fn role(&self, role: Role) -> Option<&RoleTable> {
        self.roles.iter().find(|r| r.role == role)
    }

    pub fn has_role(&self, role: Role) -> bool {
        self.role(role).is_some()
    }

    /// The backend a role names with `kind`.
    pub fn role_kind(&self, role: Role) -> Option<&str> {
        self.role(role).map(|r| r.kind.as_str())
    }

    /// Deserializes one role's whole table (`kind` included) into the caller's type, e.g. an
    /// enum tagged by `kind`. Errors name the file, line, column and field.
    pub fn decode_role<T: DeserializeOwned>(&self, role: Role) -> Result<T, FileError> {
        let file = self.path.display().to_string();
        let doc = Doc::parse(&file, &self.text)?;
        let path = [Seg::key(role.name())];
        match doc.get(&path) {
            Some(v) => doc.decode_value(&path, v, true),
            None => Err(FileError {
                field: role.name().to_string(),
                ..FileError::whole_file(&file, format!("missing table [{}]", role.name()))
            }),
        }
    }

    /// The file's text, as read.
    pub fn text(&self) -> &str {
        &self.text
    }
}
