//! The rig serves the update over HTTP and can hold the stream at an exact byte.
//!
//! The server (axum, tower-http's `ServeFile`, so `Range` requests get `206` with the right
//! `Content-Range`) runs on its own tokio runtime thread. Every response body passes through a
//! gate that counts the bytes handed to the connection and, when a hold is set at image offset
//! N, stops right before byte N: the connection stays open with nothing more to read, so a
//! power cut lands after exactly N bytes. Moving or clearing the hold lets held streams go on.

use std::net::{SocketAddr, TcpListener as StdListener};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use axum::body::{Body, BodyDataStream, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use tokio::sync::{oneshot, watch};
use tower::ServiceExt;
use tower_http::services::ServeFile;

use crate::config::HttpTransportConfig;
use cutpoint_core::DeliveryCounter;
use cutpoint_core::{OtaTransport, RigError, RigResult};

const DEFAULT_PATH: &str = "/image.bin";
const CHUNK: usize = 16 * 1024;

/// One request the server answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServedRequest {
    pub method: String,
    /// The `Range` header, when the client sent one.
    pub range: Option<String>,
    pub status: u16,
}

struct Shared {
    file: PathBuf,
    staged: AtomicU64,
    generation: AtomicU64,
    hold: watch::Sender<Option<u64>>,
    delivered: DeliveryCounter,
    sent_total: AtomicU64,
    requests: Mutex<Vec<ServedRequest>>,
}

/// The HTTP transport.
pub struct HttpTransport {
    name: String,
    addr: SocketAddr,
    path: String,
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

/// Parses the first offset of a `Content-Range: bytes S-E/L` value.
pub fn content_range_start(v: &str) -> Option<u64> {
    let rest = v.trim().strip_prefix("bytes ")?;
    let (start, _) = rest.split_once('-')?;
    start.trim().parse().ok()
}

impl HttpTransport {
    /// Binds the listening socket now (so a taken port is an open error) and starts serving.
    pub fn open(cfg: &HttpTransportConfig) -> RigResult<Self> {
        let path = cfg.path.clone().unwrap_or_else(|| DEFAULT_PATH.to_string());
        let name = format!("transport/http:{}{}", cfg.bind, path);
        if !path.starts_with('/') {
            return Err(RigError::open(name, format!("path {path:?} must start with `/`")));
        }
        let listener = StdListener::bind(cfg.bind.as_str())
            .map_err(|e| RigError::open(&name, format!("cannot listen on {}: {e}", cfg.bind)))?;
        let addr = listener
            .local_addr()
            .map_err(|e| RigError::open(&name, e.to_string()))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| RigError::open(&name, e.to_string()))?;
        let dir = tempfile::Builder::new()
            .prefix("cutpoint-http-")
            .tempdir()
            .map_err(|e| RigError::open(&name, format!("cannot create a staging directory: {e}")))?;
        let (hold, _) = watch::channel(None);
        let shared = Arc::new(Shared {
            file: dir.path().join("image.bin"),
            staged: AtomicU64::new(0),
            generation: AtomicU64::new(0),
            hold,
            delivered: DeliveryCounter::new(),
            sent_total: AtomicU64::new(0),
            requests: Mutex::new(Vec::new()),
        });
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("http-transport")
            .enable_all()
            .build()
            .map_err(|e| RigError::open(&name, format!("cannot start the server runtime: {e}")))?;
        let (tx, rx) = oneshot::channel::<()>();
        let router = axum::Router::new()
            .route(&path, axum::routing::get(serve))
            .with_state(shared.clone());
        let thread_name = name.clone();
        let server = std::thread::Builder::new()
            .name("http-transport".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let listener = match tokio::net::TcpListener::from_std(listener) {
                        Ok(l) => l,
                        Err(e) => {
                            tracing::error!("{thread_name}: {e}");
                            return;
                        }
                    };
                    tokio::select! {
                        r = axum::serve(listener, router) => {
                            if let Err(e) = r {
                                tracing::error!("{thread_name}: server stopped: {e}");
                            }
                        }
                        _ = rx => {}
                    }
                });
                // Dropping the runtime here cancels every connection, held ones included.
                drop(runtime);
            })
            .map_err(|e| RigError::open(&name, format!("cannot start the server thread: {e}")))?;
        Ok(HttpTransport {
            name,
            addr,
            path,
            shared,
            shutdown: Some(tx),
            server: Some(server),
            _dir: dir,
        })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The image's URL as seen from this machine (with a wildcard bind, the device needs the
    /// bench's LAN address instead of the unspecified one).
    pub fn url(&self) -> String {
        format!("http://{}{}", self.addr, self.path)
    }

    /// Every byte handed out, all requests together (a resumed download counts twice where the
    /// ranges overlap).
    pub fn total_bytes_sent(&self) -> u64 {
        self.shared.sent_total.load(Ordering::Acquire)
    }

    /// The requests served since the last `stage`.
    pub fn requests(&self) -> Vec<ServedRequest> {
        self.shared.requests.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The current hold offset.
    pub fn hold(&self) -> Option<u64> {
        *self.shared.hold.borrow()
    }
}

async fn serve(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let method = req.method().clone();
    let range = req
        .headers()
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let log = |status: StatusCode| {
        shared
            .requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(ServedRequest {
                method: method.to_string(),
                range: range.clone(),
                status: status.as_u16(),
            });
    };
    if shared.staged.load(Ordering::Acquire) == 0 {
        log(StatusCode::SERVICE_UNAVAILABLE);
        return (StatusCode::SERVICE_UNAVAILABLE, "no image staged").into_response();
    }
    let generation = shared.generation.load(Ordering::Acquire);
    let resp = match ServeFile::new(&shared.file)
        .with_buf_chunk_size(CHUNK)
        .oneshot(req)
        .await
    {
        Ok(r) => r,
        Err(never) => match never {},
    };
    let (parts, body) = resp.into_parts();
    log(parts.status);
    let start = match parts.status {
        StatusCode::OK => Some(0),
        StatusCode::PARTIAL_CONTENT => parts
            .headers
            .get(header::CONTENT_RANGE)
            .and_then(|v| v.to_str().ok())
            .and_then(content_range_start),
        _ => None,
    };
    match start {
        Some(start) if method == Method::GET => {
            let gate = Gate {
                inner: Body::new(body).into_data_stream(),
                pos: start,
                pending: None,
                hold: shared.hold.subscribe(),
                shared: shared.clone(),
                generation,
            };
            let stream = futures_util::stream::unfold(gate, Gate::next);
            Response::from_parts(parts, Body::from_stream(stream))
        }
        _ => Response::from_parts(parts, Body::new(body)),
    }
}

/// Passes a response body through, counting it and stopping at the hold offset.
struct Gate {
    inner: BodyDataStream,
    /// Image offset of the next byte to hand out.
    pos: u64,
    pending: Option<Bytes>,
    hold: watch::Receiver<Option<u64>>,
    shared: Arc<Shared>,
    generation: u64,
}

impl Gate {
    async fn next(mut self) -> Option<(Result<Bytes, axum::Error>, Self)> {
        loop {
            let chunk = match self.pending.take() {
                Some(b) => b,
                None => match self.inner.next().await? {
                    Ok(b) => b,
                    Err(e) => return Some((Err(e), self)),
                },
            };
            if chunk.is_empty() {
                continue;
            }
            loop {
                let hold = *self.hold.borrow_and_update();
                let room = match hold {
                    None => chunk.len(),
                    Some(h) => usize::try_from(h.saturating_sub(self.pos))
                        .unwrap_or(usize::MAX)
                        .min(chunk.len()),
                };
                if room > 0 {
                    let mut chunk = chunk;
                    if room < chunk.len() {
                        self.pending = Some(chunk.split_off(room));
                    }
                    self.pos += room as u64;
                    if self.shared.generation.load(Ordering::Acquire) == self.generation {
                        self.shared.sent_total.fetch_add(room as u64, Ordering::AcqRel);
                        self.shared.delivered.raise_to(self.pos);
                    }
                    return Some((Ok(chunk), self));
                }
                // Held: keep the connection open and wait for the hold to move.
                if self.hold.changed().await.is_err() {
                    return None;
                }
            }
        }
    }
}

impl OtaTransport for HttpTransport {
    fn describe(&self) -> String {
        self.name.clone()
    }

    fn stage(&mut self, image: &[u8]) -> RigResult<()> {
        let tmp = self.shared.file.with_extension("tmp");
        std::fs::write(&tmp, image)
            .and_then(|_| std::fs::rename(&tmp, &self.shared.file))
            .map_err(|e| RigError::io(&self.name, format!("staging the image: {e}")))?;
        self.shared.generation.fetch_add(1, Ordering::AcqRel);
        self.shared.sent_total.store(0, Ordering::Release);
        self.shared.delivered.set(0);
        self.shared.requests.lock().unwrap_or_else(|p| p.into_inner()).clear();
        self.shared.staged.store(1, Ordering::Release);
        Ok(())
    }

    fn hold_at(&mut self, byte: Option<u64>) -> RigResult<()> {
        self.shared.hold.send_replace(byte);
        Ok(())
    }

    fn bytes_delivered(&self) -> u64 {
        self.shared.delivered.get()
    }

    fn delivery_counter(&self) -> Option<DeliveryCounter> {
        Some(self.shared.delivered.clone())
    }
}

impl Drop for HttpTransport {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.server.take() {
            let _ = h.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_range_parsing() {
        assert_eq!(content_range_start("bytes 100-199/1000"), Some(100));
        assert_eq!(content_range_start("bytes 0-0/1"), Some(0));
        assert_eq!(content_range_start("bytes */1000"), None);
        assert_eq!(content_range_start("items 1-2/3"), None);
    }

    #[test]
    fn taken_or_bad_address_is_an_open_error() {
        let err = HttpTransport::open(&HttpTransportConfig {
            bind: "not-an-address".into(),
            path: None,
        })
        .err()
        .unwrap();
        assert_eq!(err.kind, crate::RigErrorKind::Open);
        assert!(err.message.contains("not-an-address"), "{err}");
        let first = HttpTransport::open(&HttpTransportConfig {
            bind: "127.0.0.1:0".into(),
            path: None,
        })
        .unwrap();
        let again = HttpTransport::open(&HttpTransportConfig {
            bind: first.local_addr().to_string(),
            path: None,
        });
        assert!(again.is_err());
    }
}
