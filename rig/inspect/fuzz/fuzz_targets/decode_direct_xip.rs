//! Any bytes as a flash dump decoded as MCUboot direct-XIP keeps it (both slots' images and
//! trailers, the application's note): the decoder must not panic, must say the same twice, and
//! a slot it says boots must hold an image whose trailer lets it boot. How the bytes make a dump
//! and what is checked: `dump_input.rs`.
#![no_main]

mod dump_input;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| dump_input::with_dump(data, dump_input::check_direct_xip));
