//! `ferrokms admin`: accounts and access keys, straight on the data directory.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use ferrokms_core::model::AccountId;
use ferrokms_server::config::{self, FileConfig};
use ferrokms_server::datadir;

#[derive(Args)]
pub struct AdminArgs {
    /// Data directory.
    #[arg(long, default_value = "ferrokms-data")]
    data_dir: PathBuf,
    /// Configuration file (for the root key source of a new data directory).
    #[arg(long)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: AdminCommand,
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create an account; prints its id.
    CreateAccount {
        /// Display name.
        #[arg(long, default_value = "account")]
        name: String,
    },
    /// List accounts.
    ListAccounts,
    /// Create an access key for an account; prints its id and secret once.
    CreateAccessKey {
        /// Account id.
        #[arg(long)]
        account: u64,
    },
    /// List access keys (without secrets).
    ListAccessKeys,
    /// Revoke an access key: it no longer signs requests.
    RevokeAccessKey {
        /// Access key id.
        id: String,
    },
    /// Reactivate a revoked access key.
    EnableAccessKey {
        /// Access key id.
        id: String,
    },
}

pub async fn run(args: AdminArgs) -> Result<(), String> {
    let file = match &args.config {
        Some(p) => config::load(p)?,
        None => FileConfig::default(),
    };
    if !datadir::exists(&args.data_dir) {
        return Err(format!(
            "{} is not a ferrokms data directory (start `ferrokms serve --data-dir {}` once to create it)",
            args.data_dir.display(),
            args.data_dir.display()
        ));
    }
    let dir = datadir::open(&args.data_dir, &file.root_key.source).await?;
    let kms = ferrokms_server::kms(&dir, &file)?;
    match args.command {
        AdminCommand::CreateAccount { name } => {
            let a = kms.create_account(&name).await.map_err(|e| e.to_string())?;
            println!("AccountId={}", a.id.0);
        }
        AdminCommand::ListAccounts => {
            for a in kms.list_accounts().await.map_err(|e| e.to_string())? {
                println!("{}\t{}\t{}", a.id.0, a.name, a.created_at);
            }
        }
        AdminCommand::CreateAccessKey { account } => {
            let k = kms.create_access_key(AccountId(account), None).await.map_err(|e| e.to_string())?;
            println!("AccountId={}", k.account.0);
            println!("AccessKeyId={}", k.id);
            println!("AccessKeySecret={}", k.secret.as_str());
        }
        AdminCommand::ListAccessKeys => {
            for k in kms.list_access_keys().await.map_err(|e| e.to_string())? {
                let status = if k.active { "active" } else { "revoked" };
                println!("{}\t{}\t{status}\t{}", k.id, k.account.0, k.created_at);
            }
        }
        AdminCommand::RevokeAccessKey { id } | AdminCommand::EnableAccessKey { id }
            if !kms.list_access_keys().await.map_err(|e| e.to_string())?.iter().any(|k| k.id == id) =>
        {
            return Err(format!("no access key {id}"));
        }
        AdminCommand::RevokeAccessKey { id } => {
            kms.set_access_key_active(&id, false).await.map_err(|e| e.to_string())?;
            println!("revoked {id}");
        }
        AdminCommand::EnableAccessKey { id } => {
            kms.set_access_key_active(&id, true).await.map_err(|e| e.to_string())?;
            println!("enabled {id}");
        }
    }
    Ok(())
}
