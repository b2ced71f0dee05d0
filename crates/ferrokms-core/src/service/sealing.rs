//! The root keyring as the service holds it: present (unsealed) or not (sealed), replaceable
//! while serving (unseal, root rotation), and the pass that re-seals values under the active root.
//!
//! While sealed the service holds no key material: the caches are emptied (their prepared keys
//! wipe themselves when the last request using them ends) and every operation that needs the
//! root answers [`Error::Sealed`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use ferrokms_crypto::keyring::Keyring;
use ferrokms_crypto::root::RootKey;
use parking_lot::RwLock;
use zeroize::Zeroizing;

use super::{Kms, access::secret_aad, material_aad};
use crate::store::{SealedPlace, SealedValue, Store};
use crate::{Error, Result};

/// The `meta` value every node's ring must open: a value sealed under the root keys of the node
/// that first used the store. A node holding other roots (its own new key file, a passphrase
/// with another salt) would seal what the others cannot read, so it refuses to serve.
pub const STORE_ROOT_CHECK: &str = "root_check";
const STORE_CHECK_AAD: &[u8] = b"ferrokms/store-root-check/v1";
const STORE_CHECK_VALUE: &[u8] = b"ferrokms store root check";

/// Seals with `ring`, off the async workers if its root is a device.
async fn seal_with(ring: Arc<Keyring>, aad: &'static [u8], plaintext: &'static [u8]) -> Result<Vec<u8>> {
    if !ring.blocks() {
        return Ok(ring.seal(aad, plaintext)?);
    }
    tokio::task::spawn_blocking(move || ring.seal(aad, plaintext))
        .await
        .map_err(|_| Error::internal("sealing was cancelled"))?
        .map_err(Error::from)
}

/// Whether `ring` opens `sealed` to the store check value.
async fn opens_check(ring: Arc<Keyring>, sealed: Vec<u8>) -> Result<bool> {
    let blocks = ring.blocks();
    let open = move || ring.open(STORE_CHECK_AAD, &sealed).is_ok_and(|v| v.as_slice() == STORE_CHECK_VALUE);
    if !blocks {
        return Ok(open());
    }
    tokio::task::spawn_blocking(open).await.map_err(|_| Error::internal("unsealing was cancelled"))
}

/// Whether `ring` holds the root keys of `store`: it must open the store's check value
/// ([`STORE_ROOT_CHECK`]), which the first ring to ask sets (sealed under its active root).
pub async fn store_accepts(store: &dyn Store, ring: Arc<Keyring>) -> Result<bool> {
    if let Some(stored) = store.get_meta(STORE_ROOT_CHECK).await? {
        return opens_check(ring, stored).await;
    }
    let fresh = seal_with(Arc::clone(&ring), STORE_CHECK_AAD, STORE_CHECK_VALUE).await?;
    let stored = store.put_meta_if_absent(STORE_ROOT_CHECK, &fresh).await?;
    if stored == fresh {
        return Ok(true);
    }
    opens_check(ring, stored).await
}

/// The keyring, or nothing while the service is sealed.
#[derive(Default)]
pub struct RootSlot {
    ring: RwLock<Option<Arc<Keyring>>>,
    /// Mirrors `ring.is_none()`, so the per-request check is one atomic load.
    sealed: AtomicBool,
}

impl std::fmt::Debug for RootSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RootSlot").field("sealed", &self.is_sealed()).finish()
    }
}

impl RootSlot {
    /// A slot holding `ring`.
    pub fn unsealed(ring: Keyring) -> Self {
        Self { ring: RwLock::new(Some(Arc::new(ring))), sealed: AtomicBool::new(false) }
    }

    /// An empty slot: the service starts sealed.
    pub fn sealed() -> Self {
        Self { ring: RwLock::new(None), sealed: AtomicBool::new(true) }
    }

    /// Whether no keyring is held.
    pub fn is_sealed(&self) -> bool {
        self.sealed.load(Ordering::Acquire)
    }

    /// The keyring in use.
    pub fn ring(&self) -> Result<Arc<Keyring>> {
        self.ring.read().clone().ok_or(Error::Sealed)
    }

    fn put(&self, ring: Option<Arc<Keyring>>) {
        let mut slot = self.ring.write();
        self.sealed.store(ring.is_none(), Ordering::Release);
        *slot = ring;
    }
}

/// What a re-seal pass found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResealReport {
    /// Values moved to the active root.
    pub resealed: u64,
    /// Values under each root after the pass (the active root's count included).
    pub remaining: BTreeMap<u32, u64>,
    /// Values that name no root of the ring (not readable: a damaged or foreign record).
    pub unknown: u64,
}

impl Kms {
    /// Whether the service is sealed (holds no root key).
    pub fn is_sealed(&self) -> bool {
        self.root.is_sealed()
    }

    /// The label of the HSM token that holds the active root key, if an HSM holds it (what the
    /// Tencent dialect names as the keys' `HsmClusterId`).
    pub fn hsm_cluster(&self) -> Option<String> {
        let ring = self.root.ring().ok()?;
        RootKey::hsm(ring.as_ref()).map(str::to_owned)
    }

    /// The keyring in use ([`Error::Sealed`] if none).
    pub fn keyring(&self) -> Result<Arc<Keyring>> {
        self.root.ring()
    }

    /// Takes `ring` as the root keyring: unseals the service, or replaces the ring after a root
    /// rotation (cached material stays valid: it does not depend on the root).
    pub fn install_keyring(&self, ring: Keyring) {
        self.root.put(Some(Arc::new(ring)));
    }

    /// Seals the service: drops the keyring and every cached key and credential.
    pub fn seal_service(&self) {
        self.root.put(None);
        self.keys.clear();
        self.credentials.clear();
    }

    /// Seals `plaintext` bound to `aad` under the active root (off the async workers when the
    /// root is a device).
    pub(super) async fn seal_value(&self, aad: Vec<u8>, plaintext: &[u8]) -> Result<Vec<u8>> {
        let ring = self.root.ring()?;
        if !ring.blocks() {
            return Ok(ring.seal(&aad, plaintext)?);
        }
        let plaintext = Zeroizing::new(plaintext.to_vec());
        tokio::task::spawn_blocking(move || ring.seal(&aad, &plaintext))
            .await
            .map_err(|_| Error::internal("sealing was cancelled"))?
            .map_err(Error::from)
    }

    /// Opens what [`Kms::seal_value`] sealed (under any root of the ring).
    pub(super) async fn open_value(
        &self,
        aad: Vec<u8>,
        sealed: Vec<u8>,
    ) -> Result<std::result::Result<Zeroizing<Vec<u8>>, ferrokms_crypto::CryptoError>> {
        let ring = self.root.ring()?;
        if !ring.blocks() {
            return Ok(ring.open(&aad, &sealed));
        }
        tokio::task::spawn_blocking(move || ring.open(&aad, &sealed))
            .await
            .map_err(|_| Error::internal("unsealing was cancelled"))
    }

    /// Re-seals every stored value that is not under the active root (key version material,
    /// access key secrets), in pages; each value is replaced only if it is still what was read.
    /// Safe to run while serving, to interrupt and to run again.
    pub async fn reseal_pass(&self) -> Result<ResealReport> {
        self.walk_sealed(true).await
    }

    /// How many stored values each root holds (and how many name no root of the ring).
    pub async fn sealed_counts(&self) -> Result<ResealReport> {
        self.walk_sealed(false).await
    }

    /// Walks every sealed value, counting them by root, moving those not under the active root
    /// to it if `reseal`.
    async fn walk_sealed(&self, reseal: bool) -> Result<ResealReport> {
        let ring = self.root.ring()?;
        let active = ring.active();
        let mut report = ResealReport::default();
        let mut after: Option<SealedPlace> = None;
        loop {
            let page = self.store.sealed_values(after.as_ref(), 256).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.place.clone());
            for value in page {
                let under = match ring.sealed_by(&value.sealed) {
                    None => {
                        report.unknown += 1;
                        continue;
                    }
                    Some(id) if reseal && id != active && self.reseal_one(&value).await? => {
                        report.resealed += 1;
                        active
                    }
                    Some(id) => id,
                };
                *report.remaining.entry(under.0).or_default() += 1;
            }
        }
        self.walk_store_check(&ring, reseal, &mut report).await?;
        Ok(report)
    }

    /// Moves one value to the active root; false if it changed (or went) meanwhile.
    async fn reseal_one(&self, value: &SealedValue) -> Result<bool> {
        let aad = match &value.place {
            SealedPlace::KeyVersion { key_id, version } => material_aad(value.account, *key_id, *version),
            SealedPlace::AccessKey { id } => secret_aad(value.account, id),
        };
        let clear = self
            .open_value(aad.clone(), value.sealed.clone())
            .await?
            .map_err(|_| Error::internal(format!("{:?} does not unseal", value.place)))?;
        let resealed = self.seal_value(aad, &clear).await?;
        Ok(self.store.replace_sealed(&value.place, &value.sealed, &resealed).await?)
    }

    /// Whether `ring` holds the root keys of this service's store (see [`store_accepts`]).
    pub async fn store_accepts(&self, ring: Arc<Keyring>) -> Result<bool> {
        store_accepts(&*self.store, ring).await
    }

    /// Counts the store's check value by root, moving it to the active root if `reseal` (so
    /// that retiring an old root never strands it).
    async fn walk_store_check(&self, ring: &Arc<Keyring>, reseal: bool, report: &mut ResealReport) -> Result<()> {
        let Some(check) = self.store.get_meta(STORE_ROOT_CHECK).await? else { return Ok(()) };
        let active = ring.active();
        let under = match ring.sealed_by(&check) {
            None => {
                report.unknown += 1;
                return Ok(());
            }
            Some(id) if reseal && id != active && opens_check(Arc::clone(ring), check.clone()).await? => {
                let fresh = seal_with(Arc::clone(ring), STORE_CHECK_AAD, STORE_CHECK_VALUE).await?;
                if self.store.replace_meta(STORE_ROOT_CHECK, &check, &fresh).await? {
                    report.resealed += 1;
                    active
                } else {
                    id
                }
            }
            Some(id) => id,
        };
        *report.remaining.entry(under.0).or_default() += 1;
        Ok(())
    }

    /// Checks that the store answers (readiness).
    pub async fn store_reachable(&self) -> bool {
        self.store.ping().await.is_ok()
    }
}
