//! The dump fuzz targets' seeds (`rig/inspect/fuzz/seeds/decode_flash`, `decode_swap_move`;
//! `decode_direct_xip`, `decode_atomic_word` and `decode_pending_log` start from both)
//! through the targets' own input shaping and checks (`fuzz_targets/dump_input.rs`), so the
//! shared code builds and holds in the ordinary test suite, without the fuzzer.

use std::path::Path;

#[path = "../fuzz/fuzz_targets/dump_input.rs"]
mod dump_input;

fn seeds(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds").join(target);
    let mut out: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| {
            let p = e.unwrap().path();
            (p.display().to_string(), std::fs::read(&p).unwrap())
        })
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no seeds in {}", dir.display());
    out
}

#[test]
fn the_dump_targets_hold_on_their_seeds() {
    for (name, data) in seeds("decode_flash") {
        let mut decoded = false;
        dump_input::with_dump(&data, |dump, base, layout| {
            decoded = true;
            dump_input::check_default(dump, base, layout);
        });
        assert!(decoded, "{name}: the seed makes no dump");
    }
    for (name, data) in seeds("decode_swap_move") {
        let mut decoded = false;
        dump_input::with_dump(&data, |dump, base, layout| {
            decoded = true;
            dump_input::check_swap_move(dump, base, layout);
        });
        assert!(decoded, "{name}: the seed makes no dump");
    }
    // `decode_direct_xip`, `decode_atomic_word` and `decode_pending_log` have no seeds of their
    // own: the other dump targets' seeds start them.
    for (name, data) in seeds("decode_flash").into_iter().chain(seeds("decode_swap_move")) {
        let mut decoded = false;
        dump_input::with_dump(&data, |dump, base, layout| {
            decoded = true;
            dump_input::check_direct_xip(dump, base, layout);
            dump_input::check_atomic_word(dump, base, layout);
            dump_input::check_pending_log(dump, base, layout);
        });
        assert!(decoded, "{name}: the seed makes no dump");
    }
}

#[test]
fn each_input_shape_makes_a_dump() {
    let mut shapes = Vec::new();
    for data in [
        vec![0u8, 0, 0, 0xff],
        {
            let mut d = vec![1u8];
            d.extend([0u8; 44]);
            d
        },
        vec![2u8, 0x10, 0, 0xaa],
    ] {
        dump_input::with_dump(&data, |dump, base, layout| {
            shapes.push((dump.len(), base, layout.sector_size))
        });
    }
    assert_eq!(shapes, [(1, 0, 256), (0, 0, 0), (4864, 0, 256)]);
    dump_input::with_dump(&[], |_, _, _| panic!("no bytes, no dump"));
    dump_input::with_dump(&[1, 2, 3], |_, _, _| panic!("too short for a layout"));
}
