//! A station may state its firmware's flash map in a `[layout]` table.

use std::path::Path;

use cutpoint_campaign::{parse_station, StationArea};

const BASE: &str = r#"
[power]
kind = "command"
on = ["true"]
off = ["true"]
[console]
kind = "serial"
port = "/dev/null"
[transport]
kind = "http"
"#;

#[test]
fn a_layout_table_is_read() {
    let text = format!(
        "{BASE}\n[layout]\nsector_size = 4096\nwrite_size = 4\nbootloader = {{ offset = 0x0, size = 0xC000 }}\n\
         primary = {{ offset = 0xC000, size = 0x76000 }}\nsecondary = {{ offset = 0x82000, size = 0x76000 }}\n\
         scratch = {{ offset = 0xF8000, size = 0x2000 }}\n"
    );
    let st = parse_station(&text, Path::new("lab.toml")).expect("station");
    let l = st.layout.expect("layout");
    assert_eq!(l.sector_size, 4096);
    assert_eq!(
        l.primary,
        StationArea {
            offset: 0xC000,
            size: 0x76000
        }
    );
    assert_eq!(l.scratch.size, 0x2000);
}

#[test]
fn a_station_without_layout_has_none() {
    let st = parse_station(BASE, Path::new("lab.toml")).expect("station");
    assert!(st.layout.is_none());
}

#[test]
fn a_bad_layout_key_is_located() {
    let text = format!("{BASE}\n[layout]\nsector_size = 4096\nwrite_size = 4\nprimry = {{ offset = 0, size = 1 }}\n");
    let errors = parse_station(&text, Path::new("lab.toml")).unwrap_err();
    let msg = cutpoint_campaign::format_errors(&errors);
    assert!(msg.contains("lab.toml:"), "{msg}");
    assert!(msg.contains("primry"), "{msg}");
}
