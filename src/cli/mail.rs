//! `openvoice mail …`: check the settings, see the outbox, deliver now.

use std::time::{Duration, Instant};

use clap::Subcommand;

use crate::mail::{queries, service, Mailer};
use crate::store::Db;

#[derive(Debug, Subcommand)]
pub enum MailCommand {
    /// Send a test message straight through the configured transport and print the answer.
    Test {
        /// Recipient, e.g. you@example.org.
        to: String,
    },
    /// The outbox per state, suppressed addresses, and the latest failures.
    Status,
    /// Deliver everything due now, in this process, and print the rate.
    Deliver,
}

pub async fn run(db: &Db, mailer: &Mailer, site_title: &str, command: MailCommand) -> anyhow::Result<()> {
    match command {
        MailCommand::Test { to } => {
            let address =
                crate::subscriptions::model::Address::parse(&to).map_err(|err| anyhow::anyhow!("{to:?}: {err}"))?;
            println!("Sending a test message to {address} via {}", mailer.transport.describe());
            match service::send_test(mailer, address.as_str(), site_title).await {
                Ok(answer) => {
                    println!("Accepted: {answer}");
                    Ok(())
                }
                Err(err) => Err(err.context("the test message was not accepted")),
            }
        }
        MailCommand::Status => {
            println!("Transport: {}", mailer.transport.describe());
            let counts = queries::counts(db).await?;
            if counts.is_empty() {
                println!("The outbox is empty.");
            }
            for (state, count) in counts {
                println!("{state:<10} {count}");
            }
            for (reason, count) in queries::suppression_counts(db).await? {
                println!("suppressed ({reason}): {count}");
            }
            for (id, recipient, state, attempts, error) in queries::recent_failures(db, 10).await? {
                println!("#{id:<8} {state:<7} attempt {attempts:<3} {recipient}: {error}");
            }
            Ok(())
        }
        MailCommand::Deliver => {
            let started = Instant::now();
            let mut total = service::Report::default();
            loop {
                let report = service::deliver(db, mailer, Duration::from_secs(3600)).await?;
                total.sent += report.sent;
                total.retried += report.retried;
                total.failed += report.failed;
                total.cancelled += report.cancelled;
                if report.batches == 0 || report.stopped {
                    break;
                }
            }
            let secs = started.elapsed().as_secs_f64();
            println!(
                "Sent {} mail(s) in {secs:.2}s ({:.0}/s); {} to retry, {} failed, {} cancelled",
                total.sent,
                total.sent as f64 / secs.max(1e-9),
                total.retried,
                total.failed,
                total.cancelled
            );
            Ok(())
        }
    }
}
