//! Markers that matched no console line of an unfaulted run: a campaign mistake (a typo, or a
//! firmware that prints other lines), told with where the marker is written and the console
//! lines closest to what it looks for.

use crate::expand::{find_phases, ExpandError, Timeline};
use crate::hint::edit_distance;
use crate::model::{Campaign, CommitPoint, Pattern};

/// One marker that matched nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnmatchedMarker {
    /// `file:line:column: field` of the marker (see [`Pattern::located`]).
    pub located: String,
    /// The regular expression as written.
    pub pattern: String,
    /// What was looked for, in words ("the start of phase \"swap\"").
    pub role: String,
    /// Up to three console lines (1-based line number, text) closest to the pattern.
    pub nearest: Vec<(usize, String)>,
}

impl std::fmt::Display for UnmatchedMarker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: '{}', {}, matched no line of the control run's console",
            self.located, self.pattern, self.role
        )?;
        if self.nearest.is_empty() {
            write!(f, " (the console is empty)")
        } else {
            write!(f, "; the nearest lines are:")?;
            for (n, text) in &self.nearest {
                write!(f, "\n    line {n:>4}: {text}")?;
            }
            Ok(())
        }
    }
}

/// The literal text a pattern looks for: the pattern without its regex syntax.
fn literal(pattern: &str) -> String {
    // Group openers with names or flags (`(?P<n>`, `(?<n>`, `(?:`, `(?i)`) say nothing of the text.
    let groups = regex::Regex::new(r"\(\?(P?<[^>]*>|[a-zA-Z]*:?\)?)").ok();
    let pattern = groups.map_or(pattern.into(), |g| g.replace_all(pattern, " "));
    let mut out = String::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(e) if e.is_ascii_alphabetic() => out.push(' '),
                Some(e) => out.push(e),
                None => {}
            },
            '(' | ')' | '[' | ']' | '{' | '}' | '|' | '?' | '*' | '+' | '^' | '$' | '.' => out.push(' '),
            c => out.push(c),
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// How far `line` is from `lit`: the edit distance of the best-aligned stretch of the line.
fn distance(lit: &str, line: &str) -> usize {
    let lit_len = lit.chars().count();
    let chars: Vec<char> = line.chars().collect();
    if chars.len() <= lit_len {
        return edit_distance(lit, line);
    }
    (0..=chars.len() - lit_len)
        .map(|i| {
            let window: String = chars[i..i + lit_len].iter().collect();
            edit_distance(lit, &window)
        })
        .min()
        .unwrap_or(usize::MAX)
}

/// The characters of a line scored and shown.
const SHOWN_CHARS: usize = 200;
/// The distinct lines scored, from the start of the console: a console that floods (a boot
/// loop, a wrong baud rate, a device that never stops printing) cannot make the search last
/// longer than this many lines do.
const MAX_SCORED: usize = 2_000;

/// A console line as a person can read it in a message: its first [`SHOWN_CHARS`] characters,
/// control characters escaped (`\u{1b}`, `\0`), "..." where it was cut.
pub fn shown(text: &str) -> String {
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        if i == SHOWN_CHARS {
            out.push_str("...");
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Up to three console lines closest to `pattern`, best first, in console order on ties,
/// shown as [`shown`] gives them. Only the first [`MAX_SCORED`] distinct lines are scored, each
/// cut to [`SHOWN_CHARS`] characters.
pub fn nearest_lines(pattern: &str, console: &[(u64, &str)]) -> Vec<(usize, String)> {
    let lit = literal(pattern);
    let mut seen = std::collections::HashSet::new();
    let mut scored: Vec<(usize, usize)> = console
        .iter()
        .enumerate()
        .filter(|(_, (_, text))| seen.insert(*text))
        .take(MAX_SCORED)
        // Long lines are cut so a runaway console cannot make this quadratic in its length.
        .map(|(i, (_, text))| {
            let text: String = text.chars().take(SHOWN_CHARS).collect();
            (distance(&lit, &text), i)
        })
        .collect();
    scored.sort();
    scored
        .into_iter()
        .take(3)
        .map(|(_, i)| (i + 1, shown(console[i].1)))
        .collect()
}

fn unmatched(p: &Pattern, role: String, console: &[(u64, &str)]) -> Option<UnmatchedMarker> {
    if console.iter().any(|(_, l)| p.is_match(l)) {
        return None;
    }
    Some(UnmatchedMarker {
        located: p.located(),
        pattern: p.source.clone(),
        role,
        nearest: nearest_lines(&p.source, console),
    })
}

/// The `refused` marker, when the control run of an update the device must refuse never
/// printed a line it matches: the device that refuses the update says why, so a reference
/// firmware's control run shows it (a broken build that lets the update through may not).
pub fn unmatched_refusal(c: &Campaign, console: &[(u64, &str)]) -> Option<UnmatchedMarker> {
    unmatched(
        &c.markers.refused,
        "the device saying why it refused the update".into(),
        console,
    )
}

/// The campaign's markers that an unfaulted, clean update should have matched but did not:
/// the jump marker (the baseline boots before the update starts), the settled marker, the
/// marker of the update's commit point when it is meant to commit (`commit` for a test
/// upgrade that confirms itself, `installed` for a permanent one or an overwrite), and each
/// phase's start and end. A
/// phase whose markers both match somewhere but not in order is reported with `find_phases`'s
/// reason.
pub fn unmatched_markers(c: &Campaign, tl: &Timeline, expect_commit: bool) -> Vec<UnmatchedMarker> {
    let console = tl.console;
    let m = &c.markers;
    let mut out = Vec::new();
    out.extend(unmatched(&m.jump, "the jump to an image".into(), console));
    out.extend(unmatched(&m.settled, "the device settling".into(), console));
    if expect_commit {
        out.extend(match c.target.commit_point() {
            CommitPoint::Confirm => unmatched(&m.commit, "the new image confirming itself".into(), console),
            CommitPoint::Installed => unmatched(
                &m.installed,
                "the bootloader finishing the install for good".into(),
                console,
            ),
        });
    }
    for p in &c.phases {
        out.extend(unmatched(
            &p.start,
            format!("the start of phase \"{}\"", p.name),
            console,
        ));
        out.extend(unmatched(&p.end, format!("the end of phase \"{}\"", p.name), console));
    }
    if out.is_empty() {
        if let Err(e) = find_phases(c, tl) {
            let (p, role) = match &e {
                ExpandError::PhaseStartNotFound { phase, .. } => (c.phase(phase).map(|p| &p.start), "start"),
                ExpandError::PhaseEndNotFound { phase, .. } => (c.phase(phase).map(|p| &p.end), "end"),
                _ => (None, ""),
            };
            if let Some(p) = p {
                out.push(UnmatchedMarker {
                    located: p.located(),
                    pattern: p.source.clone(),
                    role: format!("the {role} of a phase, in campaign order ({e})"),
                    nearest: nearest_lines(&p.source, console),
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A flooding console (the same line again and again, or garbage at a wrong baud rate) is
    /// scored over its first distinct lines only, and what the message shows is readable: control
    /// bytes escaped, long lines cut.
    #[test]
    fn nearest_lines_of_a_flooding_console_are_bounded_and_readable() {
        let long = "ota: ".to_string() + &"A".repeat(5000);
        let mut texts: Vec<String> = vec![long.clone(); 50_000];
        texts.extend((0..MAX_SCORED + 10).map(|i| format!("\u{1b}[31mjunk {i}\u{7}")));
        texts.push("boot: swap-start".to_string());
        let console: Vec<(u64, &str)> = texts.iter().map(|t| (0, t.as_str())).collect();
        let near = nearest_lines("boot: swap-begin", &console);
        assert_eq!(near.len(), 3);
        // The perfect neighbour lies past the scored lines: not looked at.
        assert!(near.iter().all(|(n, _)| *n <= 50_000 + MAX_SCORED), "{near:?}");
        for (_, text) in &near {
            assert!(text.chars().count() <= SHOWN_CHARS + 3, "{text}");
            assert!(!text.chars().any(char::is_control), "{text:?}");
        }
        assert_eq!(shown("a\u{1b}[0mb"), "a\\u{1b}[0mb");
        assert_eq!(shown(&long).chars().count(), SHOWN_CHARS + 3);
    }

    #[test]
    fn literal_drops_regex_syntax() {
        assert_eq!(literal(r"boot: swap-(start|resume)"), "boot: swap- start resume");
        assert_eq!(
            literal(r"ota: download-progress bytes=(?P<n>\d+)"),
            "ota: download-progress bytes="
        );
        assert_eq!(literal(r"a\.b"), "a.b");
    }

    #[test]
    fn optional_events_need_not_show_in_the_control_run() {
        let text = |markers: &str| {
            format!(
                "[markers]\n{markers}\n[[phases]]\nname = \"swap\"\nstart = 'boot: swap-start'\n\
                 end = 'boot: swap-done'\n"
            )
        };
        let console = [
            (0, "boot: start"),
            (1, "boot: swap-start size=4096"),
            (2, "boot: swap-done"),
            (3, "boot: jump version=2.0.0+0 hash=00112233"),
            (4, "ota: idle reason=up-to-date version=2.0.0+0"),
        ];
        let tl = Timeline {
            console: &console,
            ops: None,
            update_size: 4096,
        };
        let load = |markers: &str| {
            crate::parse_campaign(&text(markers), std::path::Path::new("c.toml"))
                .unwrap_or_else(|e| panic!("{}", crate::format_errors(&e)))
        };
        let optional = load("rejected = 'update refused'\ndownload_restart = 'fetching from zero'");
        assert_eq!(unmatched_markers(&optional, &tl, false), Vec::new());
        let settled = load("settled = 'device settled'");
        let missing = unmatched_markers(&settled, &tl, false);
        assert_eq!(missing.len(), 1, "{missing:?}");
        assert_eq!(missing[0].located, "c.toml:2:11: markers.settled");
    }

    #[test]
    fn a_typo_finds_the_line_it_meant() {
        let console = [
            (0, "boot: start"),
            (1, "boot: swap-start size=4096"),
            (2, "boot: swap-done"),
            (3, "app: first-boot version=2.0.0"),
        ];
        let near = nearest_lines("boot: swap-strat", &console);
        assert_eq!(near[0], (2, "boot: swap-start size=4096".to_string()));
        assert_eq!(near.len(), 3);
    }
}
