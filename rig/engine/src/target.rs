//! What the engine needs from a target: an unfaulted control run, and a faulted run per cut
//! point. The simulated board and a lab bench both implement [`Target`]; the engine cannot
//! tell them apart.

use std::sync::Arc;

use cutpoint_campaign::{CutPoint, OpSpan};
use cutpoint_core::RigError;
use cutpoint_report::{BootedSlot, Landing, LogLine};

/// The unfaulted run every campaign starts with.
#[derive(Debug, Clone)]
pub struct ControlObservation {
    /// Console from power-on until the device settled.
    pub console: Vec<LogLine>,
    /// Flash operations with their virtual times (simulated board only).
    pub ops: Option<Vec<OpSpan>>,
    /// Flash after the run (slots and scratch), starting at `dump_base`.
    pub dump: Arc<Vec<u8>>,
    pub dump_base: u32,
    /// What the flash outside the scheme's areas reads after the uncut update, against the
    /// baseline (read after the baseline was restored, before the update started), where the
    /// target reads it there: a bench, through the probe. An update that writes there on every
    /// run fails its control run. The simulated board leaves it [`Outside::NotChecked`]: it
    /// compares each cut point's flash with the baseline's fill.
    pub outside: Outside,
}

/// What a faulted run left behind.
#[derive(Debug, Clone)]
pub struct Observation {
    /// Where each cut of the chain landed, in order.
    pub landings: Vec<Landing>,
    /// Console from the last power-on until the device settled (or the timeout), followed by
    /// the console of the plain reset after it, when the target took one (`reset_from`).
    pub console: Vec<LogLine>,
    /// Index in `console` of the first line of the run after a plain reset (no cut) that the
    /// target gave the device once it settled: what the device does at its next start is
    /// observed, not predicted. `None`: no reset was taken (the device never settled, or the
    /// rules did not ask for one).
    pub reset_from: Option<usize>,
    /// Flash after recovery (slots and scratch), starting at `dump_base`.
    pub dump: Dump,
    pub dump_base: u32,
    /// Hashes of the dump's bytes that the target keeps anyway (the simulated flash's sector
    /// hashes): the pass rule keys the slots' images by them instead of reading the bytes.
    pub dump_keys: Option<cutpoint_inspect::DumpKeys>,
    /// Fingerprint of the flash right after the last cut (simulated board: exact state hash).
    pub post_cut_state: Option<String>,
    /// Fingerprint of the flash after recovery (simulated board): equal fingerprints decode
    /// the same, so the engine decodes each once.
    pub final_state: Option<String>,
    /// Whether the update had committed when the first cut landed, when the target can tell
    /// from what it saw (a bench: the commit line arrived before the cut). `None`: the engine
    /// compares the cut's instant with the control run's commit instant (exact on the
    /// simulated board, whose timeline repeats to the microsecond).
    pub committed: Option<bool>,
    /// The update was re-triggered after the device reverted it.
    pub retriggered: bool,
    /// A cut of the chain never fired: the device was done before it (the later cuts were
    /// not tried).
    pub unfired: bool,
    /// Bits of the metadata area that read unstably once the device settled, when the rules
    /// asked for them ([`RecoveryRules::stability`]).
    pub stability: Stability,
    /// The slot the bootloader picks on the flash as the last cut left it, read by the
    /// scheme's inspector, when the target can read that flash (the simulated board; a bench
    /// powers the device up at once, and the engine reads the settled flash instead).
    pub booted_slot: Option<BootedSlot>,
    /// What the flash outside the scheme's areas reads once the device settled, against the
    /// baseline, when the rules asked for it ([`RecoveryRules::outside`]).
    pub outside: Outside,
}

/// The flash after a recovery as the target read it: its bytes, or (the simulated board) the
/// bytes another recovery ended with and a few bytes that replace theirs: a recovery that ended
/// as an earlier one did but for a program its cut tore, which the earlier one never touched.
/// A dump of the slots is megabytes; such a recovery costs the bytes it replaces, not a copy
/// of them all. The bytes are read through [`Dump::with_bytes`] or [`Dump::to_vec`], never
/// the base alone.
#[derive(Debug, Clone)]
pub struct Dump {
    base: Arc<Vec<u8>>,
    patch: Option<Patch>,
}

/// Bytes that replace a dump's: where they go (an offset into it), and the bytes.
pub type Patch = (usize, Arc<[u8]>);

impl Dump {
    /// A dump read whole.
    pub fn whole(bytes: Arc<Vec<u8>>) -> Dump {
        Dump {
            base: bytes,
            patch: None,
        }
    }

    /// `base` with `bytes` in place of its own from `at` on; `None` when they do not fit in it.
    pub fn patched(base: Arc<Vec<u8>>, at: usize, bytes: Arc<[u8]>) -> Option<Dump> {
        let end = at.checked_add(bytes.len())?;
        (end <= base.len()).then_some(Dump {
            base,
            patch: Some((at, bytes)),
        })
    }

    pub fn len(&self) -> usize {
        self.base.len()
    }

    pub fn is_empty(&self) -> bool {
        self.base.is_empty()
    }

    /// The base of a patched dump, or the dump, and the patch.
    pub(crate) fn parts(&self) -> (&Arc<Vec<u8>>, Option<&Patch>) {
        (&self.base, self.patch.as_ref())
    }

    /// The bytes, in a buffer of their own.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = self.base.as_ref().clone();
        if let Some((at, bytes)) = &self.patch {
            v[*at..*at + bytes.len()].copy_from_slice(bytes);
        }
        v
    }

    /// The bytes as a shared buffer (a whole dump's own).
    pub fn to_arc(&self) -> Arc<Vec<u8>> {
        match self.patch {
            None => self.base.clone(),
            Some(_) => Arc::new(self.to_vec()),
        }
    }

    /// Calls `f` with the bytes. A patched dump is laid out in this thread's buffer, which
    /// remembers the base it holds and the patch it took last: the next patch of the same base
    /// costs the bytes of the two patches, not a copy of the base.
    pub fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        let Some((at, bytes)) = &self.patch else {
            return f(&self.base);
        };
        PATCHED.with(|cell| {
            let Ok(mut laid) = cell.try_borrow_mut() else {
                return f(&self.to_vec());
            };
            let same_base = laid.base.upgrade().is_some_and(|b| Arc::ptr_eq(&b, &self.base));
            if same_base {
                let old = laid.patched.clone();
                laid.bytes[old.clone()].copy_from_slice(&self.base[old]);
            } else {
                laid.bytes.clear();
                laid.bytes.extend_from_slice(&self.base);
                laid.base = Arc::downgrade(&self.base);
            }
            let range = *at..*at + bytes.len();
            laid.bytes[range.clone()].copy_from_slice(bytes);
            laid.patched = range;
            f(&laid.bytes)
        })
    }
}

/// A patched dump laid out: its base (held weakly: while it is, no other base can have its
/// address), the bytes, and the range the patch replaced.
#[derive(Default)]
struct Laid {
    base: std::sync::Weak<Vec<u8>>,
    bytes: Vec<u8>,
    patched: std::ops::Range<usize>,
}

thread_local! {
    static PATCHED: std::cell::RefCell<Laid> = std::cell::RefCell::new(Laid::default());
}

/// A part of the flash map the update must leave as it was: outside every area its scheme
/// writes (the bootloader's code, a region the scheme does not use, another partition).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Guarded {
    /// The name of the map's region it is part of.
    pub region: String,
    pub range: std::ops::Range<u32>,
}

/// The first change a target found in one guarded part since the baseline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutsideChange {
    pub region: String,
    /// The guarded part.
    pub range: std::ops::Range<u32>,
    /// The first address that reads differently.
    pub addr: u32,
    /// Up to [`OUTSIDE_SHOWN`] bytes from `addr`, at the baseline and now.
    pub before: Vec<u8>,
    pub after: Vec<u8>,
    /// How many bytes of the part read differently.
    pub differing: u32,
}

/// Bytes of a change outside the areas a verdict shows.
pub const OUTSIDE_SHOWN: usize = 8;

/// What a target found when asked about the flash outside the scheme's areas.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Outside {
    /// Not asked (nothing guarded).
    #[default]
    NotChecked,
    /// The target cannot read it, and why.
    Unsupported(String),
    /// Compared with the baseline: each guarded part that reads differently.
    Scanned(Vec<OutsideChange>),
}

impl OutsideChange {
    /// The change between `before` (the baseline) and `after` over the guarded part `g`, or
    /// `None` when they read the same. Both hold the part's bytes.
    pub fn between(g: &Guarded, before: &[u8], after: &[u8]) -> Option<OutsideChange> {
        if before == after {
            return None;
        }
        let first = before.iter().zip(after).position(|(a, b)| a != b).unwrap_or(0);
        let shown = first..(first + OUTSIDE_SHOWN).min(before.len()).min(after.len());
        Some(OutsideChange {
            region: g.region.clone(),
            range: g.range.clone(),
            addr: g.range.start + first as u32,
            before: before[shown.clone()].to_vec(),
            after: after[shown].to_vec(),
            differing: before.iter().zip(after).filter(|(a, b)| a != b).count() as u32,
        })
    }
}

/// Asks the target, once the device settled (after the plain reset, when one was taken), for
/// the bits of the scheme's metadata area that do not read the same on every read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StabilityScan {
    /// Flash ranges to check (the scheme decoder's metadata areas).
    pub areas: Vec<std::ops::Range<u32>>,
    /// How many times a target that cannot see the cells reads each range to compare.
    pub reads: u32,
}

/// Reads of the metadata area a bench compares for unstable bits (a weak bit reads 0 or 1 at
/// random, so 8 reads miss one with probability 2^-7).
pub const STABILITY_READS: u32 = 8;

/// A byte of flash with bits that read differently from one read to the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnstableByte {
    pub addr: u32,
    /// The bits that differed.
    pub mask: u8,
}

/// What a target found when asked for unstable bits in the metadata area.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Stability {
    /// Not asked, or nothing to check (no decoder, the device never settled).
    #[default]
    NotChecked,
    /// The target cannot tell, and why.
    Unsupported(String),
    /// Checked: the bytes found unstable in the asked areas. `reads`: how many reads were
    /// compared, or `None` when the target knows exactly (the simulated flash's weak bits).
    Scanned {
        reads: Option<u32>,
        unstable: Vec<UnstableByte>,
    },
}

/// The run that recovers from a first cut, as seen up to where the device settled: where a
/// sequence's second cuts are aimed.
#[derive(Debug, Clone)]
pub struct RecoveryTimeline {
    /// Console from the power-on after the cut.
    pub console: Vec<LogLine>,
    /// Flash operations of that run with their virtual times, counted from that power-on
    /// (simulated board only).
    pub ops: Option<Vec<OpSpan>>,
}

/// How the target should behave after the cut.
#[derive(Debug, Clone)]
pub struct RecoveryRules {
    /// A console line that says the device gave up on the update; the target re-triggers the
    /// OTA once when the device settles on it (only for a good update).
    pub retrigger_on: Option<regex::Regex>,
    /// The line that says the update committed, for a target that must tell whether a later
    /// cut of a chain came after the commit (`None`: this update never commits).
    pub commit: Option<CommitMarker>,
    /// Once the device settled, reset it once more (no cut, nothing re-triggered) and record
    /// that run until it settles again (see [`Observation::reset_from`]).
    pub reset_after: bool,
    /// Once the device settled for the last time, report the unstable bits of these areas
    /// ([`Observation::stability`]). A target that cannot read them says so
    /// ([`Stability::Unsupported`]); the engine cannot tell how a target found them.
    pub stability: Option<StabilityScan>,
    /// Once the device settled for the last time, compare these parts of the flash with the
    /// baseline ([`Observation::outside`]): the flash outside the scheme's areas.
    pub outside: Vec<Guarded>,
}

/// The console line that says the new image committed itself (confirmed): `pattern`, with its
/// `version` group, when it has one, equal to `version`.
#[derive(Debug, Clone)]
pub struct CommitMarker {
    pub pattern: regex::Regex,
    pub version: String,
}

impl CommitMarker {
    pub fn matches(&self, line: &str) -> bool {
        commit_line(&self.pattern, &self.version, line)
    }

    /// Whether a line of `console` at or before `t_us` says the update committed.
    pub fn seen_by(&self, console: &[LogLine], t_us: u64) -> bool {
        console.iter().any(|l| l.t_us <= t_us && self.matches(&l.text))
    }
}

/// Whether `line` matches `pattern` with its `version` group, when it has one, equal to
/// `version` (see [`CommitMarker`]). `is_match` first: it needs no capture slots and almost
/// no line matches, so the captures are found only on the lines that do.
pub fn commit_line(pattern: &regex::Regex, version: &str, line: &str) -> bool {
    pattern.is_match(line)
        && pattern.captures(line).is_some_and(|c| {
            c.name("version")
                .is_none_or(|v| crate::judge::canonical_version(v.as_str()) == version)
        })
}

/// A device under test, reachable through the bench or simulated.
pub trait Target: Sync {
    fn describe(&self) -> String;
    /// How many cut points can run at once (a bench: 1).
    fn workers(&self) -> usize {
        1
    }
    /// Restores the baseline and runs the update without a fault.
    fn control(&self) -> Result<ControlObservation, RigError>;
    /// The same control run (no cut) with the reference firmware instead of the campaign's
    /// variant, at most `max_boots` boots: what tells a negative control's own mistake (a boot
    /// limit too low, a wrong expected image) from the broken firmware it is meant to catch.
    /// `None` where the target cannot swap its firmware (a bench).
    fn reference_control(&self, _max_boots: u32) -> Option<Result<ControlObservation, RigError>> {
        None
    }
    /// CPU time this process has spent so far running the device itself: a simulated board's
    /// firmware and flash. 0 for a device that runs on its own hardware (a bench). The run's
    /// stages count it apart from the rig's own work (`device`).
    fn device_cpu_ns(&self) -> u64 {
        0
    }
    /// Restores the baseline, runs the update, fires each cut of `chain` in turn (the second
    /// and later ones aimed into the recovery of the one before), then lets the device recover.
    fn run_chain(
        &self,
        worker: usize,
        id: &str,
        chain: &[&CutPoint],
        rules: &RecoveryRules,
    ) -> Result<Observation, RigError>;
    /// Restores the baseline, runs the update, fires each cut of `chain` in turn and records the
    /// run that recovers from the last, so a sequence's next cuts can be planned. A bench sees
    /// only the console.
    fn recovery_timeline(
        &self,
        id: &str,
        chain: &[&CutPoint],
        rules: &RecoveryRules,
    ) -> Result<RecoveryTimeline, RigError> {
        // The later cut's own run is not re-triggered: neither is the run it is planned on.
        let plain = RecoveryRules {
            retrigger_on: None,
            reset_after: false,
            stability: None,
            outside: Vec::new(),
            ..rules.clone()
        };
        let mut obs = self.run_chain(0, id, chain, &plain)?;
        if let Some(at) = obs.reset_from {
            obs.console.truncate(at);
        }
        Ok(RecoveryTimeline {
            // A cut that never fired leaves no recovery to plan the next one on.
            console: if obs.unfired { Vec::new() } else { obs.console },
            ops: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn laid_out(d: &Dump) -> Vec<u8> {
        d.with_bytes(<[u8]>::to_vec)
    }

    /// A patched dump reads as its base with the patch laid over it, however the patches
    /// before it on this thread were laid out: the same base (whose last patch is put back), a
    /// base dropped since, another base, a read from within a read.
    #[test]
    fn a_patched_dump_reads_as_its_base_with_the_patch_over_it() {
        let base = Arc::new((0..64u8).collect::<Vec<u8>>());
        let other = Arc::new(vec![0xEEu8; 64]);
        let expect = |b: &[u8], at: usize, p: &[u8]| {
            let mut v = b.to_vec();
            v[at..at + p.len()].copy_from_slice(p);
            v
        };
        let p1 = Dump::patched(base.clone(), 4, Arc::from(&[0xAA, 0xAB][..])).unwrap();
        let p2 = Dump::patched(base.clone(), 40, Arc::from(&[0xBB; 8][..])).unwrap();
        let p3 = Dump::patched(other.clone(), 0, Arc::from(&[1u8][..])).unwrap();
        for _ in 0..2 {
            assert_eq!(laid_out(&p1), expect(&base, 4, &[0xAA, 0xAB]));
            assert_eq!(
                laid_out(&p2),
                expect(&base, 40, &[0xBB; 8]),
                "the patch before is put back"
            );
            assert_eq!(laid_out(&p3), expect(&other, 0, &[1]));
            assert_eq!(laid_out(&p1), expect(&base, 4, &[0xAA, 0xAB]));
        }
        assert_eq!(p2.to_vec(), expect(&base, 40, &[0xBB; 8]));
        assert_eq!(*p2.to_arc(), expect(&base, 40, &[0xBB; 8]));
        assert_eq!(laid_out(&Dump::whole(base.clone())), *base);
        // A read within a read lays its bytes out elsewhere.
        let nested = p1.with_bytes(|outer| (outer.to_vec(), laid_out(&p2)));
        assert_eq!(nested.0, expect(&base, 4, &[0xAA, 0xAB]));
        assert_eq!(nested.1, expect(&base, 40, &[0xBB; 8]));
        // A new base at the address of a dropped one is not taken for it.
        drop((p1, p2));
        drop(base);
        let fresh = Arc::new(vec![7u8; 64]);
        let p4 = Dump::patched(fresh.clone(), 60, Arc::from(&[9u8; 4][..])).unwrap();
        assert_eq!(laid_out(&p4), expect(&fresh, 60, &[9; 4]));
        // A patch that does not fit is refused.
        assert!(Dump::patched(fresh.clone(), 61, Arc::from(&[0u8; 4][..])).is_none());
        assert!(Dump::patched(fresh, usize::MAX, Arc::from(&[0u8; 4][..])).is_none());
    }
}
