//! Tencent signature v1 (HmacSHA1 / HmacSHA256 parameters): detection, parameter parsing, the
//! signing parameters and verification over a raw request, as the Tencent front runs them (the
//! parameters from the query of a GET or the form body of a POST).
#![no_main]

use ferrokms_fuzz::{RawRequest, bounded, trace};
use ferrokms_tencent::sign_v1::{self, Check, Claimed, Params};
use libfuzzer_sys::fuzz_target;

/// The secret of the signed seeds (fuzz/make_seeds.py).
const SECRET: &str = "ExampleSecretKeyForKmsSigning000001";

fuzz_target!(|data: &[u8]| {
    let Some(req) = RawRequest::parse(data) else { return };
    bounded(data.len(), || {
        if !sign_v1::detect(&req.headers, &req.query, &req.body) {
            return;
        }
        let raw = if req.method == http::Method::GET { req.query.as_bytes() } else { &req.body[..] };
        let Ok(params) = Params::parse(raw) else { return };
        let _ = params.action_parameters().count();
        let Ok(claimed) = Claimed::from_params(&params) else { return };
        let host = req.header("host").unwrap_or_default();
        let check = Check { method: req.method.as_str(), host, now: claimed.timestamp, max_skew: 300 };
        let verdict = sign_v1::verify(&params, &claimed, Some((SECRET, ())), &check);
        if trace() {
            eprintln!("v1: {:?}", verdict.as_ref().map_err(|e| e.code));
        }
        if verdict.is_ok() {
            assert!(sign_v1::verify(&params, &claimed, Some(("another secret", ())), &check).is_err());
            let late = Check { now: claimed.timestamp.saturating_add(301), ..check };
            assert!(sign_v1::verify(&params, &claimed, Some((SECRET, ())), &late).is_err(), "the skew matters");
        }
    });
});
