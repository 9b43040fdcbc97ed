//! The closed vocabularies of the journal (`results.jsonl`): which fault cut the power, where
//! on its flash operation a cut landed, what the rig's decode made of a slot, and how a run
//! ended. Each is an enum that writes exactly the string the journal has always held.
//!
//! A journal written by a newer cutpoint may hold a value this one does not know: it reads as
//! the `Other` arm, shows as written, and writes back unchanged, so old and new journals stay
//! readable both ways. Code that decides something from these values treats `Other` as the
//! conservative case (see each enum).

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An enum of known names plus an `Other(String)` arm, serialized as its name.
macro_rules! vocabulary {
    (
        $(#[$doc:meta])*
        pub enum $name:ident {
            $( $(#[$vdoc:meta])* $variant:ident => $text:literal, )+
        }
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vdoc])* $variant, )+
            /// A value this version does not know (from a newer journal): kept as written.
            Other(String),
        }

        impl $name {
            /// The name the journal holds.
            pub fn as_str(&self) -> &str {
                match self {
                    $( $name::$variant => $text, )+
                    $name::Other(text) => text,
                }
            }

            /// Reads a name; an unknown one is kept in `Other`.
            pub fn from_name(name: &str) -> Self {
                match name {
                    $( $text => $name::$variant, )+
                    other => $name::Other(other.to_owned()),
                }
            }
        }

        impl From<&str> for $name {
            fn from(name: &str) -> Self {
                $name::from_name(name)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                deserializer.deserialize_str(NameVisitor(PhantomData, stringify!($name)))
            }
        }
    };
}

vocabulary! {
    /// The fault that cut a run, as the journal records it (`Landing.fault`): a
    /// [`FaultKind`](crate::cut::FaultKind), or a newer journal's name kept as written.
    pub enum RecordedFault {
        /// The supply is cut: the flash operation in flight tears.
        PowerCut => "power-cut",
        /// A watchdog or pin reset: the operation in flight completes.
        Reset => "reset",
        /// A slow brownout: flash operations silently fail, then the part resets.
        Brownout => "brownout",
        /// A cut write whose unreached tail reads back as zeros.
        ZeroedTail => "zeroed-tail",
    }
}

vocabulary! {
    /// Where on its flash operation a cut landed (`Landing.op_point`).
    pub enum OpRelation {
        /// The operation never started.
        Before => "before",
        /// The operation was in flight.
        Inside => "inside",
        /// The operation had just finished.
        After => "after",
    }
}

vocabulary! {
    /// What the rig's decode of a slot found after recovery (`SlotState.validity`): the
    /// inspector's verdict on the image there.
    pub enum SlotValidity {
        /// Hash, key and signature verified.
        Valid => "valid",
        /// No image magic at the start (erased, torn or garbage).
        NoHeader => "no-header",
        /// Header sizes do not fit the slot.
        BadSize => "bad-size",
        /// The TLV area is missing or malformed.
        BadTlv => "bad-tlv",
        /// The SHA-256 TLV does not match the image.
        HashMismatch => "hash-mismatch",
        /// The key hash TLV names another key.
        UnknownKey => "unknown-key",
        /// The signature is missing or does not verify.
        BadSignature => "bad-signature",
        /// Sound, but signed with an algorithm cutpoint does not verify.
        Unverified => "unverified",
        /// Deciding needs bytes the dump does not hold.
        OutsideDump => "outside-dump",
    }
}

impl SlotValidity {
    /// Whether the slot holds an image known to be good.
    pub fn is_valid(&self) -> bool {
        *self == SlotValidity::Valid
    }
}

/// How a run ended (`JournalEnd.how`): `complete`, `cancelled` or `stopped: <why>`.
///
/// An unknown text (a newer journal's) reads as `Other`: not finished (a resume may pick the
/// run up) and not cancelled (the reports do not call it so).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum EndReason {
    /// Every planned cut point ran.
    Complete,
    /// An operator's signal stopped the run early; `--resume` finishes it.
    Cancelled,
    /// The run stopped for the reason given and cannot go on (e.g. the control run failed).
    Stopped(String),
    /// A text this version does not know: kept as written.
    Other(String),
}

const STOPPED: &str = "stopped: ";

impl EndReason {
    /// Reads a journal's text; an unknown one is kept in `Other`.
    pub fn from_text(text: &str) -> Self {
        match text {
            "complete" => EndReason::Complete,
            "cancelled" => EndReason::Cancelled,
            _ => match text.strip_prefix(STOPPED) {
                Some(why) => EndReason::Stopped(why.to_owned()),
                None => EndReason::Other(text.to_owned()),
            },
        }
    }

    /// Whether the run came to its end: it completed, or it stopped for good.
    pub fn is_finished(&self) -> bool {
        matches!(self, EndReason::Complete | EndReason::Stopped(_))
    }

    pub fn is_complete(&self) -> bool {
        *self == EndReason::Complete
    }

    pub fn is_cancelled(&self) -> bool {
        *self == EndReason::Cancelled
    }
}

impl fmt::Display for EndReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EndReason::Complete => f.write_str("complete"),
            EndReason::Cancelled => f.write_str("cancelled"),
            EndReason::Stopped(why) => write!(f, "{STOPPED}{why}"),
            EndReason::Other(text) => f.write_str(text),
        }
    }
}

impl From<&str> for EndReason {
    fn from(text: &str) -> Self {
        EndReason::from_text(text)
    }
}

impl Serialize for EndReason {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            EndReason::Complete => serializer.serialize_str("complete"),
            EndReason::Cancelled => serializer.serialize_str("cancelled"),
            EndReason::Other(text) => serializer.serialize_str(text),
            EndReason::Stopped(_) => serializer.collect_str(self),
        }
    }
}

impl<'de> Deserialize<'de> for EndReason {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(NameVisitor(PhantomData, "EndReason"))
    }
}

/// Reads a string into any of these enums.
struct NameVisitor<T>(PhantomData<T>, &'static str);

impl<T: for<'a> From<&'a str>> Visitor<'_> for NameVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a string ({})", self.1)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        Ok(T::from(v))
    }
}

/// The journal records a fault under its own name: one exhaustive mapping, so a new fault
/// cannot be written under a name the journal does not know.
impl From<crate::cut::FaultKind> for RecordedFault {
    fn from(k: crate::cut::FaultKind) -> Self {
        match k {
            crate::cut::FaultKind::PowerCut => RecordedFault::PowerCut,
            crate::cut::FaultKind::Reset => RecordedFault::Reset,
            crate::cut::FaultKind::Brownout => RecordedFault::Brownout,
            crate::cut::FaultKind::ZeroedTail => RecordedFault::ZeroedTail,
        }
    }
}

/// Where a cut aimed at an operation falls on it: before it starts, inside it (at any
/// fraction), or just after it.
impl From<crate::cut::OpPoint> for OpRelation {
    fn from(p: crate::cut::OpPoint) -> Self {
        match p {
            crate::cut::OpPoint::Before => OpRelation::Before,
            crate::cut::OpPoint::Inside { .. } => OpRelation::Inside,
            crate::cut::OpPoint::After => OpRelation::After,
        }
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn the_journal_writes_the_cut_words_names() {
        for k in crate::cut::FaultKind::ALL {
            assert_eq!(RecordedFault::from(k).as_str(), k.name());
        }
        use crate::cut::OpPoint;
        assert_eq!(OpRelation::from(OpPoint::Before).as_str(), "before");
        assert_eq!(OpRelation::from(OpPoint::Inside { ppm: 1 }).as_str(), "inside");
        assert_eq!(OpRelation::from(OpPoint::After).as_str(), "after");
    }
    use super::*;

    fn json<T: Serialize>(v: &T) -> String {
        serde_json::to_string(v).unwrap()
    }

    fn read<T: for<'de> Deserialize<'de>>(text: &str) -> T {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn names_are_the_journal_strings() {
        let faults = [
            (RecordedFault::PowerCut, "power-cut"),
            (RecordedFault::Reset, "reset"),
            (RecordedFault::Brownout, "brownout"),
            (RecordedFault::ZeroedTail, "zeroed-tail"),
        ];
        for (v, text) in faults {
            assert_eq!(json(&v), format!("\"{text}\""));
            assert_eq!(read::<RecordedFault>(&json(&v)), v);
        }
        for (v, text) in [
            (OpRelation::Before, "before"),
            (OpRelation::Inside, "inside"),
            (OpRelation::After, "after"),
        ] {
            assert_eq!(json(&v), format!("\"{text}\""));
            assert_eq!(read::<OpRelation>(&json(&v)), v);
        }
        for text in [
            "valid",
            "no-header",
            "bad-size",
            "bad-tlv",
            "hash-mismatch",
            "unknown-key",
            "bad-signature",
            "unverified",
            "outside-dump",
        ] {
            let v = SlotValidity::from_name(text);
            assert!(!matches!(v, SlotValidity::Other(_)), "{text}");
            assert_eq!(v.to_string(), text);
            assert_eq!(json(&v), format!("\"{text}\""));
        }
    }

    #[test]
    fn an_unknown_value_reads_and_writes_back_unchanged() {
        let v: SlotValidity = read("\"quantum-torn\"");
        assert_eq!(v, SlotValidity::Other("quantum-torn".into()));
        assert_eq!(json(&v), "\"quantum-torn\"");
        let f: RecordedFault = read("\"glitch\"");
        assert_eq!(json(&f), "\"glitch\"");
        let o: OpRelation = read("\"during\\u0020erase\"");
        assert_eq!(o.as_str(), "during erase");
    }

    #[test]
    fn end_reasons_keep_their_text() {
        for (text, how) in [
            ("complete", EndReason::Complete),
            ("cancelled", EndReason::Cancelled),
            (
                "stopped: the control run did not update cleanly",
                EndReason::Stopped("the control run did not update cleanly".into()),
            ),
            ("stopped: ", EndReason::Stopped(String::new())),
            ("stopped", EndReason::Other("stopped".into())),
            ("paused by the lab", EndReason::Other("paused by the lab".into())),
        ] {
            let back: EndReason = read(&format!("\"{text}\""));
            assert_eq!(back, how, "{text}");
            assert_eq!(json(&how), format!("\"{text}\""));
            assert_eq!(how.to_string(), text);
        }
        assert!(EndReason::Complete.is_finished());
        assert!(EndReason::Stopped("x".into()).is_finished());
        assert!(!EndReason::Cancelled.is_finished());
        assert!(!EndReason::Other("paused".into()).is_finished());
        assert!(!EndReason::Other("paused".into()).is_cancelled());
    }

    #[test]
    fn a_non_string_is_refused_with_what_was_expected() {
        let err = serde_json::from_str::<EndReason>("3").unwrap_err().to_string();
        assert!(err.contains("a string (EndReason)"), "{err}");
    }
}
