//! `junit.xml` follows the JUnit schema Jenkins and GitLab read (`tests/junit-10.xsd`, from
//! Jenkins' xUnit plugin). Two checks: `xmllint --schema` when it is installed (CI installs
//! libxml2-utils), and always a built-in check of every element, attribute and count against
//! the schema, so the test cannot pass silently where xmllint is missing.

mod fixture;

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

use cutpoint_report::junit_xml;
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use fixture::{fixture, negative_control, REPORT_DIR};

/// An element the reports may write: its allowed parents, its allowed and its required
/// attributes. The attributes are those that both Jenkins' junit-10.xsd and the wider
/// "jenkins-junit.xsd" variant allow.
struct Rule {
    name: &'static str,
    parents: &'static [&'static str],
    allowed: &'static [&'static str],
    required: &'static [&'static str],
}

const fn rule(
    name: &'static str,
    parents: &'static [&'static str],
    allowed: &'static [&'static str],
    required: &'static [&'static str],
) -> Rule {
    Rule {
        name,
        parents,
        allowed,
        required,
    }
}

const ELEMENTS: &[Rule] = &[
    rule("testsuites", &[], &["name", "time", "tests", "failures", "errors"], &[]),
    rule(
        "testsuite",
        &["testsuites"],
        &[
            "name",
            "tests",
            "failures",
            "errors",
            "time",
            "skipped",
            "timestamp",
            "hostname",
            "id",
            "package",
            "file",
            "log",
            "url",
            "version",
        ],
        &["name", "tests", "failures", "errors"],
    ),
    rule("properties", &["testsuite"], &[], &[]),
    rule("property", &["properties"], &["name", "value"], &["name", "value"]),
    rule("testcase", &["testsuite"], &["name", "time", "classname"], &["name"]),
    rule("skipped", &["testcase"], &["type", "message"], &[]),
    rule("error", &["testcase"], &["type", "message"], &[]),
    rule("failure", &["testcase"], &["type", "message"], &[]),
    rule("system-out", &["testcase", "testsuite"], &[], &[]),
    rule("system-err", &["testcase", "testsuite"], &[], &[]),
];

/// `time` as the schema's SUREFIRE_TIME allows it: digits, then at most three decimals.
fn is_surefire_time(t: &str) -> bool {
    let (whole, decimals) = t.split_once('.').unwrap_or((t, ""));
    !whole.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && decimals.len() <= 3
        && decimals.bytes().all(|b| b.is_ascii_digit())
}

/// What a test suite or test case holds, for the count and order checks.
#[derive(Default)]
struct Seen {
    attributes: HashMap<String, String>,
    children: Vec<String>,
}

/// The built-in check: structure, attributes, order within a test case, and the suite's counts.
/// Returns one message per problem.
fn check_against_schema(xml: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let mut reader = Reader::from_str(xml);
    let mut stack: Vec<(String, Seen)> = Vec::new();
    let mut suites: Vec<Seen> = Vec::new();
    let mut cases: Vec<Seen> = Vec::new();
    let mut root_seen = false;
    loop {
        let event = match reader.read_event() {
            Ok(e) => e,
            Err(e) => {
                problems.push(format!("not well-formed XML: {e}"));
                break;
            }
        };
        let (start, empty) = match &event {
            Event::Start(s) => (Some(s.clone()), false),
            Event::Empty(s) => (Some(s.clone()), true),
            _ => (None, false),
        };
        if let Some(start) = start {
            let name = String::from_utf8_lossy(start.name().as_ref()).into_owned();
            let parent = stack.last().map(|(n, _)| n.as_str());
            let seen = check_element(&start, &name, parent, &mut problems);
            if parent.is_none() {
                if root_seen || name != "testsuites" {
                    problems.push(format!("<{name}> at the top: only one <testsuites> is allowed"));
                }
                root_seen = true;
            }
            if let Some((_, p)) = stack.last_mut() {
                p.children.push(name.clone());
            }
            if empty {
                finish(&name, seen, &mut suites, &mut cases);
            } else {
                stack.push((name, seen));
            }
            continue;
        }
        match event {
            Event::End(_) => {
                if let Some((name, seen)) = stack.pop() {
                    finish(&name, seen, &mut suites, &mut cases);
                }
            }
            Event::Text(t) if !t.iter().all(u8::is_ascii_whitespace) => {
                let inside = stack.last().map_or("", |(n, _)| n.as_str());
                if !matches!(inside, "skipped" | "error" | "failure" | "system-out" | "system-err") {
                    problems.push(format!("text inside <{inside}>, which holds no text"));
                }
            }
            Event::CData(_) | Event::PI(_) | Event::DocType(_) => {
                problems.push("unexpected CDATA, processing instruction or doctype".to_owned())
            }
            Event::Eof => break,
            _ => {}
        }
    }
    for case in &cases {
        check_case(case, &mut problems);
    }
    for suite in &suites {
        let cases_here = suite.children.iter().filter(|c| *c == "testcase").count();
        let count = |kind: &str| cases.iter().filter(|c| c.children.iter().any(|k| k == kind)).count();
        for (attribute, want) in [
            ("tests", cases_here),
            ("failures", count("failure")),
            ("errors", count("error")),
            ("skipped", count("skipped")),
        ] {
            let got = suite.attributes.get(attribute).map(String::as_str);
            if got != Some(want.to_string().as_str()) {
                problems.push(format!("<testsuite {attribute}={got:?}> but it holds {want}"));
            }
        }
        let order: Vec<&str> = suite.children.iter().map(String::as_str).collect();
        let mut rank = order.iter().map(|c| match *c {
            "properties" => 0,
            "testcase" => 1,
            "system-out" => 2,
            _ => 3,
        });
        let mut last = 0;
        if !rank.all(|r| std::mem::replace(&mut last, r) <= r) {
            problems.push(format!("<testsuite> children out of order: {order:?}"));
        }
    }
    if !stack.is_empty() {
        problems.push("unclosed elements at the end".to_owned());
    }
    problems
}

fn check_element(start: &BytesStart<'_>, name: &str, parent: Option<&str>, problems: &mut Vec<String>) -> Seen {
    let mut seen = Seen::default();
    for attribute in start.attributes() {
        match attribute {
            Ok(a) => {
                let key = String::from_utf8_lossy(a.key.as_ref()).into_owned();
                let value = a
                    .normalized_value(quick_xml::XmlVersion::default())
                    .map(|v| v.into_owned())
                    .unwrap_or_else(|e| {
                        problems.push(format!("<{name} {key}>: bad value: {e}"));
                        String::new()
                    });
                seen.attributes.insert(key, value);
            }
            Err(e) => problems.push(format!("<{name}>: bad attribute: {e}")),
        }
    }
    let Some(Rule {
        parents,
        allowed,
        required,
        ..
    }) = ELEMENTS.iter().find(|r| r.name == name)
    else {
        problems.push(format!("<{name}> is not in the schema"));
        return seen;
    };
    match parent {
        Some(p) if !parents.contains(&p) => problems.push(format!("<{name}> inside <{p}>")),
        None if !parents.is_empty() => problems.push(format!("<{name}> at the top")),
        _ => {}
    }
    for key in seen.attributes.keys() {
        if !allowed.contains(&key.as_str()) {
            problems.push(format!(
                "<{name}> has attribute `{key}`, which the schema does not allow"
            ));
        }
    }
    for key in *required {
        if !seen.attributes.contains_key(*key) {
            problems.push(format!("<{name}> lacks the required attribute `{key}`"));
        }
    }
    if let Some(time) = seen.attributes.get("time") {
        if !is_surefire_time(time) {
            problems.push(format!("<{name} time=\"{time}\">: not a SUREFIRE_TIME"));
        }
    }
    seen
}

fn finish(name: &str, seen: Seen, suites: &mut Vec<Seen>, cases: &mut Vec<Seen>) {
    match name {
        "testsuite" => suites.push(seen),
        "testcase" => cases.push(seen),
        _ => {}
    }
}

/// A test case: at most one verdict element, before its outputs; one of each output.
fn check_case(case: &Seen, problems: &mut Vec<String>) {
    let name = case.attributes.get("name").map_or("?", String::as_str);
    let kids: Vec<&str> = case.children.iter().map(String::as_str).collect();
    let verdicts = kids
        .iter()
        .filter(|k| matches!(**k, "skipped" | "error" | "failure"))
        .count();
    if verdicts > 1 {
        problems.push(format!("testcase {name}: {verdicts} verdict elements: {kids:?}"));
    }
    let rank = |k: &str| match k {
        "skipped" | "error" | "failure" => 0,
        "system-out" => 1,
        _ => 2,
    };
    if kids.windows(2).any(|w| rank(w[0]) >= rank(w[1])) {
        problems.push(format!("testcase {name}: children out of order or repeated: {kids:?}"));
    }
}

/// `xmllint --schema`, when installed: `None` when it is not.
fn xmllint(xml: &str, name: &str) -> Option<Result<(), String>> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(name);
    std::fs::write(&file, xml).unwrap();
    let xsd = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/junit-10.xsd");
    let out = Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(&xsd)
        .arg(&file)
        .output()
        .ok()?;
    Some(if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    })
}

fn assert_valid(xml: &str, name: &str) {
    let problems = check_against_schema(xml);
    assert!(problems.is_empty(), "{name}: {problems:#?}\n{xml}");
    match xmllint(xml, name) {
        Some(result) => {
            if let Err(e) = result {
                panic!("{name}: xmllint --schema junit-10.xsd refused it:\n{e}\n{xml}");
            }
        }
        None => eprintln!("xmllint is not installed (libxml2-utils): only the built-in schema check ran"),
    }
}

#[test]
fn junit_of_every_kind_of_cut_point_follows_the_schema() {
    // pass, pass with warnings, fail, rig error, not run...
    let xml = junit_xml(&fixture(), REPORT_DIR).unwrap();
    for needed in [
        "<failure type=\"device-failure\"",
        "<error type=\"rig-error\"",
        "<skipped type=\"not-run\"",
        "<system-err>warning: ",
    ] {
        assert!(xml.contains(needed), "{needed}\n{xml}");
    }
    assert_valid(&xml, "junit.xml");
    // ...and expected failures of a negative control.
    let xml = junit_xml(&negative_control(), REPORT_DIR).unwrap();
    assert!(xml.contains("<skipped type=\"expected-failure\""), "{xml}");
    assert!(xml.contains("<testcase name=\"negative-control\""), "{xml}");
    assert_valid(&xml, "negative-control.xml");
}

#[test]
fn the_built_in_check_refuses_what_the_schema_refuses() {
    // What the reports used to write: properties inside a test case, `skipped` on testsuites.
    let old = r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="cutpoint" tests="1" skipped="0" failures="0" errors="0">
    <testsuite name="s" tests="1" skipped="0" errors="0" failures="0">
        <testcase name="a" classname="s" time="0.840">
            <properties>
                <property name="seed" value="1"/>
            </properties>
        </testcase>
    </testsuite>
</testsuites>
"#;
    let problems = check_against_schema(old);
    assert!(
        problems
            .iter()
            .any(|p| p.contains("<testsuites> has attribute `skipped`")),
        "{problems:?}"
    );
    assert!(
        problems.iter().any(|p| p.contains("<properties> inside <testcase>")),
        "{problems:?}"
    );
    if let Some(result) = xmllint(old, "old.xml") {
        assert!(result.is_err(), "xmllint accepted the old layout");
    }

    let miscounted = r#"<testsuites><testsuite name="s" tests="2" failures="0" errors="0" time="1.5555"><testcase name="a"><failure/><skipped/></testcase></testsuite></testsuites>"#;
    let problems = check_against_schema(miscounted);
    for expected in [
        "<testsuite tests=Some(\"2\")> but it holds 1",
        "<testsuite failures=Some(\"0\")> but it holds 1",
        "not a SUREFIRE_TIME",
        "testcase a: 2 verdict elements",
    ] {
        assert!(
            problems.iter().any(|p| p.contains(expected)),
            "{expected}: {problems:?}"
        );
    }
}
