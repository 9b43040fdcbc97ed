//! The failing (and rig-error) cut points of a run, grouped by their first reason as they
//! arrive: a count and the first few ids per group, so the tally stays small however long the
//! run. What an engineer reads at the end of a red run.

use cutpoint_report::{CutResult, Status};

/// One group: the reason, the status, how many, and the first ids.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Group {
    reason: String,
    status: Status,
    count: usize,
    ids: Vec<String>,
}

#[derive(Debug, Default)]
pub struct FailureGroups {
    groups: Vec<Group>,
}

impl FailureGroups {
    const SHOWN_GROUPS: usize = 10;
    const SHOWN_IDS: usize = 4;
    /// Distinct reasons kept; past this, further reasons count in one group.
    const MAX_GROUPS: usize = 1000;

    /// Counts a result (a passing one is not counted).
    pub fn add(&mut self, c: &CutResult) {
        if c.status == Status::Pass {
            return;
        }
        let mut reason = c.reasons.first().cloned().unwrap_or_default();
        if self.groups.len() >= Self::MAX_GROUPS && !self.groups.iter().any(|g| g.reason == reason) {
            reason = "(other reasons)".into();
        }
        match self
            .groups
            .iter_mut()
            .find(|g| g.reason == reason && g.status == c.status)
        {
            Some(g) => {
                g.count += 1;
                if g.ids.len() < Self::SHOWN_IDS {
                    g.ids.push(c.id.clone());
                }
            }
            None => self.groups.push(Group {
                reason,
                status: c.status,
                count: 1,
                ids: vec![c.id.clone()],
            }),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// The groups as stderr lines, most frequent reason first; a negative control's failures
    /// are labelled expected. Nothing when no cut point failed.
    pub fn lines(&mut self, negative: bool) -> Vec<String> {
        let mut out = Vec::new();
        if self.groups.is_empty() {
            return out;
        }
        self.groups.sort_by_key(|g| std::cmp::Reverse(g.count));
        out.push("cutpoint: failing cut points by reason:".to_string());
        for g in self.groups.iter().take(Self::SHOWN_GROUPS) {
            let label = match g.status {
                Status::Fail if negative => "FAIL (expected)",
                Status::Fail => "FAIL",
                _ => "RIG ERROR",
            };
            let more = g.count - g.ids.len();
            out.push(format!(
                "  {label} x{}: {}\n      {}{}",
                g.count,
                g.reason,
                g.ids.join(", "),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                }
            ));
        }
        if self.groups.len() > Self::SHOWN_GROUPS {
            out.push(format!(
                "  ... {} more reasons (summary.md lists them all)",
                self.groups.len() - Self::SHOWN_GROUPS
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cut records of a recorded negative-control journal.
    fn results() -> Vec<CutResult> {
        include_str!("../../report/tests/data/old-journals/negative/results.jsonl")
            .lines()
            .filter(|l| l.contains("\"record\":\"cut\""))
            .map(|l| serde_json::from_str(l).expect("a cut record"))
            .collect()
    }

    #[test]
    fn failures_group_by_first_reason_most_frequent_first_and_expected_ones_say_so() {
        let all = results();
        let mut groups = FailureGroups::default();
        for r in &all {
            groups.add(r);
        }
        let failed = all.iter().filter(|r| r.status == Status::Fail).count();
        assert!(failed > 0, "the fixture has failing cut points");
        let lines = groups.lines(true);
        assert_eq!(lines[0], "cutpoint: failing cut points by reason:");
        assert!(lines[1].starts_with("  FAIL (expected) x"), "{lines:?}");
        let counts: Vec<usize> = lines[1..]
            .iter()
            .filter_map(|l| l.split(" x").nth(1)?.split(':').next()?.parse().ok())
            .collect();
        assert_eq!(counts.iter().sum::<usize>(), failed);
        assert!(counts.windows(2).all(|w| w[0] >= w[1]), "{counts:?}");
        assert!(groups.lines(false)[1].starts_with("  FAIL x"));

        let mut none = FailureGroups::default();
        for r in all.iter().filter(|r| r.status == Status::Pass) {
            none.add(r);
        }
        assert!(none.is_empty() && none.lines(false).is_empty());
    }
}
