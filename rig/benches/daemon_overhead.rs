//! What the lab daemon costs on top of the engine:
//!
//! 1. its overhead per cut point: the same campaign run by a local `cutpoint run` process and
//!    through a `cutpoint daemon` on a simulated station with as many workers (submitted over
//!    loopback, timed from the submission to the run's `end` event on its stream), each three
//!    times, medians compared (target: under 5 %);
//! 2. its resident memory: idle after its start, and its peak (the kernel's high-water mark)
//!    over a campaign of 100,000 cut points (the scale campaign with 5,000 random instants x 20
//!    repetitions).
//!
//! Figures are printed, never asserted. `cargo bench -p cutpoint --bench daemon_overhead` runs
//! it on `campaigns/exhaustive.toml`; `-- ../campaigns/OTHER.toml` (paths from `rig/`) times
//! another simulated campaign of the nRF52840 instead; `CUTPOINT_BENCH_SKIP_100K=1` leaves the
//! 100,000-cut campaign out.

use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cutpoint_daemon::client::{build_submission, read_sse, Conn};

const REPEATS: usize = 3;

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let campaign = std::env::args()
        .skip(1)
        .find(|a| a.ends_with(".toml"))
        .map_or_else(|| root.join("campaigns/exhaustive.toml"), PathBuf::from);
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_cutpoint"));
    println!(
        "cutpoint daemon overhead on {workers} cores, {} ({} x each way; figures, not assertions)",
        campaign.display(),
        REPEATS
    );
    let tmp = tempfile::tempdir().expect("a temporary folder");

    // The daemon first, so its idle memory is measured before any run.
    let lab = tmp.path().join("lab");
    std::fs::create_dir_all(&lab).expect("the lab folder");
    std::fs::write(
        lab.join("lab.toml"),
        format!("[[stations]]\nname = \"sim\"\nsim = \"nrf52840\"\nworkers = {workers}\n"),
    )
    .expect("the lab file");
    let mut daemon = Daemon::start(&bin, &lab);
    std::thread::sleep(Duration::from_secs(1));
    let idle = rss_kib(daemon.child.id(), "VmRSS:");
    println!("daemon idle: RSS {:.1} MiB", idle as f64 / 1024.0);

    let mut local = Vec::new();
    let mut served = Vec::new();
    let mut cuts = 0i64;
    for i in 0..REPEATS {
        // Alternated, so a change in the machine's load falls on both sides.
        let out = tmp.path().join(format!("local-{i}"));
        let t = Instant::now();
        let st = Command::new(&bin)
            .arg("run")
            .arg(&campaign)
            .arg("--out")
            .arg(&out)
            .arg("--workers")
            .arg(workers.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("cutpoint run");
        local.push(t.elapsed());
        assert!(st.success(), "cutpoint run {}: {st}", campaign.display());
        let _ = std::fs::remove_dir_all(&out);

        let t = Instant::now();
        let (id, planned) = daemon.run_to_end(&campaign);
        served.push(t.elapsed());
        cuts = planned;
        println!(
            "  round {}: local {:.3} s, daemon {:.3} s (run {id}, {planned} cut points)",
            i + 1,
            local[i].as_secs_f64(),
            served[i].as_secs_f64()
        );
    }
    let (l, s) = (median(&mut local), median(&mut served));
    let per_cut_us = (s.as_secs_f64() - l.as_secs_f64()) * 1e6 / cuts.max(1) as f64;
    println!(
        "overhead: median local {:.3} s, daemon {:.3} s for {cuts} cut points: {:+.1} us per cut ({:+.2} %; target under 5 %)",
        l.as_secs_f64(),
        s.as_secs_f64(),
        per_cut_us,
        (s.as_secs_f64() / l.as_secs_f64() - 1.0) * 100.0
    );
    println!(
        "daemon after {REPEATS} runs: RSS {:.1} MiB",
        rss_kib(daemon.child.id(), "VmRSS:") as f64 / 1024.0
    );

    if std::env::var("CUTPOINT_BENCH_SKIP_100K").as_deref() == Ok("1") {
        return;
    }
    // 100,000 cut points: the scale campaign at half its instants, in a fresh daemon so its
    // high-water mark is this campaign's.
    drop(daemon);
    let big = tmp.path().join("scale-100k.toml");
    let text = std::fs::read_to_string(root.join("campaigns/scale.toml")).expect("campaigns/scale.toml");
    std::fs::write(
        &big,
        text.replace("name = \"scale\"", "name = \"scale-100k\"")
            .replace("offsets = { random = 10000 }", "offsets = { random = 5000 }"),
    )
    .expect("the 100k campaign");
    let _ = std::fs::remove_dir_all(lab.join("cutpoint-lab"));
    let mut daemon = Daemon::start(&bin, &lab);
    std::thread::sleep(Duration::from_secs(1));
    let idle = rss_kib(daemon.child.id(), "VmRSS:");
    let pid = daemon.child.id();
    let t = Instant::now();
    let sampler = std::thread::spawn(move || {
        let mut most = 0;
        while !STOP.load(std::sync::atomic::Ordering::SeqCst) {
            most = most.max(rss_kib(pid, "VmRSS:"));
            std::thread::sleep(Duration::from_millis(100));
        }
        most
    });
    let (id, planned) = daemon.run_to_end(&big);
    let took = t.elapsed();
    let peak = rss_kib(pid, "VmHWM:");
    let after = rss_kib(pid, "VmRSS:");
    STOP.store(true, std::sync::atomic::Ordering::SeqCst);
    let sampled = sampler.join().unwrap_or(0);
    println!(
        "100,000-cut campaign (run {id}, {planned} cut points, {:.1} s): daemon RSS idle {:.1} MiB, peak {:.1} MiB \
         (high-water mark; {:.1} MiB sampled every 100 ms), {:.1} MiB after",
        took.as_secs_f64(),
        idle as f64 / 1024.0,
        peak as f64 / 1024.0,
        sampled as f64 / 1024.0,
        after as f64 / 1024.0
    );
}

static STOP: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// A field of `/proc/PID/status` in KiB (0 when the process is gone).
fn rss_kib(pid: u32, field: &str) -> u64 {
    let Ok(f) = std::fs::File::open(format!("/proc/{pid}/status")) else {
        return 0;
    };
    std::io::BufReader::new(f)
        .lines()
        .map_while(Result::ok)
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

struct Daemon {
    child: Child,
    conn: Conn,
}

impl Daemon {
    fn start(bin: &Path, lab: &Path) -> Daemon {
        let _ = std::fs::remove_file(lab.join("addr"));
        let child = Command::new(bin)
            .args([
                "daemon",
                "--lab",
                "lab.toml",
                "--listen",
                "127.0.0.1:0",
                "--addr-file",
                "addr",
            ])
            .current_dir(lab)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cutpoint daemon");
        // Killed and reaped on drop, whatever happens next.
        let mut d = Daemon {
            child,
            conn: Conn::new(Some("http://127.0.0.1:0".into()), None),
        };
        let start = Instant::now();
        loop {
            if let Ok(u) = std::fs::read_to_string(lab.join("addr")) {
                if u.ends_with('\n') {
                    d.conn = Conn::new(Some(u.trim().to_string()), None);
                    return d;
                }
            }
            assert!(start.elapsed() < Duration::from_secs(30), "the daemon did not start");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Submits `campaign` and follows its event stream to its end: the run's id and planned
    /// cut points.
    fn run_to_end(&mut self, campaign: &Path) -> (i64, i64) {
        let sub = build_submission(campaign).unwrap_or_else(|code| panic!("{}: exit {code}", campaign.display()));
        let body = serde_json::to_value(sub).expect("the submission");
        let r = self
            .conn
            .post_json("/v1/runs", &body)
            .unwrap_or_else(|f| panic!("{}", f.message));
        let id = r["id"].as_i64().expect("a run id");
        let stream = self
            .conn
            .event_stream(id, None)
            .unwrap_or_else(|f| panic!("{}", f.message));
        let mut end = serde_json::Value::Null;
        read_sse(stream, |e| {
            let Some(e) = e else { return true };
            if e.event == "end" {
                end = serde_json::from_str(&e.data).unwrap_or_default();
                return false;
            }
            true
        })
        .expect("the event stream");
        assert_eq!(end["exit_code"], 0, "run {id}: {end}");
        (id, end["planned"].as_i64().unwrap_or(0))
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
