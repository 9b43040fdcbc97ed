//! The cut trigger: a dedicated thread that reads the console and watches the transport's byte
//! counter, and switches power off at the planned moment.
//!
//! Two conditions fire a cut: a console line matching a pattern (plus a delay), or the
//! transport having delivered N bytes (plus a delay). Every cut is recorded with the moment it
//! was due and the moment the switch call returned, on the bench clock, so relay latency and
//! jitter are measured rather than assumed. The trigger owns the console and passes every line
//! on: read them through the trigger, which implements [`Console`]. Lines wait for the reader
//! on a bounded queue: while nobody reads, a flooding console drops its oldest lines, and the
//! next read says how many (see [`crate::console::queue`]); the trigger never waits on it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use regex::Regex;

use crate::console::queue::{line_queue, LineReceiver, LineSender, QueueStats, RecvError};
use crate::shared::SharedSwitch;
use cutpoint_core::clock::{after, from_now, BenchClock};
use cutpoint_core::DeliveryCounter;
use cutpoint_core::{Console, ConsoleLine, PowerSwitch, RigError, RigResult};

/// What fires a cut.
#[derive(Debug, Clone)]
pub enum CutCondition {
    /// `delay` after the first console line matching `pattern` arrived.
    ConsoleMarker { pattern: Regex, delay: Duration },
    /// `delay` after the transport's counter reached `bytes`.
    BytesDelivered {
        counter: DeliveryCounter,
        bytes: u64,
        delay: Duration,
    },
}

impl CutCondition {
    pub fn describe(&self) -> String {
        match self {
            CutCondition::ConsoleMarker { pattern, delay } => format!("console /{pattern}/ + {delay:?}"),
            CutCondition::BytesDelivered { bytes, delay, .. } => format!("{bytes} bytes delivered + {delay:?}"),
        }
    }
}

/// One armed cut.
#[derive(Debug, Clone)]
pub struct TriggerPlan {
    pub condition: CutCondition,
    /// Give up when the condition has not been met this long after arming.
    pub timeout: Duration,
    /// Turn power back on this long after the cut (`None`: leave it off; the caller restores).
    pub restore_after: Option<Duration>,
}

/// When a cut happened, in bench-clock microseconds.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CutTiming {
    pub condition: String,
    /// When the condition was met (the marker line's arrival, or the counter seen at N).
    pub event_us: u64,
    /// When the cut was due (event + delay).
    pub requested_us: u64,
    /// When the switch call started.
    pub issued_us: u64,
    /// When the switch call returned.
    pub actual_us: u64,
    /// When power was turned back on, if the plan asked for it.
    pub restored_us: Option<u64>,
    /// The line that matched.
    pub line: Option<String>,
    /// The transport's counter at the cut.
    pub bytes_at_cut: Option<u64>,
}

impl CutTiming {
    /// Microseconds between the due moment and the switch call returning.
    pub fn latency_us(&self) -> i64 {
        self.actual_us as i64 - self.requested_us as i64
    }
}

/// How an armed plan ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TriggerOutcome {
    Cut(CutTiming),
    /// The condition was not met before the plan's timeout; power was not touched.
    NotReached,
}

/// Latency figures over several cuts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LatencyStats {
    pub count: usize,
    pub p50_us: i64,
    pub p99_us: i64,
    pub max_us: i64,
    pub min_us: i64,
}

/// Nearest-rank percentiles of `latencies` (µs); `None` when empty.
pub fn latency_stats(latencies: &[i64]) -> Option<LatencyStats> {
    if latencies.is_empty() {
        return None;
    }
    let mut v = latencies.to_vec();
    v.sort_unstable();
    let rank = |p: f64| {
        let r = ((p / 100.0) * v.len() as f64).ceil() as usize;
        v[r.clamp(1, v.len()) - 1]
    };
    Some(LatencyStats {
        count: v.len(),
        p50_us: rank(50.0),
        p99_us: rank(99.0),
        max_us: v[v.len() - 1],
        min_us: v[0],
    })
}

enum Cmd {
    Arm(TriggerPlan),
    Disarm,
}

/// The trigger thread's handle. Reading lines through it (it is a [`Console`]) loses none while
/// the queue has room ([`crate::console::queue::MAX_QUEUED_LINES`]), and says how many it
/// dropped when it had none.
pub struct Trigger {
    name: String,
    cmd: Sender<Cmd>,
    lines: LineReceiver,
    outcomes: Receiver<RigResult<TriggerOutcome>>,
    records: Arc<Mutex<Vec<CutTiming>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

struct Armed {
    plan: TriggerPlan,
    deadline: Instant,
    /// Set once the condition is met: (due instant, record so far).
    due: Option<(Instant, CutTiming)>,
}

struct Worker {
    console: Box<dyn Console>,
    switch: SharedSwitch,
    clock: BenchClock,
    cmd: Receiver<Cmd>,
    lines: LineSender,
    outcomes: Sender<RigResult<TriggerOutcome>>,
    records: Arc<Mutex<Vec<CutTiming>>>,
    stop: Arc<AtomicBool>,
}

/// Below this much time to go, the thread spins instead of sleeping.
const SPIN: Duration = Duration::from_micros(1500);
/// Console poll while watching a byte counter.
const COUNTER_POLL: Duration = Duration::from_micros(200);
const IDLE_POLL: Duration = Duration::from_millis(20);

impl Worker {
    fn run(mut self) {
        let mut armed: Option<Armed> = None;
        // Power to restore at an instant, after a cut whose plan asked for it.
        let mut restore: Option<(Instant, CutTiming)> = None;
        while !self.stop.load(Ordering::Acquire) {
            loop {
                match self.cmd.try_recv() {
                    Ok(Cmd::Arm(plan)) => {
                        armed = Some(Armed {
                            deadline: from_now(plan.timeout),
                            plan,
                            due: None,
                        });
                    }
                    Ok(Cmd::Disarm) => armed = None,
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => return,
                }
            }
            let now = Instant::now();
            // Next moment something must happen.
            let mut wake = after(now, IDLE_POLL);
            if let Some(a) = &armed {
                match &a.due {
                    Some((due, _)) => wake = wake.min(*due),
                    None => {
                        wake = wake.min(a.deadline);
                        if matches!(a.plan.condition, CutCondition::BytesDelivered { .. }) {
                            wake = wake.min(after(now, COUNTER_POLL));
                        }
                    }
                }
            }
            if let Some((at, _)) = &restore {
                wake = wake.min(*at);
            }

            let until = wake.saturating_duration_since(Instant::now());
            if until > SPIN {
                self.read_console(until - SPIN / 2, &mut armed);
            } else {
                while Instant::now() < wake {
                    std::hint::spin_loop();
                }
            }

            let now = Instant::now();
            if restore.as_ref().is_some_and(|(at, _)| now >= *at) {
                if let Some((_, mut rec)) = restore.take() {
                    let r = self.switch.set_power(true);
                    rec.restored_us = Some(self.clock.now_us());
                    self.finish(r.map(|_| rec));
                }
            }
            let Some(a) = armed.as_mut() else { continue };
            if a.due.is_none() {
                if let CutCondition::BytesDelivered { counter, bytes, delay } = &a.plan.condition {
                    let seen = counter.get();
                    if seen >= *bytes {
                        let event = Instant::now();
                        let rec = self.record(&a.plan.condition, event, *delay, None);
                        a.due = Some((after(event, *delay), rec));
                    }
                }
            }
            match a.due.take() {
                Some((due, rec)) if Instant::now() >= due => {
                    let plan = armed.take().map(|a| a.plan);
                    self.cut(rec, plan, &mut restore);
                }
                Some(d) => a.due = Some(d),
                None if Instant::now() >= a.deadline => {
                    armed = None;
                    let _ = self.outcomes.send(Ok(TriggerOutcome::NotReached));
                }
                None => {}
            }
        }
    }

    fn record(&self, cond: &CutCondition, event: Instant, delay: Duration, line: Option<&ConsoleLine>) -> CutTiming {
        let event_us = match line {
            Some(l) => l.t_us,
            None => self.clock.us_at(event),
        };
        CutTiming {
            condition: cond.describe(),
            event_us,
            requested_us: event_us.saturating_add(u64::try_from(delay.as_micros()).unwrap_or(u64::MAX)),
            issued_us: 0,
            actual_us: 0,
            restored_us: None,
            line: line.map(|l| l.text.clone()),
            bytes_at_cut: None,
        }
    }

    fn read_console(&mut self, timeout: Duration, armed: &mut Option<Armed>) {
        match self.console.read_line(timeout) {
            Ok(Some(line)) => {
                if let Some(a) = armed.as_mut() {
                    if a.due.is_none() {
                        if let CutCondition::ConsoleMarker { pattern, delay } = &a.plan.condition {
                            if pattern.is_match(&line.text) {
                                let rec = self.record(&a.plan.condition, Instant::now(), *delay, Some(&line));
                                let due = self.clock.instant_at(rec.requested_us);
                                a.due = Some((due, rec));
                            }
                        }
                    }
                }
                let _ = self.lines.send(line);
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!("trigger: console: {e}");
                std::thread::sleep(timeout.min(IDLE_POLL));
            }
        }
    }

    fn cut(&mut self, mut rec: CutTiming, plan: Option<TriggerPlan>, restore: &mut Option<(Instant, CutTiming)>) {
        rec.issued_us = self.clock.now_us();
        let r = self.switch.set_power(false);
        rec.actual_us = self.clock.now_us();
        if let Some(TriggerPlan {
            condition: CutCondition::BytesDelivered { counter, .. },
            ..
        }) = &plan
        {
            rec.bytes_at_cut = Some(counter.get());
        }
        if let Err(e) = r {
            self.finish(Err(e));
            return;
        }
        match plan.and_then(|p| p.restore_after) {
            Some(dwell) => *restore = Some((from_now(dwell), rec)),
            None => self.finish(Ok(rec)),
        }
    }

    fn finish(&mut self, r: RigResult<CutTiming>) {
        if let Ok(rec) = &r {
            self.records.lock().unwrap_or_else(|p| p.into_inner()).push(rec.clone());
        }
        let _ = self.outcomes.send(r.map(TriggerOutcome::Cut));
    }
}

impl Trigger {
    /// Starts the trigger thread. It owns `console` from now on.
    pub fn spawn(console: Box<dyn Console>, switch: SharedSwitch, clock: BenchClock) -> RigResult<Trigger> {
        let name = format!("trigger({})", console.describe());
        let (cmd_tx, cmd_rx) = mpsc::channel();
        let (line_tx, line_rx) = line_queue();
        let (out_tx, out_rx) = mpsc::channel();
        let records = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let worker = Worker {
            console,
            switch,
            clock,
            cmd: cmd_rx,
            lines: line_tx,
            outcomes: out_tx,
            records: records.clone(),
            stop: stop.clone(),
        };
        let thread = std::thread::Builder::new()
            .name("cut-trigger".into())
            .spawn(move || worker.run())
            .map_err(|e| RigError::open(&name, format!("cannot start the trigger thread: {e}")))?;
        Ok(Trigger {
            name,
            cmd: cmd_tx,
            lines: line_rx,
            outcomes: out_rx,
            records,
            stop,
            thread: Some(thread),
        })
    }

    /// Arms a cut (replacing any armed one). The outcome arrives through [`Trigger::wait`].
    pub fn arm(&self, plan: TriggerPlan) -> RigResult<()> {
        self.cmd
            .send(Cmd::Arm(plan))
            .map_err(|_| RigError::io(&self.name, "the trigger thread stopped"))
    }

    /// Disarms the armed cut, if any.
    pub fn disarm(&self) -> RigResult<()> {
        self.cmd
            .send(Cmd::Disarm)
            .map_err(|_| RigError::io(&self.name, "the trigger thread stopped"))
    }

    /// Waits up to `timeout` for the armed plan's outcome (`Ok(None)`: still armed).
    pub fn wait(&self, timeout: Duration) -> RigResult<Option<TriggerOutcome>> {
        match self.outcomes.recv_timeout(timeout) {
            Ok(r) => r.map(Some),
            Err(RecvTimeoutError::Timeout) => Ok(None),
            Err(RecvTimeoutError::Disconnected) => Err(RigError::io(&self.name, "the trigger thread stopped")),
        }
    }

    /// What the queue of lines not yet read holds now.
    pub fn queued(&self) -> QueueStats {
        self.lines.stats()
    }

    /// Every cut so far.
    pub fn records(&self) -> Vec<CutTiming> {
        self.records.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl Console for Trigger {
    fn describe(&self) -> String {
        self.name.clone()
    }

    fn read_line(&mut self, timeout: Duration) -> RigResult<Option<ConsoleLine>> {
        match self.lines.recv_timeout(timeout) {
            Ok(l) => Ok(Some(l)),
            Err(RecvError::Timeout) => Ok(None),
            Err(RecvError::Disconnected) => Err(RigError::io(&self.name, "the trigger thread stopped")),
        }
    }
}

impl Drop for Trigger {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles() {
        let v: Vec<i64> = (1..=100).collect();
        let s = latency_stats(&v).unwrap();
        assert_eq!((s.count, s.p50_us, s.p99_us, s.max_us, s.min_us), (100, 50, 99, 100, 1));
        let s = latency_stats(&[7]).unwrap();
        assert_eq!((s.p50_us, s.p99_us, s.max_us), (7, 7, 7));
        assert!(latency_stats(&[]).is_none());
    }
}
