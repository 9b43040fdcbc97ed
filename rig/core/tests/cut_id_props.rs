//! Cut-point ids: whatever the builder makes prints as the grammar says and reads back into the
//! same parts; whatever reads prints back as the very same text.

use cutpoint_core::{Cut, CutId, CutIdRef};
use proptest::prelude::*;

fn name() -> impl Strategy<Value = String> {
    "[A-Za-z0-9][A-Za-z0-9_-]{0,10}"
}

fn offset() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("start".to_owned()),
        Just("end".to_owned()),
        (0u64..1 << 40).prop_map(|n| format!("byte-{n}")),
        (0u64..100_000).prop_map(|n| format!("ms-{n}")),
        (1u32..999, proptest::option::of(2u32..9), 0u32..1_000_000)
            .prop_map(|(n, k, ppm)| format!("sector-{n}{}+0.{ppm:06}", k.map_or(String::new(), |k| format!("~{k}")))),
        (1u32..1000).prop_map(|n| format!("random-{n:02}")),
        (
            0u64..100_000,
            prop_oneof![Just("before"), Just("inside-0.50"), Just("after")]
        )
            .prop_map(|(i, p)| format!("op-{i:04}-{p}")),
        "[A-Za-z0-9._+~*-]{1,16}",
    ]
}

prop_compose! {
    fn parts()(
        sequence in proptest::option::of(name()),
        cuts in proptest::collection::vec((name(), offset()), 1..4),
        repetition in proptest::option::of(1u32..=u32::MAX),
    ) -> (Option<String>, Vec<(String, String)>, Option<u32>) {
        (sequence, cuts, repetition)
    }
}

fn build(sequence: Option<&str>, cuts: &[(String, String)], repetition: Option<u32>) -> CutId {
    let mut id = CutId::new(sequence, cut(&cuts[0]), repetition).unwrap();
    for c in &cuts[1..] {
        id = id.then(cut(c)).unwrap();
    }
    id
}

fn cut((phase, offset): &(String, String)) -> Cut<'_> {
    Cut { phase, offset }
}

proptest! {
    #[test]
    fn build_print_parse_round_trips((sequence, cuts, repetition) in parts()) {
        let id = build(sequence.as_deref(), &cuts, repetition);
        let text = id.to_string();
        let mut want = String::new();
        if let Some(s) = &sequence {
            want.push_str(&format!("{s}:"));
        }
        want.push_str(&format!("{}/{}", cuts[0].0, cuts[0].1));
        if let Some(r) = repetition {
            want.push_str(&format!("#{r}"));
        }
        for (p, o) in &cuts[1..] {
            want.push_str(&format!(">{p}/{o}"));
        }
        prop_assert_eq!(&text, &want);

        let back: CutId = text.parse().unwrap();
        prop_assert_eq!(&back, &id);
        prop_assert_eq!(back.sequence(), sequence.as_deref());
        prop_assert_eq!(back.repetition(), repetition);
        prop_assert_eq!(back.len(), cuts.len());
        let read: Vec<(String, String)> =
            back.as_ref().cuts().map(|c| (c.phase.to_owned(), c.offset.to_owned())).collect();
        prop_assert_eq!(&read, &cuts);
        let whole = back.as_ref();
        let head = whole.head();
        prop_assert_eq!(head.len(), 1);
        prop_assert_eq!(head.sequence(), sequence.as_deref());
        prop_assert_eq!(head.repetition(), repetition);
        prop_assert_eq!(whole.chain_head().is_some(), cuts.len() > 1);
    }

    #[test]
    fn whatever_reads_prints_back_the_same(text in "[a-z0-9:/#>+~.*_-]{0,24}") {
        if let Ok(id) = CutIdRef::parse(&text) {
            prop_assert_eq!(id.to_string(), text.clone());
            prop_assert_eq!(id.to_owned().to_string(), text.clone());
            // Its parts rebuild it.
            let cuts: Vec<(String, String)> =
                id.cuts().map(|c| (c.phase.to_owned(), c.offset.to_owned())).collect();
            let rebuilt = build(id.sequence(), &cuts, id.repetition());
            prop_assert_eq!(rebuilt.as_str(), text.as_str());
        }
    }
}
