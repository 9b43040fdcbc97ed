//! A whole run from the baseline: the control run (no cut), and a cut chain followed by the
//! recovery, the plain reset of a settled device and the read-back of the slots.

use cutpoint_bench::{PowerSwitch, RigError, RigResult};
use cutpoint_campaign::Markers;
use cutpoint_report::{Landing, LogLine, RecordedFault};

use super::console::Capture;
use super::cut::Wait;
use super::{fingerprint, Bench, BenchAim, BenchConfig};
use crate::target::{ControlObservation, Guarded, Observation, Outside, RecoveryRules, Stability};

impl Bench {
    pub(super) fn control(&mut self, cfg: &BenchConfig) -> RigResult<ControlObservation> {
        self.restore_baseline(cfg)?;
        // The guarded flash as the baseline holds it, read before any update ran: an update
        // that writes there on every run must not change the copy the cut points compare with.
        self.restore_guarded(&cfg.guarded)?;
        let t0 = self.start_update(None, cfg)?;
        let mut cap = Capture::new(cfg, t0);
        self.capture(&mut cap)?;
        let (dump, dump_base) = self.dump(cfg)?;
        let outside = self.compare_guarded(&cfg.guarded)?;
        Ok(ControlObservation {
            console: cap.lines,
            ops: None,
            dump,
            dump_base,
            outside,
        })
    }

    /// Takes the copy of the guarded flash the first time (the control run's, right after the
    /// baseline was restored), and writes back what an earlier run changed of it.
    fn restore_guarded(&mut self, guarded: &[Guarded]) -> RigResult<()> {
        if guarded.is_empty() {
            return Ok(());
        }
        self.guard.ensure(self.probe.as_mut(), guarded)?;
        self.guard.restore(self.probe.as_mut())
    }

    /// The guarded flash once the device settled, against the copy.
    fn compare_guarded(&mut self, guarded: &[Guarded]) -> RigResult<Outside> {
        if guarded.is_empty() {
            return Ok(Outside::NotChecked);
        }
        self.probe.attach()?;
        self.guard.compare(self.probe.as_mut())
    }

    pub(super) fn run_chain(
        &mut self,
        cfg: &BenchConfig,
        aims: &[BenchAim],
        rules: &RecoveryRules,
    ) -> RigResult<Observation> {
        self.restore_baseline(cfg)?;
        // What an earlier run changed of the guarded flash, written back from the control
        // run's copy (taken here when the control run had none to take).
        self.restore_guarded(&rules.outside)?;
        let mut landings = Vec::with_capacity(aims.len());
        // The console of a run whose cut never fired: the device was done without it.
        let mut unfired: Option<Vec<LogLine>> = None;
        let mut committed = None;
        for (i, aim) in aims.iter().enumerate() {
            let t0 = if i == 0 {
                self.start_update(Some(aim), cfg)?
            } else {
                self.power_on(Some(aim), cfg)?
            };
            match self.wait_for_cut(cfg, t0)? {
                Wait::Cut(rec, before) => {
                    let in_flight = self.dwell(cfg, &rec)?;
                    // Once any run of the chain saw the update commit, only the new image may run.
                    let seen = committed_before_cut(rules.commit.as_ref(), &before, &in_flight, rec.actual_us);
                    committed = Some(committed.unwrap_or(false) || seen);
                    landings.push(Landing {
                        fault: RecordedFault::PowerCut,
                        requested_us: Some(rec.requested_us.saturating_sub(t0)),
                        actual_us: rec.actual_us.saturating_sub(t0),
                        op: None,
                        op_point: None,
                        torn: None,
                    });
                }
                Wait::NotReached(lines) => {
                    if i > 0 {
                        // Power came back for this run of the chain: a device that was quiet
                        // until the end may have had none.
                        self.check_restored()?;
                    }
                    let end = lines.last().map_or(0, |l| l.t_us);
                    landings.push(Landing {
                        fault: RecordedFault::PowerCut,
                        requested_us: None,
                        actual_us: end,
                        op: None,
                        op_point: None,
                        torn: Some(format!(
                            "the cut never fired: the device was done before {}",
                            aim.describe()
                        )),
                    });
                    unfired = Some(lines);
                    break;
                }
            }
        }
        let was_unfired = unfired.is_some();
        let (mut console, retriggered, t_on) = match unfired {
            Some(lines) => (lines, false, None),
            None => {
                let t_on = self.power_on(None, cfg)?;
                let (lines, retriggered) = self.recover(cfg, t_on, rules)?;
                self.check_restored()?;
                self.check_console_link()?;
                if let Err(why) = restarted(&lines, &cfg.markers) {
                    return Err(RigError::io(self.switch.describe(), why));
                }
                (lines, retriggered, Some(t_on))
            }
        };
        // Only a device that settled after the cut gets the plain reset.
        let settled = console.last().is_some_and(|l| cfg.markers.settled.is_match(&l.text));
        let reset_from = match t_on {
            Some(t_on) if rules.reset_after && settled => {
                let at = console.len();
                let after = self.plain_reset(cfg, t_on)?;
                console.extend(after);
                Some(at)
            }
            _ => None,
        };
        let (dump, dump_base) = self.dump(cfg)?;
        let final_state = Some(fingerprint(&dump));
        // The metadata read again and again, once the device settled for the last time.
        let settled_last = console.last().is_some_and(|l| cfg.markers.settled.is_match(&l.text));
        let stability = match &rules.stability {
            Some(scan) if settled_last && !was_unfired => self.scan_stability(scan)?,
            _ => Stability::NotChecked,
        };
        let outside = self.compare_guarded(&rules.outside)?;
        Ok(Observation {
            landings,
            console,
            dump: cutpoint_engine::target::Dump::whole(dump),
            dump_base,
            dump_keys: None,
            post_cut_state: None,
            final_state,
            committed,
            retriggered,
            unfired: was_unfired,
            reset_from,
            stability,
            booted_slot: None,
            outside,
        })
    }
}

/// Whether the update had committed when the cut fell, from the console: a commit line heard
/// before the cut's instant, or one that arrived in the grace after it (`in_flight`). The
/// device prints its commit line after the write that commits, so a line it printed at all
/// came after that write, however late the serial link delivered it; left out, a cut in that
/// window would allow the old image to boot after a commit.
pub fn committed_before_cut(
    commit: Option<&crate::target::CommitMarker>,
    before: &[LogLine],
    in_flight: &[LogLine],
    cut_us: u64,
) -> bool {
    commit.is_some_and(|m| m.seen_by(before, cut_us) || m.seen_by(in_flight, u64::MAX))
}

/// Whether the console of the run after a cut shows the device started again: a device that
/// settles with no line of a boot (neither the boot nor the jump marker) since power came back
/// never lost power, whatever the switch said (a relay on the wrong channel, a target fed
/// through USB or the probe, a switch command that succeeds and switches nothing) and was only
/// quiet through the dwell. That cut point was not tested: the rig's fault, never a pass. A
/// device that never settles is left to the pass rule (nothing booted is the device's failure).
pub fn restarted(console: &[LogLine], markers: &Markers) -> Result<(), String> {
    let Some(last) = console.last().filter(|l| markers.settled.is_match(&l.text)) else {
        return Ok(());
    };
    if console
        .iter()
        .any(|l| markers.boot.is_match(&l.text) || markers.jump.is_match(&l.text))
    {
        return Ok(());
    }
    Err(format!(
        "the cut did not take: after power came back the device settled ({:?}) without a boot (no line matches \
         the boot marker {} or the jump marker {}): it never lost power; check the relay's channel and wiring and \
         that the target is not fed through USB or the probe (`cutpoint doctor`)",
        last.text,
        markers.boot.located(),
        markers.jump.located()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(texts: &[&str]) -> Vec<LogLine> {
        texts
            .iter()
            .enumerate()
            .map(|(i, t)| LogLine {
                t_us: i as u64 * 1000,
                text: (*t).to_string(),
            })
            .collect()
    }

    fn markers() -> Markers {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "name = \"c\"\n[target]\nboard = \"nrf52840\"\n[[phases]]\nname = \"swap\"\nstart = 'boot: swap-start'\n\
             end = 'boot: swap-done'\noffsets = { fixed = [\"start\"] }\n",
        )
        .unwrap();
        cutpoint_campaign::load_campaign(&path).unwrap().markers
    }

    #[test]
    fn a_commit_line_in_flight_at_the_cut_counts_as_committed_before_it() {
        let commit = crate::target::CommitMarker {
            pattern: regex::Regex::new(r"app: confirm version=(?P<version>\S+)").unwrap(),
            version: "2.0.0+0".into(),
        };
        let before = lines(&["boot: jump version=2.0.0+0 hash=ab", "app: first-boot"]);
        // The confirmation was printed, but reached the rig 1 ms after the cut's instant.
        let in_flight = vec![LogLine {
            t_us: 3_000,
            text: "app: confirm version=2.0.0+0".into(),
        }];
        assert!(committed_before_cut(Some(&commit), &before, &in_flight, 2_000));
        assert!(!committed_before_cut(Some(&commit), &before, &[], 2_000));
        // Heard before the cut, as always; another version's line is not this commit.
        let heard = lines(&["boot: jump version=2.0.0+0 hash=ab", "app: confirm version=2.0.0+0"]);
        assert!(committed_before_cut(Some(&commit), &heard, &[], 1_000));
        let old = vec![LogLine {
            t_us: 3_000,
            text: "app: confirm version=1.0.0+0".into(),
        }];
        assert!(!committed_before_cut(Some(&commit), &before, &old, 2_000));
        assert!(!committed_before_cut(None, &heard, &in_flight, 2_000));
    }

    #[test]
    fn a_device_that_settles_without_booting_after_a_cut_never_lost_power() {
        let m = markers();
        // The console carried on where the cut should have stopped it.
        let kept_running = lines(&["boot: swap-progress region=1", "boot: swap-done", "ota: idle"]);
        let why = restarted(&kept_running, &m).unwrap_err();
        assert!(why.starts_with("the cut did not take"), "{why}");
        // A real power-on: the bootloader starts (or at least jumps) before the device settles.
        assert!(restarted(
            &lines(&["boot: start", "boot: jump version=1.0.0+0 hash=ab", "ota: idle"]),
            &m
        )
        .is_ok());
        assert!(restarted(
            &lines(&["ROM banner", "boot: jump version=1.0.0+0 hash=ab", "ota: idle"]),
            &m
        )
        .is_ok());
        // A device that never settles (bricked, in a boot loop) is the pass rule's to judge.
        assert!(restarted(&lines(&["invalid header: 0xffffffff"]), &m).is_ok());
        assert!(restarted(&[], &m).is_ok());
    }
}
