//! A resume reads the journal it continues one record at a time and keeps a status per cut
//! point, not the records: resuming a journal of 400 results with 40 KiB of console each
//! (16 MiB of records) allocates a small fraction of that at any one time. Holding the
//! records, as a resume once did, takes more than the whole file.
//!
//! This test binary counts the bytes its allocator hands out and holds (one test, so no other
//! test allocates meanwhile).

mod fixture;

use std::alloc::{GlobalAlloc, Layout, System};
use std::fs;
use std::sync::atomic::{AtomicUsize, Ordering};

use cutpoint_report::{Expect, JournalHeader, JournalRecord, JournalWriter, LogLine, PlannedCut, Status, JOURNAL_FILE};

use fixture::{passing, planned};

struct Counting;

static HELD: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call goes to the system allocator unchanged; the counters only add up sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            let now = HELD.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        HELD.fetch_sub(layout.size(), Ordering::Relaxed);
        System.dealloc(ptr, layout);
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const CUTS: usize = 400;
const CONSOLE_LINES: usize = 400;

#[test]
fn a_resume_holds_a_status_per_cut_point_not_the_records() {
    let dir = tempfile::tempdir().unwrap();
    let ids: Vec<String> = (0..CUTS).map(|i| format!("swap/op-{i:04}-inside-0.50")).collect();
    let plan: Vec<PlannedCut> = ids.iter().zip(0..).map(|(id, i)| planned(id, i)).collect();
    let header = JournalHeader {
        format: 1,
        campaign: "resume-memory".into(),
        campaign_path: "campaigns/resume-memory.toml".into(),
        campaign_sha256: "ab".repeat(32),
        target: "sim".into(),
        seed: 1,
        partition: None,
        filter: None,
        planned: plan,
        started: "2026-01-01T00:00:00Z".into(),
        expect: Expect::Pass,
        inputs: Vec::new(),
        skipped: Vec::new(),
    };
    let mut text = serde_json::to_string(&JournalRecord::Header(header.clone())).unwrap();
    text.push('\n');
    // Every cut point but the last has a result; the first is recorded twice, a rig error first
    // (a later result never supersedes a device failure, only a rig error or a pass).
    for (i, id) in ids.iter().enumerate().take(CUTS - 1) {
        let mut cut = passing(id, i as u64 * 1000, "#1 erase 0x0+4096");
        cut.console = (0..CONSOLE_LINES)
            .map(|n| LogLine {
                t_us: n as u64,
                text: format!("boot: swap-progress type=test region={n} of=42 {}", "x".repeat(50)),
            })
            .collect();
        if i == 0 {
            let mut errored = cut.clone();
            errored.status = Status::Error;
            text.push_str(&serde_json::to_string(&JournalRecord::Cut(errored)).unwrap());
            text.push('\n');
        }
        text.push_str(&serde_json::to_string(&JournalRecord::Cut(cut)).unwrap());
        text.push('\n');
    }
    let file_len = text.len();
    fs::write(dir.path().join(JOURNAL_FILE), text).unwrap();

    let before = HELD.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let (writer, resumed) = JournalWriter::resume(dir.path(), &header).unwrap();
    let peak = PEAK.load(Ordering::Relaxed) - before;
    drop(writer);

    let remaining: Vec<&str> = resumed
        .remaining(&header.planned)
        .iter()
        .map(|p| p.id.as_str())
        .collect();
    assert_eq!(remaining, [ids[CUTS - 1].as_str()]);
    assert_eq!(resumed.finished(), CUTS - 1);
    assert!(
        resumed.statuses().all(|s| s == Status::Pass),
        "the later result of a cut point recorded twice counts"
    );
    assert!(file_len > 16 << 20, "the journal holds {file_len} bytes");
    assert!(
        peak < file_len / 8,
        "resuming a journal of {file_len} bytes held {peak} bytes at its peak"
    );
}
