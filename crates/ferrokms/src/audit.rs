//! `ferrokms audit`: checks the audit log of a data directory.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use ferrokms_server::config;

#[derive(Args)]
pub struct AuditArgs {
    #[command(subcommand)]
    command: AuditCommand,
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Verify the chain of records and the checkpoint signatures; exits non-zero, naming the
    /// file, line and record, on any removed, reordered, inserted or edited record.
    Verify {
        /// Data directory (its `audit` directory is read).
        #[arg(long, default_value = "ferrokms-data")]
        data_dir: PathBuf,
        /// Configuration file (for `[audit] dir`, if set there).
        #[arg(long)]
        config: Option<PathBuf>,
        /// The audit directory itself, instead of `<data-dir>/audit`.
        #[arg(long)]
        dir: Option<PathBuf>,
        /// The service's public key (hex), known out of band [default: `signing-key.pub` beside
        /// the log, which whoever can edit the log can also replace].
        #[arg(long)]
        public_key: Option<PathBuf>,
    },
}

pub fn run(args: AuditArgs) -> Result<(), String> {
    match args.command {
        AuditCommand::Verify { data_dir, config: path, dir, public_key } => {
            let from_file = match &path {
                Some(p) => config::load(p)?.audit.dir,
                None => None,
            };
            let dir = dir.or(from_file).unwrap_or_else(|| data_dir.join("audit"));
            let key = public_key.as_deref().map(ferrokms_audit::signer::read_public_key).transpose()?;
            let report = ferrokms_audit::verify::verify_dir(&dir, key.as_deref());
            println!("{}: {report}", dir.display());
            if report.ok() {
                Ok(())
            } else {
                Err(format!("the audit log in {} does not verify ({} problems)", dir.display(), report.problem_count))
            }
        }
    }
}
