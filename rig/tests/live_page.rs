#![cfg(target_os = "linux")]
//! The daemon's live page, `GET /`, for real: the built `cutpoint` binary serving a simulated
//! station on loopback; the page over plain HTTP (tokens, cookie, the cut links) and in a
//! headless Chromium driven through its DevTools protocol (the script's live update).

#[path = "support/cli.rs"]
mod cli;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cutpoint_daemon::client::{build_submission, Conn};
use serde_json::{json, Value};

const ONE_WORKER: &str = "[[stations]]\nname = \"sim\"\nsim = \"nrf52840\"\nworkers = 1\n";

/// A daemon process on a lab file in its own folder.
struct Daemon {
    dir: tempfile::TempDir,
    child: Child,
    url: String,
}

impl Daemon {
    fn start(lab_toml: &str, files: &[(&str, &str)]) -> Daemon {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("lab.toml"), lab_toml).unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        let log = std::fs::File::create(dir.path().join("daemon.log")).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_cutpoint"))
            .args([
                "daemon",
                "--lab",
                "lab.toml",
                "--listen",
                "127.0.0.1:0",
                "--addr-file",
                "addr",
            ])
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let start = Instant::now();
        let url = loop {
            if let Ok(u) = std::fs::read_to_string(dir.path().join("addr")) {
                if u.ends_with('\n') {
                    break u.trim().to_string();
                }
            }
            if let Ok(Some(st)) = child.try_wait() {
                panic!(
                    "the daemon exited ({st}):\n{}",
                    std::fs::read_to_string(dir.path().join("daemon.log")).unwrap_or_default()
                );
            }
            assert!(start.elapsed() < Duration::from_secs(30), "the daemon did not start");
            std::thread::sleep(Duration::from_millis(20));
        };
        Daemon { dir, child, url }
    }

    fn conn(&self, token: Option<&str>) -> Conn {
        Conn::new(Some(self.url.clone()), token.map(str::to_string))
    }

    fn submit(&self, token: Option<&str>, campaign: &str) -> i64 {
        let sub = serde_json::to_value(build_submission(&cli::root().join(campaign)).unwrap()).unwrap();
        let r = self
            .conn(token)
            .post_json("/v1/runs", &sub)
            .unwrap_or_else(|f| panic!("{}", f.message));
        r["id"].as_i64().unwrap()
    }

    fn run(&self, token: Option<&str>, id: i64) -> Value {
        self.conn(token)
            .get_json(&format!("/v1/runs/{id}"))
            .unwrap_or_else(|f| panic!("{}", f.message))
    }

    fn wait_for(&self, token: Option<&str>, id: i64, what: &str, f: impl Fn(&Value) -> bool) -> Value {
        let start = Instant::now();
        loop {
            let r = self.run(token, id);
            if f(&r) {
                return r;
            }
            assert!(start.elapsed() < Duration::from_secs(60), "run {id}: never {what}: {r}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn addr(&self) -> String {
        self.url.trim_start_matches("http://").to_string()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One plain HTTP/1.1 request: status, headers (lowercase names) and body.
fn http(addr: &str, method: &str, path: &str, headers: &[(&str, &str)]) -> (u16, Vec<(String, String)>, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: 0\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    // Chunked bodies keep their chunk sizes: the tests only look for text in them.
    (status, headers, body.to_string())
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

const TOKENS: &str = "[[tokens]]\nname = \"wall\"\nscope = \"read\"\nsha256 = \"HASH_R\"\n\n\
                      [[tokens]]\nname = \"ci\"\nscope = \"submit\"\nsha256 = \"HASH_S\"\n";

fn sha256_hex(s: &str) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(s.as_bytes()))
}

#[test]
fn the_page_needs_a_read_token_kept_in_a_cookie_that_reads_only() {
    let tokens = TOKENS
        .replace("HASH_R", &sha256_hex("read-secret"))
        .replace("HASH_S", &sha256_hex("submit-secret"));
    let lab = format!("tokens = \"tokens.toml\"\n{ONE_WORKER}");
    let d = Daemon::start(&lab, &[("tokens.toml", &tokens)]);
    let addr = d.addr();
    // No token: a page that says how to give one.
    let (status, _, body) = http(&addr, "GET", "/", &[]);
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("/?token=TOKEN"), "{body}");
    // A wrong one.
    let (status, headers, _) = http(&addr, "GET", "/?token=nope", &[]);
    assert_eq!(status, 401);
    assert!(header(&headers, "set-cookie").is_none());
    // The read token once: a cookie, and on to `/` without it in the address.
    let (status, headers, _) = http(&addr, "GET", "/?token=read-secret", &[]);
    assert_eq!(status, 303);
    assert_eq!(header(&headers, "location"), Some("/"));
    let cookie = header(&headers, "set-cookie").unwrap().to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let pair = cookie.split(';').next().unwrap().to_string();
    let (status, _, body) = http(&addr, "GET", "/", &[("Cookie", &pair)]);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("<tr id=\"bench-sim\">"), "{body}");
    assert!(!body.contains("read-secret"), "the token leaks into the page");
    // The page's links and streams read with the cookie...
    let id = d.submit(Some("submit-secret"), "campaigns/smoke.toml");
    d.wait_for(Some("submit-secret"), id, "finished", |r| r["state"] == "finished");
    let (status, _, body) = http(&addr, "GET", "/", &[("Cookie", &pair)]);
    assert_eq!(status, 200);
    assert!(
        body.contains(&format!("href=\"/v1/runs/{id}/reports/report.html\"")),
        "{body}"
    );
    assert!(!body.contains("read-secret"));
    let (status, _, _) = http(
        &addr,
        "GET",
        &format!("/v1/runs/{id}/reports/junit.xml"),
        &[("Cookie", &pair)],
    );
    assert_eq!(status, 200);
    // ...but a cookie never submits, cancels or drains, even a submit token's.
    let (_, headers, _) = http(&addr, "GET", "/?token=submit-secret", &[]);
    let submit_pair = header(&headers, "set-cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let (status, _, body) = http(
        &addr,
        "POST",
        &format!("/v1/runs/{id}/cancel"),
        &[("Cookie", &submit_pair)],
    );
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("cookie allows reading only"), "{body}");
}

#[test]
fn a_failing_cut_on_the_page_links_its_log_its_decoded_flash_and_its_replay() {
    let d = Daemon::start(ONE_WORKER, &[]);
    // A known bug run as if it should pass: its failures are the device's, unexpected.
    let bug = std::fs::read_to_string(cli::root().join("campaigns/known-bugs/early-trailer-magic.toml"))
        .unwrap()
        .replace("expect = \"fail\"", "expect = \"pass\"");
    let path = cli::root().join("campaigns/known-bugs/early-trailer-magic.toml");
    let mut sub = serde_json::to_value(build_submission(&path).unwrap()).unwrap();
    let files = sub["files"].as_array_mut().unwrap();
    let campaign = files
        .iter_mut()
        .find(|f| {
            f["path"]
                .as_str()
                .is_some_and(|p| p.ends_with("early-trailer-magic.toml"))
        })
        .unwrap();
    campaign["base64"] = json!(base64_encode(bug.as_bytes()));
    let r = d
        .conn(None)
        .post_json("/v1/runs", &sub)
        .unwrap_or_else(|f| panic!("{}", f.message));
    let id = r["id"].as_i64().unwrap();
    // While it runs, the page lists its failing cuts (or it ended already: then its report).
    let seen = loop {
        let (_, _, body) = http(&d.addr(), "GET", "/", &[]);
        if let Some(at) = body.find("<table class=\"failing\">") {
            break body[at..].to_string();
        }
        let r = d.run(None, id);
        assert!(
            r["state"] == "running" || r["state"] == "queued",
            "the run ended before the page showed a failing cut: {r}"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let row = seen.lines().nth(1).unwrap();
    let href = |label: &str| {
        let end = row.find(&format!("\">{label}</a>")).unwrap();
        let start = row[..end].rfind("href=\"").unwrap() + 6;
        row[start..end].to_string()
    };
    let (log, flash) = (href("log"), href("decoded flash"));
    assert!(log.starts_with(&format!("/v1/runs/{id}/cut/console.log?id=")), "{row}");
    let replay = format!("cutpoint replay --server {} {id} ", d.url);
    assert!(row.contains(&replay), "{row}");
    let (status, _, body) = http(&d.addr(), "GET", &log, &[]);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains('['), "a console: {body}");
    let (status, _, body) = http(&d.addr(), "GET", &flash, &[]);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"slots\""), "{body}");
    assert!(body.contains("\"status\": \"fail\""), "{body}");
    let (status, _, body) = http(
        &d.addr(),
        "GET",
        &format!("/v1/runs/{id}/cut/state.json?id=no%2Fsuch"),
        &[],
    );
    assert_eq!(status, 404, "{body}");
}

fn base64_encode(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// Chromium from the distribution's packages, or `CUTPOINT_CHROMIUM`.
fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CUTPOINT_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |d| d.join(name)))
        .find(|p| p.is_file())
}

/// A headless Chromium and one DevTools session on one page.
struct Browser {
    child: Child,
    _profile: tempfile::TempDir,
    ws: tungstenite::WebSocket<TcpStream>,
    session: String,
    next: u64,
}

impl Browser {
    fn open(exe: &PathBuf) -> Browser {
        let profile = tempfile::tempdir().unwrap();
        let child = Command::new(exe)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--remote-debugging-port=0",
                "about:blank",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Chromium writes the port it took, and the browser's endpoint, to this file.
        let active = profile.path().join("DevToolsActivePort");
        let start = Instant::now();
        let (port, path) = loop {
            if let Ok(t) = std::fs::read_to_string(&active) {
                let mut l = t.lines();
                if let (Some(p), Some(path)) = (l.next(), l.next()) {
                    break (p.trim().to_string(), path.trim().to_string());
                }
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "Chromium did not open its DevTools port"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        let stream = TcpStream::connect(format!("127.0.0.1:{port}")).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let (ws, _) = tungstenite::client(format!("ws://127.0.0.1:{port}{path}"), stream).unwrap();
        let mut b = Browser {
            child,
            _profile: profile,
            ws,
            session: String::new(),
            next: 0,
        };
        let target = b.call("Target.createTarget", json!({"url": "about:blank"}));
        let target_id = target["targetId"].as_str().unwrap().to_string();
        let attached = b.call("Target.attachToTarget", json!({"targetId": target_id, "flatten": true}));
        b.session = attached["sessionId"].as_str().unwrap().to_string();
        b
    }

    /// Loads `url` in the page, once.
    fn load(&mut self, url: &str) {
        self.call("Page.navigate", json!({"url": url}));
        let start = Instant::now();
        let loaded = format!("location.href == {} && document.readyState == 'complete'", json!(url));
        while self.eval(&loaded) != true {
            assert!(start.elapsed() < Duration::from_secs(10), "the page did not load");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// One DevTools command; its result (the events in between are skipped).
    fn call(&mut self, method: &str, params: Value) -> Value {
        self.next += 1;
        let id = self.next;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if !self.session.is_empty() {
            msg["sessionId"] = json!(self.session);
        }
        self.ws.send(tungstenite::Message::text(msg.to_string())).unwrap();
        loop {
            let m = self.ws.read().unwrap_or_else(|e| panic!("{method}: {e}"));
            let Ok(text) = m.to_text() else { continue };
            let v: Value = serde_json::from_str(text).unwrap_or(Value::Null);
            if v["id"] == id {
                assert!(v.get("error").is_none(), "{method}: {v}");
                return v["result"].clone();
            }
        }
    }

    /// The value of a JavaScript expression in the page.
    fn eval(&mut self, expr: &str) -> Value {
        let r = self.call("Runtime.evaluate", json!({"expression": expr, "returnByValue": true}));
        assert!(r.get("exceptionDetails").is_none(), "{expr}: {r}");
        r["result"]["value"].clone()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_live_page_in_a_headless_browser_fills_its_matrix_as_cuts_finish() {
    let Some(exe) = chromium() else {
        if std::env::var("CUTPOINT_SKIP_BROWSER").as_deref() == Ok("1") {
            eprintln!("skipped: no Chromium (CUTPOINT_SKIP_BROWSER=1)");
            return;
        }
        panic!(
            "this test drives a headless Chromium and found none: install it (`apt-get install -y chromium`; \
             .ci/run does), point CUTPOINT_CHROMIUM at one, or set CUTPOINT_SKIP_BROWSER=1 to skip it"
        );
    };
    let started = Instant::now();
    let d = Daemon::start(ONE_WORKER, &[]);
    // The browser first (its start is the slow part), then the run, then the page.
    let mut b = Browser::open(&exe);
    let id = d.submit(None, "campaigns/exhaustive.toml");
    d.wait_for(None, id, "part-way", |r| r["passed"].as_i64().unwrap_or(0) >= 20);
    b.load(&format!("{}/", d.url));
    // A mark on this page: a reload would lose it.
    b.eval("window.cutpointTestMark = 'one load'; 1");
    assert_eq!(b.eval("document.querySelector('#bench-sim td b').textContent"), "sim");
    let run = format!("#run-{id}");
    assert_eq!(
        b.eval(&format!("document.querySelector('{run} h3').textContent"))
            .as_str()
            .map(|t| t.starts_with(&format!("run {id}: exhaustive"))),
        Some(true)
    );
    let cells =
        format!("Array.from(document.querySelectorAll('{run} table.matrix td')).map(t => t.dataset.n).join(' ')");
    let cell_count = b.eval(&format!("document.querySelectorAll('{run} table.matrix td').length"));
    let n = cell_count.as_u64().unwrap();
    assert!(n > 0 && n <= 24 * 16, "{n} cells");
    let done = format!("Number(document.querySelector('{run} .done').textContent)");
    let (first_cells, first_done) = (b.eval(&cells), b.eval(&done).as_u64().unwrap());
    assert!(first_done >= 20, "{first_done}");
    // The script moves the matrix on as cuts finish.
    let start = Instant::now();
    loop {
        let (now_cells, now_done) = (b.eval(&cells), b.eval(&done).as_u64().unwrap());
        if now_cells != first_cells && now_done > first_done + 50 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the matrix did not change: {first_done} then {now_done} cut points shown"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(b.eval("window.cutpointTestMark"), "one load", "the page was reloaded");
    // What the page counts agrees with the daemon: the cells add up to the run's tally, and
    // the page never shows more than ran.
    // Both read in one evaluation: the page's script runs between two evaluations, not
    // inside one, so the count and the cells are of the same moment.
    let both = b.eval(&format!(
        "[{done}, Array.from(document.querySelectorAll('{run} table.matrix td')).reduce((a, t) => a + t.dataset.n.split(',').map(Number).reduce((x, y) => x + y, 0), 0)]"
    ));
    let shown = both[0].as_u64().unwrap();
    assert_eq!(both[1].as_u64(), Some(shown));
    let r = d.run(None, id);
    let ran = r["passed"].as_u64().unwrap() + r["failed"].as_u64().unwrap() + r["errors"].as_u64().unwrap();
    assert!(shown <= ran, "the page shows {shown}; the daemon ran {ran}");
    let _ = d.conn(None).post_json(&format!("/v1/runs/{id}/cancel"), &json!({}));
    drop(b);
    eprintln!("browser test: {:.1} s", started.elapsed().as_secs_f64());
    let _ = &d.dir;
}
