//! The metadata of the pending-flag log A/B scheme: both slots' images and the transaction log
//! in the first two sectors of the map's scratch region, decoded with the firmware's own
//! format code (`fut::scheme::pending_log`). The log says which sector is active, which
//! completed record sets the boot target (so which slot the bootloader picks and whether its
//! image is still on trial), and whether a transaction was left open by a cut.

use fut::layout::{Layout, Slot};
use fut::scheme::pending_log::{
    capacity, log_sector, read_header, read_log, read_record, record_addr, word_size, Record, Target, Word, MAX_WORD,
    TAG_DONE, TAG_PENDING, TAG_TARGET,
};
use fut::PublicKey;
use serde::{Deserialize, Serialize};

use super::{McubootTrailers, MetadataDecoder, ReadAs, ReliedOn, RollbackCopy, Unconfirmed};
use crate::decode::FlashReport;
use crate::slice_flash::SliceFlash;

/// One log sector's header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingLogSector {
    /// 0 or 1.
    pub sector: u8,
    /// Flash address of the sector (its header word).
    pub addr: u32,
    /// The header's generation when it reads valid.
    pub generation: Option<u8>,
    /// `valid`, `erased` or `invalid` (torn, part-programmed, unreadable or not this format).
    pub header: String,
}

/// One record of the active sector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingLogRecord {
    pub index: u32,
    pub addr: u32,
    /// Each word as read: `slot=secondary state=trial`, `done`, `erased` or `invalid`.
    pub pending: String,
    pub target: String,
    pub done: String,
    /// Pending cleared: the transaction completed.
    pub completed: bool,
}

/// The log as read from a dump.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingLogReport {
    pub sectors: Vec<PendingLogSector>,
    /// The sector whose valid header has the newer generation; `None`: an empty log.
    pub active: Option<u8>,
    /// Records used in the active sector, and how many it holds.
    pub used: u32,
    pub capacity: u32,
    /// The used records of the active sector, in order.
    pub records: Vec<PendingLogRecord>,
    /// The last completed record: its target is the boot target.
    pub last_completed: Option<u32>,
    /// The boot target's slot and state; `None` when the last completed record's target does
    /// not read valid (a pending flag cleared before its target was written).
    pub target_slot: Option<String>,
    pub target_state: Option<String>,
    /// A transaction a cut left open (after the last completed one): its record.
    pub open_transaction: Option<u32>,
    /// What the open transaction's pending word names, if it reads valid.
    pub open_target: Option<String>,
    /// The slot the bootloader starts from: the boot target's, or the primary for an empty log
    /// or a completed record with no target (before its trial rules and its fallback to a
    /// valid image).
    pub boot_slot: String,
    /// `empty`, `ok`, `open` (a transaction left open: the bootloader falls back to the last
    /// completed target) or `no-target`.
    pub condition: String,
}

fn word_text(w: Word, tag: u8) -> String {
    match w {
        Word::Erased => "erased".to_string(),
        Word::Invalid => "invalid".to_string(),
        Word::Valid { tag: t, value } if t == tag && tag == TAG_DONE => {
            if value == fut::scheme::pending_log::DONE_VALUE {
                "done".to_string()
            } else {
                format!("done? 0x{value:02x}")
            }
        }
        Word::Valid { tag: t, value } if t == tag => match Target::from_value(value) {
            Some(x) => format!("slot={} state={}", x.slot.name(), x.state_name()),
            None => format!("unknown 0x{value:02x}"),
        },
        Word::Valid { tag: t, value } => format!("wrong tag 0x{t:02x} value 0x{value:02x}"),
    }
}

fn record_report(layout: &Layout, sector: usize, index: u32, r: &Record) -> PendingLogRecord {
    PendingLogRecord {
        index,
        addr: record_addr(layout, sector, index),
        pending: word_text(r.pending, TAG_PENDING),
        target: word_text(r.target, TAG_TARGET),
        done: word_text(r.done, TAG_DONE),
        completed: r.done(),
    }
}

/// Decodes the log from `bytes`, the two log sectors of `layout` (from the start of its
/// scratch region). `None` when the bytes do not hold both sectors or the layout has no room
/// for the log.
pub fn decode_pending_log(bytes: &[u8], layout: &Layout) -> Option<PendingLogReport> {
    let ws = word_size(layout.write_size);
    if ws as usize > MAX_WORD
        || layout.sector_size <= ws
        || capacity(layout) == 0
        || (bytes.len() as u64) < 2 * u64::from(layout.sector_size)
    {
        return None;
    }
    let mut flash = SliceFlash::new(bytes, layout.scratch.offset);
    let log = read_log(&mut flash, layout).ok()?;
    let mut sectors = Vec::new();
    for i in 0..2 {
        let addr = log_sector(layout, i).offset;
        let header = match read_header(&mut flash, layout, i).ok()? {
            Some(_) => "valid",
            None => match flash.get(addr, ws as usize) {
                Some(b) if b.iter().all(|&x| x == 0xff) => "erased",
                _ => "invalid",
            },
        };
        sectors.push(PendingLogSector {
            sector: i as u8,
            addr,
            generation: log.headers[i],
            header: header.to_string(),
        });
    }
    let mut records = Vec::new();
    if let Some(i) = log.active {
        for n in 0..log.used {
            let r = read_record(&mut flash, layout, i, n).ok()?;
            records.push(record_report(layout, i, n, &r));
        }
    }
    let target = log.boot_target();
    let condition = if log.last_done.is_none() && log.open.is_none() {
        "empty"
    } else if target.is_none() {
        "no-target"
    } else if log.open.is_some() {
        "open"
    } else {
        "ok"
    };
    Some(PendingLogReport {
        sectors,
        active: log.active.map(|i| i as u8),
        used: log.used,
        capacity: capacity(layout),
        records,
        last_completed: log.last_done.map(|(n, _)| n),
        target_slot: target.map(|t| t.slot.name().to_string()),
        target_state: target.map(|t| t.state_name().to_string()),
        open_transaction: log.open.map(|(n, _)| n),
        open_target: log
            .open
            .and_then(|(_, t)| t)
            .map(|t| format!("slot={} state={}", t.slot.name(), t.state_name())),
        boot_slot: target.map_or(Slot::Primary, |t| t.slot).name().to_string(),
        condition: condition.to_string(),
    })
}

/// Both app slots and the transaction log.
#[derive(Debug, Clone, Copy, Default)]
pub struct PendingFlagLog;

fn on_trial(report: &FlashReport) -> Option<(&str, &str)> {
    let l = report.pending_log.as_ref()?;
    let state = l.target_state.as_deref()?;
    matches!(state, "trial" | "trial-booted").then_some((l.target_slot.as_deref()?, state))
}

impl MetadataDecoder for PendingFlagLog {
    fn check_layout(&self, layout: &Layout) -> Result<(), String> {
        super::mcuboot::check_layout(layout)?;
        if layout.scratch.size < 2 * layout.sector_size {
            return Err("the pending-flag log needs two sectors in the scratch region".into());
        }
        if word_size(layout.write_size) as usize > MAX_WORD || capacity(layout) < 2 {
            return Err(format!(
                "a write granule of {} bytes leaves no room for the log in a {}-byte sector",
                layout.write_size, layout.sector_size
            ));
        }
        Ok(())
    }

    fn decode(&self, flash: &mut SliceFlash<'_>, layout: &Layout, key: Option<&PublicKey>, report: &mut FlashReport) {
        McubootTrailers.decode(flash, layout, key, report);
        report.scratch = None;
        self.decode_pick(flash, layout, key, report);
    }

    fn decode_pick(
        &self,
        flash: &mut SliceFlash<'_>,
        layout: &Layout,
        _key: Option<&PublicKey>,
        report: &mut FlashReport,
    ) {
        let bytes = flash.get(layout.scratch.offset, (2 * layout.sector_size) as usize);
        report.pending_log = bytes.and_then(|b| decode_pending_log(b, layout));
    }

    /// The last completed record's target and state, as the bootloader reads them
    /// (`fut::scheme::pending_log`): an open transaction falls back to it.
    fn boot_pick(&self, report: &FlashReport) -> super::BootPick {
        let Some(l) = report.pending_log.as_ref() else {
            return super::BootPick::unread("pending log outside the dump or unreadable");
        };
        let mut record = match l.last_completed {
            Some(n) => format!(
                "pending log {}, record {n} completed: {}",
                l.condition,
                l.records
                    .iter()
                    .find(|r| r.index == n)
                    .map_or("target unread", |r| r.target.as_str())
            ),
            None => format!("pending log {}", l.condition),
        };
        if let Some(n) = l.open_transaction {
            record.push_str(&format!(
                "; record {n} left open ({}): falls back",
                l.open_target.as_deref().unwrap_or("torn")
            ));
        }
        super::ab_pick(l.target_slot.as_deref(), l.target_state.as_deref(), record, Vec::new())
    }

    /// With an empty log the bootloader boots the primary slot.
    fn running_slot(&self) -> &'static str {
        "primary"
    }

    fn booted_slot(&self, report: &FlashReport) -> Option<&'static str> {
        Some(if report.pending_log.as_ref()?.boot_slot == "secondary" {
            "secondary"
        } else {
            "primary"
        })
    }

    /// The boot target still on trial: the next boot reverts it unless the image clears it.
    fn unconfirmed(&self, report: &FlashReport) -> Option<Unconfirmed> {
        let (_, state) = on_trial(report)?;
        let n = report.pending_log.as_ref()?.last_completed?;
        Some(Unconfirmed {
            record: format!("pending-log record {n}"),
            state: format!("state {state}"),
        })
    }

    /// While the boot target is on trial, the other slot holds the image a revert boots.
    fn rollback_copy(&self, report: &FlashReport) -> Option<RollbackCopy> {
        let (trial, _) = on_trial(report)?;
        let back = if trial == "primary" { "secondary" } else { "primary" };
        Some(RollbackCopy {
            slot: back,
            why: format!(
                "the pending log selects the {trial} slot on trial: a boot that finds it not cleared reverts to the other slot"
            ),
        })
    }

    /// A completed record with no readable target (never left by the reference); an open
    /// transaction is what a cut leaves, and the next one is appended after it: not a leftover.
    fn leftovers(&self, report: &FlashReport) -> Vec<String> {
        match &report.pending_log {
            Some(l) if l.condition == "no-target" => vec![format!(
                "pending-log record {} completed (pending cleared) with no valid boot target: the bootloader boots the primary slot",
                l.last_completed.unwrap_or(0)
            )],
            _ => Vec::new(),
        }
    }

    /// Both log sectors, whole: headers and records.
    fn metadata_areas(&self, layout: &Layout) -> Vec<std::ops::Range<u32>> {
        (0..2)
            .map(|i| {
                let a = log_sector(layout, i);
                a.offset..a.end()
            })
            .collect()
    }

    /// Both headers (they pick the active sector), then in the active sector the last completed
    /// record's target and done words (the boot target) and the done word of every record after
    /// it (a done word that reads valid one time and not the next moves the boot target).
    fn relied_on(&self, report: &FlashReport, layout: &Layout) -> Vec<ReliedOn> {
        let ws = word_size(layout.write_size);
        let mut out: Vec<ReliedOn> = (0..2)
            .map(|i| {
                let a = log_sector(layout, i).offset;
                ReliedOn {
                    what: format!("pending-log sector {i} header"),
                    range: a..a + ws,
                    read_as: ReadAs::Value,
                }
            })
            .collect();
        let Some(l) = &report.pending_log else {
            return out;
        };
        let Some(active) = l.active else {
            return out;
        };
        let from = l.last_completed.unwrap_or(0);
        for r in l.records.iter().filter(|r| r.index >= from) {
            let at = record_addr(layout, active as usize, r.index);
            if Some(r.index) == l.last_completed {
                out.push(ReliedOn {
                    what: format!("pending-log record {} target", r.index),
                    range: at + ws..at + 2 * ws,
                    read_as: ReadAs::Value,
                });
            }
            out.push(ReliedOn {
                what: format!("pending-log record {} done", r.index),
                range: at + 2 * ws..at + 3 * ws,
                read_as: ReadAs::Value,
            });
        }
        out
    }
}
