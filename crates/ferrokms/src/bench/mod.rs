//! `ferrokms bench`: a load tool that drives a running server with requests signed as the
//! official SDKs sign them (TC3 for the Tencent dialect, ACS3 for the Alibaba one) over
//! keep-alive HTTP/1.1 connections, and reports requests/s and latency percentiles. The `local-*`
//! workloads run a bare loop of one primitive instead, through the crypto crate code the server
//! uses, as the yardstick of each request type.

mod cpu;
mod local;
mod sign;
mod workloads;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Args;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use serde_json::Value;
use sign::{Dialect, Signer};
use workloads::{Plan, Workload};

#[derive(Args)]
pub struct BenchArgs {
    /// Server address, host:port.
    #[arg(long, default_value = "127.0.0.1:8300")]
    endpoint: String,
    /// SecretId.
    #[arg(long, env = "FERROKMS_ACCESS_KEY_ID")]
    secret_id: String,
    /// SecretKey.
    #[arg(long, env = "FERROKMS_ACCESS_KEY_SECRET", hide_env_values = true)]
    secret_key: String,
    /// Region.
    #[arg(long, default_value = "ap-guangzhou")]
    region: String,
    /// What to send.
    #[arg(long, value_enum, default_value = "generate-data-key")]
    workload: Workload,
    /// Concurrent connections (each sends one request at a time).
    #[arg(long, default_value_t = 16)]
    connections: usize,
    /// Seconds to run.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Seconds of warm-up before measuring.
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// Use this CMK instead of creating one (e.g. against a bare server that checks nothing);
    /// the workloads of asymmetric and HMAC keys always make their own.
    #[arg(long)]
    key_id: Option<String>,
    /// `decrypt` only: spread the requests over this many keys, one ciphertext each, in turn
    /// (with a server whose `[keys] cache_capacity` is smaller, every request unseals its key:
    /// the cold path, e.g. of a root key in an HSM).
    #[arg(long, default_value_t = 1)]
    keys: usize,
    /// Send nothing: print one signed request of the workload for another load generator such
    /// as wrk (Tencent workloads only; an ACS3 request carries a nonce and is good only once).
    /// Line 1 is the body; line 2 the headers, `Name: value` pairs joined by `|`. It stays valid
    /// for the server's clock skew (300 s by default).
    #[arg(long)]
    print_presigned: bool,
    /// The server's process id (on the same machine): the report adds `cpu_us_per_op`, the
    /// server's CPU time over the measured window divided by the requests (the local loops
    /// always report their own).
    #[arg(long)]
    server_pid: Option<u32>,
}

/// What a run measured.
struct Measured {
    /// Latencies in µs.
    latencies: Vec<u32>,
    errors: u64,
    first_error: Option<String>,
    /// The measured window's seconds.
    elapsed: f64,
    /// CPU seconds the working process (the server, or this loop) used in the window.
    cpu: Option<f64>,
}

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

async fn connect(endpoint: &str) -> Result<Sender, String> {
    let stream = tokio::net::TcpStream::connect(endpoint).await.map_err(|e| format!("connect {endpoint}: {e}"))?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let io = hyper_util::rt::TokioIo::new(stream);
    let (sender, conn) = hyper::client::conn::http1::handshake(io).await.map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    Ok(sender)
}

/// Sends a request; an error response (either dialect's envelope) is an `Err`.
async fn call(sender: &mut Sender, req: Request<Full<Bytes>>) -> Result<Value, String> {
    sender.ready().await.map_err(|e| e.to_string())?;
    let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
    let status = resp.status();
    let body = resp.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
    let v: Value = serde_json::from_slice(&body).map_err(|e| format!("not JSON: {e}"))?;
    if let Some(err) = v.pointer("/Response/Error") {
        return Err(err.to_string());
    }
    if !status.is_success() || v.get("Code").is_some() {
        return Err(format!("{status}: {v}"));
    }
    Ok(v)
}

/// Drives the server: one task per connection, each one request at a time.
async fn drive(args: &BenchArgs, signer: Arc<Signer>, plan: Plan) -> Result<Measured, String> {
    let Plan { action, make, check } = plan;
    let measuring = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::with_capacity(args.connections);
    for conn in 0..args.connections {
        let mut sender = connect(&args.endpoint).await?;
        let (signer, make, check) = (signer.clone(), make.clone(), check.clone());
        let (measuring, stop) = (measuring.clone(), stop.clone());
        let endpoint = args.endpoint.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies: Vec<u32> = Vec::with_capacity(1 << 16);
            let (mut errors, mut first_error, mut i) = (0u64, None, 0u64);
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let (params, json) = make(conn, i);
                let req = signer.request(action, &params, json);
                let started = Instant::now();
                let result = call(&mut sender, req).await.and_then(|v| {
                    if check(&v) { Ok(()) } else { Err(format!("{action}: not the expected answer: {v}")) }
                });
                let micros = u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX);
                if measuring.load(Ordering::Relaxed) {
                    latencies.push(micros);
                    if let Err(e) = result {
                        errors += 1;
                        first_error.get_or_insert(e);
                    }
                } else if let Err(e) = result
                    && e.contains("connection")
                {
                    return (latencies, 1, Some(e));
                }
                // A connection the server closed sends nothing more: a new one, or, with the
                // server gone, the end of this loop (which would otherwise fail at once, again
                // and again, without ever yielding, and starve the timer that ends the run).
                if sender.is_closed() {
                    match connect(&endpoint).await {
                        Ok(s) => sender = s,
                        Err(e) => return (latencies, errors + 1, first_error.or(Some(e))),
                    }
                }
            }
            (latencies, errors, first_error)
        }));
    }
    tokio::time::sleep(Duration::from_secs_f64(args.warmup)).await;
    let pid = args.server_pid.map(|p| p.to_string());
    let cpu_before = pid.as_deref().and_then(cpu::seconds);
    measuring.store(true, Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs_f64(args.duration)).await;
    measuring.store(false, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = cpu_before.zip(pid.as_deref().and_then(cpu::seconds)).map(|(b, a)| a - b);
    stop.store(true, Ordering::Relaxed);
    let (mut all, mut errors, mut first_error) = (Vec::new(), 0u64, None);
    for t in tasks {
        let (lat, err, first) = t.await.map_err(|e| e.to_string())?;
        all.extend(lat);
        errors += err;
        if first_error.is_none() {
            first_error = first;
        }
    }
    Ok(Measured { latencies: all, errors, first_error, elapsed, cpu })
}

/// Prints a signed request as `--print-presigned` says.
async fn print_presigned(req: Request<Full<Bytes>>) -> Result<(), String> {
    // Capitalised as clients write them: wrk adds a `Host` of its own unless it sees one.
    let title = |name: &str| -> String {
        let words: Vec<String> =
            name.split('-').map(|w| w[..1.min(w.len())].to_ascii_uppercase() + &w[1.min(w.len())..]).collect();
        words.join("-")
    };
    let headers: Vec<String> = req
        .headers()
        .iter()
        .map(|(k, v)| format!("{}: {}", title(k.as_str()), v.to_str().unwrap_or_default()))
        .collect();
    let body = req.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
    println!("{}", String::from_utf8_lossy(&body));
    println!("{}", headers.join("|"));
    Ok(())
}

pub async fn run(args: BenchArgs) -> Result<(), String> {
    let signer = Arc::new(Signer::new(
        args.workload.dialect(),
        args.secret_id.clone(),
        args.secret_key.clone(),
        args.region.clone(),
        args.endpoint.clone(),
    ));
    if args.print_presigned && args.workload.dialect() != Dialect::Tencent {
        return Err("--print-presigned: only the Tencent workloads can be presigned".into());
    }
    let measured = if args.workload.is_local() {
        if args.print_presigned {
            return Err("--print-presigned: the local workloads send nothing".into());
        }
        let op = local::op(args.workload)?;
        let (threads, warmup, duration) = (args.connections, args.warmup, args.duration);
        tokio::task::spawn_blocking(move || local::run(op, threads, warmup, duration))
            .await
            .map_err(|e| e.to_string())?
    } else {
        let plan = workloads::prepare(args.workload, &args.endpoint, &signer, args.key_id.clone(), args.keys).await?;
        if args.print_presigned {
            let (params, json) = (plan.make)(0, 1);
            return print_presigned(signer.request(plan.action, &params, json)).await;
        }
        drive(&args, signer, plan).await?
    };
    let Measured { latencies: mut all, errors, first_error, elapsed, cpu } = measured;
    all.sort_unstable();
    let pct = |p: f64| -> f64 {
        if all.is_empty() {
            return 0.0;
        }
        let idx = ((all.len() as f64 * p).ceil() as usize).clamp(1, all.len()) - 1;
        f64::from(all[idx]) / 1000.0
    };
    // The working process's CPU per operation, when known (`--server-pid`, or a local loop).
    let cpu = match cpu.filter(|_| !all.is_empty()) {
        Some(seconds) => format!(" cpu_us_per_op={:.1}", seconds * 1e6 / all.len() as f64),
        None => String::new(),
    };
    println!(
        "workload={:?} connections={} seconds={elapsed:.1} requests={} errors={errors} rps={:.0} p50_ms={:.2} p99_ms={:.2} p999_ms={:.2}{cpu}",
        args.workload,
        args.connections,
        all.len(),
        all.len() as f64 / elapsed,
        pct(0.50),
        pct(0.99),
        pct(0.999),
    );
    if let Some(e) = first_error {
        eprintln!("first error: {e}");
    }
    Ok(())
}
