//! What a finished run or report concludes: its exit code and the notes that explain it, the
//! same for `cutpoint run` and for `cutpoint report` of the same journal.

use cutpoint_campaign::{Campaign, Expect};
use cutpoint_report::rebuild::ReportSummary;
use cutpoint_report::Status;

use crate::engine::RunOutcome;
use crate::exit::{for_results, BAD_INPUT, FAIL, PASS, RIG_ERROR};

/// An exit code and the lines that say why (each printed after `cutpoint: ` on stderr).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub code: i32,
    pub notes: Vec<String>,
}

/// The name of an exit code in `--message-format json` end events.
pub fn outcome_name(code: i32) -> &'static str {
    match code {
        PASS => "pass",
        FAIL => "fail",
        BAD_INPUT => "bad-input",
        _ => "rig-error",
    }
}

/// The verdict of a finished, complete run with `fail` failed and `error` rig-error cut points.
/// A negative control passes only when at least one of its cut points failed for the device's
/// reason; a run with no cut point at all is never green.
pub fn run_verdict(c: &Campaign, outcome: &RunOutcome, fail: usize, error: usize) -> Verdict {
    let ran = outcome.tally.ran();
    let mut notes = Vec::new();
    if outcome.control_failed {
        notes.push("the control run failed: the device does not update cleanly even without a cut".to_string());
    }
    let negative = c.pass.expect == Expect::Fail;
    let code = for_results(negative, outcome.control_failed, fail, error, ran);
    let plan_hint = format!("check the phases' offsets (`cutpoint plan {}`)", c.path.display());
    match (negative, code) {
        (true, PASS) => notes.push(format!(
            "negative control: {fail} of {ran} cut points failed, as expected (the rig caught the broken firmware)"
        )),
        (true, BAD_INPUT) => notes.push(format!(
            "negative control: no cut point was planned, so nothing was caught; {plan_hint}"
        )),
        (true, RIG_ERROR) => notes.push(format!(
            "negative control: no cut point failed, and {error} ended in rig errors"
        )),
        (true, _) => notes.push("negative control: no cut point failed, but this firmware is expected to fail".into()),
        (false, BAD_INPUT) => notes.push(format!("no cut point was planned, so nothing was tested; {plan_hint}")),
        _ => {}
    }
    Verdict { code, notes }
}

/// The verdict of a complete report: what `cutpoint run` would have returned for its journals.
pub fn report_verdict(s: &ReportSummary) -> Verdict {
    let c = &s.counts;
    let ran = c.pass + c.fail + c.error;
    let control_failed = s.control == Some(Status::Fail);
    let code = for_results(s.negative_control.is_some(), control_failed, c.fail, c.error, ran);
    let notes = match code {
        FAIL if s.negative_control.is_none() => vec!["the device broke the rule (see summary.md)".to_string()],
        BAD_INPUT => vec!["no cut point ran, so nothing was tested".to_string()],
        _ => Vec::new(),
    };
    Verdict { code, notes }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_names_follow_the_exit_codes() {
        assert_eq!(outcome_name(PASS), "pass");
        assert_eq!(outcome_name(FAIL), "fail");
        assert_eq!(outcome_name(BAD_INPUT), "bad-input");
        assert_eq!(outcome_name(RIG_ERROR), "rig-error");
    }
}
