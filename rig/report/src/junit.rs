//! `junit.xml`: one test suite per campaign, one test case per cut point, so CI systems show each
//! cut point as a test.
//!
//! A device failure is a `<failure>`, a rig error an `<error>` (no verdict), a cut point planned
//! but not run is `<skipped>`. A control run that did not pass adds a `control` test case, so CI
//! goes red even when no cut point could run.

use std::time::Duration;

use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};

use crate::journal::{partition_name, Journal};
use crate::model::{CutResult, Status};
use crate::text::{console_text, replay_command};
use crate::view::{describe_landing, not_run_reason};

/// Builds the JUnit report of a journal. `report_dir` is the directory named in replay commands.
pub fn junit_report(journal: &Journal, report_dir: &str) -> Report {
    let header = &journal.header;
    let mut suite = TestSuite::new(header.campaign.as_str());
    suite.add_properties([
        Property::new("campaign-file", header.campaign_path.as_str()),
        Property::new("campaign-sha256", header.campaign_sha256.as_str()),
        Property::new("target", header.target.as_str()),
        Property::new("seed", header.seed.to_string()),
        Property::new("partition", partition_name(&header.partition)),
        Property::new("started", header.started.as_str()),
    ]);
    match &journal.end {
        Some(end) => {
            suite.add_property(Property::new("finished", end.finished.as_str()));
            suite.add_property(Property::new("end", end.how.as_str()));
        }
        None => {
            suite.add_property(Property::new("end", "interrupted"));
        }
    }
    match &journal.control {
        Some(control) => {
            suite.add_property(Property::new("control", control.status.name()));
            if control.status != Status::Pass {
                let mut status = non_success(control.status, &control.reasons, "the control run did not pass");
                status.set_description(control.reasons.join("\n"));
                let mut case = TestCase::new("control", status);
                case.set_classname("control");
                case.set_system_out(console_text(&control.console));
                suite.add_test_case(case);
            }
        }
        None => {
            suite.add_property(Property::new("control", "not run"));
        }
    }

    let skipped = not_run_reason(journal);
    let mut total = Duration::ZERO;
    for row in journal.rows() {
        let case = match row.result {
            Some(cut) => {
                total = total.saturating_add(Duration::from_millis(cut.wall_ms));
                cut_case(cut, row.phase, report_dir)
            }
            None => {
                let mut status = TestCaseStatus::skipped();
                status.set_message(skipped.as_str());
                let mut case = TestCase::new(row.id, status);
                case.set_classname(row.phase);
                case
            }
        };
        suite.add_test_case(case);
    }
    suite.set_time(total);
    if !journal.notes.is_empty() {
        suite.set_system_err(journal.notes.join("\n") + "\n");
    }

    let mut report = Report::new("cutpoint");
    report.set_time(total);
    report.add_test_suite(suite);
    report
}

/// The JUnit report as XML text.
pub fn junit_xml(journal: &Journal, report_dir: &str) -> Result<String, quick_junit::SerializeError> {
    junit_report(journal, report_dir).to_string()
}

fn non_success(status: Status, reasons: &[String], fallback: &str) -> TestCaseStatus {
    let (kind, ty) = match status {
        Status::Error => (NonSuccessKind::Error, "rig-error"),
        _ => (NonSuccessKind::Failure, "device-failure"),
    };
    let mut out = TestCaseStatus::non_success(kind);
    let message = if reasons.is_empty() {
        fallback.to_owned()
    } else {
        reasons.join("; ")
    };
    out.set_message(message);
    out.set_type(ty);
    out
}

fn cut_case(cut: &CutResult, phase: &str, report_dir: &str) -> TestCase {
    let status = match cut.status {
        Status::Pass => TestCaseStatus::success(),
        bad => {
            let fallback = if bad == Status::Error {
                "rig error"
            } else {
                "device failure"
            };
            let mut status = non_success(bad, &cut.reasons, fallback);
            status.set_description(details(cut, report_dir));
            status
        }
    };
    let mut case = TestCase::new(cut.id.as_str(), status);
    case.set_classname(phase);
    case.set_time(Duration::from_millis(cut.wall_ms));
    case.add_property(Property::new("offset", cut.offset.as_str()));
    case.add_property(Property::new("repetition", cut.repetition.to_string()));
    case.add_property(Property::new("seed", cut.seed.to_string()));
    if let Some(same) = &cut.same_state_as {
        case.add_property(Property::new("same-state-as", same.as_str()));
    }
    if let Some(state) = &cut.post_cut_state {
        case.add_property(Property::new("post-cut-state", state.as_str()));
    }
    if !cut.console.is_empty() {
        case.set_system_out(console_text(&cut.console));
    }
    if !cut.warnings.is_empty() {
        let warnings: String = cut.warnings.iter().map(|w| format!("warning: {w}\n")).collect();
        case.set_system_err(warnings);
    }
    case
}

/// The text of a `<failure>` or `<error>` element: reasons, then what happened to the device.
fn details(cut: &CutResult, report_dir: &str) -> String {
    let mut text = String::new();
    for reason in &cut.reasons {
        text.push_str(&format!("{reason}\n"));
    }
    if let Some(landing) = &cut.landing {
        text.push_str(&format!("landing: {}\n", describe_landing(landing)));
    }
    for (n, landing) in cut.later_landings.iter().enumerate() {
        text.push_str(&format!("landing of cut {}: {}\n", n + 2, describe_landing(landing)));
    }
    // After a rig error nothing is known about the device: say only what was seen.
    if cut.status != Status::Error || cut.first_boot.is_some() {
        text.push_str(&format!(
            "first boot: {}\n",
            cut.first_boot.as_deref().unwrap_or("nothing booted")
        ));
    }
    if cut.status != Status::Error || cut.final_image.is_some() {
        text.push_str(&format!(
            "final image: {}\n",
            cut.final_image.as_deref().unwrap_or("none")
        ));
    }
    if cut.status != Status::Error {
        text.push_str(&format!(
            "committed at the cut: {}\n",
            if cut.committed { "yes" } else { "no" }
        ));
    }
    text.push_str(&format!("replay: {}\n", replay_command(report_dir, &cut.id)));
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ControlRun;
    use crate::testutil::{cut, header};

    #[test]
    fn counts_and_kinds_round_trip_through_xml() {
        let mut j = Journal::new(header("aa", None, &["s/1", "s/2", "s/3", "s/4"]));
        j.cuts.push(cut("s/1", Status::Pass));
        j.cuts.push(cut("s/2", Status::Fail));
        j.cuts.push(cut("s/3", Status::Error));
        let xml = junit_xml(&j, "out").unwrap();
        let back = Report::deserialize_from_str(&xml).unwrap();
        let suite = &back.test_suites[0];
        assert_eq!(suite.name.as_str(), "swap-basic");
        assert_eq!((suite.tests, suite.failures, suite.errors, suite.skipped), (4, 1, 1, 1));
        let case = &suite.test_cases[1];
        assert_eq!(case.name.as_str(), "s/2");
        assert_eq!(case.classname.as_ref().map(|c| c.as_str()), Some("s"));
    }

    #[test]
    fn absurd_wall_times_do_not_overflow() {
        let mut j = Journal::new(header("aa", None, &["s/1", "s/2"]));
        for id in ["s/1", "s/2"] {
            let mut c = cut(id, Status::Pass);
            c.wall_ms = u64::MAX;
            j.cuts.push(c);
        }
        for _ in 0..2000 {
            let mut c = cut("s/1", Status::Pass);
            c.id = format!("x/{}", j.cuts.len());
            c.wall_ms = u64::MAX;
            j.cuts.push(c);
        }
        assert!(junit_xml(&j, "out").is_ok());
    }

    #[test]
    fn a_failed_control_run_is_a_test_case() {
        let mut j = Journal::new(header("aa", None, &["s/1"]));
        j.control = Some(ControlRun {
            status: Status::Fail,
            reasons: vec!["update never completed".into()],
            phases: vec![],
            console: vec![],
            flash_ops: None,
        });
        let report = junit_report(&j, "out");
        let suite = &report.test_suites[0];
        assert_eq!((suite.tests, suite.failures, suite.skipped), (2, 1, 1));
        assert_eq!(suite.test_cases[0].name.as_str(), "control");
    }
}
