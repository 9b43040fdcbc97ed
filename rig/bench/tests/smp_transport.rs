//! The SMP transport against a fake mcumgr device on a pseudo-terminal. The fake decodes the
//! serial framing itself (from the protocol description: 0x06 0x09 / 0x04 0x14 frames, base64,
//! big-endian length, CRC-16/XMODEM), checks every frame, stores upload chunks at their offset
//! and answers with `off`.

mod common;

use std::fs::File;
use std::io::Write;
use std::sync::{Arc, Mutex};

use base64::prelude::*;
use ciborium::Value;
use common::{point, read_byte, Pty};
use cutpoint_bench::config::{AfterUpload, SmpTransportConfig};
use cutpoint_bench::transport::smp::SmpTransport;
use cutpoint_bench::OtaTransport;

const XMODEM: crc::Crc<u16> = crc::Crc::<u16>::new(&crc::CRC_16_XMODEM);

#[derive(Default)]
struct Device {
    stored: Vec<u8>,
    expected_len: Option<u64>,
    sha: Option<Vec<u8>>,
    /// (offset, length) of every upload chunk received.
    chunks: Vec<(u64, usize)>,
    /// (group, id) of every request.
    requests: Vec<(u16, u8)>,
    /// (hash, confirm) of every image state request.
    states: Vec<(Option<Vec<u8>>, Option<bool>)>,
    problems: Vec<String>,
}

fn map_get<'a>(m: &'a [(Value, Value)], key: &str) -> Option<&'a Value> {
    m.iter().find(|(k, _)| k.as_text() == Some(key)).map(|(_, v)| v)
}

fn send_frame(out: &mut File, header: [u8; 8], cbor: &[u8]) {
    let mut body = header.to_vec();
    body.extend_from_slice(cbor);
    let crc = XMODEM.checksum(&body);
    let mut raw = ((body.len() + 2) as u16).to_be_bytes().to_vec();
    raw.extend_from_slice(&body);
    raw.extend_from_slice(&crc.to_be_bytes());
    // 93 raw bytes -> 124 base64 characters + 2 marker bytes + newline = 127.
    for (i, piece) in raw.chunks(93).enumerate() {
        let mut frame = if i == 0 { vec![0x06, 0x09] } else { vec![0x04, 0x14] };
        frame.extend_from_slice(BASE64_STANDARD.encode(piece).as_bytes());
        frame.push(b'\n');
        out.write_all(&frame).unwrap();
    }
}

fn handle(dev: &mut Device, packet: &[u8], out: &mut File) {
    let (hdr, payload) = packet.split_at(8);
    let op = hdr[0] & 0x07;
    let len = u16::from_be_bytes([hdr[2], hdr[3]]) as usize;
    let group = u16::from_be_bytes([hdr[4], hdr[5]]);
    let id = hdr[7];
    dev.requests.push((group, id));
    if len != payload.len() {
        dev.problems
            .push(format!("header length {len} != payload {}", payload.len()));
    }
    let req: Value = ciborium::from_reader(payload).unwrap_or(Value::Null);
    let fields = req.as_map().cloned().unwrap_or_default();
    let mut reply: Vec<(Value, Value)> = Vec::new();
    match (op, group, id) {
        (2, 1, 1) => {
            let off = map_get(&fields, "off")
                .and_then(|v| v.as_integer())
                .map(|i| u64::try_from(i).unwrap_or(0))
                .unwrap_or(0);
            let data = map_get(&fields, "data")
                .and_then(|v| v.as_bytes())
                .cloned()
                .unwrap_or_default();
            if off == 0 {
                dev.stored.clear();
                dev.expected_len = map_get(&fields, "len")
                    .and_then(|v| v.as_integer())
                    .map(|i| u64::try_from(i).unwrap_or(0));
                dev.sha = map_get(&fields, "sha").and_then(|v| v.as_bytes()).cloned();
                if dev.expected_len.is_none() {
                    dev.problems.push("first chunk without len".into());
                }
            }
            dev.chunks.push((off, data.len()));
            if off == dev.stored.len() as u64 {
                dev.stored.extend_from_slice(&data);
            } else {
                dev.problems
                    .push(format!("chunk at {off} while {} stored", dev.stored.len()));
            }
            reply.push((Value::Text("rc".into()), Value::Integer(0.into())));
            reply.push((
                Value::Text("off".into()),
                Value::Integer((dev.stored.len() as u64).into()),
            ));
            if Some(dev.stored.len() as u64) == dev.expected_len {
                use sha2::Digest;
                let ok = dev.sha.as_deref() == Some(sha2::Sha256::digest(&dev.stored).as_slice());
                reply.push((Value::Text("match".into()), Value::Bool(ok)));
            }
        }
        (2, 1, 0) => {
            dev.states.push((
                map_get(&fields, "hash").and_then(|v| v.as_bytes()).cloned(),
                map_get(&fields, "confirm").and_then(|v| v.as_bool()),
            ));
            reply.push((Value::Text("images".into()), Value::Array(Vec::new())));
        }
        (2, 0, 5) => reply.push((Value::Text("rc".into()), Value::Integer(0.into()))),
        _ => reply.push((Value::Text("rc".into()), Value::Integer(8.into()))),
    }
    let mut cbor = Vec::new();
    ciborium::into_writer(&Value::Map(reply), &mut cbor).unwrap();
    let mut rh = [0u8; 8];
    rh[0] = (hdr[0] & 0xF8) | (op + 1);
    rh[2..4].copy_from_slice(&(cbor.len() as u16).to_be_bytes());
    rh[4..6].copy_from_slice(&group.to_be_bytes());
    rh[6] = hdr[6];
    rh[7] = id;
    send_frame(out, rh, &cbor);
}

/// Runs the fake device on the master side of `pty`.
fn fake_device(pty: &Pty) -> Arc<Mutex<Device>> {
    let dev = Arc::new(Mutex::new(Device::default()));
    let mut m = pty.master_clone();
    let mut out = pty.master_clone();
    let d = dev.clone();
    std::thread::spawn(move || {
        let mut packet: Vec<u8> = Vec::new();
        let mut want: Option<usize> = None;
        let mut frame = Vec::new();
        while let Some(b) = read_byte(&mut m) {
            frame.push(b);
            if b != b'\n' {
                continue;
            }
            let f = std::mem::take(&mut frame);
            let mut dev = d.lock().unwrap();
            if f.len() > 127 {
                dev.problems.push(format!("frame of {} bytes", f.len()));
            }
            let first = f.starts_with(&[0x06, 0x09]);
            if !first && !f.starts_with(&[0x04, 0x14]) {
                dev.problems
                    .push(format!("frame without a marker: {:02x?}", &f[..f.len().min(4)]));
                continue;
            }
            let Ok(raw) = BASE64_STANDARD.decode(&f[2..f.len() - 1]) else {
                dev.problems.push("bad base64".into());
                continue;
            };
            if first {
                packet.clear();
                if raw.len() < 2 {
                    dev.problems.push("short first frame".into());
                    continue;
                }
                want = Some(u16::from_be_bytes([raw[0], raw[1]]) as usize);
                packet.extend_from_slice(&raw[2..]);
            } else {
                packet.extend_from_slice(&raw);
            }
            if let Some(w) = want {
                if packet.len() >= w {
                    want = None;
                    let (body, crc) = packet.split_at(w - 2);
                    if XMODEM.checksum(body) != u16::from_be_bytes([crc[0], crc[1]]) {
                        dev.problems.push("CRC mismatch".into());
                        continue;
                    }
                    let body = body.to_vec();
                    handle(&mut dev, &body, &mut out);
                }
            }
        }
    });
    dev
}

fn image(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

fn open(pty: &Pty, dir: &tempfile::TempDir) -> SmpTransport {
    open_with(pty, dir, None)
}

fn open_with(pty: &Pty, dir: &tempfile::TempDir, after_upload: Option<AfterUpload>) -> SmpTransport {
    let link = dir.path().join("usb-ZEPHYR_Nucleo_SMP-if00");
    point(&link, &pty.path);
    SmpTransport::open(&SmpTransportConfig {
        port: link.to_string_lossy().into(),
        baud: 115200,
        mtu: None,
        timeout_ms: Some(5000),
        image: None,
        after_upload,
    })
    .unwrap()
}

/// A real imgtool-signed image (fixtures/imgtool) and the SHA-256 its TLV area carries.
fn signed_image() -> (Vec<u8>, Vec<u8>) {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/imgtool/images/ed25519-app-2.0.0.bin");
    let img = std::fs::read(&path).unwrap();
    let hash = cutpoint_bench::transport::smp::image_hash(&img).expect("an imgtool image has a SHA-256 TLV");
    // The TLV holds SHA-256 over header, body and protected TLVs: check it independently.
    use sha2::Digest;
    let hdr_size = u16::from_le_bytes([img[8], img[9]]) as usize;
    let prot = u16::from_le_bytes([img[10], img[11]]) as usize;
    let body = u32::from_le_bytes([img[12], img[13], img[14], img[15]]) as usize;
    assert_eq!(
        hash.as_slice(),
        sha2::Sha256::digest(&img[..hdr_size + body + prot]).as_slice()
    );
    (img, hash.to_vec())
}

#[test]
fn after_upload_test_marks_the_image_by_its_tlv_hash() {
    let dir = tempfile::tempdir().unwrap();
    let pty = Pty::new();
    let dev = fake_device(&pty);
    let mut t = open_with(&pty, &dir, Some(AfterUpload::Test));
    let (img, hash) = signed_image();
    // Held part-way: nothing is marked.
    t.hold_at(Some(1000)).unwrap();
    t.stage(&img).unwrap();
    assert!(
        dev.lock().unwrap().states.is_empty(),
        "no image test before the whole image is there"
    );
    t.hold_at(None).unwrap();
    t.resume().unwrap();
    let d = dev.lock().unwrap();
    assert!(d.problems.is_empty(), "{:?}", d.problems);
    assert_eq!(d.stored, img);
    assert_eq!(
        d.states,
        vec![(Some(hash), Some(false))],
        "image test HASH (confirm false)"
    );
    assert_eq!(
        d.requests.last(),
        Some(&(1, 0)),
        "image state is image group 1, command 0; no SMP reset"
    );
}

#[test]
fn after_upload_confirm_marks_permanent_and_none_sends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let pty = Pty::new();
    let dev = fake_device(&pty);
    let (img, hash) = signed_image();
    let mut t = open_with(&pty, &dir, Some(AfterUpload::Confirm));
    t.stage(&img).unwrap();
    assert_eq!(dev.lock().unwrap().states, vec![(Some(hash), Some(true))]);
    drop(t);
    let dir2 = tempfile::tempdir().unwrap();
    let pty2 = Pty::new();
    let dev2 = fake_device(&pty2);
    let mut plain = open(&pty2, &dir2);
    plain.stage(&img).unwrap();
    let d = dev2.lock().unwrap();
    assert!(d.states.is_empty(), "{:?}", d.requests);
    // An image without an MCUboot SHA-256 TLV cannot be named: a protocol error, not a guess.
    drop(d);
    let dir3 = tempfile::tempdir().unwrap();
    let pty3 = Pty::new();
    let _dev3 = fake_device(&pty3);
    let mut t3 = open_with(&pty3, &dir3, Some(AfterUpload::Test));
    let err = t3.stage(&image(300)).unwrap_err();
    assert!(err.to_string().contains("SHA-256 TLV"), "{err}");
}

#[test]
fn uploads_the_whole_image_in_checked_frames() {
    let dir = tempfile::tempdir().unwrap();
    let pty = Pty::new();
    let dev = fake_device(&pty);
    let mut t = open(&pty, &dir);
    let img = image(5000);
    t.stage(&img).unwrap();
    let d = dev.lock().unwrap();
    assert!(d.problems.is_empty(), "{:?}", d.problems);
    assert_eq!(d.stored, img);
    assert!(d.chunks.len() > 10, "several chunks: {:?}", d.chunks);
    assert_eq!(t.bytes_delivered(), 5000);
}

#[test]
fn holds_after_exactly_n_acknowledged_bytes_then_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let pty = Pty::new();
    let dev = fake_device(&pty);
    let mut t = open(&pty, &dir);
    let img = image(5000);
    t.hold_at(Some(1234)).unwrap();
    t.stage(&img).unwrap();
    {
        let d = dev.lock().unwrap();
        assert!(d.problems.is_empty(), "{:?}", d.problems);
        assert_eq!(d.stored.len(), 1234, "the device got exactly N bytes");
        assert_eq!(&d.stored[..], &img[..1234]);
        let (off, len) = *d.chunks.last().unwrap();
        assert_eq!(off + len as u64, 1234, "the last chunk ends at N");
    }
    assert_eq!(t.bytes_delivered(), 1234);
    t.hold_at(None).unwrap();
    t.resume().unwrap();
    t.reset().unwrap();
    let d = dev.lock().unwrap();
    assert!(d.problems.is_empty(), "{:?}", d.problems);
    assert_eq!(d.stored, img);
    assert_eq!(d.requests.last(), Some(&(0, 5)), "reset is os group 0, command 5");
    assert_eq!(t.bytes_delivered(), 5000);
}

#[test]
fn a_silent_device_is_a_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let pty = Pty::new();
    let link = dir.path().join("usb-mute");
    point(&link, &pty.path);
    let mut t = SmpTransport::open(&SmpTransportConfig {
        port: link.to_string_lossy().into(),
        baud: 115200,
        mtu: Some(256),
        timeout_ms: Some(200),
        image: None,
        after_upload: None,
    })
    .unwrap();
    let err = t.stage(&image(100)).unwrap_err();
    assert_eq!(err.kind, cutpoint_bench::RigErrorKind::Timeout, "{err}");
}
