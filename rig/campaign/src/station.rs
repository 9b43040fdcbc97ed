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
    /// `[target] flash`: the built-in flash part the device has, when neither the board nor
    /// the chip names one (an ESP32-C3 module's 4 MiB SPI NOR: `w25q32`).
    pub flash: Option<&'static str>,
    /// `[layout]`: the flash map of this bench's firmware, when it is not a built-in board's.
    pub layout: Option<FlashMap>,
    /// `[probe] chip`, read here so the map of a board the probe's chip names is found.
    pub probe_chip: Option<String>,
    /// Regions stated the old way, outside the map: `[probe] slots` and probe-write's
    /// `slot_addr`/`slot_size`. [`StationFile::flash_map`] maps them onto the region list.
    pub legacy_regions: Vec<LegacyRegion>,
    /// How the probe brings the slots back to the baseline before each cut point.
    pub restore: RestorePolicy,
    /// `restore_unreachable = "device-erases"`: the station says the device itself erases the
    /// slots the probe cannot reach (on a device beside the part) before anything reads them,
    /// so the rig may leave them out of the baseline restore. Without it a campaign that needs
    /// such a slot restored is refused.
    pub device_erases_unreachable: bool,
    pub roles: Vec<RoleTable>,
    /// Deprecated spellings read from the file, at their positions.
    pub warnings: Vec<FileError>,
    text: String,
}

/// The one value of a station's `restore_unreachable`.
pub const UNREACHABLE_DEVICE_ERASES: &str = "device-erases";

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
    restore_unreachable: Option<Spanned<String>>,
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
    flash: Option<Spanned<String>>,
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
    let mut device_erases_unreachable = false;
    if let Some(r) = &raw.restore_unreachable {
        if r.get_ref() == UNREACHABLE_DEVICE_ERASES {
            device_erases_unreachable = true;
        } else {
            errors.push(doc.error(
                &[Seg::key("restore_unreachable")],
                r.span(),
                format!(
                    "expected \"{UNREACHABLE_DEVICE_ERASES}\" (the device erases the slots the probe cannot reach \
                     before anything reads them), got \"{}\"; remove the key to have such a station refused",
                    r.get_ref()
                ),
            ));
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
    let (chip, board, flash_key) = raw
        .target
        .map(|t| (t.chip, t.board, t.flash))
        .unwrap_or((None, None, None));
    let mut flash = None;
    if let Some(f) = &flash_key {
        let parts = cutpoint_sim::FlashProfile::builtin_names();
        match parts.iter().copied().find(|p| *p == f.get_ref().as_str()) {
            Some(p) => flash = Some(p),
            None => {
                let hint = crate::hint::closest(f.get_ref(), parts)
                    .map(|h| format!("; did you mean \"{h}\"?"))
                    .unwrap_or_default();
                errors.push(doc.error(
                    &[Seg::key("target"), Seg::key("flash")],
                    f.span(),
                    format!(
                        "unknown flash part \"{}\"{hint}; known: {}",
                        f.get_ref(),
                        parts.join(", ")
                    ),
                ));
            }
        }
    }
    let mut warnings = doc.warnings.clone();
    let legacy_regions = legacy_regions(&doc, &mut warnings, &mut errors);
    if !errors.is_empty() {
        errors.sort_by_key(|e| (e.line, e.column));
        return Err(errors);
    }
    warnings.sort_by_key(|w| (w.line, w.column));
    let probe_chip = doc
        .get(&[Seg::key("probe"), Seg::key("chip")])
        .and_then(|v| v.get_ref().as_str())
        .map(str::to_string);
    let station = StationFile {
        path: path.to_path_buf(),
        name,
        description: raw.description.unwrap_or_default(),
        dwell_ms: raw.off_dwell_ms.map(|d| d.into_inner()),
        chip,
        board,
        flash,
        layout,
        probe_chip,
        legacy_regions,
        restore,
        device_erases_unreachable,
        roles,
        warnings,
        text: text.to_string(),
    };
    if let Some(e) = station.names_disagree(&doc) {
        return Err(vec![e]);
    }
    let errors = station.map_outside_the_part(&doc);
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(station)
}

/// The built-in boards a board or chip name names (see [`names_board`]).
fn boards_named(name: &str) -> Vec<&'static str> {
    let name = name.to_ascii_lowercase();
    cutpoint_sim::BoardProfile::builtin_names()
        .iter()
        .copied()
        .filter(|b| names_board(&name, b))
        .collect()
}

impl StationFile {
    /// `[target] board`, `[target] chip` and `[probe] chip` that name different built-in
    /// boards (`board = "stm32f4"` with `chip = "nRF52840_xxAA"`): the first one would pick the
    /// flash map, silently, and the bench would be restored and read at the wrong addresses.
    fn names_disagree(&self, doc: &Doc) -> Option<FileError> {
        let named: Vec<(&[&str; 2], &str, Vec<&'static str>)> = [
            (&["target", "board"], self.board.as_deref()),
            (&["target", "chip"], self.chip.as_deref()),
            (&["probe", "chip"], self.probe_chip.as_deref()),
        ]
        .into_iter()
        .filter_map(|(key, name)| name.map(|n| (key, n, boards_named(n))))
        .filter(|(_, _, boards)| !boards.is_empty())
        .collect();
        let (first, rest) = named.split_first()?;
        let other = rest.iter().find(|o| !o.2.iter().any(|b| first.2.contains(b)))?;
        let path = [Seg::key(other.0[0]), Seg::key(other.0[1])];
        Some(doc.error(
            &path,
            doc.span_of(&path),
            format!(
                "`{} = \"{}\"` names the built-in {} board, but `[{}] {} = \"{}\"` names {}: the flash \
                 map would be the first one's; make them name the same board (or give the bench its own \
                 [layout] and a board name cutpoint does not know)",
                other.0[1],
                other.1,
                other.2.join("/"),
                first.0[0],
                first.0[1],
                first.1,
                first.2.join("/")
            ),
        ))
    }

    /// The built-in flash part the device is modelled on: `[target] flash`, else the part of the
    /// board that `[target] board`, `chip` or the probe's `chip` names, else the nrf52840's.
    pub fn part(&self) -> &'static str {
        self.flash.or_else(|| self.named_board()).unwrap_or("nrf52840")
    }

    /// A `[layout]` region of the part's own flash that ends past the end of the part the
    /// device is modelled on ([`StationFile::part`]) is a mistake in the station file, not
    /// something a cut may find: each is an error at the region's `size`, saying which part
    /// and how large, and what to change.
    fn map_outside_the_part(&self, doc: &Doc) -> Vec<FileError> {
        let part = self.part();
        let Some(map) = &self.layout else {
            // The built-in map of the board named, over the part `flash` names.
            let (Some(flash), Some(board)) = (self.flash, self.named_board()) else {
                return Vec::new();
            };
            let (Some(f), Some(b)) = (
                cutpoint_sim::FlashProfile::builtin(flash),
                cutpoint_sim::BoardProfile::builtin(board),
            ) else {
                return Vec::new();
            };
            let end = FlashMap::from_layout(&b.layout)
                .regions
                .iter()
                .map(Region::end)
                .max()
                .unwrap_or(0);
            if end <= u64::from(f.size) {
                return Vec::new();
            }
            let path = [Seg::key("target"), Seg::key("flash")];
            return vec![doc.error(
                &path,
                doc.span_of(&path),
                format!(
                    "the built-in {board} flash map reaches {end:#x}, past the end of the {flash} flash ({:#x}); \
                     give the device's own map as a [layout] table, or remove flash",
                    f.size
                ),
            )];
        };
        let Some(profile) = cutpoint_sim::FlashProfile::builtin(part) else {
            return Vec::new();
        };
        let size = u64::from(profile.size);
        let whence = match (self.flash, self.named_board()) {
            (Some(_), _) => "[target] flash names it".to_string(),
            (None, Some(_)) => "the [target] board or chip names it".to_string(),
            (None, None) => {
                "no [target] board, chip or flash names a part cutpoint knows, so it is the default".to_string()
            }
        };
        let bigger: Vec<&str> = cutpoint_sim::FlashProfile::builtin_names()
            .iter()
            .copied()
            .filter(|p| {
                // One device only: a board of several (its parts in one map) is not a part.
                cutpoint_sim::FlashProfile::builtin(p).is_some_and(|f| {
                    f.devices.is_empty()
                        && u64::from(f.size)
                            >= map
                                .regions
                                .iter()
                                .filter(|r| r.device.is_none())
                                .map(|r| r.end())
                                .max()
                                .unwrap_or(0)
                })
            })
            .collect();
        map.regions
            .iter()
            .enumerate()
            .filter(|(_, r)| r.device.is_none() && r.end() > size)
            .map(|(i, r)| {
                let path = [Seg::key("layout"), Seg::key("regions"), Seg::Index(i), Seg::key("size")];
                doc.error(
                    &path,
                    doc.span_of(&path),
                    format!(
                        "region \"{}\" ({:#x}..{:#x}) ends past the end of the {part} flash the device is modelled on \
                         ({:#x}, {} KiB; {whence}); move or shrink the region, or name the device's part with \
                         [target] flash = \"...\" (one at least this large: {})",
                        r.name,
                        r.offset,
                        r.end(),
                        size,
                        size / 1024,
                        if bigger.is_empty() {
                            "none built in".to_string()
                        } else {
                            bigger.join(", ")
                        }
                    ),
                )
            })
            .collect()
    }

    /// Stands in for a station that could not be loaded (its errors are reported elsewhere).
    pub(crate) fn placeholder(path: &Path) -> Self {
        StationFile {
            path: path.to_path_buf(),
            name: String::new(),
            description: String::new(),
            dwell_ms: None,
            chip: None,
            board: None,
            flash: None,
            layout: None,
            probe_chip: None,
            legacy_regions: Vec::new(),
            restore: RestorePolicy::default(),
            device_erases_unreachable: false,
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

    /// Whether the station's flash map has the scratch region `mode` needs: swap-scratch swaps
    /// through one and the A/B schemes keep their record in one; swap-move, swap-offset and
    /// overwrite need none. The error is at the station's `[layout]` regions (at `[target]`
    /// for a built-in board's map), saying what to add.
    pub fn check_scratch(&self, mode: fut::scheme::Mode) -> Result<(), FileError> {
        let Ok(Some(map)) = self.flash_map() else {
            return Ok(());
        };
        let Some(message) = map.map.scratch_problem(mode) else {
            return Ok(());
        };
        let file = self.path.display().to_string();
        let Ok(doc) = Doc::parse(&file, &self.text, RENAMES) else {
            return Err(FileError::whole_file(&file, message));
        };
        let scratch = map
            .map
            .regions
            .iter()
            .position(|r| r.role == RegionRole::Scratch && r.device.is_none());
        let path: Vec<Seg> = match (&map.source, scratch) {
            (MapSource::Layout, Some(i)) => {
                vec![Seg::key("layout"), Seg::key("regions"), Seg::Index(i), Seg::key("size")]
            }
            (MapSource::Layout, None) if doc.get(&[Seg::key("layout"), Seg::key("regions")]).is_some() => {
                vec![Seg::key("layout"), Seg::key("regions")]
            }
            (MapSource::Layout, None) => vec![Seg::key("layout")],
            (MapSource::Builtin(_), _) => vec![Seg::key("target")],
        };
        Err(doc.error(&path, doc.span_of(&path), message))
    }

    /// The file's text, as read.
    pub fn text(&self) -> &str {
        &self.text
    }
}

/// A region a station file states the old way, outside its flash map: an entry of `[probe]
/// slots`, or probe-write's `slot_addr`/`slot_size` (the secondary slot).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyRegion {
    pub name: String,
    /// The role it must have in the map (the secondary for probe-write's slot).
    pub role: Option<fut::layout::Role>,
    pub offset: u32,
    pub size: u32,
    /// Where it is written: errors about it are reported there.
    pub at: FileError,
    /// From probe-write (`transport.slot_addr`), not from `[probe] slots`.
    pub probe_write: bool,
}

/// Reads `[probe] slots` and probe-write's `slot_addr`/`slot_size`, with a deprecation warning
/// for each that says what to write instead.
fn legacy_regions(doc: &Doc<'_>, warnings: &mut Vec<FileError>, errors: &mut Vec<FileError>) -> Vec<LegacyRegion> {
    let mut out = Vec::new();
    let slots_at = [Seg::key("probe"), Seg::key("slots")];
    if let Some(v) = doc.get(&slots_at) {
        warnings.push(doc.error(
            &slots_at,
            v.span(),
            "slots is deprecated: `doctor` reads the primary and secondary regions of the station's flash map; \
             remove slots, and state any other region to read as a [[layout.regions]] table (name, offset, size)",
        ));
        if let DeValue::Array(items) = v.get_ref() {
            for (i, item) in items.iter().enumerate() {
                let path = [Seg::key("probe"), Seg::key("slots"), Seg::Index(i)];
                let DeValue::Table(t) = item.get_ref() else { continue };
                let get = |k: &str| t.iter().find(|(key, _)| key.get_ref().as_ref() == k).map(|(_, v)| v);
                let number = |k: &str| get(k).and_then(|v| doc.decode_value::<u32>(&path, v, false).ok());
                let name = get("name").and_then(|v| v.get_ref().as_str()).unwrap_or("").to_string();
                match (number("offset"), number("size")) {
                    (Some(offset), Some(size)) if !name.trim().is_empty() => out.push(LegacyRegion {
                        role: None,
                        name: name.trim().to_string(),
                        offset,
                        size,
                        at: doc.error(&path, item.span(), ""),
                        probe_write: false,
                    }),
                    _ => errors.push(doc.error(
                        &path,
                        item.span(),
                        "expected { name = \"...\", offset = ..., size = ... } (better: remove slots; see the warning)",
                    )),
                }
            }
        }
    }
    let kind = doc
        .get(&[Seg::key("transport"), Seg::key("kind")])
        .and_then(|v| v.get_ref().as_str());
    if kind == Some("probe-write") {
        let addr_at = [Seg::key("transport"), Seg::key("slot_addr")];
        let size_at = [Seg::key("transport"), Seg::key("slot_size")];
        let value = |p: &[Seg]| {
            doc.get(p)
                .map(|v| (doc.decode_value::<u32>(p, v, false).ok(), v.span()))
        };
        match (value(&addr_at), value(&size_at)) {
            (None, None) => {}
            (Some((Some(offset), span)), Some((Some(size), _))) if size > 0 => {
                warnings.push(doc.error(
                    &addr_at,
                    span.clone(),
                    "slot_addr and slot_size are deprecated: probe-write writes to the secondary region of the \
                     station's flash map ([layout], or the built-in map of the [target] board); remove them",
                ));
                out.push(LegacyRegion {
                    name: "secondary".to_string(),
                    role: Some(fut::layout::Role::Secondary),
                    offset,
                    size,
                    at: doc.error(&addr_at, span, ""),
                    probe_write: true,
                });
            }
            (Some((_, span)), _) | (None, Some((_, span))) => errors.push(doc.error(
                &[Seg::key("transport")],
                span,
                "give neither slot_addr nor slot_size (probe-write writes to the secondary region of the \
                 station's flash map), or both, the secondary slot's start and size (deprecated)",
            )),
        }
    }
    out
}

/// Where a station's flash map comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MapSource {
    /// The station's `[layout]` table.
    Layout,
    /// The built-in map of the board the station's `[target] board`, `[target] chip` or probe
    /// `chip` names.
    Builtin(String),
}

/// A station's flash map: the one list of regions the probe's reads and probe-write's writes
/// are views of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StationMap {
    pub map: FlashMap,
    pub source: MapSource,
    /// The built-in board whose flash part the station's device has, when one is named.
    pub board: Option<&'static str>,
    /// The regions `[probe] slots` names (deprecated); empty when the file has none.
    slots: Vec<String>,
}

impl StationMap {
    /// The regions `doctor` reads through the probe: the primary and secondary, or those the
    /// deprecated `[probe] slots` names.
    pub fn probe_regions(&self) -> Vec<&Region> {
        if self.slots.is_empty() {
            [RegionRole::Primary, RegionRole::Secondary]
                .into_iter()
                .filter_map(|r| self.map.with_role(r))
                .collect()
        } else {
            self.slots.iter().filter_map(|n| self.map.region(n)).collect()
        }
    }

    /// Where probe-write writes the update: the secondary region.
    pub fn probe_write_slot(&self) -> Option<&Region> {
        self.map.with_role(RegionRole::Secondary)
    }

    /// How the map is named in messages: `lab.toml [layout]` or the built-in board's name.
    pub fn describe(&self, station: &StationFile) -> String {
        match &self.source {
            MapSource::Layout => format!("{} [layout]", station.path.display()),
            MapSource::Builtin(b) => b.clone(),
        }
    }
}

use crate::flash_map::Region;
use fut::layout::Role as RegionRole;

impl StationFile {
    /// The built-in board the station's `[target] board`, `[target] chip` or probe `chip` names
    /// (`nRF52840_xxAA` names `nrf52840`, `STM32L476RG` names `stm32l4`).
    pub fn named_board(&self) -> Option<&'static str> {
        [self.board.as_deref(), self.chip.as_deref(), self.probe_chip.as_deref()]
            .into_iter()
            .flatten()
            .find_map(|name| {
                let name = name.to_ascii_lowercase();
                let boards = cutpoint_sim::BoardProfile::builtin_names();
                // A board named exactly wins over one whose name it contains
                // (`nrf52840-qspi` is not the `nrf52840`).
                boards
                    .iter()
                    .copied()
                    .find(|b| name == *b)
                    .or_else(|| boards.iter().copied().find(|b| names_board(&name, b)))
            })
    }

    /// The station's flash map, stated once: its `[layout]`, else the built-in map of the
    /// board it names; `None` when it states neither. The deprecated `[probe] slots` and
    /// probe-write `slot_addr`/`slot_size` are mapped onto its region list: a region the map
    /// has must agree with it, one it lacks is added (and must fit); an error is located at
    /// the old field.
    pub fn flash_map(&self) -> Result<Option<StationMap>, FileError> {
        let board = self.named_board();
        let (mut map, source) = match (&self.layout, board) {
            (Some(m), _) => (m.clone(), MapSource::Layout),
            (None, Some(b)) => match cutpoint_sim::BoardProfile::builtin(b) {
                Some(p) => (FlashMap::from_board(&p), MapSource::Builtin(b.to_string())),
                None => return Ok(None),
            },
            (None, None) => return Ok(None),
        };
        let name = match &source {
            MapSource::Layout => format!("{} [layout]", self.path.display()),
            MapSource::Builtin(b) => b.clone(),
        };
        let mut slots = Vec::new();
        for old in &self.legacy_regions {
            let located = |message: String| FileError {
                message,
                ..old.at.clone()
            };
            let existing = match old.role {
                Some(role) => map.with_role(role),
                None => map.region(&old.name),
            };
            match existing {
                Some(r) if (r.offset, r.size) == (old.offset, old.size) => {}
                Some(r) if old.probe_write => {
                    return Err(located(format!(
                        "probe-write writes to {:#x}+{:#x}, but the secondary slot of the flash map ({name}) is {:#x}+{:#x}",
                        old.offset, old.size, r.offset, r.size
                    )))
                }
                Some(r) => {
                    return Err(located(format!(
                        "slot \"{}\" is {:#x}+{:#x}, but the region of the flash map ({name}) is {:#x}+{:#x}; \
                         remove slots (the probe reads the map's regions)",
                        old.name, old.offset, old.size, r.offset, r.size
                    )))
                }
                None => {
                    let added = Region::new(old.name.clone(), old.offset, old.size);
                    if old.size == 0 || old.offset.checked_add(old.size).is_none() {
                        return Err(located(format!(
                            "slot \"{}\": expected a size of at least 1 byte ending below 4 GiB, got {:#x}+{:#x}",
                            old.name, old.offset, old.size
                        )));
                    }
                    if let Some(o) = map.regions.iter().find(|o| {
                        o.device.is_none() && u64::from(added.offset) < o.end() && u64::from(o.offset) < added.end()
                    }) {
                        return Err(located(format!(
                            "slot \"{}\" ({:#x}..{:#x}) overlaps {} ({:#x}..{:#x}) of the flash map ({name}); \
                             state the regions once, as [[layout.regions]] tables, and remove slots",
                            old.name,
                            added.offset,
                            added.end(),
                            o.name,
                            o.offset,
                            o.end()
                        )));
                    }
                    map.regions.push(added);
                }
            }
            if !old.probe_write {
                slots.push(old.name.clone());
            }
        }
        Ok(Some(StationMap {
            map,
            source,
            board: self.flash.or(board),
            slots,
        }))
    }
}

/// Whether a board or chip name (lower case) names the built-in board `board`: the board's
/// own name, or a chip name that contains it. The built-in STM32F4 and STM32H7 maps are those
/// of particular parts (a 2 MiB STM32F42x/43x, an STM32H743/753): a chip name must name one of
/// them, since an STM32F446 or STM32F407 has less flash or other sectors.
fn names_board(name: &str, board: &str) -> bool {
    let parts: &[&str] = match board {
        "stm32f4" => &["stm32f42", "stm32f43"],
        "stm32h7" => &["stm32h743", "stm32h753"],
        _ => &[],
    };
    name == board || (parts.is_empty() && name.contains(board)) || parts.iter().any(|p| name.contains(p))
}

#[cfg(test)]
mod board_name_tests {
    use super::names_board;

    #[test]
    fn only_the_parts_of_the_built_in_maps_name_the_stm32_boards() {
        assert!(names_board("stm32f4", "stm32f4"));
        assert!(names_board("stm32f429zitx", "stm32f4"));
        assert!(names_board("stm32h743zitx", "stm32h7"));
        // Other sizes and sector layouts of the families: their own [layout], not these maps.
        assert!(!names_board("stm32f446retx", "stm32f4"));
        assert!(!names_board("stm32f407vgtx", "stm32f4"));
        assert!(!names_board("stm32h723zgtx", "stm32h7"));
        assert!(names_board("nrf5340_xxaa_app", "nrf5340"));
        assert!(names_board("nrf52840_xxaa", "nrf52840"));
        assert!(!names_board("nrf52833_xxaa", "nrf52840"));
    }

    #[test]
    fn a_board_and_a_chip_that_name_different_boards_are_refused_at_the_chip() {
        let text = "[target]\nboard = \"stm32f4\"\nchip = \"{}\"\n[power]\nkind = \"command\"\n\
                    [console]\nkind = \"serial\"\n[transport]\nkind = \"http\"\n";
        let errors =
            super::parse_station(&text.replace("{}", "nRF52840_xxAA"), std::path::Path::new("s.toml")).unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(
            (errors[0].line, errors[0].field.as_str()),
            (3, "target.chip"),
            "{errors:?}"
        );
        assert!(
            errors[0].message.contains("names the built-in nrf52840"),
            "{}",
            errors[0].message
        );
        // The same board by both names, and a free-text board name, are fine.
        super::parse_station(&text.replace("{}", "STM32F429ZITx"), std::path::Path::new("s.toml")).unwrap();
        let free = text.replace("board = \"stm32f4\"", "board = \"carrier rev B\"");
        super::parse_station(&free.replace("{}", "nRF52840_xxAA"), std::path::Path::new("s.toml")).unwrap();
        // nrf52840-qspi is an nRF52840 with its external flash.
        let qspi = text.replace("board = \"stm32f4\"", "board = \"nrf52840-qspi\"");
        super::parse_station(&qspi.replace("{}", "nRF52840_xxAA"), std::path::Path::new("s.toml")).unwrap();
    }

    #[test]
    fn a_board_named_exactly_wins_over_one_its_name_contains() {
        let text = "[target]\nboard = \"{}\"\n[power]\nkind = \"command\"\n[console]\nkind = \"serial\"\n\
                    [transport]\nkind = \"http\"\n";
        for board in ["nrf52840-qspi", "nrf52840"] {
            let st = super::parse_station(&text.replace("{}", board), std::path::Path::new("s.toml")).unwrap();
            assert_eq!(st.named_board(), Some(board));
        }
    }
}
