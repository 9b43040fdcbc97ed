//! Console lines formatted without an allocator.

use core::fmt;

/// A fixed-size line buffer; text past its capacity is cut, never a panic.
pub struct LineBuf {
    buf: [u8; 192],
    len: usize,
}

impl LineBuf {
    pub const fn new() -> Self {
        LineBuf { buf: [0; 192], len: 0 }
    }

    pub fn as_str(&self) -> &str {
        // Only whole UTF-8 strings are ever copied in, so this cannot fail; fall back to "".
        core::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

impl Default for LineBuf {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Write for LineBuf {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = self.buf.len() - self.len;
        let mut take = s.len().min(room);
        while !s.is_char_boundary(take) {
            take -= 1;
        }
        self.buf[self.len..self.len + take].copy_from_slice(&s.as_bytes()[..take]);
        self.len += take;
        Ok(())
    }
}

/// Writes one formatted console line: `say!(hal, "boot: start mode={}", mode)`.
#[macro_export]
macro_rules! say {
    ($hal:expr, $($arg:tt)*) => {{
        let mut line = $crate::line::LineBuf::new();
        let _ = core::fmt::Write::write_fmt(&mut line, format_args!($($arg)*));
        $crate::hal::Console::write_line($hal, line.as_str());
    }};
}

/// Formats the first bytes of a hash as lowercase hex.
pub struct ShortHex<'a>(pub &'a [u8]);

impl fmt::Display for ShortHex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0.iter().take(4) {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}
