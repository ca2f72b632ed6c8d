//! `openvoice subscribers …`: the subscriber list until the admin UI lands.

use std::io::{Read, Write};
use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Subcommand;

use crate::config::Config;
use crate::content;
use crate::store::{self, Db};
use crate::subscriptions::model::{Address, Frequency, Status};
use crate::subscriptions::queries;
use crate::subscriptions::service::{self, FanOut, Requested};
use crate::theme;

/// Largest CSV file `import` reads.
const MAX_IMPORT_BYTES: u64 = 256 << 20;

#[derive(Debug, Subcommand)]
pub enum SubscribersCommand {
    /// List subscribers, oldest first.
    List {
        #[arg(long, value_enum)]
        status: Option<Status>,
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
    /// Count subscribers per status and frequency.
    Count,
    /// Write every subscriber as CSV (the format `import` reads).
    Export {
        /// File to write; standard output when omitted.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Import a CSV list: a header with an `email` column (and optionally `frequency`,
    /// `categories`, `status`). Every line is checked first; one bad line imports nothing.
    /// Suppressed (bounced or unsubscribed) addresses are never re-added.
    Import {
        /// CSV file; `-` reads standard input.
        file: PathBuf,
        /// Ask every imported address to confirm (double opt-in) instead of trusting the list.
        #[arg(long)]
        pending: bool,
    },
    /// Subscribe an address: sends the confirmation mail, unless --confirmed.
    Add {
        email: String,
        /// Confirmed at once: you vouch for the subscriber's consent.
        #[arg(long)]
        confirmed: bool,
        #[arg(long, value_enum, default_value = "instant")]
        frequency: Frequency,
    },
    /// Unsubscribe addresses and suppress them (e.g. a `mailto:` unsubscribe request).
    Unsubscribe {
        #[arg(required = true, num_args = 1..)]
        emails: Vec<String>,
    },
    /// Delete subscribers and cancel their queued mail (suppressions stay).
    Remove {
        #[arg(required = true, num_args = 1..)]
        emails: Vec<String>,
    },
    /// Queue the mail about a published article now, as publishing does. Without --force an
    /// article is mailed at most once, and never when it is back-catalogue (an import).
    Notify {
        slug: String,
        /// Mail it even if it was skipped as back-catalogue, or to subscribers who joined
        /// since it was mailed (nobody gets it twice while its outbox rows are kept,
        /// `mail.keep_days`).
        #[arg(long)]
        force: bool,
    },
}

pub async fn run(db: &Db, config: &Config, command: SubscribersCommand) -> anyhow::Result<()> {
    match command {
        SubscribersCommand::List { status, limit } => {
            let subscribers = service::list(db, status, "", limit.clamp(1, 1_000_000), 0).await?;
            if subscribers.is_empty() {
                println!("No subscribers.");
            }
            for s in subscribers {
                let suppressed = s.suppressed.map(|r| format!(" (suppressed: {r})")).unwrap_or_default();
                println!(
                    "{:<7} {:<12} {:<8} {:<20} {}{suppressed}",
                    s.id,
                    s.status.as_str(),
                    s.frequency.as_str(),
                    theme::rfc3339(s.created_at),
                    s.email
                );
            }
            Ok(())
        }
        SubscribersCommand::Count => {
            let mut total = 0;
            for (status, frequency, suppressed, count) in queries::counts(db).await? {
                let note = if suppressed != 0 { " (suppressed)" } else { "" };
                println!("{status:<12} {frequency:<8} {count}{note}");
                total += count;
            }
            println!("total {total}");
            Ok(())
        }
        SubscribersCommand::Export { out } => {
            let text = service::export(db).await?;
            match out {
                Some(path) => std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?,
                None => std::io::stdout().write_all(text.as_bytes()).context("writing to standard output")?,
            }
            Ok(())
        }
        SubscribersCommand::Import { file, pending } => {
            let text = read_text(&file)?;
            match service::import(db, &text, pending, store::now()).await {
                Ok(report) => {
                    println!(
                        "Imported {} subscriber(s); {} already subscribed, {} suppressed (not added){}",
                        report.added,
                        report.existing,
                        report.suppressed,
                        if pending {
                            format!("; {} confirmation mail(s) queued", report.confirmations)
                        } else {
                            String::new()
                        }
                    );
                    Ok(())
                }
                Err(errors) => {
                    for error in errors.iter().take(1000) {
                        eprintln!("{error}");
                    }
                    if errors.len() > 1000 {
                        eprintln!("… and {} more", errors.len() - 1000);
                    }
                    bail!("{}: {} error(s); nothing was imported", file.display(), errors.len())
                }
            }
        }
        SubscribersCommand::Add { email, confirmed, frequency } => {
            let address = Address::parse(&email).map_err(|e| anyhow::anyhow!("{e}"))?;
            if confirmed {
                let s = service::add_confirmed(db, &address, frequency, store::now()).await?;
                println!("{} confirmed ({})", s.email, s.frequency.as_str());
            } else {
                match service::request(db, &config.subscriptions, &address, "cli", store::now()).await? {
                    Requested::MailQueued => println!("{address}: confirmation mail queued"),
                    Requested::Throttled => println!("{address}: a mail was queued for it moments ago; nothing sent"),
                }
            }
            Ok(())
        }
        SubscribersCommand::Unsubscribe { emails } => {
            for email in emails {
                let address = Address::parse(&email).map_err(|e| anyhow::anyhow!("{e}"))?;
                let known = service::unsubscribe_address(db, &address, store::now()).await?;
                println!(
                    "{address}: {}",
                    if known { "unsubscribed and suppressed" } else { "not a subscriber; suppressed" }
                );
            }
            Ok(())
        }
        SubscribersCommand::Remove { emails } => {
            let mut missing = 0;
            for email in emails {
                let address = Address::parse(&email).map_err(|e| anyhow::anyhow!("{e}"))?;
                if service::remove(db, &address).await? {
                    println!("{address}: removed");
                } else {
                    eprintln!("{address}: not a subscriber");
                    missing += 1;
                }
            }
            if missing > 0 {
                bail!("{missing} address(es) were not subscribers");
            }
            Ok(())
        }
        SubscribersCommand::Notify { slug, force } => {
            let article = content::service::reading::find(db, &slug).await?;
            let started = std::time::Instant::now();
            let now = store::now();
            let outcome = service::fan_out(db, &config.subscriptions, article.summary.id, now, force, now).await?;
            let secs = started.elapsed().as_secs_f64();
            match outcome {
                FanOut::Queued(n) => println!("Queued {n} mail(s) about {slug} in {secs:.3}s"),
                FanOut::AlreadyDone => {
                    println!("{slug} was mailed before; nothing queued (--force mails new subscribers)")
                }
                FanOut::Skipped(reason) => println!("{slug}: nothing queued: {reason}"),
            }
            Ok(())
        }
    }
}

fn read_text(path: &PathBuf) -> anyhow::Result<String> {
    let mut bytes = Vec::new();
    if path.as_os_str() == "-" {
        std::io::stdin().take(MAX_IMPORT_BYTES + 1).read_to_end(&mut bytes).context("reading standard input")?;
    } else {
        std::fs::File::open(path)
            .with_context(|| format!("opening {}", path.display()))?
            .take(MAX_IMPORT_BYTES + 1)
            .read_to_end(&mut bytes)
            .with_context(|| format!("reading {}", path.display()))?;
    }
    if bytes.len() as u64 > MAX_IMPORT_BYTES {
        bail!("{}: larger than {} MiB", path.display(), MAX_IMPORT_BYTES >> 20);
    }
    String::from_utf8(bytes).map_err(|e| {
        anyhow::anyhow!("{}: not UTF-8 text (invalid byte at offset {})", path.display(), e.utf8_error().valid_up_to())
    })
}
