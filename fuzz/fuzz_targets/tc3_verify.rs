//! TC3-HMAC-SHA256: `parse_authorization` and `verify` over a raw request, as the Tencent front
//! runs them (Authorization and X-TC-Timestamp read from the headers, the body verbatim).
#![no_main]

use ferrokms_fuzz::{RawRequest, bounded, trace};
use ferrokms_tencent::tc3::{self, SignedRequest, SigningKeyCache};
use libfuzzer_sys::fuzz_target;

/// The secret of the signed seeds (spec section 1.4).
const SECRET: &str = "ExampleSecretKeyForKmsSigning000001";

fuzz_target!(|data: &[u8]| {
    let Some(req) = RawRequest::parse(data) else { return };
    bounded(data.len(), || {
        let Some(value) = req.header("authorization") else { return };
        let Ok(auth) = tc3::parse_authorization(value) else { return };
        let Some(Ok(timestamp)) = req.header("x-tc-timestamp").map(str::parse::<i64>) else { return };
        let method = req.method.as_str();
        let signed = SignedRequest { method, query: &req.query, headers: &req.headers, body: &req.body, timestamp };
        let cache = SigningKeyCache::default();
        let first = tc3::verify(&cache, &auth, SECRET, &signed);
        if trace() {
            eprintln!("TC3: {first:?}");
        }
        // The second run takes kSigning from the cache.
        assert_eq!(first, tc3::verify(&cache, &auth, SECRET, &signed), "the cache changes nothing");
        if first.is_ok() {
            assert!(tc3::verify(&cache, &auth, "another secret", &signed).is_err(), "the secret matters");
        }
    });
});
