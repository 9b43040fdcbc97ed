//! The metadata of MCUboot's direct-XIP mode with revert: both slots' images and trailers, and
//! the application's note in the first sector of the map's scratch region. Which slot boots is
//! decided the way the firmware's bootloader decides it (`fut::scheme::direct_xip`: the highest
//! version among the slots with an image header; a slot whose trailer has no good magic, or
//! copy_done set without image_ok, is erased and the next one taken; an invalid image is erased
//! too).

use fut::image;
use fut::layout::{Layout, Slot};
use fut::scheme::direct_xip::{highest, note_area, selection, Note, Selection, NOTE_SIZE};
use fut::trailer::{self, Field};
use fut::PublicKey;

use super::mcuboot::fields;
use super::{McubootTrailers, MetadataDecoder, ReadAs, ReliedOn, RollbackCopy, Unconfirmed};
use crate::decode::{DirectXipReport, DirectXipSlot, FlagState, FlashReport, MagicState, Validity};
use crate::slice_flash::SliceFlash;

/// Both slots' trailers and the application's note.
#[derive(Debug, Clone, Copy, Default)]
pub struct DirectXipTrailers;

const SLOTS: [Slot; 2] = [Slot::Primary, Slot::Secondary];

/// Decides, from what `report` decoded and the trailers read from `flash`, which slot the
/// bootloader boots and why.
pub fn decide(flash: &mut SliceFlash<'_>, layout: &Layout, report: &FlashReport) -> DirectXipReport {
    let mut versions = [None, None];
    let mut states = [None, None];
    let mut slots = Vec::new();
    for (i, s) in SLOTS.into_iter().enumerate() {
        let area = layout.slot(s);
        versions[i] = image::read_header(flash, area).ok().map(|h| h.version);
        let g = layout.trailer_geom();
        let info = g.info_size();
        states[i] = flash
            .get(area.end() - info, info as usize)
            .and_then(|b| trailer::decode_tail(g, b))
            .map(|t| selection(&t));
        slots.push(DirectXipSlot {
            name: s.name().to_string(),
            version: versions[i].map(|v| v.to_string()),
            state: states[i].map(|x| x.name().to_string()),
        });
    }
    let mut steps = Vec::new();
    let mut boot_slot = None;
    let mut why = String::new();
    let mut available = versions;
    while let Some(s) = highest(&available) {
        let i = SLOTS.iter().position(|x| *x == s).unwrap_or(0);
        let version = versions[i].map(|v| v.to_string()).unwrap_or_default();
        let Some(state) = states[i] else {
            why = format!("the {} trailer is outside the dump", s.name());
            break;
        };
        if state.erases() {
            steps.push(format!("{}: {version} {}: erased", s.name(), state.name()));
            available[i] = None;
            continue;
        }
        let validity = report
            .slot(s.name())
            .and_then(|r| r.image.as_ref())
            .map(|im| im.validity);
        match validity {
            Some(Validity::Valid) | Some(Validity::Unverified) => {}
            other => {
                let what = other.map_or("not decoded", Validity::name);
                steps.push(format!("{}: {version} invalid image ({what}): erased", s.name()));
                available[i] = None;
                continue;
            }
        }
        steps.push(format!("{}: {version} {}: booted", s.name(), state.name()));
        why = match state {
            Selection::FirstTry => format!(
                "{version} is the highest version and was never tried: booted on trial (copy_done is set at this boot; \
                 unless it sets image_ok, the next boot erases it)"
            ),
            _ => format!("{version} is the highest version and is confirmed (copy_done and image_ok set)"),
        };
        boot_slot = Some(s.name().to_string());
        break;
    }
    if boot_slot.is_none() && why.is_empty() {
        why = "no slot holds a bootable image: nothing boots".to_string();
    }
    let note = flash
        .get(note_area(layout).offset, NOTE_SIZE)
        .and_then(Note::parse)
        .map(|n| n.version.to_string());
    DirectXipReport {
        slots,
        steps,
        boot_slot,
        why,
        note,
    }
}

impl MetadataDecoder for DirectXipTrailers {
    fn check_layout(&self, layout: &Layout) -> Result<(), String> {
        McubootTrailers.check_layout(layout)
    }

    fn decode(&self, flash: &mut SliceFlash<'_>, layout: &Layout, key: Option<&PublicKey>, report: &mut FlashReport) {
        McubootTrailers.decode(flash, layout, key, report);
        report.scratch = None;
        report.direct_xip = Some(decide(flash, layout, report));
    }

    /// With no record decoded, the primary (the first slot looked at).
    fn running_slot(&self) -> &'static str {
        Slot::Primary.name()
    }

    /// The highest bootable version, as [`decide`] finds it (it needs the images' validity:
    /// the whole decode).
    fn boot_pick(&self, report: &FlashReport) -> super::BootPick {
        let record = report.direct_xip.as_ref().map_or_else(
            || "trailers outside the dump".to_string(),
            |x| {
                if x.steps.is_empty() {
                    x.why.clone()
                } else {
                    format!("{}: {}", x.steps.join("; "), x.why)
                }
            },
        );
        super::BootPick {
            slot: self.booted_slot(report),
            name: None,
            record,
            disagreement: Vec::new(),
        }
    }

    fn booted_slot(&self, report: &FlashReport) -> Option<&'static str> {
        let x = report.direct_xip.as_ref()?;
        let name = x.boot_slot.as_deref()?;
        SLOTS.into_iter().map(Slot::name).find(|n| *n == name)
    }

    /// The booted slot's trailer without image_ok: the next boot erases the image.
    fn unconfirmed(&self, report: &FlashReport) -> Option<Unconfirmed> {
        let slot = self.booted_slot(report)?;
        let t = report.slot(slot)?.trailer.as_ref()?;
        (t.image_ok != FlagState::Set).then(|| Unconfirmed {
            record: format!("the {slot} trailer"),
            state: format!("image_ok {}", t.image_ok.name()),
        })
    }

    /// While the booted image is on trial, the other slot holds the image the bootloader falls
    /// back to once it erases the trial.
    fn rollback_copy(&self, report: &FlashReport) -> Option<RollbackCopy> {
        let slot = self.booted_slot(report)?;
        let t = report.slot(slot)?.trailer.as_ref()?;
        let other = if slot == Slot::Primary.name() {
            Slot::Secondary.name()
        } else {
            Slot::Primary.name()
        };
        (t.image_ok != FlagState::Set).then(|| RollbackCopy {
            slot: other,
            why: format!(
                "the {slot} image is on trial (image_ok {}): unless it confirms itself, the next boot erases it and \
                 boots the other slot",
                t.image_ok.name()
            ),
        })
    }

    /// A trailer left in a slot whose header is gone (a cut erase of a reverted image), and a
    /// torn magic.
    fn leftovers(&self, report: &FlashReport) -> Vec<String> {
        let mut w = Vec::new();
        for s in &report.slots {
            let no_image = s.image.as_ref().is_some_and(|i| i.header_erased);
            if let Some(t) = &s.trailer {
                if no_image && t.magic == MagicState::Good {
                    w.push(format!(
                        "{} trailer left behind: a good magic in a slot whose image header is erased",
                        s.name
                    ));
                }
                if t.magic == MagicState::Bad {
                    w.push(format!("{} trailer magic is torn (neither good nor erased)", s.name));
                }
            }
        }
        w
    }

    /// Each slot's trailer fields and the application's note.
    fn metadata_areas(&self, l: &Layout) -> Vec<std::ops::Range<u32>> {
        let info = |a: fut::layout::Area| a.end() - l.trailer_info_size()..a.end();
        let note = note_area(l).offset;
        vec![info(l.primary), info(l.secondary), note..note + NOTE_SIZE as u32]
    }

    /// In each slot with an image header: the magic, copy_done and image_ok the bootloader's
    /// selection reads. The note, when it reads whole: the application decides from it
    /// whether an offered version was already refused.
    fn relied_on(&self, report: &FlashReport, l: &Layout) -> Vec<ReliedOn> {
        let mut out = Vec::new();
        let x = report.direct_xip.as_ref();
        for (i, s) in SLOTS.into_iter().enumerate() {
            let has_image = x.and_then(|x| x.slots.get(i)).is_some_and(|d| d.version.is_some());
            if has_image {
                fields(
                    &mut out,
                    l,
                    s.name(),
                    l.slot(s),
                    &[Field::Magic, Field::CopyDone, Field::ImageOk],
                );
            }
        }
        if x.is_some_and(|x| x.note.is_some()) {
            let at = note_area(l).offset;
            out.push(ReliedOn {
                what: "application note".to_string(),
                range: at..at + 20,
                read_as: ReadAs::Value,
            });
        }
        out
    }
}
