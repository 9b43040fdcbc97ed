//! A fake esptool: a shell script that speaks esptool 5's command line over a file standing in
//! for the chip's SPI flash, and that a test can tell to fail, hang or write a short file.
//!
//! Its directory holds `flash.bin` (the flash), `calls` (one line per run: its arguments) and
//! `mode` (what to do next: empty for a normal run, or `fail`, `fatal0`, `hang`, `short`,
//! `nofile`, `garbage`). Like esptool it prints to stderr and exits 2 when the port is absent.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

const SCRIPT: &str = r#"#!/bin/sh
# A fake esptool over a flash image file (tests only).
dir=$(dirname "$0")
echo "$*" >> "$dir/calls"
mode=$(cat "$dir/mode" 2>/dev/null)
if [ "$1" = "version" ]; then
  if [ "$mode" = "v4" ]; then echo "esptool.py v4.7.0"; echo "4.7.0"; else echo "esptool v5.6.0"; echo "5.6.0"; fi
  exit 0
fi
port=""; after=""
while [ $# -gt 0 ]; do
  case "$1" in
    --chip|--baud|--before) shift 2 ;;
    --port) port="$2"; shift 2 ;;
    --after) after="$2"; shift 2 ;;
    *) break ;;
  esac
done
cmd="$1"; shift
echo "esptool v5.6.0"
echo "Connected to ESP32-C3 on $port:"
if [ ! -e "$port" ]; then
  echo "A fatal error occurred: Could not open $port, the port is busy or doesn't exist." >&2
  exit 2
fi
case "$mode" in
  fail) echo "A fatal error occurred: Failed to connect to ESP32-C3: No serial data received." >&2; exit 2 ;;
  fatal0) echo "A fatal error occurred: Packet content transfer stopped." >&2; exit 0 ;;
  hang) sleep 600 & echo $! > "$dir/sleep.pid"; wait; exit 0 ;;
  garbage) echo "Usage: esptool [OPTIONS] COMMAND" >&2; exit 2 ;;
esac
case "$cmd" in
  read-flash|read_flash)
    addr=$(($1)); size=$(($2)); out="$3"
    [ "$mode" = "nofile" ] && { echo "Read $size bytes"; exit 0; }
    [ "$mode" = "short" ] && size=$((size / 2))
    dd if="$dir/flash.bin" of="$out" bs=65536 iflag=skip_bytes,count_bytes skip=$addr count=$size 2>/dev/null || exit 1
    echo "Read $size bytes from $1 in 0.1 seconds (fake)"
    ;;
  write-flash|write_flash)
    addr=$(($1)); file="$2"
    dd if="$file" of="$dir/flash.bin" bs=65536 oflag=seek_bytes seek=$addr conv=notrunc 2>/dev/null || exit 1
    echo "Wrote $(wc -c < "$file") bytes at $1 (fake)"
    echo "Hash of data verified."
    ;;
  run) echo "Hard resetting via RTS pin..." ;;
  chip-id|chip_id) echo "Chip ID: 0x00000000" ;;
  *) echo "Usage: esptool [OPTIONS] COMMAND" >&2; exit 2 ;;
esac
echo "$after" > "$dir/last-after"
exit 0
"#;

/// The fake, in a directory of its own.
pub struct FakeEsptool {
    pub dir: PathBuf,
}

impl FakeEsptool {
    /// Writes the script into `dir` with a `size`-byte erased flash image.
    pub fn new(dir: &Path, size: usize) -> FakeEsptool {
        use std::os::unix::fs::PermissionsExt;
        std::fs::create_dir_all(dir).unwrap();
        let script = dir.join("esptool");
        std::fs::write(&script, SCRIPT).unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(dir.join("flash.bin"), vec![0xffu8; size]).unwrap();
        FakeEsptool { dir: dir.to_path_buf() }
    }

    /// The command to give as the station's `command`.
    pub fn command(&self) -> Vec<String> {
        vec![self.dir.join("esptool").to_string_lossy().into_owned()]
    }

    pub fn set_mode(&self, mode: &str) {
        std::fs::write(self.dir.join("mode"), mode).unwrap();
    }

    pub fn flash(&self) -> Vec<u8> {
        std::fs::read(self.dir.join("flash.bin")).unwrap()
    }

    pub fn put(&self, addr: usize, data: &[u8]) {
        let mut f = self.flash();
        f[addr..addr + data.len()].copy_from_slice(data);
        std::fs::write(self.dir.join("flash.bin"), f).unwrap();
    }

    /// The arguments of every run so far, one string each.
    pub fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.join("calls"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    pub fn clear_calls(&self) {
        let _ = std::fs::remove_file(self.dir.join("calls"));
    }
}
