//! Shared pieces of the fuzz targets: a raw HTTP request reader (so seeds are real requests in
//! plain text), and an allocation meter that turns "allocates more than the request's size"
//! into a crash.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};

// ---------------------------------------------------------------------------------------------
// Allocation meter
// ---------------------------------------------------------------------------------------------

/// The system allocator, counting live bytes and the peak since the last [`bounded`] began, and
/// refusing any single allocation over [`MAX_ALLOCATION`] (Rust then aborts with "memory
/// allocation of N bytes failed", which libFuzzer reports as a crash). libFuzzer's own
/// `-malloc_limit_mb` works only under a sanitizer, and the targets are built without one.
struct Metered;

/// Largest single allocation: 64 MiB, a thousand times the largest request body.
pub const MAX_ALLOCATION: usize = 64 << 20;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn add(n: usize) {
    let live = LIVE.fetch_add(n, Ordering::Relaxed) + n;
    PEAK.fetch_max(live, Ordering::Relaxed);
}

fn sub(n: usize) {
    LIVE.fetch_sub(n, Ordering::Relaxed);
}

// SAFETY: every call is forwarded to `System` unchanged; only counters are updated around it.
unsafe impl GlobalAlloc for Metered {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() > MAX_ALLOCATION {
            return std::ptr::null_mut();
        }
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            add(layout.size());
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.size() > MAX_ALLOCATION {
            return std::ptr::null_mut();
        }
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            add(layout.size());
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        sub(layout.size());
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > MAX_ALLOCATION {
            return std::ptr::null_mut();
        }
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            sub(layout.size());
            add(new_size);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Metered = Metered;

/// Fixed allowance for a call (tables, small buffers, the error strings), in bytes.
pub const BASE_ALLOWANCE: usize = 256 * 1024;
/// Allowance per input byte: canonicalisation percent-encodes (x3) what is then percent-encoded
/// again (RPC v1, x9), escapes, and sorts copies; anything linear in the input fits in this.
pub const PER_INPUT_BYTE: usize = 32;

/// Runs `f` and panics if the memory it held at its peak (above what was live before) exceeds
/// `BASE_ALLOWANCE + PER_INPUT_BYTE * input_len`: work on a request must stay proportional to its
/// size, so an amplification (say, quadratic canonicalisation) is a finding.
pub fn bounded<T>(input_len: usize, f: impl FnOnce() -> T) -> T {
    let limit = BASE_ALLOWANCE + PER_INPUT_BYTE * input_len;
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let out = f();
    let peak = PEAK.load(Ordering::Relaxed).saturating_sub(before);
    assert!(peak <= limit, "held {peak} bytes at the peak for a {input_len}-byte input (limit {limit})");
    out
}

/// Whether `FERROKMS_FUZZ_TRACE=1`: the targets then print what each input came to (run a
/// target binary on a few files to see, e.g., that the signed seeds verify).
pub fn trace() -> bool {
    static TRACE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *TRACE.get_or_init(|| std::env::var_os("FERROKMS_FUZZ_TRACE").is_some_and(|v| v == "1"))
}

// ---------------------------------------------------------------------------------------------
// Raw requests
// ---------------------------------------------------------------------------------------------

/// A request as the server sees it after hyper: method, raw query, headers, raw body.
#[derive(Debug)]
pub struct RawRequest {
    pub method: Method,
    pub query: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl RawRequest {
    /// Reads an HTTP/1.1-style request: `METHOD TARGET [VERSION]`, header lines `Name: value`,
    /// an empty line, then the body verbatim (line ends `\n` or `\r\n`). What hyper would refuse
    /// (a bad method, target, header name or value) makes the input uninteresting: `None`, or the
    /// header is skipped.
    pub fn parse(data: &[u8]) -> Option<RawRequest> {
        let mut rest = data;
        let mut next_line = || -> Option<&[u8]> {
            let at = rest.iter().position(|&b| b == b'\n')?;
            let line = &rest[..at];
            rest = &rest[at + 1..];
            Some(line.strip_suffix(b"\r").unwrap_or(line))
        };
        let start = next_line()?;
        let mut parts = start.split(|&b| b == b' ');
        let method = Method::from_bytes(parts.next()?).ok()?;
        let target: Uri = std::str::from_utf8(parts.next().unwrap_or(b"/")).ok()?.parse().ok()?;
        let query = target.query().unwrap_or_default().to_owned();
        let mut headers = HeaderMap::new();
        loop {
            let Some(line) = next_line() else { break };
            if line.is_empty() {
                break;
            }
            let Some(colon) = line.iter().position(|&b| b == b':') else { continue };
            let (Ok(name), Ok(value)) =
                (HeaderName::from_bytes(&line[..colon]), HeaderValue::from_bytes(line[colon + 1..].trim_ascii()))
            else {
                continue;
            };
            headers.append(name, value);
        }
        Some(RawRequest { method, query, headers, body: rest.to_vec() })
    }

    /// The first value of `name` as trimmed text, as both fronts read headers.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim)
    }
}

// ---------------------------------------------------------------------------------------------
// The Alibaba signature targets (one harness, three corpora)
// ---------------------------------------------------------------------------------------------

/// The AccessKey secret of the signed seeds (the spec's worked examples).
pub const ALIBABA_SECRET: &str = "testAccessKeySecret";

/// Which scheme a target concentrates on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlibabaScheme {
    Acs3,
    Acs4,
    Rpc,
}

/// `Params::new` + the lookups the actions use + `sign::claimed` + `sign::verify`, as the
/// Alibaba front runs them; inputs claiming another scheme than `want` stop after `claimed`.
pub fn alibaba(data: &[u8], want: AlibabaScheme) {
    use ferrokms_alibaba::params::Params;
    use ferrokms_alibaba::sign::{self, HttpRequest, Scheme};

    let Some(req) = RawRequest::parse(data) else { return };
    bounded(data.len(), || {
        let Ok(params) = Params::new(&req.query, &req.body, req.header("content-type")) else { return };
        let _ = params.get("Format");
        let _ = params.duplicate_name();
        let _ = params.list("KeyIds");
        let _ = params.object_list("Tag", &["TagKey", "TagValue"]);
        let http = HttpRequest { method: req.method.as_str(), headers: &req.headers, body: &req.body };
        let Ok(Some(claimed)) = sign::claimed(&http, &params) else { return };
        let scheme = match claimed.scheme {
            Scheme::Acs3 { .. } => AlibabaScheme::Acs3,
            Scheme::Acs4 { .. } => AlibabaScheme::Acs4,
            Scheme::RpcV1 { .. } => AlibabaScheme::Rpc,
        };
        if scheme != want {
            return;
        }
        let first = sign::verify(&claimed, ALIBABA_SECRET, &http, &params);
        if trace() {
            eprintln!("{want:?}: {:?}", first.as_ref().map_err(|e| e.to_string()));
        }
        let again = sign::verify(&claimed, ALIBABA_SECRET, &http, &params);
        assert_eq!(first, again, "verification is deterministic");
        if first.is_ok() {
            assert!(sign::verify(&claimed, "another secret", &http, &params).is_err(), "the secret matters");
        }
    });
}
