//! A campaign's own images and key, from files: imgtool-signed images run end to end on the
//! simulated board with the user's public key, a key mismatch is bad input before any cut, and
//! `inspect --key` reads imgtool's key files.

#[path = "support/cli.rs"]
mod cli;
use std::path::{Path, PathBuf};

use cli::{cutpoint, root};
use sha2::{Digest, Sha256};

fn tmp(name: &str) -> PathBuf {
    let d = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cutpoint-cli-images-{name}"));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn imgtool(rel: &str) -> String {
    root().join("fixtures/imgtool").join(rel).display().to_string()
}

/// SHA-256 of the DER inside a PEM public key file, hex.
fn spki_hash(pem: &str) -> String {
    let text = std::fs::read_to_string(imgtool(pem)).unwrap();
    let (_, der) = pem_rfc7468::decode_vec(text.as_bytes()).unwrap();
    hex::encode(Sha256::digest(der))
}

/// A small campaign in `dir` over image files and a key given by absolute path.
fn campaign(dir: &Path, baseline: &str, update: &str, key: Option<&str>) -> String {
    let key = key.map_or_else(String::new, |k| format!("public_key = '{}'\n", imgtool(k)));
    let text = format!(
        "name = \"own-images\"\n\n[images]\nbaseline = {{ file = '{}' }}\nupdate = {{ file = '{}' }}\n{key}\n\
         [[phases]]\nname = \"swap\"\nstart = 'boot: swap-start'\nend = 'boot: swap-done'\n\
         offsets = {{ every_op = [\"inside:0.5\"] }}\n",
        imgtool(baseline),
        imgtool(update)
    );
    let path = dir.join("c.toml");
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

#[test]
fn imgtool_signed_campaigns_pass_with_the_users_key() {
    for alg in ["ed25519", "ecdsa-p256"] {
        let out = tmp(alg);
        let (code, stdout, stderr) = cutpoint(&[
            "run",
            &format!("fixtures/imgtool-{alg}.toml"),
            "--out",
            out.join("r").to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{alg}: {stdout}{stderr}");
        assert!(stdout.contains(" 0 failed"), "{alg}: {stdout}");
    }
}

#[test]
fn a_padded_confirmed_baseline_runs_from_its_image_alone() {
    let dir = tmp("confirmed");
    let c = campaign(
        &dir,
        "images/ed25519-app-1.0.0-confirmed.bin",
        "images/ed25519-app-2.0.0.bin",
        Some("keys/ed25519.pub.pem"),
    );
    let (code, stdout, stderr) = cutpoint(&["run", &c, "--out", dir.join("r").to_str().unwrap()]);
    assert_eq!(code, 0, "{stdout}{stderr}");
}

#[test]
fn an_update_signed_by_another_key_is_bad_input_before_any_cut() {
    let dir = tmp("mismatch");
    let c = campaign(
        &dir,
        "images/ed25519-app-1.0.0.bin",
        "images/ecdsa-p256-app-2.0.0.bin",
        Some("keys/ed25519.pub.pem"),
    );
    let out = dir.join("r");
    let (code, stdout, stderr) = cutpoint(&["run", &c, "--out", out.to_str().unwrap()]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    let expected = format!(
        "{c}: [images] update: signed by a key whose hash is {}, but public_key {}, an Ed25519 key, hashes to {}; \
         sign with the private half of {} or set public_key",
        spki_hash("keys/ecdsa-p256.pub.pem"),
        imgtool("keys/ed25519.pub.pem"),
        spki_hash("keys/ed25519.pub.pem"),
        imgtool("keys/ed25519.pub.pem"),
    );
    assert!(stderr.contains(&expected), "{stderr}");
    assert!(
        !stderr.contains("bricked") && !stdout.contains("bricked"),
        "{stdout}{stderr}"
    );
    assert!(!out.exists(), "no run was started");

    // Without public_key, the built-in test key is the one that does not match.
    let c = campaign(
        &dir,
        "images/ed25519-app-1.0.0.bin",
        "images/ed25519-app-2.0.0.bin",
        None,
    );
    let (code, _, stderr) = cutpoint(&["run", &c, "--out", out.to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("[images] baseline: signed by a key whose hash is")
            && stderr.contains("but the built-in test key (no public_key is set)")
            && stderr.contains("set public_key to the key the image was signed with"),
        "{stderr}"
    );
}

#[test]
fn an_algorithm_the_simulated_board_cannot_verify_is_bad_input() {
    let dir = tmp("rsa");
    let c = campaign(
        &dir,
        "images/ed25519-app-1.0.0.bin",
        "images/rsa-2048-app-1.0.0.bin",
        Some("keys/ed25519.pub.pem"),
    );
    let (code, _, stderr) = cutpoint(&["run", &c, "--out", dir.join("r").to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains(
            "[images] update: signed with RSA-2048; the simulated board's bootloader verifies Ed25519 and ECDSA P-256"
        ),
        "{stderr}"
    );
    // A key of such an algorithm is refused by name.
    let c = campaign(
        &dir,
        "images/ed25519-app-1.0.0.bin",
        "images/ed25519-app-2.0.0.bin",
        Some("keys/ecdsa-p384.pub.pem"),
    );
    let (code, _, stderr) = cutpoint(&["run", &c]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("images.public_key: "), "{stderr}");
    assert!(
        stderr.contains("an ECDSA P-384 key, which cutpoint does not verify"),
        "{stderr}"
    );
}

#[test]
fn inspect_reads_imgtool_keys() {
    let img = imgtool("images/ecdsa-p256-app-1.0.0.bin");
    for key in ["keys/ecdsa-p256.pub.pem", "keys/ecdsa-p256.pem"] {
        let (code, stdout, stderr) = cutpoint(&["inspect", "--image", &img, "--key", &imgtool(key)]);
        assert_eq!(code, 0, "{stderr}");
        assert!(stdout.contains("signature: ECDSA_SIG verified"), "{key}: {stdout}");
        assert!(stdout.contains("verdict: valid\n"), "{key}: {stdout}");
        assert!(stdout.contains(&spki_hash("keys/ecdsa-p256.pub.pem")), "{stdout}");
    }
    let (_, stdout, _) = cutpoint(&["inspect", "--image", &img, "--key", &imgtool("keys/ed25519.pem")]);
    assert!(stdout.contains("verdict: unknown-key"), "{stdout}");

    let rsa = imgtool("images/rsa-2048-app-1.0.0.bin");
    let (code, stdout, _) = cutpoint(&["inspect", "--image", &rsa]);
    assert_eq!(code, 1, "an algorithm cutpoint does not verify: not known to be valid");
    assert!(
        stdout.contains("signature: RSA2048_PSS not verified (RSA-2048 is not supported by cutpoint)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("verdict: unverified (RSA-2048 is not supported by cutpoint)"),
        "{stdout}"
    );

    let (code, _, stderr) = cutpoint(&["inspect", "--image", &rsa, "--key", &imgtool("keys/rsa-2048.pub.pem")]);
    assert_eq!(code, 2);
    assert!(stderr.starts_with("--key: "), "{stderr}");
    assert!(
        stderr.contains("an RSA key, which cutpoint does not verify"),
        "{stderr}"
    );
}

#[test]
fn check_refuses_an_image_file_larger_than_the_slot() {
    let dir = tmp("big");
    let big = dir.join("big.bin");
    let f = std::fs::File::create(&big).unwrap();
    f.set_len(4 << 30).unwrap();
    drop(f);
    let text = "[images]\nupdate = { file = \"big.bin\" }\n\n[[phases]]\nname = \"swap\"\n\
                start = 'boot: swap-start'\nend = 'boot: swap-done'\noffsets = { fixed = [\"start\"] }\n";
    let c = dir.join("c.toml");
    std::fs::write(&c, text).unwrap();
    let c = c.display().to_string();
    for cmd in ["check", "run"] {
        let (code, _, stderr) = cutpoint(&[cmd, &c]);
        assert_eq!(code, 2, "{cmd}: {stderr}");
        assert!(
            stderr.contains(&format!(
                "{c}:2:19: images.update.file: image file \"{}\": it is 4294967296 bytes, larger than the 196608-byte slot",
                big.display()
            )),
            "{cmd}: {stderr}"
        );
    }
}

#[test]
fn a_station_accepts_an_algorithm_the_rig_cannot_verify_but_the_simulated_board_does_not() {
    let dir = tmp("station");
    let station = "[target]\nboard = \"nrf52840\"\n\n[power]\nkind = \"command\"\non = [\"true\"]\noff = [\"true\"]\n\n\
                   [console]\nkind = \"serial\"\nport = \"/dev/null\"\nbaud = 115200\n\n[probe]\nkind = \"probe-rs\"\n\
                   selector = \"1366:1051\"\nchip = \"nRF52840_xxAA\"\n\n[transport]\nkind = \"http\"\nbind = \"127.0.0.1:0\"\n";
    std::fs::write(dir.join("station.toml"), station).unwrap();
    // The Ed25519 baseline names the key; the RSA update cannot, and need not.
    let c = campaign(
        &dir,
        "images/ed25519-app-1.0.0.bin",
        "images/rsa-2048-app-1.0.0.bin",
        Some("keys/ed25519.pub.pem"),
    );
    let simulated = std::fs::read_to_string(&c).unwrap();
    let on_station = simulated
        .replace("[images]", "[target]\nstation = \"station.toml\"\n\n[images]")
        .replace("every_op = [\"inside:0.5\"]", "fixed = [\"start\"]");
    std::fs::write(&c, on_station).unwrap();
    let campaign = cutpoint_campaign::load_campaign(&c).unwrap_or_else(|e| panic!("{e:?}"));
    let setup = cutpoint::bench_setup::bench_setup(&campaign).unwrap_or_else(|e| panic!("{e}"));
    let rsa = std::fs::read(imgtool("images/rsa-2048-app-1.0.0.bin")).unwrap();
    assert_eq!(*setup.config.update, rsa);

    std::fs::write(&c, simulated).unwrap();
    let campaign = cutpoint_campaign::load_campaign(&c).unwrap_or_else(|e| panic!("{e:?}"));
    let Err(e) = cutpoint::setup::sim_setup(&campaign, 1) else {
        panic!("the simulated board cannot verify RSA");
    };
    assert!(e.to_string().contains("signed with RSA-2048"), "{e}");
}

#[test]
fn spoiled_images_from_the_image_tool_inspect_as_the_device_refuses_them() {
    let dir = tmp("tamper");
    let key = dir.join("default.pub.pem");
    let (code, _, stderr) = cutpoint(&["image", "key", "--out", key.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    for (tamper, verdict) in [
        ("body-byte", "hash-mismatch"),
        ("wrong-key", "unknown-key"),
        ("unsigned", "bad-signature"),
        // The file ends inside the body the header claims (in a slot the rest reads erased,
        // and the device finds no TLV area: bad-tlv).
        ("truncated", "bad-size"),
        ("size-lie", "bad-size"),
        ("forged-signature", "bad-signature"),
    ] {
        let img = dir.join(format!("{tamper}.bin"));
        let (code, _, stderr) = cutpoint(&[
            "image",
            "build",
            "--version",
            "2.0.0",
            "--size-kib",
            "8",
            "--tamper",
            tamper,
            "--out",
            img.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{tamper}: {stderr}");
        let (code, stdout, _) = cutpoint(&[
            "inspect",
            "--image",
            img.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
        ]);
        assert_eq!(code, 1, "{tamper}: not valid");
        assert!(stdout.contains(&format!("verdict: {verdict}")), "{tamper}: {stdout}");
    }
    let (code, _, stderr) = cutpoint(&[
        "image",
        "build",
        "--version",
        "2.0.0",
        "--tamper",
        "bodybyte",
        "--out",
        dir.join("x.bin").to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("--tamper bodybyte: expected one of \"body-byte\""),
        "{stderr}"
    );
}
