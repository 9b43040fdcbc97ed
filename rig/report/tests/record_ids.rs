//! Journal records keep their ids as written: a hand-edited journal with an id this version
//! does not read still loads, and `cut_id()` reads an id's parts or says what is wrong.

use cutpoint_report::journal::read_journal;

const NEGATIVE: &str = include_str!("data/old-journals/negative/results.jsonl");

#[test]
fn an_odd_id_in_a_hand_edited_journal_loads_and_cut_id_says_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let odd = "request/op 0083 (edited)";
    let text = NEGATIVE.replace("\"request/op-0083-after\"", &format!("\"{odd}\""));
    assert_ne!(text, NEGATIVE, "the fixture has the id");
    let path = dir.path().join("results.jsonl");
    std::fs::write(&path, &text).unwrap();
    let journal = read_journal(&path).unwrap_or_else(|e| panic!("{e}"));

    let edited = journal.cuts.iter().find(|c| c.id == odd).expect("the record loads");
    let e = edited.cut_id().unwrap_err();
    assert_eq!(e.id, odd);
    assert_eq!(e.column, 11, "{e}");
    assert!(e.to_string().contains("is not a cut-point id"), "{e}");

    let fine = journal
        .cuts
        .iter()
        .find(|c| c.id == "overwrite/sector-16+0.50")
        .unwrap();
    let id = fine.cut_id().unwrap();
    assert_eq!((id.first().phase, id.first().offset), ("overwrite", "sector-16+0.50"));
    let planned = journal.header.planned.iter().find(|p| p.id == fine.id).unwrap();
    assert_eq!(planned.cut_id().unwrap(), id);
}
