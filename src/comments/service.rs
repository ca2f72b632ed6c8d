//! Comment decisions: validation, the spam checks that need the database, WordPress's
//! moderation rules, threads, and moderation. Every write is one transaction; one that makes a
//! comment public (or hides a public one) also bumps the content epoch, so every node's page
//! cache drops the pages that show it.

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;

use sha2::{Digest, Sha256};

use crate::comments::guard::{Keys, TokenError};
use crate::comments::model::*;
use crate::comments::queries::{self, NewRow, TargetRow};
use crate::comments::text;
use crate::config::comments::CommentsConfig;
use crate::content::model::{ArticleSummary, Page};
use crate::store::{self, ContentChange, Db, DbError};

/// WordPress's field limits, in characters.
pub const MAX_NAME_CHARS: usize = 245;
pub const MAX_EMAIL_CHARS: usize = 100;
pub const MAX_URL_CHARS: usize = 200;
pub const MAX_COMMENT_CHARS: usize = 65_525;

/// WordPress's answer to a repeated comment, word for word.
pub const DUPLICATE_MESSAGE: &str = "Duplicate comment detected; it looks as though you\u{2019}ve already said that!";

#[derive(Debug, thiserror::Error)]
pub enum CommentError {
    /// One message per faulty field, in form order.
    #[error("invalid fields: {0:?}")]
    Invalid(Vec<(&'static str, String)>),
    #[error("comments are closed on this article")]
    Closed,
    #[error("the honeypot field was filled in")]
    Honeypot,
    #[error("form token refused: {0:?}")]
    Token(TokenError),
    #[error("the comment replied to does not exist")]
    ParentNotFound,
    #[error("the comment replied to belongs to another article")]
    ParentElsewhere,
    #[error("the comment replied to was deleted")]
    ParentGone,
    #[error("the same address or email commented less than {retry_after} s ago")]
    Flood { retry_after: u64 },
    #[error("duplicate comment")]
    Duplicate,
    /// A remote reply to an article that is not a published post.
    #[error("no published article with that slug")]
    NoArticle,
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<sqlx::Error> for CommentError {
    fn from(err: sqlx::Error) -> Self {
        CommentError::Db(err.into())
    }
}

/// A submission as the web layer hands it over.
#[derive(Debug, Clone)]
pub struct Submission {
    pub form: CommentForm,
    pub token: String,
    /// The hidden field only bots fill in.
    pub honeypot: String,
    pub ip: IpAddr,
    pub user_agent: String,
    /// The comments this browser wrote (its cookie), which it may answer while they are pending.
    pub own: Vec<i64>,
}

/// A stored comment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted {
    pub id: i64,
    pub status: CommentStatus,
    /// The page of the article's thread that shows it.
    pub page: u32,
}

/// Whether an article takes new comments now.
pub fn is_open(config: &CommentsConfig, target: &TargetRow, now: i64) -> bool {
    let settings = target.settings();
    if !config.enabled || !settings.open {
        return false;
    }
    let days = settings.close_after_days.unwrap_or(config.close_after_days as i64);
    match (days, target.published_at) {
        (d, Some(published)) if d > 0 => now < published + d * 86_400,
        _ => true,
    }
}

/// Checks the fields the way WordPress does; on success the values are trimmed and the website
/// has a scheme.
pub fn validate(form: &CommentForm) -> Result<CommentForm, CommentError> {
    let mut errors = Vec::new();
    let clean = |s: &str| s.replace('\0', "").trim().to_string();
    let author = clean(&form.author);
    let email = clean(&form.email).to_lowercase();
    let mut url = clean(&form.url);
    let comment = form.comment.replace('\0', "").trim().to_string();
    if author.is_empty() {
        errors.push(("author", "Please enter your name.".to_string()));
    } else if author.chars().count() > MAX_NAME_CHARS {
        errors.push(("author", format!("Your name is too long: at most {MAX_NAME_CHARS} characters.")));
    }
    if email.is_empty() {
        errors.push(("email", "Please enter your email address.".to_string()));
    } else if email.chars().count() > MAX_EMAIL_CHARS {
        errors.push(("email", format!("Your email address is too long: at most {MAX_EMAIL_CHARS} characters.")));
    } else if !is_email(&email) {
        errors.push(("email", "Please enter a valid email address.".to_string()));
    }
    if !url.is_empty() {
        if !url.contains("://") {
            url = format!("http://{url}");
        }
        if url.chars().count() > MAX_URL_CHARS {
            errors.push(("url", format!("Your website address is too long: at most {MAX_URL_CHARS} characters.")));
        } else if !is_web_url(&url) {
            errors.push(("url", "Please enter a valid website address (http:// or https://).".to_string()));
        }
    }
    if comment.is_empty() {
        errors.push(("comment", "Please type your comment.".to_string()));
    } else if comment.chars().count() > MAX_COMMENT_CHARS {
        errors.push(("comment", format!("Your comment is too long: at most {MAX_COMMENT_CHARS} characters.")));
    }
    if !errors.is_empty() {
        return Err(CommentError::Invalid(errors));
    }
    Ok(CommentForm { author, email, url, comment, parent: form.parent, save: form.save })
}

fn is_email(email: &str) -> bool {
    let Some((local, domain)) = email.rsplit_once('@') else { return false };
    let domain_ok = domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && domain.chars().all(|c| c.is_alphanumeric() || c == '-' || c == '.');
    !local.is_empty()
        && !local.contains('@')
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && domain_ok
}

fn is_web_url(url: &str) -> bool {
    let rest = url.strip_prefix("http://").or_else(|| url.strip_prefix("https://"));
    let Some(rest) = rest else { return false };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit('@').next().unwrap_or("");
    let (host, port) = match host_port.rsplit_once(':') {
        Some((host, port)) if !host_port.ends_with(']') => (host, port),
        _ => (host_port, "0"),
    };
    !host.is_empty()
        && !port.is_empty()
        && port.chars().all(|c| c.is_ascii_digit())
        && !url.chars().any(|c| c.is_whitespace() || c.is_control() || "<>\"'`".contains(c))
        && host.chars().all(|c| c.is_alphanumeric() || "-.:[]".contains(c))
}

/// Runs every check on a submission and stores it; `now` is Unix seconds.
pub async fn submit(
    db: &Db,
    config: &CommentsConfig,
    keys: &Keys,
    target: &TargetRow,
    submission: Submission,
    now: i64,
) -> Result<Accepted, CommentError> {
    if !is_open(config, target, now) {
        return Err(CommentError::Closed);
    }
    if !submission.honeypot.is_empty() {
        return Err(CommentError::Honeypot);
    }
    keys.check_form_token(
        &submission.token,
        target.id,
        now,
        config.min_seconds as i64,
        config.token_max_age_secs as i64,
    )
    .map_err(CommentError::Token)?;
    let form = validate(&submission.form)?;

    let (parent_id, thread_id, depth) = place(db, target.id, form.parent, &submission.own).await?;

    let content_html = text::render(&form.comment);
    let content_hash = hex::encode(Sha256::digest(form.comment.as_bytes()));
    let ip_hash = keys.ip_hash(submission.ip);
    let facts = queries::facts(db, &ip_hash, &form.email, &form.author, target.id, &content_hash).await?;
    if facts.duplicates > 0 {
        return Err(CommentError::Duplicate);
    }
    if config.flood_seconds > 0 {
        let last = facts.last_by_ip.max(facts.last_by_email);
        if let Some(last) = last {
            let wait = last + config.flood_seconds as i64 - now;
            if wait > 0 {
                return Err(CommentError::Flood { retry_after: wait as u64 });
            }
        }
    }

    let user_agent: String = submission.user_agent.chars().take(254).collect();
    let said = [form.comment.as_str(), &form.author, &form.email, &form.url, &user_agent];
    let status = moderate(config, &said, &content_html, facts.approved_before > 0);
    let avatar = keys.avatar_name(&form.email);
    let row = NewRow {
        article_id: target.id,
        parent_id,
        thread_id,
        depth,
        status,
        author_name: &form.author,
        author_email: &form.email,
        author_url: &form.url,
        avatar: &avatar,
        ip_hash: &ip_hash,
        user_agent: &user_agent,
        content: &form.comment,
        content_html: &content_html,
        content_hash: &content_hash,
        remote: None,
        created_at: None,
    };
    let mut tx = db.begin().await?;
    let id = queries::insert(&mut tx, &row, now).await?;
    if status == CommentStatus::Approved {
        store::bump_content_epoch(&mut tx, &[ContentChange::AroundArticle(target.id)]).await?;
    }
    tx.commit().await?;
    tracing::info!(comment.id = id, article.id = target.id, status = status.as_str(), "New comment on {}", target.slug);

    let root = thread_id.unwrap_or(id);
    let before = queries::threads_before(db, target.id, root).await?;
    let page = (before / config.per_page.max(1) as i64) as u32 + 1;
    Ok(Accepted { id, status, page })
}

/// WordPress's rules, in its order: disallowed words → spam; manual approval, too many links,
/// moderation words or an unknown commenter → pending; otherwise approved. `said` is what the
/// word lists are matched against: the text, name, email, website and browser.
fn moderate(config: &CommentsConfig, said: &[&str], content_html: &str, approved_before: bool) -> CommentStatus {
    let haystack = said.join("\n").to_lowercase();
    if config.disallowed_keys.iter().any(|word| haystack.contains(word.as_str())) {
        return CommentStatus::Spam;
    }
    let too_many_links =
        config.moderation_links > 0 && text::count_links(content_html) >= config.moderation_links as usize;
    if config.moderate_all
        || too_many_links
        || config.moderation_keys.iter().any(|word| haystack.contains(word.as_str()))
        || (config.require_previous_approval && !approved_before)
    {
        return CommentStatus::Pending;
    }
    CommentStatus::Approved
}

/// Where a new comment on article `article_id` goes: `(parent, thread, depth)` under `parent`,
/// which must be an approved comment of that article, or a pending one in `own` (a pending
/// comment is visible to its author only, and so only they can answer it).
async fn place(
    db: &Db,
    article_id: i64,
    parent: Option<i64>,
    own: &[i64],
) -> Result<(Option<i64>, Option<i64>, i64), CommentError> {
    let Some(id) = parent else { return Ok((None, None, 1)) };
    let parent = match queries::parent(db, id).await {
        Ok(parent) => parent,
        Err(DbError::NotFound) => return Err(CommentError::ParentNotFound),
        Err(err) => return Err(err.into()),
    };
    if parent.article_id != article_id {
        return Err(CommentError::ParentElsewhere);
    }
    match CommentStatus::parse(&parent.status) {
        Some(CommentStatus::Approved) => {}
        Some(CommentStatus::Pending) if own.contains(&parent.id) => {}
        Some(CommentStatus::Pending) => return Err(CommentError::ParentNotFound),
        _ => return Err(CommentError::ParentGone),
    }
    Ok((Some(parent.id), Some(parent.thread_id.unwrap_or(parent.id)), parent.depth + 1))
}

/// One page of an article's thread from its visible comments (`queries::visible`, oldest
/// first). `NotFound` for a page past the end.
pub fn thread(config: &CommentsConfig, rows: Vec<PublicComment>, page: u32, open: bool) -> Result<Thread, DbError> {
    build_thread(rows, config.thread_depth, config.per_page, page, open)
}

fn build_thread(
    rows: Vec<PublicComment>,
    max_depth: u32,
    per_page: u32,
    page: u32,
    open: bool,
) -> Result<Thread, DbError> {
    let approved_count = rows.iter().filter(|c| c.status == CommentStatus::Approved).count() as i64;
    let last_changed = rows.iter().filter(|c| c.status == CommentStatus::Approved).map(|c| c.updated_at).max();
    let index: HashMap<i64, usize> = rows.iter().enumerate().map(|(i, c)| (c.id, i)).collect();
    let mut children: HashMap<i64, Vec<usize>> = HashMap::new();
    let mut roots = Vec::new();
    for (i, comment) in rows.iter().enumerate() {
        match comment.parent_id.filter(|p| index.contains_key(p)) {
            Some(parent) => children.entry(parent).or_default().push(i),
            // Replies whose parent is not shown become top-level: no comment is hidden.
            None => roots.push(i),
        }
    }
    let per_page = per_page.max(1) as usize;
    let total_pages = roots.len().div_ceil(per_page).max(1) as u32;
    if page == 0 || page > total_pages {
        return Err(DbError::NotFound);
    }
    let mut comments = Vec::new();
    let ctx = Ctx { rows: &rows, children: &children, max_depth, open };
    for &root in roots.iter().skip((page as usize - 1) * per_page).take(per_page) {
        ctx.build(root, 1, &mut comments);
    }
    Ok(Thread { comments, approved_count, page, total_pages, last_changed })
}

struct Ctx<'a> {
    rows: &'a [PublicComment],
    children: &'a HashMap<i64, Vec<usize>>,
    max_depth: u32,
    open: bool,
}

impl Ctx<'_> {
    /// Adds comment `i` at `depth` to `out`; at the deepest level its replies follow it as siblings.
    fn build(&self, i: usize, depth: u32, out: &mut Vec<ThreadNode>) {
        let comment = self.rows[i].clone();
        let kids = self.children.get(&comment.id).map(Vec::as_slice).unwrap_or(&[]);
        let mut node = ThreadNode {
            awaiting_moderation: comment.status == CommentStatus::Pending,
            can_reply: self.open && depth < self.max_depth && comment.status == CommentStatus::Approved,
            comment,
            depth,
            replies: Vec::new(),
        };
        if depth < self.max_depth {
            for &kid in kids {
                self.build(kid, depth + 1, &mut node.replies);
            }
            out.push(node);
        } else {
            out.push(node);
            for &kid in kids {
                self.build(kid, depth, out);
            }
        }
    }
}

/// A listing page with each article's number of approved comments (one query for the page).
pub async fn with_counts(db: &Db, listing: Page<ArticleSummary>) -> Result<Page<Counted<ArticleSummary>>, DbError> {
    let ids: Vec<i64> = listing.items.iter().map(|a| a.id).collect();
    let counts: HashMap<i64, i64> = queries::approved_counts(db, &ids).await?.into_iter().collect();
    let items = listing
        .items
        .into_iter()
        .map(|item| {
            let comment_count = counts.get(&item.id).copied().unwrap_or(0);
            Counted { item, comment_count }
        })
        .collect();
    Ok(Page { items, page: listing.page, total_pages: listing.total_pages, total_items: listing.total_items })
}

/// One page of comments matching `filter`, newest first, and how many match in all.
pub async fn list(
    db: &Db,
    filter: queries::ModerationFilter,
    limit: i64,
    offset: i64,
) -> Result<(Vec<ModeratedComment>, i64), DbError> {
    let items = queries::for_moderation(db, filter, limit, offset).await?;
    Ok((items, queries::count_for_moderation(db, filter).await?))
}

/// Moves comments to `status` in one transaction; returns the ids that changed. Ids that do not
/// exist are an error before anything changes.
pub async fn set_status(db: &Db, ids: &[i64], status: CommentStatus) -> Result<Vec<i64>, CommentError> {
    let found = queries::existing(db, ids).await?;
    let missing: Vec<String> = ids.iter().filter(|id| !found.contains(id)).map(i64::to_string).collect();
    if !missing.is_empty() {
        return Err(CommentError::Invalid(vec![("id", format!("no comment with id {}", missing.join(", ")))]));
    }
    let now = store::now();
    let mut tx = db.begin().await?;
    let (changed, articles): (Vec<i64>, Vec<i64>) =
        queries::set_status(&mut tx, ids, status, now).await?.into_iter().unzip();
    if !changed.is_empty() {
        let detail =
            format!("{} → {}", changed.iter().map(i64::to_string).collect::<Vec<_>>().join(","), status.as_str());
        store::record_activity(&mut tx, "comments.moderated", None, &detail).await?;
        // Approving publishes; spam or trash may hide a public comment. Either way the pages of
        // the comments' articles change.
        let pages = BTreeSet::from_iter(articles).into_iter().map(ContentChange::AroundArticle).collect::<Vec<_>>();
        store::bump_content_epoch(&mut tx, &pages).await?;
    }
    tx.commit().await?;
    Ok(changed)
}

/// Longest note id or actor id kept (a URL).
pub const MAX_REMOTE_ID_CHARS: usize = 2048;

/// A reply from the fediverse becomes a comment under the form's rules where they apply: the
/// article's comments must be open, the thread depth and length limits hold, the word lists and
/// the link count moderate it, and "held when first" is keyed by the remote actor (one of whose
/// comments was approved before: approved; else pending). The note's HTML is reduced to the
/// commenter subset (`text::render_html`); the author's name links to their profile; there is
/// no email (stored as '') and the identicon is keyed by the actor id. A note already stored
/// (deliveries repeat) answers the existing comment with `created: false`. The honeypot, the
/// form token and the per-address checks are the form's alone; a flood is counted per actor.
pub async fn submit_remote(db: &Db, config: &CommentsConfig, reply: RemoteReply) -> Result<Submitted, CommentError> {
    let now = store::now();
    if let Some(existing) = existing_remote(db, &reply.remote_id, &reply.remote_actor).await? {
        return Ok(existing);
    }
    let target = match queries::target(db, &reply.slug).await {
        Ok(target) => target,
        Err(DbError::NotFound) => return Err(CommentError::NoArticle),
        Err(err) => return Err(err.into()),
    };
    if !is_open(config, &target, now) {
        return Err(CommentError::Closed);
    }

    let mut errors = Vec::new();
    for (field, value) in [("remote_id", &reply.remote_id), ("remote_actor", &reply.remote_actor)] {
        if value.chars().count() > MAX_REMOTE_ID_CHARS || !is_web_url(value) {
            errors
                .push((field, format!("{value:?} is not an http(s) URL of at most {MAX_REMOTE_ID_CHARS} characters")));
        }
    }
    let clean = |s: &str| s.replace('\0', "").trim().to_string();
    // The sender cannot correct a name, so a long one is cut rather than refused.
    let mut author: String = clean(&reply.author_name).chars().take(MAX_NAME_CHARS).collect();
    if author.is_empty() {
        author = reply.remote_actor.chars().take(MAX_NAME_CHARS).collect();
    }
    let profile = clean(&reply.author_url);
    let url = if profile.chars().count() <= MAX_URL_CHARS && is_web_url(&profile) {
        profile
    } else if reply.remote_actor.chars().count() <= MAX_URL_CHARS && is_web_url(&reply.remote_actor) {
        reply.remote_actor.clone()
    } else {
        String::new()
    };
    let content_html = text::render_html(&reply.content_html.replace('\0', ""));
    let content = text::plain_text(&content_html);
    if content.is_empty() {
        errors.push(("comment", "The note has no text.".to_string()));
    } else if content.chars().count() > MAX_COMMENT_CHARS {
        errors.push(("comment", format!("The note is too long: at most {MAX_COMMENT_CHARS} characters.")));
    }
    if !errors.is_empty() {
        return Err(CommentError::Invalid(errors));
    }

    // Only its author's browser sees a pending comment: nobody remote can answer it.
    let (parent_id, thread_id, depth) = place(db, target.id, reply.parent_id, &[]).await?;

    let content_hash = hex::encode(Sha256::digest(content.as_bytes()));
    let facts = queries::remote_facts(db, &reply.remote_actor, target.id, &content_hash).await?;
    if facts.duplicates > 0 {
        return Err(CommentError::Duplicate);
    }
    if config.flood_seconds > 0 {
        if let Some(last) = facts.last_by_actor {
            // A note's `published` may be backdated; the flood counts by what was stored.
            let wait = last.min(now) + config.flood_seconds as i64 - now;
            if wait > 0 {
                return Err(CommentError::Flood { retry_after: wait as u64 });
            }
        }
    }
    let said = [content.as_str(), &author, &url, &reply.remote_actor];
    let status = moderate(config, &said, &content_html, facts.approved_before > 0);
    let keys = Keys::load(db).await?;
    let avatar = keys.avatar_name(&reply.remote_actor);
    let created_at = reply.published_at.filter(|t| *t > 0).map(|t| t.min(now));
    let row = NewRow {
        article_id: target.id,
        parent_id,
        thread_id,
        depth,
        status,
        author_name: &author,
        author_email: "",
        author_url: &url,
        avatar: &avatar,
        ip_hash: "",
        user_agent: "",
        content: &content,
        content_html: &content_html,
        content_hash: &content_hash,
        remote: Some((&reply.remote_id, &reply.remote_actor)),
        created_at,
    };
    let mut tx = db.begin().await?;
    let id = match queries::insert(&mut tx, &row, now).await {
        Ok(id) => id,
        // The same note delivered twice at once: the other delivery stored it.
        Err(DbError::Conflict(_)) => {
            drop(tx);
            return match existing_remote(db, &reply.remote_id, &reply.remote_actor).await? {
                Some(existing) => Ok(existing),
                None => Err(CommentError::Duplicate),
            };
        }
        Err(err) => return Err(err.into()),
    };
    if status == CommentStatus::Approved {
        store::bump_content_epoch(&mut tx, &[ContentChange::AroundArticle(target.id)]).await?;
    }
    tx.commit().await?;
    tracing::info!(
        comment.id = id,
        article.id = target.id,
        status = status.as_str(),
        remote.actor = %reply.remote_actor,
        "New reply from the fediverse on {}",
        target.slug
    );
    Ok(Submitted { id, status, created: true })
}

/// The comment a remote note already is, if it is; a note id another actor's comment holds is
/// refused.
async fn existing_remote(db: &Db, remote_id: &str, remote_actor: &str) -> Result<Option<Submitted>, CommentError> {
    let Some(found) = queries::by_remote_id(db, remote_id).await? else { return Ok(None) };
    if found.remote_actor.as_deref() != Some(remote_actor) {
        return Err(CommentError::Invalid(vec![("remote_id", "another actor's note has this id".to_string())]));
    }
    let status = CommentStatus::parse(&found.status).unwrap_or(CommentStatus::Pending);
    Ok(Some(Submitted { id: found.id, status, created: false }))
}

/// The comment a remote note became, if any: `(comment id, article id, status)`. For the inbox,
/// to place a reply to a remote reply (`RemoteReply::parent_id`).
pub async fn remote_comment(db: &Db, remote_id: &str) -> Result<Option<(i64, i64, CommentStatus)>, DbError> {
    let found = queries::by_remote_id(db, remote_id).await?;
    Ok(found.map(|row| (row.id, row.article_id, CommentStatus::parse(&row.status).unwrap_or(CommentStatus::Pending))))
}

/// A remote note's `Delete`: the comment it became moves to the trash, as a moderator's delete
/// does, if it is `remote_actor`'s; the content epoch moves so its pages change. Answers whether
/// a comment was trashed (false: no such note, another actor's, or already in the trash).
pub async fn delete_remote(db: &Db, remote_id: &str, remote_actor: &str) -> Result<bool, CommentError> {
    let Some(found) = queries::by_remote_id(db, remote_id).await? else { return Ok(false) };
    if found.remote_actor.as_deref() != Some(remote_actor) {
        return Ok(false);
    }
    let now = store::now();
    let mut tx = db.begin().await?;
    let changed = queries::set_status(&mut tx, &[found.id], CommentStatus::Trash, now).await?;
    if changed.is_empty() {
        return Ok(false);
    }
    store::record_activity(&mut tx, "comments.remote_deleted", Some(found.id), remote_id).await?;
    store::bump_content_epoch(&mut tx, &[ContentChange::AroundArticle(found.article_id)]).await?;
    tx.commit().await?;
    tracing::info!(comment.id = found.id, remote.actor = %remote_actor, "A reply from the fediverse was deleted by its author");
    Ok(true)
}

/// Opens or closes an article's comments, optionally closing them N days after publication.
pub async fn set_article_settings(db: &Db, slug: &str, settings: ArticleSettings) -> Result<(), CommentError> {
    let (article_id, _) = match queries::settings_by_slug(db, slug).await {
        Ok(found) => found,
        Err(DbError::NotFound) => return Err(CommentError::Invalid(vec![("article", format!("no article {slug:?}"))])),
        Err(err) => return Err(err.into()),
    };
    let mut tx = db.begin().await?;
    queries::save_settings(&mut tx, article_id, settings).await?;
    store::bump_content_epoch(&mut tx, &[ContentChange::AroundArticle(article_id)]).await?;
    tx.commit().await?;
    Ok(())
}

/// A moderator's reply from the admin desk, signed with their name and email: approved at once,
/// and its parent with it if that was waiting (as WordPress does). The form checks apply; the
/// spam defences, meant for anonymous readers, do not.
pub async fn reply_as_moderator(
    db: &Db,
    keys: &Keys,
    parent_id: i64,
    author: &str,
    email: &str,
    comment: &str,
) -> Result<i64, CommentError> {
    let form = validate(&CommentForm {
        author: author.to_string(),
        email: email.to_string(),
        url: String::new(),
        comment: comment.to_string(),
        parent: Some(parent_id),
        save: false,
    })?;
    let parent = match queries::parent(db, parent_id).await {
        Ok(parent) => parent,
        Err(DbError::NotFound) => return Err(CommentError::ParentNotFound),
        Err(err) => return Err(err.into()),
    };
    let parent_status = CommentStatus::parse(&parent.status);
    if !matches!(parent_status, Some(CommentStatus::Approved | CommentStatus::Pending)) {
        return Err(CommentError::ParentGone);
    }
    let content_html = text::render(&form.comment);
    let content_hash = hex::encode(Sha256::digest(form.comment.as_bytes()));
    let avatar = keys.avatar_name(&form.email);
    let row = NewRow {
        article_id: parent.article_id,
        parent_id: Some(parent.id),
        thread_id: Some(parent.thread_id.unwrap_or(parent.id)),
        depth: parent.depth + 1,
        status: CommentStatus::Approved,
        author_name: &form.author,
        author_email: &form.email,
        author_url: "",
        avatar: &avatar,
        ip_hash: "",
        user_agent: "",
        content: &form.comment,
        content_html: &content_html,
        content_hash: &content_hash,
        remote: None,
        created_at: None,
    };
    let now = store::now();
    let mut tx = db.begin().await?;
    if parent_status == Some(CommentStatus::Pending) {
        queries::set_status(&mut tx, &[parent.id], CommentStatus::Approved, now).await?;
    }
    let id = queries::insert(&mut tx, &row, now).await?;
    store::record_activity(&mut tx, "comments.replied", Some(id), &parent.id.to_string()).await?;
    store::bump_content_epoch(&mut tx, &[ContentChange::AroundArticle(parent.article_id)]).await?;
    tx.commit().await?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(author: &str, email: &str, url: &str, comment: &str) -> CommentForm {
        CommentForm {
            author: author.into(),
            email: email.into(),
            url: url.into(),
            comment: comment.into(),
            parent: None,
            save: false,
        }
    }

    fn errors(result: Result<CommentForm, CommentError>) -> Vec<&'static str> {
        match result {
            Err(CommentError::Invalid(errors)) => errors.into_iter().map(|(f, _)| f).collect(),
            other => panic!("expected field errors, got {other:?}"),
        }
    }

    #[test]
    fn fields_follow_wordpress_limits() {
        assert_eq!(errors(validate(&form("", "", "", ""))), ["author", "email", "comment"]);
        assert_eq!(errors(validate(&form("A", "not-an-email", "javascript:x", "hi"))), ["email", "url"]);
        let long = "x".repeat(MAX_NAME_CHARS + 1);
        assert_eq!(errors(validate(&form(&long, "a@b.example", "", "hi"))), ["author"]);
        assert!(validate(&form(&"é".repeat(MAX_NAME_CHARS), "a@b.example", "", "hi")).is_ok(), "characters, not bytes");
        let ok = validate(&form("  Ann ", "Ann@Example.ORG", "ann.example/blog", " hi ")).unwrap();
        assert_eq!(
            (ok.author.as_str(), ok.email.as_str(), ok.url.as_str(), ok.comment.as_str()),
            ("Ann", "ann@example.org", "http://ann.example/blog", "hi")
        );
    }

    #[test]
    fn moderation_follows_wordpress_defaults() {
        let config = CommentsConfig {
            moderation_keys: vec!["casino".into()],
            disallowed_keys: vec!["viagra".into()],
            ..CommentsConfig::default()
        };
        let said = |f: &CommentForm| [f.comment.clone(), f.author.clone(), f.email.clone(), f.url.clone()];
        let check = |f: &CommentForm, approved_before: bool| {
            let parts = said(f);
            let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
            moderate(&config, &parts, &text::render(&f.comment), approved_before)
        };
        let plain = form("Ann", "ann@example.org", "", "Nice piece.");
        assert_eq!(check(&plain, false), CommentStatus::Pending, "first comment is held");
        assert_eq!(check(&plain, true), CommentStatus::Approved, "known commenter");
        let links = form("Ann", "ann@example.org", "", "http://a.test and http://b.test");
        assert_eq!(check(&links, true), CommentStatus::Pending);
        let key = form("Ann", "ann@example.org", "", "Best CASINO bonus");
        assert_eq!(check(&key, true), CommentStatus::Pending);
        let spam = form("Viagra shop", "ann@example.org", "", "hello");
        assert_eq!(check(&spam, true), CommentStatus::Spam);
    }

    fn comment(id: i64, parent: Option<i64>) -> PublicComment {
        PublicComment {
            id,
            article_id: 1,
            parent_id: parent,
            status: CommentStatus::Approved,
            author_name: format!("c{id}"),
            author_url: String::new(),
            avatar: String::new(),
            content_html: String::new(),
            created_at: id,
            updated_at: id,
            via_fediverse: false,
        }
    }

    #[test]
    fn threads_nest_to_the_configured_depth_and_paginate_by_top_level_comment() {
        let rows = vec![
            comment(1, None),
            comment(2, Some(1)),
            comment(3, Some(2)),
            comment(4, Some(3)),
            comment(5, None),
            comment(6, Some(99)),
        ];
        let thread = build_thread(rows.clone(), 2, 2, 1, true).unwrap();
        assert_eq!(thread.total_pages, 2, "three top-level comments (6's parent is not shown), two per page");
        assert_eq!(thread.comments.iter().map(|c| c.comment.id).collect::<Vec<_>>(), [1, 5]);
        let replies: Vec<(i64, u32, bool)> =
            thread.comments[0].replies.iter().map(|c| (c.comment.id, c.depth, c.can_reply)).collect();
        assert_eq!(replies, [(2, 2, false), (3, 2, false), (4, 2, false)], "deeper replies join the deepest level");
        let page2 = build_thread(rows.clone(), 2, 2, 2, true).unwrap();
        assert_eq!(page2.comments[0].comment.id, 6);
        assert!(build_thread(rows, 2, 2, 3, true).is_err());
    }
}
