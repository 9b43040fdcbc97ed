//! A cache of work done per state (a recovery by its post-cut flash, a dump by its final flash)
//! that holds at most a fixed number of entries, so a campaign of a million distinct states runs
//! in the memory of a few thousand.
//!
//! Full, it first forgets the entries no lookup used since the last time it was full (most states
//! of a random campaign occur once), then, if that freed too little, everything. The states that
//! recur stay: thousands of cuts ending in a handful of states still recover each state about
//! once.

use std::collections::HashMap;
use std::hash::Hash;

#[derive(Debug)]
pub struct StateCache<K, V> {
    limit: usize,
    /// Each value, and whether a lookup used it since the last sweep.
    entries: HashMap<K, (V, bool)>,
}

impl<K: Hash + Eq, V: Clone> StateCache<K, V> {
    /// A cache of at most `limit` entries (at least one).
    pub fn new(limit: usize) -> Self {
        StateCache {
            limit: limit.max(1),
            entries: HashMap::new(),
        }
    }

    /// The value of `key`, marked as used.
    pub fn get(&mut self, key: &K) -> Option<V> {
        self.entries.get_mut(key).map(|(v, used)| {
            *used = true;
            v.clone()
        })
    }

    /// Keeps `value` for `key` unless a value is there already; returns the value kept.
    pub fn insert(&mut self, key: K, value: V) -> V {
        if let Some((v, _)) = self.entries.get(&key) {
            return v.clone();
        }
        if self.entries.len() >= self.limit {
            self.sweep();
        }
        self.entries.insert(key, (value.clone(), false));
        value
    }

    /// Keeps `value` for `key` in place of the value there, if any.
    pub fn replace(&mut self, key: K, value: V) {
        if !self.entries.contains_key(&key) && self.entries.len() >= self.limit {
            self.sweep();
        }
        self.entries.insert(key, (value, true));
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Forgets what was not used since the last sweep; everything if that leaves it more than
    /// half full.
    fn sweep(&mut self) {
        self.entries.retain(|_, (_, used)| std::mem::replace(used, false));
        if self.entries.len() > self.limit / 2 {
            self.entries.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_at_most_its_limit_and_keeps_what_recurs() {
        let mut cache = StateCache::new(4);
        cache.insert(0, "hot");
        for k in 1..1000 {
            assert_eq!(cache.get(&0), Some("hot"), "a state that recurs stays (key {k})");
            cache.insert(k, "once");
            assert!(cache.len() <= 4, "{} entries", cache.len());
        }
        assert_eq!(cache.insert(0, "other"), "hot", "the first value stays");
    }

    #[test]
    fn replace_puts_a_new_value_and_stays_within_the_limit() {
        let mut cache = StateCache::new(3);
        cache.insert(0, "first");
        cache.replace(0, "again");
        assert_eq!(cache.get(&0), Some("again"), "the value is replaced, not kept");
        for k in 1..100 {
            cache.replace(k, "new");
            assert!(cache.len() <= 3, "{} entries", cache.len());
        }
    }

    #[test]
    fn everything_goes_when_everything_recurs() {
        let mut cache = StateCache::new(2);
        cache.insert(1, 1);
        cache.insert(2, 2);
        assert_eq!((cache.get(&1), cache.get(&2)), (Some(1), Some(2)));
        cache.insert(3, 3);
        assert_eq!(cache.len(), 1);
        assert_eq!(cache.get(&3), Some(3));
    }
}
