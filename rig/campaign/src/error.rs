//! Errors that point into a file: `file:line:column: field.path: message`.

use std::fmt;
use std::ops::Range;

use serde::Serialize;

/// One problem found in a campaign or station file.
///
/// `line` and `column` are 1-based; both are 0 when the problem concerns the file as a whole
/// (it cannot be read, or a required table is missing from an empty file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileError {
    /// The file as it was named to the loader.
    pub file: String,
    pub line: usize,
    pub column: usize,
    /// Dotted path of the field, e.g. `phases.swap.offsets.sectors.fraction`; empty for
    /// syntax errors and file-level problems.
    pub field: String,
    /// What is wrong and what is expected.
    pub message: String,
}

impl FileError {
    /// A problem with the file as a whole (no position).
    pub fn whole_file(file: &str, message: impl Into<String>) -> Self {
        FileError {
            file: file.to_string(),
            line: 0,
            column: 0,
            field: String::new(),
            message: message.into(),
        }
    }
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.column)?;
        }
        write!(f, ": ")?;
        if !self.field.is_empty() {
            write!(f, "{}: ", self.field)?;
        }
        write!(f, "{}", self.message)
    }
}

impl std::error::Error for FileError {}

/// Formats a list of errors one per line.
pub fn format_errors(errors: &[FileError]) -> String {
    let mut out = String::new();
    for e in errors {
        out.push_str(&e.to_string());
        out.push('\n');
    }
    out
}

/// Turns byte spans of one source text into file errors.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Source<'a> {
    pub file: &'a str,
    pub text: &'a str,
}

impl<'a> Source<'a> {
    pub fn new(file: &'a str, text: &'a str) -> Self {
        Source { file, text }
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        (line, column)
    }

    pub fn error(&self, span: Range<usize>, field: impl Into<String>, message: impl Into<String>) -> FileError {
        let (line, column) = self.line_col(span.start);
        FileError {
            file: self.file.to_string(),
            line,
            column,
            field: field.into(),
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_are_one_based_and_count_characters() {
        let s = Source::new("f.toml", "a = 1\nbé = \"x\"\n");
        assert_eq!(s.line_col(0), (1, 1));
        assert_eq!(s.line_col(4), (1, 5));
        assert_eq!(s.line_col(6), (2, 1));
        // "bé = " is 6 bytes but 5 characters.
        assert_eq!(s.line_col(12), (2, 6));
        // Past the end and inside a character: clamped, no panic.
        assert_eq!(s.line_col(1000).0, 3);
        assert_eq!(s.line_col(8), (2, 2));
    }

    #[test]
    fn display_omits_position_for_whole_file_errors() {
        let e = FileError::whole_file("x.toml", "cannot read: gone");
        assert_eq!(e.to_string(), "x.toml: cannot read: gone");
        let e = Source::new("x.toml", "a = 1").error(4..5, "a", "bad");
        assert_eq!(e.to_string(), "x.toml:1:5: a: bad");
    }
}
