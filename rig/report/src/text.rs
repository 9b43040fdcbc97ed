//! Turning untrusted text (console lines are raw device bytes) into safe HTML, Markdown, JSON
//! inside a `<script>` element, and shell words.

use serde::Serialize;

use crate::model::LogLine;

/// Appends `s` escaped for HTML text or a double-quoted attribute value. Control characters other
/// than tab and newline (not allowed in HTML) become U+FFFD.
pub fn push_html(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' => out.push(c),
            c if c.is_control() => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
}

pub fn html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    push_html(&mut out, s);
    out
}

/// Serializes `value` as JSON that can sit inside `<script type="application/json">`: `<`, `>` and
/// `&` only ever occur inside JSON strings, where their `\u` escapes mean the same, so no `</script>`
/// or `<!--` can end or confuse the element.
pub fn json_for_script<T: Serialize + ?Sized>(value: &T) -> Result<String, serde_json::Error> {
    let json = serde_json::to_string(value)?;
    let bytes = json.as_bytes();
    let mut out = String::with_capacity(json.len() + json.len() / 16);
    // Runs of plain text are copied whole; only the five escapes are looked at. Every escaped
    // character starts at a char boundary (`<`, `>`, `&`, or the lead byte 0xE2 of U+2028 and
    // U+2029), so each run is a valid `str` slice.
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        let (escape, width) = match bytes[i] {
            b'<' => ("\\u003c", 1),
            b'>' => ("\\u003e", 1),
            b'&' => ("\\u0026", 1),
            0xE2 if bytes.get(i + 1) == Some(&0x80) && bytes.get(i + 2) == Some(&0xA8) => ("\\u2028", 3),
            0xE2 if bytes.get(i + 1) == Some(&0x80) && bytes.get(i + 2) == Some(&0xA9) => ("\\u2029", 3),
            _ => {
                i += 1;
                continue;
            }
        };
        out.push_str(&json[copied..i]);
        out.push_str(escape);
        i += width;
        copied = i;
    }
    out.push_str(&json[copied..]);
    Ok(out)
}

/// Markdown text on one line: characters with a meaning in Markdown are backslash-escaped (`<`
/// too, so no HTML or autolink gets through to renderers that allow it, and `&` where it could
/// start an entity); line breaks and control characters become spaces. Nothing becomes an HTML
/// entity: `->` stays `->` for whoever reads the file as text.
pub fn md(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '~' | '<' => {
                out.push('\\');
                out.push(c);
            }
            '&' if chars.peek().is_some_and(|n| n.is_ascii_alphanumeric() || *n == '#') => out.push_str("\\&"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A Markdown code span holding `s` verbatim (on one line): the fence is longer than any run of
/// backticks inside. Pipes are escaped so the span can sit in a table cell.
pub fn md_code(s: &str) -> String {
    let flat: String = s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let mut longest = 0;
    let mut run = 0;
    for c in flat.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest + 1);
    let pad = if flat.starts_with('`') || flat.ends_with('`') || flat.is_empty() {
        " "
    } else {
        ""
    };
    let body = flat.replace('|', "\\|");
    format!("{fence}{pad}{body}{pad}{fence}")
}

/// `s` as one word for a POSIX shell: unchanged when it is plainly safe, single-quoted otherwise.
pub fn shell_word(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars().all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/' | '+' | ':' | '=' | ',' | '@' | '%')
        });
    if plain {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// The command that runs one cut point again: `cutpoint replay <report-dir> <id>`.
pub fn replay_command(report_dir: &str, id: &str) -> String {
    format!("cutpoint replay {} {}", shell_word(report_dir), shell_word(id))
}

/// A console as text, one line per entry: `[t_us] text`.
pub fn console_text(lines: &[LogLine]) -> String {
    let mut out = String::new();
    for line in lines {
        out.push_str(&format!("[{}] {}\n", line.t_us, line.text));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_escapes_markup_quotes_and_controls() {
        assert_eq!(html("a<b>&\"c'\u{1b}[0m\n"), "a&lt;b&gt;&amp;&quot;c&#39;\u{fffd}[0m\n");
    }

    #[test]
    fn script_json_cannot_close_the_element() {
        let json = json_for_script(&["</script><!-- & \u{2028}"]).unwrap();
        assert!(
            !json.contains('<') && !json.contains('>') && !json.contains('&'),
            "{json}"
        );
        let back: Vec<String> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, ["</script><!-- & \u{2028}"]);
    }

    /// The escapes, character by character: what `json_for_script` copies run by run.
    fn script_json_by_chars(json: &str) -> String {
        let mut out = String::new();
        for c in json.chars() {
            match c {
                '<' => out.push_str("\\u003c"),
                '>' => out.push_str("\\u003e"),
                '&' => out.push_str("\\u0026"),
                '\u{2028}' => out.push_str("\\u2028"),
                '\u{2029}' => out.push_str("\\u2029"),
                c => out.push(c),
            }
        }
        out
    }

    #[test]
    fn script_json_copies_runs_as_the_escapes_char_by_char_would() {
        // Lead byte 0xE2 of other characters (U+2027, U+202A, U+20AC) stays as it is; escapes
        // at either end, side by side, and after multi-byte characters.
        let cases = [
            "",
            "plain",
            "<",
            "a<b>c&d",
            "<<>>&&",
            "\u{2028}\u{2029}\u{2027}\u{202A}\u{20AC}€é漢🦀",
            "x\u{2028}",
            "\u{2029}y<",
            "é<漢>🦀&\u{2028}",
        ];
        for text in cases {
            let json = serde_json::to_string(&[text]).unwrap();
            assert_eq!(
                json_for_script(&[text]).unwrap(),
                script_json_by_chars(&json),
                "{text:?}"
            );
        }
    }

    #[test]
    fn markdown_text_and_code() {
        assert_eq!(
            md("a|b *c* <x> & [l](u)\nz -> &amp;"),
            "a\\|b \\*c\\* \\<x> & \\[l\\](u) z -> \\&amp;"
        );
        assert_eq!(md_code("plain"), "`plain`");
        assert_eq!(md_code("a`b"), "``a`b``");
        assert_eq!(md_code("`x`"), "`` `x` ``");
        assert_eq!(md_code("p|q"), "`p\\|q`");
    }

    #[test]
    fn shell_words() {
        assert_eq!(shell_word("swap/sector-12+0.50"), "swap/sector-12+0.50");
        assert_eq!(shell_word("a b"), "'a b'");
        assert_eq!(shell_word("it's"), "'it'\\''s'");
        assert_eq!(shell_word(""), "''");
        assert_eq!(
            replay_command("out/nightly", "swap/x y"),
            "cutpoint replay out/nightly 'swap/x y'"
        );
    }
}
