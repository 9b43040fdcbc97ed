//! The campaign file as written, before validation: every value keeps its position.

use std::fmt;

use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use toml::Spanned;

use crate::model::{
    Board, Delivery, Downgrade, Expect, FaultKind, FinalImage, Fixed, Health, Tamper, Upgrade, Variant,
};

pub(crate) type S<T> = Spanned<T>;

/// A table, and only a table: serde's derived structs also accept arrays (fields by
/// position), which would turn `offsets = [1]` into a confusing error about its first field.
#[derive(Debug)]
pub(crate) struct Table<T>(pub T);

impl<T> std::ops::Deref for Table<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Table<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Table<T>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a table")
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Table<T>, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map)).map(Table)
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

pub(crate) type RawTarget = Table<RawTargetFields>;
pub(crate) type RawImages = Table<RawImagesFields>;
pub(crate) type RawImage = Table<RawImageFields>;
pub(crate) type RawRun = Table<RawRunFields>;
pub(crate) type RawPass = Table<RawPassFields>;
pub(crate) type RawMarkers = Table<RawMarkersFields>;
pub(crate) type RawPhase = Table<RawPhaseFields>;
pub(crate) type RawOffsets = Table<RawOffsetsFields>;
pub(crate) type RawSectors = Table<RawSectorsFields>;
pub(crate) type RawByteStep = Table<RawByteStepFields>;
pub(crate) type RawSequence = Table<RawSequenceFields>;
pub(crate) type RawCutSpec = Table<RawCutSpecFields>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub(crate) struct RawCampaign {
    pub name: Option<S<String>>,
    pub description: Option<S<String>>,
    pub target: Option<S<RawTarget>>,
    pub images: Option<S<RawImages>>,
    pub run: Option<S<RawRun>>,
    pub pass: Option<S<RawPass>>,
    pub markers: Option<S<RawMarkers>>,
    #[serde(default)]
    pub phases: Vec<S<RawPhase>>,
    #[serde(default)]
    pub sequences: Vec<S<RawSequence>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub(crate) struct RawTargetFields {
    pub board: Option<S<Board>>,
    pub variant: Option<S<Variant>>,
    /// A scheme's name, checked against the registry when the campaign loads.
    pub mode: Option<S<String>>,
    pub upgrade: Option<S<Upgrade>>,
    pub delivery: Option<S<Delivery>>,
    /// `primary` or `secondary`: the slot the baseline runs from.
    pub baseline_slot: Option<S<String>>,
    /// Earlier updates the simulated board runs once, uncut, to make the baseline.
    pub prior_updates: Option<S<i64>>,
    pub station: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub(crate) struct RawImagesFields {
    pub baseline: Option<S<RawImage>>,
    pub update: Option<S<RawImage>>,
    pub public_key: Option<S<String>>,
    pub downgrade: Option<S<Downgrade>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub(crate) struct RawImageFields {
    pub version: Option<S<String>>,
    pub size_kib: Option<S<u32>>,
    pub health: Option<S<Health>>,
    pub tamper: Option<S<Tamper>>,
    pub file: Option<S<String>>,
    pub confirmed: Option<S<bool>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub(crate) struct RawRunFields {
    pub seed: Option<S<u64>>,
    pub repetitions: Option<S<u32>>,
    pub fault: Option<S<FaultKind>>,
    pub off_dwell_ms: Option<S<u64>>,
    pub boot_timeout_ms: Option<S<u64>>,
    pub settle_timeout_ms: Option<S<u64>>,
    pub max_boots: Option<S<u32>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub(crate) struct RawPassFields {
    #[serde(rename = "final")]
    pub final_image: Option<S<FinalImage>>,
    pub expect: Option<S<Expect>>,
    pub may_change: Option<S<Vec<S<String>>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub(crate) struct RawMarkersFields {
    pub boot: Option<S<String>>,
    pub jump: Option<S<String>>,
    pub halt: Option<S<String>>,
    pub commit: Option<S<String>>,
    pub installed: Option<S<String>>,
    pub settled: Option<S<String>>,
    pub rejected: Option<S<String>>,
    pub refused: Option<S<String>>,
    pub download_restart: Option<S<String>>,
    pub blocked: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub(crate) struct RawPhaseFields {
    pub name: S<String>,
    pub start: S<String>,
    pub end: S<String>,
    pub progress: Option<S<String>>,
    pub offsets: Option<S<RawOffsets>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub(crate) struct RawOffsetsFields {
    pub fixed: Option<S<Vec<S<Fixed>>>>,
    pub bytes: Option<S<RawBytes>>,
    pub ms: Option<S<Vec<S<u64>>>>,
    pub us: Option<S<Vec<S<u64>>>>,
    pub sectors: Option<S<RawSectors>>,
    pub random: Option<S<u32>>,
    pub every_op: Option<S<RawEveryOp>>,
}

/// `every_op = ["before", ...]` or `every_op = { at = ["before", ...], regions = [...] }`.
#[derive(Debug)]
pub(crate) enum RawEveryOp {
    List(Vec<S<String>>),
    Table(RawEveryOpTable),
}

pub(crate) type RawEveryOpTable = Table<RawEveryOpFields>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub(crate) struct RawEveryOpFields {
    pub at: S<Vec<S<String>>>,
    pub regions: Option<S<Vec<S<String>>>>,
}

impl<'de> Deserialize<'de> for RawEveryOp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawEveryOp;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array of points or a table { at, regions }")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<RawEveryOp, A::Error> {
                Vec::deserialize(de::value::SeqAccessDeserializer::new(seq)).map(RawEveryOp::List)
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawEveryOp, A::Error> {
                RawEveryOpFields::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(Table)
                    .map(RawEveryOp::Table)
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub(crate) struct RawSectorsFields {
    pub every: Option<S<u32>>,
    pub fraction: Option<S<f64>>,
}

/// `bytes = [81920, ...]` or `bytes = { step = 16384, from = ..., to = ... }`.
#[derive(Debug)]
pub(crate) enum RawBytes {
    List(Vec<S<u64>>),
    Step(RawByteStep),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub(crate) struct RawByteStepFields {
    pub step: S<u64>,
    pub from: Option<S<u64>>,
    pub to: Option<S<u64>>,
}

impl<'de> Deserialize<'de> for RawBytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawBytes;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array of byte counts or a table { step, from, to }")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<RawBytes, A::Error> {
                Vec::deserialize(de::value::SeqAccessDeserializer::new(seq)).map(RawBytes::List)
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawBytes, A::Error> {
                RawByteStepFields::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(Table)
                    .map(RawBytes::Step)
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub(crate) struct RawSequenceFields {
    pub name: Option<S<String>>,
    pub first: S<RawCutSpec>,
    pub then: S<RawThen>,
}

/// `then = { phase, offsets }`, or an array of them: the second cut, then a third during the
/// recovery from the second, and so on.
#[derive(Debug)]
pub(crate) enum RawThen {
    One(Box<RawCutSpec>),
    Chain(Vec<S<RawCutSpec>>),
}

impl<'de> Deserialize<'de> for RawThen {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawThen;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a table { phase, offsets } or an array of them")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<RawThen, A::Error> {
                Vec::deserialize(de::value::SeqAccessDeserializer::new(seq)).map(RawThen::Chain)
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawThen, A::Error> {
                RawCutSpecFields::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(Table)
                    .map(|t| RawThen::One(Box::new(t)))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub(crate) struct RawCutSpecFields {
    pub phase: S<String>,
    pub offsets: S<RawOffsets>,
}
