//! A write made through this node shows on the next page it serves, not after the epoch
//! follower's next poll: a moderator who approves a comment and opens the article finds it there.
//!
//! Reads pass straight to the inner service (no boxing, no clone of the stack: see
//! `response_rule` for what `axum::middleware::from_fn` costs on every cached page); only a
//! request with an unsafe method waits for its response and then re-reads the content epoch.

use std::convert::Infallible;
use std::task::{Context, Poll};

use axum::http::Request;
use axum::response::Response;
use futures_util::future::{BoxFuture, Either};
use tower::{Layer, Service};

use super::AppState;

#[derive(Clone)]
pub struct SeeOwnWritesLayer(pub AppState);

impl<S> Layer<S> for SeeOwnWritesLayer {
    type Service = SeeOwnWrites<S>;
    fn layer(&self, inner: S) -> Self::Service {
        SeeOwnWrites { inner, state: self.0.clone() }
    }
}

#[derive(Clone)]
pub struct SeeOwnWrites<S> {
    inner: S,
    state: AppState,
}

impl<S, B> Service<Request<B>> for SeeOwnWrites<S>
where
    S: Service<Request<B>, Response = Response, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Either<S::Future, BoxFuture<'static, Result<Response, Infallible>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        if request.method().is_safe() {
            return Either::Left(self.inner.call(request));
        }
        let written = self.inner.call(request);
        let state = self.state.clone();
        Either::Right(Box::pin(async move {
            let response = written.await;
            super::catch_up_with_content_epoch(&state).await;
            response
        }))
    }
}
