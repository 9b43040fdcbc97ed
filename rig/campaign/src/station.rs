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

use crate::de::{Doc, Rename, Seg};
use crate::error::FileError;
use crate::flash_map::{decode_map, FlashMap};
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
    /// `off_dwell_ms`: least power-off time this bench needs for the target to really reset.
    pub dwell_ms: Option<u64>,
    /// `[target] chip`: the part as the probe knows it (e.g. `nRF52840_xxAA`).
    pub chip: Option<String>,
    /// `[target] board`: free text for reports.
    pub board: Option<String>,
    /// `[layout]`: the flash map of this bench's firmware, when it is not a built-in board's.
    pub layout: Option<FlashMap>,
    /// How the probe brings the slots back to the baseline before each cut point.
    pub restore: RestorePolicy,
    pub roles: Vec<RoleTable>,
    /// Deprecated spellings read from the file, at their positions.
    pub warnings: Vec<FileError>,
    text: String,
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
struct RawStation {
    name: Option<Spanned<String>>,
    description: Option<String>,
    off_dwell_ms: Option<Spanned<u64>>,
    restore: Option<Spanned<String>>,
    target: Option<RawStationTarget>,
    // Checked from the document itself, as a flash map.
    #[serde(rename = "layout")]
    _layout: Option<IgnoredAny>,
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

/// Old key spellings of station files, read with a warning.
const RENAMES: &[Rename] = &[
    Rename {
        table: &[],
        old: "dwell_ms",
        new: "off_dwell_ms",
    },
    Rename {
        table: &["probe", "slots", "*"],
        old: "addr",
        new: "offset",
    },
];

/// Reads and checks a station file.
pub fn load_station(path: impl AsRef<Path>) -> Result<StationFile, Vec<FileError>> {
    let path = path.as_ref();
    let text = read_text(path)?;
    parse_station(&text, path)
}

/// Checks station text; `path` names the file in errors.
pub fn parse_station(text: &str, path: &Path) -> Result<StationFile, Vec<FileError>> {
    let file = path.display().to_string();
    let doc = Doc::parse(&file, text, RENAMES).map_err(|e| vec![e])?;
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
    if let Some(d) = &raw.off_dwell_ms {
        if *d.get_ref() == 0 {
            errors.push(doc.error(
                &[Seg::key("off_dwell_ms")],
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
    let layout_at = [Seg::key("layout")];
    let layout = match doc.get(&layout_at) {
        Some(v) => match decode_map(&doc, &layout_at, v) {
            Ok(m) => Some(m),
            Err(e) => {
                errors.extend(e);
                None
            }
        },
        None => None,
    };
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
        errors.sort_by_key(|e| (e.line, e.column));
        return Err(errors);
    }
    let (chip, board) = raw.target.map(|t| (t.chip, t.board)).unwrap_or((None, None));
    Ok(StationFile {
        path: path.to_path_buf(),
        name,
        description: raw.description.unwrap_or_default(),
        dwell_ms: raw.off_dwell_ms.map(|d| d.into_inner()),
        chip,
        board,
        layout,
        restore,
        roles,
        warnings: doc.warnings,
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
            warnings: Vec::new(),
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
        let doc = Doc::parse(&file, &self.text, RENAMES)?;
        let path = [Seg::key(role.name())];
        match doc.get(&path) {
            Some(v) => doc.decode_value(&path, v, true),
            None => Err(FileError {
                field: role.name().to_string(),
                ..FileError::whole_file(&file, format!("missing table [{}]", role.name()))
            }),
        }
    }

    /// An error about `field` of a role's table (the table itself when `field` is `None` or
    /// not written), at its position in the file.
    pub fn locate(&self, role: Role, field: Option<&str>, message: impl Into<String>) -> FileError {
        let file = self.path.display().to_string();
        let message = message.into();
        let Ok(doc) = Doc::parse(&file, &self.text, RENAMES) else {
            return FileError {
                field: role.name().to_string(),
                ..FileError::whole_file(&file, message)
            };
        };
        let mut path = vec![Seg::key(role.name())];
        if let Some(f) = field {
            path.push(Seg::key(f));
        }
        let span = doc.span_of(&path);
        let shown = if doc.get(&path).is_some() {
            &path[..]
        } else {
            &path[..1]
        };
        let mut e = doc.error(shown, span, message);
        if doc.get(&path).is_none() {
            if let Some(f) = field {
                e.field = format!("{}.{f}", role.name());
            }
        }
        e
    }

    /// The file's text, as read.
    pub fn text(&self) -> &str {
        &self.text
    }
}
