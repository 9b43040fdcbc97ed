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
