//! Bare loops of one primitive on this machine's cores, with no server: the yardstick for each
//! request type, run through the crypto crate's own code (the [`PreparedKey`] the server's key
//! cache holds, or the [`WrappingKey`] of a caller's public key), on the same input.

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use ferrokms_crypto::blob::{HYBRID_HEADER_LEN, associated_data};
use ferrokms_crypto::key::{HmacAlgorithm, KeyKind, Message, PreparedKey, SignatureAlgorithm};
use ferrokms_crypto::wrap::{WrapAlgorithm, WrappingKey};

use super::Measured;
use super::cpu;
use super::workloads::{MESSAGE, Workload, rsa_public_key, sm2_public_key};

/// One operation of the loop; `false` if it failed.
pub(super) type Op = Arc<dyn Fn() -> bool + Send + Sync>;

fn prepared(kind: KeyKind) -> Result<PreparedKey, String> {
    let material = kind.generate().map_err(|e| e.to_string())?;
    PreparedKey::new(kind, &material).map_err(|e| e.to_string())
}

fn encrypt_to(spki: &[u8], algorithm: WrapAlgorithm) -> Result<Op, String> {
    let key = WrappingKey::from_spki_der(spki).map_err(|e| e.to_string())?;
    Ok(Arc::new(move || black_box(key.encrypt(algorithm, MESSAGE)).is_ok()))
}

fn decrypt(kind: KeyKind, algorithm: WrapAlgorithm) -> Result<Op, String> {
    let key = prepared(kind)?;
    let ct = key.encrypt(algorithm, MESSAGE).map_err(|e| e.to_string())?;
    Ok(Arc::new(move || key.decrypt(algorithm, black_box(&ct)).is_ok_and(|p| p[..] == MESSAGE[..])))
}

fn sign(kind: KeyKind, algorithm: SignatureAlgorithm) -> Result<Op, String> {
    let key = prepared(kind)?;
    Ok(Arc::new(move || black_box(key.sign(algorithm, Message::Raw(black_box(MESSAGE)))).is_ok()))
}

/// The loop's operation for a `local-*` workload, with its key and input made once.
pub(super) fn op(w: Workload) -> Result<Op, String> {
    match w {
        Workload::LocalRsaOaep => encrypt_to(&rsa_public_key()?, WrapAlgorithm::RsaOaepSha256),
        Workload::LocalSm2 => encrypt_to(&sm2_public_key()?, WrapAlgorithm::Sm2C1C3C2Der),
        Workload::LocalRsaDecrypt => decrypt(KeyKind::Rsa2048, WrapAlgorithm::RsaOaepSha256),
        Workload::LocalSm2Decrypt => decrypt(KeyKind::Sm2, WrapAlgorithm::Sm2C1C3C2Der),
        Workload::LocalEcdsaSign => sign(KeyKind::EcP256, SignatureAlgorithm::EcdsaSha256),
        Workload::LocalSm2Sign => sign(KeyKind::Sm2, SignatureAlgorithm::Sm2Sm3),
        Workload::LocalRsaSign => sign(KeyKind::Rsa2048, SignatureAlgorithm::RsaPssSha256),
        Workload::LocalMldsaSign => sign(KeyKind::MlDsa65, SignatureAlgorithm::MlDsa65),
        Workload::LocalEcdsaVerify => {
            let (key, alg) = (prepared(KeyKind::EcP256)?, SignatureAlgorithm::EcdsaSha256);
            let sig = key.sign(alg, Message::Raw(MESSAGE)).map_err(|e| e.to_string())?;
            Ok(Arc::new(move || key.verify(alg, Message::Raw(black_box(MESSAGE)), &sig) == Ok(true)))
        }
        Workload::LocalMlkemDecrypt => {
            // The associated data the server binds: the blob's header, the account, no context.
            let key = prepared(KeyKind::MlKem768)?;
            let aad = associated_data(&[0x46; HYBRID_HEADER_LEN], 1, &[]);
            let body = key.hybrid_seal(&aad, MESSAGE).map_err(|e| e.to_string())?;
            Ok(Arc::new(move || key.hybrid_open(&aad, black_box(&body)).is_ok_and(|p| p[..] == MESSAGE[..])))
        }
        Workload::LocalHmac => {
            let key = prepared(KeyKind::Hmac(HmacAlgorithm::Sha256))?;
            Ok(Arc::new(move || black_box(key.mac(black_box(MESSAGE))).is_ok()))
        }
        server => Err(format!("{server:?} needs a server")),
    }
}

/// Runs `threads` loops of `op` for `warmup` + `duration` seconds; measures the operations after
/// the warm-up (their latencies, failures, and this process's CPU time).
pub(super) fn run(op: Op, threads: usize, warmup: f64, duration: f64) -> Measured {
    let measuring = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (op, measuring, stop) = (op.clone(), measuring.clone(), stop.clone());
            std::thread::spawn(move || {
                let (mut out, mut errors) = (Vec::with_capacity(1 << 16), 0u64);
                while !stop.load(Ordering::Relaxed) {
                    let started = Instant::now();
                    let ok = op();
                    if measuring.load(Ordering::Relaxed) {
                        out.push(u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX));
                        errors += u64::from(!ok);
                    }
                }
                (out, errors)
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs_f64(warmup));
    let cpu_before = cpu::seconds("self");
    measuring.store(true, Ordering::Relaxed);
    let started = Instant::now();
    std::thread::sleep(Duration::from_secs_f64(duration));
    measuring.store(false, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = cpu_before.zip(cpu::seconds("self")).map(|(b, a)| a - b);
    stop.store(true, Ordering::Relaxed);
    let (mut all, mut errors) = (Vec::new(), 0);
    for h in handles {
        let (lat, err) = h.join().unwrap_or_default();
        all.extend(lat);
        errors += err;
    }
    let first_error = (errors > 0).then(|| "the operation failed".to_owned());
    Measured { latencies: all, errors, first_error, elapsed, cpu }
}
