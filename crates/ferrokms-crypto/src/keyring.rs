//! A keyring of root keys, so the root can be rotated: new values are sealed under the active
//! root, values sealed under any root of the ring still open, and each sealed value names the
//! root that sealed it.
//!
//! Layout of a sealed value (documented in `docs/security.md`, "Root keys"):
//!
//! ```text
//! offset size
//!  0     3   magic "FKR"
//!  3     1   envelope version (1)
//!  4     4   root id (big-endian)
//!  8     n   what that root's `seal` returned
//! ```
//!
//! Values written before roots had ids carry no envelope: they belong to the ring's legacy root
//! (the data directory's first root). A legacy value is random bytes, so it names a known root
//! by chance with probability about 2^-64; opening then fails under that root and is retried
//! under the legacy one, so even that case opens.

use std::sync::Arc;

use zeroize::Zeroizing;

use crate::CryptoError;
use crate::root::RootKey;

const MAGIC: &[u8; 3] = b"FKR";
const ENVELOPE_V1: u8 = 1;
const ENVELOPE_LEN: usize = 8;

/// The id of a root key within a data directory's keyring (1, 2, ... in order of creation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RootId(pub u32);

/// Root keys by id, one of them active.
pub struct Keyring {
    roots: Vec<(RootId, Arc<dyn RootKey>)>,
    active: usize,
    legacy: Option<RootId>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<_> = self.roots.iter().map(|(id, _)| id.0).collect();
        f.debug_struct("Keyring").field("roots", &ids).field("active", &self.active().0).finish()
    }
}

impl Keyring {
    /// A ring of `roots` sealing under `active`; values without an envelope belong to `legacy`.
    pub fn new(
        roots: Vec<(RootId, Arc<dyn RootKey>)>,
        active: RootId,
        legacy: Option<RootId>,
    ) -> Result<Self, CryptoError> {
        let at = roots.iter().position(|(id, _)| *id == active).ok_or(CryptoError::InvalidKey("no active root"))?;
        if legacy.is_some_and(|l| !roots.iter().any(|(id, _)| *id == l)) {
            return Err(CryptoError::InvalidKey("legacy root not in the ring"));
        }
        for (i, (id, _)) in roots.iter().enumerate() {
            if roots[..i].iter().any(|(other, _)| other == id) {
                return Err(CryptoError::InvalidKey("root id twice in the ring"));
            }
        }
        Ok(Self { roots, active: at, legacy })
    }

    /// A ring of one root, which is also the legacy one.
    #[cfg(test)]
    fn single(id: RootId, root: Arc<dyn RootKey>) -> Self {
        Self { roots: vec![(id, root)], active: 0, legacy: Some(id) }
    }

    /// The root new values are sealed under.
    pub fn active(&self) -> RootId {
        self.roots[self.active].0
    }

    /// The root `id`, if in the ring.
    fn get(&self, id: RootId) -> Option<&Arc<dyn RootKey>> {
        self.roots.iter().find(|(r, _)| *r == id).map(|(_, k)| k)
    }

    /// The root that sealed `sealed`, as its envelope says (the legacy root without one); `None`
    /// if it names no root of this ring and there is no legacy root.
    pub fn sealed_by(&self, sealed: &[u8]) -> Option<RootId> {
        match envelope(sealed) {
            Some((id, _)) if self.get(id).is_some() => Some(id),
            _ => self.legacy,
        }
    }
}

/// The root id and body of an enveloped value.
fn envelope(sealed: &[u8]) -> Option<(RootId, &[u8])> {
    if sealed.len() < ENVELOPE_LEN || &sealed[..3] != MAGIC || sealed[3] != ENVELOPE_V1 {
        return None;
    }
    let id = u32::from_be_bytes(sealed[4..8].try_into().ok()?);
    Some((RootId(id), &sealed[ENVELOPE_LEN..]))
}

impl RootKey for Keyring {
    fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let (id, root) = &self.roots[self.active];
        let body = root.seal(aad, plaintext)?;
        let mut out = Vec::with_capacity(ENVELOPE_LEN + body.len());
        out.extend_from_slice(MAGIC);
        out.push(ENVELOPE_V1);
        out.extend_from_slice(&id.0.to_be_bytes());
        out.extend_from_slice(&body);
        Ok(out)
    }

    fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let legacy = self.legacy.and_then(|id| self.get(id));
        if let Some((id, body)) = envelope(sealed)
            && let Some(root) = self.get(id)
        {
            match root.open(aad, body) {
                Ok(clear) => return Ok(clear),
                Err(e) if legacy.is_none() => return Err(e),
                Err(_) => {} // a legacy value that looks enveloped by chance
            }
        }
        match legacy {
            Some(root) => root.open(aad, sealed),
            None => Err(CryptoError::Malformed("sealed under a root that is not in the ring")),
        }
    }

    fn blocks(&self) -> bool {
        self.roots.iter().any(|(_, r)| r.blocks())
    }

    /// The HSM of the active root: where new values are sealed.
    fn hsm(&self) -> Option<&str> {
        self.roots[self.active].1.hsm()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::root::LocalRootKey;

    fn root() -> Arc<dyn RootKey> {
        Arc::new(LocalRootKey::from_bytes(&LocalRootKey::generate_bytes().unwrap()).unwrap())
    }

    #[test]
    fn values_name_their_root_and_open_after_rotation() {
        let (a, b) = (root(), root());
        let before = Keyring::single(RootId(1), a.clone());
        let old = before.seal(b"aad", b"one").unwrap();
        assert_eq!(&old[..8], b"FKR\x01\x00\x00\x00\x01");
        let after = Keyring::new(vec![(RootId(1), a), (RootId(2), b)], RootId(2), Some(RootId(1))).unwrap();
        let new = after.seal(b"aad", b"two").unwrap();
        assert_eq!(after.sealed_by(&new), Some(RootId(2)));
        assert_eq!(after.sealed_by(&old), Some(RootId(1)));
        assert_eq!(&*after.open(b"aad", &old).unwrap(), b"one");
        assert_eq!(&*after.open(b"aad", &new).unwrap(), b"two");
        assert!(after.open(b"other", &new).is_err(), "bound to its aad");
        assert!(before.open(b"aad", &new).is_err(), "root 2 is not in the old ring");
    }

    #[test]
    fn values_without_an_envelope_belong_to_the_legacy_root() {
        let a = root();
        let bare = a.seal(b"aad", b"legacy").unwrap();
        let ring = Keyring::new(vec![(RootId(1), a), (RootId(2), root())], RootId(2), Some(RootId(1))).unwrap();
        assert_eq!(ring.sealed_by(&bare), Some(RootId(1)));
        assert_eq!(&*ring.open(b"aad", &bare).unwrap(), b"legacy");
        let no_legacy = Keyring::new(vec![(RootId(2), root())], RootId(2), None).unwrap();
        assert!(no_legacy.open(b"aad", &bare).is_err());
        assert_eq!(no_legacy.sealed_by(&bare), None);
    }

    /// A root whose sealed values happen to begin like an envelope naming root 1 (as a legacy
    /// value's random nonce could, with probability 2^-64).
    struct LooksEnveloped(Arc<dyn RootKey>);

    impl RootKey for LooksEnveloped {
        fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
            let mut out = b"FKR\x01\x00\x00\x00\x01".to_vec();
            out.extend_from_slice(&self.0.seal(aad, plaintext)?);
            Ok(out)
        }
        fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
            match sealed.strip_prefix(b"FKR\x01\x00\x00\x00\x01") {
                Some(rest) => self.0.open(aad, rest),
                None => Err(CryptoError::AuthenticationFailed),
            }
        }
    }

    #[test]
    fn a_legacy_value_that_looks_enveloped_still_opens() {
        let legacy: Arc<dyn RootKey> = Arc::new(LooksEnveloped(root()));
        let bare = legacy.seal(b"aad", b"legacy").unwrap();
        let ring = Keyring::single(RootId(1), legacy);
        assert_eq!(&*ring.open(b"aad", &bare).unwrap(), b"legacy");
    }

    #[test]
    fn tampered_root_ids_do_not_open() {
        let (a, b) = (root(), root());
        let ring = Keyring::new(vec![(RootId(1), a), (RootId(2), b)], RootId(2), None).unwrap();
        let mut sealed = ring.seal(b"aad", b"x").unwrap();
        sealed[7] = 1;
        assert!(ring.open(b"aad", &sealed).is_err());
        sealed[7] = 9;
        assert_eq!(ring.sealed_by(&sealed), None);
        assert!(ring.open(b"aad", &sealed).is_err());
    }

    #[test]
    fn a_ring_must_hold_its_active_and_legacy_roots_once() {
        assert!(Keyring::new(vec![(RootId(1), root())], RootId(2), None).is_err());
        assert!(Keyring::new(vec![(RootId(1), root())], RootId(1), Some(RootId(3))).is_err());
        assert!(Keyring::new(vec![(RootId(1), root()), (RootId(1), root())], RootId(1), None).is_err());
    }
}
