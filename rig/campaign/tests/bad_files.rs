//! Bad campaign and station files: each error names file, line, column and field, and says
//! what is expected. The error texts are snapshots (tests/snapshots/).

use std::path::Path;

use cutpoint_campaign::{format_errors, parse_campaign, parse_station, FileError, Role};

fn campaign_errors(text: &str) -> Vec<FileError> {
    match parse_campaign(text, Path::new("campaigns/bad.toml")) {
        Ok(c) => panic!("campaign {} unexpectedly valid", c.name),
        Err(e) => e,
    }
}

fn campaign_error_text(text: &str) -> String {
    format_errors(&campaign_errors(text))
}

const PHASES: &str = r#"
[[phases]]
name = "download"
start = 'ota: download-start'
end = 'ota: download-done'
offsets = { fixed = ["start"] }

[[phases]]
name = "swap"
start = 'boot: swap-start'
end = 'boot: swap-done'
progress = 'boot: swap-progress .* region=(?P<n>\d+)'
offsets = { sectors = { every = 4, fraction = 0.5 } }
"#;

#[test]
fn a_valid_base_file_is_accepted() {
    parse_campaign(PHASES, Path::new("campaigns/ok.toml")).expect("valid");
}

#[test]
fn out_of_range_fraction_points_at_the_value() {
    let text = PHASES.replace("fraction = 0.5", "fraction = 1.5");
    let errors = campaign_errors(&text);
    assert_eq!(errors.len(), 1);
    let e = &errors[0];
    // Line 13 of the text (it starts with a newline), column of "1.5".
    let line = text.lines().nth(e.line - 1).unwrap();
    assert_eq!(e.line, 13);
    assert_eq!(&line[e.column - 1..e.column + 2], "1.5");
    assert_eq!(e.field, "phases.swap.offsets.sectors.fraction");
    insta::assert_snapshot!("fraction_out_of_range", format_errors(&errors));
}

#[test]
fn unknown_key_with_hint() {
    let text = PHASES.replace("offsets = { fixed", "ofsets = { fixed");
    let errors = campaign_errors(&text);
    assert_eq!(errors[0].line, 6);
    assert_eq!(errors[0].column, 1);
    insta::assert_snapshot!("unknown_key_hint", format_errors(&errors));
}

#[test]
fn unknown_key_without_hint_lists_the_keys() {
    let text = format!("colour = \"blue\"\n{PHASES}");
    insta::assert_snapshot!("unknown_key_list", campaign_error_text(&text));
}

#[test]
fn unknown_nested_key_in_inline_table() {
    let text = PHASES.replace("every = 4,", "evry = 4,");
    insta::assert_snapshot!("unknown_nested_key", campaign_error_text(&text));
}

#[test]
fn unknown_value_with_hint() {
    let text = format!("[target]\nvariant = \"refrence\"\n{PHASES}");
    insta::assert_snapshot!("unknown_variant_value", campaign_error_text(&text));
}

#[test]
fn wrong_type() {
    let text = format!("[run]\nseed = \"42\"\n{PHASES}");
    let errors = campaign_errors(&text);
    assert_eq!((errors[0].line, errors[0].column), (2, 8));
    insta::assert_snapshot!("wrong_type", format_errors(&errors));
}

#[test]
fn negative_number_for_a_count() {
    let text = PHASES.replace("every = 4", "every = -4");
    insta::assert_snapshot!("negative_count", campaign_error_text(&text));
}

#[test]
fn missing_required_key() {
    let text = PHASES.replace("end = 'ota: download-done'\n", "");
    insta::assert_snapshot!("missing_key", campaign_error_text(&text));
}

#[test]
fn bad_regex() {
    let text = PHASES.replace("'boot: swap-start'", "'boot: swap-(start'");
    let errors = campaign_errors(&text);
    assert_eq!(errors[0].field, "phases.swap.start");
    insta::assert_snapshot!("bad_regex", format_errors(&errors));
}

#[test]
fn a_pattern_that_matches_the_empty_string_is_refused_where_it_is_written() {
    // A trailing `|` makes the end marker match every line: the phase would end at the line
    // after its start, and its cuts would all land there.
    let text = PHASES.replace("end = 'boot: swap-done'", "end = 'boot: swap-done|'");
    let errors = campaign_errors(&text);
    assert_eq!(errors.len(), 1, "{}", format_errors(&errors));
    assert_eq!(errors[0].field, "phases.swap.end");
    assert_eq!(errors[0].line, 11);
    insta::assert_snapshot!("pattern_matches_empty", format_errors(&errors));
    let errors = campaign_errors(&format!("[markers]\nsettled = '(ota: idle)?'\n{PHASES}"));
    assert_eq!(errors[0].field, "markers.settled", "{}", format_errors(&errors));
}

#[test]
fn an_empty_fixed_list_is_refused() {
    let text = PHASES.replace("fixed = [\"start\"]", "fixed = []");
    let errors = campaign_errors(&text);
    assert_eq!(errors.len(), 1, "{}", format_errors(&errors));
    assert_eq!(errors[0].field, "phases.download.offsets.fixed");
    assert!(
        errors[0].message.contains("got an empty array"),
        "{}",
        errors[0].message
    );
}

#[test]
fn bad_optional_event_markers_are_located() {
    let text = format!("[markers]\nrejected = 'refused ('\ndownload_restart = 'from [zero'\n{PHASES}");
    let errors = campaign_errors(&text);
    assert_eq!(
        format_errors(&errors),
        "campaigns/bad.toml:2:12: markers.rejected: invalid regular expression: unclosed group\n\
         campaigns/bad.toml:3:20: markers.download_restart: invalid regular expression: unclosed character class\n"
    );
}

#[test]
fn missing_phase_in_a_sequence() {
    let text = format!(
        "{PHASES}\n[[sequences]]\nname = \"twice\"\nfirst = {{ phase = \"swp\", offsets = {{ random = 2 }} }}\n\
         then = {{ phase = \"flash\", offsets = {{ random = 2 }} }}\n"
    );
    insta::assert_snapshot!("missing_phase", campaign_error_text(&text));
}

#[test]
fn every_op_on_a_station_target() {
    let text = format!(
        "[target]\nstation = \"station-ok.toml\"\n{}",
        PHASES.replace(
            "offsets = { fixed = [\"start\"] }",
            "offsets = { every_op = [\"before\"] }"
        )
    );
    let errors = match parse_campaign(&text, Path::new("tests/data/uses-station.toml")) {
        Ok(_) => panic!("accepted every_op on a station"),
        Err(e) => e,
    };
    insta::assert_snapshot!("every_op_on_station", format_errors(&errors));
}

#[test]
fn board_and_variant_do_not_apply_to_a_station() {
    let text =
        format!("[target]\nstation = \"station-ok.toml\"\nboard = \"stm32l4\"\nvariant = \"reference\"\n{PHASES}");
    let errors = match parse_campaign(&text, Path::new("tests/data/uses-station.toml")) {
        Ok(_) => panic!("accepted board with a station"),
        Err(e) => e,
    };
    insta::assert_snapshot!("board_with_station", format_errors(&errors));
}

#[test]
fn missing_station_file() {
    let text = format!("[target]\nstation = \"no-such-station.toml\"\n{PHASES}");
    let errors = match parse_campaign(&text, Path::new("tests/data/uses-station.toml")) {
        Ok(_) => panic!("accepted a missing station"),
        Err(e) => e,
    };
    insta::assert_snapshot!("missing_station", format_errors(&errors));
}

#[test]
fn errors_in_the_station_file_are_reported_against_it() {
    let text = format!("[target]\nstation = \"station-bad.toml\"\n{PHASES}");
    let errors = match parse_campaign(&text, Path::new("tests/data/uses-station.toml")) {
        Ok(_) => panic!("accepted a bad station"),
        Err(e) => e,
    };
    assert!(errors.iter().all(|e| e.file.ends_with("station-bad.toml")));
    insta::assert_snapshot!("station_errors_via_campaign", format_errors(&errors));
}

#[test]
fn duplicate_phase_names() {
    let text = format!("{PHASES}{}", PHASES.replace("name = \"download\"", "name = \"other\""));
    let errors = campaign_errors(&text);
    assert_eq!(errors.len(), 1, "{}", format_errors(&errors));
    assert_eq!(errors[0].line, 22);
    insta::assert_snapshot!("duplicate_phase", format_errors(&errors));
}

#[test]
fn several_semantic_errors_are_all_reported_in_file_order() {
    let text = PHASES
        .replace(
            "fixed = [\"start\"]",
            "fixed = [\"start\", \"start\"], random = 0, bytes = { step = 0 }, ms = []",
        )
        .replace("every = 4, fraction = 0.5", "every = 0, fraction = -0.1");
    let errors = campaign_errors(&text);
    let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
    let mut sorted = lines.clone();
    sorted.sort();
    assert_eq!(lines, sorted);
    insta::assert_snapshot!("several_errors", format_errors(&errors));
}

#[test]
fn sectors_need_a_progress_pattern() {
    let text = PHASES.replace("progress = 'boot: swap-progress .* region=(?P<n>\\d+)'\n", "");
    insta::assert_snapshot!("sectors_without_progress", campaign_error_text(&text));
}

#[test]
fn bad_every_op_points() {
    let text = PHASES.replace(
        "offsets = { fixed = [\"start\"] }",
        "offsets = { every_op = [\"befor\", \"inside:1.5\", \"after\", \"after\"] }",
    );
    insta::assert_snapshot!("bad_every_op", campaign_error_text(&text));
}

#[test]
fn bad_every_op_regions() {
    let text = PHASES.replace(
        "offsets = { fixed = [\"start\"] }",
        "offsets = { every_op = { at = [\"before\"], regions = [\"primary-trailr\", \"scratch\", \"scratch\", \"flash\"] } }",
    );
    let errors = campaign_errors(&text);
    assert_eq!(errors.len(), 3, "{}", format_errors(&errors));
    let e = &errors[0];
    let line = text.lines().nth(e.line - 1).unwrap();
    assert_eq!(&line[e.column - 1..e.column + 15], "\"primary-trailr\"");
    assert_eq!(e.field, "phases.download.offsets.every_op.regions[0]");
    insta::assert_snapshot!("bad_every_op_regions", format_errors(&errors));
}

#[test]
fn every_op_tables_need_points_and_known_keys() {
    let empty = PHASES.replace(
        "offsets = { fixed = [\"start\"] }",
        "offsets = { every_op = { at = [], regions = [] } }",
    );
    let unknown = PHASES.replace(
        "offsets = { fixed = [\"start\"] }",
        "offsets = { every_op = { at = [\"after\"], region = \"primary-trailer\" } }",
    );
    let missing = PHASES.replace(
        "offsets = { fixed = [\"start\"] }",
        "offsets = { every_op = { regions = [\"primary-trailer\"] } }",
    );
    let wrong = PHASES.replace(
        "offsets = { fixed = [\"start\"] }",
        "offsets = { every_op = \"after\" }",
    );
    let text = [empty, unknown, missing, wrong]
        .iter()
        .map(|t| campaign_error_text(t))
        .collect::<Vec<_>>()
        .join("\n");
    insta::assert_snapshot!("every_op_table_errors", text);
}

#[test]
fn toml_syntax_error() {
    let text = PHASES.replace("name = \"swap\"", "name = \"swap");
    let errors = campaign_errors(&text);
    assert_eq!(errors[0].line, 9);
    insta::assert_snapshot!("syntax_error", format_errors(&errors));
}

#[test]
fn no_phases() {
    insta::assert_snapshot!("no_phases", campaign_error_text("name = \"empty\"\n"));
}

#[test]
fn image_and_run_checks() {
    let text = format!(
        "[images]\nbaseline = {{ version = \"1.0.0\", size_kib = 200 }}\nupdate = {{ version = \"1.0\", health = \"fails\", \
         size_kib = 0 }}\n\n[target]\nmode = \"overwrite\"\n\n[run]\nrepetitions = 0\nboot_timeout_ms = 5000\n\
         settle_timeout_ms = 100\n\n[markers]\njump = 'boot: jump'\n{PHASES}"
    );
    insta::assert_snapshot!("image_and_run", campaign_error_text(&text));
}

#[test]
fn overwrite_only_variant_needs_overwrite_mode() {
    let text = format!("[target]\nvariant = \"overwrite-no-rollback\"\nmode = \"swap-scratch\"\n{PHASES}");
    insta::assert_snapshot!("overwrite_only_variant", campaign_error_text(&text));
}

#[test]
fn later_cuts_of_a_sequence_are_a_table_or_an_array_of_one_to_three() {
    let seq = |then: &str| {
        format!(
            "{PHASES}\n[[sequences]]\nname = \"s\"\nfirst = {{ phase = \"swap\", offsets = {{ fixed = [\"start\"] }} }}\nthen = {then}\n"
        )
    };
    let stage = r#"{ phase = "swap", offsets = { fixed = ["start"] } }"#;
    let c = parse_campaign(&seq(&format!("[{stage}, {stage}]")), Path::new("campaigns/three.toml")).unwrap();
    assert_eq!(c.sequences[0].then.len(), 2);
    let c = parse_campaign(&seq(stage), Path::new("campaigns/two.toml")).unwrap();
    assert_eq!(c.sequences[0].then.len(), 1);
    insta::assert_snapshot!("sequence_empty_then", campaign_error_text(&seq("[]")));
    let four = format!("[{stage}, {stage}, {stage}, {stage}]");
    insta::assert_snapshot!("sequence_long_then", campaign_error_text(&seq(&four)));
    let bad = r#"[{ phase = "swap", offsets = { fixed = ["start"] } }, { phase = "swop", offsets = {} }]"#;
    insta::assert_snapshot!("sequence_bad_third_cut", campaign_error_text(&seq(bad)));
}

#[test]
fn unknown_phase_of_sequence_and_bad_sequence_name() {
    let text = format!(
        "{PHASES}\n[[sequences]]\nname = \"a b\"\nfirst = {{ phase = \"swap\", offsets = {{}} }}\n\
         then = {{ phase = \"swap\", offsets = {{ sectors = {{ every = 2 }} }} }}\n"
    );
    insta::assert_snapshot!("bad_sequence", campaign_error_text(&text));
}

// ---------------------------------------------------------------------------------------------
// Station files

fn station_error_text(text: &str) -> String {
    match parse_station(text, Path::new("stations/bad.toml")) {
        Ok(_) => panic!("station unexpectedly valid"),
        Err(e) => format_errors(&e),
    }
}

const STATION: &str = r#"name = "lab-1"
off_dwell_ms = 500

[target]
chip = "nRF52840_xxAA"

[power]
kind = "gpio"
pin = 17
on_level = "high"

[console]
kind = "serial"
port = "/dev/ttyACM0"
baud = 115200

[transport]
kind = "smp"
port = "/dev/ttyACM1"
baud = 115200
"#;

#[test]
fn station_unknown_key_and_missing_kind() {
    let text = STATION
        .replace("off_dwell_ms", "dwel_ms")
        .replace("kind = \"serial\"\n", "");
    insta::assert_snapshot!("station_unknown_key", station_error_text(&text));
    let text = STATION.replace("kind = \"serial\"\n", "");
    insta::assert_snapshot!("station_missing_kind", station_error_text(&text));
}

#[test]
fn station_restore_policy() {
    let st = parse_station(STATION, Path::new("stations/ok.toml")).unwrap();
    assert_eq!(st.restore, cutpoint_campaign::RestorePolicy::Full, "full by default");
    let text = STATION.replace(
        "off_dwell_ms = 500\n",
        "off_dwell_ms = 500\nrestore = \"changed-sectors\"\n",
    );
    let st = parse_station(&text, Path::new("stations/ok.toml")).unwrap();
    assert_eq!(st.restore, cutpoint_campaign::RestorePolicy::ChangedSectors);
    let text = STATION.replace(
        "off_dwell_ms = 500\n",
        "off_dwell_ms = 500\nrestore = \"changed_sectors\"\n",
    );
    insta::assert_snapshot!("station_bad_restore", station_error_text(&text));
}

#[test]
fn station_missing_roles() {
    insta::assert_snapshot!(
        "station_missing_roles",
        station_error_text("name = \"x\"\n[power]\nkind = \"gpio\"\n")
    );
}

/// A caller's backend types, tagged by `kind` as the bench crate's are.
#[derive(Debug, serde::Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "kebab-case")]
enum Power {
    Gpio(Gpio),
    HidRelay { serial: String },
}

#[derive(Debug, serde::Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct Gpio {
    pin: u8,
    on_level: String,
}

#[derive(Debug, serde::Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct Console {
    kind: String,
    port: String,
    baud: u32,
}

#[test]
fn station_roles_decode_into_the_callers_types() {
    let s = parse_station(STATION, Path::new("stations/lab.toml")).expect("valid station");
    assert_eq!(s.name, "lab-1");
    assert_eq!(s.dwell_ms, Some(500));
    assert_eq!(s.chip.as_deref(), Some("nRF52840_xxAA"));
    assert_eq!(s.role_kind(Role::Power), Some("gpio"));
    assert!(!s.has_role(Role::Probe));
    let power: Power = s.decode_role(Role::Power).expect("power decodes");
    assert_eq!(
        power,
        Power::Gpio(Gpio {
            pin: 17,
            on_level: "high".to_string()
        })
    );
    let console: Console = s.decode_role(Role::Console).expect("console decodes");
    assert_eq!(console.baud, 115200);
    let missing = s.decode_role::<Console>(Role::Probe).unwrap_err();
    assert_eq!(missing.to_string(), "stations/lab.toml: probe: missing table [probe]");
}

#[test]
fn old_spellings_are_read_with_a_warning_naming_file_line_and_the_new_spelling() {
    let old = STATION
        .replace("off_dwell_ms = 500", "dwell_ms = 500")
        .replace("on_level", "on-level");
    let s = parse_station(&old, Path::new("stations/x.toml")).expect("old spellings are read");
    let warnings: Vec<String> = s.warnings.iter().map(|w| format!("warning: {w}")).collect();
    assert_eq!(
        warnings,
        [
            "warning: stations/x.toml:2:1: dwell_ms is deprecated; write off_dwell_ms",
            "warning: stations/x.toml:10:1: on-level is deprecated; write on_level",
        ]
    );
    assert_eq!(s.dwell_ms, Some(500));
    let power: Power = s.decode_role(Role::Power).expect("the old spelling decodes");
    let new = parse_station(STATION, Path::new("stations/x.toml")).unwrap();
    assert!(new.warnings.is_empty(), "{:?}", new.warnings);
    assert_eq!(power, new.decode_role::<Power>(Role::Power).unwrap());
    // Both spellings at once: one of them must go.
    let both = STATION.replace("on_level = \"high\"", "on_level = \"high\"\non-level = \"low\"");
    let msg = station_error_text(&both);
    assert!(msg.contains("stations/bad.toml:11:1: power.on-level:"), "{msg}");
    assert!(msg.contains("keep only \"on_level\""), "{msg}");
}

#[test]
fn campaigns_read_old_spellings_with_a_warning() {
    let text = "[run]\ndwell_ms = 300\nboot-timeout-ms = 2000\n[[phases]]\nname = \"swap\"\nstart = 'a'\nend = 'b'\n";
    let c = parse_campaign(text, Path::new("campaigns/x.toml")).expect("old spellings are read");
    let warnings: Vec<String> = c.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        warnings,
        [
            "campaigns/x.toml:2:1: dwell_ms is deprecated; write off_dwell_ms",
            "campaigns/x.toml:3:1: boot-timeout-ms is deprecated; write boot_timeout_ms",
        ]
    );
    assert_eq!((c.run.dwell_ms, c.run.boot_timeout_ms), (300, 2000));
    let new = parse_campaign(
        &text
            .replace("dwell_ms", "off_dwell_ms")
            .replace("boot-timeout-ms", "boot_timeout_ms"),
        Path::new("campaigns/x.toml"),
    )
    .unwrap();
    assert!(new.warnings.is_empty());
    assert_eq!(new.run, c.run);
}

#[test]
fn station_role_errors_name_line_and_field() {
    let decode_power = |text: &str| -> String {
        let s = parse_station(text, Path::new("stations/lab.toml")).expect("valid station");
        s.decode_role::<Power>(Role::Power).unwrap_err().to_string()
    };
    let decode_console = |text: &str| -> String {
        let s = parse_station(text, Path::new("stations/lab.toml")).expect("valid station");
        s.decode_role::<Console>(Role::Console).unwrap_err().to_string()
    };
    let report = [
        decode_power(&STATION.replace("pin = 17", "pn = 17")),
        decode_power(&STATION.replace("pin = 17", "pin = 300")),
        decode_power(&STATION.replace("pin = 17", "pin = \"seventeen\"")),
        decode_power(&STATION.replace("kind = \"gpio\"", "kind = \"gpoi\"")),
        decode_power(&STATION.replace("pin = 17\n", "")),
        decode_console(&STATION.replace("baud = 115200", "baud = \"fast\"")),
        decode_console(&STATION.replace("baud = 115200", "bauds = 115200")),
    ]
    .join("\n");
    insta::assert_snapshot!("station_role_errors", report);
}

#[test]
fn an_unknown_mode_lists_the_registered_schemes() {
    let text = format!("[target]\nboard = \"nrf52840\"\nmode = \"swap-scrach\"\n{PHASES}");
    let errors = campaign_errors(&text);
    assert_eq!(errors.len(), 1, "{}", format_errors(&errors));
    let names: Vec<String> = fut::scheme::Registry::builtin()
        .names()
        .map(|n| format!("\"{n}\""))
        .collect();
    assert_eq!(
        format_errors(&errors).lines().next().unwrap(),
        format!(
            "campaigns/bad.toml:3:8: target.mode: expected one of {}, got \"swap-scrach\"; did you mean \"swap-scratch\"?",
            names.join(", ")
        )
    );
    for name in fut::scheme::Registry::builtin().names() {
        let ok = format!("[target]\nmode = \"{name}\"\n{PHASES}");
        let c = parse_campaign(&ok, Path::new("campaigns/ok.toml")).unwrap();
        assert_eq!(c.target.mode.name(), name);
    }
}

#[test]
fn refused_update_keys_are_located() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "[images]\nupdate = { tamper = \"body-bite\" }\n",
            "campaigns/bad.toml:2:21: images.update.tamper: expected one of \"body-byte\", \"wrong-key\", \"unsigned\", \"truncated\", \"size-lie\", \"forged-signature\", got \"body-bite\"; did you mean \"body-byte\"?\n",
            "a misspelt tamper",
        ),
        (
            "[images]\nbaseline = { tamper = \"unsigned\" }\n",
            "campaigns/bad.toml:2:23: images.baseline.tamper: tamper spoils the update the device must refuse; the baseline must boot: move it to images.update\n",
            "tamper on the baseline",
        ),
        (
            "[images]\nupdate = { tamper = \"wrong-key\" }\n\n[pass]\nfinal = \"new\"\n",
            "campaigns/bad.toml:5:9: pass.final: the device must refuse this update (images.update.tamper = \"wrong-key\"), so it must end on the old image: set final to \"old\" or \"auto\"\n",
            "final = new with a tampered update",
        ),
        (
            "[images]\ndowngrade = \"refused\"\nupdate = { version = \"0.9.0\" }\n\n[pass]\nfinal = \"new\"\n",
            "campaigns/bad.toml:6:9: pass.final: the device must refuse this update (images.downgrade = \"refused\" and the update is older), so it must end on the old image: set final to \"old\" or \"auto\"\n",
            "final = new with a refused downgrade",
        ),
        (
            "[images]\ndowngrade = \"refuse\"\n",
            "campaigns/bad.toml:2:13: images.downgrade: expected one of \"allowed\", \"refused\", got \"refuse\"; did you mean \"refused\"?\n",
            "a misspelt downgrade",
        ),
        (
            "[target]\ndelivery = \"uplod\"\n",
            "campaigns/bad.toml:2:12: target.delivery: expected one of \"download\", \"upload\", got \"uplod\"; did you mean \"upload\"?\n",
            "a misspelt delivery",
        ),
        (
            "[markers]\nrefused = 'verify-fail ('\n",
            "campaigns/bad.toml:2:11: markers.refused: invalid regular expression: unclosed group\n",
            "a bad refused marker",
        ),
    ];
    for (head, expected, what) in cases {
        let text = format!("{head}{PHASES}");
        assert_eq!(campaign_error_text(&text), *expected, "{what}");
    }
}

#[test]
fn tamper_describes_a_generated_image() {
    let text = format!("[images]\nupdate = {{ file = \"no-such.bin\", tamper = \"truncated\" }}\n{PHASES}");
    let errors = campaign_errors(&text);
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert!(fields.contains(&"images.update.tamper"), "{fields:?}");
    assert!(
        format_errors(&errors)
            .contains("images.update.tamper: tamper describes a generated image; it cannot be given with file"),
        "{}",
        format_errors(&errors)
    );
}

#[test]
fn delivery_does_not_apply_to_a_station() {
    let text = format!("[target]\nstation = \"station-ok.toml\"\ndelivery = \"upload\"\n{PHASES}");
    let errors = match parse_campaign(&text, Path::new("tests/data/uses-station.toml")) {
        Ok(_) => panic!("accepted delivery with a station"),
        Err(e) => e,
    };
    assert_eq!(
        format_errors(&errors),
        "tests/data/uses-station.toml:3:12: target.delivery: delivery only applies to the simulated board; this campaign runs on station \"station-ok.toml\"\n"
    );
}

/// The size bound of a generated image follows the board's slots: 1 MiB slots on `w25q32`
/// take a 1,019 KiB body and refuse 1,020 KiB, saying which board and why; the 192 KiB slots
/// of the other boards still stop at 187 KiB.
#[test]
fn image_size_bound_follows_the_boards_slots() {
    let campaign = |board: &str, kib: u32| {
        format!(
            "name = \"big\"\n[target]\nboard = \"{board}\"\n[images]\nbaseline = {{ version = \"1.0.0\", size_kib = {kib} }}\n\
             update = {{ version = \"2.0.0\", size_kib = {kib} }}\n{PHASES}"
        )
    };
    parse_campaign(&campaign("w25q32", 1019), Path::new("campaigns/ok.toml")).expect("1,019 KiB fits 1 MiB slots");
    let text = campaign_error_text(&campaign("w25q32", 1020));
    assert!(
        text.contains("expected a size in [1, 1019] KiB (the w25q32 board's 1024 KiB slots"),
        "{text}"
    );
    let text = campaign_error_text(&campaign("nrf52840", 188));
    assert!(
        text.contains(
            "expected a size in [1, 187] KiB (the simulated boards' 192 KiB slots keep a sector for the trailer)"
        ),
        "{text}"
    );
}

#[test]
fn baseline_slot_and_scheme_bound_variants_are_located() {
    let cases: &[(&str, &str)] = &[
        (
            "[target]\nbaseline_slot = \"tertiary\"\n",
            "campaigns/bad.toml:3:17: target.baseline_slot: expected one of \"primary\", \"secondary\", got \"tertiary\"",
        ),
        (
            "[target]\nmode = \"swap-scratch\"\nbaseline_slot = \"secondary\"\n",
            "campaigns/bad.toml:4:17: target.baseline_slot: scheme \"swap-scratch\" boots only the primary slot: a baseline in the secondary slot needs an A/B scheme (\"esp-idf\")",
        ),
        (
            "[target]\nvariant = \"otadata-running-rewritten\"\nmode = \"overwrite\"\n",
            "campaigns/bad.toml:4:8: target.mode: variant \"otadata-running-rewritten\" breaks the esp-idf scheme's record: expected \"esp-idf\", got \"overwrite\"",
        ),
        (
            "[target]\nmode = \"redundant-copies\"\nprior_updates = 3\n",
            "campaigns/bad.toml:4:17: target.prior_updates: expected an even number from 0 to 4096 (the update and the baseline image are offered in turn, so an even count leaves the baseline image running), got 3",
        ),
        (
            "[target]\nmode = \"redundant-copies\"\nprior_updates = -2\n",
            "campaigns/bad.toml:4:17: target.prior_updates: expected an even number from 0 to 4096 (the update and the baseline image are offered in turn, so an even count leaves the baseline image running), got -2",
        ),
        (
            "[target]\nvariant = \"redundant-generation-no-wrap\"\nmode = \"esp-idf\"\n",
            "campaigns/bad.toml:4:8: target.mode: variant \"redundant-generation-no-wrap\" breaks the redundant-copies scheme's record: expected \"redundant-copies\", got \"esp-idf\"",
        ),
    ];
    for (target, want) in cases {
        let text = format!("\n{target}{PHASES}");
        assert_eq!(campaign_error_text(&text).trim_end(), *want, "{target}");
    }
    let ok = format!(
        "[target]\nmode = \"esp-idf\"\nvariant = \"otadata-single-sector\"\nbaseline_slot = \"secondary\"\n{PHASES}"
    );
    let c = parse_campaign(&ok, Path::new("campaigns/ok.toml")).unwrap();
    assert_eq!(c.target.baseline_slot, fut::layout::Slot::Secondary);
}

#[test]
fn swap_move_variants_need_swap_move_mode() {
    let text = format!("[target]\nvariant = \"stale-header-after-move\"\nmode = \"swap-scratch\"\n{PHASES}");
    insta::assert_snapshot!("swap_move_only_variant", campaign_error_text(&text));
    // Without a mode the variant brings its own.
    let c = parse_campaign(
        &format!("[target]\nvariant = \"trailer-init-skipped\"\n{PHASES}"),
        Path::new("campaigns/tis.toml"),
    )
    .unwrap();
    assert_eq!(c.target.mode, fut::scheme::Mode::SWAP_MOVE);
}

#[test]
fn only_the_baseline_is_flashed_confirmed() {
    let text = format!(
        "[images]\nbaseline = {{ version = \"1.0.0\", size_kib = 64, confirmed = true }}\nupdate = {{ version = \"2.0.0\", size_kib = 64, confirmed = true }}\n{PHASES}"
    );
    insta::assert_snapshot!("update_confirmed", campaign_error_text(&text));
    let ok = format!("[images]\nbaseline = {{ version = \"1.0.0\", size_kib = 64, confirmed = true }}\n{PHASES}");
    let c = parse_campaign(&ok, Path::new("campaigns/padded.toml")).unwrap();
    assert!(c.images.baseline_confirmed);
}

#[test]
fn swap_move_keeps_a_sector_of_the_slot_for_the_move() {
    // 186 KiB fits a 192 KiB swap-scratch slot; swap-move keeps one more sector spare.
    let image = "[images]\nbaseline = { version = \"1.0.0\", size_kib = 186 }\nupdate = { version = \"2.0.0\", size_kib = 186 }\n";
    let scratch = format!("[target]\nmode = \"swap-scratch\"\n{image}{PHASES}");
    assert!(parse_campaign(&scratch, Path::new("campaigns/big.toml")).is_ok());
    let text = format!("[target]\nmode = \"swap-move\"\n{image}{PHASES}");
    insta::assert_snapshot!("swap_move_image_too_large", campaign_error_text(&text));
}

/// One rule binds a broken variant to its scheme (`Variant::scheme`): a campaign that names no
/// mode runs the variant's, and one that names another is refused at its `mode` line, with the
/// mode to write.
#[test]
fn a_variant_bound_to_a_scheme_brings_its_mode_and_refuses_another() {
    let bound: Vec<_> = fut::Variant::ALL
        .into_iter()
        .filter_map(|v| v.scheme().map(|b| (v, b)))
        .collect();
    assert!(
        bound.len() >= 4,
        "overwrite, swap-move, esp-idf and redundant-copies variants"
    );
    for (v, b) in bound {
        let c = parse_campaign(
            &format!("[target]\nvariant = \"{v}\"\n{PHASES}"),
            Path::new("campaigns/default.toml"),
        )
        .unwrap_or_else(|e| panic!("{v}: {}", format_errors(&e)));
        assert_eq!(c.target.mode, b.mode, "{v}: the mode defaults to the variant's");
        let other = if b.mode == fut::scheme::Mode::SWAP_SCRATCH {
            "overwrite"
        } else {
            "swap-scratch"
        };
        let text = format!("\n[target]\nvariant = \"{v}\"\nmode = \"{other}\"\n{PHASES}");
        assert_eq!(
            campaign_error_text(&text).trim_end(),
            format!(
                "campaigns/bad.toml:4:8: target.mode: variant \"{v}\" {}: expected \"{}\", got \"{other}\"",
                b.what,
                b.mode.name()
            ),
            "{v}"
        );
        // The variant's own mode, written out, is the default made explicit.
        let same = format!("[target]\nvariant = \"{v}\"\nmode = \"{}\"\n{PHASES}", b.mode.name());
        let c = parse_campaign(&same, Path::new("campaigns/same.toml")).unwrap();
        assert_eq!(c.target.mode, b.mode, "{v}");
    }
    // A variant bound to no scheme runs with any mode, swap-scratch by default.
    for mode in [
        "swap-scratch",
        "overwrite",
        "swap-move",
        "swap-offset",
        "esp-idf",
        "redundant-copies",
    ] {
        let c = parse_campaign(
            &format!("[target]\nvariant = \"reference\"\nmode = \"{mode}\"\n{PHASES}"),
            Path::new("campaigns/any.toml"),
        )
        .unwrap_or_else(|e| panic!("{mode}: {}", format_errors(&e)));
        assert_eq!(c.target.mode.name(), mode);
    }
    let c = parse_campaign(
        &format!("[target]\nvariant = \"stale-swap-request\"\n{PHASES}"),
        Path::new("campaigns/d.toml"),
    )
    .unwrap();
    assert_eq!(c.target.mode, fut::scheme::Mode::SWAP_SCRATCH);
}
