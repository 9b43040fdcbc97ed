//! `--filter`: which cut points of the plan a run takes. Globs over the stable ids (`swap/*`,
//! `*/every_op-*`), or `failed:DIR` for the cut points that failed or hit a rig error in an
//! earlier report. Several filters add up: a cut point runs when any of them takes it.

use std::collections::HashSet;
use std::path::Path;

use cutpoint_report::journal::read_journal;
use cutpoint_report::Status;

/// A set of filters, as given on the command line.
#[derive(Debug, Clone, Default)]
pub struct CutFilter {
    globs: Vec<glob::Pattern>,
    ids: HashSet<String>,
    /// The filters as written, for the journal and the reports.
    text: Vec<String>,
}

impl CutFilter {
    /// Parses `--filter` values; an error names the value and what is wrong.
    pub fn parse(values: &[String]) -> Result<Option<CutFilter>, String> {
        if values.is_empty() {
            return Ok(None);
        }
        let mut f = CutFilter::default();
        for v in values {
            if let Some(dir) = v.strip_prefix("failed:") {
                let path = Path::new(dir).join("results.jsonl");
                let j = read_journal(&path).map_err(|e| format!("--filter {v}: {e}"))?;
                let before = f.ids.len();
                f.ids
                    .extend(j.cuts.iter().filter(|c| c.status != Status::Pass).map(|c| c.id.clone()));
                if f.ids.len() == before {
                    return Err(format!(
                        "--filter {v}: no cut point failed or hit a rig error in {dir}; nothing to run again"
                    ));
                }
            } else {
                let g = glob::Pattern::new(v)
                    .map_err(|e| format!("--filter {v}: not a glob ({e}); write e.g. 'swap/*' or failed:REPORT_DIR"))?;
                f.globs.push(g);
            }
            f.text.push(v.clone());
        }
        Ok(Some(f))
    }

    pub fn matches(&self, id: &str) -> bool {
        self.ids.contains(id) || self.globs.iter().any(|g| g.matches(id))
    }

    /// The filters as written, joined by spaces.
    pub fn describe(&self) -> String {
        self.text.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_take_ids_across_slashes_and_bad_globs_are_refused() {
        let f = CutFilter::parse(&["swap/*".into(), "*/every_op-#1?".into()])
            .unwrap()
            .unwrap();
        assert!(f.matches("swap/random-00076#28"));
        assert!(f.matches("request/every_op-#12"));
        assert!(!f.matches("download/byte-4096"));
        assert!(!f.matches("seq:download/start>swap/start"));
        let err = CutFilter::parse(&["swap/[".into()]).unwrap_err();
        assert!(err.contains("not a glob"), "{err}");
        assert!(CutFilter::parse(&[]).unwrap().is_none());
    }
}
