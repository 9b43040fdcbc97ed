//! Human-readable rendering of the reports. The JSON form is `serde_json` of the report structs.

use std::fmt::Write;

use crate::decode::{
    Coverage, FlashReport, ImageReport, ScratchReport, SlotReport, StatusReport, TrailerReport, Validity,
    IMAGE_F_ENCRYPTED, IMAGE_F_NON_BOOTABLE, IMAGE_F_ROM_FIXED,
};
use crate::signature::unsupported_note;
use crate::tlv::TlvArea;

/// Status records per line of the text rendering.
const REGIONS_PER_LINE: usize = 12;

fn yes_no(b: bool, yes: &'static str, no: &'static str) -> &'static str {
    if b {
        yes
    } else {
        no
    }
}

fn opt_hex(v: Option<&str>) -> &str {
    v.unwrap_or("none")
}

fn tlv_area(out: &mut String, pad: &str, title: &str, a: &TlvArea) {
    let total = a.total.map_or_else(|| "?".to_string(), |t| format!("0x{t:x}"));
    let magic = a.magic.map_or_else(|| "?".to_string(), |m| format!("0x{m:04x}"));
    let _ = writeln!(out, "{pad}{title} @0x{:x} magic={magic} total={total}", a.offset);
    for e in &a.entries {
        let value = e.value.as_deref().unwrap_or("..");
        let _ = writeln!(
            out,
            "{pad}  @0x{:x} 0x{:02x} {} len={} {value}",
            e.offset, e.kind, e.name, e.len
        );
    }
    if let Some(err) = &a.error {
        let _ = writeln!(out, "{pad}  error: {err}");
    }
}

fn esp_image(out: &mut String, pad: &str, r: &ImageReport, e: &crate::esp_image::EspImageReport) {
    let chip = e
        .chip
        .as_deref()
        .map_or_else(|| format!("chip id 0x{:04x}", e.chip_id), str::to_string);
    let _ = writeln!(
        out,
        "{pad}ESP app image: {chip} segments={} entry=0x{:08x} spi_mode={} chip_rev={}..{} hash_appended={}",
        e.segment_count,
        e.entry_addr,
        e.spi_mode,
        e.min_chip_rev_full,
        e.max_chip_rev_full,
        yes_no(e.hash_appended, "yes", "no")
    );
    for (i, s) in e.segments.iter().enumerate() {
        let _ = writeln!(
            out,
            "{pad}  segment {i}: load_addr=0x{:08x} len=0x{:x} @0x{:x}",
            s.load_addr, s.data_len, s.data_offset
        );
    }
    match &e.app {
        Some(a) => {
            let _ = writeln!(
                out,
                "{pad}app: version={} project={} idf={} secure_version={} built={} {}",
                a.version, a.project_name, a.idf_ver, a.secure_version, a.date, a.time
            );
            let _ = writeln!(out, "{pad}app elf sha256: {}", a.app_elf_sha256);
        }
        None => {
            let _ = writeln!(
                out,
                "{pad}app: no app descriptor (magic 0xabcd5432) at the start of segment 0"
            );
        }
    }
    let byte = |b: Option<u8>| b.map_or_else(|| "none".to_string(), |b| format!("0x{b:02x}"));
    let _ = writeln!(
        out,
        "{pad}checksum: stored={} computed={} {}",
        byte(e.checksum_stored),
        byte(e.checksum_computed),
        match (e.checksum_stored, e.checksum_computed) {
            (Some(a), Some(b)) if a == b => "match",
            (Some(_), Some(_)) => "MISMATCH",
            _ => "not at hand",
        }
    );
    let h = &r.hash;
    let hash_verdict = if !e.hash_appended {
        "none appended"
    } else {
        yes_no(h.matches, "match", "MISMATCH")
    };
    let _ = writeln!(
        out,
        "{pad}sha256: computed={} appended={} {hash_verdict}",
        opt_hex(h.computed.as_deref()),
        opt_hex(h.tlv.as_deref()),
    );
    if let Some(n) = e.total_size {
        let _ = writeln!(out, "{pad}total size: 0x{n:x} ({n})");
    }
    let problem = e.problem.as_deref().map_or_else(String::new, |p| format!(" ({p})"));
    let _ = writeln!(out, "{pad}verdict: {}{problem}", r.validity);
}

fn image(out: &mut String, pad: &str, r: &ImageReport) {
    if let Some(e) = &r.esp {
        return esp_image(out, pad, r, e);
    }
    match &r.header {
        Some(h) => {
            let flags = if h.flag_names.is_empty() {
                String::new()
            } else {
                format!(" ({})", h.flag_names.join(" "))
            };
            let _ = writeln!(
                out,
                "{pad}header: version={} load_addr=0x{:08x} hdr_size=0x{:x} img_size=0x{:x} protect_tlv_size=0x{:x} \
                 flags=0x{:x}{flags}",
                h.version, h.load_addr, h.hdr_size, h.img_size, h.protect_tlv_size, h.flags
            );
            if h.flags & IMAGE_F_NON_BOOTABLE != 0 {
                let _ = writeln!(
                    out,
                    "{pad}non-bootable (flag 0x{IMAGE_F_NON_BOOTABLE:x}): MCUboot does not boot this image"
                );
            }
            if h.flags & IMAGE_F_ROM_FIXED != 0 {
                let _ = writeln!(
                    out,
                    "{pad}rom-fixed (flag 0x{IMAGE_F_ROM_FIXED:x}): runs only at load address 0x{:08x}",
                    h.load_addr
                );
            }
        }
        None => {
            let _ = writeln!(out, "{pad}header: none{}", yes_no(r.header_erased, " (erased)", ""));
        }
    }
    if let Some(a) = &r.protected_tlvs {
        tlv_area(out, pad, "protected tlvs", a);
    }
    if let Some(a) = &r.tlvs {
        tlv_area(out, pad, "tlvs", a);
    }
    if r.header.is_some() {
        let h = &r.hash;
        // An encrypted body: the hash TLV covers the plaintext, which the image does not hold.
        let encrypted = r.header.as_ref().map_or(0, |h| h.flags & IMAGE_F_ENCRYPTED);
        let hash_verdict = if encrypted != 0 {
            format!("encrypted (flag 0x{encrypted:x}), not checked")
        } else {
            yes_no(h.matches, "match", "MISMATCH").to_string()
        };
        let _ = writeln!(
            out,
            "{pad}{}: computed={} tlv={} {hash_verdict}",
            h.algorithm.to_lowercase(),
            opt_hex(h.computed.as_deref()),
            opt_hex(h.tlv.as_deref()),
        );
        let k = &r.key;
        let verdict = match k.matches {
            Some(true) => "match",
            Some(false) => "MISMATCH",
            None => "no key given",
        };
        // A key hash other than SHA-256's 32 bytes says its length (SHA-384: 48, SHA-512: 64).
        let length = match k.tlv.as_deref().map(|t| t.len() / 2) {
            Some(n) if n != 32 => format!(" ({n} bytes)"),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "{pad}key hash: tlv={}{length} expected={} {verdict}",
            opt_hex(k.tlv.as_deref()),
            opt_hex(k.expected.as_deref())
        );
        let s = &r.signature;
        match &s.kind {
            Some(kind) => {
                let _ = writeln!(out, "{pad}signature: {kind} {}", s.status);
            }
            None => {
                let _ = writeln!(out, "{pad}signature: none");
            }
        }
        if let Some(n) = r.total_size {
            let _ = writeln!(out, "{pad}total size: 0x{n:x} ({n})");
        }
    }
    let note = match (r.validity, r.signature.algorithm.as_deref()) {
        (Validity::Unverified, Some(alg)) => format!(" ({})", unsupported_note(alg)),
        _ => yes_no(r.key_checked, "", " (key and signature not checked)").to_string(),
    };
    let _ = writeln!(out, "{pad}verdict: {}{note}", r.validity);
}

/// Renders one image report.
pub fn render_image_text(r: &ImageReport) -> String {
    let mut out = String::new();
    image(&mut out, "", r);
    out
}

fn trailer(out: &mut String, pad: &str, t: &TrailerReport) {
    let magic = match &t.magic_raw {
        Some(raw) => format!("{} ({raw})", t.magic.name()),
        None => t.magic.name().to_string(),
    };
    let image_num = t.image_num.map_or_else(String::new, |n| format!(" image={n}"));
    let size = t.swap_size.map_or_else(|| "unset".to_string(), |s| format!("0x{s:x}"));
    let _ = writeln!(
        out,
        "{pad}trailer: magic={magic} image_ok={} (0x{:02x}) copy_done={} (0x{:02x}) swap_info=0x{:02x} type={}{image_num} \
         swap_size={size}",
        t.image_ok.name(),
        t.image_ok_raw,
        t.copy_done.name(),
        t.copy_done_raw,
        t.swap_info_raw,
        t.swap_type
    );
}

fn status(out: &mut String, pad: &str, s: &StatusReport) {
    let last = s.last_completed.map_or_else(
        || "none".to_string(),
        |p| format!("region {} step {}", p.region, p.step),
    );
    let regions = s.swap_regions.map_or_else(
        || "no sane swap size".to_string(),
        |n| format!("swap covers {n} of {} regions", s.capacity),
    );
    let _ = writeln!(
        out,
        "{pad}status: {} record(s) written; {regions}; last completed: {last}",
        s.written.len()
    );
    // Per region, the steps whose records are written; a value other than the step is shown.
    let mut cells: Vec<String> = Vec::new();
    for rec in &s.written {
        let step = if u32::from(rec.value) == rec.step {
            rec.step.to_string()
        } else {
            format!("[0x{:02x}]", rec.value)
        };
        match cells.last_mut() {
            Some(c) if c.starts_with(&format!("r{}=", rec.region)) => c.push_str(&step),
            _ => cells.push(format!("r{}={step}", rec.region)),
        }
    }
    for line in cells.chunks(REGIONS_PER_LINE) {
        let _ = writeln!(out, "{pad}  {}", line.join(" "));
    }
}

fn slot(out: &mut String, s: &SlotReport, own_progress: bool) {
    let _ = writeln!(out, "{}", s.summary);
    let _ = writeln!(
        out,
        "  area: 0x{:08x}+0x{:x} (in dump: {})",
        s.offset,
        s.size,
        s.coverage.name()
    );
    if s.coverage == Coverage::Unreadable {
        let _ = writeln!(
            out,
            "  image, trailer and status: not read (the probe cannot read this device; unknown, not erased)"
        );
        return;
    }
    match &s.image {
        Some(r) => {
            let _ = writeln!(out, "  image (offsets from the slot start):");
            image(out, "    ", r);
        }
        None => {
            let _ = writeln!(out, "  image: header outside the dump");
        }
    }
    match &s.trailer {
        Some(t) => trailer(out, "  ", t),
        None => {
            let _ = writeln!(out, "  trailer: outside the dump");
        }
    }
    match &s.status {
        Some(st) => status(out, "  ", st),
        None if own_progress => {}
        None => {
            let _ = writeln!(out, "  status: outside the dump");
        }
    }
    let blank = match s.trailer_sectors_blank {
        Some(true) => "erased",
        Some(false) => "written",
        None => "not all in the dump",
    };
    let _ = writeln!(out, "  trailer sectors: {blank}");
}

fn scratch(out: &mut String, s: &ScratchReport) {
    if s.coverage == Coverage::Unreadable {
        let _ = writeln!(
            out,
            "scratch: 0x{:08x}+0x{:x} (in dump: {}): not read",
            s.offset,
            s.size,
            s.coverage.name()
        );
        return;
    }
    let blank = match s.blank {
        Some(true) => "erased",
        Some(false) => "written",
        None => "not all in the dump",
    };
    let _ = writeln!(
        out,
        "scratch: 0x{:08x}+0x{:x} (in dump: {}) {blank}",
        s.offset,
        s.size,
        s.coverage.name()
    );
    match &s.trailer {
        Some(t) => trailer(out, "  ", t),
        None => {
            let _ = writeln!(out, "  trailer: outside the dump");
        }
    }
    if let Some(m) = s.marker_region {
        let _ = writeln!(out, "  marker: region {m}");
    }
}

/// Renders a flash report: the summary line of each slot, then the details.
pub fn render_text(r: &FlashReport) -> String {
    let mut out = String::new();
    let l = &r.layout;
    let _ = writeln!(
        out,
        "dump: base=0x{:08x} len=0x{:x} ({} bytes)",
        r.base_addr, r.dump_len, r.dump_len
    );
    let trailer = match (l.trailer_size, l.trailer_sectors) {
        (Some(size), Some(n)) => format!(" trailer=0x{size:x} ({n} sector(s))"),
        _ => String::new(),
    };
    let _ = writeln!(
        out,
        "layout: sector=0x{:x} write={} primary=0x{:08x}+0x{:x} secondary=0x{:08x}+0x{:x} scratch=0x{:08x}+0x{:x}{trailer}",
        l.sector_size,
        l.write_size,
        l.primary.offset,
        l.primary.size,
        l.secondary.offset,
        l.secondary.size,
        l.scratch.offset,
        l.scratch.size
    );
    if let Some(e) = &r.layout_error {
        let _ = writeln!(out, "layout error: {e} (nothing decoded)");
        return out;
    }
    let _ = writeln!(
        out,
        "key: {}",
        yes_no(r.key_given, "given", "not given (signatures not checked)")
    );
    for s in &r.slots {
        out.push('\n');
        slot(&mut out, s, r.progress.is_some());
    }
    if let Some(p) = &r.progress {
        out.push('\n');
        let _ = writeln!(out, "swap status: {}", p.summary);
        for line in p.records.chunks(REGIONS_PER_LINE) {
            let _ = writeln!(out, "  {}", line.join(" "));
        }
    }
    if let Some(s) = &r.scratch {
        out.push('\n');
        scratch(&mut out, s);
    }
    if let Some(o) = &r.otadata {
        out.push('\n');
        out.push_str(&render_otadata_text(o));
    }
    if let Some(x) = &r.direct_xip {
        out.push('\n');
        out.push_str(&render_direct_xip_text(x));
    }
    if let Some(r) = &r.redundant {
        out.push('\n');
        out.push_str(&render_redundant_text(r));
    }
    if let Some(w) = &r.atomic_word {
        out.push('\n');
        let what = match (&w.slot, &w.state) {
            (Some(slot), Some(state)) => format!("valid, {slot} slot, {state}"),
            _ => w.condition.clone(),
        };
        let _ = writeln!(out, "boot word at {:#x}: {} ({what})", w.addr, w.bytes);
        let _ = writeln!(out, "boot word boot: {} slot", w.boot_slot);
    }
    if let Some(l) = &r.pending_log {
        out.push('\n');
        out.push_str(&render_pending_log_text(l));
    }
    out
}

/// The pending-flag log: each sector's header, the last records of the active one, the boot
/// target and the slot it picks, and whether a transaction is open.
pub fn render_pending_log_text(l: &crate::scheme::PendingLogReport) -> String {
    let mut out = String::new();
    for s in &l.sectors {
        let gen = s.generation.map(|g| format!(" gen={g}")).unwrap_or_default();
        let active = if l.active == Some(s.sector) { " (active)" } else { "" };
        let _ = writeln!(
            out,
            "pending-log sector {} at {:#x}: header {}{gen}{active}",
            s.sector, s.addr, s.header
        );
    }
    let _ = writeln!(out, "pending-log records: {} of {} used", l.used, l.capacity);
    let skip = l.records.len().saturating_sub(4);
    if skip > 0 {
        let _ = writeln!(out, "  ({skip} earlier record(s) not shown)");
    }
    for r in &l.records[skip..] {
        let _ = writeln!(
            out,
            "pending-log record {} at {:#x}: pending {} | target {} | done {}{}",
            r.index,
            r.addr,
            r.pending,
            r.target,
            r.done,
            if r.completed { "" } else { " (not completed)" }
        );
    }
    let target = match (&l.target_slot, &l.target_state, l.last_completed) {
        (Some(slot), Some(state), Some(n)) => format!("record {n}: slot={slot} state={state}"),
        (_, _, None) => "empty log: the factory target, slot=primary state=confirmed".to_string(),
        (_, _, Some(n)) => format!("record {n} completed with no valid target"),
    };
    let _ = writeln!(out, "pending-log state: {} ({target})", l.condition);
    match l.open_transaction {
        Some(n) => {
            let _ = writeln!(
                out,
                "pending-log transaction: open at record {n} ({}): the bootloader falls back to the last completed target",
                l.open_target.as_deref().unwrap_or("pending word not valid")
            );
        }
        None => {
            let _ = writeln!(out, "pending-log transaction: none open");
        }
    }
    let _ = writeln!(out, "pending-log boot: {} slot", l.boot_slot);
    out
}

/// What a direct-XIP bootloader does with the dump: each slot's candidate, the steps, the slot
/// it boots and why, and the application's note.
pub fn render_direct_xip_text(x: &crate::decode::DirectXipReport) -> String {
    let mut out = String::new();
    for s in &x.slots {
        let _ = writeln!(
            out,
            "direct-xip {}: {} (trailer {})",
            s.name,
            s.version
                .as_deref()
                .map_or("no image header".to_string(), |v| format!("image {v}")),
            s.state.as_deref().unwrap_or("outside dump")
        );
    }
    for step in &x.steps {
        let _ = writeln!(out, "direct-xip step: {step}");
    }
    match &x.boot_slot {
        Some(s) => {
            let _ = writeln!(out, "direct-xip boot: {s} slot ({})", x.why);
        }
        None => {
            let _ = writeln!(out, "direct-xip boot: none ({})", x.why);
        }
    }
    if let Some(n) = &x.note {
        let _ = writeln!(out, "direct-xip note: the application handed over to {n}");
    }
    out
}

/// The redundant-copies record as text: one line per copy, the copy that wins and why, and
/// where the copies disagree.
pub fn render_redundant_text(r: &crate::redundant::RedundantReport) -> String {
    let mut out = String::new();
    for c in &r.copies {
        let what = match c.condition {
            crate::otadata::SectorCondition::Blank => "blank".to_string(),
            crate::otadata::SectorCondition::Absent => "outside dump".to_string(),
            _ => format!(
                "gen={} slot={} state={} crc=0x{:08x} ({}){}",
                c.generation,
                match c.slot {
                    0 => "primary".to_string(),
                    1 => "secondary".to_string(),
                    s => format!("0x{s:02x}"),
                },
                c.state_name.clone().unwrap_or_else(|| format!("0x{:02x}", c.state)),
                c.crc,
                if c.crc_ok { "ok" } else { "bad" },
                if c.valid { " valid" } else { " not valid" }
            ),
        };
        let _ = writeln!(out, "redundant copy {}: {what}", c.copy);
        for p in &c.problems {
            let _ = writeln!(out, "  problem: {p}");
        }
    }
    let _ = writeln!(out, "redundant boot: {} slot ({})", r.boot_slot, r.why);
    if r.disagreement.is_empty() {
        let _ = writeln!(out, "redundant copies: consistent");
    }
    for d in &r.disagreement {
        let _ = writeln!(out, "redundant copies disagree: {d}");
    }
    out
}

/// ESP-IDF otadata as text: one line per sector, the slot the bootloader picks, and where the
/// copies disagree.
pub fn render_otadata_text(o: &crate::otadata::OtadataReport) -> String {
    let mut out = String::new();
    for e in &o.entries {
        let cond = match e.condition {
            crate::otadata::SectorCondition::Blank => "blank".to_string(),
            crate::otadata::SectorCondition::Absent => "outside dump".to_string(),
            _ => format!(
                "seq={} state={} crc=0x{:08x} ({}){}",
                e.seq,
                e.state_name.clone().unwrap_or_else(|| format!("0x{:08x}", e.state)),
                e.crc,
                if e.crc_ok { "ok" } else { "bad" },
                if e.valid { " valid" } else { " not valid" }
            ),
        };
        let _ = writeln!(out, "otadata sector {}: {cond}", e.sector);
        for p in &e.problems {
            let _ = writeln!(out, "  problem: {p}");
        }
    }
    let pick = match (o.active_sector, o.boot_slot) {
        (Some(s), Some(slot)) => format!("sector {s}, ota_{slot}"),
        (Some(s), None) => format!("sector {s}"),
        (None, _) => "no valid entry (the bootloader tries ota_0 first)".to_string(),
    };
    let _ = writeln!(out, "otadata boot: {pick}");
    if o.disagreement.is_empty() {
        let _ = writeln!(out, "otadata copies: consistent");
    }
    for d in &o.disagreement {
        let _ = writeln!(out, "otadata copies disagree: {d}");
    }
    out
}
