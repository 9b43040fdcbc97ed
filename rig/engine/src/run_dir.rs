//! Where a run writes its reports by default, and how `--resume` finds the run it continues:
//! `reports/<campaign>-<time>[-part<k>of<n>]`, the newest one whose run did not finish.

use std::path::{Path, PathBuf};

use cutpoint_campaign::Campaign;
use cutpoint_report::journal::read_journal;

/// The folder default report directories go in, relative to the working directory.
pub const REPORTS: &str = "reports";

fn timestamp() -> String {
    let fmt = time::macros::format_description!("[year][month][day]-[hour][minute][second]");
    time::OffsetDateTime::now_utc()
        .format(&fmt)
        .unwrap_or_else(|_| "now".into())
}

/// Whether a journal's run finished: it has an end record that says it completed.
pub fn finished(j: &cutpoint_report::journal::Journal) -> bool {
    j.end.as_ref().is_some_and(|e| e.how.is_finished())
}

/// The default report directory's name: `<campaign>-<time>`, and `-part<k>of<n>` for a
/// partition, so two partitions started in the same second do not collide.
pub fn run_dir_name(c: &Campaign, partition: Option<(u32, u32)>) -> String {
    let part = partition.map_or(String::new(), |(k, n)| format!("-part{k}of{n}"));
    format!("{}-{}{part}", c.name, timestamp())
}

/// Whether `dir_name` is a default report directory of this campaign and partition: the
/// campaign's name, then exactly a time stamp (so `tf` never takes `tf-revert-...`).
pub fn is_run_dir_of(dir_name: &str, c: &Campaign, partition: Option<(u32, u32)>) -> bool {
    let Some(rest) = dir_name.strip_prefix(&format!("{}-", c.name)) else {
        return false;
    };
    let part = partition.map_or(String::new(), |(k, n)| format!("-part{k}of{n}"));
    let Some(stamp) = rest.strip_suffix(part.as_str()) else {
        return false;
    };
    let b = stamp.as_bytes();
    b.len() == 15 && b[8] == b'-' && b.iter().enumerate().all(|(i, ch)| i == 8 || ch.is_ascii_digit())
}

/// The newest `<campaign>-<time>` directory under `reports` whose run did not finish
/// (interrupted, cancelled, or killed before its journal had a header or even existed).
pub fn unfinished_dir(reports: &Path, c: &Campaign, partition: Option<(u32, u32)>) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(reports)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| is_run_dir_of(n, c, partition))
        })
        .filter(|p| {
            let journal = p.join("results.jsonl");
            if !journal.exists() {
                return p.join(crate::run_lock::LOCK_FILE).exists();
            }
            match read_journal(&journal) {
                Ok(j) => !finished(&j),
                Err(e) => matches!(e, cutpoint_report::journal::JournalError::NoHeader { .. }),
            }
        })
        .collect();
    dirs.sort();
    dirs.pop()
}

/// Why a run has no report directory.
#[derive(Debug, thiserror::Error)]
pub enum OutDirError {
    /// A bare `--resume` found no unfinished run of the campaign under `reports/`.
    #[error("--resume: no unfinished run of campaign `{0}` under reports/; give its directory")]
    NothingToResume(String),
    /// `--out` or `--resume` names a file.
    #[error("{0}: is a file, not a directory; give a directory (new or a report directory) with --out")]
    NotADirectory(String),
}

/// The report directory of a run: a `--resume DIR`'s, else `--out`, else (a bare `--resume`)
/// the newest unfinished run of the campaign (and partition) under [`REPORTS`], else a new
/// `reports/<campaign>-<time>[-part<k>of<n>]`.
pub fn out_dir(
    c: &Campaign,
    partition: Option<(u32, u32)>,
    resume: Option<&str>,
    out: Option<PathBuf>,
) -> Result<PathBuf, OutDirError> {
    let dir = match (resume, out) {
        (Some(dir), _) if !dir.is_empty() => PathBuf::from(dir),
        (Some(_), Some(o)) => o,
        (Some(_), None) => unfinished_dir(Path::new(REPORTS), c, partition)
            .ok_or_else(|| OutDirError::NothingToResume(c.name.clone()))?,
        (None, Some(o)) => o,
        (None, None) => PathBuf::from(REPORTS).join(run_dir_name(c, partition)),
    };
    // The user's mistake, said as such (the run's lock would fail on it as the machine's).
    if dir.exists() && !dir.is_dir() {
        return Err(OutDirError::NotADirectory(dir.display().to_string()));
    }
    Ok(dir)
}

/// The command that resumes a run into `out_dir`, keeping its partition and filters.
pub fn resume_command(campaign: &Path, out_dir: &Path, partition: Option<(u32, u32)>, filters: &[String]) -> String {
    format!(
        "cutpoint run {} --resume {}{}{}",
        campaign.display(),
        out_dir.display(),
        partition.map_or(String::new(), |(k, n)| format!(" --partition {k}/{n}")),
        filters.iter().map(|f| format!(" --filter '{f}'")).collect::<String>()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn campaign(name: &str) -> Campaign {
        let text = format!(
            "name = \"{name}\"\n[target]\nboard = \"nrf52840\"\n[images]\nbaseline = {{ version = \"1.0.0\", size_kib = 64 }}\n\
             update = {{ version = \"2.0.0\", size_kib = 64 }}\n[[phases]]\nname = \"download\"\nstart = \"ota: download-start\"\n\
             end = \"ota: download-done\"\noffsets = {{ fixed = [\"start\"] }}\n"
        );
        cutpoint_campaign::parse_campaign(&text, Path::new("c.toml"))
            .unwrap_or_else(|e| panic!("{}", cutpoint_campaign::format_errors(&e)))
    }

    #[test]
    fn a_run_directory_is_the_campaigns_name_then_exactly_a_time_stamp() {
        let tf = campaign("tf");
        assert!(is_run_dir_of("tf-20250102-030405", &tf, None));
        assert!(!is_run_dir_of("tf-revert-20250102-030405", &tf, None));
        assert!(!is_run_dir_of("tf-20250102-0304", &tf, None));
        assert!(!is_run_dir_of("tf-2025010x-030405", &tf, None));
        assert!(is_run_dir_of("tf-20250102-030405-part2of3", &tf, Some((2, 3))));
        assert!(!is_run_dir_of("tf-20250102-030405-part2of3", &tf, None));
        assert!(!is_run_dir_of("tf-20250102-030405", &tf, Some((2, 3))));
        let name = run_dir_name(&tf, Some((1, 2)));
        assert!(is_run_dir_of(&name, &tf, Some((1, 2))), "{name}");
    }

    #[test]
    fn resume_finds_the_newest_run_that_did_not_finish() {
        let tf = campaign("tf");
        let reports = tempfile::tempdir().unwrap();
        assert_eq!(unfinished_dir(reports.path(), &tf, None), None);
        let dir = |name: &str| {
            let d = reports.path().join(name);
            std::fs::create_dir_all(&d).unwrap();
            d
        };
        // Killed before its journal existed: only the lock file is there.
        let older = dir("tf-20250101-000000");
        std::fs::write(older.join(crate::run_lock::LOCK_FILE), "").unwrap();
        // An empty folder is no run; nor is another campaign's.
        dir("tf-20250103-000000");
        let other = dir("tf-revert-20250104-000000");
        std::fs::write(other.join(crate::run_lock::LOCK_FILE), "").unwrap();
        assert_eq!(unfinished_dir(reports.path(), &tf, None), Some(older.clone()));
        // Stopped as it started: a journal without a header.
        let newer = dir("tf-20250102-000000");
        std::fs::write(newer.join("results.jsonl"), "").unwrap();
        assert_eq!(unfinished_dir(reports.path(), &tf, None), Some(newer));
        assert_eq!(unfinished_dir(&reports.path().join("none"), &tf, None), None);
    }

    #[test]
    fn the_out_dir_and_the_resume_command_keep_what_was_asked() {
        let c = campaign("tf");
        let given = out_dir(&c, None, Some("reports/tf-1"), Some(PathBuf::from("x"))).unwrap();
        assert_eq!(given, PathBuf::from("reports/tf-1"));
        assert_eq!(
            out_dir(&c, None, None, Some(PathBuf::from("x"))).unwrap(),
            PathBuf::from("x")
        );
        let fresh = out_dir(&c, Some((1, 2)), None, None).unwrap();
        assert!(fresh.starts_with(REPORTS), "{}", fresh.display());
        assert!(is_run_dir_of(
            &fresh.file_name().unwrap().to_string_lossy(),
            &c,
            Some((1, 2))
        ));
        assert_eq!(
            resume_command(
                Path::new("c.toml"),
                Path::new("reports/tf-1"),
                Some((1, 2)),
                &["swap/*".into()]
            ),
            "cutpoint run c.toml --resume reports/tf-1 --partition 1/2 --filter 'swap/*'"
        );
    }
}
