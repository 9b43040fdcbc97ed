//! Every id the shipped campaigns plan (`cutpoint plan campaigns/**/*.toml`, chains included)
//! reads as a [`CutId`], prints back as the very same text, and its parts are the plan's.

use std::path::{Path, PathBuf};

use cutpoint_report::CutId;

#[path = "support/cli.rs"]
mod cli;
use cli::{cutpoint, root};

fn campaigns(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            campaigns(&path, out);
        } else if path.extension().is_some_and(|e| e == "toml") {
            out.push(path);
        }
    }
}

#[test]
fn every_planned_id_of_the_shipped_campaigns_reads_and_prints_back_the_same() {
    let mut files = Vec::new();
    campaigns(&root().join("campaigns"), &mut files);
    files.sort();
    assert!(files.len() >= 18, "{files:?}");
    let mut chains = 0;
    let mut repeated = 0;
    for file in &files {
        let name = file.strip_prefix(root()).unwrap().to_str().unwrap().to_owned();
        let (code, stdout, stderr) = cutpoint(&["plan", &name, "--json"]);
        assert_eq!(code, 0, "{name}: {stderr}");
        let plan: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        let points = plan["cut_points"].as_array().unwrap();
        assert!(!points.is_empty(), "{name}");
        for p in points {
            let text = p["id"].as_str().unwrap();
            let id: CutId = text.parse().unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(id.to_string(), text, "{name}");
            assert_eq!(serde_json::to_value(&id).unwrap(), p["id"], "{name}");
            assert_eq!(id.first().phase, p["phase"], "{name}: {text}");
            if p.get("chain").is_none() {
                // A station campaign (campaigns/templates/) planned without a control run lists
                // the ids that need none, with their phase only.
                assert!(name.starts_with("campaigns/templates/"), "{name}: {text}");
                continue;
            }
            assert_eq!(id.len() as u64, p["chain"].as_u64().unwrap(), "{name}: {text}");
            assert_eq!(
                u64::from(id.repetition().unwrap_or(1)),
                p["repetition"].as_u64().unwrap(),
                "{name}: {text}"
            );
            if id.len() == 1 {
                assert_eq!(id.first().offset, p["offset"], "{name}: {text}");
            } else {
                assert_eq!(id.as_ref().after_first_phase(), p["offset"], "{name}: {text}");
                chains += 1;
            }
            repeated += usize::from(id.repetition().is_some());
        }
    }
    // The shipped campaigns hold chains and repeated cut points: both shapes were read.
    assert!(chains > 0 && repeated > 0, "chains {chains}, repeated {repeated}");
}
