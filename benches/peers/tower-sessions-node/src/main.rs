//! A minimal axum node with tower-sessions and its Redis store: `GET /` loads the session
//! from Redis (one round trip) and answers with the user in it; `POST /login` stores a user in
//! a new session and sets its cookie; `POST /logout` deletes the session (so every node
//! refuses the cookie: the state is in Redis).
//!
//! `tower-sessions-node --addr 127.0.0.1:PORT --redis redis://127.0.0.1:PORT/`

use std::net::SocketAddr;

use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use tower_sessions::{Expiry, Session, SessionManagerLayer};
use tower_sessions_redis_store::fred::prelude::*;
use tower_sessions_redis_store::RedisStore;

async fn hello(session: Session) -> Result<String, StatusCode> {
    match session.get::<String>("user").await {
        Ok(Some(user)) => Ok(format!("hello, {user}\n")),
        Ok(None) => Err(StatusCode::UNAUTHORIZED),
        Err(_) => Err(StatusCode::INTERNAL_SERVER_ERROR),
    }
}

async fn login(session: Session) -> Result<&'static str, StatusCode> {
    session.cycle_id().await.map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
    session
        .insert("user", "alice".to_owned())
        .await
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
    Ok("logged in\n")
}

async fn logout(session: Session) -> Result<&'static str, StatusCode> {
    session.delete().await.map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
    Ok("logged out\n")
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut addr: SocketAddr = "127.0.0.1:0".parse()?;
    let mut url = "redis://127.0.0.1:6379/".to_owned();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or("flag needs a value")?;
        match flag.as_str() {
            "--addr" => addr = value.parse()?,
            "--redis" => url = value,
            other => return Err(format!("unknown option {other}").into()),
        }
    }
    let pool = Pool::new(Config::from_url(&url)?, None, None, None, 2)?;
    pool.init().await?;
    let store = RedisStore::new(pool);
    let layer = SessionManagerLayer::new(store)
        .with_secure(false)
        .with_expiry(Expiry::OnInactivity(time::Duration::hours(1)));
    let app = Router::new()
        .route("/", get(hello))
        .route("/login", post(login))
        .route("/logout", post(logout))
        .layer(layer);
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
