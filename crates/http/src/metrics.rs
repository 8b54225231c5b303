//! Counts the HTTP requests by route template, method and status, with
//! their latency. The route is the template the request matched
//! (`/api/admin/v1/communications/{id}`), never the path: ids stay out of
//! the labels; a request that matched no route counts as `unmatched`.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;

pub const REQUESTS: &str = "omnichannel_http_requests_total";
pub const REQUEST_DURATION: &str = "omnichannel_http_request_duration_seconds";

/// The middleware, for `from_fn`: outermost, so that it sees every answer.
pub async fn record(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = method_label(req.method());
    // The template the path matches in the application's routes, known
    // before routing (a clone of the request would keep the router from
    // writing its match).
    let route = req
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    let result = next.call(req).await;
    let status = match &result {
        Ok(response) => response.status(),
        Err(error) => error.as_response_error().status_code(),
    };
    metrics::counter!(
        REQUESTS,
        "route" => route.clone(),
        "method" => method,
        "status" => status.as_str().to_owned(),
    )
    .increment(1);
    metrics::histogram!(REQUEST_DURATION, "route" => route, "method" => method)
        .record(started.elapsed().as_secs_f64());
    result
}

/// The method, or `other` for one outside the standard set (a label of
/// bounded values).
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// The process's metrics in the Prometheus text format, open to everyone;
/// served by the server beside the API unless `[metrics]` switches them
/// off (404) or binds them to a listener of their own. Documentation only:
/// the server mounts the route.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "health",
    responses((
        status = 200,
        description = "The metrics, in the Prometheus text format 0.0.4.",
        body = String,
        content_type = "text/plain; version=0.0.4; charset=utf-8",
    ))
)]
#[allow(dead_code)]
pub(crate) fn scrape() {}
