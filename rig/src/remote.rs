//! The daemon and its client verbs: `cutpoint daemon`, `submit`, `runs`, `cancel`, `benches`,
//! `lease`, `token new`. The daemon itself is the `cutpoint-daemon` crate; this gives it the
//! targets of this crate (the simulated board and the benches).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use cutpoint::exit::{BAD_INPUT, PASS};
use cutpoint::station_lock::{StationLock, StationLockError};
use cutpoint_campaign::{format_errors, Campaign};
use cutpoint_daemon::auth::{new_token, Scope};
use cutpoint_daemon::lab::{default_lab, load_lab, parse_listen};
use cutpoint_daemon::lab::{StationDef, StationKind};
use cutpoint_daemon::station::{Doctor, DoctorError, Hooks, OpenError, OpenTarget, Opened, SafeState};
use cutpoint_daemon::ServeOptions;

/// Opens a campaign's target as `cutpoint run` does: the simulated board, or a station's
/// backends.
fn open_target() -> OpenTarget {
    Arc::new(|c: &Campaign, workers: usize| {
        // The bench, locked for as long as the target lives, as `cutpoint run` locks it.
        let hold = match &c.target.kind {
            cutpoint_campaign::TargetKind::Station { path, .. } => {
                match cutpoint::station_lock::StationLock::acquire(path, "the cutpoint daemon") {
                    Ok(l) => Some(Box::new(l) as Box<dyn std::any::Any>),
                    Err(e @ cutpoint::station_lock::StationLockError::Busy { .. }) => {
                        return Err(OpenError::Busy(e.to_string()))
                    }
                    Err(e) => return Err(OpenError::Rig(e.to_string())),
                }
            }
            cutpoint_campaign::TargetKind::Simulated { .. } => None,
        };
        let prepared = cutpoint::prepared::prepare(c, workers).map_err(|e| OpenError::Input(e.to_string()))?;
        let expect = prepared.expect().clone();
        let update_size = prepared.update_size();
        let target = prepared.open().map_err(|e| OpenError::Rig(e.to_string()))?;
        Ok(Opened {
            target,
            expect,
            update_size,
            hold,
        })
    })
}

/// `cutpoint doctor` on a bench station (its findings kept for the reason); a simulated
/// station has nothing to check.
fn doctor() -> Doctor {
    Arc::new(|s: &StationDef| match &s.kind {
        StationKind::Sim { .. } => Ok("simulated board: nothing to check".into()),
        StationKind::Bench { station, path } => {
            // Never while another process drives the bench (a manual run): checked later.
            let _lock = match StationLock::acquire(path, "the cutpoint daemon (doctor)") {
                Ok(l) => l,
                Err(e @ StationLockError::Busy { .. }) => return Err(DoctorError::Busy(e.to_string())),
                Err(e) => return Err(DoctorError::Unfit(e.to_string())),
            };
            let unfit = DoctorError::Unfit;
            let mut b = cutpoint::bench_target::station_backends(station).map_err(|e| unfit(format_errors(&e)))?;
            cutpoint::flash_map::fill_probe_slots(&mut b, station).map_err(|e| unfit(e.to_string()))?;
            let mut out = Vec::new();
            let report = cutpoint_bench::doctor::doctor(&b, &mut out);
            let text = String::from_utf8_lossy(&out).trim().to_string();
            if report.fit {
                Ok("fit for a run".into())
            } else {
                Err(unfit(format!("not fit for a run:\n{text}")))
            }
        }
    })
}

/// A bench's safe state: its power switch opened and the target powered, as after a run.
fn safe_state() -> SafeState {
    Arc::new(|s: &StationDef| match &s.kind {
        StationKind::Sim { .. } => Ok(()),
        StationKind::Bench { station, path } => {
            // A manual run that drives the bench restores its power itself: leave it be.
            let _lock = match StationLock::acquire(path, "the cutpoint daemon (start)") {
                Ok(l) => l,
                Err(StationLockError::Busy { .. }) => return Ok(()),
                Err(e) => return Err(e.to_string()),
            };
            let b = cutpoint::bench_target::station_backends(station).map_err(|e| format_errors(&e))?;
            let mut power = cutpoint_bench::open::open_power(&b.power).map_err(|e| e.to_string())?;
            power.set_power(true).map_err(|e| e.to_string())
        }
    })
}

pub fn daemon(lab: Option<&Path>, listen: Option<&str>, addr_file: Option<PathBuf>) -> i32 {
    let lab = match lab {
        Some(p) => match load_lab(p) {
            Ok(l) => l,
            Err(errors) => {
                eprintln!("{}", format_errors(&errors));
                return BAD_INPUT;
            }
        },
        None => {
            let l = default_lab();
            eprintln!(
                "cutpoint daemon: no lab file: one simulated station `sim` (any board, {} workers), data in ./{}",
                l.stations[0].workers(),
                l.data_dir.display()
            );
            l
        }
    };
    let listen = match listen.map(parse_listen).transpose() {
        Ok(l) => l,
        Err(e) => {
            eprintln!("--listen {e}");
            return BAD_INPUT;
        }
    };
    let hooks = Hooks {
        open: open_target(),
        doctor: doctor(),
        safe_state: safe_state(),
    };
    cutpoint_daemon::serve(lab, hooks, ServeOptions { listen, addr_file })
}

/// `cutpoint token new NAME --scope S [--tokens FILE]`: prints a new token once, and appends
/// its hash to the tokens file (or prints the entry to add).
pub fn token_new(name: &str, scope: &str, tokens: Option<&Path>) -> i32 {
    let Some(scope) = Scope::from_name(scope) else {
        eprintln!("--scope {scope}: expected read, submit or admin");
        return BAD_INPUT;
    };
    let (token, entry) = new_token(name, scope);
    match tokens {
        Some(path) => {
            use std::io::Write as _;
            let appended = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .and_then(|mut f| writeln!(f, "\n{entry}"));
            if let Err(e) = appended {
                eprintln!("{}: {e}", path.display());
                return BAD_INPUT;
            }
            eprintln!(
                "cutpoint: token `{name}` ({}) added to {} (its hash only); the token, shown once:",
                scope.name(),
                path.display()
            );
        }
        None => eprintln!("cutpoint: add this to the tokens file:\n{entry}\nthe token, shown once:"),
    }
    println!("{token}");
    PASS
}
