//! The checkpoint signing key: Ed25519, generated at first start and stored sealed under the
//! root key (`<audit-dir>/signing-key.sealed`); its public key is written beside the log
//! (`<audit-dir>/signing-key.pub`, hex), so verifying needs no secret.

use std::io::Write;
use std::path::Path;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ferrokms_crypto::root::RootKey;
use zeroize::Zeroizing;

/// The sealed private key, in the audit directory.
pub const SEALED_KEY_FILE: &str = "signing-key.sealed";
/// The public key, in the audit directory.
pub const PUBLIC_KEY_FILE: &str = "signing-key.pub";
/// What the sealed key is bound to.
const AAD: &[u8] = b"ferrokms/audit-signing-key/v1";

/// The service's checkpoint key.
pub struct Signer {
    key: Ed25519KeyPair,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signer({})", hex::encode(self.public_key()))
    }
}

impl Signer {
    /// A new key, and its PKCS#8 form to store.
    pub fn generate() -> Result<(Self, Zeroizing<Vec<u8>>), String> {
        let doc = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).map_err(|_| "cannot generate a key")?;
        let pkcs8 = Zeroizing::new(doc.as_ref().to_vec());
        Ok((Self::from_pkcs8(&pkcs8)?, pkcs8))
    }

    fn from_pkcs8(pkcs8: &[u8]) -> Result<Self, String> {
        let key = Ed25519KeyPair::from_pkcs8(pkcs8).map_err(|_| "not an Ed25519 key".to_string())?;
        Ok(Self { key })
    }

    /// The raw 32-byte public key.
    pub fn public_key(&self) -> &[u8] {
        self.key.public_key().as_ref()
    }

    /// Signs `message`.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.key.sign(message).as_ref().to_vec()
    }

    /// The key of the audit directory `dir`, unsealed with `root`; created (with the directory)
    /// if there is none yet and no log file either.
    pub fn load_or_create(dir: &Path, root: &dyn RootKey) -> Result<Self, String> {
        let sealed_path = dir.join(SEALED_KEY_FILE);
        let signer = if sealed_path.exists() {
            let text = std::fs::read_to_string(&sealed_path)
                .map_err(|e| format!("cannot read {}: {e}", sealed_path.display()))?;
            let sealed = STANDARD.decode(text.trim()).map_err(|_| format!("{} is corrupt", sealed_path.display()))?;
            let pkcs8 = root
                .open(AAD, &sealed)
                .map_err(|_| format!("{}: cannot unseal it with this root key", sealed_path.display()))?;
            Self::from_pkcs8(&pkcs8)?
        } else {
            std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            if crate::writer::log_files(dir)?.next().is_some() {
                return Err(format!(
                    "{} holds audit files but no {SEALED_KEY_FILE}: refusing to start a new signing key \
                     over them (restore it from the same backup)",
                    dir.display()
                ));
            }
            let (signer, pkcs8) = Self::generate()?;
            let sealed = root.seal(AAD, &pkcs8).map_err(|e| e.to_string())?;
            write_file(&sealed_path, STANDARD.encode(sealed).as_bytes(), 0o600)
                .map_err(|e| format!("cannot write {}: {e}", sealed_path.display()))?;
            signer
        };
        let pub_path = dir.join(PUBLIC_KEY_FILE);
        let expected = format!("{}\n", hex::encode(signer.public_key()));
        match std::fs::read_to_string(&pub_path) {
            Ok(text) if text.trim() == expected.trim() => {}
            Ok(_) => {
                return Err(format!("{} does not match the sealed signing key", pub_path.display()));
            }
            Err(_) => write_file(&pub_path, expected.as_bytes(), 0o600)
                .map_err(|e| format!("cannot write {}: {e}", pub_path.display()))?,
        }
        Ok(signer)
    }
}

/// The sealed signing key of the audit directory `dir`, if there is one.
pub fn sealed_key(dir: &Path) -> Result<Option<Vec<u8>>, String> {
    let path = dir.join(SEALED_KEY_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => STANDARD.decode(text.trim()).map(Some).map_err(|_| format!("{} is corrupt", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

/// Seals the signing key of `dir` again under `root` (a keyring: opened under whichever root
/// sealed it, sealed under the active one), atomically; after a root rotation.
pub fn reseal(dir: &Path, root: &dyn RootKey) -> Result<(), String> {
    let Some(sealed) = sealed_key(dir)? else { return Ok(()) };
    let path = dir.join(SEALED_KEY_FILE);
    let pkcs8 = root.open(AAD, &sealed).map_err(|_| format!("{}: cannot unseal it", path.display()))?;
    let again = root.seal(AAD, &pkcs8).map_err(|e| e.to_string())?;
    write_file(&path, STANDARD.encode(again).as_bytes(), 0o600)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Reads a public key file (hex).
pub fn read_public_key(path: &Path) -> Result<Vec<u8>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let key = hex::decode(text.trim()).map_err(|_| format!("{} is not a hex public key", path.display()))?;
    if key.len() != 32 {
        return Err(format!("{} is not an Ed25519 public key", path.display()));
    }
    Ok(key)
}

/// Whether `signature` is `public_key`'s over `message`.
pub fn verify(public_key: &[u8], message: &[u8], signature: &[u8]) -> bool {
    UnparsedPublicKey::new(&ED25519, public_key).verify(message, signature).is_ok()
}

/// Writes a whole file durably (temporary file, fsync, rename, directory fsync).
fn write_file(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, mode);
    #[cfg(not(unix))]
    let _ = mode;
    let mut f = opts.open(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrokms_crypto::root::LocalRootKey;

    fn root() -> LocalRootKey {
        LocalRootKey::from_bytes(&LocalRootKey::generate_bytes().unwrap()).unwrap()
    }

    #[test]
    fn the_key_is_sealed_reloaded_and_its_public_half_published() {
        let dir = std::env::temp_dir().join(format!("ferrokms-audit-signer-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let root = root();
        let a = Signer::load_or_create(&dir, &root).unwrap();
        let b = Signer::load_or_create(&dir, &root).unwrap();
        assert_eq!(a.public_key(), b.public_key());
        assert_eq!(read_public_key(&dir.join(PUBLIC_KEY_FILE)).unwrap(), a.public_key());
        let sealed = std::fs::read_to_string(dir.join(SEALED_KEY_FILE)).unwrap();
        assert!(!sealed.contains(&hex::encode(a.public_key())));
        let sig = a.sign(b"m");
        assert!(verify(a.public_key(), b"m", &sig));
        assert!(!verify(a.public_key(), b"n", &sig));
        // Another root key cannot open it.
        assert!(Signer::load_or_create(&dir, &self::root()).unwrap_err().contains("unseal"));
        // Log files without the key: refused rather than a new key.
        std::fs::remove_file(dir.join(SEALED_KEY_FILE)).unwrap();
        std::fs::write(dir.join("audit-00000001.jsonl"), b"").unwrap();
        assert!(Signer::load_or_create(&dir, &root).unwrap_err().contains("refusing"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
