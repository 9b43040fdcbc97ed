//! The HTTP transport over loopback: ranges, an exact hold, and a resumed download.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use cutpoint_bench::config::HttpTransportConfig;
use cutpoint_bench::transport::http::HttpTransport;
use cutpoint_bench::OtaTransport;
use sha2::{Digest, Sha256};

fn image(len: usize) -> Vec<u8> {
    // xorshift bytes: no repeating pattern a wrong offset could hide behind.
    let mut x: u32 = 0x1234_5678;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

fn server() -> HttpTransport {
    HttpTransport::open(&HttpTransportConfig {
        bind: "127.0.0.1:0".into(),
        path: None,
    })
    .unwrap()
}

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Opens a connection and sends a GET.
fn request(addr: SocketAddr, range: Option<&str>) -> TcpStream {
    let mut s = TcpStream::connect(addr).unwrap();
    let range = range.map(|r| format!("Range: {r}\r\n")).unwrap_or_default();
    write!(
        s,
        "GET /image.bin HTTP/1.1\r\nHost: {addr}\r\n{range}Connection: close\r\n\r\n"
    )
    .unwrap();
    s
}

/// Reads a reply until the server closes or nothing arrives for `idle`.
fn read_reply(s: &mut TcpStream, idle: Duration) -> Reply {
    read_reply_from(s, Vec::new(), idle)
}

/// Reads a reply whose server stalls after `n` body bytes: waits (up to 10 s) for those, then
/// reads on until the line has been idle for `idle`, so bytes past `n` would be seen.
fn read_held_reply(s: &mut TcpStream, n: usize, idle: Duration) -> Reply {
    s.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    let body_len = |raw: &[u8]| raw.windows(4).position(|w| w == b"\r\n\r\n").map(|e| raw.len() - e - 4);
    while body_len(&raw).is_none_or(|b| b < n) && Instant::now() < deadline {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(k) => raw.extend_from_slice(&buf[..k]),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(e) => panic!("read: {e}"),
        }
    }
    read_reply_from(s, raw, idle)
}

fn read_reply_from(s: &mut TcpStream, mut raw: Vec<u8>, idle: Duration) -> Reply {
    s.set_read_timeout(Some(idle)).unwrap();
    let mut buf = [0u8; 8192];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => break,
            Err(e) => panic!("read: {e}"),
        }
    }
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("complete headers") + 4;
    let head = String::from_utf8_lossy(&raw[..end]).to_string();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Reply {
        status,
        headers,
        body: raw[end..].to_vec(),
    }
}

fn get(addr: SocketAddr, range: Option<&str>) -> Reply {
    let mut s = request(addr, range);
    read_reply(&mut s, Duration::from_secs(5))
}

#[test]
fn full_and_ranged_downloads() {
    let img = image(200_000);
    let mut t = server();
    assert_eq!(get(t.local_addr(), None).status, 503, "nothing staged yet");
    t.stage(&img).unwrap();

    let full = get(t.local_addr(), None);
    assert_eq!(full.status, 200);
    assert_eq!(full.header("accept-ranges"), Some("bytes"));
    assert_eq!(full.body, img);
    assert_eq!(t.bytes_delivered(), 200_000);

    let mid = get(t.local_addr(), Some("bytes=1000-1999"));
    assert_eq!(mid.status, 206);
    assert_eq!(mid.header("content-range"), Some("bytes 1000-1999/200000"));
    assert_eq!(mid.header("content-length"), Some("1000"));
    assert_eq!(mid.body, &img[1000..2000]);

    let tail = get(t.local_addr(), Some("bytes=-100"));
    assert_eq!(tail.status, 206);
    assert_eq!(tail.header("content-range"), Some("bytes 199900-199999/200000"));
    assert_eq!(tail.body, &img[199_900..]);

    let open_ended = get(t.local_addr(), Some("bytes=150000-"));
    assert_eq!(open_ended.status, 206);
    assert_eq!(open_ended.body, &img[150_000..]);

    let past = get(t.local_addr(), Some("bytes=300000-"));
    assert_eq!(past.status, 416);
    assert_eq!(past.header("content-range"), Some("bytes */200000"));

    let logged: Vec<u16> = t.requests().iter().map(|r| r.status).collect();
    assert_eq!(logged, [200, 206, 206, 206, 416]);

    // A new image starts counting again.
    t.stage(&img[..10]).unwrap();
    assert_eq!(t.bytes_delivered(), 0);
    assert_eq!(get(t.local_addr(), None).body, &img[..10]);
}

#[test]
fn hold_delivers_exactly_n_bytes_and_a_ranged_resume_completes_the_image() {
    let img = image(300_000);
    let n: u64 = 123_457; // not on a chunk boundary
    let mut t = server();
    t.stage(&img).unwrap();
    t.hold_at(Some(n)).unwrap();

    let counter = t.delivery_counter().unwrap();
    let mut held = request(t.local_addr(), None);
    assert_eq!(counter.wait_at_least(n, Duration::from_secs(5)), n);
    let first = read_held_reply(&mut held, n as usize, Duration::from_millis(400));
    assert_eq!(first.status, 200);
    assert_eq!(
        first.header("content-length"),
        Some("300000"),
        "the device expects the whole image"
    );
    assert_eq!(first.body.len() as u64, n, "stalled after exactly N bytes");
    assert_eq!(first.body, &img[..n as usize]);
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(t.bytes_delivered(), n, "nothing past N was handed out");
    drop(held); // the device lost power mid-download

    // After the cut the device resumes with a Range request.
    t.hold_at(None).unwrap();
    let rest = get(t.local_addr(), Some(&format!("bytes={n}-")));
    assert_eq!(rest.status, 206);
    assert_eq!(
        rest.header("content-range").unwrap(),
        format!("bytes {n}-299999/300000")
    );
    let mut joined = first.body.clone();
    joined.extend_from_slice(&rest.body);
    assert_eq!(Sha256::digest(&joined), Sha256::digest(&img));
    assert_eq!(t.bytes_delivered(), 300_000);
}

#[test]
fn a_held_stream_goes_on_when_the_hold_moves() {
    let img = image(100_000);
    let mut t = server();
    t.stage(&img).unwrap();
    t.hold_at(Some(10_000)).unwrap();
    let mut s = request(t.local_addr(), None);
    let counter = t.delivery_counter().unwrap();
    assert_eq!(counter.wait_at_least(10_000, Duration::from_secs(5)), 10_000);
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(t.bytes_delivered(), 10_000);
    t.hold_at(Some(60_000)).unwrap();
    assert_eq!(counter.wait_at_least(60_000, Duration::from_secs(5)), 60_000);
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(t.bytes_delivered(), 60_000);
    let started = Instant::now();
    t.hold_at(None).unwrap();
    let r = read_reply(&mut s, Duration::from_secs(5));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the server closed the finished stream"
    );
    assert_eq!(r.body, img);
}
