//! Tencent request decoding: a POST body, or a GET query through `query::to_json`, decoded by
//! `request::decode` into request types shaped like the actions' (strings, integers, lists of
//! ids, tags, tag filters), then the common field parsers the actions apply to them.
#![no_main]

use ferrokms_core::model::{parse_data_key_id, parse_key_id};
use ferrokms_fuzz::{RawRequest, bounded};
use ferrokms_tencent::request::{self, TagFilterIn, TagIn, decode};
use http::Method;
use libfuzzer_sys::fuzz_target;
use serde::Deserialize;

/// Encrypt / Decrypt / ReEncrypt / GenerateDataKey fields.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
#[allow(dead_code)]
struct CryptoIn {
    key_id: Option<String>,
    plaintext: Option<String>,
    ciphertext_blob: Option<String>,
    encryption_context: Option<String>,
    source_encryption_context: Option<String>,
    destination_key_id: Option<String>,
    encryption_public_key: Option<String>,
    encryption_algorithm: Option<String>,
    key_spec: Option<String>,
    number_of_bytes: Option<u64>,
    is_hosted_by_kms: Option<u64>,
    data_key_name: Option<String>,
    data_key_id: Option<String>,
    tags: Option<Vec<TagIn>>,
}

/// CreateKey / ListKeyDetail / ListDataKeyDetail / Batch* fields.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
#[allow(dead_code)]
struct KeysIn {
    alias: Option<String>,
    description: Option<String>,
    key_usage: Option<String>,
    #[serde(rename = "Type")]
    kind: Option<u64>,
    offset: Option<u64>,
    limit: Option<u64>,
    role: Option<u64>,
    order_type: Option<u64>,
    key_state: Option<u64>,
    search_key_alias: Option<String>,
    origin: Option<String>,
    pending_window_in_days: Option<u64>,
    key_ids: Option<Vec<String>>,
    data_key_ids: Option<Vec<String>>,
    member_account: Option<String>,
    tags: Option<Vec<TagIn>>,
    tag_filters: Option<Vec<TagFilterIn>>,
}

fuzz_target!(|data: &[u8]| {
    let Some(req) = RawRequest::parse(data) else { return };
    bounded(data.len(), || {
        let owned;
        let body: &[u8] = if req.method == Method::GET {
            match ferrokms_tencent::query::to_json(&req.query) {
                Ok(json) => {
                    owned = json;
                    &owned
                }
                Err(_) => return,
            }
        } else {
            &req.body
        };
        if let Ok(r) = decode::<CryptoIn>(body) {
            let _ = request::key_id(&r.key_id);
            let _ = request::key_id(&r.destination_key_id);
            let _ = request::data_key_id(&r.data_key_id);
            let _ = request::required_str(&r.plaintext, "Plaintext");
            let _ = request::context(&r.encryption_context, "EncryptionContext");
            let _ = request::context(&r.source_encryption_context, "SourceEncryptionContext");
            let _ = request::public_key_wrap(&r.encryption_public_key, &r.encryption_algorithm);
            let _ = request::tags(&r.tags);
        }
        if let Ok(r) = decode::<KeysIn>(body) {
            let _ = request::paging(r.offset, r.limit);
            let _ = request::order_type(r.order_type);
            let _ = request::origin_filter(r.origin.as_deref());
            let _ = request::pending_window(r.pending_window_in_days);
            let _ = request::id_list(&r.key_ids, "KeyIds", parse_key_id, ferrokms_core::Error::DuplicateKeyId);
            let _ = request::id_list(
                &r.data_key_ids,
                "DataKeyIds",
                parse_data_key_id,
                ferrokms_core::Error::DuplicateDataKeyId,
            );
            let _ = request::no_member_account(&r.member_account);
            let _ = request::tags(&r.tags);
            let _ = request::tag_filters(&r.tag_filters);
        }
    });
});
