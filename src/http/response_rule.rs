//! A layer that looks at each request, then adjusts its response: for rules that apply to every
//! request (security headers, the API's error bodies).
//!
//! `axum::middleware::from_fn` would do the same, but per request it clones the whole stack it
//! wraps and boxes two futures; around the full router that cost a fifth of the cached article
//! page's throughput (`bench/pages.sh`). This wrapper calls the inner service directly and its
//! future is a plain struct. Hand-written because tower-http's `map_response` layers cannot see
//! the request.

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use axum::http::Request;
use axum::response::Response;
use tower::{Layer, Service};

/// What a rule notes from the request (`see`) and does to the response (`apply`).
pub trait ResponseRule: Clone + Send + Sync + 'static {
    /// What `apply` needs to know about the request.
    type Seen: Send + 'static;
    fn see<B>(&self, request: &Request<B>) -> Self::Seen;
    fn apply(&self, seen: Self::Seen, response: Response) -> Response;
}

#[derive(Clone)]
pub struct ResponseRuleLayer<R>(pub R);

impl<S, R: ResponseRule> Layer<S> for ResponseRuleLayer<R> {
    type Service = WithRule<S, R>;
    fn layer(&self, inner: S) -> Self::Service {
        WithRule { inner, rule: self.0.clone() }
    }
}

#[derive(Clone)]
pub struct WithRule<S, R> {
    inner: S,
    rule: R,
}

impl<S, R, B> Service<Request<B>> for WithRule<S, R>
where
    S: Service<Request<B>, Response = Response>,
    R: ResponseRule,
{
    type Response = Response;
    type Error = S::Error;
    type Future = RuleFuture<S::Future, R>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let seen = Some(self.rule.see(&request));
        RuleFuture { inner: self.inner.call(request), rule: self.rule.clone(), seen }
    }
}

pin_project_lite::pin_project! {
    pub struct RuleFuture<F, R: ResponseRule> {
        #[pin]
        inner: F,
        rule: R,
        seen: Option<R::Seen>,
    }
}

impl<F, E, R> Future for RuleFuture<F, R>
where
    F: Future<Output = Result<Response, E>>,
    R: ResponseRule,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let response = ready!(this.inner.poll(cx))?;
        let seen = this.seen.take().expect("a RuleFuture is not polled after it completed");
        Poll::Ready(Ok(this.rule.apply(seen, response)))
    }
}
