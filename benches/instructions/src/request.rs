//! One HTTP request in process, as benches/web.rs sends it: built, sent through the router with
//! `tower::ServiceExt::oneshot` on a current-thread runtime (routes made services once, as
//! `axum::serve` does), the whole body read. The same for
//! the bare router, the layer (ours.rs) and the peers of benches/peers/web-peers.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, Request};
use axum::Router;
use tower::ServiceExt;

use crate::{BoxError, Named, Op, Side};

/// The User-Agent every request sends (and our sessions are bound to).
pub(crate) const USER_AGENT: &str = "Mozilla/5.0 (X11; Linux x86_64) instructions";

pub(crate) struct Requester {
    rt: tokio::runtime::Runtime,
    router: Router,
    cookie: Option<String>,
}

impl Requester {
    pub(crate) fn new(router: Router, cookie: Option<String>) -> Result<Self, BoxError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        // What `axum::serve` does first (`into_make_service`): the routes become services once,
        // rather than at every call (and a layer is applied once, not per request).
        let router = router.with_state(());
        Ok(Self { rt, router, cookie })
    }

    fn request(&self) -> Request<Body> {
        let mut b = Request::get("/")
            .header(header::HOST, "127.0.0.1:8080")
            .header(header::USER_AGENT, USER_AGENT);
        if let Some(c) = &self.cookie {
            b = b.header(header::COOKIE, c);
        }
        let mut req = b.body(Body::empty()).expect("request");
        req.extensions_mut()
            .insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40_000))));
        req
    }
}

impl Op for Requester {
    fn run(&mut self) -> usize {
        let req = self.request();
        let router = self.router.clone();
        self.rt.block_on(async move {
            let response = router.oneshot(req).await.expect("infallible");
            assert!(response.status().is_success(), "status {}", response.status());
            axum::body::to_bytes(response.into_body(), 1024)
                .await
                .expect("body")
                .len()
        })
    }
}

pub(crate) const BARE_REQUEST: Named = Named {
    name: "bare_request",
    side: Side::Peer,
    prepare: |_| {
        let router = Router::new().route("/", axum::routing::get(web_peers::hello));
        Ok(Box::new(Requester::new(router, None)?))
    },
};

pub(crate) const PRIVATE_COOKIE_REQUEST: Named = Named {
    name: "axum_extra_private_cookie_request",
    side: Side::Peer,
    prepare: |_| {
        // A fresh random key: the count does not depend on it.
        let (router, cookie) = web_peers::private_cookie_app(web_peers::Key::generate())?;
        Ok(Box::new(Requester::new(router, Some(cookie))?))
    },
};

pub(crate) const TOWER_SESSIONS_REQUEST: Named = Named {
    name: "tower_sessions_memory_request",
    side: Side::Peer,
    prepare: |_| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (router, cookie) = rt.block_on(web_peers::tower_sessions_app())?;
        Ok(Box::new(Requester::new(router, Some(cookie))?))
    },
};
