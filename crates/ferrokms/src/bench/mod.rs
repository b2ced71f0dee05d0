//! `ferrokms bench`: a load tool that drives a running server with requests signed as the
//! official SDKs sign them (TC3 for the Tencent dialect, ACS3 for the Alibaba one) over
//! keep-alive HTTP/1.1 connections, and reports requests/s and latency percentiles. The `local-*`
//! workloads run a bare public-key encryption loop instead, as a yardstick.

mod local;
mod sign;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use clap::{Args, ValueEnum};
use ferrokms_crypto::wrap::WrapAlgorithm;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use serde_json::{Value, json};
use sign::{Dialect, Signer};

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
enum Workload {
    /// GenerateDataKey, AES_256.
    GenerateDataKey,
    /// GenerateDataKey wrapped to an RSA-2048 public key (OAEP-SHA256).
    GenerateDataKeyRsa,
    /// GenerateDataKey hosted by the KMS (durable before the answer).
    GenerateDataKeyHosted,
    /// Encrypt of 32 bytes.
    Encrypt,
    /// Decrypt of a 32-byte ciphertext.
    Decrypt,
    /// Alibaba GenerateDataKey, AES_256 (ACS3-signed).
    AliGenerateDataKey,
    /// Alibaba GenerateAndExportDataKey to an RSA_2048 key, RSAES_OAEP_SHA_256.
    AliExportRsa,
    /// Alibaba GenerateAndExportDataKey to an EC_SM2 key, SM2PKE.
    AliExportSm2,
    /// No server: RSA-2048 OAEP-SHA256 encryption of 32 bytes in a loop per connection (thread).
    LocalRsaOaep,
    /// No server: SM2 encryption (GM/T 0009 DER) of 32 bytes in a loop per connection (thread).
    LocalSm2,
}

impl Workload {
    fn dialect(self) -> Dialect {
        match self {
            Self::AliGenerateDataKey | Self::AliExportRsa | Self::AliExportSm2 => Dialect::Alibaba,
            _ => Dialect::Tencent,
        }
    }
}

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
    /// Use this CMK instead of creating one (e.g. against a bare server that checks nothing).
    #[arg(long)]
    key_id: Option<String>,
    /// Send nothing: print one signed request of the workload for another load generator such
    /// as wrk (Tencent workloads only; an ACS3 request carries a nonce and is good only once).
    /// Line 1 is the body; line 2 the headers, `Name: value` pairs joined by `|`. It stays valid
    /// for the server's clock skew (300 s by default).
    #[arg(long)]
    print_presigned: bool,
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

/// The caller's public keys for the export workloads (base64 SPKI).
fn sm2_public_key() -> Result<Vec<u8>, String> {
    use sm2::elliptic_curve::Generate;
    use sm2::pkcs8::EncodePublicKey;
    let secret = sm2::SecretKey::generate();
    Ok(secret.public_key().to_public_key_der().map_err(|e| e.to_string())?.as_bytes().to_vec())
}

fn rsa_public_key() -> Result<Vec<u8>, String> {
    use aws_lc_rs::encoding::AsDer;
    let key = aws_lc_rs::rsa::PrivateDecryptingKey::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
        .map_err(|_| "RSA key generation failed".to_string())?;
    let der = key.public_key().as_der().map_err(|_| "RSA public key encoding failed".to_string())?;
    Ok(der.as_ref().to_vec())
}

/// Random hex, so concurrent or back-to-back runs never reuse an alias or data key name.
fn random_hex() -> String {
    ferrokms_crypto::random::array::<8>().unwrap_or_default().iter().map(|b| format!("{b:02x}")).collect()
}

/// One request's content: query parameters (Alibaba) or a JSON body (Tencent).
type Payload = (Vec<(String, String)>, Vec<u8>);
/// Makes the payload of request `i` of connection `conn`.
type PayloadMaker = Arc<dyn Fn(usize, u64) -> Payload + Send + Sync>;

fn tencent(body: Value) -> Payload {
    (Vec::new(), body.to_string().into_bytes())
}

fn alibaba(params: &[(&str, &str)]) -> Payload {
    (params.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(), Vec::new())
}

/// What the workload needs prepared: a key, a blob, a caller public key.
struct Setup {
    key_id: String,
    blob: String,
    public_key: Vec<u8>,
}

/// The action and a payload maker for each request of a connection.
fn workload(w: Workload, s: Setup) -> (&'static str, PayloadMaker) {
    let Setup { key_id, blob, public_key } = s;
    let run = random_hex();
    let pem = ferrokms_crypto::pem::encode(&public_key, "PUBLIC KEY");
    let b64 = STANDARD.encode(&public_key);
    const PLAINTEXT: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
    match w {
        Workload::GenerateDataKey => {
            ("GenerateDataKey", Arc::new(move |_, _| tencent(json!({"KeyId": key_id, "KeySpec": "AES_256"}))))
        }
        Workload::GenerateDataKeyRsa => (
            "GenerateDataKey",
            Arc::new(move |_, _| {
                tencent(json!({"KeyId": key_id, "KeySpec": "AES_256", "EncryptionPublicKey": pem,
                               "EncryptionAlgorithm": "RSAES_OAEP_SHA_256"}))
            }),
        ),
        Workload::GenerateDataKeyHosted => (
            "GenerateDataKey",
            Arc::new(move |conn, i| {
                tencent(json!({"KeyId": key_id, "KeySpec": "AES_256", "IsHostedByKms": 1,
                               "DataKeyName": format!("bench-{run}-{conn}-{i}")}))
            }),
        ),
        Workload::Encrypt => {
            ("Encrypt", Arc::new(move |_, _| tencent(json!({"KeyId": key_id, "Plaintext": PLAINTEXT}))))
        }
        Workload::Decrypt => ("Decrypt", Arc::new(move |_, _| tencent(json!({"CiphertextBlob": blob})))),
        Workload::AliGenerateDataKey => {
            ("GenerateDataKey", Arc::new(move |_, _| alibaba(&[("KeyId", &key_id), ("KeySpec", "AES_256")])))
        }
        Workload::AliExportRsa | Workload::AliExportSm2 => {
            let (spec, alg) =
                if w == Workload::AliExportRsa { ("RSA_2048", "RSAES_OAEP_SHA_256") } else { ("EC_SM2", "SM2PKE") };
            (
                "GenerateAndExportDataKey",
                Arc::new(move |_, _| {
                    alibaba(&[
                        ("KeyId", &key_id),
                        ("KeySpec", "AES_256"),
                        ("PublicKeyBlob", &b64),
                        ("WrappingKeySpec", spec),
                        ("WrappingAlgorithm", alg),
                    ])
                }),
            )
        }
        Workload::LocalRsaOaep | Workload::LocalSm2 => ("local", Arc::new(|_, _| (Vec::new(), Vec::new()))),
    }
}

/// Creates the CMK (and the blob, for Decrypt) the workload uses.
async fn prepare(args: &BenchArgs, signer: &Signer) -> Result<Setup, String> {
    let public_key = match args.workload {
        Workload::GenerateDataKeyRsa | Workload::AliExportRsa | Workload::LocalRsaOaep => rsa_public_key()?,
        Workload::AliExportSm2 | Workload::LocalSm2 => sm2_public_key()?,
        _ => Vec::new(),
    };
    let mut setup = Setup { key_id: args.key_id.clone().unwrap_or_default(), blob: String::new(), public_key };
    if matches!(args.workload, Workload::LocalRsaOaep | Workload::LocalSm2) {
        return Ok(setup);
    }
    let mut conn = connect(&args.endpoint).await?;
    if setup.key_id.is_empty() {
        // Random, so runs started within the same second do not collide on the alias.
        let alias = format!("bench-{}", random_hex());
        let v =
            call(&mut conn, signer.request("CreateKey", &[], json!({"Alias": alias}).to_string().into_bytes())).await?;
        let id = v.pointer("/Response/KeyId").or_else(|| v.pointer("/KeyMetadata/KeyId"));
        setup.key_id = id.and_then(Value::as_str).ok_or("CreateKey returned no KeyId")?.to_owned();
    }
    if args.workload == Workload::Decrypt {
        let body = json!({"KeyId": setup.key_id, "Plaintext": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="});
        let v = call(&mut conn, signer.request("Encrypt", &[], body.to_string().into_bytes())).await?;
        setup.blob = v.pointer("/Response/CiphertextBlob").and_then(Value::as_str).unwrap_or_default().to_owned();
    }
    Ok(setup)
}

/// Drives the server: one task per connection, each one request at a time.
async fn drive(
    args: &BenchArgs,
    signer: Arc<Signer>,
    action: &'static str,
    make: PayloadMaker,
) -> Result<(Vec<u32>, u64, Option<String>, f64), String> {
    let measuring = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::with_capacity(args.connections);
    for conn in 0..args.connections {
        let mut sender = connect(&args.endpoint).await?;
        let (signer, make, measuring, stop) = (signer.clone(), make.clone(), measuring.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies: Vec<u32> = Vec::with_capacity(1 << 16);
            let (mut errors, mut first_error, mut i) = (0u64, None, 0u64);
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let (params, json) = make(conn, i);
                let req = signer.request(action, &params, json);
                let started = Instant::now();
                let result = call(&mut sender, req).await;
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
            }
            (latencies, errors, first_error)
        }));
    }
    tokio::time::sleep(Duration::from_secs_f64(args.warmup)).await;
    measuring.store(true, Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs_f64(args.duration)).await;
    measuring.store(false, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
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
    Ok((all, errors, first_error, elapsed))
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
    let setup = prepare(&args, &signer).await?;
    if args.print_presigned {
        let (action, make) = workload(args.workload, setup);
        let (params, json) = make(0, 1);
        return print_presigned(signer.request(action, &params, json)).await;
    }
    let (mut all, errors, first_error, elapsed) = match args.workload {
        Workload::LocalRsaOaep | Workload::LocalSm2 => {
            let alg = if args.workload == Workload::LocalSm2 {
                WrapAlgorithm::Sm2C1C3C2Der
            } else {
                WrapAlgorithm::RsaOaepSha256
            };
            let (spki, threads, warmup, duration) =
                (setup.public_key.clone(), args.connections, args.warmup, args.duration);
            let (lat, secs) = tokio::task::spawn_blocking(move || local::run(&spki, alg, threads, warmup, duration))
                .await
                .map_err(|e| e.to_string())?;
            (lat, 0, None, secs)
        }
        w => {
            let (action, make) = workload(w, setup);
            drive(&args, signer, action, make).await?
        }
    };
    all.sort_unstable();
    let pct = |p: f64| -> f64 {
        if all.is_empty() {
            return 0.0;
        }
        let idx = ((all.len() as f64 * p).ceil() as usize).clamp(1, all.len()) - 1;
        f64::from(all[idx]) / 1000.0
    };
    println!(
        "workload={:?} connections={} seconds={elapsed:.1} requests={} errors={errors} rps={:.0} p50_ms={:.2} p99_ms={:.2} p999_ms={:.2}",
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
