//! Flash maps: the erase and write units and named regions with an offset and a size. The same
//! table is a `cutpoint inspect --layout FILE` file and a station's `[layout]`:
//!
//! ```toml
//! sector_size = 4096
//! write_size = 4
//! [[regions]]
//! name = "primary"
//! offset = 0x10000
//! size = 0x30000
//! ```

use std::collections::HashSet;
use std::path::Path;

use fut::layout::{Area, Layout, LayoutError, Role};
use fut::map::Sectors;
use serde::Deserialize;
use toml::de::DeValue;
use toml::Spanned;

use crate::de::{Doc, Seg};
use crate::error::FileError;
use crate::hint;
use crate::load::read_text;

/// The regions cutpoint knows, in flash order, by the name of their role. `bootloader` is
/// optional.
pub const REGION_NAMES: [&str; 4] = [
    Role::Bootloader.name(),
    Role::Primary.name(),
    Role::Secondary.name(),
    Role::Scratch.name(),
];

/// The names other tools give these regions (Zephyr's partitions, MCUboot's slots).
const OTHER_NAMES: [(&str, &str); 8] = [
    ("boot", "bootloader"),
    ("mcuboot", "bootloader"),
    ("slot0", "primary"),
    ("image-0", "primary"),
    ("slot1", "secondary"),
    ("image-1", "secondary"),
    ("image-scratch", "scratch"),
    ("scratch_partition", "scratch"),
];

/// A flash map, checked: sector aligned, slots of one size, nothing overlapping, room for
/// MCUboot's trailer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlashMap {
    /// Erase unit in bytes.
    pub sector_size: u32,
    /// Program unit in bytes.
    pub write_size: u32,
    /// In the order written.
    pub regions: Vec<Region>,
}

/// One named region of a flash map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region {
    pub name: String,
    pub offset: u32,
    pub size: u32,
}

impl Region {
    /// What the region is for (its name is its role's).
    pub fn role(&self) -> Role {
        Role::from_name(&self.name).unwrap_or(Role::Metadata)
    }
}

impl FlashMap {
    pub fn region(&self, name: &str) -> Option<&Region> {
        self.regions.iter().find(|r| r.name == name)
    }

    /// The map as named, typed regions (the firmware's flash map type), borrowing this one.
    pub fn typed_regions(&self) -> Vec<fut::map::Region<'_>> {
        self.regions
            .iter()
            .map(|r| fut::map::Region {
                name: &r.name,
                role: r.role(),
                area: Area {
                    offset: r.offset,
                    size: r.size,
                },
                sectors: Sectors::Uniform(self.sector_size),
                device: None,
            })
            .collect()
    }

    /// The map as the bootloader's layout (no bootloader region: an empty one at 0).
    pub fn layout(&self) -> Layout {
        let regions = self.typed_regions();
        let map = fut::map::FlashMap {
            write_size: self.write_size,
            regions: &regions,
        };
        // Every region has the map's one sector size, so the view always exists.
        map.layout().unwrap_or(Layout {
            sector_size: self.sector_size,
            write_size: self.write_size,
            bootloader: Area { offset: 0, size: 0 },
            primary: Area { offset: 0, size: 0 },
            secondary: Area { offset: 0, size: 0 },
            scratch: Area { offset: 0, size: 0 },
        })
    }

    /// The map of a layout, with its four regions.
    pub fn from_layout(l: &Layout) -> FlashMap {
        FlashMap {
            sector_size: l.sector_size,
            write_size: l.write_size,
            regions: l
                .regions()
                .map(|r| Region {
                    name: r.name.to_string(),
                    offset: r.area.offset,
                    size: r.area.size,
                })
                .collect(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub(crate) struct RawMap {
    sector_size: Spanned<u32>,
    write_size: Spanned<u32>,
    #[serde(default)]
    regions: Option<Spanned<Vec<Spanned<RawRegion>>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table { name, offset, size }")]
struct RawRegion {
    name: Spanned<String>,
    offset: Spanned<u32>,
    size: Spanned<u32>,
}

/// Reads and checks a flash map file.
pub fn load_flash_map(path: impl AsRef<Path>) -> Result<FlashMap, Vec<FileError>> {
    let path = path.as_ref();
    let text = read_text(path)?;
    parse_flash_map(&text, path)
}

/// Checks flash map text; `path` names the file in errors.
pub fn parse_flash_map(text: &str, path: &Path) -> Result<FlashMap, Vec<FileError>> {
    let file = path.display().to_string();
    let doc = Doc::parse(&file, text, &[]).map_err(|e| vec![e])?;
    let old = old_form(doc.root.get_ref().iter().map(|(k, _)| (k.get_ref().as_ref(), k.span())));
    if let Some((key, span)) = old {
        return Err(vec![doc.error(&[Seg::key(key)], span, old_form_message(key, ""))]);
    }
    let raw: RawMap = doc.decode().map_err(|e| vec![e])?;
    check_map(&doc, &[], raw)
}

/// Reads the table at `at` (a station's `[layout]`) as a flash map.
pub(crate) fn decode_map(doc: &Doc<'_>, at: &[Seg], value: &Spanned<DeValue<'_>>) -> Result<FlashMap, Vec<FileError>> {
    if let DeValue::Table(t) = value.get_ref() {
        if let Some((key, span)) = old_form(t.iter().map(|(k, _)| (k.get_ref().as_ref(), k.span()))) {
            let mut path = at.to_vec();
            path.push(Seg::key(key));
            return Err(vec![doc.error(&path, span, old_form_message(key, "layout."))]);
        }
    }
    let raw: RawMap = doc.decode_value(at, value, false).map_err(|e| vec![e])?;
    check_map(doc, at, raw)
}

/// The first key of the earlier `primary = { offset, size }` form, if the table uses it.
fn old_form<'k>(
    keys: impl Iterator<Item = (&'k str, std::ops::Range<usize>)>,
) -> Option<(&'k str, std::ops::Range<usize>)> {
    keys.into_iter().find(|(k, _)| REGION_NAMES.contains(k))
}

fn old_form_message(key: &str, prefix: &str) -> String {
    format!(
        "regions are listed as [[{prefix}regions]] tables: write [[{prefix}regions]] with name = \"{key}\", offset = ..., \
         size = ... instead of {key} = {{ offset, size }}"
    )
}

fn with(base: &[Seg], more: &[Seg]) -> Vec<Seg> {
    let mut v = base.to_vec();
    v.extend(more.iter().cloned());
    v
}

/// The semantic checks, each error at the value it is about.
fn check_map(doc: &Doc<'_>, at: &[Seg], raw: RawMap) -> Result<FlashMap, Vec<FileError>> {
    let mut errors = Vec::new();
    let sector = *raw.sector_size.get_ref();
    let write = *raw.write_size.get_ref();
    if sector == 0 {
        errors.push(doc.error(
            &with(at, &[Seg::key("sector_size")]),
            raw.sector_size.span(),
            "expected the erase unit in bytes (e.g. 4096), got 0",
        ));
    }
    if write == 0 || (sector != 0 && !sector.is_multiple_of(write)) {
        errors.push(doc.error(
            &with(at, &[Seg::key("write_size")]),
            raw.write_size.span(),
            format!("expected the program unit in bytes, a divisor of sector_size ({sector}), got {write}"),
        ));
    }
    let rbase = with(at, &[Seg::key("regions")]);
    let list: &[Spanned<RawRegion>] = raw.regions.as_ref().map_or(&[], |r| r.get_ref().as_slice());
    let table_span = raw.regions.as_ref().map_or_else(|| doc.span_of(at), |r| r.span());
    let mut seen: HashSet<String> = HashSet::new();
    let mut regions: Vec<(Region, &RawRegion, Vec<Seg>)> = Vec::new();
    for (i, r) in list.iter().enumerate() {
        let path = with(&rbase, &[Seg::Index(i)]);
        let r = r.get_ref();
        let name = r.name.get_ref().trim().to_string();
        if !REGION_NAMES.contains(&name.as_str()) {
            let lower = name.to_ascii_lowercase();
            let known = OTHER_NAMES
                .iter()
                .find(|(other, _)| lower == *other || lower.strip_suffix("_partition") == Some(other))
                .map(|(_, n)| *n)
                .or_else(|| hint::closest(&name, &REGION_NAMES));
            let hint = known.map(|h| format!("; did you mean \"{h}\"?")).unwrap_or_default();
            errors.push(doc.error(
                &with(&path, &[Seg::key("name")]),
                r.name.span(),
                format!(
                    "expected one of \"bootloader\", \"primary\", \"secondary\", \"scratch\", got \"{name}\"{hint} \
                     (leave out regions cutpoint does not use)"
                ),
            ));
            continue;
        }
        if !seen.insert(name.clone()) {
            errors.push(doc.error(
                &with(&path, &[Seg::key("name")]),
                r.name.span(),
                format!("region \"{name}\" is listed twice"),
            ));
            continue;
        }
        let (offset, size) = (*r.offset.get_ref(), *r.size.get_ref());
        if size == 0 {
            errors.push(doc.error(
                &with(&path, &[Seg::key("size")]),
                r.size.span(),
                "expected a size of at least one sector, got 0",
            ));
        } else if sector != 0 && !size.is_multiple_of(sector) {
            errors.push(doc.error(
                &with(&path, &[Seg::key("size")]),
                r.size.span(),
                format!("expected a whole number of sectors ({sector:#x} bytes each), got {size:#x}"),
            ));
        }
        if sector != 0 && !offset.is_multiple_of(sector) {
            errors.push(doc.error(
                &with(&path, &[Seg::key("offset")]),
                r.offset.span(),
                format!("expected a sector boundary (a multiple of {sector:#x}), got {offset:#x}"),
            ));
        }
        if offset.checked_add(size).is_none() {
            errors.push(doc.error(
                &with(&path, &[Seg::key("size")]),
                r.size.span(),
                format!("{offset:#x} + {size:#x} ends past 4 GiB"),
            ));
            continue;
        }
        for (other, _, _) in &regions {
            if offset < other.offset + other.size && other.offset < offset + size {
                errors.push(doc.error(
                    &with(&path, &[Seg::key("offset")]),
                    r.offset.span(),
                    format!(
                        "{name} ({offset:#x}..{:#x}) overlaps {} ({:#x}..{:#x})",
                        offset + size,
                        other.name,
                        other.offset,
                        other.offset + other.size
                    ),
                ));
            }
        }
        regions.push((Region { name, offset, size }, r, path));
    }
    let tables = doc.render_path(&rbase);
    for needed in ["primary", "secondary", "scratch"] {
        if !seen.contains(needed) {
            errors.push(doc.error(
                &rbase,
                table_span.clone(),
                format!(
                    "missing region \"{needed}\": a flash map needs primary, secondary and scratch \
                     ([[{tables}]] tables with name, offset, size)"
                ),
            ));
        }
    }
    if !errors.is_empty() {
        errors.sort_by_key(|e| (e.line, e.column));
        return Err(errors);
    }
    let map = FlashMap {
        sector_size: sector,
        write_size: write,
        regions: regions.iter().map(|(r, _, _)| r.clone()).collect(),
    };
    let find = |name: &str| regions.iter().find(|(r, _, _)| r.name == name);
    match map.layout().validate() {
        Ok(()) => Ok(map),
        Err(e) => {
            let (which, why) = match e {
                LayoutError::SlotsDiffer => (
                    "secondary",
                    "the secondary slot must be the size of the primary slot".to_string(),
                ),
                LayoutError::ScratchTooSmall => ("scratch", "the scratch area needs at least one sector".to_string()),
                LayoutError::TrailerTooLarge => (
                    "primary",
                    format!(
                        "the slots are too small for MCUboot's trailer (3 status records of {write} bytes per sector \
                         and 48 bytes of fields) and an image"
                    ),
                ),
                LayoutError::NotSectorAligned | LayoutError::Overlap => {
                    ("primary", format!("the regions do not form a valid flash map ({e:?})"))
                }
            };
            let (_, raw, path) = find(which)
                .or_else(|| regions.first())
                .ok_or_else(|| vec![doc.error(&rbase, table_span.clone(), why.clone())])?;
            Err(vec![doc.error(&with(path, &[Seg::key("size")]), raw.size.span(), why)])
        }
    }
}
