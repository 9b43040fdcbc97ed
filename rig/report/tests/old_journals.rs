//! Journals written before the journal's fields were typed (`data/old-journals/`) still read:
//! every record parses into today's model and serializes back to the very same bytes.

use std::path::{Path, PathBuf};

use cutpoint_report::{read_journal, JournalRecord};

const JOURNALS: [&str; 6] = ["smoke", "chains", "resets", "brownouts", "stopped", "negative"];

fn journal_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/old-journals")
        .join(name)
        .join("results.jsonl")
}

fn records(name: &str) -> Vec<(String, JournalRecord)> {
    let text = std::fs::read_to_string(journal_path(name)).unwrap();
    text.lines()
        .enumerate()
        .map(|(n, line)| {
            let record = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{name}/results.jsonl:{}: does not read: {e}", n + 1));
            (line.to_owned(), record)
        })
        .collect()
}

#[test]
fn every_record_of_an_old_journal_serializes_back_byte_for_byte() {
    for name in JOURNALS {
        for (n, (line, record)) in records(name).iter().enumerate() {
            let again = serde_json::to_string(record).unwrap();
            assert_eq!(&again, line, "{name}/results.jsonl:{}", n + 1);
        }
    }
}

#[test]
fn old_journals_read_whole() {
    for name in JOURNALS {
        let j = read_journal(&journal_path(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(j.notes.is_empty(), "{name}: {:?}", j.notes);
        assert!(j.end.is_some(), "{name}");
        assert!(j.control.is_some(), "{name}");
    }
}
