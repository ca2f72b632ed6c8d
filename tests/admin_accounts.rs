//! The admin desk's accounts over real HTTP, on SQLite and PostgreSQL: login and its throttling,
//! sessions (CSRF, logout, expiry), password change and reset by mail, security headers, and
//! the role matrix over every admin route.

#[macro_use]
mod common;

use common::desk::{add_user, browser, csrf_of, input_value, texts_of, Desk, PASSWORD};
use common::{Backend, TestSite};
use openvoice::accounts::Role;
use reqwest::header::{self, CONTENT_SECURITY_POLICY, LOCATION, SET_COOKIE};
use reqwest::redirect::Policy;
use reqwest::StatusCode;
use scraper::{Html, Selector};

async fn post_login(site: &TestSite, client: &reqwest::Client, username: &str, password: &str) -> reqwest::Response {
    client
        .post(format!("{}/admin/login", site.base))
        .form(&[("username", username), ("password", password), ("next", "/admin")])
        .send()
        .await
        .expect("login request")
}

/// The text of the first element matching `css`.
fn text_of(html: &str, css: &str) -> String {
    texts_of(html, css).into_iter().next().unwrap_or_default()
}

/// POSTs `fields` as they are: no CSRF secret added.
async fn post_raw(site: &TestSite, desk: &Desk, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    desk.client.post(format!("{}{path}", site.base)).form(fields).send().await.expect("POST")
}

async fn exec(site: &TestSite, sql: &str, binds: &[i64]) {
    let mut query = sqlx::query(sql);
    for value in binds {
        query = query.bind(*value);
    }
    query.execute(&site.db.pool).await.expect(sql);
}

fn now() -> i64 {
    openvoice::store::now()
}

on_each_backend!(login_sessions_csrf_and_logout);
async fn login_sessions_csrf_and_logout(backend: Backend) {
    let site = TestSite::start(backend).await;
    let editor = add_user(&site, Role::Editor).await;

    // Not signed in: pages send you to the login page, forms are refused.
    let client = browser();
    let response = client.get(format!("{}/admin/password?x=1", site.base)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[LOCATION], "/admin/login?next=%2Fadmin%2Fpassword%3Fx%3D1");
    let response = client.post(format!("{}/admin/logout", site.base)).form(&[("csrf", "x")]).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    let page = client.get(format!("{}/admin/login?next=/admin/users", site.base)).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert_eq!(input_value(&html, "next"), "/admin/users");
    assert!(html.contains(r#"<meta name="robots" content="noindex">"#), "{html}");
    assert!(!html.contains("style=") && !html.contains("<script"), "no inline style or script");

    // Wrong password and unknown user: the same answer.
    let wrong = post_login(&site, &client, &editor, "not the password").await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let wrong_html = wrong.text().await.unwrap();
    let unknown = post_login(&site, &client, "nobody-here", "not the password").await;
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    let unknown_html = unknown.text().await.unwrap();
    let message = text_of(&wrong_html, ".notice-error");
    assert_eq!(message, "Unknown username or wrong password.");
    assert_eq!(message, text_of(&unknown_html, ".notice-error"));
    assert_eq!(input_value(&wrong_html, "username"), editor, "the name typed is kept");

    // An offsite `next` is ignored.
    let response = client
        .post(format!("{}/admin/login", site.base))
        .form(&[("username", editor.as_str()), ("password", PASSWORD), ("next", "//evil.example/")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[LOCATION], "/admin");
    let cookie = response.headers()[SET_COOKIE].to_str().unwrap().to_string();
    assert!(cookie.starts_with("ov_session="), "{cookie}");
    for part in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(part), "{cookie} has {part}");
    }
    assert!(!cookie.contains("Secure"), "plain HTTP: no Secure flag ({cookie})");
    assert!(!cookie.contains("Max-Age"), "without 'Remember me' the browser forgets it on closing: {cookie}");
    let remembered = browser()
        .post(format!("{}/admin/login", site.base))
        .form(&[("username", editor.as_str()), ("password", PASSWORD), ("remember", "1")])
        .send()
        .await
        .unwrap();
    let max_age = format!("Max-Age={}", site.config.accounts.session_max_secs);
    let remembered = remembered.headers()[SET_COOKIE].to_str().unwrap().to_string();
    assert!(remembered.contains(&max_age), "remembered until the cap; idle expiry is the server's: {remembered}");
    let token = cookie.trim_start_matches("ov_session=").split(';').next().unwrap().to_string();
    let stored: Vec<String> =
        sqlx::query_scalar("SELECT id_hash FROM sessions").fetch_all(&site.db.pool).await.unwrap();
    assert!(!stored.contains(&token), "only a hash of the session id is stored");

    let desk = Desk { csrf: csrf_of(&site, &client).await, client, username: editor.clone() };
    let dashboard = desk.get(&site, "/admin").await.text().await.unwrap();
    assert!(dashboard.contains(&editor), "the dashboard greets the user");

    // A form from elsewhere (no or wrong CSRF) is refused and changes nothing.
    let response = post_raw(&site, &desk, "/admin/logout", &[]).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let response = post_raw(&site, &desk, "/admin/logout", &[("csrf", &"0".repeat(64))]).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(desk.signed_in(&site).await, "still signed in after refused logouts");

    // A login form posted from another site is refused.
    let response = browser()
        .post(format!("{}/admin/login", site.base))
        .header("origin", "https://evil.example")
        .form(&[("username", editor.as_str()), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    // Logout ends the session on the server: the old cookie no longer works anywhere.
    let response = desk.post_form(&site, "/admin/logout", &[]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[LOCATION], "/admin/login?done=logged_out");
    assert!(!desk.signed_in(&site).await);
    let replay = reqwest::Client::builder().redirect(Policy::none()).build().unwrap();
    let response = replay
        .get(format!("{}/admin", site.base))
        .header("cookie", format!("ov_session={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "a logged-out session id is dead");
    site.finish().await;
}

on_each_backend!(sessions_slide_and_expire);
async fn sessions_slide_and_expire(backend: Backend) {
    let site = TestSite::start(backend).await;
    let author = add_user(&site, Role::Author).await;
    let desk = Desk::log_in(&site, &author, PASSWORD).await;
    let idle = site.config.accounts.session_idle_secs;

    // Used a while ago: the expiry moves forward on the next request.
    exec(&site, "UPDATE sessions SET last_seen_at = $1, expires_at = $2", &[now() - 600, now() + 30]).await;
    assert!(desk.signed_in(&site).await);
    let expires: i64 = sqlx::query_scalar("SELECT expires_at FROM sessions").fetch_one(&site.db.pool).await.unwrap();
    assert!(expires >= now() + idle - 5, "sliding expiry: {expires}");

    // Idle too long: gone.
    exec(&site, "UPDATE sessions SET expires_at = $1", &[now() - 1]).await;
    assert!(!desk.signed_in(&site).await, "an expired session is refused");

    // However active, a session ends `session_max_secs` after sign-in.
    let desk = Desk::log_in(&site, &author, PASSWORD).await;
    let max = site.config.accounts.session_max_secs;
    exec(&site, "UPDATE sessions SET created_at = $1, expires_at = $2", &[now() - max - 1, now() + 3600]).await;
    assert!(!desk.signed_in(&site).await, "the absolute cap holds");
    site.finish().await;
}

on_each_backend!(failed_logins_lock_the_account_and_the_address);
async fn failed_logins_lock_the_account_and_the_address(backend: Backend) {
    let site =
        TestSite::start_with(backend, "[accounts]\nmax_failures_per_account = 3\nmax_failures_per_ip = 5\n").await;
    let author = add_user(&site, Role::Author).await;
    let client = browser();
    for _ in 0..3 {
        assert_eq!(post_login(&site, &client, &author, "wrong password!").await.status(), StatusCode::UNAUTHORIZED);
    }
    // Locked: even the right password is refused, with the same lock message as for
    // a name that does not exist.
    let locked = post_login(&site, &client, &author, PASSWORD).await;
    assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(locked.headers().contains_key("retry-after"));
    let locked_message = text_of(&locked.text().await.unwrap(), ".notice-error");
    for _ in 0..3 {
        post_login(&site, &client, "ghost", "wrong password!").await;
    }
    let ghost = post_login(&site, &client, "ghost", "wrong password!").await;
    assert_eq!(ghost.status(), StatusCode::TOO_MANY_REQUESTS, "unknown names lock the same way");
    assert_eq!(text_of(&ghost.text().await.unwrap(), ".notice-error"), locked_message);

    // The address has now failed 6 times (limit 5): another account is refused from it.
    let editor = add_user(&site, Role::Editor).await;
    assert_eq!(post_login(&site, &client, &editor, PASSWORD).await.status(), StatusCode::TOO_MANY_REQUESTS);

    // Once the lock is over, the right password works again.
    exec(&site, "UPDATE login_throttle SET locked_until = $1", &[now() - 1]).await;
    assert_eq!(post_login(&site, &client, &author, PASSWORD).await.status(), StatusCode::SEE_OTHER);
    site.finish().await;
}

on_each_backend!(changing_the_password_ends_other_sessions);
async fn changing_the_password_ends_other_sessions(backend: Backend) {
    let site = TestSite::start(backend).await;
    let author = add_user(&site, Role::Author).await;
    let here = Desk::log_in(&site, &author, PASSWORD).await;
    let elsewhere = Desk::log_in(&site, &author, PASSWORD).await;
    let new_password = "a much longer new password";

    let response = here
        .post_form(
            &site,
            "/admin/password",
            &[("current_password", "wrong"), ("new_password", new_password), ("confirm_password", new_password)],
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.unwrap();
    assert_eq!(text_of(&html, "#current_password-error"), "is not your current password");
    let response = here
        .post_form(
            &site,
            "/admin/password",
            &[("current_password", PASSWORD), ("new_password", "short"), ("confirm_password", "short")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text_of(&response.text().await.unwrap(), "#new_password-error").contains("at least 12"));
    assert!(elsewhere.signed_in(&site).await, "failed changes end nothing");

    let response = here
        .post_form(
            &site,
            "/admin/password",
            &[("current_password", PASSWORD), ("new_password", new_password), ("confirm_password", new_password)],
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(here.signed_in(&site).await, "the session that changed it stays");
    assert!(!elsewhere.signed_in(&site).await, "other sessions end");
    assert_eq!(post_login(&site, &browser(), &author, PASSWORD).await.status(), StatusCode::UNAUTHORIZED);
    Desk::log_in(&site, &author, new_password).await;
    site.finish().await;
}

/// The reset link in the newest password-reset mail to `email`, read from the outbox.
async fn reset_link(site: &TestSite, email: &str) -> String {
    let payload: String = sqlx::query_scalar(
        "SELECT payload FROM outbox WHERE recipient = $1 AND topic LIKE 'password-reset:%' ORDER BY id DESC LIMIT 1",
    )
    .bind(email)
    .fetch_one(&site.db.pool)
    .await
    .expect("a reset mail in the outbox");
    let mail: openvoice::mail::Outgoing = serde_json::from_str(&payload).unwrap();
    let start = mail.text.find("/admin/password/reset?token=").expect("link in the mail");
    mail.text[start..].split_whitespace().next().unwrap().to_string()
}

on_each_backend!(password_reset_by_mail_is_single_use_and_expires);
async fn password_reset_by_mail_is_single_use_and_expires(backend: Backend) {
    let site = TestSite::start(backend).await;
    let author = add_user(&site, Role::Author).await;
    let email = format!("{author}@example.org");
    let other = Desk::log_in(&site, &author, PASSWORD).await;
    let client = browser();

    let forgot = |name: String| {
        let client = client.clone();
        let url = format!("{}/admin/password/forgot", site.base);
        async move { client.post(url).form(&[("username", name)]).send().await.unwrap() }
    };
    // The same answer, after the same minimum time (400 ms), for a real and an unknown address.
    let started = std::time::Instant::now();
    let known = forgot(email.clone()).await;
    assert!(started.elapsed() >= std::time::Duration::from_millis(400));
    assert_eq!(known.status(), StatusCode::OK);
    let known_text = text_of(&known.text().await.unwrap(), ".notice");
    let started = std::time::Instant::now();
    let unknown = forgot("nobody@example.org".into()).await;
    assert!(started.elapsed() >= std::time::Duration::from_millis(400), "unknown addresses wait as long");
    assert_eq!(text_of(&unknown.text().await.unwrap(), ".notice"), known_text, "the same answer for everyone");
    let unsent: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE recipient = 'nobody@example.org'")
        .fetch_one(&site.db.pool)
        .await
        .unwrap();
    assert_eq!(unsent, 0);
    let forged = client
        .post(format!("{}/admin/password/forgot", site.base))
        .header("origin", "https://evil.example")
        .form(&[("username", email.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN, "a reset asked for from another site is refused");
    let mails = scalar(&site, "SELECT COUNT(*) FROM outbox").await;
    assert_eq!(mails, 1, "one reset mail, for the real request only");

    let link = reset_link(&site, &email).await;
    let token = link.split("token=").nth(1).unwrap().to_string();
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM password_resets WHERE token_hash = $1")
        .bind(&token)
        .fetch_one(&site.db.pool)
        .await
        .unwrap();
    assert_eq!(stored, 0, "the token itself is not stored");
    let page = client.get(format!("{}{link}", site.base)).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(page.headers()["referrer-policy"], "no-referrer");
    let reset = |fields: Vec<(&'static str, String)>| {
        let client = client.clone();
        let url = format!("{}/admin/password/reset", site.base);
        async move { client.post(url).form(&fields).send().await.unwrap() }
    };
    let new_password = "reset to something long";
    let mismatch = reset(vec![
        ("token", token.clone()),
        ("new_password", new_password.into()),
        ("confirm_password", "something else entirely".into()),
    ])
    .await;
    assert_eq!(mismatch.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(text_of(&mismatch.text().await.unwrap(), "#confirm_password-error"), "does not match the new password");

    let fields = vec![
        ("token", token.clone()),
        ("new_password", new_password.into()),
        ("confirm_password", new_password.into()),
    ];
    let done = reset(fields.clone()).await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert!(!other.signed_in(&site).await, "a reset ends every session");
    Desk::log_in(&site, &author, new_password).await;
    assert_eq!(reset(fields).await.status(), StatusCode::NOT_FOUND, "single use");

    // An expired link is refused.
    exec(&site, "DELETE FROM password_resets", &[]).await;
    forgot(author.clone()).await;
    let link = reset_link(&site, &email).await;
    assert_ne!(link.split("token=").nth(1).unwrap(), token);
    exec(&site, "UPDATE password_resets SET expires_at = $1", &[now() - 1]).await;
    assert_eq!(client.get(format!("{}{link}", site.base)).send().await.unwrap().status(), StatusCode::NOT_FOUND);
    site.finish().await;
}

on_each_backend!(security_headers_on_public_and_admin_pages);
async fn security_headers_on_public_and_admin_pages(backend: Backend) {
    let site = TestSite::start(backend).await;
    let public = site.get("/").await;
    let headers = public.headers();
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["referrer-policy"], "strict-origin-when-cross-origin");
    assert!(!headers.contains_key(CONTENT_SECURITY_POLICY) && !headers.contains_key("strict-transport-security"));
    let token_page = site.get("/subscriptions/manage?token=x").await;
    assert_eq!(token_page.headers()["referrer-policy"], "no-referrer", "a stricter page policy is kept");

    let author = add_user(&site, Role::Author).await;
    let desk = Desk::log_in(&site, &author, PASSWORD).await;
    for response in
        [site.get("/admin/login").await, desk.get(&site, "/admin").await, desk.get(&site, "/admin/nope").await]
    {
        let headers = response.headers();
        let csp = headers[CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'"), "{csp}");
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        assert_eq!(headers["x-frame-options"], "DENY");
        assert_eq!(headers["cache-control"], "no-store");
        assert_eq!(headers["x-robots-tag"], "noindex");
        assert_eq!(headers["x-content-type-options"], "nosniff");
    }
    let css = site.get("/static/admin/admin.css").await;
    assert_eq!(css.status(), StatusCode::OK);
    site.finish().await;

    // Behind a TLS proxy: HSTS everywhere and Secure cookies.
    let site = TestSite::start_with(backend, "[http]\nbehind_tls = true\n").await;
    assert!(site.get("/").await.headers()["strict-transport-security"].to_str().unwrap().contains("max-age="));
    let author = add_user(&site, Role::Author).await;
    let response = post_login(&site, &browser(), &author, PASSWORD).await;
    assert!(response.headers()[SET_COOKIE].to_str().unwrap().contains("; Secure"));
    site.finish().await;
}

async fn scalar(site: &TestSite, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(&site.db.pool).await.expect(sql)
}

async fn user_id(site: &TestSite, username: &str) -> i64 {
    sqlx::query_scalar("SELECT id FROM users WHERE username = $1")
        .bind(username)
        .fetch_one(&site.db.pool)
        .await
        .expect("user id")
}

on_each_backend!(admins_add_change_disable_and_remove_users);
async fn admins_add_change_disable_and_remove_users(backend: Backend) {
    let site = TestSite::start(backend).await;
    let admin = add_user(&site, Role::Admin).await;
    let desk = Desk::log_in(&site, &admin, PASSWORD).await;
    let list = desk.get(&site, "/admin/users").await.text().await.unwrap();
    assert!(list.contains(&admin) && list.contains(">admin<"), "the list shows the accounts");

    // Bad input: the form comes back with what was typed and a message at the field.
    let taken = desk
        .post_form(
            &site,
            "/admin/users",
            &[("username", "Bad Name!"), ("email", "ed@example.org"), ("display_name", "Ed"), ("role", "editor")],
        )
        .await;
    assert_eq!(taken.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = taken.text().await.unwrap();
    assert!(text_of(&html, "#username-error").contains("a–z"), "{html}");
    assert_eq!(input_value(&html, "email"), "ed@example.org");
    let response = desk
        .post_form(
            &site,
            "/admin/users",
            &[("username", "ed"), ("email", "ed@example.org"), ("display_name", "Ed"), ("role", "root")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(text_of(&response.text().await.unwrap(), "#role-error"), "choose one of the roles");
    let short = desk
        .post_form(
            &site,
            "/admin/users",
            &[
                ("username", "ed"),
                ("email", "ed@example.org"),
                ("display_name", "Ed"),
                ("role", "editor"),
                ("password", "short"),
            ],
        )
        .await;
    assert!(text_of(&short.text().await.unwrap(), "#password-error").contains("at least 12"));
    assert_eq!(scalar(&site, "SELECT COUNT(*) FROM users WHERE username = 'ed'").await, 0, "nothing half-saved");

    // Added with a generated password, shown once; it works.
    let added = desk
        .post_form(
            &site,
            "/admin/users",
            &[("username", "ed"), ("email", "ed@example.org"), ("display_name", "Ed"), ("role", "editor")],
        )
        .await;
    assert_eq!(added.status(), StatusCode::OK);
    let notice = text_of(&added.text().await.unwrap(), ".notice-success");
    let password = notice.split("password is ").nth(1).unwrap().split_whitespace().next().unwrap().to_string();
    let ed = Desk::log_in(&site, "ed", &password).await;
    let taken = desk
        .post_form(
            &site,
            "/admin/users",
            &[("username", "ed"), ("email", "other@example.org"), ("display_name", "Ed"), ("role", "editor")],
        )
        .await;
    assert!(text_of(&taken.text().await.unwrap(), "#username-error").contains("already taken"));

    // Role change takes effect on the next request of a signed-in user.
    let id = user_id(&site, "ed").await;
    let path = format!("/admin/users/{id}");
    assert_eq!(ed.get(&site, "/admin/users").await.status(), StatusCode::FORBIDDEN);
    // Without the session's CSRF secret, or with another session's: 403, and ed stays an editor.
    let forged = [("action", "role"), ("role", "admin")];
    assert_eq!(post_raw(&site, &desk, &path, &forged).await.status(), StatusCode::FORBIDDEN);
    let mut with_other = vec![("csrf", ed.csrf.as_str())];
    with_other.extend_from_slice(&forged);
    assert_eq!(post_raw(&site, &desk, &path, &with_other).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(ed.get(&site, "/admin/users").await.status(), StatusCode::FORBIDDEN, "still an editor");
    let response = desk.post_form(&site, &path, &[("action", "role"), ("role", "admin")]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(ed.get(&site, "/admin/users").await.status(), StatusCode::OK);

    // Disabling ends their sessions and refuses their login; enabling lets them back.
    desk.post_form(&site, &path, &[("action", "disable")]).await;
    assert!(!ed.signed_in(&site).await);
    assert_eq!(post_login(&site, &browser(), "ed", &password).await.status(), StatusCode::UNAUTHORIZED);
    desk.post_form(&site, &path, &[("action", "enable")]).await;
    Desk::log_in(&site, "ed", &password).await;

    // Nobody can lock themselves out.
    let me = user_id(&site, &admin).await;
    for fields in [[("action", "role"), ("role", "author")], [("action", "disable"), ("role", "")]] {
        let response = desk.post_form(&site, &format!("/admin/users/{me}"), &fields).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(text_of(&response.text().await.unwrap(), ".notice-error").contains("your own account"));
    }
    assert!(desk.signed_in(&site).await);
    assert_eq!(scalar(&site, &format!("SELECT COUNT(*) FROM users WHERE id = {me} AND role = 'admin'")).await, 1);

    // Removing: only accounts without articles.
    let byline = scalar(&site, "SELECT MIN(author_id) FROM articles").await;
    let response = desk.post_form(&site, &format!("/admin/users/{byline}"), &[("action", "remove")]).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text_of(&response.text().await.unwrap(), ".notice-error").contains("disable the account instead"));
    let response = desk.post_form(&site, &path, &[("action", "remove")]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(scalar(&site, "SELECT COUNT(*) FROM users WHERE username = 'ed'").await, 0);
    site.finish().await;
}

on_each_backend!(the_dashboard_counts_and_charts_what_happened);
async fn the_dashboard_counts_and_charts_what_happened(backend: Backend) {
    let site = TestSite::start(backend).await;
    let author = add_user(&site, Role::Author).await;
    let published = scalar(&site, "SELECT COUNT(*) FROM articles WHERE kind = 'post' AND status = 'published'").await;
    // Two subscribers confirmed today, a mail waiting in the outbox.
    for (i, status) in ["confirmed", "confirmed", "pending"].iter().enumerate() {
        sqlx::query(
            "INSERT INTO subscribers (email, status, frequency, source, created_at, updated_at, confirmed_at) \
             VALUES ($1, $2, 'instant', 'form', $3, $3, $4)",
        )
        .bind(format!("s{i}@example.org"))
        .bind(status)
        .bind(now())
        .bind((*status == "confirmed").then(now))
        .execute(&site.db.pool)
        .await
        .unwrap();
    }
    browser()
        .post(format!("{}/admin/password/forgot", site.base))
        .form(&[("username", author.as_str())])
        .send()
        .await
        .unwrap();

    let author_desk = Desk::log_in(&site, &author, PASSWORD).await;
    let html = author_desk.get(&site, "/admin").await.text().await.unwrap();
    assert_eq!(text_of(&html, "#count-published"), published.to_string());
    assert!(!html.contains("id=\"activity\"") && !html.contains("Mail queue"), "authors see no operations");

    let desk = Desk::sign_in(&site, Role::Editor).await;
    let html = desk.get(&site, "/admin").await.text().await.unwrap();
    assert_eq!(text_of(&html, "#count-published"), published.to_string());
    assert_eq!(text_of(&html, "#count-subscribers"), "2");
    assert!(text_of(&html, "#mail-queued").starts_with('1'), "the reset mail waits: {html}");
    assert!(text_of(&html, ".activity").contains(&author), "login and reset request are in the activity");
    let doc = Html::parse_document(&html);
    let charts = Selector::parse("svg.chart").unwrap();
    assert_eq!(doc.select(&charts).count(), 4);
    let bars = Selector::parse("svg.chart rect.chart-bar").unwrap();
    assert_eq!(doc.select(&bars).count(), 120, "30 days × 4 charts (articles, comments, subscribers, views)");
    let subscribers_chart = doc.select(&charts).nth(2).unwrap();
    let today = subscribers_chart.select(&Selector::parse("rect").unwrap()).last().unwrap();
    assert!(today.text().collect::<String>().ends_with(": 2"), "today's bar counts two confirmations");
    assert!(!html.contains("style=") && !html.contains("<script"), "no inline style or script (CSP)");
    site.finish().await;
}

/// One admin route in the role matrix: `method path` needs at least `min`. `form` is sent with
/// POSTs (plus the session's `csrf`); choose fields that would change something if the request
/// were allowed, so "nothing changed" means something. In paths, `{article}` is a demo post
/// (someone else's for every test account), `{revision}` one of its revisions, `{comment}` a
/// pending comment on it, `{category}`, `{tag}`, `{user}` existing rows; `{media}`, `{token}`
/// and `{passkey}` are 1 (no such row yet).
struct Route {
    method: &'static str,
    path: &'static str,
    min: Role,
    form: &'static [(&'static str, &'static str)],
}

const fn get(path: &'static str, min: Role) -> Route {
    Route { method: "GET", path, min, form: &[] }
}

const fn post(path: &'static str, min: Role, form: &'static [(&'static str, &'static str)]) -> Route {
    Route { method: "POST", path, min, form }
}

/// Every admin route. Add a row with each new one.
const ROUTES: &[Route] = &[
    // accounts
    get("/admin", Role::Contributor),
    get("/admin/password", Role::Contributor),
    post("/admin/password", Role::Contributor, &[("current_password", "wrong"), ("new_password", "x")]),
    get("/admin/security", Role::Contributor),
    post("/admin/security/two-factor/setup", Role::Contributor, &[]),
    post("/admin/security/two-factor/confirm", Role::Contributor, &[("code", "000000")]),
    post("/admin/security/two-factor/recovery-codes", Role::Contributor, &[]),
    post("/admin/security/two-factor/disable", Role::Contributor, &[("current_password", "wrong")]),
    post("/admin/security/sessions/end-others", Role::Contributor, &[]),
    post("/admin/security/passkeys/options", Role::Contributor, &[]),
    post("/admin/security/passkeys", Role::Contributor, &[("name", "Matrix"), ("credential", "{}")]),
    post("/admin/security/passkeys/{passkey}/remove", Role::Contributor, &[("current_password", "wrong")]),
    get("/admin/users", Role::Admin),
    get("/admin/users/new", Role::Admin),
    post(
        "/admin/users",
        Role::Admin,
        &[("username", "matrix"), ("email", "matrix@example.org"), ("display_name", "M"), ("role", "admin")],
    ),
    post("/admin/users/{user}", Role::Admin, &[("action", "role"), ("role", "admin")]),
    post("/admin/users/{user}", Role::Admin, &[("action", "disable")]),
    // content (editor)
    get("/admin/articles", Role::Contributor),
    get("/admin/articles/new", Role::Contributor),
    post("/admin/articles/new", Role::Contributor, &[("title", "A draft"), ("body", "x"), ("action", "save")]),
    post("/admin/articles/new/autosave", Role::Contributor, &[("title", "A draft"), ("body", "x")]),
    get("/admin/articles/{article}", Role::Editor),
    post("/admin/articles/{article}", Role::Editor, &[("title", "Taken over"), ("body", "x"), ("action", "save")]),
    post("/admin/articles/{article}/status", Role::Editor, &[("action", "trash"), ("back", "/admin/articles")]),
    post("/admin/articles/{article}/autosave", Role::Editor, &[("title", "Taken over"), ("body", "x")]),
    get("/admin/articles/{article}/revisions", Role::Editor),
    post("/admin/articles/{article}/revisions/{revision}/restore", Role::Editor, &[]),
    get("/admin/categories", Role::Editor),
    post("/admin/categories", Role::Editor, &[("name", "Matrix"), ("slug", "matrix")]),
    get("/admin/categories/{category}", Role::Editor),
    post("/admin/categories/{category}", Role::Editor, &[("name", "Renamed"), ("slug", "renamed")]),
    post("/admin/categories/{category}/delete", Role::Editor, &[]),
    post("/admin/preview", Role::Contributor, &[("body", "*x*")]),
    get("/admin/tags", Role::Editor),
    post("/admin/tags/{tag}", Role::Editor, &[("name", "Renamed"), ("slug", "renamed")]),
    post("/admin/tags/{tag}/delete", Role::Editor, &[("into", "")]),
    // comment moderation
    get("/admin/comments", Role::Editor),
    post("/admin/comments/{comment}/status", Role::Editor, &[("status", "approved"), ("back", "/admin/comments")]),
    post("/admin/comments/bulk", Role::Editor, &[("status", "approved"), ("ids", "1")]),
    get("/admin/analytics", Role::Editor),
    // subscribers
    get("/admin/subscribers", Role::Editor),
    get("/admin/subscribers.csv", Role::Editor),
    post("/admin/subscribers/import", Role::Editor, &[("csv", "email\nmatrix@example.org\n")]),
    post("/admin/subscribers/{subscriber}/unsubscribe", Role::Editor, &[]),
    post("/admin/subscribers/{subscriber}/delete", Role::Editor, &[]),
    post("/admin/comments/{comment}/reply", Role::Editor, &[("comment", "A moderator's reply")]),
    // fediverse
    get("/admin/fediverse", Role::Editor),
    post("/admin/fediverse/block", Role::Editor, &[("target", "matrix.example")]),
    post("/admin/fediverse/unblock", Role::Editor, &[("target", "matrix.example")]),
    // media and settings
    get("/admin/media", Role::Author),
    get("/admin/media.json", Role::Author),
    post("/admin/media", Role::Author, &[("file", "not an upload")]),
    post("/admin/media.json", Role::Author, &[("file", "not an upload")]),
    post("/admin/media/{media}/alt", Role::Author, &[("alt", "x")]),
    post("/admin/media/{media}/delete", Role::Author, &[]),
    get("/admin/settings", Role::Admin),
    post("/admin/settings", Role::Admin, &[("site.title", "Taken over")]),
    // API tokens
    get("/admin/tokens", Role::Contributor),
    post("/admin/tokens", Role::Contributor, &[("name", "matrix"), ("role", "contributor")]),
    post("/admin/tokens/{token}/revoke", Role::Contributor, &[]),
];

/// Admin routes outside the matrix: they serve people who are not signed in (login, lost
/// password), or every signed-in role alike (logout); `login_sessions_csrf_and_logout` and the
/// password tests cover them.
const PUBLIC_ROUTES: &[(&str, &str)] = &[
    ("GET", "/admin/login"),
    ("POST", "/admin/login"),
    ("GET", "/admin/login/two-factor"),
    ("POST", "/admin/login/two-factor"),
    ("POST", "/admin/login/passkey/options"),
    ("POST", "/admin/logout"),
    ("GET", "/admin/password/forgot"),
    ("POST", "/admin/password/forgot"),
    ("GET", "/admin/password/reset"),
    ("POST", "/admin/password/reset"),
];

/// Every `.route("/admin…", get(…).post(…))` in the source, as (method, path with `{}` for
/// each parameter).
fn routes_in_source() -> Vec<(String, String)> {
    fn walk(dir: &std::path::Path, out: &mut Vec<(String, String)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                for line in text.lines().filter_map(|l| l.trim().strip_prefix(".route(\"/admin")) {
                    let (rest, handlers) = line.split_once('"').unwrap();
                    for method in ["get", "post", "put", "patch", "delete"] {
                        if handlers.contains(&format!(" {method}(")) || handlers.contains(&format!(".{method}(")) {
                            out.push((method.to_uppercase(), normalise(&format!("/admin{rest}"))));
                        }
                    }
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut out);
    out
}

/// `/admin/articles/{id}` → `/admin/articles/{}`.
fn normalise(path: &str) -> String {
    let mut out = String::new();
    let mut in_param = false;
    for c in path.chars() {
        match c {
            '{' => {
                in_param = true;
                out.push_str("{}");
            }
            '}' => in_param = false,
            c if !in_param => out.push(c),
            _ => {}
        }
    }
    out
}

#[test]
fn the_role_matrix_lists_every_admin_route() {
    let listed: Vec<(String, String)> = ROUTES.iter().map(|r| (r.method.to_string(), normalise(r.path))).collect();
    let found = routes_in_source();
    assert!(found.len() > 20, "the scan finds the admin routes: {found:?}");
    for (method, path) in found {
        let public = PUBLIC_ROUTES.iter().any(|(m, p)| *m == method && *p == path);
        assert!(
            public || listed.contains(&(method.clone(), path.clone())),
            "{method} {path} has no row in ROUTES (tests/admin_accounts.rs): add one with its minimum role"
        );
    }
}

/// What a refused request must not change. One number per query.
const FINGERPRINT: &[&str] = &[
    "SELECT COUNT(*) FROM users",
    "SELECT COUNT(*) FROM users WHERE role = 'admin'",
    "SELECT COUNT(*) FROM users WHERE disabled_at IS NOT NULL",
    "SELECT COUNT(*) FROM articles",
    "SELECT COUNT(*) FROM articles WHERE status = 'published'",
    "SELECT CAST(COALESCE(SUM(updated_at), 0) AS BIGINT) FROM articles",
    "SELECT COUNT(*) FROM revisions",
    "SELECT COUNT(*) FROM categories",
    "SELECT CAST(COALESCE(SUM(LENGTH(name) + LENGTH(slug)), 0) AS BIGINT) FROM categories",
    "SELECT COUNT(*) FROM tags",
    "SELECT CAST(COALESCE(SUM(LENGTH(name) + LENGTH(slug)), 0) AS BIGINT) FROM tags",
    "SELECT COUNT(*) FROM site_settings",
    "SELECT COUNT(*) FROM api_tokens",
    "SELECT COUNT(*) FROM sessions",
    "SELECT COUNT(*) FROM comments",
    "SELECT COUNT(*) FROM comments WHERE status = 'approved'",
];

async fn fingerprint(site: &TestSite) -> Vec<i64> {
    let mut values = Vec::new();
    for sql in FINGERPRINT {
        values.push(scalar(site, sql).await);
    }
    values
}

/// Sends `route`; POSTs carry the CSRF secret as the form's `csrf` field and as the
/// `X-CSRF-Token` header (what the editor's scripts send).
async fn send(site: &TestSite, desk: &Desk, route: &Route, path: &str) -> reqwest::Response {
    match route.method {
        "GET" => desk.get(site, path).await,
        _ => {
            let mut form: Vec<(&str, &str)> = vec![("csrf", &desk.csrf)];
            form.extend_from_slice(route.form);
            let request = desk.client.post(format!("{}{path}", site.base)).header("x-csrf-token", &desk.csrf);
            request.form(&form).send().await.expect("POST")
        }
    }
}

on_each_backend!(role_matrix_every_admin_route_refuses_roles_below_its_minimum);
async fn role_matrix_every_admin_route_refuses_roles_below_its_minimum(backend: Backend) {
    let site = TestSite::start_with(backend, "[comments]\nmin_seconds = 0\n").await;
    let mut desks = Vec::new();
    for role in Role::ALL {
        desks.push((role, Desk::sign_in(&site, role).await));
    }
    let target = add_user(&site, Role::Contributor).await;
    let article = scalar(&site, "SELECT MIN(id) FROM articles WHERE kind = 'post'").await;
    exec(
        &site,
        "INSERT INTO revisions (article_id, title, excerpt, body_md, saved_at) \
         SELECT id, title, excerpt, body_md, updated_at FROM articles WHERE id = $1",
        &[article],
    )
    .await;
    let slug: String = sqlx::query_scalar("SELECT slug FROM articles WHERE id = $1")
        .bind(article)
        .fetch_one(&site.db.pool)
        .await
        .unwrap();
    let posted = common::post_comment(&site, &slug, "Reader", "reader@example.org", "First!").await;
    assert_eq!(posted.status(), StatusCode::SEE_OTHER);
    let ids = [
        ("{article}", article),
        ("{comment}", scalar(&site, "SELECT MAX(id) FROM comments").await),
        ("{category}", scalar(&site, "SELECT MIN(id) FROM categories").await),
        ("{tag}", scalar(&site, "SELECT COALESCE(MIN(id), 1) FROM tags").await),
        ("{revision}", scalar(&site, &format!("SELECT MAX(id) FROM revisions WHERE article_id = {article}")).await),
        ("{user}", user_id(&site, &target).await),
        ("{media}", 1),
        ("{subscriber}", 1),
        ("{token}", 1),
        ("{passkey}", 1),
    ];
    let path_of =
        |route: &Route| ids.iter().fold(route.path.to_string(), |path, (name, id)| path.replace(name, &id.to_string()));

    // Below the minimum: 403, and nothing changed.
    for route in ROUTES {
        for (role, desk) in desks.iter().filter(|(role, _)| *role < route.min) {
            let before = fingerprint(&site).await;
            let response = send(&site, desk, route, &path_of(route)).await;
            let status = response.status();
            assert_eq!(status, StatusCode::FORBIDDEN, "{} {} as {role:?}", route.method, path_of(route));
            assert_eq!(
                fingerprint(&site).await,
                before,
                "{} {} as {role:?} changed something",
                route.method,
                route.path
            );
            let is_html = response.headers()[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/html");
            let html = response.text().await.unwrap();
            assert!(html.contains("You are not allowed to"), "{} {}: {html}", route.method, route.path);
            // A refusal is told inside the desk, with its navigation, not on the public theme.
            if is_html {
                assert!(html.contains(r#"<nav class="admin-nav""#), "{} {}: {html}", route.method, route.path);
            }
        }
    }
    // At the minimum: not refused (the request may still be invalid, or the row gone).
    for route in ROUTES {
        let (role, desk) = desks.iter().find(|(role, _)| *role == route.min).unwrap();
        let response = send(&site, desk, route, &path_of(route)).await;
        let status = response.status();
        assert_ne!(status, StatusCode::FORBIDDEN, "{} {} as {role:?}", route.method, path_of(route));
        assert!(status.as_u16() < 500, "{} {} as {role:?}: {status}", route.method, path_of(route));
        // Every screen works under the admin CSP: no inline styles, scripts or handlers.
        let html = response.headers().get("content-type").is_some_and(|t| t.as_bytes().starts_with(b"text/html"));
        if html {
            let body = response.text().await.unwrap();
            let doc = Html::parse_document(&body);
            let inline =
                Selector::parse("[style], script:not([src]), style, [onclick], [onload], [onsubmit], [onchange]")
                    .unwrap();
            let found: Vec<String> = doc.select(&inline).map(|e| e.html()).take(3).collect();
            assert!(found.is_empty(), "{} {}: inline code the CSP blocks: {found:?}", route.method, route.path);
        }
    }
    site.finish().await;
}

on_each_backend!(the_admin_password_printed_at_first_start_logs_in);
async fn the_admin_password_printed_at_first_start_logs_in(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let url = common::fresh_database_url(backend, dir.path()).await;
    let printed = common::stdout(&common::cli_at(dir.path(), &url, &["init"], None));
    let password = printed
        .lines()
        .find_map(|line| line.trim().strip_prefix("password: "))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no password in {printed}"))
        .to_string();

    let db = openvoice::store::Db::connect(&url, 4).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let overrides = openvoice::config::Overrides { listen: None, database_url: Some(url.clone()) };
    let config = openvoice::config::Config::load(dir.path(), &overrides).unwrap();
    let state = openvoice::http::AppState::new(config, db.clone(), dir.path().to_path_buf());
    let shutdown = tokio_util::sync::CancellationToken::new();
    tokio::spawn(openvoice::http::serve(listener, openvoice::app::router::router(state), shutdown.clone()));

    let client = browser();
    let response = client
        .post(format!("{base}/admin/login"))
        .form(&[("username", "admin"), ("password", password.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "the printed password works");
    let page = client.get(format!("{base}/admin/users")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK, "and the demo admin manages users");
    shutdown.cancel();
    db.pool.close().await;
    common::drop_database(&url).await;
}

on_each_backend!(the_operator_sets_a_new_password_from_the_command_line);
async fn the_operator_sets_a_new_password_from_the_command_line(backend: Backend) {
    let site = TestSite::start_with(backend, "[accounts]\nmax_failures_per_account = 2\n").await;
    let author = add_user(&site, Role::Author).await;
    let desk = Desk::log_in(&site, &author, PASSWORD).await;
    for _ in 0..2 {
        post_login(&site, &browser(), &author, "wrong password!").await;
    }
    assert_eq!(post_login(&site, &browser(), &author, PASSWORD).await.status(), StatusCode::TOO_MANY_REQUESTS);

    let output = site.cli(&["user", "password", &author]);
    assert!(output.status.success(), "{}", common::stderr(&output));
    let printed = common::stdout(&output);
    let password = printed.split("Password (shown once): ").nth(1).unwrap().trim().to_string();
    assert!(!desk.signed_in(&site).await, "the account's sessions ended");
    Desk::log_in(&site, &author, &password).await;
    assert_eq!(post_login(&site, &browser(), &author, PASSWORD).await.status(), StatusCode::UNAUTHORIZED);

    let output = site.cli(&["user", "password", "nobody-here"]);
    assert!(!output.status.success());
    assert!(common::stderr(&output).contains("no account named \"nobody-here\""), "{}", common::stderr(&output));
    let output = common::cli_at(
        site.dir.path(),
        &site.database_url,
        &["user", "password", &author, "--password-stdin"],
        Some("short\n"),
    );
    assert!(common::stderr(&output).contains("at least 12"), "{}", common::stderr(&output));
    Desk::log_in(&site, &author, &password).await;
    site.finish().await;
}

/// RFC 6238's TOTP (SHA-1, 6 digits, 30-second steps), written here from the RFC so that the
/// codes the tests type are not the server's own: checked against the RFC's Appendix B first.
fn totp_code(key: &[u8], unix_time: u64) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(key).unwrap();
    mac.update(&(unix_time / 30).to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = (digest[19] & 0x0f) as usize;
    let binary = u32::from_be_bytes(digest[offset..offset + 4].try_into().unwrap()) & 0x7fff_ffff;
    format!("{:06}", binary % 1_000_000)
}

/// RFC 4648 base32, as authenticator apps read the key.
fn base32_decode(text: &str) -> Vec<u8> {
    let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let (mut bits, mut value, mut out) = (0u32, 0u32, Vec::new());
    for c in text.trim_end_matches('=').chars() {
        value = (value << 5) | alphabet.find(c.to_ascii_uppercase()).expect("base32") as u32;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((value >> bits) as u8);
            value &= (1 << bits) - 1;
        }
    }
    out
}

#[test]
fn the_tests_totp_is_rfc_6238s() {
    let key = b"12345678901234567890";
    for (time, eight_digits) in [(59, "94287082"), (1111111109, "07081804"), (2000000000, "69279037")] {
        assert_eq!(totp_code(key, time), eight_digits[2..]);
    }
    assert_eq!(base32_decode("GEZDGNBVGY3TQOJQ"), b"1234567890");
}

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

on_each_backend!(a_stolen_password_is_not_enough_with_two_factor_sign_in);
/// Set up with an authenticator app in the desk, then sign in as someone who knows only the
/// password, and as the owner with a code and with a recovery code; codes are good once,
/// wrong ones lock like wrong passwords, and "sign out everywhere else" ends other sessions.
async fn a_stolen_password_is_not_enough_with_two_factor_sign_in(backend: Backend) {
    let site = TestSite::start_with(backend, "[accounts]\nmax_failures_per_account = 4\n").await;
    let username = add_user(&site, Role::Editor).await;
    let owner = Desk::log_in(&site, &username, PASSWORD).await;
    let other_device = Desk::log_in(&site, &username, PASSWORD).await;

    let setup = owner.post_form(&site, "/admin/security/two-factor/setup", &[]).await;
    assert_eq!(setup.status(), StatusCode::OK);
    let html = setup.text().await.unwrap();
    assert!(html.contains("<svg"), "a QR code");
    let secret = texts_of(&html, "#totp-secret").remove(0);
    let key = base32_decode(&secret);
    assert_eq!(key.len(), 20);
    let wrong = owner.post_form(&site, "/admin/security/two-factor/confirm", &[("code", "000000")]).await;
    assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let now = unix_now();
    let confirmed =
        owner.post_form(&site, "/admin/security/two-factor/confirm", &[("code", &totp_code(&key, now))]).await;
    assert_eq!(confirmed.status(), StatusCode::OK);
    let recovery = texts_of(&confirmed.text().await.unwrap(), ".recovery-codes code");
    assert_eq!(recovery.len(), 10);

    // Someone with the password alone: no session, only the second step.
    let thief = browser();
    let response = post_login(&site, &thief, &username, PASSWORD).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(response.headers()[LOCATION].to_str().unwrap().starts_with("/admin/login/two-factor"));
    let cookies: Vec<&str> = response.headers().get_all(SET_COOKIE).iter().map(|v| v.to_str().unwrap()).collect();
    assert!(cookies.iter().all(|c| !c.starts_with("ov_session=")), "{cookies:?}");
    assert!(cookies
        .iter()
        .any(|c| c.starts_with("ov_login=") && c.contains("HttpOnly") && c.contains("SameSite=Strict")));
    let desk = thief.get(format!("{}/admin", site.base)).send().await.unwrap();
    assert_eq!(desk.status(), StatusCode::SEE_OTHER, "not signed in");
    let second_step = |client: &reqwest::Client, code: &str| {
        client.post(format!("{}/admin/login/two-factor", site.base)).form(&[("code", code), ("next", "/admin")]).send()
    };
    // The code typed at setup was taken: it does not sign in again (nor do guesses).
    assert_eq!(second_step(&thief, &totp_code(&key, now)).await.unwrap().status(), StatusCode::UNAUTHORIZED);
    assert_eq!(second_step(&thief, "123456").await.unwrap().status(), StatusCode::UNAUTHORIZED);

    // The owner: password, then the app's next code.
    let owner_again = browser();
    post_login(&site, &owner_again, &username, PASSWORD).await;
    let signed = second_step(&owner_again, &totp_code(&key, now + 30)).await.unwrap();
    assert_eq!(signed.status(), StatusCode::SEE_OTHER, "{}", signed.text().await.unwrap());
    assert_eq!(owner_again.get(format!("{}/admin", site.base)).send().await.unwrap().status(), StatusCode::OK);

    // A recovery code, typed in capitals with a space: once.
    let on_the_road = browser();
    post_login(&site, &on_the_road, &username, PASSWORD).await;
    let typed = recovery[0].to_uppercase().replace('-', " ");
    assert_eq!(second_step(&on_the_road, &typed).await.unwrap().status(), StatusCode::SEE_OTHER);
    let again = browser();
    post_login(&site, &again, &username, PASSWORD).await;
    assert_eq!(second_step(&again, &recovery[0]).await.unwrap().status(), StatusCode::UNAUTHORIZED);

    // Wrong codes count as failed logins: the thief's two, then these, lock the account.
    let locked = loop {
        let response = second_step(&again, "999999").await.unwrap();
        if response.status() != StatusCode::UNAUTHORIZED {
            break response;
        }
    };
    assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(locked.headers().contains_key(header::RETRY_AFTER));

    // Sign out everywhere else: the other device's session ends, this one stays.
    assert!(other_device.signed_in(&site).await);
    let security = owner.get(&site, "/admin/security").await.text().await.unwrap();
    assert!(texts_of(&security, "tr.session").len() >= 3, "{security}");
    let ended = owner.post_form(&site, "/admin/security/sessions/end-others", &[]).await;
    assert_eq!(ended.status(), StatusCode::OK);
    assert!(!other_device.signed_in(&site).await);
    assert!(owner.signed_in(&site).await);
    assert_eq!(texts_of(&owner.get(&site, "/admin/security").await.text().await.unwrap(), "tr.session").len(), 1);

    // The operator's way back for an owner who lost the app and the codes.
    let off = site.cli(&["user", "two-factor-off", &username]);
    assert!(off.status.success(), "{}", common::stderr(&off));
    assert!(!site.cli(&["user", "two-factor-off", "nobody-here"]).status.success());
    // (The name is still locked by the guesses; its email address is another key.)
    let response = post_login(&site, &browser(), &format!("{username}@example.org"), PASSWORD).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[LOCATION], "/admin", "the password alone signs in again");
    site.finish().await;
}

on_each_backend!(passkey_answers_that_are_not_right_are_refused_and_change_nothing);
/// What the passkey routes answer to what no browser's authenticator sends, and to a site at
/// an address browsers give no passkeys to; nothing is stored, and sign-in is not weakened.
/// (Passkeys that work are in tests/journeys.rs, in Chromium with its virtual authenticator.)
async fn passkey_answers_that_are_not_right_are_refused_and_change_nothing(backend: Backend) {
    // At an IP address: the screen says what to set, and no ceremony starts.
    let site = TestSite::start(backend).await;
    let username = add_user(&site, Role::Author).await;
    let desk = Desk::log_in(&site, &username, PASSWORD).await;
    let html = desk.get(&site, "/admin/security").await.text().await.unwrap();
    assert!(html.contains("site.base_url") && !html.contains("data-passkey="), "{html}");
    let options = desk.post_form(&site, "/admin/security/passkeys/options", &[]).await;
    assert_eq!(options.status(), StatusCode::CONFLICT);
    let refusal: serde_json::Value = options.json().await.unwrap();
    assert!(refusal["error"].as_str().unwrap().contains("site.base_url"), "{refusal}");
    site.finish().await;

    let site = TestSite::start_with(backend, "[site]\nbase_url = \"http://localhost\"\n").await;
    let username = add_user(&site, Role::Author).await;
    let desk = Desk::log_in(&site, &username, PASSWORD).await;
    let add = |name: String, credential: String| {
        let (desk, site) = (&desk, &site);
        async move {
            desk.post_form(site, "/admin/security/passkeys", &[("name", &name), ("credential", &credential)]).await
        }
    };
    let refused = |html: &str, field: &str| {
        let doc = Html::parse_document(html);
        let selector = Selector::parse(&format!("#{field}-error, #passkeys [role=alert]:not([hidden])")).unwrap();
        doc.select(&selector).map(|e| e.text().collect::<String>()).collect::<Vec<_>>().join(" ")
    };
    let fake_answer = serde_json::json!({
        "id": "AAAA", "rawId": "AAAA", "type": "public-key",
        "response": { "clientDataJSON": "e30", "attestationObject": "oA" }
    })
    .to_string();
    for (name, credential, says) in [
        ("Laptop", String::new(), "sent no passkey"),
        ("Laptop", "{not json".to_string(), "could not be read"),
        ("Laptop", "x".repeat(70_000), "could not be read"),
        ("Laptop", fake_answer.clone(), "expired or was used already"),
        (&*"L".repeat(61), fake_answer.clone(), "at most 60 characters"),
    ] {
        let response = add(name.to_string(), credential).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{says}");
        let html = response.text().await.unwrap();
        assert!(refused(&html, "passkey_name").contains(says), "{says}: {html}");
    }
    // A ceremony begun, answered with something that is not its authenticator's.
    let options = desk.post_form(&site, "/admin/security/passkeys/options", &[]).await;
    assert_eq!(options.status(), StatusCode::OK);
    let options: serde_json::Value = options.json().await.unwrap();
    assert_eq!(options["publicKey"]["rp"]["id"], "localhost");
    assert_eq!(options["publicKey"]["authenticatorSelection"]["userVerification"], "required");
    let response = add("Laptop".into(), fake_answer).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused(&response.text().await.unwrap(), "passkey").contains("not accepted"));
    let removed = desk.post_form(&site, "/admin/security/passkeys/1/remove", &[("current_password", PASSWORD)]).await;
    assert_eq!(removed.status(), StatusCode::NOT_FOUND);

    // Nothing was stored: two-factor sign-in is still off, and the password alone signs in.
    assert_eq!(scalar(&site, "SELECT COUNT(*) FROM passkeys").await, 0);
    assert_eq!(scalar(&site, "SELECT COUNT(*) FROM recovery_codes").await, 0);
    let again = browser();
    let response = post_login(&site, &again, &username, PASSWORD).await;
    assert_eq!(response.headers()[LOCATION], "/admin");
    // No sign-in under way: the sign-in's passkey options are refused.
    let options =
        again.post(format!("{}/admin/login/passkey/options", site.base)).form(&[("x", "")]).send().await.unwrap();
    assert_eq!(options.status(), StatusCode::UNAUTHORIZED);
    site.finish().await;
}

on_each_backend!(a_role_that_requires_two_factor_sees_only_its_setup_until_done);
async fn a_role_that_requires_two_factor_sees_only_its_setup_until_done(backend: Backend) {
    let site = TestSite::start_with(backend, "[accounts]\nrequire_two_factor = [\"editor\"]\n").await;
    let editor = Desk::sign_in(&site, Role::Editor).await;
    let dashboard = editor.get(&site, "/admin/articles").await;
    assert_eq!(dashboard.status(), StatusCode::SEE_OTHER);
    assert_eq!(dashboard.headers()[LOCATION], "/admin/security");
    let refused = editor.post_form(&site, "/admin/categories", &[("name", "Sneaky")]).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    // Another role is not held.
    let author = Desk::sign_in(&site, Role::Author).await;
    assert_eq!(author.get(&site, "/admin/articles").await.status(), StatusCode::OK);

    let html = editor.post_form(&site, "/admin/security/two-factor/setup", &[]).await.text().await.unwrap();
    let key = base32_decode(&texts_of(&html, "#totp-secret").remove(0));
    let code = totp_code(&key, unix_now());
    assert_eq!(editor.post_form(&site, "/admin/security/two-factor/confirm", &[("code", &code)]).await.status(), 200);
    assert_eq!(editor.get(&site, "/admin/articles").await.status(), StatusCode::OK);
    // And it cannot be turned off.
    let off = editor.post_form(&site, "/admin/security/two-factor/disable", &[("current_password", PASSWORD)]).await;
    assert_eq!(off.status(), StatusCode::CONFLICT);
    site.finish().await;
}
