//! Local fakes of the providers' services, each started by a test on a free
//! port of 127.0.0.1: they check the exact request they receive and answer as
//! the real service does. Compiled for this crate's tests and, with the
//! `fakes` feature, for the workspace's end-to-end tests.

#![allow(clippy::expect_used, clippy::unwrap_used)]

pub mod fcm;
pub mod smtp;
pub mod twilio;
pub mod whatsapp;

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::ServerHandle;
use actix_web::web::{Data, ServiceConfig};
use actix_web::{App, HttpServer};

/// A listener on a free port of 127.0.0.1.
fn free_port() -> TcpListener {
    TcpListener::bind("127.0.0.1:0").expect("a free port on 127.0.0.1")
}

/// Serves `routes` with `state` on `listener`, on the current Tokio runtime,
/// until the handle stops it.
fn serve<S: Send + Sync + 'static>(
    listener: TcpListener,
    state: &Arc<S>,
    routes: fn(&mut ServiceConfig),
) -> ServerHandle {
    let data = Data::from(Arc::clone(state));
    let server = HttpServer::new(move || App::new().app_data(data.clone()).configure(routes))
        .workers(1)
        .listen(listener)
        .expect("the fake listens")
        .disable_signals()
        .shutdown_timeout(0)
        .run();
    let handle = server.handle();
    tokio::spawn(server);
    handle
}
