//! A submission: the campaign and every file it names, uploaded together. Each file is stored
//! once by its SHA-256 (`files/<sha256>`), and the submission's tree of files by the hash of
//! its manifest (`inputs/<sha256>/`), where the campaign is loaded and checked as `cutpoint
//! check` would: a bad campaign is refused with the same located errors, its paths the
//! client's.

use std::path::{Component, Path, PathBuf};

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::lab::StationDef;
use crate::station::{client_paths, fit_to_station};
use crate::Daemon;

/// One uploaded file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadFile {
    /// Relative to the submission's root, with `/` between folders.
    pub path: String,
    pub base64: String,
}

/// The body of `POST /v1/runs`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Submission {
    /// The campaign as the client named it (for messages and the journal).
    pub campaign: String,
    /// The folder the files' paths are relative to, as the client names it (for messages).
    #[serde(default)]
    pub root: String,
    /// The campaign file among `files`.
    pub campaign_file: String,
    pub files: Vec<UploadFile>,
    /// Run on this station.
    #[serde(default)]
    pub station: Option<String>,
    /// Run on any station with this tag.
    #[serde(default)]
    pub tag: Option<String>,
    /// `k/n`: the k-th of n partitions.
    #[serde(default)]
    pub partition: Option<String>,
    /// replay, manual, ci or nightly (default manual).
    #[serde(default)]
    pub priority: Option<String>,
}

/// Priorities by name: a replay or a person's job goes before the CI's and the nightly backlog.
pub const PRIORITIES: [(&str, i64); 4] = [("replay", 30), ("manual", 20), ("ci", 10), ("nightly", 0)];

pub fn priority_value(name: &str) -> Option<i64> {
    PRIORITIES.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
}

pub fn priority_name(v: i64) -> String {
    PRIORITIES
        .iter()
        .find(|(_, p)| *p == v)
        .map_or_else(|| v.to_string(), |(n, _)| n.to_string())
}

/// Why a submission was refused: an HTTP status and the message.
#[derive(Debug)]
pub struct Refused {
    pub status: u16,
    pub message: String,
}

fn bad(message: impl Into<String>) -> Refused {
    Refused {
        status: 400,
        message: message.into(),
    }
}

fn internal(message: impl Into<String>) -> Refused {
    Refused {
        status: 500,
        message: message.into(),
    }
}

/// A relative path without `..`, or why not.
fn safe_relative(p: &str) -> Result<PathBuf, String> {
    let path = Path::new(p);
    if p.is_empty() || p.contains('\\') || p.contains('\0') {
        return Err("expected a relative path with `/` between folders".into());
    }
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(s) => out.push(s),
            Component::CurDir => {}
            _ => return Err("expected a path inside the upload (relative, without `..`)".into()),
        }
    }
    if out.as_os_str().is_empty() {
        return Err("expected a file's path".into());
    }
    Ok(out)
}

/// A name no other request of this daemon uses at the same time.
fn unique_suffix() -> String {
    let mut bytes = [0u8; 8];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
    hex::encode(bytes)
}

/// Writes `bytes` to `dir/name` unless it is there: whole or not at all, and two submissions
/// of the same file at once each write their own temporary file.
fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<PathBuf> {
    let target = dir.join(name);
    if target.is_file() {
        return Ok(target);
    }
    let tmp = dir.join(format!(".{name}.{}.tmp", unique_suffix()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, &target)?;
    Ok(target)
}

/// Stores the files, checks the campaign and where it may run, and queues the run: its id.
pub fn submit(d: &Daemon, sub: &Submission, by: Option<&str>) -> Result<i64, Refused> {
    if sub.files.is_empty() {
        return Err(bad(
            "files: the upload holds no file; give the campaign and every file it names",
        ));
    }
    let data = &d.lab.data_dir;
    let blobs = data.join("files");
    let inputs = data.join("inputs");
    for dir in [&blobs, &inputs] {
        std::fs::create_dir_all(dir).map_err(|e| internal(format!("{}: {e}", dir.display())))?;
    }
    let mut manifest: Vec<(PathBuf, String, PathBuf)> = Vec::new();
    for (i, f) in sub.files.iter().enumerate() {
        let rel = safe_relative(&f.path).map_err(|m| bad(format!("files[{i}].path `{}`: {m}", f.path)))?;
        if manifest.iter().any(|(p, _, _)| *p == rel) {
            return Err(bad(format!("files[{i}].path `{}`: given twice", f.path)));
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(f.base64.as_bytes())
            .map_err(|e| bad(format!("files[{i}].base64 (`{}`): not base64: {e}", f.path)))?;
        let sha = hex::encode(Sha256::digest(&bytes));
        let blob = write_atomically(&blobs, &sha, &bytes).map_err(|e| internal(format!("storing {}: {e}", f.path)))?;
        d.db.note_file(&sha, bytes.len() as u64)
            .map_err(|e| internal(format!("database: {e}")))?;
        manifest.push((rel, sha, blob));
    }
    manifest.sort_by(|a, b| a.0.cmp(&b.0));
    let mut h = Sha256::new();
    for (p, sha, _) in &manifest {
        h.update(p.to_string_lossy().as_bytes());
        h.update([0]);
        h.update(sha.as_bytes());
        h.update([b'\n']);
    }
    let tree = inputs.join(hex::encode(h.finalize()));
    if !tree.is_dir() {
        let tmp = inputs.join(format!(".tmp-{}", unique_suffix()));
        let build = || -> std::io::Result<()> {
            for (p, _, blob) in &manifest {
                let to = tmp.join(p);
                if let Some(parent) = to.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                if std::fs::hard_link(blob, &to).is_err() {
                    std::fs::copy(blob, &to)?;
                }
            }
            Ok(())
        };
        build().map_err(|e| internal(format!("laying out the upload: {e}")))?;
        if std::fs::rename(&tmp, &tree).is_err() {
            // Another submission of the same files got there first.
            let _ = std::fs::remove_dir_all(&tmp);
        }
    }
    let campaign_rel = safe_relative(&sub.campaign_file).map_err(|m| bad(format!("campaign_file: {m}")))?;
    if !manifest.iter().any(|(p, _, _)| *p == campaign_rel) {
        return Err(bad(format!(
            "campaign_file `{}` is not among the uploaded files",
            sub.campaign_file
        )));
    }
    let input_dir = tree.display().to_string();
    let located = |text: &str| client_paths(text, &input_dir, &sub.root);
    let c = cutpoint_campaign::load_campaign(tree.join(&campaign_rel))
        .map_err(|errors| bad(located(cutpoint_campaign::format_errors(&errors).trim_end())))?;
    // Every file the campaign names comes with the upload: none is read from elsewhere on the
    // daemon's machine (an absolute path, `..`, a link out of the tree).
    let inside = std::fs::canonicalize(&tree).map_err(|e| internal(format!("{}: {e}", tree.display())))?;
    for f in named_files(&c) {
        let ok = std::fs::canonicalize(&f).is_ok_and(|p| p.starts_with(&inside));
        if !ok {
            return Err(bad(located(&format!(
                "{}: names `{}`, outside the uploaded files; name files beside the campaign (or below a \
                 folder shared with it) so `cutpoint submit` uploads them",
                tree.join(&campaign_rel).display(),
                f.display()
            ))));
        }
    }
    if let Some(p) = &sub.partition {
        cutpoint_campaign::parse_partition(p).map_err(|e| bad(format!("partition `{p}`: {e}")))?;
    }
    let priority = match &sub.priority {
        None => priority_value("manual").unwrap_or(20),
        Some(p) => priority_value(p).ok_or_else(|| {
            let names: Vec<&str> = PRIORITIES.iter().map(|(n, _)| *n).collect();
            bad(format!("priority `{p}`: expected one of {}", names.join(", ")))
        })?,
    };
    let stations = &d.lab.stations;
    let fits = |s: &StationDef| fit_to_station(&mut c.clone(), s);
    let (station, tag) = match (&sub.station, &sub.tag) {
        (Some(_), Some(_)) => return Err(bad("give a station or a tag, not both")),
        (Some(name), None) => {
            let s = stations.iter().find(|s| s.name == *name).ok_or_else(|| {
                bad(format!(
                    "station `{name}`: no such station in this lab (it has: {}); `cutpoint benches` lists them",
                    names(stations.iter())
                ))
            })?;
            fits(s).map_err(bad)?;
            (Some(name.clone()), None)
        }
        (None, Some(tag)) => {
            let tagged: Vec<&StationDef> = stations.iter().filter(|s| s.tags.contains(tag)).collect();
            if tagged.is_empty() {
                return Err(bad(format!("tag `{tag}`: no station of this lab carries it")));
            }
            for s in &tagged {
                fits(s).map_err(|m| bad(format!("tag `{tag}`: {m}")))?;
            }
            (None, Some(tag.clone()))
        }
        (None, None) => {
            let fitting: Vec<&StationDef> = stations.iter().filter(|s| fits(s).is_ok()).collect();
            match fitting.len() {
                0 => {
                    let why = stations
                        .first()
                        .map(|s| fits(s).err().unwrap_or_default())
                        .unwrap_or_default();
                    return Err(bad(format!("no station of this lab can run this campaign: {why}")));
                }
                n if n == stations.len() => (None, None),
                1 => (Some(fitting[0].name.clone()), None),
                _ => {
                    return Err(bad(format!(
                        "several stations can run this campaign ({}), not all: name one with --station or --tag",
                        names(fitting.into_iter())
                    )))
                }
            }
        }
    };
    let id =
        d.db.insert_run(&crate::db::NewRun {
            campaign: &sub.campaign,
            name: &c.name,
            input_dir: &input_dir,
            campaign_rel: &campaign_rel.to_string_lossy(),
            root: &sub.root,
            station: station.as_deref(),
            tag: tag.as_deref(),
            priority,
            partition: sub.partition.as_deref(),
            submitted_by: by,
            negative: c.pass.expect == cutpoint_campaign::Expect::Fail,
            filter: None,
            replay_of: None,
        })
        .map_err(|e| internal(format!("database: {e}")))?;
    let v = serde_json::json!({
        "type": "queued",
        "campaign": sub.campaign,
        "station": station,
        "tag": tag,
        "priority": priority_name(priority),
        "partition": sub.partition,
    });
    d.db.append_event(id, "queued", &v.to_string())
        .map_err(|e| internal(format!("database: {e}")))?;
    d.notify();
    Ok(id)
}

/// The files a campaign names: itself, image files, its key, its station file.
pub fn named_files(c: &cutpoint_campaign::Campaign) -> Vec<PathBuf> {
    use cutpoint_campaign::{ImageSource, TargetKind};
    let mut files = vec![c.path.clone()];
    for i in [&c.images.baseline, &c.images.update] {
        if let ImageSource::File { path, .. } = i {
            files.push(path.clone());
        }
    }
    files.extend(c.images.public_key.clone());
    if let TargetKind::Station { path, .. } = &c.target.kind {
        files.push(path.clone());
    }
    files
}

/// Queues a replay of cut point `cut_id` of run `of`: a run of the same uploaded campaign,
/// on the same station, of that one cut point (same id, same seed), before the other runs.
/// Returns its id and the recorded result.
pub fn replay(
    d: &Daemon,
    of: i64,
    cut_id: &str,
    by: Option<&str>,
) -> Result<(i64, cutpoint_report::CutResult), Refused> {
    let run =
        d.db.run(of)
            .map_err(|e| internal(format!("database: {e}")))?
            .ok_or_else(|| Refused {
                status: 404,
                message: format!("no run {of}; `cutpoint runs` lists them"),
            })?;
    let journal = crate::station::report_dir(&d.lab.data_dir, of).join("results.jsonl");
    let j = cutpoint_report::journal::read_journal(&journal).map_err(|_| Refused {
        status: 404,
        message: format!("run {of} has no journal yet: replay a cut point once it ran"),
    })?;
    let recorded = j.cut(cut_id).cloned().ok_or_else(|| {
        bad(format!(
            "run {of} has no cut point `{cut_id}`; its report (summary.md) lists the ids"
        ))
    })?;
    let filter = glob::Pattern::escape(cut_id);
    let station = run.assigned.as_deref().or(run.station.as_deref());
    let id =
        d.db.insert_run(&crate::db::NewRun {
            campaign: &run.campaign,
            name: &run.name,
            input_dir: &run.input_dir,
            campaign_rel: &run.campaign_rel,
            root: &run.root,
            station,
            tag: if station.is_none() { run.tag.as_deref() } else { None },
            priority: priority_value("replay").unwrap_or(30),
            partition: None,
            submitted_by: by,
            negative: run.negative,
            filter: Some(&filter),
            replay_of: Some(of),
        })
        .map_err(|e| internal(format!("database: {e}")))?;
    let v = serde_json::json!({
        "type": "queued",
        "campaign": run.campaign,
        "station": station,
        "priority": "replay",
        "replay_of": of,
        "cut_id": cut_id,
    });
    d.db.append_event(id, "queued", &v.to_string())
        .map_err(|e| internal(format!("database: {e}")))?;
    d.notify();
    Ok((id, recorded))
}

fn names<'a>(s: impl Iterator<Item = &'a StationDef>) -> String {
    s.map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ")
}
