//! Delivers the update through the debug probe: writes it into the secondary slot and marks it
//! pending with an MCUboot image trailer (8-byte alignment), the way the device's own update
//! agent would after a download.
//!
//! The whole slot is rewritten (image, erased filler, trailer) so stale swap-status records from
//! an earlier update cannot survive. A hold at byte N writes only the first N bytes of the image
//! and no trailer: an interrupted transfer.

use crate::config::ProbeWriteTransportConfig;
use crate::shared::SharedProbe;
use cutpoint_core::DeliveryCounter;
use cutpoint_core::{OtaTransport, Probe, RigError, RigResult};

pub use fut::trailer::{Flag, Magic, MAGIC as MAGIC_ALIGN8};
use fut::trailer::{Geom, Trailer, ERASED, MAX_INFO_BYTES, TRAILER_INFO_BYTES};
/// Bytes at the end of the slot the trailer's fixed fields take (magic, image_ok, copy_done,
/// swap_info, swap_size at 8-byte alignment).
pub const TRAILER_INFO: usize = TRAILER_INFO_BYTES;

/// The trailer fields of a pending request: a good magic, image_ok set for a permanent one.
fn request(permanent: bool) -> Trailer {
    Trailer {
        magic: Magic::Good,
        image_ok: if permanent { Flag::Set } else { Flag::Unset },
        copy_done: Flag::Unset,
        swap_info: ERASED,
        swap_size: u32::MAX,
    }
}

/// The slot contents that make `image` the pending update: image, erased filler, trailer.
pub fn pending_slot(image: &[u8], slot_size: usize, permanent: bool) -> Result<Vec<u8>, String> {
    if image.len() + TRAILER_INFO > slot_size {
        return Err(format!(
            "image of {} bytes does not fit a slot of {slot_size} bytes with its {TRAILER_INFO}-byte trailer",
            image.len()
        ));
    }
    let mut slot = vec![ERASED; slot_size];
    slot[..image.len()].copy_from_slice(image);
    let block = fut::trailer::encode(Geom::DEFAULT, &request(permanent));
    slot[slot_size - TRAILER_INFO..].copy_from_slice(&block[MAX_INFO_BYTES - TRAILER_INFO..]);
    Ok(slot)
}

/// Decodes the trailer fields at the end of `tail` (the last bytes of a slot, at least the
/// fixed fields) with the firmware's own decoder; `None` when fewer bytes are given.
pub fn parse_trailer(tail: &[u8]) -> Option<Trailer> {
    fut::trailer::decode_tail(Geom::DEFAULT, tail)
}

pub struct ProbeWriteTransport {
    probe: SharedProbe,
    cfg: ProbeWriteTransportConfig,
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
        if (cfg.slot_size as usize) <= TRAILER_INFO {
            return Err(RigError::open(
                "transport/probe-write",
                format!("slot_size {} is too small", cfg.slot_size),
            ));
        }
        Ok(ProbeWriteTransport {
            probe,
            cfg: cfg.clone(),
            hold: None,
            delivered: DeliveryCounter::new(),
        })
    }
}

impl OtaTransport for ProbeWriteTransport {
    fn describe(&self) -> String {
        format!(
            "transport/probe-write:{:#x}+{:#x} via {}",
            self.cfg.slot_addr,
            self.cfg.slot_size,
            self.probe.describe()
        )
    }

    fn stage(&mut self, image: &[u8]) -> RigResult<()> {
        self.delivered.set(0);
        let (data, image_len) = match self.hold {
            Some(n) => {
                let n = usize::try_from(n).unwrap_or(usize::MAX).min(image.len());
                (image[..n].to_vec(), n)
            }
            None => (
                pending_slot(image, self.cfg.slot_size as usize, self.cfg.permanent)
                    .map_err(|e| RigError::io(self.describe(), e))?,
                image.len(),
            ),
        };
        let counter = self.delivered.clone();
        let mut progress = |done: usize, _total: usize| counter.raise_to(done.min(image_len) as u64);
        self.probe.attach()?;
        self.probe.write_flash(self.cfg.slot_addr, &data, &mut progress)?;
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

    #[test]
    fn slot_layout() {
        let s = pending_slot(&[1, 2, 3], 4096, false).unwrap();
        assert_eq!(&s[..3], &[1, 2, 3]);
        assert_eq!(&s[4096 - 16..], &MAGIC_ALIGN8);
        assert_eq!(s[4096 - 24], 0xFF);
        assert!(s[3..4096 - 16].iter().all(|&b| b == 0xFF));
        let t = parse_trailer(&s[4096 - 48..]).unwrap();
        assert_eq!(t, request(false));
        assert_eq!(
            (t.magic, t.image_ok, t.copy_done),
            (Magic::Good, Flag::Unset, Flag::Unset)
        );
        assert!(s[4096 - 48..4096 - 16].iter().all(|&b| b == 0xFF), "swap fields erased");
        let p = pending_slot(&[1, 2, 3], 4096, true).unwrap();
        assert_eq!(parse_trailer(&p).unwrap().image_ok, Flag::Set);
        assert!(pending_slot(&[0; 4090], 4096, false).is_err());
        assert_eq!(parse_trailer(&[0xFF; 48]).unwrap().magic, Magic::Unset);
        assert_eq!(parse_trailer(&[0x00; 48]).unwrap().magic, Magic::Bad);
        assert!(parse_trailer(&[0; 47]).is_none());
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
        };
        let mut t = ProbeWriteTransport::open(&cfg, probe).unwrap();
        let image: Vec<u8> = (0..1000u32).map(|i| i as u8).collect();
        t.hold_at(Some(250)).unwrap();
        t.stage(&image).unwrap();
        assert_eq!(t.bytes_delivered(), 250);
        assert_eq!(&flash.lock().unwrap()[..250], &image[..250]);
        assert_eq!(flash.lock().unwrap()[250], 0, "nothing past the hold");
        assert_eq!(
            parse_trailer(&flash.lock().unwrap()[8192 - 48..]).unwrap().magic,
            Magic::Bad
        );
        t.hold_at(None).unwrap();
        t.stage(&image).unwrap();
        assert_eq!(t.bytes_delivered(), 1000);
        let f = flash.lock().unwrap();
        assert_eq!(&f[..1000], &image[..]);
        let tr = parse_trailer(&f[8192 - 48..]).unwrap();
        assert_eq!((tr.magic, tr.image_ok), (Magic::Good, Flag::Set));
    }
}
