//! CMK lifecycle: create, describe, list, enable/disable, deletion, archival, alias, description,
//! cloud-resource bindings.

use std::sync::Arc;

use uuid::Uuid;

use super::{Kms, material_aad};
use crate::error::StateNeed;
use crate::model::{KeyRecord, KeySpec, KeyState, KeyUsage, Origin, Scope, Tag, VersionRecord, now};
use crate::store::KeyFilter;
use crate::{Error, Result, validate};

/// What CreateKey asks for (validated by the front for its dialect's rules); the default is a
/// key of the service's default spec and usage, without alias, tags or rotation.
#[derive(Debug, Clone, Default)]
pub struct CreateKey {
    /// Tencent alias, unique per account and region; the key id if `None`.
    pub alias: Option<String>,
    /// Free text.
    pub description: String,
    /// Usage; the spec's default (its first) if `None`.
    pub usage: Option<KeyUsage>,
    /// What the key is; the service's default symmetric spec if `None`.
    pub spec: Option<KeySpec>,
    /// EXTERNAL (material imported later) instead of generated.
    pub external: bool,
    /// Tags.
    pub tags: Vec<Tag>,
    /// Automatic rotation period in seconds, if rotation is to be on.
    pub rotation_interval: Option<u64>,
    /// Key policy; the default policy if `None`.
    pub policy: Option<String>,
}

/// The policy a key gets when none is given: every principal of the owning account may use it.
pub fn default_policy(account: crate::model::AccountId) -> String {
    format!(
        r#"{{"Version":"1","Statement":[{{"Sid":"Enable RAM User Permissions","Effect":"Allow","Principal":{{"RAM":["acs:ram::{}:*"]}},"Action":["kms:*"],"Resource":["*"]}}]}}"#,
        account.0
    )
}

/// How a dialect's ScheduleKeyDeletion / CancelKeyDeletion behave.
#[derive(Debug, Clone, Copy)]
pub struct DeletionRules {
    /// Only a Disabled (or PendingImport) key may be scheduled (Tencent); else Enabled too (Alibaba).
    pub require_disabled: bool,
    /// The state a cancelled deletion returns the key to (Tencent: Disabled; Alibaba: Enabled).
    pub restore_to: KeyState,
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
        if let Some(alias) = &req.alias {
            validate::alias(alias)?;
        }
        validate::tags(&req.tags)?;
        validate::text("Description", &req.description)?;
        if let Some(policy) = &req.policy {
            validate::text("Policy", policy)?;
        }
        let spec = req.spec.unwrap_or(self.config.default_spec);
        let usage = match req.usage {
            Some(u) if spec.allows(u) => u,
            Some(u) => {
                return Err(Error::InvalidKeyUsage(format!("{} keys cannot be {}", spec.alibaba_name(), u.as_str())));
            }
            None => spec.usages().next().unwrap_or(KeyUsage::EncryptDecrypt),
        };
        if req.external && !spec.importable() {
            return Err(Error::Unsupported(format!("imported material for {} keys", spec.alibaba_name())));
        }
        if req.rotation_interval.is_some() && spec.symmetric().is_none() {
            return Err(Error::Unsupported(format!("automatic rotation of {} keys", spec.alibaba_name())));
        }
        let (store, account) = (Arc::clone(&self.store), scope.account);
        let count =
            self.key_counts.get_or_count(account, move || async move { store.count_keys(account).await }).await?;
        if count >= self.config.max_keys_per_account {
            return Err(Error::KeyLimitExceeded(self.config.max_keys_per_account));
        }
        let created_at = now();
        let id = Uuid::new_v4();
        let mut record = KeyRecord {
            id,
            account: scope.account,
            region: scope.region.clone(),
            alias: req.alias.unwrap_or_else(|| id.to_string()),
            description: req.description,
            usage,
            spec,
            origin: if req.external { Origin::External } else { Origin::Generated },
            state: if req.external { KeyState::PendingImport } else { KeyState::Enabled },
            created_at,
            deletion_date: 0,
            rotation_enabled: req.rotation_interval.is_some(),
            rotation_interval: req.rotation_interval.unwrap_or(365 * 86_400),
            last_rotated_at: 0,
            next_rotation_at: req.rotation_interval.map_or(0, |i| created_at + i),
            current_version: 0,
            deletion_protection: false,
            deletion_protection_description: String::new(),
            policy: req.policy.unwrap_or_else(|| default_policy(scope.account)),
            revision: 1,
            material_expires_at: 0,
            material_fingerprint: Vec::new(),
            tags: req.tags,
        };
        let first = if req.external {
            None
        } else {
            record.current_version = 1;
            let material = self.generate_material(scope.account, spec.kind()).await?;
            let sealed_material = self.seal_value(material_aad(record.account, record.id, 1), &material).await?;
            Some(VersionRecord {
                key_id: record.id,
                version: 1,
                version_id: Uuid::new_v4(),
                sealed_material,
                created_at,
            })
        };
        self.store.insert_key(&record, first.as_ref()).await?;
        self.key_counts.created(scope.account);
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
        validate::tag_filters(&filter.tags)?;
        validate::text("SearchKeyAlias", filter.search.as_deref().unwrap_or_default())?;
        let _turn = self.listings.enter(scope.account)?;
        Ok(self.store.list_keys(scope.account, &scope.region, filter).await?)
    }

    /// Enables a key (from Disabled; enabling an Enabled key is a no-op).
    pub async fn enable_key(&self, scope: &Scope, id: Uuid) -> Result<KeyRecord> {
        self.modify_key(scope, id, |k| match k.state {
            KeyState::Enabled | KeyState::Disabled => {
                k.state = KeyState::Enabled;
                Ok(())
            }
            state => Err(Error::KeyState { state, need: StateNeed::EnabledOrDisabled }),
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
            state => Err(Error::KeyState { state, need: StateNeed::EnabledOrDisabled }),
        })
        .await
    }

    /// Enables or disables several keys: all are checked first, so one bad id changes nothing.
    pub async fn set_keys_enabled(&self, scope: &Scope, ids: &[Uuid], enabled: bool) -> Result<()> {
        for id in ids {
            let k = self.key_for_update(scope, *id).await?;
            if !matches!(k.state, KeyState::Enabled | KeyState::Disabled) {
                return Err(Error::KeyState { state: k.state, need: StateNeed::EnabledOrDisabled });
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

    /// Schedules deletion in `days`, under the dialect's rules; refused while deletion
    /// protection is on.
    pub async fn schedule_key_deletion(
        &self,
        scope: &Scope,
        id: Uuid,
        days: u64,
        rules: DeletionRules,
    ) -> Result<KeyRecord> {
        let due = now().saturating_add(days.saturating_mul(86_400));
        self.modify_key(scope, id, |k| {
            let allowed = match k.state {
                KeyState::Disabled | KeyState::PendingImport => true,
                KeyState::Enabled => !rules.require_disabled,
                _ => false,
            };
            if !allowed {
                let need = if rules.require_disabled { StateNeed::Disabled } else { StateNeed::NotPendingDelete };
                return Err(Error::KeyState { state: k.state, need });
            }
            if k.deletion_protection {
                return Err(Error::DeletionProtected);
            }
            k.state = KeyState::PendingDelete;
            k.deletion_date = due;
            Ok(())
        })
        .await
    }

    /// Cancels a scheduled deletion; the key returns to `rules.restore_to` (PendingImport if it
    /// never had material).
    pub async fn cancel_key_deletion(&self, scope: &Scope, id: Uuid, rules: DeletionRules) -> Result<KeyRecord> {
        self.modify_key(scope, id, |k| match k.state {
            KeyState::PendingDelete => {
                k.state = if k.current_version == 0 { KeyState::PendingImport } else { rules.restore_to };
                k.deletion_date = 0;
                Ok(())
            }
            state => Err(Error::KeyState { state, need: StateNeed::PendingDelete }),
        })
        .await
    }

    /// Turns deletion protection on (with a description) or off.
    pub async fn set_deletion_protection(
        &self,
        scope: &Scope,
        id: Uuid,
        on: bool,
        description: &str,
    ) -> Result<KeyRecord> {
        self.modify_key(scope, id, |k| {
            k.deletion_protection = on;
            k.deletion_protection_description = if on { description.to_owned() } else { String::new() };
            Ok(())
        })
        .await
    }

    /// Replaces the key policy (stored and returned as given).
    pub async fn set_key_policy(&self, scope: &Scope, id: Uuid, policy: &str) -> Result<KeyRecord> {
        validate::text("Policy", policy)?;
        self.modify_key(scope, id, |k| {
            k.policy = policy.to_owned();
            Ok(())
        })
        .await
    }

    /// Adds tags to a key (replacing values of existing tag keys) and removes the tag keys in
    /// `remove`; at most [`validate::MAX_TAGS_PER_RESOURCE`] tags remain.
    pub async fn retag_key(&self, scope: &Scope, id: Uuid, add: &[Tag], remove: &[String]) -> Result<KeyRecord> {
        validate::tags(add)?;
        // Through the revision check like every key update, so concurrent retags do not lose tags.
        self.modify_key(scope, id, |k| {
            k.tags.retain(|t| !remove.contains(&t.key) && !add.iter().any(|a| a.key == t.key));
            k.tags.extend(add.iter().cloned());
            k.tags.sort();
            validate::tag_count(k.tags.len())
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
            state => Err(Error::KeyState { state, need: StateNeed::Enabled }),
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
            state => Err(Error::KeyState { state, need: StateNeed::Archived }),
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
        validate::text("Description", description)?;
        self.modify_key(scope, id, |k| {
            not_pending_delete(k)?;
            k.description = description.to_owned();
            Ok(())
        })
        .await
    }

    /// Records that a cloud resource uses the key (idempotent).
    pub async fn bind_cloud_resource(&self, scope: &Scope, id: Uuid, product: &str, resource: &str) -> Result<()> {
        validate::text("ProductId", product)?;
        validate::text("ResourceId", resource)?;
        self.key_for_update(scope, id).await?;
        Ok(self.store.bind_resource(id, product, resource).await?)
    }

    /// Removes a binding; false if there was none.
    pub async fn unbind_cloud_resource(&self, scope: &Scope, id: Uuid, product: &str, resource: &str) -> Result<bool> {
        validate::text("ProductId", product)?;
        validate::text("ResourceId", resource)?;
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
        return Err(Error::KeyState { state: k.state, need: StateNeed::NotPendingDelete });
    }
    Ok(())
}
