//! `cutpoint run --message-format json`: one JSON object per line on stdout for each thing the
//! run reports, so a script or CI step reads events instead of scraping text. Every object has
//! a `type`: `control`, `planned`, `cut`, then one `end` with the exit code.

use serde_json::{json, Value};

use cutpoint_report::{ControlRun, CutResult, Status};

pub fn control(c: &ControlRun) -> Value {
    json!({
        "type": "control",
        "status": c.status.name(),
        "reasons": c.reasons,
        "phases": c.phases.iter().map(|p| json!({"name": p.name, "start_us": p.start_us, "end_us": p.end_us})).collect::<Vec<_>>(),
        "console_lines": c.console.len(),
    })
}

pub fn planned(total: usize, already_done: usize, skipped: usize) -> Value {
    json!({"type": "planned", "total": total, "already_done": already_done, "skipped_offsets": skipped})
}

/// `expected`: the campaign is a negative control, so a failure is the expected outcome.
pub fn cut(c: &CutResult, expected_failure: bool) -> Value {
    json!({
        "type": "cut",
        "id": c.id,
        "phase": c.phase,
        "offset": c.offset,
        "repetition": c.repetition,
        "status": c.status.name(),
        "expected": c.status == Status::Fail && expected_failure,
        "reasons": c.reasons,
        "warnings": c.warnings,
        "first_boot": c.first_boot,
        "final_image": c.final_image,
        "seed": c.seed,
        "wall_ms": c.wall_ms,
    })
}

/// The last line: how the run ended and the exit code the command returns.
pub struct End<'a> {
    pub outcome: &'a str,
    pub exit_code: i32,
    pub planned: usize,
    pub passed: usize,
    pub failed: usize,
    pub errors: usize,
    pub report_dir: &'a str,
}

pub fn end(e: &End) -> Value {
    json!({
        "type": "end",
        "outcome": e.outcome,
        "exit_code": e.exit_code,
        "planned": e.planned,
        "run": e.passed + e.failed + e.errors,
        "passed": e.passed,
        "failed": e.failed,
        "rig_errors": e.errors,
        "report_dir": e.report_dir,
    })
}
