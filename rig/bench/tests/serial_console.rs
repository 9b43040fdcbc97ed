//! The serial console against a device on a pseudo-terminal that disappears and comes back
//! under another device node, the way a USB serial adapter powered by the target does.

mod common;

use std::time::Duration;

use common::{point, wait_for, Pty};
use cutpoint_bench::config::SerialConsoleConfig;
use cutpoint_bench::console::serial::SerialConsole;
use cutpoint_bench::{BenchClock, Console, ConsoleLine, RigErrorKind};

const T: Duration = Duration::from_secs(5);

fn cfg(port: &std::path::Path) -> SerialConsoleConfig {
    SerialConsoleConfig {
        port: Some(port.to_string_lossy().into()),
        usb_serial: None,
        baud: 115200,
        dtr: None,
        rts: None,
    }
}

fn next(c: &mut SerialConsole) -> ConsoleLine {
    c.read_line(T).unwrap().expect("a line within 2 s")
}

#[test]
fn lines_survive_the_device_going_away_and_coming_back_elsewhere() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("usb-FTDI_FT232R_USB_UART_A10KXYZ-if00-port0");
    let mut first = Pty::new();
    point(&link, &first.path);
    let clock = BenchClock::new();
    let mut con = SerialConsole::open(&cfg(&link), clock).unwrap();
    assert_eq!(con.status().opens, 1);

    let before = clock.now_us();
    first.write("*** Booting Zephyr OS ***\r\nI: mcuboot: Starting swap\r\n");
    let a = next(&mut con);
    let b = next(&mut con);
    assert_eq!(a.text, "*** Booting Zephyr OS ***");
    assert_eq!(b.text, "I: mcuboot: Starting swap");
    assert!(a.t_us >= before && b.t_us >= a.t_us && b.t_us <= clock.now_us());

    // The cut: a line is half sent, then the adapter vanishes.
    let read_so_far = con.status().bytes_read;
    first.write("I: writing sect");
    // Closing a pty's master discards what the reader has not taken in yet.
    assert!(
        wait_for(T, || con.status().bytes_read >= read_so_far + 15),
        "the half line is read before the adapter goes"
    );
    let second = Pty::new(); // created first, so it cannot reuse the old node's number
    assert_ne!(second.path, first.path);
    drop(first);
    std::fs::remove_file(&link).unwrap();
    assert_eq!(
        next(&mut con).text,
        "I: writing sect",
        "the half line is delivered, not lost"
    );
    assert!(wait_for(T, || !con.status().connected), "the loss is noticed");

    // Back under another node.
    let mut second = second;
    point(&link, &second.path);
    assert!(
        wait_for(T, || con.status().connected && con.status().opens == 2),
        "reopened: {:?}",
        con.status()
    );
    assert_eq!(con.status().device, second.path.to_string_lossy());
    for i in 0..20 {
        second.write(&format!("after power-on line {i}\r\n"));
    }
    for i in 0..20 {
        assert_eq!(next(&mut con).text, format!("after power-on line {i}"));
    }

    // The stable name moves without the old node hanging up: follow the name.
    let mut third = Pty::new();
    point(&link, &third.path);
    assert!(
        wait_for(T, || con.status().opens == 3),
        "followed the re-pointed name: {:?}",
        con.status()
    );
    third.write("from the third node\n");
    assert_eq!(next(&mut con).text, "from the third node");
    second.write("stale node\n");
    assert_eq!(
        con.read_line(Duration::from_millis(150)).unwrap(),
        None,
        "the old node is no longer read"
    );
}

#[test]
fn absent_console_fails_at_open_naming_it() {
    let err = SerialConsole::open(
        &cfg(std::path::Path::new("/dev/serial/by-id/usb-no-console-here")),
        BenchClock::new(),
    )
    .err()
    .unwrap();
    assert_eq!(err.kind, RigErrorKind::Open);
    assert!(err.message.contains("usb-no-console-here"), "{err}");
    let by_serial = SerialConsoleConfig {
        port: None,
        usb_serial: Some("NOSUCH123".into()),
        baud: 115200,
        dtr: None,
        rts: None,
    };
    let err = SerialConsole::open(&by_serial, BenchClock::new()).err().unwrap();
    assert!(err.message.contains("NOSUCH123"), "{err}");
}

/// A device flooding its console while nobody reads: the console holds at most its bound of
/// lines and bytes, drops the oldest, and the first read says how many it dropped before the
/// newest lines, in order and whole.
#[test]
fn a_flooding_console_nobody_reads_stays_bounded_and_says_what_it_dropped() {
    use cutpoint_bench::console::queue::{dropped_notice, MAX_QUEUED_BYTES, MAX_QUEUED_LINES};
    use std::io::Write;

    const N: usize = 200_000;
    const { assert!(N > 3 * MAX_QUEUED_LINES, "a flood far beyond the bound") };
    let pty = Pty::new();
    let mut con = SerialConsole::open(&cfg(&pty.path), BenchClock::new()).unwrap();
    let mut master = pty.master_clone();
    let text: String = (0..N).map(|i| format!("flood line {i:06}\r\n")).collect();
    let total = text.len() as u64;
    let writer = std::thread::spawn(move || master.write_all(text.as_bytes()).unwrap());
    let mut peak = con.queued();
    let read_all = wait_for(Duration::from_secs(60), || {
        let q = con.queued();
        assert!(
            q.lines <= MAX_QUEUED_LINES && q.bytes <= MAX_QUEUED_BYTES,
            "over the bound: {q:?}"
        );
        if q.lines > peak.lines {
            peak = q;
        }
        con.status().bytes_read >= total
    });
    assert!(read_all, "the flood is read: {:?}", con.status());
    writer.join().unwrap();
    // The reader thread queues the last line after counting its bytes.
    assert!(wait_for(T, || con.queued().dropped_total == (N - MAX_QUEUED_LINES) as u64));
    let q = con.queued();
    assert_eq!(q.lines, MAX_QUEUED_LINES, "{q:?}");
    assert!(q.bytes <= MAX_QUEUED_BYTES, "{q:?}");

    let dropped = N - MAX_QUEUED_LINES;
    assert_eq!(next(&mut con).text, dropped_notice(dropped as u64));
    assert_eq!(
        next(&mut con).text,
        format!("flood line {dropped:06}"),
        "the oldest lines are the ones dropped"
    );
    let mut last = String::new();
    for _ in dropped + 1..N {
        last = next(&mut con).text;
    }
    assert_eq!(last, format!("flood line {:06}", N - 1));
    assert_eq!(con.read_line(Duration::from_millis(50)).unwrap(), None);
    assert_eq!(con.queued().lines, 0);
    eprintln!("peak queued while flooding: {peak:?}");
}
