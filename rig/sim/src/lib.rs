//! cutpoint's simulated board: a NOR-flash model with power-loss physics, board profiles,
//! an image builder with test-only keys, and a board that runs the firmware under test.

pub mod board;
pub mod board_name;
pub mod board_profile;
pub mod datasheet;
pub mod flash;
pub mod imgtool;
pub mod profile;
pub mod replay;
pub mod scenario;

pub use board::{
    CutAt, CutPlan, Delivery, Firmware, Joiner, NoJoin, RestPoint, RunEnd, RunLog, RunOptions, SimBoard, Update,
};
pub use board_name::Board;
pub use board_profile::BoardProfile;
pub use cutpoint_core::{ConsoleLine, FaultKind, OpPoint};
pub use flash::{AnomalySummary, FlashOp, InFlight, NorError, NorFlash, OpKind, TornOutcome, TornReport};
pub use profile::{FlashProfile, ProfileError};
