//! Alibaba RPC signature v1 (HMAC-SHA1/SHA256): `Params::new`, `sign::claimed` and `sign::verify`
//! over a raw request
//! (see `ferrokms_fuzz::alibaba`).
#![no_main]

use ferrokms_fuzz::{AlibabaScheme, alibaba};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| alibaba(data, AlibabaScheme::Rpc));
