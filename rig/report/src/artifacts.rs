//! Per-cut artifact directories: `cuts/<name>/console.log`, `cuts/<name>/state.json`, and the
//! flash dumps the engine adds for failing cuts. By default only failing cut points and rig errors
//! get one ([`Artifacts`]); everything in them is also in the journal, which is all a replay
//! reads.

use std::fs;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::fsio::{self, PathError};
use crate::index::{ResultIndex, State};
use crate::journal::Journal;
use crate::model::{BootedSlot, CutResult, Landing, SlotState, Status};
use crate::rebuild::ReportError;
use crate::text::console_text;
use crate::view::describe_landing;

/// Folder of the per-cut directories inside a report directory.
pub const CUTS_DIR: &str = "cuts";

/// Longest directory name before the name is shortened and suffixed with a hash.
const MAX_NAME: usize = 120;
const KEPT_PREFIX: usize = 100;

/// A file name for a cut point id (or a dump name): stable across runs and platforms, and distinct
/// for distinct ids even on case-insensitive file systems.
///
/// Lowercase ASCII letters, digits and `-` are kept, as is `.` except first or last; every other byte
/// becomes `_` and two lowercase hex digits (`swap/sector-12+0.50` gives `swap_2fsector-12_2b0.50`),
/// so the name decodes back to the id. Windows device names (`con`, `nul`, `com1`...) get their first
/// letter escaped. A name longer than 120 characters is cut to 100 and ends with `~` and a hash of the
/// whole id (`~` appears nowhere else).
pub fn artifact_name(id: &str) -> String {
    let bytes = id.as_bytes();
    let mut out = String::with_capacity(id.len() + 8);
    let device = is_device_name(id);
    for (i, &b) in bytes.iter().enumerate() {
        let keep = match b {
            b'a'..=b'z' => !(i == 0 && device),
            b'0'..=b'9' | b'-' => true,
            b'.' => i != 0 && i + 1 != bytes.len(),
            _ => false,
        };
        if keep {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("_{b:02x}"));
        }
    }
    if out.is_empty() {
        return "_".to_owned();
    }
    if out.len() > MAX_NAME {
        out.truncate(KEPT_PREFIX);
        out.push_str(&format!("~{:016x}", fnv1a64(bytes)));
    }
    out
}

/// Names Windows reserves whatever the extension (`nul.txt` too).
fn is_device_name(id: &str) -> bool {
    let stem = id.split('.').next().unwrap_or("").to_ascii_lowercase();
    matches!(stem.as_str(), "con" | "prn" | "aux" | "nul")
        || ((stem.starts_with("com") || stem.starts_with("lpt"))
            && stem.len() == 4
            && stem.as_bytes()[3].is_ascii_digit())
}

/// FNV-1a, 64 bits: small, and fixed forever (unlike the standard library's hasher).
fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// `<out_dir>/cuts/<artifact_name(id)>`.
pub fn cut_dir(out_dir: &Path, id: &str) -> PathBuf {
    out_dir.join(CUTS_DIR).join(artifact_name(id))
}

/// What `state.json` holds: everything about the cut except its console.
#[derive(Serialize)]
struct CutState<'a> {
    id: &'a str,
    phase: &'a str,
    offset: &'a str,
    repetition: u32,
    status: Status,
    reasons: &'a [String],
    warnings: &'a [String],
    seed: u64,
    landing: Option<&'a Landing>,
    landing_text: Option<String>,
    #[serde(skip_serializing_if = "<[Landing]>::is_empty")]
    later_landings: &'a [Landing],
    first_boot: Option<&'a str>,
    final_image: Option<&'a str>,
    committed: bool,
    /// The slot the bootloader picks and what the scheme's record says.
    #[serde(skip_serializing_if = "Option::is_none")]
    booted_slot: Option<&'a BootedSlot>,
    slots: &'a [SlotState],
    wall_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    same_state_as: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    post_cut_state: Option<&'a str>,
}

/// Writes `console.log` and `state.json` of one cut; returns its directory. These files can be rebuilt
/// from the journal at any time, so they are written plainly (not synced one by one).
pub fn write_cut_artifacts(out_dir: &Path, cut: &CutResult) -> Result<PathBuf, PathError> {
    let dir = cut_dir(out_dir, &cut.id);
    fsio::create_dir_all(&dir)?;
    let console = dir.join("console.log");
    fs::write(&console, console_text(&cut.console)).map_err(|e| PathError::new(&console, e))?;
    let path = dir.join("state.json");
    let json = cut_state_json(cut).map_err(|e| PathError::new(&path, e))?;
    fs::write(&path, json).map_err(|e| PathError::new(&path, e))?;
    Ok(dir)
}

/// The bytes of a cut's `state.json`: everything about the cut but its console, the decoded
/// slots and where the cut landed among them (pretty JSON, ending with a newline).
pub fn cut_state_json(cut: &CutResult) -> std::io::Result<Vec<u8>> {
    let state = CutState {
        id: &cut.id,
        phase: &cut.phase,
        offset: &cut.offset,
        repetition: cut.repetition,
        status: cut.status,
        reasons: &cut.reasons,
        warnings: &cut.warnings,
        seed: cut.seed,
        landing: cut.landing.as_ref(),
        landing_text: cut.landing.as_ref().map(describe_landing),
        later_landings: &cut.later_landings,
        first_boot: cut.first_boot.as_deref(),
        final_image: cut.final_image.as_deref(),
        committed: cut.committed,
        booted_slot: cut.booted_slot.as_ref(),
        slots: &cut.slots,
        wall_ms: cut.wall_ms,
        same_state_as: cut.same_state_as.as_deref(),
        post_cut_state: cut.post_cut_state.as_deref(),
    };
    let mut json =
        serde_json::to_vec_pretty(&state).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
    json.push(b'\n');
    Ok(json)
}

/// Writes the artifacts of every cut that has a result; returns how many.
pub fn write_all_artifacts(out_dir: &Path, journal: &Journal) -> Result<usize, PathError> {
    for cut in &journal.cuts {
        write_cut_artifacts(out_dir, cut)?;
    }
    Ok(journal.cuts.len())
}

/// Which cut points get an artifact directory.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Artifacts {
    /// Failing cut points and rig errors: the ones someone looks into (a campaign of a million
    /// passing cut points writes no million directories).
    #[default]
    Failing,
    /// Every cut point that ran.
    All,
}

impl Artifacts {
    /// Whether a cut point that ended this way gets a directory.
    pub fn wants(self, state: State) -> bool {
        match self {
            Artifacts::All => state.status().is_some(),
            Artifacts::Failing => matches!(state.status(), Some(Status::Fail | Status::Error)),
        }
    }

    pub const fn name(self) -> &'static str {
        match self {
            Artifacts::Failing => "failing",
            Artifacts::All => "all",
        }
    }
}

/// Writes the artifacts of the cut points of `index` that `which` wants, reading each result back
/// in turn; returns how many directories.
pub(crate) fn write_index_artifacts(
    out_dir: &Path,
    index: &ResultIndex<'_>,
    which: Artifacts,
) -> Result<usize, ReportError> {
    let mut written = 0;
    for row in index.rows() {
        if !which.wants(index.state(row)) {
            continue;
        }
        if let Some(cut) = index.load(row)? {
            write_cut_artifacts(out_dir, &cut)?;
            written += 1;
        }
    }
    Ok(written)
}

/// Adds a binary dump (e.g. the flash after a failing cut) as `cuts/<id>/<name>`. The dump is not in
/// the journal, so it is written atomically and synced. `name` is made safe like an id.
pub fn write_dump(out_dir: &Path, id: &str, name: &str, bytes: &[u8]) -> Result<PathBuf, PathError> {
    let dir = cut_dir(out_dir, id);
    fsio::create_dir_all(&dir)?;
    let path = dir.join(artifact_name(name));
    fsio::write_atomic(&path, bytes)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::LogLine;
    use crate::testutil::cut;
    use std::collections::HashSet;

    #[test]
    fn names_are_readable_safe_and_stable() {
        assert_eq!(artifact_name("swap/sector-12+0.50"), "swap_2fsector-12_2b0.50");
        assert_eq!(artifact_name("download/byte-81920"), "download_2fbyte-81920");
        assert_eq!(artifact_name("a b>c"), "a_20b_3ec");
        assert_eq!(artifact_name(""), "_");
        assert_eq!(artifact_name("."), "_2e");
        assert_eq!(artifact_name(".."), "_2e_2e");
        assert_eq!(artifact_name("x."), "x_2e");
        assert_eq!(artifact_name("nul"), "_6eul");
        assert_eq!(artifact_name("COM1.bin"), "_43_4f_4d1.bin");
        assert_eq!(artifact_name("flash.bin"), "flash.bin");
    }

    #[test]
    fn names_are_distinct_for_distinct_ids() {
        let ids = [
            "swap/a", "swap_a", "swap_2fa", "Swap/a", "swap/A", "swap a", "swap+a", "swap>a", "swap\\a", "a.", "a",
            "_", "", "é", "e\u{301}", "con", "_63on", "nul.txt",
        ];
        let long_a = "x".repeat(300);
        let long_b = format!("{}y", "x".repeat(299));
        let mut names = HashSet::new();
        for id in ids.iter().copied().chain([long_a.as_str(), long_b.as_str()]) {
            let name = artifact_name(id);
            assert!(name.len() <= MAX_NAME, "{name}");
            assert!(
                name.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-._~".contains(&b)),
                "{name}"
            );
            assert!(!name.starts_with('.') && !name.ends_with('.'), "{name}");
            assert!(names.insert(name.clone()), "{id:?} collides as {name}");
        }
    }

    #[test]
    fn writes_console_state_and_dumps() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = cut("swap/sector-1+0.50", Status::Fail);
        c.console = vec![
            LogLine {
                t_us: 5,
                text: "boot".into(),
            },
            LogLine {
                t_us: 900,
                text: "<panic>".into(),
            },
        ];
        let at = write_cut_artifacts(dir.path(), &c).unwrap();
        assert_eq!(at, dir.path().join("cuts").join("swap_2fsector-1_2b0.50"));
        assert_eq!(
            fs::read_to_string(at.join("console.log")).unwrap(),
            "[5] boot\n[900] <panic>\n"
        );
        let state: serde_json::Value = serde_json::from_slice(&fs::read(at.join("state.json")).unwrap()).unwrap();
        assert_eq!(state["status"], "fail");
        assert_eq!(state["reasons"][0], "bricked");
        assert_eq!(state["slots"][0]["slot"], "primary");
        assert!(state.get("console").is_none());

        let dump = write_dump(dir.path(), &c.id, "flash after.bin", &[0xff, 0x00]).unwrap();
        assert_eq!(dump, at.join("flash_20after.bin"));
        assert_eq!(fs::read(dump).unwrap(), [0xff, 0x00]);
    }
}
