//! Cut-point expansion: from a campaign and the timeline of one unfaulted run to the list of
//! cut points, each with a stable id, an aim the simulated board understands and, for time
//! aims, the same instant expressed relative to a console marker for real hardware.

use std::collections::HashSet;
use std::fmt;

use cutpoint_core::{Cut, CutAt, CutId, CutIdError};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use cutpoint_core::PhaseSpan;

use crate::model::{fraction_text, ByteOffsets, Campaign, Fixed, Offsets, OpPoint, Pattern, Phase};
use crate::region::RegionSet;

/// What one unfaulted run looked like.
#[derive(Debug, Clone, Copy)]
pub struct Timeline<'a> {
    /// Console lines with their time in microseconds since power-on.
    pub console: &'a [(u64, &'a str)],
    /// The flash operations, when known (simulated board only).
    pub ops: Option<&'a [OpSpan]>,
    /// Size in bytes of the update image being delivered.
    pub update_size: u64,
}

/// One flash operation of the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpSpan {
    /// 0-based, counted from power-on.
    pub index: u64,
    pub start_us: u64,
    pub end_us: u64,
    /// The named regions of the flash map the operation touches (empty when not known).
    #[serde(default)]
    pub regions: RegionSet,
}

/// Where a phase was found in a timeline: its span, and the console lines of its markers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FoundPhase {
    #[serde(flatten)]
    pub span: PhaseSpan,
    /// 0-based indices into the console of the start and end marker lines.
    pub start_line: usize,
    pub end_line: usize,
}

/// What the cut aims at: the rig's one cut-aim type (cutpoint-core's [`CutAt`]), by the name
/// the plan has always used for it.
pub type Aim = CutAt;

/// The same cut relative to a console marker: wait for the `nth` (1-based) line matching
/// `pattern` since power-on, then `delay_us`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Anchor {
    pub pattern: String,
    pub nth: u32,
    pub delay_us: u64,
}

/// A cut that a sequence's next cut follows: after it, the recovery run's console is expanded
/// with [`expand_second_plan`] to find the next cuts.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SecondSpec {
    /// The `[[sequences]]` entry.
    pub sequence: String,
    /// The phase to look for in the recovery run.
    pub phase: String,
    /// Which of the sequence's `then` cuts comes next (0: the second cut of the chain).
    #[serde(default)]
    pub stage: usize,
}

/// One cut to perform.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CutPoint {
    /// Stable, unique, readable: `swap/sector-12+0.50`, `download/byte-81920#2`,
    /// `swap-twice:swap/sector-9`, `swap-twice:swap/sector-9>swap/random-01`.
    pub id: CutId,
    /// The phase of the id's last cut.
    pub phase: String,
    /// The offset of the id's last cut (`sector-12+0.50`).
    pub offset: String,
    /// 1-based.
    pub repetition: u32,
    /// Seeds the torn outcome; derived from the campaign seed and the id.
    pub seed: u64,
    #[serde(with = "cutpoint_core::cut::at_tagged")]
    pub aim: Aim,
    pub anchor: Option<Anchor>,
    pub then: Option<SecondSpec>,
}

/// The kinds of offsets, as they appear in ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OffsetKind {
    Fixed,
    Bytes,
    Ms,
    Us,
    Sectors,
    Random,
    EveryOp,
}

impl OffsetKind {
    pub const fn name(self) -> &'static str {
        match self {
            OffsetKind::Fixed => "fixed",
            OffsetKind::Bytes => "bytes",
            OffsetKind::Ms => "ms",
            OffsetKind::Us => "us",
            OffsetKind::Sectors => "sectors",
            OffsetKind::Random => "random",
            OffsetKind::EveryOp => "every_op",
        }
    }

    /// The kind an offset id was made by.
    pub fn of_offset(offset: &str) -> OffsetKind {
        match offset.split('-').next().unwrap_or("") {
            "byte" => OffsetKind::Bytes,
            "ms" => OffsetKind::Ms,
            "us" => OffsetKind::Us,
            "sector" => OffsetKind::Sectors,
            "random" => OffsetKind::Random,
            "op" => OffsetKind::EveryOp,
            _ => OffsetKind::Fixed,
        }
    }
}

impl CutPoint {
    pub fn kind(&self) -> OffsetKind {
        OffsetKind::of_offset(&self.offset)
    }

    /// The sequence this point belongs to (head or second cut), if any.
    pub fn sequence(&self) -> Option<&str> {
        self.id.sequence()
    }
}

/// An offset that produced no cut point, and why: `plan` reports these.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    /// The id the point would have had (without repetition suffix; `*` for a kind of offset
    /// that gave nothing, e.g. `swap/random-*`).
    pub id: String,
    pub phase: String,
    /// What kind of offset it was.
    pub kind: SkipKind,
    pub reason: String,
}

/// The kind of offset that gave no cut point: a byte count into the update is fixed by the
/// campaign, the rest (a time, an operation, a sector marker, a later cut of a sequence)
/// depends on what the firmware did on this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SkipKind {
    /// `bytes`: a byte count past the update's end.
    Byte,
    /// `ms`, `us`, `random`: an instant past the phase's end (or a phase of no length).
    Time,
    /// `every_op`: no flash operation where the campaign asked for one.
    Op,
    /// `sectors`: no progress marker, or no operation after it.
    Sector,
    /// A later cut of a sequence: the recovery from the earlier cut left nothing to cut.
    Chain,
}

impl SkipKind {
    pub const fn name(self) -> &'static str {
        match self {
            SkipKind::Byte => "byte",
            SkipKind::Time => "time",
            SkipKind::Op => "op",
            SkipKind::Sector => "sector",
            SkipKind::Chain => "chain",
        }
    }
}

/// The cut points of a campaign on one timeline, and what was left out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub phases: Vec<FoundPhase>,
    pub points: Vec<CutPoint>,
    pub skipped: Vec<Skipped>,
}

/// Why a campaign cannot be expanded on a timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExpandError {
    /// No console line matches the phase's start pattern where it is looked for.
    PhaseStartNotFound {
        phase: String,
        pattern: String,
        /// The phase that precedes it in the campaign, if any.
        after: Option<String>,
        /// 0-based console line the search started from.
        from_line: usize,
    },
    /// The phase started but no later line matches its end pattern.
    PhaseEndNotFound {
        phase: String,
        pattern: String,
        start_line: usize,
    },
    /// `every_op` on a timeline without the flash-operation journal.
    NoOps { phase: String },
    /// [`expand_second_plan`] was given a point that heads no sequence.
    NotASequence { id: CutId },
    /// The campaign has no such sequence or phase (a point from another campaign).
    Unknown { what: String },
    /// Two cut points got the same id (a progress pattern numbering two markers alike).
    DuplicateId { id: CutId },
    /// The plan would exceed [`MAX_POINTS`] cut points.
    TooMany { phase: String },
    /// A cut point's id would not read back (a phase or sequence name the campaign loader did
    /// not check).
    BadId(CutIdError),
}

/// The most cut points one plan may hold.
pub const MAX_POINTS: usize = 1_000_000;

impl fmt::Display for ExpandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExpandError::PhaseStartNotFound {
                phase,
                pattern,
                after,
                from_line,
            } => {
                write!(f, "phase \"{phase}\" not found: no console line matches its start '{pattern}'")?;
                match after {
                    Some(prev) => write!(f, " after phase \"{prev}\" (from console line {})", from_line + 1),
                    None => Ok(()),
                }
            }
            ExpandError::PhaseEndNotFound {
                phase,
                pattern,
                start_line,
            } => write!(
                f,
                "phase \"{phase}\" never ends: no console line after its start (line {}) matches its end '{pattern}'",
                start_line + 1
            ),
            ExpandError::NoOps { phase } => write!(
                f,
                "phase \"{phase}\" asks for every_op cuts but the timeline has no flash-operation journal"
            ),
            ExpandError::NotASequence { id } => write!(f, "cut point \"{id}\" heads no sequence"),
            ExpandError::Unknown { what } => write!(f, "the campaign has no {what}"),
            ExpandError::TooMany { phase } => write!(
                f,
                "phase \"{phase}\" would take the plan past {MAX_POINTS} cut points; use a larger step or fewer points"
            ),
            ExpandError::BadId(e) => write!(f, "cannot name a cut point: {e}"),
            ExpandError::DuplicateId { id } => write!(
                f,
                "two cut points would share the id \"{id}\"; give the progress pattern a group n that numbers markers uniquely"
            ),
        }
    }
}

impl std::error::Error for ExpandError {}

/// Finds every phase of the campaign, in order: each phase's start marker is looked for at
/// or after the line that ended the previous phase, its end marker after its start.
pub fn find_phases(campaign: &Campaign, tl: &Timeline) -> Result<Vec<FoundPhase>, ExpandError> {
    let mut spans = Vec::with_capacity(campaign.phases.len());
    let mut from = 0usize;
    let mut prev: Option<&str> = None;
    for phase in &campaign.phases {
        let span = find_phase(phase, tl, from, prev)?;
        from = span.end_line;
        prev = Some(&phase.name);
        spans.push(span);
    }
    Ok(spans)
}

fn find_phase(phase: &Phase, tl: &Timeline, from: usize, after: Option<&str>) -> Result<FoundPhase, ExpandError> {
    let console = tl.console;
    let start_line = (from..console.len())
        .find(|&i| phase.start.is_match(console[i].1))
        .ok_or_else(|| ExpandError::PhaseStartNotFound {
            phase: phase.name.clone(),
            pattern: phase.start.source.clone(),
            after: after.map(str::to_string),
            from_line: from,
        })?;
    let end_line = (start_line + 1..console.len())
        .find(|&i| phase.end.is_match(console[i].1))
        .ok_or_else(|| ExpandError::PhaseEndNotFound {
            phase: phase.name.clone(),
            pattern: phase.end.source.clone(),
            start_line,
        })?;
    Ok(FoundPhase {
        span: PhaseSpan {
            name: phase.name.clone(),
            start_us: console[start_line].0,
            end_us: console[end_line].0,
        },
        start_line,
        end_line,
    })
}

/// The cut points of a campaign on an unfaulted run's timeline, the phases found and the
/// offsets that produced no point.
pub fn expand_plan(campaign: &Campaign, tl: &Timeline) -> Result<Plan, ExpandError> {
    let spans = find_phases(campaign, tl)?;
    let mut points = Vec::new();
    let mut skipped = Vec::new();
    for (phase, span) in campaign.phases.iter().zip(&spans) {
        let ex = Expander {
            campaign,
            tl,
            phase,
            found: span,
            prefix: IdPrefix::None,
            rng_key: phase.name.clone(),
        };
        let raw = ex.points(&phase.offsets, &mut skipped)?;
        ex.materialize(raw, None, &mut points)?;
    }
    for seq in &campaign.sequences {
        let (phase, span) = campaign
            .phases
            .iter()
            .zip(&spans)
            .find(|(p, _)| p.name == seq.first.phase)
            .ok_or_else(|| ExpandError::Unknown {
                what: format!("phase \"{}\"", seq.first.phase),
            })?;
        let ex = Expander {
            campaign,
            tl,
            phase,
            found: span,
            prefix: IdPrefix::Sequence(&seq.name),
            rng_key: format!("{}:{}", seq.name, phase.name),
        };
        let raw = ex.points(&seq.first.offsets, &mut skipped)?;
        let Some(second) = seq.then.first() else { continue };
        let then = SecondSpec {
            sequence: seq.name.clone(),
            phase: second.phase.clone(),
            stage: 0,
        };
        ex.materialize(raw, Some(then), &mut points)?;
    }
    check_unique(&points)?;
    Ok(Plan {
        phases: spans,
        points,
        skipped,
    })
}

/// The next cuts after `first` (a sequence's first cut, or a later one that another follows),
/// on the console of the run that recovers from the chain up to `first` (searched from the
/// recovery run's first line). Ids are `first-id>phase/offset`; a third cut's id is
/// `first-id>phase/offset>phase/offset`.
///
/// A recovery run without the phase gives [`ExpandError::PhaseStartNotFound`]: the first cut
/// left nothing for the second to interrupt. The plan also has the phase found and the offsets
/// that produced no point.
pub fn expand_second_plan(campaign: &Campaign, first: &CutPoint, recovery: &Timeline) -> Result<Plan, ExpandError> {
    let spec = first
        .then
        .as_ref()
        .ok_or_else(|| ExpandError::NotASequence { id: first.id.clone() })?;
    let seq = campaign
        .sequences
        .iter()
        .find(|s| s.name == spec.sequence)
        .ok_or_else(|| ExpandError::Unknown {
            what: format!("sequence \"{}\"", spec.sequence),
        })?;
    let stage = seq.then.get(spec.stage).ok_or_else(|| ExpandError::Unknown {
        what: format!("cut {} in sequence \"{}\"", spec.stage + 2, seq.name),
    })?;
    let phase = campaign.phase(&stage.phase).ok_or_else(|| ExpandError::Unknown {
        what: format!("phase \"{}\"", stage.phase),
    })?;
    let span = find_phase(phase, recovery, 0, None)?;
    let ex = Expander {
        campaign,
        tl: recovery,
        phase,
        found: &span,
        prefix: IdPrefix::After(&first.id),
        rng_key: format!("{}>{}", first.id, phase.name),
    };
    let mut skipped = Vec::new();
    let raw = ex.points(&stage.offsets, &mut skipped)?;
    let next = seq.then.get(spec.stage + 1).map(|n| SecondSpec {
        sequence: seq.name.clone(),
        phase: n.phase.clone(),
        stage: spec.stage + 1,
    });
    let mut points = Vec::new();
    ex.materialize_once(raw, first.repetition, next, &mut points)?;
    check_unique(&points)?;
    Ok(Plan {
        phases: vec![span],
        points,
        skipped,
    })
}

fn check_unique(points: &[CutPoint]) -> Result<(), ExpandError> {
    let mut seen = HashSet::with_capacity(points.len());
    for p in points {
        if !seen.insert(p.id.as_str()) {
            return Err(ExpandError::DuplicateId { id: p.id.clone() });
        }
    }
    Ok(())
}

/// The seed of one cut: the first 8 bytes of SHA-256 over the campaign seed and the id.
pub fn cut_seed(campaign_seed: u64, id: &CutId) -> u64 {
    let mut h = Sha256::new();
    h.update(b"cutpoint cut seed\0");
    h.update(campaign_seed.to_le_bytes());
    h.update(id.as_str().as_bytes());
    let d = h.finalize();
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    u64::from_le_bytes(b)
}

fn random_rng(campaign_seed: u64, key: &str) -> ChaCha8Rng {
    let mut h = Sha256::new();
    h.update(b"cutpoint random offsets\0");
    h.update(campaign_seed.to_le_bytes());
    h.update(key.as_bytes());
    ChaCha8Rng::from_seed(h.finalize().into())
}

/// Byte counts, and the offsets skipped with why.
pub(crate) type ByteCounts = (Vec<u64>, Vec<(String, String)>);

/// The byte counts `bytes` gives for an update of `size` bytes, and the offsets it skips with
/// why (`(offset, reason)`). `None` when there would be more than [`MAX_POINTS`].
pub(crate) fn byte_counts(bytes: &ByteOffsets, size: u64) -> Option<ByteCounts> {
    let mut counts = Vec::new();
    let mut skips = Vec::new();
    match bytes {
        ByteOffsets::List(list) => {
            for &n in list {
                if n >= size {
                    skips.push((
                        format!("byte-{n}"),
                        format!("byte {n} is not inside the update ({size} B)"),
                    ));
                } else {
                    counts.push(n);
                }
            }
        }
        ByteOffsets::Step { step, from, to } => {
            let step = (*step).max(1);
            let from = from.unwrap_or(step);
            let to_given = to.unwrap_or(size);
            let to = to_given.min(size);
            if to.saturating_sub(from) / step >= MAX_POINTS as u64 {
                return None;
            }
            let mut n = from;
            while n < to {
                counts.push(n);
                n = match n.checked_add(step) {
                    Some(next) => next,
                    None => break,
                };
            }
            if to_given > size {
                skips.push((
                    format!("byte-{size}.."),
                    format!("bytes from {size} to {to_given} are past the end of the update ({size} B)"),
                ));
            }
            if from >= size {
                skips.push((
                    format!("byte-{from}"),
                    format!("from = {from} is not inside the update ({size} B)"),
                ));
            }
        }
    }
    Some((counts, skips))
}

/// A point before ids and repetitions.
struct RawPoint {
    offset: String,
    aim: Aim,
    anchor: Option<Anchor>,
}

/// What comes before `phase/offset` in the ids an expander makes.
#[derive(Clone, Copy)]
enum IdPrefix<'x> {
    /// A single cut: `phase/offset`.
    None,
    /// A sequence's first cut: `sequence:phase/offset`.
    Sequence(&'x str),
    /// A later cut of a chain: `first-id>phase/offset`.
    After(&'x CutId),
}

struct Expander<'x, 'a> {
    campaign: &'x Campaign,
    tl: &'x Timeline<'a>,
    phase: &'x Phase,
    found: &'x FoundPhase,
    prefix: IdPrefix<'x>,
    /// Keys the RNG of random offsets.
    rng_key: String,
}

impl Expander<'_, '_> {
    /// The id of the cut at `offset` of this expander's phase.
    fn id(&self, offset: &str, repetition: Option<u32>) -> Result<CutId, ExpandError> {
        let cut = Cut {
            phase: &self.phase.name,
            offset,
        };
        match self.prefix {
            IdPrefix::None => CutId::new(None, cut, repetition),
            IdPrefix::Sequence(name) => CutId::new(Some(name), cut, repetition),
            IdPrefix::After(first) => first.then(cut),
        }
        .map_err(ExpandError::BadId)
    }

    fn skip(
        &self,
        skipped: &mut Vec<Skipped>,
        kind: SkipKind,
        offset: &str,
        reason: String,
    ) -> Result<(), ExpandError> {
        skipped.push(Skipped {
            id: self.id(offset, None)?.into_string(),
            phase: self.phase.name.clone(),
            kind,
            reason,
        });
        Ok(())
    }

    /// An anchor on console line `line`, which matches `pattern`.
    fn anchor(&self, pattern: &Pattern, line: usize, at_us: u64) -> Anchor {
        let nth = self
            .tl
            .console
            .get(..=line)
            .unwrap_or(self.tl.console)
            .iter()
            .filter(|(_, text)| pattern.is_match(text))
            .count();
        let line_us = self.tl.console.get(line).map_or(0, |l| l.0);
        Anchor {
            pattern: pattern.source.clone(),
            nth: u32::try_from(nth).unwrap_or(u32::MAX),
            delay_us: at_us.saturating_sub(line_us),
        }
    }

    fn points(&self, offsets: &Offsets, skipped: &mut Vec<Skipped>) -> Result<Vec<RawPoint>, ExpandError> {
        let mut out = Vec::new();
        let (span, start_line, end_line) = (&self.found.span, self.found.start_line, self.found.end_line);
        let phase = self.phase;

        for f in &offsets.fixed {
            let (us, pattern, line) = match f {
                Fixed::Start => (span.start_us, &phase.start, start_line),
                Fixed::End => (span.end_us, &phase.end, end_line),
            };
            out.push(RawPoint {
                offset: f.name().to_string(),
                aim: Aim::Time { us },
                anchor: Some(self.anchor(pattern, line, us)),
            });
        }

        if let Some(bytes) = &offsets.bytes {
            self.bytes(bytes, &mut out, skipped)?;
        }

        for (list, unit, scale) in [(&offsets.ms, "ms", 1000u64), (&offsets.us, "us", 1u64)] {
            for &d in list {
                let offset = format!("{unit}-{d}");
                let delay = d.saturating_mul(scale);
                let us = span.start_us.saturating_add(delay);
                if us > span.end_us {
                    self.skip(
                        skipped,
                        SkipKind::Time,
                        &offset,
                        format!(
                            "{d} {unit} is past the phase's end ({} µs after its start)",
                            span.end_us.saturating_sub(span.start_us)
                        ),
                    )?;
                    continue;
                }
                out.push(RawPoint {
                    offset,
                    aim: Aim::Time { us },
                    anchor: Some(self.anchor(&phase.start, start_line, us)),
                });
            }
        }

        if let (Some(sec), Some(progress)) = (&offsets.sectors, &phase.progress) {
            self.sectors(sec.every, sec.fraction_ppm, progress, &mut out, skipped)?;
        }

        if offsets.random > 0 {
            if span.end_us <= span.start_us {
                self.skip(
                    skipped,
                    SkipKind::Time,
                    "random-*",
                    "the phase lasts 0 µs: there is no interval to draw from".to_string(),
                )?;
            } else {
                let mut rng = random_rng(self.campaign.run.seed, &self.rng_key);
                let mut instants: Vec<u64> = (0..offsets.random)
                    .map(|_| rng.gen_range(span.start_us..span.end_us))
                    .collect();
                instants.sort_unstable();
                let width = offsets.random.to_string().len().max(2);
                for (i, us) in instants.into_iter().enumerate() {
                    out.push(RawPoint {
                        offset: format!("random-{:0width$}", i + 1),
                        aim: Aim::Time { us },
                        anchor: Some(self.anchor(&phase.start, start_line, us)),
                    });
                }
            }
        }

        if !offsets.every_op.is_empty() {
            let ops = self.tl.ops.ok_or_else(|| ExpandError::NoOps {
                phase: phase.name.clone(),
            })?;
            let mut any = false;
            let aimed = |o: &OpSpan| offsets.every_op_in.is_none_or(|want| o.regions.intersects(want));
            for op in ops
                .iter()
                .filter(|o| o.start_us >= span.start_us && o.start_us < span.end_us && aimed(o))
            {
                any = true;
                if out.len() >= MAX_POINTS {
                    return Err(self.too_many());
                }
                for &point in &offsets.every_op {
                    out.push(RawPoint {
                        offset: format!("op-{:04}-{}", op.index, point.id_part()),
                        aim: Aim::Op { index: op.index, point },
                        anchor: None,
                    });
                }
            }
            if !any {
                let reason = match offsets.every_op_in {
                    None => "no flash operation starts inside the phase".to_string(),
                    Some(want) => format!("no flash operation that starts inside the phase touches {want}"),
                };
                self.skip(skipped, SkipKind::Op, "op-*", reason)?;
            }
        }
        Ok(out)
    }

    fn too_many(&self) -> ExpandError {
        ExpandError::TooMany {
            phase: self.phase.name.clone(),
        }
    }

    fn bytes(
        &self,
        bytes: &ByteOffsets,
        out: &mut Vec<RawPoint>,
        skipped: &mut Vec<Skipped>,
    ) -> Result<(), ExpandError> {
        let (counts, skips) = byte_counts(bytes, self.tl.update_size).ok_or_else(|| self.too_many())?;
        out.extend(counts.into_iter().map(|n| RawPoint {
            offset: format!("byte-{n}"),
            aim: Aim::Byte { n },
            anchor: None,
        }));
        for (offset, reason) in skips {
            self.skip(skipped, SkipKind::Byte, &offset, reason)?;
        }
        Ok(())
    }

    fn sectors(
        &self,
        every: u32,
        fraction_ppm: Option<u32>,
        progress: &Pattern,
        out: &mut Vec<RawPoint>,
        skipped: &mut Vec<Skipped>,
    ) -> Result<(), ExpandError> {
        let (span, start_line, end_line) = (&self.found.span, self.found.start_line, self.found.end_line);
        let console = self.tl.console;
        let every = every.max(1) as usize;
        let mut labels: HashSet<String> = HashSet::new();
        let markers: Vec<(usize, Option<String>)> = (start_line..=end_line.min(console.len().saturating_sub(1)))
            .filter_map(|i| {
                let caps = progress.regex.captures(console[i].1)?;
                let n = caps
                    .name("n")
                    .map(|m| m.as_str().to_string())
                    .filter(|s| crate::de::is_plain_name(s));
                Some((i, n))
            })
            .collect();
        if markers.is_empty() {
            self.skip(
                skipped,
                SkipKind::Sector,
                "sector-*",
                format!(
                    "no console line inside the phase matches its progress '{}'",
                    progress.source
                ),
            )?;
            return Ok(());
        }
        let times: Vec<u64> = markers.iter().map(|(line, _)| console[*line].0).collect();
        for (ordinal, (line, label)) in markers.into_iter().enumerate() {
            if ordinal % every != 0 {
                continue;
            }
            // The work that follows this marker ends at the next marker or the phase's end.
            let until = times.get(ordinal + 1).copied().unwrap_or(span.end_us);
            let mut label = label.unwrap_or_else(|| (ordinal + 1).to_string());
            if !labels.insert(label.clone()) {
                let mut k = 2;
                while !labels.insert(format!("{label}~{k}")) {
                    k += 1;
                }
                label = format!("{label}~{k}");
            }
            let t = console[line].0;
            match fraction_ppm {
                None => out.push(RawPoint {
                    offset: format!("sector-{label}"),
                    aim: Aim::Time { us: t },
                    anchor: Some(self.anchor(progress, line, t)),
                }),
                Some(ppm) => {
                    let offset = format!("sector-{label}+{}", fraction_text(ppm));
                    match self.tl.ops {
                        Some(ops) => match ops.iter().find(|o| o.start_us >= t && o.start_us < until) {
                            Some(op) => out.push(RawPoint {
                                offset,
                                aim: Aim::Op {
                                    index: op.index,
                                    point: OpPoint::Inside { ppm },
                                },
                                anchor: None,
                            }),
                            None => self.skip(
                                skipped,
                                SkipKind::Sector,
                                &offset,
                                "no flash operation starts between this marker and the next one (or the phase's end)"
                                    .to_string(),
                            )?,
                        },
                        None => {
                            // Without the journal, the fraction is of the time to the next line.
                            let next = console.get(line + 1).map_or(span.end_us, |l| l.0);
                            let next = if line < end_line { next } else { span.end_us };
                            let gap = next.saturating_sub(t);
                            let into = u64::try_from(u128::from(gap) * u128::from(ppm) / 1_000_000).unwrap_or(gap);
                            let us = t.saturating_add(into);
                            out.push(RawPoint {
                                offset,
                                aim: Aim::Time { us },
                                anchor: Some(self.anchor(progress, line, us)),
                            });
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn materialize(
        &self,
        raw: Vec<RawPoint>,
        then: Option<SecondSpec>,
        out: &mut Vec<CutPoint>,
    ) -> Result<(), ExpandError> {
        let reps = self.campaign.run.repetitions.max(1);
        if raw.len().saturating_mul(reps as usize).saturating_add(out.len()) > MAX_POINTS {
            return Err(self.too_many());
        }
        for p in raw {
            for r in 1..=reps {
                let id = self.id(&p.offset, (reps > 1).then_some(r))?;
                out.push(CutPoint {
                    seed: cut_seed(self.campaign.run.seed, &id),
                    id,
                    phase: self.phase.name.clone(),
                    offset: p.offset.clone(),
                    repetition: r,
                    aim: p.aim,
                    anchor: p.anchor.clone(),
                    then: then.clone(),
                });
            }
        }
        Ok(())
    }

    fn materialize_once(
        &self,
        raw: Vec<RawPoint>,
        repetition: u32,
        then: Option<SecondSpec>,
        out: &mut Vec<CutPoint>,
    ) -> Result<(), ExpandError> {
        for p in raw {
            let id = self.id(&p.offset, None)?;
            out.push(CutPoint {
                seed: cut_seed(self.campaign.run.seed, &id),
                id,
                phase: self.phase.name.clone(),
                offset: p.offset,
                repetition,
                aim: p.aim,
                anchor: p.anchor,
                then: then.clone(),
            });
        }
        Ok(())
    }
}
