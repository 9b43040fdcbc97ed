//! cutpoint's light core: what the engine, the simulated board, the hardware backends and the
//! lab daemon share, with no hardware stack behind it (no tokio, axum, probe-rs, hidapi or
//! rppal).
//!
//! - [`traits`]: the rig's error type ([`RigError`]) and the traits the engine drives: a power
//!   switch, a console, a debug probe and an OTA transport.
//! - [`counter`]: the delivered-bytes counter a transport updates and the cut trigger watches.
//! - [`clock`]: the bench's monotonic clock.
//! - [`cut`] and [`phase`]: the words of a cut (fault kind, point in a flash operation) and a
//!   phase span, shared by campaign files, the simulated board, the engine and the journal.
//! - [`cut_id`]: cut-point ids ([`CutId`]), built and read in one place.
//! - [`journal`]: the closed vocabularies of the journal (the fault recorded, where a cut landed
//!   on its flash operation, slot validity, how a run ended) as enums that write today's strings.

pub mod clock;
pub mod counter;
pub mod cut;
pub mod cut_id;
pub mod journal;
pub mod phase;
pub mod traits;

pub use clock::BenchClock;
pub use counter::DeliveryCounter;
pub use cut::{fraction_text, CutAt, FaultKind, OpPoint};
pub use cut_id::{Cut, CutId, CutIdError, CutIdRef};
pub use phase::PhaseSpan;
pub use traits::*;
