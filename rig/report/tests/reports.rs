//! The reports built from fixed journals (see `fixture/`): snapshots, escaping, negative controls,
//! a long failing run.

mod fixture;

use cutpoint_report::{
    junit_xml, read_journal, report_html, summary_markdown, write_reports, JournalWriter, LogLine, Status,
};

use fixture::{failing_run, fixture, negative_control, planned, REPORT_DIR};

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
    // The fixture run was cancelled: an error testcase says so, so CI cannot read it as green.
    assert_eq!((suite.tests, suite.failures, suite.errors, suite.skipped), (9, 1, 2, 1));
    let warned = suite
        .test_cases
        .iter()
        .find(|c| c.name.as_str() == "download/byte-8192")
        .unwrap();
    let out = warned.system_out.as_ref().unwrap().as_str();
    assert!(
        out.starts_with(
            "offset: byte-8192\nrepetition: 1\nseed: 11400714819323176397\nsame flash state as: download/byte-4096\n"
        ),
        "a cut point's details are in its system-out: {out}"
    );
    assert!(warned.properties.is_empty());
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
fn junit_of_a_negative_control_counts_expected_failures_apart() {
    let xml = junit_xml(&negative_control(), REPORT_DIR).unwrap();
    let report = quick_junit::Report::deserialize_from_str(&xml).unwrap();
    let suite = &report.test_suites[0];
    // The negative-control case + 8 cut points; the failure is expected (skipped), the rig error
    // stays an error.
    assert_eq!(
        (suite.tests, suite.failures, suite.errors, suite.skipped),
        (10, 0, 2, 2)
    );
    assert_eq!(suite.test_cases[0].name.as_str(), "negative-control");
    assert!(matches!(
        suite.test_cases[0].status,
        quick_junit::TestCaseStatus::Success { .. }
    ));
    insta::assert_snapshot!("junit_negative_control", xml);
}

#[test]
fn summary_snapshot() {
    insta::assert_snapshot!("summary", summary_markdown(&fixture(), REPORT_DIR));
}

#[test]
fn summary_of_a_failing_run_is_short() {
    let journal = failing_run();
    assert_eq!(journal.counts().fail, 596);
    let text = summary_markdown(&journal, REPORT_DIR);
    assert!(text.lines().count() < 100, "{} lines", text.lines().count());
    assert!(!text.contains("&gt;") && !text.contains("&lt;"), "no HTML entities");
    assert!(text.contains("-> re-swap"), "`->` stays `->`");
    assert!(text.contains(
        "### bricked: nothing booted after the cut (596 cut points)\n\n\
         - swap: `sector-1` .. `sector-40` (40 cut points)\n\
         - swap: `op-0095-inside-0.50` .. `op-0096-after` (4 cut points)\n"
    ));
    insta::assert_snapshot!("summary_failing_run", text);
}

#[test]
fn summary_and_html_of_a_negative_control_say_it_was_caught() {
    let journal = negative_control();
    let text = summary_markdown(&journal, REPORT_DIR);
    let headline = "negative control: 1 cut point failed, as expected (the rig caught the broken firmware)";
    assert!(text.starts_with(&format!(
        "# cutpoint report: known-bug-no-swap-status\n\n**{headline}.**\n"
    )));
    assert!(text.contains("## Expected failures (1)"), "{text}");
    let page = report_html(&journal, REPORT_DIR).unwrap();
    assert!(page.contains(&format!("<p class=\"verdict caught\">{headline}</p>")));
    assert!(page.contains("<i class=\"c xfail\"></i> expected failure "), "legend");
    assert!(
        page.contains("<span class=\"k xfail\">1 expected failure</span>"),
        "counts"
    );
    assert!(
        page.contains("title=\"swap/sector-1+0.50 \u{2014} expected failure \u{2014} nothing booted"),
        "cell"
    );
    assert!(page.contains("</a> expected failure: nothing booted"), "list row");
    assert!(!page.contains("class=\"c fail\""), "no plain failure anywhere");
}

#[test]
fn html_labels_its_axes_and_marks_warnings() {
    let page = report_html(&fixture(), REPORT_DIR).unwrap();
    // The phase down the side, its offsets along the top and at the start of each line.
    assert!(page.contains(
        "<div class=\"phase\"><div class=\"side\"><b>download</b><small>3 cut points: 2 pass, \
         1 pass with warnings</small></div><div class=\"grid\"><div class=\"top\"><span class=\"at\">offset</span>\
         <span title=\"byte-0\">byte-0</span><span title=\"byte-4096\">byte-4096</span>\
         <span title=\"byte-8192\">byte-8192</span></div><div class=\"line\"><span class=\"at\">byte-0</span>"
    ));
    // A pass with warnings has its own colour and legend entry.
    assert!(page.contains("<i class=\"c warn\"></i> pass with warnings "));
    assert!(page.contains("<i class=\"c warn\" data-i=\"1\""));
    assert!(page.contains(".c.warn { background: var(--warn); }"));
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
    // Each line of a block starts with its first offset.
    assert_eq!(page.matches("<div class=\"line\">").count(), 5 * 1000usize.div_ceil(32));
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
    // The failing cut point and the rig error get artifact directories, passing ones none.
    assert_eq!(summary.artifact_dirs, 2);
    assert!(!cutpoint_report::cut_dir(dir.path(), "download/byte-0").exists());
    assert!(summary.has_failures() && summary.has_rig_errors() && !summary.all_passed());
    for file in &summary.files {
        assert!(file.is_file(), "{}", file.display());
    }
    let cut_dir = cutpoint_report::cut_dir(dir.path(), "swap/sector-1+0.50");
    let console = std::fs::read_to_string(cut_dir.join("console.log")).unwrap();
    assert!(console.contains("[2390] E: image hash mismatch </script>"));
}

/// A campaign of `n` cut points over two phases and four kinds of offset: every 100th operation
/// of the swap fails in a window of 3 contiguous cut points (`op-*-before`, `op-*-after`,
/// `random-*`), one `random-*` in 250 passes with warnings, the last 10 of the confirm phase did
/// not run.
fn large_journal(n: usize) -> cutpoint_report::Journal {
    let mut journal = fixture();
    let template = journal.cuts[0].clone();
    journal.header.planned.clear();
    journal.cuts.clear();
    for i in 0..n {
        let (phase, offset) = match i % 4 {
            0 => ("swap", format!("op-{:06}-before", i / 4)),
            1 => ("swap", format!("op-{:06}-after", i / 4)),
            2 => ("swap", format!("random-{:06}", i / 4)),
            _ => ("confirm", format!("ms-{}", i / 4)),
        };
        let id = format!("{phase}/{offset}");
        journal.header.planned.push(planned(&id, i as u64));
        if phase == "confirm" && i + 40 >= n {
            continue;
        }
        let mut cut = template.clone();
        cut.id = id;
        cut.phase = phase.to_owned();
        cut.offset = offset.clone();
        cut.seed = i as u64;
        if phase == "swap" && (i / 4) % 100 == 0 && i + 4 < n {
            cut.status = Status::Fail;
            cut.reasons = vec![format!("bricked: nothing booted after the cut ({i} console lines)")];
        }
        if i % 1_000 == 6 {
            cut.warnings = vec!["the device reverted the update after the cut".to_owned()];
        }
        journal.cuts.push(cut);
    }
    journal
}

#[test]
fn html_shows_one_cell_per_cut_point_up_to_the_limit() {
    let limit = cutpoint_report::html::PER_CUT_LIMIT;
    let page = report_html(&large_journal(limit), REPORT_DIR).unwrap();
    assert!(!page.contains("<table class=\"overview\">"));
    let cells = page.matches(" data-i=\"").count() - page.matches("<li><a href").count();
    assert_eq!(cells, limit, "one cell per cut point");
}

#[test]
fn html_of_a_huge_campaign_is_an_overview_with_the_failing_windows() {
    let n = cutpoint_report::html::PER_CUT_LIMIT + 1;
    let journal = large_journal(n);
    let page = report_html(&journal, REPORT_DIR).unwrap();
    assert!(
        page.contains(&format!(
            "This campaign has {n} cut points, more than the 20000 shown one cell each"
        )),
        "the page says why it shows an overview"
    );
    assert!(!page.contains("<div class=\"line\">"), "no per-cut cells");
    // One line per phase and kind of offset, coloured by the worst result.
    assert_eq!(page.matches("<table class=\"overview\">").count(), 2);
    let line = page.lines().find(|l| l.contains("<td>op-*-after</td>")).unwrap();
    assert!(
        line.contains(
            "<tr><td><i class=\"c fail\" title=\"op-*-after \u{2014} worst: fail\"></i></td><td>op-*-after</td>\
         <td class=\"n\">5000</td><td class=\"n\">4950</td><td class=\"n\">0</td><td class=\"n\">50</td>\
         <td class=\"n\">0</td><td class=\"n\">0</td></tr>"
        ),
        "{line}"
    );
    assert!(page.contains("<i class=\"c fail\" title=\"random-* \u{2014} worst: fail\">"));
    assert!(page.contains("<i class=\"c not-run\" title=\"ms-* \u{2014} worst: not run\">"));
    // The failing windows: 50 windows of 3 cut points, each linking its first cut point.
    assert!(page.contains("<h2>Failing windows (50)</h2>"), "windows");
    assert!(page.contains("<h3>bricked: nothing booted after the cut (150 cut points)</h3>"));
    assert!(page.contains(
        "<li><a href=\"#cut=swap/op-000100-before\" data-i=\"4\"><i class=\"c fail\"></i>\
         swap: op-000100-before .. random-000100</a> (3 cut points)</li>"
    ));
    assert!(page.contains("<h2>Warnings (20)</h2>"));
    // The details panel holds the cut points the page lists, not every cut point.
    let start = page.find("id=\"cut-data\">").unwrap() + "id=\"cut-data\">".len();
    let end = start + page[start..].find("</script>").unwrap();
    let data: serde_json::Value = serde_json::from_str(&page[start..end]).unwrap();
    let listed = data.as_array().unwrap();
    assert_eq!(listed.len(), 150 + 20, "150 failures and 20 warnings");
    assert_eq!(listed[4]["id"], "swap/op-000100-before");
    // Every link opens the details of the cut point it names.
    for link in page.split("<a href=\"#cut=").skip(1) {
        let (id, rest) = link.split_once("\" data-i=\"").unwrap();
        let i: usize = rest[..rest.find('"').unwrap()].parse().unwrap();
        assert_eq!(listed[i]["id"], id, "link {i}");
    }
    // Its size depends on what is listed, not on the number of cut points.
    assert!(page.len() < 1024 * 1024, "{} bytes", page.len());
    assert!(page.matches('<').count() < 10_000, "{} tags", page.matches('<').count());
}
