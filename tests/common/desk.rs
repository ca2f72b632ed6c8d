//! A signed-in admin browser, for the tests of admin screens.

use openvoice::accounts::{self, NewUser, Role};
use reqwest::redirect::Policy;
use reqwest::StatusCode;
use scraper::{Html, Selector};

use super::TestSite;

pub const PASSWORD: &str = "correct horse battery";

/// A browser signed in to the admin desk, and its session's CSRF secret.
pub struct Desk {
    /// Keeps cookies; does not follow redirects (tests look at them).
    pub client: reqwest::Client,
    pub csrf: String,
    pub username: String,
}

/// A browser: keeps cookies, does not follow redirects (tests look at them).
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder().cookie_store(true).redirect(Policy::none()).build().expect("client")
}

/// Creates an account with `role` and the password [`PASSWORD`]; returns its username.
pub async fn add_user(site: &TestSite, role: Role) -> String {
    let username = format!("{}-{:08x}", role.as_str(), rand::random::<u32>());
    let email = format!("{username}@example.org");
    let new = NewUser { username: &username, email: &email, display_name: &username, role, password: Some(PASSWORD) };
    accounts::create_user(&site.db, &new).await.expect("creating user");
    username
}

/// The CSRF secret of the session `client` holds, read from the admin frame (of the Security
/// screen, which every signed-in role may see, even one held there until it sets up two-factor
/// sign-in).
pub async fn csrf_of(site: &TestSite, client: &reqwest::Client) -> String {
    let url = format!("{}/admin/security", site.base);
    let html = client.get(url).send().await.expect("security screen").text().await.unwrap();
    let csrf = input_value(&html, "csrf");
    assert!(!csrf.is_empty(), "the admin frame carries the CSRF secret: {html}");
    csrf
}

impl Desk {
    /// Creates an account with `role` and signs it in.
    pub async fn sign_in(site: &TestSite, role: Role) -> Desk {
        Desk::log_in(site, &add_user(site, role).await, PASSWORD).await
    }

    /// Signs in an existing account.
    pub async fn log_in(site: &TestSite, username: &str, password: &str) -> Desk {
        let client = browser();
        let response = client
            .post(format!("{}/admin/login", site.base))
            .form(&[("username", username), ("password", password), ("next", "/admin")])
            .send()
            .await
            .expect("login request");
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{username} logs in");
        let csrf = csrf_of(site, &client).await;
        Desk { client, csrf, username: username.to_string() }
    }

    /// Whether the session still works: `/admin` answers 200, or 303 to the login page.
    pub async fn signed_in(&self, site: &TestSite) -> bool {
        match self.get(site, "/admin").await.status() {
            StatusCode::OK => true,
            StatusCode::SEE_OTHER => false,
            other => panic!("unexpected {other} for /admin"),
        }
    }

    pub async fn get(&self, site: &TestSite, path: &str) -> reqwest::Response {
        self.client.get(format!("{}{path}", site.base)).send().await.expect("GET")
    }

    /// POSTs `fields` as an HTML form, with the session's `csrf`.
    pub async fn post_form(&self, site: &TestSite, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let mut form: Vec<(&str, &str)> = vec![("csrf", &self.csrf)];
        form.extend_from_slice(fields);
        self.client.post(format!("{}{path}", site.base)).form(&form).send().await.expect("POST")
    }
}

/// The value of the first `<input name="…">` in `html`.
pub fn input_value(html: &str, name: &str) -> String {
    let doc = Html::parse_document(html);
    let selector = Selector::parse(&format!("input[name=\"{name}\"]")).expect("selector");
    doc.select(&selector).next().and_then(|e| e.value().attr("value")).unwrap_or_default().to_string()
}

/// The text of every element matching `css`, in order.
pub fn texts_of(html: &str, css: &str) -> Vec<String> {
    let doc = Html::parse_document(html);
    let selector = Selector::parse(css).expect("selector");
    doc.select(&selector).map(|e| e.text().collect::<String>().trim().to_string()).collect()
}
