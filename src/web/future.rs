//! The future [`SessionService`](super::SessionService) answers with: the inner service's
//! own future and the response work after it, without a box on the common path.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use http::Response;
use pin_project_lite::pin_project;

use super::service::finish;
use super::state::Shared;

/// A boxed future, for the paths that wait before the inner service runs.
type Boxed<B> = Pin<Box<dyn Future<Output = Result<Response<B>, Infallible>> + Send>>;

pin_project! {
    /// The response future of [`SessionService`](super::SessionService).
    ///
    /// Every request is verified in `Service::call`. One that needs no waiting before the
    /// handler (no form body to scan, no forged cross-site request to step down) then gets the
    /// inner service's own future, with the session's response headers added when it
    /// completes: no allocation for the future. The rest are boxed.
    ///
    /// ```
    /// use tower::{Layer, Service, ServiceExt};
    /// use axum::{body::Body, Router, routing::get};
    /// use http::Request;
    /// use sealed_session::web::{ResponseFuture, SessionLayer};
    /// # use std::sync::Arc; use sealed_session::{*, revocation::*};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let store = Arc::new(MemoryStore::new(FilterConfig::default())?);
    /// # let manager = Arc::new(SessionManager::builder(KeyRing::generate()?, "app", store).build()?);
    /// let mut service = SessionLayer::new(manager).layer(Router::new().route("/", get(|| async { "hi" })));
    /// let ready = ServiceExt::<Request<Body>>::ready(&mut service).await?;
    /// let future: ResponseFuture<_, Body> = ready.call(Request::new(Body::empty()));
    /// assert_eq!(future.await?.status(), 200);
    /// # Ok(()) }
    /// ```
    pub struct ResponseFuture<F, B> {
        #[pin]
        kind: Kind<F, B>,
    }
}

pin_project! {
    #[project = KindProjection]
    enum Kind<F, B> {
        // The inner service runs; its response gets the session's headers.
        Inner { #[pin] future: F, shared: Shared },
        // The layer answered by itself (a refused DPoP proof).
        Ready { response: Option<Response<B>> },
        // Work that waits before the inner service, or instead of it.
        Boxed { future: Boxed<B> },
    }
}

impl<F, B> ResponseFuture<F, B> {
    pub(crate) fn inner(future: F, shared: Shared) -> Self {
        Self {
            kind: Kind::Inner { future, shared },
        }
    }

    pub(crate) fn ready(response: Response<B>) -> Self {
        Self {
            kind: Kind::Ready {
                response: Some(response),
            },
        }
    }

    pub(crate) fn boxed(
        future: impl Future<Output = Result<Response<B>, Infallible>> + Send + 'static,
    ) -> Self {
        Self {
            kind: Kind::Boxed {
                future: Box::pin(future),
            },
        }
    }
}

impl<F, B> Future for ResponseFuture<F, B>
where
    F: Future<Output = Result<Response<B>, Infallible>>,
    B: Default + From<Bytes>,
{
    type Output = Result<Response<B>, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProjection::Inner { future, shared } => {
                let response = ready!(future.poll(cx))?;
                Poll::Ready(Ok(finish(shared, response)))
            }
            // Polled again after completing (outside the `Future` contract): an empty 200
            // rather than a panic.
            KindProjection::Ready { response } => Poll::Ready(Ok(response.take().unwrap_or_default())),
            KindProjection::Boxed { future } => future.as_mut().poll(cx),
        }
    }
}

impl<F, B> std::fmt::Debug for ResponseFuture<F, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    use axum::body::Body;
    use http::{Response, StatusCode};

    use super::ResponseFuture;

    type Never = std::future::Pending<Result<Response<Body>, std::convert::Infallible>>;

    /// A future polled again after it completed is outside the `Future` contract; the layer's
    /// future answers it with an empty response, never a panic.
    #[test]
    fn a_ready_answer_polled_twice_does_not_panic() {
        let mut answer = Response::new(Body::empty());
        *answer.status_mut() = StatusCode::UNAUTHORIZED;
        let mut future = pin!(ResponseFuture::<Never, Body>::ready(answer));
        let mut cx = Context::from_waker(Waker::noop());
        let Poll::Ready(Ok(first)) = future.as_mut().poll(&mut cx) else {
            panic!("a ready answer is ready at once");
        };
        assert_eq!(first.status(), StatusCode::UNAUTHORIZED);
        let Poll::Ready(Ok(again)) = future.as_mut().poll(&mut cx) else {
            panic!("polled again, it still answers");
        };
        assert_eq!(again.status(), StatusCode::OK);
    }
}
