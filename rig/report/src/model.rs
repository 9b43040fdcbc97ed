//! The result model shared by the engine (which writes it) and the reporters (which read it).
//! Everything here is serialized into `results.jsonl`; fields are only ever added.

use serde::{Deserialize, Serialize};

pub use cutpoint_core::journal::{EndReason, OpRelation, RecordedFault, SlotValidity};
pub use cutpoint_core::PhaseSpan;
pub use cutpoint_core::{CutId, CutIdError, CutIdRef};

/// Verdict of one cut point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// The device followed the rule: it booted an allowed image and the update completed.
    Pass,
    /// The device broke the rule.
    Fail,
    /// The rig itself failed (backend timeout, lost console, probe error): no verdict.
    Error,
}

impl Status {
    pub const fn name(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Error => "error",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

// The ids of journal records stay `String`, written and read byte for byte: a journal written
// by an older version or edited by hand with an id this version does not read still loads, and
// its reports still name the cut point as the journal does. Code that needs the id's parts
// reads it through `cut_id()`, which says what is wrong with an odd one.

impl CutResult {
    /// This result as a journal writes it when its console is that of the earlier record of
    /// cut point `of`: everything but the console, which it names.
    pub(crate) fn naming_console(&self, of: &str) -> CutResult {
        CutResult {
            id: self.id.clone(),
            phase: self.phase.clone(),
            offset: self.offset.clone(),
            repetition: self.repetition,
            status: self.status,
            reasons: self.reasons.clone(),
            warnings: self.warnings.clone(),
            seed: self.seed,
            landing: self.landing.clone(),
            later_landings: self.later_landings.clone(),
            first_boot: self.first_boot.clone(),
            final_image: self.final_image.clone(),
            committed: self.committed,
            slots: self.slots.clone(),
            console: Vec::new(),
            console_of: Some(of.to_string()),
            wall_ms: self.wall_ms,
            same_state_as: self.same_state_as.clone(),
            post_cut_state: self.post_cut_state.clone(),
            booted_slot: self.booted_slot.clone(),
        }
    }

    /// The record's id, read as a cut-point id; the error names the text and the column.
    pub fn cut_id(&self) -> Result<CutIdRef<'_>, CutIdError> {
        CutIdRef::parse(&self.id)
    }

    /// The first reason, or an empty string when there is none.
    pub fn first_reason(&self) -> &str {
        self.reasons.first().map(String::as_str).unwrap_or("")
    }
}

impl PlannedCut {
    /// The planned id, read as a cut-point id; the error names the text and the column.
    pub fn cut_id(&self) -> Result<CutIdRef<'_>, CutIdError> {
        CutIdRef::parse(&self.id)
    }

    /// The planned cut point a result belongs to (for results that are missing from the plan).
    pub fn of_result(cut: &CutResult) -> Self {
        PlannedCut {
            id: cut.id.clone(),
            phase: cut.phase.clone(),
            offset: cut.offset.clone(),
            index: None,
        }
    }
}

/// One console line, microseconds after the power-on it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    pub t_us: u64,
    pub text: String,
}

/// Where the cut was aimed and where it landed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Landing {
    /// `power-cut`, `reset`, `brownout` or `zeroed-tail`.
    pub fault: RecordedFault,
    /// The requested instant, microseconds after the power-on of the faulted run.
    pub requested_us: Option<u64>,
    /// The actual instant the power died.
    pub actual_us: u64,
    /// The flash operation in flight or just finished (simulated board), e.g. `#123 erase 0x4f000+4096`.
    pub op: Option<String>,
    /// Where on `op` the cut fell: `before` (it never started), `inside` or `after` (it had
    /// just finished). Absent: inside, when `op` is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub op_point: Option<OpRelation>,
    /// What the cut did to the operation in flight, e.g. `program torn: most (13 of 20 bits), 2 weak`.
    pub torn: Option<String>,
}

/// Decoded state of one slot after recovery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotState {
    pub slot: String,
    /// `1.2.0+0`, or None when no valid header.
    pub version: Option<String>,
    /// First 4 bytes of the SHA-256 TLV, hex.
    pub hash: Option<String>,
    /// `valid`, or why not (`hash-mismatch`, `bad-signature`, `no-header`...).
    pub validity: SlotValidity,
    /// Trailer summary, e.g. `magic=good image_ok=set copy_done=set swap=test`.
    pub trailer: String,
}

/// Which slot the bootloader picks, read from the flash by the inspector of the campaign's
/// scheme (never from the campaign), and what the scheme's record says there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BootedSlot {
    /// Which flash was read: `after-cut`, the flash as the cut left it (the slot the first
    /// boot after the cut starts from; the simulated board), or `settled`, the flash once the
    /// device settled (a bench, which reads the flash only then).
    pub read: String,
    /// `primary` or `secondary`; absent when the record leaves nothing to boot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot: Option<String>,
    /// The scheme's name for it (`ota_1`, `slot B`, `active`), when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// What the record says, e.g. `otadata sector 0 seq 1 valid, sector 1 seq 2 new; sector 1 selects`.
    pub record: String,
    /// Where the copies of a record kept twice disagree (empty when they agree).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub disagreement: Vec<String>,
}

impl BootedSlot {
    /// `secondary (ota_1)`, `primary`, or `nothing bootable`.
    pub fn slot_text(&self) -> String {
        match (&self.slot, &self.name) {
            (Some(s), Some(n)) => format!("{s} ({n})"),
            (Some(s), None) => s.clone(),
            (None, _) => "nothing bootable".to_string(),
        }
    }

    /// Which flash the pick was read from, in words.
    pub fn read_text(&self) -> &str {
        match self.read.as_str() {
            "after-cut" => "on the flash the cut left (first boot)",
            "settled" => "on the flash once the device settled",
            other => other,
        }
    }
}

/// The outcome of one cut point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CutResult {
    /// Stable id, e.g. `swap/sector-12+0.50` or `download/byte-81920`.
    pub id: String,
    /// Phase name (the row of the matrix and the JUnit classname).
    pub phase: String,
    /// Offset label (the column of the matrix), e.g. `sector-12+0.50`.
    pub offset: String,
    /// Repetition number, from 1.
    pub repetition: u32,
    pub status: Status,
    /// Why it failed or errored (empty on pass).
    pub reasons: Vec<String>,
    /// Unexpected states that still boot.
    pub warnings: Vec<String>,
    /// Seed that reproduces this cut.
    pub seed: u64,
    pub landing: Option<Landing>,
    /// Where the later cuts of a sequence landed (cut 2 first), each in the run that
    /// recovered from the cut before it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub later_landings: Vec<Landing>,
    /// Version booted first after the cut (None: nothing booted).
    pub first_boot: Option<String>,
    /// Version running once the device settled.
    pub final_image: Option<String>,
    /// Whether the update had committed at the cut instant.
    pub committed: bool,
    /// Decoded slots after recovery.
    pub slots: Vec<SlotState>,
    /// Console from the power-on after the cut until the device settled.
    pub console: Vec<LogLine>,
    /// In a journal only: the console is that of the latest earlier cut record of this id in the
    /// same journal, and `console` is empty (see `shared_console`). Readers give the console
    /// back and leave this `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub console_of: Option<String>,
    /// Wall time this cut point took, milliseconds.
    pub wall_ms: u64,
    /// Shared with earlier cuts whose post-cut flash was identical (simulated board).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub same_state_as: Option<String>,
    /// Fingerprint of the flash right after the cut (simulated board): a replay must reproduce it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_cut_state: Option<String>,
    /// The slot the bootloader picks and what the record says (journals written before the
    /// field existed lack it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub booted_slot: Option<BootedSlot>,
}

/// First line of a journal: what produced it.
/// A [`CutResult`] as read by [`crate::journal::JournalReader::without_consoles`]: every field
/// read and checked as `CutResult` reads it, the console's lines checked but not kept (their
/// text is most of a record, and a line each to allocate).
#[derive(Deserialize)]
pub(crate) struct BriefCut {
    id: String,
    phase: String,
    offset: String,
    repetition: u32,
    status: Status,
    reasons: Vec<String>,
    warnings: Vec<String>,
    seed: u64,
    landing: Option<Landing>,
    #[serde(default)]
    later_landings: Vec<Landing>,
    first_boot: Option<String>,
    final_image: Option<String>,
    committed: bool,
    slots: Vec<SlotState>,
    #[serde(rename = "console")]
    _console: Vec<CheckedLine>,
    #[serde(default)]
    console_of: Option<String>,
    wall_ms: u64,
    #[serde(default)]
    same_state_as: Option<String>,
    #[serde(default)]
    post_cut_state: Option<String>,
    #[serde(default)]
    booted_slot: Option<BootedSlot>,
}

/// A console line, checked as a [`LogLine`] would be read, its text not kept.
#[derive(Deserialize)]
struct CheckedLine {
    #[serde(rename = "t_us")]
    _t_us: u64,
    #[serde(rename = "text")]
    _text: CheckedStr,
}

/// A JSON string, checked, not kept.
struct CheckedStr;

impl<'de> Deserialize<'de> for CheckedStr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Str;
        impl serde::de::Visitor<'_> for Str {
            type Value = CheckedStr;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<CheckedStr, E> {
                Ok(CheckedStr)
            }
        }
        d.deserialize_str(Str)
    }
}

impl From<BriefCut> for CutResult {
    /// The result with an empty console.
    fn from(c: BriefCut) -> Self {
        CutResult {
            id: c.id,
            phase: c.phase,
            offset: c.offset,
            repetition: c.repetition,
            status: c.status,
            reasons: c.reasons,
            warnings: c.warnings,
            seed: c.seed,
            landing: c.landing,
            later_landings: c.later_landings,
            first_boot: c.first_boot,
            final_image: c.final_image,
            committed: c.committed,
            slots: c.slots,
            console: Vec::new(),
            console_of: c.console_of,
            wall_ms: c.wall_ms,
            same_state_as: c.same_state_as,
            post_cut_state: c.post_cut_state,
            booted_slot: c.booted_slot,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JournalHeader {
    pub format: u32,
    pub campaign: String,
    /// Path of the campaign file as given.
    pub campaign_path: String,
    /// SHA-256 (hex) of the campaign file, so a resume refuses a changed campaign.
    pub campaign_sha256: String,
    pub target: String,
    pub seed: u64,
    /// `k/n` when the campaign was partitioned.
    pub partition: Option<String>,
    /// The `--filter` that chose a subset of the plan (`None`: every cut point).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// Cut points this partition plans to run, in order.
    pub planned: Vec<PlannedCut>,
    /// RFC 3339 wall time.
    pub started: String,
    /// What the campaign must conclude: `fail` for a negative control (broken firmware the rig
    /// must catch). Journals written before the field existed read as `pass`.
    #[serde(default)]
    pub expect: Expect,
    /// The files the campaign read besides itself (station file, image files, public key),
    /// each with its SHA-256 when the run started, so a resume or a merge refuses a changed
    /// one. Journals written before the field existed (and campaigns that read no other file)
    /// have none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inputs: Vec<InputDigest>,
    /// Offsets the campaign asked for that gave no cut point on this run (a byte past the
    /// update's end, a time past the phase's end...), with why: reports list them so a person
    /// sees what did not run. Journals written before the field existed have none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<SkippedOffset>,
}

/// A requested offset that gave no cut point, as a journal records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedOffset {
    /// The id the cut point would have had (`*` for a kind of offset that gave nothing).
    pub id: String,
    pub phase: String,
    /// `byte`, `time`, `op`, `sector` or `chain`.
    pub kind: String,
    pub reason: String,
}

/// A file a campaign read, as a journal records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputDigest {
    /// The campaign key that names it (`images.update.file`, `target.station`...).
    pub key: String,
    /// Its path as the run resolved it.
    pub path: String,
    /// SHA-256 (hex) of its bytes.
    pub sha256: String,
}

/// How the input files of a run compare with those a journal recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputsCompared {
    /// Every recorded file has the same hash (or neither side reads any).
    Same,
    /// The journal recorded none but the run reads files: written before cutpoint recorded
    /// them, so a changed file cannot be told.
    NotRecorded,
    /// These files differ: `(key, recorded, current)`; a side without the file is `None`.
    Changed(Vec<InputChange>),
}

/// One input file that differs between a journal and a run (or two journals).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputChange {
    pub key: String,
    pub recorded: Option<InputDigest>,
    pub current: Option<InputDigest>,
}

impl InputChange {
    /// `images.update.file "a.bin": sha256 X, now Y`, with `then` and `now` naming the sides.
    pub fn describe(&self, then: &str, now: &str) -> String {
        let path = self
            .current
            .as_ref()
            .or(self.recorded.as_ref())
            .map_or(String::new(), |d| format!(" \"{}\"", d.path));
        let sha = |d: &Option<InputDigest>| d.as_ref().map_or("(none)".to_owned(), |d| d.sha256.clone());
        format!(
            "{}{path}: sha256 {} {then}, {} {now}",
            self.key,
            sha(&self.recorded),
            sha(&self.current)
        )
    }
}

/// Compares the files a journal recorded (`recorded`) with those of a run or another journal
/// (`current`), by key.
pub fn compare_inputs(recorded: &[InputDigest], current: &[InputDigest]) -> InputsCompared {
    if recorded.is_empty() {
        return if current.is_empty() {
            InputsCompared::Same
        } else {
            InputsCompared::NotRecorded
        };
    }
    let mut changed = Vec::new();
    for r in recorded {
        let now = current.iter().find(|c| c.key == r.key);
        if now.is_none_or(|c| c.sha256 != r.sha256) {
            changed.push(InputChange {
                key: r.key.clone(),
                recorded: Some(r.clone()),
                current: now.cloned(),
            });
        }
    }
    for c in current.iter().filter(|c| !recorded.iter().any(|r| r.key == c.key)) {
        changed.push(InputChange {
            key: c.key.clone(),
            recorded: None,
            current: Some(c.clone()),
        });
    }
    if changed.is_empty() {
        InputsCompared::Same
    } else {
        InputsCompared::Changed(changed)
    }
}

/// What a campaign as a whole must conclude.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Expect {
    /// Every cut point must pass.
    #[default]
    Pass,
    /// A negative control: the firmware is broken and at least one cut point must fail.
    Fail,
}

impl Expect {
    pub const fn name(self) -> &'static str {
        match self {
            Expect::Pass => "pass",
            Expect::Fail => "fail",
        }
    }
}

/// A cut point as planned (for reports: the full matrix, including not yet run).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedCut {
    pub id: String,
    pub phase: String,
    pub offset: String,
    /// Position of this cut point in the whole campaign's plan (before partitioning), so that merged
    /// partitions are shown in the campaign's order. Older journals lack it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u64>,
}

/// One line of `results.jsonl`.
// A record lives only while its line is written or read, one at a time: boxing the cut would
// cost an allocation per line for no saving.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "record", rename_all = "kebab-case")]
pub enum JournalRecord {
    Header(JournalHeader),
    /// A resumed run of the same plan started here (the header is not written again).
    Resumed(JournalResumed),
    /// The unfaulted control run.
    Control(ControlRun),
    Cut(CutResult),
    /// The campaign stopped (normally or not).
    End(JournalEnd),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ControlRun {
    pub status: Status,
    pub reasons: Vec<String>,
    /// Phases found in the control run: name, start and end (µs after power-on).
    pub phases: Vec<PhaseSpan>,
    pub console: Vec<LogLine>,
    /// Flash operations in the control run (simulated board).
    pub flash_ops: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalResumed {
    /// RFC 3339 wall time.
    pub started: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JournalEnd {
    pub finished: String,
    /// `complete`, `cancelled`, or `stopped: <why>`.
    pub how: EndReason,
}
