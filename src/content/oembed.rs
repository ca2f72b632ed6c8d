//! The cards of embedded links from their providers' oEmbed endpoints
//! (`content.oembed_endpoints`): the server asks, so the reader's browser asks nobody before
//! its reader clicks. Answers are kept in `oembed_cards` for a week (a failure for a day), so
//! a page renders without waiting on a provider more than once in that time; each ask is
//! bounded in time and size, and a provider that fails only leaves its placeholder without a
//! title.

use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;
use std::time::Duration;

use serde::Deserialize;

use crate::content::embeds::Card;
use crate::content::queries;
use crate::http::outbound;
use crate::store::{self, Db, DbError};

/// How long a provider's answer stands.
const KEEP_SECS: i64 = 7 * 24 * 3600;
/// How long before a provider that did not answer is asked again.
const RETRY_SECS: i64 = 24 * 3600;
const TIMEOUT: Duration = Duration::from_secs(3);
const MAX_ANSWER_BYTES: usize = 64 * 1024;
/// Links asked about for one page, at most.
const MAX_LINKS: usize = 10;
const MAX_TITLE_CHARS: usize = 300;

/// The fields of an oEmbed response (oembed.com, 2.3.4) shown on a placeholder.
#[derive(Deserialize)]
struct Answer {
    title: Option<String>,
    #[serde(default)]
    author_name: Option<String>,
}

/// The cards of `links` (URL, provider) whose provider has an endpoint in `endpoints`: kept
/// ones, else asked for now.
pub async fn cards(
    db: &Db,
    endpoints: &BTreeMap<String, String>,
    links: &[(String, &'static str)],
) -> Result<HashMap<String, Card>, DbError> {
    let mut cards = HashMap::new();
    let now = store::now();
    for (url, provider) in links.iter().take(MAX_LINKS) {
        let Some(endpoint) = endpoints.get(*provider) else { continue };
        if cards.contains_key(url) {
            continue;
        }
        let (title, author_name) = match queries::oembed::card(db, url).await? {
            Some((title, author, at)) if now - at < if title.is_some() { KEEP_SECS } else { RETRY_SECS } => {
                (title, author)
            }
            _ => {
                let answer = ask(endpoint, url).await;
                let (title, author) = match &answer {
                    Some((title, author)) => (Some(title.as_str()), author.as_str()),
                    None => (None, ""),
                };
                queries::oembed::save_card(db, url, title, author, now).await?;
                answer.map_or((None, String::new()), |(title, author)| (Some(title), author))
            }
        };
        if let Some(title) = title {
            cards.insert(url.clone(), Card { title, author_name });
        }
    }
    Ok(cards)
}

fn client() -> Option<&'static reqwest::Client> {
    static CLIENT: OnceLock<Option<reqwest::Client>> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(TIMEOUT)
                .connect_timeout(TIMEOUT)
                .user_agent(concat!("OpenVoice/", env!("CARGO_PKG_VERSION"), " (oEmbed)"))
                .build()
                .ok()
        })
        .as_ref()
}

/// The provider's title and author for `url`, or `None` when it does not answer usably.
async fn ask(endpoint: &str, url: &str) -> Option<(String, String)> {
    let mut request = reqwest::Url::parse(endpoint).ok()?;
    request.query_pairs_mut().append_pair("url", url).append_pair("format", "json");
    let response = client()?.get(request).send().await.ok()?.error_for_status().ok()?;
    let body = outbound::read_capped(response, MAX_ANSWER_BYTES).await.ok()?;
    let answer: Answer = serde_json::from_slice(&body).ok()?;
    let one_line = |text: String| -> String {
        text.chars().filter(|c| !c.is_control()).take(MAX_TITLE_CHARS).collect::<String>().trim().to_string()
    };
    let title = answer.title.map(one_line).filter(|t| !t.is_empty())?;
    Some((title, answer.author_name.map(one_line).unwrap_or_default()))
}
