//! The provider's stand-in of the benchmarks: a local HTTP sink.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use actix_web::{App, HttpResponse, HttpServer, web};
use serde_json::json;

/// A sink that answers every message `200` at once, with a
/// `provider_message_id`, on the current actix runtime: its URL for the
/// `sms` channel and the count of messages it received.
pub async fn start() -> anyhow::Result<(String, Arc<AtomicU64>)> {
    let received = Arc::new(AtomicU64::new(0));
    let counter = received.clone();
    let server = HttpServer::new(move || {
        let counter = counter.clone();
        // The body is taken: a handler that leaves it unread makes actix
        // answer `connection: close`, and every call would open a connection.
        App::new().default_service(web::to(move |_body: web::Bytes| {
            let n = counter.fetch_add(1, Ordering::Relaxed);
            async move { HttpResponse::Ok().json(json!({"provider_message_id": format!("m-{n}")})) }
        }))
    })
    .workers(1)
    .backlog(4096)
    .bind("127.0.0.1:0")?;
    let port = server.addrs()[0].port();
    actix_web::rt::spawn(server.run());
    Ok((format!("http://127.0.0.1:{port}/sms"), received))
}
