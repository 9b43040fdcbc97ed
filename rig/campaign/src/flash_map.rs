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

/// A flash map, checked: sector aligned, slots of one size, nothing overlapping on one device,
/// room for MCUboot's trailer. A scratch region is optional here: whether the map needs one
/// depends on the mode it runs (see [`FlashMap::scratch_problem`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlashMap {
    /// Erase unit in bytes of every region that does not state its own sectors.
    pub sector_size: u32,
    /// Program unit in bytes.
    pub write_size: u32,
    /// In the order written.
    pub regions: Vec<Region>,
}

/// How a region is divided into erase sectors, when it says so itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SectorSizes {
    /// `sector_size = N`: every sector of the region has this size.
    Uniform(u32),
    /// `sectors = [N, ...]`: the sizes of the region's sectors in address order.
    List(Vec<u32>),
}

/// One named, typed region of a flash map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region {
    pub name: String,
    /// What the region is for: `role = "..."`, or its name when that is a role's.
    pub role: Role,
    pub offset: u32,
    pub size: u32,
    /// Its own sectors; `None` for the map's `sector_size`.
    pub sectors: Option<SectorSizes>,
    /// The flash device it lives on; `None` for the part's own flash.
    pub device: Option<String>,
}

impl Region {
    /// A region of the part's own flash with the map's sectors, its role named by `name`
    /// (a name that is no role's is a metadata region).
    pub fn new(name: impl Into<String>, offset: u32, size: u32) -> Region {
        let name = name.into();
        Region {
            role: Role::from_name(&name).unwrap_or(Role::Metadata),
            name,
            offset,
            size,
            sectors: None,
            device: None,
        }
    }

    /// What the region is for.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Its sectors as the firmware's flash map states them, `sector_size` being the map's.
    fn typed_sectors(&self, sector_size: u32) -> Sectors<'_> {
        match &self.sectors {
            None => Sectors::Uniform(sector_size),
            Some(SectorSizes::Uniform(s)) => Sectors::Uniform(*s),
            Some(SectorSizes::List(list)) => Sectors::List(list),
        }
    }

    /// The end of the region (exclusive), as a 64-bit address.
    pub fn end(&self) -> u64 {
        u64::from(self.offset) + u64::from(self.size)
    }
}

impl FlashMap {
    pub fn region(&self, name: &str) -> Option<&Region> {
        self.regions.iter().find(|r| r.name == name)
    }

    /// The region of the part's own flash with `role` (the first one).
    pub fn with_role(&self, role: Role) -> Option<&Region> {
        self.regions.iter().find(|r| r.role == role && r.device.is_none())
    }

    /// The map as named, typed regions (the firmware's flash map type), borrowing this one.
    pub fn typed_regions(&self) -> Vec<fut::map::Region<'_>> {
        self.regions
            .iter()
            .map(|r| fut::map::Region {
                name: &r.name,
                role: r.role,
                area: Area {
                    offset: r.offset,
                    size: r.size,
                },
                sectors: r.typed_sectors(self.sector_size),
                device: r.device.as_deref(),
            })
            .collect()
    }

    /// The regions the bootloader's view is made of: a slot or the scratch area on another
    /// device (`device = "mx25r6435f"`, a serial NOR beside the part) is still the
    /// bootloader's, at its `offset` in the address map the target's flash driver presents; the
    /// probe cannot read it ([`FlashMap::unreadable`]). Other regions on other devices (a log)
    /// stay out of the view.
    fn view_regions(&self) -> Vec<fut::map::Region<'_>> {
        let mut regions = self.typed_regions();
        for r in &mut regions {
            if matches!(r.role, Role::Primary | Role::Secondary | Role::Scratch) {
                r.device = None;
            }
        }
        regions
    }

    /// The slots and scratch area that live on another device than the part's own flash, with
    /// that device's name: the probe reads the part's flash as CPU memory and cannot read them
    /// (a rig limitation, never the device's state).
    pub fn unreadable(&self) -> Vec<(Area, String)> {
        self.regions
            .iter()
            .filter(|r| matches!(r.role, Role::Primary | Role::Secondary | Role::Scratch))
            .filter_map(|r| {
                let d = r.device.as_ref()?;
                Some((
                    Area {
                        offset: r.offset,
                        size: r.size,
                    },
                    d.clone(),
                ))
            })
            .collect()
    }

    /// The map as the bootloader's layout (no bootloader region: an empty one at 0). A map that
    /// has no such view (slots with sectors of different sizes) gives empty areas, which
    /// [`Layout::validate`] rejects; a checked map always has it.
    pub fn layout(&self) -> Layout {
        let regions = self.view_regions();
        let map = fut::map::FlashMap {
            write_size: self.write_size,
            regions: &regions,
        };
        map.layout().unwrap_or(Layout {
            sector_size: self.sector_size,
            write_size: self.write_size,
            bootloader: Area { offset: 0, size: 0 },
            primary: Area { offset: 0, size: 0 },
            secondary: Area { offset: 0, size: 0 },
            scratch: Area { offset: 0, size: 0 },
        })
    }

    /// The bootloader's view of the map, or why the map has none.
    pub fn checked_layout(&self) -> Result<Layout, LayoutError> {
        let regions = self.view_regions();
        fut::map::FlashMap {
            write_size: self.write_size,
            regions: &regions,
        }
        .layout()
    }

    /// Why the map cannot run `mode` for want of a scratch region (none, or one too small for
    /// what the mode keeps there), in words that say what to add; `None` when the mode needs no
    /// scratch or the map has what it needs. Other problems of the map are reported where it is
    /// read.
    pub fn scratch_problem(&self, mode: fut::scheme::Mode) -> Option<String> {
        let what = mode.scratch_use()?;
        let layout = self.checked_layout().ok()?;
        let sector = layout.sector_size;
        match mode.scheme().check_layout(&layout) {
            Err(LayoutError::NoScratch) => Some(format!(
                "mode {mode} needs a scratch region ({what}): add [[layout.regions]] name = \"scratch\", \
                 offset = ..., size = ... (whole sectors of {sector:#x} bytes, apart from the slots), or run a mode \
                 without one (swap-move, swap-offset, overwrite)"
            )),
            Err(LayoutError::ScratchTooSmall) => Some(format!(
                "the scratch region ({:#x} bytes) is too small for mode {mode} ({what}): make it larger, in whole \
                 sectors of {sector:#x} bytes",
                layout.scratch.size
            )),
            _ => None,
        }
    }

    /// The map of a built-in board: its layout's regions, each on the device of the board's
    /// flash it lies in (a board of several devices has them one after the other in one
    /// address map; a region past the first device is on another, which a probe cannot read:
    /// [`FlashMap::unreadable`]).
    pub fn from_board(b: &cutpoint_sim::BoardProfile) -> FlashMap {
        let mut map = FlashMap::from_layout(&b.layout);
        if b.flash.devices.len() > 1 {
            for r in &mut map.regions {
                let mut start = 0u64;
                for (i, d) in b.flash.devices.iter().enumerate() {
                    let end = start + u64::from(d.size);
                    if (start..end).contains(&u64::from(r.offset)) {
                        if i > 0 {
                            r.device = Some(d.name.clone());
                        }
                        break;
                    }
                    start = end;
                }
            }
        }
        map
    }

    pub fn from_layout(l: &Layout) -> FlashMap {
        FlashMap {
            sector_size: l.sector_size,
            write_size: l.write_size,
            regions: l
                .regions()
                .map(|r| Region::new(r.name, r.area.offset, r.area.size))
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
    role: Option<Spanned<String>>,
    offset: Spanned<u32>,
    size: Spanned<u32>,
    sector_size: Option<Spanned<u32>>,
    sectors: Option<Spanned<Vec<u32>>>,
    device: Option<Spanned<String>>,
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
    let mut roles_seen: HashSet<Role> = HashSet::new();
    let mut regions: Vec<(Region, &RawRegion, Vec<Seg>)> = Vec::new();
    let roles_text = Role::ALL.map(|r| format!("\"{}\"", r.name())).join(", ");
    for (i, r) in list.iter().enumerate() {
        let path = with(&rbase, &[Seg::Index(i)]);
        let r = r.get_ref();
        let at = |key: &str| with(&path, &[Seg::key(key)]);
        let name = r.name.get_ref().trim().to_string();
        let role = match &r.role {
            Some(role) => match Role::from_name(role.get_ref().trim()) {
                Some(known) => known,
                None => {
                    let names = Role::ALL.map(Role::name);
                    let hint = hint::closest(role.get_ref(), &names)
                        .map(|h| format!("; did you mean \"{h}\"?"))
                        .unwrap_or_default();
                    errors.push(doc.error(
                        &at("role"),
                        role.span(),
                        format!(
                            "unknown role \"{}\": expected one of {roles_text}{hint}",
                            role.get_ref()
                        ),
                    ));
                    continue;
                }
            },
            None => match Role::from_name(&name) {
                Some(known) => known,
                None => {
                    let lower = name.to_ascii_lowercase();
                    let known = OTHER_NAMES
                        .iter()
                        .find(|(other, _)| lower == *other || lower.strip_suffix("_partition") == Some(other))
                        .map(|(_, n)| *n)
                        .or_else(|| hint::closest(&name, &REGION_NAMES));
                    let hint = known.map(|h| format!("; did you mean \"{h}\"?")).unwrap_or_default();
                    errors.push(doc.error(
                        &at("name"),
                        r.name.span(),
                        format!(
                            "expected one of \"bootloader\", \"primary\", \"secondary\", \"scratch\", got \"{name}\"{hint} \
                             (or give the region's role = one of {roles_text}; leave out regions cutpoint does not use)"
                        ),
                    ));
                    continue;
                }
            },
        };
        if name.is_empty() || !seen.insert(name.clone()) {
            let why = if name.is_empty() {
                "expected a non-empty region name".to_string()
            } else {
                format!("region \"{name}\" is listed twice")
            };
            errors.push(doc.error(&at("name"), r.name.span(), why));
            continue;
        }
        let device = r.device.as_ref().map(|d| d.get_ref().trim().to_string());
        if let Some(d) = &r.device {
            if d.get_ref().trim().is_empty() {
                errors.push(doc.error(
                    &at("device"),
                    d.span(),
                    "expected the flash device's name (leave device out for the part's own flash)",
                ));
            }
        }
        // A slot or scratch area on another device is still the bootloader's (one of each);
        // a bootloader region elsewhere is not.
        let in_view = device.is_none() || matches!(role, Role::Primary | Role::Secondary | Role::Scratch);
        if role != Role::Metadata && in_view && !roles_seen.insert(role) {
            let span = r.role.as_ref().map_or_else(|| r.name.span(), |x| x.span());
            errors.push(doc.error(
                &at(if r.role.is_some() { "role" } else { "name" }),
                span,
                format!(
                    "a second {} region: a map has one region of each role but metadata",
                    role.name()
                ),
            ));
            continue;
        }
        let (offset, size) = (*r.offset.get_ref(), *r.size.get_ref());
        let sectors = match (&r.sector_size, &r.sectors) {
            (Some(a), Some(_)) => {
                errors.push(doc.error(
                    &at("sector_size"),
                    a.span(),
                    "give the region's sector_size (all sectors alike) or its sectors list, not both",
                ));
                continue;
            }
            (Some(s), None) => Some(SectorSizes::Uniform(*s.get_ref())),
            (None, Some(list)) => Some(SectorSizes::List(list.get_ref().clone())),
            (None, None) => None,
        };
        let mut sizes_ok = true;
        for (value, span, key) in [(
            r.sector_size.as_ref().map(|s| *s.get_ref()),
            r.sector_size.as_ref().map(|s| s.span()),
            "sector_size",
        )]
        .into_iter()
        .chain(
            r.sectors
                .iter()
                .flat_map(|l| l.get_ref().iter().map(move |v| (Some(*v), Some(l.span()), "sectors"))),
        ) {
            let (Some(v), Some(span)) = (value, span) else { continue };
            if v == 0 || (write != 0 && !v.is_multiple_of(write)) {
                errors.push(doc.error(
                    &at(key),
                    span,
                    format!("expected sector sizes in bytes, multiples of write_size ({write}), got {v}"),
                ));
                sizes_ok = false;
                break;
            }
        }
        if !sizes_ok {
            continue;
        }
        if size == 0 {
            errors.push(doc.error(
                &at("size"),
                r.size.span(),
                "expected a size of at least one sector, got 0",
            ));
        }
        match &sectors {
            Some(SectorSizes::List(list)) => {
                let total: u64 = list.iter().map(|&v| u64::from(v)).sum();
                if list.is_empty() || total != u64::from(size) {
                    let span = r.sectors.as_ref().map_or_else(|| r.size.span(), |l| l.span());
                    errors.push(doc.error(
                        &at("sectors"),
                        span,
                        format!(
                            "the sectors add up to {total:#x} bytes, but the region's size is {size:#x}; \
                             list every sector of the region"
                        ),
                    ));
                }
            }
            _ => {
                let sector = match &sectors {
                    Some(SectorSizes::Uniform(s)) => *s,
                    _ => sector,
                };
                if size != 0 && sector != 0 && !size.is_multiple_of(sector) {
                    errors.push(doc.error(
                        &at("size"),
                        r.size.span(),
                        format!("expected a whole number of sectors ({sector:#x} bytes each), got {size:#x}"),
                    ));
                }
                if sector != 0 && !offset.is_multiple_of(sector) {
                    errors.push(doc.error(
                        &at("offset"),
                        r.offset.span(),
                        format!("expected a sector boundary (a multiple of {sector:#x}), got {offset:#x}"),
                    ));
                }
            }
        }
        if offset.checked_add(size).is_none() {
            errors.push(doc.error(
                &at("size"),
                r.size.span(),
                format!("{offset:#x} + {size:#x} ends past 4 GiB"),
            ));
            continue;
        }
        let region = Region {
            name,
            role,
            offset,
            size,
            sectors,
            device,
        };
        for (other, _, _) in regions.iter().filter(|(o, _, _)| o.device == region.device) {
            if u64::from(region.offset) < other.end() && u64::from(other.offset) < region.end() {
                let on = region.device.as_deref().map(|d| format!(" on {d}")).unwrap_or_default();
                errors.push(doc.error(
                    &at("offset"),
                    r.offset.span(),
                    format!(
                        "{} ({:#x}..{:#x}) overlaps {} ({:#x}..{:#x}){on}",
                        region.name,
                        region.offset,
                        region.end(),
                        other.name,
                        other.offset,
                        other.end()
                    ),
                ));
            }
        }
        regions.push((region, r, path));
    }
    let tables = doc.render_path(&rbase);
    // A scratch region only where the campaign's mode needs one (swap-scratch, and the A/B
    // schemes that keep their record there): checked against the mode, not here
    // (`StationFile::check_scratch`).
    for needed in [Role::Primary, Role::Secondary] {
        if !roles_seen.contains(&needed) {
            let needed = needed.name();
            errors.push(doc.error(
                &rbase,
                table_span.clone(),
                format!(
                    "missing region \"{needed}\": a flash map needs a primary and a secondary slot \
                     ([[{tables}]] tables with name, offset, size), and a scratch region where the mode uses one"
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
    let find = |role: &str| {
        regions
            .iter()
            .find(|(r, _, _)| r.role.name() == role && r.device.is_none())
    };
    match map.checked_layout().and_then(|l| l.validate()) {
        Ok(()) => Ok(map),
        Err(e) => {
            let (which, why) = match e {
                LayoutError::SlotsDiffer => (
                    "secondary",
                    "the secondary slot must be the size of the primary slot".to_string(),
                ),
                LayoutError::ScratchTooSmall | LayoutError::NoScratch => {
                    ("scratch", "the scratch area needs at least one sector".to_string())
                }
                LayoutError::TrailerTooLarge => (
                    "primary",
                    format!(
                        "the slots are too small for MCUboot's trailer (3 status records of {write} bytes per sector \
                         and {} bytes of fields) and an image",
                        fut::trailer::Geom::for_write_size(write).info_size()
                    ),
                ),
                LayoutError::NotSectorAligned => (
                    "secondary",
                    "the primary, secondary and scratch regions must have sectors of one size, or divide \
                     into groups of whole sectors the size of the slots' largest sector (the swap moves \
                     whole, equal groups)"
                        .to_string(),
                ),
                LayoutError::WriteTooWide => (
                    "primary",
                    format!(
                        "write_size {write} is wider than 32 bytes, the widest BOOT_MAX_ALIGN MCUboot's swap modes \
                         take; MCUboot needs BOOT_MAX_ALIGN of at least the write size"
                    ),
                ),
                LayoutError::SectorsDiffer => (
                    "secondary",
                    "the slots' sectors must all have one size (the swap moves sector for sector)".to_string(),
                ),
                LayoutError::SecondaryNotExecutable => (
                    "secondary",
                    "the secondary slot is on a device the part does not run code from".to_string(),
                ),
                LayoutError::Overlap | LayoutError::GeometryUnsupported => {
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
