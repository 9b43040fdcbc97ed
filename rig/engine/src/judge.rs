//! The pass rule, applied to what a target observed: the console after the cut and the flash
//! after recovery. It reads the console grammar through the campaign's markers, so the same
//! rule judges the simulated board and a real one.

use cutpoint_campaign::Markers;
use cutpoint_inspect::scheme::{BootPick, MetadataDecoder, RollbackCopy};

use crate::line_marks::LineMarks;
use crate::target::{ControlObservation, Observation, Outside, OutsideChange, Stability};
use cutpoint_inspect::{decode_flash_for, FlashReport, Validity};
use cutpoint_report::{BootedSlot, LogLine, SlotState, Status};
use fut::layout::Layout;
use fut::scheme::{CommitPoint, Mode, Upgrade};

/// What may and must happen, from the campaign.
#[derive(Debug, Clone)]
pub struct Expectations {
    pub old_version: String,
    pub new_version: String,
    /// The image the device must settle on.
    pub final_version: String,
    pub layout: Layout,
    /// The update scheme: its metadata decoder says which slot runs, whether the running image
    /// is confirmed and what a settled device should not leave behind.
    pub mode: Mode,
    /// Test or permanent: with the scheme, what says the update committed.
    pub upgrade: Upgrade,
    pub key: fut::PublicKey,
    /// The campaign's console markers: `jump` (named groups `version` and `hash`), `halt`,
    /// `settled`, `commit` (group `version`), `installed`, `rejected`, `download_restart` and
    /// `blocked`.
    pub markers: Markers,
    /// Why the device must refuse the update (never boot it, end on the old image and say
    /// why), or `None` for an update it must install.
    pub refused: Option<String>,
    /// The slots and scratch area the target cannot read (on a device beside the part a bench's
    /// probe has no access to), each with that device's name: decoded as not readable, never
    /// as erased, and every check that reads them is reported per cut as not checked. Empty on
    /// the simulated board.
    pub unreadable: Vec<(fut::layout::Area, String)>,
    /// The flash outside every area the scheme writes (`fut::scheme::Mode::outside_areas`),
    /// each part with its region's name: it must read after each cut as at the baseline. On
    /// the simulated board all of the map outside the scheme's areas.
    pub outside: Vec<(String, fut::layout::Area)>,
}

impl Expectations {
    /// The decoder of the scheme's metadata, if one is registered.
    fn decoder(&self) -> Option<&'static dyn MetadataDecoder> {
        cutpoint_inspect::scheme::decoder(self.mode.name())
    }

    /// What says this update committed: the scheme's answer for the upgrade type.
    pub fn commit_point(&self) -> CommitPoint {
        self.mode.commit_point(self.upgrade)
    }

    /// How a boot of the old image after the commit is named.
    fn downgrade_name(&self) -> &'static str {
        match self.commit_point() {
            CommitPoint::Confirm => "silent revert",
            CommitPoint::Installed => "silent downgrade after a committed permanent upgrade",
        }
    }
}

/// The verdict on one cut point.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub status: Status,
    pub reasons: Vec<String>,
    pub warnings: Vec<String>,
    pub first_boot: Option<String>,
    pub final_image: Option<String>,
    pub slots: Vec<SlotState>,
    /// The slot the bootloader picks on the settled flash, by the scheme's inspector.
    pub settled_slot: Option<BootedSlot>,
}

/// [`BootedSlot::read`] of a pick read on the flash a cut left.
pub const READ_AFTER_CUT: &str = "after-cut";
/// [`BootedSlot::read`] of a pick read on the flash once the device settled.
pub const READ_SETTLED: &str = "settled";

/// The inspector's pick as the reports hold it; `read` says which flash it was read on.
pub fn booted_slot(read: &str, p: BootPick) -> BootedSlot {
    BootedSlot {
        read: read.to_string(),
        slot: p.slot.map(str::to_string),
        name: p.name,
        record: p.record,
        disagreement: p.disagreement,
    }
}

struct Boot {
    version: String,
    hash: String,
    /// Index of its jump line in the console it was read from.
    line: usize,
}

/// A version as a console printed it, in the rig's form `MAJOR.MINOR.REVISION+BUILD`: stock
/// MCUboot prints `Image version: v1.2.3`, with a `v` and without the build number (0 then).
pub fn canonical_version(printed: &str) -> String {
    let v = printed.strip_prefix('v').unwrap_or(printed);
    let numeric = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    if !v.contains('+') && v.split('.').count() == 3 && v.split('.').all(numeric) {
        format!("{v}+0")
    } else {
        v.to_string()
    }
}

fn boots(console: &[LogLine], m: &Markers) -> Vec<Boot> {
    console
        .iter()
        .enumerate()
        .filter_map(|(i, l)| {
            let c = m.jump.captures(&l.text)?;
            Some(Boot {
                version: canonical_version(c.name("version").map_or("", |x| x.as_str())),
                hash: c.name("hash").map_or("", |x| x.as_str()).to_string(),
                line: i,
            })
        })
        .collect()
}

/// The boots of a console from the marks of its lines (see [`boots`]).
fn boots_marked(marks: &[LineMarks]) -> Vec<Boot> {
    marks
        .iter()
        .enumerate()
        .filter_map(|(i, m)| {
            let (version, hash) = m.jump.as_ref()?;
            Some(Boot {
                version: version.clone(),
                hash: hash.clone(),
                line: i,
            })
        })
        .collect()
}

/// Whether `console` shows a boot of the update (the jump marker with its version): a device
/// that must refuse it let it through.
pub fn booted_update(exp: &Expectations, console: &[LogLine]) -> bool {
    boots(console, &exp.markers)
        .iter()
        .any(|b| b.version == exp.new_version)
}

/// Applies the pass rule. `committed`: the update had committed at the cut instant.
/// `reset_from`: where in `console` the run after a plain reset begins, when the target took
/// one once the device settled.
pub fn judge(
    exp: &Expectations,
    committed: bool,
    console: &[LogLine],
    reset_from: Option<usize>,
    dump: &[u8],
    dump_base: u32,
) -> Verdict {
    let report = decode(exp, dump, dump_base);
    judge_decoded(
        exp,
        committed,
        console,
        reset_from,
        &report,
        &Stability::NotChecked,
        &Outside::NotChecked,
    )
}

/// Applies the pass rule to everything a target observed after a cut chain, the unstable bits
/// of the metadata area included.
pub fn judge_observed(exp: &Expectations, committed: bool, obs: &Observation) -> Verdict {
    let report = obs.dump.with_bytes(|dump| decode(exp, dump, obs.dump_base));
    judge_decoded(
        exp,
        committed,
        &obs.console,
        obs.reset_from,
        &report,
        &obs.stability,
        &obs.outside,
    )
}

/// Applies the pass rule to the control run (no cut): its console, its flash, and what the
/// target found outside the scheme's areas after it ([`ControlObservation::outside`]).
pub fn judge_control(exp: &Expectations, control: &ControlObservation) -> Verdict {
    let report = decode(exp, &control.dump, control.dump_base);
    judge_decoded(
        exp,
        false,
        &control.console,
        None,
        &report,
        &Stability::NotChecked,
        &control.outside,
    )
}

/// Decodes the flash after recovery (the expensive part of judging: hashes and signatures).
pub fn decode(exp: &Expectations, dump: &[u8], dump_base: u32) -> FlashReport {
    let mut r = decode_flash_for(exp.mode.name(), dump, dump_base, &exp.layout, Some(&exp.key));
    r.mark_unreadable(&exp.unreadable);
    r
}

/// As [`decode`], with the images the run has already decoded taken from `images`.
pub fn decode_cached(
    exp: &Expectations,
    dump: &[u8],
    dump_base: u32,
    images: &cutpoint_inspect::ImageCache,
    keys: Option<&cutpoint_inspect::DumpKeys>,
) -> FlashReport {
    let mut r = cutpoint_inspect::decode_flash_for_cached(
        exp.mode.name(),
        dump,
        dump_base,
        &exp.layout,
        Some(&exp.key),
        images,
        keys,
    );
    r.mark_unreadable(&exp.unreadable);
    r
}

/// The pass rule over an already decoded flash. `stability`: the unstable bits the target found
/// in the metadata area once the device settled; `outside`: what it found outside the scheme's
/// areas.
pub fn judge_decoded(
    exp: &Expectations,
    committed: bool,
    console: &[LogLine],
    reset_from: Option<usize>,
    report: &FlashReport,
    stability: &Stability,
    outside: &Outside,
) -> Verdict {
    let mut reasons = Vec::new();
    let mut warnings = Vec::new();
    let split = reset_from.map_or(console.len(), |i| i.min(console.len()));
    let (recovery, reset) = console.split_at(split);
    // What the markers say of each line, looked up by its text (see `line_marks`).
    let marks = crate::line_marks::marks(exp, console);
    let (recovery_marks, reset_marks) = marks.split_at(split);
    let booted = boots_marked(recovery_marks);
    let slots = slot_states(report);
    let decoder = exp.decoder();
    // The update commits at the cut, or later in the recovery when the device prints its
    // commit marker (the confirm line, or the bootloader's line for a finished install).
    let commit_line = match crate::engine::commit_pattern(exp) {
        Some(_) if !committed => recovery_marks.iter().position(|l| l.commit),
        _ => None,
    };
    check_safety(exp, committed, commit_line, &booted, recovery, &mut reasons);
    check_confirmed_then_reverted(exp, &booted, recovery, &mut reasons);
    if let Some(why) = &exp.refused {
        check_refusal(exp, why, &booted, recovery, &mut reasons);
    }
    check_blocked(console, &marks, &mut reasons);
    check_gave_up(console, &marks, &mut reasons);
    let mut last = booted.last();
    let after_reset;
    if !booted.is_empty() {
        check_liveness(exp, last, recovery, &mut reasons);
        if reset_from.is_some() {
            after_reset = boots_marked(reset_marks);
            check_reset(exp, last, &after_reset, reset, &mut reasons);
            last = after_reset.last().or(last);
        }
        if let (Some(b), Some(d)) = (last, decoder) {
            // The device said the update committed (its confirm line, at the cut or in the
            // recovery): then its metadata must say so too.
            let said_committed = (committed || commit_line.is_some())
                && exp.commit_point() == CommitPoint::Confirm
                && b.version == exp.new_version;
            let seen = RunningSeen {
                reset: reset_from.is_some(),
                said_committed,
            };
            check_running_image(d, b, report, seen, &mut reasons, &mut warnings);
        }
        if let Some(copy) = decoder.and_then(|d| d.rollback_copy(report)) {
            check_rollback_copy(exp, &copy, report, &mut reasons);
        }
        if let Some(d) = decoder {
            check_stability(exp, d, report, stability, &mut reasons, &mut warnings);
        }
    }
    check_outside(exp, outside, &mut reasons, &mut warnings);
    if let Some(d) = decoder {
        warnings.extend(d.leftovers(report));
    }
    warnings.extend(not_checked(exp, decoder, report, !booted.is_empty()));
    let status = if reasons.is_empty() { Status::Pass } else { Status::Fail };
    Verdict {
        status,
        reasons,
        warnings,
        first_boot: booted.first().map(|b| b.version.clone()),
        final_image: last.map(|b| b.version.clone()),
        slots,
        settled_slot: decoder
            .filter(|_| report.layout_error.is_none())
            .map(|d| booted_slot(READ_SETTLED, d.boot_pick(report))),
    }
}

/// `committed`: the update had committed at the cut; `commit_line`: else, the line of
/// `console` where it committed during the recovery.
fn check_safety(
    exp: &Expectations,
    committed: bool,
    commit_line: Option<usize>,
    booted: &[Boot],
    console: &[LogLine],
    reasons: &mut Vec<String>,
) {
    let Some(first) = booted.first() else {
        let halt = console.iter().find(|l| exp.markers.halt.is_match(&l.text));
        reasons.push(match halt {
            Some(l) => format!(
                "bricked: nothing booted after the cut; the bootloader said `{}`",
                l.text
            ),
            None => format!(
                "bricked: nothing booted after the cut ({} console lines, no boot marker)",
                console.len()
            ),
        });
        return;
    };
    let allowed: &[&str] = if committed {
        &[&exp.new_version]
    } else {
        &[&exp.old_version, &exp.new_version]
    };
    if !allowed.contains(&first.version.as_str()) {
        reasons.push(if committed && first.version == exp.old_version {
            format!(
                "{}: the update had committed before the cut, but the device booted {}",
                exp.downgrade_name(),
                first.version
            )
        } else {
            format!(
                "first boot after the cut ran {}; allowed: {}",
                first.version,
                allowed.join(" or ")
            )
        });
    }
    for b in booted.iter().skip(1) {
        let committed_before = committed || commit_line.is_some_and(|c| c < b.line);
        if b.version != exp.old_version && b.version != exp.new_version {
            reasons.push(format!("booted an unknown image {}", b.version));
        } else if committed_before && b.version == exp.old_version {
            let when = if committed {
                String::new()
            } else {
                commit_line.map_or(String::new(), |c| {
                    format!(" (it committed in the recovery: `{}`)", console[c].text)
                })
            };
            reasons.push(format!(
                "{}: after the committed update the device later booted {}{when}",
                exp.downgrade_name(),
                b.version
            ));
            break;
        }
    }
}

/// A campaign that expects the old image at the end (a revert): the new image must never
/// confirm itself. A device that prints its confirmation of the new version and then boots the
/// old one reverted an update it had committed, which the final image alone does not show.
/// Only a commit marker with a `version` group is read here: without it, the old image's own
/// confirmation after the revert would read the same.
fn check_confirmed_then_reverted(exp: &Expectations, booted: &[Boot], recovery: &[LogLine], reasons: &mut Vec<String>) {
    let pattern = &exp.markers.commit.regex;
    if exp.final_version == exp.new_version
        || exp.refused.is_some()
        || exp.commit_point() != CommitPoint::Confirm
        || !pattern.capture_names().any(|n| n == Some("version"))
    {
        return;
    }
    let Some(at) = recovery
        .iter()
        .position(|l| crate::target::commit_line(pattern, &exp.new_version, &l.text))
    else {
        return;
    };
    if let Some(b) = booted.iter().find(|b| b.line > at && b.version == exp.old_version) {
        reasons.push(format!(
            "{}: the device confirmed {} (`{}`), then booted {}",
            exp.downgrade_name(),
            exp.new_version,
            recovery[at].text,
            b.version
        ));
    }
}

/// An update the device must refuse: it never boots, and the device says why (the `refused`
/// marker, with its reason) while it recovers. The old image must still be the one that
/// settles (checked by the liveness rule against the final version).
fn check_refusal(exp: &Expectations, why: &str, booted: &[Boot], console: &[LogLine], reasons: &mut Vec<String>) {
    if let Some(b) = booted.iter().find(|b| b.version == exp.new_version) {
        reasons.push(format!(
            "booted {}, an update it must refuse ({why}): its image check let it through",
            b.version
        ));
    }
    let said = console.iter().any(|l| exp.markers.refused.is_match(&l.text));
    if !said && !booted.is_empty() {
        reasons.push(format!(
            "never said why it refused the update ({why}): no console line matches markers.refused '{}'",
            exp.markers.refused.source
        ));
    }
}

/// A boot that printed the halt marker and then jumped to an image anyway (in the recovery or
/// the run after the plain reset): the bootloader gave up on work its metadata records (a swap
/// it could not resume: `boot: halt reason=swap-headers-not-found`, as MCUboot's "Failed
/// reading image headers" leaves the swap status and boots the primary slot) and booted what
/// the primary slot held. The unfinished work stays recorded, and every later boot meets it
/// again. One reason per run, for the first such boot.
fn check_gave_up(console: &[LogLine], marks: &[LineMarks], reasons: &mut Vec<String>) {
    let mut halt: Option<&LogLine> = None;
    for (l, m) in console.iter().zip(marks) {
        if m.boot {
            halt = None;
        } else if m.jump.is_some() {
            if let Some(h) = halt {
                reasons.push(format!(
                    "the bootloader gave up and booted anyway: `{}`, then `{}`; what it gave up on stays recorded \
                     for every later boot",
                    h.text, l.text
                ));
                return;
            }
        } else if halt.is_none() && m.halt {
            halt = Some(l);
        }
    }
}

/// An upload the device refused because the slot it goes to is in use (the `blocked` marker,
/// in the recovery or the run after the plain reset): a request left standing there, e.g. over
/// an image a cut erased part-way (FIELD-BUGS row 3), blocks this update and every later one.
fn check_blocked(console: &[LogLine], marks: &[LineMarks], reasons: &mut Vec<String>) {
    if let Some((l, _)) = console.iter().zip(marks).find(|(_, m)| m.blocked) {
        reasons.push(format!(
            "a later upload was refused: `{}`: the slot it goes to is still in use, so no update can reach the device",
            l.text
        ));
    }
}

fn check_liveness(exp: &Expectations, last: Option<&Boot>, console: &[LogLine], reasons: &mut Vec<String>) {
    let settled = console.last().is_some_and(|l| exp.markers.settled.is_match(&l.text));
    if !settled {
        let halt = console.iter().rev().find(|l| exp.markers.halt.is_match(&l.text));
        reasons.push(match halt {
            Some(l) => format!("bricked during recovery: `{}`", l.text),
            None => "did not settle: the device kept rebooting or stopped talking before it reported idle".to_string(),
        });
        return;
    }
    if let Some(b) = last {
        if b.version != exp.final_version {
            reasons.push(format!(
                "settled on {}, expected {}: the update did not complete",
                b.version, exp.final_version
            ));
        }
    }
}

/// What the device did at a plain reset (no cut) after it settled on `settled`: it must boot
/// that same image again and settle again. A test image that was never confirmed is reverted
/// here by an MCUboot-style bootloader: that is an update that did not stick.
fn check_reset(
    exp: &Expectations,
    settled: Option<&Boot>,
    booted: &[Boot],
    console: &[LogLine],
    reasons: &mut Vec<String>,
) {
    let Some(settled) = settled else { return };
    let Some(first) = booted.first() else {
        let halt = console.iter().find(|l| exp.markers.halt.is_match(&l.text));
        reasons.push(match halt {
            Some(l) => format!(
                "bricked at a plain reset (no cut) after the device settled on {}: the bootloader said `{}`",
                settled.version, l.text
            ),
            None => format!(
                "nothing booted at a plain reset (no cut) after the device settled on {} ({} console lines)",
                settled.version,
                console.len()
            ),
        });
        return;
    };
    // A settled device installs nothing more at a plain reset: an install there means the
    // request it was made from was left behind, and every later boot installs again (a whole
    // slot erased and written at every start, and a cut in each of them).
    // (An `installed` marker that is the jump line itself, as for a bootloader that prints no
    // line of its own when an install completes, says nothing here: every boot prints it.)
    let installs = |l: &&LogLine| exp.markers.installed.is_match(&l.text) && !exp.markers.jump.is_match(&l.text);
    if let Some(l) = console.iter().find(installs) {
        reasons.push(format!(
            "installed again at a plain reset (no cut) after the device settled on {}: `{}`; the request was left \
             behind",
            settled.version, l.text
        ));
    }
    if let Some(other) = booted.iter().find(|b| b.version != settled.version) {
        if exp.commit_point() == CommitPoint::Installed
            && settled.version == exp.new_version
            && other.version == exp.old_version
        {
            // The device settled on the new image of an install that never reverts: the
            // install had finished, so it had committed.
            reasons.push(format!(
                "{}: the device settled on {}, then a plain reset (no cut) booted {}",
                exp.downgrade_name(),
                settled.version,
                other.version
            ));
            return;
        }
        reasons.push(format!(
            "the update did not stick: the device settled on {}, then a plain reset (no cut) booted {} (first boot after the reset: {})",
            settled.version, other.version, first.version
        ));
        return;
    }
    if !console.last().is_some_and(|l| exp.markers.settled.is_match(&l.text)) {
        reasons.push(format!(
            "did not settle again after a plain reset (no cut): {} kept rebooting or stopped talking",
            settled.version
        ));
    }
}

/// The rig checks the running image itself: the slot the scheme boots from must hold a valid,
/// signed image with the version and hash the device announced, and it should be confirmed. A
/// signature the rig cannot verify (an algorithm it does not support) is a warning that says so,
/// never a pass of the signature check.
/// What the rig saw of the running image besides the flash.
#[derive(Clone, Copy)]
struct RunningSeen {
    /// A plain reset after the device settled was observed.
    reset: bool,
    /// The device printed the line that says the update committed (its confirmation).
    said_committed: bool,
}

fn check_running_image(
    decoder: &dyn MetadataDecoder,
    running: &Boot,
    report: &FlashReport,
    seen: RunningSeen,
    reasons: &mut Vec<String>,
    warnings: &mut Vec<String>,
) {
    let reset_seen = seen.reset;
    let Some(running_slot) = decoder.booted_slot(report).and_then(|s| report.slot(s)) else {
        // Said, not passed over: the pass rule could not hold the image the device announced
        // against the flash.
        warnings.push(format!(
            "not checked: the running image ({} {}): the metadata, as the rig reads it once the device settled, \
             names no slot the bootloader boots",
            running.version, running.hash
        ));
        return;
    };
    if let Some(img) = running_slot
        .image
        .as_ref()
        .filter(|i| i.validity == Validity::Unverified)
    {
        warnings.push(format!(
            "signature of the running image not checked by the rig: {}",
            img.signature.status
        ));
    }
    match &running_slot.image {
        Some(img) if matches!(img.validity, Validity::Valid | Validity::Unverified) => {
            let version = img.version().unwrap_or("");
            let hash = img.short_hash().unwrap_or("");
            if version != running.version || (!running.hash.is_empty() && hash != running.hash) {
                reasons.push(format!(
                    "metadata contradicts the running image: the device announced {} {}, the {} slot holds {} {}",
                    running.version, running.hash, running_slot.name, version, hash
                ));
            }
        }
        Some(img) => reasons.push(format!(
            "the {} slot image is {} but the device booted it",
            running_slot.name,
            img.validity.name()
        )),
        // An unreadable slot is said among what was not checked (see `not_checked`).
        None if running_slot.coverage == cutpoint_inspect::Coverage::Unreadable => {}
        None => warnings.push(format!(
            "not checked: the running image ({} {}): the {} slot, which the metadata says boots, holds no image the \
             rig can decode",
            running.version, running.hash, running_slot.name
        )),
    }
    if let Some(u) = decoder.unconfirmed(report) {
        if seen.said_committed {
            // The confirm line is the commit point: a device that prints it must have recorded
            // it, or some later boot may revert an update the device reported committed.
            reasons.push(format!(
                "committed without a record: the device printed its confirmation of {}, but {} reads {} once it \
                 settled",
                running.version, u.record, u.state
            ));
        } else if reset_seen {
            // The reset showed what the device does; what a later one does is not known.
            warnings.push(format!(
                "unconfirmed: after a plain reset {} still reads {} as not confirmed ({})",
                u.record, running.version, u.state
            ));
        } else {
            reasons.push(format!(
                "the running image {} is not confirmed ({}) and the device was not reset to see whether it stays",
                running.version, u.state
            ));
        }
    }
}

/// While the update is undecided, the image a revert would install must be valid in the slot
/// the scheme keeps it in: a cut that destroys it fails even when the device boots, since the
/// next failed health check or reset before the confirmation would install a broken image.
fn check_rollback_copy(exp: &Expectations, copy: &RollbackCopy, report: &FlashReport, reasons: &mut Vec<String>) {
    // A slot the dump does not hold is not judged (the rig read too little, not the device's fault).
    let Some(img) = report
        .slot(copy.slot)
        .and_then(|s| s.image.as_ref())
        .filter(|i| i.validity != Validity::OutsideDump)
    else {
        return;
    };
    let version = img.version();
    let intact = matches!(img.validity, Validity::Valid | Validity::Unverified);
    if intact && version == Some(exp.old_version.as_str()) {
        return;
    }
    let holds = match (version, intact) {
        (Some(v), true) => format!("a valid {v}"),
        (Some(v), false) => format!("{v} {}", img.validity.name()),
        (None, _) => format!("no image ({})", img.validity.name()),
    };
    reasons.push(format!(
        "rollback safety lost: the {} slot holds {holds}, not a valid {}: {}",
        copy.slot, exp.old_version, copy.why
    ));
}

/// Once the device settled, every metadata field and record its bootloader relies on (the
/// scheme decoder says which, in the state the flash decodes to) must read the same on every
/// read. A cut can leave a bit weak (it reads 0 on one read and 1 on the next): the boot that
/// read it may have decided right, but the bit stays, and some later boot's decision is a coin
/// flip (FAULT-MODEL.md). The target found the unstable bits; how, the rule does not know.
fn check_stability(
    exp: &Expectations,
    decoder: &dyn MetadataDecoder,
    report: &FlashReport,
    stability: &Stability,
    reasons: &mut Vec<String>,
    warnings: &mut Vec<String>,
) {
    let (reads, unstable) = match stability {
        Stability::NotChecked => return,
        Stability::Unsupported(why) => {
            warnings.push(format!("metadata stability not checked: {why}"));
            return;
        }
        Stability::Scanned { reads, unstable } => (reads, unstable),
    };
    if unstable.is_empty() {
        return;
    }
    let how = reads.map_or(String::new(), |n| format!(", differing over {n} reads"));
    for field in decoder.relied_on(report, &exp.layout) {
        let hits: Vec<_> = unstable.iter().filter(|u| field.upset_by(u.addr, u.mask)).collect();
        let Some(first) = hits.first() else { continue };
        let more = match hits.len() {
            1 => String::new(),
            n => format!(" and {} more byte{}", n - 1, if n == 2 { "" } else { "s" }),
        };
        reasons.push(format!(
            "metadata left unstable: weak bit in {} at {:#x} (bits {:#04x}{how}){more}: a later boot reads it \
             differently and may decide differently",
            field.what, first.addr, first.mask
        ));
    }
}

/// The flash outside every area the scheme writes (the bootloader's code, a region it does not
/// use, another partition) must read once the device settled as at the baseline: an update
/// that erases or programs it destroys what the device keeps there, even when it boots. One
/// reason per guarded part that changed.
fn check_outside(exp: &Expectations, outside: &Outside, reasons: &mut Vec<String>, warnings: &mut Vec<String>) {
    match outside {
        Outside::NotChecked => {}
        Outside::Unsupported(why) => {
            let regions: Vec<&str> = exp.outside.iter().map(|(r, _)| r.as_str()).collect();
            warnings.push(format!(
                "not checked: the flash outside the update's areas ({}): {why}",
                regions.join(", ")
            ));
        }
        Outside::Scanned(changes) => reasons.extend(changes.iter().map(|c| outside_reason(exp, c))),
    }
}

/// The verdict's line for a change outside the scheme's areas.
pub fn outside_reason(exp: &Expectations, c: &OutsideChange) -> String {
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<Vec<_>>().join(" ");
    format!(
        "the update wrote outside its areas: {} ({:#x}..{:#x}, not written by {}) reads {} at {:#x}, {} at the \
         baseline ({} byte{} changed)",
        c.region,
        c.range.start,
        c.range.end,
        exp.mode.name(),
        hex(&c.after),
        c.addr,
        hex(&c.before),
        c.differing,
        if c.differing == 1 { "" } else { "s" }
    )
}

/// The checks of this cut that read a slot the target could not read (on a device beside the
/// part, which a bench's probe has no access to), one line per such slot, each starting "not
/// checked": the rig could not look, which says nothing about the device either way. The
/// checks a campaign's verdict depends on are refused before a run instead
/// (`station_setup`, from [`MetadataDecoder::judged_slots`]), so what is listed here is what
/// the rule reads besides: metadata left behind there, the stability of its fields, and a
/// running image or rollback copy the scheme put there after all.
fn not_checked(
    exp: &Expectations,
    decoder: Option<&dyn MetadataDecoder>,
    report: &FlashReport,
    booted: bool,
) -> Vec<String> {
    let mut out = Vec::new();
    for slot in report
        .slots
        .iter()
        .filter(|s| s.coverage == cutpoint_inspect::Coverage::Unreadable)
    {
        let device = exp
            .unreadable
            .iter()
            .find(|(a, _)| a.offset <= slot.offset && slot.offset < a.end())
            .map_or("another device", |(_, d)| d.as_str());
        let mut checks = Vec::new();
        if let Some(d) = decoder {
            if booted && d.booted_slot(report) == Some(slot.name.as_str()) {
                checks.push("the running image (version, hash, signature)".to_string());
            }
            if let Some(copy) = d.rollback_copy(report).filter(|c| c.slot == slot.name) {
                checks.push(format!("the rollback copy ({})", copy.why));
            }
        }
        checks.push("metadata left behind in its trailer".to_string());
        if booted {
            checks.push("the stability of its metadata".to_string());
        }
        out.push(format!(
            "not checked: {}; the {} slot is on {device}, which the probe cannot read",
            checks.join("; "),
            slot.name
        ));
    }
    out
}

fn slot_states(report: &FlashReport) -> Vec<SlotState> {
    report
        .slot_summaries()
        .into_iter()
        .map(|(slot, version, hash, validity, trailer)| SlotState {
            slot,
            version,
            hash,
            validity: validity.into(),
            trailer,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use cutpoint_campaign::Pattern;
    use cutpoint_sim::scenario::Scenario;
    use cutpoint_sim::{BoardProfile, RunOptions};

    /// Runs `s` on a fresh board without a cut: its console, and the dump of the slots and
    /// scratch with the address of its first byte.
    fn observe(s: &Scenario) -> (Vec<LogLine>, Vec<u8>, u32) {
        let mut board = s.board();
        let log = board.run(RunOptions::default());
        let l = s.profile.layout;
        let console = log
            .console
            .iter()
            .map(|c| LogLine {
                t_us: c.t_us,
                text: c.text.clone(),
            })
            .collect();
        let dump = board.flash.raw()[l.primary.offset as usize..l.scratch.end() as usize].to_vec();
        (console, dump, l.primary.offset)
    }

    /// The flash and console after an unfaulted update: 2.0.0 running, confirmed.
    fn updated() -> (Expectations, Vec<LogLine>, Vec<u8>, u32) {
        let s = Scenario::new(BoardProfile::builtin("nrf52840").unwrap(), 16);
        let (console, dump, base) = observe(&s);
        (expect_update(&s), console, dump, base)
    }

    /// What the pass rule expects of scenario `s` (its layout, mode and key): a test upgrade
    /// from 1.0.0 to 2.0.0 that ends on 2.0.0, the default markers.
    fn expect_update(s: &Scenario) -> Expectations {
        Expectations {
            old_version: "1.0.0+0".into(),
            new_version: "2.0.0+0".into(),
            final_version: "2.0.0+0".into(),
            layout: s.profile.layout,
            mode: s.mode,
            upgrade: Upgrade::Test,
            key: s.firmware().boot.key,
            markers: Markers::default(),
            refused: None,
            unreadable: Vec::new(),
            outside: Vec::new(),
        }
    }

    /// The flash and console after a spoiled update was refused: 1.0.0 running.
    fn refused() -> (Expectations, Vec<LogLine>, Vec<u8>, u32) {
        use cutpoint_sim::imgtool::{build_tampered_image, default_test_key, ImageSpec, Tamper};
        let mut s = Scenario::new(BoardProfile::builtin("nrf52840").unwrap(), 16);
        s.new_image = std::sync::Arc::new(build_tampered_image(
            &ImageSpec::new(s.new_version, 16 * 1024),
            &default_test_key(),
            Tamper::BodyByte,
        ));
        let (mut exp, _, _, _) = updated();
        exp.final_version = "1.0.0+0".into();
        exp.refused = Some("images.update.tamper = \"body-byte\"".into());
        let (console, dump, base) = observe(&s);
        (exp, console, dump, base)
    }

    #[test]
    fn a_refused_update_passes_when_the_device_stays_and_says_why() {
        let (exp, console, dump, base) = refused();
        let v = judge(&exp, false, &console, None, &dump, base);
        assert_eq!(v.status, Status::Pass, "{:?}", v.reasons);
        assert_eq!(v.final_image.as_deref(), Some("1.0.0+0"));
    }

    #[test]
    fn booting_an_update_that_must_be_refused_fails_even_back_on_the_old_image() {
        let (exp, console, dump, base) = refused();
        // The spoiled image ran once, then the device came back to 1.0.0 (as after a revert).
        let mut c = vec![
            line("boot: jump version=2.0.0+0 hash=12345678"),
            line("app: health fail"),
        ];
        c.extend(console);
        let v = judge(&exp, false, &c, None, &dump, base);
        assert_eq!(v.status, Status::Fail);
        assert!(
            v.reasons
                .iter()
                .any(|r| r.starts_with("booted 2.0.0+0, an update it must refuse (images.update.tamper")),
            "{:?}",
            v.reasons
        );
        let mut plain = exp.clone();
        plain.refused = None;
        let v = judge(&plain, false, &c, None, &dump, base);
        assert!(
            !v.reasons.iter().any(|r| r.contains("must refuse")),
            "only a refused update has the rule: {:?}",
            v.reasons
        );
    }

    #[test]
    fn an_upload_refused_for_a_slot_in_use_fails_the_cut_even_on_the_right_image() {
        let (exp, console, dump, base) = refused();
        assert_eq!(judge(&exp, false, &console, None, &dump, base).status, Status::Pass);
        // The device settled on 1.0.0 and said why, but its next upload was refused: a request
        // stayed in the secondary trailer (FIELD-BUGS row 3).
        let mut c = console.clone();
        let idle = c.pop().unwrap();
        c.push(line("ota: upload-refused reason=slot-pending version=2.0.0+0"));
        c.push(LogLine {
            text: "ota: idle reason=upload-refused version=2.0.0+0".into(),
            ..idle
        });
        let v = judge(&exp, false, &c, None, &dump, base);
        assert_eq!(v.status, Status::Fail);
        assert_eq!(v.reasons.len(), 1, "{:?}", v.reasons);
        assert!(
            v.reasons[0].starts_with("a later upload was refused: `ota: upload-refused reason=slot-pending"),
            "{:?}",
            v.reasons
        );
        // In the run after the plain reset as well.
        let mut r = console.clone();
        let reset_from = r.len();
        r.extend(c[..].iter().cloned());
        let v = judge(&exp, false, &r, Some(reset_from), &dump, base);
        assert!(
            v.reasons.iter().any(|r| r.starts_with("a later upload was refused")),
            "{:?}",
            v.reasons
        );
    }

    #[test]
    fn a_refusal_without_a_reason_fails() {
        let (exp, console, dump, base) = refused();
        let silent: Vec<LogLine> = console
            .into_iter()
            .filter(|l| !l.text.starts_with("ota: verify-fail"))
            .collect();
        let v = judge(&exp, false, &silent, None, &dump, base);
        assert_eq!(v.status, Status::Fail);
        assert_eq!(v.reasons.len(), 1, "{:?}", v.reasons);
        assert!(
            v.reasons[0].starts_with("never said why it refused the update"),
            "{:?}",
            v.reasons
        );
    }

    /// `console` without the line that says the update committed (the confirmation).
    fn unconfirmed_console(exp: &Expectations, console: &[LogLine]) -> Vec<LogLine> {
        console
            .iter()
            .filter(|l| !exp.markers.commit.is_match(&l.text))
            .cloned()
            .collect()
    }

    fn line(t: &str) -> LogLine {
        LogLine {
            t_us: 0,
            text: t.to_string(),
        }
    }

    /// The marks kept by line text are those the markers give the line, for the markers and
    /// version asked now: a campaign with another new version or another halt marker on the
    /// same thread does not get the marks of the one before.
    #[test]
    fn the_marks_of_a_line_are_those_of_the_markers_asked_now() {
        use crate::line_marks::marks;
        let (exp, console, _, _) = updated();
        let fresh = |e: &Expectations| -> Vec<_> {
            console
                .iter()
                .map(|l| {
                    let m = &e.markers;
                    (
                        m.boot.is_match(&l.text),
                        m.halt.is_match(&l.text),
                        crate::engine::commit_pattern(e)
                            .is_some_and(|p| crate::target::commit_line(p, &e.new_version, &l.text)),
                        m.jump.is_match(&l.text),
                    )
                })
                .collect()
        };
        let seen = |e: &Expectations| -> Vec<_> {
            marks(e, &console)
                .into_iter()
                .map(|m| (m.boot, m.halt, m.commit, m.jump.is_some()))
                .collect()
        };
        for _ in 0..2 {
            assert_eq!(seen(&exp), fresh(&exp));
        }
        assert!(seen(&exp).iter().any(|m| m.2), "the control run commits 2.0.0");
        assert!(seen(&exp).iter().any(|m| m.3), "and boots");
        // Another new version: the same confirm line no longer commits it.
        let mut other = exp.clone();
        other.new_version = "3.0.0+0".into();
        other.final_version = "3.0.0+0".into();
        assert_eq!(seen(&other), fresh(&other));
        assert!(!seen(&other).iter().any(|m| m.2));
        // Another halt marker, one the boot lines match.
        let mut halting = exp.clone();
        halting.markers.halt = Pattern::new("boot: start").unwrap();
        assert_eq!(seen(&halting), fresh(&halting));
        assert!(seen(&halting).iter().any(|m| m.1));
        assert_eq!(seen(&exp), fresh(&exp));
        // The boots read from the marks are those read from the lines.
        let from_lines: Vec<_> = boots(&console, &exp.markers)
            .into_iter()
            .map(|b| (b.version, b.hash, b.line))
            .collect();
        let from_marks: Vec<_> = boots_marked(&marks(&exp, &console))
            .into_iter()
            .map(|b| (b.version, b.hash, b.line))
            .collect();
        assert_eq!(from_marks, from_lines);
        assert!(!from_lines.is_empty());
    }

    fn hash_of(console: &[LogLine], version: &str) -> String {
        console
            .iter()
            .find_map(|l| {
                l.text
                    .strip_prefix(&format!("boot: jump version={version} hash="))
                    .map(str::to_string)
            })
            .unwrap()
    }

    #[test]
    fn a_clean_recovery_passes() {
        let (exp, console, dump, base) = updated();
        let v = judge(&exp, false, &console, None, &dump, base);
        assert_eq!(v.status, Status::Pass, "{:?}", v.reasons);
        assert_eq!(v.first_boot.as_deref(), Some("1.0.0+0"));
        assert_eq!(v.final_image.as_deref(), Some("2.0.0+0"));
    }

    #[test]
    fn versions_as_stock_mcuboot_prints_them_are_the_images_versions() {
        assert_eq!(canonical_version("v2.0.0"), "2.0.0+0");
        assert_eq!(canonical_version("2.0.0+7"), "2.0.0+7");
        assert_eq!(canonical_version("v2.0"), "2.0");
        let (mut exp, console, dump, base) = updated();
        exp.markers.jump = Pattern::new(r"I: Image version: v(?P<version>\S+)").unwrap();
        // MCUboot says the version of the image it starts, without a build number or a hash.
        let mcuboot: Vec<LogLine> = console
            .iter()
            .map(|l| match l.text.strip_prefix("boot: jump version=") {
                Some(rest) => line(&format!("I: Image version: v{}", rest.split('+').next().unwrap())),
                None => l.clone(),
            })
            .collect();
        let v = judge(&exp, false, &mcuboot, None, &dump, base);
        assert_eq!(v.status, Status::Pass, "{:?}", v.reasons);
        assert_eq!(v.final_image.as_deref(), Some("2.0.0+0"));
    }

    #[test]
    fn booting_the_old_image_after_the_commit_is_a_silent_revert() {
        let (exp, console, dump, base) = updated();
        let v = judge(&exp, true, &console, None, &dump, base);
        assert_eq!(v.status, Status::Fail);
        assert!(v.reasons[0].starts_with("silent revert"), "{:?}", v.reasons);
    }

    #[test]
    fn nothing_booted_is_a_brick() {
        let (exp, _, dump, base) = updated();
        let console = vec![line("boot: start"), line("boot: halt reason=no-bootable-image")];
        let v = judge(&exp, false, &console, None, &dump, base);
        assert_eq!(v.status, Status::Fail);
        assert!(v.reasons[0].contains("bricked"), "{:?}", v.reasons);
    }

    #[test]
    fn a_device_that_never_settles_fails_liveness() {
        let (exp, console, dump, base) = updated();
        let h = hash_of(&console, "2.0.0+0");
        let looping = vec![
            line(&format!("boot: jump version=2.0.0+0 hash={h}")),
            line("app: health fail"),
        ];
        let v = judge(&exp, false, &looping, None, &dump, base);
        assert!(
            v.reasons.iter().any(|r| r.starts_with("did not settle")),
            "{:?}",
            v.reasons
        );
    }

    #[test]
    fn settling_on_the_old_image_fails_a_good_update() {
        let (exp, console, dump, base) = updated();
        let h = hash_of(&console, "1.0.0+0");
        let c = vec![
            line(&format!("boot: jump version=1.0.0+0 hash={h}")),
            line("ota: idle reason=rejected"),
        ];
        let v = judge(&exp, false, &c, None, &dump, base);
        assert!(
            v.reasons.iter().any(|r| r.contains("expected 2.0.0+0")),
            "{:?}",
            v.reasons
        );
        assert!(
            v.reasons.iter().any(|r| r.contains("metadata contradicts")),
            "the slot holds 2.0.0: {:?}",
            v.reasons
        );
    }

    #[test]
    fn an_unconfirmed_running_image_fails_and_a_leftover_request_warns() {
        let (exp, console, mut dump, base) = updated();
        // The device never printed its confirmation.
        let console = unconfirmed_console(&exp, &console);
        let l = exp.layout;
        let ok = (l.primary.end() - 24 - base) as usize;
        dump[ok] = 0xff; // image_ok back to unset: the image would revert at the next reset
        let magic = (l.secondary.end() - 16 - base) as usize;
        dump[magic..magic + 16].copy_from_slice(&fut::trailer::MAGIC);
        let v = judge(&exp, false, &console, None, &dump, base);
        assert!(v.reasons.iter().any(|r| r.contains("not confirmed")), "{:?}", v.reasons);
        assert!(
            v.warnings.iter().any(|w| w.starts_with("leftover request")),
            "{:?}",
            v.warnings
        );
    }

    #[test]
    fn a_running_image_the_rig_cannot_verify_passes_only_with_a_warning() {
        let (mut exp, _, mut dump, base) = updated();
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../fixtures/imgtool/images/rsa-2048-app-1.0.0.bin");
        let rsa = std::fs::read(path).unwrap();
        let at = (exp.layout.primary.offset - base) as usize;
        dump[at..at + rsa.len()].copy_from_slice(&rsa);
        exp.old_version = "0.9.0+0".into();
        exp.new_version = "1.0.0+0".into();
        exp.final_version = "1.0.0+0".into();
        // Installed for good (a permanent swap): no rollback copy is kept to check.
        let swap_info = (exp.layout.primary.end() - fut::trailer::SWAP_INFO_FROM_END - base) as usize;
        dump[swap_info] = 0x03;
        let hash = cutpoint_inspect::decode_image(&rsa, None)
            .short_hash()
            .unwrap()
            .to_string();
        let c = vec![
            line(&format!("boot: jump version=1.0.0+0 hash={hash}")),
            line("ota: idle reason=up-to-date"),
        ];
        let v = judge(&exp, true, &c, None, &dump, base);
        assert_eq!(v.status, Status::Pass, "{:?}", v.reasons);
        assert_eq!(
            v.warnings,
            ["signature of the running image not checked by the rig: not verified (RSA-2048 is not supported by cutpoint)"]
        );
        assert_eq!(v.slots[0].validity, cutpoint_report::SlotValidity::Unverified);

        // Its hash is still checked.
        dump[at + 0x300] ^= 1;
        let v = judge(&exp, true, &c, None, &dump, base);
        assert!(
            v.reasons
                .iter()
                .any(|r| r.contains("primary slot image is hash-mismatch")),
            "{:?}",
            v.reasons
        );
    }

    #[test]
    fn an_unknown_image_is_a_failure() {
        let (exp, _, dump, base) = updated();
        let c = vec![
            line("boot: jump version=9.9.9+0 hash=00000000"),
            line("ota: idle reason=up-to-date"),
        ];
        let v = judge(&exp, false, &c, None, &dump, base);
        assert!(
            v.reasons[0].starts_with("first boot after the cut ran 9.9.9+0"),
            "{:?}",
            v.reasons
        );
    }

    /// The console of an unfaulted update followed by a plain reset's run that boots `version`.
    fn with_reset(console: &[LogLine], version: &str, last: &str) -> (Vec<LogLine>, Option<usize>) {
        let h = hash_of(console, version);
        let mut c = console.to_vec();
        let at = c.len();
        c.push(line("boot: start mode=swap-scratch variant=reference"));
        if version == "1.0.0+0" {
            c.push(line("boot: swap-start type=revert size=20480 regions=5"));
            c.push(line("boot: swap-done type=revert"));
        }
        c.push(line(&format!("boot: jump version={version} hash={h}")));
        c.push(line(last));
        (c, Some(at))
    }

    #[test]
    fn a_revert_at_the_plain_reset_after_settling_fails() {
        let (exp, console, dump, base) = updated();
        let (c, at) = with_reset(&console, "1.0.0+0", "ota: idle reason=rejected version=2.0.0+0");
        let v = judge(&exp, false, &c, at, &dump, base);
        assert_eq!(v.status, Status::Fail);
        assert!(
            v.reasons.iter().any(|r| r.starts_with("the update did not stick")),
            "{:?}",
            v.reasons
        );
        assert_eq!(v.final_image.as_deref(), Some("1.0.0+0"));
    }

    #[test]
    fn an_unconfirmed_image_that_stays_at_the_reset_is_a_warning_not_a_prediction() {
        let (exp, console, mut dump, base) = updated();
        let console = unconfirmed_console(&exp, &console);
        let l = exp.layout;
        dump[(l.primary.end() - 24 - base) as usize] = 0xff; // image_ok reads unset
        let (c, at) = with_reset(&console, "2.0.0+0", "ota: idle reason=up-to-date version=2.0.0+0");
        let v = judge(&exp, false, &c, at, &dump, base);
        assert_eq!(v.status, Status::Pass, "{:?}", v.reasons);
        assert!(
            v.warnings.iter().any(|w| w.starts_with("unconfirmed")),
            "{:?}",
            v.warnings
        );
        // Without the reset the rig saw nothing, and says so.
        let v = judge(&exp, false, &console, None, &dump, base);
        assert!(v.reasons.iter().any(|r| r.contains("was not reset")), "{:?}", v.reasons);
    }

    #[test]
    fn a_boot_that_halts_and_then_jumps_gave_up_on_its_work() {
        let (exp, console, dump, base) = updated();
        let v = judge(&exp, false, &console, None, &dump, base);
        assert_eq!(v.status, Status::Pass, "{:?}", v.reasons);
        // A swap the bootloader could not resume, then the primary slot booted all the same.
        let mut c = vec![
            line("boot: start mode=swap-offset variant=reference"),
            line("boot: swap-resume type=revert size=65536 moved=0 swapped=16 of=16"),
            line("boot: halt reason=swap-headers-not-found"),
        ];
        c.extend(
            console
                .iter()
                .skip_while(|l| !l.text.starts_with("boot: integrity"))
                .cloned(),
        );
        let v = judge(&exp, false, &c, None, &dump, base);
        assert_eq!(v.status, Status::Fail);
        assert!(
            v.reasons.iter().any(|r| {
                r.starts_with(
                "the bootloader gave up and booted anyway: `boot: halt reason=swap-headers-not-found`, then `boot: jump"
            )
            }),
            "{:?}",
            v.reasons
        );
        // A halt in an earlier boot, the next boot clean: that boot halted (a brick the device
        // came out of by itself is judged by the other rules), it did not give up and jump.
        let mut c = vec![line("boot: start"), line("boot: halt reason=no-bootable-image")];
        c.extend(console.iter().cloned());
        let v = judge(&exp, false, &c, None, &dump, base);
        assert!(
            !v.reasons.iter().any(|r| r.starts_with("the bootloader gave up")),
            "{:?}",
            v.reasons
        );
    }

    #[test]
    fn silence_or_a_halt_at_the_plain_reset_is_a_failure() {
        let (exp, console, dump, base) = updated();
        let mut c = console.clone();
        let at = Some(c.len());
        let v = judge(&exp, false, &c, at, &dump, base);
        assert!(
            v.reasons
                .iter()
                .any(|r| r.starts_with("nothing booted at a plain reset")),
            "{:?}",
            v.reasons
        );
        c.push(line("boot: start"));
        c.push(line("boot: halt reason=no-bootable-image"));
        let v = judge(&exp, false, &c, at, &dump, base);
        assert!(
            v.reasons.iter().any(|r| r.starts_with("bricked at a plain reset")),
            "{:?}",
            v.reasons
        );
        let (mut c, at) = with_reset(&console, "2.0.0+0", "app: health fail");
        c.push(line("boot: start"));
        let v = judge(&exp, false, &c, at, &dump, base);
        assert!(
            v.reasons.iter().any(|r| r.starts_with("did not settle again")),
            "{:?}",
            v.reasons
        );
    }

    /// Flips a byte in the body of the image in the secondary slot (the old image after a
    /// test swap).
    fn tear_secondary(exp: &Expectations, dump: &mut [u8], base: u32) {
        dump[(exp.layout.secondary.offset + 0x800 - base) as usize] ^= 0x10;
    }

    #[test]
    fn a_torn_rollback_copy_fails_even_though_the_device_boots_the_new_image() {
        let (exp, console, mut dump, base) = updated();
        let v = judge(&exp, false, &console, None, &dump, base);
        assert_eq!(
            v.status,
            Status::Pass,
            "the old image is intact in the secondary: {:?}",
            v.reasons
        );
        tear_secondary(&exp, &mut dump, base);
        let v = judge(&exp, false, &console, None, &dump, base);
        assert_eq!(v.status, Status::Fail);
        assert_eq!(v.final_image.as_deref(), Some("2.0.0+0"));
        assert_eq!(
            v.reasons,
            ["rollback safety lost: the secondary slot holds 1.0.0+0 hash-mismatch, not a valid 1.0.0+0: the primary \
              trailer records a finished test swap (image_ok set), which keeps the image to revert to there; until the \
              new image confirms itself, a failed health check or a reset swaps it back in, and a broken one bricks \
              the device"]
        );
        // The same after a plain reset: the copy is judged on the flash after it.
        let (c, at) = with_reset(&console, "2.0.0+0", "ota: idle reason=up-to-date version=2.0.0+0");
        let v = judge(&exp, false, &c, at, &dump, base);
        assert!(
            v.reasons.iter().any(|r| r.starts_with("rollback safety lost")),
            "{:?}",
            v.reasons
        );
    }

    #[test]
    fn installs_that_keep_no_rollback_copy_are_not_checked_for_one() {
        let (mut exp, console, mut dump, base) = updated();
        tear_secondary(&exp, &mut dump, base);
        // The primary trailer of a permanent swap: nothing reverts, nothing to roll back to.
        let swap_info = (exp.layout.primary.end() - fut::trailer::SWAP_INFO_FROM_END - base) as usize;
        let test = dump[swap_info];
        dump[swap_info] = 0x03;
        let v = judge(&exp, false, &console, None, &dump, base);
        assert_eq!(v.status, Status::Pass, "{:?}", v.reasons);
        // After a revert the old image is the running one, checked as such; the secondary
        // holds the rejected update, which nothing will install again.
        dump[swap_info] = 0x04;
        let v = judge(&exp, false, &console, None, &dump, base);
        assert!(!v.reasons.iter().any(|r| r.contains("rollback")), "{:?}", v.reasons);
        // An overwrite keeps none either.
        dump[swap_info] = test;
        exp.mode = Mode::OVERWRITE;
        let v = judge(&exp, false, &console, None, &dump, base);
        assert_eq!(v.status, Status::Pass, "{:?}", v.reasons);
    }

    #[test]
    fn a_revert_after_the_new_image_confirmed_itself_fails_even_ending_on_the_old_image() {
        let (mut exp, console, _, _) = updated();
        exp.final_version = exp.old_version.clone();
        let h1 = hash_of(&console, "1.0.0+0");
        let h2 = hash_of(&console, "2.0.0+0");
        let confirmed_then_old = vec![
            line("boot: start mode=swap-scratch variant=reference"),
            line(&format!("boot: jump version=2.0.0+0 hash={h2}")),
            line("app: confirm version=2.0.0+0"),
            line("ota: reboot"),
            line("boot: start mode=swap-scratch variant=reference"),
            line(&format!("boot: jump version=1.0.0+0 hash={h1}")),
            line("ota: idle reason=up-to-date version=1.0.0+0"),
        ];
        let mut reasons = Vec::new();
        let booted = boots(&confirmed_then_old, &exp.markers);
        check_confirmed_then_reverted(&exp, &booted, &confirmed_then_old, &mut reasons);
        assert_eq!(
            reasons,
            vec!["silent revert: the device confirmed 2.0.0+0 (`app: confirm version=2.0.0+0`), then booted 1.0.0+0"]
        );
        // A revert without a confirmation, and the old image confirming itself after it: as before.
        let mut reverted = confirmed_then_old.clone();
        reverted.remove(2);
        reverted.insert(5, line("app: confirm version=1.0.0+0"));
        let mut reasons = Vec::new();
        check_confirmed_then_reverted(&exp, &boots(&reverted, &exp.markers), &reverted, &mut reasons);
        assert_eq!(reasons, Vec::<String>::new());
        // A campaign that expects the new image is judged by the rules of a commit.
        exp.final_version = exp.new_version.clone();
        let mut reasons = Vec::new();
        check_confirmed_then_reverted(&exp, &booted, &confirmed_then_old, &mut reasons);
        assert_eq!(reasons, Vec::<String>::new());
    }

    #[test]
    fn a_running_image_the_flash_does_not_show_is_said_not_checked() {
        let (exp, console, mut dump, base) = updated();
        let v = judge(&exp, false, &console, None, &dump, base);
        assert_eq!(v.status, Status::Pass, "{:?}", v.reasons);
        assert!(
            !v.warnings.iter().any(|w| w.contains("running image")),
            "{:?}",
            v.warnings
        );
        // The device announced 2.0.0, but read as direct-XIP (which boots the slot holding the
        // highest valid version), with both headers erased, the flash names no slot it boots.
        let mut exp = exp;
        exp.mode = Mode::DIRECT_XIP;
        for slot in [exp.layout.primary, exp.layout.secondary] {
            let at = (slot.offset - base) as usize;
            dump[at..at + 32].fill(0xff);
        }
        let v = judge(&exp, false, &console, None, &dump, base);
        assert!(
            v.warnings
                .iter()
                .any(|w| w.starts_with("not checked: the running image (2.0.0+0 ")
                    && w.ends_with("names no slot the bootloader boots")),
            "{:?} {:?}",
            v.warnings,
            v.reasons
        );
    }

    fn permanent(mut exp: Expectations) -> Expectations {
        exp.upgrade = Upgrade::Permanent;
        exp
    }

    #[test]
    fn booting_the_old_image_after_a_finished_permanent_install_is_a_silent_downgrade() {
        let (exp, console, dump, base) = updated();
        let exp = permanent(exp);
        assert_eq!(exp.commit_point(), CommitPoint::Installed);
        // Cut after the install line: the first boot after it runs the old image.
        let v = judge(&exp, true, &console, None, &dump, base);
        assert_eq!(v.status, Status::Fail);
        assert!(
            v.reasons[0].starts_with(
                "silent downgrade after a committed permanent upgrade: the update had committed before the cut, \
                 but the device booted 1.0.0+0"
            ),
            "{:?}",
            v.reasons
        );
        // Cut before it: the recovery finishes the install, boots the new image, then a later
        // boot swaps the old one back.
        let h1 = hash_of(&console, "1.0.0+0");
        let h2 = hash_of(&console, "2.0.0+0");
        let c = vec![
            line("boot: start mode=swap-scratch variant=stale-swap-request"),
            line("boot: swap-resume type=perm size=65536 after-region=3 after-step=2"),
            line("boot: swap-done type=perm"),
            line(&format!("boot: jump version=2.0.0+0 hash={h2}")),
            line("ota: reboot"),
            line("boot: start mode=swap-scratch variant=stale-swap-request"),
            line("boot: swap-start type=perm size=65536 regions=16"),
            line("boot: swap-done type=perm"),
            line(&format!("boot: jump version=1.0.0+0 hash={h1}")),
            line("ota: idle reason=up-to-date version=1.0.0+0"),
        ];
        let v = judge(&exp, false, &c, None, &dump, base);
        assert!(
            v.reasons.iter().any(|r| {
                r
                == "silent downgrade after a committed permanent upgrade: after the committed update the device later \
                    booted 1.0.0+0 (it committed in the recovery: `boot: swap-done type=perm`)"
            }),
            "{:?}",
            v.reasons
        );
        // A test upgrade has not committed at its install: the same console is no downgrade.
        let v = judge(&updated().0, false, &c, None, &dump, base);
        assert!(!v.reasons.iter().any(|r| r.starts_with("silent")), "{:?}", v.reasons);
    }

    #[test]
    fn a_downgrade_at_the_plain_reset_after_a_permanent_install_is_named_so() {
        let (exp, console, dump, base) = updated();
        let (c, at) = with_reset(&console, "1.0.0+0", "ota: idle reason=up-to-date version=1.0.0+0");
        let v = judge(&permanent(exp.clone()), false, &c, at, &dump, base);
        assert!(
            v.reasons.iter().any(|r| {
                r
                == "silent downgrade after a committed permanent upgrade: the device settled on 2.0.0+0, then a plain \
                    reset (no cut) booted 1.0.0+0"
            }),
            "{:?}",
            v.reasons
        );
        let v = judge(&exp, false, &c, at, &dump, base);
        assert!(
            v.reasons.iter().any(|r| r.starts_with("the update did not stick")),
            "{:?}",
            v.reasons
        );
    }

    #[test]
    fn a_clean_reset_passes() {
        let (exp, console, dump, base) = updated();
        let (c, at) = with_reset(&console, "2.0.0+0", "ota: idle reason=up-to-date version=2.0.0+0");
        let v = judge(&exp, false, &c, at, &dump, base);
        assert_eq!(v.status, Status::Pass, "{:?}", v.reasons);
        assert!(v.warnings.is_empty(), "{:?}", v.warnings);
    }

    fn scanned(unstable: &[(u32, u8)]) -> Stability {
        Stability::Scanned {
            reads: None,
            unstable: unstable
                .iter()
                .map(|&(addr, mask)| crate::target::UnstableByte { addr, mask })
                .collect(),
        }
    }

    fn judge_with(exp: &Expectations, console: &[LogLine], dump: &[u8], base: u32, s: &Stability) -> Verdict {
        judge_decoded(
            exp,
            false,
            console,
            None,
            &decode(exp, dump, base),
            s,
            &Outside::NotChecked,
        )
    }

    #[test]
    fn a_weak_bit_left_in_a_relied_on_field_fails_the_cut() {
        let (exp, console, dump, base) = updated();
        let image_ok = exp.layout.primary.end() - fut::trailer::IMAGE_OK_FROM_END;
        let v = judge_with(&exp, &console, &dump, base, &scanned(&[(image_ok, 0x04)]));
        assert_eq!(v.status, Status::Fail);
        assert_eq!(
            v.reasons,
            [format!(
                "metadata left unstable: weak bit in primary trailer image_ok at {image_ok:#x} (bits 0x04): a later \
                 boot reads it differently and may decide differently"
            )]
        );
        // A bench says how many reads it compared; several bytes of one field are one reason.
        let magic = exp.layout.primary.end() - fut::trailer::MAGIC_FROM_END;
        let bench = Stability::Scanned {
            reads: Some(8),
            unstable: [(magic + 3, 0x10), (magic + 9, 0x01)]
                .map(|(addr, mask)| crate::target::UnstableByte { addr, mask })
                .into(),
        };
        let v = judge_with(&exp, &console, &dump, base, &bench);
        assert_eq!(v.reasons.len(), 1, "{:?}", v.reasons);
        assert!(
            v.reasons[0].starts_with(&format!(
                "metadata left unstable: weak bit in primary trailer magic at {:#x} (bits 0x10, differing over 8 \
                 reads) and 1 more byte",
                magic + 3
            )),
            "{:?}",
            v.reasons
        );
    }

    #[test]
    fn weak_bits_the_bootloader_does_not_read_pass() {
        let (exp, console, dump, base) = updated();
        let l = exp.layout;
        // After a finished swap: the status records (never resumed from again), the secondary
        // trailer's swap_size and image_ok (no request there), a byte of an image.
        let record = fut::trailer::status_addr(&l, l.primary, 1, 1);
        let unread = [
            (record, 0xff),
            (l.secondary.end() - fut::trailer::SWAP_SIZE_FROM_END, 0x01),
            (l.secondary.end() - fut::trailer::IMAGE_OK_FROM_END, 0x01),
            (l.primary.offset + 0x400, 0x80),
        ];
        let v = judge_with(&exp, &console, &dump, base, &scanned(&unread));
        assert_eq!(v.status, Status::Pass, "{:?}", v.reasons);
        // The secondary magic is read at every boot: a request there would start a swap.
        let magic = l.secondary.end() - fut::trailer::MAGIC_FROM_END;
        let v = judge_with(&exp, &console, &dump, base, &scanned(&[(magic, 0x01)]));
        assert!(
            v.reasons[0].starts_with("metadata left unstable: weak bit in secondary trailer magic"),
            "{:?}",
            v.reasons
        );
    }

    #[test]
    fn status_records_of_an_unfinished_swap_are_relied_on_when_they_can_read_erased() {
        let (exp, console, mut dump, base) = updated();
        let l = exp.layout;
        // copy_done back to unset: the primary trailer records a swap the next boot resumes.
        dump[(l.primary.end() - fut::trailer::COPY_DONE_FROM_END - base) as usize] = 0xff;
        let record = fut::trailer::status_addr(&l, l.primary, 2, 3);
        let stored = dump[(record - base) as usize];
        assert_eq!(stored, 3, "the record of region 2 step 3 is written");
        // Its weak bits cannot make it read erased (bit 0 is solid): it reads written every time.
        let v = judge_with(&exp, &console, &dump, base, &scanned(&[(record, 0x02)]));
        assert!(!v.reasons.iter().any(|r| r.contains("unstable")), "{:?}", v.reasons);
        dump[(record - base) as usize] = 0xfd;
        let v = judge_with(&exp, &console, &dump, base, &scanned(&[(record, 0x02)]));
        assert!(
            v.reasons.iter().any(|r| r.starts_with(&format!(
                "metadata left unstable: weak bit in primary status record region 2 step 3 at {record:#x}"
            ))),
            "{:?}",
            v.reasons
        );
    }

    #[test]
    fn status_records_of_an_unfinished_swap_without_scratch_are_relied_on() {
        use fut::scheme::swap_move::status::{addr_of, Algo, Step};
        for (mode, algo) in [
            (fut::Mode::SWAP_MOVE, Algo::Move),
            (fut::Mode::SWAP_OFFSET, Algo::Offset),
        ] {
            let mut s = Scenario::new(BoardProfile::builtin("nrf52840").unwrap(), 16);
            s.mode = mode;
            let (mut exp, _, _, _) = updated();
            exp.mode = mode;
            let (console, mut dump, base) = observe(&s);
            let l = exp.layout;
            let record = addr_of(algo, &l, l.primary, Step::Swap(2, 1));
            assert_eq!(
                dump[(record - base) as usize],
                1,
                "{mode}: the record of swap 2.1 is written"
            );
            let weak = scanned(&[(record, 0x02)]);
            // A finished swap's records are read no more: a weak bit there changes nothing.
            dump[(record - base) as usize] = 0xfd;
            let v = judge_with(&exp, &console, &dump, base, &weak);
            assert_eq!(v.status, Status::Pass, "{mode}: {:?}", v.reasons);
            // copy_done back to unset: the primary trailer records a swap the next boot resumes,
            // from the last record that reads written.
            dump[(l.primary.end() - fut::trailer::COPY_DONE_FROM_END - base) as usize] = 0xff;
            let v = judge_with(&exp, &console, &dump, base, &weak);
            assert!(
                v.reasons.iter().any(|r| r.starts_with(&format!(
                    "metadata left unstable: weak bit in primary status record swap 2.1 at {record:#x}"
                ))),
                "{mode}: {:?}",
                v.reasons
            );
            // A weak bit that cannot make the record read erased (bit 0 is solid) is no coin flip.
            dump[(record - base) as usize] = 1;
            let v = judge_with(&exp, &console, &dump, base, &weak);
            assert!(
                !v.reasons.iter().any(|r| r.contains("unstable")),
                "{mode}: {:?}",
                v.reasons
            );
            // Torn copy_done: the boot reads the records to decide whether the swap finished.
            dump[(record - base) as usize] = 0xfd;
            dump[(l.primary.end() - fut::trailer::COPY_DONE_FROM_END - base) as usize] = 0x5a;
            let v = judge_with(&exp, &console, &dump, base, &weak);
            assert!(
                v.reasons
                    .iter()
                    .any(|r| r.contains("weak bit in primary status record swap 2.1")),
                "{mode}: {:?}",
                v.reasons
            );
        }
    }

    #[test]
    fn the_reference_passes_with_its_metadata_scanned_and_a_target_that_cannot_scan_warns() {
        let (exp, console, dump, base) = updated();
        let v = judge_with(&exp, &console, &dump, base, &scanned(&[]));
        assert_eq!(v.status, Status::Pass, "{:?}", v.reasons);
        assert!(v.warnings.is_empty(), "{:?}", v.warnings);
        let v = judge_with(
            &exp,
            &console,
            &dump,
            base,
            &Stability::Unsupported("probe/x: no memory access".into()),
        );
        assert_eq!(v.status, Status::Pass, "{:?}", v.reasons);
        assert_eq!(
            v.warnings,
            ["metadata stability not checked: probe/x: no memory access"]
        );
    }

    #[test]
    fn an_install_at_the_plain_reset_after_settling_fails() {
        let (exp, console, dump, base) = updated();
        let h = hash_of(&console, "2.0.0+0");
        // An overwrite whose request stayed: the reset copies the same image again.
        let mut c = console.clone();
        let at = Some(c.len());
        for l in [
            "boot: start mode=overwrite variant=reference".to_string(),
            "boot: overwrite-start size=16560 sectors=5".to_string(),
            "boot: overwrite-done".to_string(),
            format!("boot: jump version=2.0.0+0 hash={h}"),
            "ota: idle reason=up-to-date version=2.0.0+0".to_string(),
        ] {
            c.push(line(&l));
        }
        let v = judge(&exp, false, &c, at, &dump, base);
        assert_eq!(
            v.reasons,
            ["installed again at a plain reset (no cut) after the device settled on 2.0.0+0: `boot: overwrite-done`; \
              the request was left behind"]
        );
        let (c, at) = with_reset(&console, "2.0.0+0", "ota: idle reason=up-to-date version=2.0.0+0");
        assert_eq!(judge(&exp, false, &c, at, &dump, base).status, Status::Pass);
    }

    #[test]
    fn a_confirmation_printed_without_its_record_fails() {
        let (exp, console, mut dump, base) = updated();
        let l = exp.layout;
        // image_ok torn (neither set nor erased) while the device printed its confirm line.
        dump[(l.primary.end() - fut::trailer::IMAGE_OK_FROM_END - base) as usize] = 0x5a;
        assert!(console.iter().any(|l| exp.markers.commit.is_match(&l.text)));
        let (c, at) = with_reset(&console, "2.0.0+0", "ota: idle reason=up-to-date version=2.0.0+0");
        let v = judge(&exp, false, &c, at, &dump, base);
        assert_eq!(
            v.reasons,
            [
                "committed without a record: the device printed its confirmation of 2.0.0+0, but the primary trailer \
              reads image_ok bad once it settled"
            ]
        );
        // Without the confirm line it stays a warning after the reset.
        let quiet = unconfirmed_console(&exp, &console);
        let (c, at) = with_reset(&quiet, "2.0.0+0", "ota: idle reason=up-to-date version=2.0.0+0");
        let v = judge(&exp, false, &c, at, &dump, base);
        assert!(
            !v.reasons.iter().any(|r| r.starts_with("committed without")),
            "{:?}",
            v.reasons
        );
        assert!(
            v.warnings.iter().any(|w| w.starts_with("unconfirmed")),
            "{:?}",
            v.warnings
        );
    }

    /// An esp-idf update run without a cut on the simulated board, with each slot's image
    /// replaced by an esptool-made ESP app image of the same version (`fixtures/esp/`), and the
    /// console's jump lines naming those images' hashes: what a stock ESP-IDF target leaves.
    fn esp_updated() -> (Expectations, Vec<LogLine>, Vec<u8>, u32) {
        let mut s = Scenario::new(BoardProfile::builtin("nrf52840").unwrap(), 16);
        s.mode = fut::scheme::Registry::builtin().find("esp-idf").unwrap();
        let l = s.profile.layout;
        let exp = expect_update(&s);
        let (console, mut dump, base) = observe(&s);
        let esp = |v: &str| {
            let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../../fixtures/esp/app-{v}.bin"));
            std::fs::read(p).unwrap()
        };
        let (one, two) = (esp("1.0.0"), esp("2.0.0"));
        for (slot, img) in [(l.primary, &one), (l.secondary, &two)] {
            let at = (slot.offset - base) as usize;
            dump[at..at + 64 * 1024].fill(0xff);
            dump[at..at + img.len()].copy_from_slice(img);
        }
        let hash = |img: &[u8]| {
            let r = cutpoint_inspect::decode_image(img, None);
            r.short_hash().unwrap().to_string()
        };
        let (h1, h2) = (hash(&one), hash(&two));
        let console = console
            .into_iter()
            .map(|mut l| {
                if let Some(v) = l.text.strip_prefix("boot: jump version=") {
                    let h = if v.starts_with("1.0.0") { &h1 } else { &h2 };
                    let v = v.split(' ').next().unwrap_or("");
                    l.text = format!("boot: jump version={v} hash={h}");
                }
                l
            })
            .collect();
        (exp, console, dump, base)
    }

    #[test]
    fn slots_holding_esp_app_images_are_judged_by_that_format() {
        let (exp, console, dump, base) = esp_updated();
        let v = judge(&exp, false, &console, None, &dump, base);
        assert_eq!(v.status, Status::Pass, "{:?}", v.reasons);
        assert_eq!(v.slots[1].version.as_deref(), Some("2.0.0+0"));
        assert_eq!(v.slots[1].validity, cutpoint_report::SlotValidity::Valid);
        let secondary = exp.layout.secondary.offset - base;

        // A flipped byte in the running image: the device booted an image its bootloader
        // must have refused.
        let mut flipped = dump.clone();
        flipped[(secondary + 0x300) as usize] ^= 1;
        let v = judge(&exp, false, &console, None, &flipped, base);
        assert_eq!(v.status, Status::Fail);
        assert!(
            v.reasons
                .iter()
                .any(|r| r == "the secondary slot image is hash-mismatch but the device booted it"),
            "{:?}",
            v.reasons
        );

        // The running image cut short (its tail erased).
        let mut cut = dump.clone();
        cut[(secondary + 0x1000) as usize..(secondary + 0x1_0000) as usize].fill(0xff);
        let v = judge(&exp, false, &console, None, &cut, base);
        assert_eq!(v.status, Status::Fail);
        assert!(
            v.reasons.iter().any(|r| r.starts_with("the secondary slot image is ")),
            "{:?}",
            v.reasons
        );

        // Another valid image than the one the device announced.
        let mut other = dump.clone();
        let primary = (exp.layout.primary.offset - base) as usize;
        let one = other[primary..primary + 0x1_0000].to_vec();
        other[secondary as usize..secondary as usize + 0x1_0000].copy_from_slice(&one);
        let v = judge(&exp, false, &console, None, &other, base);
        assert_eq!(v.status, Status::Fail);
        assert!(
            v.reasons
                .iter()
                .any(|r| r.starts_with("metadata contradicts the running image: the device announced 2.0.0+0")),
            "{:?}",
            v.reasons
        );
    }

    #[test]
    fn a_cut_whose_run_wrote_outside_the_schemes_areas_fails_and_names_where() {
        let (mut exp, console, dump, base) = updated();
        let s = Scenario::new(BoardProfile::builtin("nrf52840").unwrap(), 16);
        exp.outside = s.profile.outside(exp.mode);
        let report = decode(&exp, &dump, base);
        let judge_with =
            |outside: &Outside| judge_decoded(&exp, false, &console, None, &report, &Stability::NotChecked, outside);
        // Nothing changed there: the update passes.
        let clean = judge_with(&Outside::Scanned(Vec::new()));
        assert_eq!(clean.status, Status::Pass, "{:?}", clean.reasons);
        // The bootloader's last sector was erased: the device still boots and settles on 2.0.0,
        // but what it keeps there is gone.
        let g = crate::target::Guarded {
            region: "bootloader".into(),
            range: 0..0x10000,
        };
        let before: Vec<u8> = (0..0x10000u32).map(cutpoint_sim::scenario::outside_fill).collect();
        let mut after = before.clone();
        after[0xf000..].fill(0xff);
        let change = OutsideChange::between(&g, &before, &after).unwrap();
        assert_eq!(change.addr, 0xf000);
        let v = judge_with(&Outside::Scanned(vec![change.clone()]));
        assert_eq!(v.status, Status::Fail);
        assert_eq!(v.reasons.len(), 1, "{:?}", v.reasons);
        assert!(
            v.reasons[0].starts_with(
                "the update wrote outside its areas: bootloader (0x0..0x10000, not written by swap-scratch) reads \
                 ff ff ff ff ff ff ff ff at 0xf000, "
            ),
            "{:?}",
            v.reasons
        );
        assert_eq!(v.first_boot.as_deref(), Some("1.0.0+0"));
        // A target that cannot read it says so: a warning, never a pass of the check.
        let v = judge_with(&Outside::Unsupported("the probe reads only the slots".into()));
        assert_eq!(v.status, Status::Pass);
        assert!(
            v.warnings.iter().any(|w| w
                == "not checked: the flash outside the update's areas (bootloader): the probe reads only the slots"),
            "{:?}",
            v.warnings
        );
    }
}
