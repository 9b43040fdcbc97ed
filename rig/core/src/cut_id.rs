//! Cut-point ids, built and read in this one place.
//!
//! An id names one cut, or a chain of cuts in which each later cut falls in the run that
//! recovers from the cut before it:
//!
//! ```text
//! id     = [sequence ":"] cut ["#" repetition] *(">" cut)
//! cut    = phase "/" offset
//! ```
//!
//! - `sequence` and `phase` are campaign names: an ASCII letter or digit, then letters, digits,
//!   `-` and `_`;
//! - `offset` is the expander's spelling of an offset (`start`, `end`, `byte-4096`, `ms-5`,
//!   `us-250`, `sector-12`, `sector-3~2+0.50`, `random-01`, `op-0123-inside-0.50`; `random-*`,
//!   `byte-4096..` in the offsets a plan skips): letters, digits and `- _ . + ~ *`;
//! - `repetition` (1-based, no leading zero) is there only when a campaign repeats its cut
//!   points, and only on the chain's first cut: the later cuts inherit it.
//!
//! Examples: `swap/sector-12+0.50`, `download/byte-81920#2`, `twice:swap/sector-9`,
//! `twice:swap/sector-1+0.50#2>swap/start>swap/end`.
//!
//! The text is byte for byte what cutpoint has always written: cut seeds hash it, journals,
//! reports and `cutpoint replay` name cut points by it. [`CutId`] owns a checked id;
//! [`CutIdRef`] reads one kept elsewhere (a journal record's `id`) without copying it.

use std::borrow::Borrow;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A checked cut-point id (see the [module](self) for the grammar). Serialized as its text.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CutId(String);

/// A checked cut-point id borrowed from text kept elsewhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CutIdRef<'a>(&'a str);

/// One cut of an id: the phase it aims into and the offset in that phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cut<'a> {
    pub phase: &'a str,
    pub offset: &'a str,
}

impl fmt::Display for Cut<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.phase, self.offset)
    }
}

/// Why a text is not a cut-point id: the text, the 1-based column of the first problem, and
/// what is wrong there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CutIdError {
    pub id: String,
    pub column: usize,
    pub problem: String,
}

impl fmt::Display for CutIdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` is not a cut-point id (column {}: {}); ids read phase/offset, with a chain as \
             sequence:phase/offset#repetition>phase/offset (`cutpoint plan` lists them)",
            self.id, self.column, self.problem
        )
    }
}

impl std::error::Error for CutIdError {}

impl CutId {
    /// The id of a chain's first (or only) cut: `[sequence:]phase/offset[#repetition]`.
    pub fn new(sequence: Option<&str>, cut: Cut<'_>, repetition: Option<u32>) -> Result<CutId, CutIdError> {
        let mut text = String::with_capacity(cut.phase.len() + cut.offset.len() + 16);
        if let Some(s) = sequence {
            text.push_str(s);
            text.push(':');
        }
        text.push_str(cut.phase);
        text.push('/');
        text.push_str(cut.offset);
        if let Some(r) = repetition {
            text.push('#');
            text.push_str(&r.to_string());
        }
        CutId::try_from(text)
    }

    /// The id of the cut that follows this chain's last one: `self>phase/offset`.
    pub fn then(&self, cut: Cut<'_>) -> Result<CutId, CutIdError> {
        CutId::try_from(format!("{}>{}", self.0, cut))
    }

    /// Reads an id.
    pub fn parse(text: &str) -> Result<CutId, CutIdError> {
        CutIdRef::parse(text).map(CutIdRef::to_owned)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The same id, borrowed, with every accessor.
    pub fn as_ref(&self) -> CutIdRef<'_> {
        CutIdRef(&self.0)
    }

    /// The `[[sequences]]` entry the chain belongs to, if any.
    pub fn sequence(&self) -> Option<&str> {
        self.as_ref().sequence()
    }

    /// The chain's first (or only) cut.
    pub fn first(&self) -> Cut<'_> {
        self.as_ref().first()
    }

    /// The chain's last (or only) cut.
    pub fn last(&self) -> Cut<'_> {
        self.as_ref().last()
    }

    /// How many cuts the chain has (1 for a single cut).
    pub fn len(&self) -> usize {
        self.as_ref().len()
    }

    /// Never: an id has at least one cut. (For symmetry with [`CutId::len`].)
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The repetition, when the campaign repeats its cut points.
    pub fn repetition(&self) -> Option<u32> {
        self.as_ref().repetition()
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl<'a> CutIdRef<'a> {
    /// Reads an id without copying it.
    pub fn parse(text: &'a str) -> Result<CutIdRef<'a>, CutIdError> {
        check(text)?;
        Ok(CutIdRef(text))
    }

    pub fn as_str(self) -> &'a str {
        self.0
    }

    pub fn to_owned(self) -> CutId {
        CutId(self.0.to_owned())
    }

    /// The `[[sequences]]` entry the chain belongs to, if any.
    pub fn sequence(self) -> Option<&'a str> {
        self.head().0.split_once(':').map(|(s, _)| s)
    }

    /// The repetition, when the campaign repeats its cut points (written on the first cut).
    pub fn repetition(self) -> Option<u32> {
        // Checked: digits without a leading zero that fit a u32.
        self.head().0.rsplit_once('#').and_then(|(_, r)| r.parse().ok())
    }

    /// The cuts of the chain, first to last.
    pub fn cuts(self) -> impl Iterator<Item = Cut<'a>> {
        self.0.split('>').map(cut_of)
    }

    /// The chain's first (or only) cut.
    pub fn first(self) -> Cut<'a> {
        cut_of(self.head().0)
    }

    /// The chain's last (or only) cut.
    pub fn last(self) -> Cut<'a> {
        cut_of(self.0.rsplit('>').next().unwrap_or(self.0))
    }

    /// How many cuts the chain has (1 for a single cut).
    pub fn len(self) -> usize {
        self.0.matches('>').count() + 1
    }

    /// Never: an id has at least one cut. (For symmetry with [`CutIdRef::len`].)
    pub fn is_empty(self) -> bool {
        false
    }

    /// The id of the chain's first cut, with its sequence and repetition
    /// (`twice:swap/sector-1+0.50#2` of `twice:swap/sector-1+0.50#2>swap/start`); the id itself
    /// for a single cut.
    pub fn head(self) -> CutIdRef<'a> {
        CutIdRef(self.0.split('>').next().unwrap_or(self.0))
    }

    /// For a chain of two or more cuts, the id of its first cut (the block the reports show
    /// the later cuts in); `None` for a single cut.
    pub fn chain_head(self) -> Option<CutIdRef<'a>> {
        (self.len() > 1).then(|| self.head())
    }

    /// The chain without its last cut; `None` for a single cut.
    pub fn parent(self) -> Option<CutIdRef<'a>> {
        self.0.rsplit_once('>').map(|(p, _)| CutIdRef(p))
    }

    /// Everything after the first cut's phase: the first cut's offset, its repetition and the
    /// later cuts (`sector-1+0.50#2>swap/start` of `twice:swap/sector-1+0.50#2>swap/start`).
    /// A chain's label in its first cut's row.
    pub fn after_first_phase(self) -> &'a str {
        self.0.split_once('/').map_or("", |(_, rest)| rest)
    }
}

/// One `phase/offset` of checked text, without the sequence prefix and repetition suffix the
/// first cut may carry.
fn cut_of(segment: &str) -> Cut<'_> {
    let segment = segment.split_once(':').map_or(segment, |(_, rest)| rest);
    let segment = segment.split_once('#').map_or(segment, |(body, _)| body);
    let (phase, offset) = segment.split_once('/').unwrap_or((segment, ""));
    Cut { phase, offset }
}

/// Checks `text` against the grammar; the error names the first problem's column.
fn check(text: &str) -> Result<(), CutIdError> {
    if text.is_empty() {
        return Err(error(text, 0, "the id is empty".into()));
    }
    let mut at = 0;
    for (n, segment) in text.split('>').enumerate() {
        check_cut(text, at, segment, n == 0)?;
        at += segment.len() + 1;
    }
    Ok(())
}

/// Checks one `>`-separated part starting at byte `at` of `text`; the first one may carry a
/// sequence prefix and a repetition suffix.
fn check_cut(text: &str, at: usize, segment: &str, first: bool) -> Result<(), CutIdError> {
    if segment.is_empty() {
        return Err(error(text, at, "nothing between two `>` (or at an end)".into()));
    }
    let (mut rest, mut start) = (segment, at);
    if let Some(colon) = segment.find(':') {
        if !first {
            return Err(error(
                text,
                at + colon,
                "only a chain's first cut names its sequence".into(),
            ));
        }
        check_name(text, at, &segment[..colon], "the sequence")?;
        rest = &segment[colon + 1..];
        start = at + colon + 1;
    }
    let body = match rest.find('#') {
        Some(hash) => {
            if !first {
                return Err(error(
                    text,
                    start + hash,
                    "only a chain's first cut has a repetition".into(),
                ));
            }
            check_repetition(text, start + hash + 1, &rest[hash + 1..])?;
            &rest[..hash]
        }
        None => rest,
    };
    let Some(slash) = body.find('/') else {
        return Err(error(
            text,
            start,
            format!("`{body}` has no `/` between phase and offset"),
        ));
    };
    check_name(text, start, &body[..slash], "the phase")?;
    check_offset(text, start + slash + 1, &body[slash + 1..])
}

fn check_name(text: &str, at: usize, name: &str, what: &str) -> Result<(), CutIdError> {
    let mut chars = name.char_indices();
    match chars.next() {
        None => return Err(error(text, at, format!("{what}'s name is empty"))),
        Some((_, c)) if !c.is_ascii_alphanumeric() => {
            return Err(error(
                text,
                at,
                format!("{what}'s name starts with `{c}`, not a letter or digit"),
            ))
        }
        Some(_) => {}
    }
    match chars.find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_')) {
        Some((i, c)) => Err(error(
            text,
            at + i,
            format!("`{c}` in {what}'s name (letters, digits, `-` and `_` only)"),
        )),
        None => Ok(()),
    }
}

fn check_offset(text: &str, at: usize, offset: &str) -> Result<(), CutIdError> {
    if offset.is_empty() {
        return Err(error(text, at, "the offset after `/` is empty".into()));
    }
    match offset.char_indices().find(|(_, c)| !is_offset_char(*c)) {
        Some((i, c)) => Err(error(
            text,
            at + i,
            format!("`{c}` in the offset (letters, digits and `- _ . + ~ *` only)"),
        )),
        None => Ok(()),
    }
}

fn is_offset_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '+' | '~' | '*')
}

fn check_repetition(text: &str, at: usize, digits: &str) -> Result<(), CutIdError> {
    let plain = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) && !digits.starts_with('0');
    match digits.parse::<u32>() {
        Ok(_) if plain => Ok(()),
        _ => Err(error(
            text,
            at,
            format!("the repetition `{digits}` is not a number from 1 (without leading zeros)"),
        )),
    }
}

fn error(text: &str, byte: usize, problem: String) -> CutIdError {
    let byte = byte.min(text.len());
    let column = text.get(..byte).map_or(byte, |s| s.chars().count()) + 1;
    CutIdError {
        id: text.to_owned(),
        column,
        problem,
    }
}

impl fmt::Display for CutId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for CutIdRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl FromStr for CutId {
    type Err = CutIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CutId::parse(s)
    }
}

impl TryFrom<String> for CutId {
    type Error = CutIdError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        check(&text)?;
        Ok(CutId(text))
    }
}

impl From<CutId> for String {
    fn from(id: CutId) -> String {
        id.0
    }
}

impl AsRef<str> for CutId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for CutId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for CutId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for CutId {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl PartialEq<String> for CutId {
    fn eq(&self, other: &String) -> bool {
        &self.0 == other
    }
}

impl Serialize for CutId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for CutId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        CutId::try_from(text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cut<'a>(phase: &'a str, offset: &'a str) -> Cut<'a> {
        Cut { phase, offset }
    }

    #[test]
    fn a_single_cut() {
        let id = CutId::new(None, cut("swap", "sector-12+0.50"), None).unwrap();
        assert_eq!(id, "swap/sector-12+0.50");
        assert_eq!((id.sequence(), id.repetition(), id.len()), (None, None, 1));
        assert_eq!(id.first(), cut("swap", "sector-12+0.50"));
        assert_eq!(id.as_ref().chain_head(), None);
        assert_eq!(id.as_ref().parent(), None);
        assert_eq!(id.as_ref().after_first_phase(), "sector-12+0.50");
    }

    #[test]
    fn a_repeated_triple_cut_of_a_sequence() {
        let head = CutId::new(Some("twice"), cut("swap", "sector-1+0.50"), Some(2)).unwrap();
        let id = head
            .then(cut("swap", "start"))
            .unwrap()
            .then(cut("swap", "end"))
            .unwrap();
        assert_eq!(id, "twice:swap/sector-1+0.50#2>swap/start>swap/end");
        assert_eq!(id.sequence(), Some("twice"));
        assert_eq!(id.repetition(), Some(2));
        assert_eq!(id.len(), 3);
        let cuts: Vec<_> = id.as_ref().cuts().collect();
        assert_eq!(
            cuts,
            [cut("swap", "sector-1+0.50"), cut("swap", "start"), cut("swap", "end")]
        );
        assert_eq!(id.last(), cut("swap", "end"));
        assert_eq!(id.as_ref().chain_head().map(CutIdRef::as_str), Some(head.as_str()));
        assert_eq!(
            id.as_ref().parent().map(CutIdRef::as_str),
            Some("twice:swap/sector-1+0.50#2>swap/start")
        );
        assert_eq!(id.as_ref().after_first_phase(), "sector-1+0.50#2>swap/start>swap/end");
    }

    #[test]
    fn serde_is_the_plain_text() {
        let text = "\"seq:download/byte-4096#3>swap/op-0010-before\"";
        let id: CutId = serde_json::from_str(text).unwrap();
        assert_eq!(id.repetition(), Some(3));
        assert_eq!(serde_json::to_string(&id).unwrap(), text);
        let err = serde_json::from_str::<CutId>("\"swap\"").unwrap_err().to_string();
        assert!(err.contains("`swap` is not a cut-point id"), "{err}");
    }

    #[test]
    fn errors_name_the_column_and_the_problem() {
        let cases = [
            ("", 1, "empty"),
            ("swap", 1, "no `/`"),
            ("swap/", 6, "offset after `/` is empty"),
            ("/start", 1, "phase's name is empty"),
            ("swap/start>", 12, "nothing between"),
            ("swap/start>>swap/end", 12, "nothing between"),
            ("swap/start#0", 12, "repetition `0`"),
            ("swap/start#02", 12, "repetition `02`"),
            ("swap/start#", 12, "repetition ``"),
            ("swap/start#99999999999", 12, "repetition"),
            ("swap/a>swap/b#2", 14, "only a chain's first cut has a repetition"),
            ("swap/a>s:swap/b", 9, "only a chain's first cut names its sequence"),
            ("swap/a b", 7, "` ` in the offset"),
            ("sw ap/a", 3, "` ` in the phase's name"),
            ("-x:swap/a", 1, "sequence's name starts with `-`"),
            ("swap/a/b", 7, "`/` in the offset"),
            ("swäp/a", 3, "`ä` in the phase's name"),
        ];
        for (text, column, problem) in cases {
            let e = CutId::parse(text).unwrap_err();
            assert_eq!(e.column, column, "{text}: {e}");
            assert!(e.problem.contains(problem), "{text}: {e}");
            assert!(e.to_string().contains("cutpoint plan"), "{e}");
        }
    }

    #[test]
    fn what_the_expander_writes_reads() {
        for text in [
            "download/start",
            "download/byte-94208",
            "verify/ms-15",
            "boot/us-250",
            "swap/sector-25+0.50",
            "swap/sector-3~2+0.125",
            "swap/random-01#12",
            "request/op-0123-inside-0.50",
            "resume-cut:swap/sector-1+0.50>swap/op-0000-before",
            "swap/random-*",
            "download/byte-4096..",
        ] {
            assert_eq!(CutId::parse(text).unwrap().as_str(), text);
        }
    }
}
