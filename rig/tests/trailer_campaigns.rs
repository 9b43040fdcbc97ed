//! The shipped trailer campaigns through the engine and the pass rule: the reference firmware
//! passes every cut (and the campaigns reach the paths that settle a weak field: programming
//! it again, and rewriting the trailer through the journal), and a broken build fails each.

#[path = "support/sim_run.rs"]
mod sim_run;

use cutpoint_campaign::Campaign;
use cutpoint_report::Status;
use sim_run::{run, shipped_with, Ran};

/// The shipped campaign `name`, on `variant`'s build.
fn campaign(name: &str, variant: &str) -> Campaign {
    shipped_with(name, |text| {
        text.replace("variant = \"reference\"", &format!("variant = \"{variant}\""))
    })
}

fn count(o: &Ran, s: Status) -> usize {
    o.count(s)
}

fn lines_with(o: &Ran, text: &str) -> usize {
    o.journal
        .cuts
        .iter()
        .filter(|c| c.console.iter().any(|l| l.text.contains(text)))
        .count()
}

#[test]
fn the_reference_passes_every_trailer_fault_and_settles_weak_fields() {
    for name in ["trailer-faults", "trailer-faults-revert"] {
        let o = run(&campaign(name, "reference"));
        assert!(!o.control_failed, "{name}: control run");
        assert!(o.journal.cuts.len() > 1000, "{name}: {} cuts", o.journal.cuts.len());
        let failures = o.failures();
        assert!(failures.is_empty(), "{name}: {failures:#?}");
        for path in [
            "boot: trailer-reprogram slot=primary field=magic",
            "boot: trailer-reprogram slot=primary field=status",
            "via=journal",
        ] {
            assert!(lines_with(&o, path) > 0, "{name}: no cut reaches `{path}`");
        }
    }
}

#[test]
fn broken_builds_fail_the_trailer_campaigns() {
    // The request raised during the download: a cut after its magic swaps in a partial image.
    let o = run(&campaign("trailer-faults", "early-trailer-magic"));
    assert!(count(&o, Status::Fail) > 0, "early-trailer-magic was not caught");
    // A torn magic at the start of a revert read as "no swap": the failing image stays.
    let o = run(&campaign("trailer-faults-revert", "torn-magic-revert"));
    assert!(count(&o, Status::Fail) > 0, "torn-magic-revert was not caught");
    assert_eq!(count(&o, Status::Error), 0);
}

/// The campaigns that cut every flash operation of every metadata write (see the table in
/// `campaigns/README.md`).
const METADATA: [&str; 4] = [
    "metadata-confirm",
    "metadata-perm",
    "metadata-overwrite",
    "metadata-revert",
];

#[test]
fn the_reference_passes_every_cut_of_every_metadata_write() {
    let mut ran = std::collections::HashMap::new();
    for name in METADATA {
        let o = run(&campaign(name, "reference"));
        assert!(!o.control_failed, "{name}: control run");
        assert!(o.journal.cuts.len() > 20, "{name}: {} cuts", o.journal.cuts.len());
        let failures = o.failures();
        assert!(failures.is_empty(), "{name}: {failures:#?}");
        ran.insert(name, o);
    }
    // The finer revert campaign reaches the revert's resumptions: from its status records, from
    // the journal in the scratch trailer, and with a torn field programmed again.
    let o = &ran["metadata-revert"];
    for path in [
        "boot: swap-resume type=revert size=20480 after-region=",
        "boot: swap-resume type=revert size=20480 from=journal",
        "boot: trailer-rewrite slot=primary field=status via=journal",
        "boot: trailer-reprogram slot=primary field=magic",
    ] {
        assert!(lines_with(o, path) > 0, "metadata-revert: no cut reaches `{path}`");
    }
    // A torn confirmation is repaired by the next boot's confirmation.
    let o = &ran["metadata-confirm"];
    assert!(
        o.journal
            .cuts
            .iter()
            .any(|c| c.id.contains('>') && c.console.iter().any(|l| l.text.starts_with("app: confirm"))),
        "metadata-confirm: no second cut lands in a repeated confirmation"
    );
}

#[test]
fn a_torn_magic_at_the_revert_fails_the_finer_revert_campaign() {
    let o = run(&campaign("metadata-revert", "torn-magic-revert"));
    assert!(count(&o, Status::Fail) > 0, "torn-magic-revert was not caught");
    assert_eq!(count(&o, Status::Error), 0);
}
