//! Outbox rows → messages, a batch at a time: the `mail::Compose` implementation.
//!
//! An article mail is rendered once per article and batch (`mail/article.html`, `.txt`) with
//! placeholders where each recipient's address and links go, then filled in per recipient. A
//! row whose subscriber is gone, unsubscribed, unconfirmed or suppressed, or whose article is no
//! longer published, is cancelled rather than sent.

use std::collections::hash_map::Entry;
use std::collections::HashMap;

use minijinja::context;

use crate::config::subscriptions::MailContent;
use crate::config::Config;
use crate::mail::message::{one_line, Unsubscribe};
use crate::mail::queries::OutboxRow;
use crate::mail::{BoxFuture, Compose, Composed, Outgoing};
use crate::store::Db;
use crate::subscriptions::queries::{self, DigestArticle, SubscriberRow};
use crate::subscriptions::tokens::Keys;
use crate::subscriptions::Subscriptions;

/// Outbox kinds composed here.
pub const ARTICLE_KIND: &str = "subscriptions.article";
pub const CONFIRM_KIND: &str = "subscriptions.confirm";
pub const DIGEST_KIND: &str = "subscriptions.digest";

const EMAIL_MARK: &str = "__OV_EMAIL__";
const MANAGE_MARK: &str = "__OV_MANAGE_URL__";
const UNSUBSCRIBE_MARK: &str = "__OV_UNSUBSCRIBE_URL__";

impl Compose for Subscriptions {
    fn handles(&self, kind: &str) -> bool {
        matches!(kind, ARTICLE_KIND | CONFIRM_KIND | DIGEST_KIND)
    }

    fn compose<'a>(&'a self, db: &'a Db, rows: &'a [OutboxRow]) -> BoxFuture<'a, anyhow::Result<Vec<Composed>>> {
        Box::pin(compose_batch(self, db, rows))
    }
}

/// A mail rendered once, filled in per recipient.
struct Prototype {
    subject: String,
    text: String,
    html: String,
}

/// One recipient's address and links.
struct Personal {
    email: String,
    manage_url: String,
    unsubscribe_url: String,
    token: String,
}

impl Personal {
    fn new(config: &Config, keys: &Keys, subscriber: &SubscriberRow) -> Personal {
        let base = config.base_url();
        let token = keys.manage_token(subscriber.id, &subscriber.email);
        Personal {
            email: subscriber.email.clone(),
            manage_url: format!("{base}/subscriptions/manage?token={token}"),
            unsubscribe_url: format!("{base}/subscriptions/unsubscribe?token={token}"),
            token,
        }
    }

    fn fill(&self, prototype: &Prototype) -> Outgoing {
        let email_html = minijinja::HtmlEscape(&self.email).to_string();
        let fill = |text: &str, email: &str| {
            text.replace(EMAIL_MARK, email)
                .replace(MANAGE_MARK, &self.manage_url)
                .replace(UNSUBSCRIBE_MARK, &self.unsubscribe_url)
        };
        Outgoing {
            to: self.email.clone(),
            subject: prototype.subject.clone(),
            text: fill(&prototype.text, &self.email),
            html: Some(fill(&prototype.html, &email_html)),
            unsubscribe: Some(self.unsubscribe()),
        }
    }

    fn unsubscribe(&self) -> Unsubscribe {
        Unsubscribe { url: self.unsubscribe_url.clone(), mailto_subject: format!("unsubscribe {}", self.token) }
    }
}

async fn compose_batch(subs: &Subscriptions, db: &Db, rows: &[OutboxRow]) -> anyhow::Result<Vec<Composed>> {
    let keys = subs.keys(db).await?;
    let mut ids: Vec<i64> = rows.iter().filter_map(|r| r.subscriber_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let subscribers: HashMap<i64, SubscriberRow> =
        queries::by_ids(db, &ids).await?.into_iter().map(|s| (s.id, s)).collect();
    let mut articles: HashMap<i64, Option<Prototype>> = HashMap::new();
    let mut digests: HashMap<String, Vec<DigestArticle>> = HashMap::new();
    let mut chosen: Option<HashMap<i64, Vec<i64>>> = None;

    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let Some(subscriber) = row.subscriber_id.and_then(|id| subscribers.get(&id)) else {
            out.push(Composed::Cancel("the subscriber was removed".into()));
            continue;
        };
        let personal = Personal::new(&subs.config, keys, subscriber);
        let composed = match row.kind.as_str() {
            CONFIRM_KIND => confirmation(subs, keys, row, subscriber, &personal)?,
            _ if subscriber.status != "confirmed" => {
                Composed::Cancel(format!("the subscriber is {}", subscriber.status))
            }
            _ if subscriber.suppressed.is_some() => Composed::Cancel("the address is suppressed".into()),
            ARTICLE_KIND => {
                let Some(article_id) = row.topic.strip_prefix("article:").and_then(|id| id.parse::<i64>().ok()) else {
                    out.push(Composed::Cancel(format!("unreadable topic {:?}", row.topic)));
                    continue;
                };
                let prototype = match articles.entry(article_id) {
                    Entry::Occupied(entry) => entry.into_mut(),
                    Entry::Vacant(entry) => entry.insert(article_prototype(subs, db, article_id).await?),
                };
                match prototype {
                    Some(prototype) => Composed::Send(personal.fill(prototype)),
                    None => Composed::Cancel("the article is no longer published".into()),
                }
            }
            DIGEST_KIND => {
                let Some((since, until, frequency)) = digest_payload(row.payload.as_deref()) else {
                    out.push(Composed::Cancel("unreadable digest period".into()));
                    continue;
                };
                if let Entry::Vacant(entry) = digests.entry(row.topic.clone()) {
                    let limit = subs.config.subscriptions.max_digest_articles as i64 * 20;
                    entry.insert(queries::digest_articles(db, since, until, limit).await?);
                }
                if chosen.is_none() {
                    let mut map: HashMap<i64, Vec<i64>> = HashMap::new();
                    for (subscriber, category) in queries::categories_of(db, &ids).await? {
                        map.entry(subscriber).or_default().push(category);
                    }
                    chosen = Some(map);
                }
                let categories = chosen.as_ref().and_then(|m| m.get(&subscriber.id));
                let picked: Vec<&DigestArticle> = digests[&row.topic]
                    .iter()
                    .filter(|a| {
                        subscriber.all_categories != 0
                            || a.filed_under.iter().any(|c| categories.is_some_and(|cs| cs.contains(c)))
                    })
                    .take(subs.config.subscriptions.max_digest_articles as usize)
                    .collect();
                if picked.is_empty() {
                    Composed::Cancel("no articles in the subscriber's categories".into())
                } else {
                    Composed::Send(personal.fill(&digest(subs, &frequency, &picked)?))
                }
            }
            other => Composed::Cancel(format!("unknown kind {other:?}")),
        };
        out.push(composed);
    }
    Ok(out)
}

fn render(subs: &Subscriptions, template: &str, ctx: minijinja::Value) -> anyhow::Result<String> {
    subs.templates.render(template, ctx).map_err(|e| anyhow::anyhow!("rendering {template}: {e:#}"))
}

fn site(subs: &Subscriptions) -> minijinja::Value {
    crate::theme::site_values(&subs.config)
}

/// The confirmation mail (or, for someone already confirmed, the "you are subscribed" mail
/// with their manage link); the link's age counts from the request.
fn confirmation(
    subs: &Subscriptions,
    keys: &Keys,
    row: &OutboxRow,
    subscriber: &SubscriberRow,
    personal: &Personal,
) -> anyhow::Result<Composed> {
    let already = match subscriber.status.as_str() {
        "pending" => false,
        "confirmed" => true,
        other => return Ok(Composed::Cancel(format!("the subscriber is {other}"))),
    };
    let token = keys.confirm_token(subscriber.id, &subscriber.email, row.created_at);
    let confirm_url = format!("{}/subscriptions/confirm?token={token}", subs.config.base_url());
    let ctx = context! {
        site => site(subs),
        already => already,
        confirm_url => confirm_url,
        max_age_hours => subs.config.subscriptions.confirm_max_age_hours,
        email => EMAIL_MARK,
        manage_url => MANAGE_MARK,
        unsubscribe_url => UNSUBSCRIBE_MARK,
    };
    let title = one_line(&subs.config.site.title);
    let subject =
        if already { format!("Your subscription to {title}") } else { format!("Confirm your subscription to {title}") };
    let prototype = Prototype {
        subject,
        text: render(subs, "mail/confirm.txt", ctx.clone())?,
        html: render(subs, "mail/confirm.html", ctx)?,
    };
    Ok(Composed::Send(personal.fill(&prototype)))
}

/// The article mail for every recipient, or `None` if the article is not published.
async fn article_prototype(subs: &Subscriptions, db: &Db, article_id: i64) -> anyhow::Result<Option<Prototype>> {
    let Some(article) = queries::article(db, article_id).await? else { return Ok(None) };
    if article.status != "published" || article.kind != "post" {
        return Ok(None);
    }
    let full = subs.config.subscriptions.content == MailContent::Full;
    let base = subs.config.base_url();
    let ctx = context! {
        site => site(subs),
        article => context! {
            title => article.title,
            url => format!("{base}/article/{}", article.slug),
            excerpt => article.excerpt,
            body_html => minijinja::Value::from_safe_string(absolute_links(&article.body_html, &base)),
            body_text => article.body_text,
            category => article.category_name,
            author => article.author_name,
            published_at => article.published_at,
        },
        full => full,
        email => EMAIL_MARK,
        manage_url => MANAGE_MARK,
        unsubscribe_url => UNSUBSCRIBE_MARK,
    };
    Ok(Some(Prototype {
        subject: format!("[{}] {}", one_line(&subs.config.site.title), one_line(&article.title)),
        text: render(subs, "mail/article.txt", ctx.clone())?,
        html: render(subs, "mail/article.html", ctx)?,
    }))
}

fn digest_payload(payload: Option<&str>) -> Option<(i64, i64, String)> {
    let value: serde_json::Value = serde_json::from_str(payload?).ok()?;
    Some((value["since"].as_i64()?, value["until"].as_i64()?, value["frequency"].as_str()?.to_string()))
}

fn digest(subs: &Subscriptions, frequency: &str, articles: &[&DigestArticle]) -> anyhow::Result<Prototype> {
    let base = subs.config.base_url();
    let items: Vec<minijinja::Value> = articles
        .iter()
        .map(|a| {
            context! {
                title => a.title,
                url => format!("{base}/article/{}", a.slug),
                excerpt => a.excerpt,
                category => a.category_name,
                published_at => a.published_at,
            }
        })
        .collect();
    let period = if frequency == "weekly" { "week" } else { "day" };
    let ctx = context! {
        site => site(subs),
        articles => items,
        period => period,
        email => EMAIL_MARK,
        manage_url => MANAGE_MARK,
        unsubscribe_url => UNSUBSCRIBE_MARK,
    };
    let n = articles.len();
    let subject = format!(
        "[{}] {n} new article{} this {period}",
        one_line(&subs.config.site.title),
        if n == 1 { "" } else { "s" }
    );
    Ok(Prototype {
        subject,
        text: render(subs, "mail/digest.txt", ctx.clone())?,
        html: render(subs, "mail/digest.html", ctx)?,
    })
}

/// Site-relative `href` and `src` attributes made absolute: a mail has no page to be relative to.
fn absolute_links(html: &str, base: &str) -> String {
    let mut out = html.to_string();
    for attribute in ["href=\"/", "src=\"/"] {
        let mut result = String::with_capacity(out.len());
        let mut rest = out.as_str();
        while let Some(at) = rest.find(attribute) {
            let end = at + attribute.len();
            result.push_str(&rest[..end - 1]);
            if !rest[end..].starts_with('/') {
                result.push_str(base);
            }
            result.push('/');
            rest = &rest[end..];
        }
        result.push_str(rest);
        out = result;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_links_become_absolute() {
        let html = r#"<a href="/article/x">x</a> <img src="/static/a.png"> <a href="//cdn.example.org/y">y</a> <a href="https://e.org/">e</a>"#;
        assert_eq!(
            absolute_links(html, "https://news.example.org"),
            r#"<a href="https://news.example.org/article/x">x</a> <img src="https://news.example.org/static/a.png"> <a href="//cdn.example.org/y">y</a> <a href="https://e.org/">e</a>"#
        );
    }
}
