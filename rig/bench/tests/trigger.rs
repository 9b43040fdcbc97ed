//! The cut trigger with a scripted console and a recording switch.

use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cutpoint_bench::config::HttpTransportConfig;
use cutpoint_bench::transport::http::HttpTransport;
use cutpoint_bench::trigger::{CutCondition, Trigger, TriggerOutcome, TriggerPlan};
use cutpoint_bench::{
    BenchClock, Console, ConsoleLine, DeliveryCounter, OtaTransport, PowerSwitch, RigResult, SharedSwitch,
};
use regex::Regex;

/// Lines pushed by the test, stamped when pushed.
struct ScriptConsole(Receiver<ConsoleLine>);

impl Console for ScriptConsole {
    fn describe(&self) -> String {
        "script".into()
    }
    fn read_line(&mut self, timeout: Duration) -> RigResult<Option<ConsoleLine>> {
        Ok(self.0.recv_timeout(timeout).ok())
    }
}

/// Records every call with its time on the bench clock.
struct Recorder {
    clock: BenchClock,
    calls: Arc<Mutex<Vec<(bool, u64)>>>,
}

impl PowerSwitch for Recorder {
    fn describe(&self) -> String {
        "recorder".into()
    }
    fn set_power(&mut self, on: bool) -> RigResult<()> {
        self.calls.lock().unwrap().push((on, self.clock.now_us()));
        Ok(())
    }
}

struct Rig {
    clock: BenchClock,
    feed: Sender<ConsoleLine>,
    calls: Arc<Mutex<Vec<(bool, u64)>>>,
    trigger: Trigger,
}

fn rig() -> Rig {
    let clock = BenchClock::new();
    let (feed, rx) = mpsc::channel();
    let calls = Arc::new(Mutex::new(Vec::new()));
    let switch = SharedSwitch::new(Box::new(Recorder {
        clock,
        calls: calls.clone(),
    }));
    let trigger = Trigger::spawn(Box::new(ScriptConsole(rx)), switch, clock).unwrap();
    Rig {
        clock,
        feed,
        calls,
        trigger,
    }
}

impl Rig {
    fn say(&self, text: &str) {
        self.feed
            .send(ConsoleLine {
                t_us: self.clock.now_us(),
                text: text.into(),
            })
            .unwrap();
    }
    fn outcome(&self) -> TriggerOutcome {
        self.trigger
            .wait(Duration::from_secs(3))
            .unwrap()
            .expect("an outcome within 3 s")
    }
}

#[test]
fn marker_plus_delay_cuts_on_time_and_passes_every_line_on() {
    let mut r = rig();
    r.trigger
        .arm(TriggerPlan {
            condition: CutCondition::ConsoleMarker {
                pattern: Regex::new(r"Erasing slot \d").unwrap(),
                delay: Duration::from_millis(20),
            },
            timeout: Duration::from_secs(5),
            restore_after: None,
        })
        .unwrap();
    r.say("booting");
    r.say("Erasing slot x");
    std::thread::sleep(Duration::from_millis(30));
    assert!(r.calls.lock().unwrap().is_empty(), "no match yet");
    r.say("I: Erasing slot 1 (0x70000 bytes)");
    r.say("after the marker");
    let TriggerOutcome::Cut(rec) = r.outcome() else {
        panic!("expected a cut")
    };
    assert_eq!(rec.line.as_deref(), Some("I: Erasing slot 1 (0x70000 bytes)"));
    assert_eq!(rec.requested_us, rec.event_us + 20_000);
    assert!(rec.actual_us >= rec.requested_us, "never early: {rec:?}");
    let calls = r.calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 1);
    assert!(!calls[0].0);
    assert!(calls[0].1 >= rec.issued_us && calls[0].1 <= rec.actual_us);
    let texts: Vec<String> = (0..4)
        .map(|_| r.trigger.read_line(Duration::from_secs(1)).unwrap().unwrap().text)
        .collect();
    assert_eq!(
        texts,
        [
            "booting",
            "Erasing slot x",
            "I: Erasing slot 1 (0x70000 bytes)",
            "after the marker"
        ]
    );
    assert_eq!(r.trigger.records(), vec![rec]);
}

#[test]
fn byte_count_cut_and_restore_after_dwell() {
    let r = rig();
    let counter = DeliveryCounter::new();
    r.trigger
        .arm(TriggerPlan {
            condition: CutCondition::BytesDelivered {
                counter: counter.clone(),
                bytes: 4096,
                delay: Duration::ZERO,
            },
            timeout: Duration::from_secs(5),
            restore_after: Some(Duration::from_millis(50)),
        })
        .unwrap();
    counter.raise_to(4095);
    std::thread::sleep(Duration::from_millis(30));
    assert!(r.calls.lock().unwrap().is_empty(), "4095 < 4096");
    counter.raise_to(4096);
    let TriggerOutcome::Cut(rec) = r.outcome() else {
        panic!("expected a cut")
    };
    assert_eq!(rec.bytes_at_cut, Some(4096));
    let restored = rec.restored_us.expect("restored");
    assert!(restored >= rec.actual_us + 50_000, "{rec:?}");
    let calls = r.calls.lock().unwrap().clone();
    assert_eq!(calls.iter().map(|c| c.0).collect::<Vec<_>>(), [false, true]);
}

#[test]
fn unmet_condition_times_out_without_touching_power() {
    let r = rig();
    r.trigger
        .arm(TriggerPlan {
            condition: CutCondition::ConsoleMarker {
                pattern: Regex::new("never").unwrap(),
                delay: Duration::ZERO,
            },
            timeout: Duration::from_millis(100),
            restore_after: None,
        })
        .unwrap();
    r.say("something else");
    assert_eq!(r.outcome(), TriggerOutcome::NotReached);
    assert!(r.calls.lock().unwrap().is_empty());
}

#[test]
fn cut_at_an_exact_http_byte() {
    let r = rig();
    let mut http = HttpTransport::open(&HttpTransportConfig {
        bind: "127.0.0.1:0".into(),
        path: None,
    })
    .unwrap();
    let img = vec![0xA5u8; 50_000];
    http.stage(&img).unwrap();
    http.hold_at(Some(20_000)).unwrap();
    r.trigger
        .arm(TriggerPlan {
            condition: CutCondition::BytesDelivered {
                counter: http.delivery_counter().unwrap(),
                bytes: 20_000,
                delay: Duration::ZERO,
            },
            timeout: Duration::from_secs(5),
            restore_after: None,
        })
        .unwrap();
    let mut s = std::net::TcpStream::connect(http.local_addr()).unwrap();
    use std::io::Write;
    write!(s, "GET /image.bin HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let TriggerOutcome::Cut(rec) = r.outcome() else {
        panic!("expected a cut")
    };
    assert_eq!(rec.bytes_at_cut, Some(20_000));
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(http.bytes_delivered(), 20_000);
}

/// A console that prints `n` numbered lines as fast as it is read, then nothing.
struct Flood {
    clock: BenchClock,
    next: Arc<std::sync::atomic::AtomicUsize>,
    n: usize,
}

impl Console for Flood {
    fn describe(&self) -> String {
        "flood".into()
    }
    fn read_line(&mut self, timeout: Duration) -> RigResult<Option<ConsoleLine>> {
        let i = self.next.load(std::sync::atomic::Ordering::Acquire);
        if i >= self.n {
            std::thread::sleep(timeout.min(Duration::from_millis(5)));
            return Ok(None);
        }
        self.next.store(i + 1, std::sync::atomic::Ordering::Release);
        Ok(Some(ConsoleLine {
            t_us: self.clock.now_us(),
            text: format!("flood line {i:06}"),
        }))
    }
}

/// A console flooding the trigger while the rig reads nothing (it is restoring the baseline,
/// reading the slots): the lines waiting for the rig stay within the bound, the oldest are
/// dropped, and the first read says how many; the trigger never waits on the rig, so a cut
/// armed on a line deep in the flood still fires.
#[test]
fn a_flood_nobody_reads_stays_bounded_says_what_it_dropped_and_still_cuts() {
    use cutpoint_bench::console::queue::{dropped_notice, MAX_QUEUED_BYTES, MAX_QUEUED_LINES};

    const N: usize = 200_000;
    let clock = BenchClock::new();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let calls = Arc::new(Mutex::new(Vec::new()));
    let switch = SharedSwitch::new(Box::new(Recorder {
        clock,
        calls: calls.clone(),
    }));
    let mut trigger = Trigger::spawn(
        Box::new(Flood {
            clock,
            next: next.clone(),
            n: N,
        }),
        switch,
        clock,
    )
    .unwrap();
    trigger
        .arm(TriggerPlan {
            condition: CutCondition::ConsoleMarker {
                pattern: Regex::new(r"^flood line 150000$").unwrap(),
                delay: Duration::ZERO,
            },
            timeout: Duration::from_secs(60),
            restore_after: None,
        })
        .unwrap();
    let end = std::time::Instant::now() + Duration::from_secs(60);
    while next.load(std::sync::atomic::Ordering::Acquire) < N && std::time::Instant::now() < end {
        let q = trigger.queued();
        assert!(
            q.lines <= MAX_QUEUED_LINES && q.bytes <= MAX_QUEUED_BYTES,
            "over the bound: {q:?}"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    let TriggerOutcome::Cut(rec) = trigger.wait(Duration::from_secs(10)).unwrap().expect("the cut") else {
        panic!("expected a cut")
    };
    assert_eq!(rec.line.as_deref(), Some("flood line 150000"));
    assert_eq!(calls.lock().unwrap().len(), 1);
    let dropped = (N - MAX_QUEUED_LINES) as u64;
    assert!(
        common_wait(|| trigger.queued().dropped_total == dropped),
        "{:?}",
        trigger.queued()
    );
    let q = trigger.queued();
    assert_eq!(q.lines, MAX_QUEUED_LINES, "{q:?}");
    assert!(q.bytes <= MAX_QUEUED_BYTES, "{q:?}");
    let read = |t: &mut Trigger| t.read_line(Duration::from_secs(1)).unwrap().unwrap();
    assert_eq!(read(&mut trigger).text, dropped_notice(dropped));
    assert_eq!(read(&mut trigger).text, format!("flood line {dropped:06}"));
}

fn common_wait(mut f: impl FnMut() -> bool) -> bool {
    let end = std::time::Instant::now() + Duration::from_secs(10);
    while std::time::Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    f()
}
