//! The ```toml blocks of the project's Markdown files.
//!
//! Every block is a complete file that `cutpoint check` accepts, unless its first line says
//! otherwise: `# partial: WHY` marks a fragment (skipped), and `# file: NAME` names the file
//! the block is (so a campaign block can name a station block as `station = "NAME"`).
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// One ```toml block.
#[derive(Debug, Clone)]
pub struct Block {
    /// `SCHEMA.md:123` (1-based line of the opening fence).
    pub origin: String,
    /// From `# file: NAME`, if given.
    pub file: Option<String>,
    pub partial: bool,
    pub text: String,
}

/// The Markdown files whose examples must pass `cutpoint check`.
pub fn markdown_files(root: &Path) -> Vec<PathBuf> {
    let mut files = vec![root.join("rig/campaign/SCHEMA.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .expect("docs/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    files
}

/// The ```toml blocks of `md`.
pub fn toml_blocks(md: &Path) -> Vec<Block> {
    let text = std::fs::read_to_string(md).unwrap_or_else(|e| panic!("{}: {e}", md.display()));
    let name = md.file_name().unwrap().to_string_lossy().into_owned();
    let mut out = Vec::new();
    let mut lines = text.lines().enumerate();
    while let Some((n, line)) = lines.next() {
        if line.trim() != "```toml" {
            continue;
        }
        let mut body = String::new();
        for (_, l) in lines.by_ref() {
            if l.trim() == "```" {
                break;
            }
            body.push_str(l);
            body.push('\n');
        }
        let first = body.lines().next().unwrap_or("").trim();
        out.push(Block {
            origin: format!("{name}:{}", n + 1),
            file: first.strip_prefix("# file:").map(|f| f.trim().to_string()),
            partial: first.starts_with("# partial"),
            text: body,
        });
    }
    out
}
