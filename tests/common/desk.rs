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

impl Desk {
    /// Creates an account with `role` and signs it in.
    pub async fn sign_in(site: &TestSite, role: Role) -> Desk {
        let username = format!("{}-{:08x}", role.as_str(), rand::random::<u32>());
        let email = format!("{username}@example.org");
        let new =
            NewUser { username: &username, email: &email, display_name: &username, role, password: Some(PASSWORD) };
        accounts::create_user(&site.db, &new).await.expect("creating user");
        let client = reqwest::Client::builder().cookie_store(true).redirect(Policy::none()).build().expect("client");
        let response = client
            .post(format!("{}/admin/login", site.base))
            .form(&[("username", username.as_str()), ("password", PASSWORD), ("next", "/admin")])
            .send()
            .await
            .expect("login request");
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{username} logs in");
        let html = client.get(format!("{}/admin", site.base)).send().await.expect("dashboard").text().await.unwrap();
        let csrf = input_value(&html, "csrf");
        assert!(!csrf.is_empty(), "the admin frame carries the CSRF secret: {html}");
        Desk { client, csrf, username }
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
