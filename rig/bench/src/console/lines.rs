//! Splitting a byte stream into console lines.

use cutpoint_core::ConsoleLine;

/// Lines longer than this are cut into pieces (a console spewing binary still yields lines).
pub const MAX_LINE: usize = 4096;

/// Collects bytes and yields complete lines. `\n`, `\r\n` and a bare `\r` (a progress line
/// redrawn in place) each end a line; a run of `\r` ends one. Terminal escape sequences (the
/// colours of ESP-IDF's and Zephyr's log output) are taken out, so a marker sees the text a
/// person reads and a capture at the end of a line does not take the colour reset with it.
#[derive(Debug, Default)]
pub struct LineAssembler {
    buf: Vec<u8>,
    /// The last byte ended a line with `\r`: a `\n` or `\r` right after it ends no other.
    after_cr: bool,
}

fn to_line(bytes: &[u8], t_us: u64) -> ConsoleLine {
    ConsoleLine {
        t_us,
        text: String::from_utf8_lossy(&without_escapes(bytes)).into_owned(),
    }
}

/// `bytes` without terminal escape sequences (CSI: colours, cursor moves, erase-line; OSC up to
/// BEL or `ESC \\`; the two-byte `ESC x` forms; a sequence cut off at the end of the line), taken
/// out by the `strip-ansi-escapes` crate's VT parser. That parser also drops the C0 controls it
/// does not print, the tab among them: a line is stripped between its tabs, which are kept.
pub fn without_escapes(bytes: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    if !bytes.contains(&0x1b) {
        return std::borrow::Cow::Borrowed(bytes);
    }
    let parts: Vec<Vec<u8>> = bytes.split(|&b| b == b'\t').map(strip_ansi_escapes::strip).collect();
    std::borrow::Cow::Owned(parts.join(&b'\t'))
}

impl LineAssembler {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `bytes` that arrived at `t_us`; every line they complete is passed to `out`,
    /// stamped `t_us`.
    pub fn push(&mut self, bytes: &[u8], t_us: u64, out: &mut dyn FnMut(ConsoleLine)) {
        for &b in bytes {
            if b == b'\n' || b == b'\r' {
                if !std::mem::replace(&mut self.after_cr, b == b'\r') {
                    out(to_line(&self.buf, t_us));
                    self.buf.clear();
                } else if b == b'\n' {
                    self.after_cr = false;
                }
            } else {
                self.after_cr = false;
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
    fn a_bare_cr_ends_a_line_and_a_run_of_them_ends_one() {
        let mut a = LineAssembler::new();
        let mut got = Vec::new();
        a.push(
            b"ota: download-progress bytes=4096\rota: download-progress bytes=8192\r",
            1,
            &mut |l| got.push(l),
        );
        a.push(b"\nboot: idle\r\r\nnext\n\nlast\r", 2, &mut |l| got.push(l));
        let texts: Vec<_> = got.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "ota: download-progress bytes=4096",
                "ota: download-progress bytes=8192",
                "boot: idle",
                "next",
                "",
                "last"
            ]
        );
        assert_eq!(a.pending(), 0);
    }

    #[test]
    fn colours_and_other_escapes_are_taken_out() {
        let mut a = LineAssembler::new();
        let mut got = Vec::new();
        // ESP-IDF's coloured info line, Zephyr's, an erase-line redraw, an OSC title, and a
        // sequence cut off at the end of the line.
        a.push(
            b"\x1b[0;32mI (325) esp_https_ota: Starting OTA...\x1b[0m\n\
              \x1b[1;32m<inf>\x1b[0m mcuboot: Bootloader chainload address offset: 0x10000\n\
              \x1b[2K\x1b]0;title\x07progress 50%\n\
              version=2.0.0\x1b[0",
            1,
            &mut |l| got.push(l),
        );
        got.extend(a.flush(2));
        let texts: Vec<_> = got.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "I (325) esp_https_ota: Starting OTA...",
                "<inf> mcuboot: Bootloader chainload address offset: 0x10000",
                "progress 50%",
                "version=2.0.0"
            ]
        );
    }

    #[test]
    fn tabs_survive_the_escapes_taken_out() {
        assert_eq!(
            &*without_escapes(b"\x1b[0;32mI (1)\tota: idle\x1b[0m\t"),
            b"I (1)\tota: idle\t"
        );
        assert_eq!(&*without_escapes(b"a\tb"), b"a\tb");
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
