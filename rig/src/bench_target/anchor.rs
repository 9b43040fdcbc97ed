//! Counting anchor occurrences in front of the cut trigger.
//!
//! The trigger fires on the first console line matching its pattern after it is armed, but an
//! anchor names the `nth` matching line since power-on. [`AnchorConsole`] sits between the
//! station's console and the trigger: it counts the anchor's matches itself and, once the nth
//! one has passed, hands the trigger one extra line, [`SENTINEL`], stamped with the arrival
//! time of that nth line. The trigger is armed on the sentinel alone, so the cut is due
//! `delay` after the nth line arrived, timed by the trigger as any marker cut. An anchor with no
//! pattern (a time aim with nothing to anchor on) gets its sentinel stamped with the power-on
//! instant instead.
//!
//! The sentinel never reaches the engine: the bench target drops it from what it reads.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use cutpoint_bench::{Console, ConsoleLine, RigResult};
use regex::Regex;

/// The line the trigger is armed on. No device line can equal it: a device line that starts
/// with NUL has that character replaced.
pub const SENTINEL: &str = "\0cutpoint: anchor";
/// The trigger's pattern for [`SENTINEL`].
pub const SENTINEL_PATTERN: &str = r"^\x00cutpoint: anchor$";

/// What to watch for.
#[derive(Debug, Clone)]
pub struct Watch {
    /// `None`: the power-on instant itself.
    pub pattern: Option<Regex>,
    /// 1-based occurrence since power-on.
    pub nth: u32,
    /// The power-on instant on the bench clock (the stamp of a pattern-less sentinel).
    pub t0_us: u64,
}

#[derive(Debug, Default)]
struct State {
    watch: Option<Watch>,
    seen: u32,
    fired: bool,
    /// `read_line` calls begun since the watch was set.
    calls: u32,
    /// A sentinel to hand out, with its stamp.
    pending: Option<u64>,
}

/// The bench target's handle on the watch of an [`AnchorConsole`].
#[derive(Debug, Clone, Default)]
pub struct AnchorWatch {
    state: Arc<Mutex<State>>,
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl AnchorWatch {
    /// Starts counting from zero. Arm the trigger on [`SENTINEL_PATTERN`] before calling this.
    pub fn set(&self, watch: Watch) {
        *lock(&self.state) = State {
            watch: Some(watch),
            ..State::default()
        };
    }

    /// Stops watching; no sentinel is handed out any more.
    pub fn clear(&self) {
        *lock(&self.state) = State::default();
    }

    /// Matches of the watched pattern seen since [`AnchorWatch::set`].
    pub fn seen(&self) -> u32 {
        lock(&self.state).seen
    }
}

/// A console that counts anchor matches for the trigger reading it.
pub struct AnchorConsole {
    inner: Box<dyn Console>,
    watch: AnchorWatch,
}

impl AnchorConsole {
    pub fn new(inner: Box<dyn Console>, watch: AnchorWatch) -> Self {
        AnchorConsole { inner, watch }
    }
}

fn sentinel(t_us: u64) -> ConsoleLine {
    ConsoleLine {
        t_us,
        text: SENTINEL.to_string(),
    }
}

impl Console for AnchorConsole {
    fn describe(&self) -> String {
        self.inner.describe()
    }

    fn link(&self) -> Option<std::sync::Arc<dyn cutpoint_bench::ConsoleLink>> {
        self.inner.link()
    }

    fn read_line(&mut self, timeout: Duration) -> RigResult<Option<ConsoleLine>> {
        {
            let mut s = lock(&self.watch.state);
            if s.watch.is_some() {
                s.calls = s.calls.saturating_add(1);
            }
            if !s.fired && s.watch.as_ref().is_some_and(|w| w.pattern.is_none()) {
                s.fired = true;
                s.pending = s.watch.as_ref().map(|w| w.t0_us);
            }
            if let Some(t) = s.pending {
                // The reader takes its commands between two reads, so the second read begun
                // after the watch was set comes after the trigger took the arming.
                if s.calls >= 2 {
                    s.pending = None;
                    return Ok(Some(sentinel(t)));
                }
                return Ok(None);
            }
        }
        let Some(mut line) = self.inner.read_line(timeout)? else {
            return Ok(None);
        };
        if line.text.starts_with('\0') {
            line.text.replace_range(..1, "\u{FFFD}");
        }
        let mut s = lock(&self.watch.state);
        // A line stamped before the power-on is left over from the previous run.
        let hit = !s.fired
            && s.watch
                .as_ref()
                .filter(|w| line.t_us >= w.t0_us)
                .and_then(|w| w.pattern.as_ref())
                .is_some_and(|p| p.is_match(&line.text));
        if hit {
            s.seen = s.seen.saturating_add(1);
            if s.watch.as_ref().is_some_and(|w| s.seen >= w.nth) {
                s.fired = true;
                s.pending = Some(line.t_us);
            }
        }
        Ok(Some(line))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    struct Script(VecDeque<ConsoleLine>);

    impl Console for Script {
        fn describe(&self) -> String {
            "script".into()
        }
        fn read_line(&mut self, _: Duration) -> RigResult<Option<ConsoleLine>> {
            Ok(self.0.pop_front())
        }
    }

    fn lines(texts: &[&str]) -> Box<dyn Console> {
        Box::new(Script(
            texts
                .iter()
                .enumerate()
                .map(|(i, t)| ConsoleLine {
                    t_us: 100 * (i as u64 + 1),
                    text: t.to_string(),
                })
                .collect(),
        ))
    }

    fn drain(c: &mut AnchorConsole) -> Vec<(u64, String)> {
        let mut out = Vec::new();
        for _ in 0..32 {
            if let Some(l) = c.read_line(Duration::ZERO).unwrap() {
                out.push((l.t_us, l.text));
            }
        }
        out
    }

    #[test]
    fn the_sentinel_follows_the_nth_match_with_its_stamp() {
        let watch = AnchorWatch::default();
        let mut c = AnchorConsole::new(lines(&["p region=1", "x", "p region=2", "p region=3"]), watch.clone());
        watch.set(Watch {
            pattern: Some(Regex::new("^p region").unwrap()),
            nth: 2,
            t0_us: 0,
        });
        let got = drain(&mut c);
        let texts: Vec<&str> = got.iter().map(|(_, t)| t.as_str()).collect();
        assert_eq!(texts, ["p region=1", "x", "p region=2", SENTINEL, "p region=3"]);
        assert_eq!(got[3].0, got[2].0, "stamped with the nth line's arrival");
        assert_eq!(watch.seen(), 2);
        assert!(Regex::new(SENTINEL_PATTERN).unwrap().is_match(SENTINEL));
    }

    #[test]
    fn power_on_anchor_and_clearing() {
        let watch = AnchorWatch::default();
        let mut c = AnchorConsole::new(lines(&["a"]), watch.clone());
        watch.set(Watch {
            pattern: None,
            nth: 1,
            t0_us: 42,
        });
        // The first read after arming yields nothing, the second the sentinel at power-on.
        assert_eq!(c.read_line(Duration::ZERO).unwrap(), None);
        assert_eq!(c.read_line(Duration::ZERO).unwrap(), Some(sentinel(42)));
        assert_eq!(c.read_line(Duration::ZERO).unwrap().unwrap().text, "a");
        watch.clear();
        let mut c = AnchorConsole::new(lines(&["\0cutpoint: anchor", "m"]), watch.clone());
        watch.set(Watch {
            pattern: Some(Regex::new("m").unwrap()),
            nth: 1,
            t0_us: 0,
        });
        watch.clear();
        let got = drain(&mut c);
        assert_eq!(got.len(), 2, "no sentinel once cleared: {got:?}");
        assert_ne!(got[0].1, SENTINEL, "a device line cannot pose as the sentinel");
    }
}
