//! Bare public-key encryption loops on this machine's cores, with no server: the yardstick for
//! GenerateAndExportDataKey, which is bounded by exactly this operation.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use ferrokms_crypto::wrap::{WrapAlgorithm, WrappingKey};

/// Runs `threads` loops of one 32-byte encryption each for `warmup` + `duration` seconds;
/// returns the latencies (µs) measured after the warm-up and the measured seconds.
pub(super) fn run(
    spki: &[u8],
    algorithm: WrapAlgorithm,
    threads: usize,
    warmup: f64,
    duration: f64,
) -> (Vec<u32>, f64) {
    let key = Arc::new(WrappingKey::from_spki_der(spki).expect("a valid public key"));
    let measuring = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (key, measuring, stop) = (key.clone(), measuring.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut out = Vec::with_capacity(1 << 16);
                while !stop.load(Ordering::Relaxed) {
                    let started = Instant::now();
                    let _ = key.encrypt(algorithm, &[7u8; 32]);
                    if measuring.load(Ordering::Relaxed) {
                        out.push(u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX));
                    }
                }
                out
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs_f64(warmup));
    measuring.store(true, Ordering::Relaxed);
    let started = Instant::now();
    std::thread::sleep(Duration::from_secs_f64(duration));
    measuring.store(false, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    for h in handles {
        all.extend(h.join().unwrap_or_default());
    }
    (all, elapsed)
}
