//! Loading and validating campaign files.

use std::collections::HashSet;
use std::ops::Range;
use std::path::{Path, PathBuf};

use fut::scheme::Registry;
use regex::Regex;
use sha2::{Digest, Sha256};

use crate::de::{is_plain_name, Doc, Rename, Seg};
use crate::error::FileError;
use crate::hint;
use crate::image_file::{image_file_format, read_image_file, ImageFormat};
use crate::model::*;
use crate::raw::*;
use crate::region::{FlashRegion, RegionSet};
use crate::station::{load_station, StationFile};

/// Default console markers: the grammar of cutpoint's firmware under test.
pub mod defaults {
    pub const BOOT: &str = r"boot: start";
    pub const JUMP: &str = r"boot: jump version=(?P<version>\S+) hash=(?P<hash>\S+)";
    pub const HALT: &str = r"boot: halt";
    pub const COMMIT: &str = r"app: confirm version=(?P<version>\S+)";
    /// The bootloader's own line for an install that is complete for good: a permanent swap
    /// or an overwrite (the commit point of those upgrades).
    pub const INSTALLED: &str = r"boot: (swap-done type=perm|overwrite-done)";
    pub const SETTLED: &str = r"ota: idle";
    /// What may stand before the text of the anchored markers below: a device's log prefix, as
    /// a run of fields each followed by white space: bracketed ones (Zephyr's timestamp
    /// `[00:00:01.234,567]`, a `[INF]` level), angle-bracketed level tags (Zephyr's `<inf>`),
    /// ESP-IDF's `I (1234)` and a one-letter level `I:`. Nothing else: these markers are
    /// anchored so that they match the line the firmware prints, not another line that merely
    /// quotes its words further in (`app: last error ota: verify-fail reason=...`), as a bare
    /// `^` anchored them before.
    macro_rules! log_prefix {
        () => {
            r"^(?:(?:\[[^\]]*\]|<[a-z]+>|[EWIDV] \(\d+\)|[A-Z]:)\s+)*"
        };
    }
    pub const LOG_PREFIX: &str = log_prefix!();
    pub const REJECTED: &str = concat!(log_prefix!(), r"ota: idle reason=rejected");
    pub const REFUSED: &str = concat!(
        log_prefix!(),
        r"(ota: verify-fail|boot: integrity slot=secondary fail) reason=(?P<reason>\S+)"
    );
    pub const DOWNLOAD_RESTART: &str = concat!(log_prefix!(), r"ota: download-start");
    /// The application refused an upload because the slot it goes to is in use (mcumgr's
    /// "No free slot").
    pub const BLOCKED: &str = concat!(log_prefix!(), r"ota: upload-refused reason=(?P<reason>\S+)");
    pub const BASELINE_VERSION: &str = "1.0.0";
    pub const UPDATE_VERSION: &str = "2.0.0";
    pub const SIZE_KIB: u32 = 96;
    pub const SEED: u64 = 1;
    pub const DWELL_MS: u64 = 200;
    pub const BOOT_TIMEOUT_MS: u64 = 10_000;
    pub const SETTLE_TIMEOUT_MS: u64 = 60_000;
    pub const MAX_BOOTS: u32 = 12;
}

/// The largest body a generated image may have on the simulated boards (192 KiB slots less
/// the trailer sector, the header and the signature).
pub const SIM_MAX_SIZE_KIB: u32 = 187;
/// The slot size of the simulated boards' flash map (two 192 KiB slots), which is also the map
/// a station without a `[layout]` table gets: no image file may be larger.
pub const SIM_SLOT_SIZE: u64 = 192 * 1024;

/// The room a simulated board's slots leave for a generated image.
struct SimSlots {
    board: cutpoint_sim::board_name::Board,
    slot: u64,
    max_size_kib: u32,
    /// The scheme keeps room of its own in the slots (swap-move's spare sector).
    spare: Option<Mode>,
}

impl SimSlots {
    fn of(board: cutpoint_sim::board_name::Board, mode: Mode) -> SimSlots {
        let layout = board.profile().layout;
        let max = mode.max_image_size(&layout);
        if max != layout.max_image_size() {
            // A scheme that keeps room of its own (swap-move's spare sector).
            return SimSlots {
                board,
                slot: u64::from(layout.primary.size),
                max_size_kib: (max / 1024).saturating_sub(1),
                spare: Some(mode),
            };
        }
        if u64::from(layout.primary.size) == SIM_SLOT_SIZE {
            return SimSlots {
                board,
                slot: SIM_SLOT_SIZE,
                max_size_kib: SIM_MAX_SIZE_KIB,
                spare: None,
            };
        }
        // As for the standard map: the slot less its trailer sectors, less 1 KiB for the
        // header and the signature.
        SimSlots {
            board,
            slot: u64::from(layout.primary.size),
            max_size_kib: (layout.max_image_size() / 1024).saturating_sub(1),
            spare: None,
        }
    }

    /// Why the size is bounded, for the error message.
    fn why(&self) -> String {
        if let Some(mode) = self.spare {
            return format!(
                " (the {} board's {} KiB slots keep their last sectors for the trailer, and mode \"{mode}\" one more \
                 sector for its swap)",
                self.board,
                self.slot / 1024
            );
        }
        if self.slot == SIM_SLOT_SIZE {
            " (the simulated boards' 192 KiB slots keep a sector for the trailer)".to_string()
        } else {
            format!(
                " (the {} board's {} KiB slots keep their last sectors for the trailer)",
                self.board,
                self.slot / 1024
            )
        }
    }
}

/// Upper bounds that keep a campaign's size sane.
pub const MAX_REPETITIONS: u32 = 1000;
pub const MAX_RANDOM: u32 = 10_000;
/// The most cuts one sequence chains (the first included).
pub const MAX_CHAIN: usize = 4;
pub const MAX_BOOTS_LIMIT: u32 = 1000;

/// Old key spellings of campaign files, read with a warning.
const RENAMES: &[Rename] = &[Rename {
    table: &["run"],
    old: "dwell_ms",
    new: "off_dwell_ms",
}];

/// An error about the campaign key at `keys` (e.g. `["target", "upgrade"]`) of the campaign
/// file at `path`, at the key's line, or the nearest enclosing table written in the file when
/// the key is not: for problems found once the campaign is loaded (against the station's flash
/// map, say).
pub fn locate_in_campaign(path: &Path, keys: &[&str], message: impl Into<String>) -> FileError {
    let file = path.display().to_string();
    let message = message.into();
    let field = keys.join(".");
    let Ok(text) = std::fs::read_to_string(path) else {
        return FileError {
            field,
            ..FileError::whole_file(&file, message)
        };
    };
    match Doc::parse(&file, &text, RENAMES) {
        Ok(doc) => {
            let segs: Vec<Seg> = keys.iter().map(|k| Seg::key(k)).collect();
            let mut e = doc.error(&segs, doc.span_of(&segs), message);
            e.field = field;
            e
        }
        Err(_) => FileError {
            field,
            ..FileError::whole_file(&file, message)
        },
    }
}

/// Reads and validates a campaign file.
pub fn load_campaign(path: impl AsRef<Path>) -> Result<Campaign, Vec<FileError>> {
    let path = path.as_ref();
    let text = read_text(path)?;
    parse_campaign(&text, path)
}

pub(crate) fn read_text(path: &Path) -> Result<String, Vec<FileError>> {
    let file = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| vec![FileError::whole_file(&file, format!("cannot read: {e}"))])?;
    String::from_utf8(bytes).map_err(|e| {
        vec![FileError::whole_file(
            &file,
            format!(
                "not UTF-8 text (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            ),
        )]
    })
}

/// Validates campaign text; `path` names the file in errors and anchors relative paths.
pub fn parse_campaign(text: &str, path: &Path) -> Result<Campaign, Vec<FileError>> {
    let file = path.display().to_string();
    let doc = Doc::parse(&file, text, RENAMES).map_err(|e| vec![e])?;
    let raw: RawCampaign = doc.decode().map_err(|e| vec![e])?;
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut v = Validator {
        doc: &doc,
        base,
        errors: Vec::new(),
        schemes: Registry::builtin(),
    };
    let mut campaign = v.campaign(raw, path);
    campaign.sha256 = hex::encode(Sha256::digest(text.as_bytes()));
    let mut warnings = doc.warnings.clone();
    if let TargetKind::Station { station, .. } = &campaign.target.kind {
        warnings.extend(station.warnings.iter().cloned());
    }
    campaign.warnings = warnings;
    if v.errors.is_empty() {
        v.errors.extend(crate::bound::check_floor(&campaign));
    }
    if v.errors.is_empty() {
        match crate::inputs::hash_inputs(&campaign) {
            Ok(inputs) => campaign.inputs = inputs,
            Err((key, why)) => {
                let at: Vec<&str> = key.split('.').collect();
                let span = doc.span_of(&p(&at));
                v.errors.push(doc.error(&p(&at), span, why));
            }
        }
    }
    if v.errors.is_empty() {
        Ok(campaign)
    } else {
        // In file order: this file's errors first, then those of the station file it names.
        let mut errors = v.errors;
        errors.sort_by_key(|e| (e.file != file, e.line, e.column));
        Err(errors)
    }
}

fn p(items: &[&str]) -> Vec<Seg> {
    items.iter().map(|s| Seg::key(s)).collect()
}

fn with(base: &[Seg], more: &[&str]) -> Vec<Seg> {
    let mut v = base.to_vec();
    v.extend(more.iter().map(|s| Seg::key(s)));
    v
}

fn with_index(base: &[Seg], i: usize) -> Vec<Seg> {
    let mut v = base.to_vec();
    v.push(Seg::Index(i));
    v
}

/// The last line of a regex error (the part that says what is wrong).
fn regex_message(e: &regex::Error) -> String {
    let text = e.to_string();
    let last = text
        .lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix("error: "))
        .unwrap_or_else(|| text.lines().next().unwrap_or(""));
    format!("invalid regular expression: {}", last.trim())
}

/// Checks `MAJOR.MINOR.REVISION` with an optional `+BUILD` (MCUboot's version fields).
fn check_version(v: &str) -> Result<(), String> {
    let (main, build) = match v.split_once('+') {
        Some((m, b)) => (m, Some(b)),
        None => (v, None),
    };
    let parts: Vec<&str> = main.split('.').collect();
    let limits = [u64::from(u8::MAX), u64::from(u8::MAX), u64::from(u16::MAX)];
    let ok_parts = (1..=3).contains(&parts.len())
        && parts.iter().zip(limits).all(|(p, lim)| {
            !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()) && p.parse::<u64>().is_ok_and(|n| n <= lim)
        });
    let ok_build =
        build.is_none_or(|b| !b.is_empty() && b.chars().all(|c| c.is_ascii_digit()) && b.parse::<u32>().is_ok());
    if ok_parts && ok_build {
        Ok(())
    } else {
        Err(format!(
            "expected a version MAJOR.MINOR.REVISION[+BUILD] (major and minor up to 255, revision up to 65535), got \"{v}\""
        ))
    }
}

/// Versions compared as numbers, missing parts being 0.
pub(crate) fn version_key(v: &str) -> [u64; 4] {
    let (main, build) = v.split_once('+').unwrap_or((v, "0"));
    let mut out = [0u64; 4];
    for (i, part) in main.split('.').take(3).enumerate() {
        out[i] = part.parse().unwrap_or(0);
    }
    out[3] = build.parse().unwrap_or(0);
    out
}

struct Validator<'d, 'a> {
    doc: &'d Doc<'a>,
    base: PathBuf,
    errors: Vec<FileError>,
    /// The schemes `target.mode` may name.
    schemes: Registry<'static>,
}

impl Validator<'_, '_> {
    fn err(&mut self, path: &[Seg], span: Range<usize>, message: impl Into<String>) {
        let e = self.doc.error(path, span, message);
        self.errors.push(e);
    }

    fn resolve(&self, rel: &str) -> PathBuf {
        self.base.join(rel)
    }

    fn pattern(&mut self, path: &[Seg], raw: Option<&S<String>>, default: &str) -> Pattern {
        let (source, span) = match raw {
            Some(s) => (s.get_ref().clone(), s.span()),
            None => (default.to_string(), 0..0),
        };
        let mut p = self.compile(path, &source, span);
        if raw.is_none() {
            if let Some(o) = p.origin.as_mut() {
                o.line = 0;
                o.column = 0;
            }
        }
        p
    }

    fn compile(&mut self, path: &[Seg], source: &str, span: Range<usize>) -> Pattern {
        let regex = match Regex::new(source) {
            // A pattern that matches the empty string matches every console line (a trailing
            // `|`, a pattern of optional parts): a phase that ends at the next line, a marker
            // that is always seen. Never what a campaign means.
            Ok(r) if r.is_match("") => {
                self.err(
                    path,
                    span.clone(),
                    format!(
                        "the pattern \"{source}\" matches the empty string, so it matches every console line \
                         (a trailing or doubled `|`, or a pattern whose parts are all optional); write it to match \
                         the line you mean"
                    ),
                );
                Regex::new(r"[^\s\S]").unwrap_or_else(|_| unreachable!("fixed pattern"))
            }
            Ok(r) => r,
            Err(e) => {
                self.err(path, span.clone(), regex_message(&e));
                // A pattern that never matches stands in, so validation can go on.
                Regex::new(r"[^\s\S]").unwrap_or_else(|_| unreachable!("fixed pattern"))
            }
        };
        Pattern {
            source: source.to_string(),
            regex,
            origin: Some(self.doc.error(path, span, "")),
        }
    }

    fn require_group(&mut self, path: &[Seg], raw: Option<&S<String>>, pat: &Pattern, group: &str) {
        if let Some(raw) = raw {
            if !pat.regex.capture_names().any(|n| n == Some(group)) && !self.has_error_at(raw.span()) {
                self.err(
                    path,
                    raw.span(),
                    format!(
                        "expected a pattern with a named group (?P<{group}>...), got \"{}\"",
                        raw.get_ref()
                    ),
                );
            }
        }
    }

    fn has_error_at(&self, span: Range<usize>) -> bool {
        let (line, column) = self.doc.source.line_col(span.start);
        self.errors.iter().any(|e| e.line == line && e.column == column)
    }

    fn campaign(&mut self, raw: RawCampaign, path: &Path) -> Campaign {
        let name = match &raw.name {
            Some(n) if n.get_ref().trim().is_empty() => {
                self.err(&p(&["name"]), n.span(), "expected a non-empty name");
                String::new()
            }
            Some(n) => n.get_ref().trim().to_string(),
            None => path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "campaign".to_string()),
        };
        let description = raw.description.map(|d| d.into_inner()).unwrap_or_default();
        let target = self.target(raw.target.as_ref());
        let images = self.images(raw.images.as_ref(), &target);
        let run = self.run(raw.run.as_ref());
        let pass = self.pass(raw.pass.as_ref(), raw.images.as_ref(), &target, &images);
        let markers = self.markers(raw.markers.as_ref());
        let simulated = matches!(target.kind, TargetKind::Simulated { .. });
        let phases = self.phases(&raw.phases, simulated);
        let sequences = self.sequences(&raw.sequences, &raw.phases, &phases, simulated);
        Campaign {
            name,
            description,
            path: path.to_path_buf(),
            sha256: String::new(),
            inputs: Vec::new(),
            warnings: Vec::new(),
            target,
            images,
            run,
            pass,
            markers,
            phases,
            sequences,
        }
    }

    fn target(&mut self, raw: Option<&S<RawTarget>>) -> Target {
        let t = raw.map(|t| t.get_ref());
        let upgrade = t
            .and_then(|t| t.upgrade.as_ref())
            .map_or(Upgrade::Test, |u| *u.get_ref());
        if let Some(station) = t.and_then(|t| t.station.as_ref()) {
            let rel = station.get_ref();
            let resolved = self.resolve(rel);
            for (key, given) in [
                ("board", t.and_then(|t| t.board.as_ref()).map(|b| b.span())),
                ("variant", t.and_then(|t| t.variant.as_ref()).map(|v| v.span())),
                ("delivery", t.and_then(|t| t.delivery.as_ref()).map(|v| v.span())),
                (
                    "baseline_slot",
                    t.and_then(|t| t.baseline_slot.as_ref()).map(|v| v.span()),
                ),
                (
                    "prior_updates",
                    t.and_then(|t| t.prior_updates.as_ref()).map(|v| v.span()),
                ),
            ] {
                if let Some(span) = given {
                    self.err(
                        &p(&["target", key]),
                        span,
                        format!("{key} only applies to the simulated board; this campaign runs on station \"{rel}\""),
                    );
                }
            }
            let mode = self.mode(t.and_then(|t| t.mode.as_ref()));
            let file = if rel.trim().is_empty() {
                self.err(
                    &p(&["target", "station"]),
                    station.span(),
                    "expected a path to a station file",
                );
                None
            } else if !resolved.is_file() {
                self.err(
                    &p(&["target", "station"]),
                    station.span(),
                    format!("no station file at \"{}\"", resolved.display()),
                );
                None
            } else {
                match load_station(&resolved) {
                    Ok(s) => Some(s),
                    Err(errs) => {
                        self.errors.extend(errs);
                        None
                    }
                }
            };
            // The station's map must have the scratch region the mode needs (and only then).
            if let Some(Err(e)) = file.as_ref().map(|s| s.check_scratch(mode)) {
                self.errors.push(e);
            }
            let station = file.unwrap_or_else(|| StationFile::placeholder(&resolved));
            return Target {
                mode,
                upgrade,
                delivery: Delivery::Download,
                baseline_slot: fut::layout::Slot::Primary,
                prior_updates: 0,
                kind: TargetKind::Station {
                    path: resolved,
                    station: Box::new(station),
                },
            };
        }
        let board = t
            .and_then(|t| t.board.as_ref())
            .map_or(Board::Nrf52840, |b| *b.get_ref());
        let variant = t
            .and_then(|t| t.variant.as_ref())
            .map_or(Variant::Reference, |v| *v.get_ref());
        let raw_mode = t.and_then(|t| t.mode.as_ref());
        let given = self.mode(raw_mode);
        // A broken variant bound to a scheme (`Variant::scheme`) brings its mode when the
        // campaign names none, and refuses another.
        let bound = variant.scheme();
        let mode = match (raw_mode, bound) {
            (Some(m), Some(b)) if !b.allows(given) => {
                if self.schemes.find(m.get_ref()).is_some() {
                    self.err(
                        &p(&["target", "mode"]),
                        m.span(),
                        format!(
                            "variant \"{}\" {}: expected \"{}\", got \"{}\"",
                            variant.name(),
                            b.what,
                            b.mode.name(),
                            given.name()
                        ),
                    );
                }
                b.mode
            }
            (Some(_), _) => given,
            (None, Some(b)) => b.mode,
            (None, None) => Mode::SWAP_SCRATCH,
        };
        // The board's flash map must fit the scheme (swap-move: slots of equal sectors, the
        // primary with as many sectors as the secondary or one more, room for the spare sector).
        if let Err(e) = board.profile().check_mode(mode) {
            let span = raw_mode
                .map(|m| m.span())
                .or_else(|| t.and_then(|t| t.board.as_ref()).map(|b| b.span()));
            let path = p(&["target", if raw_mode.is_some() { "mode" } else { "board" }]);
            let span = span.unwrap_or_else(|| self.doc.span_of(&path));
            self.err(
                &path,
                span,
                format!(
                    "the {board} board's flash map does not fit mode \"{}\" ({e:?}{}): choose another board or mode",
                    mode.name(),
                    sector_problem(e)
                ),
            );
        }
        let delivery = t
            .and_then(|t| t.delivery.as_ref())
            .map_or(Delivery::Download, |d| *d.get_ref());
        let baseline_slot = self.baseline_slot(t.and_then(|t| t.baseline_slot.as_ref()), mode);
        let prior_updates = self.prior_updates(t.and_then(|t| t.prior_updates.as_ref()));
        Target {
            mode,
            upgrade,
            delivery,
            baseline_slot,
            prior_updates,
            kind: TargetKind::Simulated { board, variant },
        }
    }

    /// `target.prior_updates`: an even count up to [`crate::model::MAX_PRIOR_UPDATES`] (0 when
    /// not given).
    fn prior_updates(&mut self, raw: Option<&S<i64>>) -> u32 {
        let Some(raw) = raw else {
            return 0;
        };
        let n = *raw.get_ref();
        let max = crate::model::MAX_PRIOR_UPDATES;
        if n < 0 || n > i64::from(max) || n % 2 != 0 {
            self.err(
                &p(&["target", "prior_updates"]),
                raw.span(),
                format!(
                    "expected an even number from 0 to {max} (the update and the baseline image are offered in turn, so an even count leaves the baseline image running), got {n}"
                ),
            );
            return 0;
        }
        n as u32
    }

    /// The slot `target.baseline_slot` names (the primary when it names none); the scheme must
    /// be able to start from it.
    fn baseline_slot(&mut self, raw: Option<&S<String>>, mode: Mode) -> fut::layout::Slot {
        use fut::layout::Slot;
        let Some(raw) = raw else {
            return Slot::Primary;
        };
        let slot = match raw.get_ref().as_str() {
            "primary" => Slot::Primary,
            "secondary" => Slot::Secondary,
            other => {
                self.err(
                    &p(&["target", "baseline_slot"]),
                    raw.span(),
                    format!("expected one of \"primary\", \"secondary\", got \"{other}\""),
                );
                return Slot::Primary;
            }
        };
        let layout = fut::layout::Layout {
            sector_size: 0,
            write_size: 0,
            bootloader: fut::layout::Area { offset: 0, size: 0 },
            primary: fut::layout::Area { offset: 0, size: 0 },
            secondary: fut::layout::Area { offset: 0, size: 0 },
            scratch: fut::layout::Area { offset: 0, size: 0 },
        };
        if !mode.scheme().provision(&layout, slot, &mut |_, _| {}) {
            self.err(
                &p(&["target", "baseline_slot"]),
                raw.span(),
                format!(
                    "scheme \"{}\" boots only the primary slot: a baseline in the {} slot needs an A/B scheme (\"esp-idf\")",
                    mode.name(),
                    slot.name()
                ),
            );
            return Slot::Primary;
        }
        slot
    }

    /// The scheme `target.mode` names (swap-scratch when it names none); an unknown name is an
    /// error listing the registered ones.
    fn mode(&mut self, raw: Option<&S<String>>) -> Mode {
        let Some(m) = raw else {
            return Mode::SWAP_SCRATCH;
        };
        let name = m.get_ref();
        if let Some(mode) = self.schemes.find(name) {
            return mode;
        }
        let known: Vec<&str> = self.schemes.names().collect();
        let list = known.iter().map(|k| format!("\"{k}\"")).collect::<Vec<_>>().join(", ");
        let mut message = format!("expected one of {list}, got \"{name}\"");
        if let Some(h) = hint::closest(name, &known) {
            message.push_str(&format!("; did you mean \"{h}\"?"));
        }
        self.err(&p(&["target", "mode"]), m.span(), message);
        Mode::SWAP_SCRATCH
    }

    fn images(&mut self, raw: Option<&S<RawImages>>, target: &Target) -> Images {
        let r = raw.map(|r| r.get_ref());
        let simulated = match &target.kind {
            TargetKind::Simulated { board, .. } => Some(SimSlots::of(*board, target.mode)),
            TargetKind::Station { .. } => None,
        };
        let slot = match &target.kind {
            TargetKind::Station { station, .. } => station
                .layout
                .as_ref()
                .and_then(|l| l.region("primary"))
                .map_or(SIM_SLOT_SIZE, |p| u64::from(p.size)),
            TargetKind::Simulated { .. } => simulated.as_ref().map_or(SIM_SLOT_SIZE, |s| s.slot),
        };
        let baseline = self.image(
            "baseline",
            r.and_then(|r| r.baseline.as_ref()),
            defaults::BASELINE_VERSION,
            simulated.as_ref(),
            slot,
            target.mode,
        );
        let update = self.image(
            "update",
            r.and_then(|r| r.update.as_ref()),
            defaults::UPDATE_VERSION,
            simulated.as_ref(),
            slot,
            target.mode,
        );
        if let (ImageSource::Generated { version: old, .. }, ImageSource::Generated { version: new, .. }) =
            (&baseline, &update)
        {
            if version_key(old) == version_key(new) {
                let path = p(&["images", "update", "version"]);
                let span = self.doc.span_of(&path);
                self.err(
                    &path,
                    span,
                    format!(
                        "the update's version must differ from the baseline's ({old}), or the device stays up to date"
                    ),
                );
            }
        }
        let public_key = r.and_then(|r| r.public_key.as_ref()).and_then(|k| {
            let resolved = self.resolve(k.get_ref());
            if resolved.is_file() {
                Some(resolved)
            } else {
                self.err(
                    &p(&["images", "public_key"]),
                    k.span(),
                    format!("no key file at \"{}\"", resolved.display()),
                );
                None
            }
        });
        let downgrade = r
            .and_then(|r| r.downgrade.as_ref())
            .map_or(Downgrade::Allowed, |d| *d.get_ref());
        if let Some(c) = r
            .and_then(|r| r.update.as_ref())
            .and_then(|u| u.get_ref().confirmed.as_ref())
        {
            self.err(
                &p(&["images", "update", "confirmed"]),
                c.span(),
                "confirmed says how the baseline was flashed (imgtool sign --pad --confirm); the update arrives \
                 through the OTA: move it to images.baseline",
            );
        }
        let baseline_confirmed = r
            .and_then(|r| r.baseline.as_ref())
            .and_then(|b| b.get_ref().confirmed.as_ref())
            .is_some_and(|c| *c.get_ref());
        Images {
            baseline,
            update,
            public_key,
            baseline_confirmed,
            downgrade,
        }
    }

    /// One image of `[images]`; a file is checked (regular, at most `slot` bytes, an MCUboot
    /// header) without being read whole.
    fn image(
        &mut self,
        which: &str,
        raw: Option<&S<RawImage>>,
        default_version: &str,
        simulated: Option<&SimSlots>,
        slot: u64,
        mode: Mode,
    ) -> ImageSource {
        let base = p(&["images", which]);
        let Some(raw) = raw else {
            return ImageSource::Generated {
                version: default_version.to_string(),
                size_kib: defaults::SIZE_KIB,
                health: Health::Ok,
                tamper: None,
            };
        };
        let r = raw.get_ref();
        let health = match &r.health {
            Some(h) if which == "baseline" && *h.get_ref() == Health::Fails => {
                self.err(
                    &with(&base, &["health"]),
                    h.span(),
                    "the baseline must pass its health check: expected \"ok\", got \"fails\"",
                );
                Health::Ok
            }
            Some(h) => *h.get_ref(),
            None => Health::Ok,
        };
        let tamper = match &r.tamper {
            Some(t) if which == "baseline" => {
                self.err(
                    &with(&base, &["tamper"]),
                    t.span(),
                    "tamper spoils the update the device must refuse; the baseline must boot: move it to images.update",
                );
                None
            }
            Some(t) => Some(*t.get_ref()),
            None => None,
        };
        if let Some(file) = &r.file {
            for (key, span) in [
                ("version", r.version.as_ref().map(|v| v.span())),
                ("size_kib", r.size_kib.as_ref().map(|v| v.span())),
                ("tamper", r.tamper.as_ref().map(|v| v.span())),
            ] {
                if let Some(span) = span {
                    self.err(
                        &with(&base, &[key]),
                        span,
                        format!("{key} describes a generated image; it cannot be given with file"),
                    );
                }
            }
            let resolved = self.resolve(file.get_ref());
            let problem = if resolved.exists() {
                match image_file_format(&resolved, slot) {
                    Err(e) => Some(format!("image file \"{}\": {e}", resolved.display())),
                    Ok((_, ImageFormat::Mcuboot)) => None,
                    Ok((_, ImageFormat::Esp)) => esp_image_problem(&resolved, slot, mode)
                        .map(|e| format!("image file \"{}\": {e}", resolved.display())),
                }
            } else {
                Some(format!("no image file at \"{}\"", resolved.display()))
            };
            if let Some(problem) = problem {
                self.err(&with(&base, &["file"]), file.span(), problem);
            }
            return ImageSource::File { path: resolved, health };
        }
        let version = match &r.version {
            Some(v) => {
                if let Err(m) = check_version(v.get_ref()) {
                    self.err(&with(&base, &["version"]), v.span(), m);
                }
                v.get_ref().clone()
            }
            None => default_version.to_string(),
        };
        let max = simulated.map_or(16 * 1024, |s| s.max_size_kib);
        let size_kib = match &r.size_kib {
            Some(s) => {
                let n = *s.get_ref();
                if n == 0 || n > max {
                    let why = simulated.map_or(String::new(), |s| s.why());
                    self.err(
                        &with(&base, &["size_kib"]),
                        s.span(),
                        format!("expected a size in [1, {max}] KiB{why}, got {n}"),
                    );
                }
                n
            }
            None => defaults::SIZE_KIB,
        };
        ImageSource::Generated {
            version,
            size_kib,
            health,
            tamper,
        }
    }

    fn run(&mut self, raw: Option<&S<RawRun>>) -> Run {
        let r = raw.map(|r| r.get_ref());
        let base = p(&["run"]);
        let seed = r.and_then(|r| r.seed.as_ref()).map_or(defaults::SEED, |s| *s.get_ref());
        let repetitions = self.ranged_u32(
            &base,
            "repetitions",
            r.and_then(|r| r.repetitions.as_ref()),
            1,
            1,
            MAX_REPETITIONS,
        );
        let max_boots = self.ranged_u32(
            &base,
            "max_boots",
            r.and_then(|r| r.max_boots.as_ref()),
            defaults::MAX_BOOTS,
            1,
            MAX_BOOTS_LIMIT,
        );
        let fault = r
            .and_then(|r| r.fault.as_ref())
            .map_or(FaultKind::PowerCut, |f| *f.get_ref());
        let dwell_ms = r
            .and_then(|r| r.off_dwell_ms.as_ref())
            .map_or(defaults::DWELL_MS, |d| *d.get_ref());
        let boot_timeout_ms = match r.and_then(|r| r.boot_timeout_ms.as_ref()) {
            Some(b) if *b.get_ref() == 0 => {
                self.err(
                    &with(&base, &["boot_timeout_ms"]),
                    b.span(),
                    "expected a timeout of at least 1 ms, got 0",
                );
                defaults::BOOT_TIMEOUT_MS
            }
            Some(b) => *b.get_ref(),
            None => defaults::BOOT_TIMEOUT_MS,
        };
        let settle_timeout_ms = match r.and_then(|r| r.settle_timeout_ms.as_ref()) {
            Some(s) if *s.get_ref() < boot_timeout_ms => {
                self.err(
                    &with(&base, &["settle_timeout_ms"]),
                    s.span(),
                    format!(
                        "expected at least boot_timeout_ms ({boot_timeout_ms}), got {}",
                        s.get_ref()
                    ),
                );
                defaults::SETTLE_TIMEOUT_MS.max(boot_timeout_ms)
            }
            Some(s) => *s.get_ref(),
            None => defaults::SETTLE_TIMEOUT_MS.max(boot_timeout_ms),
        };
        Run {
            seed,
            repetitions,
            fault,
            dwell_ms,
            boot_timeout_ms,
            settle_timeout_ms,
            max_boots,
        }
    }

    fn ranged_u32(&mut self, base: &[Seg], key: &str, raw: Option<&S<u32>>, default: u32, lo: u32, hi: u32) -> u32 {
        match raw {
            Some(v) if !(lo..=hi).contains(v.get_ref()) => {
                self.err(
                    &with(base, &[key]),
                    v.span(),
                    format!("expected an integer in [{lo}, {hi}], got {}", v.get_ref()),
                );
                default
            }
            Some(v) => *v.get_ref(),
            None => default,
        }
    }

    fn pass(&mut self, raw: Option<&S<RawPass>>, images: Option<&S<RawImages>>, target: &Target, img: &Images) -> Pass {
        let r = raw.map(|r| r.get_ref());
        let final_raw = r.and_then(|r| r.final_image.as_ref());
        let final_image = final_raw.map_or(FinalImage::Auto, |f| *f.get_ref());
        let expect = r.and_then(|r| r.expect.as_ref()).map_or(Expect::Pass, |e| *e.get_ref());
        let revertible = target.confirms();
        if final_image == FinalImage::Auto && img.update.health() == Health::Fails && !revertible {
            let (path, span) = match final_raw {
                Some(f) => (p(&["pass", "final"]), f.span()),
                None => {
                    let path = p(&["images", "update", "health"]);
                    let span = images
                        .and_then(|i| i.get_ref().update.as_ref())
                        .and_then(|u| u.get_ref().health.as_ref())
                        .map_or(0..0, |h| h.span());
                    (path, span)
                }
            };
            self.err(
                &path,
                span,
                format!(
                    "final = \"auto\" cannot choose the final image: only a swap-scratch test upgrade reverts a failing update \
                     (this one is {} {}); set pass.final to \"new\" or \"old\"",
                    target.mode.name(),
                    target.upgrade.name()
                ),
            );
        }
        if let (Some(f), FinalImage::New) = (final_raw, final_image) {
            let tamper = match &img.update {
                ImageSource::Generated { tamper: Some(t), .. } => Some(*t),
                _ => None,
            };
            let downgrade = match (&img.baseline, &img.update) {
                (ImageSource::Generated { version: old, .. }, ImageSource::Generated { version: new, .. }) => {
                    img.downgrade == Downgrade::Refused && version_key(new) < version_key(old)
                }
                _ => false,
            };
            let why = match tamper {
                Some(t) => Some(format!("images.update.tamper = \"{t}\"")),
                None if downgrade => Some("images.downgrade = \"refused\" and the update is older".to_string()),
                None => None,
            };
            if let Some(why) = why {
                self.err(
                    &p(&["pass", "final"]),
                    f.span(),
                    format!(
                        "the device must refuse this update ({why}), so it must end on the old image: set final to \"old\" or \"auto\""
                    ),
                );
            }
        }
        let mut may_change: Vec<(String, FileError)> = Vec::new();
        if let Some(list) = r.and_then(|r| r.may_change.as_ref()) {
            for (i, s) in list.get_ref().iter().enumerate() {
                let path = with_index(&p(&["pass", "may_change"]), i);
                if may_change.iter().any(|(n, _)| n == s.get_ref()) {
                    self.err(&path, s.span(), format!("\"{}\" is listed twice", s.get_ref()));
                    continue;
                }
                may_change.push((s.get_ref().clone(), self.doc.error(&path, s.span(), "")));
            }
        }
        Pass {
            final_image,
            expect,
            may_change,
        }
    }

    fn markers(&mut self, raw: Option<&S<RawMarkers>>) -> Markers {
        let r = raw.map(|r| r.get_ref());
        let base = p(&["markers"]);
        let boot = self.pattern(&with(&base, &["boot"]), r.and_then(|r| r.boot.as_ref()), defaults::BOOT);
        let jump_raw = r.and_then(|r| r.jump.as_ref());
        let jump = self.pattern(&with(&base, &["jump"]), jump_raw, defaults::JUMP);
        self.require_group(&with(&base, &["jump"]), jump_raw, &jump, "version");
        let halt = self.pattern(&with(&base, &["halt"]), r.and_then(|r| r.halt.as_ref()), defaults::HALT);
        let commit_raw = r.and_then(|r| r.commit.as_ref());
        let commit = self.pattern(&with(&base, &["commit"]), commit_raw, defaults::COMMIT);
        self.require_group(&with(&base, &["commit"]), commit_raw, &commit, "version");
        let installed = self.pattern(
            &with(&base, &["installed"]),
            r.and_then(|r| r.installed.as_ref()),
            defaults::INSTALLED,
        );
        let settled = self.pattern(
            &with(&base, &["settled"]),
            r.and_then(|r| r.settled.as_ref()),
            defaults::SETTLED,
        );
        // Optional events: checked like the others, but a control run need not print them.
        let rejected = self.pattern(
            &with(&base, &["rejected"]),
            r.and_then(|r| r.rejected.as_ref()),
            defaults::REJECTED,
        );
        let refused_raw = r.and_then(|r| r.refused.as_ref());
        let refused = self.pattern(&with(&base, &["refused"]), refused_raw, defaults::REFUSED);
        let download_restart = self.pattern(
            &with(&base, &["download_restart"]),
            r.and_then(|r| r.download_restart.as_ref()),
            defaults::DOWNLOAD_RESTART,
        );
        let blocked = self.pattern(
            &with(&base, &["blocked"]),
            r.and_then(|r| r.blocked.as_ref()),
            defaults::BLOCKED,
        );
        Markers {
            boot,
            jump,
            halt,
            commit,
            installed,
            settled,
            rejected,
            refused,
            download_restart,
            blocked,
        }
    }

    fn phases(&mut self, raw: &[S<RawPhase>], simulated: bool) -> Vec<Phase> {
        if raw.is_empty() {
            self.errors.push(FileError {
                field: "phases".to_string(),
                ..self
                    .doc
                    .source
                    .error(0..0, "", "a campaign needs at least one [[phases]] table")
            });
        }
        let mut seen: HashSet<String> = HashSet::new();
        let mut out = Vec::new();
        for (i, rp) in raw.iter().enumerate() {
            let base = with_index(&p(&["phases"]), i);
            let r = rp.get_ref();
            let name = r.name.get_ref().clone();
            if !is_plain_name(&name) {
                self.err(
                    &with(&base, &["name"]),
                    r.name.span(),
                    format!("expected a name of letters, digits, '-' and '_' (used in cut ids), got \"{name}\""),
                );
            } else if !seen.insert(name.clone()) {
                self.err(
                    &with(&base, &["name"]),
                    r.name.span(),
                    format!("phase \"{name}\" is defined twice; phase names must be unique"),
                );
            }
            let start = self.compile(&with(&base, &["start"]), r.start.get_ref(), r.start.span());
            let end = self.compile(&with(&base, &["end"]), r.end.get_ref(), r.end.span());
            let progress = r
                .progress
                .as_ref()
                .map(|pr| self.compile(&with(&base, &["progress"]), pr.get_ref(), pr.span()));
            let offsets = match &r.offsets {
                Some(o) => {
                    let obase = with(&base, &["offsets"]);
                    if is_empty(o.get_ref()) {
                        self.err(
                            &obase,
                            o.span(),
                            "expected at least one of fixed, bytes, ms, us, sectors, random, every_op (leave offsets out \
                             for a phase that only positions the next one)",
                        );
                    }
                    self.offsets(&obase, o.get_ref(), progress.is_some(), simulated)
                }
                None => Offsets::default(),
            };
            out.push(Phase {
                name,
                start,
                end,
                progress,
                offsets,
            });
        }
        out
    }

    fn sequences(
        &mut self,
        raw: &[S<RawSequence>],
        raw_phases: &[S<RawPhase>],
        phases: &[Phase],
        simulated: bool,
    ) -> Vec<Sequence> {
        let names: Vec<&str> = phases.iter().map(|p| p.name.as_str()).collect();
        let mut seen: HashSet<String> = HashSet::new();
        let mut out = Vec::new();
        for (i, rs) in raw.iter().enumerate() {
            let base = with_index(&p(&["sequences"]), i);
            let r = rs.get_ref();
            let name = match &r.name {
                Some(n) => {
                    let name = n.get_ref().clone();
                    if !is_plain_name(&name) {
                        self.err(
                            &with(&base, &["name"]),
                            n.span(),
                            format!(
                                "expected a name of letters, digits, '-' and '_' (used in cut ids), got \"{name}\""
                            ),
                        );
                    }
                    name
                }
                None => format!("seq-{}", i + 1),
            };
            if !seen.insert(name.clone()) {
                let span = r.name.as_ref().map_or(rs.span(), |n| n.span());
                self.err(
                    &with(&base, &["name"]),
                    span,
                    format!("sequence \"{name}\" is defined twice; sequence names must be unique"),
                );
            }
            let first = self.cut_spec(
                &with(&base, &["first"]),
                r.first.get_ref(),
                raw_phases,
                &names,
                simulated,
            );
            let tbase = with(&base, &["then"]);
            let then = match r.then.get_ref() {
                RawThen::One(spec) => vec![self.cut_spec(&tbase, spec, raw_phases, &names, simulated)],
                RawThen::Chain(specs) => {
                    if specs.is_empty() || specs.len() > MAX_CHAIN - 1 {
                        self.err(
                            &tbase,
                            r.then.span(),
                            format!(
                                "expected 1 to {} later cuts (each a table {{ phase, offsets }}), got {}",
                                MAX_CHAIN - 1,
                                specs.len()
                            ),
                        );
                    }
                    specs
                        .iter()
                        .enumerate()
                        .map(|(k, spec)| {
                            self.cut_spec(&with_index(&tbase, k), spec.get_ref(), raw_phases, &names, simulated)
                        })
                        .collect()
                }
            };
            out.push(Sequence { name, first, then });
        }
        out
    }

    fn cut_spec(
        &mut self,
        base: &[Seg],
        s: &RawCutSpec,
        raw_phases: &[S<RawPhase>],
        names: &[&str],
        simulated: bool,
    ) -> CutSpec {
        let phase = s.phase.get_ref().clone();
        let found = raw_phases.iter().find(|p| *p.get_ref().name.get_ref() == phase);
        if found.is_none() {
            let mut m = format!("no phase named \"{phase}\"");
            match hint::closest(&phase, names) {
                Some(h) => m.push_str(&format!("; did you mean \"{h}\"?")),
                None => m.push_str(&format!("; phases are: {}", names.join(", "))),
            }
            self.err(&with(base, &["phase"]), s.phase.span(), m);
        }
        // An unknown phase is reported once, above; its offsets are still checked.
        let has_progress = found.is_none_or(|p| p.get_ref().progress.is_some());
        let obase = with(base, &["offsets"]);
        if is_empty(s.offsets.get_ref()) {
            self.err(
                &obase,
                s.offsets.span(),
                "expected at least one of fixed, bytes, ms, us, sectors, random, every_op",
            );
        }
        let offsets = self.offsets(&obase, s.offsets.get_ref(), has_progress, simulated);
        CutSpec { phase, offsets }
    }

    fn offsets(&mut self, base: &[Seg], r: &RawOffsets, has_progress: bool, simulated: bool) -> Offsets {
        let mut o = Offsets::default();
        if let Some(fixed) = &r.fixed {
            if fixed.get_ref().is_empty() {
                self.err(
                    &with(base, &["fixed"]),
                    fixed.span(),
                    "expected at least one of \"start\", \"end\", got an empty array (an empty list gives the phase \
                     no cut point; leave `fixed` out instead)",
                );
            }
            let mut seen = HashSet::new();
            for (i, f) in fixed.get_ref().iter().enumerate() {
                if !seen.insert(*f.get_ref()) {
                    self.err(
                        &with_index(&with(base, &["fixed"]), i),
                        f.span(),
                        format!("\"{}\" is listed twice", f.get_ref().name()),
                    );
                } else {
                    o.fixed.push(*f.get_ref());
                }
            }
        }
        if let Some(bytes) = &r.bytes {
            let bbase = with(base, &["bytes"]);
            match bytes.get_ref() {
                RawBytes::List(list) => {
                    let mut seen = HashSet::new();
                    let mut v = Vec::new();
                    for (i, n) in list.iter().enumerate() {
                        let path = with_index(&bbase, i);
                        if *n.get_ref() == 0 {
                            self.err(&path, n.span(), "expected a byte count of at least 1, got 0");
                        } else if !seen.insert(*n.get_ref()) {
                            self.err(&path, n.span(), format!("{} is listed twice", n.get_ref()));
                        } else {
                            v.push(*n.get_ref());
                        }
                    }
                    if list.is_empty() {
                        self.err(
                            &bbase,
                            bytes.span(),
                            "expected at least one byte count, got an empty array",
                        );
                    }
                    o.bytes = Some(ByteOffsets::List(v));
                }
                RawBytes::Step(s) => {
                    let step = *s.step.get_ref();
                    if step == 0 {
                        self.err(
                            &with(&bbase, &["step"]),
                            s.step.span(),
                            "expected a step of at least 1 byte, got 0",
                        );
                    }
                    let from = s.from.as_ref().map(|f| *f.get_ref());
                    let to = s.to.as_ref().map(|t| *t.get_ref());
                    if let Some(f) = &s.from {
                        if *f.get_ref() == 0 {
                            self.err(
                                &with(&bbase, &["from"]),
                                f.span(),
                                "expected a byte count of at least 1, got 0",
                            );
                        }
                    }
                    if let (Some(f), Some(t)) = (from, &s.to) {
                        if *t.get_ref() <= f {
                            self.err(
                                &with(&bbase, &["to"]),
                                t.span(),
                                format!("expected a bound above from ({f}), got {}", t.get_ref()),
                            );
                        }
                    }
                    o.bytes = Some(ByteOffsets::Step {
                        step: step.max(1),
                        from,
                        to,
                    });
                }
            }
        }
        for (key, raw, dst) in [("ms", &r.ms, &mut o.ms), ("us", &r.us, &mut o.us)] {
            if let Some(list) = raw {
                let mut seen = HashSet::new();
                if list.get_ref().is_empty() {
                    self.err(
                        &with(base, &[key]),
                        list.span(),
                        "expected at least one delay, got an empty array",
                    );
                }
                for (i, n) in list.get_ref().iter().enumerate() {
                    if !seen.insert(*n.get_ref()) {
                        self.err(
                            &with_index(&with(base, &[key]), i),
                            n.span(),
                            format!("{} is listed twice", n.get_ref()),
                        );
                    } else {
                        dst.push(*n.get_ref());
                    }
                }
            }
        }
        if let Some(sec) = &r.sectors {
            let sbase = with(base, &["sectors"]);
            let s = sec.get_ref();
            if !has_progress {
                self.err(
                    &sbase,
                    sec.span(),
                    "sectors needs the phase's progress pattern: add progress = '...' to the phase",
                );
            }
            let every = match &s.every {
                Some(e) if *e.get_ref() == 0 => {
                    self.err(
                        &with(&sbase, &["every"]),
                        e.span(),
                        "expected an integer of at least 1, got 0",
                    );
                    1
                }
                Some(e) => *e.get_ref(),
                None => 1,
            };
            let fraction_ppm = s.fraction.as_ref().and_then(|f| {
                let v = *f.get_ref();
                if v.is_finite() && (0.0..=1.0).contains(&v) {
                    Some((v * 1e6).round() as u32)
                } else {
                    self.err(
                        &with(&sbase, &["fraction"]),
                        f.span(),
                        format!("expected a number in [0, 1], got {v}"),
                    );
                    None
                }
            });
            o.sectors = Some(SectorOffsets { every, fraction_ppm });
        }
        if let Some(n) = &r.random {
            let v = *n.get_ref();
            if v == 0 || v > MAX_RANDOM {
                self.err(
                    &with(base, &["random"]),
                    n.span(),
                    format!("expected a count in [1, {MAX_RANDOM}], got {v}"),
                );
            } else {
                o.random = v;
            }
        }
        if let Some(eo) = &r.every_op {
            let ebase = with(base, &["every_op"]);
            if !simulated {
                self.err(
                    &ebase,
                    eo.span(),
                    "every_op needs the flash-operation journal, which only the simulated board has; \
                     use sectors or ms offsets on a station",
                );
            }
            let (points, pbase, pspan) = match eo.get_ref() {
                RawEveryOp::List(list) => (list, ebase.clone(), eo.span()),
                RawEveryOp::Table(t) => (t.at.get_ref(), with(&ebase, &["at"]), t.at.span()),
            };
            if points.is_empty() {
                self.err(
                    &pbase,
                    pspan,
                    "expected at least one of \"before\", \"inside:F\", \"after\", got an empty array",
                );
            }
            let mut seen = HashSet::new();
            for (i, s) in points.iter().enumerate() {
                let path = with_index(&pbase, i);
                match parse_op_point(s.get_ref()) {
                    Ok(pt) => {
                        if !seen.insert(pt) {
                            self.err(&path, s.span(), format!("\"{}\" is listed twice", s.get_ref()));
                        } else {
                            o.every_op.push(pt);
                        }
                    }
                    Err(m) => self.err(&path, s.span(), m),
                }
            }
            if let RawEveryOp::Table(t) = eo.get_ref() {
                if let Some(regions) = &t.regions {
                    o.every_op_in = Some(self.regions(&with(&ebase, &["regions"]), regions));
                }
            }
        }
        o
    }
}

impl Validator<'_, '_> {
    /// A non-empty list of distinct region names.
    fn regions(&mut self, base: &[Seg], list: &S<Vec<S<String>>>) -> RegionSet {
        let names = FlashRegion::names();
        if list.get_ref().is_empty() {
            self.err(
                base,
                list.span(),
                format!("expected at least one region of: {}", names.join(", ")),
            );
        }
        let mut set = RegionSet::NONE;
        for (i, s) in list.get_ref().iter().enumerate() {
            let path = with_index(base, i);
            match FlashRegion::from_name(s.get_ref()) {
                Some(r) if set.contains(r) => self.err(&path, s.span(), format!("\"{}\" is listed twice", s.get_ref())),
                Some(r) => set.insert(r),
                None => {
                    let mut m = format!("unknown region \"{}\"", s.get_ref());
                    match hint::closest(s.get_ref(), &names) {
                        Some(h) => m.push_str(&format!("; did you mean \"{h}\"?")),
                        None => m.push_str(&format!("; regions are: {}", names.join(", "))),
                    }
                    self.err(&path, s.span(), m);
                }
            }
        }
        set
    }
}

fn is_empty(r: &RawOffsets) -> bool {
    r.fixed.is_none()
        && r.bytes.is_none()
        && r.ms.is_none()
        && r.us.is_none()
        && r.sectors.is_none()
        && r.random.is_none()
        && r.every_op.is_none()
}

/// `before`, `after` or `inside:F` with F in [0, 1].
pub fn parse_op_point(s: &str) -> Result<OpPoint, String> {
    let expected = "expected \"before\", \"after\" or \"inside:F\" with F in [0, 1]";
    match s {
        "before" => return Ok(OpPoint::Before),
        "after" => return Ok(OpPoint::After),
        _ => {}
    }
    if let Some(f) = s.strip_prefix("inside:") {
        return match f.trim().parse::<f64>() {
            Ok(v) if v.is_finite() && (0.0..=1.0).contains(&v) => Ok(OpPoint::Inside {
                ppm: (v * 1e6).round() as u32,
            }),
            _ => Err(format!("{expected}, got \"{s}\"")),
        };
    }
    let mut m = format!("{expected}, got \"{s}\"");
    if let Some(h) = hint::closest(s, &["before", "after", "inside"]) {
        let h = if h == "inside" { "inside:0.5" } else { h };
        m.push_str(&format!("; did you mean \"{h}\"?"));
    }
    Err(m)
}

/// Why MCUboot itself refuses a board's slots for a mode, when that is the reason (its
/// `boot_slots_compatible` in bootutil's swap_move.c and swap_scratch.c, and the log line it
/// prints).
fn sector_problem(e: fut::layout::LayoutError) -> &'static str {
    use fut::layout::LayoutError as E;
    match e {
        E::SectorsDiffer => {
            ": the slots' sectors differ in size and this mode swaps sector for sector; MCUboot \
             refuses it too (\"Cannot upgrade: not same sector layout\")"
        }
        E::ScratchTooSmall => {
            ": the scratch area is smaller than what one swap step moves; MCUboot refuses it too \
             (\"Cannot upgrade: not all sectors fit inside scratch\")"
        }
        E::NotSectorAligned => ": a slot's sectors do not group into the units the swap moves",
        E::WriteTooWide => {
            ": the part programs wider words than 32 bytes, the widest BOOT_MAX_ALIGN MCUboot's swap \
             modes take (bootutil_public.h); MCUboot needs BOOT_MAX_ALIGN of at least the write size"
        }
        E::SecondaryNotExecutable => {
            ": this mode runs each image in place from the slot it was written to, and this \
             board's secondary slot is on its external serial NOR, which the part reads through a \
             driver and does not run code from (MCUboot runs an image from the flash it was built \
             for); swap-scratch, swap-move, swap-offset and overwrite copy the image into the \
             primary slot and run there"
        }
        _ => "",
    }
}

/// What is wrong with an ESP-IDF app image (magic 0xE9) named in `[images]`, if anything: only
/// the esp-idf scheme boots one (on a station's ESP32 and on the simulated board alike), and it
/// must pass the bootloader's checks and name its version.
fn esp_image_problem(path: &Path, slot: u64, mode: Mode) -> Option<String> {
    if mode.name() != fut::scheme::esp_idf::NAME {
        return Some(format!(
            "an ESP-IDF app image (magic 0xe9); the {mode} scheme's bootloader boots MCUboot images: give an \
             imgtool-signed image, or set target.mode = \"esp-idf\" for an ESP-IDF target"
        ));
    }
    let bytes = match read_image_file(path, slot) {
        Ok(b) => b,
        Err(e) => return Some(e.to_string()),
    };
    crate::esp_app::check_esp_app_image(&bytes).err()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert!(check_version("1.0.0").is_ok());
        assert!(check_version("2.3.4+17").is_ok());
        assert!(check_version("2").is_ok());
        assert!(check_version("256.0.0").is_err());
        assert!(check_version("1.0.0.0").is_err());
        assert!(check_version("1..0").is_err());
        assert!(check_version("v1").is_err());
        assert!(check_version("1.0+").is_err());
        assert_eq!(version_key("1.0"), version_key("1.0.0+0"));
    }

    #[test]
    fn op_points() {
        assert_eq!(parse_op_point("before"), Ok(OpPoint::Before));
        assert_eq!(parse_op_point("inside:0.5"), Ok(OpPoint::Inside { ppm: 500_000 }));
        assert_eq!(parse_op_point("inside:1"), Ok(OpPoint::Inside { ppm: 1_000_000 }));
        assert!(parse_op_point("inside:1.5").is_err());
        assert!(parse_op_point("inside:nan").is_err());
        assert!(parse_op_point("befor").unwrap_err().contains("did you mean \"before\""));
    }
}
