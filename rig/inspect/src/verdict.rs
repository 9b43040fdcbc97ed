//! One verdict on a whole report, for scripts to gate on: every image found is valid, an image
//! is not, or the input is not what it was said to be.

use serde::Serialize;

use crate::decode::{Coverage, FlashReport, ImageReport, Validity};

/// What `cutpoint inspect` concludes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Gate {
    /// Every image found is valid: hash, key and signature (Ed25519, ECDSA P-256) verified.
    Valid,
    /// The input decodes, but an image is invalid, signed by another key or with an algorithm
    /// that was not verified, or there is no image at all.
    Invalid,
    /// The input is not a flash dump of the map (or not an image), or the map itself is unusable.
    NotInput,
}

/// The gate and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub gate: Gate,
    /// One line per finding: `primary: 2.0.0 valid`, `secondary: hash-mismatch`.
    pub reasons: Vec<String>,
}

/// Whether the image carries the magic, i.e. there is an image here at all.
fn found(i: &ImageReport) -> bool {
    i.header.is_some() || i.esp.is_some() || i.validity == Validity::BadSize
}

/// Why an image that was found is not fully verified, if it is not.
fn problem(i: &ImageReport) -> Option<String> {
    let sig = || {
        let kind = i
            .signature
            .algorithm
            .as_deref()
            .or(i.signature.kind.as_deref())
            .unwrap_or("(none)");
        format!("signature {kind}: {}", i.signature.status)
    };
    if let Some(esp) = &i.esp {
        // An ESP app image is unsigned without secure boot: valid is checksum and SHA-256.
        return (i.validity != Validity::Valid).then(|| match &esp.problem {
            Some(p) => format!("{}: {p}", i.validity),
            None => i.validity.name().to_string(),
        });
    }
    if i.validity != Validity::Valid {
        return Some(match i.validity {
            Validity::UnknownKey => "unknown-key: signed by another key than the one given (--key)".to_string(),
            Validity::BadSignature | Validity::Unverified => format!("{}: {}", i.validity, sig()),
            other => other.name().to_string(),
        });
    }
    if !i.key_checked || i.signature.verified != Some(true) {
        return Some(format!("not verified: {}", sig()));
    }
    None
}

fn describe(i: &ImageReport) -> String {
    if i.esp.is_some() {
        let hash = if i.hash.tlv.is_some() {
            "checksum and SHA-256"
        } else {
            "checksum (no SHA-256 appended)"
        };
        return format!(
            "{} valid ESP app image, {hash} verified",
            i.version().unwrap_or("(no app descriptor)")
        );
    }
    match i.version() {
        Some(v) => format!("{v} valid, signature verified"),
        None => "valid, signature verified".to_string(),
    }
}

/// The verdict on a flash dump.
pub fn flash_verdict(r: &FlashReport) -> Verdict {
    if let Some(e) = &r.layout_error {
        return Verdict {
            gate: Gate::NotInput,
            reasons: vec![format!("the flash map cannot be decoded against: {e}")],
        };
    }
    let absent = r.slots.iter().all(|s| s.coverage == Coverage::Absent)
        && r.scratch.as_ref().is_none_or(|s| s.coverage == Coverage::Absent);
    if absent {
        return Verdict {
            gate: Gate::NotInput,
            reasons: vec![format!(
                "the dump ({} bytes from {:#x}) holds none of the map's slots (primary at {:#x}, secondary at {:#x}); \
                 give the dump's address with --base and the device's map with --board or --layout",
                r.dump_len, r.base_addr, r.layout.primary.offset, r.layout.secondary.offset
            )],
        };
    }
    let mut reasons: Vec<String> = r
        .slots
        .iter()
        .filter(|s| s.coverage == Coverage::Unreadable)
        .map(|s| {
            format!(
                "{}: not readable through the probe: the rig cannot see it, which says nothing about the device",
                s.name
            )
        })
        .collect();
    let mut images = 0;
    let mut bad = false;
    for s in &r.slots {
        let Some(i) = s.image.as_ref().filter(|i| found(i)) else {
            continue;
        };
        images += 1;
        match problem(i) {
            Some(p) => {
                bad = true;
                reasons.push(format!("{}: {p}", s.name));
            }
            None => reasons.push(format!("{}: {}", s.name, describe(i))),
        }
    }
    if images > 0 {
        let gate = if bad { Gate::Invalid } else { Gate::Valid };
        return Verdict { gate, reasons };
    }
    // No image: an erased slot or a trailer still says this is flash laid out by the map.
    let looks_like_flash = r.slots.iter().any(|s| {
        s.image.as_ref().is_some_and(|i| i.header_erased)
            || s.trailer
                .as_ref()
                .is_some_and(|t| t.magic == crate::decode::MagicState::Good)
    }) || r.scratch.as_ref().is_some_and(|s| s.blank == Some(true));
    if looks_like_flash {
        Verdict {
            gate: Gate::Invalid,
            reasons: vec!["no image in either slot: the device has nothing to boot".to_string()],
        }
    } else {
        Verdict {
            gate: Gate::NotInput,
            reasons: vec![
                "no image header, trailer magic or erased slot where the map puts them: this is not a flash dump \
                 of this map; check --base, --board or --layout"
                    .to_string(),
            ],
        }
    }
}

/// The verdict on a file decoded as one image.
pub fn image_verdict(i: &ImageReport) -> Verdict {
    if !found(i) {
        return Verdict {
            gate: Gate::NotInput,
            reasons: vec![if i.header_erased {
                "the file starts with erased bytes: no image".to_string()
            } else {
                "not an MCUboot image (no magic 0x96f3b83d) nor an ESP app image (no magic 0xe9) at the start"
                    .to_string()
            }],
        };
    }
    match problem(i) {
        Some(p) => Verdict {
            gate: Gate::Invalid,
            reasons: vec![p],
        },
        None => Verdict {
            gate: Gate::Valid,
            reasons: vec![describe(i)],
        },
    }
}
