//! Request signers for the load tool: TC3 for the Tencent dialect, ACS3 for the Alibaba one,
//! built like the official SDKs build them.

use std::sync::atomic::{AtomicU64, Ordering};

use aws_lc_rs::{digest, hmac};
use bytes::Bytes;
use http_body_util::Full;
use hyper::Request;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn sha256_hex(data: &[u8]) -> String {
    hex(digest::digest(&digest::SHA256, data).as_ref())
}

/// Signs requests of one dialect with one access key.
pub(super) struct Signer {
    pub(super) dialect: Dialect,
    pub(super) secret_id: String,
    pub(super) secret_key: String,
    pub(super) region: String,
    pub(super) host: String,
    nonce: AtomicU64,
    /// Random per process, so concurrent load tools never send the same nonce.
    run: String,
}

/// Which API a request speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Dialect {
    /// TC3-signed JSON POST.
    Tencent,
    /// ACS3-signed POST with the parameters in the query.
    Alibaba,
}

impl Signer {
    pub(super) fn new(dialect: Dialect, secret_id: String, secret_key: String, region: String, host: String) -> Self {
        let run = hex(&ferrokms_crypto::random::array::<16>().unwrap_or_default());
        Self { dialect, secret_id, secret_key, region, host, nonce: AtomicU64::new(0), run }
    }

    /// A signed request; `payload` is the JSON body (Tencent) or the query parameters (Alibaba).
    pub(super) fn request(&self, action: &str, payload: &[(String, String)], json: Vec<u8>) -> Request<Full<Bytes>> {
        match self.dialect {
            Dialect::Tencent => self.tc3(action, json),
            Dialect::Alibaba => self.acs3(action, payload),
        }
    }

    fn tc3(&self, action: &str, body: Vec<u8>) -> Request<Full<Bytes>> {
        let ts = ferrokms_core::model::now();
        let date = ferrokms_tencent::tc3::utc_date(i64::try_from(ts).unwrap_or_default()).unwrap_or_default();
        let canonical = format!(
            "POST\n/\n\ncontent-type:application/json\nhost:{}\n\ncontent-type;host\n{}",
            self.host,
            sha256_hex(&body)
        );
        let sts = format!("TC3-HMAC-SHA256\n{ts}\n{date}/kms/tc3_request\n{}", sha256_hex(canonical.as_bytes()));
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

    fn acs3(&self, action: &str, params: &[(String, String)]) -> Request<Full<Bytes>> {
        use ferrokms_alibaba::params::percent_encode as pe;
        let mut sorted: Vec<_> = params.iter().map(|(k, v)| (pe(k), pe(v))).collect();
        sorted.sort();
        let query = sorted.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
        let date = ferrokms_alibaba::render::iso(ferrokms_core::model::now());
        let nonce = format!("{}-{}", self.run, self.nonce.fetch_add(1, Ordering::Relaxed));
        let empty = sha256_hex(b"");
        let headers = [
            ("host", self.host.as_str()),
            ("x-acs-action", action),
            ("x-acs-content-sha256", empty.as_str()),
            ("x-acs-date", date.as_str()),
            ("x-acs-signature-nonce", nonce.as_str()),
            ("x-acs-version", "2016-01-20"),
        ];
        let canonical_headers: String = headers.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
        let signed = headers.iter().map(|(k, _)| *k).collect::<Vec<_>>().join(";");
        let canonical = format!("POST\n/\n{query}\n{canonical_headers}\n{signed}\n{empty}");
        let sts = format!("ACS3-HMAC-SHA256\n{}", sha256_hex(canonical.as_bytes()));
        let sig =
            hex(hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, self.secret_key.as_bytes()), sts.as_bytes()).as_ref());
        let mut req = Request::post(format!("/?{query}"));
        for (k, v) in headers {
            req = req.header(k, v);
        }
        req.header(
            "authorization",
            format!("ACS3-HMAC-SHA256 Credential={},SignedHeaders={signed},Signature={sig}", self.secret_id),
        )
        .body(Full::new(Bytes::new()))
        .unwrap_or_default()
    }
}
