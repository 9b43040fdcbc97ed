//! Any bytes as a flash dump decoded as the atomic-word scheme keeps it (both slots' images and
//! the boot word): the decoder must not panic, must say the same twice, and names a slot only
//! for a valid word. How the bytes make a dump and what is checked: `dump_input.rs`.
#![no_main]

mod dump_input;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| dump_input::with_dump(data, dump_input::check_atomic_word));
