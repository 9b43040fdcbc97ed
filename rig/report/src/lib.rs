//! cutpoint's results: what one cut point produced, the append-only journal of a campaign,
//! and the reports built from journals.
//!
//! - [`journal`]: `results.jsonl`, written record by record ([`JournalWriter`]) and read back
//!   ([`read_journal`]);
//! - [`merge`]: one view over the journals of a campaign's partitions;
//! - [`index`]: the reports' view of one or several journals without their results in memory:
//!   how each cut point ended and where its result is, read in one streaming pass;
//! - [`verdict`]: what a report concludes (complete or not; a negative control caught or not);
//! - [`junit`], [`summary`], [`html`]: `junit.xml`, `summary.md`, `report.html`;
//! - [`artifacts`]: the per-cut directories (`cuts/<name>/`) and flash dumps;
//! - [`rebuild`]: a whole report directory at once ([`write_reports_from_journals`],
//!   [`write_reports`], [`rebuild_reports`]).

pub mod artifacts;
pub mod fsio;
pub mod groups;
pub mod html;
pub mod index;
pub mod journal;
pub mod junit;
pub mod merge;
pub mod model;
pub mod rebuild;
mod shared_console;
mod store;
pub mod summary;
mod text;
pub mod verdict;
pub mod view;

#[cfg(test)]
mod testutil;

pub use artifacts::{
    artifact_name, cut_dir, cut_state_json, write_all_artifacts, write_cut_artifacts, write_dump, Artifacts, CUTS_DIR,
};
pub use fsio::PathError;
pub use html::report_html;
pub use index::ResultIndex;
pub use journal::{
    journal_path, read_journal, write_journal_file, Journal, JournalError, JournalReader, JournalWriter, RecordAt,
    RecordRef, Resumed, TornTail, JOURNAL_FILE, JOURNAL_FORMAT,
};
pub use junit::junit_xml;
pub use merge::{merge_journals, CampaignOf, MergeError};
pub use model::*;
pub use rebuild::{
    rebuild_reports, write_reports, write_reports_from_journals, ReportError, ReportOptions, ReportSummary, HTML_FILE,
    JUNIT_FILE, SUMMARY_FILE,
};
pub use summary::summary_markdown;
pub use text::{console_text, replay_command};
pub use verdict::NegativeControl;
pub use view::{describe_landing, Counts, CutRow, Kind, PhaseBlock};
