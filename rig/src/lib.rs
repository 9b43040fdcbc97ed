//! cutpoint: power-fault injection for firmware-update pipelines.
//!
//! The engine ([`engine`]) runs a campaign against a [`target::Target`]: the simulated board
//! ([`sim_target`]) or a lab bench ([`bench_target`]). The pass rule lives in [`judge`].

pub mod bench_plan;
pub mod bench_target;
pub mod check;
pub mod cut_filter;
pub mod engine;
pub mod events_json;
pub mod exit;
pub mod flash_map;
pub mod judge;
pub mod key_file;
pub mod run_lock;
pub mod setup;
pub mod sim_target;
pub mod sink;
pub mod state_cache;
pub mod target;
