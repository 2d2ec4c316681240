//! headroom demo service: jemalloc compiled into the binary as Rust's global allocator (the
//! common production set-up, here over Debian's static libjemalloc), publishing jemalloc's own
//! statistics on /metrics the way Rust services commonly export them. The heap shim cannot see
//! such a binary; `headroom run --metrics URL` reads this page instead (docs/heap.md).
//!
//! Endpoints: /health; /metrics (jemalloc_{allocated,active,resident,retained,metadata,mapped}_bytes);
//! /hold?kb=N keeps N KiB (every page written) until /release; /work?kb=N&ms=M holds N KiB for
//! M ms. Options: --listen ADDR:PORT (loopback, default 127.0.0.1:8081), --hold-mib N (held from
//! the start, before listening), --threads N.
//! Kept compatible with Debian's rustc 1.63 (no let-else).

use std::alloc::{GlobalAlloc, Layout};
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::os::raw::{c_char, c_int, c_void};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper::service::{make_service_fn, service_fn};
use hyper::{Body, Request, Response, Server, StatusCode};

extern "C" {
    fn mallocx(size: usize, flags: c_int) -> *mut c_void;
    fn rallocx(ptr: *mut c_void, size: usize, flags: c_int) -> *mut c_void;
    fn sdallocx(ptr: *mut c_void, size: usize, flags: c_int);
    fn mallctl(name: *const c_char, oldp: *mut c_void, oldlenp: *mut usize, newp: *mut c_void, newlen: usize) -> c_int;
}

const MALLOCX_ZERO: c_int = 0x40;
const MAX_KB: u64 = 1 << 20;
const MAX_MS: u64 = 60_000;
const PAGE: usize = 4096;

/// jemalloc's mallocx family: the alignment goes in the flags (MALLOCX_LG_ALIGN) when malloc's
/// own (16 bytes, or the size class for smaller sizes) would not do.
struct Jemalloc;

fn flags(layout: &Layout) -> c_int {
    if layout.align() <= 16 && layout.align() <= layout.size() {
        0
    } else {
        layout.align().trailing_zeros() as c_int
    }
}

unsafe impl GlobalAlloc for Jemalloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        mallocx(layout.size(), flags(&layout)) as *mut u8
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        mallocx(layout.size(), flags(&layout) | MALLOCX_ZERO) as *mut u8
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        sdallocx(ptr as *mut c_void, layout.size(), flags(&layout))
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new = Layout::from_size_align_unchecked(new_size, layout.align());
        rallocx(ptr as *mut c_void, new_size, flags(&new)) as *mut u8
    }
}

#[global_allocator]
static GLOBAL: Jemalloc = Jemalloc;

/// A size_t statistic; jemalloc caches them until "epoch" is written.
fn stat(name: &str) -> Option<usize> {
    let cname = format!("{}\0", name);
    let mut v: usize = 0;
    let mut len = std::mem::size_of::<usize>();
    // Safety: a NUL-terminated name, a size_t out-parameter of the given length, no new value.
    let rc = unsafe {
        mallctl(cname.as_ptr() as *const c_char, &mut v as *mut usize as *mut c_void, &mut len,
                std::ptr::null_mut(), 0)
    };
    if rc == 0 { Some(v) } else { None }
}

fn metrics_page() -> String {
    let mut epoch: u64 = 1;
    let mut len = std::mem::size_of::<u64>();
    // Safety: "epoch" takes and returns a uint64_t.
    unsafe {
        mallctl(b"epoch\0".as_ptr() as *const c_char, &mut epoch as *mut u64 as *mut c_void, &mut len,
                &mut epoch as *mut u64 as *mut c_void, std::mem::size_of::<u64>());
    }
    let mut page = String::new();
    for (name, help) in [
        ("allocated", "Bytes allocated by the application."),
        ("active", "Bytes in active pages allocated by the application."),
        ("resident", "Bytes in physically resident data pages mapped by the allocator."),
        ("retained", "Bytes in virtual memory mappings retained for reuse (not resident)."),
        ("metadata", "Bytes dedicated to jemalloc's own metadata."),
        ("mapped", "Bytes in active extents mapped by the allocator."),
    ] {
        if let Some(v) = stat(&format!("stats.{}", name)) {
            page.push_str(&format!("# HELP jemalloc_{n}_bytes {h}\n# TYPE jemalloc_{n}_bytes gauge\njemalloc_{n}_bytes {v}\n",
                                   n = name, h = help, v = v));
        }
    }
    page
}

/// `bytes` with every page written, so it is resident and counted.
fn filled(bytes: usize, seed: u8) -> Vec<u8> {
    let mut v = vec![0u8; bytes];
    let mut i = 0;
    while i < v.len() {
        v[i] = seed | 1;
        i += PAGE;
    }
    v
}

fn query(req: &Request<Body>, key: &str, default: u64, max: u64) -> Option<u64> {
    let q = req.uri().query().unwrap_or("");
    for kv in q.split('&') {
        let mut it = kv.splitn(2, '=');
        if it.next() == Some(key) {
            return it.next().and_then(|v| v.parse::<u64>().ok()).filter(|v| *v <= max);
        }
    }
    Some(default)
}

fn reply(code: StatusCode, body: String) -> Response<Body> {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = code;
    r.headers_mut().insert("content-type", "text/plain; version=0.0.4".parse().unwrap());
    r
}

async fn handle(req: Request<Body>, held: Arc<Mutex<Vec<Vec<u8>>>>) -> Result<Response<Body>, Infallible> {
    let path = req.uri().path().to_string();
    Ok(match path.as_str() {
        "/health" => reply(StatusCode::OK, "ok\n".into()),
        "/metrics" => reply(StatusCode::OK, metrics_page()),
        "/hold" => match query(&req, "kb", 64, MAX_KB) {
            Some(kb) => {
                let mut h = held.lock().unwrap();
                let seed = h.len() as u8;
                h.push(filled(kb as usize * 1024, seed));
                reply(StatusCode::OK, format!("held {} KiB more, {} blocks\n", kb, h.len()))
            }
            None => reply(StatusCode::BAD_REQUEST, format!("kb: 0..{}\n", MAX_KB)),
        },
        "/release" => {
            held.lock().unwrap().clear();
            reply(StatusCode::OK, "released\n".into())
        }
        "/work" => match (query(&req, "kb", 64, MAX_KB), query(&req, "ms", 20, MAX_MS)) {
            (Some(kb), Some(ms)) => {
                let v = filled(kb as usize * 1024, 7);
                tokio::time::sleep(Duration::from_millis(ms)).await;
                reply(StatusCode::OK, format!("worked {} KiB {} ms {}\n", kb, ms, v[0]))
            }
            _ => reply(StatusCode::BAD_REQUEST, format!("kb: 0..{}, ms: 0..{}\n", MAX_KB, MAX_MS)),
        },
        _ => reply(StatusCode::NOT_FOUND, "not found\n".into()),
    })
}

fn usage(msg: &str) -> ! {
    eprintln!("demo-rust-jemalloc-svc: {}\nusage: demo-rust-jemalloc-svc [--listen ADDR:PORT] [--hold-mib N] [--threads N]", msg);
    std::process::exit(2)
}

fn main() {
    let mut listen: SocketAddr = "127.0.0.1:8081".parse().unwrap();
    let mut hold_mib: usize = 0;
    let mut threads: usize = 0;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let val = args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--listen" => listen = val.parse().unwrap_or_else(|_| usage("--listen takes ADDR:PORT")),
            "--hold-mib" => hold_mib = val.parse().unwrap_or_else(|_| usage("--hold-mib takes a count")),
            "--threads" => threads = val.parse().unwrap_or_else(|_| usage("--threads takes a count")),
            _ => usage(&format!("unknown argument '{}'", args[i])),
        }
        i += 2;
    }
    let loopback = match listen.ip() {
        IpAddr::V4(a) => a.is_loopback(),
        IpAddr::V6(a) => a.is_loopback(),
    };
    if !loopback {
        usage("--listen must be a loopback address");
    }
    let held = Arc::new(Mutex::new(Vec::new()));
    {
        let mut h = held.lock().unwrap();
        for k in 0..hold_mib {
            h.push(filled(1 << 20, k as u8));
        }
    }
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    if threads > 0 {
        rt.worker_threads(threads);
    }
    let rt = rt.enable_all().build().expect("a tokio runtime");
    rt.block_on(async move {
        let make = make_service_fn(move |_| {
            let held = held.clone();
            async move { Ok::<_, Infallible>(service_fn(move |req| handle(req, held.clone()))) }
        });
        let server = Server::bind(&listen).serve(make);
        eprintln!("demo-rust-jemalloc-svc: listening on {} (jemalloc compiled in, {} MiB held)", listen, hold_mib);
        if let Err(e) = server.await {
            eprintln!("demo-rust-jemalloc-svc: {}", e);
            std::process::exit(1);
        }
    });
}
