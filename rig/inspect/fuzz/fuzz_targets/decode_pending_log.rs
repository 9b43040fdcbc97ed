//! Any bytes as a flash dump decoded as the pending-log scheme keeps it (both slots' images and
//! the two log sectors): the decoder must not panic, must say the same twice, and names the
//! slot of a valid boot target only. How the bytes make a dump and what is checked:
//! `dump_input.rs`.
#![no_main]

mod dump_input;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| dump_input::with_dump(data, dump_input::check_pending_log));
