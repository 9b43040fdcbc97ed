//! Offsets a campaign asks for that give no cut point (a byte past the update's end, a time
//! past the phase's end) are journaled with why and listed by every report, never as passes.

use std::path::Path;

#[path = "support/cli.rs"]
mod cli;
use cli::cutpoint;

const CAMPAIGN: &str = r#"
name = "skips"

[target]
board = "nrf52840"
variant = "reference"

[images]
baseline = { version = "1.0.0", size_kib = 16 }
update = { version = "2.0.0", size_kib = 16 }

[[phases]]
name = "download"
start = 'ota: download-(start|resume)'
end = 'ota: download-done'
offsets = { fixed = ["start"], bytes = [4096, 900000] }

[[phases]]
name = "verify"
start = 'ota: verify-start'
end = 'ota: verify-(ok|fail)'
offsets = { fixed = ["start"], ms = [100000] }
"#;

#[test]
fn skipped_offsets_are_journaled_and_listed_in_every_report() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cutpoint-skipped-offsets");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let campaign = dir.join("skips.toml");
    std::fs::write(&campaign, CAMPAIGN).unwrap();
    let out = dir.join("r");
    let (code, _, stderr) = cutpoint(&["run", campaign.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");

    let journal = std::fs::read_to_string(out.join("results.jsonl")).unwrap();
    let header: serde_json::Value = serde_json::from_str(journal.lines().next().unwrap()).unwrap();
    let skipped = header["skipped"]
        .as_array()
        .expect("the header lists the skipped offsets");
    let by_id = |id: &str| {
        skipped
            .iter()
            .find(|s| s["id"] == id)
            .unwrap_or_else(|| panic!("{id} in {skipped:?}"))
    };
    let byte = by_id("download/byte-900000");
    assert_eq!(byte["kind"], "byte");
    assert_eq!(byte["phase"], "download");
    assert!(
        byte["reason"].as_str().unwrap().contains("not inside the update"),
        "{byte}"
    );
    let time = by_id("verify/ms-100000");
    assert_eq!(time["kind"], "time");
    assert!(
        time["reason"].as_str().unwrap().contains("past the phase's end"),
        "{time}"
    );

    let summary = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(summary.contains("## Skipped offsets (2)"), "{summary}");
    assert!(
        summary.contains("| `download/byte-900000` | download | byte |"),
        "{summary}"
    );

    let junit = std::fs::read_to_string(out.join("junit.xml")).unwrap();
    let case = junit
        .split("<testcase ")
        .find(|c| c.starts_with("name=\"download/byte-900000\""))
        .unwrap_or_else(|| panic!("a test case for the skipped offset: {junit}"));
    assert!(case.contains("classname=\"download\""), "{case}");
    assert!(
        case.contains("<skipped type=\"offset-skipped\""),
        "never a pass: {case}"
    );
    assert!(case.contains("not inside the update"), "{case}");
    assert!(junit.contains("skipped=\"2\""), "the suite counts them: {junit}");

    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("<section id=\"skipped\">"), "the HTML report lists them");
    assert!(html.contains("verify/ms-100000"));

    // `cutpoint report` reads them back from the journal.
    std::fs::remove_file(out.join("summary.md")).unwrap();
    let (code, _, stderr) = cutpoint(&["report", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    let again = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(again.contains("## Skipped offsets (2)"), "{again}");
}
