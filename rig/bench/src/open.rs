//! Factories: a station file's backend settings to opened backends.

use crate::config::{ConsoleConfig, PowerConfig, ProbeConfig, StationBackends, TransportConfig};
use crate::console::rtt::RttConsole;
use crate::console::serial::SerialConsole;
use crate::power::command::CommandPower;
use crate::power::gpio::GpioPower;
use crate::power::guard::PowerGuard;
use crate::power::hid_relay::HidRelayPower;
use crate::power::lcus::LcusPower;
use crate::power::numato::NumatoPower;
use crate::probe::esptool::EsptoolProbe;
use crate::probe::probe_rs::{ProbeRsProbe, SessionHandle};
use crate::shared::SharedProbe;
use crate::transport::command::CommandTransport;
use crate::transport::http::HttpTransport;
use crate::transport::probe_write::ProbeWriteTransport;
use crate::transport::smp::SmpTransport;
use cutpoint_core::clock::BenchClock;
use cutpoint_core::{Console, OtaTransport, PowerSwitch, Probe, RigError, RigResult};

/// Opens the power switch. It is not switched here (the GPIO backend drives the power-on level
/// as it claims the pin); guard it with [`PowerGuard`].
pub fn open_power(cfg: &PowerConfig) -> RigResult<Box<dyn PowerSwitch>> {
    Ok(match cfg {
        PowerConfig::Gpio(c) => Box::new(GpioPower::open(c)?),
        PowerConfig::Lcus(c) => Box::new(LcusPower::open(c)?),
        PowerConfig::HidRelay(c) => Box::new(HidRelayPower::open(c)?),
        PowerConfig::Numato(c) => Box::new(NumatoPower::open(c)?),
        PowerConfig::Command(c) => Box::new(CommandPower::open(c)?),
    })
}

/// The station's probe, opened, with what an RTT console needs to share its session.
pub struct OpenedProbe {
    pub probe: SharedProbe,
    /// The probe-rs session an RTT console reads through; `None` for a probe without one
    /// (esptool).
    pub session: Option<SessionHandle>,
    pub name: String,
}

/// Opens (and attaches) the probe.
pub fn open_probe(cfg: &ProbeConfig) -> RigResult<OpenedProbe> {
    match cfg {
        ProbeConfig::ProbeRs(c) => {
            let p = ProbeRsProbe::open(c)?;
            let session = p.session();
            let name = p.describe();
            Ok(OpenedProbe {
                probe: SharedProbe::new(Box::new(p)),
                session: Some(session),
                name,
            })
        }
        ProbeConfig::Esptool(c) => {
            let p = EsptoolProbe::open(c)?;
            let name = p.describe();
            Ok(OpenedProbe {
                probe: SharedProbe::new(Box::new(p)),
                session: None,
                name,
            })
        }
    }
}

/// Opens the console. An RTT console without its own `selector` reads through `probe`.
pub fn open_console(
    cfg: &ConsoleConfig,
    clock: BenchClock,
    probe: Option<&OpenedProbe>,
) -> RigResult<Box<dyn Console>> {
    Ok(match cfg {
        ConsoleConfig::Serial(c) => Box::new(SerialConsole::open(c, clock)?),
        ConsoleConfig::Rtt(c) if c.selector.is_none() && c.chip.is_none() => {
            let p = probe.ok_or_else(|| {
                RigError::open(
                    "console/rtt",
                    "the rtt console has no `selector`/`chip` and the station has no [probe]",
                )
            })?;
            let session = p.session.clone().ok_or_else(|| {
                RigError::open(
                    "console/rtt",
                    format!(
                        "the rtt console reads through the station's [probe], and {} has no debug session: \
                         use a serial console, or give the rtt console its own selector and chip",
                        p.name
                    ),
                )
            })?;
            Box::new(RttConsole::on_session(c, session, &p.name, clock)?)
        }
        ConsoleConfig::Rtt(c) => Box::new(RttConsole::open(c, clock)?),
    })
}

/// Opens the transport. `probe-write` needs the station's probe.
pub fn open_transport(cfg: &TransportConfig, probe: Option<SharedProbe>) -> RigResult<Box<dyn OtaTransport>> {
    Ok(match cfg {
        TransportConfig::Http(c) => Box::new(HttpTransport::open(c)?),
        TransportConfig::Smp(c) => Box::new(SmpTransport::open(c)?),
        TransportConfig::ProbeWrite(c) => {
            let p = probe.ok_or_else(|| {
                RigError::open("transport/probe-write", "the station has no [probe] to write through")
            })?;
            Box::new(ProbeWriteTransport::open(c, p)?)
        }
        TransportConfig::Command(c) => Box::new(CommandTransport::open(c)?),
    })
}

/// Every backend of a station, opened, with power on and guarded.
pub struct Station {
    pub clock: BenchClock,
    /// Keeps the target powered when the station is dropped or the process is signalled.
    /// Switch through `power.switch()`.
    pub power: PowerGuard,
    pub console: Box<dyn Console>,
    pub probe: Option<OpenedProbe>,
    pub transport: Box<dyn OtaTransport>,
}

/// Opens a whole station: power first (turned on, guarded), then the console (so it is open
/// before the target boots), the probe and the transport.
pub fn open_station(st: &StationBackends, clock: BenchClock) -> RigResult<Station> {
    let power = PowerGuard::new(open_power(&st.power)?)?;
    power.restore()?;
    let probe = match &st.probe {
        Some(p) => Some(open_probe(p)?),
        None => None,
    };
    let console = open_console(&st.console, clock, probe.as_ref())?;
    let transport = open_transport(&st.transport, probe.as_ref().map(|p| p.probe.clone()))?;
    Ok(Station {
        clock,
        power,
        console,
        probe,
        transport,
    })
}
