//! What a report concludes beyond its counts: whether it covers the whole finished campaign, and,
//! for a negative control, whether the rig caught the broken firmware. Every report (JUnit,
//! summary, HTML) and the command line take these from here, so they never disagree.

use crate::journal::Journal;
use crate::merge::parse_partition;
use crate::model::{ControlRun, EndReason, Expect, JournalEnd, JournalHeader, Status};

/// The outcome of a negative control (`[pass] expect = "fail"`): broken firmware the rig must catch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NegativeControl {
    /// Cut points that failed for the device's reason (rig errors do not count).
    pub failed: usize,
    /// Cut points that have a result.
    pub ran: usize,
    /// The unfaulted control run already broke the rule (its cut points still run, and it is
    /// they that must fail: a negative control that ran nothing proves nothing).
    pub control_failed: bool,
}

impl NegativeControl {
    /// Whether the rig caught the broken firmware: at least one cut point failed for the
    /// device's reason.
    pub fn caught(&self) -> bool {
        self.failed > 0
    }

    /// One line saying so, e.g. `negative control: 12 cut points failed, as expected (...)`.
    pub fn headline(&self) -> String {
        if self.failed > 0 {
            format!(
                "negative control: {} failed, as expected (the rig caught the broken firmware)",
                cut_points(self.failed)
            )
        } else if self.ran == 0 {
            "negative control: no cut point ran, so nothing was caught (the rig did not catch this firmware)".to_owned()
        } else {
            format!(
                "negative control: none of {} failed (the rig did not catch this firmware)",
                cut_points(self.ran)
            )
        }
    }
}

/// `1 cut point`, `2 cut points`.
pub(crate) fn cut_points(n: usize) -> String {
    if n == 1 {
        "1 cut point".to_owned()
    } else {
        format!("{n} cut points")
    }
}

impl Journal {
    /// Whether this campaign is a negative control.
    pub fn is_negative_control(&self) -> bool {
        self.header.expect == Expect::Fail
    }

    /// The negative control's outcome; `None` for an ordinary campaign.
    pub fn negative_control(&self) -> Option<NegativeControl> {
        negative_control(
            &self.header,
            self.control.as_ref(),
            self.cuts.iter().filter(|c| c.status == Status::Fail).count(),
            self.cuts.len(),
        )
    }

    /// The partitions `k/n` this report lacks: the ones of its split that none of its journals
    /// ran. Empty for a whole campaign.
    pub fn missing_partitions(&self) -> Vec<String> {
        missing_partitions(&self.header)
    }

    /// Why this report does not cover a finished campaign: partitions missing, a run that did not
    /// finish or was cancelled. Empty when it does; nothing about the device is concluded otherwise.
    pub fn incomplete(&self) -> Vec<String> {
        let recorded: std::collections::HashSet<&str> = self.cuts.iter().map(|c| c.id.as_str()).collect();
        let unrecorded = self
            .header
            .planned
            .iter()
            .filter(|p| !recorded.contains(p.id.as_str()))
            .count();
        incomplete(&self.header, self.end.as_ref(), self.control.as_ref(), unrecorded)
    }
}

/// A negative control's outcome from its `failed` results out of `ran`; `None` for an
/// ordinary campaign.
pub(crate) fn negative_control(
    header: &JournalHeader,
    control: Option<&ControlRun>,
    failed: usize,
    ran: usize,
) -> Option<NegativeControl> {
    (header.expect == Expect::Fail).then(|| NegativeControl {
        failed,
        ran,
        control_failed: control.is_some_and(|c| c.status == Status::Fail),
    })
}

/// See [`Journal::missing_partitions`].
pub(crate) fn missing_partitions(header: &JournalHeader) -> Vec<String> {
    let Some(listed) = &header.partition else {
        return Vec::new();
    };
    let parsed: Option<Vec<(u64, u64)>> = listed.split(',').map(|p| parse_partition(p.trim())).collect();
    let Some(parts) = parsed else {
        return Vec::new();
    };
    let Some(&(_, n)) = parts.first() else {
        return Vec::new();
    };
    if parts.iter().any(|&(_, pn)| pn != n) {
        return Vec::new();
    }
    (1..=n)
        .filter(|k| !parts.iter().any(|&(pk, _)| pk == *k))
        .map(|k| format!("{k}/{n}"))
        .collect()
}

/// See [`Journal::incomplete`]. `unrecorded` counts the planned cut points without a result: a
/// run that ended complete has none, so any there means the journal lost records (edited,
/// truncated in the middle, or overwritten), and the report cannot vouch for the campaign. A
/// run stops for good only when its control run failed, which gives the verdict; a stopped run
/// whose control run did not fail, or an end this version does not know, leaves its unrecorded
/// cut points untested.
pub(crate) fn incomplete(
    header: &JournalHeader,
    end: Option<&JournalEnd>,
    control: Option<&ControlRun>,
    unrecorded: usize,
) -> Vec<String> {
    let mut why = Vec::new();
    let missing = missing_partitions(header);
    if !missing.is_empty() {
        let (s, are) = if missing.len() == 1 { ("", "is") } else { ("s", "are") };
        why.push(format!(
            "partition{s} {} {are} missing: run {} and merge every partition's report with \
             `cutpoint report DIR...`",
            missing.join(", "),
            if missing.len() == 1 { "it" } else { "them" }
        ));
    }
    let resume = format!("`cutpoint run {} --resume DIR` finishes it", header.campaign_path);
    match end {
        None => why.push(format!("the run did not finish (no end record): {resume}")),
        Some(end) if end.how.is_cancelled() => why.push(format!("the run was cancelled: {resume}")),
        Some(end) if end.how.is_complete() && unrecorded > 0 => why.push(format!(
            "{} of the plan {} no result although the run ended complete: the journal lost \
             records (edited or damaged); run the campaign again",
            cut_points(unrecorded),
            if unrecorded == 1 { "has" } else { "have" }
        )),
        Some(end) if unrecorded > 0 && !end.how.is_complete() => {
            let control_failed = control.is_some_and(|c| c.status != Status::Pass);
            match &end.how {
                EndReason::Stopped(_) if control_failed => {}
                EndReason::Stopped(stop) => why.push(format!(
                    "the run stopped ({stop}) although its control run {}, and {} of the plan {} no \
                     result: {resume}",
                    if control.is_some() { "passed" } else { "has no record" },
                    cut_points(unrecorded),
                    if unrecorded == 1 { "has" } else { "have" }
                )),
                other => why.push(format!(
                    "the run ended \"{other}\", which this version of cutpoint does not know, and {} of \
                     the plan {} no result: {resume}",
                    cut_points(unrecorded),
                    if unrecorded == 1 { "has" } else { "have" }
                )),
            }
        }
        Some(_) => {}
    }
    why
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::JournalEnd;
    use crate::testutil::{cut, header};

    fn ended(mut j: Journal, how: &str) -> Journal {
        j.end = Some(JournalEnd {
            finished: "2025-01-01T01:00:00Z".into(),
            how: how.into(),
        });
        j
    }

    #[test]
    fn a_finished_whole_campaign_is_complete() {
        let mut j = Journal::new(header("aa", None, &["s/1"]));
        j.cuts.push(cut("s/1", Status::Pass));
        let j = ended(j, "complete");
        assert!(j.incomplete().is_empty());
        let mut j = ended(
            Journal::new(header("aa", None, &["s/1"])),
            "stopped: the control run failed",
        );
        j.control = Some(crate::testutil::failed_control());
        assert!(j.incomplete().is_empty(), "a stopped run has its verdict");
    }

    #[test]
    fn a_complete_run_with_planned_cut_points_unrecorded_lost_records() {
        let mut j = Journal::new(header("aa", None, &["s/1", "s/2"]));
        j.cuts.push(cut("s/1", Status::Pass));
        let j = ended(j, "complete");
        assert_eq!(j.incomplete().len(), 1, "{:?}", j.incomplete());
        assert!(
            j.incomplete()[0].starts_with("1 cut point of the plan has no result although the run ended complete"),
            "{:?}",
            j.incomplete()
        );
        let mut j = Journal::new(header("aa", None, &["s/1", "s/2"]));
        j.cuts.push(cut("s/1", Status::Pass));
        let mut stopped = ended(j, "stopped: the control run failed");
        stopped.control = Some(crate::testutil::failed_control());
        assert!(
            stopped.incomplete().is_empty(),
            "a stopped run leaves cut points unrun on purpose"
        );
    }

    /// A run ends "stopped" only when its control run failed. Stopped with a control run that
    /// passed (or none), or an end this version does not know, with cut points of the plan
    /// unrecorded: those were never tested.
    #[test]
    fn an_unknown_or_unexplained_end_with_unrecorded_cut_points_is_incomplete() {
        for how in ["weird", "stopped: relay died"] {
            let mut j = Journal::new(header("aa", None, &["s/1", "s/2"]));
            j.cuts.push(cut("s/1", Status::Pass));
            let j = ended(j, how);
            assert_eq!(j.incomplete().len(), 1, "{how}: {:?}", j.incomplete());
            let mut done = Journal::new(header("aa", None, &["s/1"]));
            done.cuts.push(cut("s/1", Status::Pass));
            assert!(ended(done, how).incomplete().is_empty(), "{how}: nothing unrecorded");
        }
    }

    #[test]
    fn missing_partitions_unfinished_and_cancelled_runs_are_incomplete() {
        let j = ended(Journal::new(header("aa", Some("1/3, 2/3"), &[])), "complete");
        assert_eq!(j.missing_partitions(), ["3/3"]);
        assert_eq!(j.incomplete().len(), 1);
        assert!(
            j.incomplete()[0].starts_with("partition 3/3 is missing"),
            "{:?}",
            j.incomplete()
        );

        let j = ended(Journal::new(header("aa", Some("2/3"), &[])), "complete");
        assert_eq!(j.missing_partitions(), ["1/3", "3/3"]);

        let j = Journal::new(header("aa", None, &[]));
        assert!(
            j.incomplete()[0].starts_with("the run did not finish"),
            "{:?}",
            j.incomplete()
        );
        let j = ended(Journal::new(header("aa", None, &[])), "cancelled");
        assert!(
            j.incomplete()[0].starts_with("the run was cancelled"),
            "{:?}",
            j.incomplete()
        );
    }

    #[test]
    fn negative_control_counts_device_failures_only() {
        let mut h = header("aa", None, &["s/1", "s/2"]);
        assert!(Journal::new(h.clone()).negative_control().is_none());
        h.expect = Expect::Fail;
        let mut j = Journal::new(h);
        let none = j.negative_control().unwrap();
        assert!(!none.caught());
        assert!(none.headline().contains("no cut point ran"), "{}", none.headline());

        j.cuts.push(cut("s/1", Status::Error));
        j.cuts.push(cut("s/2", Status::Pass));
        let missed = j.negative_control().unwrap();
        assert!(!missed.caught(), "a rig error is no catch");
        assert_eq!(
            missed.headline(),
            "negative control: none of 2 cut points failed (the rig did not catch this firmware)"
        );

        j.cuts[1].status = Status::Fail;
        let caught = j.negative_control().unwrap();
        assert!(caught.caught());
        assert_eq!(
            caught.headline(),
            "negative control: 1 cut point failed, as expected (the rig caught the broken firmware)"
        );
    }

    #[test]
    fn a_failed_control_run_alone_does_not_catch_a_negative_control() {
        let mut h = header("aa", None, &["s/1"]);
        h.expect = Expect::Fail;
        let mut j = Journal::new(h);
        j.control = Some(ControlRun {
            status: Status::Fail,
            reasons: vec!["settled on 1.0.0".into()],
            phases: vec![],
            console: vec![],
            flash_ops: None,
        });
        // Its cut points must fail: a control run that failed proves nothing about the cuts.
        assert!(!j.negative_control().unwrap().caught());
    }
}
