//! Any bytes as a flash dump, decoded as MCUboot trailers with a scratch area (the default
//! decoder); how the bytes make a dump and what is checked: `dump_input.rs`.
#![no_main]

mod dump_input;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| dump_input::with_dump(data, dump_input::check_default));
