//! The fixture files are what the project's own tools make, and they decode and run.

#[path = "support/cli.rs"]
mod cli;
use cli::root;

/// Exit code and stdout followed by stderr.
fn cutpoint(args: &[&str]) -> (i32, String) {
    let (code, stdout, stderr) = cli::cutpoint(args);
    (code, stdout + &stderr)
}

#[test]
fn keys_and_images_are_reproducible_from_the_tools() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("cutpoint-fixtures");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let cases: [(&str, Vec<&str>); 5] = [
        ("keys/test-default.pub.pem", vec!["image", "key"]),
        (
            "images/app-1.0.0-8k.bin",
            vec!["image", "build", "--version", "1.0.0", "--size-kib", "8"],
        ),
        (
            "images/app-2.0.0-8k.bin",
            vec!["image", "build", "--version", "2.0.0", "--size-kib", "8"],
        ),
        (
            "images/app-2.0.0-9k-whole.bin",
            vec!["image", "build", "--version", "2.0.0", "--total-bytes", "9216"],
        ),
        (
            "images/app-2.0.0-8k-bad.bin",
            vec![
                "image",
                "build",
                "--version",
                "2.0.0",
                "--size-kib",
                "8",
                "--health-fails",
            ],
        ),
    ];
    for (file, args) in cases {
        let out = dir.join(file.replace('/', "_"));
        let mut a = args.clone();
        a.extend(["-o", out.to_str().unwrap()]);
        assert_eq!(cutpoint(&a).0, 0);
        assert_eq!(
            std::fs::read(&out).unwrap(),
            std::fs::read(root().join("fixtures").join(file)).unwrap(),
            "{file} drifted"
        );
    }
}

#[test]
fn the_brick_dump_decodes_as_a_brick() {
    let (code, text, stderr) = cli::cutpoint(&[
        "inspect",
        "--json",
        "fixtures/dumps/overwrite-no-rollback-brick-0x10000.bin",
    ]);
    assert_eq!(
        code, 1,
        "the primary image is torn: the dump decodes, an image is invalid: {stderr}"
    );
    assert!(stderr.contains("primary: hash-mismatch"), "{stderr}");
    let v: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
    assert_eq!(v["base_addr"], 0x10000);
    assert_eq!(v["slots"][0]["image"]["validity"], "hash-mismatch");
    assert_eq!(v["slots"][1]["image"]["validity"], "valid");
    let log = std::fs::read_to_string(root().join("fixtures/logs/overwrite-no-rollback-brick.log")).unwrap();
    assert!(log.contains("boot: halt reason=no-bootable-image"), "{log}");
}

#[test]
fn a_campaign_over_image_files_passes() {
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("cutpoint-file-images");
    let _ = std::fs::remove_dir_all(&out);
    let (code, text) = cutpoint(&["run", "fixtures/file-images.toml", "--out", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains(" 0 failed"), "{text}");
}
