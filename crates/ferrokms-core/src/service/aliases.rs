//! Aliases (`alias/<name>`): names in an account and region that point at keys, usable wherever
//! a key is named. A key may have many; deleting the key deletes them.

use uuid::Uuid;

use super::Kms;
use crate::error::StateNeed;
use crate::model::{AliasRecord, KeyState, Scope, VersionRecord, now};
use crate::{Error, Result};

/// Checks an alias name: `alias/` then 1-249 of `[a-zA-Z0-9:/_-]`, not `alias/acs...` (reserved).
pub fn check_alias_name(name: &str) -> Result<()> {
    let rest = name.strip_prefix("alias/").unwrap_or_default();
    let ok = name.len() <= 255
        && !rest.is_empty()
        && !rest.starts_with("acs")
        && rest.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '/' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidAlias("`alias/` then up to 249 of a-z A-Z 0-9 : / _ -, not starting with alias/acs".into()))
    }
}

impl Kms {
    /// The key an alias points at.
    pub async fn resolve_alias(&self, scope: &Scope, name: &str) -> Result<Uuid> {
        let alias = self.store.get_alias(scope.account, &scope.region, name).await?;
        alias.map(|a| a.key_id).ok_or(Error::AliasNotFound)
    }

    /// Binds a new alias to a key (not one pending deletion).
    pub async fn create_alias(&self, scope: &Scope, name: &str, key_id: Uuid) -> Result<AliasRecord> {
        check_alias_name(name)?;
        let key = self.key_for_update(scope, key_id).await?;
        if key.state == KeyState::PendingDelete {
            return Err(Error::KeyState { state: key.state, need: StateNeed::NotPendingDelete });
        }
        let alias = AliasRecord {
            account: scope.account,
            region: scope.region.clone(),
            name: name.to_owned(),
            key_id,
            created_at: now(),
        };
        self.store.insert_alias(&alias).await?;
        Ok(alias)
    }

    /// Points an existing alias at another key (not one pending deletion).
    pub async fn update_alias_target(&self, scope: &Scope, name: &str, key_id: Uuid) -> Result<()> {
        check_alias_name(name)?;
        let key = self.key_for_update(scope, key_id).await?;
        if key.state == KeyState::PendingDelete {
            return Err(Error::KeyState { state: key.state, need: StateNeed::Usable });
        }
        if self.store.update_alias(scope.account, &scope.region, name, key_id).await? {
            Ok(())
        } else {
            Err(Error::AliasNotFound)
        }
    }

    /// Deletes an alias.
    pub async fn delete_alias(&self, scope: &Scope, name: &str) -> Result<()> {
        if self.store.delete_alias(scope.account, &scope.region, name).await? {
            Ok(())
        } else {
            Err(Error::AliasNotFound)
        }
    }

    /// Aliases of the caller's region (of one key if given), by name, paged, with the total.
    pub async fn list_aliases(
        &self,
        scope: &Scope,
        key_id: Option<Uuid>,
        offset: u64,
        limit: u64,
    ) -> Result<(Vec<AliasRecord>, u64)> {
        if let Some(k) = key_id {
            self.key_for_update(scope, k).await?;
        }
        let _turn = self.listings.enter(scope.account)?;
        Ok(self.store.list_aliases(scope.account, &scope.region, key_id, offset, limit).await?)
    }

    /// Every version of a key, oldest first.
    pub async fn key_versions(&self, scope: &Scope, key_id: Uuid) -> Result<Vec<VersionRecord>> {
        self.key_for_update(scope, key_id).await?;
        Ok(self.store.list_versions(key_id).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alias_names() {
        for ok in ["alias/a", "alias/app:prod/key_1-x", &format!("alias/{}", "a".repeat(249))] {
            assert!(check_alias_name(ok).is_ok(), "{ok}");
        }
        for bad in
            ["a", "alias/", "alias/acs-x", "Alias/a", "alias/a b", "alias/ключ", &format!("alias/{}", "a".repeat(250))]
        {
            assert!(check_alias_name(bad).is_err(), "{bad}");
        }
    }
}
