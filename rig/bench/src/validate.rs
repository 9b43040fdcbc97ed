//! The checks of a station's backend settings that need no hardware: what each backend's
//! `open` would refuse before touching a device (ranges, names, selectors, addresses), and
//! what one role needs of another. `cutpoint check` and `cutpoint doctor` both run them, so a
//! station that passes `check` fails at open only for reasons of the bench itself.

use crate::config::{ConsoleConfig, PowerConfig, ProbeConfig, StationBackends, TransportConfig};
use crate::console::rtt::own_probe;
use crate::power::numato::relay_char;
use crate::probe::selector::ProbeSelector;
use crate::serial_id::SerialIdentity;
use crate::transport::probe_write::TRAILER_INFO;
use crate::transport::smp::{chunk_sizes, DEFAULT_MTU};

/// One problem with a station's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// `power`, `console`, `probe` or `transport`.
    pub role: &'static str,
    /// The key of the role's table it is about; `None` for the table as a whole.
    pub field: Option<&'static str>,
    /// What is wrong and what to write instead.
    pub message: String,
}

fn problem(role: &'static str, field: Option<&'static str>, message: impl Into<String>) -> Problem {
    Problem {
        role,
        field,
        message: message.into(),
    }
}

/// The highest BCM number on the Raspberry Pi's 40-pin header.
pub const MAX_BCM: u8 = 27;

/// Every problem of `st`, in role order (power, console, probe, transport).
pub fn problems(st: &StationBackends) -> Vec<Problem> {
    let mut out = Vec::new();
    power(&st.power, &mut out);
    console(&st.console, st.probe.as_ref(), &mut out);
    if let Some(p) = &st.probe {
        probe(p, &mut out);
    }
    transport(&st.transport, st.probe.is_some(), &mut out);
    out
}

/// The programs the station's commands run (a command switch's `on`, `off` and `sense`, a
/// command transport, esptool's `command`) that this machine does not have: no executable file
/// at the path given, or, for a bare name, none on `PATH` (where the rig's spawn looks). Kept
/// apart from [`problems`], which needs nothing of the machine: the station's own check and
/// its run call both, so a missing program is bad input at its line, not a rig error at the
/// first cut.
pub fn missing_programs(st: &StationBackends) -> Vec<Problem> {
    let mut out = Vec::new();
    let mut check = |role: &'static str, field: &'static str, argv: &[String]| {
        let Some(program) = argv.first().filter(|p| !p.trim().is_empty()) else {
            return;
        };
        if !program_found(program) {
            let where_ = if program.contains('/') { "" } else { " on PATH" };
            out.push(problem(
                role,
                Some(field),
                format!("no program {program:?} on this machine (no executable file{where_}); install it, or give its full path"),
            ));
        }
    };
    if let PowerConfig::Command(c) = &st.power {
        check("power", "on", &c.on);
        check("power", "off", &c.off);
        if let Some(sense) = &c.sense {
            check("power", "sense", sense);
        }
    }
    if let Some(ProbeConfig::Esptool(c)) = &st.probe {
        if let Some(command) = &c.command {
            check("probe", "command", command);
        }
    }
    if let TransportConfig::Command(c) = &st.transport {
        check("transport", "argv", &c.argv);
    }
    out
}

/// Whether `program` names an executable file: a path (with a `/`) as given, a bare name in a
/// directory of `PATH`.
fn program_found(program: &str) -> bool {
    fn executable(path: &std::path::Path) -> bool {
        let Ok(meta) = std::fs::metadata(path) else {
            return false;
        };
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            meta.is_file() && meta.permissions().mode() & 0o111 != 0
        }
        #[cfg(not(unix))]
        {
            meta.is_file()
        }
    }
    if program.contains('/') {
        return executable(std::path::Path::new(program));
    }
    std::env::var_os("PATH").is_some_and(|paths| std::env::split_paths(&paths).any(|d| executable(&d.join(program))))
}

fn power(p: &PowerConfig, out: &mut Vec<Problem>) {
    const R: &str = "power";
    match p {
        PowerConfig::Gpio(g) if g.pin > MAX_BCM => out.push(problem(
            R,
            Some("pin"),
            format!(
                "expected a BCM GPIO number 0-{MAX_BCM} (GPIO26, not header pin 37), got {}",
                g.pin
            ),
        )),
        PowerConfig::Lcus(l) if !(1..=8).contains(&l.channel) => out.push(problem(
            R,
            Some("channel"),
            format!(
                "expected an LCUS channel 1-8 (channels count from 1), got {}",
                l.channel
            ),
        )),
        PowerConfig::HidRelay(h) if !(1..=8).contains(&h.relay) => out.push(problem(
            R,
            Some("relay"),
            format!("expected a dcttech relay 1-8 (relays count from 1), got {}", h.relay),
        )),
        PowerConfig::Numato(n) if relay_char(n.relay).is_none() => out.push(problem(
            R,
            Some("relay"),
            format!("expected a Numato relay index 0-35, got {}", n.relay),
        )),
        PowerConfig::Gpio(g) if g.sense.as_ref().is_some_and(|s| s.pin > MAX_BCM || s.pin == g.pin) => {
            let s = g.sense.as_ref().map_or(0, |s| s.pin);
            out.push(problem(
                R,
                Some("sense"),
                format!(
                    "expected the sense input on its own BCM GPIO number 0-{MAX_BCM}, not the relay's pin {}, got {s}",
                    g.pin
                ),
            ))
        }
        PowerConfig::Command(c) => {
            if c.sense
                .as_ref()
                .is_some_and(|s| s.first().is_none_or(|p| p.trim().is_empty()))
            {
                out.push(problem(
                    R,
                    Some("sense"),
                    "expected a program and its arguments that exit 0 while the target is powered and 1 while it is not, \
                     e.g. sense = [\"gpioget\", \"gpiochip0\", \"17\"] wrapped in a script"
                        .to_string(),
                ));
            }
            if c.timeout_ms == Some(0) {
                out.push(problem(
                    R,
                    Some("timeout_ms"),
                    "expected how long each switch command may take in ms (e.g. 5000), got 0: every command would \
                     time out",
                ));
            }
            for (key, argv) in [("on", &c.on), ("off", &c.off)] {
                if argv.first().is_none_or(|p| p.trim().is_empty()) {
                    out.push(problem(
                        R,
                        Some(key),
                        format!("expected a program and its arguments, e.g. {key} = [\"uhubctl\", \"-a\", \"{key}\"]"),
                    ));
                }
            }
        }
        _ => {}
    }
}

fn console(c: &ConsoleConfig, probe: Option<&ProbeConfig>, out: &mut Vec<Problem>) {
    const R: &str = "console";
    let has_probe = probe.is_some();
    match c {
        ConsoleConfig::Serial(s) => {
            if let Err(e) = SerialIdentity::from_config(s.port.as_deref(), s.usb_serial.as_deref(), R) {
                out.push(problem(R, Some("port"), e.message));
            }
            if s.baud == 0 {
                out.push(problem(R, Some("baud"), "expected a baud rate (e.g. 115200), got 0"));
            }
        }
        ConsoleConfig::Rtt(r) => match own_probe(r) {
            Err(e) => out.push(problem(R, Some(if r.chip.is_none() { "selector" } else { "chip" }), e)),
            Ok(Some(p)) => {
                if let Err(e) = p.selector.parse::<ProbeSelector>() {
                    out.push(problem(R, Some("selector"), e));
                }
            }
            Ok(None) if !has_probe => out.push(problem(
                R,
                None,
                "an rtt console without `selector` and `chip` reads through the station's [probe], \
                 and there is none: add a [probe] table or give selector and chip here",
            )),
            Ok(None) if matches!(probe, Some(ProbeConfig::Esptool(_))) => out.push(problem(
                R,
                None,
                "an rtt console without `selector` and `chip` reads through the station's [probe], \
                 and esptool has no debug session to read it through: use a serial console, or give \
                 the rtt console its own selector and chip",
            )),
            Ok(None) => {}
        },
    }
}

/// Whether the probe-rs built in knows `chip` (as its attach would look it up).
fn chip_known(chip: &str) -> bool {
    static REGISTRY: std::sync::OnceLock<probe_rs::config::Registry> = std::sync::OnceLock::new();
    REGISTRY
        .get_or_init(probe_rs::config::Registry::from_builtin_families)
        .get_target_by_name(chip)
        .is_ok()
}

fn probe(p: &ProbeConfig, out: &mut Vec<Problem>) {
    const R: &str = "probe";
    match p {
        ProbeConfig::ProbeRs(c) => {
            if let Err(e) = c.selector.parse::<ProbeSelector>() {
                out.push(problem(R, Some("selector"), e));
            }
            if c.chip.trim().is_empty() {
                out.push(problem(
                    R,
                    Some("chip"),
                    "expected the chip as probe-rs names it (e.g. \"nRF52840_xxAA\"; `probe-rs chip list`)",
                ));
            } else if !chip_known(&c.chip) {
                // A typo found here, not at the first attach, whose failure reads like wiring.
                out.push(problem(
                    R,
                    Some("chip"),
                    format!(
                        "probe-rs knows no chip {:?}; expected a name as `probe-rs chip list` gives it (e.g. \
                         \"nRF52840_xxAA\", \"STM32F429ZITx\")",
                        c.chip
                    ),
                ));
            }
            for s in &c.slots {
                if s.size == 0 || s.offset.checked_add(s.size).is_none() {
                    out.push(problem(
                        R,
                        Some("slots"),
                        format!(
                            "slot \"{}\": expected a size of at least 1 byte ending below 4 GiB, got {:#x}+{:#x}",
                            s.name, s.offset, s.size
                        ),
                    ));
                }
            }
        }
        ProbeConfig::Esptool(c) => {
            if let Err(e) = SerialIdentity::from_config(c.port.as_deref(), c.usb_serial.as_deref(), R) {
                out.push(problem(R, Some("port"), e.message));
            }
            if c.chip.trim().is_empty() {
                out.push(problem(
                    R,
                    Some("chip"),
                    "expected the chip as esptool's --chip names it (e.g. \"esp32c3\")",
                ));
            }
            if c.baud == Some(0) {
                out.push(problem(R, Some("baud"), "expected a baud rate (e.g. 460800), got 0"));
            }
            if c.command
                .as_ref()
                .is_some_and(|a| a.first().is_none_or(|p| p.trim().is_empty()))
            {
                out.push(problem(
                    R,
                    Some("command"),
                    "expected the program that runs esptool and any leading arguments, e.g. [\"esptool\"] \
                     or [\"python3\", \"-m\", \"esptool\"]",
                ));
            }
            if c.port_wait_ms == Some(0) {
                out.push(problem(
                    R,
                    Some("port_wait_ms"),
                    "expected how long to wait for the port after power-on (e.g. 5000), got 0: \
                     a USB-Serial-JTAG port takes a moment to come back",
                ));
            }
            if c.timeout_ms == Some(0) {
                out.push(problem(
                    R,
                    Some("timeout_ms"),
                    "expected a time in ms (e.g. 30000), got 0",
                ));
            }
        }
    }
}

fn transport(t: &TransportConfig, has_probe: bool, out: &mut Vec<Problem>) {
    const R: &str = "transport";
    match t {
        TransportConfig::Http(h) => {
            let port_ok = h
                .bind
                .rsplit_once(':')
                .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
            if !port_ok {
                out.push(problem(
                    R,
                    Some("bind"),
                    format!(
                        "expected an address and port to listen on, like \"0.0.0.0:8080\", got {:?}",
                        h.bind
                    ),
                ));
            }
            if let Some(p) = h.path.as_deref().filter(|p| !p.starts_with('/')) {
                out.push(problem(
                    R,
                    Some("path"),
                    format!("expected a URL path starting with `/`, got {p:?}"),
                ));
            }
        }
        TransportConfig::Smp(s) => {
            if s.port.trim().is_empty() {
                out.push(problem(
                    R,
                    Some("port"),
                    "expected a serial port (a /dev/serial/by-id/... path)",
                ));
            }
            if s.baud == 0 {
                out.push(problem(R, Some("baud"), "expected a baud rate (e.g. 115200), got 0"));
            }
            if let Err(e) = chunk_sizes(s.mtu.unwrap_or(DEFAULT_MTU)) {
                out.push(problem(R, Some("mtu"), e));
            }
            if s.timeout_ms == Some(0) {
                out.push(problem(
                    R,
                    Some("timeout_ms"),
                    "expected how long to wait for each SMP answer in ms (e.g. 5000), got 0",
                ));
            }
        }
        TransportConfig::ProbeWrite(p) => {
            if !has_probe {
                out.push(problem(
                    R,
                    None,
                    "probe-write writes the update through the station's [probe], and there is none",
                ));
            }
            // 0: not stated in the file; the rig takes the slot from the station's flash map.
            if p.slot_size != 0 && (p.slot_size as usize) <= TRAILER_INFO {
                out.push(problem(
                    R,
                    Some("slot_size"),
                    format!(
                        "expected the secondary slot's size, more than its {TRAILER_INFO}-byte trailer, got {}",
                        p.slot_size
                    ),
                ));
            }
        }
        TransportConfig::Command(c) => {
            if c.argv.first().is_none_or(|p| p.trim().is_empty()) {
                out.push(problem(
                    R,
                    Some("argv"),
                    "expected a program and its arguments; {image} stands for the staged image file",
                ));
            }
            if c.timeout_ms == Some(0) {
                out.push(problem(
                    R,
                    Some("timeout_ms"),
                    "expected how long the command may take in ms (e.g. 60000), got 0",
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::*;

    fn station(power: PowerConfig, transport: TransportConfig) -> StationBackends {
        StationBackends {
            name: None,
            power,
            console: ConsoleConfig::Serial(SerialConsoleConfig {
                port: Some("/dev/serial/by-id/x".into()),
                usb_serial: None,
                baud: 115200,
                dtr: None,
                rts: None,
            }),
            probe: None,
            transport,
            off_dwell_ms: None,
        }
    }

    fn http(bind: &str) -> TransportConfig {
        TransportConfig::Http(HttpTransportConfig {
            bind: bind.into(),
            path: None,
        })
    }

    #[test]
    fn a_sound_station_has_no_problems() {
        let st = station(
            PowerConfig::Gpio(GpioPowerConfig {
                pin: 26,
                on_level: Level::High,
                sense: None,
            }),
            http("0.0.0.0:8080"),
        );
        assert_eq!(problems(&st), vec![]);
    }

    #[test]
    fn a_supply_sense_needs_its_own_pin_and_a_program() {
        let gpio = |sense: u8| {
            station(
                PowerConfig::Gpio(GpioPowerConfig {
                    pin: 26,
                    on_level: Level::High,
                    sense: Some(crate::config::GpioSenseConfig {
                        pin: sense,
                        on_level: Level::Low,
                    }),
                }),
                http("0.0.0.0:8080"),
            )
        };
        assert_eq!(problems(&gpio(27)), vec![]);
        for bad in [26, 40] {
            let p = problems(&gpio(bad));
            assert_eq!(p.len(), 1, "{p:?}");
            assert_eq!((p[0].role, p[0].field), ("power", Some("sense")));
        }
        let st = station(
            PowerConfig::Command(CommandPowerConfig {
                on: vec!["on".into()],
                off: vec!["off".into()],
                timeout_ms: None,
                sense: Some(vec![" ".into()]),
            }),
            http("0.0.0.0:8080"),
        );
        let p = problems(&st);
        assert_eq!((p[0].role, p[0].field), ("power", Some("sense")), "{p:?}");
        assert!(
            p[0].message.contains("exit 0 while the target is powered"),
            "{}",
            p[0].message
        );
    }

    #[test]
    fn a_timeout_of_zero_is_refused_for_the_switch_and_transport_commands() {
        let st = station(
            PowerConfig::Command(CommandPowerConfig {
                on: vec!["relay-on".into()],
                off: vec!["relay-off".into()],
                timeout_ms: Some(0),
                sense: None,
            }),
            TransportConfig::Command(CommandTransportConfig {
                argv: vec!["push".into(), "{image}".into()],
                timeout_ms: Some(0),
            }),
        );
        let p = problems(&st);
        let at: Vec<_> = p.iter().map(|p| (p.role, p.field)).collect();
        assert_eq!(
            at,
            vec![("power", Some("timeout_ms")), ("transport", Some("timeout_ms"))],
            "{p:?}"
        );
        let smp = station(
            PowerConfig::Gpio(GpioPowerConfig {
                pin: 26,
                on_level: Level::High,
                sense: None,
            }),
            TransportConfig::Smp(SmpTransportConfig {
                port: "/dev/serial/by-id/smp".into(),
                baud: 115200,
                mtu: None,
                timeout_ms: Some(0),
                image: None,
                after_upload: None,
            }),
        );
        let p = problems(&smp);
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!((p[0].role, p[0].field), ("transport", Some("timeout_ms")));
    }

    #[test]
    fn a_command_whose_program_this_machine_lacks_is_found_before_any_run() {
        let st = station(
            PowerConfig::Command(CommandPowerConfig {
                on: vec!["/nonexistent/relay-on".into()],
                off: vec!["true".into()],
                timeout_ms: None,
                sense: Some(vec!["cutpoint-no-such-sense-program".into()]),
            }),
            TransportConfig::Command(CommandTransportConfig {
                argv: vec!["sh".into(), "-c".into(), "true".into()],
                timeout_ms: None,
            }),
        );
        let p = missing_programs(&st);
        let at: Vec<_> = p.iter().map(|p| (p.role, p.field)).collect();
        assert_eq!(at, vec![("power", Some("on")), ("power", Some("sense"))], "{p:?}");
        assert!(
            p[0].message.contains("no program \"/nonexistent/relay-on\""),
            "{}",
            p[0].message
        );
        assert!(p[1].message.contains("on PATH"), "{}", p[1].message);
        // A directory is not a program.
        assert!(!program_found("/"));
    }

    #[test]
    fn what_open_would_refuse_is_found_without_hardware() {
        let st = station(
            PowerConfig::Gpio(GpioPowerConfig {
                pin: 37,
                on_level: Level::High,
                sense: None,
            }),
            http("8080"),
        );
        let p = problems(&st);
        assert_eq!(p.len(), 2, "{p:?}");
        assert_eq!((p[0].role, p[0].field), ("power", Some("pin")));
        assert!(p[0].message.contains("header pin"), "{}", p[0].message);
        assert_eq!((p[1].role, p[1].field), ("transport", Some("bind")));

        let mut st = station(
            PowerConfig::Lcus(LcusPowerConfig {
                port: "/dev/x".into(),
                channel: 0,
            }),
            TransportConfig::ProbeWrite(ProbeWriteTransportConfig {
                slot_addr: 0x82000,
                slot_size: 0x76000,
                permanent: false,
                trailer_align: None,
                image_offset: 0,
            }),
        );
        st.console = ConsoleConfig::Serial(SerialConsoleConfig {
            port: None,
            usb_serial: None,
            baud: 0,
            dtr: None,
            rts: None,
        });
        let p = problems(&st);
        let at: Vec<_> = p.iter().map(|p| (p.role, p.field)).collect();
        assert_eq!(
            at,
            vec![
                ("power", Some("channel")),
                ("console", Some("port")),
                ("console", Some("baud")),
                ("transport", None),
            ]
        );
    }

    #[test]
    fn probe_selectors_are_parsed() {
        let mut st = station(
            PowerConfig::Command(CommandPowerConfig {
                on: vec!["true".into()],
                off: vec![],
                timeout_ms: None,
                sense: None,
            }),
            http("127.0.0.1:0"),
        );
        st.probe = Some(ProbeConfig::ProbeRs(ProbeRsConfig {
            selector: "jlink".into(),
            chip: "nRF52840_xxAA".into(),
            connect_under_reset: false,
            speed_khz: None,
            slots: vec![],
        }));
        let p = problems(&st);
        let at: Vec<_> = p.iter().map(|p| (p.role, p.field)).collect();
        assert_eq!(at, vec![("power", Some("off")), ("probe", Some("selector"))]);
    }

    #[test]
    fn a_chip_probe_rs_does_not_know_is_refused_before_any_attach() {
        let chip = |name: &str| {
            let mut st = station(
                PowerConfig::Gpio(GpioPowerConfig {
                    pin: 26,
                    on_level: Level::High,
                    sense: None,
                }),
                http("127.0.0.1:0"),
            );
            st.probe = Some(ProbeConfig::ProbeRs(ProbeRsConfig {
                selector: "1366:1015".into(),
                chip: name.into(),
                connect_under_reset: false,
                speed_khz: None,
                slots: vec![],
            }));
            problems(&st)
        };
        assert_eq!(chip("nRF52840_xxAA"), vec![]);
        assert_eq!(chip("STM32F446RETx"), vec![]);
        let p = chip("nRF99999_bogus");
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!((p[0].role, p[0].field), ("probe", Some("chip")));
        assert!(
            p[0].message.contains("probe-rs knows no chip \"nRF99999_bogus\""),
            "{}",
            p[0].message
        );
    }
}
