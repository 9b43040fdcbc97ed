//! mcumgr SMP over a serial line, through mcumgr-toolkit.
//!
//! The upload is driven chunk by chunk here (mcumgr-toolkit's `ImageUpload` command through
//! `raw_command`, framed and checksummed by its serial transport) rather than with its
//! all-in-one `image_upload`, so the rig chooses every chunk's size: with a hold at byte N the
//! last chunk ends exactly at N, and no chunk is sent once the device has acknowledged N bytes
//! (`off` = N).
//!
//! `off` counts bytes of the image, not of the slot: the device's image manager places them.
//! Under MCUboot's swap-using-offset that is one sector into the secondary slot, which Zephyr's
//! DFU code adds itself (subsys/dfu/boot/mcuboot.c, `boot_get_image_start_offset`: "the image
//! starts in the second sector of the upgrade slot"), so nothing here depends on the mode.

use std::path::PathBuf;
use std::time::Duration;

use mcumgr_toolkit::client::MCUmgrClientError;
use mcumgr_toolkit::commands::image::{image_upload_max_data_chunk_size, ImageUpload};
use mcumgr_toolkit::MCUmgrClient;
use sha2::{Digest, Sha256};

use crate::config::{AfterUpload, SmpTransportConfig};
use crate::serial_id::{open_identity, LineSettings, SerialIdentity};
use cutpoint_core::DeliveryCounter;
use cutpoint_core::{OtaTransport, RigError, RigErrorKind, RigResult};

/// Zephyr's default MCUMGR_TRANSPORT_NETBUF_SIZE.
pub const DEFAULT_MTU: usize = 384;
/// The serial transport keeps a length and a CRC in the device's buffer next to the frame.
const SERIAL_OVERHEAD: usize = 4;
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// Answers in a row that do not move the offset before the upload is given up.
const MAX_STALLS: u32 = 3;

/// The SMP transport.
pub struct SmpTransport {
    name: String,
    client: MCUmgrClient,
    frame: usize,
    image_num: Option<u32>,
    after_upload: Option<AfterUpload>,
    hold: Option<u64>,
    delivered: DeliveryCounter,
    image: Vec<u8>,
    sha: [u8; 32],
}

/// Sizes of the first chunk (it carries `len`, `sha`, `image`) and of the others, for an SMP
/// frame of `mtu` bytes.
pub fn chunk_sizes(mtu: usize) -> Result<(usize, usize), String> {
    let usable = mtu.saturating_sub(SERIAL_OVERHEAD);
    let first = image_upload_max_data_chunk_size(usable, true).map_err(|e| format!("mtu {mtu} too small: {e}"))?;
    let other = image_upload_max_data_chunk_size(usable, false).map_err(|e| format!("mtu {mtu} too small: {e}"))?;
    Ok((first, other))
}

/// The length of the chunk to send at `off`: never past `limit` (the hold, or the image end).
pub fn next_chunk_len(off: u64, limit: u64, first: usize, other: usize) -> usize {
    let max = if off == 0 { first } else { other };
    usize::try_from(limit.saturating_sub(off))
        .unwrap_or(usize::MAX)
        .min(max)
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(inner) = cur {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        cur = inner.source();
    }
    s
}

fn smp_error(backend: &str, what: &str, e: &MCUmgrClientError) -> RigError {
    use mcumgr_toolkit::connection::ExecuteError;
    use mcumgr_toolkit::transport::{ReceiveError, SendError};
    let kind = match e {
        MCUmgrClientError::ExecuteError(ExecuteError::ReceiveFailed(ReceiveError::Timeout))
        | MCUmgrClientError::ExecuteError(ExecuteError::SendFailed(SendError::Timeout)) => RigErrorKind::Timeout,
        MCUmgrClientError::ExecuteError(ExecuteError::ReceiveFailed(ReceiveError::TransportError(_)))
        | MCUmgrClientError::ExecuteError(ExecuteError::SendFailed(SendError::TransportError(_))) => RigErrorKind::Io,
        _ => RigErrorKind::Protocol,
    };
    let detail = match e {
        MCUmgrClientError::ExecuteError(ExecuteError::ErrorResponse(dev)) => format!("device answered {dev:?}"),
        other => chain(other),
    };
    RigError::new(backend, kind, format!("{what}: {detail}"))
}

impl SmpTransport {
    pub fn open(cfg: &SmpTransportConfig) -> RigResult<Self> {
        let name = format!("transport/smp:{}", cfg.port);
        let mtu = cfg.mtu.unwrap_or(DEFAULT_MTU);
        chunk_sizes(mtu).map_err(|e| RigError::open(&name, e))?;
        let timeout = cfg.timeout_ms.map(crate::config::millis).unwrap_or(DEFAULT_TIMEOUT);
        let id = SerialIdentity::Path(PathBuf::from(&cfg.port));
        let settings = LineSettings {
            baud: cfg.baud,
            dtr: None,
            rts: None,
            timeout,
        };
        let (_, port) = open_identity(&id, &settings, &name)?;
        let client = MCUmgrClient::new_from_serial(port);
        client.set_frame_size(mtu);
        client.set_retries(1);
        client
            .set_timeout(timeout)
            .map_err(|e| smp_error(&name, "setting the timeout", &e))?;
        Ok(SmpTransport {
            name,
            client,
            frame: mtu,
            image_num: cfg.image,
            after_upload: cfg.after_upload,
            hold: None,
            delivered: DeliveryCounter::new(),
            image: Vec::new(),
            sha: [0; 32],
        })
    }

    /// Sends chunks from `off` until the device has acknowledged the hold offset or the whole
    /// image. Returns the acknowledged offset.
    fn upload_from(&mut self, mut off: u64) -> RigResult<u64> {
        let (first, other) = chunk_sizes(self.frame).map_err(|e| RigError::io(&self.name, e))?;
        let len = self.image.len() as u64;
        let mut stalls = 0;
        loop {
            let limit = self.hold.map_or(len, |h| h.min(len));
            if off >= limit {
                return Ok(off);
            }
            let n = next_chunk_len(off, limit, first, other);
            let start = usize::try_from(off).map_err(|_| RigError::protocol(&self.name, "offset out of range"))?;
            let data = &self.image[start..start + n];
            let head = off == 0;
            let cmd = ImageUpload {
                image: if head { self.image_num } else { None },
                len: head.then_some(len),
                off,
                sha: head.then_some(&self.sha),
                data,
                upgrade: None,
            };
            let resp = self
                .client
                .raw_command(&cmd)
                .map_err(|e| smp_error(&self.name, &format!("upload chunk at offset {off}"), &e))?;
            if resp.off > len {
                return Err(RigError::protocol(
                    &self.name,
                    format!("device acknowledged offset {} past the image end {len}", resp.off),
                ));
            }
            if resp.r#match == Some(false) {
                return Err(RigError::protocol(
                    &self.name,
                    "device reports the uploaded image does not match its SHA-256",
                ));
            }
            if resp.off == off {
                stalls += 1;
                if stalls >= MAX_STALLS {
                    return Err(RigError::protocol(
                        &self.name,
                        format!("device keeps acknowledging offset {off}"),
                    ));
                }
            } else {
                stalls = 0;
            }
            off = resp.off;
            self.delivered.set(off);
        }
    }

    /// Continues the upload of the last staged image from where the device stands (after a
    /// hold was moved or cleared).
    pub fn resume(&mut self) -> RigResult<()> {
        let off = self.delivered.get();
        let done = self.upload_from(off)?;
        self.finish(done)
    }

    /// Once the device holds the whole image: the `after_upload` request (mark it).
    fn finish(&mut self, acknowledged: u64) -> RigResult<()> {
        let Some(after) = self.after_upload else {
            return Ok(());
        };
        if acknowledged < self.image.len() as u64 {
            return Ok(());
        }
        let hash = image_hash(&self.image).ok_or_else(|| {
            RigError::protocol(
                &self.name,
                "after_upload: the staged image has no MCUboot SHA-256 TLV to name it by in `image test`",
            )
        })?;
        // No reset here: the rig resets the device through its probe once the update is staged
        // (a second reset over SMP would land in the bootloader's swap).
        self.set_image_state(Some(&hash), after == AfterUpload::Confirm)
    }

    /// Marks the image with MCUboot hash `hash` for a test boot (`confirm` false) or
    /// permanently (`confirm` true).
    pub fn set_image_state(&mut self, hash: Option<&[u8]>, confirm: bool) -> RigResult<()> {
        self.client
            .image_set_state(hash, confirm)
            .map(|_| ())
            .map_err(|e| smp_error(&self.name, "image state", &e))
    }

    /// The device's image list (slot, version, hash, flags).
    pub fn image_list(&mut self) -> RigResult<Vec<mcumgr_toolkit::commands::image::ImageState>> {
        self.client
            .image_get_state()
            .map_err(|e| smp_error(&self.name, "image list", &e))
    }

    /// Asks the device to reset.
    pub fn reset(&mut self) -> RigResult<()> {
        self.client
            .os_system_reset(false, None)
            .map_err(|e| smp_error(&self.name, "reset", &e))
    }
}

impl OtaTransport for SmpTransport {
    fn describe(&self) -> String {
        self.name.clone()
    }

    /// Uploads `image` from offset 0 until the hold or the end.
    fn stage(&mut self, image: &[u8]) -> RigResult<()> {
        self.image = image.to_vec();
        self.sha = Sha256::digest(image).into();
        self.delivered.set(0);
        let done = self.upload_from(0)?;
        self.finish(done)
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

/// The SHA-256 TLV of an MCUboot image (the hash mcumgr's img_mgmt names images by): `None`
/// when the bytes hold no header, or no such TLV where the header puts the TLV area.
pub fn image_hash(image: &[u8]) -> Option<[u8; 32]> {
    use fut::image::{ImageHeader, HEADER_SIZE, TLV_INFO_MAGIC, TLV_PROT_INFO_MAGIC, TLV_SHA256};
    let header = ImageHeader::parse(image.get(..HEADER_SIZE)?.try_into().ok()?)?;
    let le16 = |at: usize| image.get(at..at + 2).map(|b| u16::from_le_bytes([b[0], b[1]]));
    let mut at = usize::try_from(header.tlv_offset()?).ok()?;
    // The protected area (if any) comes first, then the unprotected one; each starts with an
    // info header {magic, total size including the header}.
    for _ in 0..2 {
        let magic = le16(at)?;
        if magic != TLV_INFO_MAGIC && magic != TLV_PROT_INFO_MAGIC {
            return None;
        }
        let end = at.checked_add(usize::from(le16(at + 2)?))?;
        let mut entry = at + 4;
        while entry + 4 <= end {
            let (kind, len) = (le16(entry)?, usize::from(le16(entry + 2)?));
            let data = image.get(entry + 4..entry + 4 + len)?;
            if kind == TLV_SHA256 && len == 32 {
                return data.try_into().ok();
            }
            entry += 4 + len;
        }
        if magic == TLV_INFO_MAGIC {
            return None;
        }
        at = end;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_never_cross_the_limit() {
        let (first, other) = chunk_sizes(DEFAULT_MTU).unwrap();
        assert!(first > 100 && other > first, "{first} {other}");
        assert_eq!(next_chunk_len(0, 1_000_000, first, other), first);
        assert_eq!(next_chunk_len(first as u64, 1_000_000, first, other), other);
        assert_eq!(next_chunk_len(0, 10, first, other), 10);
        assert_eq!(next_chunk_len(500, 501, first, other), 1);
        assert_eq!(next_chunk_len(501, 501, first, other), 0);
        assert!(chunk_sizes(20).is_err());
    }

    #[test]
    fn missing_port_is_an_open_error() {
        let cfg = SmpTransportConfig {
            port: "/dev/serial/by-id/usb-no-such-smp-device".into(),
            baud: 115200,
            mtu: None,
            timeout_ms: None,
            image: None,
            after_upload: None,
        };
        let err = SmpTransport::open(&cfg).err().unwrap();
        assert_eq!(err.kind, RigErrorKind::Open);
        assert!(err.message.contains("usb-no-such-smp-device"), "{err}");
    }
}
