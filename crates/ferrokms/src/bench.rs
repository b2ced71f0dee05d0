//! `ferrokms bench`: a load tool that drives a running server with TC3-signed requests over
//! keep-alive HTTP/1.1 connections and reports requests/s and latency percentiles.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use aws_lc_rs::{digest, hmac};
use bytes::Bytes;
use clap::{Args, ValueEnum};
use http_body_util::{BodyExt, Full};
use hyper::Request;
use serde_json::{Value, json};

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
}

struct Signer {
    secret_id: String,
    secret_key: String,
    region: String,
    host: String,
}

impl Signer {
    fn request(&self, action: &str, body: Vec<u8>) -> Request<Full<Bytes>> {
        let ts = ferrokms_core::model::now();
        let date = ferrokms_tencent::tc3::utc_date(i64::try_from(ts).unwrap_or_default()).unwrap_or_default();
        let hashed = hex(digest::digest(&digest::SHA256, &body).as_ref());
        let canonical =
            format!("POST\n/\n\ncontent-type:application/json\nhost:{}\n\ncontent-type;host\n{hashed}", self.host);
        let sts = format!(
            "TC3-HMAC-SHA256\n{ts}\n{date}/kms/tc3_request\n{}",
            hex(digest::digest(&digest::SHA256, canonical.as_bytes()).as_ref())
        );
        let key = ferrokms_tencent::tc3::signing_key(&self.secret_key, &date, "kms");
        let sig = hex(hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &key), sts.as_bytes()).as_ref());
        let auth = format!(
            "TC3-HMAC-SHA256 Credential={}/{date}/kms/tc3_request, SignedHeaders=content-type;host, Signature={sig}",
            self.secret_id
        );
        Request::post("/")
            .header("host", &self.host)
            .header("content-type", "application/json")
            .header("authorization", auth)
            .header("x-tc-action", action)
            .header("x-tc-version", "2019-01-18")
            .header("x-tc-timestamp", ts.to_string())
            .header("x-tc-region", &self.region)
            .body(Full::new(Bytes::from(body)))
            .unwrap_or_default()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
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

async fn call(sender: &mut Sender, req: Request<Full<Bytes>>) -> Result<Value, String> {
    sender.ready().await.map_err(|e| e.to_string())?;
    let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
    let body = resp.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
    let v: Value = serde_json::from_slice(&body).map_err(|e| format!("not JSON: {e}"))?;
    match v.pointer("/Response/Error") {
        Some(err) => Err(err.to_string()),
        None => Ok(v),
    }
}

fn rsa_public_key_pem() -> Result<String, String> {
    use aws_lc_rs::encoding::AsDer;
    let key = aws_lc_rs::rsa::PrivateDecryptingKey::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
        .map_err(|_| "RSA key generation failed".to_string())?;
    let der = key.public_key().as_der().map_err(|_| "RSA public key encoding failed".to_string())?;
    Ok(ferrokms_crypto::pem::encode(der.as_ref(), "PUBLIC KEY"))
}

/// Makes the body of request `i` of connection `conn`.
type BodyMaker = Arc<dyn Fn(usize, u64) -> Vec<u8> + Send + Sync>;

/// The action and a body maker for each request of a connection.
fn workload(args: &BenchArgs, key_id: &str, blob: &str, pem: &str) -> (&'static str, BodyMaker) {
    let key_id = key_id.to_owned();
    let run = ferrokms_core::model::now();
    match args.workload {
        Workload::GenerateDataKey => (
            "GenerateDataKey",
            Arc::new(move |_, _| json!({"KeyId": key_id, "KeySpec": "AES_256"}).to_string().into_bytes()),
        ),
        Workload::GenerateDataKeyRsa => {
            let pem = pem.to_owned();
            (
                "GenerateDataKey",
                Arc::new(move |_, _| {
                    json!({"KeyId": key_id, "KeySpec": "AES_256", "EncryptionPublicKey": pem,
                           "EncryptionAlgorithm": "RSAES_OAEP_SHA_256"})
                    .to_string()
                    .into_bytes()
                }),
            )
        }
        Workload::GenerateDataKeyHosted => (
            "GenerateDataKey",
            Arc::new(move |conn, i| {
                json!({"KeyId": key_id, "KeySpec": "AES_256", "IsHostedByKms": 1,
                       "DataKeyName": format!("bench-{run}-{conn}-{i}")})
                .to_string()
                .into_bytes()
            }),
        ),
        Workload::Encrypt => (
            "Encrypt",
            Arc::new(move |_, _| {
                json!({"KeyId": key_id, "Plaintext": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="})
                    .to_string()
                    .into_bytes()
            }),
        ),
        Workload::Decrypt => {
            let blob = blob.to_owned();
            ("Decrypt", Arc::new(move |_, _| json!({"CiphertextBlob": blob}).to_string().into_bytes()))
        }
    }
}

pub async fn run(args: BenchArgs) -> Result<(), String> {
    let signer = Arc::new(Signer {
        secret_id: args.secret_id.clone(),
        secret_key: args.secret_key.clone(),
        region: args.region.clone(),
        host: args.endpoint.clone(),
    });
    let mut setup = connect(&args.endpoint).await?;
    let key_id = match &args.key_id {
        Some(k) => k.clone(),
        None => {
            let alias = format!("bench-{}", ferrokms_core::model::now());
            let v =
                call(&mut setup, signer.request("CreateKey", json!({"Alias": alias}).to_string().into_bytes())).await?;
            v.pointer("/Response/KeyId").and_then(Value::as_str).ok_or("CreateKey returned no KeyId")?.to_owned()
        }
    };
    let blob = if args.workload == Workload::Decrypt {
        let body = json!({"KeyId": key_id, "Plaintext": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="});
        let v = call(&mut setup, signer.request("Encrypt", body.to_string().into_bytes())).await?;
        v.pointer("/Response/CiphertextBlob").and_then(Value::as_str).unwrap_or_default().to_owned()
    } else {
        String::new()
    };
    let pem = if args.workload == Workload::GenerateDataKeyRsa { rsa_public_key_pem()? } else { String::new() };
    let (action, make_body) = workload(&args, &key_id, &blob, &pem);

    let measuring = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::with_capacity(args.connections);
    for conn in 0..args.connections {
        let mut sender = connect(&args.endpoint).await?;
        let (signer, make_body, measuring, stop) = (signer.clone(), make_body.clone(), measuring.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies: Vec<u32> = Vec::with_capacity(1 << 16);
            let (mut errors, mut first_error, mut i) = (0u64, None, 0u64);
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let req = signer.request(action, make_body(conn, i));
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
