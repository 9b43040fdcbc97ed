//! Every example file in rig/campaign/SCHEMA.md and docs/*.md passes `cutpoint check` with no
//! warning (fragments are marked `# partial: ...`; see support/docs.rs).

#[path = "support/cli.rs"]
mod cli;
#[path = "support/docs.rs"]
mod docs;

use std::path::Path;

use cutpoint::check::check_file;
use cutpoint_sim::imgtool::{build_image, default_test_key, parse_version, ImageSpec};
use ed25519_dalek::pkcs8::EncodePublicKey;

/// Writes the image and key files a campaign example names (signed test images, the test
/// key's public half), as the reader would have built them.
fn provide_images(dir: &Path, text: &str) {
    let Ok(doc) = text.parse::<toml::Table>() else { return };
    let Some(images) = doc.get("images").and_then(|i| i.as_table()) else {
        return;
    };
    let write = |rel: &str, bytes: &[u8]| {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    };
    for (which, version) in [("baseline", "1.0.0"), ("update", "2.0.0")] {
        if let Some(file) = images.get(which).and_then(|i| i.get("file")).and_then(|f| f.as_str()) {
            let spec = ImageSpec::new(parse_version(version).unwrap(), 8 * 1024);
            write(file, &build_image(&spec, &default_test_key()));
        }
    }
    if let Some(key) = images.get("public_key").and_then(|k| k.as_str()) {
        let pem = default_test_key()
            .verifying_key()
            .to_public_key_pem(Default::default())
            .unwrap();
        write(key, pem.as_bytes());
    }
}

#[test]
fn every_example_in_the_docs_passes_check() {
    let root = cli::root();
    let mut checked = Vec::new();
    for md in docs::markdown_files(&root) {
        let blocks = docs::toml_blocks(&md);
        assert!(!blocks.is_empty(), "{}: no ```toml block", md.display());
        let dir = tempfile::tempdir().unwrap();
        // Every named block first, so campaigns find their stations.
        let mut files = Vec::new();
        for (i, b) in blocks.iter().enumerate().filter(|(_, b)| !b.partial) {
            let name = b.file.clone().unwrap_or_else(|| format!("example-{i}.toml"));
            let path = dir.path().join(&name);
            std::fs::write(&path, &b.text).unwrap();
            provide_images(dir.path(), &b.text);
            files.push((b.origin.clone(), path));
        }
        for (origin, path) in files {
            match check_file(&path) {
                Ok(report) => {
                    assert!(
                        report.warnings.is_empty(),
                        "{origin}: the example uses deprecated spellings: {:?}",
                        report.warnings
                    );
                    checked.push(origin);
                }
                Err(errors) => panic!(
                    "{origin}: the example does not pass `cutpoint check`:\n{}",
                    cutpoint_campaign::format_errors(&errors)
                ),
            }
        }
    }
    for expected in ["SCHEMA.md", "bench-on-a-pi.md", "your-firmware.md"] {
        assert!(
            checked.iter().any(|o| o.starts_with(expected)),
            "no example of {expected} was checked: {checked:?}"
        );
    }
}
