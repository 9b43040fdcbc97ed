//! `cutpoint doctor`: checks a station before it is trusted with a campaign.
//!
//! Opens each backend, power-cycles the target a few times and checks each cut really took
//! (the console goes quiet, the probe loses the target), measures how long the switch call
//! takes and how long the target needs from power-on to its first console line, reads the
//! configured flash slots through the probe, and says what to fix. The station is fit when
//! every backend opened and every cut was seen to take.

use std::io::Write;
use std::time::{Duration, Instant};

use crate::config::{ConsoleConfig, FlashRegion, ProbeConfig, StationBackends};
use crate::open::{open_console, open_power, open_probe, open_transport, OpenedProbe};
use crate::power::guard::PowerGuard;
use crate::serial_id::SerialIdentity;
use crate::shared::SharedSwitch;
use crate::transport::probe_write::{parse_trailer, Geom};
use cutpoint_core::clock::BenchClock;
use cutpoint_core::{Console, PowerSwitch, Probe};

/// One check and its result.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    pub check: String,
    pub ok: bool,
    pub detail: String,
    /// What to do when the check failed (or a warning's advice).
    pub fix: Option<String>,
    /// A failed check that does not make the station unfit.
    pub warning: bool,
}

/// Everything doctor found.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct DoctorReport {
    pub findings: Vec<Finding>,
    /// Duration of each power-off switch call (µs).
    pub relay_off_us: Vec<u64>,
    /// Duration of each power-on switch call (µs).
    pub relay_on_us: Vec<u64>,
    /// Power-on (switch call returned) to the first console line, per cycle (ms).
    pub boot_banner_ms: Vec<u64>,
    pub fit: bool,
}

/// How hard doctor tries.
#[derive(Debug, Clone)]
pub struct DoctorOptions {
    pub cycles: usize,
    /// How long power stays off per cycle (the station's `off_dwell_ms` by default).
    pub off_dwell: Option<Duration>,
    /// After a cut, lines arriving later than this count as "the console did not go quiet".
    pub quiet_after: Duration,
    /// How long to wait for the first console line after power-on.
    pub boot_timeout: Duration,
    /// How long to watch the console before the first cut.
    pub settle: Duration,
}

impl Default for DoctorOptions {
    fn default() -> Self {
        DoctorOptions {
            cycles: 3,
            off_dwell: None,
            quiet_after: Duration::from_millis(100),
            boot_timeout: Duration::from_secs(10),
            settle: Duration::from_secs(1),
        }
    }
}

struct Doc<'a> {
    out: &'a mut dyn Write,
    report: DoctorReport,
}

impl Doc<'_> {
    fn add(&mut self, check: &str, ok: bool, detail: String, fix: Option<String>) {
        self.push(Finding {
            check: check.into(),
            ok,
            detail,
            fix,
            warning: false,
        });
    }

    fn warn(&mut self, check: &str, detail: String, fix: String) {
        self.push(Finding {
            check: check.into(),
            ok: false,
            detail,
            fix: Some(fix),
            warning: true,
        });
    }

    fn push(&mut self, f: Finding) {
        let mark = if f.ok {
            "ok  "
        } else if f.warning {
            "warn"
        } else {
            "FAIL"
        };
        let _ = writeln!(self.out, "[{mark}] {}: {}", f.check, f.detail);
        if let (false, Some(fix)) = (f.ok, &f.fix) {
            let _ = writeln!(self.out, "       fix: {fix}");
        }
        self.report.findings.push(f);
    }
}

/// Checks `station` with default options, writing findings to `out` as it goes.
pub fn doctor(station: &StationBackends, out: &mut dyn Write) -> DoctorReport {
    doctor_with(station, out, &DoctorOptions::default())
}

/// A supply sense's reading, in words.
fn sensed(state: Option<bool>) -> &'static str {
    match state {
        Some(true) => "powered",
        Some(false) => "unpowered",
        None => "nothing",
    }
}

fn drain(console: &mut dyn Console, for_: Duration) -> Vec<crate::ConsoleLine> {
    let end = cutpoint_core::clock::from_now(for_);
    let mut got = Vec::new();
    loop {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return got;
        }
        match console.read_line(left) {
            Ok(Some(l)) => got.push(l),
            Ok(None) => return got,
            Err(_) => {
                std::thread::sleep(left.min(Duration::from_millis(10)));
            }
        }
    }
}

/// The name ESP-IDF's partition tables give the otadata partition; a region of the station's
/// map by this name is read and decoded as ESP-IDF's A/B record.
pub const OTADATA_REGION: &str = "otadata";

/// Reads one region of the station's map through esptool: otadata in full, decoded; any other
/// region's first bytes, named by what they hold.
fn esptool_region(d: &mut Doc<'_>, op: &mut OpenedProbe, region: &FlashRegion) {
    let check = format!("region {}", region.name);
    let at = format!("{:#x}+{:#x}", region.offset, region.size);
    if region.name == OTADATA_REGION {
        match op.probe.read_flash(region.offset, region.size as usize) {
            Ok(bytes) => {
                let r = cutpoint_inspect::otadata::decode_otadata(&bytes, 2);
                d.add(&check, true, format!("{at}: {}", describe_otadata(&r)), None);
            }
            Err(e) => d.add(
                &check,
                false,
                e.to_string(),
                Some("check the port, the chip name and that esptool reaches the chip".into()),
            ),
        }
        return;
    }
    match op.probe.read_flash(region.offset, 32.min(region.size as usize)) {
        Ok(head) => {
            let what = match head.first() {
                _ if head.starts_with(&[0x3d, 0xb8, 0xf3, 0x96]) => "MCUboot header",
                Some(0xe9) => "ESP image magic 0xe9",
                _ if head.iter().all(|&b| b == 0xff) => "erased",
                _ => "no image magic",
            };
            d.add(&check, true, format!("{at}: {what}"), None);
        }
        Err(e) => d.add(
            &check,
            false,
            e.to_string(),
            Some("check the port, the chip name and that esptool reaches the chip".into()),
        ),
    }
}

/// One line for a decoded otadata: each sector's entry and the slot the bootloader picks.
pub fn describe_otadata(r: &cutpoint_inspect::otadata::OtadataReport) -> String {
    use cutpoint_inspect::otadata::SectorCondition;
    let sectors: Vec<String> = r
        .entries
        .iter()
        .map(|e| match e.condition {
            SectorCondition::Blank => format!("sector {}: blank", e.sector),
            SectorCondition::Absent => format!("sector {}: absent", e.sector),
            _ => format!(
                "sector {}: seq {} state {} crc {}{}",
                e.sector,
                e.seq,
                e.state_name.clone().unwrap_or_else(|| format!("{:#x}", e.state)),
                if e.crc_ok { "ok" } else { "bad" },
                if e.problems.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", e.problems.join("; "))
                }
            ),
        })
        .collect();
    let boots = match (r.active_sector, r.boot_slot) {
        (Some(s), Some(slot)) => format!("boots ota_{slot} (sector {s})"),
        _ => "no valid entry: boots the factory app, or ota_0 without one".into(),
    };
    let mut line = format!("otadata {}; {boots}", sectors.join(", "));
    if !r.disagreement.is_empty() {
        line.push_str(&format!("; copies disagree: {}", r.disagreement.join("; ")));
    }
    line
}

/// [`doctor`] with explicit options.
pub fn doctor_with(station: &StationBackends, out: &mut dyn Write, opts: &DoctorOptions) -> DoctorReport {
    let clock = BenchClock::new();
    let mut d = Doc {
        out,
        report: DoctorReport::default(),
    };
    let _ = writeln!(
        d.out,
        "cutpoint doctor: {}",
        station.name.as_deref().unwrap_or("station")
    );

    // Power.
    let guard = match open_power(&station.power).and_then(PowerGuard::new) {
        Ok(g) => {
            d.add("power", true, format!("{} opened", g.switch().describe()), None);
            Some(g)
        }
        Err(e) => {
            d.add(
                "power",
                false,
                e.to_string(),
                Some("fix the [power] table or the wiring; see docs/bench-on-a-pi.md".into()),
            );
            None
        }
    };
    let mut switch: Option<SharedSwitch> = guard.as_ref().map(|g| g.switch());
    if let Some(sw) = switch.as_mut() {
        if let Err(e) = sw.set_power(true) {
            d.add(
                "power on",
                false,
                e.to_string(),
                Some("the switch does not take commands".into()),
            );
        }
    }

    // Probe.
    let mut probe: Option<OpenedProbe> = None;
    if let Some(p) = &station.probe {
        match open_probe(p) {
            Ok(op) => {
                d.add("probe", true, format!("{} attached", op.name), None);
                probe = Some(op);
            }
            Err(e) => d.add(
                "probe",
                false,
                e.to_string(),
                Some(
                    "check the selector (lsusb), the udev rule for the probe, the chip name, connect_under_reset"
                        .into(),
                ),
            ),
        }
    }
    if let (Some(ProbeConfig::Esptool(pc)), Some(op)) = (&station.probe, probe.as_mut()) {
        for region in &pc.regions {
            esptool_region(&mut d, op, region);
        }
    }
    if let (Some(ProbeConfig::ProbeRs(pc)), Some(op)) = (&station.probe, probe.as_mut()) {
        for slot in &pc.slots {
            let tail_len = 48u32.min(slot.size);
            let Some(at) = slot.offset.checked_add(slot.size - tail_len) else {
                d.add(
                    &format!("slot {}", slot.name),
                    false,
                    "addr + size is past 4 GiB".into(),
                    Some("fix the slot table".into()),
                );
                continue;
            };
            match op
                .probe
                .read_flash(slot.offset, 32)
                .and_then(|head| Ok((head, op.probe.read_flash(at, tail_len as usize)?)))
            {
                Ok((head, tail)) => {
                    let hdr = if head.len() >= 4 && head[..4] == [0x3d, 0xb8, 0xf3, 0x96] {
                        "MCUboot header"
                    } else {
                        "no MCUboot header"
                    };
                    let trailer = parse_trailer(&tail, Geom::DEFAULT)
                        .map(|t| {
                            format!(
                                "Trailer {{ magic: {:?}, image_ok: {:?}, copy_done: {:?} }}",
                                t.magic, t.image_ok, t.copy_done
                            )
                        })
                        .unwrap_or_default();
                    d.add(
                        &format!("slot {}", slot.name),
                        true,
                        format!("{:#x}+{:#x}: {hdr}; trailer {trailer}", slot.offset, slot.size),
                        None,
                    );
                }
                Err(e) => d.add(
                    &format!("slot {}", slot.name),
                    false,
                    e.to_string(),
                    Some("check the slot addresses and the chip name".into()),
                ),
            }
        }
    }

    // Console.
    if let ConsoleConfig::Serial(c) = &station.console {
        if let Ok(id) = SerialIdentity::from_config(c.port.as_deref(), c.usb_serial.as_deref(), "console") {
            if let Some(hint) = id.stability_hint() {
                d.warn("console name", hint, "use the /dev/serial/by-id/ link".into());
            }
        }
    }
    let mut console = match open_console(&station.console, clock, probe.as_ref()) {
        Ok(c) => {
            d.add("console", true, format!("{} opened", c.describe()), None);
            Some(c)
        }
        Err(e) => {
            d.add(
                "console",
                false,
                e.to_string(),
                Some("check the port name, baud rate and the dialout group".into()),
            );
            None
        }
    };

    // Transport.
    match open_transport(&station.transport, probe.as_ref().map(|p| p.probe.clone())) {
        Ok(t) => d.add("transport", true, format!("{} ready", t.describe()), None),
        Err(e) => d.add(
            "transport",
            false,
            e.to_string(),
            Some("fix the [transport] table".into()),
        ),
    }

    // Power cycles.
    if let (Some(sw), Some(con)) = (switch.as_mut(), console.as_mut()) {
        let dwell = opts.off_dwell.unwrap_or_else(|| station.off_dwell());
        let before = drain(con.as_mut(), opts.settle);
        let _ = writeln!(d.out, "       console before the first cut: {} lines", before.len());
        for cycle in 1..=opts.cycles {
            let check = format!("cycle {cycle}");
            let t0 = Instant::now();
            if let Err(e) = sw.set_power(false) {
                d.add(
                    &check,
                    false,
                    format!("power off: {e}"),
                    Some("the switch does not take commands".into()),
                );
                break;
            }
            let off_us = t0.elapsed().as_micros() as u64;
            let cut_at = Instant::now();
            d.report.relay_off_us.push(off_us);
            if let Ok(Some(state)) = sw.read_back() {
                if state {
                    d.add(
                        &check,
                        false,
                        "the switch reads back ON after power off".into(),
                        Some("check the relay's channel number".into()),
                    );
                }
            }
            let sensed_off = sw.sense();
            // The console must go quiet once the relay has moved.
            let mut late = Vec::new();
            while cut_at.elapsed() < dwell {
                let left = dwell.saturating_sub(cut_at.elapsed());
                if let Ok(Some(l)) = con.read_line(left) {
                    // Judged by when the line arrived, not when this loop got to it.
                    let arrived = clock.instant_at(l.t_us);
                    if arrived.saturating_duration_since(cut_at) > opts.quiet_after {
                        late.push(l.text);
                    }
                }
            }
            let probe_sees = probe.as_mut().map(|p| p.probe.attach().is_ok());
            if !late.is_empty() {
                d.add(
                    &check,
                    false,
                    format!("the console kept talking while power was off ({} lines, e.g. {:?})", late.len(), late[0]),
                    Some("the cut did not take: check the relay wiring (NO/NC contacts), on_level, and that the target is not powered through USB or the probe".into()),
                );
            }
            if probe_sees == Some(true) {
                d.add(
                    &check,
                    false,
                    "the probe still reaches the target while power is off".into(),
                    Some(
                        "the target is fed by the probe or USB: cut that supply too, or power the probe separately"
                            .into(),
                    ),
                );
            }
            let t1 = Instant::now();
            if let Err(e) = sw.set_power(true) {
                d.add(
                    &check,
                    false,
                    format!("power on: {e}"),
                    Some("the switch does not take commands".into()),
                );
                break;
            }
            let on_done = Instant::now();
            d.report.relay_on_us.push(on_done.duration_since(t1).as_micros() as u64);
            // The supply sense, where the station has one, must follow the switch.
            match (sensed_off, sw.sense()) {
                (Ok(None), Ok(None)) => {}
                (Ok(Some(false)), Ok(Some(true))) => {
                    let _ = writeln!(d.out, "       supply sense: off while cut, on once restored");
                }
                (Ok(off), Ok(on)) => d.add(
                    &check,
                    false,
                    format!(
                        "the supply sense read {} with power off and {} with power on",
                        sensed(off),
                        sensed(on)
                    ),
                    Some(
                        "powered while off: the relay's contacts stay closed or a second supply feeds the target; \
                         unpowered while on: the switch does not restore power, or the sense is wired or levelled wrong"
                            .into(),
                    ),
                ),
                (Err(e), _) | (_, Err(e)) => d.add(
                    &check,
                    false,
                    format!("the supply sense cannot be read: {e}"),
                    Some("fix the power table's `sense`".into()),
                ),
            }
            let banner = con.read_line(opts.boot_timeout);
            match banner {
                Ok(Some(l)) => {
                    let ms = clock.instant_at(l.t_us).saturating_duration_since(on_done).as_millis() as u64;
                    d.report.boot_banner_ms.push(ms);
                    if late.is_empty() && probe_sees != Some(true) {
                        d.add(
                            &check,
                            true,
                            format!("off call {off_us} µs; first line {ms} ms after power-on: {:?}", l.text),
                            None,
                        );
                    }
                }
                Ok(None) | Err(_) => d.add(
                    &check,
                    false,
                    format!("no console line within {:?} after power-on", opts.boot_timeout),
                    Some("check the baud rate, TX/RX wiring, and that the firmware prints a boot banner".into()),
                ),
            }
            if let Some(p) = probe.as_mut() {
                if let Err(e) = p.probe.attach() {
                    d.add(
                        &check,
                        false,
                        format!("probe cannot reattach after power-on: {e}"),
                        Some("try connect_under_reset = true".into()),
                    );
                }
            }
            // Let the boot finish before the next cut.
            drain(con.as_mut(), Duration::from_millis(200));
        }
    } else {
        d.add(
            "power cycle",
            false,
            "skipped: power and console must both open".into(),
            None,
        );
    }

    if let Some(s) = crate::trigger::latency_stats(&d.report.relay_off_us.iter().map(|&v| v as i64).collect::<Vec<_>>())
    {
        let _ = writeln!(
            d.out,
            "       power-off call: min {} µs, p50 {} µs, max {} µs",
            s.min_us, s.p50_us, s.max_us
        );
    }
    if !d.report.boot_banner_ms.is_empty() {
        let min = d.report.boot_banner_ms.iter().min().copied().unwrap_or(0);
        let max = d.report.boot_banner_ms.iter().max().copied().unwrap_or(0);
        let _ = writeln!(d.out, "       power-on to first console line: {min}-{max} ms");
    }
    d.report.fit = d.report.findings.iter().all(|f| f.ok || f.warning);
    let verdict = if d.report.fit { "FIT" } else { "UNFIT" };
    let _ = writeln!(d.out, "station is {verdict}");
    drop(console);
    drop(guard);
    d.report
}
