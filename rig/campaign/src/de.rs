//! Reading TOML documents into serde types while keeping positions: every error is turned
//! into a [`FileError`] with line, column, the dotted field path and a plain message.

use std::ops::Range;

use serde::de::DeserializeOwned;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

use crate::error::{FileError, Source};
use crate::hint;

/// One step of a field path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Seg {
    Key(String),
    Index(usize),
}

impl Seg {
    pub fn key(k: &str) -> Seg {
        Seg::Key(k.to_string())
    }
}

/// A key spelling that is still read, with a warning, but no longer written.
///
/// Besides these, every key written with hyphens (`on-level`) is read as its snake_case
/// spelling (`on_level`): all keys of campaign and station files are snake_case.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rename {
    /// The table the key is in: keys from the root; `*` stands for any element of an array.
    pub table: &'static [&'static str],
    pub old: &'static str,
    pub new: &'static str,
}

/// A parsed TOML document with its source.
pub(crate) struct Doc<'a> {
    pub source: Source<'a>,
    pub root: Spanned<DeTable<'a>>,
    /// Old spellings read as their new ones, each at the key's position.
    pub warnings: Vec<FileError>,
    /// Old spellings, so that a misspelt one still gets a hint (to the new spelling).
    renames: Vec<Rename>,
}

impl<'a> Doc<'a> {
    /// Parses the TOML syntax (a syntax error is reported at its position) and reads the old
    /// spellings of keys as their new ones, noting a warning for each.
    pub fn parse(file: &'a str, text: &'a str, renames: &[Rename]) -> Result<Self, FileError> {
        let source = Source::new(file, text);
        let mut root = match DeTable::parse(text) {
            Ok(root) => root,
            Err(e) => {
                let span = e.span().unwrap_or(0..0);
                let msg = e.message().trim().to_string();
                return Err(source.error(span, "", format!("invalid TOML: {msg}")));
            }
        };
        let mut warnings = Vec::new();
        respell(root.get_mut(), &mut Vec::new(), renames, &source, &mut warnings)?;
        warnings.sort_by_key(|w| (w.line, w.column));
        Ok(Doc {
            source,
            root,
            warnings,
            renames: renames.to_vec(),
        })
    }

    /// Deserializes the whole document.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, FileError> {
        let de = toml::de::Deserializer::from(self.root.clone());
        serde_path_to_error::deserialize(de).map_err(|e| self.translate(&[], e, false))
    }

    /// Deserializes one value of the document found at `prefix`.
    ///
    /// `search` lets the error be placed by looking for the offending key or value inside the
    /// value, for types (internally tagged enums) that lose the position of inner fields.
    pub fn decode_value<T: DeserializeOwned>(
        &self,
        prefix: &[Seg],
        value: &Spanned<DeValue<'a>>,
        search: bool,
    ) -> Result<T, FileError> {
        let de = toml::de::ValueDeserializer::from(value.clone());
        serde_path_to_error::deserialize(de).map_err(|e| self.translate(prefix, e, search))
    }

    /// The value at `path`, if any.
    pub fn get(&self, path: &[Seg]) -> Option<&Spanned<DeValue<'a>>> {
        let (first, rest) = path.split_first()?;
        let Seg::Key(k) = first else { return None };
        let mut cur = table_get(self.root.get_ref(), k)?;
        for seg in rest {
            cur = child(cur, seg)?;
        }
        Some(cur)
    }

    /// Span of the value at `path`, or of the nearest enclosing value that exists.
    pub fn span_of(&self, path: &[Seg]) -> Range<usize> {
        for n in (1..=path.len()).rev() {
            if let Some(v) = self.get(&path[..n]) {
                return v.span();
            }
        }
        0..0
    }

    /// Dotted rendering of a path, naming elements of arrays of tables by their `name` key
    /// (`phases.swap.offsets` rather than `phases[1].offsets`).
    pub fn render_path(&self, path: &[Seg]) -> String {
        let mut out = String::new();
        let mut cur: Option<&Spanned<DeValue<'a>>> = None;
        for (i, seg) in path.iter().enumerate() {
            let next = if i == 0 {
                match seg {
                    Seg::Key(k) => table_get(self.root.get_ref(), k),
                    Seg::Index(_) => None,
                }
            } else {
                cur.and_then(|c| child(c, seg))
            };
            match seg {
                Seg::Key(k) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(&render_key(k));
                }
                Seg::Index(n) => match next.and_then(element_name) {
                    Some(name) => {
                        out.push('.');
                        out.push_str(name);
                    }
                    None => out.push_str(&format!("[{n}]")),
                },
            }
            cur = next;
        }
        out
    }

    pub fn error(&self, path: &[Seg], span: Range<usize>, message: impl Into<String>) -> FileError {
        self.source.error(span, self.render_path(path), message)
    }

    fn translate(&self, prefix: &[Seg], err: serde_path_to_error::Error<toml::de::Error>, search: bool) -> FileError {
        let mut path: Vec<Seg> = prefix.to_vec();
        for seg in err.path().iter() {
            match seg {
                serde_path_to_error::Segment::Seq { index } => path.push(Seg::Index(*index)),
                serde_path_to_error::Segment::Map { key } => {
                    if !key.starts_with("$__") {
                        path.push(Seg::Key(key.clone()));
                    }
                }
                serde_path_to_error::Segment::Enum { .. } | serde_path_to_error::Segment::Unknown => {}
            }
        }
        let inner = err.into_inner();
        let mut span = inner.span().unwrap_or(0..0);
        let raw = inner.message().trim().to_string();
        let old: Vec<(&str, &str)> = self.renames.iter().map(|r| (r.old, r.new)).collect();
        let explained = explain(&raw, &old);
        let mut message = explained.message;
        if let Some(key) = explained.unknown_key {
            let named = path.last() == Some(&Seg::Key(key.clone()));
            if named {
                path.pop();
            }
            match search.then(|| self.find_key(&path, &key)).flatten() {
                Some((found, s)) => {
                    path = found;
                    span = s;
                }
                None => path.push(Seg::Key(key)),
            }
        } else if search {
            if let Some(missing) = &explained.missing_key {
                // An internally tagged table lost its position: point at the table.
                span = self.span_of(&path);
                message = format!("missing required key \"{missing}\"");
            } else if let Some(value) = &explained.unexpected {
                if let Some((found, s)) = self.find_value(&path, value) {
                    path = found;
                    span = s;
                }
            }
        }
        self.error(&path, span, message)
    }

    /// Looks for `key` anywhere under `path`; returns its full path and the key's span.
    fn find_key(&self, path: &[Seg], key: &str) -> Option<(Vec<Seg>, Range<usize>)> {
        let start = self.get(path)?;
        let mut hits = Vec::new();
        walk(start, path.to_vec(), &mut |p, k, kspan, _| {
            if k == key {
                let mut full = p.to_vec();
                full.push(Seg::key(k));
                hits.push((full, kspan));
            }
        });
        if hits.len() == 1 {
            hits.pop()
        } else {
            None
        }
    }

    /// Looks for a leaf value rendered as `wanted` (e.g. `"abc"` or `5`) under `path`.
    fn find_value(&self, path: &[Seg], wanted: &str) -> Option<(Vec<Seg>, Range<usize>)> {
        let start = self.get(path)?;
        let mut hits = Vec::new();
        walk(start, path.to_vec(), &mut |p, k, _, v| {
            if leaf_text(v).as_deref() == Some(wanted) {
                let mut full = p.to_vec();
                full.push(Seg::key(k));
                hits.push((full, v.span()));
            }
        });
        if hits.len() == 1 {
            hits.pop()
        } else {
            None
        }
    }
}

/// The spelling `key` is read as in the table at `path`, when it is an old one.
fn new_spelling(path: &[String], key: &str, renames: &[Rename]) -> Option<String> {
    let here = |r: &&Rename| {
        r.old == key && r.table.len() == path.len() && r.table.iter().zip(path).all(|(t, p)| *t == "*" || t == p)
    };
    match renames.iter().find(here) {
        Some(r) => Some(r.new.to_string()),
        None => key.contains('-').then(|| key.replace('-', "_")),
    }
}

/// Renames old spellings of keys in `t` and below (see [`Rename`]). A key given in both
/// spellings is an error.
fn respell(
    t: &mut DeTable<'_>,
    path: &mut Vec<String>,
    renames: &[Rename],
    source: &Source<'_>,
    warnings: &mut Vec<FileError>,
) -> Result<(), FileError> {
    let old: Vec<(String, Range<usize>, String)> = t
        .iter()
        .filter_map(|(k, _)| new_spelling(path, k.get_ref(), renames).map(|n| (k.get_ref().to_string(), k.span(), n)))
        .collect();
    for (key, span, new) in old {
        if t.contains_key(new.as_str()) {
            return Err(source.error(
                span,
                render_path_strings(path, &key),
                format!("\"{key}\" is the old spelling of \"{new}\", which is also given; keep only \"{new}\""),
            ));
        }
        if let Some((_, v)) = t.remove_entry(key.as_str()) {
            t.insert(Spanned::new(span.clone(), new.clone().into()), v);
        }
        warnings.push(source.error(span, "", format!("{key} is deprecated; write {new}")));
    }
    for (k, v) in t.iter_mut() {
        path.push(k.get_ref().to_string());
        respell_value(v.get_mut(), path, renames, source, warnings)?;
        path.pop();
    }
    Ok(())
}

fn respell_value(
    v: &mut DeValue<'_>,
    path: &mut Vec<String>,
    renames: &[Rename],
    source: &Source<'_>,
    warnings: &mut Vec<FileError>,
) -> Result<(), FileError> {
    match v {
        DeValue::Table(t) => respell(t, path, renames, source, warnings),
        DeValue::Array(a) => {
            for item in a.iter_mut() {
                path.push("*".to_string());
                respell_value(item.get_mut(), path, renames, source, warnings)?;
                path.pop();
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn render_path_strings(path: &[String], key: &str) -> String {
    let mut out: Vec<&str> = path.iter().map(String::as_str).filter(|p| *p != "*").collect();
    out.push(key);
    out.join(".")
}

fn table_get<'t, 'a>(t: &'t DeTable<'a>, key: &str) -> Option<&'t Spanned<DeValue<'a>>> {
    t.iter().find(|(k, _)| k.get_ref().as_ref() == key).map(|(_, v)| v)
}

fn child<'t, 'a>(v: &'t Spanned<DeValue<'a>>, seg: &Seg) -> Option<&'t Spanned<DeValue<'a>>> {
    match (v.get_ref(), seg) {
        (DeValue::Table(t), Seg::Key(k)) => table_get(t, k),
        (DeValue::Array(a), Seg::Index(i)) => a.get(*i),
        _ => None,
    }
}

/// The `name` of an array element that is a table, when it is a plain identifier.
fn element_name<'t>(v: &'t Spanned<DeValue<'_>>) -> Option<&'t str> {
    let DeValue::Table(t) = v.get_ref() else { return None };
    let name = table_get(t, "name")?.get_ref().as_str()?;
    is_plain_name(name).then_some(name)
}

/// Letters, digits, `-` and `_`, starting with a letter or digit.
pub(crate) fn is_plain_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn render_key(k: &str) -> String {
    if !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        k.to_string()
    } else {
        format!("{k:?}")
    }
}

/// Called with the path of a table, one of its keys, the key's span and its value.
type Visit<'f, 'a> = dyn FnMut(&[Seg], &str, Range<usize>, &Spanned<DeValue<'a>>) + 'f;

/// Visits every key/value pair of tables under `v` (depth first, in file order).
fn walk<'a>(v: &Spanned<DeValue<'a>>, path: Vec<Seg>, f: &mut Visit<'_, 'a>) {
    match v.get_ref() {
        DeValue::Table(t) => {
            for (k, val) in t.iter() {
                f(&path, k.get_ref(), k.span(), val);
                let mut p = path.clone();
                p.push(Seg::key(k.get_ref()));
                walk(val, p, f);
            }
        }
        DeValue::Array(a) => {
            for (i, val) in a.iter().enumerate() {
                let mut p = path.clone();
                p.push(Seg::Index(i));
                walk(val, p, f);
            }
        }
        _ => {}
    }
}

/// How a leaf value appears in serde's "invalid type" messages once rewritten by [`got`].
fn leaf_text(v: &Spanned<DeValue<'_>>) -> Option<String> {
    match v.get_ref() {
        DeValue::String(s) => Some(format!("{:?}", s.as_ref())),
        DeValue::Integer(i) => Some(i.as_str().replace('_', "")),
        DeValue::Float(f) => Some(f.as_str().replace('_', "")),
        DeValue::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A serde/toml message rewritten for people.
#[derive(Debug, Default)]
struct Explained {
    message: String,
    unknown_key: Option<String>,
    missing_key: Option<String>,
    /// The offending value as rendered in the message (`"abc"`, `5`).
    unexpected: Option<String>,
}

/// The backquoted names of serde's "expected ..." lists.
fn quoted_names(s: &str) -> Vec<&str> {
    s.split('`').skip(1).step_by(2).collect()
}

/// `old` lists deprecated spellings with their new ones: a key close to an old spelling gets
/// the new one as its hint.
fn explain(raw: &str, old: &[(&str, &str)]) -> Explained {
    if let Some(rest) = raw.strip_prefix("unknown field `") {
        let (key, tail) = rest.split_once('`').unwrap_or((rest, ""));
        let known = quoted_names(tail);
        let olds: Vec<&str> = old
            .iter()
            .filter(|(_, new)| known.contains(new))
            .map(|(o, _)| *o)
            .collect();
        let hinted = hint::closest(key, &known).or_else(|| {
            let o = hint::closest(key, &olds)?;
            old.iter().find(|(x, _)| *x == o).map(|(_, new)| *new)
        });
        let message = match hinted {
            Some(h) => format!("unknown key \"{key}\"; did you mean \"{h}\"?"),
            None if known.is_empty() => format!("unknown key \"{key}\"; this table takes no keys"),
            None => format!("unknown key \"{key}\"; expected one of: {}", known.join(", ")),
        };
        return Explained {
            message,
            unknown_key: Some(key.to_string()),
            ..Explained::default()
        };
    }
    if let Some(rest) = raw.strip_prefix("unknown variant `") {
        let (value, tail) = rest.split_once('`').unwrap_or((rest, ""));
        let known = quoted_names(tail);
        let list = known.iter().map(|k| format!("\"{k}\"")).collect::<Vec<_>>().join(", ");
        let mut message = format!("expected one of {list}, got \"{value}\"");
        if let Some(h) = hint::closest(value, &known) {
            message.push_str(&format!("; did you mean \"{h}\"?"));
        }
        return Explained {
            message,
            unexpected: Some(format!("{value:?}")),
            ..Explained::default()
        };
    }
    if let Some(rest) = raw.strip_prefix("missing field `") {
        let key = rest.split('`').next().unwrap_or(rest);
        return Explained {
            message: format!("missing required key \"{key}\""),
            missing_key: Some(key.to_string()),
            ..Explained::default()
        };
    }
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some(rest) = raw.strip_prefix(prefix) {
            if let Some((unexp, exp)) = rest.rsplit_once(", expected ") {
                let got = got(unexp);
                return Explained {
                    message: format!("expected {}, got {}", expected(exp), got),
                    unexpected: Some(got),
                    ..Explained::default()
                };
            }
        }
    }
    if let Some(rest) = raw.strip_prefix("duplicate field `") {
        let key = rest.split('`').next().unwrap_or(rest);
        return Explained {
            message: format!("key \"{key}\" is given twice"),
            ..Explained::default()
        };
    }
    Explained {
        message: raw.to_string(),
        ..Explained::default()
    }
}

/// Rewrites serde's description of what a type expects.
fn expected(exp: &str) -> String {
    let exp = exp.trim();
    match exp {
        "u8" => "an integer in [0, 255]".to_string(),
        "u16" => "an integer in [0, 65535]".to_string(),
        "u32" => "a non-negative integer below 2^32".to_string(),
        "u64" | "usize" => "a non-negative integer".to_string(),
        "i8" | "i16" | "i32" | "i64" | "isize" => "an integer".to_string(),
        "f32" | "f64" => "a number".to_string(),
        "a sequence" => "an array".to_string(),
        "a map" => "a table".to_string(),
        "a borrowed string" => "a string".to_string(),
        _ if exp.starts_with("struct ") => "a table".to_string(),
        _ => exp.to_string(),
    }
}

/// Rewrites serde's description of the value it got.
fn got(unexp: &str) -> String {
    let unexp = unexp.trim();
    for kind in ["integer ", "floating point ", "boolean "] {
        if let Some(v) = unexp.strip_prefix(kind) {
            return v.trim_matches('`').to_string();
        }
    }
    if let Some(v) = unexp.strip_prefix("string ") {
        return v.to_string();
    }
    match unexp {
        "map" => "a table".to_string(),
        "sequence" => "an array".to_string(),
        "unit value" => "nothing".to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn explain_plain(raw: &str) -> Explained {
        explain(raw, &[])
    }

    #[test]
    fn a_key_close_to_an_old_spelling_is_hinted_the_new_one() {
        let e = explain(
            "unknown field `dwel_ms`, expected `name`, `off_dwell_ms`",
            &[("dwell_ms", "off_dwell_ms")],
        );
        assert_eq!(e.message, "unknown key \"dwel_ms\"; did you mean \"off_dwell_ms\"?");
    }

    #[test]
    fn rewrites_serde_messages() {
        let e = explain_plain("unknown field `ofsets`, expected one of `name`, `start`, `end`, `progress`, `offsets`");
        assert_eq!(e.message, "unknown key \"ofsets\"; did you mean \"offsets\"?");
        assert_eq!(e.unknown_key.as_deref(), Some("ofsets"));
        let e = explain_plain("unknown field `zzz`, expected `a` or `b`");
        assert_eq!(e.message, "unknown key \"zzz\"; expected one of: a, b");
        let e = explain_plain("invalid type: string \"x\", expected u64");
        assert_eq!(e.message, "expected a non-negative integer, got \"x\"");
        let e = explain_plain("invalid value: integer `-3`, expected u32");
        assert_eq!(e.message, "expected a non-negative integer below 2^32, got -3");
        let e = explain_plain("invalid value: integer `300`, expected u8");
        assert_eq!(e.message, "expected an integer in [0, 255], got 300");
        let e = explain_plain("unknown variant `refrence`, expected `reference` or `no-swap-status`");
        assert_eq!(
            e.message,
            "expected one of \"reference\", \"no-swap-status\", got \"refrence\"; did you mean \"reference\"?"
        );
        let e = explain_plain("missing field `start`");
        assert_eq!(e.message, "missing required key \"start\"");
        assert_eq!(explain_plain("something else").message, "something else");
    }

    #[test]
    fn plain_names() {
        assert!(is_plain_name("swap"));
        assert!(is_plain_name("first-boot_2"));
        assert!(!is_plain_name("-x"));
        assert!(!is_plain_name("a b"));
        assert!(!is_plain_name(""));
        assert!(!is_plain_name("a/b"));
    }
}
