//! The lab file: where the daemon listens, where it keeps its state, who may use it, and the
//! stations it owns (a bench's station file, or a simulated board with a number of workers).
//!
//! ```toml
//! listen = "127.0.0.1:7350"     # default; anything but loopback needs `tokens`
//! data_dir = "lab-data"          # relative to this file's folder
//! tokens = "tokens.toml"         # bearer tokens, stored hashed
//! max_upload_mib = 64
//!
//! [[stations]]
//! name = "sim-a"
//! sim = "nrf52840"               # or "any": a simulated board of the campaign's choice
//! workers = 2
//! tags = ["nrf52840"]
//!
//! [[stations]]
//! name = "bench-1"
//! station = "stations/bench-1.toml"
//! tags = ["nrf52840"]
//! ```
//!
//! Errors name the file, line, column and field, as for campaign files.

use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};

use cutpoint_campaign::{Board, FileError, StationFile};
use serde::Deserialize;
use toml::Spanned;

/// The port the daemon listens on when the lab file gives none.
pub const DEFAULT_PORT: u16 = 7350;
/// The data directory of a daemon started without a lab file, under the current directory.
pub const DEFAULT_DATA_DIR: &str = "cutpoint-lab";
/// Upload limit of one submission when the lab file gives none.
pub const DEFAULT_MAX_UPLOAD_MIB: u64 = 64;

/// A lab, validated.
#[derive(Debug, Clone)]
pub struct Lab {
    /// The lab file, as named; `None` for the default lab.
    pub path: Option<PathBuf>,
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub tokens: Option<PathBuf>,
    pub max_upload_bytes: usize,
    pub stations: Vec<StationDef>,
}

/// One station the daemon owns.
#[derive(Debug, Clone)]
pub struct StationDef {
    pub name: String,
    pub kind: StationKind,
    pub tags: Vec<String>,
}

#[derive(Debug, Clone)]
pub enum StationKind {
    /// The simulated board: `board` (any board a campaign names when `None`), `workers` cut
    /// points at once.
    Sim { board: Option<Board>, workers: usize },
    /// A bench, described by its station file.
    Bench { path: PathBuf, station: Box<StationFile> },
}

impl StationDef {
    /// One line for `cutpoint benches` and `cutpoint check`.
    pub fn describe(&self) -> String {
        match &self.kind {
            StationKind::Sim { board, workers } => format!(
                "simulated {} with {workers} worker{}",
                board.map_or("board (any)", |b| b.name()),
                if *workers == 1 { "" } else { "s" }
            ),
            StationKind::Bench { path, station } => format!("bench `{}` ({})", station.name, path.display()),
        }
    }

    pub fn workers(&self) -> usize {
        match self.kind {
            StationKind::Sim { workers, .. } => workers,
            StationKind::Bench { .. } => 1,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLab {
    listen: Option<Spanned<String>>,
    data_dir: Option<Spanned<String>>,
    tokens: Option<Spanned<String>>,
    max_upload_mib: Option<Spanned<u64>>,
    #[serde(default)]
    stations: Vec<Spanned<RawStation>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStation {
    name: Spanned<String>,
    sim: Option<Spanned<String>>,
    workers: Option<Spanned<i64>>,
    station: Option<Spanned<String>>,
    #[serde(default)]
    tags: Vec<Spanned<String>>,
}

/// 1-based line and column (in characters) of byte `offset` of `text`.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// Collects located errors of one file.
pub(crate) struct Errors<'a> {
    file: String,
    text: &'a str,
    pub list: Vec<FileError>,
}

impl<'a> Errors<'a> {
    pub fn new(file: &Path, text: &'a str) -> Self {
        Errors {
            file: file.display().to_string(),
            text,
            list: Vec::new(),
        }
    }

    pub fn at(&mut self, span: Range<usize>, field: &str, message: impl Into<String>) {
        let (line, column) = line_col(self.text, span.start);
        self.list.push(FileError {
            file: self.file.clone(),
            line,
            column,
            field: field.to_string(),
            message: message.into(),
        });
    }

    pub fn toml(&mut self, e: toml::de::Error) {
        let (line, column) = e.span().map_or((0, 0), |s| line_col(self.text, s.start));
        self.list.push(FileError {
            file: self.file.clone(),
            line,
            column,
            field: String::new(),
            message: e.message().trim().to_string(),
        });
    }
}

fn read(path: &Path) -> Result<String, Vec<FileError>> {
    std::fs::read_to_string(path).map_err(|e| {
        vec![FileError::whole_file(
            &path.display().to_string(),
            format!("cannot read the file: {e}"),
        )]
    })
}

/// Whether `text` reads as a lab file (it has `[[stations]]`, `listen` or `data_dir` at its
/// top level), so `cutpoint check` knows which loader to use.
pub fn looks_like_lab(text: &str) -> bool {
    match text.parse::<toml::Table>() {
        Ok(t) => ["stations", "listen", "data_dir"].iter().any(|k| t.contains_key(*k)) && !t.contains_key("phases"),
        Err(_) => false,
    }
}

/// Reads and validates the lab file at `path`. Paths in it are relative to its folder.
pub fn load_lab(path: &Path) -> Result<Lab, Vec<FileError>> {
    let text = read(path)?;
    parse_lab(&text, path)
}

pub fn parse_lab(text: &str, path: &Path) -> Result<Lab, Vec<FileError>> {
    let mut errs = Errors::new(path, text);
    let raw: RawLab = match toml::from_str(text) {
        Ok(r) => r,
        Err(e) => {
            errs.toml(e);
            return Err(errs.list);
        }
    };
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let resolve = |p: &str| {
        let p = Path::new(p);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            base.join(p)
        }
    };
    let listen = match &raw.listen {
        None => SocketAddr::from(([127, 0, 0, 1], DEFAULT_PORT)),
        Some(l) => match parse_listen(l.get_ref()) {
            Ok(a) => a,
            Err(m) => {
                errs.at(l.span(), "listen", m);
                SocketAddr::from(([127, 0, 0, 1], DEFAULT_PORT))
            }
        },
    };
    let data_dir = raw
        .data_dir
        .as_ref()
        .map_or_else(|| base.join(DEFAULT_DATA_DIR), |d| resolve(d.get_ref()));
    let tokens = raw.tokens.as_ref().and_then(|t| {
        let p = resolve(t.get_ref());
        if p.is_file() {
            Some(p)
        } else {
            errs.at(
                t.span(),
                "tokens",
                format!(
                    "no tokens file at \"{}\"; create one with `cutpoint token new NAME --scope submit --tokens {}`",
                    p.display(),
                    p.display()
                ),
            );
            None
        }
    });
    if let Some(t) = &tokens {
        if let Err(e) = crate::auth::load_tokens(t) {
            errs.list.extend(e);
        }
    }
    if !listen.ip().is_loopback() && raw.tokens.is_none() {
        let span = raw.listen.as_ref().map_or(0..0, |l| l.span());
        errs.at(span, "listen", non_loopback_message(&listen));
    }
    let max_upload_mib = match &raw.max_upload_mib {
        None => DEFAULT_MAX_UPLOAD_MIB,
        Some(m) if (1..=4096).contains(m.get_ref()) => *m.get_ref(),
        Some(m) => {
            errs.at(m.span(), "max_upload_mib", "expected a size in MiB from 1 to 4096");
            DEFAULT_MAX_UPLOAD_MIB
        }
    };
    let mut stations = Vec::new();
    for s in &raw.stations {
        let span = s.span();
        let s = s.get_ref();
        let name = s.name.get_ref().clone();
        let field = |f: &str| format!("stations.{name}.{f}");
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            errs.at(
                s.name.span(),
                "stations.name",
                "a station name is letters, digits, `-` and `_` (it appears in URLs)",
            );
        }
        if stations.iter().any(|d: &StationDef| d.name == name) {
            errs.at(
                s.name.span(),
                "stations.name",
                format!("a second station named `{name}`; names must differ"),
            );
        }
        let kind = match (&s.sim, &s.station) {
            (Some(_), Some(st)) => {
                errs.at(
                    st.span(),
                    &field("station"),
                    "a station is either `sim = \"<board>\"` or `station = \"<file>\"`, not both",
                );
                continue;
            }
            (None, None) => {
                errs.at(
                    span,
                    &format!("stations.{name}"),
                    "give `sim = \"<board>\"` (with `workers`) or `station = \"<station file>\"`",
                );
                continue;
            }
            (Some(b), None) => {
                let board = match b.get_ref().as_str() {
                    "any" => None,
                    n => match Board::from_name(n) {
                        Some(b) => Some(b),
                        None => {
                            let names: Vec<String> = Board::ALL.iter().map(|b| format!("\"{}\"", b.name())).collect();
                            errs.at(
                                b.span(),
                                &field("sim"),
                                format!("unknown board `{n}`; expected \"any\" or one of {}", names.join(", ")),
                            );
                            continue;
                        }
                    },
                };
                let workers = match &s.workers {
                    None => 1,
                    Some(w) if (1..=256).contains(w.get_ref()) => *w.get_ref() as usize,
                    Some(w) => {
                        errs.at(
                            w.span(),
                            &field("workers"),
                            "expected a number of workers from 1 to 256",
                        );
                        1
                    }
                };
                StationKind::Sim { board, workers }
            }
            (None, Some(st)) => {
                if let Some(w) = &s.workers {
                    errs.at(
                        w.span(),
                        &field("workers"),
                        "a bench runs one cut point at a time; `workers` is for `sim` stations",
                    );
                }
                let p = resolve(st.get_ref());
                match cutpoint_campaign::load_station(&p) {
                    Ok(station) => StationKind::Bench {
                        path: p,
                        station: Box::new(station),
                    },
                    Err(e) => {
                        if !p.is_file() {
                            errs.at(
                                st.span(),
                                &field("station"),
                                format!("no station file at \"{}\"", p.display()),
                            );
                        } else {
                            errs.list.extend(e);
                        }
                        continue;
                    }
                }
            }
        };
        let mut tags = Vec::new();
        for t in &s.tags {
            if t.get_ref().is_empty() {
                errs.at(t.span(), &field("tags"), "a tag cannot be empty");
            }
            tags.push(t.get_ref().clone());
        }
        stations.push(StationDef { name, kind, tags });
    }
    if raw.stations.is_empty() {
        errs.at(
            0..0,
            "stations",
            "the lab has no station: add a [[stations]] table (`sim = \"nrf52840\"` for the simulated board)",
        );
    }
    if !errs.list.is_empty() {
        return Err(errs.list);
    }
    Ok(Lab {
        path: Some(path.to_path_buf()),
        listen,
        data_dir,
        tokens,
        max_upload_bytes: (max_upload_mib * 1024 * 1024) as usize,
        stations,
    })
}

/// The lab of `cutpoint daemon` without a lab file: one simulated station of any board, on
/// loopback, with its data in `./cutpoint-lab`.
pub fn default_lab() -> Lab {
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    Lab {
        path: None,
        listen: SocketAddr::from(([127, 0, 0, 1], DEFAULT_PORT)),
        data_dir: PathBuf::from(DEFAULT_DATA_DIR),
        tokens: None,
        max_upload_bytes: (DEFAULT_MAX_UPLOAD_MIB * 1024 * 1024) as usize,
        stations: vec![StationDef {
            name: "sim".into(),
            kind: StationKind::Sim { board: None, workers },
            tags: vec!["sim".into()],
        }],
    }
}

/// `HOST:PORT`, `:PORT` (loopback) or `PORT` (loopback).
pub fn parse_listen(s: &str) -> Result<SocketAddr, String> {
    let s = s.trim();
    let bad = || format!("`{s}`: expected an address like 127.0.0.1:{DEFAULT_PORT}, [::1]:{DEFAULT_PORT} or a port");
    if let Ok(port) = s.trim_start_matches(':').parse::<u16>() {
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    if let Some(port) = s.strip_prefix("localhost:") {
        return port
            .parse::<u16>()
            .map(|p| SocketAddr::from(([127, 0, 0, 1], p)))
            .map_err(|_| bad());
    }
    s.parse::<SocketAddr>().map_err(|_| bad())
}

/// Why a daemon refuses to listen on `addr` without a tokens file.
pub fn non_loopback_message(addr: &SocketAddr) -> String {
    format!(
        "listening on {addr} (not loopback) needs a tokens file: anyone who reaches it could run \
         campaigns and drive the benches. Set `tokens = \"tokens.toml\"` in the lab file (create \
         one with `cutpoint token new NAME --scope admin --tokens tokens.toml`), or listen on 127.0.0.1"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(text: &str) -> String {
        match parse_lab(text, Path::new("lab.toml")) {
            Ok(_) => "ok".into(),
            Err(e) => cutpoint_campaign::format_errors(&e),
        }
    }

    #[test]
    fn a_sim_lab_loads_with_its_defaults() {
        let lab = parse_lab(
            "[[stations]]\nname = \"a\"\nsim = \"nrf52840\"\nworkers = 3\ntags = [\"nrf52840\"]\n",
            Path::new("/x/lab.toml"),
        )
        .unwrap();
        assert_eq!(lab.listen, SocketAddr::from(([127, 0, 0, 1], DEFAULT_PORT)));
        assert_eq!(lab.data_dir, Path::new("/x").join(DEFAULT_DATA_DIR));
        assert_eq!(lab.stations[0].workers(), 3);
        assert_eq!(lab.stations[0].tags, ["nrf52840"]);
    }

    #[test]
    fn errors_are_located() {
        assert_eq!(
            errors("[[stations]]\nname = \"a\"\nsim = \"nrf5\"\n"),
            "lab.toml:3:7: stations.a.sim: unknown board `nrf5`; expected \"any\" or one of \"nrf52840\", \"stm32l4\", \"w25q128\", \"w25q32\", \"stm32f4\", \"stm32h7\", \"nrf5340\", \"nrf52840-qspi\", \"stm32u5\"\n"
        );
        let typo = errors("listen = \"127.0.0.1:1\"\n[[stations]]\nname = \"a\"\nsim = \"any\"\nworkerz = 2\n");
        assert!(typo.starts_with("lab.toml:5:1: unknown field `workerz`"), "{typo}");
        let w = errors("[[stations]]\nname = \"a\"\nsim = \"any\"\nworkers = 0\n");
        assert!(w.starts_with("lab.toml:4:11: stations.a.workers:"), "{w}");
    }

    #[test]
    fn a_non_loopback_listen_without_tokens_is_refused() {
        let e = errors("listen = \"0.0.0.0:7350\"\n[[stations]]\nname = \"a\"\nsim = \"any\"\n");
        assert!(
            e.starts_with("lab.toml:1:10: listen: listening on 0.0.0.0:7350 (not loopback) needs a tokens file"),
            "{e}"
        );
    }

    #[test]
    fn listen_spellings() {
        assert_eq!(parse_listen("8080").unwrap(), SocketAddr::from(([127, 0, 0, 1], 8080)));
        assert_eq!(parse_listen(":0").unwrap(), SocketAddr::from(([127, 0, 0, 1], 0)));
        assert!(parse_listen("[::1]:80").unwrap().ip().is_loopback());
        assert!(parse_listen("nowhere").is_err());
    }
}
