//! One line a request, logged inside the request's span (so that it carries
//! the span's `request_id`, in JSON as in text): the request span of
//! `tracing-actix-web`, plus an `INFO` event when the answer is ready.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::{Error, HttpMessage};
use tracing::Span;
use tracing_actix_web::{DefaultRootSpanBuilder, RootSpanBuilder};

/// The [`RootSpanBuilder`] of the server's `TracingLogger`.
pub struct RequestLog;

/// When the request's span began.
#[derive(Clone, Copy)]
struct Started(Instant);

impl RootSpanBuilder for RequestLog {
    fn on_request_start(request: &ServiceRequest) -> Span {
        request.extensions_mut().insert(Started(Instant::now()));
        DefaultRootSpanBuilder::on_request_start(request)
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        let line = span.clone();
        let _entered = line.enter();
        match outcome {
            Ok(response) => {
                let request = response.request();
                let elapsed_ms = request
                    .extensions()
                    .get::<Started>()
                    .map(|started| started.0.elapsed().as_secs_f64() * 1000.0);
                tracing::info!(
                    status = response.status().as_u16(),
                    elapsed_ms,
                    "{} {} {}",
                    request.method(),
                    request.path(),
                    response.status().as_u16(),
                );
            }
            Err(error) => tracing::info!(%error, "request ended without an answer"),
        }
        DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}
