//! The OpenAPI document against the server that publishes it: schemathesis (PyPI) generates
//! requests from `/api/v1/openapi.json` — valid ones and invalid ones — sends them to a real
//! site over TCP with an admin token, and checks that no answer is a 5xx, that every answer
//! matches the document (status code, content type, body schema), and that requests the document
//! calls invalid are refused with a 4xx.
//!
//! Bounded: a few examples per operation, one worker, a fixed seed (so a failure reproduces), a
//! timeout per request and for the whole run. Skipped with a message when schemathesis is not
//! installed (`pip install -r tests/schemathesis/requirements.txt`), unless
//! `OPENVOICE_TEST_REQUIRE_ALL=1`.

#[macro_use]
mod common;

use std::process::Stdio;
use std::time::Duration;

use common::{skip_or_fail, Backend, TestSite};
use openvoice::accounts::api_tokens;

const RELAXED: &str =
    "[comments]\nmin_seconds = 0\nflood_seconds = 0\nrate_limit_burst = 100000\nrate_limit_per_minute = 100000\n";
const WHOLE_RUN: Duration = Duration::from_secs(240);

on_each_backend!(schemathesis_finds_no_server_error_and_no_answer_outside_the_document);
async fn schemathesis_finds_no_server_error_and_no_answer_outside_the_document(backend: Backend) {
    let installed =
        std::process::Command::new("schemathesis").arg("--version").output().is_ok_and(|o| o.status.success());
    if !installed {
        skip_or_fail("schemathesis tests (pip install -r tests/schemathesis/requirements.txt)");
        return;
    }
    let site = TestSite::start_with(backend, RELAXED).await;
    // Something for the comment and media endpoints to find.
    let response = common::post_comment(
        &site,
        "parliament-approves-coastal-drone-patrols",
        "Wren",
        "wren@example.net",
        "Good to see the patrols.",
    )
    .await;
    assert_eq!(response.status(), 303);
    common::upload_image(&site, "admin").await;
    let (_, token) = api_tokens::create(&site.db, "admin", "schemathesis", None).await.expect("token");

    let run = tokio::process::Command::new("schemathesis")
        .arg("run")
        .arg(format!("{}/api/v1/openapi.json", site.base))
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .args([
            "--checks",
            "not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance,negative_data_rejection",
        ])
        .args(["--max-examples", "25", "--seed", "20261126", "--workers", "1"])
        .args(["--request-timeout", "10", "--max-failures", "20", "--output-truncate", "false"])
        // Hypothesis keeps its example database in the working directory.
        .current_dir(site.dir.path())
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(WHOLE_RUN, run)
        .await
        .unwrap_or_else(|_| panic!("schemathesis took more than {WHOLE_RUN:?} on {backend:?}"))
        .expect("running schemathesis");
    let report = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "schemathesis on {backend:?} found problems:\n{report}");
    assert!(report.contains("passed"), "{report}");
    eprintln!(
        "{backend:?}: {}",
        report.lines().filter(|l| l.contains("generated") || l.contains("API Links")).collect::<Vec<_>>().join(" ")
    );
    site.finish().await;
}
