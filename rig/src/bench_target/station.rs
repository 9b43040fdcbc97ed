//! A station file's backend tables, decoded and checked without opening any hardware.

use cutpoint_bench::config::StationBackends;
use cutpoint_campaign::{FileError, Role, StationFile};

/// Decodes a station file's backend tables and checks them as far as that needs no hardware
/// ([`cutpoint_bench::validate`]); every error names the station file, line, column and key.
pub fn station_backends(st: &StationFile) -> Result<StationBackends, Vec<FileError>> {
    let mut errors = Vec::new();
    let power = st.decode_role(Role::Power).map_err(|e| errors.push(e)).ok();
    let console = st.decode_role(Role::Console).map_err(|e| errors.push(e)).ok();
    let transport = st.decode_role(Role::Transport).map_err(|e| errors.push(e)).ok();
    let probe = if st.has_role(Role::Probe) {
        st.decode_role(Role::Probe).map_err(|e| errors.push(e)).ok()
    } else {
        None
    };
    match (power, console, transport) {
        (Some(power), Some(console), Some(transport)) if errors.is_empty() => {
            let backends = StationBackends {
                name: Some(st.name.clone()),
                power,
                console,
                probe,
                transport,
                off_dwell_ms: st.dwell_ms,
            };
            let mut problems = cutpoint_bench::validate::problems(&backends);
            problems.extend(cutpoint_bench::validate::missing_programs(&backends));
            if problems.is_empty() {
                return Ok(backends);
            }
            Err(problems
                .into_iter()
                .map(|p| {
                    let role = Role::ALL
                        .into_iter()
                        .find(|r| r.name() == p.role)
                        .unwrap_or(Role::Power);
                    st.locate(role, p.field, p.message)
                })
                .collect())
        }
        _ => Err(errors),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flash_map::station_profile;

    #[test]
    fn station_names_its_board() {
        let text = |target: &str| {
            format!(
                "{target}\n[power]\nkind = \"command\"\non = [\"true\"]\noff = [\"true\"]\n\
                 [console]\nkind = \"serial\"\nport = \"/dev/null\"\nbaud = 115200\n\
                 [transport]\nkind = \"http\"\nbind = \"127.0.0.1:0\"\n"
            )
        };
        let load = |t: &str| cutpoint_campaign::parse_station(&text(t), std::path::Path::new("s.toml")).unwrap();
        let nrf = load("[target]\nchip = \"nRF52840_xxAA\"\nboard = \"nRF52840-DK\"");
        assert_eq!(station_profile(&nrf, None).unwrap().name, "nrf52840");
        let st = load("[target]\nchip = \"STM32L476RGTx\"");
        assert_eq!(station_profile(&st, None).unwrap().name, "stm32l4");
        let unknown = load("[target]\nchip = \"STM32F446RETx\"");
        assert!(station_profile(&unknown, None).is_none());
        let backends = station_backends(&unknown).unwrap();
        assert!(backends.probe.is_none());
        assert_eq!(backends.name.as_deref(), Some("s"));
    }
}
