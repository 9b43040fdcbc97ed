//! The validated campaign: what the rest of cutpoint works from.

use std::fmt;
use std::path::PathBuf;

use regex::Regex;
use serde::{Deserialize, Serialize};

pub use cutpoint_core::{fraction_text, FaultKind, OpPoint};
pub use cutpoint_sim::imgtool::Tamper;
pub use cutpoint_sim::{Board, Delivery};
pub use fut::Variant;

use crate::error::FileError;
use crate::region::RegionSet;
use crate::station::StationFile;

macro_rules! named_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vm])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The name used in campaign files.
            pub const fn name(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            pub fn from_name(name: &str) -> Option<$name> {
                Self::ALL.iter().copied().find(|v| v.name() == name)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

/// What says an update committed (the scheme's answer for an upgrade type).
pub use fut::scheme::CommitPoint;
/// How the bootloader installs an update: a scheme of the firmware's registry, named by the
/// campaign's `mode`.
pub use fut::scheme::Mode;

named_enum! {
    /// Whether the update is requested for a trial boot (`test`) or for good (`perm`).
    Upgrade {
        Test => "test",
        Perm => "perm",
    }
}

impl Upgrade {
    /// The firmware's name for the upgrade type.
    pub fn scheme_upgrade(self) -> fut::scheme::Upgrade {
        match self {
            Upgrade::Test => fut::scheme::Upgrade::Test,
            Upgrade::Perm => fut::scheme::Upgrade::Permanent,
        }
    }
}

named_enum! {
    /// Whether an image passes the application's health check.
    Health {
        Ok => "ok",
        Fails => "fails",
    }
}

named_enum! {
    /// Whether the target refuses an update older than the running image.
    Downgrade {
        /// An older update installs like any other.
        Allowed => "allowed",
        /// The bootloader and the application refuse it (MCUboot's MCUBOOT_DOWNGRADE_PREVENTION).
        Refused => "refused",
    }
}

named_enum! {
    /// Which image must be running once the device settles.
    FinalImage {
        /// `new` for a good update, `old` for one whose health check fails.
        Auto => "auto",
        New => "new",
        Old => "old",
    }
}

named_enum! {
    /// What the campaign as a whole must conclude.
    Expect {
        /// Every cut point must pass.
        Pass => "pass",
        /// A negative control: at least one cut point must fail.
        Fail => "fail",
    }
}

named_enum! {
    /// Fixed instants of a phase.
    Fixed {
        Start => "start",
        End => "end",
    }
}

/// A compiled regular expression with its source text.
#[derive(Debug, Clone)]
pub struct Pattern {
    pub source: String,
    pub regex: Regex,
    /// Where the pattern was written (file, line, column, field; an empty message), or the
    /// field it is the default of (line 0) — so a marker that matched nothing can be located.
    pub origin: Option<crate::FileError>,
}

impl Pattern {
    /// `file:line:column: field` of the pattern, or `field (default '...')` for a default.
    pub fn located(&self) -> String {
        match &self.origin {
            Some(o) if o.line > 0 => format!("{}:{}:{}: {}", o.file, o.line, o.column, o.field),
            Some(o) => format!("{}: {} (the default, '{}')", o.file, o.field, self.source),
            None => format!("'{}'", self.source),
        }
    }
}

impl Pattern {
    /// A pattern written nowhere (no origin): for markers built in code.
    pub fn new(source: &str) -> Result<Pattern, regex::Error> {
        Ok(Pattern {
            source: source.to_string(),
            regex: Regex::new(source)?,
            origin: None,
        })
    }

    pub fn is_match(&self, line: &str) -> bool {
        self.regex.is_match(line)
    }

    /// The capture groups of the first match in `line`. A line that does not match costs a
    /// match test, not the allocation of its groups (the pass rule asks this of every console
    /// line, and most do not match).
    pub fn captures<'l>(&self, line: &'l str) -> Option<regex::Captures<'l>> {
        if !self.regex.is_match(line) {
            return None;
        }
        self.regex.captures(line)
    }
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

/// A campaign, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Campaign {
    /// From `name`, or the file stem.
    pub name: String,
    pub description: String,
    /// The file it was read from, as given.
    pub path: PathBuf,
    /// SHA-256 (hex) of the file's bytes, so a resumed run can refuse a changed campaign.
    pub sha256: String,
    /// The other files it reads (station file, image files, public key) with their SHA-256,
    /// so a resumed or merged run can refuse one that changed.
    pub inputs: Vec<crate::inputs::InputFile>,
    /// Deprecated spellings read from this file and its station file, at their positions.
    pub warnings: Vec<FileError>,
    pub target: Target,
    pub images: Images,
    pub run: Run,
    pub pass: Pass,
    pub markers: Markers,
    /// In console order.
    pub phases: Vec<Phase>,
    pub sequences: Vec<Sequence>,
}

impl Campaign {
    pub fn phase(&self, name: &str) -> Option<&Phase> {
        self.phases.iter().find(|p| p.name == name)
    }

    pub fn is_simulated(&self) -> bool {
        matches!(self.target.kind, TargetKind::Simulated { .. })
    }

    /// How the generated update is spoiled, when it is: the device must refuse it.
    pub fn tamper(&self) -> Option<Tamper> {
        match &self.images.update {
            ImageSource::Generated { tamper, .. } => *tamper,
            ImageSource::File { .. } => None,
        }
    }

    /// Whether the device must refuse the update, as far as the campaign file tells: a
    /// tampered image, or a generated update older than the generated baseline when downgrades
    /// are refused (an image file's version is known once it is read).
    pub fn refuses_update(&self) -> bool {
        let downgrade = match (&self.images.baseline, &self.images.update) {
            (ImageSource::Generated { version: old, .. }, ImageSource::Generated { version: new, .. }) => {
                crate::load::version_key(new) < crate::load::version_key(old)
            }
            _ => false,
        };
        self.tamper().is_some() || (self.images.downgrade == Downgrade::Refused && downgrade)
    }

    /// The image that must run at the end: `auto` resolved against the update's health (and
    /// `old` for an update the device must refuse).
    pub fn expected_final(&self) -> FinalImage {
        match self.pass.final_image {
            FinalImage::Auto if self.refuses_update() => FinalImage::Old,
            FinalImage::Auto => match self.images.update.health() {
                Health::Ok => FinalImage::New,
                Health::Fails => FinalImage::Old,
            },
            other => other,
        }
    }

    /// Power-off time: the campaign's, raised to the station's when the station needs longer.
    pub fn effective_dwell_ms(&self) -> u64 {
        match &self.target.kind {
            TargetKind::Station { station, .. } => self.run.dwell_ms.max(station.dwell_ms.unwrap_or(0)),
            TargetKind::Simulated { .. } => self.run.dwell_ms,
        }
    }
}

/// What the campaign runs on.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub mode: Mode,
    pub upgrade: Upgrade,
    pub kind: TargetKind,
    /// How the update reaches the secondary slot (simulated board; a station's transport
    /// decides on a bench).
    pub delivery: Delivery,
    /// The slot the baseline image runs from (simulated board): the primary, or on an A/B
    /// scheme the secondary, as after an earlier update.
    pub baseline_slot: fut::layout::Slot,
    /// Earlier updates (even, at most [`MAX_PRIOR_UPDATES`]) the simulated board runs once,
    /// without a cut, before the one the campaign sweeps: the update and the baseline image in
    /// turn, so the baseline is what they left on flash (a record's counter after hundreds of
    /// writes). 0: the probe's baseline.
    pub prior_updates: u32,
}

/// The most earlier updates a campaign may ask for.
pub const MAX_PRIOR_UPDATES: u32 = 4096;

impl Target {
    /// Whether a new image must confirm itself (print the commit marker) to stay: a test
    /// upgrade on a scheme that can revert. An overwrite or a permanent upgrade never confirms.
    pub fn confirms(&self) -> bool {
        self.commit_point() == CommitPoint::Confirm
    }

    /// What says this update committed, as the scheme defines it for the upgrade type.
    pub fn commit_point(&self) -> CommitPoint {
        self.mode.commit_point(self.upgrade.scheme_upgrade())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum TargetKind {
    /// The built-in simulated board.
    Simulated { board: Board, variant: Variant },
    /// A lab bench described by a station file.
    Station { path: PathBuf, station: Box<StationFile> },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Images {
    pub baseline: ImageSource,
    pub update: ImageSource,
    /// Ed25519 public key (PEM or raw 32 bytes) the target's bootloader trusts.
    pub public_key: Option<PathBuf>,
    /// Whether the target refuses an update older than the running image.
    pub downgrade: Downgrade,
    /// The baseline was flashed padded and confirmed (`imgtool sign --pad --confirm`): the
    /// primary slot starts with a trailer holding the magic and image_ok.
    pub baseline_confirmed: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ImageSource {
    /// Built by cutpoint's image tool and signed with the test-only key.
    Generated {
        version: String,
        size_kib: u32,
        health: Health,
        /// The update is spoiled this way after it is built: the device must refuse it.
        tamper: Option<Tamper>,
    },
    /// A prebuilt signed image (path resolved against the campaign file's folder).
    File { path: PathBuf, health: Health },
}

impl ImageSource {
    pub fn health(&self) -> Health {
        match self {
            ImageSource::Generated { health, .. } | ImageSource::File { health, .. } => *health,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub seed: u64,
    pub repetitions: u32,
    pub fault: FaultKind,
    /// `off_dwell_ms`: how long power stays off at each cut.
    pub dwell_ms: u64,
    pub boot_timeout_ms: u64,
    pub settle_timeout_ms: u64,
    pub max_boots: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pass {
    pub final_image: FinalImage,
    pub expect: Expect,
    /// Regions of the flash map the update may change although its scheme does not write
    /// them (`may_change`: the application's own settings, a bootloader the update replaces):
    /// the rule "flash outside the scheme's areas unchanged" leaves them out. Each name with
    /// where it was written; the names are checked against the map when the run is set up.
    pub may_change: Vec<(String, crate::FileError)>,
}

/// How the rig reads the console: the one set of console markers, compiled once from the
/// campaign, that the pass rule, the engine and the bench target read the device by.
#[derive(Debug, Clone, PartialEq)]
pub struct Markers {
    /// A boot starts (counts boots against `max_boots`).
    pub boot: Pattern,
    /// The bootloader jumps to an image; captures `version` (and `hash` when present).
    pub jump: Pattern,
    /// The bootloader found nothing to boot.
    pub halt: Pattern,
    /// The running image confirmed itself; captures `version`.
    pub commit: Pattern,
    /// The bootloader finished installing the update for good (a permanent swap, an
    /// overwrite): the commit of an upgrade that never confirms itself. May capture `version`.
    pub installed: Pattern,
    /// The device has nothing more to do.
    pub settled: Pattern,
    /// The device gave up on the update after its bootloader reverted it: the rig offers the
    /// update once more. An optional event: a control run need not print it.
    pub rejected: Pattern,
    /// The device says why it refuses an update (the application's verify or the bootloader's
    /// check of the secondary slot failed); captures `reason`. An optional event: only a
    /// campaign whose update must be refused requires it, of every recovery.
    pub refused: Pattern,
    /// A download that starts over from byte 0 (a warning after a cut in the download). An
    /// optional event: a control run need not print it.
    pub download_restart: Pattern,
    /// The device refused an upload because its slot is in use (a request left standing);
    /// captures `reason`. Any recovery that prints it fails: every later update is blocked.
    /// An optional event: a control run need not print it.
    pub blocked: Pattern,
}

impl Default for Markers {
    /// The defaults of `[markers]`: the console grammar of cutpoint's firmware under test.
    fn default() -> Self {
        use crate::load::defaults;
        let p = |s: &str| Pattern::new(s).unwrap_or_else(|e| unreachable!("default marker {s}: {e}"));
        Markers {
            boot: p(defaults::BOOT),
            jump: p(defaults::JUMP),
            halt: p(defaults::HALT),
            commit: p(defaults::COMMIT),
            installed: p(defaults::INSTALLED),
            settled: p(defaults::SETTLED),
            rejected: p(defaults::REJECTED),
            refused: p(defaults::REFUSED),
            download_restart: p(defaults::DOWNLOAD_RESTART),
            blocked: p(defaults::BLOCKED),
        }
    }
}

/// One named stretch of the update, delimited by two console markers.
#[derive(Debug, Clone, PartialEq)]
pub struct Phase {
    pub name: String,
    pub start: Pattern,
    pub end: Pattern,
    /// Progress markers inside the phase (for `sectors` offsets); group `n` numbers them.
    pub progress: Option<Pattern>,
    pub offsets: Offsets,
}

/// Where to cut inside a phase.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Offsets {
    pub fixed: Vec<Fixed>,
    pub bytes: Option<ByteOffsets>,
    pub ms: Vec<u64>,
    pub us: Vec<u64>,
    pub sectors: Option<SectorOffsets>,
    pub random: u32,
    pub every_op: Vec<OpPoint>,
    /// `every_op` takes only the operations that touch one of these regions (`None`: all).
    pub every_op_in: Option<RegionSet>,
}

impl Offsets {
    pub fn is_empty(&self) -> bool {
        self.fixed.is_empty()
            && self.bytes.is_none()
            && self.ms.is_empty()
            && self.us.is_empty()
            && self.sectors.is_none()
            && self.random == 0
            && self.every_op.is_empty()
    }

    /// One short description per offset kind present, e.g. `ms×2`, `sectors every 4 +0.50`.
    pub fn describe(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !self.fixed.is_empty() {
            let names: Vec<&str> = self.fixed.iter().map(|f| f.name()).collect();
            out.push(format!("fixed {}", names.join("+")));
        }
        match &self.bytes {
            Some(ByteOffsets::List(v)) => out.push(format!("bytes×{}", v.len())),
            Some(ByteOffsets::Step { step, .. }) => out.push(format!("bytes every {step} B")),
            None => {}
        }
        if !self.ms.is_empty() {
            out.push(format!("ms×{}", self.ms.len()));
        }
        if !self.us.is_empty() {
            out.push(format!("us×{}", self.us.len()));
        }
        if let Some(s) = &self.sectors {
            let mut d = format!("sectors every {}", s.every);
            if let Some(f) = s.fraction_ppm {
                d.push_str(&format!(" +{}", fraction_text(f)));
            }
            out.push(d);
        }
        if self.random > 0 {
            out.push(format!("random×{}", self.random));
        }
        if !self.every_op.is_empty() {
            let pts: Vec<String> = self.every_op.iter().map(|p| p.id_part()).collect();
            let mut d = format!("every_op {}", pts.join("/"));
            if let Some(regions) = self.every_op_in {
                d.push_str(&format!(" in {regions}"));
            }
            out.push(d);
        }
        out
    }
}

/// Byte offsets into the update's delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ByteOffsets {
    List(Vec<u64>),
    /// `from`, `from + step`, ... below `to` (defaults: `from = step`, `to` = the update size).
    Step {
        step: u64,
        from: Option<u64>,
        to: Option<u64>,
    },
}

/// Cuts at the phase's progress markers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SectorOffsets {
    /// Take the 1st, (1+every)th, (1+2·every)th ... marker.
    pub every: u32,
    /// Cut this far (millionths) into the first flash operation after the marker.
    pub fraction_ppm: Option<u32>,
}

/// A double (or longer) cut: a second cut during the recovery from the first, a third during
/// the recovery from the second, and so on.
#[derive(Debug, Clone, PartialEq)]
pub struct Sequence {
    pub name: String,
    pub first: CutSpec,
    /// The later cuts, at least one: the phase of each is looked for in the console of the run
    /// that recovers from the cut before it.
    pub then: Vec<CutSpec>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CutSpec {
    pub phase: String,
    pub offsets: Offsets,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for h in Health::ALL {
            assert_eq!(Health::from_name(h.name()), Some(*h));
        }
        assert_eq!(Upgrade::Perm.to_string(), "perm");
    }

    #[test]
    fn the_firmware_variants_read_by_their_names() {
        for v in Variant::ALL {
            let read: Variant = serde_json::from_str(&format!("\"{}\"", v.name())).unwrap();
            assert_eq!(read, v);
            assert_eq!(serde_json::to_string(&v).unwrap(), format!("\"{v}\""));
        }
    }

    #[test]
    fn the_anchored_default_markers_match_behind_a_log_prefix_and_nowhere_else() {
        let m = Markers::default();
        for prefix in [
            "",
            "[00:00:01.234,567] ",
            "[00:00:01.234,567] <inf> ",
            "<wrn>  ",
            "I (1234) ",
            "I: ",
            "[INF] ",
        ] {
            let rejected = format!("{prefix}ota: idle reason=rejected version=2.0.0+0");
            assert!(m.rejected.is_match(&rejected), "{rejected}");
            assert!(m.settled.is_match(&rejected), "{rejected}");
            let restart = format!("{prefix}ota: download-start version=2.0.0+0 size=16384");
            assert!(m.download_restart.is_match(&restart), "{restart}");
            let blocked = format!("{prefix}ota: upload-refused reason=slot-pending version=2.0.0+0");
            assert_eq!(m.blocked.captures(&blocked).unwrap()["reason"], *"slot-pending");
            for refused in [
                "ota: verify-fail reason=bad-hash",
                "boot: integrity slot=secondary fail reason=bad-hash",
            ] {
                let line = format!("{prefix}{refused}");
                assert_eq!(m.refused.captures(&line).unwrap()["reason"], *"bad-hash", "{line}");
            }
        }
        // Not a line that only quotes the words further in, nor a longer word ending in them.
        for other in [
            "app: last error was ota: idle reason=rejected",
            "server: ota: download-start sent",
            "myota: upload-refused reason=x",
            "[00:00:01.234,567] app: ota: verify-fail reason=bad-hash",
            "I (12) esp_ota: download-start",
        ] {
            assert!(!m.rejected.is_match(other), "{other}");
            assert!(!m.download_restart.is_match(other), "{other}");
            assert!(!m.blocked.is_match(other), "{other}");
            assert!(!m.refused.is_match(other), "{other}");
        }
    }

    #[test]
    fn default_markers_are_the_firmware_grammar() {
        let m = Markers::default();
        assert!(m.rejected.is_match("ota: idle reason=rejected version=2.0.0+0"));
        assert!(m.settled.is_match("ota: idle reason=rejected version=2.0.0+0"));
        assert!(m
            .download_restart
            .is_match("ota: download-start version=2.0.0+0 size=16384"));
        assert!(!m
            .download_restart
            .is_match("ota: download-resume version=2.0.0+0 offset=4096"));
        assert!(m
            .blocked
            .is_match("ota: upload-refused reason=slot-pending version=2.0.0+0"));
        assert!(!m.blocked.is_match("ota: idle reason=upload-refused version=2.0.0+0"));
        // The bootloader's line for an install complete for good; not a test swap's, which
        // commits only at the confirmation, nor a revert's.
        assert!(m.installed.is_match("boot: swap-done type=perm"));
        assert!(m.installed.is_match("boot: overwrite-done"));
        assert!(!m.installed.is_match("boot: swap-done type=test"));
        assert!(!m.installed.is_match("boot: swap-done type=revert"));
    }

    #[test]
    fn the_commit_point_is_the_schemes_for_the_upgrade_type() {
        let target = |mode, upgrade| Target {
            mode,
            upgrade,
            delivery: Delivery::default(),
            baseline_slot: fut::layout::Slot::Primary,
            prior_updates: 0,
            kind: TargetKind::Simulated {
                board: Board::Nrf52840,
                variant: Variant::Reference,
            },
        };
        assert_eq!(
            target(Mode::SWAP_SCRATCH, Upgrade::Test).commit_point(),
            CommitPoint::Confirm
        );
        assert_eq!(
            target(Mode::SWAP_SCRATCH, Upgrade::Perm).commit_point(),
            CommitPoint::Installed
        );
        assert_eq!(
            target(Mode::OVERWRITE, Upgrade::Test).commit_point(),
            CommitPoint::Installed
        );
        assert!(target(Mode::SWAP_SCRATCH, Upgrade::Test).confirms());
        assert!(!target(Mode::SWAP_SCRATCH, Upgrade::Perm).confirms());
    }
}
