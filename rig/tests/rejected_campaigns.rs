//! The shipped rejected-image campaigns (`campaigns/rejected/`) through the engine and the
//! pass rule. On the reference firmware every cut passes, including every cut before, inside
//! and after each flash operation that erases the refused image or request, and every
//! recovery says why it refused. On the builds that skip an image check, each campaign fails
//! exactly where the table in `campaigns/README.md` says: the rig catches the skipped check
//! only with the image that needs it. Those builds pass the good-update smoke campaign.

#[path = "support/sim_run.rs"]
mod sim_run;

use cutpoint_campaign::Campaign;
use sim_run::{run, shipped_with, Ran};

const REJECTED: [&str; 8] = [
    "body-byte",
    "truncated",
    "body-byte-upload",
    "wrong-key",
    "unsigned",
    "size-lie",
    "downgrade",
    "forged-signature",
];

/// The phase that holds the erase of the refused image (download) or request (upload).
fn erase_phase(name: &str) -> &'static str {
    if matches!(name, "body-byte" | "truncated") {
        "after-verify"
    } else {
        "drop"
    }
}

/// The shipped campaign `rel`, on `variant`'s build, expecting `expect`.
fn campaign(rel: &str, variant: &str, expect: &str) -> Campaign {
    shipped_with(rel, |text| {
        text.replace("variant = \"reference\"", &format!("variant = \"{variant}\""))
            .replace("expect = \"pass\"", &format!("expect = \"{expect}\""))
    })
}

fn failures(o: &Ran) -> Vec<String> {
    o.failures()
}

#[test]
fn the_reference_refuses_every_spoiled_image_whatever_the_cut() {
    let refused = regex::Regex::new(cutpoint_campaign::defaults::REFUSED).unwrap();
    for name in REJECTED {
        let o = run(&campaign(&format!("rejected/{name}"), "reference", "pass"));
        assert!(!o.control_failed, "{name}: control run: {:?}", o.control_reasons());
        assert_eq!(failures(&o), Vec::<String>::new(), "{name}");
        assert!(o.journal.cuts.len() >= 20, "{name}: {} cuts", o.journal.cuts.len());
        for cut in &o.journal.cuts {
            assert_eq!(cut.final_image.as_deref(), Some("1.0.0+0"), "{name}: {}", cut.id);
            assert!(
                cut.console.iter().any(|l| refused.is_match(&l.text)),
                "{name}: {} never said why",
                cut.id
            );
            assert!(
                !cut.console
                    .iter()
                    .any(|l| l.text.starts_with("boot: jump version=")
                        && !l.text.starts_with("boot: jump version=1.0.0+0")),
                "{name}: {} booted another image",
                cut.id
            );
        }
        // Cuts before, inside and after every flash operation of the erase of the refused
        // image or request, and each of them passed (checked above).
        let phase = erase_phase(name);
        let erase: Vec<&str> = o
            .journal
            .cuts
            .iter()
            .filter(|c| c.id.starts_with(&format!("{phase}/op-")))
            .map(|c| c.id.as_str())
            .collect();
        for point in ["-before", "-inside-0.50", "-after"] {
            assert!(
                erase.iter().any(|id| id.ends_with(point)),
                "{name}: no cut {point} an erase operation"
            );
        }
        if name.starts_with("body-byte") {
            let second = o.journal.cuts.iter().filter(|c| c.id.contains('>')).count();
            assert!(second > 0, "{name}: no second cut while the erase is redone");
        }
        let expected_ops = if phase == "after-verify" { 48 } else { 1 };
        assert_eq!(erase.len(), expected_ops * 3, "{name}: {erase:?}");
    }
}

/// Which skipped check each spoiled image catches (`campaigns/README.md`).
fn caught(image: &str, variant: &str) -> bool {
    matches!(
        (image, variant),
        ("body-byte" | "body-byte-upload", "integrity-skipped")
            | ("unsigned" | "forged-signature", "signature-skipped")
            | ("wrong-key", "signature-skipped" | "key-not-compared")
    )
}

#[test]
fn each_skipped_check_is_caught_by_the_image_that_needs_it() {
    for variant in ["integrity-skipped", "signature-skipped", "key-not-compared"] {
        for name in REJECTED {
            let o = run(&campaign(&format!("rejected/{name}"), variant, "fail"));
            let fails = failures(&o);
            if caught(name, variant) {
                assert!(o.control_failed, "{name} on {variant}: the control run passed");
                assert!(!fails.is_empty(), "{name} on {variant}: not caught");
                assert_eq!(
                    fails.len(),
                    o.journal.cuts.len(),
                    "{name} on {variant}: every cut fails"
                );
                for f in &fails {
                    assert!(
                        f.contains("booted 2.0.0+0, an update it must refuse"),
                        "{name} on {variant}: {f}"
                    );
                }
            } else {
                assert!(!o.control_failed, "{name} on {variant}: {:?}", o.control_reasons());
                assert_eq!(
                    fails,
                    Vec::<String>::new(),
                    "{name} on {variant}: the image is still refused"
                );
            }
        }
    }
}

#[test]
fn the_skipped_check_builds_pass_the_good_update() {
    for variant in ["integrity-skipped", "signature-skipped", "key-not-compared"] {
        let o = run(&campaign("smoke", variant, "pass"));
        assert!(!o.control_failed, "{variant}: control run: {:?}", o.control_reasons());
        assert!(o.journal.cuts.len() > 30, "{variant}: {} cuts", o.journal.cuts.len());
        assert_eq!(failures(&o), Vec::<String>::new(), "{variant}");
    }
}
