//! The shipped esp-idf campaigns on the simulated board: the reference passes every cut point
//! of each (nRF52840 and STM32L4), and the negative control fails, labelled expected.

#[path = "support/sim_run.rs"]
mod sim_run;

use cutpoint_campaign::Expect;
use cutpoint_report::Status;
use sim_run::{assert_reference_passes, assert_shipped_passes, run, shipped};

#[test]
fn the_reference_passes_every_esp_idf_campaign() {
    assert_reference_passes(
        &[
            "esp-idf/smoke",
            "esp-idf/exhaustive",
            "esp-idf/exhaustive-stm32l4",
            "esp-idf/revert",
            "esp-idf/double-cuts",
            "esp-idf/double-cuts-stm32l4",
            "esp-idf/revert-from-ota-1",
            "esp-idf/revert-from-ota-1-stm32l4",
            "esp-idf/esp-images",
        ],
        15,
    );
}

/// The broken otadata builds fail the campaigns whose scenario the reference passes
/// (`esp-idf/revert-from-ota-1`): the running slot's entry rewritten after a fallback is caught
/// by cuts alone (its control run passes), the single-sector selection even without a cut.
#[test]
fn the_broken_otadata_builds_fail_where_the_reference_passes() {
    let rewritten = run(&shipped("known-bugs/otadata-running-rewritten"));
    assert!(!rewritten.control_failed, "{:?}", rewritten.control_reasons());
    assert!(rewritten.count(Status::Fail) > 0, "no cut point failed");
    assert!(
        rewritten.failures().iter().all(|f| f.contains("rewrite/")),
        "only cuts inside the rewrite fail: {:#?}",
        rewritten.failures()
    );
    let single = run(&shipped("known-bugs/otadata-single-sector"));
    assert!(single.control_failed);
    assert!(single.count(Status::Fail) > 0);
}

/// FIELD-BUGS row 9 (ruuvi.gateway_esp.c #1278 / PR #1279): a cut inside the bootloader's first
/// otadata write on blank otadata leaves an entry with a bad CRC beside an erased one. The
/// reference (`esp-idf/first-select*`) passes every cut; the build that restarts when
/// `esp_ota_get_boot_partition` names nothing (`otadata-invalid-reboot`) never settles after
/// the cuts that leave such an entry, its control run passes. Under the zeroed-tail fault one
/// cut leaves the very entry of the gateway's log: seq 1, state VALID, crc 0.
#[test]
fn the_build_that_restarts_on_unreadable_otadata_loops_where_the_reference_updates() {
    for (bug, control, cuts, failing) in [
        ("known-bugs/otadata-invalid-reboot", "esp-idf/first-select", 22, 12),
        (
            "known-bugs/otadata-invalid-reboot-zeroed-tail",
            "esp-idf/first-select-zeroed-tail",
            30,
            20,
        ),
    ] {
        assert_shipped_passes(control, cuts);
        let c = shipped(bug);
        assert_eq!(c.pass.expect, Expect::Fail, "{bug}");
        let ran = run(&c);
        assert!(!ran.control_failed, "{bug}: {:?}", ran.control_reasons());
        assert_eq!(ran.journal.cuts.len(), cuts, "{bug}");
        let failures = ran.failures();
        assert_eq!(failures.len(), failing, "{bug}: {failures:#?}");
        assert!(
            failures.iter().all(|f| f.contains("did not settle")),
            "{bug}: every failure is the reboot loop: {failures:#?}"
        );
        if c.run.fault == cutpoint_campaign::FaultKind::ZeroedTail {
            // 0.88 of the 32-byte program keeps 28 bytes: seq, label and state; the CRC reads 0.
            let field_entry = "otadata sector 0: crc 0x00000000 does not match seq 1 (expected 0x4743989a)";
            let cut = ran
                .journal
                .cuts
                .iter()
                .find(|c| c.id == "first-select/op-0001-inside-0.88")
                .unwrap_or_else(|| panic!("{bug}: no cut at 0.88 of the program"));
            assert!(
                cut.warnings.iter().any(|w| w == field_entry),
                "{bug}: {:?}",
                cut.warnings
            );
            assert_eq!(cut.status, Status::Fail, "{bug}: {}", cut.id);
            assert_eq!(
                cut.booted_slot.as_ref().map(|b| b.record.as_str()),
                Some("otadata sector 0 seq 1 valid (crc bad), sector 1 blank; no valid entry: ota_0 first"),
                "{bug}: {}",
                cut.id
            );
        }
    }
}

#[test]
fn the_esp_idf_negative_control_fails_as_expected() {
    let c = shipped("esp-idf/known-bugs");
    assert_eq!(c.pass.expect, Expect::Fail);
    let ran = run(&c);
    assert!(ran.control_failed, "the broken build fails even without a cut");
    assert!(ran.count(Status::Fail) > 0, "no cut point failed");
}

/// FIELD-BUGS row 17 on otadata (`fault = "zeroed-tail"`): every otadata write of a failing
/// update from ota_1 cut at sixteenths of its time, on the nRF52840 and the STM32L4. The CRC is
/// the entry's last field, so a zeroed tail always leaves an entry that is not valid and the
/// other sector selects: every cut passes, and the cuts really left zeroed entries.
#[test]
fn a_zeroed_otadata_tail_is_survived_on_both_parts() {
    for rel in ["esp-idf/zeroed-tail", "esp-idf/zeroed-tail-stm32l4"] {
        let c = shipped(rel);
        assert_eq!(c.run.fault, cutpoint_campaign::FaultKind::ZeroedTail, "{rel}");
        let ran = run(&c);
        assert!(!ran.control_failed, "{rel}: {:?}", ran.control_reasons());
        assert_eq!(ran.failures(), Vec::<String>::new(), "{rel}");
        assert_eq!(ran.journal.cuts.len(), 90, "{rel}");
        let zeroed = ran
            .journal
            .cuts
            .iter()
            .filter_map(|c| c.landing.as_ref()?.torn.as_deref())
            .filter(|t| t.contains("-> zeroed from"))
            .count();
        assert!(zeroed >= 40, "{rel}: only {zeroed} cuts left a zeroed tail");
        assert!(
            ran.journal
                .cuts
                .iter()
                .all(|c| c.final_image.as_deref() == Some("1.0.0+0")),
            "{rel}: the failing update was not rolled back everywhere"
        );
    }
}
