#![cfg(target_os = "linux")]
//! The lab daemon, for real: the built `cutpoint` binary serving a lab of simulated stations
//! on loopback, driven by `cutpoint submit` and the HTTP API; killed with -9 and restarted.

#[path = "support/cli.rs"]
mod cli;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cutpoint_daemon::client::{build_submission, read_sse, Conn};
use serde_json::{json, Value};

/// A daemon process on a lab file in its own folder.
struct Lab {
    dir: tempfile::TempDir,
    child: Option<Child>,
    url: String,
    extra: Vec<String>,
    listen: String,
}

impl Lab {
    fn start(lab_toml: &str) -> Lab {
        Lab::start_with(lab_toml, &[])
    }

    fn start_with(lab_toml: &str, extra: &[&str]) -> Lab {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("lab.toml"), lab_toml).unwrap();
        let mut lab = Lab {
            dir,
            child: None,
            url: String::new(),
            extra: extra.iter().map(|s| s.to_string()).collect(),
            listen: "127.0.0.1:0".into(),
        };
        lab.spawn();
        lab
    }

    fn addr_file(&self) -> PathBuf {
        self.dir.path().join("addr")
    }

    fn spawn(&mut self) {
        let _ = std::fs::remove_file(self.addr_file());
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("daemon.log"))
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_cutpoint"))
            .args([
                "daemon",
                "--lab",
                "lab.toml",
                "--listen",
                &self.listen,
                "--addr-file",
                "addr",
            ])
            .args(&self.extra)
            .current_dir(self.dir.path())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let start = Instant::now();
        loop {
            if let Ok(u) = std::fs::read_to_string(self.addr_file()) {
                if u.ends_with('\n') {
                    self.url = u.trim().to_string();
                    return;
                }
            }
            if let Some(Ok(Some(st))) = self.child.as_mut().map(|c| c.try_wait()) {
                panic!("the daemon exited ({st}) before serving:\n{}", self.log());
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "the daemon did not start:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("daemon.log")).unwrap_or_default()
    }

    fn conn(&self) -> Conn {
        Conn::new(Some(self.url.clone()), None)
    }

    fn conn_with(&self, token: &str) -> Conn {
        Conn::new(Some(self.url.clone()), Some(token.to_string()))
    }

    fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }

    fn sigterm(&mut self) -> std::process::ExitStatus {
        let mut c = self.child.take().expect("running");
        let pid = c.id() as libc::pid_t;
        // SAFETY: kill(2) on the child this test spawned, by its pid.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
        let start = Instant::now();
        loop {
            if let Some(st) = c.try_wait().unwrap() {
                return st;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "SIGTERM did not stop the daemon"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn run(&self, id: i64) -> Value {
        self.conn()
            .get_json(&format!("/v1/runs/{id}"))
            .unwrap_or_else(|f| panic!("{}", f.message))
    }

    /// Waits for run `id` to end; its record.
    fn wait_run(&self, id: i64, limit: Duration) -> Value {
        let start = Instant::now();
        loop {
            let r = self.run(id);
            let state = r["state"].as_str().unwrap_or("").to_string();
            if !["queued", "running"].contains(&state.as_str()) {
                return r;
            }
            assert!(start.elapsed() < limit, "run {id} still {state}:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until `f` holds of run `id` (which may not be submitted yet).
    fn wait_for(&self, id: i64, what: &str, f: impl Fn(&Value) -> bool) -> Value {
        let start = Instant::now();
        loop {
            let r = self.conn().get_json(&format!("/v1/runs/{id}")).unwrap_or(Value::Null);
            if f(&r) {
                return r;
            }
            assert!(start.elapsed() < Duration::from_secs(60), "run {id}: never {what}: {r}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn submit(&self, campaign: &str, extra: &[(&str, &str)]) -> i64 {
        let mut sub = serde_json::to_value(build_submission(&cli::root().join(campaign)).unwrap()).unwrap();
        for (k, v) in extra {
            sub[*k] = json!(v);
        }
        let r = self
            .conn()
            .post_json("/v1/runs", &sub)
            .unwrap_or_else(|f| panic!("{}", f.message));
        r["id"].as_i64().unwrap()
    }

    fn report_dir(&self, id: i64) -> PathBuf {
        self.dir.path().join("cutpoint-lab/runs").join(id.to_string())
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.kill9();
    }
}

const ONE_SIM: &str = "[[stations]]\nname = \"sim\"\nsim = \"nrf52840\"\nworkers = 2\ntags = [\"nrf52840\"]\n";
const ONE_WORKER: &str = "[[stations]]\nname = \"sim\"\nsim = \"nrf52840\"\nworkers = 1\n";

/// `cutpoint args...` from the repository's root, with its exit code, stdout and stderr.
fn cutpoint_in(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_cutpoint"))
        .args(args)
        .current_dir(dir)
        .env_remove("CUTPOINT_SERVER")
        .env_remove("CUTPOINT_TOKEN")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Every event of run `id` after `last` as (sequence number, kind, data), to its `end`.
fn events(conn: &Conn, id: i64, last: Option<&str>, stop_after: Option<usize>) -> Vec<(i64, String, Value)> {
    let mut out = Vec::new();
    let r = conn.event_stream(id, last).unwrap_or_else(|f| panic!("{}", f.message));
    read_sse(r, |e| {
        let Some(e) = e else { return true };
        let seq = e.id.as_deref().unwrap().parse().unwrap();
        out.push((seq, e.event.clone(), serde_json::from_str(&e.data).unwrap()));
        e.event != "end" && stop_after.is_none_or(|n| out.len() < n)
    })
    .unwrap();
    out
}

/// The cut records of a journal by id: how many times each ends, and the planned ids.
fn journal_counts(dir: &Path) -> (HashMap<String, usize>, Vec<String>, Vec<String>) {
    let text = std::fs::read_to_string(dir.join("results.jsonl")).unwrap();
    let mut cuts: HashMap<String, usize> = HashMap::new();
    let mut planned = Vec::new();
    let mut ends = Vec::new();
    for line in text.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        match v["record"].as_str() {
            Some("header") => {
                planned = v["planned"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| p["id"].as_str().unwrap().to_string())
                    .collect()
            }
            Some("cut") => *cuts.entry(v["id"].as_str().unwrap().to_string()).or_default() += 1,
            Some("end") => ends.push(v["how"].as_str().unwrap().to_string()),
            _ => {}
        }
    }
    (cuts, planned, ends)
}

fn assert_every_cut_exactly_once(dir: &Path) {
    let (cuts, planned, ends) = journal_counts(dir);
    assert!(planned.len() > 1000, "{} planned", planned.len());
    for id in &planned {
        assert_eq!(cuts.get(id), Some(&1), "cut point {id} ended {:?} times", cuts.get(id));
    }
    assert_eq!(cuts.len(), planned.len(), "a cut outside the plan");
    assert_eq!(ends.last().map(String::as_str), Some("complete"), "{ends:?}");
}

#[test]
fn submit_wait_exits_with_the_runs_own_code_and_brings_the_reports() {
    let lab = Lab::start(ONE_SIM);
    let root = cli::root();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("smoke");
    let (code, stdout, stderr) = cutpoint_in(
        &root,
        &[
            "submit",
            "campaigns/smoke.toml",
            "--server",
            &lab.url,
            "--wait",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.starts_with(&format!("{}/v1/runs/1\n", lab.url)), "{stdout}");
    assert!(stdout.contains("42 passed, 0 failed"), "{stdout}");
    for f in ["junit.xml", "summary.md", "report.html", "results.jsonl"] {
        assert!(out.join(f).is_file(), "{f} not downloaded");
    }
    assert_eq!(
        std::fs::read(out.join("results.jsonl")).unwrap(),
        std::fs::read(lab.report_dir(1).join("results.jsonl")).unwrap()
    );

    // A known bug, with the campaign expecting a pass: the device's failure, 1.
    let bug = std::fs::read_to_string(root.join("campaigns/known-bugs/early-trailer-magic.toml"))
        .unwrap()
        .replace("expect = \"fail\"", "expect = \"pass\"");
    std::fs::write(tmp.path().join("bug.toml"), bug).unwrap();
    let (code, stdout, stderr) = cutpoint_in(tmp.path(), &["submit", "bug.toml", "--server", &lab.url, "--wait"]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(!stdout.contains(" 0 failed"), "{stdout}");
    assert!(stderr.contains("\nFAIL "), "{stderr}");
    assert!(!stderr.contains("FAIL (expected)"), "{stderr}");
    assert!(tmp
        .path()
        .join("reports/known-bug-early-trailer-magic-run2/junit.xml")
        .is_file());

    // The same campaign as the negative control it is: its failures are expected, 0.
    let (code, _, stderr) = cutpoint_in(
        &root,
        &[
            "submit",
            "campaigns/known-bugs/confirm-at-boot.toml",
            "--server",
            &lab.url,
            "--wait",
            "--out",
            tmp.path().join("nc").to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("FAIL (expected)"), "{stderr}");

    // A typo: bad input, 2, with the error `cutpoint check` prints.
    std::fs::write(
        tmp.path().join("typo.toml"),
        std::fs::read_to_string(root.join("campaigns/smoke.toml"))
            .unwrap()
            .replace("seed = 42", "sed = 42"),
    )
    .unwrap();
    let (code, _, stderr) = cutpoint_in(tmp.path(), &["submit", "typo.toml", "--server", &lab.url, "--wait"]);
    let (check_code, _, check_err) = cutpoint_in(tmp.path(), &["check", "typo.toml"]);
    assert_eq!((code, check_code), (2, 2));
    assert_eq!(stderr, check_err);
    assert!(stderr.starts_with("typo.toml:"), "{stderr}");

    // No daemon there: the rig's failure, 3, never the device's.
    let (code, _, stderr) = cutpoint_in(
        &root,
        &[
            "submit",
            "campaigns/smoke.toml",
            "--server",
            "http://127.0.0.1:9",
            "--wait",
        ],
    );
    assert_eq!(code, 3, "{stderr}");
    assert!(
        stderr.contains("cannot reach the daemon at http://127.0.0.1:9"),
        "{stderr}"
    );

    // The runs list has them all, with their codes.
    let (code, stdout, _) = cutpoint_in(&root, &["runs", "--server", &lab.url]);
    assert_eq!(code, 0);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert!(
        lines[1].contains("known-bug-early-trailer-magic") && lines[1].ends_with("exit 1"),
        "{stdout}"
    );
}

#[test]
fn server_url_and_token_come_from_the_environment() {
    let tokens_dir = tempfile::tempdir().unwrap();
    let (_, token, _) = cutpoint_in(
        tokens_dir.path(),
        &["token", "new", "ci", "--scope", "read", "--tokens", "tokens.toml"],
    );
    let token = token.trim().to_string();
    let tokens = std::fs::read_to_string(tokens_dir.path().join("tokens.toml")).unwrap();
    assert!(!tokens.contains(&token), "the tokens file keeps hashes only");
    let lab = Lab::start(&format!(
        "tokens = \"{}\"\n{ONE_SIM}",
        tokens_dir.path().join("tokens.toml").display()
    ));
    let out = Command::new(env!("CARGO_BIN_EXE_cutpoint"))
        .args(["benches"])
        .env("CUTPOINT_SERVER", &lab.url)
        .env("CUTPOINT_TOKEN", &token)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        stdout.starts_with("sim          idle      simulated nrf52840 with 2 workers; tags nrf52840"),
        "{stdout}"
    );
}

#[test]
fn tokens_are_refused_without_the_scope_and_a_public_bind_needs_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut tokens = String::new();
    let mut made = HashMap::new();
    for scope in ["read", "submit", "admin"] {
        let (t, entry) =
            cutpoint_daemon::auth::new_token(scope, cutpoint_daemon::auth::Scope::from_name(scope).unwrap());
        tokens.push_str(&entry);
        made.insert(scope, t);
    }
    std::fs::write(dir.path().join("tokens.toml"), &tokens).unwrap();
    let lab = Lab::start(&format!(
        "tokens = \"{}\"\n{ONE_SIM}",
        dir.path().join("tokens.toml").display()
    ));
    let status = |r: Result<Value, cutpoint_daemon::client::Failed>| match r {
        Ok(_) => "ok".to_string(),
        Err(f) => f
            .message
            .split(" (")
            .nth(1)
            .map_or(f.message.clone(), |s| s[..3].to_string()),
    };
    assert_eq!(status(lab.conn().get_json("/v1/benches")), "401");
    assert_eq!(status(lab.conn_with("cpt_wrong").get_json("/v1/benches")), "401");
    assert_eq!(status(lab.conn_with(&made["read"]).get_json("/v1/benches")), "ok");
    let sub = serde_json::to_value(build_submission(&cli::root().join("campaigns/smoke.toml")).unwrap()).unwrap();
    assert_eq!(status(lab.conn_with(&made["read"]).post_json("/v1/runs", &sub)), "403");
    assert_eq!(
        status(
            lab.conn_with(&made["submit"])
                .post_json("/v1/benches/sim/drain", &json!({}))
        ),
        "403"
    );
    assert_eq!(
        status(
            lab.conn_with(&made["admin"])
                .post_json("/v1/benches/sim/drain", &json!({}))
        ),
        "ok"
    );
    assert_eq!(
        status(
            lab.conn_with(&made["admin"])
                .post_json("/v1/benches/sim/resume", &json!({}))
        ),
        "ok"
    );
    let r = lab.conn_with(&made["submit"]).post_json("/v1/runs", &sub).unwrap();
    assert_eq!(r["submitted_by"], "submit");
    let r = lab.conn_with(&made["read"]).get_json("/v1/runs/1").unwrap();
    assert_eq!(r["id"], 1);
    let e = lab.conn_with(&made["read"]).post_json("/v1/runs", &sub).err().unwrap();
    assert!(
        e.message.contains("token `read` has scope `read`; this needs `submit`"),
        "{}",
        e.message
    );

    // Anything but loopback without a tokens file: refused at start, saying why.
    let open = tempfile::tempdir().unwrap();
    std::fs::write(open.path().join("lab.toml"), ONE_SIM).unwrap();
    let (code, _, stderr) = cutpoint_in(open.path(), &["daemon", "--lab", "lab.toml", "--listen", "0.0.0.0:0"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("listening on 0.0.0.0:0 (not loopback) needs a tokens file"),
        "{stderr}"
    );
    std::fs::write(
        open.path().join("lab.toml"),
        format!("listen = \"0.0.0.0:7350\"\n{ONE_SIM}"),
    )
    .unwrap();
    let (code, _, stderr) = cutpoint_in(open.path(), &["check", "lab.toml"]);
    assert_eq!(code, 2);
    assert!(
        stderr.starts_with("lab.toml:1:10: listen: listening on 0.0.0.0:7350 (not loopback)"),
        "{stderr}"
    );
}

#[test]
fn bad_uploads_get_located_errors_and_the_daemon_keeps_serving() {
    let lab = Lab::start(&format!("max_upload_mib = 1\n{ONE_SIM}"));
    let conn = lab.conn();
    let dir = tempfile::tempdir().unwrap();
    let b64 = |s: &str| {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(s)
    };
    let refused = |body: Value| match conn.post_json("/v1/runs", &body) {
        Ok(v) => panic!("accepted: {v}"),
        Err(f) => f.message,
    };
    // A typo: the same located error as `cutpoint check` on the client's file.
    let smoke = std::fs::read_to_string(cli::root().join("campaigns/smoke.toml")).unwrap();
    let typo = smoke.replace("fault = \"power-cut\"", "fault = \"power-cutt\"");
    std::fs::create_dir(dir.path().join("c")).unwrap();
    std::fs::write(dir.path().join("c/typo.toml"), &typo).unwrap();
    let (_, _, check) = cutpoint_in(dir.path(), &["check", "c/typo.toml"]);
    let m = refused(
        json!({"campaign": "c/typo.toml", "root": "c", "campaign_file": "typo.toml",
                           "files": [{"path": "typo.toml", "base64": b64(&typo)}]}),
    );
    assert!(m.contains("(400)"), "{m}");
    assert_eq!(m.split_once("(400): ").unwrap().1, check.trim_end());
    assert!(check.starts_with("c/typo.toml:18:9: run.fault:"), "{check}");

    // An image the campaign names, not uploaded.
    let with_file = smoke.replace(
        "update = { version = \"2.0.0\", size_kib = 96, health = \"ok\" }",
        "update = { file = \"images/update.bin\", health = \"ok\" }",
    );
    let m = refused(
        json!({"campaign": "c/file.toml", "root": "c", "campaign_file": "file.toml",
                           "files": [{"path": "file.toml", "base64": b64(&with_file)}]}),
    );
    assert!(
        m.contains("(400): c/file.toml:14:19: images.update.file: no image file at \"c/images/update.bin\""),
        "{m}"
    );

    // A file named outside the upload (a good image, on the daemon's machine) is not read.
    let image = dir.path().join("update.bin");
    let (code, _, _) = cutpoint_in(
        dir.path(),
        &[
            "image",
            "build",
            "--version",
            "2.0.0",
            "--size-kib",
            "96",
            "-o",
            image.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0);
    let outside = smoke.replace(
        "update = { version = \"2.0.0\", size_kib = 96, health = \"ok\" }",
        &format!("update = {{ file = \"{}\", health = \"ok\" }}", image.display()),
    );
    let m = refused(json!({"campaign": "c/o.toml", "root": "c", "campaign_file": "o.toml",
                           "files": [{"path": "o.toml", "base64": b64(&outside)}]}));
    assert!(
        m.contains(&format!(
            "(400): c/o.toml: names `{}`, outside the uploaded files",
            image.display()
        )),
        "{m}"
    );

    // Paths outside the upload, bad base64, a campaign that is not among the files.
    let m =
        refused(json!({"campaign": "x", "campaign_file": "x.toml", "files": [{"path": "../x.toml", "base64": ""}]}));
    assert!(
        m.contains("(400): files[0].path `../x.toml`: expected a path inside the upload"),
        "{m}"
    );
    let m = refused(json!({"campaign": "x", "campaign_file": "x.toml", "files": [{"path": "x.toml", "base64": "%%"}]}));
    assert!(m.contains("(400): files[0].base64 (`x.toml`): not base64"), "{m}");
    let m = refused(json!({"campaign": "x", "campaign_file": "y.toml", "files": [{"path": "x.toml", "base64": ""}]}));
    assert!(
        m.contains("(400): campaign_file `y.toml` is not among the uploaded files"),
        "{m}"
    );
    let m = conn.post_bytes("/v1/runs", b"{\"campaign\": 1").err().unwrap().message;
    assert!(m.contains("(400): request body:1:"), "{m}");
    // A station or tag the lab does not have.
    let m = refused(json!({"campaign": "s", "campaign_file": "s.toml", "station": "nope",
                           "files": [{"path": "s.toml", "base64": b64(&smoke)}]}));
    assert!(
        m.contains("(400): station `nope`: no such station in this lab (it has: sim)"),
        "{m}"
    );
    // Oversized: refused with the limit, before it is read whole.
    let big = vec![b' '; 2 << 20];
    let m = conn.post_bytes("/v1/runs", &big).err().unwrap().message;
    assert!(
        m.contains("(413): the upload (2097152 bytes) is larger than this lab's limit of 1 MiB"),
        "{m}"
    );

    // Still serving: a good run goes through.
    let id = lab.submit("campaigns/smoke.toml", &[]);
    assert_eq!(lab.wait_run(id, Duration::from_secs(60))["exit_code"], 0);
    assert_eq!(id, 1, "no run was queued for a refused upload");
}

#[test]
fn a_run_killed_with_the_daemon_resumes_and_ends_every_cut_point_exactly_once() {
    let mut lab = Lab::start(ONE_WORKER);
    let id = lab.submit("campaigns/exhaustive.toml", &[]);
    lab.wait_for(id, "part-way", |r| r["passed"].as_i64().unwrap_or(0) >= 300);
    lab.kill9();
    let (before, planned, ends) = journal_counts(&lab.report_dir(id));
    assert!(ends.is_empty(), "killed, not ended: {ends:?}");
    assert!(before.len() < planned.len(), "the run finished before the kill");
    lab.spawn();
    let r = lab.wait_run(id, Duration::from_secs(120));
    assert_eq!(r["state"], "finished", "{r}");
    assert_eq!(r["exit_code"], 0, "{r}");
    assert_eq!(r["passed"].as_u64().unwrap() as usize, planned.len(), "{r}");
    assert_every_cut_exactly_once(&lab.report_dir(id));
    let ev = events(&lab.conn(), id, None, None);
    let kinds: Vec<&str> = ev.iter().map(|(_, k, _)| k.as_str()).collect();
    assert!(kinds.contains(&"requeued"), "{kinds:?}");
    assert!(ev.iter().any(|(_, k, v)| k == "started" && v["resumed"] == true));
    assert!(lab.report_dir(id).join("junit.xml").is_file());
}

#[test]
fn sigterm_mid_run_leaves_a_resumable_journal() {
    let mut lab = Lab::start(ONE_WORKER);
    let id = lab.submit("campaigns/exhaustive.toml", &[]);
    lab.wait_for(id, "part-way", |r| r["passed"].as_i64().unwrap_or(0) >= 300);
    let st = lab.sigterm();
    assert_eq!(st.code(), Some(0), "{}", lab.log());
    let (before, planned, ends) = journal_counts(&lab.report_dir(id));
    assert_eq!(ends, ["cancelled"], "the journal says it stopped early");
    assert!(before.len() < planned.len());
    assert!(before.values().all(|n| *n == 1));
    lab.spawn();
    assert_eq!(lab.wait_run(id, Duration::from_secs(120))["exit_code"], 0);
    assert_every_cut_exactly_once(&lab.report_dir(id));
}

#[test]
fn one_bench_serves_two_clients_one_after_the_other_by_priority() {
    let lab = Lab::start(ONE_WORKER);
    let root = cli::root();
    // Two `submit --wait` at once on one bench: both pass; never both running.
    let clients: Vec<_> = (0..2)
        .map(|_| {
            let (root, url) = (root.clone(), lab.url.clone());
            std::thread::spawn(move || {
                let out = tempfile::tempdir().unwrap();
                cutpoint_in(
                    &root,
                    &[
                        "submit",
                        "campaigns/smoke.toml",
                        "--server",
                        &url,
                        "--wait",
                        "--out",
                        out.path().to_str().unwrap(),
                    ],
                )
            })
        })
        .collect();
    for c in clients {
        let (code, _, stderr) = c.join().unwrap();
        assert_eq!(code, 0, "{stderr}");
    }
    let span = |id: i64| {
        let ev = events(&lab.conn(), id, None, None);
        let at = |k: &str| ev.iter().find(|(_, kind, _)| kind == k).map(|(s, _, _)| *s).unwrap();
        (at("started"), at("end"))
    };
    let (a, b) = (span(1), span(2));
    assert!(a.1 < b.0 || b.1 < a.0, "runs overlapped on one bench: {a:?} {b:?}");

    // Priorities: with the bench held, a nightly run then a manual one; the manual goes first.
    let lease = lab
        .conn()
        .post_json("/v1/leases", &json!({"station": "sim", "ttl_s": 60, "holder": "test"}))
        .unwrap();
    let nightly = lab.submit("campaigns/smoke.toml", &[("priority", "nightly")]);
    let manual = lab.submit("campaigns/smoke.toml", &[("priority", "manual")]);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(lab.run(nightly)["state"], "queued", "a leased bench takes no run");
    lab.conn()
        .delete(&format!("/v1/leases/{}", lease["id"].as_str().unwrap()))
        .unwrap();
    lab.wait_run(nightly, Duration::from_secs(60));
    lab.wait_run(manual, Duration::from_secs(60));
    assert!(
        span(manual).1 < span(nightly).0,
        "the manual run goes before the nightly one"
    );
}

#[test]
fn a_lease_expires_when_its_client_stops_renewing() {
    let lab = Lab::start(ONE_SIM);
    let conn = lab.conn();
    let lease = conn
        .post_json(
            "/v1/leases",
            &json!({"station": "sim", "ttl_s": 1.0, "holder": "alice"}),
        )
        .unwrap();
    let id = lease["id"].as_str().unwrap().to_string();
    let taken = conn.post_json("/v1/leases", &json!({"station": "sim", "ttl_s": 5}));
    assert!(taken
        .err()
        .unwrap()
        .message
        .contains("(409): station `sim` is held by alice"));
    let run = lab.submit("campaigns/smoke.toml", &[]);
    // Renewed, it holds past its TTL and the run waits.
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(2000) {
        conn.post_json(&format!("/v1/leases/{id}/renew"), &json!({})).unwrap();
        std::thread::sleep(Duration::from_millis(250));
    }
    assert_eq!(lab.run(run)["state"], "queued");
    let benches = conn.get_json("/v1/benches").unwrap();
    assert_eq!(benches[0]["state"], "leased");
    assert_eq!(benches[0]["lease"]["holder"], "alice");
    // Not renewed: it expires by itself and the run goes.
    assert_eq!(lab.wait_run(run, Duration::from_secs(30))["exit_code"], 0);
    let gone = conn.post_json(&format!("/v1/leases/{id}/renew"), &json!({}));
    assert!(gone.err().unwrap().message.contains("(410)"));

    // `cutpoint lease`: renews while it lives; killed, its lease expires.
    let mut client = Command::new(env!("CARGO_BIN_EXE_cutpoint"))
        .args(["lease", "sim", "--ttl", "1s", "--server", &lab.url, "--holder", "bob"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(client.stdout.take().unwrap()), &mut line).unwrap();
    assert!(line.starts_with("lease-"), "{line}");
    std::thread::sleep(Duration::from_millis(2500));
    let held = conn.get_json("/v1/benches").unwrap();
    assert_eq!(held[0]["lease"]["holder"], "bob", "renewed past its TTL");
    client.kill().unwrap();
    client.wait().unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    assert!(conn.get_json("/v1/benches").unwrap()[0]["lease"].is_null());
}

#[test]
fn an_event_stream_resumed_with_last_event_id_misses_nothing() {
    let lab = Lab::start(ONE_WORKER);
    let id = lab.submit("campaigns/exhaustive.toml", &[]);
    // Live: read part of the stream, drop it, reconnect after the last id seen.
    let first = events(&lab.conn(), id, None, Some(400));
    assert_eq!(first.len(), 400);
    let last = first.last().unwrap().0.to_string();
    let rest = events(&lab.conn(), id, Some(&last), None);
    let all = events(&lab.conn(), id, None, None);
    let joined: Vec<i64> = first.iter().chain(&rest).map(|e| e.0).collect();
    let whole: Vec<i64> = all.iter().map(|e| e.0).collect();
    assert_eq!(joined, whole);
    assert_eq!(all.last().unwrap().1, "end");
    let cuts = all.iter().filter(|e| e.1 == "cut").count();
    let r = lab.run(id);
    assert_eq!(cuts as i64, r["planned"].as_i64().unwrap());
    // After the end, from any point: exactly what follows.
    let mid = whole[whole.len() / 2];
    let tail: Vec<i64> = events(&lab.conn(), id, Some(&mid.to_string()), None)
        .iter()
        .map(|e| e.0)
        .collect();
    assert_eq!(tail, whole[whole.len() / 2 + 1..]);
}

#[test]
fn cancel_stops_a_running_run_as_incomplete() {
    let lab = Lab::start(ONE_WORKER);
    let id = lab.submit("campaigns/exhaustive.toml", &[]);
    lab.wait_for(id, "running", |r| r["passed"].as_i64().unwrap_or(0) >= 50);
    let (code, stdout, _) = cutpoint_in(&cli::root(), &["cancel", &id.to_string(), "--server", &lab.url]);
    assert_eq!(code, 0);
    assert!(stdout.contains("stops after the cut points in flight"), "{stdout}");
    let r = lab.wait_run(id, Duration::from_secs(30));
    assert_eq!(
        (r["state"].as_str(), r["exit_code"].as_i64()),
        (Some("cancelled"), Some(4)),
        "{r}"
    );
    assert!(
        !lab.report_dir(id).join("junit.xml").exists(),
        "no verdict from a part of the plan"
    );
}

#[test]
fn check_reads_a_lab_file_with_located_errors() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("lab.toml"), ONE_SIM).unwrap();
    let (code, stdout, _) = cutpoint_in(dir.path(), &["check", "lab.toml"]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains("station sim: simulated nrf52840 with 2 workers (tags: nrf52840)"),
        "{stdout}"
    );
    std::fs::write(
        dir.path().join("lab.toml"),
        "[[stations]]\nname = \"b\"\nstation = \"missing.toml\"\n",
    )
    .unwrap();
    let (code, _, stderr) = cutpoint_in(dir.path(), &["check", "lab.toml"]);
    assert_eq!(code, 2);
    assert!(
        stderr.starts_with("lab.toml:3:11: stations.b.station: no station file at \"missing.toml\""),
        "{stderr}"
    );
}

#[test]
fn rig_errors_make_a_bench_unknown_then_bad_and_drained_until_an_admin_resumes_it() {
    let lab = Lab::start(ONE_WORKER);
    // Runs 1 to 3 cannot write their report directory: the rig's failure, never the device's.
    let runs = lab.dir.path().join("cutpoint-lab/runs");
    std::fs::create_dir_all(&runs).unwrap();
    for id in 1..=3 {
        std::fs::write(runs.join(id.to_string()), "not a directory").unwrap();
    }
    let bench = || lab.conn().get_json("/v1/benches").unwrap()[0].clone();
    let first = lab.submit("campaigns/smoke.toml", &[]);
    let r = lab.wait_run(first, Duration::from_secs(30));
    assert_eq!(r["exit_code"], 3, "{r}");
    let b = bench();
    assert_eq!(
        (b["health"].as_str(), b["rig_failures"].as_i64()),
        (Some("unknown"), Some(1)),
        "{b}"
    );
    assert!(b["health_reason"].as_str().unwrap().starts_with("run 1: "), "{b}");
    for _ in 2..=3 {
        let id = lab.submit("campaigns/smoke.toml", &[]);
        assert_eq!(lab.wait_run(id, Duration::from_secs(30))["exit_code"], 3);
    }
    let b = bench();
    assert_eq!(b["health"], "bad", "{b}");
    assert_eq!(b["state"], "drained", "{b}");
    assert!(
        b["drain_reason"]
            .as_str()
            .unwrap()
            .starts_with("bad: 3 rig failures in a row; last: run 3: "),
        "{b}"
    );
    let (_, stdout, _) = cutpoint_in(&cli::root(), &["benches", "--server", &lab.url]);
    assert!(stdout.contains("; drained: bad: 3 rig failures in a row"), "{stdout}");
    // Out of service: a new run waits.
    let waiting = lab.submit("campaigns/smoke.toml", &[]);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(lab.run(waiting)["state"], "queued");
    // An admin resumes it: the doctor checks it, the run goes, and a clean run clears it.
    let (code, stdout, stderr) = cutpoint_in(&cli::root(), &["benches", "--server", &lab.url, "--resume", "sim"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(!stdout.contains("bad"), "{stdout}");
    assert_eq!(lab.wait_run(waiting, Duration::from_secs(30))["exit_code"], 0);
    let b = bench();
    assert_eq!(
        (b["health"].as_str(), b["rig_failures"].as_i64()),
        (Some("ok"), Some(0)),
        "{b}"
    );
    // A device failure is not the bench's: its health stays ok.
    let tmp = tempfile::tempdir().unwrap();
    let bug = std::fs::read_to_string(cli::root().join("campaigns/known-bugs/early-trailer-magic.toml"))
        .unwrap()
        .replace("expect = \"fail\"", "expect = \"pass\"");
    std::fs::write(tmp.path().join("bug.toml"), bug).unwrap();
    let (code, _, _) = cutpoint_in(tmp.path(), &["submit", "bug.toml", "--server", &lab.url, "--wait"]);
    assert_eq!(code, 1);
    assert_eq!(bench()["health"], "ok");
}

#[test]
fn systemd_hears_ready_the_watchdog_and_stopping() {
    use std::os::unix::net::UnixDatagram;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("lab.toml"), ONE_SIM).unwrap();
    let sock_path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    // As systemd starts it: WATCHDOG_PID is the daemon's own pid.
    let mut child = Command::new("sh")
        .args([
            "-c",
            "WATCHDOG_PID=$$ exec \"$0\" daemon --lab lab.toml --listen 127.0.0.1:0",
        ])
        .arg(env!("CARGO_BIN_EXE_cutpoint"))
        .current_dir(dir.path())
        .env("NOTIFY_SOCKET", &sock_path)
        .env("WATCHDOG_USEC", "200000")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut buf = [0u8; 512];
    let mut recv = || {
        let n = sock.recv(&mut buf).expect("a notification");
        String::from_utf8_lossy(&buf[..n]).trim_end().to_string()
    };
    let ready = recv();
    assert!(
        ready.contains("READY=1") && ready.contains("STATUS=listening on http://127.0.0.1:"),
        "{ready}"
    );
    assert!(
        dir.path().join("cutpoint-lab/cutpoint.db").is_file(),
        "ready after the database is open"
    );
    for _ in 0..3 {
        assert_eq!(recv(), "WATCHDOG=1");
    }
    // SAFETY: kill(2) on the child this test spawned.
    assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) }, 0);
    let mut last = String::new();
    while last != "STOPPING=1" {
        last = recv();
    }
    assert_eq!(child.wait().unwrap().code(), Some(0));
}

#[test]
fn ctrl_c_on_submit_wait_cancels_the_run_on_the_daemon() {
    signal_on_submit_wait_cancels_the_run_on_the_daemon(libc::SIGINT);
}

/// A CI job's cancel or timeout sends SIGTERM: the run must not keep the bench.
#[test]
fn sigterm_on_submit_wait_cancels_the_run_on_the_daemon() {
    signal_on_submit_wait_cancels_the_run_on_the_daemon(libc::SIGTERM);
}

fn signal_on_submit_wait_cancels_the_run_on_the_daemon(signal: libc::c_int) {
    let lab = Lab::start(ONE_WORKER);
    let out = tempfile::tempdir().unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_cutpoint"))
        .args([
            "submit",
            "campaigns/exhaustive.toml",
            "--server",
            &lab.url,
            "--wait",
            "--out",
        ])
        .arg(out.path())
        .current_dir(cli::root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    lab.wait_for(1, "part-way", |r| r["passed"].as_i64().unwrap_or(0) >= 100);
    // SAFETY: kill(2) on the child this test spawned.
    assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, signal) }, 0);
    let done = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&done.stderr);
    assert_eq!(done.status.code(), Some(4), "{stderr}");
    assert!(stderr.contains("cancelling run 1 on the daemon"), "{stderr}");
    let r = lab.wait_run(1, Duration::from_secs(30));
    assert_eq!(r["state"], "cancelled", "{r}");
    assert!(r["passed"].as_i64().unwrap() < r["planned"].as_i64().unwrap());
}

/// `cutpoint runs | head -1`: a reader that stops reading ends the listing, not in a panic.
#[test]
fn runs_into_a_closed_pipe_does_not_panic() {
    let lab = Lab::start(ONE_WORKER);
    let root = cli::root();
    let (code, _, stderr) = cutpoint_in(
        &root,
        &["submit", "campaigns/smoke.toml", "--server", &lab.url, "--wait"],
    );
    assert_eq!(code, 0, "{stderr}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_cutpoint"))
        .args(["runs", "--server", &lab.url])
        .current_dir(&root)
        .env_remove("CUTPOINT_SERVER")
        .env_remove("CUTPOINT_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let done = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&done.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(done.status.code(), Some(0), "{stderr}");
}

#[test]
fn a_run_goes_to_a_station_of_its_tag_and_of_its_board() {
    let lab = Lab::start(
        "[[stations]]\nname = \"nrf\"\nsim = \"nrf52840\"\ntags = [\"nrf52840\"]\n\n\
         [[stations]]\nname = \"stm\"\nsim = \"stm32l4\"\ntags = [\"stm32l4\"]\n",
    );
    let id = lab.submit("campaigns/smoke.toml", &[("tag", "nrf52840")]);
    let r = lab.wait_run(id, Duration::from_secs(60));
    assert_eq!(
        (r["assigned"].as_str(), r["exit_code"].as_i64()),
        (Some("nrf"), Some(0)),
        "{r}"
    );
    // Without a station or tag: the one station that fits.
    let id = lab.submit("campaigns/smoke.toml", &[]);
    assert_eq!(lab.wait_run(id, Duration::from_secs(60))["assigned"], "nrf");
    // A station or tag of another board: refused at submission, saying why.
    let sub = serde_json::to_value(build_submission(&cli::root().join("campaigns/smoke.toml")).unwrap()).unwrap();
    for (k, v) in [("station", "stm"), ("tag", "stm32l4")] {
        let mut s = sub.clone();
        s[k] = json!(v);
        let m = lab.conn().post_json("/v1/runs", &s).err().unwrap().message;
        assert!(
            m.contains("station `stm` simulates stm32l4; this campaign's board is nrf52840"),
            "{m}"
        );
    }
    // A partition: the run plans its part only.
    let whole = lab.run(1)["planned"].as_i64().unwrap();
    let id = lab.submit("campaigns/smoke.toml", &[("partition", "1/2")]);
    let r = lab.wait_run(id, Duration::from_secs(60));
    assert_eq!(r["exit_code"], 0, "{r}");
    let part = r["planned"].as_i64().unwrap();
    assert!(part > 0 && part < whole, "{part} of {whole}");
    let header: Value = serde_json::from_str(
        std::fs::read_to_string(lab.report_dir(id).join("results.jsonl"))
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["partition"], "1/2");
}

#[test]
fn a_second_daemon_on_the_same_data_directory_is_refused() {
    let lab = Lab::start(ONE_SIM);
    let (code, _, stderr) = cutpoint_in(
        lab.dir.path(),
        &["daemon", "--lab", "lab.toml", "--listen", "127.0.0.1:0"],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("another cutpoint daemon uses this data directory (process "),
        "{stderr}"
    );
    // The first one serves on.
    assert!(lab.conn().get_json("/v1/benches").is_ok());
}

#[test]
fn replay_through_the_daemon_reruns_one_cut_point_and_compares_it() {
    let lab = Lab::start(ONE_SIM);
    let tmp = tempfile::tempdir().unwrap();
    let bug = std::fs::read_to_string(cli::root().join("campaigns/known-bugs/early-trailer-magic.toml"))
        .unwrap()
        .replace("expect = \"fail\"", "expect = \"pass\"");
    std::fs::write(tmp.path().join("bug.toml"), bug).unwrap();
    let (code, _, _) = cutpoint_in(tmp.path(), &["submit", "bug.toml", "--server", &lab.url, "--wait"]);
    assert_eq!(code, 1);
    let ev = events(&lab.conn(), 1, None, None);
    let cut = |status: &str| {
        ev.iter()
            .find(|(_, k, v)| k == "cut" && v["status"] == status)
            .map(|(_, _, v)| v["id"].as_str().unwrap().to_string())
            .unwrap()
    };
    let (failing, passing) = (cut("fail"), cut("pass"));
    let (code, stdout, stderr) = cutpoint_in(tmp.path(), &["replay", "--server", &lab.url, "1", &failing]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stdout.starts_with(&format!("{}/v1/runs/2\n", lab.url)), "{stdout}");
    assert!(stdout.contains("post-cut flash: identical"), "{stdout}");
    assert!(stdout.contains("outcome: matches the recorded one (fail)"), "{stdout}");
    let r = lab.run(2);
    assert_eq!(
        (r["replay_of"].as_i64(), r["planned"].as_i64()),
        (Some(1), Some(1)),
        "{r}"
    );
    assert!(stdout.contains("verdict: fail\n"), "{stdout}");
    let (code, stdout, _) = cutpoint_in(tmp.path(), &["replay", "--server", &lab.url, "1", &passing]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("outcome: matches the recorded one (pass)"), "{stdout}");
    let (code, _, stderr) = cutpoint_in(tmp.path(), &["replay", "--server", &lab.url, "1", "swap/nowhere"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("(400): run 1 has no cut point `swap/nowhere`"),
        "{stderr}"
    );
}

/// `cutpoint submit CAMPAIGN --wait` on `lab`, its output piped, downloading into `out/`.
fn submit_waiting(lab: &Lab, campaign: &str) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_cutpoint"))
        .args(["submit", campaign, "--server", &lab.url, "--wait", "--out"])
        .arg(lab.dir.path().join("out"))
        .current_dir(cli::root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn submit_wait_follows_its_run_across_a_restart_of_the_daemon() {
    let mut lab = Lab::start(ONE_WORKER);
    // The same address after the restart, as under systemd.
    lab.listen = lab.url.trim_start_matches("http://").to_string();
    let child = submit_waiting(&lab, "campaigns/exhaustive.toml");
    lab.wait_for(1, "part-way", |r| r["passed"].as_i64().unwrap_or(0) >= 300);
    lab.kill9();
    std::thread::sleep(Duration::from_millis(300));
    lab.spawn();
    let done = child.wait_with_output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&done.stdout),
        String::from_utf8_lossy(&done.stderr),
    );
    assert_eq!(done.status.code(), Some(0), "{stderr}\n{}\n{}", lab.url, lab.log());
    assert!(
        stderr.contains("the daemon restarted; the run resumes from its journal"),
        "{stderr}"
    );
    let (_, planned, _) = journal_counts(&lab.report_dir(1));
    assert!(
        stdout.contains(&format!("{} passed, 0 failed", planned.len())),
        "{stdout}"
    );
    assert_every_cut_exactly_once(&lab.dir.path().join("out"));
}

/// A cancel answered "stops after the cut points in flight", then the daemon stopped at once
/// (SIGTERM): the run ends `cancelled` (exit 4, with its `end` event) and does not resume.
#[test]
fn a_cancel_holds_when_the_daemon_stops_right_after_it() {
    let mut lab = Lab::start(ONE_WORKER);
    let id = lab.submit("campaigns/exhaustive.toml", &[]);
    lab.wait_for(id, "part-way", |r| r["passed"].as_i64().unwrap_or(0) >= 100);
    let v = lab
        .conn()
        .post_json(&format!("/v1/runs/{id}/cancel"), &json!({}))
        .unwrap_or_else(|f| panic!("{}", f.message));
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("stops after the cut points in flight"),
        "{v}"
    );
    assert_eq!(lab.sigterm().code(), Some(0), "{}", lab.log());
    lab.spawn();
    let r = lab.wait_run(id, Duration::from_secs(60));
    assert_eq!(
        (r["state"].as_str(), r["exit_code"].as_i64()),
        (Some("cancelled"), Some(4)),
        "{r}\n{}",
        lab.log()
    );
    assert!(r["passed"].as_i64().unwrap() < r["planned"].as_i64().unwrap(), "{r}");
    let ev = events(&lab.conn(), id, None, None);
    let (_, kind, end) = ev.last().unwrap();
    assert_eq!(kind, "end");
    assert_eq!(
        (end["state"].as_str(), end["exit_code"].as_i64()),
        (Some("cancelled"), Some(4)),
        "{end}"
    );
    assert!(
        !ev.iter().any(|(_, k, _)| k == "requeued"),
        "a cancelled run is not requeued"
    );
    assert!(
        !lab.report_dir(id).join("junit.xml").exists(),
        "no verdict from a part of the plan"
    );
}

/// The daemon killed (-9) after a cancel was recorded but before its run stopped: at the next
/// start the run ends `cancelled` (exit 4) with its `end` event, and a client waiting on it
/// across the restart exits 4, not 0.
#[test]
fn a_run_cancelled_before_a_kill_ends_cancelled_at_the_next_start() {
    let mut lab = Lab::start(ONE_WORKER);
    lab.listen = lab.url.trim_start_matches("http://").to_string();
    let child = submit_waiting(&lab, "campaigns/exhaustive.toml");
    lab.wait_for(1, "part-way", |r| r["passed"].as_i64().unwrap_or(0) >= 100);
    lab.kill9();
    // The cancel as the API records it, the instant before the kill stopped the run.
    let db = cutpoint_daemon::db::Db::open(&lab.dir.path().join("cutpoint-lab")).unwrap();
    db.request_cancel(1, Some("ci")).unwrap();
    drop(db);
    std::thread::sleep(Duration::from_millis(300));
    lab.spawn();
    let done = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&done.stderr);
    assert_eq!(done.status.code(), Some(4), "{stderr}\n{}", lab.log());
    assert!(stderr.contains("run cancelled"), "{stderr}");
    assert!(stderr.contains("the daemon stopped before the run did"), "{stderr}");
    let r = lab.run(1);
    assert_eq!(
        (r["state"].as_str(), r["exit_code"].as_i64()),
        (Some("cancelled"), Some(4)),
        "{r}"
    );
    let ev = events(&lab.conn(), 1, None, None);
    assert_eq!(ev.iter().filter(|(_, k, _)| k == "end").count(), 1);
    assert!(
        !ev.iter().any(|(_, k, v)| k == "started" && v["resumed"] == true),
        "it did not resume"
    );
}

/// A negative control through the daemon: `submit --wait`, `runs` and `replay --server` say
/// its failures are expected; its run and the replay of a failing cut exit 0, as its report does.
#[test]
fn a_negative_controls_failures_read_as_expected_through_the_daemon() {
    let lab = Lab::start(ONE_SIM);
    let tmp = tempfile::tempdir().unwrap();
    let root = cli::root();
    let (code, stdout, stderr) = cutpoint_in(
        &root,
        &[
            "submit",
            "campaigns/known-bugs/early-trailer-magic.toml",
            "--server",
            &lab.url,
            "--wait",
            "--out",
        ]
        .into_iter()
        .chain([tmp.path().join("out").to_str().unwrap()])
        .collect::<Vec<_>>(),
    );
    assert_eq!(code, 0, "{stderr}");
    let r = lab.run(1);
    let failed = r["failed"].as_i64().unwrap();
    assert!(failed > 0, "{r}");
    assert_eq!(
        (r["negative"].as_bool(), r["expected"].as_bool()),
        (Some(true), Some(true)),
        "{r}"
    );
    assert!(
        stderr.contains(&format!(
            "{failed} failed, as expected (negative control), 0 rig errors"
        )),
        "{stderr}"
    );
    assert!(
        stdout.contains(&format!("{failed} failed, as expected (negative control)\n")),
        "{stdout}"
    );
    let ev = events(&lab.conn(), 1, None, None);
    let (_, _, end) = ev.last().unwrap();
    assert_eq!(
        (end["expected"].as_bool(), end["negative"].as_bool()),
        (Some(true), Some(true)),
        "{end}"
    );
    let (code, stdout, _) = cutpoint_in(&root, &["runs", "--server", &lab.url]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains(&format!("fail {failed} (expected: negative control) err 0  exit 0")),
        "{stdout}"
    );
    let failing = ev
        .iter()
        .find(|(_, k, v)| k == "cut" && v["status"] == "fail")
        .map(|(_, _, v)| v["id"].as_str().unwrap().to_string())
        .unwrap();
    let (code, stdout, stderr) = cutpoint_in(&root, &["replay", "--server", &lab.url, "1", &failing]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("outcome: matches the recorded one (fail)"), "{stdout}");
    assert!(
        stdout.contains("verdict: fail (expected: this campaign is a negative control)\n"),
        "{stdout}"
    );
}
