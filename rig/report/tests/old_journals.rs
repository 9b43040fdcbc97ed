//! Journals written before the journal's fields were typed (`data/old-journals/`) still read:
//! every record parses into today's model and serializes back to the very same bytes.

use std::path::{Path, PathBuf};

use std::collections::BTreeSet;

use cutpoint_report::{read_journal, EndReason, JournalRecord, OpRelation, RecordedFault, SlotValidity};

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

#[test]
fn every_value_the_rig_wrote_is_a_known_one() {
    let (mut faults, mut relations, mut validities, mut ends) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for name in JOURNALS {
        for (_, record) in records(name) {
            match record {
                JournalRecord::Cut(cut) => {
                    for landing in cut.landing.iter().chain(&cut.later_landings) {
                        faults.push(landing.fault.clone());
                        relations.extend(landing.op_point.clone());
                    }
                    validities.extend(cut.slots.into_iter().map(|s| s.validity));
                }
                JournalRecord::End(end) => ends.push(end.how),
                _ => {}
            }
        }
    }
    let names = |v: &[String]| v.iter().cloned().collect::<BTreeSet<_>>();
    let faults: Vec<String> = faults
        .iter()
        .map(|f| {
            assert!(!matches!(f, RecordedFault::Other(_)), "{f}");
            f.to_string()
        })
        .collect();
    assert_eq!(
        names(&faults),
        ["brownout", "power-cut", "reset"].map(String::from).into()
    );
    let relations: Vec<String> = relations
        .iter()
        .map(|r| {
            assert!(!matches!(r, OpRelation::Other(_)), "{r}");
            r.to_string()
        })
        .collect();
    assert_eq!(
        names(&relations),
        ["after", "before", "inside"].map(String::from).into()
    );
    let validities: Vec<String> = validities
        .iter()
        .map(|v| {
            assert!(!matches!(v, SlotValidity::Other(_)), "{v}");
            v.to_string()
        })
        .collect();
    assert_eq!(
        names(&validities),
        ["bad-tlv", "hash-mismatch", "no-header", "valid"]
            .map(String::from)
            .into()
    );
    assert!(ends.contains(&EndReason::Complete));
    assert!(ends.contains(&EndReason::Stopped("the control run did not update cleanly".into())));
    assert!(ends.iter().all(|e| !matches!(e, EndReason::Other(_))), "{ends:?}");
}
