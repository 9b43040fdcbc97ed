//! Splitting a byte stream into console lines.

use cutpoint_core::ConsoleLine;

/// Lines longer than this are cut into pieces (a console spewing binary still yields lines).
pub const MAX_LINE: usize = 4096;

/// Collects bytes and yields complete lines. `\n` ends a line; a `\r` before it is dropped.
#[derive(Debug, Default)]
pub struct LineAssembler {
    buf: Vec<u8>,
}

fn to_line(bytes: &[u8], t_us: u64) -> ConsoleLine {
    let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
    ConsoleLine {
        t_us,
        text: String::from_utf8_lossy(bytes).into_owned(),
    }
}

impl LineAssembler {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `bytes` that arrived at `t_us`; every line they complete is passed to `out`,
    /// stamped `t_us`.
    pub fn push(&mut self, bytes: &[u8], t_us: u64, out: &mut dyn FnMut(ConsoleLine)) {
        for &b in bytes {
            if b == b'\n' {
                out(to_line(&self.buf, t_us));
                self.buf.clear();
            } else {
                self.buf.push(b);
                if self.buf.len() >= MAX_LINE {
                    out(to_line(&self.buf, t_us));
                    self.buf.clear();
                }
            }
        }
    }

    /// The unterminated rest, as a line (when the device went away mid-line).
    pub fn flush(&mut self, t_us: u64) -> Option<ConsoleLine> {
        if self.buf.is_empty() {
            return None;
        }
        let line = to_line(&self.buf, t_us);
        self.buf.clear();
        Some(line)
    }

    pub fn pending(&self) -> usize {
        self.buf.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_and_strips_cr() {
        let mut a = LineAssembler::new();
        let mut got = Vec::new();
        a.push(b"boot\r\nmcuboot v2", 10, &mut |l| got.push(l));
        a.push(b"\r\n\nx", 20, &mut |l| got.push(l));
        let texts: Vec<_> = got.iter().map(|l| (l.t_us, l.text.as_str())).collect();
        assert_eq!(texts, [(10, "boot"), (20, "mcuboot v2"), (20, "")]);
        assert_eq!(a.pending(), 1);
        assert_eq!(a.flush(30).unwrap().text, "x");
        assert!(a.flush(31).is_none());
    }

    #[test]
    fn invalid_utf8_and_long_lines_survive() {
        let mut a = LineAssembler::new();
        let mut got = Vec::new();
        a.push(&[0xff, 0xfe, b'o', b'k', b'\n'], 1, &mut |l| got.push(l));
        assert!(got[0].text.ends_with("ok"));
        let long = vec![b'a'; MAX_LINE * 2 + 5];
        a.push(&long, 2, &mut |l| got.push(l));
        assert_eq!(got.len(), 3);
        assert_eq!(a.pending(), 5);
    }
}
