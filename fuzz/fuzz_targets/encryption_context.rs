//! `EncryptionContext::parse` on arbitrary text (as both fronts pass it), the canonical form of
//! whatever parses, and `from_canonical` on arbitrary stored bytes.
#![no_main]

use ferrokms_core::context::{EncryptionContext, MAX_CONTEXT_CHARS};
use ferrokms_fuzz::bounded;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    bounded(data.len(), || {
        let _ = EncryptionContext::from_canonical(data);
        let Ok(text) = std::str::from_utf8(data) else { return };
        let Ok(context) = EncryptionContext::parse("EncryptionContext", text) else { return };
        assert!(text.chars().count() <= MAX_CONTEXT_CHARS);
        let canonical = context.canonical();
        // Hosted data keys store the canonical bytes and read them back.
        assert_eq!(EncryptionContext::from_canonical(&canonical), context, "canonical form round-trips");
        // Spacing and order do not matter: the canonical text parses to the same context.
        let again = EncryptionContext::parse("EncryptionContext", std::str::from_utf8(&canonical).expect("JSON"));
        if let Ok(again) = again {
            assert_eq!(again.canonical(), canonical, "canonical form is a fixed point");
        }
    });
});
