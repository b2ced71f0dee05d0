//! CMK lifecycle: create, describe, list, enable/disable, deletion, archival, alias, description,
//! cloud-resource bindings.

use ferrokms_crypto::aead::SymmetricAlgorithm;
use uuid::Uuid;

use super::{Kms, material_aad};
use crate::error::StateNeed;
use crate::model::{KeyRecord, KeyState, KeyUsage, Origin, Scope, Tag, VersionRecord, now};
use crate::store::KeyFilter;
use crate::{Error, Result, validate};

/// What CreateKey asks for (validated by the front for its dialect's rules).
#[derive(Debug, Clone)]
pub struct CreateKey {
    /// Alias, unique per account and region.
    pub alias: String,
    /// Free text.
    pub description: String,
    /// Usage.
    pub usage: KeyUsage,
    /// Algorithm; the service default if `None`.
    pub algorithm: Option<SymmetricAlgorithm>,
    /// EXTERNAL (material imported later) instead of generated.
    pub external: bool,
    /// Tags.
    pub tags: Vec<Tag>,
}

/// Counts shown by service-status actions.
#[derive(Debug, Clone, Copy)]
pub struct ServiceStats {
    /// Keys the account holds.
    pub keys: u64,
    /// Key quota.
    pub key_limit: u64,
    /// Hosted data keys the account holds.
    pub data_keys: u64,
    /// Hosted data key quota.
    pub data_key_limit: u64,
}

impl Kms {
    /// Creates a key (and its first version unless EXTERNAL). Durable when it returns.
    pub async fn create_key(&self, scope: &Scope, req: CreateKey) -> Result<KeyRecord> {
        validate::alias(&req.alias)?;
        validate::tags(&req.tags)?;
        let count = self.store.count_keys(scope.account).await?;
        if count >= self.config.max_keys_per_account {
            return Err(Error::KeyLimitExceeded(self.config.max_keys_per_account));
        }
        let created_at = now();
        let algorithm = req.algorithm.unwrap_or(self.config.default_algorithm);
        let mut record = KeyRecord {
            id: Uuid::new_v4(),
            account: scope.account,
            region: scope.region.clone(),
            alias: req.alias,
            description: req.description,
            usage: req.usage,
            algorithm,
            origin: if req.external {
                Origin::External
            } else {
                Origin::Generated
            },
            state: if req.external {
                KeyState::PendingImport
            } else {
                KeyState::Enabled
            },
            created_at,
            deletion_date: 0,
            rotation_enabled: false,
            rotate_days: 365,
            last_rotated_at: 0,
            next_rotation_at: 0,
            current_version: 0,
            revision: 1,
            tags: req.tags,
        };
        let first = if req.external {
            None
        } else {
            record.current_version = 1;
            let material = algorithm.generate()?;
            let sealed_material = self.root.seal(&material_aad(record.account, record.id, 1), &material)?;
            Some(VersionRecord {
                key_id: record.id,
                version: 1,
                version_id: Uuid::new_v4(),
                sealed_material,
                created_at,
            })
        };
        self.store.insert_key(&record, first.as_ref()).await?;
        Ok(record)
    }

    /// One key of the caller.
    pub async fn describe_key(&self, scope: &Scope, id: Uuid) -> Result<KeyRecord> {
        self.key_for_update(scope, id).await
    }

    /// The caller's keys among `ids` (unknown ones are left out).
    pub async fn describe_keys(&self, scope: &Scope, ids: &[Uuid]) -> Result<Vec<KeyRecord>> {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            match self.key_for_update(scope, *id).await {
                Ok(r) => out.push(r),
                Err(Error::KeyNotFound) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// The caller's keys in its region, filtered and paged, with the total before paging.
    pub async fn list_keys(&self, scope: &Scope, filter: &KeyFilter) -> Result<(Vec<KeyRecord>, u64)> {
        Ok(self.store.list_keys(scope.account, &scope.region, filter).await?)
    }

    /// Enables a key (from Disabled; enabling an Enabled key is a no-op).
    pub async fn enable_key(&self, scope: &Scope, id: Uuid) -> Result<KeyRecord> {
        self.modify_key(scope, id, |k| match k.state {
            KeyState::Enabled | KeyState::Disabled => {
                k.state = KeyState::Enabled;
                Ok(())
            }
            state => Err(Error::KeyState {
                state,
                need: StateNeed::EnabledOrDisabled,
            }),
        })
        .await
    }

    /// Disables a key (from Enabled; disabling a Disabled key is a no-op).
    pub async fn disable_key(&self, scope: &Scope, id: Uuid) -> Result<KeyRecord> {
        self.modify_key(scope, id, |k| match k.state {
            KeyState::Enabled | KeyState::Disabled => {
                k.state = KeyState::Disabled;
                Ok(())
            }
            state => Err(Error::KeyState {
                state,
                need: StateNeed::EnabledOrDisabled,
            }),
        })
        .await
    }

    /// Enables or disables several keys: all are checked first, so one bad id changes nothing.
    pub async fn set_keys_enabled(&self, scope: &Scope, ids: &[Uuid], enabled: bool) -> Result<()> {
        for id in ids {
            let k = self.key_for_update(scope, *id).await?;
            if !matches!(k.state, KeyState::Enabled | KeyState::Disabled) {
                return Err(Error::KeyState {
                    state: k.state,
                    need: StateNeed::EnabledOrDisabled,
                });
            }
        }
        for id in ids {
            if enabled {
                self.enable_key(scope, *id).await?;
            } else {
                self.disable_key(scope, *id).await?;
            }
        }
        Ok(())
    }

    /// Schedules deletion of a Disabled key (or an EXTERNAL key without material) in `days`.
    pub async fn schedule_key_deletion(&self, scope: &Scope, id: Uuid, days: u64) -> Result<KeyRecord> {
        let due = now() + days * 86_400;
        self.modify_key(scope, id, |k| match k.state {
            KeyState::Disabled | KeyState::PendingImport => {
                k.state = KeyState::PendingDelete;
                k.deletion_date = due;
                Ok(())
            }
            state => Err(Error::KeyState {
                state,
                need: StateNeed::Disabled,
            }),
        })
        .await
    }

    /// Cancels a scheduled deletion; the key returns to Disabled.
    pub async fn cancel_key_deletion(&self, scope: &Scope, id: Uuid) -> Result<KeyRecord> {
        self.modify_key(scope, id, |k| match k.state {
            KeyState::PendingDelete => {
                k.state = if k.current_version == 0 {
                    KeyState::PendingImport
                } else {
                    KeyState::Disabled
                };
                k.deletion_date = 0;
                Ok(())
            }
            state => Err(Error::KeyState {
                state,
                need: StateNeed::PendingDelete,
            }),
        })
        .await
    }

    /// Archives an Enabled key: it keeps decrypting but no longer encrypts.
    pub async fn archive_key(&self, scope: &Scope, id: Uuid) -> Result<KeyRecord> {
        self.modify_key(scope, id, |k| match k.state {
            KeyState::Enabled | KeyState::Archived => {
                k.state = KeyState::Archived;
                Ok(())
            }
            state => Err(Error::KeyState {
                state,
                need: StateNeed::Enabled,
            }),
        })
        .await
    }

    /// Returns an Archived key to Enabled.
    pub async fn cancel_key_archive(&self, scope: &Scope, id: Uuid) -> Result<KeyRecord> {
        self.modify_key(scope, id, |k| match k.state {
            KeyState::Archived | KeyState::Enabled => {
                k.state = KeyState::Enabled;
                Ok(())
            }
            state => Err(Error::KeyState {
                state,
                need: StateNeed::Archived,
            }),
        })
        .await
    }

    /// Renames a key (not while PendingDelete).
    pub async fn update_alias(&self, scope: &Scope, id: Uuid, alias: &str) -> Result<KeyRecord> {
        validate::alias(alias)?;
        self.modify_key(scope, id, |k| {
            not_pending_delete(k)?;
            k.alias = alias.to_owned();
            Ok(())
        })
        .await
    }

    /// Changes a key's description (not while PendingDelete).
    pub async fn update_key_description(&self, scope: &Scope, id: Uuid, description: &str) -> Result<KeyRecord> {
        self.modify_key(scope, id, |k| {
            not_pending_delete(k)?;
            k.description = description.to_owned();
            Ok(())
        })
        .await
    }

    /// Records that a cloud resource uses the key (idempotent).
    pub async fn bind_cloud_resource(&self, scope: &Scope, id: Uuid, product: &str, resource: &str) -> Result<()> {
        self.key_for_update(scope, id).await?;
        Ok(self.store.bind_resource(id, product, resource).await?)
    }

    /// Removes a binding; false if there was none.
    pub async fn unbind_cloud_resource(&self, scope: &Scope, id: Uuid, product: &str, resource: &str) -> Result<bool> {
        self.key_for_update(scope, id).await?;
        Ok(self.store.unbind_resource(id, product, resource).await?)
    }

    /// Key and data key counts and quotas of the caller's account.
    pub async fn service_stats(&self, scope: &Scope) -> Result<ServiceStats> {
        Ok(ServiceStats {
            keys: self.store.count_keys(scope.account).await?,
            key_limit: self.config.max_keys_per_account,
            data_keys: self.store.count_data_keys(scope.account).await?,
            data_key_limit: self.config.max_data_keys_per_account,
        })
    }
}

fn not_pending_delete(k: &KeyRecord) -> Result<()> {
    if k.state == KeyState::PendingDelete {
        return Err(Error::KeyState {
            state: k.state,
            need: StateNeed::NotPendingDelete,
        });
    }
    Ok(())
}
