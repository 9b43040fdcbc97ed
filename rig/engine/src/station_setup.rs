//! The station side of preparing a campaign, without the hardware stack: the station's flash
//! map and board profile, the images checked against it, and the expectations of the pass rule.
//! The `cutpoint` binary adds the backends (decoded into the hardware crate's types) and opens
//! them.

use std::sync::Arc;

use cutpoint_campaign::{
    self as campaign, Campaign, FaultKind, FlashMap, MapSource, StationFile, StationMap, TargetKind,
};
use cutpoint_sim::BoardProfile;

use crate::judge::Expectations;
use crate::setup::{campaign_key, check_images, expectations, load_image, SetupError};

fn input(c: &Campaign, message: impl Into<String>) -> SetupError {
    SetupError::Input {
        file: c.path.display().to_string(),
        message: message.into(),
    }
}

/// The board profile a flash map describes: the map, over the flash part of the built-in board
/// named `part` (its timings matter only to the simulated board).
pub fn profile_of(map: &FlashMap, name: &str, part: &str) -> BoardProfile {
    let profile = BoardProfile::builtin(part)
        .or_else(|| BoardProfile::builtin("nrf52840"))
        .unwrap_or_else(|| unreachable!("nrf52840 is a built-in board"));
    BoardProfile::with_layout(name, profile.flash, map.layout())
}

/// The flash map of a station's device (its region list: `[layout]`, else the built-in map of
/// the board it names, with the deprecated probe `slots` and probe-write addresses mapped onto
/// it). The error says what to add to or change in the station file.
pub fn station_map(station: &StationFile) -> Result<StationMap, String> {
    let file = station.path.display();
    station.flash_map().map_err(|e| e.to_string())?.ok_or_else(|| {
        format!(
            "{file}: the station names no board whose flash map cutpoint knows; in {file}, add \
             [target] board = \"{}\" (one of {}) or give the map as a [layout] table \
             (sector_size, write_size, [[layout.regions]] with name, offset, size)",
            BoardProfile::builtin_names()[0],
            BoardProfile::builtin_names().join(", ")
        )
    })
}

/// The board profile of a station's device: its flash map over the flash part of the board it
/// names (the nrf52840's when it names none).
pub fn station_board(station: &StationFile) -> Result<BoardProfile, String> {
    let map = station_map(station)?;
    Ok(board_of(station, &map))
}

fn board_of(station: &StationFile, map: &StationMap) -> BoardProfile {
    let part = map.board.unwrap_or("nrf52840");
    match &map.source {
        // The regions a deprecated field adds cannot change the built-in board's slots.
        MapSource::Builtin(b) if b == part => {
            BoardProfile::builtin(part).unwrap_or_else(|| profile_of(&map.map, part, part))
        }
        // A built-in board's map over the part `[target] flash` names, or the station's own.
        MapSource::Builtin(_) | MapSource::Layout => profile_of(&map.map, &map.describe(station), part),
    }
}

/// One line saying where a station's flash map comes from.
pub fn describe_station_map(station: &StationFile) -> String {
    match station.flash_map() {
        Ok(Some(m)) => match m.source {
            MapSource::Layout => "flash map: the station's [layout]".to_string(),
            MapSource::Builtin(b) => format!("flash map: built-in {b} (from the board or chip named)"),
        },
        Ok(None) | Err(_) => {
            "flash map: none; a campaign on this station needs [layout] or a [target] board".to_string()
        }
    }
}

/// A station campaign, prepared up to its backends.
pub struct StationSetup {
    /// The station's flash map, which the probe's reads and probe-write's writes are views of.
    pub map: StationMap,
    /// The device's board profile (its map over the flash part the station names).
    pub profile: BoardProfile,
    pub baseline: Arc<Vec<u8>>,
    pub update: Arc<Vec<u8>>,
    pub expect: Expectations,
    pub update_size: u64,
}

/// Reads what a station campaign needs besides its backends, without touching the hardware:
/// the station's flash map, the images, the key and the expectations of the pass rule.
pub fn station_setup(c: &Campaign) -> Result<StationSetup, SetupError> {
    let TargetKind::Station { station, .. } = &c.target.kind else {
        return Err(input(
            c,
            "target: this campaign runs on the simulated board, not on a station",
        ));
    };
    let station_file = station.path.display();
    if !station.has_role(campaign::Role::Probe) {
        return Err(input(
            c,
            format!(
                "target.station: {station_file} has no [probe]; a campaign needs one to restore the baseline and read the slots"
            ),
        ));
    }
    if c.run.fault != FaultKind::PowerCut {
        return Err(input(
            c,
            format!(
                "run.fault: a station cuts the supply; fault = \"{}\" needs the simulated board",
                c.run.fault
            ),
        ));
    }
    let map = station_map(station).map_err(|e| input(c, format!("target.station: {e}")))?;
    let profile = board_of(station, &map);
    let old = load_image(c, &c.images.baseline, "baseline", &profile.name, &profile.layout)?;
    let new = load_image(c, &c.images.update, "update", &profile.name, &profile.layout)?;
    let (key, key_name) = campaign_key(c)?;
    check_images(c, [("baseline", &old), ("update", &new)], &key, &key_name, false)?;
    let mut expect = expectations(c, &old, &new, profile.layout, key);
    expect.unreadable = map.map.unreadable();
    // The bench reads the guarded parts through the probe: those on a device beside the part
    // are out of its reach.
    expect.outside = crate::setup::guarded(c, &profile)?
        .into_iter()
        .filter(|(_, a)| {
            !expect
                .unreadable
                .iter()
                .any(|(u, _)| a.offset < u.end() && u.offset < a.end())
        })
        .collect();
    judged_slots_readable(c, &expect, station)?;
    restore_reaches(c, &expect, station)?;
    Ok(StationSetup {
        map,
        update_size: new.bytes.len() as u64,
        baseline: old.bytes,
        update: new.bytes,
        profile,
        expect,
    })
}

/// Before every cut point the bench restores the baseline through the probe: the baseline image
/// into the primary slot, the secondary slot and the scratch area erased. An area on a device
/// beside the part (`device = "..."` in the station's map) is out of the probe's reach, and an
/// area left out of the restore keeps what the last cut point left there (a partial download
/// the device resumes instead of starting afresh, a pending request or swap status the
/// bootloader acts on): the cut points would not start from the baseline, and a verdict on them
/// would not be the campaign's. So such a station is refused at `target.station`:
///
/// * always when it is the primary slot (nothing but the probe writes the baseline image), or
///   when probe-write delivers the update (it writes through the probe too);
/// * for the secondary slot and the scratch area, unless the station says the device erases
///   them itself before anything reads them (`restore_unreachable = "device-erases"`).
fn restore_reaches(c: &Campaign, exp: &Expectations, station: &StationFile) -> Result<(), SetupError> {
    let l = &exp.layout;
    let file = station.path.display();
    let device_of = |area: fut::layout::Area| {
        exp.unreadable
            .iter()
            .find(|(u, _)| area.size > 0 && area.offset < u.end() && u.offset < area.end())
            .map(|(_, d)| d.as_str())
    };
    let refuse = |message: String| {
        Err(SetupError::Located(campaign::locate_in_campaign(
            &c.path,
            &["target", "station"],
            message,
        )))
    };
    if let Some(device) = device_of(l.primary) {
        return refuse(format!(
            "restoring the baseline writes the baseline image into the primary slot before every cut point, but \
             {file} puts that slot on {device}, where the probe cannot write; give the station a map whose primary \
             slot is in the part's own flash"
        ));
    }
    if let Some(device) = device_of(l.secondary) {
        if station.role_kind(campaign::Role::Transport) == Some("probe-write") {
            return refuse(format!(
                "probe-write delivers the update through the probe into the secondary slot, but {file} puts that \
                 slot on {device}, where the probe cannot write; deliver the update another way ([transport] kind \
                 = \"smp\", \"http\" or \"command\"), or give the station a map whose secondary slot is in the \
                 part's own flash"
            ));
        }
    }
    if station.device_erases_unreachable {
        return Ok(());
    }
    for (name, area) in [("secondary slot", l.secondary), ("scratch area", l.scratch)] {
        if let Some(device) = device_of(area) {
            return refuse(format!(
                "restoring the baseline erases the {name} before every cut point, but {file} puts it on {device}, \
                 where the probe cannot erase it: it would keep what the last cut point left there (a partial \
                 download, a pending request, swap status), and the cut points would not start from the baseline; \
                 give the station a map whose {name} is in the part's own flash, or, if the device itself erases it \
                 before anything reads it, say so in {file} with restore_unreachable = \"{}\"",
                campaign::UNREACHABLE_DEVICE_ERASES
            ));
        }
    }
    Ok(())
}

/// A slot the pass rule's verdict reads (the scheme's decoder says which, for the campaign's
/// upgrade: [`cutpoint_inspect::scheme::MetadataDecoder::judged_slots`]) must be one the probe
/// can read: a slot on a device beside the part (`device = "..."` in the station's map) would
/// leave that check unmade at every cut, and a verdict without it is no pass. The error is at
/// `target.upgrade` when the other upgrade type does not need the slot, else at `target.mode`.
fn judged_slots_readable(c: &Campaign, exp: &Expectations, station: &StationFile) -> Result<(), SetupError> {
    use fut::scheme::Upgrade;
    let Some(d) = cutpoint_inspect::scheme::decoder(exp.mode.name()) else {
        return Ok(());
    };
    let l = &exp.layout;
    let area_of = |slot: &str| match slot {
        "primary" => Some(l.primary),
        "secondary" => Some(l.secondary),
        _ => None,
    };
    let other = match exp.upgrade {
        Upgrade::Test => Upgrade::Permanent,
        Upgrade::Permanent => Upgrade::Test,
    };
    for j in d.judged_slots(exp.upgrade) {
        let Some(area) = area_of(j.slot) else { continue };
        let Some((_, device)) = exp
            .unreadable
            .iter()
            .find(|(a, _)| a.offset <= area.offset && area.offset < a.end())
        else {
            continue;
        };
        let by_upgrade = !d.judged_slots(other).iter().any(|o| o.slot == j.slot);
        let (key, what_to_do) = if by_upgrade {
            (
                "upgrade",
                format!(
                    "run a {} upgrade, whose verdict does not read that slot, or give the station a map whose {} \
                     slot is in the part's own flash",
                    match other {
                        Upgrade::Test => "test",
                        Upgrade::Permanent => "perm",
                    },
                    j.slot
                ),
            )
        } else {
            (
                "mode",
                format!(
                    "use a mode that copies the update into the primary slot and runs it there (swap-scratch, \
                     swap-move, swap-offset, overwrite), or give the station a map whose {} slot is in the part's own flash",
                    j.slot
                ),
            )
        };
        return Err(SetupError::Located(campaign::locate_in_campaign(
            &c.path,
            &["target", key],
            format!(
                "the pass rule reads {} in the {} slot, which {} puts on {device}, where the probe cannot read it: \
                 no cut could be judged in full; {what_to_do}",
                j.check,
                j.slot,
                station.path.display()
            ),
        )));
    }
    Ok(())
}
