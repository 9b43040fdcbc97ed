//! A bounded queue of console lines between a thread that reads a device and the rig.
//!
//! A device that floods its console while nobody reads (the rig restoring the baseline through
//! the probe, reading the slots back) must not grow the rig's memory without bound, and the
//! thread reading it must never wait on the rig: a serial reader that stopped reading would
//! lose bytes in the adapter without a trace, a trigger that waited would cut late. So a full
//! queue drops its oldest lines and counts them, and the next read hands the count over as a
//! line of its own, `[cutpoint: N console lines dropped]`, in the captured log where a person
//! reads it.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use cutpoint_core::ConsoleLine;

/// Lines a queue holds at most; older ones are dropped (and counted) to make room.
pub const MAX_QUEUED_LINES: usize = 65_536;
/// Bytes a queue holds at most (each line's text plus its own size), however long its lines
/// (up to [`MAX_LINE`](super::lines::MAX_LINE) each).
pub const MAX_QUEUED_BYTES: usize = 8 << 20;

/// The line that says how many lines a queue dropped.
pub fn dropped_notice(n: u64) -> String {
    format!("[cutpoint: {n} console line{} dropped]", if n == 1 { "" } else { "s" })
}

/// What a queue holds now, and has dropped in all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueueStats {
    pub lines: usize,
    pub bytes: usize,
    /// Lines dropped since the queue was made (reported or not yet).
    pub dropped_total: u64,
}

#[derive(Debug)]
struct Inner {
    lines: VecDeque<ConsoleLine>,
    bytes: usize,
    /// Dropped and not yet reported; the time of the newest of them.
    dropped: u64,
    dropped_at_us: u64,
    dropped_total: u64,
    senders: usize,
    receiver: bool,
}

#[derive(Debug)]
struct Queue {
    inner: Mutex<Inner>,
    ready: Condvar,
    max_lines: usize,
    max_bytes: usize,
}

fn size_of(l: &ConsoleLine) -> usize {
    l.text.len() + std::mem::size_of::<ConsoleLine>()
}

impl Queue {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The reading thread's end: sending never blocks.
#[derive(Debug)]
pub struct LineSender(Arc<Queue>);

/// The rig's end.
#[derive(Debug)]
pub struct LineReceiver(Arc<Queue>);

/// Why a read returned no line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecvError {
    Timeout,
    /// Every sender is gone and the queue is empty.
    Disconnected,
}

/// A queue of at most [`MAX_QUEUED_LINES`] lines and [`MAX_QUEUED_BYTES`] bytes.
pub fn line_queue() -> (LineSender, LineReceiver) {
    line_queue_bounded(MAX_QUEUED_LINES, MAX_QUEUED_BYTES)
}

/// A queue of at most `max_lines` lines (at least 1) and `max_bytes` bytes (the newest line is
/// kept even when it alone is larger).
pub fn line_queue_bounded(max_lines: usize, max_bytes: usize) -> (LineSender, LineReceiver) {
    let q = Arc::new(Queue {
        inner: Mutex::new(Inner {
            lines: VecDeque::new(),
            bytes: 0,
            dropped: 0,
            dropped_at_us: 0,
            dropped_total: 0,
            senders: 1,
            receiver: true,
        }),
        ready: Condvar::new(),
        max_lines: max_lines.max(1),
        max_bytes,
    });
    (LineSender(q.clone()), LineReceiver(q))
}

impl LineSender {
    /// Queues `line`, dropping the oldest lines while the queue is over its bounds. Gives the
    /// line back when the receiver is gone.
    pub fn send(&self, line: ConsoleLine) -> Result<(), ConsoleLine> {
        let q = &self.0;
        let mut s = q.lock();
        if !s.receiver {
            return Err(line);
        }
        s.bytes += size_of(&line);
        s.lines.push_back(line);
        while s.lines.len() > q.max_lines || (s.bytes > q.max_bytes && s.lines.len() > 1) {
            let Some(old) = s.lines.pop_front() else { break };
            s.bytes -= size_of(&old);
            s.dropped += 1;
            s.dropped_total += 1;
            s.dropped_at_us = old.t_us;
        }
        drop(s);
        q.ready.notify_one();
        Ok(())
    }
}

impl Clone for LineSender {
    fn clone(&self) -> Self {
        self.0.lock().senders += 1;
        LineSender(self.0.clone())
    }
}

impl Drop for LineSender {
    fn drop(&mut self) {
        let mut s = self.0.lock();
        s.senders -= 1;
        if s.senders == 0 {
            drop(s);
            self.0.ready.notify_all();
        }
    }
}

impl LineReceiver {
    /// The next line, waiting up to `timeout`. Lines dropped since the last read come first as
    /// one notice line ([`dropped_notice`]), stamped with the newest dropped line's time: they
    /// were older than every line still queued.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<ConsoleLine, RecvError> {
        let q = &self.0;
        let deadline = Instant::now().checked_add(timeout);
        let mut s = q.lock();
        loop {
            if s.dropped > 0 {
                let n = std::mem::take(&mut s.dropped);
                return Ok(ConsoleLine {
                    t_us: s.dropped_at_us,
                    text: dropped_notice(n),
                });
            }
            if let Some(l) = s.lines.pop_front() {
                s.bytes -= size_of(&l);
                return Ok(l);
            }
            if s.senders == 0 {
                return Err(RecvError::Disconnected);
            }
            let left = match deadline {
                Some(d) => d.saturating_duration_since(Instant::now()),
                None => Duration::from_secs(3600),
            };
            if left.is_zero() {
                return Err(RecvError::Timeout);
            }
            s = q.ready.wait_timeout(s, left).unwrap_or_else(|p| p.into_inner()).0;
        }
    }

    /// What the queue holds now.
    pub fn stats(&self) -> QueueStats {
        let s = self.0.lock();
        QueueStats {
            lines: s.lines.len(),
            bytes: s.bytes,
            dropped_total: s.dropped_total,
        }
    }
}

impl Drop for LineReceiver {
    fn drop(&mut self) {
        let mut s = self.0.lock();
        s.receiver = false;
        s.lines.clear();
        s.bytes = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(i: u64) -> ConsoleLine {
        ConsoleLine {
            t_us: i,
            text: format!("line {i}"),
        }
    }

    #[test]
    fn a_full_queue_drops_the_oldest_and_says_how_many_before_the_rest() {
        let (tx, rx) = line_queue_bounded(4, usize::MAX);
        for i in 0..10 {
            tx.send(line(i)).unwrap();
        }
        assert_eq!(
            rx.stats(),
            QueueStats {
                lines: 4,
                bytes: rx.stats().bytes,
                dropped_total: 6
            }
        );
        let got: Vec<ConsoleLine> = (0..5).map(|_| rx.recv_timeout(Duration::ZERO).unwrap()).collect();
        assert_eq!(got[0].text, "[cutpoint: 6 console lines dropped]");
        assert_eq!(got[0].t_us, 5, "stamped with the newest line dropped");
        assert_eq!(got[1..].iter().map(|l| l.t_us).collect::<Vec<_>>(), vec![6, 7, 8, 9]);
        assert_eq!(rx.recv_timeout(Duration::ZERO), Err(RecvError::Timeout));
        assert_eq!(rx.stats().bytes, 0);
        // Reported once; the next drop is counted afresh.
        for i in 10..16 {
            tx.send(line(i)).unwrap();
        }
        assert_eq!(rx.recv_timeout(Duration::ZERO).unwrap().text, dropped_notice(2));
        assert_eq!(dropped_notice(1), "[cutpoint: 1 console line dropped]");
        drop(tx);
        assert_eq!(rx.recv_timeout(Duration::ZERO).unwrap().t_us, 12);
        for _ in 0..3 {
            rx.recv_timeout(Duration::ZERO).unwrap();
        }
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)), Err(RecvError::Disconnected));
    }

    #[test]
    fn the_byte_bound_holds_for_long_lines_and_keeps_the_newest() {
        let big = |i: u64| ConsoleLine {
            t_us: i,
            text: "x".repeat(1000),
        };
        let (tx, rx) = line_queue_bounded(1000, 4096);
        for i in 0..100 {
            tx.send(big(i)).unwrap();
            assert!(rx.stats().bytes <= 4096, "{:?}", rx.stats());
        }
        assert_eq!(rx.stats().lines, 3);
        assert_eq!(rx.recv_timeout(Duration::ZERO).unwrap().text, dropped_notice(97));
        // A line larger than the whole bound is still delivered.
        tx.send(ConsoleLine {
            t_us: 200,
            text: "y".repeat(10_000),
        })
        .unwrap();
        assert_eq!(rx.stats().lines, 1);
        drop(rx);
        assert!(tx.send(line(1)).is_err(), "nobody reads any more");
    }

    #[test]
    fn a_waiting_reader_wakes_for_a_line() {
        let (tx, rx) = line_queue();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            tx.send(line(1)).unwrap();
        });
        assert_eq!(rx.recv_timeout(Duration::from_secs(10)).unwrap().t_us, 1);
        t.join().unwrap();
    }
}
