//! Campaign and station files for cutpoint.
//!
//! A campaign says what to update, on which target, and where to cut the power: named phases
//! of the update found by console markers, and offsets inside them. This crate reads campaign
//! and station files (every error names the file, line, column and field), expands a
//! campaign into cut points on the timeline of an unfaulted run, and partitions the points.
//! `SCHEMA.md` beside this crate documents every key.

mod bound;
mod check;
mod de;
mod error;
mod esp_app;
mod expand;
mod flash_map;
mod hint;
mod image_file;
mod inputs;
mod load;
mod model;
mod offline;
mod partition;
mod raw;
mod region;
mod station;
mod unmatched;

pub use check::{campaign_summary, check_file, load_file, station_summary, CheckSummary, Checked, FileKind};
pub use error::{format_errors, FileError};
pub use esp_app::{check_esp_app_image, EspAppImage};
pub use expand::{
    cut_seed, expand_plan, expand_second_plan, find_phases, Aim, Anchor, CutPoint, ExpandError, FoundPhase, OffsetKind,
    OpSpan, Plan, SecondSpec, SkipKind, Skipped, Timeline, MAX_POINTS,
};
pub use flash_map::{load_flash_map, parse_flash_map, FlashMap, Region, SectorSizes, REGION_NAMES};
pub use image_file::{check_image_file, image_file_format, read_image_file, ImageFileError, ImageFormat};
pub use inputs::InputFile;
pub use load::{
    defaults, load_campaign, locate_in_campaign, parse_campaign, parse_op_point, MAX_BOOTS_LIMIT, MAX_CHAIN,
    MAX_RANDOM, MAX_REPETITIONS, SIM_MAX_SIZE_KIB, SIM_SLOT_SIZE,
};
pub use model::{
    fraction_text, Board, ByteOffsets, Campaign, CommitPoint, CutSpec, Delivery, Downgrade, Expect, FaultKind,
    FinalImage, Fixed, Health, ImageSource, Images, Markers, Mode, Offsets, OpPoint, Pass, Pattern, Phase, Run,
    SectorOffsets, Sequence, Tamper, Target, TargetKind, Upgrade, Variant,
};
pub use offline::{plan_offline, OfflinePlan, OfflinePoint, Pending};
pub use partition::{check_partition, in_partition, parse_partition, PartitionError};
pub use region::{FlashRegion, RegionMap, RegionSet};
pub use station::{
    load_station, parse_station, LegacyRegion, MapSource, RestorePolicy, Role, RoleTable, StationFile, StationMap,
    UNREACHABLE_DEVICE_ERASES,
};
pub use unmatched::{nearest_lines, unmatched_markers, unmatched_refusal, UnmatchedMarker};
