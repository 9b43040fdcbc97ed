//! Exit codes of the `cutpoint` command.

/// Every cut point passed (or a negative-control campaign caught its bug).
pub const PASS: i32 = 0;
/// At least one cut point failed: the device broke the rule.
pub const FAIL: i32 = 1;
/// Bad input: a campaign, station or command line the rig cannot use.
pub const BAD_INPUT: i32 = 2;
/// The rig itself failed (relay, probe, serial, timeout of a backend, journal).
pub const RIG_ERROR: i32 = 3;
/// The run is incomplete: cancelled, interrupted, or a merge lacks partitions. Nothing about
/// the device is concluded; `cutpoint run CAMPAIGN --resume` finishes it.
pub const INCOMPLETE: i32 = 4;

/// The exit code of a finished, complete run, from its results: what `cutpoint run` returns
/// and what `cutpoint report` returns for the same journal. A negative control passes only when
/// a cut point failed for the device's reason (as `NegativeControl::caught` decides for the
/// reports); a run with no result at all is never green.
pub fn for_results(negative: bool, control_failed: bool, fail: usize, error: usize, ran: usize) -> i32 {
    if negative {
        match () {
            _ if fail > 0 => PASS,
            _ if ran == 0 => BAD_INPUT,
            _ if error > 0 => RIG_ERROR,
            _ => FAIL,
        }
    } else {
        match () {
            _ if control_failed || fail > 0 => FAIL,
            _ if error > 0 => RIG_ERROR,
            _ if ran == 0 => BAD_INPUT,
            _ => PASS,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_run_is_never_green_and_a_negative_control_needs_a_failing_cut() {
        assert_eq!(for_results(false, false, 0, 0, 5), PASS);
        assert_eq!(for_results(false, false, 0, 0, 0), BAD_INPUT);
        assert_eq!(for_results(false, true, 0, 0, 0), FAIL);
        assert_eq!(for_results(false, false, 1, 1, 5), FAIL);
        assert_eq!(for_results(false, false, 0, 1, 5), RIG_ERROR);
        assert_eq!(for_results(true, false, 1, 0, 5), PASS);
        assert_eq!(for_results(true, true, 0, 0, 0), BAD_INPUT);
        assert_eq!(for_results(true, false, 0, 2, 5), RIG_ERROR);
        assert_eq!(for_results(true, true, 0, 0, 5), FAIL);
    }
}
