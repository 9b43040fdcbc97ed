//! The reports built from a fixed journal: a few pass/fail/error cut points over three phases, one
//! planned cut point that did not run, and console lines full of characters that need escaping.

use cutpoint_report::{
    junit_xml, read_journal, report_html, summary_markdown, write_reports, ControlRun, CutResult, Journal, JournalEnd,
    JournalHeader, JournalWriter, Landing, LogLine, PhaseSpan, PlannedCut, SlotState, Status,
};

const REPORT_DIR: &str = "reports/nightly";

fn log(lines: &[(u64, &str)]) -> Vec<LogLine> {
    lines
        .iter()
        .map(|&(t_us, text)| LogLine {
            t_us,
            text: text.to_owned(),
        })
        .collect()
}

fn slot(slot: &str, version: Option<&str>, hash: Option<&str>, validity: &str, trailer: &str) -> SlotState {
    SlotState {
        slot: slot.to_owned(),
        version: version.map(str::to_owned),
        hash: hash.map(str::to_owned),
        validity: validity.to_owned(),
        trailer: trailer.to_owned(),
    }
}

fn good_slots() -> Vec<SlotState> {
    vec![
        slot(
            "primary",
            Some("1.1.0+0"),
            Some("9c41e0aa"),
            "valid",
            "magic=good image_ok=set copy_done=set swap=none",
        ),
        slot(
            "secondary",
            Some("1.0.0+0"),
            Some("52d8f317"),
            "valid",
            "magic=unset image_ok=unset copy_done=unset",
        ),
    ]
}

fn passing(id: &str, requested_us: u64, op: &str) -> CutResult {
    let (phase, offset) = id.split_once('/').unwrap();
    CutResult {
        id: id.to_owned(),
        phase: phase.to_owned(),
        offset: offset.to_owned(),
        repetition: 1,
        status: Status::Pass,
        reasons: vec![],
        warnings: vec![],
        seed: 0x9e37_79b9_7f4a_7c15 ^ requested_us,
        landing: Some(Landing {
            fault: "power-cut".to_owned(),
            requested_us: Some(requested_us),
            actual_us: requested_us + 3,
            op: Some(op.to_owned()),
            op_point: None,
            torn: None,
        }),
        later_landings: vec![],
        first_boot: Some("1.0.0+0".to_owned()),
        final_image: Some("1.1.0+0".to_owned()),
        committed: false,
        slots: good_slots(),
        console: log(&[
            (120, "[BOOT] mcuboot v2.1.0"),
            (2_400, "I: swap type: test"),
            (310_000, "app 1.1.0+0 up"),
        ]),
        wall_ms: 840,
        same_state_as: None,
        post_cut_state: None,
    }
}

fn planned(id: &str, index: u64) -> PlannedCut {
    let (phase, offset) = id.split_once('/').unwrap();
    PlannedCut {
        id: id.to_owned(),
        phase: phase.to_owned(),
        offset: offset.to_owned(),
        index: Some(index),
    }
}

fn fixture() -> Journal {
    let ids = [
        "download/byte-0",
        "download/byte-4096",
        "download/byte-8192",
        "swap/sector-0+0.00",
        "swap/sector-1+0.50",
        "swap/sector-2+1.00",
        "confirm/write-image-ok",
        "confirm/reboot+2",
    ];
    let header = JournalHeader {
        format: 1,
        campaign: "swap-basic".to_owned(),
        campaign_path: "campaigns/swap-basic.toml".to_owned(),
        campaign_sha256: "3f9a0c5e1b7d2468ace013579bdf2468ace013579bdf2468ace013579bdf2468".to_owned(),
        target: "sim:nrf52840-dk".to_owned(),
        seed: 20_250_601,
        partition: None,
        filter: None,
        planned: ids.iter().zip(0..).map(|(id, i)| planned(id, i)).collect(),
        started: "2025-06-01T02:00:00Z".to_owned(),
    };
    let control = ControlRun {
        status: Status::Pass,
        reasons: vec![],
        phases: vec![
            PhaseSpan {
                name: "download".to_owned(),
                start_us: 1_000,
                end_us: 40_000,
            },
            PhaseSpan {
                name: "swap".to_owned(),
                start_us: 50_000,
                end_us: 290_000,
            },
            PhaseSpan {
                name: "confirm".to_owned(),
                start_us: 300_000,
                end_us: 320_000,
            },
        ],
        console: log(&[(120, "[BOOT] mcuboot v2.1.0"), (310_000, "app 1.1.0+0 up")]),
        flash_ops: Some(412),
    };

    let mut warned = passing("download/byte-4096", 12_000, "#40 program 0x21000+256");
    warned.warnings = vec!["secondary slot left half-written; the next download erases it".to_owned()];
    let mut same = passing("download/byte-8192", 23_000, "#72 program 0x22000+256");
    same.same_state_as = Some("download/byte-4096".to_owned());

    let mut failed = passing("swap/sector-1+0.50", 52_000, "#123 erase 0x4f000+4096");
    failed.status = Status::Fail;
    failed.reasons = vec![
        "nothing booted within 5 s of the cut".to_owned(),
        "primary slot: hash-mismatch".to_owned(),
    ];
    if let Some(landing) = &mut failed.landing {
        landing.torn = Some("erase torn: 61% of the sector".to_owned());
    }
    // The second cut of a double cut, aimed into the recovery from the first.
    failed.later_landings = vec![Landing {
        fault: "power-cut".to_owned(),
        requested_us: None,
        actual_us: 1_812,
        op: Some("#17 program 0x4f000+8".to_owned()),
        op_point: None,
        torn: Some("program torn: some (3 of 11 bits), 1 weak".to_owned()),
    }];
    failed.first_boot = None;
    failed.post_cut_state = Some("4b1d9c07e2a3f580".to_owned());
    failed.final_image = None;
    failed.slots = vec![
        slot(
            "primary",
            Some("1.1.0+0"),
            Some("00c0ffee"),
            "hash-mismatch",
            "magic=good image_ok=unset swap=test",
        ),
        slot(
            "secondary",
            Some("1.0.0+0"),
            Some("52d8f317"),
            "valid",
            "magic=good image_ok=unset copy_done=unset",
        ),
    ];
    failed.console = log(&[
        (118, "[BOOT] mcuboot v2.1.0 <primary> & \"secondary\""),
        (2_390, "E: image hash mismatch </script><script>alert(1)</script>"),
        (2_391, "panic: assert `x < y && z` at swap.c:211 | halting"),
    ]);

    let errored = CutResult {
        id: "swap/sector-2+1.00".to_owned(),
        phase: "swap".to_owned(),
        offset: "sector-2+1.00".to_owned(),
        repetition: 1,
        status: Status::Error,
        reasons: vec!["backend timeout: no console for 10 s (probe lost?)".to_owned()],
        warnings: vec![],
        seed: 77,
        landing: None,
        later_landings: vec![],
        first_boot: None,
        final_image: None,
        committed: false,
        slots: vec![],
        console: vec![],
        wall_ms: 10_012,
        same_state_as: None,
        post_cut_state: None,
    };

    let mut committed = passing("confirm/write-image-ok", 305_000, "#401 program 0x7f000+8");
    committed.committed = true;
    committed.first_boot = Some("1.1.0+0".to_owned());

    let mut journal = Journal::new(header);
    journal.control = Some(control);
    journal.cuts = vec![
        passing("download/byte-0", 1_000, "#12 program 0x20000+256"),
        warned,
        same,
        passing("swap/sector-0+0.00", 50_100, "#100 erase 0x40000+4096"),
        failed,
        errored,
        committed,
    ];
    journal.end = Some(JournalEnd {
        finished: "2025-06-01T02:41:07Z".to_owned(),
        how: "cancelled".to_owned(),
    });
    journal
}

#[test]
fn fixture_survives_the_journal_file() {
    let dir = tempfile::tempdir().unwrap();
    let journal = fixture();
    let mut writer = JournalWriter::create(dir.path(), &journal.header).unwrap();
    writer.append_control(journal.control.as_ref().unwrap()).unwrap();
    for cut in &journal.cuts {
        writer.append_cut(cut).unwrap();
    }
    writer.append_end(journal.end.as_ref().unwrap()).unwrap();
    let back = read_journal(dir.path()).unwrap();
    assert_eq!(back.header, journal.header);
    assert_eq!(back.control, journal.control);
    assert_eq!(back.cuts, journal.cuts);
    assert_eq!(back.end, journal.end);
    assert!(back.notes.is_empty());
}

#[test]
fn junit_snapshot() {
    let xml = junit_xml(&fixture(), REPORT_DIR).unwrap();
    insta::assert_snapshot!("junit", xml);
}

#[test]
fn junit_is_valid_and_counts_right() {
    let xml = junit_xml(&fixture(), REPORT_DIR).unwrap();
    let report = quick_junit::Report::deserialize_from_str(&xml).unwrap();
    let suite = &report.test_suites[0];
    assert_eq!(suite.name.as_str(), "swap-basic");
    assert_eq!((suite.tests, suite.failures, suite.errors, suite.skipped), (8, 1, 1, 1));
    let failed = suite
        .test_cases
        .iter()
        .find(|c| c.name.as_str() == "swap/sector-1+0.50")
        .unwrap();
    assert_eq!(failed.classname.as_ref().unwrap().as_str(), "swap");
    let out = failed.system_out.as_ref().unwrap().as_str();
    assert!(
        out.contains("[2390] E: image hash mismatch </script><script>alert(1)</script>\n"),
        "{out}"
    );
    assert!(!xml.contains("<script>"), "console text is escaped in the XML");
}

#[test]
fn summary_snapshot() {
    insta::assert_snapshot!("summary", summary_markdown(&fixture(), REPORT_DIR));
}

#[test]
fn html_snapshot() {
    insta::assert_snapshot!("report_html", report_html(&fixture(), REPORT_DIR).unwrap());
}

#[test]
fn html_escapes_console_lines() {
    let page = report_html(&fixture(), REPORT_DIR).unwrap();
    // Only the JSON blob and the script are closed; the console's `</script>` is inert.
    assert_eq!(page.matches("</script>").count(), 2);
    assert!(!page.contains("<script>alert"));
    assert!(!page.contains("<primary>"));

    let start = page.find("<script type=\"application/json\" id=\"cut-data\">").unwrap();
    let blob_start = start + page[start..].find('>').unwrap() + 1;
    let blob_len = page[blob_start..].find("</script>").unwrap();
    let blob = &page[blob_start..blob_start + blob_len];
    assert!(!blob.contains('<'), "no raw `<` inside the JSON blob");
    let cuts: serde_json::Value = serde_json::from_str(blob).unwrap();
    assert_eq!(cuts.as_array().unwrap().len(), 8);
    assert_eq!(cuts[4]["id"], "swap/sector-1+0.50");
    assert_eq!(
        cuts[4]["console"][1][1],
        "E: image hash mismatch </script><script>alert(1)</script>"
    );
    assert_eq!(
        cuts[4]["console"][0][1],
        "[BOOT] mcuboot v2.1.0 <primary> & \"secondary\""
    );
    assert_eq!(cuts[4]["replay"], "cutpoint replay reports/nightly swap/sector-1+0.50");
    assert_eq!(cuts[7]["status"], "not-run");
    assert_eq!(
        cuts[0]["seed"],
        (0x9e37_79b9_7f4a_7c15_u64 ^ 1_000).to_string(),
        "seeds are exact strings"
    );
}

#[test]
fn html_for_5000_cut_points_stays_small() {
    let mut journal = fixture();
    let template = journal.cuts[0].clone();
    let phases = ["download", "swap", "confirm", "revert", "erase"];
    journal.header.planned.clear();
    journal.cuts.clear();
    for i in 0..5_000u64 {
        let phase = phases[(i % 5) as usize];
        let id = format!("{phase}/step-{}", i / 5);
        journal.header.planned.push(planned(&id, i));
        if i >= 4_990 {
            continue; // a few not run
        }
        let mut cut = template.clone();
        cut.id = id;
        cut.phase = phase.to_owned();
        cut.offset = format!("step-{}", i / 5);
        cut.seed = i;
        cut.console = (0..8)
            .map(|k| LogLine {
                t_us: 100 + k * 1_000,
                text: format!("I: boot stage {k} <ok> & done"),
            })
            .collect();
        if i % 97 == 0 {
            cut.status = Status::Fail;
            cut.reasons = vec!["primary slot: bad-signature".to_owned()];
        }
        journal.cuts.push(cut);
    }
    let page = report_html(&journal, REPORT_DIR).unwrap();
    let per_cut = page.len() / 5_000;
    println!(
        "report.html for 5000 cut points: {} bytes ({per_cut} bytes per cut point)",
        page.len()
    );
    assert_eq!(
        page.matches(" data-i=\"").count() - page.matches("<li><a href").count(),
        5_000
    );
    assert_eq!(
        page.matches("id=\"detail\"").count(),
        1,
        "one details panel for all cut points"
    );
    assert!(page.len() < 12 * 1024 * 1024, "{} bytes", page.len());
}

#[test]
fn write_reports_writes_the_report_directory() {
    let dir = tempfile::tempdir().unwrap();
    let summary = write_reports(dir.path(), &fixture()).unwrap();
    assert_eq!(
        (
            summary.counts.pass,
            summary.counts.fail,
            summary.counts.error,
            summary.counts.not_run
        ),
        (5, 1, 1, 1)
    );
    assert_eq!(
        summary.phases.iter().map(|(p, _)| p.as_str()).collect::<Vec<_>>(),
        ["download", "swap", "confirm"]
    );
    assert_eq!(summary.artifact_dirs, 7);
    assert!(summary.has_failures() && summary.has_rig_errors() && !summary.all_passed());
    for file in &summary.files {
        assert!(file.is_file(), "{}", file.display());
    }
    let cut_dir = cutpoint_report::cut_dir(dir.path(), "swap/sector-1+0.50");
    let console = std::fs::read_to_string(cut_dir.join("console.log")).unwrap();
    assert!(console.contains("[2390] E: image hash mismatch </script>"));
}
