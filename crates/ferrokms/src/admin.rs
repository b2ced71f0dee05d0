//! `ferrokms admin`: accounts and access keys, straight on the data directory; unsealing,
//! sealing and root rotation through the running server's administration socket.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use ferrokms_core::model::AccountId;
use ferrokms_server::admin_socket::{self, AdminRequest, AdminResponse};
use ferrokms_server::config::{self, FileConfig};
use ferrokms_server::datadir;

#[derive(Args)]
pub struct AdminArgs {
    /// Data directory.
    #[arg(long, default_value = "ferrokms-data")]
    data_dir: PathBuf,
    /// Configuration file (for the root key source of a new data directory, the socket path).
    #[arg(long)]
    config: Option<PathBuf>,
    /// The running server's administration socket [default: <data-dir>/admin.sock].
    #[arg(long)]
    socket: Option<PathBuf>,
    /// The store, as `ferrokms serve --store` takes it [default: `[store] url` in the config
    /// file, else <data-dir>/ferrokms.db].
    #[arg(long, env = "FERROKMS_STORE_URL", hide_env_values = true)]
    store: Option<String>,
    #[command(subcommand)]
    command: AdminCommand,
}

#[derive(Subcommand)]
enum AdminCommand {
    #[command(flatten)]
    Store(StoreCommand),
    #[command(flatten)]
    Server(ServerCommand),
}

/// Done straight on the data directory (server stopped or running).
#[derive(Subcommand)]
enum StoreCommand {
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

/// Sent to the running server's administration socket.
#[derive(Subcommand)]
enum ServerCommand {
    /// Show whether the running server is sealed, its root keys and the re-seal progress.
    Status,
    /// Unseal the running server: the root passphrase is read from stdin (one line) or a file.
    Unseal {
        /// Read the passphrase from this file instead of stdin.
        #[arg(long)]
        passphrase_file: Option<PathBuf>,
    },
    /// Seal the running server: it drops every key from memory and refuses requests until unsealed.
    Seal,
    /// Make a new root key the active one and re-seal every stored value under it, online.
    RotateRoot {
        /// Where the new root lives: `file` (a new key file), `passphrase` (read from stdin or
        /// --passphrase-file) or `pkcs11` (a new key on a token).
        #[arg(long)]
        to: String,
        /// Read the new passphrase from this file instead of stdin.
        #[arg(long)]
        passphrase_file: Option<PathBuf>,
        /// `--to pkcs11`: the PKCS#11 library (the server logs in with its own PIN).
        #[arg(long)]
        module: Option<String>,
        /// `--to pkcs11`: the token's label.
        #[arg(long)]
        token_label: Option<String>,
        /// `--to pkcs11`: the label of the key to generate on the token.
        #[arg(long)]
        key_label: Option<String>,
    },
    /// Run the re-seal pass again (finishes one that was interrupted; it also resumes at start).
    Reseal,
    /// Remove from the ring the old roots that nothing is sealed under any more.
    RetireRoots,
}

/// Reads a secret: the first line of `file`, or of stdin.
fn read_secret(file: Option<&PathBuf>) -> Result<zeroize::Zeroizing<String>, String> {
    let mut text = zeroize::Zeroizing::new(String::new());
    match file {
        Some(path) => {
            *text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        }
        None => {
            std::io::stdin().read_line(&mut text).map_err(|e| format!("cannot read stdin: {e}"))?;
        }
    }
    let line = text.lines().next().unwrap_or_default();
    if line.is_empty() {
        return Err("empty passphrase".into());
    }
    Ok(zeroize::Zeroizing::new(line.to_owned()))
}

/// The request for the running server's socket.
fn socket_request(command: &ServerCommand) -> Result<AdminRequest, String> {
    let req = |op: &str| AdminRequest { op: op.into(), ..AdminRequest::default() };
    Ok(match command {
        ServerCommand::Status => req("status"),
        ServerCommand::Seal => req("seal"),
        ServerCommand::Reseal => req("reseal"),
        ServerCommand::RetireRoots => req("retire-roots"),
        // A data directory whose root is a file unseals without one (nothing on stdin).
        ServerCommand::Unseal { passphrase_file } => AdminRequest {
            passphrase: match read_secret(passphrase_file.as_ref()) {
                Ok(p) => Some(p.to_string()),
                Err(_) if passphrase_file.is_none() => None,
                Err(e) => return Err(e),
            },
            ..req("unseal")
        },
        ServerCommand::RotateRoot { to, passphrase_file, module, token_label, key_label } => AdminRequest {
            to: Some(to.clone()),
            module: module.clone(),
            token_label: token_label.clone(),
            key_label: key_label.clone(),
            passphrase: if to == "passphrase" {
                Some(read_secret(passphrase_file.as_ref())?.to_string())
            } else {
                None
            },
            ..req("rotate-root")
        },
    })
}

/// Sends `command` to the server at `socket` and prints its answer.
async fn via_socket(socket: &std::path::Path, command: &ServerCommand) -> Result<(), String> {
    let mut req = socket_request(command)?;
    let answer = admin_socket::request(socket, &req).await;
    if let Some(p) = req.passphrase.as_mut() {
        zeroize::Zeroize::zeroize(p);
    }
    let answer = answer?;
    if !answer.ok {
        return Err(answer.message);
    }
    print_status(&answer);
    Ok(())
}

fn print_status(r: &AdminResponse) {
    println!("{}", r.message);
    println!("sealed: {}", r.sealed);
    println!("active root: {}", r.active_root);
    let roots: Vec<String> = r.roots.iter().map(u32::to_string).collect();
    println!("roots: {}", roots.join(", "));
    println!("re-sealing: {}", r.resealing);
    if let Some(counts) = &r.sealed_values {
        for (root, n) in counts {
            println!("values sealed under root {root}: {n}");
        }
    }
}

pub async fn run(args: AdminArgs) -> Result<(), String> {
    let mut file = match &args.config {
        Some(p) => config::load(p)?,
        None => FileConfig::default(),
    };
    let command = match args.command {
        AdminCommand::Server(command) => {
            let socket = args.socket.clone().unwrap_or_else(|| file.admin.socket_path(&args.data_dir));
            return via_socket(&socket, &command).await;
        }
        AdminCommand::Store(command) => command,
    };
    if !datadir::exists(&args.data_dir) {
        return Err(format!(
            "{} is not a ferrokms data directory (start `ferrokms serve --data-dir {}` once to create it)",
            args.data_dir.display(),
            args.data_dir.display()
        ));
    }
    if args.store.is_some() {
        file.store.url = args.store.clone();
    }
    let dir = datadir::open_unlocked(&args.data_dir, &file.root_key, &file.store).await?;
    let kms = ferrokms_server::kms(&dir, &file)?;
    match command {
        StoreCommand::CreateAccount { name } => {
            let a = kms.create_account(&name).await.map_err(|e| e.to_string())?;
            println!("AccountId={}", a.id.0);
        }
        StoreCommand::ListAccounts => {
            for a in kms.list_accounts().await.map_err(|e| e.to_string())? {
                println!("{}\t{}\t{}", a.id.0, a.name, a.created_at);
            }
        }
        StoreCommand::CreateAccessKey { account } => {
            let k = kms.create_access_key(AccountId(account), None).await.map_err(|e| e.to_string())?;
            println!("AccountId={}", k.account.0);
            println!("AccessKeyId={}", k.id);
            println!("AccessKeySecret={}", k.secret.as_str());
        }
        StoreCommand::ListAccessKeys => {
            for k in kms.list_access_keys().await.map_err(|e| e.to_string())? {
                let status = if k.active { "active" } else { "revoked" };
                println!("{}\t{}\t{status}\t{}", k.id, k.account.0, k.created_at);
            }
        }
        StoreCommand::RevokeAccessKey { id } | StoreCommand::EnableAccessKey { id }
            if !kms.list_access_keys().await.map_err(|e| e.to_string())?.iter().any(|k| k.id == id) =>
        {
            return Err(format!("no access key {id}"));
        }
        StoreCommand::RevokeAccessKey { id } => {
            kms.set_access_key_active(&id, false).await.map_err(|e| e.to_string())?;
            println!("revoked {id}");
        }
        StoreCommand::EnableAccessKey { id } => {
            kms.set_access_key_active(&id, true).await.map_err(|e| e.to_string())?;
            println!("enabled {id}");
        }
    }
    Ok(())
}
