//! Every example file in rig/campaign/SCHEMA.md and docs/*.md passes `cutpoint check` with no
//! warning (fragments are marked `# partial: ...`; see support/docs.rs).

#[path = "support/cli.rs"]
mod cli;
#[path = "support/docs.rs"]
mod docs;

use cutpoint::check::check_file;

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
