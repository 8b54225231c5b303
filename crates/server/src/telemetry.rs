//! Logs to standard error, as text (the default) or one JSON object a line
//! (`log.format = "json"`); `RUST_LOG` sets the filter (default `info`).

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::LogFormat;

/// The filter when `RUST_LOG` is unset or invalid.
pub const DEFAULT_FILTER: &str = "info";

/// Installs the process's subscriber, writing to standard error in `format`.
/// A second initialisation (as in tests) keeps the first subscriber.
pub fn init(format: LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let _ = subscriber(format, filter, std::io::stderr).try_init();
}

/// The subscriber the server logs with: `filter`, malformed client requests
/// demoted (see [`MalformedRequests`]), and lines in `format` to `writer`.
/// JSON lines are `{"timestamp", "level", "fields": {"message", …},
/// "target", "span": {…}, "spans": [{…}, …]}`: the current span and every
/// span it is in, so that a request's lines carry its `request_id` and a
/// provider call's its `communication.id`.
pub fn subscriber<W>(
    format: LogFormat,
    filter: EnvFilter,
    writer: W,
) -> Box<dyn Subscriber + Send + Sync + 'static>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let registry = tracing_subscriber::registry()
        .with(filter)
        .with(MalformedRequests);
    match format {
        LogFormat::Text => {
            Box::new(registry.with(tracing_subscriber::fmt::layer().with_writer(writer)))
        }
        LogFormat::Json => Box::new(
            registry.with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_current_span(true)
                    .with_span_list(true)
                    .with_writer(writer),
            ),
        ),
    }
}

/// actix-http logs, at `ERROR`, the request a client could not even write
/// (`stream error: request parse error: …`, target
/// `actix_http::h1::dispatcher`), after answering it `400`: a client's
/// mistake, not the server's. This layer drops that event and logs it again
/// at `DEBUG` under the target `omnichannel_server::malformed_request`; the
/// other errors of actix-http stay as they are.
pub struct MalformedRequests;

/// The target actix-http logs its connection errors under.
const ACTIX_H1_DISPATCHER: &str = "actix_http::h1::dispatcher";
/// How actix-http starts the message of an error that ends a connection.
const STREAM_ERROR: &str = "stream error: ";

impl<S: Subscriber> Layer<S> for MalformedRequests {
    fn event_enabled(&self, event: &Event<'_>, _: Context<'_, S>) -> bool {
        let metadata = event.metadata();
        if *metadata.level() != Level::ERROR || metadata.target() != ACTIX_H1_DISPATCHER {
            return true;
        }
        let mut message = Message(String::new());
        event.record(&mut message);
        let Some(error) = message.0.strip_prefix(STREAM_ERROR) else {
            return true;
        };
        if !is_parse_error(error) {
            return true;
        }
        tracing::debug!(
            target: "omnichannel_server::malformed_request",
            error,
            "malformed request refused"
        );
        false
    }
}

/// Whether actix-http's error text (a `DispatchError`) is about a request
/// it could not parse (a head too large included), or one the client did
/// not finish sending in time.
fn is_parse_error(error: &str) -> bool {
    error.starts_with("request parse error") || error.starts_with("request did not complete within")
}

/// The `message` field of an event, as text.
struct Message(String);

impl Visit for Message {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            value.clone_into(&mut self.0);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }
}
