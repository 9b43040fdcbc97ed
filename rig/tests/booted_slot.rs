//! The slot the bootloader picks after each cut, read from the flash by the inspector of the
//! campaign's scheme, in every report: `state.json`, the JUnit test case's properties and the
//! HTML cut detail. One campaign per family: MCUboot's direct-XIP (the pick follows the
//! trailers and the images' versions) and ESP-IDF's otadata (an A/B record kept twice). A cut
//! before the record write starts from the old slot, one after it from the new slot, and a
//! torn record says which copy is damaged.

use std::path::{Path, PathBuf};

#[path = "support/cli.rs"]
mod cli;
use cli::cutpoint;

use cutpoint_report::JournalRecord;

fn run_all(rel: &str, name: &str) -> PathBuf {
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cutpoint-booted-slot-{name}"));
    let _ = std::fs::remove_dir_all(&out);
    let campaign = cli::root().join("campaigns").join(rel);
    let (code, stdout, stderr) = cutpoint(&[
        "run",
        campaign.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--artifacts",
        "all",
    ]);
    assert_eq!(code, 0, "{rel}: {stdout}\n{stderr}");
    out
}

fn state(out: &Path, id: &str) -> serde_json::Value {
    let path = out
        .join("cuts")
        .join(cutpoint_report::artifact_name(id))
        .join("state.json");
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

/// The `<property name=...>` values of the test case `id`.
fn junit_properties(out: &Path, id: &str) -> Vec<(String, String)> {
    let xml = std::fs::read_to_string(out.join("junit.xml")).unwrap();
    let start = xml
        .find(&format!("<testcase name=\"{id}\""))
        .unwrap_or_else(|| panic!("no test case {id}"));
    let case = &xml[start..];
    let case = &case[..case.find("</testcase>").unwrap_or(case.len())];
    case.split("<property name=\"")
        .skip(1)
        .map(|p| {
            let name = p[..p.find('"').unwrap()].to_string();
            let v = &p[p.find("value=\"").unwrap() + 7..];
            let value = v[..v.find('"').unwrap()]
                .replace("&gt;", ">")
                .replace("&lt;", "<")
                .replace("&quot;", "\"")
                .replace("&apos;", "'")
                .replace("&amp;", "&");
            (name, value)
        })
        .collect()
}

/// The cut detail's JSON object of `id` in the HTML page (the page holds one per cell).
fn html_cell(out: &Path, id: &str) -> String {
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    let key = format!("\"id\":\"{id}\"");
    let start = html.find(&key).unwrap_or_else(|| panic!("no cell {id} in the page"));
    let rest = &html[start + key.len()..];
    rest[..rest.find("\"id\":\"").unwrap_or(rest.len())].to_string()
}

/// Checks the pick of cut `id` in all three reports: its slot (`primary (ota_0)`), and text the
/// record line holds.
fn assert_pick(out: &Path, id: &str, slot: &str, first_boot: &str, record_has: &str) {
    let s = state(out, id);
    let b = &s["booted_slot"];
    assert_eq!(b["read"], "after-cut", "{id}: {s:#}");
    let text = match b["name"].as_str() {
        Some(n) => format!("{} ({n})", b["slot"].as_str().unwrap()),
        None => b["slot"].as_str().unwrap().to_string(),
    };
    assert_eq!(text, slot, "{id}: {s:#}");
    assert_eq!(
        s["first_boot"], first_boot,
        "{id}: the device's first boot ran another image: {s:#}"
    );
    let record = b["record"].as_str().unwrap();
    assert!(record.contains(record_has), "{id}: {record}");

    let props = junit_properties(out, id);
    let prop = |name: &str| props.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
    assert_eq!(prop("booted-slot"), Some(slot), "{id}: {props:?}");
    assert_eq!(prop("booted-slot-read"), Some("after-cut"), "{id}: {props:?}");
    assert_eq!(prop("boot-record"), Some(record), "{id}: {props:?}");

    let cell = html_cell(out, id);
    assert!(
        cell.contains(&format!(
            "\"booted_slot\":\"{slot} \u{2014} on the flash the cut left (first boot)\""
        )),
        "{id}: {cell}"
    );
    assert!(cell.contains("\"boot_record\":\""), "{id}: {cell}");
    // The matrix cell: a bar for the secondary slot, said in its title too.
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    let title = format!("title=\"{id} \u{2014} ");
    let at = html.find(&title).unwrap_or_else(|| panic!("no matrix cell {id}"));
    let open = html[..at].rfind("<i class=\"").unwrap();
    let tag = &html[open..at + html[at..].find('>').unwrap()];
    let secondary = slot.starts_with("secondary");
    assert_eq!(tag.contains(" b2\""), secondary, "{id}: {tag}");
    assert_eq!(tag.contains("boots the secondary slot"), secondary, "{id}: {tag}");
    assert!(html.contains("a bar along the bottom: after this cut the bootloader picks the secondary slot"));
}

/// ESP-IDF: op 85 programs the otadata entry of sector 1 (seq 2, NEW) that selects ota_1.
#[test]
fn esp_idf_cuts_before_the_otadata_write_start_from_ota_0_and_after_it_from_ota_1() {
    let out = run_all("esp-idf/smoke.toml", "esp-idf");
    assert_pick(
        &out,
        "download/end",
        "primary (ota_0)",
        "1.0.0+0",
        "sector 0 seq 1 valid, sector 1 blank",
    );
    assert_pick(
        &out,
        "request/op-0085-before",
        "primary (ota_0)",
        "1.0.0+0",
        "sector 0 selects",
    );
    assert_pick(
        &out,
        "request/op-0085-after",
        "secondary (ota_1)",
        "2.0.0+0",
        "sector 1 seq 2 new; sector 1 selects (new: booted on trial)",
    );
    assert_pick(
        &out,
        "confirm/op-0089-after",
        "secondary (ota_1)",
        "2.0.0+0",
        "sector 1 seq 2 valid",
    );
    // A torn entry: the copies disagree, and the valid one still selects ota_0.
    let torn = state(&out, "request/op-0085-inside-0.50");
    assert_eq!(torn["booted_slot"]["slot"], "primary", "{torn:#}");
    let disagree = torn["booted_slot"]["disagreement"].as_array().unwrap();
    assert!(
        disagree[0].as_str().unwrap().starts_with("sector 1 is damaged"),
        "{torn:#}"
    );
    let props = junit_properties(&out, "request/op-0085-inside-0.50");
    assert!(
        props
            .iter()
            .any(|(n, v)| n == "boot-record-disagreement" && v.starts_with("sector 1 is damaged")),
        "{props:?}"
    );
    assert!(html_cell(&out, "request/op-0085-inside-0.50").contains("\"boot_disagreement\":[\"sector 1 is damaged"));
}

/// Direct-XIP: op 84 writes the secondary trailer's magic that makes 2.0.0 bootable; the
/// bootloader's copy_done (op 87) on a cut leaves a tried, unconfirmed 2.0.0 that the next
/// boot erases, so the primary boots again.
#[test]
fn direct_xip_cuts_before_the_trailer_write_start_from_the_primary_and_after_it_from_the_secondary() {
    let out = run_all("direct-xip/smoke.toml", "direct-xip");
    assert_pick(
        &out,
        "request/op-0084-before",
        "primary",
        "1.0.0+0",
        "secondary: 2.0.0+0 no-magic: erased",
    );
    assert_pick(
        &out,
        "request/op-0084-after",
        "secondary",
        "2.0.0+0",
        "2.0.0+0 first-try: booted",
    );
    assert_pick(
        &out,
        "select/op-0087-after",
        "primary",
        "1.0.0+0",
        "tried-unconfirmed: erased",
    );
}

/// The journal grew by one field: a record written before it loads (no pick), writes back
/// byte for byte, and a record with it loads.
#[test]
fn journals_before_and_after_the_booted_slot_load() {
    let old = r#"{"record":"cut","id":"swap/op-0001-before","phase":"swap","offset":"op-0001-before","repetition":1,"status":"pass","reasons":[],"warnings":[],"seed":7,"landing":null,"first_boot":"1.0.0+0","final_image":"2.0.0+0","committed":false,"slots":[],"console":[],"wall_ms":0}"#;
    let JournalRecord::Cut(cut) = serde_json::from_str::<JournalRecord>(old).unwrap() else {
        panic!("not a cut record")
    };
    assert_eq!(cut.booted_slot, None);
    assert_eq!(serde_json::to_string(&JournalRecord::Cut(cut.clone())).unwrap(), old);
    let new = old.replace(
        r#""wall_ms":0}"#,
        r#""wall_ms":0,"booted_slot":{"read":"after-cut","slot":"secondary","name":"ota_1","record":"otadata sector 1 selects"}}"#,
    );
    let JournalRecord::Cut(with) = serde_json::from_str::<JournalRecord>(&new).unwrap() else {
        panic!("not a cut record")
    };
    let b = with.booted_slot.as_ref().unwrap();
    assert_eq!(b.slot_text(), "secondary (ota_1)");
    assert_eq!(serde_json::to_string(&JournalRecord::Cut(with.clone())).unwrap(), new);
    // A reader ignores a field it does not know, as an older cutpoint does this one.
    let newer = new.replace(r#""wall_ms":0,"#, r#""wall_ms":0,"a_later_field":{"x":1},"#);
    let JournalRecord::Cut(later) = serde_json::from_str::<JournalRecord>(&newer).unwrap() else {
        panic!("not a cut record")
    };
    assert_eq!(later, with);
}

/// Redundant copies: op 83 programs copy 1 (generation 2, slot B on trial); a cut after the
/// bootloader's trial-booted write (op 85) reverts to slot A at the next boot.
#[test]
fn redundant_copies_pick_the_newer_valid_copy_and_revert_a_booted_trial() {
    let out = run_all("redundant-copies/smoke.toml", "redundant");
    assert_pick(
        &out,
        "request/op-0083-before",
        "primary (slot A)",
        "1.0.0+0",
        "copy 0 is the only valid copy",
    );
    assert_pick(
        &out,
        "request/op-0083-after",
        "secondary (slot B)",
        "2.0.0+0",
        "copy 1 gen 2 slot B trial; copy 1 holds the newer generation (2 > 1): booted on trial",
    );
    assert_pick(
        &out,
        "trial-boot/op-0085-after",
        "primary (slot A)",
        "1.0.0+0",
        "a trial that never cleared, reverted at this boot",
    );
    let torn = state(&out, "request/op-0083-inside-0.50");
    assert!(
        torn["booted_slot"]["disagreement"][0]
            .as_str()
            .unwrap()
            .starts_with("copy 1 is damaged"),
        "{torn:#}"
    );
}
