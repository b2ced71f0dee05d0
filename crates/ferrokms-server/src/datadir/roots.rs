//! The root keys of a data directory: creating one, unlocking the ring, rotating to a new root
//! and retiring the roots nothing refers to any more.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ferrokms_crypto::keyring::{Keyring, RootId};
use ferrokms_crypto::random;
use ferrokms_crypto::root::{LocalRootKey, PassphraseParams, RootKey};
use ferrokms_pkcs11::{Pkcs11Config, Pkcs11RootKey};
use zeroize::Zeroizing;

use super::meta::{LEGACY_ROOT_FILE, Meta, RootEntry, RootSource};
use super::write_private;

const CHECK_AAD: &[u8] = b"ferrokms/root-key-check/v1";
const CHECK_VALUE: &[u8] = b"ferrokms root key check";
/// Shortest passphrase accepted for a new root.
pub const MIN_PASSPHRASE: usize = 12;
/// By default a root replaced less than this long ago is not retired, even with nothing sealed
/// under it: a request that took the ring before the rotation may still be about to store a value
/// sealed under it.
pub const RETIRE_GRACE_SECS: u64 = 60;

/// A root key as this process holds it.
#[derive(Clone)]
pub enum HeldRoot {
    /// In memory (file or passphrase): its bytes can be wrapped under a new root.
    Local(Arc<LocalRootKey>),
    /// In a device: only a reference to it can be kept.
    Device(Arc<dyn RootKey>),
}

impl HeldRoot {
    fn as_root(&self) -> Arc<dyn RootKey> {
        match self {
            Self::Local(k) => k.clone(),
            Self::Device(k) => k.clone(),
        }
    }
}

/// What unlocks the active root, when it needs a secret.
#[derive(Default, Clone)]
pub struct Secrets {
    /// The passphrase of a passphrase root.
    pub passphrase: Option<Zeroizing<String>>,
    /// The user PIN of PKCS#11 roots.
    pub pkcs11_pin: Option<Zeroizing<String>>,
}

/// Environment variable holding the PKCS#11 user PIN (unless `[root_key] pin_file` names a file).
pub const PKCS11_PIN_ENV: &str = "FERROKMS_PKCS11_PIN";

fn pkcs11_config(module: &str, token_label: &str, key_label: &str, secrets: &Secrets) -> Result<Pkcs11Config, String> {
    let pin = secrets
        .pkcs11_pin
        .clone()
        .ok_or_else(|| format!("the root key is in a PKCS#11 token: set {PKCS11_PIN_ENV} or [root_key] pin_file"))?;
    Ok(Pkcs11Config {
        module: module.into(),
        token_label: token_label.to_owned(),
        key_label: key_label.to_owned(),
        pin,
    })
}

/// Why the ring could not be unlocked.
#[derive(Debug)]
pub enum UnlockError {
    /// The active root is derived from a passphrase and none was given: start sealed.
    NeedPassphrase,
    /// The passphrase does not derive the active root.
    WrongPassphrase,
    /// Anything else, for the operator.
    Failed(String),
}

impl std::fmt::Display for UnlockError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NeedPassphrase => f.write_str("the root key is derived from a passphrase and none was given"),
            Self::WrongPassphrase => f.write_str("wrong passphrase: it does not unlock this data directory's root key"),
            Self::Failed(why) => f.write_str(why),
        }
    }
}

/// Every root of the ring, unlocked.
#[derive(Clone)]
pub struct Unlocked {
    roots: Vec<(u32, HeldRoot)>,
    active: u32,
}

impl Unlocked {
    /// The keyring over these roots. Values without an envelope predate root ids and belong to
    /// root 1, while it is in the ring.
    pub fn keyring(&self) -> Keyring {
        let roots = self.roots.iter().map(|(id, r)| (RootId(*id), r.as_root())).collect();
        let legacy = self.roots.iter().any(|(id, _)| *id == 1).then_some(RootId(1));
        Keyring::new(roots, RootId(self.active), legacy).expect("the active root is unlocked with the ring")
    }

    /// Ids of the roots held.
    pub fn ids(&self) -> Vec<u32> {
        self.roots.iter().map(|(id, _)| *id).collect()
    }
}

fn fail(what: impl std::fmt::Display) -> UnlockError {
    UnlockError::Failed(what.to_string())
}

fn sealed_check(root: &dyn RootKey) -> Result<String, String> {
    Ok(STANDARD.encode(root.seal(CHECK_AAD, CHECK_VALUE).map_err(|e| e.to_string())?))
}

fn passes_check(root: &dyn RootKey, check: &str) -> bool {
    STANDARD.decode(check).is_ok_and(|c| root.open(CHECK_AAD, &c).is_ok_and(|v| v.as_slice() == CHECK_VALUE))
}

fn wrap_aad(id: u32) -> Vec<u8> {
    let mut aad = b"ferrokms/retired-root/v1".to_vec();
    aad.extend_from_slice(&id.to_be_bytes());
    aad
}

fn derive(passphrase: &str, salt: &[u8], p: PassphraseParams) -> Result<LocalRootKey, String> {
    LocalRootKey::from_passphrase(passphrase.as_bytes(), salt, p).map_err(|e| e.to_string())
}

fn read_key_file(dir: &Path, file: &str) -> Result<LocalRootKey, String> {
    let path = dir.join(file);
    let bytes =
        Zeroizing::new(std::fs::read(&path).map_err(|e| format!("cannot read the root key {}: {e}", path.display()))?);
    LocalRootKey::from_bytes(&bytes).map_err(|e| format!("{}: {e}", path.display()))
}

/// How a new root is made.
pub enum NewRoot {
    /// 32 random bytes in a new file.
    File,
    /// Derived from this passphrase.
    Passphrase(Zeroizing<String>),
    /// An AES-256 key generated in a PKCS#11 token (logging in with [`Secrets::pkcs11_pin`]).
    Pkcs11 {
        /// Path of the PKCS#11 library.
        module: String,
        /// Token label.
        token_label: String,
        /// Label of the new key.
        key_label: String,
    },
}

/// Makes root `id` as `how` asks (writing its key file, or generating it on a token) and its
/// ring entry.
fn create(dir: &Path, id: u32, how: NewRoot, secrets: &Secrets, now: u64) -> Result<(RootEntry, HeldRoot), String> {
    let (source, held) = match how {
        NewRoot::File => {
            let file = if id == 1 { LEGACY_ROOT_FILE.to_owned() } else { format!("root-{id}.key") };
            let bytes = LocalRootKey::generate_bytes().map_err(|e| e.to_string())?;
            write_private(&dir.join(&file), &bytes).map_err(|e| format!("cannot write the root key: {e}"))?;
            let key = LocalRootKey::from_bytes(&bytes).map_err(|e| e.to_string())?;
            (RootSource::File { file }, HeldRoot::Local(Arc::new(key)))
        }
        NewRoot::Passphrase(pass) => {
            if pass.chars().count() < MIN_PASSPHRASE {
                return Err(format!("the root passphrase must have at least {MIN_PASSPHRASE} characters"));
            }
            let salt = random::array::<16>().map_err(|e| e.to_string())?;
            let p = PassphraseParams::default();
            let key = derive(&pass, &salt, p)?;
            let source = RootSource::Passphrase {
                salt: STANDARD.encode(salt),
                memory_kib: p.memory_kib,
                iterations: p.iterations,
                parallelism: p.parallelism,
            };
            (source, HeldRoot::Local(Arc::new(key)))
        }
        NewRoot::Pkcs11 { module, token_label, key_label } => {
            let key = Pkcs11RootKey::create(&pkcs11_config(&module, &token_label, &key_label, secrets)?)?;
            (RootSource::Pkcs11 { module, token_label, key_label }, HeldRoot::Device(Arc::new(key)))
        }
    };
    let check = sealed_check(&*held.as_root())?;
    let entry = RootEntry { id, source, check, wrapped: None, created_at: now, deactivated_at: None };
    Ok((entry, held))
}

/// The ring of a new data directory: root 1, made as `how` asks.
pub fn create_first(dir: &Path, how: NewRoot, secrets: &Secrets, now: u64) -> Result<(Meta, Unlocked), String> {
    let (entry, held) = create(dir, 1, how, secrets, now)?;
    let meta = Meta { format: 2, active: 1, roots: vec![entry] };
    Ok((meta, Unlocked { roots: vec![(1, held)], active: 1 }))
}

/// Unlocks the active root with `secrets`, then every other root through it.
pub fn unlock(dir: &Path, meta: &Meta, secrets: &Secrets) -> Result<Unlocked, UnlockError> {
    let entry = meta.active_entry().ok_or_else(|| fail("no active root"))?;
    let active = match &entry.source {
        RootSource::File { file } => {
            let key = read_key_file(dir, file).map_err(fail)?;
            if !passes_check(&key, &entry.check) {
                return Err(fail(format!(
                    "the root key {file} does not match this data directory (a key file from elsewhere?)"
                )));
            }
            HeldRoot::Local(Arc::new(key))
        }
        RootSource::Passphrase { salt, memory_kib, iterations, parallelism } => {
            let pass = secrets.passphrase.as_ref().ok_or(UnlockError::NeedPassphrase)?;
            let salt = STANDARD.decode(salt).map_err(|_| fail("corrupt salt in ferrokms.json"))?;
            let p = PassphraseParams { memory_kib: *memory_kib, iterations: *iterations, parallelism: *parallelism };
            let key = derive(pass, &salt, p).map_err(fail)?;
            if !passes_check(&key, &entry.check) {
                return Err(UnlockError::WrongPassphrase);
            }
            HeldRoot::Local(Arc::new(key))
        }
        RootSource::Pkcs11 { module, token_label, key_label } => {
            let key = Pkcs11RootKey::open(&pkcs11_config(module, token_label, key_label, secrets).map_err(fail)?)
                .map_err(fail)?;
            if !passes_check(&key, &entry.check) {
                return Err(fail(format!(
                    "the key {key_label:?} on token {token_label:?} is not this data directory's root"
                )));
            }
            HeldRoot::Device(Arc::new(key))
        }
    };
    let opener = active.as_root();
    let mut roots = vec![(entry.id, active)];
    for other in meta.roots.iter().filter(|r| r.id != meta.active) {
        let held = match (&other.wrapped, &other.source) {
            (Some(wrapped), _) => {
                let sealed =
                    STANDARD.decode(wrapped).map_err(|_| fail(format!("corrupt wrapped root {}", other.id)))?;
                let bytes = opener
                    .open(&wrap_aad(other.id), &sealed)
                    .map_err(|_| fail(format!("root {} does not unwrap under the active root", other.id)))?;
                HeldRoot::Local(Arc::new(LocalRootKey::from_bytes(&bytes).map_err(fail)?))
            }
            (None, RootSource::File { file }) => HeldRoot::Local(Arc::new(read_key_file(dir, file).map_err(fail)?)),
            (None, RootSource::Pkcs11 { module, token_label, key_label }) => HeldRoot::Device(Arc::new(
                Pkcs11RootKey::open(&pkcs11_config(module, token_label, key_label, secrets).map_err(fail)?)
                    .map_err(fail)?,
            )),
            (None, _) => {
                return Err(fail(format!("root {} cannot be unlocked: it is neither wrapped nor a file", other.id)));
            }
        };
        roots.push((other.id, held));
    }
    Ok(Unlocked { roots, active: meta.active })
}

/// Adds a root made as `how` asks and makes it the active one: the roots held in memory are
/// kept wrapped under it, and their key files removed, once the new `ferrokms.json` is durable.
/// Re-sealing the stored values is the caller's next step ([`ferrokms_core::service::Kms::reseal_pass`]).
pub fn rotate(
    dir: &Path,
    meta: &Meta,
    current: &Unlocked,
    how: NewRoot,
    secrets: &Secrets,
    now: u64,
) -> Result<(Meta, Unlocked), String> {
    let id = meta.roots.iter().map(|r| r.id).max().unwrap_or(0) + 1;
    let (entry, held) = create(dir, id, how, secrets, now)?;
    let new_root = held.as_root();
    let mut next = meta.clone();
    let mut obsolete_files = Vec::new();
    for r in &mut next.roots {
        if r.id == meta.active {
            r.deactivated_at = Some(now);
        }
        let Some((_, held)) = current.roots.iter().find(|(i, _)| *i == r.id) else { continue };
        if let HeldRoot::Local(key) = held {
            let wrapped = new_root.seal(&wrap_aad(r.id), key.bytes()).map_err(|e| e.to_string())?;
            r.wrapped = Some(STANDARD.encode(wrapped));
            if let RootSource::File { file } = &r.source {
                obsolete_files.push(file.clone());
            }
        }
    }
    next.roots.push(entry);
    next.active = id;
    next.write(dir)?;
    for file in obsolete_files {
        if let Err(e) = std::fs::remove_file(dir.join(&file))
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(file, error = %e, "cannot remove the replaced root key file (it is kept wrapped)");
        }
    }
    let mut roots = current.roots.clone();
    roots.push((id, held));
    Ok((next, Unlocked { roots, active: id }))
}

/// What [`retire`] did.
#[derive(Debug, Default)]
pub struct Retired {
    /// Roots removed from the ring.
    pub retired: Vec<u32>,
    /// Roots kept, with why.
    pub kept: Vec<(u32, String)>,
}

/// Removes from the ring every root other than the active one that holds no value (`counts`,
/// from a full scan of the store) and was replaced at least `grace` seconds ago.
pub fn retire(
    dir: &Path,
    meta: &Meta,
    current: &Unlocked,
    counts: &BTreeMap<u32, u64>,
    now: u64,
    grace: u64,
) -> Result<(Meta, Unlocked, Retired), String> {
    let mut report = Retired::default();
    let mut next = meta.clone();
    next.roots.retain(|r| {
        if r.id == meta.active {
            return true;
        }
        let held = counts.get(&r.id).copied().unwrap_or(0);
        let since = r.deactivated_at.map_or(0, |at| now.saturating_sub(at));
        if held > 0 {
            report.kept.push((r.id, format!("{held} values are still sealed under it")));
            true
        } else if r.deactivated_at.is_some() && since < grace {
            report.kept.push((r.id, format!("replaced {since} s ago; retire after {grace} s")));
            true
        } else {
            report.retired.push(r.id);
            false
        }
    });
    if report.retired.is_empty() {
        return Ok((meta.clone(), current.clone(), report));
    }
    next.write(dir)?;
    let roots = current.roots.iter().filter(|(id, _)| !report.retired.contains(id)).cloned().collect();
    Ok((next, Unlocked { roots, active: current.active }, report))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tempdir() -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("ferrokms-roots-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn pass(p: &str) -> Secrets {
        Secrets { passphrase: Some(Zeroizing::new(p.to_owned())), pkcs11_pin: None }
    }

    #[test]
    fn a_format_1_directory_opens_and_its_bare_values_still_open() {
        let dir = tempdir();
        let bytes = LocalRootKey::generate_bytes().unwrap();
        std::fs::write(dir.join("root.key"), &*bytes).unwrap();
        let old = LocalRootKey::from_bytes(&bytes).unwrap();
        let check = sealed_check(&old).unwrap();
        let v1 = format!(r#"{{"format":1,"root_key":{{"source":"file"}},"check":"{check}"}}"#);
        std::fs::write(dir.join("ferrokms.json"), v1).unwrap();
        let bare = old.seal(b"aad", b"written by format 1").unwrap();

        let meta = Meta::read(&dir).unwrap();
        let ring = unlock(&dir, &meta, &Secrets::default()).unwrap().keyring();
        assert_eq!(&*ring.open(b"aad", &bare).unwrap(), b"written by format 1");
        assert_eq!(ring.sealed_by(&bare), Some(RootId(1)));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn after_rotation_only_the_active_root_is_needed() {
        let dir = tempdir();
        let (meta, first) =
            create_first(&dir, NewRoot::Passphrase(Zeroizing::new("first passphrase".into())), &Secrets::default(), 1)
                .unwrap();
        let under_first = first.keyring().seal(b"aad", b"one").unwrap();
        let (meta2, second) = rotate(&dir, &meta, &first, NewRoot::File, &Secrets::default(), 2).unwrap();
        let (meta3, third) = rotate(
            &dir,
            &meta2,
            &second,
            NewRoot::Passphrase(Zeroizing::new("third passphrase".into())),
            &Secrets::default(),
            3,
        )
        .unwrap();
        assert!(!dir.join("root-2.key").exists(), "the replaced key file is removed");
        let under_second = second.keyring().seal(b"aad", b"two").unwrap();
        assert_eq!(Meta::read(&dir).unwrap().active, 3);

        // A restart: the third passphrase unlocks roots 1 and 2 (kept wrapped under root 3).
        let again = unlock(&dir, &meta3, &pass("third passphrase")).unwrap();
        assert_eq!(again.ids(), vec![3, 1, 2]);
        let ring = again.keyring();
        assert_eq!(&*ring.open(b"aad", &under_first).unwrap(), b"one");
        assert_eq!(&*ring.open(b"aad", &under_second).unwrap(), b"two");
        assert_eq!(ring.active(), RootId(3));
        assert!(matches!(unlock(&dir, &meta3, &pass("first passphrase")), Err(UnlockError::WrongPassphrase)));
        assert!(matches!(unlock(&dir, &meta3, &Secrets::default()), Err(UnlockError::NeedPassphrase)));
        drop(third);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn retire_keeps_roots_that_hold_values_or_were_just_replaced() {
        let dir = tempdir();
        let (meta, first) = create_first(&dir, NewRoot::File, &Secrets::default(), 100).unwrap();
        let (meta, second) = rotate(&dir, &meta, &first, NewRoot::File, &Secrets::default(), 200).unwrap();
        let counts = BTreeMap::from([(1, 3), (2, 10)]);
        let (_, _, r) = retire(&dir, &meta, &second, &counts, 1000, 60).unwrap();
        assert!(r.retired.is_empty() && r.kept[0].1.contains("3 values"));
        let counts = BTreeMap::from([(2, 13)]);
        let (_, _, r) = retire(&dir, &meta, &second, &counts, 230, 60).unwrap();
        assert!(r.retired.is_empty() && r.kept[0].1.contains("30 s ago"));
        let (meta, left, r) = retire(&dir, &meta, &second, &counts, 260, 60).unwrap();
        assert_eq!(r.retired, vec![1]);
        assert_eq!(left.ids(), vec![2]);
        let reread = Meta::read(&dir).unwrap();
        assert_eq!(reread.roots.len(), 1);
        assert_eq!(meta.roots.len(), 1);
        assert!(unlock(&dir, &reread, &Secrets::default()).unwrap().keyring().sealed_by(b"no envelope").is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_key_file_from_elsewhere_is_refused() {
        let dir = tempdir();
        let (meta, _) = create_first(&dir, NewRoot::File, &Secrets::default(), 1).unwrap();
        std::fs::write(dir.join("root.key"), &*LocalRootKey::generate_bytes().unwrap()).unwrap();
        let err = unlock(&dir, &meta, &Secrets::default()).err().unwrap().to_string();
        assert!(err.contains("does not match"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
