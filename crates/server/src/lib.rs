//! The `omnichannel` binary's library: configuration, CLI and wiring, so that the
//! end-to-end tests start exactly what the binary starts.

pub mod cli;
pub mod config;
pub mod metrics;
pub mod pipeline;
pub mod request_log;
pub mod startup;
pub mod telemetry;
