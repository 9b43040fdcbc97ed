//! SEGGER RTT through the debug probe, as a second console source.
//!
//! A reader thread polls one RTT up-channel through the probe-rs session (locking it only for
//! each poll, so the probe backend can still flash and reset). After a power cut the control
//! block is searched again once the session is back.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ::probe_rs::rtt::{Rtt, ScanRegion};

use super::lines::LineAssembler;
use super::{LinkState, LinkStatus, ReaderThread};
use crate::config::{ProbeRsConfig, RttConsoleConfig};
use crate::probe::probe_rs::{ProbeRsProbe, SessionHandle};
use cutpoint_core::clock::BenchClock;
use cutpoint_core::{Console, ConsoleLine, Probe, RigError, RigResult};

const DEFAULT_POLL: Duration = Duration::from_millis(10);
/// How often a lost control block or session is looked for again.
const RETRY: Duration = Duration::from_millis(200);

/// Where to look for the control block.
pub fn scan_region(control_block: Option<u64>) -> ScanRegion {
    match control_block {
        Some(addr) => ScanRegion::Exact(addr),
        None => ScanRegion::Ram,
    }
}

/// The probe settings of an RTT console that names its own probe, or `None` when it uses the
/// station's probe.
pub fn own_probe(cfg: &RttConsoleConfig) -> Result<Option<ProbeRsConfig>, String> {
    match (&cfg.selector, &cfg.chip) {
        (Some(selector), Some(chip)) => Ok(Some(ProbeRsConfig {
            selector: selector.clone(),
            chip: chip.clone(),
            connect_under_reset: cfg.connect_under_reset,
            speed_khz: cfg.speed_khz,
            slots: Vec::new(),
        })),
        (None, None) => Ok(None),
        _ => Err("an rtt console needs both `selector` and `chip`, or neither (to use the station's [probe])".into()),
    }
}

pub struct RttConsole {
    thread: ReaderThread,
    link: Arc<LinkState>,
}

struct Reader {
    session: SessionHandle,
    /// Set when this console owns its probe: it reattaches by itself after a cut.
    probe: Option<ProbeRsProbe>,
    channel: usize,
    region: ScanRegion,
    poll: Duration,
    clock: BenchClock,
    tx: super::queue::LineSender,
    link: Arc<LinkState>,
    stop: Arc<AtomicBool>,
    name: String,
}

impl RttConsole {
    /// An RTT console on a session shared with the station's probe.
    pub fn on_session(
        cfg: &RttConsoleConfig,
        session: SessionHandle,
        what: &str,
        clock: BenchClock,
    ) -> RigResult<Self> {
        Self::start(cfg, session, None, what, clock)
    }

    /// An RTT console with its own probe (attached now; fails naming the selector).
    pub fn open(cfg: &RttConsoleConfig, clock: BenchClock) -> RigResult<Self> {
        let probe_cfg = own_probe(cfg)
            .map_err(|e| RigError::open("console/rtt", e))?
            .ok_or_else(|| {
                RigError::open(
                    "console/rtt",
                    "no probe given: set `selector` and `chip`, or add a [probe] to the station",
                )
            })?;
        let probe = ProbeRsProbe::open(&probe_cfg)?;
        let what = probe.describe();
        Self::start(cfg, probe.session(), Some(probe), &what, clock)
    }

    fn start(
        cfg: &RttConsoleConfig,
        session: SessionHandle,
        probe: Option<ProbeRsProbe>,
        what: &str,
        clock: BenchClock,
    ) -> RigResult<Self> {
        let name = format!("console/rtt:ch{} via {what}", cfg.channel);
        let link = Arc::new(LinkState::default());
        let (channel, region) = (cfg.channel, scan_region(cfg.control_block));
        let poll = cfg
            .poll_ms
            .map(|ms| crate::config::millis(ms.max(1)))
            .unwrap_or(DEFAULT_POLL);
        let (reader_link, reader_name) = (link.clone(), name.clone());
        let thread = ReaderThread::spawn(&name, "rtt-console", move |tx, stop| {
            let reader = Reader {
                session,
                probe,
                channel,
                region,
                poll,
                clock,
                tx,
                link: reader_link,
                stop,
                name: reader_name,
            };
            reader.run()
        })?;
        Ok(RttConsole { thread, link })
    }

    pub fn status(&self) -> LinkStatus {
        self.link.snapshot()
    }
}

impl Reader {
    fn run(mut self) {
        let mut rtt: Option<Rtt> = None;
        let mut lines = LineAssembler::new();
        let mut buf = vec![0u8; 1024];
        let mut next_try = Instant::now();
        while !self.stop.load(Ordering::Acquire) {
            std::thread::sleep(self.poll);
            let mut lost = false;
            let mut got = 0;
            {
                let mut g = self.session.lock().unwrap_or_else(|p| p.into_inner());
                match g.as_mut() {
                    None => lost = rtt.is_some(),
                    Some(session) => match session.core(0) {
                        Err(_) => lost = rtt.is_some(),
                        Ok(mut core) => {
                            if rtt.is_none() && Instant::now() >= next_try {
                                next_try = Instant::now() + RETRY;
                                if let Ok(r) = Rtt::attach_region(&mut core, &self.region) {
                                    self.link.set_connected(&self.name, self.clock.now_us());
                                    rtt = Some(r);
                                }
                            }
                            if let Some(r) = rtt.as_mut() {
                                match r.up_channel(self.channel) {
                                    Some(ch) => match ch.read(&mut core, &mut buf) {
                                        Ok(n) => got = n,
                                        Err(_) => lost = true,
                                    },
                                    None => lost = true,
                                }
                            }
                        }
                    },
                }
            }
            if got > 0 {
                let t = self.clock.now_us();
                self.link.add_bytes(got);
                let tx = &self.tx;
                lines.push(&buf[..got], t, &mut |l| {
                    let _ = tx.send(l);
                });
            }
            if lost {
                let t = self.clock.now_us();
                if let Some(rest) = lines.flush(t) {
                    let _ = self.tx.send(rest);
                }
                rtt = None;
                self.link.set_disconnected(t);
                next_try = Instant::now() + RETRY;
                if let Some(p) = self.probe.as_mut() {
                    // Our own probe: reattach (the target may be coming back from a cut).
                    if let Err(e) = p.attach() {
                        tracing::debug!("{}: reattach: {}", self.name, e.message);
                    }
                }
            }
        }
    }
}

impl Console for RttConsole {
    fn describe(&self) -> String {
        self.thread.name().to_string()
    }

    fn read_line(&mut self, timeout: Duration) -> RigResult<Option<ConsoleLine>> {
        self.thread.read_line(timeout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    fn cfg() -> RttConsoleConfig {
        RttConsoleConfig {
            selector: None,
            chip: None,
            connect_under_reset: false,
            speed_khz: None,
            channel: 0,
            control_block: None,
            poll_ms: Some(1),
        }
    }

    #[test]
    fn region_and_probe_choice() {
        assert!(matches!(scan_region(Some(0x2000_0000)), ScanRegion::Exact(0x2000_0000)));
        assert!(matches!(scan_region(None), ScanRegion::Ram));
        assert_eq!(own_probe(&cfg()).unwrap(), None);
        let mut c = cfg();
        c.selector = Some("1366:1051".into());
        assert!(own_probe(&c).is_err());
        c.chip = Some("nRF52840_xxAA".into());
        assert_eq!(own_probe(&c).unwrap().unwrap().selector, "1366:1051");
    }

    #[test]
    fn without_a_session_it_stays_quiet() {
        let session: SessionHandle = Arc::new(Mutex::new(None));
        let mut c = RttConsole::on_session(&cfg(), session, "no probe", BenchClock::new()).unwrap();
        assert_eq!(c.read_line(Duration::from_millis(30)).unwrap(), None);
        assert!(!c.status().connected);
        assert!(c.describe().contains("ch0"));
    }

    #[test]
    fn own_probe_absent_fails_naming_the_selector() {
        let mut c = cfg();
        c.selector = Some("0d28:0204:NOPE".into());
        c.chip = Some("nRF52840_xxAA".into());
        let err = RttConsole::open(&c, BenchClock::new()).err().unwrap();
        assert!(err.message.contains("0d28:0204:NOPE"), "{err}");
    }
}
