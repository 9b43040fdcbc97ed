//! Spoiled update images on the simulated board, without cuts: each is refused by the
//! reference firmware at the gate the delivery leaves (the application's verify after a
//! download, the bootloader's check after an upload) with its own reason, and the device stays
//! on the old image; a build that skips one check lets exactly the images that need it through.
//! An image signed by MCUboot's own imgtool with another key is refused the same way.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use cutpoint_sim::imgtool::{build_tampered_image, default_test_key, ImageSpec, Tamper};
use cutpoint_sim::scenario::{Scenario, NEW_VERSION};
use cutpoint_sim::{BoardProfile, Delivery, RunEnd, RunLog, RunOptions};
use fut::Variant;

fn scenario(variant: Variant, delivery: Delivery, image: Vec<u8>) -> Scenario {
    let mut s = Scenario::new(BoardProfile::builtin("nrf52840").unwrap(), 16).with_variant(variant);
    s.new_image = Arc::new(image);
    s.delivery = delivery;
    s
}

fn tampered(t: Tamper) -> Vec<u8> {
    build_tampered_image(&ImageSpec::new(NEW_VERSION, 16 * 1024), &default_test_key(), t)
}

fn run(s: &Scenario) -> RunLog {
    s.board().run(RunOptions::default())
}

fn lines(log: &RunLog) -> Vec<&str> {
    log.console.iter().map(|l| l.text.as_str()).collect()
}

fn jumps(log: &RunLog) -> Vec<&str> {
    lines(log)
        .into_iter()
        .filter_map(|l| l.strip_prefix("boot: jump version="))
        .map(|l| l.split(' ').next().unwrap_or(""))
        .collect()
}

fn reason(t: Tamper) -> &'static str {
    match t {
        Tamper::BodyByte => "hash-mismatch",
        Tamper::WrongKey => "unknown-key",
        Tamper::Unsigned => "bad-signature",
        Tamper::Truncated => "bad-tlv",
        Tamper::SizeLie => "bad-size",
        Tamper::ForgedSignature => "bad-signature",
    }
}

/// The device refused: it says why at the gate, never boots anything but 1.0.0, and settles.
fn assert_refused(log: &RunLog, gate_line: &str, what: &str) {
    let l = lines(log);
    assert!(l.contains(&gate_line), "{what}: no `{gate_line}` in {l:#?}");
    assert_eq!(log.end, RunEnd::Idle, "{what}: {l:#?}");
    assert!(jumps(log).iter().all(|v| *v == "1.0.0+0"), "{what}: {:?}", jumps(log));
}

#[test]
fn the_reference_refuses_every_spoiled_image_at_either_gate() {
    for t in Tamper::ALL {
        let download = run(&scenario(Variant::Reference, Delivery::Download, tampered(t)));
        let line = format!("ota: verify-fail reason={}", reason(t));
        assert_refused(&download, &line, t.name());
        assert!(lines(&download).contains(&"ota: idle reason=verify-fail version=2.0.0+0"));
        assert!(!lines(&download).iter().any(|l| l.starts_with("ota: request-start")));

        let upload = run(&scenario(Variant::Reference, Delivery::Upload, tampered(t)));
        let line = format!("boot: integrity slot=secondary fail reason={}", reason(t));
        assert_refused(&upload, &line, t.name());
        let l = lines(&upload);
        assert!(
            !l.iter().any(|l| l.starts_with("ota: verify-")),
            "{}: the app checked",
            t.name()
        );
        assert!(l.contains(&"boot: request-dropped slot=secondary"), "{}", t.name());
        assert!(!l.iter().any(|l| l.starts_with("boot: swap-start")), "{}", t.name());
        // The host uploads once per power-on: the device is not offered the image again.
        assert_eq!(l.last(), Some(&"ota: idle reason=no-offer"), "{}", t.name());
    }
}

#[test]
fn a_downgrade_is_refused_only_when_the_build_refuses_downgrades() {
    let old = cutpoint_sim::imgtool::parse_version("0.9.0").unwrap();
    let image = cutpoint_sim::imgtool::build_image(&ImageSpec::new(old, 16 * 1024), &default_test_key());
    for delivery in [Delivery::Download, Delivery::Upload] {
        let mut s = scenario(Variant::Reference, delivery, image.clone());
        s.new_version = old;
        let allowed = run(&s);
        assert_eq!(
            jumps(&allowed).last(),
            Some(&"0.9.0+0"),
            "{delivery}: installs when allowed"
        );
        s.refuse_downgrade = true;
        let gate = match delivery {
            Delivery::Download => "ota: verify-fail reason=downgrade",
            Delivery::Upload => "boot: integrity slot=secondary fail reason=downgrade",
        };
        assert_refused(&run(&s), gate, delivery.name());
    }
}

/// The images each skip-a-check build lets in (the rest it still refuses).
fn lets_in(v: Variant) -> &'static [Tamper] {
    match v {
        Variant::IntegritySkipped => &[Tamper::BodyByte],
        Variant::SignatureSkipped => &[Tamper::Unsigned, Tamper::WrongKey, Tamper::ForgedSignature],
        Variant::KeyNotCompared => &[Tamper::WrongKey],
        _ => &[],
    }
}

#[test]
fn a_build_that_skips_a_check_lets_in_exactly_the_images_that_need_it() {
    for v in Variant::ALL.into_iter().filter(|v| v.skips_image_check()) {
        for t in Tamper::ALL {
            for delivery in [Delivery::Download, Delivery::Upload] {
                let log = run(&scenario(v, delivery, tampered(t)));
                let what = format!("{t} on {v} ({delivery})");
                if lets_in(v).contains(&t) {
                    assert!(jumps(&log).contains(&"2.0.0+0"), "{what}: {:#?}", lines(&log));
                } else {
                    let l = lines(&log);
                    assert!(
                        l.iter().any(|l| l.contains(&format!("fail reason={}", reason(t)))),
                        "{what}: {l:#?}"
                    );
                    assert!(jumps(&log).iter().all(|j| *j == "1.0.0+0"), "{what}");
                }
            }
        }
        // Invisible with a genuine image.
        let good = Scenario::new(BoardProfile::builtin("nrf52840").unwrap(), 16).with_variant(v);
        assert_eq!(jumps(&run(&good)).last(), Some(&"2.0.0+0"), "{v}");
    }
}

fn imgtool_fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/imgtool")
}

/// `fixtures/imgtool/images/ed25519-app-2.0.0.bin` was signed by MCUboot's imgtool 2.5.0 with
/// the fixture's own Ed25519 key (a KEYHASH TLV naming it): to a device that trusts cutpoint's
/// test key it is an image signed by another key.
#[test]
fn an_imgtool_signed_image_with_another_key_is_refused_the_same_way() {
    let image = std::fs::read(imgtool_fixtures().join("images/ed25519-app-2.0.0.bin")).unwrap();
    let download = run(&scenario(Variant::Reference, Delivery::Download, image.clone()));
    assert_refused(&download, "ota: verify-fail reason=unknown-key", "imgtool, download");
    let upload = run(&scenario(Variant::Reference, Delivery::Upload, image.clone()));
    assert_refused(
        &upload,
        "boot: integrity slot=secondary fail reason=unknown-key",
        "imgtool, upload",
    );
    // The KEYHASH form names its key without carrying it: a build that does not compare key
    // hashes still verifies with the trusted key, and the signature does not verify.
    let skipped = run(&scenario(Variant::KeyNotCompared, Delivery::Upload, image));
    assert_refused(
        &skipped,
        "boot: integrity slot=secondary fail reason=bad-signature",
        "imgtool, key-not-compared",
    );
}

/// With imgtool installed: an image it signs with a fresh key, carrying the key whole
/// (`--public-key-format full`), is refused by the reference and let in by key-not-compared.
#[test]
fn a_live_imgtool_image_with_a_carried_key() {
    if Command::new("imgtool").arg("version").output().is_err() {
        println!("skipped: imgtool is not installed (`pip install imgtool`); the committed imgtool fixtures were checked instead");
        return;
    }
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("cutpoint-imgtool");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let key = dir.join("other.pem");
    let out = dir.join("signed.bin");
    let ok = |c: &mut Command| c.status().map(|s| s.success()).unwrap_or(false);
    assert!(ok(Command::new("imgtool")
        .args(["keygen", "-t", "ed25519", "-k"])
        .arg(&key)));
    assert!(ok(Command::new("imgtool")
        .args([
            "sign",
            "--header-size",
            "0x200",
            "--align",
            "4",
            "--version",
            "2.0.0",
            "--slot-size",
            "0x30000",
            "--pad-header",
            "--public-key-format",
            "full",
            "-k",
        ])
        .arg(&key)
        .arg(imgtool_fixtures().join("payloads/app-2.0.0.bin"))
        .arg(&out)));
    let image = std::fs::read(&out).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let reference = run(&scenario(Variant::Reference, Delivery::Upload, image.clone()));
    assert_refused(
        &reference,
        "boot: integrity slot=secondary fail reason=unknown-key",
        "live imgtool, reference",
    );
    let skipped = run(&scenario(Variant::KeyNotCompared, Delivery::Upload, image));
    assert!(jumps(&skipped).contains(&"2.0.0+0"), "{:#?}", lines(&skipped));
}
