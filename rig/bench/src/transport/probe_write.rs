//! Delivers the update through the debug probe: writes it into the secondary slot and marks it
//! pending with an MCUboot image trailer laid out for the bootloader's BOOT_MAX_ALIGN (8, 16
//! or 32: the station's flash map gives it), the way the device's own update agent would after
//! a download.
//!
//! The trailer is what MCUboot's `boot_set_next(fa, active = false, confirm)` writes into an
//! erased secondary trailer (bootutil_public.c at 2d4bacc, the commit `fut::trailer` cites):
//! the magic (`boot_write_magic`: one BOOT_MAGIC_ALIGN_SIZE block, erased padding first),
//! image_ok = 0x01 for a permanent request (`boot_write_image_ok`), and swap_info =
//! `image << 4 | type` with type 2 (test) or 3 (perm) and image 0 (`boot_write_swap_info`,
//! `BOOT_SET_SWAP_INFO` in bootutil_public.h). Each field is padded with the erased value, so
//! the bytes do not depend on the part's write size; the field offsets do depend on
//! BOOT_MAX_ALIGN ([`Geom`]).
//!
//! The image goes where the bootloader's scheme looks for a pending update: at the slot's start,
//! except in MCUboot's swap-using-offset, where "Update image must be placed starting at the
//! second sector in the secondary slot" (MCUboot docs/design.md at 2d4bacc, "Swap using offset";
//! bootutil swap_offset.c, `boot_read_image_header`, reads a pending update's header at
//! `boot_img_sector_size(state, BOOT_SLOT_SECONDARY, 0)`, the size of the secondary's first
//! sector). The rig gives that offset from the station's flash map
//! ([`ProbeWriteTransportConfig::image_offset`]); the trailer stays at the slot's end.
//!
//! The whole slot is rewritten (erased first sector where the image sits one sector in, image,
//! erased filler, trailer) so stale swap-status records from an earlier update cannot survive.
//! A hold at byte N writes only the first N bytes of the image, at its place, and no trailer: an
//! interrupted transfer.

use crate::config::ProbeWriteTransportConfig;
use crate::shared::SharedProbe;
use cutpoint_core::DeliveryCounter;
use cutpoint_core::{OtaTransport, Probe, RigError, RigResult};

pub use fut::trailer::{Flag, Geom, Magic, SwapType, MAGIC as MAGIC_ALIGN8};
use fut::trailer::{Trailer, ERASED, MAX_INFO_BYTES, TRAILER_INFO_BYTES};
/// Bytes at the end of the slot the trailer's fixed fields take at MCUboot's default
/// BOOT_MAX_ALIGN of 8 (magic, image_ok, copy_done, swap_info, swap_size), the least any
/// alignment takes; [`Geom::info_size`] gives them for the station's alignment.
pub const TRAILER_INFO: usize = TRAILER_INFO_BYTES;

/// The trailer fields of a pending request: a good magic, image_ok set for a permanent one,
/// swap_info holding the swap type (image 0).
fn request(permanent: bool) -> Trailer {
    let kind = if permanent { SwapType::Perm } else { SwapType::Test };
    Trailer {
        magic: Magic::Good,
        image_ok: if permanent { Flag::Set } else { Flag::Unset },
        copy_done: Flag::Unset,
        swap_info: kind.code(),
        swap_size: u32::MAX,
    }
}

/// The slot contents that make `image` the pending update for a bootloader whose trailer has
/// geometry `g` and which looks for the update `image_offset` bytes into the slot: erased bytes
/// up to the image, the image, erased filler, trailer.
pub fn pending_slot(
    image: &[u8],
    slot_size: usize,
    image_offset: usize,
    permanent: bool,
    g: Geom,
) -> Result<Vec<u8>, String> {
    let info = g.info_size() as usize;
    if image_offset + image.len() + info > slot_size {
        let at = if image_offset == 0 {
            String::new()
        } else {
            format!(" from byte {image_offset:#x} (where the bootloader looks for it)")
        };
        return Err(format!(
            "image of {} bytes{at} does not fit a slot of {slot_size} bytes with its {info}-byte trailer \
             (BOOT_MAX_ALIGN {})",
            image.len(),
            g.align()
        ));
    }
    let mut slot = vec![ERASED; slot_size];
    slot[image_offset..image_offset + image.len()].copy_from_slice(image);
    let block = fut::trailer::encode(g, &request(permanent));
    slot[slot_size - info..].copy_from_slice(&block[MAX_INFO_BYTES - info..]);
    Ok(slot)
}

/// Decodes the trailer fields of geometry `g` at the end of `tail` (the last bytes of a slot,
/// at least the fixed fields) with the firmware's own decoder; `None` when fewer bytes are
/// given.
pub fn parse_trailer(tail: &[u8], g: Geom) -> Option<Trailer> {
    fut::trailer::decode_tail(g, tail)
}

/// The trailer geometry of BOOT_MAX_ALIGN `align` (`None`: MCUboot's default of 8).
pub fn geom_of(align: Option<u32>) -> Result<Geom, String> {
    match align {
        None => Ok(Geom::DEFAULT),
        Some(a) => {
            Geom::new(a).ok_or_else(|| format!("trailer alignment {a}: MCUboot's BOOT_MAX_ALIGN is 8, 16 or 32"))
        }
    }
}

pub struct ProbeWriteTransport {
    probe: SharedProbe,
    cfg: ProbeWriteTransportConfig,
    geom: Geom,
    hold: Option<u64>,
    delivered: DeliveryCounter,
}

impl ProbeWriteTransport {
    pub fn open(cfg: &ProbeWriteTransportConfig, probe: SharedProbe) -> RigResult<Self> {
        if cfg.slot_size == 0 {
            return Err(RigError::open(
                "transport/probe-write",
                "no slot to write to: the station's flash map gives it (its secondary region); \
                 give the station a [layout] or a [target] board",
            ));
        }
        let geom = geom_of(cfg.trailer_align).map_err(|e| RigError::open("transport/probe-write", e))?;
        if cfg.image_offset >= cfg.slot_size {
            return Err(RigError::open(
                "transport/probe-write",
                format!(
                    "the image would start {:#x} bytes into a slot of {:#x} bytes",
                    cfg.image_offset, cfg.slot_size
                ),
            ));
        }
        if cfg.slot_size <= geom.info_size() {
            return Err(RigError::open(
                "transport/probe-write",
                format!(
                    "slot_size {} is too small for the {}-byte trailer of BOOT_MAX_ALIGN {}",
                    cfg.slot_size,
                    geom.info_size(),
                    geom.align()
                ),
            ));
        }
        Ok(ProbeWriteTransport {
            probe,
            cfg: cfg.clone(),
            geom,
            hold: None,
            delivered: DeliveryCounter::new(),
        })
    }
}

impl OtaTransport for ProbeWriteTransport {
    fn describe(&self) -> String {
        let at = match self.cfg.image_offset {
            0 => String::new(),
            n => format!(" (image at +{n:#x})"),
        };
        format!(
            "transport/probe-write:{:#x}+{:#x}{at} via {}",
            self.cfg.slot_addr,
            self.cfg.slot_size,
            self.probe.describe()
        )
    }

    fn stage(&mut self, image: &[u8]) -> RigResult<()> {
        self.delivered.set(0);
        let offset = self.cfg.image_offset as usize;
        // What is written from `addr`, and how many bytes of it come before the image.
        let (addr, data, lead, image_len) = match self.hold {
            Some(n) => {
                let n = usize::try_from(n).unwrap_or(usize::MAX).min(image.len());
                (self.cfg.slot_addr + self.cfg.image_offset, image[..n].to_vec(), 0, n)
            }
            None => (
                self.cfg.slot_addr,
                pending_slot(
                    image,
                    self.cfg.slot_size as usize,
                    offset,
                    self.cfg.permanent,
                    self.geom,
                )
                .map_err(|e| RigError::io(self.describe(), e))?,
                offset,
                image.len(),
            ),
        };
        let counter = self.delivered.clone();
        let mut progress =
            |done: usize, _total: usize| counter.raise_to(done.saturating_sub(lead).min(image_len) as u64);
        self.probe.attach()?;
        self.probe.write_flash(addr, &data, &mut progress)?;
        self.delivered.raise_to(image_len as u64);
        Ok(())
    }

    fn hold_at(&mut self, byte: Option<u64>) -> RigResult<()> {
        self.hold = byte;
        Ok(())
    }

    fn bytes_delivered(&self) -> u64 {
        self.delivered.get()
    }

    fn delivery_counter(&self) -> Option<DeliveryCounter> {
        Some(self.delivered.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// Flash in memory.
    struct MemProbe {
        flash: Arc<Mutex<Vec<u8>>>,
        base: u32,
    }

    impl Probe for MemProbe {
        fn describe(&self) -> String {
            "mem".into()
        }
        fn attach(&mut self) -> RigResult<()> {
            Ok(())
        }
        fn write_flash(&mut self, addr: u32, data: &[u8], progress: &mut dyn FnMut(usize, usize)) -> RigResult<()> {
            let mut f = self.flash.lock().unwrap();
            let off = (addr - self.base) as usize;
            for (i, c) in data.chunks(100).enumerate() {
                f[off + i * 100..off + i * 100 + c.len()].copy_from_slice(c);
                progress(i * 100 + c.len(), data.len());
            }
            Ok(())
        }
        fn read_flash(&mut self, addr: u32, len: usize) -> RigResult<Vec<u8>> {
            let off = (addr - self.base) as usize;
            Ok(self.flash.lock().unwrap()[off..off + len].to_vec())
        }
        fn reset(&mut self) -> RigResult<()> {
            Ok(())
        }
        fn halt(&mut self) -> RigResult<()> {
            Ok(())
        }
    }

    /// Erased flash the firmware's own trailer writers program, the way MCUboot's
    /// `boot_set_next` programs a slot's trailer: the reference the transport must match.
    struct RamFlash(Vec<u8>, u32);

    impl fut::hal::Flash for RamFlash {
        fn sector_size(&self) -> u32 {
            4096
        }
        fn write_size(&self) -> u32 {
            self.1
        }
        fn read(&mut self, addr: u32, buf: &mut [u8]) -> Result<(), fut::hal::FlashError> {
            buf.copy_from_slice(&self.0[addr as usize..addr as usize + buf.len()]);
            Ok(())
        }
        fn write(&mut self, addr: u32, data: &[u8]) -> Result<(), fut::hal::FlashError> {
            for (i, b) in data.iter().enumerate() {
                self.0[addr as usize + i] &= b;
            }
            Ok(())
        }
        fn erase(&mut self, addr: u32, len: u32) -> Result<(), fut::hal::FlashError> {
            self.0[addr as usize..(addr + len) as usize].fill(ERASED);
            Ok(())
        }
    }

    /// What `boot_set_next(secondary, active = false, confirm = permanent)` leaves in an erased
    /// slot holding `image`: magic, image_ok for a permanent request, swap_info (image 0).
    fn mcuboot_set_next(image: &[u8], slot_size: u32, permanent: bool, g: Geom) -> Vec<u8> {
        let mut f = RamFlash(vec![ERASED; slot_size as usize], g.align());
        f.0[..image.len()].copy_from_slice(image);
        let area = fut::layout::Area {
            offset: 0,
            size: slot_size,
        };
        fut::trailer::write_magic(&mut f, g, area).unwrap();
        if permanent {
            fut::trailer::write_image_ok(&mut f, g, area).unwrap();
        }
        let kind = if permanent { SwapType::Perm } else { SwapType::Test };
        fut::trailer::write_swap_info(&mut f, g, area, kind).unwrap();
        f.0
    }

    #[test]
    fn the_pending_trailer_is_mcuboots_at_every_alignment() {
        let image: Vec<u8> = (0..300u32).map(|i| (i * 7) as u8).collect();
        // (BOOT_MAX_ALIGN, image_ok and swap_info back from the end, the magic's first bytes)
        // as MCUboot lays them out: image_ok at BOOT_MAGIC_ALIGN_SIZE + A, swap_info 2 A below.
        let expect = [
            (8, 24, 40, [0x77, 0xc2]),
            (16, 32, 64, [0x10, 0x00]),
            (32, 64, 128, [0x20, 0x00]),
        ];
        for (align, ok_from_end, info_from_end, magic_head) in expect {
            let g = Geom::new(align).unwrap();
            for permanent in [false, true] {
                let s = pending_slot(&image, 8192, 0, permanent, g).unwrap();
                assert_eq!(
                    s,
                    mcuboot_set_next(&image, 8192, permanent, g),
                    "align {align}, perm {permanent}"
                );
                assert_eq!(&s[..300], &image[..]);
                assert_eq!(&s[8192 - 16..], &g.magic(), "align {align}");
                assert_eq!(&s[8192 - 16..8192 - 14], &magic_head);
                assert_eq!(s[8192 - ok_from_end], if permanent { 0x01 } else { 0xFF });
                assert_eq!(s[8192 - info_from_end], if permanent { 0x03 } else { 0x02 });
                let written = s[300..].iter().filter(|&&b| b != ERASED).count();
                assert_eq!(written, 16 + 1 + usize::from(permanent), "nothing else is written");
                let t = parse_trailer(&s, g).unwrap();
                assert_eq!(t, request(permanent));
                assert_eq!(
                    t.swap_type(),
                    Some(if permanent { SwapType::Perm } else { SwapType::Test })
                );
                // Read at another alignment, the trailer is not a request.
                let other = Geom::new(if align == 8 { 32 } else { 8 }).unwrap();
                assert_ne!(parse_trailer(&s, other).unwrap().magic, Magic::Good, "align {align}");
            }
        }
        let g32 = Geom::new(32).unwrap();
        assert!(pending_slot(&[0; 8192 - 160], 8192, 0, false, g32).is_ok());
        let e = pending_slot(&[0; 8192 - 159], 8192, 0, false, g32).unwrap_err();
        assert!(e.contains("160-byte trailer (BOOT_MAX_ALIGN 32)"), "{e}");
        assert!(pending_slot(&[0; 8192 - 48], 8192, 0, false, Geom::DEFAULT).is_ok());
        assert_eq!(parse_trailer(&[0xFF; 48], Geom::DEFAULT).unwrap().magic, Magic::Unset);
        assert_eq!(parse_trailer(&[0x00; 48], Geom::DEFAULT).unwrap().magic, Magic::Bad);
        assert!(parse_trailer(&[0; 47], Geom::DEFAULT).is_none());
        assert!(parse_trailer(&[0xFF; 159], g32).is_none());
        assert_eq!(geom_of(None), Ok(Geom::DEFAULT));
        assert_eq!(geom_of(Some(16)), Geom::new(16).ok_or(String::new()));
        assert!(geom_of(Some(12)).unwrap_err().contains("8, 16 or 32"));
    }

    #[test]
    fn writes_the_slot_and_holds() {
        let flash = Arc::new(Mutex::new(vec![0u8; 8192]));
        let probe = SharedProbe::new(Box::new(MemProbe {
            flash: flash.clone(),
            base: 0x1000,
        }));
        let cfg = ProbeWriteTransportConfig {
            slot_addr: 0x1000,
            slot_size: 8192,
            permanent: true,
            trailer_align: None,
            image_offset: 0,
        };
        let mut t = ProbeWriteTransport::open(&cfg, probe).unwrap();
        let image: Vec<u8> = (0..1000u32).map(|i| i as u8).collect();
        t.hold_at(Some(250)).unwrap();
        t.stage(&image).unwrap();
        assert_eq!(t.bytes_delivered(), 250);
        assert_eq!(&flash.lock().unwrap()[..250], &image[..250]);
        assert_eq!(flash.lock().unwrap()[250], 0, "nothing past the hold");
        assert_eq!(
            parse_trailer(&flash.lock().unwrap()[8192 - 48..], Geom::DEFAULT)
                .unwrap()
                .magic,
            Magic::Bad
        );
        t.hold_at(None).unwrap();
        t.stage(&image).unwrap();
        assert_eq!(t.bytes_delivered(), 1000);
        let f = flash.lock().unwrap();
        assert_eq!(&f[..1000], &image[..]);
        let tr = parse_trailer(&f[8192 - 48..], Geom::DEFAULT).unwrap();
        assert_eq!((tr.magic, tr.image_ok), (Magic::Good, Flag::Set));
    }

    #[test]
    fn an_image_offset_puts_the_image_one_sector_in_and_the_trailer_at_the_end() {
        // Three 4 KiB sectors at 0x2000; the image goes one sector in (swap-using-offset).
        let flash = Arc::new(Mutex::new(vec![0u8; 3 * 4096]));
        let probe = SharedProbe::new(Box::new(MemProbe {
            flash: flash.clone(),
            base: 0x2000,
        }));
        let mut cfg = ProbeWriteTransportConfig {
            slot_addr: 0x2000,
            slot_size: 3 * 4096,
            permanent: false,
            trailer_align: None,
            image_offset: 4096,
        };
        let mut t = ProbeWriteTransport::open(&cfg, probe.clone()).unwrap();
        assert!(t.describe().contains("(image at +0x1000)"), "{}", t.describe());
        let image: Vec<u8> = (0..1000u32).map(|i| (i * 3) as u8).collect();
        // Held: the first bytes of the image at its place, nothing before or after.
        t.hold_at(Some(250)).unwrap();
        t.stage(&image).unwrap();
        assert_eq!(t.bytes_delivered(), 250);
        {
            let f = flash.lock().unwrap();
            assert_eq!(&f[4096..4096 + 250], &image[..250]);
            assert!(f[..4096].iter().all(|&b| b == 0), "nothing before the image");
            assert_eq!(f[4096 + 250], 0, "nothing past the hold");
        }
        t.hold_at(None).unwrap();
        t.stage(&image).unwrap();
        assert_eq!(
            t.bytes_delivered(),
            1000,
            "the erased sector before the image is not delivery"
        );
        let f = flash.lock().unwrap().clone();
        assert!(f[..4096].iter().all(|&b| b == ERASED), "the first sector is erased");
        assert_eq!(&f[4096..5096], &image[..]);
        let mut at_start = mcuboot_set_next(&image, 3 * 4096, false, Geom::DEFAULT);
        at_start.copy_within(0..1000, 4096);
        at_start[..4096].fill(ERASED);
        assert_eq!(f, at_start, "the same trailer as at offset 0");
        assert_eq!(parse_trailer(&f, Geom::DEFAULT).unwrap(), request(false));
        // The room left is the slot less the sector before the image and the trailer.
        assert!(pending_slot(&[0; 8192 - 48], 3 * 4096, 4096, false, Geom::DEFAULT).is_ok());
        let e = pending_slot(&[0; 8192 - 47], 3 * 4096, 4096, false, Geom::DEFAULT).unwrap_err();
        assert!(e.contains("from byte 0x1000"), "{e}");
        cfg.image_offset = 3 * 4096;
        let e = ProbeWriteTransport::open(&cfg, probe).err().unwrap();
        assert!(e.to_string().contains("0x3000 bytes into a slot of 0x3000"), "{e}");
    }

    #[test]
    fn the_station_alignment_lays_the_trailer_out() {
        let flash = Arc::new(Mutex::new(vec![0u8; 8192]));
        let probe = SharedProbe::new(Box::new(MemProbe {
            flash: flash.clone(),
            base: 0,
        }));
        let mut cfg = ProbeWriteTransportConfig {
            slot_addr: 0,
            slot_size: 8192,
            permanent: false,
            trailer_align: Some(32),
            image_offset: 0,
        };
        let mut t = ProbeWriteTransport::open(&cfg, probe.clone()).unwrap();
        t.stage(&[0x3d; 500]).unwrap();
        let g = Geom::new(32).unwrap();
        let f = flash.lock().unwrap().clone();
        assert_eq!(f, mcuboot_set_next(&[0x3d; 500], 8192, false, g));
        assert_eq!(parse_trailer(&f, g).unwrap().magic, Magic::Good);
        cfg.trailer_align = Some(24);
        let e = ProbeWriteTransport::open(&cfg, probe.clone()).err().unwrap();
        assert!(e.to_string().contains("8, 16 or 32"), "{e}");
        cfg.trailer_align = Some(32);
        cfg.slot_size = 160;
        let e = ProbeWriteTransport::open(&cfg, probe).err().unwrap();
        assert!(e.to_string().contains("160-byte trailer of BOOT_MAX_ALIGN 32"), "{e}");
    }
}
