//! headroom demo service (Rust, hyper 0.14 + tokio): HTTP endpoints whose memory behaviour is
//! known, so a recording of it under load can be checked against the expectation.
//! See examples/README.md for the endpoint contract shared with the Go and C services.
//!
//! Kept compatible with Debian's rustc 1.63 (no let-else, no std::hint::black_box) so that
//! either the rustup cargo or Debian's cargo can build it offline.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper::service::{make_service_fn, service_fn};
use hyper::{Body, Method, Request, Response, Server, StatusCode};

const PAGE: usize = 4096;
const MAX_KB: u64 = 1 << 20; // 1 GiB per request: a typo should not take the machine down
const MAX_MS: u64 = 60_000;

struct Config {
    listen: SocketAddr,
    drain_ms: u64,
    release_mode: bool,
    release_ms: u64,
    threads: usize,
}

#[derive(Default)]
struct State {
    cache: Mutex<Vec<Vec<u8>>>,
    queue: Mutex<VecDeque<Vec<u8>>>,
    requests: AtomicU64,
    inflight: AtomicU64,
    work_bytes: AtomicU64,
    cache_bytes: AtomicU64,
    cache_items: AtomicU64,
    queue_bytes: AtomicU64,
    queue_items: AtomicU64,
    queue_drained: AtomicU64,
    releases: AtomicU64,
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn trim_heap() -> bool {
    extern "C" {
        fn malloc_trim(pad: usize) -> i32;
    }
    // Safety: malloc_trim takes no pointers and is thread-safe in glibc.
    unsafe { malloc_trim(0) != 0 }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim_heap() -> bool {
    false
}

/// A buffer of `bytes` with every page written, so it is resident (not just reserved).
/// Returns it with a checksum the response carries, so the optimiser cannot drop the writes.
fn touched(bytes: usize) -> (Vec<u8>, u64) {
    let buf = vec![0x5au8; bytes];
    let mut sum = 0u64;
    let mut i = 0;
    while i < buf.len() {
        sum = sum.wrapping_add(buf[i] as u64);
        i += PAGE;
    }
    (buf, sum)
}

fn query_u64(req: &Request<Body>, key: &str, default: u64, max: u64) -> Result<u64, String> {
    let q = req.uri().query().unwrap_or("");
    for pair in q.split('&') {
        let mut kv = pair.splitn(2, '=');
        if kv.next() == Some(key) {
            let v = kv.next().unwrap_or("");
            return match v.parse::<u64>() {
                Ok(n) if n <= max => Ok(n),
                _ => Err(format!("{}={} is not an integer in 0..={}\n", key, v, max)),
            };
        }
    }
    Ok(default)
}

fn reply(status: StatusCode, ctype: &str, body: String) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", ctype)
        .body(Body::from(body))
        .expect("static headers are valid")
}

fn stats_json(st: &State, cfg: &Config) -> String {
    format!(
        concat!(
            "{{\"service\":\"rust\",\"build\":\"{}\",\"requests\":{},\"inflight\":{},",
            "\"work_bytes\":{},\"cache_bytes\":{},\"cache_items\":{},\"queue_bytes\":{},",
            "\"queue_items\":{},\"queue_drained\":{},\"releases\":{},\"release_mode\":{}}}\n"
        ),
        if cfg!(debug_assertions) { "debug" } else { "release" },
        st.requests.load(Relaxed),
        st.inflight.load(Relaxed),
        st.work_bytes.load(Relaxed),
        st.cache_bytes.load(Relaxed),
        st.cache_items.load(Relaxed),
        st.queue_bytes.load(Relaxed),
        st.queue_items.load(Relaxed),
        st.queue_drained.load(Relaxed),
        st.releases.load(Relaxed),
        cfg.release_mode,
    )
}

/// Drops the cache and the queue, then asks glibc to give free pages back.
fn release(st: &State) -> (u64, bool) {
    // Take the vectors out under the lock, free them outside it.
    let cache = std::mem::take(&mut *st.cache.lock().unwrap());
    let queue = std::mem::take(&mut *st.queue.lock().unwrap());
    let freed = st.cache_bytes.swap(0, Relaxed) + st.queue_bytes.swap(0, Relaxed);
    st.cache_items.store(0, Relaxed);
    st.queue_items.store(0, Relaxed);
    drop(cache);
    drop(queue);
    let trimmed = trim_heap();
    st.releases.fetch_add(1, Relaxed);
    (freed, trimmed)
}

async fn handle(req: Request<Body>, st: Arc<State>, cfg: Arc<Config>) -> Result<Response<Body>, Infallible> {
    st.requests.fetch_add(1, Relaxed);
    if req.method() != Method::GET {
        return Ok(reply(StatusCode::METHOD_NOT_ALLOWED, "text/plain", "GET only\n".into()));
    }
    let text = "text/plain";
    let json = "application/json";
    let resp = match req.uri().path() {
        "/health" => reply(StatusCode::OK, text, "ok\n".into()),
        "/stats" => reply(StatusCode::OK, json, stats_json(&st, &cfg)),
        "/release" => {
            let (freed, trimmed) = release(&st);
            reply(StatusCode::OK, json, format!("{{\"freed_bytes\":{},\"trimmed\":{}}}\n", freed, trimmed))
        }
        "/work" => match (query_u64(&req, "kb", 64, MAX_KB), query_u64(&req, "ms", 20, MAX_MS)) {
            (Ok(kb), Ok(ms)) => {
                let bytes = (kb * 1024) as usize;
                st.inflight.fetch_add(1, Relaxed);
                st.work_bytes.fetch_add(bytes as u64, Relaxed);
                let (buf, sum) = touched(bytes);
                tokio::time::sleep(Duration::from_millis(ms)).await;
                let len = buf.len();
                drop(buf);
                st.work_bytes.fetch_sub(bytes as u64, Relaxed);
                st.inflight.fetch_sub(1, Relaxed);
                reply(StatusCode::OK, json, format!("{{\"bytes\":{},\"held_ms\":{},\"sum\":{}}}\n", len, ms, sum))
            }
            (Err(e), _) | (_, Err(e)) => reply(StatusCode::BAD_REQUEST, text, e),
        },
        "/cache" => match query_u64(&req, "kb", 64, MAX_KB) {
            Ok(kb) => {
                let (buf, _) = touched((kb * 1024) as usize);
                let n = buf.len() as u64;
                st.cache.lock().unwrap().push(buf);
                st.cache_items.fetch_add(1, Relaxed);
                let total = st.cache_bytes.fetch_add(n, Relaxed) + n;
                reply(StatusCode::OK, json, format!("{{\"added_bytes\":{},\"cache_bytes\":{}}}\n", n, total))
            }
            Err(e) => reply(StatusCode::BAD_REQUEST, text, e),
        },
        "/queue" => match query_u64(&req, "kb", 64, MAX_KB) {
            Ok(kb) => {
                let (buf, _) = touched((kb * 1024) as usize);
                let n = buf.len() as u64;
                st.queue.lock().unwrap().push_back(buf);
                st.queue_items.fetch_add(1, Relaxed);
                let total = st.queue_bytes.fetch_add(n, Relaxed) + n;
                reply(StatusCode::OK, json, format!("{{\"added_bytes\":{},\"queue_bytes\":{}}}\n", n, total))
            }
            Err(e) => reply(StatusCode::BAD_REQUEST, text, e),
        },
        _ => reply(StatusCode::NOT_FOUND, text, "endpoints: /health /work /cache /queue /release /stats\n".into()),
    };
    Ok(resp)
}

const USAGE: &str = "usage: demo-rust-svc [--listen ADDR:PORT] [--drain-ms N] [--release] [--release-ms N] [--threads N]
  --listen      loopback address to serve on (env DEMO_LISTEN; default 127.0.0.1:8080; port 0 = any)
  --drain-ms    the queue drainer frees one item every N ms (env DEMO_DRAIN_MS; default 100)
  --release     release mode: malloc_trim(0) every --release-ms (env DEMO_RELEASE=1)
  --release-ms  period of the release mode (env DEMO_RELEASE_MS; default 1000)
  --threads     tokio worker threads (env DEMO_THREADS; default: one per CPU)";

fn die(msg: &str) -> ! {
    eprintln!("demo-rust-svc: {}\n{}", msg, USAGE);
    std::process::exit(2);
}

fn parse_num(name: &str, v: &str, min: u64, max: u64) -> u64 {
    match v.parse::<u64>() {
        Ok(n) if n >= min && n <= max => n,
        _ => die(&format!("{} '{}' is not an integer in {}..={}", name, v, min, max)),
    }
}

fn parse_listen(v: &str) -> SocketAddr {
    let addr: SocketAddr = v
        .parse()
        .unwrap_or_else(|_| die(&format!("--listen '{}' is not ADDR:PORT (e.g. 127.0.0.1:8080, [::1]:8080)", v)));
    let loopback = match addr.ip() {
        IpAddr::V4(a) => a.is_loopback(),
        IpAddr::V6(a) => a.is_loopback(),
    };
    if !loopback {
        die(&format!("--listen '{}' is not a loopback address (127.0.0.0/8 or ::1)", v));
    }
    addr
}

fn config() -> Config {
    let env = |k: &str| std::env::var(k).ok().filter(|s| !s.is_empty());
    let mut listen = env("DEMO_LISTEN").unwrap_or_else(|| "127.0.0.1:8080".into());
    let mut drain = env("DEMO_DRAIN_MS").unwrap_or_else(|| "100".into());
    let mut release_mode = env("DEMO_RELEASE").map(|v| v != "0").unwrap_or(false);
    let mut release_ms = env("DEMO_RELEASE_MS").unwrap_or_else(|| "1000".into());
    let mut threads = env("DEMO_THREADS").unwrap_or_else(|| "0".into());
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |name: &str| args.next().unwrap_or_else(|| die(&format!("{} needs a value", name)));
        match a.as_str() {
            "--listen" => listen = value("--listen"),
            "--drain-ms" => drain = value("--drain-ms"),
            "--release" => release_mode = true,
            "--release-ms" => release_ms = value("--release-ms"),
            "--threads" => threads = value("--threads"),
            "-h" | "--help" => {
                println!("{}", USAGE);
                std::process::exit(0);
            }
            other => die(&format!("unknown argument '{}'", other)),
        }
    }
    Config {
        listen: parse_listen(&listen),
        drain_ms: parse_num("--drain-ms", &drain, 1, 3_600_000),
        release_mode,
        release_ms: parse_num("--release-ms", &release_ms, 10, 3_600_000),
        threads: parse_num("--threads", &threads, 0, 1024) as usize,
    }
}

fn main() {
    let cfg = Arc::new(config());
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    rt.enable_all();
    if cfg.threads > 0 {
        rt.worker_threads(cfg.threads);
    }
    let rt = rt.build().unwrap_or_else(|e| die(&format!("tokio runtime: {}", e)));
    rt.block_on(serve(cfg));
}

async fn serve(cfg: Arc<Config>) {
    let st = Arc::new(State::default());

    // The slow consumer of the unbounded queue: one item per drain period.
    let (qst, drain_ms) = (st.clone(), cfg.drain_ms);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(drain_ms));
        loop {
            tick.tick().await;
            let item = qst.queue.lock().unwrap().pop_front();
            if let Some(buf) = item {
                qst.queue_bytes.fetch_sub(buf.len() as u64, Relaxed);
                qst.queue_items.fetch_sub(1, Relaxed);
                qst.queue_drained.fetch_add(1, Relaxed);
            }
        }
    });

    if cfg.release_mode {
        let ms = cfg.release_ms;
        let rst = st.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(ms));
            loop {
                tick.tick().await;
                // Only free pages go back; the cache and the queue are the service's data.
                tokio::task::spawn_blocking(trim_heap).await.ok();
                rst.releases.fetch_add(1, Relaxed);
            }
        });
    }

    let (sst, scfg) = (st.clone(), cfg.clone());
    let make = make_service_fn(move |_conn| {
        let (st, cfg) = (sst.clone(), scfg.clone());
        async move { Ok::<_, Infallible>(service_fn(move |req| handle(req, st.clone(), cfg.clone()))) }
    });
    let server = Server::try_bind(&cfg.listen)
        .unwrap_or_else(|e| {
            eprintln!("demo-rust-svc: cannot listen on {}: {}", cfg.listen, e);
            std::process::exit(1);
        })
        .http1_keepalive(true)
        .serve(make);
    // The bound address (port 0 picks one): scripts read this line.
    println!("demo-rust-svc listening on {}", server.local_addr());
    use std::io::Write;
    std::io::stdout().flush().ok();
    if let Err(e) = server.await {
        eprintln!("demo-rust-svc: server error: {}", e);
        std::process::exit(1);
    }
}
