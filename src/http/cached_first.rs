//! A page in the cache is answered before the rest of the stack: for an anonymous `GET` or
//! `HEAD` whose path and query name a cached page, this layer, placed just inside the security
//! headers and the request id, answers as the page's handler would (`respond`: conditional
//! requests, the browser's coding, the page's copy for this second) without tracing, timeouts,
//! load shedding, compression or routing, which cost a cached page half its throughput.
//!
//! What it leaves to the handlers: any request with a cookie (a comment author's own view, a
//! signed-in editor), any other method, a request asking for ActivityPub JSON
//! (`wants_activity_json`), and pages whose handler checks each request
//! (`CachedPage::checked_per_request`: search's per-client rate limit).

use std::convert::Infallible;
use std::future::{ready, Ready};
use std::task::{Context, Poll};

use axum::http::{header, Method, Request};
use axum::response::Response;
use futures_util::future::Either;
use tower::{Layer, Service};

use super::{encoding, respond, AppState};
use crate::store;

#[derive(Clone)]
pub struct CachedFirstLayer(pub AppState);

impl<S> Layer<S> for CachedFirstLayer {
    type Service = CachedFirst<S>;
    fn layer(&self, inner: S) -> Self::Service {
        CachedFirst { inner, state: self.0.clone() }
    }
}

#[derive(Clone)]
pub struct CachedFirst<S> {
    inner: S,
    state: AppState,
}

impl<S, B> Service<Request<B>> for CachedFirst<S>
where
    S: Service<Request<B>, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Either<Ready<Result<Response, Infallible>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        match self.cached_answer(&request) {
            Some(response) => Either::Left(ready(Ok(response))),
            None => Either::Right(self.inner.call(request)),
        }
    }
}

impl<S> CachedFirst<S> {
    fn cached_answer<B>(&self, request: &Request<B>) -> Option<Response> {
        let headers = request.headers();
        let anonymous_read =
            matches!(*request.method(), Method::GET | Method::HEAD) && !headers.contains_key(header::COOKIE);
        // Cached pages are HTML: an ActivityPub client's request goes to its handler.
        if !anonymous_read || super::wants_activity_json(headers) {
            return None;
        }
        let page = self.state.pages.get(request.uri().path_and_query()?.as_str())?;
        if page.is_checked_per_request() {
            return None;
        }
        let mut response = respond(&page.at(store::now()), headers, encoding::negotiate(headers));
        if let Some(id) = headers.get("x-request-id") {
            response.headers_mut().insert("x-request-id", id.clone());
        }
        Some(response)
    }
}
