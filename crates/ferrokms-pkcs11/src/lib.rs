//! A root key held in a PKCS#11 token: an AES-256 key generated on the token (sensitive, not
//! extractable), used through `CKM_AES_GCM` encryption with the caller's AAD. The key never
//! leaves the token; a sealed value is `IV (12, from the OS) ‖ ciphertext ‖ tag (16)`.
//!
//! `CKM_AES_GCM` *encrypt* rather than a wrap mechanism: SoftHSM2 rejects GCM for wrapping, and
//! `CKM_AES_KEY_WRAP_PAD` has no associated data, while every sealed value must be bound to its
//! AAD (docs/security.md). Sessions are pooled (PKCS#11 sessions are not used concurrently);
//! every call blocks on the token, so callers run it off the async workers
//! ([`RootKey::blocks`] is true).

use std::path::PathBuf;

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use ferrokms_crypto::CryptoError;
use ferrokms_crypto::random;
use ferrokms_crypto::root::RootKey;
use parking_lot::{Condvar, Mutex};
use zeroize::Zeroizing;

const IV_LEN: usize = 12;
const TAG_BITS: u64 = 128;
const TAG_LEN: usize = 16;

/// Where the root key is and how to log in.
#[derive(Clone)]
pub struct Pkcs11Config {
    /// Path of the PKCS#11 library.
    pub module: PathBuf,
    /// Label of the token.
    pub token_label: String,
    /// Label of the AES key on the token.
    pub key_label: String,
    /// The user PIN.
    pub pin: Zeroizing<String>,
}

impl std::fmt::Debug for Pkcs11Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs11Config")
            .field("module", &self.module)
            .field("token_label", &self.token_label)
            .field("key_label", &self.key_label)
            .finish_non_exhaustive()
    }
}

/// A root key in a token.
pub struct Pkcs11RootKey {
    _context: Pkcs11,
    token_label: String,
    key: ObjectHandle,
    idle: Mutex<Vec<Session>>,
    freed: Condvar,
}

impl std::fmt::Debug for Pkcs11RootKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pkcs11RootKey(..)")
    }
}

fn explain(cfg: &Pkcs11Config, e: CkError) -> String {
    match e {
        CkError::Pkcs11(RvError::PinIncorrect, _) => format!("wrong PIN for token {:?}", cfg.token_label),
        CkError::Pkcs11(RvError::PinLocked, _) => format!("the PIN of token {:?} is locked", cfg.token_label),
        CkError::LibraryLoading(e) => format!("cannot load the PKCS#11 module {}: {e}", cfg.module.display()),
        other => format!("PKCS#11 (token {:?}): {other}", cfg.token_label),
    }
}

fn find_slot(ctx: &Pkcs11, cfg: &Pkcs11Config) -> Result<Slot, String> {
    let slots = ctx.get_slots_with_token().map_err(|e| explain(cfg, e))?;
    let mut labels = Vec::new();
    for slot in slots {
        let info = ctx.get_token_info(slot).map_err(|e| explain(cfg, e))?;
        if info.label().trim_end() == cfg.token_label {
            return Ok(slot);
        }
        labels.push(info.label().trim_end().to_owned());
    }
    Err(format!("no PKCS#11 token labelled {:?} (tokens found: {labels:?})", cfg.token_label))
}

fn key_template(label: &str) -> Vec<Attribute> {
    vec![Attribute::Class(ObjectClass::SECRET_KEY), Attribute::KeyType(KeyType::AES), Attribute::Label(label.into())]
}

impl Pkcs11RootKey {
    /// Opens the token and finds the key labelled `key_label` (it must exist).
    pub fn open(cfg: &Pkcs11Config) -> Result<Self, String> {
        Self::connect(cfg, false)
    }

    /// Generates the key on the token (refused if a key with that label exists).
    pub fn create(cfg: &Pkcs11Config) -> Result<Self, String> {
        Self::connect(cfg, true)
    }

    fn connect(cfg: &Pkcs11Config, create: bool) -> Result<Self, String> {
        let ctx = Pkcs11::new(&cfg.module).map_err(|e| explain(cfg, e))?;
        match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
            Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
            Err(e) => return Err(explain(cfg, e)),
        }
        let slot = find_slot(&ctx, cfg)?;
        let first = ctx.open_rw_session(slot).map_err(|e| explain(cfg, e))?;
        let pin = AuthPin::from(cfg.pin.as_str().to_owned());
        match first.login(UserType::User, Some(&pin)) {
            Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {}
            Err(e) => return Err(explain(cfg, e)),
        }
        let found = first.find_objects(&key_template(&cfg.key_label)).map_err(|e| explain(cfg, e))?;
        let key = match (found.as_slice(), create) {
            ([], false) => {
                return Err(format!("no AES key labelled {:?} on token {:?}", cfg.key_label, cfg.token_label));
            }
            ([], true) => {
                let mut template = key_template(&cfg.key_label);
                template.extend([
                    Attribute::Token(true),
                    Attribute::Private(true),
                    Attribute::Sensitive(true),
                    Attribute::Extractable(false),
                    Attribute::Encrypt(true),
                    Attribute::Decrypt(true),
                    Attribute::Wrap(false),
                    Attribute::Unwrap(false),
                    Attribute::ValueLen(32.into()),
                ]);
                first.generate_key(&Mechanism::AesKeyGen, &template).map_err(|e| explain(cfg, e))?
            }
            ([_], true) => {
                return Err(format!(
                    "token {:?} already holds a key labelled {:?}: refusing to create another",
                    cfg.token_label, cfg.key_label
                ));
            }
            ([one], false) => *one,
            (_, _) => {
                return Err(format!(
                    "token {:?} holds several keys labelled {:?}: ambiguous, refusing to choose",
                    cfg.token_label, cfg.key_label
                ));
            }
        };
        check_key(&first, key, cfg)?;
        let size = std::thread::available_parallelism().map_or(2, |n| n.get()).max(2);
        let mut idle = vec![first];
        for _ in 1..size {
            idle.push(ctx.open_rw_session(slot).map_err(|e| explain(cfg, e))?);
        }
        Ok(Self {
            _context: ctx,
            token_label: cfg.token_label.clone(),
            key,
            idle: Mutex::new(idle),
            freed: Condvar::new(),
        })
    }

    fn with_session<T>(&self, f: impl FnOnce(&Session) -> Result<T, CkError>) -> Result<T, CryptoError> {
        let session = {
            let mut idle = self.idle.lock();
            loop {
                if let Some(s) = idle.pop() {
                    break s;
                }
                self.freed.wait(&mut idle);
            }
        };
        let result = f(&session);
        self.idle.lock().push(session);
        self.freed.notify_one();
        result.map_err(|e| match e {
            CkError::Pkcs11(RvError::EncryptedDataInvalid | RvError::EncryptedDataLenRange, _) => {
                CryptoError::AuthenticationFailed
            }
            _ => CryptoError::Failure,
        })
    }
}

/// Refuses a root key that is not a sensitive, non-extractable AES-256 key.
fn check_key(session: &Session, key: ObjectHandle, cfg: &Pkcs11Config) -> Result<(), String> {
    let attrs = session
        .get_attributes(key, &[AttributeType::Sensitive, AttributeType::Extractable, AttributeType::ValueLen])
        .map_err(|e| explain(cfg, e))?;
    for a in attrs {
        let bad = match a {
            Attribute::Sensitive(s) => (!s).then_some("not sensitive"),
            Attribute::Extractable(x) => x.then_some("extractable"),
            Attribute::ValueLen(n) => (u64::from(n) != 32).then_some("not 256 bits long"),
            _ => None,
        };
        if let Some(why) = bad {
            return Err(format!(
                "the key {:?} on token {:?} is {why}: refusing it as a root key",
                cfg.key_label, cfg.token_label
            ));
        }
    }
    Ok(())
}

impl RootKey for Pkcs11RootKey {
    fn hsm(&self) -> Option<&str> {
        Some(&self.token_label)
    }

    fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let mut iv = random::array::<IV_LEN>()?;
        let sealed = self.with_session(|s| {
            let params = GcmParams::new(&mut iv, aad, TAG_BITS.into())?;
            s.encrypt(&Mechanism::AesGcm(params), self.key, plaintext)
        })?;
        let mut out = Vec::with_capacity(IV_LEN + sealed.len());
        out.extend_from_slice(&iv);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        if sealed.len() < IV_LEN + TAG_LEN {
            return Err(CryptoError::Malformed("sealed value too short"));
        }
        let (iv, body) = sealed.split_at(IV_LEN);
        let mut iv: [u8; IV_LEN] = iv.try_into().map_err(|_| CryptoError::Malformed("iv"))?;
        self.with_session(|s| {
            let params = GcmParams::new(&mut iv, aad, TAG_BITS.into())?;
            s.decrypt(&Mechanism::AesGcm(params), self.key, body)
        })
        .map(Zeroizing::new)
    }

    fn blocks(&self) -> bool {
        true
    }
}

/// A fresh SoftHSM2 token for tests (the test command sets `SOFTHSM2_CONF` and
/// `FERROKMS_TEST_PKCS11_MODULE`; scripts/test.sh).
#[doc(hidden)]
pub mod testing {
    use super::*;

    /// The module path and a new token's label (user PIN `1234`).
    pub fn fresh_token() -> (PathBuf, String) {
        let module = std::env::var_os("FERROKMS_TEST_PKCS11_MODULE")
            .map(PathBuf::from)
            .expect("FERROKMS_TEST_PKCS11_MODULE is not set: install softhsm2 and run scripts/test.sh (it sets it up)");
        assert!(std::env::var_os("SOFTHSM2_CONF").is_some(), "SOFTHSM2_CONF is not set: run scripts/test.sh");
        let label = format!("t{}", &random_hex()[..20]);
        let out = std::process::Command::new("softhsm2-util")
            .args(["--init-token", "--free", "--label", &label, "--pin", "1234", "--so-pin", "5678"])
            .output()
            .expect("softhsm2-util (install softhsm2; scripts/test.sh does)");
        assert!(out.status.success(), "softhsm2-util: {}", String::from_utf8_lossy(&out.stderr));
        (module, label)
    }

    fn random_hex() -> String {
        random::array::<16>().unwrap().iter().map(|b| format!("{b:02x}")).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(module: PathBuf, token: &str, key: &str, pin: &str) -> Pkcs11Config {
        Pkcs11Config { module, token_label: token.into(), key_label: key.into(), pin: Zeroizing::new(pin.into()) }
    }

    #[test]
    fn a_created_key_seals_and_reopens_after_a_restart() {
        let (module, token) = testing::fresh_token();
        let cfg = config(module, &token, "root", "1234");
        let root = Pkcs11RootKey::create(&cfg).unwrap();
        let sealed = root.seal(b"key-1/v1", b"material").unwrap();
        assert_eq!(&*root.open(b"key-1/v1", &sealed).unwrap(), b"material");
        assert!(root.open(b"key-2/v1", &sealed).is_err(), "bound to its aad");
        let mut tampered = sealed.clone();
        tampered[IV_LEN] ^= 1;
        assert!(root.open(b"key-1/v1", &tampered).is_err());
        assert!(Pkcs11RootKey::create(&cfg).unwrap_err().contains("already holds"));
        drop(root);
        let again = Pkcs11RootKey::open(&cfg).unwrap();
        assert_eq!(&*again.open(b"key-1/v1", &sealed).unwrap(), b"material");
        assert!(again.blocks());
    }

    #[test]
    fn operator_mistakes_get_clear_errors() {
        let (module, token) = testing::fresh_token();
        Pkcs11RootKey::create(&config(module.clone(), &token, "root", "1234")).unwrap();
        let wrong_pin = Pkcs11RootKey::open(&config(module.clone(), &token, "root", "0000")).unwrap_err();
        assert!(wrong_pin.contains("wrong PIN"), "{wrong_pin}");
        let no_key = Pkcs11RootKey::open(&config(module.clone(), &token, "other", "1234")).unwrap_err();
        assert!(no_key.contains("no AES key labelled \"other\""), "{no_key}");
        let no_token = Pkcs11RootKey::open(&config(module, "no-such-token", "root", "1234")).unwrap_err();
        assert!(no_token.contains("no PKCS#11 token labelled") && no_token.contains(&token), "{no_token}");
        let no_module = Pkcs11RootKey::open(&config("/nonexistent/lib.so".into(), &token, "root", "1234")).unwrap_err();
        assert!(no_module.contains("cannot load the PKCS#11 module"), "{no_module}");
    }

    #[test]
    fn the_key_stays_in_the_token_and_sessions_are_shared_safely() {
        let (module, token) = testing::fresh_token();
        let cfg = config(module, &token, "root", "1234");
        let root = std::sync::Arc::new(Pkcs11RootKey::create(&cfg).unwrap());
        root.with_session(|s| {
            let attrs = s.get_attributes(root.key, &[AttributeType::Sensitive, AttributeType::Extractable])?;
            assert!(attrs.contains(&Attribute::Sensitive(true)) && attrs.contains(&Attribute::Extractable(false)));
            // The value itself cannot be read.
            let value = s.get_attributes(root.key, &[AttributeType::Value]);
            assert!(!matches!(value.as_deref(), Ok([Attribute::Value(_)])), "CKA_VALUE must not be readable");
            Ok(())
        })
        .unwrap();
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let root = root.clone();
                std::thread::spawn(move || {
                    for i in 0..100u32 {
                        let msg = format!("{t}-{i}");
                        let sealed = root.seal(b"aad", msg.as_bytes()).unwrap();
                        assert_eq!(&*root.open(b"aad", &sealed).unwrap(), msg.as_bytes());
                    }
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
    }
}
