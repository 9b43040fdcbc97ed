//! Probe-write on a bench whose bootloader runs MCUboot's swap-using-offset: the update must
//! sit one sector into the secondary slot ("Update image must be placed starting at the second
//! sector in the secondary slot", MCUboot docs/design.md, "Swap using offset"; bootutil
//! swap_offset.c reads a pending update's header at the size of the secondary's first sector).
//! The sector is the station map's, and what probe-write wrote is read back by the rig's own
//! decoder and booted by the firmware's swap-offset bootloader on the simulated board.

use std::path::Path;
use std::sync::{Arc, Mutex};

use cutpoint::bench_setup::bench_setup;
use cutpoint::bench_target::baseline_writes;
use cutpoint_bench::config::TransportConfig;
use cutpoint_bench::transport::probe_write::ProbeWriteTransport;
use cutpoint_bench::{OtaTransport, Probe, RigResult, SharedProbe};
use cutpoint_campaign::load_campaign;
use cutpoint_inspect::decode::Validity;
use cutpoint_sim::imgtool::{default_test_key, public_key};
use cutpoint_sim::{BoardProfile, Firmware, NorFlash, RunOptions, SimBoard};
use fut::scheme::Mode;
use fut::Variant;

/// The whole flash of a part, behind a probe.
struct MemProbe(Arc<Mutex<Vec<u8>>>);

impl Probe for MemProbe {
    fn describe(&self) -> String {
        "probe/mem".into()
    }
    fn attach(&mut self) -> RigResult<()> {
        Ok(())
    }
    fn write_flash(&mut self, addr: u32, data: &[u8], progress: &mut dyn FnMut(usize, usize)) -> RigResult<()> {
        let at = addr as usize;
        self.0.lock().unwrap()[at..at + data.len()].copy_from_slice(data);
        progress(data.len(), data.len());
        Ok(())
    }
    fn read_flash(&mut self, addr: u32, len: usize) -> RigResult<Vec<u8>> {
        Ok(self.0.lock().unwrap()[addr as usize..addr as usize + len].to_vec())
    }
    fn reset(&mut self) -> RigResult<()> {
        Ok(())
    }
    fn halt(&mut self) -> RigResult<()> {
        Ok(())
    }
}

/// A station on the built-in `board`, its update delivered by probe-write, and a campaign of
/// `mode` on it.
fn station_campaign(dir: &Path, board: &str, mode: &str) -> cutpoint_campaign::Campaign {
    // A part of the board's family, as probe-rs names it (the station's check looks it up).
    let chip = match board {
        "stm32l4" => "STM32L476RGTx",
        "stm32h7" => "STM32H743ZITx",
        _ => "nRF52840_xxAA",
    };
    let station = format!(
        "[target]\nboard = \"{board}\"\n\n[power]\nkind = \"command\"\non = [\"true\"]\noff = [\"true\"]\n\n\
         [console]\nkind = \"serial\"\nport = \"/dev/null\"\nbaud = 115200\n\n\
         [probe]\nkind = \"probe-rs\"\nselector = \"1366:1051\"\nchip = \"{chip}\"\n\n\
         [transport]\nkind = \"probe-write\"\n"
    );
    std::fs::write(dir.join("station.toml"), station).unwrap();
    let campaign = format!(
        "name = \"probe-write-{mode}\"\n\n[target]\nstation = \"station.toml\"\nmode = \"{mode}\"\nupgrade = \"test\"\n\n\
         [images]\nbaseline = {{ version = \"1.0.0\", size_kib = 24 }}\nupdate = {{ version = \"2.0.0\", size_kib = 24 }}\n\n\
         [[phases]]\nname = \"swap\"\nstart = 'boot: swap-start'\nend = 'boot: swap-done'\n"
    );
    let path = dir.join("campaign.toml");
    std::fs::write(&path, campaign).unwrap();
    load_campaign(&path).unwrap_or_else(|e| panic!("{}", cutpoint_campaign::format_errors(&e)))
}

#[test]
fn a_swap_offset_update_is_written_one_sector_in_and_the_bootloader_installs_it() {
    let key = public_key(&default_test_key());
    // Three maps with three sector sizes: 4 KiB pages, 2 KiB pages (8-byte words), 128 KiB
    // sectors (32-byte words).
    for board in ["nrf52840", "stm32l4", "stm32h7"] {
        let dir = tempfile::tempdir().unwrap();
        let c = station_campaign(dir.path(), board, "swap-offset");
        let setup = bench_setup(&c).unwrap_or_else(|e| panic!("{board}: {e}"));
        let layout = setup.config.layout;
        let profile = BoardProfile::builtin(board).unwrap();
        assert_eq!(layout, profile.layout, "{board}");
        let TransportConfig::ProbeWrite(cfg) = &setup.station.transport else {
            panic!("{board}: the station's transport is probe-write");
        };
        // MCUboot's offset: the size of the secondary slot's first sector, in the station's map.
        let sector = profile
            .regions
            .iter()
            .find(|r| r.role == fut::Role::Secondary)
            .and_then(|r| r.sectors.uniform())
            .unwrap();
        assert_eq!(cfg.image_offset, sector, "{board}");

        // The baseline restored through the probe, then the update staged by probe-write.
        let mem = Arc::new(Mutex::new(vec![0xFF; profile.flash.size as usize]));
        let probe = SharedProbe::new(Box::new(MemProbe(mem.clone())));
        let mut p = probe.clone();
        for (addr, data) in baseline_writes(&layout, &setup.config.baseline).unwrap() {
            p.write_flash(addr, &data, &mut |_, _| {}).unwrap();
        }
        let mut t = ProbeWriteTransport::open(cfg, probe).unwrap();
        assert!(
            t.describe().contains(&format!("image at +{sector:#x}")),
            "{}",
            t.describe()
        );
        t.stage(&setup.config.update).unwrap();
        assert_eq!(t.bytes_delivered(), setup.config.update.len() as u64, "{board}");
        let flash = mem.lock().unwrap().clone();

        // The rig's decoder reads the update where swap-offset stages it, and nothing before.
        let sec = layout.secondary;
        let first = &flash[sec.offset as usize..(sec.offset + sector) as usize];
        assert!(
            first.iter().all(|&b| b == 0xFF),
            "{board}: the secondary's first sector stays erased"
        );
        let staged =
            cutpoint_inspect::decode_image(&flash[(sec.offset + sector) as usize..sec.end() as usize], Some(&key));
        assert_eq!(staged.validity, Validity::Valid, "{board}: {staged:?}");
        assert_eq!(staged.version(), Some("2.0.0+0"), "{board}");
        let (base, len) = cutpoint::bench_target::dump_range(&layout);
        let report = cutpoint_inspect::decode_flash_for(
            "swap-offset",
            &flash[base as usize..base as usize + len],
            base,
            &layout,
            Some(&key),
        );
        assert_eq!(report.layout_error, None, "{board}");
        let secondary = &report.slots[1];
        assert_eq!(
            secondary.image.as_ref().and_then(|i| i.version()),
            Some("2.0.0+0"),
            "{board}: {}",
            secondary.summary
        );
        assert!(
            secondary.summary.contains("magic=good"),
            "{board}: {}",
            secondary.summary
        );

        // The firmware's swap-offset bootloader takes the request and boots the update.
        let mut nor = NorFlash::new(profile.flash.clone(), 3);
        nor.load(0, &flash);
        let firmware = Firmware::new(layout, Mode::SWAP_OFFSET, Variant::Reference, key, false);
        let log = SimBoard::new(nor, firmware, None).run(RunOptions::default());
        let console: Vec<&str> = log.console.iter().map(|l| l.text.as_str()).collect();
        assert!(
            console.iter().any(|l| l.starts_with("boot: swap-done")),
            "{board}: {console:#?}"
        );
        assert!(
            console.iter().any(|l| l.starts_with("boot: jump version=2.0.0")),
            "{board}: {console:#?}"
        );
    }
}

#[test]
fn the_other_schemes_take_the_update_at_the_slots_start() {
    for mode in ["swap-scratch", "swap-move", "overwrite"] {
        let dir = tempfile::tempdir().unwrap();
        let c = station_campaign(dir.path(), "nrf52840", mode);
        let setup = bench_setup(&c).unwrap_or_else(|e| panic!("{mode}: {e}"));
        let TransportConfig::ProbeWrite(cfg) = &setup.station.transport else {
            panic!("{mode}: the station's transport is probe-write");
        };
        assert_eq!(cfg.image_offset, 0, "{mode}");
        assert_eq!(cfg.slot_addr, setup.config.layout.secondary.offset, "{mode}");
    }
}
