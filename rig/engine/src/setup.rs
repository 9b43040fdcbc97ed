//! Turns a validated campaign into what the engine runs: the simulated board's scenario, the
//! expectations of the pass rule, and the fault kind; and the images, key and expectations a
//! station campaign shares with it (the station half is in [`crate::station_setup`]).

use std::sync::Arc;

use cutpoint_campaign::{self as campaign, Campaign, Downgrade, FinalImage, Health, ImageSource, TargetKind};
use cutpoint_inspect::{decode_image, SliceFlash, Validity};
use cutpoint_sim::imgtool::{
    build_image, build_tampered_image, default_test_key, parse_version, public_key, ImageSpec,
};
use cutpoint_sim::scenario::Scenario;
use fut::image::{ImageHeader, Version, DESC_HEALTH_FAILS, HEADER_SIZE, IMAGE_F_ENCRYPTED};
use fut::layout::{Area, Layout};
use fut::PublicKey;

use crate::judge::Expectations;
use crate::sim_target::SimTarget;

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("{file}: {message}")]
    Input { file: String, message: String },
    /// Bad input at a key of the campaign file (file, line, field).
    #[error("{0}")]
    Located(cutpoint_campaign::FileError),
}

fn input(c: &Campaign, message: impl Into<String>) -> SetupError {
    SetupError::Input {
        file: c.path.display().to_string(),
        message: message.into(),
    }
}

pub use crate::key_file::read_public_key;

/// A loaded image and its version.
pub struct Image {
    pub bytes: Arc<Vec<u8>>,
    pub version: Version,
}

pub fn load_image(
    c: &Campaign,
    src: &ImageSource,
    what: &str,
    board: &str,
    layout: &Layout,
) -> Result<Image, SetupError> {
    match src {
        ImageSource::Generated {
            version,
            size_kib,
            health,
            tamper,
        } => {
            let v = parse_version(version).ok_or_else(|| {
                input(
                    c,
                    format!("images.{what}.version: `{version}` is not a version like 1.2.3+4"),
                )
            })?;
            let flags = if *health == Health::Fails { DESC_HEALTH_FAILS } else { 0 };
            let spec = ImageSpec::new(v, size_kib * 1024).with_flags(flags);
            let bytes = match tamper {
                Some(t) => build_tampered_image(&spec, &default_test_key(), *t),
                None => build_image(&spec, &default_test_key()),
            };
            fits(c, what, None, bytes.len(), board, layout)?;
            Ok(Image {
                bytes: Arc::new(bytes),
                version: v,
            })
        }
        ImageSource::File { path, .. } => {
            let file = path.display();
            let mut bytes = campaign::read_image_file(path, u64::from(layout.primary.size))
                .map_err(|e| input(c, format!("images.{what}.file: image file \"{file}\": {e}")))?;
            if cutpoint_inspect::esp_image::is_esp_image(&bytes) {
                // An ESP-IDF app image (the esp-idf scheme's; `check` refused it elsewhere): its
                // version is its app descriptor's, and a file padded past the image keeps only it.
                let esp = campaign::check_esp_app_image(&bytes)
                    .map_err(|e| input(c, format!("images.{what}.file: image file \"{file}\": {e}")))?;
                bytes.truncate(esp.total_size as usize);
                fits(c, what, Some(&file.to_string()), bytes.len(), board, layout)?;
                return Ok(Image {
                    bytes: Arc::new(bytes),
                    version: esp.version,
                });
            }
            let header: Option<[u8; HEADER_SIZE]> = bytes.get(..HEADER_SIZE).and_then(|b| b.try_into().ok());
            let version = header
                .as_ref()
                .and_then(ImageHeader::parse)
                .map(|h| h.version)
                .ok_or_else(|| {
                    input(
                        c,
                        format!("images.{what}.file: {file} does not start with an MCUboot image header"),
                    )
                })?;
            // A padded image (imgtool --pad or --confirm) carries the slot's trailer after its
            // TLVs; the rig and the device write the trailers themselves, so only the image is kept.
            let slot = Area {
                offset: 0,
                size: bytes.len() as u32,
            };
            if let Ok(end) = fut::image::total_size(&mut SliceFlash::new(&bytes, 0), slot) {
                bytes.truncate(end as usize);
            }
            fits(c, what, Some(&file.to_string()), bytes.len(), board, layout)?;
            Ok(Image {
                bytes: Arc::new(bytes),
                version,
            })
        }
    }
}

/// An image must end before the slot's trailer sectors.
fn fits(
    c: &Campaign,
    what: &str,
    file: Option<&str>,
    len: usize,
    board: &str,
    layout: &Layout,
) -> Result<(), SetupError> {
    let max = c.target.mode.max_image_size(layout);
    let room = if max == layout.max_image_size() {
        "before its trailer sectors".to_string()
    } else {
        format!(
            "for mode {} (below its trailer sectors and the scheme's own room)",
            c.target.mode
        )
    };
    if len as u64 <= u64::from(max) {
        return Ok(());
    }
    let which = file.map_or_else(|| "the generated image".to_string(), |f| format!("image file \"{f}\""));
    Err(input(
        c,
        format!(
            "images.{what}: {which}: the image (header, body and TLVs) is {len} bytes; the {board} slot holds at most \
             {max} bytes {room}"
        ),
    ))
}

/// MCUboot's header flag `IMAGE_F_NON_BOOTABLE` (bootutil/image.h).
const IMAGE_F_NON_BOOTABLE: u32 = 0x10;
/// MCUboot's header flag `IMAGE_F_ROM_FIXED` (bootutil/image.h; imgtool `-F`).
const IMAGE_F_ROM_FIXED: u32 = 0x100;

/// The key the target trusts, and how the campaign names it in messages.
pub fn campaign_key(c: &Campaign) -> Result<(PublicKey, String), SetupError> {
    match &c.images.public_key {
        Some(p) => read_public_key(p)
            .map(|k| (k, format!("public_key {}", p.display())))
            .map_err(|e| located(c, &["images", "public_key"], e)),
        None => Ok((
            public_key(&default_test_key()),
            "the built-in test key (no public_key is set)".to_string(),
        )),
    }
}

/// An error at a key of the campaign file (file, line, field).
fn located(c: &Campaign, keys: &[&str], message: impl Into<String>) -> SetupError {
    SetupError::Located(campaign::locate_in_campaign(&c.path, keys, message))
}

/// Where the campaign names an image: its `file` key, or the image's table.
fn image_keys<'a>(c: &Campaign, what: &'a str) -> Vec<&'a str> {
    let src = if what == "baseline" {
        &c.images.baseline
    } else {
        &c.images.update
    };
    match src {
        ImageSource::File { .. } => vec!["images", what, "file"],
        ImageSource::Generated { .. } => vec!["images", what],
    }
}

/// What `check` verifies of a simulated campaign's images without running anything: both load
/// and fit the board's slots, the key file parses, and [`check_images`] accepts them.
pub fn check_sim_images(c: &Campaign) -> Result<(), SetupError> {
    let TargetKind::Simulated { board, .. } = &c.target.kind else {
        return Ok(());
    };
    let profile = board.profile();
    let (key, key_name) = campaign_key(c)?;
    let old = load_image(c, &c.images.baseline, "baseline", &profile.name, &profile.layout)?;
    let new = load_image(c, &c.images.update, "update", &profile.name, &profile.layout)?;
    check_images(c, [("baseline", &old), ("update", &new)], &key, &key_name, true)
}

/// How to sign an image the simulated board can verify, for one the inspector cannot.
fn signing_fix(algorithm: &str) -> &'static str {
    if algorithm.contains("pure signature") {
        "sign it without --pure (the bootloader verifies a signature over the image's SHA-256)"
    } else if algorithm.contains("SHA-384/512") {
        "sign it with --sha 256 (the bootloader verifies signatures over a SHA-256 digest)"
    } else {
        "sign it with one of those keys"
    }
}

/// Checks, before any cut, that the device can trust the campaign's images: each is signed by
/// the campaign's key (a mismatch would brick every cut for a reason that is not the device's),
/// the simulated board can verify its algorithm, the baseline is bootable, and the update is
/// valid (hash, signature by the campaign's key) unless the campaign spoils it on purpose
/// (`tamper`): an update the bootloader refuses would otherwise read as the device failing
/// every cut, or as a negative control caught.
pub fn check_images(
    c: &Campaign,
    images: [(&str, &Image); 2],
    key: &PublicKey,
    key_name: &str,
    simulated: bool,
) -> Result<(), SetupError> {
    for (what, img) in images {
        if what == "update" && c.tamper().is_some() {
            // Spoiled on purpose: the device must refuse it.
            continue;
        }
        let r = decode_image(&img.bytes, Some(key));
        if let (Some(algorithm), Validity::Unverified, true) = (&r.signature.algorithm, r.validity, simulated) {
            return Err(input(
                c,
                format!(
                    "[images] {what}: signed with {algorithm}; the simulated board's bootloader verifies Ed25519 \
                     and ECDSA P-256 images only: {}",
                    signing_fix(algorithm)
                ),
            ));
        }
        if let Some(flags) = r
            .header
            .as_ref()
            .map(|h| h.flags)
            .filter(|f| f & IMAGE_F_ENCRYPTED != 0)
        {
            if simulated {
                return Err(located(
                    c,
                    &image_keys(c, what),
                    format!(
                        "the image is encrypted (header flags 0x{flags:x}); encrypted images are not supported by \
                         the simulated board: sign it without -E/--encrypt"
                    ),
                ));
            }
        }
        if let Some(h) = r.header.as_ref() {
            // MCUboot's boot_validate_slot (boot/bootutil/src/loader.c) takes a slot whose header
            // has IMAGE_F_NON_BOOTABLE (0x10) as holding no bootable image.
            if h.flags & IMAGE_F_NON_BOOTABLE != 0 {
                return Err(located(
                    c,
                    &image_keys(c, what),
                    format!(
                        "the image's header has the non-bootable flag (0x10, imgtool --non-bootable): MCUboot takes \
                         a slot holding it as empty and never boots it; sign the {what} without --non-bootable"
                    ),
                ));
            }
            // MCUboot's boot_rom_address_check (loader.c, direct-XIP and RAM-load) skips an image
            // with IMAGE_F_ROM_FIXED (0x100) whose load address is not its slot's: a scheme that
            // runs images in place runs each from the slot it is written to.
            if h.flags & IMAGE_F_ROM_FIXED != 0 && c.target.mode.scheme().runs_from_secondary() {
                if let TargetKind::Simulated { board, .. } = &c.target.kind {
                    let layout = board.profile().layout;
                    let in_primary = (what == "baseline") == (c.target.baseline_slot == fut::layout::Slot::Primary);
                    let (slot, name) = if in_primary {
                        (layout.primary, "primary")
                    } else {
                        (layout.secondary, "secondary")
                    };
                    if h.load_addr != slot.offset {
                        return Err(located(
                            c,
                            &image_keys(c, what),
                            format!(
                                "the image is ROM-fixed (flag 0x100, imgtool -F) at 0x{:x}, but mode {} runs the \
                                 {what} from the {name} slot at 0x{:x}: MCUboot skips it there; sign it with \
                                 -F 0x{:x} (or without -F)",
                                h.load_addr, c.target.mode, slot.offset, slot.offset
                            ),
                        ));
                    }
                }
            }
        }
        let fix = match &c.images.public_key {
            Some(p) => format!(
                "sign with the private half of {} or set public_key to the key the image was signed with",
                p.display()
            ),
            None => "set public_key to the key the image was signed with (`imgtool getpub -k KEY -e pem`)".to_string(),
        };
        if let (Some(tlv), Some(expected), Some(false)) = (&r.key.tlv, &r.key.expected, r.key.matches) {
            if r.validity != Validity::Unverified {
                return Err(input(
                    c,
                    format!(
                        "[images] {what}: signed by a key whose hash is {tlv}, but {key_name}, an {} key, \
                         hashes to {expected}; {fix}",
                        key.algorithm()
                    ),
                ));
            }
        }
        if what == "baseline" && !matches!(r.validity, Validity::Valid | Validity::Unverified) {
            return Err(input(
                c,
                format!(
                    "[images] baseline: the bootloader would reject it ({}): the device could not boot it before any cut",
                    r.validity
                ),
            ));
        }
        if what == "update" && !matches!(r.validity, Validity::Valid | Validity::Unverified) {
            let why = match r.validity {
                Validity::UnknownKey => {
                    format!("signed by another key than {key_name} (its key TLV names another key, or it has none)")
                }
                Validity::BadSignature => format!("its signature does not verify with {key_name}"),
                Validity::HashMismatch => "its SHA-256 does not match its hash TLV (the file is damaged)".to_string(),
                v => format!("the bootloader would reject it ({v})"),
            };
            let fix = if r.validity == Validity::HashMismatch {
                "give an intact image as imgtool signed it".to_string()
            } else {
                fix
            };
            return Err(located(
                c,
                &image_keys(c, what),
                format!(
                    "the update is not a valid image: {why}; every cut would fail for the rig's input, not the \
                     device: {fix}. An update the device must refuse on purpose is declared as one: a generated \
                     update with `tamper = \"...\"` (see campaigns/rejected/)"
                ),
            ));
        }
    }
    let [(_, old), (_, new)] = images;
    if old.bytes == new.bytes {
        return Err(located(
            c,
            &image_keys(c, "update"),
            "the update is the same image as the baseline: the device has nothing to update to; give the new build",
        ));
    }
    Ok(())
}

/// What the pass rule expects of a campaign's images on a flash map.
pub fn expectations(c: &Campaign, old: &Image, new: &Image, layout: Layout, key: PublicKey) -> Expectations {
    let refused = refusal(c, old, new);
    // `auto` is resolved from the campaign file first, which cannot tell a downgrade between
    // image files (their versions are known only once read): a refused update, known here,
    // must leave the old image running whatever the file alone said.
    let final_version = match (c.pass.final_image, c.expected_final()) {
        (FinalImage::Auto, _) if refused.is_some() => old.version,
        (_, FinalImage::Old) => old.version,
        _ => new.version,
    };
    Expectations {
        refused,
        old_version: old.version.to_string(),
        new_version: new.version.to_string(),
        final_version: final_version.to_string(),
        layout,
        mode: c.target.mode,
        upgrade: c.target.upgrade.scheme_upgrade(),
        key,
        markers: c.markers.clone(),
        unreadable: Vec::new(),
        outside: Vec::new(),
    }
}

/// The parts of `profile`'s map the pass rule guards: its flash outside the scheme's areas
/// (`fut::scheme::Mode::outside_areas`), less the regions the campaign says the update may
/// change (`pass.may_change`). A name there that is no region of the map is bad input at its
/// key.
pub fn guarded(c: &Campaign, profile: &cutpoint_sim::BoardProfile) -> Result<Vec<(String, Area)>, SetupError> {
    let names: Vec<&str> = profile.regions.iter().map(|r| r.name).collect();
    for (name, at) in &c.pass.may_change {
        if !names.contains(&name.as_str()) {
            let mut e = at.clone();
            e.message = format!(
                "\"{name}\" is no region of {}'s flash map; its regions are: {}",
                profile.name,
                names.join(", ")
            );
            return Err(SetupError::Located(e));
        }
    }
    Ok(profile
        .outside(c.target.mode)
        .into_iter()
        .filter(|(region, _)| !c.pass.may_change.iter().any(|(n, _)| n == region))
        .collect())
}

/// Why the device must refuse the update, when it must: a tampered image, or an older one when
/// downgrades are refused.
pub fn refusal(c: &Campaign, old: &Image, new: &Image) -> Option<String> {
    if let Some(t) = c.tamper() {
        return Some(format!("images.update.tamper = \"{t}\""));
    }
    (c.images.downgrade == Downgrade::Refused && new.version < old.version).then(|| {
        format!(
            "a downgrade from {} to {} with images.downgrade = \"refused\"",
            old.version, new.version
        )
    })
}

/// The simulated board a campaign describes, ready to run.
pub struct SimSetup {
    pub target: SimTarget,
    pub expect: Expectations,
    pub update_size: u64,
}

pub fn sim_setup(c: &Campaign, workers: usize) -> Result<SimSetup, SetupError> {
    let TargetKind::Simulated { board, variant } = &c.target.kind else {
        return Err(input(
            c,
            "target: this campaign names a station; the simulated board cannot run it",
        ));
    };
    let profile = board.profile();
    let old = load_image(c, &c.images.baseline, "baseline", &profile.name, &profile.layout)?;
    let new = load_image(c, &c.images.update, "update", &profile.name, &profile.layout)?;
    let (key, key_name) = campaign_key(c)?;
    check_images(c, [("baseline", &old), ("update", &new)], &key, &key_name, true)?;
    let scenario = Scenario {
        profile: profile.clone(),
        mode: c.target.mode,
        variant: *variant,
        permanent: c.target.upgrade == campaign::Upgrade::Perm,
        old_image: old.bytes.clone(),
        old_version: old.version,
        new_image: new.bytes.clone(),
        new_version: new.version,
        key,
        bad_update: c.images.update.health() == Health::Fails,
        seed: c.run.seed,
        delivery: c.target.delivery,
        refuse_downgrade: c.images.downgrade == Downgrade::Refused,
        baseline_slot: c.target.baseline_slot,
        baseline_confirmed: c.images.baseline_confirmed,
        history: None,
    };
    let scenario = scenario
        .with_prior_updates(c.target.prior_updates)
        .map_err(|e| input(c, format!("target.prior_updates: {e}")))?;
    let mut expect = expectations(c, &old, &new, profile.layout, key);
    // The simulated board guards all of its map outside the scheme's areas (and fills it at
    // the baseline: `Scenario::baseline_flash`), less the regions the campaign lets change.
    expect.outside = guarded(c, &profile)?;
    let update_size = new.bytes.len() as u64;
    let target = SimTarget::new(scenario, c.run.fault, c.run.max_boots, workers);
    Ok(SimSetup {
        target,
        expect,
        update_size,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use cutpoint_sim::BoardProfile;

    #[test]
    fn campaign_checks_image_files_against_the_simulated_slot_size() {
        // Every board but w25q32 (1 MiB slots) and the parts laid out as their manuals allow
        // (which the campaign loader reads from their profiles) has the standard map's slots.
        for name in BoardProfile::builtin_names() {
            let p = BoardProfile::builtin(name).unwrap();
            let slot = match *name {
                "w25q32" => 1 << 20,
                // The parts laid out as their manuals allow (rig/sim/src/board_profile.rs).
                "stm32f4" | "stm32h7" => 896 << 10,
                "nrf5340" => 472 << 10,
                // The secondary on the external NOR; the primary fills the internal flash.
                "nrf52840-qspi" => 952 << 10,
                _ => campaign::SIM_SLOT_SIZE,
            };
            assert_eq!(u64::from(p.layout.primary.size), slot, "{name}");
        }
    }
}
