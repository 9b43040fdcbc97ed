//! Any bytes as a flash dump decoded with swap-move's and swap-offset's metadata (trailers and
//! the move/swap status records); how the bytes make a dump and what is checked:
//! `dump_input.rs`.
#![no_main]

mod dump_input;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| dump_input::with_dump(data, dump_input::check_swap_move));
