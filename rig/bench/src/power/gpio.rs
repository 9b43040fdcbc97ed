//! A relay module or MOSFET on a Raspberry Pi GPIO pin (BCM numbering), through rppal.

use rppal::gpio::{Gpio, InputPin, OutputPin};

use crate::config::{GpioPowerConfig, Level};
use cutpoint_core::{PowerSwitch, RigError, RigErrorKind, RigResult};

/// A GPIO pin driving the target's power.
pub struct GpioPower {
    pin: OutputPin,
    bcm: u8,
    on_level: Level,
    /// An input on the supply rail, and the level it reads while the target is powered.
    sense: Option<(InputPin, Level)>,
}

/// The pin level (true = high) that gives power `on` for a switch whose on-level is `on_level`.
pub fn pin_level(on: bool, on_level: Level) -> bool {
    match on_level {
        Level::High => on,
        Level::Low => !on,
    }
}

/// The power state a pin level means, the inverse of [`pin_level`].
pub fn power_from_level(high: bool, on_level: Level) -> bool {
    pin_level(high, on_level)
}

/// How the guide (docs/bench-on-a-pi.md) says it: `on_level` is the pin level at which the
/// target is powered. Relay boards are "active-low" or "active-high" by the level that
/// energises the coil, which says nothing of the target's power until one knows the contact
/// wired through, so those words are not used here.
pub fn polarity(on_level: Level) -> &'static str {
    match on_level {
        Level::High => "on_level = \"high\": target powered while the pin is HIGH, cut while it is LOW",
        Level::Low => "on_level = \"low\": target powered while the pin is LOW, cut while it is HIGH",
    }
}

fn backend_name(pin: u8, on_level: Level) -> String {
    format!("power/gpio BCM{pin} ({})", polarity(on_level))
}

/// Maps an rppal error to a rig error that says what to do.
pub fn gpio_error(pin: u8, on_level: Level, e: &rppal::gpio::Error) -> RigError {
    use rppal::gpio::Error as E;
    let backend = backend_name(pin, on_level);
    let message = match e {
        E::UnknownModel => format!(
            "cannot drive GPIO BCM{pin}: this machine is not a Raspberry Pi (rppal: {e}); \
             the gpio power switch needs a Raspberry Pi"
        ),
        E::PermissionDenied(path) => format!(
            "cannot drive GPIO BCM{pin}: permission denied on {path}; add the user to the `gpio` \
             group (sudo usermod -aG gpio $USER) and log in again"
        ),
        E::PinNotAvailable(_) => format!("GPIO BCM{pin} does not exist on this Raspberry Pi (use BCM numbers)"),
        E::PinUsed(_) => format!("GPIO BCM{pin} is already in use by another program or driver"),
        other => format!("cannot drive GPIO BCM{pin}: {other}; it needs a Raspberry Pi and `gpio` group rights"),
    };
    RigError::new(backend, RigErrorKind::Open, message)
}

impl GpioPower {
    /// Claims the pin as an output, driving the power-on level (the target stays powered).
    pub fn open(cfg: &GpioPowerConfig) -> RigResult<Self> {
        let err = |e: rppal::gpio::Error| gpio_error(cfg.pin, cfg.on_level, &e);
        let gpio = Gpio::new().map_err(err)?;
        let pin = gpio.get(cfg.pin).map_err(err)?;
        let mut pin = if pin_level(true, cfg.on_level) {
            pin.into_output_high()
        } else {
            pin.into_output_low()
        };
        // Keep the level when the program exits; otherwise the pin reverts to an input and the
        // relay may flip.
        pin.set_reset_on_drop(false);
        let sense = match &cfg.sense {
            Some(s) => {
                let err = |e: rppal::gpio::Error| gpio_error(s.pin, s.on_level, &e);
                Some((gpio.get(s.pin).map_err(err)?.into_input(), s.on_level))
            }
            None => None,
        };
        Ok(GpioPower {
            pin,
            bcm: cfg.pin,
            on_level: cfg.on_level,
            sense,
        })
    }
}

impl PowerSwitch for GpioPower {
    fn describe(&self) -> String {
        backend_name(self.bcm, self.on_level)
    }

    fn set_power(&mut self, on: bool) -> RigResult<()> {
        if pin_level(on, self.on_level) {
            self.pin.set_high();
        } else {
            self.pin.set_low();
        }
        Ok(())
    }

    /// The level the pin drives (the output latch), not a sense of the relay contacts.
    fn read_back(&mut self) -> RigResult<Option<bool>> {
        Ok(Some(power_from_level(self.pin.is_set_high(), self.on_level)))
    }

    /// The supply rail as the sense input reads it.
    fn sense(&mut self) -> RigResult<Option<bool>> {
        Ok(self
            .sense
            .as_ref()
            .map(|(pin, on_level)| power_from_level(pin.is_high(), *on_level)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_follow_the_on_level() {
        assert!(pin_level(true, Level::High));
        assert!(!pin_level(false, Level::High));
        assert!(!pin_level(true, Level::Low));
        assert!(pin_level(false, Level::Low));
        for lvl in [Level::High, Level::Low] {
            for on in [true, false] {
                assert_eq!(power_from_level(pin_level(on, lvl), lvl), on);
            }
        }
    }

    #[test]
    fn errors_name_the_pin_and_the_fix() {
        let e = gpio_error(26, Level::Low, &rppal::gpio::Error::UnknownModel);
        assert_eq!(e.kind, RigErrorKind::Open);
        assert_eq!(
            e.backend,
            "power/gpio BCM26 (on_level = \"low\": target powered while the pin is LOW, cut while it is HIGH)"
        );
        assert!(e.message.contains("BCM26") && e.message.contains("Raspberry Pi"), "{e}");
        let e = gpio_error(
            20,
            Level::High,
            &rppal::gpio::Error::PermissionDenied("/dev/gpiomem".into()),
        );
        assert!(e.message.contains("gpio") && e.message.contains("/dev/gpiomem"), "{e}");
    }

    fn on_a_pi() -> bool {
        std::fs::read_to_string("/proc/device-tree/model")
            .map(|m| m.contains("Raspberry Pi"))
            .unwrap_or(false)
    }

    #[test]
    fn open_off_a_pi_fails_clearly() {
        if on_a_pi() {
            // On a Pi this would really drive a pin; the bench checks it with `cutpoint doctor`.
            return;
        }
        let err = GpioPower::open(&GpioPowerConfig {
            pin: 26,
            on_level: Level::Low,
            sense: None,
        })
        .err()
        .expect("no Raspberry Pi here");
        assert_eq!(err.kind, RigErrorKind::Open);
        assert!(err.message.contains("BCM26"), "{err}");
        assert!(err.message.contains("Raspberry Pi"), "{err}");
    }
}
