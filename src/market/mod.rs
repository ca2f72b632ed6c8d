//! Market prices: the "Latest Market Prices" and site-token sidebar widgets, `/prices` and
//! `/api/prices`, fed by a background poll of public price APIs.
//!
//! Prices never come from the network on the request path. The `market.poll` job (a durable job,
//! so one node polls at a time) asks the primary provider for every configured coin in one
//! request, every `market.poll_interval_secs`, and the fallback provider for whatever the primary
//! could not give. Each coin's value is checked on its own; a rejected coin keeps its last good
//! value. The good values are stored with the time they were observed, in one transaction that
//! also bumps the content epoch, so every node's page cache re-renders with the new prices.
//! Providers that fail (429, 5xx, timeouts, oversize or malformed bodies) back off, honouring
//! `Retry-After`, in state every node shares.
//!
//! Pages show the stored values "as of HH:MM UTC". A value that was older than
//! `market.stale_after_secs` at the last poll, or that the provider itself flagged as stale, is
//! marked stale; with no data at all the widget says "Prices unavailable".
//!
//! # Layout
//! - `config`: the `[market]` section and its start-up checks.
//! - `model`: coin ids and labels, observations and stored quotes, sanity bounds, price and
//!   change formatting, downsampling and sparkline geometry.
//! - `provider`: the `PriceProvider` trait and the guarded HTTP fetch (configured base URLs only,
//!   no redirects, 5 s, 1 MiB); `coingecko` and `coincap` implement it.
//! - `service`: one poll (providers → checks → one transaction) and read-only snapshots.
//! - `queries`: the SQL.
//! - `routes`: the widgets' template context (memoised per content epoch), `/prices`,
//!   `/api/prices`.
//! - `jobs`: `PollPrices` and its registration at start-up.

pub mod coincap;
pub mod coingecko;
pub mod jobs;
pub mod model;
pub mod provider;
pub mod queries;
pub mod routes;
pub mod service;
