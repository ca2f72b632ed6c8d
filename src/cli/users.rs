//! `openvoice user …`: list and add accounts, set passwords.

use std::io::Read;

use anyhow::Context;
use clap::Subcommand;

use crate::accounts::{self, NewUser, Role};
use crate::store::Db;

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add an account; prints a generated password unless --password-stdin is given.
    Add {
        /// Login name, also used in author URLs.
        username: String,
        #[arg(long)]
        email: String,
        #[arg(long, value_enum, default_value = "author")]
        role: Role,
        /// Name shown in bylines (default: the username).
        #[arg(long)]
        display_name: Option<String>,
        /// Read the password from standard input instead of generating one.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a new password (a locked-out admin without mail); ends the account's sessions and
    /// lockout. Prints a generated password unless --password-stdin is given.
    Password {
        /// Username or email address.
        username: String,
        /// Read the password from standard input instead of generating one.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List every account: username, role, email, whether it is disabled, two-factor on or off.
    List,
    /// Turn off two-factor sign-in for an account whose owner lost both the app and the
    /// recovery codes; the password alone signs in again, until they set it up anew.
    TwoFactorOff {
        /// Username or email address.
        username: String,
    },
}

pub async fn run(db: &Db, command: UserCommand) -> anyhow::Result<()> {
    match command {
        UserCommand::Add { username, email, role, display_name, password_stdin } => {
            let password = new_password(password_stdin)?;
            let display_name = display_name.unwrap_or_else(|| username.clone());
            let new = NewUser {
                username: &username,
                email: &email,
                display_name: &display_name,
                role,
                password: Some(&password),
            };
            let user = accounts::create_user(db, &new).await?;
            println!("Created {} {:?} ({})", user.role, user.username, user.email);
            if !password_stdin {
                println!("Password (shown once): {password}");
            }
            Ok(())
        }
        UserCommand::Password { username, password_stdin } => {
            let password = new_password(password_stdin)?;
            let user = accounts::auth::set_password(db, &username, &password).await?;
            println!("New password set for {:?}; its sessions have ended", user.username);
            if !password_stdin {
                println!("Password (shown once): {password}");
            }
            Ok(())
        }
        UserCommand::List => {
            let users = accounts::users::list(db).await?;
            println!("{:<24} {:<12} {:<32} {:<9} 2FA", "USERNAME", "ROLE", "EMAIL", "DISABLED");
            for user in &users {
                let two_factor = accounts::two_factor::is_enabled(db, user.id).await?;
                println!(
                    "{:<24} {:<12} {:<32} {:<9} {}",
                    user.username,
                    user.role,
                    user.email,
                    if user.disabled { "yes" } else { "no" },
                    if two_factor { "on" } else { "off" }
                );
            }
            Ok(())
        }
        UserCommand::TwoFactorOff { username } => {
            let user = accounts::two_factor::turn_off_by_operator(db, &username).await?;
            println!("Two-factor sign-in is off for {:?}", user.username);
            Ok(())
        }
    }
}

/// A password read from standard input (`--password-stdin`), or a generated one.
fn new_password(from_stdin: bool) -> anyhow::Result<String> {
    if !from_stdin {
        return Ok(accounts::generate_password());
    }
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text).context("reading the password from standard input")?;
    Ok(text.trim_end_matches(['\r', '\n']).to_string())
}
