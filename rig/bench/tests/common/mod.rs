//! Pseudo-terminal fakes for the serial backends.
#![allow(dead_code)]

pub mod esptool;

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::pty::openpty;
use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg};

/// A pseudo-terminal: the test holds the master side; the backend opens `path` (the slave).
pub struct Pty {
    pub master: File,
    pub slave: OwnedFd,
    pub path: PathBuf,
}

impl Pty {
    pub fn new() -> Pty {
        let p = openpty(None, None).expect("openpty");
        let mut t = tcgetattr(&p.slave).expect("tcgetattr");
        cfmakeraw(&mut t);
        tcsetattr(&p.slave, SetArg::TCSANOW, &t).expect("tcsetattr");
        let path = nix::unistd::ttyname(&p.slave).expect("ttyname");
        Pty {
            master: File::from(p.master),
            slave: p.slave,
            path,
        }
    }

    /// A second handle on the master side, for a fake device thread.
    pub fn master_clone(&self) -> File {
        self.master.try_clone().expect("dup master")
    }

    pub fn write(&mut self, s: &str) {
        self.master.write_all(s.as_bytes()).expect("write to pty");
        self.master.flush().expect("flush pty");
    }
}

/// Points `link` at `target`, replacing an existing link (a stand-in for a by-id symlink).
pub fn point(link: &Path, target: &Path) {
    let _ = std::fs::remove_file(link);
    std::os::unix::fs::symlink(target, link).expect("symlink");
}

/// Waits until `f` holds, up to `timeout`.
pub fn wait_for(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    f()
}

/// Reads one byte from the master side; `None` when the slave side is gone.
pub fn read_byte(m: &mut File) -> Option<u8> {
    let mut b = [0u8; 1];
    match m.read(&mut b) {
        Ok(1) => Some(b[0]),
        _ => None,
    }
}
