//! The engine's errors keep what caused them: a sink's own error is the run's error's source,
//! and a journal the run must not write to is bad input that still names the journal's error.

use std::error::Error as _;
use std::path::Path;
use std::sync::atomic::AtomicBool;

use cutpoint_engine::engine::{self, EngineError, RunSpec};
use cutpoint_engine::exit::{BAD_INPUT, RIG_ERROR};
use cutpoint_engine::setup::sim_setup;
use cutpoint_engine::sink::{RunEvent, Sink, SinkError};
use cutpoint_report::journal::JournalError;

fn smoke() -> cutpoint_campaign::Campaign {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../campaigns/smoke.toml");
    cutpoint_campaign::load_campaign(&path).expect("the smoke campaign loads")
}

#[derive(Debug, thiserror::Error)]
#[error("the event store is full")]
struct StoreFull;

/// A sink whose store refuses every event.
struct FullStore;

impl Sink for FullStore {
    fn event(&mut self, _: &RunEvent) -> Result<(), SinkError> {
        Err(Box::new(StoreFull))
    }
}

#[test]
fn a_sinks_error_stops_the_run_as_its_source() {
    let c = smoke();
    let setup = sim_setup(&c, 1).expect("setup");
    let out = tempfile::tempdir().unwrap();
    let spec = RunSpec::whole(&c, out.path().join("report"), setup.expect.clone(), setup.update_size);
    let Err(e) = engine::run(&setup.target, &spec, &mut FullStore, &AtomicBool::new(false)) else {
        panic!("a run whose sink refuses its events must stop");
    };
    assert!(matches!(e, EngineError::Sink(_)), "{e:?}");
    assert_eq!(e.to_string(), "the event store is full");
    assert!(
        e.source().is_some_and(|s| s.downcast_ref::<StoreFull>().is_some()),
        "the sink's error is the source: {e:?}"
    );
    assert_eq!(e.exit_code(), RIG_ERROR);
}

#[test]
fn a_journal_already_there_is_bad_input_that_keeps_the_journal_error() {
    let c = smoke();
    let setup = sim_setup(&c, 1).expect("setup");
    let out = tempfile::tempdir().unwrap();
    let report = out.path().join("report");
    std::fs::create_dir_all(&report).unwrap();
    // A journal with records in it (what a finished or killed run leaves).
    std::fs::write(report.join(cutpoint_report::journal::JOURNAL_FILE), "{}\n{}\n").unwrap();
    let spec = RunSpec::whole(&c, report, setup.expect.clone(), setup.update_size);
    let Err(e) = engine::run(
        &setup.target,
        &spec,
        &mut cutpoint_engine::sink::ignore(),
        &AtomicBool::new(false),
    ) else {
        panic!("a fresh run must not write over a journal");
    };
    let EngineError::JournalRefused(JournalError::Exists { path }) = &e else {
        panic!("expected the journal's own error, got {e:?}");
    };
    assert!(
        path.ends_with(cutpoint_report::journal::JOURNAL_FILE),
        "{}",
        path.display()
    );
    assert!(e.to_string().contains("a journal is already there"), "{e}");
    assert_eq!(e.exit_code(), BAD_INPUT);
}
