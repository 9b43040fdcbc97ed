//! cutpoint's simulated board: a NOR-flash model with power-loss physics, board profiles,
//! an image builder with test-only keys, and a board that runs the firmware under test.

pub mod board;
pub mod board_profile;
pub mod flash;
pub mod imgtool;
mod journal_terms;
pub mod profile;
pub mod replay;
pub mod scenario;

pub use board::{CutAt, CutPlan, FaultKind, Firmware, OpPoint, RunEnd, RunLog, RunOptions, SimBoard, Update};
pub use board_profile::BoardProfile;
pub use flash::{AnomalySummary, CutOutcome, FlashOp, InFlight, NorError, NorFlash, OpKind, TornReport};
pub use profile::{FlashProfile, ProfileError};
