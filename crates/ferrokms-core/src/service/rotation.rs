//! Key rotation: automatic (a schedule that the background task honours) and on demand.
//! Rotation adds a version; the newest encrypts, every older one keeps decrypting.

use uuid::Uuid;

use super::{Kms, material_aad};
use crate::error::StateNeed;
use crate::model::{KeyRecord, KeyState, Origin, Scope, VersionRecord, now};
use crate::store::{Conflict, StoreError};
use crate::{Error, Result};

impl Kms {
    /// Turns automatic rotation on with a period of `interval` seconds.
    pub async fn enable_key_rotation(&self, scope: &Scope, id: Uuid, interval: u64) -> Result<KeyRecord> {
        let at = now();
        self.modify_key(scope, id, |k| {
            rotatable(k)?;
            automatically_rotatable(k)?;
            k.rotation_enabled = true;
            k.rotation_interval = interval;
            k.next_rotation_at = at.saturating_add(interval);
            Ok(())
        })
        .await
    }

    /// Turns automatic rotation off.
    pub async fn disable_key_rotation(&self, scope: &Scope, id: Uuid) -> Result<KeyRecord> {
        self.modify_key(scope, id, |k| {
            if k.state == KeyState::PendingDelete {
                return Err(Error::KeyState { state: k.state, need: StateNeed::NotPendingDelete });
            }
            k.rotation_enabled = false;
            k.next_rotation_at = 0;
            Ok(())
        })
        .await
    }

    /// Rotates now, unless the key was rotated within the configured minimum interval.
    pub async fn rotate_key(&self, scope: &Scope, id: Uuid) -> Result<KeyRecord> {
        let min = self.config.min_manual_rotation_interval;
        // A concurrent rotation or state change makes the write stale: read again and re-check,
        // so of two concurrent RotateKey calls the second sees the first (and its rate limit).
        for _ in 0..4 {
            let at = now();
            let record = self.key_for_update(scope, id).await?;
            rotatable(&record)?;
            if record.state != KeyState::Enabled {
                return Err(Error::KeyState { state: record.state, need: StateNeed::Usable });
            }
            if record.last_rotated_at != 0 && at < record.last_rotated_at.saturating_add(min) {
                return Err(Error::RotateRateLimited(min));
            }
            if let Some(rotated) = self.add_version(record, at).await? {
                return Ok(rotated);
            }
        }
        Err(Error::internal("the key kept changing during rotation"))
    }

    /// Adds a version to `record` (read at revision `record.revision`) and stores both atomically;
    /// `None` if the key changed since it was read.
    pub(super) async fn add_version(&self, mut record: KeyRecord, at: u64) -> Result<Option<KeyRecord>> {
        let expected = record.revision;
        let version = record.current_version + 1;
        let material = self.generate_material(record.account, record.spec.kind()).await?;
        let sealed_material = self.seal_value(material_aad(record.account, record.id, version), &material).await?;
        let v =
            VersionRecord { key_id: record.id, version, version_id: Uuid::new_v4(), sealed_material, created_at: at };
        record.current_version = version;
        record.last_rotated_at = at;
        if record.rotation_enabled {
            record.next_rotation_at = at.saturating_add(record.rotation_interval);
        }
        record.revision = expected + 1;
        match self.store.add_version(&record, expected, &v).await {
            Ok(()) => {
                self.keys.insert(record.clone());
                Ok(Some(record))
            }
            Err(StoreError::Conflict(Conflict::Stale | Conflict::Duplicate)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

/// Only symmetric keys rotate on a schedule (as in both clouds): a new asymmetric version is a
/// new public key that every holder of the old one must fetch, so it is made on request only
/// (Alibaba CreateKeyVersion).
fn automatically_rotatable(k: &KeyRecord) -> Result<()> {
    if k.spec.symmetric().is_none() {
        return Err(Error::Unsupported(format!("automatic rotation of {} keys", k.spec.alibaba_name())));
    }
    Ok(())
}

fn rotatable(k: &KeyRecord) -> Result<()> {
    if k.origin == Origin::External {
        return Err(Error::ExternalKeyCannotRotate);
    }
    Ok(())
}
