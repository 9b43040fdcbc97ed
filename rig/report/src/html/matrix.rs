//! The matrix of a campaign small enough to show one cell per cut point: a block per phase (and
//! per first cut of a double cut), lines of [`COLUMNS`] cells each headed by the offset of their
//! first cell.

use std::collections::HashMap;
use std::io::Write;

use super::{phase_counts_text, Page};
use crate::index::{PhaseRows, ResultIndex};
use crate::rebuild::WriteError;
use crate::text::push_html;
use crate::view::{chain_head, Counts};

/// Cells per line of a matrix block.
const COLUMNS: usize = 32;

/// One block of the matrix: its title and its rows, in planned order.
struct Block {
    title: String,
    rows: Vec<u32>,
    counts: Counts,
}

/// The blocks of a phase: its single cuts, then, for each first cut of a sequence, its second
/// cuts (ids `first-id>phase/offset`) in a block of their own titled `first-id ›`, so an
/// exhaustive double-cut campaign reads as one row per first cut.
fn blocks(index: &ResultIndex<'_>, phase: &PhaseRows<'_>) -> Vec<Block> {
    let mut blocks: Vec<Block> = Vec::new();
    let mut at: HashMap<Option<&str>, usize> = HashMap::new();
    for &row in &phase.rows {
        let head = chain_head(index.id(row));
        let b = *at.entry(head).or_insert_with(|| {
            let title = match head {
                None => phase.name.to_string(),
                Some(h) => format!("{h} \u{203a}"),
            };
            blocks.push(Block {
                title,
                rows: Vec::new(),
                counts: Counts::default(),
            });
            blocks.len() - 1
        });
        blocks[b].rows.push(row);
        blocks[b].counts.add_state(index.state(row));
    }
    blocks
}

/// Every block of every phase.
pub(super) fn write_blocks<W: Write>(
    page: &mut Page<W>,
    index: &ResultIndex<'_>,
    phases: &[PhaseRows<'_>],
    negative: bool,
) -> Result<(), WriteError> {
    for phase in phases {
        for block in blocks(index, phase) {
            write_block(page, index, &block, negative)?;
        }
    }
    Ok(())
}

/// One block: the phase down the side, its offsets along the top, lines of [`COLUMNS`] cells.
fn write_block<W: Write>(
    page: &mut Page<W>,
    index: &ResultIndex<'_>,
    block: &Block,
    negative: bool,
) -> Result<(), WriteError> {
    let out = &mut page.buf;
    out.push_str("<div class=\"phase\"><div class=\"side\"><b>");
    push_html(out, &block.title);
    out.push_str("</b><small>");
    push_html(out, &phase_counts_text(block.counts, negative));
    out.push_str("</small></div><div class=\"grid\"><div class=\"top\"><span class=\"at\">offset</span>");
    for &row in block.rows.iter().take(COLUMNS) {
        out.push_str("<span title=\"");
        push_html(out, index.offset(row));
        out.push_str("\">");
        push_html(out, index.offset(row));
        out.push_str("</span>");
    }
    out.push_str("</div>");
    for line in block.rows.chunks(COLUMNS) {
        let out = &mut page.buf;
        out.push_str("<div class=\"line\"><span class=\"at\">");
        if let Some(&first) = line.first() {
            push_html(out, index.offset(first));
        }
        out.push_str("</span>");
        for &row in line {
            // The data index of a cell is its row.
            let state = index.state(row);
            let kind = state.kind(negative);
            let (mark, boots) = if state.boots_secondary() {
                (" b2", " \u{2014} boots the secondary slot")
            } else {
                ("", "")
            };
            page.buf.push_str(&format!(
                "<i class=\"c {}{mark}\" data-i=\"{row}\" title=\"",
                kind.class()
            ));
            push_html(&mut page.buf, index.id(row));
            page.buf.push_str(" \u{2014} ");
            page.buf.push_str(kind.label());
            page.buf.push_str(boots);
            if index.state(row).has_reasons() {
                if let Some(cut) = index.load(row)? {
                    let reason = cut.first_reason();
                    if !reason.is_empty() {
                        page.buf.push_str(" \u{2014} ");
                        push_html(&mut page.buf, reason);
                    }
                }
            }
            page.buf.push_str("\"></i>");
        }
        page.buf.push_str("</div>");
        page.spill()?;
    }
    page.buf.push_str("</div></div>\n");
    Ok(())
}
