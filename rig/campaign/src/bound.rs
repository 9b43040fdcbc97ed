//! The fewest cut points a campaign can plan, known before any run: fixed instants and random
//! offsets always give a point (other offset kinds may be skipped on a short phase), times the
//! repetitions. A campaign whose floor passes [`MAX_POINTS`] is refused when it is loaded, so
//! `check` says so and `run`/`plan` stop before the control run.

use crate::error::FileError;
use crate::expand::MAX_POINTS;
use crate::model::{ByteOffsets, Campaign, ImageSource, Offsets};

/// The fewest bytes the update can have, when the campaign builds it (its body alone).
fn min_update_size(c: &Campaign) -> Option<u64> {
    match &c.images.update {
        ImageSource::Generated { size_kib, .. } => Some(u64::from(*size_kib) * 1024),
        ImageSource::File { .. } => None,
    }
}

/// Points of `o` that every timeline gives: fixed instants, random offsets, and byte steps
/// below what the update is known to hold (further ones may be skipped past its end).
fn certain(o: &Offsets, update: Option<u64>) -> u64 {
    let bytes = match (&o.bytes, update) {
        (Some(ByteOffsets::Step { step, from, to }), Some(size)) if *step > 0 => {
            let from = from.unwrap_or(*step);
            let to = to.map_or(size, |t| t.min(size));
            to.saturating_sub(from).div_ceil(*step)
        }
        (Some(ByteOffsets::List(list)), Some(size)) => list.iter().filter(|&&n| n < size).count() as u64,
        _ => 0,
    };
    (o.fixed.len() as u64 + u64::from(o.random)).saturating_add(bytes)
}

/// The fewest cut points the campaign can plan, per phase (single cuts) and per sequence
/// (first cuts, each heading at least one chain).
pub fn floor(c: &Campaign) -> u64 {
    let reps = u64::from(c.run.repetitions.max(1));
    let update = min_update_size(c);
    let singles: u64 = c.phases.iter().map(|p| certain(&p.offsets, update)).sum();
    let heads: u64 = c.sequences.iter().map(|s| certain(&s.first.offsets, update)).sum();
    singles.saturating_add(heads).saturating_mul(reps)
}

/// An error located at the phase that contributes most, when the floor passes the limit.
pub fn check_floor(c: &Campaign) -> Option<FileError> {
    let total = floor(c);
    if total <= MAX_POINTS as u64 {
        return None;
    }
    let file = c.path.display().to_string();
    let message = format!(
        "the plan would hold at least {total} cut points ({} repetitions), past the limit of {MAX_POINTS}; \
         give fewer random offsets or repetitions, or split the campaign with --partition",
        c.run.repetitions.max(1)
    );
    let update = min_update_size(c);
    let biggest = c
        .phases
        .iter()
        .enumerate()
        .max_by_key(|(_, p)| certain(&p.offsets, update));
    Some(
        match biggest.and_then(|(i, p)| p.start.origin.clone().map(|o| (i, o))) {
            Some((i, o)) if o.line > 0 => FileError {
                field: format!("phases.{}.offsets", c.phases[i].name),
                message,
                ..o
            },
            _ => FileError {
                field: "run.repetitions".into(),
                ..FileError::whole_file(&file, message)
            },
        },
    )
}
