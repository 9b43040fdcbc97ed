//! A campaign's plan before any run: the ids that do not depend on the control run's console,
//! and what does. On a bench the control run needs the hardware; this is what `cutpoint plan`
//! can say from a laptop.

use cutpoint_core::{Cut, CutId};
use serde::Serialize;

use crate::expand::byte_counts;
use crate::model::{Campaign, Offsets};

/// A cut point whose id is known before any run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OfflinePoint {
    pub id: CutId,
    pub phase: String,
    /// When the control run may still leave it out, when (`ms-900` past a shorter phase).
    pub unless: Option<String>,
}

/// Offsets whose cut points only the control run's console can give.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pending {
    /// `swap/sectors`, `swap-twice:swap/* > swap/random`.
    pub what: String,
    pub phase: String,
    pub reason: String,
}

/// What can be planned without a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OfflinePlan {
    /// Ids known now, in plan order.
    pub points: Vec<OfflinePoint>,
    /// Offsets that need the control run's console (or each recovery run's), in plan order.
    pub pending: Vec<Pending>,
    /// Offsets that give no cut point whatever the run, with why (`byte-200000` past the update).
    pub skipped: Vec<(String, String)>,
}

impl OfflinePlan {
    /// Whether `points` is the whole plan, in its order (then it partitions as the plan does).
    pub fn is_complete(&self) -> bool {
        self.pending.is_empty() && self.points.iter().all(|p| p.unless.is_none())
    }
}

/// The plan of `campaign` for an update of `update_size` bytes, before any run.
pub fn plan_offline(campaign: &Campaign, update_size: u64) -> OfflinePlan {
    let mut plan = OfflinePlan {
        points: Vec::new(),
        pending: Vec::new(),
        skipped: Vec::new(),
    };
    for phase in &campaign.phases {
        let offsets = phase_offsets(None, &phase.name, &phase.offsets, update_size, &mut plan);
        push_points(campaign, None, &phase.name, offsets, &mut plan);
    }
    for seq in &campaign.sequences {
        let prefix = format!("{}:", seq.name);
        let mut first = OfflinePlan {
            points: Vec::new(),
            pending: Vec::new(),
            skipped: Vec::new(),
        };
        let offsets = phase_offsets(
            Some(&seq.name),
            &seq.first.phase,
            &seq.first.offsets,
            update_size,
            &mut first,
        );
        push_points(campaign, Some(&seq.name), &seq.first.phase, offsets, &mut first);
        let heads = first.points;
        for p in first.pending {
            plan.pending.push(Pending {
                what: format!("{prefix}{}", p.what),
                ..p
            });
        }
        plan.skipped.extend(first.skipped);
        let then: Vec<String> = seq.then.iter().map(|t| t.phase.clone()).collect();
        let heads_text = match heads.len() {
            0 => "its first cuts".to_string(),
            n => format!("each of its {n} known first cuts"),
        };
        plan.pending.push(Pending {
            what: format!("{prefix}{}/* > {}", seq.first.phase, then.join(" > ")),
            phase: seq.first.phase.clone(),
            reason: format!(
                "sequence {}: the later cuts after {heads_text} are found in the console of the run that recovers \
                 from it, so only a run lists them",
                seq.name
            ),
        });
    }
    plan
}

/// The offsets of one phase known now (`offset`, unless), in the expansion's order; the others
/// go to `plan.pending`, and the byte counts past the update to `plan.skipped`.
fn phase_offsets(
    sequence: Option<&str>,
    phase: &str,
    o: &Offsets,
    update_size: u64,
    plan: &mut OfflinePlan,
) -> Vec<(String, Option<String>)> {
    let mut out: Vec<(String, Option<String>)> = o.fixed.iter().map(|f| (f.name().to_string(), None)).collect();
    if let Some(b) = &o.bytes {
        match byte_counts(b, update_size) {
            Some((counts, skips)) => {
                out.extend(counts.into_iter().map(|n| (format!("byte-{n}"), None)));
                plan.skipped.extend(
                    skips
                        .into_iter()
                        .map(|(offset, why)| (id_text(sequence, phase, &offset), why)),
                );
            }
            None => plan.pending.push(Pending {
                what: format!("{phase}/bytes"),
                phase: phase.to_string(),
                reason: "more byte offsets than one plan may hold".to_string(),
            }),
        }
    }
    for (list, unit) in [(&o.ms, "ms"), (&o.us, "us")] {
        out.extend(list.iter().map(|d| {
            (
                format!("{unit}-{d}"),
                Some(format!(
                    "left out if the phase lasts less than {d} {unit} in the control run"
                )),
            )
        }));
    }
    if o.sectors.is_some() {
        plan.pending.push(Pending {
            what: format!("{phase}/sectors"),
            phase: phase.to_string(),
            reason: "the ids are the numbers the phase's progress lines carry in the control run's console".to_string(),
        });
    }
    if o.random > 0 {
        let width = o.random.to_string().len().max(2);
        out.extend((1..=o.random).map(|i| {
            (
                format!("random-{i:0width$}"),
                Some("left out if the phase lasts 0 µs in the control run".to_string()),
            )
        }));
    }
    if !o.every_op.is_empty() {
        plan.pending.push(Pending {
            what: format!("{phase}/every_op"),
            phase: phase.to_string(),
            reason: "every_op needs the flash-operation journal of the simulated board".to_string(),
        });
    }
    out
}

/// The ids of `offsets` in `plan.points`; an id that would not read back (a name the campaign
/// loader did not check) goes to `plan.skipped` with why.
fn push_points(
    campaign: &Campaign,
    sequence: Option<&str>,
    phase: &str,
    offsets: Vec<(String, Option<String>)>,
    plan: &mut OfflinePlan,
) {
    let reps = campaign.run.repetitions.max(1);
    for (offset, unless) in offsets {
        for r in 1..=reps {
            match CutId::new(sequence, Cut { phase, offset: &offset }, (reps > 1).then_some(r)) {
                Ok(id) => plan.points.push(OfflinePoint {
                    id,
                    phase: phase.to_string(),
                    unless: unless.clone(),
                }),
                Err(e) => {
                    let why = e.to_string();
                    plan.skipped.push((e.id, why));
                }
            }
        }
    }
}

/// The id an offset that gives no cut point would have had.
fn id_text(sequence: Option<&str>, phase: &str, offset: &str) -> String {
    // An unreadable id is still the text to show: the error carries it.
    CutId::new(sequence, Cut { phase, offset }, None).map_or_else(|e| e.id, CutId::into_string)
}
