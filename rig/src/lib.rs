//! cutpoint: power-fault injection for firmware-update pipelines.
//!
//! The engine ([`engine`], in the `cutpoint-engine` crate) runs a campaign against a
//! [`target::Target`]: the simulated board ([`sim_target`]) or a lab bench ([`bench_target`]).
//! The pass rule lives in [`judge`]. This crate adds what needs the hardware stack: the bench
//! target, station files and their flash maps, and the command line.

pub use cutpoint_engine::{
    bench_plan, cut_filter, engine, events_json, exit, failures, judge, key_file, prepare, replay, run_dir, run_lock,
    setup, sim_target, sink, stages, state_cache, target, verdict,
};

pub mod alloc_tuning;
pub mod bench_setup;
pub mod bench_target;
pub mod check;
pub mod flash_map;
pub mod prepared;
pub mod station_lock;
