//! Image files are judged before they are read: a huge file, a FIFO, a directory or a file
//! without an MCUboot header is a located error at its `[images]` field, for `load_campaign`
//! and for `check_file` alike, and nothing blocks or reads the file whole.

use std::fs::File;
use std::path::{Path, PathBuf};

use cutpoint_campaign::{check_file, format_errors, load_campaign, FileError, SIM_SLOT_SIZE};

/// A campaign in `dir` whose update is `update` (relative to `dir`).
fn campaign(dir: &Path, update: &str) -> PathBuf {
    let text = format!(
        r#"name = "files"

[images]
update = {{ file = "{update}" }}

[[phases]]
name = "swap"
start = 'boot: swap-start'
end = 'boot: swap-done'
offsets = {{ fixed = ["start"] }}
"#
    );
    let path = dir.join("c.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// The errors of loading and of checking `path`; both must agree.
fn errors(path: &Path) -> Vec<FileError> {
    let loaded = load_campaign(path).expect_err("the campaign must be refused");
    let checked = check_file(path).expect_err("check must refuse it too");
    assert_eq!(loaded, checked);
    loaded
}

/// The one error, at `images.update.file` on line 4.
fn the_error(path: &Path) -> FileError {
    let errors = errors(path);
    assert_eq!(errors.len(), 1, "{}", format_errors(&errors));
    let e = errors.into_iter().next().unwrap();
    assert_eq!((e.field.as_str(), e.line), ("images.update.file", 4), "{e}");
    e
}

#[test]
fn a_file_larger_than_the_slot_is_refused_unread() {
    let dir = tempfile::tempdir().unwrap();
    // A sparse 4 GiB file with a valid header: only its size may be looked at.
    let big = dir.path().join("big.bin");
    let f = File::create(&big).unwrap();
    f.set_len(4 << 30).unwrap();
    drop(f);
    let mut header = 0x96f3_b83du32.to_le_bytes().to_vec();
    header.resize(32, 0);
    {
        use std::io::{Seek, Write};
        let mut f = std::fs::OpenOptions::new().write(true).open(&big).unwrap();
        f.rewind().unwrap();
        f.write_all(&header).unwrap();
    }
    let e = the_error(&campaign(dir.path(), "big.bin"));
    let text = e.to_string();
    assert!(text.contains("big.bin"), "{text}");
    assert!(text.contains(&format!("{} bytes", 4u64 << 30)), "{text}");
    assert!(text.contains(&format!("{SIM_SLOT_SIZE}-byte slot")), "{text}");
}

#[test]
fn a_file_without_an_mcuboot_header_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("raw.bin"), [0u8; 4096]).unwrap();
    let e = the_error(&campaign(dir.path(), "raw.bin"));
    assert!(e.message.contains("does not start with an MCUboot image header"), "{e}");
    std::fs::write(dir.path().join("tiny.bin"), [0x3d, 0xb8]).unwrap();
    let e = the_error(&campaign(dir.path(), "tiny.bin"));
    assert!(
        e.message.contains("2 bytes, shorter than the 32-byte MCUboot header"),
        "{e}"
    );
}

#[test]
fn a_directory_is_not_an_image() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("images")).unwrap();
    let e = the_error(&campaign(dir.path(), "images"));
    assert!(e.message.contains("is a directory, not a regular file"), "{e}");
}

#[cfg(unix)]
#[test]
fn a_fifo_is_refused_without_blocking() {
    use std::os::unix::fs::OpenOptionsExt;

    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe.bin");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    // Should the loader open the FIFO for reading after all, this writer lets the open return
    // (with nothing to read) so the test fails on its assertions instead of hanging.
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || drop(std::fs::OpenOptions::new().write(true).open(fifo)))
    };
    let e = the_error(&campaign(dir.path(), "pipe.bin"));
    assert!(e.message.contains("is a FIFO, not a regular file"), "{e}");
    // Release the writer: a non-blocking reader lets its open complete.
    let reader = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&fifo)
        .unwrap();
    writer.join().unwrap();
    drop(reader);
}

#[test]
fn a_missing_file_is_still_named() {
    let dir = tempfile::tempdir().unwrap();
    let e = the_error(&campaign(dir.path(), "gone.bin"));
    assert!(e.message.starts_with("no image file at"), "{e}");
}
