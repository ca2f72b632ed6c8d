//! `openvoice token …`: create, list and revoke API tokens.

use anyhow::bail;
use clap::Subcommand;

use crate::accounts::api_tokens;
use crate::accounts::Role;
use crate::store::Db;
use crate::theme;

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token for a user; the token is printed once and cannot be shown again.
    Create {
        /// The user the token acts as.
        #[arg(long)]
        user: String,
        /// A label to recognise it by, e.g. "newsletter script".
        #[arg(long)]
        name: String,
        /// What the token may do (default: the user's role; never more).
        #[arg(long, value_enum)]
        role: Option<Role>,
    },
    /// List tokens (never the secrets), newest first.
    List {
        /// Only this user's tokens.
        #[arg(long)]
        user: Option<String>,
    },
    /// Revoke a token by id: requests with it are refused from now on.
    Revoke { id: i64 },
}

pub async fn run(db: &Db, command: TokenCommand) -> anyhow::Result<()> {
    match command {
        TokenCommand::Create { user, name, role } => {
            let (token, secret) = api_tokens::create(db, &user, &name, role).await?;
            println!("Created token #{} {:?} for {} ({})", token.id, token.name, token.username, token.role);
            println!("Token (shown once): {secret}");
        }
        TokenCommand::List { user } => {
            let tokens = api_tokens::list(db, user.as_deref()).await?;
            if tokens.is_empty() {
                println!("No tokens.");
            }
            for token in tokens {
                let state = match token.revoked_at {
                    Some(at) => format!("revoked {}", theme::rfc3339(at)),
                    None => "active".to_string(),
                };
                let used = token.last_used_at.map(theme::rfc3339).unwrap_or_else(|| "never".into());
                println!(
                    "{:<5} {:<16} {:<12} {:<30} created {}  last used {used}  {state}",
                    token.id,
                    token.username,
                    token.role,
                    token.name,
                    theme::rfc3339(token.created_at)
                );
            }
        }
        TokenCommand::Revoke { id } => {
            if !api_tokens::revoke(db, id, None).await? {
                bail!("no active token with id {id}");
            }
            println!("Revoked token #{id}");
        }
    }
    Ok(())
}
