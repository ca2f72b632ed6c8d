//! Private analytics, as Ghost and Jetpack Stats show them, without a cookie, a script or a
//! third party: page views per day and per article, the sites readers come from, and the
//! subscriptions and comments that follow. `http::page_views` counts views in each node's
//! memory; [`service::run_flusher`] adds them to the database in batches, so a view costs no
//! database write; `admin` draws the desk's screen.

pub mod admin;
pub mod queries;
pub mod service;
