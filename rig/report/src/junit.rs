//! `junit.xml`: one test suite per campaign, one test case per cut point, so CI systems show each
//! cut point as a test. The file follows the JUnit schema Jenkins and GitLab read
//! (`tests/junit-10.xsd`): no `<properties>` inside a test case (a cut point's details go to its
//! `<system-out>`), no `skipped` count on `<testsuites>`.
//!
//! - a device failure is a `<failure>`; in a negative control (`[pass] expect = "fail"`) it is
//!   expected, and written the way pytest writes an xfail: `<skipped type="expected-failure">`;
//! - a rig error is an `<error>` (no verdict), always;
//! - a cut point planned but not run is `<skipped type="not-run">`;
//! - a control run that did not pass adds a `control` test case, so CI goes red even when no cut
//!   point could run;
//! - a negative control adds a `negative-control` test case that fails when the rig did not catch
//!   the broken firmware.
//!
//! Past [`PER_CUT_LIMIT`] cut points (where `report.html` turns to an overview) a passing test
//! case keeps its offset, repetition, seed and fingerprint but not its console: a million
//! consoles would make the file as large as the journal for lines nobody reads. The suite says
//! so in a `passing-console` property; the console stays in `results.jsonl`, and `cutpoint
//! replay` shows it again. Failing, rig-error and expected-failure test cases keep everything.

use std::borrow::Cow;
use std::io::{self, Write};
use std::time::Duration;

use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;

use crate::html::PER_CUT_LIMIT;
use crate::index::{ResultIndex, State};
use crate::journal::{partition_name, Journal};
use crate::model::{CutResult, Status};
use crate::rebuild::WriteError;
use crate::text::{console_text, replay_command};
use crate::view::{describe_landing, not_run_reason_of};

/// How a test case ended, in JUnit's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Passed,
    /// `<failure>`, `<error>` or `<skipped>`, with its `type`, `message` and text.
    Not {
        element: Element,
        ty: &'static str,
        message: String,
        text: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Element {
    Failure,
    Error,
    Skipped,
}

impl Element {
    const fn tag(self) -> &'static str {
        match self {
            Element::Failure => "failure",
            Element::Error => "error",
            Element::Skipped => "skipped",
        }
    }
}

#[derive(Debug, Clone)]
struct Case {
    name: String,
    classname: String,
    time: Option<Duration>,
    /// The test case's own `<properties>` (what the device's flash said: the booted slot).
    properties: Vec<(&'static str, String)>,
    outcome: Outcome,
    out: String,
    err: String,
}

impl Case {
    fn new(name: &str, classname: &str, outcome: Outcome) -> Self {
        Case {
            name: name.to_owned(),
            classname: classname.to_owned(),
            time: None,
            properties: Vec::new(),
            outcome,
            out: String::new(),
            err: String::new(),
        }
    }

    fn element(&self) -> Option<Element> {
        match &self.outcome {
            Outcome::Passed => None,
            Outcome::Not { element, .. } => Some(*element),
        }
    }
}

/// The test cases that come before the cut points': the control run when it did not pass, and
/// a negative control's verdict.
fn head_cases(index: &ResultIndex<'_>) -> Vec<Case> {
    let negative = index.is_negative_control();
    let mut cases = Vec::new();
    if let Some(control) = index.control.as_ref().filter(|c| c.status != Status::Pass) {
        let outcome = verdict_outcome(
            control.status,
            negative,
            &control.reasons,
            "the control run did not pass",
            control.reasons.join("\n"),
        );
        let mut case = Case::new("control", "control", outcome);
        case.out = console_text(&control.console);
        cases.push(case);
    }
    if let Some(nc) = index.negative_control() {
        let headline = nc.headline();
        let outcome = if nc.caught() {
            Outcome::Passed
        } else {
            Outcome::Not {
                element: Element::Failure,
                ty: "not-caught",
                message: "the rig did not catch this firmware".to_owned(),
                text: format!("{headline}\n"),
            }
        };
        let mut case = Case::new("negative-control", "negative-control", outcome);
        case.out = format!("{headline}\n");
        cases.push(case);
    }
    // An offset the campaign asked for that gave no cut point did not run: never a pass.
    for s in &index.header.skipped {
        let outcome = Outcome::Not {
            element: Element::Skipped,
            ty: "offset-skipped",
            message: format!("no cut point ({} offset): {}", s.kind, s.reason),
            text: format!("{}\n", s.reason),
        };
        cases.push(Case::new(&s.id, &s.phase, outcome));
    }
    // A report of a part of the plan must not read as green: CI counts this error.
    let incomplete = index.incomplete();
    if !incomplete.is_empty() {
        let text = incomplete.join("\n") + "\n";
        let outcome = Outcome::Not {
            element: Element::Error,
            ty: "incomplete",
            message: format!("the run is incomplete: {}", incomplete.join("; ")),
            text: text.clone(),
        };
        let mut case = Case::new("run-complete", "run", outcome);
        case.out = text;
        cases.push(case);
    }
    // A run in which no cut point ran tested nothing: its exit code is not 0, and a CI that
    // reads the JUnit alone must not see green (nor only skipped cases) either.
    let counts = index.counts();
    let control_failed = index.control.as_ref().is_some_and(|c| c.status != Status::Pass);
    if counts.pass + counts.fail + counts.error == 0 && incomplete.is_empty() && !control_failed {
        let text = format!(
            "no cut point ran ({} planned, {} offsets skipped): nothing about the device was tested; \
             `cutpoint plan` shows what the campaign, its filter and its partition give\n",
            counts.total(),
            index.header.skipped.len()
        );
        let outcome = Outcome::Not {
            element: Element::Error,
            ty: "nothing-tested",
            message: "no cut point ran: nothing was tested".to_owned(),
            text: text.clone(),
        };
        let mut case = Case::new("nothing-tested", "run", outcome);
        case.out = text;
        cases.push(case);
    }
    cases
}

/// The test case of one cut point (its result read back).
fn row_case(
    index: &ResultIndex<'_>,
    row: u32,
    cut: Option<&CutResult>,
    not_run: &str,
    report_dir: &str,
    passing_console: bool,
) -> Case {
    let phase = index.phase(row);
    match cut {
        Some(cut) => cut_case(cut, phase, index.is_negative_control(), report_dir, passing_console),
        None => Case::new(
            index.id(row),
            phase,
            Outcome::Not {
                element: Element::Skipped,
                ty: "not-run",
                message: not_run.to_owned(),
                text: String::new(),
            },
        ),
    }
}

/// The element a cut point's test case carries, known without reading its result.
fn row_element(state: State, negative: bool) -> Option<Element> {
    match state.status() {
        None => Some(Element::Skipped),
        Some(Status::Pass) => None,
        Some(Status::Error) => Some(Element::Error),
        Some(Status::Fail) if negative => Some(Element::Skipped),
        Some(Status::Fail) => Some(Element::Failure),
    }
}

/// A verdict that is not a pass: a rig error, a device failure, or (in a negative control) an
/// expected failure.
fn verdict_outcome(status: Status, negative: bool, reasons: &[String], fallback: &str, text: String) -> Outcome {
    let message = if reasons.is_empty() {
        fallback.to_owned()
    } else {
        reasons.join("; ")
    };
    let (element, ty, message) = match status {
        Status::Pass => return Outcome::Passed,
        Status::Error => (Element::Error, "rig-error", message),
        Status::Fail if negative => (
            Element::Skipped,
            "expected-failure",
            format!("expected failure: {message}"),
        ),
        Status::Fail => (Element::Failure, "device-failure", message),
    };
    Outcome::Not {
        element,
        ty,
        message,
        text,
    }
}

/// `passing_console`: whether a passing cut point's console is written (see the module).
fn cut_case(cut: &CutResult, phase: &str, negative: bool, report_dir: &str, passing_console: bool) -> Case {
    let fallback = if cut.status == Status::Error {
        "rig error"
    } else {
        "device failure"
    };
    let text = if cut.status == Status::Pass {
        String::new()
    } else {
        details(cut, report_dir)
    };
    let mut case = Case::new(
        &cut.id,
        phase,
        verdict_outcome(cut.status, negative, &cut.reasons, fallback, text),
    );
    case.time = Some(Duration::from_millis(cut.wall_ms));
    if let Some(b) = &cut.booted_slot {
        case.properties.push(("booted-slot", b.slot_text()));
        case.properties.push(("booted-slot-read", b.read.clone()));
        case.properties.push(("boot-record", b.record.clone()));
        for d in &b.disagreement {
            case.properties.push(("boot-record-disagreement", d.clone()));
        }
    }
    let mut out = format!(
        "offset: {}\nrepetition: {}\nseed: {}\n",
        cut.offset, cut.repetition, cut.seed
    );
    if let Some(same) = &cut.same_state_as {
        out.push_str(&format!("same flash state as: {same}\n"));
    }
    if let Some(state) = &cut.post_cut_state {
        out.push_str(&format!("post-cut flash fingerprint: {state}\n"));
    }
    if !cut.console.is_empty() && (passing_console || cut.status != Status::Pass) {
        out.push_str("console after the cut:\n");
        out.push_str(&console_text(&cut.console));
    }
    case.out = out;
    case.err = cut.warnings.iter().map(|w| format!("warning: {w}\n")).collect();
    case
}

/// The text of a `<failure>`, `<error>` or expected-failure `<skipped>`: reasons, then what
/// happened to the device.
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
    if let Some(b) = &cut.booted_slot {
        text.push_str(&format!(
            "booted slot ({}): {}; record: {}\n",
            b.read_text(),
            b.slot_text(),
            b.record
        ));
        for d in &b.disagreement {
            text.push_str(&format!("record copies disagree: {d}\n"));
        }
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

/// Seconds with three decimals, as JUnit's `time` attributes want them.
fn seconds(time: Duration) -> String {
    format!("{:.3}", time.as_secs_f64())
}

/// Text as XML 1.0 allows it: characters it forbids (most C0 controls, U+FFFE, U+FFFF) become
/// U+FFFD. Escaping `<`, `&` and quotes is the writer's job.
/// Text that has none of them (nearly all) is borrowed as it is.
fn xml_chars(s: &str) -> Cow<'_, str> {
    let forbidden =
        |c: char| matches!(c, '\u{0}'..='\u{8}' | '\u{b}' | '\u{c}' | '\u{e}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}');
    if !s.contains(forbidden) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(s.chars().map(|c| if forbidden(c) { '\u{fffd}' } else { c }).collect())
}

struct Xml<W: Write> {
    writer: Writer<W>,
}

impl<W: Write> Xml<W> {
    fn start(&mut self, tag: &str, attributes: &[(&str, &str)]) -> io::Result<()> {
        self.writer.write_event(Event::Start(element(tag, attributes)))
    }

    fn empty(&mut self, tag: &str, attributes: &[(&str, &str)]) -> io::Result<()> {
        self.writer.write_event(Event::Empty(element(tag, attributes)))
    }

    fn end(&mut self, tag: &str) -> io::Result<()> {
        self.writer.write_event(Event::End(BytesEnd::new(tag)))
    }

    /// `<tag attributes>text</tag>`, or an empty element when `text` is empty.
    fn text_element(&mut self, tag: &str, attributes: &[(&str, &str)], text: &str) -> io::Result<()> {
        if text.is_empty() {
            return self.empty(tag, attributes);
        }
        self.start(tag, attributes)?;
        let text = xml_chars(text);
        self.writer.write_event(Event::Text(BytesText::new(&text)))?;
        self.end(tag)
    }
}

fn element<'a>(tag: &'a str, attributes: &[(&str, &str)]) -> BytesStart<'a> {
    let mut start = BytesStart::new(tag);
    for (name, value) in attributes {
        start.push_attribute((*name, xml_chars(value).as_ref()));
    }
    start
}

/// The JUnit report of a journal as XML text. `report_dir` is the directory named in replay
/// commands.
pub fn junit_xml(journal: &Journal, report_dir: &str) -> io::Result<String> {
    let mut bytes = Vec::new();
    write_junit(&ResultIndex::of_journal(journal), report_dir, &mut bytes).map_err(|e| match e {
        WriteError::Io(e) => e,
        WriteError::Report(e) => io::Error::other(e),
    })?;
    String::from_utf8(bytes).map_err(io::Error::other)
}

/// Writes the JUnit report of an index to `out`, one test case at a time: each cut point's
/// result is read back as its test case is written. The suite's counts come first, from how
/// each cut point ended.
pub(crate) fn write_junit<W: Write>(index: &ResultIndex<'_>, report_dir: &str, out: W) -> Result<(), WriteError> {
    let mut cases = JunitCases::start(index, report_dir, out)?;
    for row in index.rows() {
        let cut = index.load(row)?;
        cases.row(index, row, cut.as_deref())?;
    }
    cases.finish(index)
}

/// `junit.xml` written a test case at a time by whoever reads the results back: [`write_junit`]
/// itself, or the HTML writer, which reads every row in the same order (see
/// [`crate::rebuild`]), so each result is read once for both reports.
pub(crate) struct JunitCases<'r, W: Write> {
    xml: Xml<W>,
    not_run: String,
    report_dir: &'r str,
    passing_console: bool,
}

impl<'r, W: Write> JunitCases<'r, W> {
    /// Writes everything before the cut points' test cases.
    pub(crate) fn start(index: &ResultIndex<'_>, report_dir: &'r str, out: W) -> Result<Self, WriteError> {
        start_junit(index, report_dir, out)
    }

    /// The test case of `row`, whose result (`None`: not run) is `cut`. Rows come in
    /// [`ResultIndex::rows`] order.
    pub(crate) fn row(&mut self, index: &ResultIndex<'_>, row: u32, cut: Option<&CutResult>) -> Result<(), WriteError> {
        let case = row_case(index, row, cut, &self.not_run, self.report_dir, self.passing_console);
        write_case(&mut self.xml, &case)?;
        Ok(())
    }

    /// Writes everything after the cut points' test cases.
    pub(crate) fn finish(mut self, index: &ResultIndex<'_>) -> Result<(), WriteError> {
        if !index.notes.is_empty() {
            self.xml
                .text_element("system-err", &[], &(index.notes.join("\n") + "\n"))?;
        }
        self.xml.end("testsuite")?;
        self.xml.end("testsuites")?;
        self.xml.writer.write_indent()?;
        Ok(())
    }
}

fn start_junit<'r, W: Write>(
    index: &ResultIndex<'_>,
    report_dir: &'r str,
    out: W,
) -> Result<JunitCases<'r, W>, WriteError> {
    let header = &index.header;
    let negative = index.is_negative_control();
    let head = head_cases(index);
    let mut counts = [0usize; 3];
    let elements = head
        .iter()
        .filter_map(Case::element)
        .chain(index.rows().filter_map(|r| row_element(index.state(r), negative)));
    for e in elements {
        counts[e as usize] += 1;
    }
    let count = |e: Element| counts[e as usize].to_string();
    let (tests, failures, errors, skipped) = (
        (head.len() + index.len()).to_string(),
        count(Element::Failure),
        count(Element::Error),
        count(Element::Skipped),
    );
    // Only the cut points' test cases have a time.
    let time = seconds(index.row_totals.wall_time());

    let mut properties = vec![
        ("campaign-file", header.campaign_path.clone()),
        ("campaign-sha256", header.campaign_sha256.clone()),
        ("expect", header.expect.name().to_owned()),
        ("target", header.target.clone()),
        ("seed", header.seed.to_string()),
        ("partition", partition_name(&header.partition).to_owned()),
        ("started", header.started.clone()),
    ];
    if let Some(f) = &header.filter {
        properties.push(("filter", f.clone()));
    }
    for input in &header.inputs {
        properties.push(("input", format!("{} {} sha256 {}", input.key, input.path, input.sha256)));
    }
    match &index.end {
        Some(end) => {
            properties.push(("finished", end.finished.clone()));
            properties.push(("end", end.how.to_string()));
        }
        None => properties.push(("end", "interrupted".to_owned())),
    }
    let control = index.control.as_ref().map_or("not run", |c| c.status.name());
    properties.push(("control", control.to_owned()));
    for why in index.incomplete() {
        properties.push(("incomplete", why));
    }
    let passing_console = index.len() <= PER_CUT_LIMIT;
    if !passing_console {
        properties.push((
            "passing-console",
            format!(
                "not written past {PER_CUT_LIMIT} cut points: each is in results.jsonl, \
                 and `cutpoint replay` shows it again"
            ),
        ));
    }

    let mut xml = Xml {
        writer: Writer::new_with_indent(out, b' ', 4),
    };
    xml.writer
        .write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    xml.start(
        "testsuites",
        &[
            ("name", "cutpoint"),
            ("tests", &tests),
            ("failures", &failures),
            ("errors", &errors),
            ("time", &time),
        ],
    )?;
    xml.start(
        "testsuite",
        &[
            ("name", &header.campaign),
            ("tests", &tests),
            ("failures", &failures),
            ("errors", &errors),
            ("skipped", &skipped),
            ("time", &time),
            ("timestamp", &header.started),
        ],
    )?;
    xml.start("properties", &[])?;
    for (name, value) in &properties {
        xml.empty("property", &[("name", name), ("value", value)])?;
    }
    xml.end("properties")?;
    for case in &head {
        write_case(&mut xml, case)?;
    }
    Ok(JunitCases {
        xml,
        not_run: not_run_reason_of(index.end.as_ref()),
        report_dir,
        passing_console,
    })
}

fn write_case<W: Write>(xml: &mut Xml<W>, case: &Case) -> io::Result<()> {
    let time = case.time.map(seconds);
    let mut attributes = vec![("name", case.name.as_str()), ("classname", case.classname.as_str())];
    if let Some(time) = &time {
        attributes.push(("time", time));
    }
    if case.outcome == Outcome::Passed && case.out.is_empty() && case.err.is_empty() && case.properties.is_empty() {
        return xml.empty("testcase", &attributes);
    }
    xml.start("testcase", &attributes)?;
    if !case.properties.is_empty() {
        xml.start("properties", &[])?;
        for (name, value) in &case.properties {
            xml.empty("property", &[("name", name), ("value", value)])?;
        }
        xml.end("properties")?;
    }
    if let Outcome::Not {
        element,
        ty,
        message,
        text,
    } = &case.outcome
    {
        xml.text_element(element.tag(), &[("type", ty), ("message", message)], text)?;
    }
    if !case.out.is_empty() {
        xml.text_element("system-out", &[], &case.out)?;
    }
    if !case.err.is_empty() {
        xml.text_element("system-err", &[], &case.err)?;
    }
    xml.end("testcase")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ControlRun, Expect};
    use crate::testutil::{cut, header};

    /// The journal of a run that ended as `how` says.
    fn ended(mut j: Journal, how: &str) -> Journal {
        j.end = Some(crate::model::JournalEnd {
            finished: "2025-01-01T01:00:00Z".into(),
            how: how.into(),
        });
        j
    }

    fn counts(xml: &str) -> (usize, usize, usize, usize) {
        let report = quick_junit::Report::deserialize_from_str(xml).unwrap();
        let suite = &report.test_suites[0];
        (suite.tests, suite.failures, suite.errors, suite.skipped)
    }

    /// Consoles of passing test cases: every one up to the overview threshold, none past it
    /// (the suite says so); a failing test case keeps its console either way.
    #[test]
    fn passing_consoles_are_left_out_past_the_overview_threshold() {
        let console = |id: &str, status| {
            let mut c = cut(id, status);
            c.console = vec![crate::model::LogLine {
                t_us: 5,
                text: format!("boot: console of {id}"),
            }];
            c
        };
        for (n, past) in [(PER_CUT_LIMIT, false), (PER_CUT_LIMIT + 1, true)] {
            let ids: Vec<String> = (0..n).map(|i| format!("s/{i}")).collect();
            let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
            let mut j = Journal::new(header("aa", None, &refs));
            j.cuts.push(console("s/0", Status::Fail));
            j.cuts.extend(ids[1..].iter().map(|id| console(id, Status::Pass)));
            let xml = junit_xml(&ended(j, "complete"), "out").unwrap();
            assert_eq!(counts(&xml), (n, 1, 0, 0));
            assert!(
                xml.contains("boot: console of s/0"),
                "the failing case keeps its console"
            );
            assert_eq!(xml.contains("boot: console of s/1\n"), !past, "{n} cut points");
            assert_eq!(xml.contains("name=\"passing-console\""), past, "{n} cut points");
            // The passing case still says where it was cut.
            assert!(xml.contains("offset: 1\nrepetition: 1\nseed: 99\n"), "{n} cut points");
        }
    }

    #[test]
    fn counts_and_kinds_round_trip_through_xml() {
        let mut j = Journal::new(header("aa", None, &["s/1", "s/2", "s/3", "s/4"]));
        j.cuts.push(cut("s/1", Status::Pass));
        j.cuts.push(cut("s/2", Status::Fail));
        j.cuts.push(cut("s/3", Status::Error));
        j.control = Some(crate::testutil::failed_control());
        let xml = junit_xml(&ended(j, "stopped: the control run did not update cleanly"), "out").unwrap();
        // The control run's failure is a case of its own.
        assert_eq!(counts(&xml), (5, 2, 1, 1));
        let back = quick_junit::Report::deserialize_from_str(&xml).unwrap();
        let case = back.test_suites[0]
            .test_cases
            .iter()
            .find(|c| c.name.as_str() == "s/2")
            .unwrap();
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
        let xml = junit_xml(&j, "out").unwrap();
        assert!(xml.contains(" time=\"18446744073709552.000\""), "{xml}");
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
        let xml = junit_xml(&ended(j, "stopped: the control run did not update cleanly"), "out").unwrap();
        assert_eq!(counts(&xml), (2, 1, 0, 1));
        assert!(
            xml.contains("<testcase name=\"control\" classname=\"control\">"),
            "{xml}"
        );
    }

    #[test]
    fn expected_failures_are_skipped_and_the_negative_control_passes() {
        let mut h = header("aa", None, &["s/1", "s/2", "s/3"]);
        h.expect = Expect::Fail;
        let mut j = Journal::new(h);
        j.cuts.push(cut("s/1", Status::Fail));
        j.cuts.push(cut("s/2", Status::Error));
        j.cuts.push(cut("s/3", Status::Pass));
        let xml = junit_xml(&ended(j, "complete"), "out").unwrap();
        // negative-control + 3 cut points; the failure is skipped, the rig error stays an error.
        assert_eq!(counts(&xml), (4, 0, 1, 1));
        assert!(
            xml.contains("<skipped type=\"expected-failure\" message=\"expected failure: bricked\">"),
            "{xml}"
        );
        assert!(xml.contains("<error type=\"rig-error\""), "{xml}");
        assert!(
            xml.contains("<testcase name=\"negative-control\" classname=\"negative-control\">"),
            "{xml}"
        );
        assert!(!xml.contains("<failure"), "{xml}");
    }

    #[test]
    fn a_negative_control_that_caught_nothing_fails() {
        let mut h = header("aa", None, &["s/1"]);
        h.expect = Expect::Fail;
        let mut j = Journal::new(h.clone());
        j.cuts.push(cut("s/1", Status::Pass));
        let xml = junit_xml(&ended(j, "complete"), "out").unwrap();
        assert_eq!(counts(&xml), (2, 1, 0, 0));
        assert!(
            xml.contains("<failure type=\"not-caught\" message=\"the rig did not catch this firmware\">"),
            "{xml}"
        );

        // Nothing ran at all: no catch either.
        let xml = junit_xml(&Journal::new(h), "out").unwrap();
        assert_eq!(counts(&xml), (3, 1, 1, 1), "and it did not finish: an error too");
        assert!(xml.contains("no cut point ran"), "{xml}");
    }

    #[test]
    fn an_incomplete_run_is_an_error_ci_counts() {
        let mut j = Journal::new(header("aa", None, &["s/1", "s/2"]));
        j.cuts.push(cut("s/1", Status::Pass));
        let xml = junit_xml(&ended(j.clone(), "cancelled"), "out").unwrap();
        assert_eq!(counts(&xml), (3, 0, 1, 1));
        assert!(
            xml.contains("<error type=\"incomplete\" message=\"the run is incomplete: the run was cancelled"),
            "{xml}"
        );
        j.cuts.push(cut("s/2", Status::Pass));
        let xml = junit_xml(&ended(j, "complete"), "out").unwrap();
        assert!(!xml.contains("type=\"incomplete\""), "{xml}");
    }

    #[test]
    fn a_complete_run_in_which_no_cut_point_ran_is_an_error_ci_counts() {
        // A filter that matched nothing: an empty plan, complete.
        let xml = junit_xml(&ended(Journal::new(header("aa", None, &[])), "complete"), "out").unwrap();
        assert_eq!(counts(&xml), (1, 0, 1, 0), "{xml}");
        assert!(
            xml.contains("<error type=\"nothing-tested\" message=\"no cut point ran: nothing was tested\">"),
            "{xml}"
        );
        // Every offset skipped: skipped cases only, and the error.
        let mut h = header("aa", None, &[]);
        h.skipped = vec![crate::model::SkippedOffset {
            id: "swap/ms-20000".into(),
            phase: "swap".into(),
            kind: "time".into(),
            reason: "past the phase's end".into(),
        }];
        let xml = junit_xml(&ended(Journal::new(h), "complete"), "out").unwrap();
        assert_eq!(counts(&xml), (2, 0, 1, 1), "{xml}");
        assert!(xml.contains("(0 planned, 1 offsets skipped)"), "{xml}");
        // One cut point that ran: no such case.
        let mut j = Journal::new(header("aa", None, &["s/1"]));
        j.cuts.push(cut("s/1", Status::Pass));
        let xml = junit_xml(&ended(j, "complete"), "out").unwrap();
        assert!(!xml.contains("nothing-tested"), "{xml}");
    }

    /// Clean text is borrowed, not copied; every other text maps character by character as
    /// before (the three allowed controls kept, the other C0 controls, U+FFFE and U+FFFF
    /// replaced).
    #[test]
    fn xml_chars_borrows_clean_text_and_replaces_each_forbidden_character() {
        let clean = "boot: swap-done \t\r\n é ✓ \u{fffd} \u{fffd}";
        assert!(matches!(xml_chars(clean), Cow::Borrowed(s) if s == clean));
        for c in (0u32..0x110000).filter_map(char::from_u32) {
            let text = format!("a{c}b");
            let expected = match c {
                '\t' | '\n' | '\r' => c,
                '\u{0}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}' => '\u{fffd}',
                c => c,
            };
            let got = xml_chars(&text);
            assert_eq!(got, format!("a{expected}b"), "U+{:04X}", c as u32);
            assert_eq!(matches!(got, Cow::Borrowed(_)), expected == c, "U+{:04X}", c as u32);
        }
    }

    #[test]
    fn forbidden_characters_do_not_reach_the_xml() {
        let mut j = Journal::new(header("aa", None, &["s/1"]));
        let mut c = cut("s/1", Status::Fail);
        c.reasons = vec!["bad \u{1b}[31mred\u{0} \"q\" <b>".into()];
        j.cuts.push(c);
        let xml = junit_xml(&j, "out").unwrap();
        assert!(!xml.contains('\u{1b}') && !xml.contains('\u{0}'), "{xml}");
        assert!(
            xml.contains("message=\"bad \u{fffd}[31mred\u{fffd} &quot;q&quot; &lt;b&gt;\""),
            "{xml}"
        );
    }
}
