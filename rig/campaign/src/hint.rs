//! "Did you mean" hints for misspelt keys and values.

/// Edit distance (insertions, deletions, substitutions) between two strings, by characters.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

fn normalize(s: &str) -> String {
    s.to_ascii_lowercase().replace('-', "_")
}

/// The candidate closest to `word`, when it is close enough to be a likely misspelling.
pub(crate) fn closest<'c>(word: &str, candidates: &[&'c str]) -> Option<&'c str> {
    let w = normalize(word);
    if w.is_empty() {
        return None;
    }
    if let Some(c) = candidates.iter().find(|c| normalize(c) == w) {
        return Some(c);
    }
    let limit = (w.chars().count() / 3).max(1);
    let best = candidates
        .iter()
        .map(|c| (edit_distance(&w, &normalize(c)), *c))
        .min_by_key(|(d, _)| *d);
    match best {
        Some((d, c)) if d <= limit => Some(c),
        _ => candidates
            .iter()
            .find(|c| {
                let n = normalize(c);
                w.len() >= 3 && (n.starts_with(&w) || w.starts_with(&n))
            })
            .copied(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance() {
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("ofsets", "offsets"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn hints() {
        let keys = ["name", "start", "end", "progress", "offsets"];
        assert_eq!(closest("ofsets", &keys), Some("offsets"));
        assert_eq!(closest("Start", &keys), Some("start"));
        assert_eq!(closest("progres", &keys), Some("progress"));
        assert_eq!(closest("colour", &keys), None);
        assert_eq!(closest("dwell", &["dwell_ms", "seed"]), Some("dwell_ms"));
        assert_eq!(closest("every-op", &["every_op", "random"]), Some("every_op"));
        assert_eq!(closest("", &keys), None);
    }
}
