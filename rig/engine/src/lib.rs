//! cutpoint's engine: runs a campaign against a [`target::Target`] (the simulated board,
//! [`sim_target`], or a lab bench behind the same trait), judges every cut point with the pass
//! rule ([`judge`]) and journals the results. It builds without the hardware stack: the bench
//! backends stay with the `cutpoint` binary.

pub mod bench_plan;
pub mod cut_filter;
pub mod engine;
pub mod events_json;
pub mod exit;
pub mod failures;
pub mod judge;
pub mod key_file;
mod line_marks;
pub mod prepare;
pub mod replay;
pub mod rest_points;
pub mod run_dir;
pub mod run_lock;
pub mod setup;
pub mod sim_target;
pub mod sink;
pub mod stages;
pub mod state_cache;
pub mod station_setup;
pub mod target;
pub mod verdict;
